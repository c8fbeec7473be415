
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The exception queue for people: list, retry, resolve.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_


#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_queue.h"

#include <jansson.h>


ngx_int_t ngx_http_order_edit_exceptions_handler(ngx_http_request_t *r);
char *ngx_http_order_edit_exceptions_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* what the console (ngx_http_order_edit_console.c) shares with the API */
char *ngx_http_order_edit_resolved_conf(ngx_conf_t *cf,
    ngx_http_order_edit_loc_conf_t *olcf, ngx_str_t *zone, time_t keep);
ngx_int_t ngx_http_order_edit_exc_get(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone);
ngx_int_t ngx_http_order_edit_exc_apply(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id, ngx_uint_t retry,
    ngx_str_t *actor, ngx_str_t *note);
const char *ngx_http_order_edit_exc_forbidden(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_order_edit_exc_header(ngx_http_request_t *r,
    const char *name, size_t len);
void ngx_http_order_edit_exc_actor(ngx_http_request_t *r, ngx_str_t *actor);
json_t *ngx_http_order_edit_exc_before(ngx_str_t *detail);

/*
 * The daily report's actionable rows of one Shopify order (its rows from
 * "from" on) raised as "report_mismatch" exceptions, the report's one
 * call once an order's rows are final; and whether a webhook is such an
 * exception's, sent by a person's Retry: a forced rewrite, never skipped
 * as stale.
 */
ngx_uint_t ngx_http_order_edit_exc_report(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_str_t *api_version, json_t *order, json_t *rows,
    size_t from, ngx_uint_t *room, ngx_uint_t *over, ngx_log_t *log);
ngx_uint_t ngx_http_order_edit_exc_forced(ngx_http_order_edit_msg_t *msg);


#endif /* _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_ */
