
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The webhook endpoint: verify, limit, de-duplicate, enqueue, answer.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_INGEST_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_INGEST_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_webhook_handler(ngx_http_request_t *r);
ngx_uint_t ngx_http_order_edit_shop_domain_valid(ngx_str_t *shop);

/* a JSON answer; retry_after > 0 adds a Retry-After header */
ngx_int_t ngx_http_order_edit_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len, time_t retry_after);
ngx_int_t ngx_http_order_edit_allow(ngx_http_request_t *r, char *methods);
ngx_int_t ngx_http_order_edit_send_json(ngx_http_request_t *r, void *doc);
ngx_int_t ngx_http_order_edit_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message,
    time_t retry_after);


#endif /* _NGX_HTTP_ORDER_EDIT_INGEST_H_INCLUDED_ */
