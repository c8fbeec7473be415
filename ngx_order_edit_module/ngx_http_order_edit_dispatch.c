
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * One worker per zone runs the dispatcher on a timer.  Each tick leases
 * webhooks while the NetSuite accounts have room, and each webhook
 * becomes a job: normalise, read the Sales Order's status (the
 * fulfilment lock), write, then ack, hand back with a backoff, or park
 * as an exception.  Every step is a libcurl transfer on the event loop;
 * nothing blocks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_dispatch.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_nsbody.h"
#include "ngx_http_order_edit_nsslot.h"


/* queued snapshots of one order looked at to coalesce a burst */
#define NGX_HTTP_ORDER_EDIT_COALESCE_MAX     16

/* leases taken in one tick at most: the tick stays short */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_BATCH   64

/* how long a job waits when its order already has a request out */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY    200

#define NGX_HTTP_ORDER_EDIT_STEP_LOCK        0
#define NGX_HTTP_ORDER_EDIT_STEP_CUSTOMER    1
#define NGX_HTTP_ORDER_EDIT_STEP_WRITE       2
#define NGX_HTTP_ORDER_EDIT_STEP_READBACK    3
#define NGX_HTTP_ORDER_EDIT_STEP_LOOKUP      4

#define NGX_HTTP_ORDER_EDIT_SUITEQL  "/services/rest/query/v1/suiteql"
#define NGX_HTTP_ORDER_EDIT_STEP_TAX_KIND    5
#define NGX_HTTP_ORDER_EDIT_STEP_MEMO_FIND   6   /* refund_flow invoice */
#define NGX_HTTP_ORDER_EDIT_STEP_INVOICE     7
#define NGX_HTTP_ORDER_EDIT_STEP_PAYOUT_READ 8   /* refund_payout */
#define NGX_HTTP_ORDER_EDIT_STEP_PAYOUT      9

/* Sales Order internal ids found by SuiteQL, per dispatching worker */
#define NGX_HTTP_ORDER_EDIT_SO_CACHE         4096


typedef struct {
    ngx_http_order_edit_dispatch_conf_t   *conf;
    ngx_http_order_edit_main_conf_t       *omcf;
    ngx_http_order_edit_zone_t            *zone;
    ngx_event_t                            timer;
    ngx_queue_t                            jobs;
    ngx_uint_t                             njobs;
    ngx_log_t                             *log;
    ngx_msec_t                             stop_at;  /* shutdown_timeout */
    unsigned                               stopping:1;
} ngx_http_order_edit_dispatcher_t;


typedef struct {
    ngx_queue_t                            queue;
    ngx_pool_t                            *pool;
    ngx_http_order_edit_dispatcher_t      *d;
    ngx_http_order_edit_msg_t              msg;
    ngx_http_order_edit_store_conf_t      *store;
    ngx_http_order_edit_netsuite_conf_t   *ns;
    ngx_http_order_edit_norm_result_t      res;
    ngx_uint_t                             step;
    ngx_str_t                              method;
    ngx_str_t                              url;
    ngx_str_t                              body;
    ngx_str_t                              body_sent; /* by the write */
    char                                  *doc;      /* RESTlet body */
    ngx_http_order_edit_curl_req_t        *req;       /* in flight */
    ngx_http_order_edit_nsslot_t           slot;      /* the account's */
    ngx_str_t                              so_id;     /* SuiteQL's find */
    ngx_uint_t                             next_step; /* after the lookup */
    const char                            *next_query;
    ngx_str_t                              source;    /* the SO's id */
    ngx_str_t                              xform;     /* transform body */
    unsigned                               normalised:1;
    unsigned                               so_cached:1;
    unsigned                               newer:1;   /* one is queued */
    unsigned                               parsing:1; /* on the thread */
    unsigned                               tax_asked:1; /* of NetSuite */
    unsigned                               reread:1;  /* read back again */
    unsigned                               auth_retried:1; /* after 401 */

    /* OAuth 2.0: waiting for a token, and the one sent */
    ngx_http_order_edit_oauth2_wait_t      wait;
    uint64_t                               token_gen;

    /* what the normaliser reads, and the same order's other snapshots */
    ngx_http_order_edit_norm_input_t       in;
    ngx_array_t                            others;
} ngx_http_order_edit_job_t;


/*
 * What SuiteQL said: (account, shop, Shopify order) -> internal id.  A
 * Sales Order keeps its internal id for life, so entries never expire;
 * a slot is simply overwritten by the next order hashed to it, and an
 * id NetSuite no longer knows (404) is dropped and looked up again.
 */
typedef struct {
    void                                  *ns;
    uint32_t                               shop;
    int64_t                                order_id;
    u_char                                 len;
    u_char                                 id[23];
} ngx_http_order_edit_so_cache_t;


static ngx_http_order_edit_so_cache_t
    ngx_http_order_edit_so_cache[NGX_HTTP_ORDER_EDIT_SO_CACHE];


static void ngx_http_order_edit_dispatch_tick(ngx_event_t *ev);
static void ngx_http_order_edit_dispatch_stop(
    ngx_http_order_edit_dispatcher_t *d);
static ngx_int_t ngx_http_order_edit_job_start(
    ngx_http_order_edit_dispatcher_t *d, ngx_pool_t *pool,
    ngx_http_order_edit_msg_t *msg);
static uint64_t ngx_http_order_edit_job_order(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_order_busy(
    ngx_http_order_edit_job_t *job);
static ngx_int_t ngx_http_order_edit_job_send(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_resend(void *data);
static ngx_int_t ngx_http_order_edit_job_bearer(ngx_http_order_edit_job_t *job,
    ngx_str_t *value);
static void ngx_http_order_edit_job_done(ngx_http_order_edit_curl_req_t *req,
    void *data);
static void ngx_http_order_edit_job_locked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static ngx_uint_t ngx_http_order_edit_job_held(ngx_http_order_edit_job_t *job,
    json_t *record);
static void ngx_http_order_edit_job_missing(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_write(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_transient(ngx_http_order_edit_job_t *job,
    ngx_str_t *why);
static void ngx_http_order_edit_job_park(ngx_http_order_edit_job_t *job,
    const char *reason, ngx_str_t *detail);
static void ngx_http_order_edit_job_finish(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_error(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *out);
static void ngx_http_order_edit_job_first_read(ngx_http_order_edit_job_t *job,
    const char *eid, const char *query, ngx_uint_t step);
static void ngx_http_order_edit_job_found(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static ngx_http_order_edit_so_cache_t *ngx_http_order_edit_so_slot(
    ngx_http_order_edit_job_t *job);
static ngx_int_t ngx_http_order_edit_job_set_url(
    ngx_http_order_edit_job_t *job, const char *path, const u_char *id,
    size_t id_len, const char *query);
static ngx_int_t ngx_http_order_edit_job_url(ngx_http_order_edit_job_t *job,
    const char *eid, const char *query);
static ngx_int_t ngx_http_order_edit_job_in_place(
    ngx_http_order_edit_job_t *job, json_t *record);
static ngx_int_t ngx_http_order_edit_job_totals(ngx_http_order_edit_job_t *job,
    json_t *sent, json_t *got, ngx_str_t *detail);
static const char *ngx_http_order_edit_number_text(json_t *v);
static ngx_int_t ngx_http_order_edit_same_decimal(const char *text,
    json_t *v);
static ngx_int_t ngx_http_order_edit_job_ask_tax_kind(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_tax_kind(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_job_customer(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_job_xform_body(
    ngx_http_order_edit_job_t *job, json_t *body, json_t *id);
static void ngx_http_order_edit_job_memo_find(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_refund_step(
    ngx_http_order_edit_job_t *job, ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_job_invoice(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_job_payout(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_payout_send(
    ngx_http_order_edit_job_t *job, ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_job_acked(ngx_http_order_edit_job_t *job,
    ngx_uint_t counter);
static void ngx_http_order_edit_job_readback(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_same_number(json_t *a, json_t *b);
static void ngx_http_order_edit_job_superseded(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_parse(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_parsed(ngx_http_order_edit_job_t *job);
#if (NGX_THREADS)
static void ngx_http_order_edit_job_parse_thread(void *data, ngx_log_t *log);
static void ngx_http_order_edit_job_parse_done(ngx_event_t *ev);
#endif


char *
ngx_http_order_edit_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_order_edit_main_conf_t  *omcf = conf;

    ngx_int_t                              n;
    ngx_str_t                             *value, s;
    ngx_uint_t                             i;
    ngx_msec_t                             ms;
    ngx_core_conf_t                       *ccf;
    ngx_http_order_edit_zone_ref_t        *ref;
    ngx_http_order_edit_dispatch_conf_t   *dc;

    value = cf->args->elts;

    dc = ngx_array_push(&omcf->dispatchers);
    if (dc == NULL) {
        return NGX_CONF_ERROR;
    }

    dc->worker = 0;
    dc->interval = 100;
    dc->lease = 300000;
    dc->shutdown_timeout = 5000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "worker=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            dc->worker = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0
            || ngx_strncmp(value[i].data, "lease=", 6) == 0)
        {
            s.data = (u_char *) ngx_strlchr(value[i].data,
                                  value[i].data + value[i].len, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            if (value[i].data[0] == 'i') {
                dc->interval = ms;

            } else {
                dc->lease = ms;
            }

            continue;
        }

        /* 0: a stopping worker hands its NetSuite requests back at once */
        if (ngx_strncmp(value[i].data, "shutdown_timeout=", 17) == 0) {
            s.data = value[i].data + 17;
            s.len = value[i].len - 17;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

            dc->shutdown_timeout = ms;
            continue;
        }

        goto invalid;
    }

    dc->shm_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                         &ngx_http_order_edit_module);
    if (dc->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the zone is checked with the locations' once http{} is read */
    ref = ngx_array_push(&omcf->refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->shm_zone = dc->shm_zone;
    ref->clcf = NULL;
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    /* the dispatcher's transfers need the curl engine in its worker */
    if (ngx_http_order_edit_curl_conf_get(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)
    /* parsing a large order takes a while: never in the event loop */
    dc->thread_pool = ngx_thread_pool_add(cf, NULL);
    if (dc->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    /*
     * A worker that does not exist would dispatch nothing, silently;
     * worker_processes is known here when it comes before http{}, as it
     * almost always does ("auto" is resolved when it is read).
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->worker_processes != NGX_CONF_UNSET
        && dc->worker >= (ngx_uint_t) ccf->worker_processes)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_dispatch worker=%ui, but "
                           "worker_processes is %i (workers count from 0)",
                           dc->worker, ccf->worker_processes);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\", expected worker=<n>, "
                       "interval=<time>, lease=<time> or "
                       "shutdown_timeout=<time>", &value[i]);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_order_edit_dispatch_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf)
{
    ngx_uint_t                             i;
    ngx_http_order_edit_dispatcher_t      *d;
    ngx_http_order_edit_dispatch_conf_t   *dc;

    dc = omcf->dispatchers.elts;

    for (i = 0; i < omcf->dispatchers.nelts; i++) {

        if (ngx_process == NGX_PROCESS_WORKER && ngx_worker != dc[i].worker) {
            continue;
        }

        d = ngx_pcalloc(cycle->pool, sizeof(ngx_http_order_edit_dispatcher_t));
        if (d == NULL) {
            return NGX_ERROR;
        }

        d->conf = &dc[i];
        d->omcf = omcf;
        d->zone = dc[i].shm_zone->data;
        d->log = cycle->log;
        ngx_queue_init(&d->jobs);

        d->timer.handler = ngx_http_order_edit_dispatch_tick;
        d->timer.data = d;
        d->timer.log = cycle->log;

        /* a worker shutting down does not wait for an idle timer */
        d->timer.cancelable = 1;

        ngx_add_timer(&d->timer, dc[i].interval);

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "order_edit: dispatching zone \"%V\" in this worker",
                      &d->zone->name);
    }

    return NGX_OK;
}


static void
ngx_http_order_edit_dispatch_tick(ngx_event_t *ev)
{
    ngx_http_order_edit_dispatcher_t *d = ev->data;

    ngx_int_t                   rc;
    ngx_uint_t                  n;
    ngx_pool_t                 *pool;
    ngx_http_order_edit_msg_t   msg;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* in-flight jobs finish or are cancelled: their leases go back */
        ngx_http_order_edit_dispatch_stop(d);
        return;
    }

    /* with a journal, only the holder of its lock delivers */
    if (!ngx_http_order_edit_journal_may_deliver(d->zone)) {
        ngx_add_timer(&d->timer, d->conf->interval);
        return;
    }

    /* OAuth 2.0 tokens are fetched before they are needed */
    ngx_http_order_edit_oauth2_tick(d->zone, d->omcf);

    for (n = 0; n < NGX_HTTP_ORDER_EDIT_DISPATCH_BATCH; n++) {

        pool = ngx_create_pool(4096, d->log);
        if (pool == NULL) {
            break;
        }

        rc = ngx_http_order_edit_queue_lease(d->zone, pool, d->conf->lease,
                                             &msg);

        if (rc != NGX_OK) {
            ngx_destroy_pool(pool);
            break;
        }

        /* NGX_BUSY: an account is full; the rest waits for the next tick */
        if (ngx_http_order_edit_job_start(d, pool, &msg) == NGX_BUSY) {
            break;
        }
    }

    /* a job that failed at once may have asked for an early look */
    if (!d->timer.timer_set) {
        ngx_add_timer(&d->timer, d->conf->interval);
    }
}


/*
 * A worker going away (reload, graceful stop) waits for its NetSuite
 * requests at most shutdown_timeout, then cancels them: each webhook's
 * lease is handed back (job_done(), _CANCELLED) for the next worker, or,
 * on a stop, stays in the journal for the next start.  A write NetSuite
 * may have applied meanwhile is sent again, which the external id and
 * replace=item make harmless.  Without this, nginx would wait for every
 * request's own timeout.
 */

static void
ngx_http_order_edit_dispatch_stop(ngx_http_order_edit_dispatcher_t *d)
{
    ngx_uint_t                  n;
    ngx_queue_t                *q, *next;
    ngx_msec_int_t              left;
    ngx_http_order_edit_job_t  *job;

    if (d->njobs == 0) {
        return;
    }

    if (!d->stopping) {
        d->stopping = 1;
        d->stop_at = ngx_current_msec + d->conf->shutdown_timeout;

        ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                      "order_edit: waiting at most %M ms for %ui NetSuite "
                      "requests of zone \"%V\"", d->conf->shutdown_timeout,
                      d->njobs, &d->zone->name);
    }

    left = (ngx_msec_int_t) (d->stop_at - ngx_current_msec);

    if (left > 0) {
        ngx_add_timer(&d->timer, ngx_min((ngx_msec_t) left,
                                         d->conf->interval));
        return;
    }

    n = 0;

    /* a cancelled job is finished, and freed, before cancel() returns */
    for (q = ngx_queue_head(&d->jobs);
         q != ngx_queue_sentinel(&d->jobs);
         q = next)
    {
        next = ngx_queue_next(q);
        job = ngx_queue_data(q, ngx_http_order_edit_job_t, queue);

        if (job->req) {
            n++;
            ngx_http_order_edit_curl_cancel(job->req);
        }
    }

    if (n) {
        ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                      "order_edit: shutdown_timeout: %ui NetSuite requests "
                      "of zone \"%V\" cancelled, their webhooks handed "
                      "back", n, &d->zone->name);
    }

    /* jobs still parsing hand theirs back when the parse ends */
    if (d->njobs) {
        ngx_add_timer(&d->timer, d->conf->interval);
    }
}


static ngx_int_t
ngx_http_order_edit_job_start(ngx_http_order_edit_dispatcher_t *d,
    ngx_pool_t *pool, ngx_http_order_edit_msg_t *msg)
{
    ngx_str_t                           detail;
    ngx_http_order_edit_job_t          *job;

    job = ngx_pcalloc(pool, sizeof(ngx_http_order_edit_job_t));
    if (job == NULL) {
        (void) ngx_http_order_edit_queue_release(d->zone, msg, 1000);
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    job->pool = pool;
    job->d = d;
    job->msg = *msg;

    ngx_queue_insert_tail(&d->jobs, &job->queue);
    d->njobs++;

    job->store = ngx_http_order_edit_find_store(d->omcf, &msg->shop);

    if (job->store == NULL || job->store->netsuite == NULL) {
        ngx_str_set(&detail, "the shop's store names no order_edit_netsuite");
        ngx_http_order_edit_job_park(job, "no_netsuite", &detail);
        return NGX_OK;
    }

    job->ns = job->store->netsuite;
    job->slot.zone = d->zone;
    job->slot.ns = job->ns;

    if (!ngx_http_order_edit_nsslot_room(&job->slot)) {
        (void) ngx_http_order_edit_queue_release(d->zone, &job->msg,
                                                 d->conf->interval);
        ngx_http_order_edit_job_finish(job);
        return NGX_BUSY;
    }

    /* one job per order at a time: a later one is not even parsed yet */
    if (ngx_http_order_edit_job_order_busy(job)) {
        (void) ngx_http_order_edit_queue_release(d->zone, &job->msg,
                                       NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        ngx_http_order_edit_job_finish(job);
        return NGX_OK;
    }

    /*
     * The slot is taken now, while the JSON is parsed elsewhere: jobs
     * leased meanwhile must see the account as it will be.
     */
    ngx_http_order_edit_nsslot_take(&job->slot);

    ngx_http_order_edit_queue_norm_input(&job->msg, &job->in);

    /* a burst of snapshots: the others of this order, to compare after */
    if (ngx_array_init(&job->others, job->pool, 4,
                       sizeof(ngx_http_order_edit_msg_t))
        != NGX_OK
        || ngx_http_order_edit_queue_same_order(d->zone, job->pool,
                                              &job->msg,
                                              NGX_HTTP_ORDER_EDIT_COALESCE_MAX,
                                              &job->others)
           != NGX_OK)
    {
        job->others.nelts = 0;
    }

    ngx_http_order_edit_job_parse(job);

    return NGX_OK;
}


/*
 * Normalising a 16 KB order costs a few hundred microseconds of jansson,
 * a 4 MB one far more, and so does reading the updated_at of the same
 * order's other snapshots: all of it runs on nginx's thread pool, so the
 * dispatching worker goes on answering webhooks meanwhile.  Both read
 * only the job's own copies; nothing in them touches nginx or the zone.
 */

static void
ngx_http_order_edit_job_parse(ngx_http_order_edit_job_t *job)
{
#if (NGX_THREADS)
    ngx_thread_task_t  *task;

    task = ngx_thread_task_alloc(job->pool,
                                 sizeof(ngx_http_order_edit_job_t *));

    if (task != NULL) {
        *(ngx_http_order_edit_job_t **) task->ctx = job;
        task->handler = ngx_http_order_edit_job_parse_thread;
        task->event.handler = ngx_http_order_edit_job_parse_done;
        task->event.data = job;

        if (ngx_thread_task_post(job->d->conf->thread_pool, task) == NGX_OK) {
            job->parsing = 1;
            return;
        }
    }

    /* no task: the work is done here, as without threads */
#endif

    ngx_http_order_edit_job_superseded(job);
    ngx_http_order_edit_job_parsed(job);
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_job_parse_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_job_t *job = *(ngx_http_order_edit_job_t **) data;

    ngx_http_order_edit_job_superseded(job);
}


static void
ngx_http_order_edit_job_parse_done(ngx_event_t *ev)
{
    ngx_http_order_edit_job_t *job = ev->data;

    job->parsing = 0;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the worker is going: the webhook waits for its successor */
        job->normalised = 1;
        (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg, 0);
        ngx_http_order_edit_job_finish(job);
        return;
    }

    ngx_http_order_edit_job_parsed(job);
}

#endif


/* back in the event loop: what the document says decides what happens */

static void
ngx_http_order_edit_job_parsed(ngx_http_order_edit_job_t *job)
{
    json_t                             *cm;
    int64_t                             applied;
    ngx_str_t                           detail, *shop;
    const char                         *so, *field;
    char                               *query;
    ngx_http_order_edit_dispatcher_t   *d;

    d = job->d;
    shop = &job->msg.shop;
    job->normalised = 1;

    switch (job->res.kind) {

    case NGX_HTTP_ORDER_EDIT_NORM_ERROR:
        /* a refund whose tax kind only the Sales Order knows: ask it */
        if (ngx_http_order_edit_job_ask_tax_kind(job) == NGX_OK) {
            return;
        }

        /* the same payload always fails the same way: people decide */
        detail.data = (u_char *) job->res.message;
        detail.len = ngx_strlen(job->res.message);
        ngx_http_order_edit_job_park(job, job->res.error, &detail);
        return;

    case NGX_HTTP_ORDER_EDIT_NORM_STALE:
    case NGX_HTTP_ORDER_EDIT_NORM_EDIT_PENDING:
        /* nothing to send: a newer snapshot says it, or will */
        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;

    default:
        break;
    }

    /* one request per order at a time, in the order they were queued */
    if (ngx_http_order_edit_job_order_busy(job)) {
        (void) ngx_http_order_edit_queue_release(d->zone, &job->msg,
                                       NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        ngx_http_order_edit_job_finish(job);
        return;
    }

    /*
     * Shopify retries carry their original, possibly older, payload and
     * arrive in any order: a snapshot no newer than the one applied last
     * would wind the order back, and one as new is already there.
     */

    /*
     * Only Sales Order updates: a cancellation shares its updated_at with
     * the orders/updated Shopify fires for it, and sets flags no update
     * sets, so it always goes through (it cannot be undone in Shopify).
     */

    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        && job->res.order_id > 0
        && job->res.updated_at != NGX_HTTP_ORDER_EDIT_NO_TIME
        && ngx_http_order_edit_applied_get(d->zone, shop,
                                           (uint64_t) job->res.order_id,
                                           &applied)
           == NGX_OK
        && job->res.updated_at <= applied)
    {
        ngx_log_error(NGX_LOG_INFO, d->log, 0,
                      "order_edit: #%uL of \"%V\" is stale: order %L was "
                      "updated at %L ms, this snapshot at %L ms",
                      job->msg.id, shop, job->res.order_id, applied,
                      job->res.updated_at);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_STALE);
        return;
    }

    /* a burst of edits: only the newest snapshot goes to NetSuite */

    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        && job->newer
        && job->msg.order_id != 0
        && (uint64_t) job->res.order_id == job->msg.order_id)
    {
        ngx_log_error(NGX_LOG_INFO, d->log, 0,
                      "order_edit: #%uL of \"%V\" coalesced: a newer "
                      "snapshot of order %L is queued",
                      job->msg.id, shop, job->res.order_id);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_COALESCED);
        return;
    }

    if (job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET) {
        /* the RESTlet applies the whole document on NetSuite's side */
        job->doc = ngx_http_order_edit_json_dumps(job->res.doc, JSON_COMPACT);
        if (job->doc == NULL) {
            ngx_http_order_edit_job_transient(job, NULL);
            return;
        }

        ngx_str_set(&job->method, "POST");
        job->url = job->ns->restlet_url;
        job->body.data = (u_char *) job->doc;
        job->body.len = ngx_strlen(job->doc);
        job->step = NGX_HTTP_ORDER_EDIT_STEP_WRITE;

        (void) ngx_http_order_edit_job_send(job);
        return;
    }

    ngx_str_set(&job->method, "GET");
    ngx_str_null(&job->body);

    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO) {
        /*
         * Refunds always go through, whatever the order's status; but a
         * Credit Memo needs the order's customer, which only NetSuite
         * knows.
         */
        cm = json_object_get(job->res.doc, "credit_memo");
        so = json_string_value(json_object_get(cm,
                                               "sales_order_external_id"));

        if (so == NULL) {
            ngx_str_set(&detail, "the refund names no sales order");
            ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
            return;
        }

        /*
         * The customer, and what the memo must take from the order: a
         * standalone memo defaults them from the customer, which is
         * wrong for a shop selling in several currencies or subsidiaries.
         */
        ngx_http_order_edit_job_first_read(job, so,
                                   "?fields=entity,currency,subsidiary,"
                                   "location,department,class",
                                   NGX_HTTP_ORDER_EDIT_STEP_CUSTOMER);

    } else {
        /*
         * The fulfilment lock: what does the warehouse say of the order?
         * And which Shopify snapshot does NetSuite hold: the record is
         * the one memory of what was applied that survives a restart, an
         * upgrade or a lost ack.
         */
        field = ngx_http_order_edit_norm_field(&job->store->norm,
                                     NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT);
        query = "?fields=orderStatus";

        if (job->ns->mode != NGX_HTTP_ORDER_EDIT_NS_RESTLET
            && (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                || job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION))
        {
            /*
             * The whole order with its lines: the write names each kept
             * line by its "line", and a cancellation closes them all.
             * Oracle documents sublists in a read only with
             * expandSubResources=true, and fields= is not honoured with
             * it (so the status and the applied snapshot come with it).
             */
            query = "?expandSubResources=true";

        } else if (field != NULL
                   && job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER)
        {
            query = ngx_pnalloc(job->pool,
                                sizeof("?fields=orderStatus,")
                                + ngx_strlen(field));
            if (query == NULL) {
                ngx_http_order_edit_job_transient(job, NULL);
                return;
            }

            (void) ngx_sprintf((u_char *) query, "?fields=orderStatus,%s%Z",
                               field);
        }

        ngx_http_order_edit_job_first_read(job, job->res.external_id, query,
                                           NGX_HTTP_ORDER_EDIT_STEP_LOCK);
    }

    return;
}


/*
 * The first read of the Sales Order.  By external id it goes straight
 * out; with "lookup suiteql field", the order is first found by the
 * custom body field another connector filled with the Shopify order id.
 */

static void
ngx_http_order_edit_job_first_read(ngx_http_order_edit_job_t *job,
    const char *eid, const char *query, ngx_uint_t step)
{
    size_t                           size;
    ngx_str_t                        detail;
    ngx_http_order_edit_so_cache_t  *slot;

    if (job->ns->lookup == NGX_HTTP_ORDER_EDIT_NS_LOOKUP_SUITEQL) {

        if (job->res.order_id <= 0) {
            ngx_str_set(&detail, "no Shopify order id to find the Sales "
                                 "Order by");
            ngx_http_order_edit_job_park(job, "order_missing", &detail);
            return;
        }

        slot = ngx_http_order_edit_so_slot(job);

        if (slot->len == 0) {
            /* the field name was checked at load: letters, digits, "_" */
            size = sizeof("{\"q\":\"SELECT id FROM transaction WHERE type "
                          "= 'SalesOrd' AND  = ''\"}") + NGX_INT64_LEN
                   + job->ns->lookup_field.len;

            job->body.data = ngx_pnalloc(job->pool, size);

            if (job->body.data == NULL
                || ngx_http_order_edit_job_set_url(job,
                                               NGX_HTTP_ORDER_EDIT_SUITEQL,
                                               NULL, 0, "")
                   != NGX_OK)
            {
                ngx_http_order_edit_job_transient(job, NULL);
                return;
            }

            job->body.len = ngx_sprintf(job->body.data,
                                "{\"q\":\"SELECT id FROM transaction WHERE "
                                "type = 'SalesOrd' AND %V = '%L'\"}",
                                &job->ns->lookup_field, job->res.order_id)
                            - job->body.data;

            ngx_str_set(&job->method, "POST");
            job->step = NGX_HTTP_ORDER_EDIT_STEP_LOOKUP;
            job->next_step = step;
            job->next_query = query;

            (void) ngx_http_order_edit_job_send(job);
            return;
        }

        job->so_id.data = slot->id;
        job->so_id.len = slot->len;
        job->so_cached = 1;
    }

    job->step = step;

    if (ngx_http_order_edit_job_url(job, eid, query) != NGX_OK) {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    (void) ngx_http_order_edit_job_send(job);
}


/* SuiteQL answered: one Sales Order, none, or (a data problem) several */

static void
ngx_http_order_edit_job_found(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    size_t                           len;
    json_t                          *root, *items, *id;
    ngx_str_t                        detail;
    const char                      *s;
    ngx_http_order_edit_so_cache_t  *slot;

    root = json_loadb((char *) req->body.data, req->body.len, 0, NULL);
    items = json_object_get(root, "items");

    if (!json_is_array(items)) {
        json_decref(root);
        ngx_str_set(&detail, "SuiteQL answered without \"items\"");
        ngx_http_order_edit_job_transient(job, &detail);
        return;
    }

    job->step = job->next_step;
    ngx_str_null(&job->body);
    ngx_str_set(&job->method, "GET");

    if (json_array_size(items) == 0) {
        json_decref(root);
        ngx_http_order_edit_job_missing(job);
        return;
    }

    if (json_array_size(items) > 1) {
        json_decref(root);
        ngx_str_set(&detail, "several Sales Orders carry this Shopify "
                             "order id");
        ngx_http_order_edit_job_park(job, "order_ambiguous", &detail);
        return;
    }

    id = json_object_get(json_array_get(items, 0), "id");
    s = json_string_value(id);
    len = s ? ngx_strlen(s) : 0;

    if (len == 0 || len >= sizeof(slot->id)
        || ngx_atoi((u_char *) s, len) == NGX_ERROR)
    {
        json_decref(root);
        ngx_str_set(&detail, "SuiteQL answered an id that is not one");
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
        return;
    }

    slot = ngx_http_order_edit_so_slot(job);
    slot->ns = job->ns;
    slot->shop = ngx_crc32_short(job->msg.shop.data, job->msg.shop.len);
    slot->order_id = job->res.order_id;
    slot->len = (u_char) len;
    ngx_memcpy(slot->id, s, len);

    json_decref(root);

    job->so_id.data = ngx_pnalloc(job->pool, len);
    if (job->so_id.data == NULL) {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    ngx_memcpy(job->so_id.data, slot->id, len);
    job->so_id.len = len;

    if (ngx_http_order_edit_job_url(job, NULL, job->next_query) != NGX_OK) {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    (void) ngx_http_order_edit_job_send(job);
}


/* the cache slot of the job's order: its entry, or an empty one */

static ngx_http_order_edit_so_cache_t *
ngx_http_order_edit_so_slot(ngx_http_order_edit_job_t *job)
{
    uint32_t                         shop;
    ngx_http_order_edit_so_cache_t  *slot;

    shop = ngx_crc32_short(job->msg.shop.data, job->msg.shop.len);

    slot = &ngx_http_order_edit_so_cache[
               ((uint64_t) job->res.order_id * 0x9e3779b97f4a7c15ULL
                ^ shop) % NGX_HTTP_ORDER_EDIT_SO_CACHE];

    if (slot->ns != job->ns || slot->shop != shop
        || slot->order_id != job->res.order_id)
    {
        slot->len = 0;
    }

    return slot;
}


static ngx_uint_t
ngx_http_order_edit_job_order_busy(ngx_http_order_edit_job_t *job)
{
    uint64_t                    order;
    ngx_queue_t                *q;
    ngx_http_order_edit_job_t  *other;

    order = ngx_http_order_edit_job_order(job);

    if (order == 0) {
        return 0;
    }

    /* bounded by the accounts' concurrency: jobs out at once */

    for (q = ngx_queue_head(&job->d->jobs);
         q != ngx_queue_sentinel(&job->d->jobs);
         q = ngx_queue_next(q))
    {
        other = ngx_queue_data(q, ngx_http_order_edit_job_t, queue);

        if (other != job && other->slot.taken
            && ngx_http_order_edit_job_order(other) == order
            && other->msg.shop.len == job->msg.shop.len
            && ngx_strncmp(other->msg.shop.data, job->msg.shop.data,
                           job->msg.shop.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The order a job is about: the id ingest read from the payload's head,
 * else the normaliser's, which a job still being parsed on the thread
 * pool does not have yet (nor may it be read then).
 */

static uint64_t
ngx_http_order_edit_job_order(ngx_http_order_edit_job_t *job)
{
    if (job->msg.order_id) {
        return job->msg.order_id;
    }

    return (job->parsing || job->res.order_id <= 0)
           ? 0 : (uint64_t) job->res.order_id;
}


/* endpoint + salesOrder/eid:<id> + query: the reads before a write */

/* job->url = the account's endpoint, path, id (may be empty), query */

static ngx_int_t
ngx_http_order_edit_job_set_url(ngx_http_order_edit_job_t *job,
    const char *path, const u_char *id, size_t id_len, const char *query)
{
    u_char     *p;
    size_t      plen, qlen;
    ngx_str_t  *e;

    e = &job->ns->endpoint;
    plen = ngx_strlen(path);
    qlen = ngx_strlen(query);

    p = ngx_pnalloc(job->pool, e->len + plen + id_len + qlen);
    if (p == NULL) {
        return NGX_ERROR;
    }

    job->url.data = p;

    p = ngx_cpymem(p, e->data, e->len);
    p = ngx_cpymem(p, path, plen);
    p = ngx_cpymem(p, id, id_len);
    p = ngx_cpymem(p, query, qlen);

    job->url.len = p - job->url.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_order_edit_job_url(ngx_http_order_edit_job_t *job, const char *eid,
    const char *query)
{
    /* found by SuiteQL: its internal id; else its external id */
    if (job->so_id.len) {
        return ngx_http_order_edit_job_set_url(job,
                   NGX_HTTP_ORDER_EDIT_REST_PREFIX "salesOrder/",
                   job->so_id.data, job->so_id.len, query);
    }

    return ngx_http_order_edit_job_set_url(job,
               NGX_HTTP_ORDER_EDIT_REST_PREFIX "salesOrder/eid:",
               (u_char *) eid, ngx_strlen(eid), query);
}


static void
ngx_http_order_edit_job_write(ngx_http_order_edit_job_t *job)
{
    u_char      *p, *eid, *rest;
    size_t       len;
    const char  *path;

    job->method.data = (u_char *) job->res.method;
    job->method.len = ngx_strlen(job->res.method);
    if (job->body.len == 0) {
        job->body.data = (u_char *) job->res.body;
        job->body.len = job->res.body_len;
    }

    job->step = NGX_HTTP_ORDER_EDIT_STEP_WRITE;
    job->body_sent = job->body;

    path = job->res.path;
    len = ngx_strlen(path);
    eid = NULL;

    /*
     * The normaliser addresses the Sales Order by external id; one found
     * by SuiteQL is addressed by its internal id, with the same query.
     */

    if (job->so_id.len && job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO
        && job->res.external_id[0] != '\0')
    {
        eid = ngx_strlcasestrn((u_char *) path, (u_char *) path + len,
                               (u_char *) "/salesOrder/eid:",
                               sizeof("/salesOrder/eid:") - 2);
    }

    p = ngx_pnalloc(job->pool, job->ns->endpoint.len + len
                               + job->so_id.len);
    if (p == NULL) {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    job->url.data = p;
    p = ngx_cpymem(p, job->ns->endpoint.data, job->ns->endpoint.len);

    if (eid != NULL) {
        rest = eid + sizeof("/salesOrder/eid:") - 1
               + ngx_strlen(job->res.external_id);

        p = ngx_cpymem(p, path, eid - (u_char *) path);
        p = ngx_cpymem(p, "/salesOrder/", sizeof("/salesOrder/") - 1);
        p = ngx_cpymem(p, job->so_id.data, job->so_id.len);
        p = ngx_cpymem(p, rest, (u_char *) path + len - rest);

    } else {
        p = ngx_cpymem(p, path, len);
    }

    job->url.len = p - job->url.data;

    (void) ngx_http_order_edit_job_send(job);
}


/* one signed request; a fresh nonce and timestamp every time */

static ngx_int_t
ngx_http_order_edit_job_send(ngx_http_order_edit_job_t *job)
{
    char                                 *nonce, *auth;
    u_char                               *signed_url;
    size_t                                len;
    ngx_str_t                             name, value, *e;
    ngx_uint_t                            rc;
    ngx_http_order_edit_curl_req_t       *req;
    ngx_http_order_edit_oauth_request_t   oreq;

    if (job->ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2) {
        if (ngx_http_order_edit_job_bearer(job, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        auth = (char *) value.data;
        len = value.len;

        goto authorized;
    }

    nonce = ngx_pnalloc(job->pool, NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN
                                   + NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX);
    if (nonce == NULL) {
        goto failed;
    }

    auth = nonce + NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN;

    if (ngx_http_order_edit_oauth_nonce(nonce,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN)
        != NGX_HTTP_ORDER_EDIT_OAUTH_OK)
    {
        goto failed;
    }

    ngx_memzero(&oreq, sizeof(ngx_http_order_edit_oauth_request_t));

    oreq.method.data = (char *) job->method.data;
    oreq.method.len = job->method.len;
    oreq.url.data = (char *) job->url.data;
    oreq.url.len = job->url.len;

    e = &job->ns->endpoint;

    /* through a local proxy: signed for NetSuite's own URL */
    if (job->ns->sign_as.len && job->url.len >= e->len
        && ngx_strncmp(job->url.data, e->data, e->len) == 0)
    {
        signed_url = ngx_pnalloc(job->pool, job->ns->sign_as.len
                                            + job->url.len - e->len);
        if (signed_url == NULL) {
            goto failed;
        }

        oreq.url.data = (char *) signed_url;
        oreq.url.len = ngx_cpymem(ngx_cpymem(signed_url,
                                             job->ns->sign_as.data,
                                             job->ns->sign_as.len),
                                  job->url.data + e->len,
                                  job->url.len - e->len)
                       - signed_url;
    }
    oreq.timestamp = (int64_t) ngx_time();
    oreq.nonce.data = nonce;
    oreq.nonce.len = NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN;

    rc = ngx_http_order_edit_oauth_sign(&job->ns->keys, &oreq, auth,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX,
                                        &len);

    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        ngx_log_error(NGX_LOG_ERR, job->d->log, 0,
                      "order_edit: cannot sign %V %V: %s",
                      &job->method, &job->url,
                      ngx_http_order_edit_oauth_strerror(rc));
        goto failed;
    }

authorized:

    req = ngx_http_order_edit_curl_create(job->d->log);
    if (req == NULL) {
        goto failed;
    }

    switch (job->method.data[0]) {
    case 'G':
        req->method = NGX_HTTP_GET;
        break;
    case 'P':
        req->method = (job->method.data[1] == 'A') ? NGX_HTTP_PATCH
                      : (job->method.data[1] == 'U') ? NGX_HTTP_PUT
                                                     : NGX_HTTP_POST;
        break;
    default:
        req->method = NGX_HTTP_DELETE;
        break;
    }

    req->connect_timeout = job->ns->connect_timeout;
    req->timeout = job->ns->timeout;
    req->done = ngx_http_order_edit_job_done;
    req->data = job;

    ngx_str_set(&name, "Authorization");
    value.data = (u_char *) auth;
    value.len = len;

    if (ngx_http_order_edit_curl_set_url(req, &job->url) != NGX_OK
        || ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK)
    {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    ngx_str_set(&name, "Accept");
    ngx_str_set(&value, "application/json");

    if (ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK) {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_LOOKUP
        || job->step == NGX_HTTP_ORDER_EDIT_STEP_INVOICE)
    {
        ngx_str_set(&name, "Prefer");
        ngx_str_set(&value, "transient");

        if (ngx_http_order_edit_curl_add_header(req, &name, &value)
            != NGX_OK)
        {
            ngx_http_order_edit_curl_free(req);
            goto failed;
        }

        ngx_str_set(&value, "application/json");
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_WRITE
        && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
        && job->ns->property_validation != NGX_HTTP_ORDER_EDIT_NS_PNV_OFF)
    {
        /*
         * NetSuite ignores a property it does not know unless told
         * otherwise: a misspelt custom field would vanish silently.
         */
        ngx_str_set(&name, "X-NetSuite-PropertyNameValidation");
        ngx_str_set(&value, "Error");

        if (job->ns->property_validation == NGX_HTTP_ORDER_EDIT_NS_PNV_WARNING)
        {
            ngx_str_set(&value, "Warning");

        } else if (job->ns->property_validation
                   == NGX_HTTP_ORDER_EDIT_NS_PNV_IGNORE)
        {
            ngx_str_set(&value, "Ignore");
        }

        if (ngx_http_order_edit_curl_add_header(req, &name, &value)
            != NGX_OK)
        {
            ngx_http_order_edit_curl_free(req);
            goto failed;
        }

        ngx_str_set(&value, "application/json");
    }

    if (job->body.len) {
        ngx_str_set(&name, "Content-Type");

        if (ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK
            || ngx_http_order_edit_curl_set_body(req, job->body.data,
                                                 job->body.len, 0)
               != NGX_OK)
        {
            ngx_http_order_edit_curl_free(req);
            goto failed;
        }
    }

    /* the configuration's strings are NUL-terminated and outlive req */
    req->ca_file = job->ns->ca_file;

    if (job->ns->proxy.len
        && ngx_http_order_edit_curl_set_proxy(req, &job->ns->proxy) != NGX_OK)
    {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    ngx_http_order_edit_nsslot_sent(&job->slot);

    if (ngx_http_order_edit_curl_start(req) != NGX_OK) {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    job->req = req;

    return NGX_OK;

failed:

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_READBACK) {
        /*
         * The write is in (a worker shutting down cannot start the read
         * back, say): sending it again would be a second write of the same
         * thing, so it is delivered, unchecked, and said so.
         */
        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" was written but is not "
                      "read back", job->msg.id, &job->msg.shop);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return NGX_ERROR;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the next step of a stopping worker: its successor takes it now */
        (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg, 0);
        ngx_http_order_edit_job_finish(job);
        return NGX_ERROR;
    }

    ngx_http_order_edit_job_transient(job, NULL);

    return NGX_ERROR;
}


/*
 * The OAuth 2.0 token for a request: NGX_OK with the header value,
 * NGX_AGAIN when the job waits for a token this worker fetches, or
 * NGX_DONE when it is handed back (retried with its backoff).
 */

static ngx_int_t
ngx_http_order_edit_job_bearer(ngx_http_order_edit_job_t *job,
    ngx_str_t *value)
{
    ngx_int_t  rc;
    ngx_str_t  why;

    job->wait.handler = ngx_http_order_edit_job_resend;
    job->wait.data = job;

    rc = ngx_http_order_edit_oauth2_bearer(job->d->zone, job->ns, job->pool,
                                           &job->wait, value,
                                           &job->token_gen, &why);
    if (rc == NGX_OK || rc == NGX_AGAIN) {
        return rc;
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_READBACK) {
        /* the write is in: it is not sent again for want of a token */
        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" was written but is not "
                      "read back: %V", job->msg.id, &job->msg.shop, &why);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return NGX_DONE;
    }

    switch (rc) {

    case NGX_BUSY:
        /* another process fetches it, or this one is exiting */
        (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg,
                                       NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        ngx_http_order_edit_job_finish(job);
        return NGX_DONE;

    default:
        ngx_http_order_edit_job_transient(job, &why);
        return NGX_DONE;
    }
}


static void
ngx_http_order_edit_job_resend(void *data)
{
    (void) ngx_http_order_edit_job_send(data);
}


static void
ngx_http_order_edit_job_done(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_job_t  *job = data;

    ngx_str_t   why;
    ngx_uint_t  status, over;

    job->req = NULL;
    status = req->status;

    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        /* the worker is going: the webhook waits for its successor */
        (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg, 0);
        ngx_http_order_edit_job_finish(job);
        return;
    }

    over = ngx_http_order_edit_nsslot_answer(&job->slot, req, job->d->log);

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_READBACK) {

        if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_OK && status == 200) {
            ngx_http_order_edit_job_readback(job, req);
            return;
        }

        if (req->resend_refused && !job->reread) {
            /*
             * A reused connection died under the GET: read once more,
             * signed afresh (job_send() acknowledges it if it cannot).
             */
            job->reread = 1;
            (void) ngx_http_order_edit_job_send(job);
            return;
        }

        /* the write is in: a failed check must not send it again */
        ngx_http_order_edit_job_error(job, req, &why);

        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" was written but could "
                      "not be read back: %V", job->msg.id, &job->msg.shop,
                      &why);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    if (status == 401 && job->ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2)
    {
        /* expired or revoked: once with a new token, then people decide */
        ngx_http_order_edit_job_error(job, req, &why);

        if (!job->auth_retried) {
            job->auth_retried = 1;
            ngx_http_order_edit_oauth2_rejected(job->d->zone, job->ns,
                                                job->token_gen);
            (void) ngx_http_order_edit_job_send(job);
            return;
        }

        if (over) {
            /* a new token refused too, in a crowd: NetSuite's overload */
            ngx_http_order_edit_job_transient(job, &why);
            return;
        }

        ngx_http_order_edit_job_park(job, "oauth2_rejected", &why);
        return;
    }

    /* the next request of the job may have its own 401 and refetch */
    job->auth_retried = 0;

    if (status == 401) {
        /*
         * Bad keys, or NetSuite's bogus 401 when the account is over its
         * limit: both are worth a loud line and a retry, not a verdict.
         */
        ngx_http_order_edit_job_error(job, req, &why);

        ngx_log_error(NGX_LOG_ERR, job->d->log, 0,
                      "order_edit: NetSuite refused the signature of "
                      "\"%V\" (check the TBA keys and the clock): %V",
                      &job->ns->name, &why);

        ngx_http_order_edit_job_transient(job, &why);
        return;
    }

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK || over
        || status >= 500
        || (status == 400 && req->body.len
            && ngx_strlcasestrn(req->body.data,
                                req->body.data + req->body.len,
                                (u_char *) "RCRD_HAS_BEEN_CHANGED",
                                21 - 1)
               != NULL))
    {
        /*
         * NetSuite is busy or away, or another user or script saved the
         * record meanwhile (its optimistic lock): nothing was applied,
         * and the request may be sent again, after a while.
         */
        ngx_http_order_edit_job_error(job, req, &why);
        ngx_http_order_edit_job_transient(job, &why);
        return;
    }

    if (job->step >= NGX_HTTP_ORDER_EDIT_STEP_MEMO_FIND) {
        /* refund_flow invoice and refund_payout */
        ngx_http_order_edit_job_refund_step(job, req);
        return;
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_LOOKUP) {

        if (status == 200) {
            ngx_http_order_edit_job_found(job, req);
            return;
        }

        /* a field NetSuite does not know: the configuration is wrong */
        ngx_http_order_edit_job_error(job, req, &why);
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &why);
        return;
    }

    if (job->step != NGX_HTTP_ORDER_EDIT_STEP_WRITE) {

        if (status == 404 && job->so_cached) {
            /* the id remembered is gone: find the order afresh */
            ngx_http_order_edit_so_slot(job)->len = 0;
            ngx_str_set(&why, "the Sales Order found earlier is gone");
            ngx_http_order_edit_job_transient(job, &why);
            return;
        }

        if (status == 200) {
            if (job->step == NGX_HTTP_ORDER_EDIT_STEP_LOCK) {
                ngx_http_order_edit_job_locked(job, req);

            } else if (job->step == NGX_HTTP_ORDER_EDIT_STEP_TAX_KIND) {
                ngx_http_order_edit_job_tax_kind(job, req);

            } else {
                ngx_http_order_edit_job_customer(job, req);
            }

            return;
        }

        if (status == 404) {
            ngx_http_order_edit_job_missing(job);
            return;
        }

    } else if (status >= 200 && status < 300) {
        /* written; eid: and replace=item make a repeat harmless */

        if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
            && job->res.order_id > 0)
        {
            ngx_http_order_edit_applied_set(job->d->zone, &job->msg.shop,
                                            (uint64_t) job->res.order_id,
                                            job->res.updated_at);
        }

        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL %V of \"%V\" written: %V %V %ui",
                      job->msg.id, &job->msg.topic, &job->msg.shop,
                      &job->method, &job->url, status);

        /* refund_payout: what the memo leaves unapplied is paid out */
        if (ngx_http_order_edit_job_payout(job) == NGX_OK) {
            return;
        }

        if (job->ns->readback
            && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
            && job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER)
        {
            /* read the lines back: what NetSuite keeps is what counts */
            ngx_str_set(&job->method, "GET");
            ngx_str_null(&job->body);
            job->step = NGX_HTTP_ORDER_EDIT_STEP_READBACK;

            if (ngx_http_order_edit_job_url(job, job->res.external_id,
                                            "?expandSubResources=true")
                == NGX_OK)
            {
                /* acknowledged by job_send() if it cannot send it */
                (void) ngx_http_order_edit_job_send(job);
                return;
            }

            /*
             * No URL to read back from (no memory): the write is in, so
             * the webhook is delivered, unchecked; left alone, the job
             * would never end and the write go out again at lease expiry.
             */
            ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                          "order_edit: #%uL of \"%V\" was written but is "
                          "not read back", job->msg.id, &job->msg.shop);

            ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
            return;
        }

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    /* NetSuite refused the record itself: retrying would not change it */
    ngx_http_order_edit_job_error(job, req, &why);
    ngx_http_order_edit_job_park(job, "netsuite_rejected", &why);
}


/*
 * NetSuite answers references as objects: "orderStatus":{"id":"B",
 * "refName":"Pending Fulfillment"}.  At or before lock_after the edit is
 * applied; past it the warehouse has acted and people must decide.
 */

static void
ngx_http_order_edit_job_locked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    u_char        *p;
    json_t        *root, *st, *id, *ref;
    ngx_str_t      detail;
    const char    *letter, *name;
    json_error_t   err;

    root = json_loadb((char *) req->body.data, req->body.len, 0, &err);

    st = root ? json_object_get(root, "orderStatus") : NULL;
    id = json_is_object(st) ? json_object_get(st, "id") : st;
    ref = json_is_object(st) ? json_object_get(st, "refName") : NULL;

    letter = json_is_string(id) ? json_string_value(id) : NULL;
    name = json_is_string(ref) ? json_string_value(ref) : "";

    if (letter == NULL || letter[0] < 'A' || letter[0] > 'H'
        || letter[1] != '\0')
    {
        json_decref(root);
        ngx_str_set(&detail, "the Sales Order's orderStatus is unreadable");
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
        return;
    }

    if ((u_char) letter[0] <= job->ns->lock_after) {

        if (ngx_http_order_edit_job_held(job, root)) {
            json_decref(root);
            return;
        }

        if (ngx_http_order_edit_job_in_place(job, root) != NGX_OK) {
            json_decref(root);
            ngx_http_order_edit_job_transient(job, NULL);
            return;
        }

        json_decref(root);
        ngx_http_order_edit_job_write(job);
        return;
    }

    p = ngx_pnalloc(job->pool, 256 + ngx_strlen(name) + job->url.len);

    if (p == NULL) {
        json_decref(root);
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    detail.data = p;
    detail.len = ngx_sprintf(p, "orderStatus %s (%s) is past lock_after %c: "
                             "%s %s was not sent",
                             letter, name, job->ns->lock_after,
                             job->res.method, job->res.path)
                 - p;

    json_decref(root);

    ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" parked: %V",
                  job->msg.id, &job->msg.shop, &detail);

    ngx_http_order_edit_job_park(job, "fulfilment_lock", &detail);
}


/*
 * The write, fitted to the order as NetSuite holds it: a Sales Order's
 * kept lines named by their "line" (updated in place by the keyed
 * replace, not deleted and added again), a cancellation closing every
 * line (NetSuite REST has no cancel: closed lines release their
 * commitments and the order becomes Closed).  The normaliser's exact
 * numbers are kept: the body is loaded as exact JSON and dumped again.
 */

static ngx_int_t
ngx_http_order_edit_job_in_place(ngx_http_order_edit_job_t *job,
    json_t *record)
{
    int                             n;
    char                           *text, errbuf[128];
    json_t                         *body;
    ngx_http_order_edit_json_rc_e   rc;

    if (job->res.body == NULL
        || (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
            && job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION))
    {
        return NGX_OK;
    }

    body = ngx_http_order_edit_json_load(job->res.body, job->res.body_len,
                                         64, job->res.body_len, &rc, errbuf,
                                         sizeof(errbuf));
    if (body == NULL) {
        return NGX_ERROR;
    }

    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER) {
        n = ngx_http_order_edit_nsbody_keep_lines(&job->store->norm, body,
                                                  record);
    } else {
        n = ngx_http_order_edit_nsbody_close_lines(body, record);
    }

    if (n <= 0) {
        json_decref(body);
        return n == 0 ? NGX_OK : NGX_ERROR;
    }

    text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (text == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, job->d->log, 0,
                   "order_edit: #%uL: %d line(s) of the order %s",
                   job->msg.id, n,
                   job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                   ? "kept in place" : "closed");

    free(job->doc);
    job->doc = text;
    job->body.data = (u_char *) text;
    job->body.len = ngx_strlen(text);

    return NGX_OK;
}


/*
 * NetSuite already holds this snapshot of the order, or a newer one: a
 * replay after a crash whose ack was lost, or a late Shopify retry that
 * the zone, restarted since, no longer knows to be stale.  Sending it
 * would wind the order back (or write the same thing twice); it is
 * acknowledged as stale instead.
 */

static ngx_uint_t
ngx_http_order_edit_job_held(ngx_http_order_edit_job_t *job, json_t *record)
{
    int64_t      held;
    json_t      *v;
    const char  *field;

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        || job->res.updated_at == NGX_HTTP_ORDER_EDIT_NO_TIME)
    {
        return 0;
    }

    field = ngx_http_order_edit_norm_field(&job->store->norm,
                                     NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT);
    v = field ? json_object_get(record, field) : NULL;

    if (!json_is_string(v)
        || ngx_http_order_edit_parse_time(json_string_value(v),
                                          json_string_length(v), &held)
           != 0
        || held < job->res.updated_at)
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" is stale: NetSuite holds "
                  "order %L as of %L ms, this snapshot is of %L ms",
                  job->msg.id, &job->msg.shop, job->res.order_id, held,
                  job->res.updated_at);

    /* what NetSuite holds is what was applied, whoever applied it */
    ngx_http_order_edit_applied_set(job->d->zone, &job->msg.shop,
                                    (uint64_t) job->res.order_id, held);

    ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_STALE);

    return 1;
}


/*
 * On the thread pool: the normaliser, then whether a newer snapshot of
 * this order is already queued.  The others' payloads (copied out before)
 * are read for their top-level updated_at only; the bounded scan keeps a
 * huge backlog from costing more than a few parses.
 */

static void
ngx_http_order_edit_job_superseded(ngx_http_order_edit_job_t *job)
{
    json_t                      *doc, *v;
    int64_t                      ms;
    ngx_uint_t                   i;
    json_error_t                 err;
    ngx_http_order_edit_msg_t   *m;

    (void) ngx_http_order_edit_nsbody_normalise(&job->store->norm, &job->in,
                                         &job->res);

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        || job->res.updated_at == NGX_HTTP_ORDER_EDIT_NO_TIME)
    {
        return;
    }

    m = job->others.elts;

    for (i = 0; i < job->others.nelts && !job->newer; i++) {
        doc = json_loadb((char *) m[i].body.data, m[i].body.len, 0, &err);
        v = json_object_get(doc, "updated_at");

        if (json_is_string(v)
            && ngx_http_order_edit_parse_time(json_string_value(v),
                                              json_string_length(v), &ms)
               == 0
            && ms > job->res.updated_at)
        {
            job->newer = 1;
        }

        json_decref(doc);
    }
}


/* the webhook leaves the queue, counted as "counter" too, and the job ends */

static void
ngx_http_order_edit_job_acked(ngx_http_order_edit_job_t *job,
    ngx_uint_t counter)
{
    (void) ngx_http_order_edit_queue_ack(job->d->zone, &job->msg, counter);
    ngx_http_order_edit_job_finish(job);
}


/*
 * Silent drift: a NetSuite script, workflow or rounding that changes what
 * was sent.  Every line sent must come back with its item, quantity and
 * amount, and no other line may be there; a difference parks the
 * webhook as a discrepancy (the write stands) for people to look at.
 */

static void
ngx_http_order_edit_job_readback(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    u_char                         *p, idbuf[64];
    char                            errbuf[128];
    json_t                         *sent, *got, *sl, *gl, *a, *b, *si, *gi;
    size_t                          i, n;
    ngx_str_t                       detail;
    const char                     *what;
    ngx_http_order_edit_json_rc_e   rc;

    sent = ngx_http_order_edit_json_load((char *) job->body_sent.data,
                                         job->body_sent.len, 64,
                                         job->body_sent.len, &rc, errbuf,
                                         sizeof(errbuf));
    got = ngx_http_order_edit_json_load((char *) req->body.data,
                                        req->body.len, 64, req->body.len,
                                        &rc, errbuf, sizeof(errbuf));

    sl = json_object_get(json_object_get(sent, "item"), "items");
    gl = json_object_get(json_object_get(got, "item"), "items");

    what = NULL;
    idbuf[0] = '\0';
    n = 0;

    if (!json_is_array(sl)) {
        /* nothing line by line was sent: nothing to compare */
        goto done;
    }

    if (!json_is_array(gl)) {
        what = "no item lines came back";
        goto done;
    }

    n = json_array_size(sl);

    if (json_array_size(gl) != n) {
        what = "a different number of lines";
        goto done;
    }

    for (i = 0; i < n; i++) {
        a = json_array_get(sl, i);
        b = json_array_get(gl, i);

        si = json_object_get(json_object_get(a, "item"), "id");
        gi = json_object_get(json_object_get(b, "item"), "id");

        /* kept past json_decref(sent) for the message */
        ngx_cpystrn(idbuf, (u_char *) (json_is_string(si)
                                       ? json_string_value(si) : ""),
                    sizeof(idbuf));

        /* an item sent by external id comes back by internal id */
        if (json_is_string(si)
            && !(json_is_string(gi)
                 && ngx_strcmp(json_string_value(si), json_string_value(gi))
                    == 0))
        {
            what = "another item";
            break;
        }

        if (!ngx_http_order_edit_same_number(json_object_get(a, "quantity"),
                                             json_object_get(b, "quantity")))
        {
            what = "another quantity";
            break;
        }

        if (json_object_get(a, "amount")
            && !ngx_http_order_edit_same_number(json_object_get(a, "amount"),
                                                json_object_get(b, "amount")))
        {
            what = "another amount";
            break;
        }
    }

    n = i + 1;

    if (what == NULL
        && ngx_http_order_edit_job_totals(job, sent, got, &detail) != NGX_OK)
    {
        json_decref(sent);
        json_decref(got);

        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\": discrepancy: %V",
                      job->msg.id, &job->msg.shop, &detail);

        ngx_http_order_edit_job_park(job, "discrepancy", &detail);
        return;
    }

done:

    json_decref(sent);
    json_decref(got);

    if (what == NULL) {
        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    p = ngx_pnalloc(job->pool, 256 + sizeof(idbuf));
    if (p == NULL) {
        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    detail.data = p;
    detail.len = ngx_sprintf(p, "read back after the write: line %uz "
                             "(item %s) has %s than was sent",
                             n, idbuf, what)
                 - p;

    if (ngx_strncmp(what, "a different", 11) == 0
        || ngx_strncmp(what, "no item", 7) == 0)
    {
        detail.len = ngx_sprintf(p, "read back after the write: %s than "
                                 "were sent", what)
                     - p;
    }

    ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                  "order_edit: #%uL of \"%V\": discrepancy: %V",
                  job->msg.id, &job->msg.shop, &detail);

    ngx_http_order_edit_job_park(job, "discrepancy", &detail);
}


/*
 * When Shopify's tax was sent as tax details (the override), NetSuite's
 * own tax total and total must be Shopify's to the minor unit: anything
 * else (a script, a workflow, an engine that ignored the override) is a
 * discrepancy showing both values.  Without the override NetSuite's tax
 * is its own by the store's choice, and only the lines are compared.
 */

static ngx_int_t
ngx_http_order_edit_job_totals(ngx_http_order_edit_job_t *job, json_t *sent,
    json_t *got, ngx_str_t *detail)
{
    u_char      *p;
    json_t      *so, *totals, *want, *have;
    ngx_uint_t   i;

    static const char  *names[][2] = {
        { "tax", "taxTotal" }, { "total", "total" }
    };

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        || !json_is_true(json_object_get(sent, "taxDetailsOverride")))
    {
        return NGX_OK;
    }

    so = json_object_get(job->res.doc, "sales_order");
    totals = json_object_get(so, "totals");

    for (i = 0; i < 2; i++) {
        want = json_object_get(totals, names[i][0]);
        have = json_object_get(got, names[i][1]);

        if (!json_is_string(want)) {
            continue;
        }

        if (have != NULL
            && ngx_http_order_edit_same_decimal(json_string_value(want),
                                                have))
        {
            continue;
        }

        p = ngx_pnalloc(job->pool, 256);
        if (p == NULL) {
            return NGX_ERROR;
        }

        detail->data = p;
        detail->len = ngx_snprintf(p, 256, "read back after the write: "
                                   "NetSuite's %s is %s, Shopify's %s is "
                                   "%s", names[i][1],
                                   have ? ngx_http_order_edit_number_text(
                                              have)
                                        : "missing",
                                   names[i][0], json_string_value(want))
                      - p;

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a JSON number's exact text (an exact-JSON marker, an integer), or "?" */

static const char *
ngx_http_order_edit_number_text(json_t *v)
{
    size_t       len;
    const char  *t;
    static char  buf[64];

    if (json_is_integer(v)) {
        (void) ngx_snprintf((u_char *) buf, sizeof(buf), "%L%Z",
                            (int64_t) json_integer_value(v));
        return buf;
    }

    t = ngx_http_order_edit_json_marker_text(v, &len);

    if (t == NULL || len >= sizeof(buf)) {
        return "?";
    }

    ngx_memcpy(buf, t, len);
    buf[len] = '\0';

    return buf;
}


/* a decimal string and a JSON number, the same value: "9.50" and 9.5 */

static ngx_int_t
ngx_http_order_edit_same_decimal(const char *text, json_t *v)
{
    json_t     *a;
    ngx_int_t   same;

    a = ngx_http_order_edit_json_number(text, ngx_strlen(text));
    if (a == NULL) {
        return 0;
    }

    same = ngx_http_order_edit_same_number(a, v);
    json_decref(a);

    return same;
}


/* two JSON numbers, exact: "2" and 2, "9.50" and 9.5 are the same */

static ngx_int_t
ngx_http_order_edit_same_number(json_t *a, json_t *b)
{
    u_char      ta[64], tb[64], *p;
    size_t      la, lb, len;
    ngx_uint_t  k;
    json_t     *v;
    const char *t;
    u_char     *buf[2];
    size_t     *lens[2];

    buf[0] = ta;
    buf[1] = tb;
    lens[0] = &la;
    lens[1] = &lb;

    for (k = 0; k < 2; k++) {
        v = (k == 0) ? a : b;

        if (json_is_integer(v)) {
            *lens[k] = ngx_sprintf(buf[k], "%L",
                                   (int64_t) json_integer_value(v))
                       - buf[k];

        } else if (ngx_http_order_edit_json_is_marker(v)) {
            t = ngx_http_order_edit_json_marker_text(v, &len);
            if (t == NULL || len >= 64) {
                return 0;
            }

            ngx_memcpy(buf[k], t, len);
            *lens[k] = len;

        } else {
            return 0;
        }

        /* "9.50" -> "9.5", "2.0" -> "2": the same value, written so */
        p = buf[k];

        if (ngx_strlchr(p, p + *lens[k], '.') != NULL) {
            while (*lens[k] && p[*lens[k] - 1] == '0') {
                (*lens[k])--;
            }

            if (*lens[k] && p[*lens[k] - 1] == '.') {
                (*lens[k])--;
            }
        }
    }

    return la == lb && ngx_strncmp(ta, tb, la) == 0;
}


/*
 * A refund does not say whether its order's prices include tax, and the
 * two readings of a taxed refund differ by the tax.  The store's setting
 * answered already if it has one; otherwise every Sales Order the module
 * writes carries Shopify's taxes_included in a body field: read it, once,
 * and normalise again with it.  NGX_DECLINED: nothing to ask (another
 * error, RESTlet mode, the field switched off, asked already).
 */

static ngx_int_t
ngx_http_order_edit_job_ask_tax_kind(ngx_http_order_edit_job_t *job)
{
    size_t       len;
    char        *query;
    const char  *field;

    if (ngx_strcmp(job->res.error, "tax_kind_unknown") != 0
        || job->tax_asked
        || job->res.sales_order_id[0] == '\0'
        || job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET)
    {
        return NGX_DECLINED;
    }

    field = ngx_http_order_edit_norm_field(&job->store->norm,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED);
    if (field == NULL) {
        return NGX_DECLINED;
    }

    /* one order at a time, as for every request */
    if (ngx_http_order_edit_job_order_busy(job)) {
        (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg,
                                       NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        ngx_http_order_edit_job_finish(job);
        return NGX_OK;
    }

    len = sizeof("?fields=") + ngx_strlen(field);

    query = ngx_pnalloc(job->pool, len);
    if (query == NULL) {
        ngx_http_order_edit_job_transient(job, NULL);
        return NGX_OK;
    }

    (void) ngx_sprintf((u_char *) query, "?fields=%s%Z", field);

    job->tax_asked = 1;

    ngx_str_set(&job->method, "GET");
    ngx_str_null(&job->body);

    ngx_http_order_edit_job_first_read(job, job->res.sales_order_id, query,
                                       NGX_HTTP_ORDER_EDIT_STEP_TAX_KIND);

    return NGX_OK;
}


/* the Sales Order answered: its taxes_included, then normalise again */

static void
ngx_http_order_edit_job_tax_kind(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    json_t       *root, *v;
    ngx_str_t     detail;
    const char   *field;
    json_error_t  err;

    field = ngx_http_order_edit_norm_field(&job->store->norm,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED);

    root = json_loadb((char *) req->body.data, req->body.len, 0, &err);
    v = (root && field) ? json_object_get(root, field) : NULL;

    if (!json_is_boolean(v)) {
        json_decref(root);

        detail.data = (u_char *) job->res.message;
        detail.len = ngx_strlen(job->res.message);
        ngx_http_order_edit_job_park(job, "tax_kind_unknown", &detail);
        return;
    }

    job->in.taxes_included = json_is_true(v);
    json_decref(root);

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\": the Sales Order's prices %s "
                  "tax", job->msg.id, &job->msg.shop,
                  job->in.taxes_included ? "include" : "exclude");

    ngx_http_order_edit_norm_result_free(&job->res);
    ngx_memzero(&job->res, sizeof(ngx_http_order_edit_norm_result_t));
    job->normalised = 0;

    ngx_http_order_edit_job_parse(job);
}


/*
 * The Credit Memo goes to the Sales Order's customer, in the order's
 * currency, subsidiary, location, department and class, linked to the
 * order by createdFrom.
 */

static void
ngx_http_order_edit_job_customer(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    char                            *text, errbuf[128];
    json_t                          *root, *entity, *id, *body, *ref;
    ngx_str_t                        detail;
    ngx_uint_t                       i;
    json_error_t                     err;
    ngx_http_order_edit_json_rc_e    rc;

    static const char  *from_order[] = {
        "currency", "subsidiary", "location", "department", "class"
    };

    root = json_loadb((char *) req->body.data, req->body.len, 0, &err);
    entity = root ? json_object_get(root, "entity") : NULL;
    id = json_is_object(entity) ? json_object_get(entity, "id") : NULL;

    if (!json_is_string(id)) {
        json_decref(root);
        ngx_str_set(&detail, "the Sales Order has no customer (entity)");
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
        return;
    }

    /* the body keeps the normaliser's exact numbers */
    body = ngx_http_order_edit_json_load(job->res.body, job->res.body_len,
                                         64, job->res.body_len, &rc, errbuf,
                                         sizeof(errbuf));

    if (body == NULL
        || json_object_set_new(body, "entity",
                               json_pack("{s:s}", "id",
                                         json_string_value(id)))
           != 0)
    {
        goto failed;
    }

    /* only what the order has: an account without classes has none */

    for (i = 0; i < sizeof(from_order) / sizeof(from_order[0]); i++) {
        ref = json_object_get(root, from_order[i]);
        ref = json_is_object(ref) ? json_object_get(ref, "id") : NULL;

        if (json_is_string(ref)
            && json_object_set_new(body, from_order[i],
                                   json_pack("{s:s}", "id",
                                             json_string_value(ref)))
               != 0)
        {
            goto failed;
        }
    }

    ref = json_object_get(root, "id");

    if (json_is_string(ref)
        && json_object_set_new(body, "createdFrom",
                               json_pack("{s:s}", "id",
                                         json_string_value(ref)))
           != 0)
    {
        goto failed;
    }

    text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);

    if (text == NULL) {
        goto failed;
    }

    if (job->ns->refund_flow == NGX_HTTP_ORDER_EDIT_NS_REFUND_INVOICE
        && ngx_http_order_edit_job_xform_body(job, body, ref) != NGX_OK)
    {
        free(text);
        goto failed;
    }

    json_decref(body);
    json_decref(root);

    free(job->doc);
    job->doc = text;
    job->body.data = (u_char *) text;
    job->body.len = ngx_strlen(text);

    if (job->xform.len) {
        /* refund_flow invoice: is the memo there already? */
        ngx_http_order_edit_job_memo_find(job);
        return;
    }

    ngx_http_order_edit_job_write(job);

    return;

failed:

    json_decref(body);
    json_decref(root);
    ngx_http_order_edit_job_transient(job, NULL);
}


/*
 * refund_flow invoice: the body of invoice/<id>/!transform/creditMemo.
 * The transform takes the customer, currency, subsidiary, location,
 * department and class from the invoice ("all possible fields defaulted
 * from the source record", Oracle) and sets createdFrom itself; the
 * memo's lines are Shopify's (replace=item drops the invoice's) and its
 * externalId is set in the body, the URL naming none.
 */

static ngx_int_t
ngx_http_order_edit_job_xform_body(ngx_http_order_edit_job_t *job,
    json_t *body, json_t *id)
{
    char        *text;
    size_t       len;
    json_t      *cm, *eid;
    ngx_uint_t   i;

    static const char  *from_source[] = {
        "entity", "currency", "subsidiary", "location", "department",
        "class", "createdFrom"
    };

    if (!json_is_string(id)
        || ngx_atoi((u_char *) json_string_value(id),
                    json_string_length(id)) == NGX_ERROR)
    {
        /* no id to find the invoice by: the memo stays standalone */
        return NGX_OK;
    }

    cm = json_object_get(job->res.doc, "credit_memo");
    eid = json_object_get(cm, "external_id");

    if (!json_is_string(eid)) {
        return NGX_OK;
    }

    len = json_string_length(id);
    job->source.data = ngx_pnalloc(job->pool, len);
    if (job->source.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(job->source.data, json_string_value(id), len);
    job->source.len = len;

    for (i = 0; i < sizeof(from_source) / sizeof(from_source[0]); i++) {
        (void) json_object_del(body, from_source[i]);
    }

    if (json_object_set(body, "externalId", eid) != 0) {
        return NGX_ERROR;
    }

    text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(text);
    job->xform.data = ngx_pnalloc(job->pool, len);

    if (job->xform.data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(job->xform.data, text, len);
    job->xform.len = len;
    free(text);

    return NGX_OK;
}


/*
 * A transform cannot be an upsert: before making the memo from the
 * invoice, look for it by its external id, so a retry after a lost
 * answer, a replay after a crash or a second delivery finds the memo
 * made the first time instead of making a second one.
 */

static void
ngx_http_order_edit_job_memo_find(ngx_http_order_edit_job_t *job)
{
    const char  *eid;

    eid = json_string_value(json_object_get(
              json_object_get(job->res.doc, "credit_memo"), "external_id"));

    if (ngx_http_order_edit_job_set_url(job,
            NGX_HTTP_ORDER_EDIT_REST_PREFIX "creditMemo/eid:",
            (u_char *) eid, ngx_strlen(eid), "?fields=externalId")
        != NGX_OK)
    {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    ngx_str_set(&job->method, "GET");
    ngx_str_null(&job->body);
    job->step = NGX_HTTP_ORDER_EDIT_STEP_MEMO_FIND;

    (void) ngx_http_order_edit_job_send(job);
}


/* the answers of refund_flow invoice's reads */

static void
ngx_http_order_edit_job_refund_step(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    size_t      size;
    ngx_str_t   why;

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_PAYOUT_READ
        && req->status == 200)
    {
        ngx_http_order_edit_job_payout_send(job, req);
        return;
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_PAYOUT
        && req->status >= 200 && req->status < 300)
    {
        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" paid out: %V %V %ui",
                      job->msg.id, &job->msg.shop, &job->method, &job->url,
                      req->status);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    if (job->step != NGX_HTTP_ORDER_EDIT_STEP_MEMO_FIND
        && job->step != NGX_HTTP_ORDER_EDIT_STEP_INVOICE)
    {
        /* the memo gone, or the refund refused: people decide */
        ngx_http_order_edit_job_error(job, req, &why);
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &why);
        return;
    }

    if (job->step == NGX_HTTP_ORDER_EDIT_STEP_INVOICE) {

        if (req->status == 200) {
            ngx_http_order_edit_job_invoice(job, req);
            return;
        }

        /* SuiteQL refused the query: the account must be looked at */
        ngx_http_order_edit_job_error(job, req, &why);
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &why);
        return;
    }

    if (req->status == 200) {
        /* made the first time, its answer lost: nothing more to make */
        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL of \"%V\": the Credit Memo is "
                      "there already", job->msg.id, &job->msg.shop);

        if (ngx_http_order_edit_job_payout(job) != NGX_OK) {
            ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        }

        return;
    }

    if (req->status != 404) {
        ngx_http_order_edit_job_error(job, req, &why);
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &why);
        return;
    }

    /*
     * Not there: the invoice made from the order, the oldest if it was
     * billed in parts.  The id is digits (checked), safe in the query.
     */

    size = sizeof("{\"q\":\"SELECT id FROM transaction WHERE type = "
                  "'CustInvc' AND createdfrom = '' ORDER BY id\"}")
           + job->source.len;

    job->body.data = ngx_pnalloc(job->pool, size);

    if (job->body.data == NULL
        || ngx_http_order_edit_job_set_url(job, NGX_HTTP_ORDER_EDIT_SUITEQL,
                                           NULL, 0, "")
           != NGX_OK)
    {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    job->body.len = ngx_sprintf(job->body.data,
                                "{\"q\":\"SELECT id FROM transaction WHERE "
                                "type = 'CustInvc' AND createdfrom = '%V' "
                                "ORDER BY id\"}", &job->source)
                    - job->body.data;

    ngx_str_set(&job->method, "POST");
    job->step = NGX_HTTP_ORDER_EDIT_STEP_INVOICE;

    (void) ngx_http_order_edit_job_send(job);
}


/*
 * SuiteQL answered: transform the invoice into the memo, applied to it;
 * no invoice (the order is not billed yet): the standalone memo.
 */

static void
ngx_http_order_edit_job_invoice(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    size_t       len;
    json_t      *root, *items;
    ngx_str_t    detail;
    const char  *id;

    root = json_loadb((char *) req->body.data, req->body.len, 0, NULL);
    items = json_object_get(root, "items");

    if (!json_is_array(items)) {
        json_decref(root);
        ngx_str_set(&detail, "SuiteQL answered without \"items\"");
        ngx_http_order_edit_job_transient(job, &detail);
        return;
    }

    if (json_array_size(items) == 0) {
        json_decref(root);

        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL of \"%V\": the order has no "
                      "invoice, the Credit Memo is standalone",
                      job->msg.id, &job->msg.shop);

        job->body.data = (u_char *) job->doc;
        job->body.len = ngx_strlen(job->doc);

        ngx_http_order_edit_job_write(job);
        return;
    }

    id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    len = id ? ngx_strlen(id) : 0;

    if (len == 0 || ngx_atoi((u_char *) id, len) == NGX_ERROR) {
        json_decref(root);
        ngx_str_set(&detail, "SuiteQL answered an id that is not one");
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
        return;
    }

    if (ngx_http_order_edit_job_set_url(job,
            NGX_HTTP_ORDER_EDIT_REST_PREFIX "invoice/", (u_char *) id, len,
            "/!transform/creditMemo?replace=item")
        != NGX_OK)
    {
        json_decref(root);
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    json_decref(root);

    ngx_str_set(&job->method, "POST");
    job->body = job->xform;
    job->body_sent = job->body;
    job->step = NGX_HTTP_ORDER_EDIT_STEP_WRITE;

    (void) ngx_http_order_edit_job_send(job);
}


/*
 * refund_payout: after the memo is in, read what it leaves unapplied (a
 * memo applied to an invoice still due has less to pay out, or nothing).
 * NGX_DECLINED: no payout configured, or not a Credit Memo.
 */

static ngx_int_t
ngx_http_order_edit_job_payout(ngx_http_order_edit_job_t *job)
{
    const char  *eid;

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO
        || job->ns->mode != NGX_HTTP_ORDER_EDIT_NS_REST
        || job->ns->payout_account.len == 0)
    {
        return NGX_DECLINED;
    }

    eid = json_string_value(json_object_get(
              json_object_get(job->res.doc, "credit_memo"), "external_id"));
    if (eid == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_order_edit_job_set_url(job,
            NGX_HTTP_ORDER_EDIT_REST_PREFIX "creditMemo/eid:",
            (u_char *) eid, ngx_strlen(eid),
            "?fields=entity,currency,unapplied")
        != NGX_OK)
    {
        /* the memo is in; paying out is left to people, and said */
        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\": the Credit Memo is in "
                      "but not paid out", job->msg.id, &job->msg.shop);
        return NGX_DECLINED;
    }

    ngx_str_set(&job->method, "GET");
    ngx_str_null(&job->body);
    job->step = NGX_HTTP_ORDER_EDIT_STEP_PAYOUT_READ;

    (void) ngx_http_order_edit_job_send(job);

    return NGX_OK;
}


/*
 * The memo answered: a Customer Refund of what it leaves unapplied, in
 * its currency, to its customer, from the configured bank account.  PUT
 * on the memo's external id is an upsert, and a retry finds the memo
 * applied to the refund (nothing unapplied): never a second payout.
 */

static void
ngx_http_order_edit_job_payout_send(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req)
{
    char                           *text, errbuf[128];
    size_t                          len;
    json_t                         *root, *body, *v, *id, *cur, *ent;
    ngx_str_t                       detail;
    const char                     *eid, *s;
    ngx_http_order_edit_json_rc_e   rc;


    root = ngx_http_order_edit_json_load((char *) req->body.data,
                                         req->body.len, 16, req->body.len,
                                         &rc, errbuf, sizeof(errbuf));

    v = json_object_get(root, "unapplied");
    id = json_object_get(root, "id");
    ent = json_object_get(json_object_get(root, "entity"), "id");
    cur = json_object_get(json_object_get(root, "currency"), "id");

    /* an exact number is a marker string: NUL, then its text */
    s = json_is_string(v) ? json_string_value(v) : NULL;

    if (root == NULL || !json_is_string(id) || !json_is_string(ent)
        || !(json_is_integer(v) || (s != NULL && s[0] == '\0'
                                    && json_string_length(v) > 1)))
    {
        json_decref(root);
        ngx_str_set(&detail, "the Credit Memo answered without its id, "
                             "customer or unapplied amount");
        ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
        return;
    }

    if (json_is_integer(v) ? json_integer_value(v) <= 0
                           : (s[1] == '-'
                              || strspn(s + 1, "0.") == json_string_length(v)
                                                        - 1))
    {
        json_decref(root);

        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL of \"%V\": the Credit Memo has "
                      "nothing unapplied to pay out",
                      job->msg.id, &job->msg.shop);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
        return;
    }

    body = json_pack("{s:{s:O},s:{s:s%},s:{s:[{s:{s:O},s:b,s:O}]}}",
                     "customer", "id", ent,
                     "account", "id", job->ns->payout_account.data,
                     job->ns->payout_account.len,
                     "apply", "items", "doc", "id", id, "apply", 1,
                     "amount", v);

    if (body != NULL && json_is_string(cur)) {
        (void) json_object_set_new(body, "currency",
                                   json_pack("{s:O}", "id", cur));
    }

    if (body != NULL && job->ns->payout_method.len) {
        (void) json_object_set_new(body, "paymentMethod",
                                   json_pack("{s:s%}", "id",
                                             job->ns->payout_method.data,
                                             job->ns->payout_method.len));
    }

    json_decref(root);

    text = body ? ngx_http_order_edit_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    eid = json_string_value(json_object_get(
              json_object_get(job->res.doc, "credit_memo"), "external_id"));

    if (text == NULL || eid == NULL) {
        free(text);
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    len = ngx_strlen(text);
    job->body.data = ngx_pnalloc(job->pool, len);

    if (job->body.data == NULL
        || ngx_http_order_edit_job_set_url(job,
               NGX_HTTP_ORDER_EDIT_REST_PREFIX "customerRefund/eid:",
               (u_char *) eid, ngx_strlen(eid), "?replace=apply")
           != NGX_OK)
    {
        free(text);
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    ngx_memcpy(job->body.data, text, len);
    job->body.len = len;
    free(text);

    ngx_str_set(&job->method, "PUT");
    job->step = NGX_HTTP_ORDER_EDIT_STEP_PAYOUT;

    (void) ngx_http_order_edit_job_send(job);
}


/* no such Sales Order (yet): wait for the connector, create, or ask */

static void
ngx_http_order_edit_job_missing(ngx_http_order_edit_job_t *job)
{
    uint64_t   age;
    ngx_str_t  detail;

    switch (job->ns->on_missing) {

    case NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE:
        if (job->step == NGX_HTTP_ORDER_EDIT_STEP_LOCK
            && ngx_http_order_edit_norm_upsert(&job->store->norm, &job->res)
               == 0)
        {
            ngx_http_order_edit_job_write(job);
            return;
        }

        break;

    case NGX_HTTP_ORDER_EDIT_NS_MISSING_RETRY:
        age = ngx_http_order_edit_now_ms() - job->msg.received_ms;

        if (age < (uint64_t) job->ns->missing_retry_for * 1000) {
            ngx_str_set(&detail, "the Sales Order is not in NetSuite yet");
            ngx_http_order_edit_job_transient(job, &detail);
            return;
        }

        break;

    default:
        break;
    }

    ngx_str_set(&detail, "the Sales Order is not in NetSuite");
    ngx_http_order_edit_job_park(job, "order_missing", &detail);
}


/*
 * Exponential backoff with full jitter, within the retry budget; past it
 * the webhook is parked with the last reason, never dropped.
 */

static void
ngx_http_order_edit_job_transient(ngx_http_order_edit_job_t *job,
    ngx_str_t *why)
{
    uint64_t    age;
    ngx_str_t   none;
    ngx_uint_t  shift;
    ngx_msec_t  cap, delay;

    if (why == NULL) {
        ngx_str_set(&none, "internal error");
        why = &none;
    }

    age = ngx_http_order_edit_now_ms() - job->msg.received_ms;

    if (age >= (uint64_t) job->ns->retry_budget * 1000) {
        ngx_http_order_edit_job_park(job, "retry_budget_exhausted", why);
        return;
    }

    shift = ngx_min(job->msg.attempts, 20);
    cap = ngx_min(job->ns->backoff_max, job->ns->backoff_min << shift);
    delay = (ngx_msec_t) (ngx_random() % (cap + 1));

    ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" will be retried in %M ms: %V",
                  job->msg.id, &job->msg.shop, delay, why);

    (void) ngx_http_order_edit_queue_requeue(job->d->zone, &job->msg, delay);

    ngx_http_order_edit_job_finish(job);
}


static void
ngx_http_order_edit_job_park(ngx_http_order_edit_job_t *job,
    const char *reason, ngx_str_t *detail)
{
    ngx_str_t  r;

    r.data = (u_char *) reason;
    r.len = ngx_strlen(reason);

    /* parking needs no memory: it always succeeds while the lease stands */
    (void) ngx_http_order_edit_queue_park(job->d->zone, &job->msg, &r,
                                          detail);

    ngx_http_order_edit_job_finish(job);
}


static void
ngx_http_order_edit_job_finish(ngx_http_order_edit_job_t *job)
{
    ngx_uint_t                         counted;
    ngx_http_order_edit_dispatcher_t  *d;

    d = job->d;

    ngx_queue_remove(&job->queue);
    d->njobs--;

    counted = job->slot.taken;
    ngx_http_order_edit_nsslot_give(&job->slot);

    if (job->normalised) {
        ngx_http_order_edit_norm_result_free(&job->res);
    }

    free(job->doc);

    /*
     * A NetSuite slot came free: look at the queue at once rather than at
     * the next tick.  The pending tick is deleted first: nginx keeps a
     * timer that would move by less than 300 ms.  Jobs that used no slot
     * (handed back, stale, coalesced) wake nothing, or a full account
     * would be polled every millisecond.
     */

    if (counted && !ngx_exiting && !ngx_terminate && !ngx_quit) {
        if (d->timer.timer_set) {
            ngx_del_timer(&d->timer);
        }

        ngx_add_timer(&d->timer, 1);
    }

    ngx_destroy_pool(job->pool);
}


/* "HTTP 400: USER_ERROR: Invalid value for ..." from NetSuite's answer */

static void
ngx_http_order_edit_job_error(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *out)
{
    u_char        *p, *last;
    json_t        *root, *details, *first, *code, *text;
    size_t         size;
    json_error_t   err;

    size = 128 + ngx_min(req->body.len, NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX)
           + req->message.len;

    p = ngx_pnalloc(job->pool, size);
    if (p == NULL) {
        ngx_str_set(out, "out of memory");
        return;
    }

    out->data = p;

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        last = ngx_snprintf(p, size, "%V %V: %V (curl %d)", &job->method,
                            &job->url, &req->message, (int) req->curl_code);
        out->len = last - p;
        return;
    }

    root = json_loadb((char *) req->body.data, req->body.len, 0, &err);
    details = root ? json_object_get(root, "o:errorDetails") : NULL;
    first = json_is_array(details) ? json_array_get(details, 0) : NULL;
    code = first ? json_object_get(first, "o:errorCode") : NULL;
    text = first ? json_object_get(first, "detail") : NULL;

    if (first == NULL && root != NULL) {
        /* a RESTlet's error: {"error": {"code": "...", "message": "..."}} */
        first = json_object_get(root, "error");
        code = json_is_object(first) ? json_object_get(first, "code") : NULL;
        text = json_is_object(first) ? json_object_get(first, "message")
                                     : NULL;
    }

    if (json_is_string(code) && json_is_string(text)) {
        last = ngx_snprintf(p, size, "HTTP %ui %s: %s", req->status,
                            json_string_value(code),
                            json_string_value(text));

    } else {
        last = ngx_snprintf(p, size, "HTTP %ui from %V %V", req->status,
                            &job->method, &job->url);
    }

    json_decref(root);

    out->len = last - p;
}
