
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The console's shared state in the zone: a per-minute history of the
 * last 24 hours per shop and per NetSuite account, and the key that
 * signs the console's page tokens.  Kept in the zone so that a reload
 * (and every worker) sees the same.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_HISTORY_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_HISTORY_H_INCLUDED_


#include "ngx_http_order_edit_module.h"

#include <jansson.h>


#define NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS  1440     /* 24 h of minutes */
#define NGX_HTTP_ORDER_EDIT_CONSOLE_KEY    32


typedef struct ngx_http_order_edit_console_sh_s
    ngx_http_order_edit_console_sh_t;


/* zone not locked: the console's state, created on first use */
ngx_http_order_edit_console_sh_t *ngx_http_order_edit_console_shared(
    ngx_http_order_edit_zone_t *zone);
u_char *ngx_http_order_edit_console_key(ngx_http_order_edit_console_sh_t *c);

/* every worker: sample the zones that have a console, once a minute */
ngx_int_t ngx_http_order_edit_history_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf);

/* the last 24 hours as JSON: {"minute":m,"stores":{},"netsuite":{}} */
json_t *ngx_http_order_edit_history_json(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_pool_t *pool);

/* a histogram's quantile: the upper bound of its bucket, -1 when empty */
int64_t ngx_http_order_edit_quantile(uint64_t *hist, ngx_uint_t n,
    uint64_t total, ngx_uint_t per_mille);


#endif /* _NGX_HTTP_ORDER_EDIT_HISTORY_H_INCLUDED_ */
