
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The NetSuite REST request for a normalised document: method, path and
 * the exact JSON body (docs/normalised-schema.md, "The NetSuite REST
 * requests").  It reads only the document and the store's field names, so
 * the document stays the one contract between Shopify and NetSuite.  Pure
 * C and jansson, like the normaliser that calls it.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_order_edit_normalise.h"


/*
 * Sets res->method, path, body and body_len for a document of the given
 * kind (res->doc); kinds without a request leave them unset.  0, or -1
 * when out of memory (then nothing is set).
 */
int ngx_http_order_edit_nsbody_build(
    const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_norm_kind_e kind, const json_t *doc,
    ngx_http_order_edit_norm_result_t *res);

/*
 * Replaces a sales order's request with the upsert, PUT salesOrder/eid:X.
 * 0, or -1 when out of memory (the request is then unchanged).
 */
int ngx_http_order_edit_nsbody_upsert(ngx_http_order_edit_norm_result_t *res);

/*
 * After the read before the write, with the order as NetSuite holds it
 * (its item sublist expanded): gives each line of a Sales Order body the
 * NetSuite "line" of the order's line that carries the same Shopify key in
 * the line key column, each order line used once.  A keyed replace then
 * updates those lines in place (their identity, commitments and whatever
 * other systems hold of them survive), deletes the lines not named and
 * adds the new ones.  Returns the number of lines matched, 0 when the
 * line key column is switched off.
 */
int ngx_http_order_edit_nsbody_keep_lines(
    const ngx_http_order_edit_norm_conf_t *conf, json_t *body,
    const json_t *record);

/*
 * A cancellation closes the order: its body gets every line of the order
 * read, by its "line", with "isClosed": true (a PATCH without replace
 * merges lines by "line").  Returns the number of lines, -1 when out of
 * memory.
 */
int ngx_http_order_edit_nsbody_close_lines(json_t *body,
    const json_t *record);

/*
 * The JSON builders both the document and the body are made with.  Each
 * returns the value added (borrowed) or NULL; on NULL the value has been
 * released, so a nested object is only ever filled through the pointer
 * these return.  An allocation failure sets *nomem; a NULL key (a NetSuite
 * field switched off with "off") drops the value and is no failure.
 */
json_t *ngx_http_order_edit_nsbody_set(int *nomem, json_t *obj,
    const char *key, json_t *v);
json_t *ngx_http_order_edit_nsbody_append(int *nomem, json_t *arr,
    json_t *v);

/*
 * A NetSuite item reference, as the document states it too: {"id": "123"},
 * or {"externalId": "ABC"} for "eid:ABC".
 */
json_t *ngx_http_order_edit_nsbody_ref(const char *item);


#endif /* _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_ */
