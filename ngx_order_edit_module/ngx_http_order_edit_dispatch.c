
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * One worker per zone runs the dispatcher on a timer.  Each tick leases
 * webhooks while the NetSuite accounts have room, and each webhook
 * becomes a job that walks one state machine: parse (normalise, on the
 * thread pool), lookup (find the Sales Order, when SuiteQL must), read
 * (its status and lines, or a refund's customer), write, read back, done
 * (ack, hand back with a backoff, or park as an exception).  What is
 * sent and what the answers mean is the NetSuite client's
 * (ngx_http_order_edit_nsclient.c); what to do next is decided here.
 * Every request is a libcurl transfer on the event loop; nothing blocks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_order_edit_dispatch.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_nsbody.h"
#include "ngx_http_order_edit_nsslot.h"
#include "ngx_http_order_edit_nsclient.h"
#include "ngx_http_order_edit_parse.h"
#include "ngx_http_order_edit_console.h"
#include "ngx_http_order_edit_reconcile.h"
#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_report.h"


/* queued snapshots of one order looked at to coalesce a burst */
#define NGX_HTTP_ORDER_EDIT_COALESCE_MAX     16

/* leases taken in one tick at most: the tick stays short */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_BATCH   64

/*
 * Jobs leased beyond the account's free slots, at most: parsed while the
 * slots are busy, so that a slot coming free goes to one ready to send
 * (and a snapshot coalesced or stale never holds a slot at all).  Most
 * spares of a backlog of edit bursts end so, coalesced or stale; eight
 * leave a few that send (with four, bench/dispatch saw a freed slot wait
 * for a lease and a parse more often).
 */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_SPARE   8

/*
 * Only a webhook this old (ms) is leased as a spare: the rest of a burst
 * it belongs to has arrived, and coalesces with it, as when it waits for
 * a slot in the queue.
 */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_YOUNG   100

/* how long a job waits when its order already has a request out */
#define NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY    200

/*
 * How long a write waits for the next snapshot of its order, queued when
 * it was answered, to read the order (and so read the write back) before
 * it reads back itself: the next one is handed back for BUSY first.
 */
#define NGX_HTTP_ORDER_EDIT_FOLD_WAIT        1000


/* where a job is; ngx_http_order_edit_job_next() moves it on */
typedef enum {
    NGX_HTTP_ORDER_EDIT_JOB_PARSE = 0,   /* normalising, thread pool */
    NGX_HTTP_ORDER_EDIT_JOB_LOOKUP,      /* SuiteQL finds the order */
    NGX_HTTP_ORDER_EDIT_JOB_READ,        /* the order's state */
    NGX_HTTP_ORDER_EDIT_JOB_WRITE,
    NGX_HTTP_ORDER_EDIT_JOB_READBACK,    /* what NetSuite kept */
    NGX_HTTP_ORDER_EDIT_JOB_FOLDED,      /* the next one's read checks */
    NGX_HTTP_ORDER_EDIT_JOB_DONE         /* acked, handed back or parked */
} ngx_http_order_edit_job_state_e;


typedef struct {
    ngx_http_order_edit_dispatch_conf_t   *conf;
    ngx_http_order_edit_main_conf_t       *omcf;
    ngx_http_order_edit_zone_t            *zone;
    ngx_event_t                            timer;
    ngx_event_t                            fill;     /* posted: a look */
    ngx_queue_t                            jobs;
    ngx_uint_t                             njobs;
    ngx_queue_t                            ready;    /* for a slot */
    ngx_uint_t                             nspare;
    ngx_log_t                             *log;
    ngx_msec_t                             stop_at;  /* shutdown_timeout */
    uint64_t                               started_ms;
    unsigned                               stopping:1;
} ngx_http_order_edit_dispatcher_t;


typedef struct ngx_http_order_edit_job_s  ngx_http_order_edit_job_t;

struct ngx_http_order_edit_job_s {
    ngx_queue_t                            queue;
    ngx_pool_t                            *pool;
    ngx_http_order_edit_dispatcher_t      *d;
    ngx_http_order_edit_msg_t              msg;
    ngx_http_order_edit_store_conf_t      *store;
    ngx_http_order_edit_netsuite_conf_t   *ns;
    ngx_http_order_edit_norm_result_t      res;
    ngx_http_order_edit_job_state_e        state;
    ngx_http_order_edit_nsc_call_e         read;      /* the one wanted */
    ngx_http_order_edit_nsslot_t           slot;      /* the account's */
    ngx_http_order_edit_nsc_t              nsc;       /* NetSuite */
    unsigned                               normalised:1;
    unsigned                               newer:1;   /* one is queued */
    unsigned                               parsing:1; /* on the thread */
    unsigned                               tax_asked:1; /* of NetSuite */
    unsigned                               tax_wait:1; /* asks on a slot */
    unsigned                               claimed:1; /* a FOLDED one */
    unsigned                               spare:1;   /* leased, no slot */
    unsigned                               waiting:1; /* in d->ready */
    unsigned                               unfold:1;  /* to read back */
    unsigned                               replay:1;  /* fold_held, read */

    /* what the normaliser reads, and the same order's other snapshots */
    ngx_http_order_edit_norm_input_t       in;
    ngx_array_t                            others;

    /*
     * The read back folded into the next lock read of the order: a
     * FOLDED job's write is checked by fold_by's read (NULL: no job has
     * claimed it yet); folds is the FOLDED job this one's read checks.
     */
    ngx_http_order_edit_job_t             *fold_by;
    ngx_http_order_edit_job_t             *folds;
    ngx_event_t                            fold_wait;

    /*
     * A spare job, or a FOLDED write to read back (unfold): in d->ready
     * for a slot, then posted to send.
     */
    ngx_queue_t                            rq;
    ngx_event_t                            go;
};


static void ngx_http_order_edit_dispatch_tick(ngx_event_t *ev);
static void ngx_http_order_edit_dispatch_look(ngx_event_t *ev);
static void ngx_http_order_edit_dispatch_fill(
    ngx_http_order_edit_dispatcher_t *d);
static void ngx_http_order_edit_dispatch_stop(
    ngx_http_order_edit_dispatcher_t *d);
static ngx_int_t ngx_http_order_edit_job_start(
    ngx_http_order_edit_dispatcher_t *d, ngx_pool_t *pool,
    ngx_http_order_edit_msg_t *msg);
static uint64_t ngx_http_order_edit_job_order(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_same_order(
    ngx_http_order_edit_job_t *a, ngx_http_order_edit_job_t *b);
static ngx_uint_t ngx_http_order_edit_job_order_busy(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_parse(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_res_free(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_res_drop(void *res);
#if (NGX_THREADS)
static ngx_int_t ngx_http_order_edit_job_thread(ngx_http_order_edit_job_t *job,
    void (*handler)(void *data, ngx_log_t *log), ngx_event_handler_pt done);
static void ngx_http_order_edit_job_parse_thread(void *data, ngx_log_t *log);
static void ngx_http_order_edit_job_parse_done(ngx_event_t *ev);
#endif
static void ngx_http_order_edit_job_superseded(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_newer(ngx_http_order_edit_job_t *job);
static ngx_int_t ngx_http_order_edit_job_recheck(
    ngx_http_order_edit_job_t *job);
#if (NGX_THREADS)
static void ngx_http_order_edit_job_recheck_thread(void *data,
    ngx_log_t *log);
#endif
static void ngx_http_order_edit_job_rechecked(ngx_event_t *ev);
static void ngx_http_order_edit_job_parsed(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_stale(ngx_http_order_edit_job_t *job);
static ngx_int_t ngx_http_order_edit_job_ask_tax_kind(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_read(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_call_e call);
static void ngx_http_order_edit_job_write(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_next(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_result_t *r);
static void ngx_http_order_edit_job_read_done(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_result_t *r);
static void ngx_http_order_edit_job_locked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o);
static ngx_uint_t ngx_http_order_edit_job_held(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o);
static void ngx_http_order_edit_job_tax_kind(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o);
static void ngx_http_order_edit_job_written(ngx_http_order_edit_job_t *job);
static ngx_int_t ngx_http_order_edit_job_fold(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_maybe_written(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_fold_wait(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_handback(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_claim(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_unfolded(ngx_event_t *ev);
static void ngx_http_order_edit_job_readback(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_replay_busy(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_line_head(ngx_http_order_edit_job_t *job);
static ngx_uint_t ngx_http_order_edit_job_reads_for(
    ngx_http_order_edit_job_t *job, ngx_http_order_edit_job_t *folded);
static void ngx_http_order_edit_job_unline(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_dispatch_wake(
    ngx_http_order_edit_dispatcher_t *d);
static void ngx_http_order_edit_dispatch_arm(
    ngx_http_order_edit_dispatcher_t *d, ngx_msec_t ms);
static void ngx_http_order_edit_dispatch_freed(
    ngx_http_order_edit_dispatcher_t *d,
    ngx_http_order_edit_netsuite_conf_t *ns);
static ngx_uint_t ngx_http_order_edit_job_take(
    ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_unspare(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_resume(ngx_event_t *ev);
static void ngx_http_order_edit_job_go(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_applied(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_checked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_result_t *r);
static void ngx_http_order_edit_job_missing(ngx_http_order_edit_job_t *job);
static void ngx_http_order_edit_job_transient(ngx_http_order_edit_job_t *job,
    ngx_str_t *why);
static void ngx_http_order_edit_job_park(ngx_http_order_edit_job_t *job,
    const char *reason, ngx_str_t *detail);
static void ngx_http_order_edit_job_release(ngx_http_order_edit_job_t *job,
    ngx_msec_t delay);
static void ngx_http_order_edit_job_acked(ngx_http_order_edit_job_t *job,
    ngx_uint_t counter);
static void ngx_http_order_edit_job_finish(ngx_http_order_edit_job_t *job);


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
        d->started_ms = ngx_http_order_edit_now_ms();
        ngx_queue_init(&d->jobs);
        ngx_queue_init(&d->ready);

        d->timer.handler = ngx_http_order_edit_dispatch_tick;
        d->timer.data = d;
        d->timer.log = cycle->log;

        /* a worker shutting down does not wait for an idle timer */
        d->timer.cancelable = 1;

        d->fill.handler = ngx_http_order_edit_dispatch_look;
        d->fill.data = d;
        d->fill.log = cycle->log;

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

    /* catch-up from the Shopify Admin API: it checks all of the below */
    ngx_http_order_edit_reconcile_tick(d->zone, d->omcf, d->log);
    ngx_http_order_edit_report_tick(d->zone, d->omcf, d->log);

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* in-flight jobs finish or are cancelled: their leases go back */
        ngx_http_order_edit_dispatch_stop(d);
        return;
    }

    /* with a journal, only the holder of its lock delivers */
    if (!ngx_http_order_edit_journal_may_deliver(d->zone)) {
        ngx_http_order_edit_dispatch_arm(d, d->conf->interval);
        return;
    }

    /* OAuth 2.0 tokens are fetched before they are needed */
    ngx_http_order_edit_oauth2_tick(d->zone, d->omcf);

    ngx_http_order_edit_dispatch_fill(d);

    if (!d->timer.timer_set) {
        ngx_http_order_edit_dispatch_arm(d, d->conf->interval);
    }
}


/*
 * The tick, cancelable (a worker shutting down does not wait for it)
 * unless jobs wait in d->ready: they hold leases and have no timer of
 * their own, and only the tick's dispatch_stop() hands them back; a
 * worker that exited without it would keep them until the leases end.
 */

static void
ngx_http_order_edit_dispatch_arm(ngx_http_order_edit_dispatcher_t *d,
    ngx_msec_t ms)
{
    d->timer.cancelable = ngx_queue_empty(&d->ready);
    ngx_add_timer(&d->timer, ms);
}


/*
 * Posted by dispatch_wake(): a NetSuite slot, or a spare's place, came
 * free, and the queue is looked at now rather than at the next tick.
 */

static void
ngx_http_order_edit_dispatch_look(ngx_event_t *ev)
{
    ngx_http_order_edit_dispatcher_t *d = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit
        || !ngx_http_order_edit_journal_may_deliver(d->zone))
    {
        return;
    }

    ngx_http_order_edit_dispatch_fill(d);
}


/* parsed jobs to free slots, then leases while an account has room */

static void
ngx_http_order_edit_dispatch_fill(ngx_http_order_edit_dispatcher_t *d)
{
    ngx_int_t                   rc;
    ngx_uint_t                  n;
    ngx_pool_t                 *pool;
    ngx_http_order_edit_msg_t   msg;

    /* parsed jobs waiting for a slot of an account with room now */
    ngx_http_order_edit_dispatch_freed(d, NULL);

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

        /*
         * NGX_BUSY: an account is full; the rest waits for a slot or a
         * spare's place to come free, or for the next tick
         */
        if (ngx_http_order_edit_job_start(d, pool, &msg) == NGX_BUSY) {
            break;
        }
    }
}


/*
 * A worker going away (reload, graceful stop) waits for its NetSuite
 * requests at most shutdown_timeout, then cancels them: each webhook's
 * lease is handed back (job_next(), _CANCELLED) for the next worker, or,
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

        /*
         * Jobs waiting for a slot get none any more (dispatch_freed()
         * gives none now): their webhooks go back at once for the next
         * worker, not after shutdown_timeout; those parsed have sent
         * nothing, a FOLDED write was sent and is not checked.
         * Finishing one unlinks it from d->ready.
         */
        n = 0;

        while (!ngx_queue_empty(&d->ready)) {
            job = ngx_queue_data(ngx_queue_head(&d->ready),
                                 ngx_http_order_edit_job_t, rq);
            ngx_http_order_edit_job_unline(job);
            n++;
        }

        if (n) {
            ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                          "order_edit: %ui webhooks of zone \"%V\" waiting "
                          "for a NetSuite slot handed back", n,
                          &d->zone->name);
        }

        if (d->njobs == 0) {
            return;
        }

        ngx_log_error(NGX_LOG_NOTICE, d->log, 0,
                      "order_edit: waiting at most %M ms for %ui NetSuite "
                      "requests of zone \"%V\"", d->conf->shutdown_timeout,
                      d->njobs, &d->zone->name);
    }

    left = (ngx_msec_int_t) (d->stop_at - ngx_current_msec);

    if (left > 0) {
        ngx_http_order_edit_dispatch_arm(d, ngx_min((ngx_msec_t) left,
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

        if (job->waiting || job->go.posted) {
            ngx_http_order_edit_job_unline(job);
            n++;
            continue;
        }

        if (job->state == NGX_HTTP_ORDER_EDIT_JOB_FOLDED) {
            if (job->fold_by == NULL) {
                ngx_http_order_edit_job_handback(job);
                n++;
            }

            continue;
        }

        if (ngx_http_order_edit_nsc_cancel(&job->nsc)) {
            n++;
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
        ngx_http_order_edit_dispatch_arm(d, d->conf->interval);
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

    job->nsc.ns = job->ns;
    job->nsc.norm = &job->store->norm;
    job->nsc.res = &job->res;
    job->nsc.slot = &job->slot;
    job->nsc.pool = pool;
    job->nsc.log = d->log;
    job->nsc.shop = job->msg.shop;
    job->nsc.topic = job->msg.topic;
    job->nsc.id = job->msg.id;
    job->nsc.done = ngx_http_order_edit_job_next;
    job->nsc.data = job;

    job->fold_wait.handler = ngx_http_order_edit_job_unfolded;
    job->fold_wait.data = job;
    job->fold_wait.log = d->log;

    job->go.handler = ngx_http_order_edit_job_resume;
    job->go.data = job;
    job->go.log = d->log;

    if (!ngx_http_order_edit_nsslot_room(&job->slot)) {

        if (d->nspare >= NGX_HTTP_ORDER_EDIT_DISPATCH_SPARE
            || ngx_http_order_edit_now_ms() - msg->received_ms
               < NGX_HTTP_ORDER_EDIT_DISPATCH_YOUNG)
        {
            ngx_http_order_edit_job_release(job, d->conf->interval);
            return NGX_BUSY;
        }

        /* parsed now, it waits for a slot in d->ready */
        job->spare = 1;
        d->nspare++;
    }

    /* one job per order at a time: a later one is not even parsed yet */
    if (ngx_http_order_edit_job_order_busy(job)) {
        ngx_http_order_edit_job_release(job,
                                        NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        return NGX_OK;
    }

    /*
     * The slot is taken now, while the JSON is parsed elsewhere: jobs
     * leased meanwhile must see the account as it will be.
     */
    if (!job->spare) {
        ngx_http_order_edit_nsslot_take(&job->slot);
    }

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
    if (ngx_http_order_edit_job_thread(job,
                                       ngx_http_order_edit_job_parse_thread,
                                       ngx_http_order_edit_job_parse_done)
        == NGX_OK)
    {
        return;
    }

    /* no task: the work is done here, as without threads */
#endif

    ngx_http_order_edit_job_superseded(job);
    ngx_http_order_edit_job_parsed(job);
}


/*
 * The normaliser's result, freed on the thread pool when it is large (as
 * parse_threshold says), as the NetSuite client frees the records it
 * reads: its document is a jansson tree of thousands of small nodes, and
 * freeing them here fills malloc's fast bins, which the request body's
 * free (a chunk over 64 KB) then consolidates, all on the event loop
 * (bench/parse: malloc_consolidate 7-11% of the loop's CPU).
 */

static void
ngx_http_order_edit_job_res_free(ngx_http_order_edit_job_t *job)
{
    ngx_http_order_edit_norm_result_t  *res;

    res = ngx_alloc(sizeof(ngx_http_order_edit_norm_result_t), job->d->log);

    if (res == NULL) {
        ngx_http_order_edit_norm_result_free(&job->res);

    } else {
        *res = job->res;
        ngx_http_order_edit_parse_dispose(ngx_http_order_edit_job_res_drop,
                                          res, job->res.body_len,
                                          job->d->log);
    }

    ngx_memzero(&job->res, sizeof(ngx_http_order_edit_norm_result_t));
}


static void
ngx_http_order_edit_job_res_drop(void *res)
{
    ngx_http_order_edit_norm_result_free(res);
    ngx_free(res);
}


#if (NGX_THREADS)

/* handler on the thread pool, then done in the event loop, ev->data job */

static ngx_int_t
ngx_http_order_edit_job_thread(ngx_http_order_edit_job_t *job,
    void (*handler)(void *data, ngx_log_t *log), ngx_event_handler_pt done)
{
    ngx_thread_task_t  *task;

    task = ngx_thread_task_alloc(job->pool,
                                 sizeof(ngx_http_order_edit_job_t *));
    if (task == NULL) {
        return NGX_ERROR;
    }

    *(ngx_http_order_edit_job_t **) task->ctx = job;
    task->handler = handler;
    task->event.handler = done;
    task->event.data = job;

    if (ngx_thread_task_post(job->d->conf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    job->parsing = 1;

    return NGX_OK;
}


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
        ngx_http_order_edit_job_release(job, 0);
        return;
    }

    ngx_http_order_edit_job_parsed(job);
}

#endif


/*
 * On the thread pool: the normaliser (with the NetSuite request built
 * from its document), then whether a newer snapshot of this order is
 * already queued.  The others' payloads (copied out before) are read for
 * their top-level updated_at only; the bounded scan keeps a huge backlog
 * from costing more than a few parses.
 */

static void
ngx_http_order_edit_job_superseded(ngx_http_order_edit_job_t *job)
{
    (void) ngx_http_order_edit_nsbody_normalise(&job->store->norm, &job->in,
                                                &job->res);

    ngx_http_order_edit_job_newer(job);
}


/* job->newer: one of job->others is a newer snapshot (thread pool safe) */

static void
ngx_http_order_edit_job_newer(ngx_http_order_edit_job_t *job)
{
    int64_t                      ms;
    ngx_uint_t                   i;
    ngx_http_order_edit_msg_t   *m;

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        || job->res.updated_at == NGX_HTTP_ORDER_EDIT_NO_TIME)
    {
        return;
    }

    m = job->others.elts;

    for (i = 0; i < job->others.nelts && !job->newer; i++) {
        if (ngx_http_order_edit_norm_updated_at((char *) m[i].body.data,
                                                m[i].body.len, &ms)
            == 0
            && ms > job->res.updated_at)
        {
            job->newer = 1;
        }
    }
}


/* back in the event loop: what the document says decides what happens */

static void
ngx_http_order_edit_job_parsed(ngx_http_order_edit_job_t *job)
{
    ngx_str_t  detail;

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
        ngx_http_order_edit_job_release(job,
                                        NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        return;
    }

    if (ngx_http_order_edit_job_stale(job)) {
        return;
    }

    /* a spare job sends when a slot comes free */
    if (!job->slot.taken && !ngx_http_order_edit_job_take(job)) {
        return;
    }

    ngx_http_order_edit_job_go(job);
}


/* a slot taken: the job's first request */

static void
ngx_http_order_edit_job_go(ngx_http_order_edit_job_t *job)
{
    ngx_str_t  detail;

    if (job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET) {
        /* the RESTlet applies the whole document on NetSuite's side */
        ngx_http_order_edit_job_write(job);
        return;
    }

    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO) {
        /*
         * Refunds always go through, whatever the order's status; but a
         * Credit Memo needs the order's customer, which only NetSuite
         * knows.
         */
        if (job->res.sales_order_id[0] == '\0') {
            ngx_str_set(&detail, "the refund names no sales order");
            ngx_http_order_edit_job_park(job, "netsuite_rejected", &detail);
            return;
        }

        ngx_http_order_edit_job_read(job,
                                     NGX_HTTP_ORDER_EDIT_NSC_READ_CUSTOMER);
        return;
    }

    /*
     * The fulfilment lock: what does the warehouse say of the order?  And
     * which Shopify snapshot does NetSuite hold: the record is the one
     * memory of what was applied that survives a restart, an upgrade or a
     * lost ack.  The read is the read back of the order's previous
     * write too when that one waits for it (FOLDED): job_read() claims
     * it.
     */
    ngx_http_order_edit_job_read(job, NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER);
}


/*
 * Shopify retries carry their original, possibly older, payload and
 * arrive in any order: a snapshot no newer than the one applied last
 * would wind the order back, and one as new is already there.  Only
 * Sales Order updates: a cancellation shares its updated_at with the
 * orders/updated Shopify fires for it, and sets flags no update sets, so
 * it always goes through (it cannot be undone in Shopify).  And a burst
 * of edits: only the newest snapshot goes to NetSuite.  1 when the job
 * has ended, acknowledged.
 */

static ngx_uint_t
ngx_http_order_edit_job_stale(ngx_http_order_edit_job_t *job)
{
    int64_t                             applied;
    ngx_str_t                          *shop;
    ngx_http_order_edit_dispatcher_t   *d;

    d = job->d;
    shop = &job->msg.shop;

    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER) {
        return 0;
    }

    /* a report exception a person retried: a forced rewrite */

    if (job->res.order_id > 0
        && !ngx_http_order_edit_exc_forced(&job->msg)
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
        return 1;
    }

    if (job->newer
        && job->msg.order_id != 0
        && (uint64_t) job->res.order_id == job->msg.order_id)
    {
        if (ngx_http_order_edit_job_maybe_written(job)) {
            /* the newer one's lock read checks it, if NetSuite holds it */
            job->nsc.fold_held = 1;
            ngx_http_order_edit_job_fold_wait(job);
            return 1;
        }

        ngx_log_error(NGX_LOG_INFO, d->log, 0,
                      "order_edit: #%uL of \"%V\" coalesced: a newer "
                      "snapshot of order %L is queued",
                      job->msg.id, shop, job->res.order_id);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_COALESCED);
        return 1;
    }

    return 0;
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
    if (ngx_strcmp(job->res.error, "tax_kind_unknown") != 0
        || job->tax_asked
        || job->res.sales_order_id[0] == '\0'
        || job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET
        || ngx_http_order_edit_norm_field(&job->store->norm,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED)
           == NULL)
    {
        return NGX_DECLINED;
    }

    /* one order at a time, as for every request */
    if (ngx_http_order_edit_job_order_busy(job)) {
        ngx_http_order_edit_job_release(job,
                                        NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        return NGX_OK;
    }

    job->tax_asked = 1;

    /*
     * A spare waits in line for a slot and asks when job_resume() gives
     * it one, as a spare about to write does.  Handed back for want of a
     * slot instead, it would be leased again as a spare, parsed and
     * handed back at every turn for as long as other webhooks (snapshots
     * retrying for a missing Sales Order, say) keep the account full,
     * and the refund would never be booked.
     */
    if (!job->slot.taken && !ngx_http_order_edit_job_take(job)) {
        job->tax_wait = 1;
        return NGX_OK;
    }

    ngx_http_order_edit_job_read(job, NGX_HTTP_ORDER_EDIT_NSC_READ_TAX_KIND);

    return NGX_OK;
}


/* the order's state is read, the order found first when SuiteQL must */

static void
ngx_http_order_edit_job_read(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_call_e call)
{
    job->read = call;

    /*
     * Every read of the whole order is the read back of its FOLDED write
     * too, if one waits: the job may write after it, and that write's own
     * read back would then see this one's lines.
     */
    if (call == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER) {
        ngx_http_order_edit_job_claim(job);
    }

    /*
     * A replay of a write whose check was lost checks it on this read; a
     * forced rewrite (the report's) writes whatever NetSuite holds.
     */
    job->nsc.check_held = (call == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER
                           && job->ns->readback
                           && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
                           && job->res.kind
                              == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                           && !ngx_http_order_edit_exc_forced(&job->msg));

    if (ngx_http_order_edit_nsc_known(&job->nsc)) {
        job->state = NGX_HTTP_ORDER_EDIT_JOB_READ;
        ngx_http_order_edit_nsc_read(&job->nsc, call);
        return;
    }

    job->state = NGX_HTTP_ORDER_EDIT_JOB_LOOKUP;
    ngx_http_order_edit_nsc_lookup(&job->nsc);
}


static void
ngx_http_order_edit_job_write(ngx_http_order_edit_job_t *job)
{
    job->state = NGX_HTTP_ORDER_EDIT_JOB_WRITE;
    ngx_http_order_edit_nsc_write(&job->nsc);
}


/*
 * The one transition function: the NetSuite client's every answer comes
 * here, and the job's state and the answer decide the next state.
 */

static void
ngx_http_order_edit_job_next(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_result_t *r)
{
    ngx_http_order_edit_job_t  *job = c->data;

    if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_CANCELLED) {
        /* the worker is going: the webhook waits for its successor */
        ngx_http_order_edit_job_release(job, 0);
        return;
    }

    if (job->state == NGX_HTTP_ORDER_EDIT_JOB_READBACK
        || job->state == NGX_HTTP_ORDER_EDIT_JOB_FOLDED)
    {
        ngx_http_order_edit_job_checked(job, r);
        return;
    }

    switch (r->rc) {

    case NGX_HTTP_ORDER_EDIT_NSC_OK:
        break;

    case NGX_HTTP_ORDER_EDIT_NSC_MISSING:
        ngx_http_order_edit_job_missing(job);
        return;

    case NGX_HTTP_ORDER_EDIT_NSC_REFUSED:
        if (ngx_strcmp(r->reason, "discrepancy") == 0) {
            /*
             * The RESTlet's own check: written, but not as sent; or a
             * replay's read finding its snapshot held, but not as sent.
             */
            ngx_http_order_edit_job_applied(job);
        }

        ngx_http_order_edit_job_park(job, r->reason, &r->why);
        return;

    case NGX_HTTP_ORDER_EDIT_NSC_BUSY:
        /* another process fetches the token, or this one is exiting */
        ngx_http_order_edit_job_release(job,
                                        NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        return;

    case NGX_HTTP_ORDER_EDIT_NSC_UNSENT:
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            /* a stopping worker's next step: its successor takes it now */
            ngx_http_order_edit_job_release(job, 0);
            return;
        }

        /* fall through */

    default:
        /* transient, over the limit, or saved meanwhile by another */
        ngx_http_order_edit_job_transient(job, r->why.len ? &r->why : NULL);
        return;
    }

    switch (job->state) {

    case NGX_HTTP_ORDER_EDIT_JOB_LOOKUP:
        job->state = NGX_HTTP_ORDER_EDIT_JOB_READ;
        ngx_http_order_edit_nsc_read(c, job->read);
        return;

    case NGX_HTTP_ORDER_EDIT_JOB_READ:
        ngx_http_order_edit_job_read_done(job, r);
        return;

    default: /* NGX_HTTP_ORDER_EDIT_JOB_WRITE */
        ngx_http_order_edit_job_written(job);
        return;
    }
}


static void
ngx_http_order_edit_job_read_done(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_result_t *r)
{
    switch (r->call) {

    case NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER:
        ngx_http_order_edit_job_locked(job, r->order);
        return;

    case NGX_HTTP_ORDER_EDIT_NSC_READ_TAX_KIND:
        ngx_http_order_edit_job_tax_kind(job, r->order);
        return;

    default: /* NGX_HTTP_ORDER_EDIT_NSC_READ_CUSTOMER: the memo is ready */
        ngx_http_order_edit_job_write(job);
        return;
    }
}


/*
 * At or before lock_after the edit is applied; past it the warehouse has
 * acted and people must decide.
 */

static void
ngx_http_order_edit_job_locked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o)
{
    u_char     *p;
    ngx_str_t   detail;

    if ((u_char) o->status <= job->ns->lock_after) {

        if (ngx_http_order_edit_job_held(job, o)) {
            return;
        }

        /*
         * A coalesced replay that NetSuite does not hold was not written
         * (or not kept): if its newer snapshot is still queued, that one
         * writes; this one is coalesced after all, not written first.
         */
        if ((job->claimed || job->replay)
            && ngx_http_order_edit_job_recheck(job) == NGX_OK)
        {
            return;
        }

        ngx_http_order_edit_job_write(job);
        return;
    }

    p = ngx_pnalloc(job->pool, 256 + sizeof(o->status_name)
                               + job->nsc.url.len
                               + NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX);
    if (p == NULL) {
        ngx_http_order_edit_job_transient(job, NULL);
        return;
    }

    detail.data = p;
    detail.len = ngx_sprintf(p, "orderStatus %c (%s) is past lock_after %c: "
                             "%s %s was not sent",
                             o->status, o->status_name, job->ns->lock_after,
                             job->res.method, job->res.path)
                 - p;

    /* what the warehouse has: the console's "before" of the change */
    detail.len = ngx_http_order_edit_console_before(o->record, p, detail.len,
                     NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX);

    ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" parked: %V",
                  job->msg.id, &job->msg.shop, &detail);

    ngx_http_order_edit_job_park(job, "fulfilment_lock", &detail);
}


/*
 * NetSuite already holds this snapshot of the order, or a newer one: a
 * replay after a crash whose ack was lost, or a late Shopify retry that
 * the zone, restarted since, no longer knows to be stale.  Sending it
 * would wind the order back (or write the same thing twice); it is
 * acknowledged as stale instead.
 */

static ngx_uint_t
ngx_http_order_edit_job_held(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o)
{
    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        || job->res.updated_at == NGX_HTTP_ORDER_EDIT_NO_TIME
        || o->held == NGX_HTTP_ORDER_EDIT_NO_TIME
        || o->held < job->res.updated_at
        || ngx_http_order_edit_exc_forced(&job->msg))
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" is stale: NetSuite holds "
                  "order %L as of %L ms, this snapshot is of %L ms",
                  job->msg.id, &job->msg.shop, job->res.order_id, o->held,
                  job->res.updated_at);

    /* what NetSuite holds is what was applied, whoever applied it */
    ngx_http_order_edit_applied_set(job->d->zone, &job->msg.shop,
                                    (uint64_t) job->res.order_id, o->held);

    ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_STALE);

    return 1;
}


/* the Sales Order answered: its taxes_included, then normalise again */

static void
ngx_http_order_edit_job_tax_kind(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsp_order_t *o)
{
    ngx_str_t  detail;

    if (o->taxes_included < 0) {
        detail.data = (u_char *) job->res.message;
        detail.len = ngx_strlen(job->res.message);
        ngx_http_order_edit_job_park(job, "tax_kind_unknown", &detail);
        return;
    }

    job->in.taxes_included = o->taxes_included;

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\": the Sales Order's prices %s "
                  "tax", job->msg.id, &job->msg.shop,
                  job->in.taxes_included ? "include" : "exclude");

    ngx_http_order_edit_job_res_free(job);
    job->normalised = 0;
    job->state = NGX_HTTP_ORDER_EDIT_JOB_PARSE;

    ngx_http_order_edit_job_parse(job);
}


/*
 * Written (and paid out): read back if the store wants, by the next
 * snapshot's lock read when one is queued; remembered as applied once
 * checked.  Until then the zone does not call the snapshot applied, so a
 * replay of it (the worker died, or went away and handed it back) reads
 * the order and checks it there (check_held) instead of passing it as
 * stale unread.
 */

static void
ngx_http_order_edit_job_written(ngx_http_order_edit_job_t *job)
{
    if (job->ns->readback
        && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
        && job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER)
    {
        if (ngx_http_order_edit_job_fold(job) == NGX_OK) {
            return;
        }

        job->state = NGX_HTTP_ORDER_EDIT_JOB_READBACK;
        ngx_http_order_edit_nsc_readback(&job->nsc);
        return;
    }

    ngx_http_order_edit_job_applied(job);
    ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
}


/*
 * Issue 17: a read back costs a request of the account's concurrency,
 * and the next snapshot of the order, queued already, reads the whole
 * order (its lock read) before it writes.  That read is this write's read
 * back: the job gives its slot up, keeps its lease (the webhook is not
 * acknowledged until checked) and waits, FOLDED, for the next one to
 * claim it (job_claim()).  If none does within FOLD_WAIT, or the one that
 * did ends without reading, it reads back itself.
 */

static ngx_int_t
ngx_http_order_edit_job_fold(ngx_http_order_edit_job_t *job)
{
    ngx_array_t  next;

    if (job->msg.order_id == 0
        || (uint64_t) job->res.order_id != job->msg.order_id
        || ngx_exiting || ngx_terminate || ngx_quit)
    {
        return NGX_DECLINED;
    }

    if (ngx_array_init(&next, job->pool, 1,
                       sizeof(ngx_http_order_edit_msg_t))
        != NGX_OK
        || ngx_http_order_edit_queue_same_order(job->d->zone, job->pool,
                                                &job->msg, 1, &next)
           != NGX_OK
        || next.nelts == 0)
    {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" written; the lock read of "
                  "#%uL, queued, reads it back", job->msg.id,
                  &job->msg.shop, ((ngx_http_order_edit_msg_t *) next.elts)
                                  ->id);

    ngx_http_order_edit_job_fold_wait(job);

    return NGX_OK;
}


/*
 * A snapshot coalesced into a newer one may have been written, unchecked,
 * by a worker that died (its lease taken back) or went away (handed
 * back), or before a restart (replayed from the journal): leased before,
 * or received before this worker started.  Its check is not skipped with
 * it: the newer one's lock read makes it, when NetSuite holds it.
 */

static ngx_uint_t
ngx_http_order_edit_job_maybe_written(ngx_http_order_edit_job_t *job)
{
    return job->ns->readback
           && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
           && (job->msg.attempts > 1
               || job->msg.received_ms < job->d->started_ms);
}


static void
ngx_http_order_edit_job_fold_wait(ngx_http_order_edit_job_t *job)
{
    ngx_uint_t  counted;

    job->state = NGX_HTTP_ORDER_EDIT_JOB_FOLDED;

    counted = job->slot.taken;
    ngx_http_order_edit_nsslot_give(&job->slot);
    ngx_http_order_edit_job_unspare(job);
    ngx_add_timer(&job->fold_wait, NGX_HTTP_ORDER_EDIT_FOLD_WAIT);

    /*
     * The slot is free for a job parsed and waiting.  No early look at
     * the queue: with slots free, it would lease snapshots just arrived,
     * before the rest of their burst (the next tick takes them).
     */
    if (counted) {
        ngx_http_order_edit_dispatch_freed(job->d, job->ns);
    }
}


/*
 * A FOLDED job of a worker going away: back to the queue as an attempt,
 * so that its successor knows it may have been written and checks it.
 */

static void
ngx_http_order_edit_job_handback(ngx_http_order_edit_job_t *job)
{
    (void) ngx_http_order_edit_queue_requeue(job->d->zone, &job->msg, 0);
    ngx_http_order_edit_job_finish(job);
}


/*
 * A burst: this job's lock read was the previous write's read back, and
 * while it was out the next snapshot may have come.  If a newer one is
 * queued now, this one is coalesced into it after all (its read did the
 * previous one's check; the newer one reads for itself): without this a
 * burst would be written once more than when each write read back itself
 * (and the burst had the time to coalesce).  The others' updated_at are
 * read on the thread pool, as at the start.  NGX_DECLINED: none queued.
 */

static ngx_int_t
ngx_http_order_edit_job_recheck(ngx_http_order_edit_job_t *job)
{
    /* a replay's was of the queue at its start: asked again, of now */
    job->newer = 0;
    job->others.nelts = 0;

    if (ngx_http_order_edit_queue_same_order(job->d->zone, job->pool,
                                             &job->msg,
                                             NGX_HTTP_ORDER_EDIT_COALESCE_MAX,
                                             &job->others)
        != NGX_OK
        || job->others.nelts == 0)
    {
        job->others.nelts = 0;
        return NGX_DECLINED;
    }

#if (NGX_THREADS)
    if (ngx_http_order_edit_job_thread(job,
                                       ngx_http_order_edit_job_recheck_thread,
                                       ngx_http_order_edit_job_rechecked)
        == NGX_OK)
    {
        return NGX_OK;
    }
#endif

    /* no task: read here, as without threads */
    ngx_http_order_edit_job_newer(job);
    ngx_http_order_edit_job_rechecked(&job->fold_wait);

    return NGX_OK;
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_job_recheck_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_job_t *job = *(ngx_http_order_edit_job_t **) data;

    ngx_http_order_edit_job_newer(job);
}

#endif


/* ev->data is the job (its thread task's event, or its fold_wait) */

static void
ngx_http_order_edit_job_rechecked(ngx_event_t *ev)
{
    ngx_http_order_edit_job_t *job = ev->data;

    job->parsing = 0;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* nothing written: the webhook waits for its successor */
        ngx_http_order_edit_job_release(job, 0);
        return;
    }

    if (job->newer) {
        ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" coalesced after its lock "
                      "read: a newer snapshot of order %L is queued",
                      job->msg.id, &job->msg.shop, job->res.order_id);

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_COALESCED);
        return;
    }

    ngx_http_order_edit_job_write(job);
}


/* a lock read about to go out: the read back of a FOLDED write too */

static void
ngx_http_order_edit_job_claim(ngx_http_order_edit_job_t *job)
{
    uint64_t                    order;
    ngx_queue_t                *q;
    ngx_http_order_edit_job_t  *other;

    /* only these read the whole order (expandSubResources) */
    if (job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        && job->res.kind != NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION)
    {
        return;
    }

    order = ngx_http_order_edit_job_order(job);

    if (order == 0) {
        return;
    }

    for (q = ngx_queue_head(&job->d->jobs);
         q != ngx_queue_sentinel(&job->d->jobs);
         q = ngx_queue_next(q))
    {
        other = ngx_queue_data(q, ngx_http_order_edit_job_t, queue);

        /* one given a slot to read back itself (go posted) reads */
        if (other != job
            && other->state == NGX_HTTP_ORDER_EDIT_JOB_FOLDED
            && other->fold_by == NULL
            && !other->go.posted
            && ngx_http_order_edit_job_same_order(other, job))
        {
            if (other->waiting) {
                /* in line for a slot to read back: this read checks it */
                ngx_queue_remove(&other->rq);
                other->waiting = 0;
                other->unfold = 0;
            }

            other->fold_by = job;
            job->folds = other;
            job->claimed = 1;
            job->nsc.fold = &other->nsc;
            return;
        }
    }
}


/*
 * A FOLDED write that no lock read checked: FOLD_WAIT passed, or the job
 * that claimed it ended without a read (parked, stale, NetSuite away).
 * It reads back itself on a slot of its account, in line for one.
 */

static void
ngx_http_order_edit_job_unfolded(ngx_event_t *ev)
{
    ngx_queue_t                *q;
    ngx_http_order_edit_job_t  *other, *job = ev->data;

    if (job->fold_by != NULL || job->waiting || job->go.posted) {
        /*
         * its read is out: it checks, or wakes this when it ends; or it
         * is in line for a slot already
         */
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* unchecked: its successor reads the order and checks it */
        ngx_http_order_edit_job_handback(job);
        return;
    }

    /* a replay waiting for its busy order: no slot taken to give back */
    if (ngx_http_order_edit_job_replay_busy(job)) {
        return;
    }

    /*
     * The order's next snapshot, parsed, waits in line for a slot (leased
     * after this one was written): its lock read, at the head of the
     * line, is this write's read back.  Read back first instead, this
     * would cost a request more, and the other, finding its order busy
     * when its slot came, would be handed back and parsed again.  The
     * timer again, in case it sends no read (its order busy when the
     * slot comes, the worker going away).
     */
    for (q = ngx_queue_head(&job->d->ready);
         q != ngx_queue_sentinel(&job->d->ready);
         q = ngx_queue_next(q))
    {
        other = ngx_queue_data(q, ngx_http_order_edit_job_t, rq);

        if (ngx_http_order_edit_job_reads_for(other, job)) {
            ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                          "order_edit: #%uL of \"%V\" written; the lock "
                          "read of #%uL, next in line, reads it back",
                          job->msg.id, &job->msg.shop, other->msg.id);

            ngx_queue_remove(&other->rq);
            ngx_http_order_edit_job_line_head(other);
            ngx_add_timer(&job->fold_wait, NGX_HTTP_ORDER_EDIT_FOLD_WAIT);
            return;
        }
    }

    /*
     * In line for a slot, first: a timer looking for room would find
     * none for as long as parsed jobs wait in d->ready (each freed slot
     * goes to them at once), and the write would stay unchecked behind
     * the whole backlog.  A lock read of the order may still claim it
     * there (job_claim()).
     */
    if (!ngx_http_order_edit_job_take(job)) {
        job->unfold = 1;
        ngx_queue_remove(&job->rq);
        ngx_http_order_edit_job_line_head(job);
        return;
    }

    ngx_http_order_edit_job_readback(job);
}


/* into d->ready behind the writes in line to read back, if any */

static void
ngx_http_order_edit_job_line_head(ngx_http_order_edit_job_t *job)
{
    ngx_queue_t                *q;
    ngx_http_order_edit_job_t  *other;

    for (q = ngx_queue_head(&job->d->ready);
         q != ngx_queue_sentinel(&job->d->ready);
         q = ngx_queue_next(q))
    {
        other = ngx_queue_data(q, ngx_http_order_edit_job_t, rq);

        if (!other->unfold) {
            break;
        }
    }

    /* before q: insert_tail() of a list whose head is q */
    ngx_queue_insert_tail(q, &job->rq);
}


/*
 * A job in line whose first request will be a lock read of the FOLDED
 * job's order, claiming it (job_claim(): the same kinds, REST mode).
 */

static ngx_uint_t
ngx_http_order_edit_job_reads_for(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_job_t *folded)
{
    return !job->unfold
           && !job->tax_wait
           && job->normalised
           && !job->nsc.fold_held
           && job->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
           && (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
               || job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION)
           && ngx_http_order_edit_job_same_order(job, folded);
}


/*
 * A coalesced replay's read of its order is a request of the order as any
 * other: not while another job of the order is out.  The newer snapshot
 * it was coalesced into may be writing (it claimed another replay, or got
 * its slot first), and this one, finding its own snapshot not held, would
 * write it beside the newer one and could land after it: the order wound
 * back.  It waits FOLDED again (its slot, if it took one, given back); a
 * later read of the order, its own or a lock read that claims it, finds
 * the newer one held.  The wait lasts as long as the order's request.
 */

static ngx_uint_t
ngx_http_order_edit_job_replay_busy(ngx_http_order_edit_job_t *job)
{
    if (!job->nsc.fold_held || !ngx_http_order_edit_job_order_busy(job)) {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, job->d->log, 0,
                  "order_edit: #%uL of \"%V\" waits to read order %uL: "
                  "another of its webhooks is out", job->msg.id,
                  &job->msg.shop, ngx_http_order_edit_job_order(job));

    ngx_http_order_edit_job_fold_wait(job);

    return 1;
}


/* a FOLDED write reads back itself, on a slot of its own */

static void
ngx_http_order_edit_job_readback(ngx_http_order_edit_job_t *job)
{
    if (job->nsc.fold_held) {
        /* coalesced, perhaps written: its own lock read checks it */

        if (ngx_http_order_edit_job_replay_busy(job)) {
            return;
        }

        job->nsc.fold_held = 0;
        job->replay = 1;
        ngx_http_order_edit_job_read(job, NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER);
        return;
    }

    job->state = NGX_HTTP_ORDER_EDIT_JOB_READBACK;
    ngx_http_order_edit_nsc_readback(&job->nsc);
}


/* the snapshot NetSuite now holds, for reconciliation */

static void
ngx_http_order_edit_job_applied(ngx_http_order_edit_job_t *job)
{
    if (job->res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
        && job->res.order_id > 0)
    {
        ngx_http_order_edit_applied_set(job->d->zone, &job->msg.shop,
                                        (uint64_t) job->res.order_id,
                                        job->res.updated_at);
    }
}


/*
 * The read back answered.  The write is in whatever happens: a check
 * that fails (no memory, a worker shutting down, NetSuite away) must not
 * send it again, so the webhook is delivered, unchecked, and said so; a
 * difference parks it as a discrepancy.
 */

static void
ngx_http_order_edit_job_checked(ngx_http_order_edit_job_t *job,
    ngx_http_order_edit_nsc_result_t *r)
{
    if (job->nsc.fold_held) {
        /* coalesced: checked by the newer one's read, or not written */
        if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_REFUSED) {
            ngx_http_order_edit_job_park(job, r->reason, &r->why);
            return;
        }

        ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_COALESCED);
        return;
    }

    ngx_http_order_edit_job_applied(job);

    if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_REFUSED
        && ngx_strcmp(r->reason, "discrepancy") == 0)
    {
        ngx_http_order_edit_job_park(job, r->reason, &r->why);
        return;
    }

    if (r->rc != NGX_HTTP_ORDER_EDIT_NSC_OK) {
        ngx_log_error(NGX_LOG_WARN, job->d->log, 0,
                      "order_edit: #%uL of \"%V\" was written but %s read "
                      "back: %V", job->msg.id, &job->msg.shop,
                      (r->rc == NGX_HTTP_ORDER_EDIT_NSC_UNSENT
                       || r->rc == NGX_HTTP_ORDER_EDIT_NSC_BUSY)
                      ? "is not" : "could not be", &r->why);
    }

    ngx_http_order_edit_job_acked(job, NGX_HTTP_ORDER_EDIT_C_LAST);
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

        /* a spare holds no slot yet, but will: its order is busy too */
        if (other != job && (other->slot.taken || other->spare)
            && ngx_http_order_edit_job_same_order(other, job))
        {
            return 1;
        }
    }

    return 0;
}


/* the same order of the same shop (b's order known, not 0) */

static ngx_uint_t
ngx_http_order_edit_job_same_order(ngx_http_order_edit_job_t *a,
    ngx_http_order_edit_job_t *b)
{
    return ngx_http_order_edit_job_order(a) == ngx_http_order_edit_job_order(b)
           && a->msg.shop.len == b->msg.shop.len
           && ngx_strncmp(a->msg.shop.data, b->msg.shop.data,
                          a->msg.shop.len) == 0;
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


/* no such Sales Order (yet): wait for the connector, create, or ask */

static void
ngx_http_order_edit_job_missing(ngx_http_order_edit_job_t *job)
{
    uint64_t   age;
    ngx_str_t  detail;

    switch (job->ns->on_missing) {

    case NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE:
        if (job->read == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER) {
            job->state = NGX_HTTP_ORDER_EDIT_JOB_WRITE;

            if (ngx_http_order_edit_nsc_create(&job->nsc) == NGX_OK) {
                return;
            }
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


/* the webhook goes back to the queue as it was, for "delay" ms */

static void
ngx_http_order_edit_job_release(ngx_http_order_edit_job_t *job,
    ngx_msec_t delay)
{
    (void) ngx_http_order_edit_queue_release(job->d->zone, &job->msg, delay);

    /*
     * A spare handed back (its order busy) frees its place but wakes no
     * look at the queue: the next look would lease the order's other
     * snapshots and hand them back too, turn after turn.
     */
    ngx_http_order_edit_job_unspare(job);

    ngx_http_order_edit_job_finish(job);
}


/* the webhook leaves the queue, counted as "counter" too, and the job ends */

static void
ngx_http_order_edit_job_acked(ngx_http_order_edit_job_t *job,
    ngx_uint_t counter)
{
    /* a refund NetSuite holds now: reconciliation need not send it */
    ngx_http_order_edit_reconcile_acked(job->d->zone, &job->msg.shop,
                                        job->normalised ? &job->res : NULL);

    (void) ngx_http_order_edit_queue_ack(job->d->zone, &job->msg, counter);
    ngx_http_order_edit_job_finish(job);
}


static void
ngx_http_order_edit_job_finish(ngx_http_order_edit_job_t *job)
{
    ngx_uint_t                         counted, spare;
    ngx_http_order_edit_job_t         *folded;
    ngx_http_order_edit_dispatcher_t  *d;

    d = job->d;
    job->state = NGX_HTTP_ORDER_EDIT_JOB_DONE;
    spare = job->spare;

    if (job->waiting) {
        ngx_queue_remove(&job->rq);
        job->waiting = 0;
    }

    if (job->go.posted) {
        ngx_delete_posted_event(&job->go);
    }

    ngx_http_order_edit_job_unspare(job);

    /* the job whose read was to check this one's write checks nothing */
    if (job->fold_by != NULL) {
        job->fold_by->folds = NULL;
        job->fold_by->nsc.fold = NULL;
    }

    if (job->fold_wait.timer_set) {
        ngx_del_timer(&job->fold_wait);
    }

    /* ended without the read that was to check it: it reads back itself */
    folded = job->folds;

    if (folded != NULL) {
        folded->fold_by = NULL;

        if (folded->fold_wait.timer_set) {
            ngx_del_timer(&folded->fold_wait);
        }

        ngx_add_timer(&folded->fold_wait, 1);
    }

    ngx_queue_remove(&job->queue);
    d->njobs--;

    counted = job->slot.taken;
    ngx_http_order_edit_nsslot_give(&job->slot);

    if (job->normalised) {
        ngx_http_order_edit_job_res_free(job);
    }

    ngx_http_order_edit_nsc_free(&job->nsc);

    /*
     * A NetSuite slot came free: to a job waiting in line, at once,
     * and a look at the queue on the loop's next turn rather than at the
     * next tick.  So does a spare's place (a spare coalesced, stale or
     * parked: the queue is shorter by one), so that the next slot finds
     * a job ready too.  Other jobs that used no slot (handed back) wake
     * nothing, or a full account would be polled on every turn.
     */

    if (counted) {
        ngx_http_order_edit_dispatch_freed(d, job->ns);
    }

    if (counted || spare) {
        ngx_http_order_edit_dispatch_wake(d);
    }

    ngx_destroy_pool(job->pool);
}


/*
 * A slot of ns's account came free (ns NULL: any account may have room):
 * the first job waiting in line takes it now and sends from a
 * posted event, after the handler that freed it has returned.
 */

static void
ngx_http_order_edit_dispatch_freed(ngx_http_order_edit_dispatcher_t *d,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    ngx_queue_t                *q, *next;
    ngx_http_order_edit_job_t  *job;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    /*
     * bounded by DISPATCH_SPARE and the FOLDED writes in line to read
     * back (each wrote on a slot of the account)
     */

    for (q = ngx_queue_head(&d->ready);
         q != ngx_queue_sentinel(&d->ready);
         q = next)
    {
        next = ngx_queue_next(q);
        job = ngx_queue_data(q, ngx_http_order_edit_job_t, rq);

        if (ns != NULL && job->ns != ns) {
            continue;
        }

        if (!ngx_http_order_edit_nsslot_room(&job->slot)) {
            continue;
        }

        ngx_http_order_edit_nsslot_take(&job->slot);
        ngx_http_order_edit_job_unspare(job);

        ngx_queue_remove(&job->rq);
        job->waiting = 0;

        ngx_post_event(&job->go, &ngx_posted_events);

        if (ns != NULL) {
            return;
        }
    }
}


/*
 * A spare job about to send, or a FOLDED write to read back: a slot now,
 * or it waits in d->ready.
 */

static ngx_uint_t
ngx_http_order_edit_job_take(ngx_http_order_edit_job_t *job)
{
    if (ngx_http_order_edit_nsslot_room(&job->slot)) {
        ngx_http_order_edit_nsslot_take(&job->slot);
        ngx_http_order_edit_job_unspare(job);
        return 1;
    }

    job->waiting = 1;
    ngx_queue_insert_tail(&job->d->ready, &job->rq);

    /* the worker may not exit before the tick hands it back */
    job->d->timer.cancelable = 0;

    return 0;
}


static void
ngx_http_order_edit_job_unspare(ngx_http_order_edit_job_t *job)
{
    if (job->spare) {
        job->spare = 0;
        job->d->nspare--;
    }
}


/*
 * A job in line for a slot, or given one, that a stopping worker does not
 * send: a parsed one sent nothing, its webhook goes back untried; a
 * FOLDED write (unfold) was (maybe) written and is unchecked, its
 * successor checks it.
 */

static void
ngx_http_order_edit_job_unline(ngx_http_order_edit_job_t *job)
{
    if (job->unfold) {
        ngx_http_order_edit_job_handback(job);
        return;
    }

    ngx_http_order_edit_job_release(job, 0);
}


/* posted by dispatch_freed(): the slot is the job's, it sends */

static void
ngx_http_order_edit_job_resume(ngx_event_t *ev)
{
    ngx_http_order_edit_job_t *job = ev->data;

    if (job->unfold) {
        /* a FOLDED write, its slot come: written, so never "untried" */
        job->unfold = 0;

        if (ngx_exiting || ngx_terminate || ngx_quit) {
            ngx_http_order_edit_job_handback(job);
            return;
        }

        ngx_http_order_edit_job_readback(job);
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_http_order_edit_job_release(job, 0);
        return;
    }

    /* the order's previous job may have come back meanwhile */
    if (ngx_http_order_edit_job_order_busy(job)) {
        ngx_http_order_edit_job_release(job,
                                        NGX_HTTP_ORDER_EDIT_DISPATCH_BUSY);
        return;
    }

    if (job->tax_wait) {
        job->tax_wait = 0;
        ngx_http_order_edit_job_read(job,
                                     NGX_HTTP_ORDER_EDIT_NSC_READ_TAX_KIND);
        return;
    }

    ngx_http_order_edit_job_go(job);
}


/*
 * A look at the queue on the event loop's next turn: not a timer (a
 * millisecond at least, and nginx keeps a pending one that would move by
 * less than 300 ms), not this turn's posted events (a backlog of
 * snapshots that end at once, stale or coalesced, each waking the next
 * look, would then hold the loop until it is gone): at most one batch of
 * leases a turn, the webhooks and the answers in between.
 */

static void
ngx_http_order_edit_dispatch_wake(ngx_http_order_edit_dispatcher_t *d)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_post_event(&d->fill, &ngx_posted_next_events);
}
