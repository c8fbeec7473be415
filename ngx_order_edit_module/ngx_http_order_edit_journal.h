
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The journal: every webhook answered 200 is on disk first, so that it
 * outlives a crash, a restart and a binary upgrade.  Each worker appends
 * to its own segment file; fsyncs run on a thread pool and are shared by
 * every request that waits for one (group commit); acknowledgements go
 * to a file beside their segment; a segment whose records are all settled
 * is removed.  Whoever holds "<zone>.lock" adopts the segments of writers
 * that are gone and is the only one that delivers.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_JOURNAL_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_JOURNAL_H_INCLUDED_


#include "ngx_http_order_edit_store.h"
#include "ngx_http_order_edit_jrec.h"


#define NGX_HTTP_ORDER_EDIT_FSYNC_OFF     0
#define NGX_HTTP_ORDER_EDIT_FSYNC_BATCH   1
#define NGX_HTTP_ORDER_EDIT_FSYNC_ALWAYS  2


struct ngx_http_order_edit_journal_conf_s {
    ngx_str_t                      dir;
    ngx_uint_t                     fsync;
    ngx_uint_t                     batch_window; /* us */
    size_t                         max_size;
    size_t                         segment_size;
    ngx_uint_t                     recycle;     /* spare files kept */
    ngx_flag_t                     preallocate; /* zero-fill spares */
#if (NGX_THREADS)
    ngx_thread_pool_t             *thread_pool;
#endif
    ngx_str_t                      file;
    ngx_uint_t                     line;
};


char *ngx_http_order_edit_journal(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_order_edit_journal_postconf(ngx_conf_t *cf,
    ngx_http_order_edit_main_conf_t *omcf);
ngx_int_t ngx_http_order_edit_journal_init_module(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf);
ngx_int_t ngx_http_order_edit_journal_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf);
void ngx_http_order_edit_journal_exit_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf);

/* 1 when this process may deliver the zone's webhooks */
ngx_uint_t ngx_http_order_edit_journal_may_deliver(
    ngx_http_order_edit_zone_t *zone);

/* the store's durability backend */
extern ngx_http_order_edit_backend_t  ngx_http_order_edit_journal_backend;

/* the status: a json_t for "journal", and the Prometheus lines */
void *ngx_http_order_edit_journal_json(
    ngx_http_order_edit_journal_conf_t *jcf,
    ngx_http_order_edit_jshared_t *js);
u_char *ngx_http_order_edit_journal_prometheus(u_char *p, ngx_str_t *zone,
    ngx_http_order_edit_jshared_t *js);


#endif /* _NGX_HTTP_ORDER_EDIT_JOURNAL_H_INCLUDED_ */
