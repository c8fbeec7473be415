
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Reconciliation runs in the dispatching worker, from its tick: each
 * reconciled store is a small state machine with at most one Admin API
 * request out.  A run lists orders.json?updated_at_min=<watermark less
 * the overlap>&updated_at_max=<the run's start>&status=any, page by page
 * along the Link header, and queues what the zone has not applied: an
 * orders/updated snapshot of an order newer than its applied updated_at,
 * and refunds/create for each refund made since the run's start point.
 * The dispatcher's own rules (stale snapshots by updated_at, Credit Memos
 * by the refund's external id) make a copy of what a webhook brought too
 * harmless.  Nothing blocks: requests go through the curl engine, and a
 * page is worked through only while the shop's queue is short.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_reconcile.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_store.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_exactjson.h"


/* consecutive failures before a run is given up until the next one */
#define NGX_HTTP_ORDER_EDIT_RECON_TRIES      5

/* the longest backoff after a failure, and without Retry-After a 429's */
#define NGX_HTTP_ORDER_EDIT_RECON_BACKOFF    60000
#define NGX_HTTP_ORDER_EDIT_RECON_THROTTLE   2000

/* Shopify's standard plan leaks 2 requests a second from the bucket */
#define NGX_HTTP_ORDER_EDIT_RECON_LEAK_MS    500

#define NGX_HTTP_ORDER_EDIT_RECON_MAX_BODY   (32 * 1024 * 1024)

/*
 * Orders of a page worked through a tick: queueing one dumps it and puts
 * it in the zone (tens of microseconds, as the report's exceptions, up to
 * 17 ms a page of 250 in bench/dispatch --reconcile): the webhooks the
 * worker answers wait for a slice at most
 */
#define NGX_HTTP_ORDER_EDIT_RECON_SLICE      25

/*
 * A refund NetSuite holds is kept in the applied set (dedup.c) as if it
 * were an order, with this bit set in its id: Shopify's ids are far below
 * it, so no order shares the key.
 */
#define NGX_HTTP_ORDER_EDIT_RECON_REFUND     ((uint64_t) 1 << 63)

/* "reconcile:o:<order>:<updated_at ms>", "reconcile:r:<refund>" */
#define NGX_HTTP_ORDER_EDIT_RECON_ID_LEN     64


typedef struct {
    ngx_http_order_edit_reconcile_conf_t  *conf;
    ngx_str_t                             *shop;
    ngx_http_order_edit_zone_t            *zone;
    ngx_http_order_edit_recon_shop_t      *rs;        /* in the zone */
    ngx_log_t                             *log;
    ngx_http_order_edit_curl_req_t        *req;       /* in flight */
    ngx_http_order_edit_parse_t           *parse;     /* its page's, out */
    ngx_pool_t                            *pool;      /* of the run */
    json_t                                *page;      /* being queued */
    size_t                                 page_bytes;
    size_t                                 index;     /* in page */
    ngx_str_t                              url;       /* to fetch next */
    ngx_str_t                              next;      /* once parsed */
    int64_t                                since_ms;
    int64_t                                until_ms;
    uint64_t                               started_ms;
    uint64_t                               checked_ms; /* persist() */
    uint64_t                               last_id;   /* queued last */
    ngx_msec_t                             not_before;
    ngx_uint_t                             failures;
    ngx_uint_t                             pages;
    ngx_uint_t                             orders;
    ngx_uint_t                             missing;
    ngx_uint_t                             queued;
    ngx_uint_t                             errors;
    ngx_uint_t                             throttled;
    unsigned                               running:1;
    unsigned                               waiting:1;
    unsigned                               last_page:1;
    unsigned                               next_last:1;
} ngx_http_order_edit_recon_t;


static ngx_int_t ngx_http_order_edit_recon_init(
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log);
static void ngx_http_order_edit_recon_cleanup(void *data);
static void ngx_http_order_edit_recon_step(ngx_http_order_edit_recon_t *rc);
static ngx_int_t ngx_http_order_edit_recon_attach(
    ngx_http_order_edit_recon_t *rc);
static void ngx_http_order_edit_recon_start(ngx_http_order_edit_recon_t *rc,
    uint64_t now);
static void ngx_http_order_edit_recon_fetch(ngx_http_order_edit_recon_t *rc);
static void ngx_http_order_edit_recon_done(ngx_http_order_edit_curl_req_t *req,
    void *data);
static void ngx_http_order_edit_recon_page(void *data, json_t *orders,
    size_t bytes, const char *err, ngx_uint_t cancelled);
static void ngx_http_order_edit_recon_page_done(
    ngx_http_order_edit_recon_t *rc);
static void ngx_http_order_edit_recon_parse(void *ctx);
static void ngx_http_order_edit_recon_parsed(void *ctx, void *data,
    ngx_uint_t cancelled);
static void ngx_http_order_edit_recon_parse_clean(void *ctx);
static void ngx_http_order_edit_recon_json_free(void *value);
static ngx_int_t ngx_http_order_edit_recon_next_link(
    ngx_http_order_edit_recon_t *rc, ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_recon_work(
    ngx_http_order_edit_recon_t *rc);
static ngx_int_t ngx_http_order_edit_recon_order(
    ngx_http_order_edit_recon_t *rc, json_t *order);
static ngx_uint_t ngx_http_order_edit_recon_delivered(
    ngx_http_order_edit_recon_t *rc, uint64_t order_id, int64_t updated);
static ngx_int_t ngx_http_order_edit_recon_enqueue(
    ngx_http_order_edit_recon_t *rc, const char *topic, u_char *wid,
    size_t wid_len, uint64_t order_id, json_t *payload);
static void ngx_http_order_edit_recon_pace(ngx_http_order_edit_recon_t *rc,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_recon_error(ngx_http_order_edit_recon_t *rc);
static void ngx_http_order_edit_recon_wait(ngx_http_order_edit_recon_t *rc,
    ngx_msec_t ms);
static void ngx_http_order_edit_recon_failed(ngx_http_order_edit_recon_t *rc,
    const char *what, ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_recon_finish(ngx_http_order_edit_recon_t *rc,
    ngx_uint_t ok);
static void ngx_http_order_edit_recon_persist(
    ngx_http_order_edit_recon_t *rc, uint64_t now);
static int64_t ngx_http_order_edit_recon_restore(
    ngx_http_order_edit_recon_t *rc);
static u_char *ngx_http_order_edit_recon_state_path(
    ngx_http_order_edit_zone_t *zone, ngx_pool_t *pool, const char *suffix);
static u_char *ngx_http_order_edit_recon_time(u_char *p, int64_t ms);
static ngx_http_order_edit_zone_t *ngx_http_order_edit_recon_status_zone(
    ngx_http_request_t *r);


/* this worker's reconciled stores; NULL until the first tick */
static ngx_array_t  *ngx_http_order_edit_recons;


/*
 * reconcile token_file=<path> [url=<scheme://host[:port]>]
 *     [api_version=<YYYY-MM>] [zone=<name>] [interval=<time>]
 *     [window=<time>] [overlap=<time>] [timeout=<time>]
 *     [page_size=<1-250>] [queue_max=<n>];
 */

char *
ngx_http_order_edit_reconcile_set(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    u_char                                *p, *last;
    ngx_int_t                              n;
    ngx_str_t                             *value, v, path, text;
    ngx_uint_t                             i;
    ngx_msec_t                             ms, *msp;
    ngx_http_order_edit_reconcile_conf_t  *rcf;

    if (store->reconcile) {
        return "is duplicate";
    }

    if (store->name.len == 7
        && ngx_strncmp(store->name.data, "default", 7) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"reconcile\" needs a shop's own store block, "
                           "not \"default\"");
        return NGX_CONF_ERROR;
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_reconcile_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&rcf->api_version, "2024-10");
    rcf->interval = 15 * 60 * 1000;
    rcf->window = 24 * 60 * 60 * 1000;
    rcf->overlap = 5 * 60 * 1000;
    rcf->timeout = 30000;
    rcf->page_size = 50;
    rcf->queue_max = 100;
    rcf->file = cf->conf_file->file.name;
    rcf->line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        if (p == NULL) {
            goto invalid;
        }

        v.data = p + 1;
        v.len = value[i].data + value[i].len - v.data;
        n = p - value[i].data;
        msp = NULL;

        if (n == 10 && ngx_strncmp(value[i].data, "token_file", 10) == 0) {
            path = v;

            if (ngx_http_order_edit_read_conf_file(cf, &path, 4096, &text)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            /* one token, an editor's line end allowed */
            p = text.data;
            last = text.data + text.len;

            while (last > p && (last[-1] == '\n' || last[-1] == '\r'
                                || last[-1] == ' ' || last[-1] == '\t'))
            {
                last--;
            }

            while (p < last && (*p == ' ' || *p == '\t')) {
                p++;
            }

            rcf->token.data = p;
            rcf->token.len = last - p;

            for ( /* void */ ; p < last; p++) {
                if (*p <= ' ' || *p >= 0x7f) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "token_file \"%V\" holds more than "
                                       "one token, or a control character",
                                       &path);
                    return NGX_CONF_ERROR;
                }
            }

            if (rcf->token.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "token_file \"%V\" holds no token",
                                   &path);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (n == 3 && ngx_strncmp(value[i].data, "url", 3) == 0) {
            if (!((v.len > 7 && ngx_strncmp(v.data, "http://", 7) == 0)
                  || (v.len > 8 && ngx_strncmp(v.data, "https://", 8) == 0))
                || ngx_strlchr(v.data + 8, v.data + v.len, '?') != NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid reconcile url \"%V\", expected "
                                   "https://host[:port]", &v);
                return NGX_CONF_ERROR;
            }

            while (v.len && v.data[v.len - 1] == '/') {
                v.len--;
            }

            rcf->url = v;
            continue;
        }

        if (n == 11 && ngx_strncmp(value[i].data, "api_version", 11) == 0) {
            if (!(v.len == 8 && ngx_strncmp(v.data, "unstable", 8) == 0)
                && !(v.len == 7 && v.data[4] == '-'
                     && ngx_atoi(v.data, 4) > 2000
                     && ngx_atoi(v.data + 5, 2) >= 1
                     && ngx_atoi(v.data + 5, 2) <= 12))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid api_version \"%V\", expected "
                                   "YYYY-MM like 2024-10", &v);
                return NGX_CONF_ERROR;
            }

            rcf->api_version = v;
            continue;
        }

        if (n == 4 && ngx_strncmp(value[i].data, "zone", 4) == 0) {
            if (v.len == 0) {
                goto invalid;
            }

            rcf->zone_name = v;
            continue;
        }

        if (n == 9 && ngx_strncmp(value[i].data, "page_size", 9) == 0) {
            n = ngx_atoi(v.data, v.len);
            if (n < 1 || n > 250) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid page_size \"%V\", Shopify "
                                   "lists 1 to 250 orders a page", &v);
                return NGX_CONF_ERROR;
            }

            rcf->page_size = n;
            continue;
        }

        if (n == 9 && ngx_strncmp(value[i].data, "queue_max", 9) == 0) {
            n = ngx_atoi(v.data, v.len);
            if (n < 1) {
                goto invalid;
            }

            rcf->queue_max = n;
            continue;
        }

        if (n == 8 && ngx_strncmp(value[i].data, "interval", 8) == 0) {
            msp = &rcf->interval;

        } else if (n == 6 && ngx_strncmp(value[i].data, "window", 6) == 0) {
            msp = &rcf->window;

        } else if (n == 7 && ngx_strncmp(value[i].data, "overlap", 7) == 0) {
            msp = &rcf->overlap;

        } else if (n == 7 && ngx_strncmp(value[i].data, "timeout", 7) == 0) {
            msp = &rcf->timeout;
        }

        if (msp == NULL) {
            goto invalid;
        }

        ms = ngx_parse_time(&v, 0);

        /* overlap may be 0; the others must let time pass */
        if (ms == (ngx_msec_t) NGX_ERROR
            || (ms == 0 && msp != &rcf->overlap))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\" in \"reconcile\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        *msp = ms;
    }

    if (rcf->token.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"reconcile\" needs token_file=, the Admin API "
                           "access token of store \"%V\"", &store->name);
        return NGX_CONF_ERROR;
    }

    if (rcf->interval < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "reconcile interval must be at least 1s");
        return NGX_CONF_ERROR;
    }

    if (rcf->overlap >= rcf->window) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "reconcile overlap (%M ms) must be shorter than "
                           "the window (%M ms)", rcf->overlap, rcf->window);
        return NGX_CONF_ERROR;
    }

    if (rcf->url.len == 0) {
        rcf->url.len = sizeof("https://") - 1 + store->name.len;
        rcf->url.data = ngx_pnalloc(cf->pool, rcf->url.len);
        if (rcf->url.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(rcf->url.data, "https://%V", &store->name);
    }

    /* the Admin API is reached through the dispatching worker's engine */
    if (ngx_http_order_edit_curl_conf_get(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

    store->reconcile = rcf;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"reconcile\", expected "
                       "token_file=, url=, api_version=, zone=, interval=, "
                       "window=, overlap=, timeout=, page_size= or "
                       "queue_max=", &value[i]);

    return NGX_CONF_ERROR;
}


void
ngx_http_order_edit_reconcile_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log)
{
    ngx_uint_t                    i;
    ngx_http_order_edit_recon_t  *rc;

    if (ngx_http_order_edit_recons == NULL) {
        if (ngx_exiting || ngx_terminate || ngx_quit
            || ngx_http_order_edit_recon_init(omcf, log) != NGX_OK)
        {
            return;
        }
    }

    rc = ngx_http_order_edit_recons->elts;

    for (i = 0; i < ngx_http_order_edit_recons->nelts; i++) {

        if (rc[i].zone != zone) {
            continue;
        }

        /* a worker going away hands nothing back: the next run redoes it */
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            if (rc[i].req) {
                ngx_http_order_edit_curl_cancel(rc[i].req);

            } else if (rc[i].parse) {
                /* done(cancelled): the run ends as a cancelled request's */
                ngx_http_order_edit_parse_cancel(rc[i].parse);

            } else if (rc[i].running) {
                ngx_http_order_edit_recon_finish(&rc[i], 2);
            }

            continue;
        }

        /* with a journal, only the worker that delivers reconciles */
        if (!ngx_http_order_edit_journal_may_deliver(zone)) {
            continue;
        }

        ngx_http_order_edit_recon_step(&rc[i]);
    }
}


static ngx_int_t
ngx_http_order_edit_recon_init(ngx_http_order_edit_main_conf_t *omcf,
    ngx_log_t *log)
{
    ngx_uint_t                          i;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_order_edit_zone_t         *zone;
    ngx_http_order_edit_recon_t        *rc;
    ngx_http_order_edit_store_conf_t  **stores;

    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ngx_http_order_edit_recons = ngx_array_create(ngx_cycle->pool, 2,
                                          sizeof(ngx_http_order_edit_recon_t));
    if (ngx_http_order_edit_recons == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_order_edit_recon_cleanup;

    stores = omcf->stores.elts;

    for (i = 0; i < omcf->stores.nelts; i++) {

        if (stores[i]->reconcile == NULL) {
            continue;
        }

        zone = ngx_http_order_edit_reconcile_zone(omcf, stores[i], log);

        if (zone == NULL || zone->sh == NULL) {
            continue;
        }

        rc = ngx_array_push(ngx_http_order_edit_recons);
        if (rc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(rc, sizeof(ngx_http_order_edit_recon_t));

        rc->conf = stores[i]->reconcile;
        rc->shop = &stores[i]->name;
        rc->zone = zone;
        rc->log = log;
    }

    return NGX_OK;
}


/*
 * The zone a reconciled store's webhooks are queued in: named by zone=,
 * or the only one; NULL (said once) when there are several.  Shared with
 * the mismatch report (report.c).
 */

ngx_http_order_edit_zone_t *
ngx_http_order_edit_reconcile_zone(ngx_http_order_edit_main_conf_t *omcf,
    ngx_http_order_edit_store_conf_t *store, ngx_log_t *log)
{
    ngx_uint_t                    k;
    ngx_http_order_edit_zone_t  **zones, *zone;

    zones = omcf->zones.elts;
    zone = NULL;

    for (k = 0; k < omcf->zones.nelts; k++) {
        if (store->reconcile->zone_name.len == 0
            || (zones[k]->name.len == store->reconcile->zone_name.len
                && ngx_strncmp(zones[k]->name.data,
                               store->reconcile->zone_name.data,
                               zones[k]->name.len)
                   == 0))
        {
            if (zone != NULL) {
                ngx_log_error(NGX_LOG_ALERT, log, 0,
                              "order_edit: \"reconcile\" of store \"%V\""
                              " in %V:%ui needs zone=, there are several"
                              " zones; not reconciled",
                              &store->name, &store->reconcile->file,
                              store->reconcile->line);
                return NULL;
            }

            zone = zones[k];
        }
    }

    return zone;
}


/*
 * The worker exits (a terminate, or a run waiting out a backoff when it
 * stopped): what a run holds goes with the cycle.  Requests are gone by
 * now: the curl engine cancelled them before the cycle's pool goes.
 */

static void
ngx_http_order_edit_recon_cleanup(void *data)
{
    ngx_uint_t                    i;
    ngx_http_order_edit_recon_t  *rc;

    rc = ngx_http_order_edit_recons->elts;

    for (i = 0; i < ngx_http_order_edit_recons->nelts; i++) {

        if (rc[i].parse) {
            /* exit_process cancelled it already, unless it never ran */
            ngx_http_order_edit_parse_cancel(rc[i].parse);
        }

        if (rc[i].page) {
            json_decref(rc[i].page);
        }

        if (rc[i].pool) {
            ngx_destroy_pool(rc[i].pool);
        }
    }

    ngx_http_order_edit_recons = NULL;
}


static void
ngx_http_order_edit_recon_step(ngx_http_order_edit_recon_t *rc)
{
    uint64_t  now;

    /*
     * One Admin API request per store at a time, never more; and nothing
     * while its page is parsed on the thread pool
     */
    if (rc->req || rc->parse) {
        return;
    }

    if (rc->rs == NULL && ngx_http_order_edit_recon_attach(rc) != NGX_OK) {
        return;
    }

    now = ngx_http_order_edit_now_ms();

    if (now - rc->checked_ms >= 1000) {
        rc->checked_ms = now;
        ngx_http_order_edit_recon_persist(rc, now);
    }

    if (rc->waiting) {
        if ((ngx_msec_int_t) (rc->not_before - ngx_current_msec) > 0) {
            return;
        }

        rc->waiting = 0;
    }

    if (rc->page) {
        if (ngx_http_order_edit_recon_work(rc) == NGX_AGAIN) {
            return;
        }

        /* the next page waits for the next tick, the bucket permitting */
        ngx_http_order_edit_recon_page_done(rc);
        return;
    }

    if (!rc->running) {
        if (now < rc->rs->next_run_ms) {
            return;
        }

        ngx_http_order_edit_recon_start(rc, now);

        if (!rc->running) {
            return;
        }
    }

    ngx_http_order_edit_recon_fetch(rc);
}


/* the shop's node in the zone, made (and its watermark read) once */

static ngx_int_t
ngx_http_order_edit_recon_attach(ngx_http_order_edit_recon_t *rc)
{
    int64_t                            restored;
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_http_order_edit_recon_sh_t    *rsh;
    ngx_http_order_edit_recon_shop_t  *rs;

    /* read before the lock: a small file, when this worker first needs it */
    restored = ngx_http_order_edit_recon_restore(rc);

    shpool = rc->zone->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    rsh = rc->zone->sh->reconcile;

    if (rsh == NULL) {
        rsh = ngx_slab_alloc_locked(shpool,
                                    sizeof(ngx_http_order_edit_recon_sh_t));
        if (rsh == NULL) {
            goto nomem;
        }

        ngx_queue_init(&rsh->shops);
        rc->zone->sh->reconcile = rsh;
    }

    for (q = ngx_queue_head(&rsh->shops);
         q != ngx_queue_sentinel(&rsh->shops);
         q = ngx_queue_next(q))
    {
        rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);

        if (rs->len == rc->shop->len
            && ngx_strncmp(rs->name, rc->shop->data, rs->len) == 0)
        {
            /* a reload: a run the old worker left is redone */
            rs->running = 0;
            rc->rs = rs;
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_OK;
        }
    }

    rs = ngx_slab_calloc_locked(shpool,
                                offsetof(ngx_http_order_edit_recon_shop_t,
                                         name)
                                + rc->shop->len);
    if (rs == NULL) {
        goto nomem;
    }

    rs->len = (u_short) rc->shop->len;
    ngx_memcpy(rs->name, rc->shop->data, rc->shop->len);
    rs->watermark_ms = restored;
    rs->persisted_ms = restored;
    ngx_queue_insert_tail(&rsh->shops, &rs->queue);
    rc->rs = rs;

    ngx_shmtx_unlock(&shpool->mutex);

    if (restored) {
        ngx_log_error(NGX_LOG_NOTICE, rc->log, 0,
                      "order_edit: reconcile of \"%V\" resumes from its "
                      "watermark %L ms", rc->shop, restored);
    }

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                  "order_edit: zone \"%V\" has no room for the reconcile "
                  "state of \"%V\"", &rc->zone->name, rc->shop);

    return NGX_ERROR;
}


static void
ngx_http_order_edit_recon_start(ngx_http_order_edit_recon_t *rc,
    uint64_t now)
{
    int64_t     mark;
    ngx_uint_t  depth;

    /* a busy queue first drains: webhooks go before catching up */
    depth = ngx_http_order_edit_queue_depth(rc->zone, rc->shop);

    if (depth >= rc->conf->queue_max) {
        ngx_http_order_edit_recon_wait(rc, 1000);
        return;
    }

    rc->pool = ngx_create_pool(4096, rc->log);
    if (rc->pool == NULL) {
        return;
    }

    ngx_shmtx_lock(&rc->zone->shpool->mutex);
    mark = rc->rs->watermark_ms;
    rc->rs->running = 1;
    rc->rs->runs++;
    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    /*
     * From the watermark less the overlap (clocks differ, and Shopify's
     * updated_at has whole seconds), or the window back for a first run;
     * up to now, so that a run is a closed interval and the next one
     * starts where it ended.
     */

    if (mark > 0) {
        rc->since_ms = mark - (int64_t) rc->conf->overlap;

    } else {
        rc->since_ms = (int64_t) now - (int64_t) rc->conf->window;
    }

    rc->since_ms -= rc->since_ms % 1000;
    rc->until_ms = (int64_t) now - (int64_t) (now % 1000);
    rc->started_ms = now;
    rc->failures = 0;
    rc->pages = 0;
    rc->orders = 0;
    rc->missing = 0;
    rc->queued = 0;
    rc->errors = 0;
    rc->throttled = 0;
    rc->last_page = 0;
    rc->running = 1;

    if (ngx_http_order_edit_reconcile_list_url(rc->conf, rc->pool,
                                               rc->since_ms, rc->until_ms,
                                               &rc->url)
        != NGX_OK)
    {
        ngx_http_order_edit_recon_finish(rc, 0);
    }
}


/*
 * The first page of the orders updated from since_ms to until_ms.
 * Shared with the mismatch report (report.c).
 */

ngx_int_t
ngx_http_order_edit_reconcile_list_url(
    ngx_http_order_edit_reconcile_conf_t *rcf, ngx_pool_t *pool,
    int64_t since_ms, int64_t until_ms, ngx_str_t *url)
{
    u_char  *p;

    url->data = ngx_pnalloc(pool, rcf->url.len + rcf->api_version.len + 256);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(url->data, "%V/admin/api/%V/orders.json?status=any"
                    "&limit=%ui&updated_at_min=", &rcf->url,
                    &rcf->api_version, rcf->page_size);
    p = ngx_http_order_edit_recon_time(p, since_ms);
    p = ngx_cpymem(p, "&updated_at_max=", sizeof("&updated_at_max=") - 1);
    p = ngx_http_order_edit_recon_time(p, until_ms);

    url->len = p - url->data;

    return NGX_OK;
}


/* "2026-12-06T22:58:15%2B00:00": the offset's "+" must not become " " */

static u_char *
ngx_http_order_edit_recon_time(u_char *p, int64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d%%2B00:00",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


static void
ngx_http_order_edit_recon_fetch(ngx_http_order_edit_recon_t *rc)
{
    rc->req = ngx_http_order_edit_reconcile_get(rc->conf, &rc->url, rc->log,
                                                ngx_http_order_edit_recon_done,
                                                rc);
    if (rc->req == NULL) {
        ngx_http_order_edit_recon_failed(rc, "cannot start a request", NULL);
    }
}


/*
 * One Admin API GET with the store's token, started; NULL if it cannot
 * be.  Shared with the mismatch report (report.c).
 */

ngx_http_order_edit_curl_req_t *
ngx_http_order_edit_reconcile_get(ngx_http_order_edit_reconcile_conf_t *rcf,
    ngx_str_t *url, ngx_log_t *log, ngx_http_order_edit_curl_done_pt done,
    void *data)
{
    ngx_str_t                        name, value;
    ngx_http_order_edit_curl_req_t  *req;

    req = ngx_http_order_edit_curl_create(log);
    if (req == NULL) {
        return NULL;
    }

    req->method = NGX_HTTP_GET;
    req->timeout = rcf->timeout;
    req->max_body = NGX_HTTP_ORDER_EDIT_RECON_MAX_BODY;
    req->done = done;
    req->data = data;

    ngx_str_set(&name, "X-Shopify-Access-Token");

    if (ngx_http_order_edit_curl_set_url(req, url) != NGX_OK
        || ngx_http_order_edit_curl_add_header(req, &name, &rcf->token)
           != NGX_OK)
    {
        goto failed;
    }

    ngx_str_set(&name, "Accept");
    ngx_str_set(&value, "application/json");

    if (ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK) {
        goto failed;
    }

    if (ngx_http_order_edit_curl_start(req) != NGX_OK) {
        goto failed;
    }

    return req;

failed:

    ngx_http_order_edit_curl_free(req);

    return NULL;
}


static void
ngx_http_order_edit_recon_done(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_recon_t *rc = data;

    ngx_msec_t  ms;

    static ngx_str_t  none = ngx_string("none");

    rc->req = NULL;

    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        /* the worker is going: the next one redoes the run, at once */
        ngx_http_order_edit_recon_finish(rc, 2);
        return;
    }

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        ngx_http_order_edit_recon_failed(rc, "no answer", req);
        return;
    }

    if (req->status == 429) {
        ms = ngx_http_order_edit_reconcile_retry_after(req);

        rc->throttled++;

        ngx_shmtx_lock(&rc->zone->shpool->mutex);
        rc->rs->throttled++;
        ngx_shmtx_unlock(&rc->zone->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                      "order_edit: Shopify throttled reconcile of \"%V\" "
                      "(429, Retry-After: %V): waiting %M ms", rc->shop,
                      req->retry_after ? &req->retry_after->value : &none,
                      ms);

        ngx_http_order_edit_recon_wait(rc, ms);
        return;
    }

    if (req->status != 200) {
        ngx_http_order_edit_recon_failed(rc, "refused", req);
        return;
    }

    if (ngx_http_order_edit_recon_next_link(rc, req) != NGX_OK) {
        ngx_http_order_edit_recon_failed(rc, "unreadable page", req);
        return;
    }

    ngx_http_order_edit_recon_pace(rc, req);

    /* the page is parsed on the thread pool if it is large */
    if (ngx_http_order_edit_reconcile_parse(req, "orders", rc->log,
                                            &rc->parse,
                                            ngx_http_order_edit_recon_page,
                                            rc)
        == NGX_ERROR)
    {
        ngx_http_order_edit_recon_failed(rc, "no memory to parse a page",
                                         NULL);
    }
}


/*
 * A 429's wait: its Retry-After (seconds, with a fraction: "2.0"), and up
 * to a quarter more, so that stores do not come together.  Shared with
 * the mismatch report (report.c).
 */

ngx_msec_t
ngx_http_order_edit_reconcile_retry_after(ngx_http_order_edit_curl_req_t *req)
{
    u_char      *p, *last;
    ngx_msec_t   ms;

    ms = NGX_HTTP_ORDER_EDIT_RECON_THROTTLE;

    if (req->retry_after) {
        p = req->retry_after->value.data;
        last = p + req->retry_after->value.len;
        ms = 0;

        while (p < last && *p >= '0' && *p <= '9' && ms < 3600000) {
            ms = ms * 10 + (*p++ - '0') * 1000;
        }

        if (p < last && *p == '.' && p + 1 < last
            && p[1] >= '0' && p[1] <= '9')
        {
            ms += (p[1] - '0') * 100;
        }

        if (ms == 0) {
            ms = NGX_HTTP_ORDER_EDIT_RECON_THROTTLE;
        }
    }

    return ms + ngx_random() % (ms / 4 + 1);
}


/* the page parsed (or not, or cancelled), in the event loop */

static void
ngx_http_order_edit_recon_page(void *data, json_t *orders, size_t bytes,
    const char *err, ngx_uint_t cancelled)
{
    ngx_http_order_edit_recon_t *rc = data;

    if (cancelled) {
        /* the worker is going: the next one redoes the run, at once */
        ngx_http_order_edit_recon_finish(rc, 2);
        return;
    }

    if (!json_is_array(orders)) {
        json_decref(orders);
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "order_edit: reconcile of \"%V\": %s", rc->shop,
                      err[0] ? err : "no \"orders\" array");
        ngx_http_order_edit_recon_failed(rc, "unreadable page", NULL);
        return;
    }

    rc->page = orders;
    rc->page_bytes = bytes;
    rc->url = rc->next;
    rc->last_page = rc->next_last;
    rc->index = 0;
    rc->pages++;
    rc->orders += json_array_size(orders);
    rc->failures = 0;

    ngx_shmtx_lock(&rc->zone->shpool->mutex);
    rc->rs->pages++;
    rc->rs->orders += json_array_size(orders);
    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    /* queued at once while the queue is short; the rest in later ticks */
    if (ngx_http_order_edit_recon_work(rc) == NGX_AGAIN) {
        return;
    }

    ngx_http_order_edit_recon_page_done(rc);
}


/* the page queued: released, and the run done if it was the last */

static void
ngx_http_order_edit_recon_page_done(ngx_http_order_edit_recon_t *rc)
{
    ngx_http_order_edit_reconcile_release(rc->page, rc->page_bytes, rc->log);
    rc->page = NULL;

    if (rc->last_page) {
        ngx_http_order_edit_recon_finish(rc, 1);
    }
}


/*
 * A Shopify answer parsed off the event loop: the task owns the body
 * (handed over by the transfer) and what it parses, so the run may end
 * while a thread still parses.
 */

typedef struct {
    u_char                                   *body;
    size_t                                    len;
    const char                               *key;       /* static */
    json_t                                   *value;
    ngx_http_order_edit_parse_t             **task;
    ngx_http_order_edit_reconcile_parsed_pt   parsed;
    char                                      err[160];
} ngx_http_order_edit_recon_parse_t;


ngx_int_t
ngx_http_order_edit_reconcile_parse(ngx_http_order_edit_curl_req_t *req,
    const char *key, ngx_log_t *log, ngx_http_order_edit_parse_t **task,
    ngx_http_order_edit_reconcile_parsed_pt parsed, void *data)
{
    ngx_str_t                           body;
    ngx_int_t                           rv;
    ngx_http_order_edit_parse_t        *p;
    ngx_http_order_edit_recon_parse_t  *pc;

    p = ngx_http_order_edit_parse_create(
            sizeof(ngx_http_order_edit_recon_parse_t),
            ngx_http_order_edit_recon_parse_clean, log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pc = ngx_http_order_edit_parse_ctx(p);

    (void) ngx_http_order_edit_curl_take_body(req, &body);

    pc->body = body.data;
    pc->len = body.len;
    pc->key = key;
    pc->task = task;
    pc->parsed = parsed;

    /* done() clears it, before this returns when it is inline */
    *task = p;

    /* reconciliation's and the report's pages: no webhook waits for them */
    ngx_http_order_edit_parse_background(p);

    rv = ngx_http_order_edit_parse_start(p, body.len,
                                         ngx_http_order_edit_recon_parse,
                                         ngx_http_order_edit_recon_parsed,
                                         data);
    if (rv == NGX_AGAIN) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "order_edit: Shopify's \"%s\" of %uz bytes are "
                       "parsed on the thread pool", key, body.len);
    }

    return rv;
}


static void
ngx_http_order_edit_recon_parse(void *ctx)
{
    ngx_http_order_edit_recon_parse_t *pc = ctx;

    json_t                         *root;
    ngx_http_order_edit_json_rc_e   jrc;

    /* exact numbers: an order goes back into the queue as Shopify wrote */
    root = ngx_http_order_edit_json_load((char *) pc->body, pc->len, 64,
                                         pc->len, &jrc, pc->err,
                                         sizeof(pc->err));
    if (root == NULL) {
        return;
    }

    pc->value = json_incref(json_object_get(root, pc->key));
    json_decref(root);

    /* the text is not needed any more: freed here, not in the loop */
    free(pc->body);
    pc->body = NULL;
}


static void
ngx_http_order_edit_recon_parsed(void *ctx, void *data,
    ngx_uint_t cancelled)
{
    ngx_http_order_edit_recon_parse_t *pc = ctx;

    json_t  *value;

    *pc->task = NULL;

    /*
     * Cancelled, the thread may still be writing the context, or have
     * left its tree there: parse_clean() frees it when the task ends.
     */
    value = NULL;

    if (!cancelled) {
        value = pc->value;
        pc->value = NULL;
    }

    pc->parsed(data, value, pc->len, pc->err, cancelled);
}


static void
ngx_http_order_edit_recon_parse_clean(void *ctx)
{
    ngx_http_order_edit_recon_parse_t *pc = ctx;

    free(pc->body);
    json_decref(pc->value);
}


void
ngx_http_order_edit_reconcile_release(json_t *value, size_t bytes,
    ngx_log_t *log)
{
    if (value == NULL) {
        return;
    }

    ngx_http_order_edit_parse_dispose_on(ngx_http_order_edit_recon_json_free,
                                         value, bytes, 1, log);
}


static void
ngx_http_order_edit_recon_json_free(void *value)
{
    json_decref(value);
}


/*
 * Link: <https://shop/admin/api/v/orders.json?limit=50&page_info=...>;
 * rel="next", <...>; rel="previous".  The next page is only followed on
 * the configured host: the access token never goes anywhere else.
 */

static ngx_int_t
ngx_http_order_edit_recon_next_link(ngx_http_order_edit_recon_t *rc,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_int_t  rv;

    /* taken once the page is read: an unreadable one is asked again */
    rv = ngx_http_order_edit_reconcile_next(rc->conf, req, rc->pool, rc->log,
                                            rc->shop, &rc->next);

    rc->next_last = (rv == NGX_DONE);

    return (rv == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/*
 * The next page's URL into *url (NGX_OK), or NGX_DONE on the last page.
 * Shared with the mismatch report (report.c).
 */

ngx_int_t
ngx_http_order_edit_reconcile_next(ngx_http_order_edit_reconcile_conf_t *rcf,
    ngx_http_order_edit_curl_req_t *req, ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *shop, ngx_str_t *url)
{
    u_char           *p, *last, *lt, *gt, *end;
    ngx_str_t         name;
    ngx_table_elt_t  *h;

    ngx_str_set(&name, "Link");
    h = ngx_http_order_edit_curl_header(req, &name);

    if (h == NULL) {
        return NGX_DONE;
    }

    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {
        lt = ngx_strlchr(p, last, '<');
        if (lt == NULL) {
            break;
        }

        gt = ngx_strlchr(lt, last, '>');
        if (gt == NULL) {
            return NGX_ERROR;
        }

        /* its parameters run to the next link */
        end = ngx_strlchr(gt, last, '<');
        if (end == NULL) {
            end = last;
        }

        if (ngx_strlcasestrn(gt, end, (u_char *) "rel=\"next\"", 10 - 1)
            != NULL
            || ngx_strlcasestrn(gt, end, (u_char *) "rel=next", 8 - 1)
               != NULL)
        {
            lt++;

            if ((size_t) (gt - lt) <= rcf->url.len
                || ngx_strncasecmp(lt, rcf->url.data, rcf->url.len) != 0
                || lt[rcf->url.len] != '/')
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "order_edit: reconcile of \"%V\": the next "
                              "page \"%*s\" is not on %V", shop,
                              (size_t) (gt - lt), lt, &rcf->url);
                return NGX_ERROR;
            }

            /* a server that links a page to itself would never end */
            if ((size_t) (gt - lt) == url->len
                && ngx_strncmp(lt, url->data, url->len) == 0)
            {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "order_edit: reconcile of \"%V\": the next "
                              "page is the page itself", shop);
                return NGX_ERROR;
            }

            url->data = ngx_pnalloc(pool, gt - lt);
            if (url->data == NULL) {
                return NGX_ERROR;
            }

            url->len = gt - lt;
            ngx_memcpy(url->data, lt, url->len);

            return NGX_OK;
        }

        p = end;
    }

    return NGX_DONE;
}


/*
 * NGX_AGAIN: the shop's queue is long, or a slice is done; the rest of
 * the page waits for the next tick
 */

static ngx_int_t
ngx_http_order_edit_recon_work(ngx_http_order_edit_recon_t *rc)
{
    ngx_int_t   rc_;
    ngx_uint_t  n;

    for (n = 0; rc->index < json_array_size(rc->page); n++) {

        if (n == NGX_HTTP_ORDER_EDIT_RECON_SLICE) {
            return NGX_AGAIN;
        }

        if (ngx_http_order_edit_queue_depth(rc->zone, rc->shop)
            >= rc->conf->queue_max)
        {
            return NGX_AGAIN;
        }

        rc_ = ngx_http_order_edit_recon_order(rc,
                                    json_array_get(rc->page, rc->index));

        if (rc_ == NGX_BUSY) {
            /* the zone is full: later, and the webhooks go first */
            ngx_http_order_edit_recon_wait(rc, 1000);
            return NGX_AGAIN;
        }

        rc->index++;
    }

    return NGX_OK;
}


/*
 * One listed order: a snapshot when its updated_at is newer than the one
 * the zone applied last (the dispatcher's own rule; with nothing in the
 * zone, it reads NetSuite's before it writes), and its refunds made since
 * the run's start point.  NGX_BUSY: no room in the zone.
 */

static ngx_int_t
ngx_http_order_edit_recon_order(ngx_http_order_edit_recon_t *rc,
    json_t *order)
{
    u_char       wid[NGX_HTTP_ORDER_EDIT_RECON_ID_LEN], *p;
    size_t       i;
    json_t      *refunds, *refund, *v;
    int64_t      updated, applied, created;
    uint64_t     order_id, refund_id;
    ngx_int_t    rv;
    const char  *s;

    v = json_object_get(order, "id");
    s = json_string_value(json_object_get(order, "updated_at"));

    if (!json_is_integer(v) || json_integer_value(v) <= 0 || s == NULL
        || ngx_http_order_edit_parse_time(s, ngx_strlen(s), &updated) != 0)
    {
        ngx_http_order_edit_recon_error(rc);
        ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                      "order_edit: reconcile of \"%V\": an order without "
                      "an id or updated_at skipped", rc->shop);
        return NGX_OK;
    }

    order_id = (uint64_t) json_integer_value(v);

    if (ngx_http_order_edit_applied_get(rc->zone, rc->shop, order_id,
                                        &applied)
        != NGX_OK
        || applied < updated)
    {
        p = ngx_sprintf(wid, "reconcile:o:%uL:%L", order_id, updated);

        rv = ngx_http_order_edit_recon_enqueue(rc, "orders/updated", wid,
                                               p - wid, order_id, order);
        if (rv == NGX_BUSY) {
            return NGX_BUSY;
        }

        /*
         * Missing only when no webhook of this update came: in a
         * backlog, its webhook is often still queued or in flight.  The
         * snapshot is queued either way (above): it coalesces with that
         * webhook or goes stale, no NetSuite request, and what reaches
         * NetSuite does not hang on the header's reading (ARCHITECTURE).
         */
        if (rv == NGX_OK
            && !ngx_http_order_edit_recon_delivered(rc, order_id, updated))
        {
            rc->missing++;

            ngx_shmtx_lock(&rc->zone->shpool->mutex);
            rc->rs->found_missing++;
            ngx_shmtx_unlock(&rc->zone->shpool->mutex);
        }
    }

    /*
     * A refund made since the run's start point has been seen by no
     * earlier run; one the dispatcher acked is known (reconcile_acked()),
     * and a copy of one whose mark is gone is found in NetSuite by its
     * external id and not made twice.
     */

    refunds = json_object_get(order, "refunds");

    for (i = 0; i < json_array_size(refunds); i++) {
        refund = json_array_get(refunds, i);

        v = json_object_get(refund, "id");
        s = json_string_value(json_object_get(refund, "created_at"));

        if (!json_is_integer(v) || json_integer_value(v) <= 0 || s == NULL
            || ngx_http_order_edit_parse_time(s, ngx_strlen(s), &created)
               != 0)
        {
            ngx_http_order_edit_recon_error(rc);
            ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                          "order_edit: reconcile of \"%V\": a refund of "
                          "order %uL without an id or created_at skipped",
                          rc->shop, order_id);
            continue;
        }

        refund_id = (uint64_t) json_integer_value(v);

        if (created < rc->since_ms
            || ngx_http_order_edit_applied_get(rc->zone, rc->shop,
                               refund_id | NGX_HTTP_ORDER_EDIT_RECON_REFUND,
                               &applied)
               == NGX_OK)
        {
            continue;
        }

        p = ngx_sprintf(wid, "reconcile:r:%uL", refund_id);

        if (ngx_http_order_edit_recon_enqueue(rc, "refunds/create", wid,
                                              p - wid, order_id, refund)
            == NGX_BUSY)
        {
            /* the order's snapshot is in; its dedup id keeps it once */
            return NGX_BUSY;
        }
    }

    return NGX_OK;
}


/*
 * Did a webhook of the order's update at "updated" (ms) come?  One of its
 * order snapshots was received triggered then or later: the store notes
 * the newest trigger time per order (received_get()), and, only when that
 * note is gone (evicted, or a restart), one such webhook still held
 * (queue_covers(), a bounded walk) says so too.
 *
 * A note older than the update answers on its own: the note only moves
 * forward, so no webhook received since it was made is newer; walking
 * then would hold the zone's lock for up to four bounded walks for each
 * order that really is missing, the common case of a missing one, while
 * every worker's ingest waits.  Replay notes as ingest does, so a
 * restart with the journal loses no note; the walk is for a note gone
 * (evicted, or a restart without a journal).
 */

static ngx_uint_t
ngx_http_order_edit_recon_delivered(ngx_http_order_edit_recon_t *rc,
    uint64_t order_id, int64_t updated)
{
    int64_t  triggered;

    if (ngx_http_order_edit_received_get(rc->zone, rc->shop, order_id,
                                         &triggered)
        == NGX_OK)
    {
        return triggered >= updated;
    }

    return ngx_http_order_edit_queue_covers(rc->zone, rc->shop, order_id,
                                            updated);
}


/*
 * Queued as ingest queues a webhook (queue_alloc_locked() and
 * queue_link_locked()), under a webhook id of its own in the same
 * de-duplication set, so that the overlap of two runs queues it once;
 * journaled, with a journal, as a webhook is (the "reconcile:" id, its
 * mark, is in the record).  NGX_DECLINED: queued before.
 */

static ngx_int_t
ngx_http_order_edit_recon_enqueue(ngx_http_order_edit_recon_t *rc,
    const char *topic, u_char *wid, size_t wid_len, uint64_t order_id,
    json_t *payload)
{
    char                        *body;
    ngx_int_t                    r;
    ngx_http_order_edit_msg_t    msg;
    ngx_http_order_edit_zone_t  *zone;

    zone = rc->zone;

    ngx_memzero(&msg, sizeof(ngx_http_order_edit_msg_t));

    msg.received_ms = ngx_http_order_edit_now_ms();
    msg.order_id = order_id;
    msg.shop = *rc->shop;
    msg.topic.data = (u_char *) topic;
    msg.topic.len = ngx_strlen(topic);
    msg.webhook_id.data = wid;
    msg.webhook_id.len = wid_len;
    msg.api_version = rc->conf->api_version;

    body = ngx_http_order_edit_json_dumps(payload, JSON_COMPACT);
    if (body == NULL) {
        return NGX_BUSY;
    }

    msg.body.data = (u_char *) body;
    msg.body.len = ngx_strlen(body);

    /* as a webhook is put, its id de-duplicated (the store's one rule) */
    r = ngx_http_order_edit_store_put_local(zone, rc->shop, &msg, NULL,
                                            NULL);

    free(body);

    if (r == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (r != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                      "order_edit: zone \"%V\" or its journal is full, "
                      "reconcile of \"%V\" waits", &zone->name, rc->shop);
        return NGX_BUSY;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    rc->rs->enqueued++;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    rc->queued++;
    rc->last_id = msg.id;

    ngx_log_error(NGX_LOG_INFO, rc->log, 0,
                  "order_edit: reconciled #%uL %s of \"%V\" queued as "
                  "\"%*s\"", msg.id, topic, rc->shop, wid_len, wid);

    return NGX_OK;
}


/*
 * X-Shopify-Shop-Api-Call-Limit: "used/size".  Past half the bucket the
 * next page waits for what it leaks meanwhile: the app's other calls
 * (and other apps') keep the rest.
 */

static void
ngx_http_order_edit_recon_pace(ngx_http_order_edit_recon_t *rc,
    ngx_http_order_edit_curl_req_t *req)
{
    u_char           *slash;
    ngx_int_t         used, size;
    ngx_str_t         name;
    ngx_table_elt_t  *h;

    ngx_str_set(&name, "X-Shopify-Shop-Api-Call-Limit");
    h = ngx_http_order_edit_curl_header(req, &name);

    if (h == NULL) {
        return;
    }

    slash = ngx_strlchr(h->value.data, h->value.data + h->value.len, '/');
    if (slash == NULL) {
        return;
    }

    used = ngx_atoi(h->value.data, slash - h->value.data);
    size = ngx_atoi(slash + 1, h->value.data + h->value.len - slash - 1);

    if (used == NGX_ERROR || size == NGX_ERROR || size == 0
        || used * 2 <= size)
    {
        return;
    }

    ngx_http_order_edit_recon_wait(rc, (used - size / 2)
                                       * NGX_HTTP_ORDER_EDIT_RECON_LEAK_MS);
}


static void
ngx_http_order_edit_recon_error(ngx_http_order_edit_recon_t *rc)
{
    rc->errors++;

    ngx_shmtx_lock(&rc->zone->shpool->mutex);
    rc->rs->errors++;
    ngx_shmtx_unlock(&rc->zone->shpool->mutex);
}


static void
ngx_http_order_edit_recon_wait(ngx_http_order_edit_recon_t *rc,
    ngx_msec_t ms)
{
    rc->waiting = 1;
    rc->not_before = ngx_current_msec + ms;
}


/*
 * Exponential backoff with full jitter; after a few failures the run is
 * given up and the next starts at its time, from the same watermark.
 */

static void
ngx_http_order_edit_recon_failed(ngx_http_order_edit_recon_t *rc,
    const char *what, ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t   body;
    ngx_msec_t  ms;

    rc->failures++;
    ngx_http_order_edit_recon_error(rc);

    body.len = 0;
    body.data = NULL;

    if (req != NULL) {
        body = req->body;
        body.len = ngx_min(body.len, 200);
    }

    if (req != NULL && req->status == 0) {
        body = req->message;
    }

    ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                  "order_edit: reconcile of \"%V\": %s: %V %ui %V",
                  rc->shop, what, &rc->url, req ? req->status : 0, &body);

    if (rc->failures >= NGX_HTTP_ORDER_EDIT_RECON_TRIES
        || (req != NULL && req->status >= 400 && req->status < 500))
    {
        /* a refused token or URL does not heal in a second */
        ngx_http_order_edit_recon_finish(rc, 0);
        return;
    }

    ms = ngx_min((ngx_msec_t) NGX_HTTP_ORDER_EDIT_RECON_BACKOFF,
                 (ngx_msec_t) 1000 << rc->failures);

    ngx_http_order_edit_recon_wait(rc, ms / 2 + ngx_random() % (ms / 2 + 1));
}


/* ok: 1 the run went through, 0 it was given up, 2 it was cancelled */

static void
ngx_http_order_edit_recon_finish(ngx_http_order_edit_recon_t *rc,
    ngx_uint_t ok)
{
    uint64_t    now;
    ngx_uint_t  level;

    now = ngx_http_order_edit_now_ms();

    if (rc->page) {
        ngx_http_order_edit_reconcile_release(rc->page, rc->page_bytes,
                                              rc->log);
        rc->page = NULL;
    }

    ngx_shmtx_lock(&rc->zone->shpool->mutex);

    rc->rs->running = 0;

    if (ok == 1) {
        rc->rs->next_run_ms = rc->started_ms + rc->conf->interval;
        rc->rs->watermark_ms = rc->until_ms;
        rc->rs->run_end_ms = now;
        rc->rs->last_success = now / 1000;
        rc->rs->last_run_ms = now - rc->started_ms;

    } else if (ok == 0) {
        rc->rs->next_run_ms = now + ngx_min(rc->conf->interval,
                                            NGX_HTTP_ORDER_EDIT_RECON_BACKOFF);
    }

    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    if (rc->running) {
        level = (ok == 1) ? NGX_LOG_NOTICE
                          : (ok == 0) ? NGX_LOG_ERR : NGX_LOG_INFO;

        ngx_log_error(level, rc->log, 0,
                      "order_edit: reconcile of \"%V\" %s: %ui orders in "
                      "%ui pages since %L ms, %ui found missing, %ui "
                      "queued, %ui errors, %ui throttled, %uL ms",
                      rc->shop, (ok == 1) ? "done"
                                          : (ok == 0) ? "failed"
                                                      : "cancelled",
                      rc->orders, rc->pages, rc->since_ms, rc->missing,
                      rc->queued, rc->errors, rc->throttled,
                      now - rc->started_ms);
    }

    rc->running = 0;
    rc->waiting = 0;

    if (rc->pool) {
        ngx_destroy_pool(rc->pool);
        rc->pool = NULL;
    }

    ngx_str_null(&rc->url);
    ngx_str_null(&rc->next);
}


void
ngx_http_order_edit_reconcile_acked(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_norm_result_t *res)
{
    if (res == NULL || res->kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO
        || res->refund_id <= 0)
    {
        return;
    }

    ngx_http_order_edit_applied_set(zone, shop,
                                    (uint64_t) res->refund_id
                                    | NGX_HTTP_ORDER_EDIT_RECON_REFUND, 1);
}


/*
 * The watermark survives a restart in "<zone>.reconcile" beside the
 * journal (without a journal the queue itself does not survive one, and
 * the zone's copy outlives reloads).  A state file, not a journal record:
 * it is one number per shop, overwritten, where a record would have to be
 * settled and compacted like a webhook's.  What a run queued is journaled
 * (store_put_local()), so the file moves past the run once that is
 * durable: once the last snapshot this worker queued is no longer held
 * for its fsync (records are written, and fsynced, in their order); not
 * once the queue has let go of it, which an exception never does.
 */

static void
ngx_http_order_edit_recon_persist(ngx_http_order_edit_recon_t *rc,
    uint64_t now)
{
    u_char                            *p, *buf, *path, *tmp;
    size_t                             len;
    ssize_t                            n;
    int64_t                            mark;
    ngx_fd_t                           fd;
    ngx_pool_t                        *pool;
    ngx_queue_t                       *q;
    ngx_http_order_edit_shop_t        *shop;
    ngx_http_order_edit_recon_shop_t  *rs;

    if (rc->zone->journal == NULL) {
        return;
    }

    ngx_shmtx_lock(&rc->zone->shpool->mutex);

    mark = rc->rs->watermark_ms;

    if (mark == rc->rs->persisted_ms) {
        ngx_shmtx_unlock(&rc->zone->shpool->mutex);
        return;
    }

    shop = ngx_http_order_edit_shop_lookup(rc->zone, rc->shop, 0);

    /* a snapshot of the run waits for its fsync: not past it yet */
    if (shop && rc->last_id
        && ngx_http_order_edit_queue_undurable_locked(shop, rc->last_id))
    {
        ngx_shmtx_unlock(&rc->zone->shpool->mutex);
        return;
    }

    rc->rs->persisted_ms = mark;

    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    pool = ngx_create_pool(1024, rc->log);
    if (pool == NULL) {
        return;
    }

    path = ngx_http_order_edit_recon_state_path(rc->zone, pool, "");
    tmp = ngx_http_order_edit_recon_state_path(rc->zone, pool, ".tmp");

    len = 0;

    ngx_shmtx_lock(&rc->zone->shpool->mutex);

    for (q = ngx_queue_head(&rc->zone->sh->reconcile->shops);
         q != ngx_queue_sentinel(&rc->zone->sh->reconcile->shops);
         q = ngx_queue_next(q))
    {
        rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);
        len += rs->len + 1 + NGX_INT64_LEN + 1;
    }

    buf = ngx_pnalloc(pool, len + 1);

    if (buf == NULL || path == NULL || tmp == NULL) {
        ngx_shmtx_unlock(&rc->zone->shpool->mutex);
        ngx_destroy_pool(pool);
        return;
    }

    p = buf;

    for (q = ngx_queue_head(&rc->zone->sh->reconcile->shops);
         q != ngx_queue_sentinel(&rc->zone->sh->reconcile->shops);
         q = ngx_queue_next(q))
    {
        rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);

        if (rs->persisted_ms > 0) {
            p = ngx_sprintf(p, "%*s %L\n", (size_t) rs->len, rs->name,
                            rs->persisted_ms);
        }
    }

    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    /* a few hundred bytes, once a run: written whole, then renamed */

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, rc->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp);
        goto failed;
    }

    n = ngx_write_fd(fd, buf, p - buf);

    if (ngx_close_file(fd) == NGX_FILE_ERROR || n != p - buf) {
        ngx_log_error(NGX_LOG_ERR, rc->log, ngx_errno,
                      ngx_write_fd_n " \"%s\" failed", tmp);
        goto failed;
    }

    if (ngx_rename_file(tmp, path) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, rc->log, ngx_errno,
                      ngx_rename_file_n " \"%s\" to \"%s\" failed",
                      tmp, path);
        goto failed;
    }

    ngx_destroy_pool(pool);

    return;

failed:

    /* tried again at the next check */
    ngx_shmtx_lock(&rc->zone->shpool->mutex);
    rc->rs->persisted_ms = 0;
    ngx_shmtx_unlock(&rc->zone->shpool->mutex);

    ngx_destroy_pool(pool);
}


static int64_t
ngx_http_order_edit_recon_restore(ngx_http_order_edit_recon_t *rc)
{
    u_char      *path, *p, *last, *eol, *sp, buf[8192];
    ssize_t      n;
    int64_t      mark;
    ngx_fd_t     fd;
    ngx_pool_t  *pool;

    if (rc->zone->journal == NULL) {
        return 0;
    }

    pool = ngx_create_pool(512, rc->log);
    if (pool == NULL) {
        return 0;
    }

    path = ngx_http_order_edit_recon_state_path(rc->zone, pool, "");
    mark = 0;

    fd = (path == NULL) ? NGX_INVALID_FILE
                        : ngx_open_file(path, NGX_FILE_RDONLY,
                                        NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_destroy_pool(pool);
        return 0;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    (void) ngx_close_file(fd);

    p = buf;
    last = buf + (n > 0 ? n : 0);

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            break;
        }

        sp = ngx_strlchr(p, eol, ' ');

        if (sp != NULL && (size_t) (sp - p) == rc->shop->len
            && ngx_strncmp(p, rc->shop->data, rc->shop->len) == 0)
        {
            mark = ngx_atoof(sp + 1, eol - sp - 1);
            if (mark < 0) {
                mark = 0;
            }
        }

        p = eol + 1;
    }

    ngx_destroy_pool(pool);

    return mark;
}


static u_char *
ngx_http_order_edit_recon_state_path(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, const char *suffix)
{
    u_char     *path;
    size_t      len;
    ngx_str_t  *dir;

    dir = &zone->journal->dir;
    len = dir->len + 1 + zone->name.len + sizeof(".reconcile") - 1
          + ngx_strlen(suffix) + 1;

    path = ngx_pnalloc(pool, len);
    if (path == NULL) {
        return NULL;
    }

    ngx_sprintf(path, "%V/%V.reconcile%s%Z", dir, &zone->name, suffix);

    return path;
}


/* the status page's zone: the location's */

static ngx_http_order_edit_zone_t *
ngx_http_order_edit_recon_status_zone(ngx_http_request_t *r)
{
    ngx_http_order_edit_zone_t      *zone;
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    if (olcf->shm_zone == NULL) {
        return NULL;
    }

    zone = olcf->shm_zone->data;

    if (zone == NULL || zone->sh == NULL || zone->sh->reconcile == NULL) {
        return NULL;
    }

    return zone;
}


void
ngx_http_order_edit_reconcile_json(ngx_http_request_t *r, void *root)
{
    json_t                            *all, *one;
    ngx_queue_t                       *q;
    ngx_http_order_edit_zone_t        *zone;
    ngx_http_order_edit_recon_shop_t  *rs;

    zone = ngx_http_order_edit_recon_status_zone(r);
    if (zone == NULL) {
        return;
    }

    all = json_object();
    if (all == NULL || json_object_set_new(root, "reconcile", all) != 0) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->reconcile->shops);
         q != ngx_queue_sentinel(&zone->sh->reconcile->shops);
         q = ngx_queue_next(q))
    {
        rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);

        one = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, "
                        "s:I, s:b}",
                        "polled", (json_int_t) rs->runs,
                        "pages", (json_int_t) rs->pages,
                        "orders", (json_int_t) rs->orders,
                        "found_missing", (json_int_t) rs->found_missing,
                        "enqueued", (json_int_t) rs->enqueued,
                        "errors", (json_int_t) rs->errors,
                        "throttled", (json_int_t) rs->throttled,
                        "last_success", rs->last_success
                            ? json_integer((json_int_t) rs->last_success)
                            : json_null(),
                        "watermark_ms", rs->watermark_ms
                            ? json_integer((json_int_t) rs->watermark_ms)
                            : json_null(),
                        "last_run_ms", (json_int_t) rs->last_run_ms,
                        "running", (int) rs->running);

        /* the mismatch report's last run (report.c), once there is one */
        if (one != NULL
            && (rs->report_runs || rs->report_errors || rs->report_running))
        {
            (void) json_object_set_new(one, "report", json_pack(
                "{s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:b}",
                "runs", (json_int_t) rs->report_runs,
                "last_run", rs->report_last
                    ? json_integer((json_int_t) rs->report_last)
                    : json_null(),
                "mismatch", (json_int_t) rs->report_mismatch,
                "missing_in_netsuite",
                    (json_int_t) rs->report_missing_netsuite,
                "missing_in_shopify",
                    (json_int_t) rs->report_missing_shopify,
                "actionable", (json_int_t) rs->report_actionable,
                "errors", (json_int_t) rs->report_errors,
                "running", (int) (rs->report_running != 0)));
        }

        if (one != NULL) {
            (void) json_object_setn_new(all, (const char *) rs->name,
                                        rs->len, one);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


size_t
ngx_http_order_edit_reconcile_prometheus_size(ngx_http_request_t *r)
{
    size_t                       len;
    ngx_queue_t                 *q;
    ngx_http_order_edit_zone_t  *zone;

    zone = ngx_http_order_edit_recon_status_zone(r);
    if (zone == NULL) {
        return 0;
    }

    len = 2048;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->reconcile->shops);
         q != ngx_queue_sentinel(&zone->sh->reconcile->shops);
         q = ngx_queue_next(q))
    {
        len += 16 * (128 + zone->name.len + NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return len;
}


/* a shop added since the size was taken is left out, never overrun */

u_char *
ngx_http_order_edit_reconcile_prometheus(ngx_http_request_t *r, u_char *p,
    u_char *last)
{
    ngx_queue_t                       *q;
    ngx_http_order_edit_zone_t        *zone;
    ngx_http_order_edit_recon_shop_t  *rs;

    zone = ngx_http_order_edit_recon_status_zone(r);
    if (zone == NULL) {
        return p;
    }

    if ((size_t) (last - p) < 2048) {
        return p;
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_reconcile_total Reconciliation with the "
            "Shopify Admin API: runs (polled), pages, orders listed, "
            "found missing, queued, errors, 429s.\n"
            "# TYPE order_edit_reconcile_total counter\n"
            "# HELP order_edit_reconcile_last_success_seconds When the "
            "last run ended well (unix time; 0: never).\n"
            "# TYPE order_edit_reconcile_last_success_seconds gauge\n"
            "# HELP order_edit_report_rows The last mismatch report's rows "
            "by kind (and those raised as actionable).\n"
            "# TYPE order_edit_report_rows gauge\n"
            "# HELP order_edit_report_last_run_seconds When the last "
            "mismatch report was written (unix time; 0: never).\n"
            "# TYPE order_edit_report_last_run_seconds gauge\n");

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->reconcile->shops);
         q != ngx_queue_sentinel(&zone->sh->reconcile->shops);
         q = ngx_queue_next(q))
    {
        rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);

        if ((size_t) (last - p)
            < 16 * (128 + zone->name.len + NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN))
        {
            break;
        }

#define NGX_HTTP_ORDER_EDIT_RECON_LINE                                        \
        "order_edit_reconcile_total{zone=\"%V\",shop=\"%*s\",what=\"%s\"} "  \
        "%uL\n"

        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name, "polled",
                        rs->runs);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name, "pages",
                        rs->pages);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name, "orders",
                        rs->orders);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name,
                        "found_missing", rs->found_missing);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name,
                        "enqueued", rs->enqueued);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name, "errors",
                        rs->errors);
        p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_RECON_LINE,
                        &zone->name, (size_t) rs->len, rs->name,
                        "throttled", rs->throttled);

#undef NGX_HTTP_ORDER_EDIT_RECON_LINE

        p = ngx_sprintf(p, "order_edit_reconcile_last_success_seconds{"
                        "zone=\"%V\",shop=\"%*s\"} %uL\n", &zone->name,
                        (size_t) rs->len, rs->name, rs->last_success);

        if (rs->report_runs || rs->report_errors || rs->report_running) {

#define NGX_HTTP_ORDER_EDIT_REPORT_LINE                                       \
        "order_edit_report_rows{zone=\"%V\",shop=\"%*s\",kind=\"%s\"} %uL\n"

            p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_REPORT_LINE, &zone->name,
                            (size_t) rs->len, rs->name, "mismatch",
                            rs->report_mismatch);
            p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_REPORT_LINE, &zone->name,
                            (size_t) rs->len, rs->name,
                            "missing_in_netsuite",
                            rs->report_missing_netsuite);
            p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_REPORT_LINE, &zone->name,
                            (size_t) rs->len, rs->name,
                            "missing_in_shopify",
                            rs->report_missing_shopify);
            p = ngx_sprintf(p, NGX_HTTP_ORDER_EDIT_REPORT_LINE, &zone->name,
                            (size_t) rs->len, rs->name, "actionable",
                            rs->report_actionable);

#undef NGX_HTTP_ORDER_EDIT_REPORT_LINE

            p = ngx_sprintf(p, "order_edit_report_last_run_seconds{"
                            "zone=\"%V\",shop=\"%*s\"} %uL\n", &zone->name,
                            (size_t) rs->len, rs->name, rs->report_last);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return p;
}
