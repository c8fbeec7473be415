
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The per-shop rate limiter: limit_req's leaky bucket, without delay.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_LIMIT_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_LIMIT_H_INCLUDED_


#include "ngx_http_order_edit_shm.h"


char *ngx_http_order_edit_parse_rate(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t n, ngx_http_order_edit_store_conf_t *store);

/* zone locked; NGX_OK, or NGX_BUSY with *retry_after in whole seconds */
ngx_int_t ngx_http_order_edit_limit(ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_store_conf_t *store, time_t *retry_after);


#endif /* _NGX_HTTP_ORDER_EDIT_LIMIT_H_INCLUDED_ */
