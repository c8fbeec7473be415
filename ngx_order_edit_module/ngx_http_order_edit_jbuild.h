
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The JSON builders the normalised document and the NetSuite bodies are
 * both made with.  Pure C and jansson: the normaliser and the request
 * builder share them without importing each other.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_JBUILD_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_JBUILD_H_INCLUDED_


#include <jansson.h>


/*
 * Each returns the value added (borrowed) or NULL; on NULL the value has
 * been released, so a nested object is only ever filled through the
 * pointer these return.  An allocation failure sets *nomem; a NULL key (a
 * NetSuite field switched off with "off") drops the value and is no
 * failure.
 */
json_t *ngx_http_order_edit_jbuild_set(int *nomem, json_t *obj,
    const char *key, json_t *v);
json_t *ngx_http_order_edit_jbuild_append(int *nomem, json_t *arr,
    json_t *v);

/*
 * A NetSuite reference, as the document states it too: {"id": "123"}, or
 * {"externalId": "ABC"} for "eid:ABC".
 */
json_t *ngx_http_order_edit_jbuild_ref(const char *item);


#endif /* _NGX_HTTP_ORDER_EDIT_JBUILD_H_INCLUDED_ */
