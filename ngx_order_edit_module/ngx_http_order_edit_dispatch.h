
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The dispatcher: one worker leases queued webhooks, normalises them and
 * delivers them to NetSuite through the curl engine, in the background.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_DISPATCH_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_DISPATCH_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_uint_t                     worker;
    ngx_msec_t                     interval;
    ngx_msec_t                     lease;
    ngx_msec_t                     shutdown_timeout;
#if (NGX_THREADS)
    ngx_thread_pool_t             *thread_pool;   /* where JSON is parsed */
#endif
} ngx_http_order_edit_dispatch_conf_t;


char *ngx_http_order_edit_dispatch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_order_edit_dispatch_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf);


#endif /* _NGX_HTTP_ORDER_EDIT_DISPATCH_H_INCLUDED_ */
