
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Reconciliation: Shopify does not promise to deliver every webhook, so
 * the dispatching worker lists, through the Admin API, the orders updated
 * since a watermark and queues what the zone has not applied yet, as the
 * webhooks would have: an orders/updated snapshot, and refunds/create for
 * the refunds made since.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_RECONCILE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_RECONCILE_H_INCLUDED_


#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_parse.h"
#include <jansson.h>


/* "reconcile ...;" in an order_edit_store block */
struct ngx_http_order_edit_reconcile_conf_s {
    ngx_str_t                      token;        /* Admin API access token */
    ngx_str_t                      url;          /* scheme://host[:port] */
    ngx_str_t                      api_version;
    ngx_str_t                      zone_name;    /* "": the only zone */
    ngx_msec_t                     interval;
    ngx_msec_t                     window;       /* the first run's reach */
    ngx_msec_t                     overlap;
    ngx_msec_t                     timeout;
    ngx_uint_t                     page_size;
    ngx_uint_t                     queue_max;
    void                          *report;       /* "report": report.h */
    ngx_str_t                      file;
    ngx_uint_t                     line;
};


/*
 * In the zone: one per reconciled shop, so that the watermark and the
 * counters outlive a reload and show from any worker.  Anchored at
 * sh->reconcile, allocated by the dispatching worker when first needed.
 */
typedef struct {
    ngx_queue_t                    queue;
    int64_t                        watermark_ms;  /* 0: none yet */
    int64_t                        persisted_ms;  /* in the state file */
    uint64_t                       next_run_ms;   /* wall clock */
    uint64_t                       run_end_ms;    /* of the last good run */
    uint64_t                       last_success;  /* unix seconds, 0 */
    uint64_t                       last_run_ms;   /* its duration */
    uint64_t                       runs;          /* "polled" */
    uint64_t                       pages;
    uint64_t                       orders;        /* listed */
    uint64_t                       found_missing;
    uint64_t                       enqueued;
    uint64_t                       errors;
    uint64_t                       throttled;     /* 429s */
    ngx_uint_t                     running;

    /* the mismatch report's (report.c): its last run, and a run asked */
    uint64_t                       report_runs;
    uint64_t                       report_last;   /* unix seconds, 0 */
    uint64_t                       report_mismatch;
    uint64_t                       report_missing_netsuite;
    uint64_t                       report_missing_shopify;
    uint64_t                       report_actionable;
    uint64_t                       report_errors;
    ngx_uint_t                     report_asked;  /* on demand; 2: redo */
    ngx_pid_t                      report_running; /* its worker, 0 */

    u_short                        len;
    u_char                         name[1];
} ngx_http_order_edit_recon_shop_t;


typedef struct ngx_http_order_edit_recon_sh_s {
    ngx_queue_t                    shops;
} ngx_http_order_edit_recon_sh_t;


char *ngx_http_order_edit_reconcile_set(ngx_conf_t *cf, void *conf);

/* the zone of a reconciled store: zone=, or the only one; NULL: none */
ngx_http_order_edit_zone_t *ngx_http_order_edit_reconcile_zone(
    ngx_http_order_edit_main_conf_t *omcf,
    ngx_http_order_edit_store_conf_t *store, ngx_log_t *log);

/* the dispatcher's tick, every interval, in the dispatching worker */
void ngx_http_order_edit_reconcile_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log);

/*
 * The dispatcher acked a webhook (res: what it normalised to, or NULL): a
 * Credit Memo NetSuite now holds is remembered, so that a run does not
 * queue its refund again.
 */
void ngx_http_order_edit_reconcile_acked(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_norm_result_t *res);

/*
 * The Admin API fetch, shared with the mismatch report (report.c): the
 * first page's URL of the orders updated in [since, until], one GET with
 * the token (started; NULL: it cannot be), the next page from the Link
 * header (NGX_DONE: the last page), and a 429's wait.
 */
ngx_int_t ngx_http_order_edit_reconcile_list_url(
    ngx_http_order_edit_reconcile_conf_t *rcf, ngx_pool_t *pool,
    int64_t since_ms, int64_t until_ms, ngx_str_t *url);
ngx_http_order_edit_curl_req_t *ngx_http_order_edit_reconcile_get(
    ngx_http_order_edit_reconcile_conf_t *rcf, ngx_str_t *url, ngx_log_t *log,
    ngx_http_order_edit_curl_done_pt done, void *data);
ngx_int_t ngx_http_order_edit_reconcile_next(
    ngx_http_order_edit_reconcile_conf_t *rcf,
    ngx_http_order_edit_curl_req_t *req, ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *shop, ngx_str_t *url);
ngx_msec_t ngx_http_order_edit_reconcile_retry_after(
    ngx_http_order_edit_curl_req_t *req);

/*
 * A Shopify answer's JSON (an orders.json page is hundreds of KB: many
 * milliseconds of jansson) parsed off the event loop when it is large
 * (ngx_http_order_edit_parse.c): the body is handed over from req, and
 * parsed(data, value, ...) comes in the event loop with the top-level
 * member "key" (exact numbers), or NULL and why, or cancelled.  *task is
 * the parse while it is out (NULL before parsed() is called): the caller
 * starts nothing else meanwhile and cancels it when its worker goes.
 * NGX_AGAIN: out on the pool; NGX_OK: parsed() was called already;
 * NGX_ERROR: no memory, parsed() is not called.
 */
typedef void (*ngx_http_order_edit_reconcile_parsed_pt)(void *data,
    json_t *value, size_t bytes, const char *err, ngx_uint_t cancelled);

ngx_int_t ngx_http_order_edit_reconcile_parse(
    ngx_http_order_edit_curl_req_t *req, const char *key, ngx_log_t *log,
    ngx_http_order_edit_parse_t **task,
    ngx_http_order_edit_reconcile_parsed_pt parsed, void *data);

/* a parsed page released: on the pool when it is large, as it was made */
void ngx_http_order_edit_reconcile_release(json_t *value, size_t bytes,
    ngx_log_t *log);

/* the status page: a "reconcile" object, and the Prometheus lines */
void ngx_http_order_edit_reconcile_json(ngx_http_request_t *r, void *root);
size_t ngx_http_order_edit_reconcile_prometheus_size(ngx_http_request_t *r);
u_char *ngx_http_order_edit_reconcile_prometheus(ngx_http_request_t *r,
    u_char *p, u_char *last);


#endif /* _NGX_HTTP_ORDER_EDIT_RECONCILE_H_INCLUDED_ */
