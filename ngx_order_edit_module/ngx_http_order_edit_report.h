
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The daily mismatch report: where its rows are kept (one small file per
 * store and day in the report's directory, since the zone does not
 * outlive a restart and the report must outlive a month's close), the
 * "report" directive of a reconciled store, and the order_edit_report
 * location that serves a day's rows as JSON or CSV.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_REPORT_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_REPORT_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


/* "report ...;" in an order_edit_store block, after its "reconcile" */
typedef struct {
    ngx_uint_t                     at;          /* minutes after midnight */
    ngx_str_t                      dir;         /* absolute, no "/" last */
    ngx_uint_t                     keep;        /* days */
    ngx_uint_t                     max_exc;     /* raised a run */
    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_order_edit_report_conf_t;


char *ngx_http_order_edit_report_set(ngx_conf_t *cf, void *conf);
ngx_int_t ngx_http_order_edit_report_handler(ngx_http_request_t *r);

/* the dispatcher's tick, in the dispatching worker: runs when due */
void ngx_http_order_edit_report_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log);


#endif /* _NGX_HTTP_ORDER_EDIT_REPORT_H_INCLUDED_ */
