
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_status.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_history.h"
#include "ngx_http_order_edit_reconcile.h"


/* what the status page shows of one shop, copied out under the lock */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      store;
    uint64_t                       counters[NGX_HTTP_ORDER_EDIT_C_LAST];
    ngx_uint_t                     depth;
    ngx_uint_t                     leased;
    ngx_uint_t                     delayed;
    ngx_uint_t                     exceptions;
    uint64_t                       oldest_ms;
} ngx_http_order_edit_shop_stat_t;


/* a NetSuite account's figures, copied out under the lock */
typedef struct {
    ngx_str_t                      name;
    ngx_uint_t                     concurrency;   /* configured */
    ngx_uint_t                     limit;
    ngx_uint_t                     in_flight;
    uint64_t                       requests;
    uint64_t                       over_limit;
    uint64_t                       failed;
    int64_t                        p50;           /* ms, -1: no data */
    int64_t                        p99;
    ngx_http_order_edit_oauth2_stat_t  oauth2;
} ngx_http_order_edit_account_stat_t;


typedef struct {
    ngx_str_t                      zone;
    size_t                         total;
    size_t                         used;
    time_t                         created;
    ngx_uint_t                     reloads;
    ngx_uint_t                     items;
    ngx_uint_t                     delayed;
    ngx_uint_t                     exceptions;
    size_t                         item_bytes;
    size_t                         item_slab;
    ngx_uint_t                     dedup;
    size_t                         dedup_bytes;
    size_t                         dedup_max;
    uint64_t                       dedup_evicted;
    uint64_t                       stalled_ms;
    uint64_t                       unknown_shop;
    uint64_t                       unattributed[NGX_HTTP_ORDER_EDIT_C_LAST];
    ngx_array_t                    shops;   /* of shop_stat_t */
    ngx_array_t                    accounts;
    ngx_http_order_edit_journal_conf_t  *journal;
    ngx_http_order_edit_jshared_t  jstat;
} ngx_http_order_edit_stat_t;


static ngx_int_t ngx_http_order_edit_snapshot(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_stat_t *st);
static ngx_int_t ngx_http_order_edit_status_json(ngx_http_request_t *r,
    ngx_http_order_edit_stat_t *st);
static ngx_int_t ngx_http_order_edit_status_prometheus(ngx_http_request_t *r,
    ngx_http_order_edit_stat_t *st);


static const char  *ngx_http_order_edit_counter_names[] = {
    "received",
    "queued",
    "duplicate",
    "rejected_signature",
    "rejected_request",
    "rate_limited",
    "ignored",
    "queue_full",
    "leased",
    "acked",
    "requeued",
    "lease_reclaimed",
    "parked",
    "exceptions_retried",
    "exceptions_resolved",
    "stale",
    "coalesced"
};


/* the outcomes of ingest, as the Prometheus "outcome" label */
#define NGX_HTTP_ORDER_EDIT_OUTCOMES  NGX_HTTP_ORDER_EDIT_C_LEASED


ngx_int_t
ngx_http_order_edit_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        format;
    ngx_http_order_edit_stat_t       st;
    ngx_http_order_edit_loc_conf_t  *olcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use GET", 0);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    if (ngx_http_order_edit_snapshot(r, olcf->shm_zone->data, &st)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            return ngx_http_order_edit_status_prometheus(r, &st);
        }

        if (!(format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0)) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_format", "format is json or prometheus", 0);
        }
    }

    return ngx_http_order_edit_status_json(r, &st);
}


static ngx_int_t
ngx_http_order_edit_snapshot(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_stat_t *st)
{
    u_char                              *p;
    uint64_t                             now, total;
    ngx_uint_t                           i;
    ngx_queue_t                         *q;
    ngx_http_order_edit_account_t       *a;
    ngx_http_order_edit_netsuite_conf_t *ns;
    ngx_http_order_edit_account_stat_t  *as;
    ngx_http_order_edit_shop_t        *shop;
    ngx_http_order_edit_shctx_t       *sh;
    ngx_http_order_edit_main_conf_t   *omcf;
    ngx_http_order_edit_shop_stat_t   *ss;
    ngx_http_order_edit_store_conf_t  *store;

    sh = zone->sh;
    now = ngx_http_order_edit_now_ms();

    st->zone = zone->name;
    st->total = zone->shm_zone->shm.size;

    /* sized under the lock below; an estimate is enough to start */
    if (ngx_array_init(&st->shops, r->pool, 8,
                       sizeof(ngx_http_order_edit_shop_stat_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_array_init(&st->accounts, r->pool, 2,
                       sizeof(ngx_http_order_edit_account_stat_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&sh->accounts);
         q != ngx_queue_sentinel(&sh->accounts);
         q = ngx_queue_next(q))
    {
        a = ngx_queue_data(q, ngx_http_order_edit_account_t, all);

        as = ngx_array_push(&st->accounts);
        p = ngx_pnalloc(r->pool, a->len);

        if (as == NULL || p == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(p, a->name, a->len);
        as->name.data = p;
        as->name.len = a->len;
        as->limit = a->limit;
        as->in_flight = a->in_flight;
        as->requests = a->requests;
        as->over_limit = a->over_limit;
        as->failed = a->failed;

        ngx_http_order_edit_oauth2_stat(a->oauth2, r->pool, &as->oauth2);

        for (total = 0, i = 0; i < NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS; i++) {
            total += a->latency[i];
        }

        as->p50 = ngx_http_order_edit_quantile(a->latency,
                      NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS, total, 500);
        as->p99 = ngx_http_order_edit_quantile(a->latency,
                      NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS, total, 990);
    }

    st->used = ngx_http_order_edit_zone_used(zone);
    st->created = sh->created;
    st->reloads = sh->reloads;
    st->items = sh->nitems;
    st->delayed = sh->ndelayed;
    st->exceptions = sh->nexceptions;
    st->item_bytes = sh->item_bytes;
    st->item_slab = sh->item_slab;
    st->dedup = sh->ndedup;
    st->dedup_bytes = sh->dedup_bytes;
    st->dedup_max = zone->dedup_max;
    st->dedup_evicted = sh->dedup_evicted;
    st->stalled_ms = ngx_http_order_edit_queue_stalled_ms_locked(zone, now);
    st->unknown_shop = sh->unknown_shop;
    ngx_memcpy(st->unattributed, sh->unattributed,
               sizeof(st->unattributed));
    st->journal = zone->journal;
    st->jstat = sh->journal;

    for (q = ngx_queue_head(&sh->shops);
         q != ngx_queue_sentinel(&sh->shops);
         q = ngx_queue_next(q))
    {
        shop = ngx_queue_data(q, ngx_http_order_edit_shop_t, all);

        ss = ngx_array_push(&st->shops);
        p = ngx_pnalloc(r->pool, shop->sn.str.len);

        if (ss == NULL || p == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_ERROR;
        }

        ss->name.data = p;
        ss->name.len = shop->sn.str.len;
        ngx_memcpy(p, shop->name, shop->sn.str.len);

        ngx_memcpy(ss->counters, shop->counters, sizeof(ss->counters));
        ss->depth = shop->depth;
        ss->leased = shop->nleased;
        ss->delayed = shop->ndelayed;
        ss->exceptions = shop->nexceptions;
        ss->oldest_ms = ngx_http_order_edit_queue_oldest_ms_locked(shop, now);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);

    as = st->accounts.elts;

    for (i = 0; i < st->accounts.nelts; i++) {
        ns = ngx_http_order_edit_netsuite_find(omcf, &as[i].name);
        as[i].concurrency = ns ? ns->concurrency : 0;
    }

    ss = st->shops.elts;

    for (i = 0; i < st->shops.nelts; i++) {

        /* a shop whose block left the configuration keeps its history */
        store = ngx_http_order_edit_find_store(omcf, &ss[i].name);

        if (store == NULL) {
            ngx_str_null(&ss[i].store);

        } else {
            ss[i].store = store->name;
        }
    }

    return NGX_OK;
}


static json_t *
ngx_http_order_edit_json_str(ngx_str_t *s)
{
    return json_stringn((const char *) s->data, s->len);
}


static ngx_int_t
ngx_http_order_edit_status_json(ngx_http_request_t *r,
    ngx_http_order_edit_stat_t *st)
{
    json_t                              *root, *zone, *shops, *shop, *un;
    json_t                              *accounts, *acct;
    ngx_uint_t                           i, k;
    ngx_http_order_edit_shop_stat_t     *ss;
    ngx_http_order_edit_account_stat_t  *as;

    root = json_object();
    if (root == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    zone = json_object();
    shops = json_object();
    un = json_object();

    /* set_new() takes each part over, even a NULL one on failure */
    if (json_object_set_new(root, "version",
                            json_string(NGX_HTTP_ORDER_EDIT_VERSION))
        || json_object_set_new(root, "zone", zone)
        || json_object_set_new(root, "stores", shops)
        || json_object_set_new(root, "unattributed", un))
    {
        goto failed;
    }

    json_object_set_new(zone, "name", ngx_http_order_edit_json_str(&st->zone));
    json_object_set_new(zone, "total_bytes", json_integer(st->total));
    json_object_set_new(zone, "used_bytes", json_integer(st->used));
    json_object_set_new(zone, "queued_items", json_integer(st->items));
    json_object_set_new(zone, "exceptions", json_integer(st->exceptions));
    json_object_set_new(zone, "queued_bytes", json_integer(st->item_bytes));
    json_object_set_new(zone, "dedup_ids", json_integer(st->dedup));
    json_object_set_new(zone, "dedup_evicted",
                        json_integer(st->dedup_evicted));
    json_object_set_new(zone, "delayed_items", json_integer(st->delayed));
    json_object_set_new(zone, "queued_zone_bytes",
                        json_integer(st->item_slab));
    json_object_set_new(zone, "dedup_bytes", json_integer(st->dedup_bytes));
    json_object_set_new(zone, "dedup_max_bytes",
                        json_integer(st->dedup_max));
    json_object_set_new(zone, "stalled_ms", json_integer(st->stalled_ms));
    json_object_set_new(zone, "created", json_integer(st->created));
    json_object_set_new(zone, "reloads", json_integer(st->reloads));

    ss = st->shops.elts;

    for (i = 0; i < st->shops.nelts; i++) {
        shop = json_object();
        if (shop == NULL) {
            goto failed;
        }

        json_object_set_new(shop, "store", ss[i].store.len
                            ? ngx_http_order_edit_json_str(&ss[i].store)
                            : json_null());

        for (k = 0; k < NGX_HTTP_ORDER_EDIT_C_LAST; k++) {
            json_object_set_new(shop, ngx_http_order_edit_counter_names[k],
                                json_integer(ss[i].counters[k]));
        }

        json_object_set_new(shop, "queue_depth", json_integer(ss[i].depth));
        json_object_set_new(shop, "in_flight", json_integer(ss[i].leased));
        json_object_set_new(shop, "oldest_age_ms",
                            json_integer(ss[i].oldest_ms));
        json_object_set_new(shop, "exceptions",
                            json_integer(ss[i].exceptions));

        /* names are validated as [a-z0-9.-]: never empty, never odd */
        if (json_object_setn_new(shops, (const char *) ss[i].name.data,
                                 ss[i].name.len, shop)
            != 0)
        {
            goto failed;
        }
    }

    for (k = 0; k < NGX_HTTP_ORDER_EDIT_OUTCOMES; k++) {
        json_object_set_new(un, ngx_http_order_edit_counter_names[k],
                            json_integer(st->unattributed[k]));
    }

    json_object_set_new(un, "unknown_shop", json_integer(st->unknown_shop));

    if (st->journal
        && json_object_set_new(root, "journal",
                               ngx_http_order_edit_journal_json(st->journal,
                                                                &st->jstat))
           != 0)
    {
        goto failed;
    }

    ngx_http_order_edit_reconcile_json(r, root);

    if (st->accounts.nelts) {
        accounts = json_object();
        if (json_object_set_new(root, "netsuite", accounts) != 0) {
            goto failed;
        }

        as = st->accounts.elts;

        for (i = 0; i < st->accounts.nelts; i++) {
            acct = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:{s:o, s:o}}",
                             "concurrency", (json_int_t) as[i].concurrency,
                             "limit", (json_int_t) as[i].limit,
                             "in_flight", (json_int_t) as[i].in_flight,
                             "requests", (json_int_t) as[i].requests,
                             "over_limit", (json_int_t) as[i].over_limit,
                             "failed", (json_int_t) as[i].failed,
                             "latency_ms",
                             "p50", as[i].p50 < 0 ? json_null()
                                    : json_integer(as[i].p50),
                             "p99", as[i].p99 < 0 ? json_null()
                                    : json_integer(as[i].p99));

            if (acct != NULL && as[i].oauth2.on
                && json_object_set_new(acct, "oauth2",
                       ngx_http_order_edit_oauth2_stat_json(&as[i].oauth2))
                   != 0)
            {
                json_decref(acct);
                goto failed;
            }

            if (acct == NULL
                || json_object_setn_new(accounts,
                                        (const char *) as[i].name.data,
                                        as[i].name.len, acct)
                   != 0)
            {
                goto failed;
            }
        }
    }

    return ngx_http_order_edit_send_json(r, root);

failed:

    json_decref(root);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* the text exposition format, version 0.0.4 */

static ngx_int_t
ngx_http_order_edit_status_prometheus(ngx_http_request_t *r,
    ngx_http_order_edit_stat_t *st)
{
    u_char                              *body, *p;
    size_t                               len;
    ngx_uint_t                           i, k;
    ngx_str_t                            unattr, store;
    ngx_http_order_edit_shop_stat_t     *ss;
    ngx_http_order_edit_account_stat_t  *as;

    static ngx_str_t  type = ngx_string("text/plain; version=0.0.4");

    ngx_str_set(&unattr, "");

    ss = st->shops.elts;

    /* every line is bounded: labels are a zone and two validated names */
    len = 4096 + (st->shops.nelts + 1)
                 * (NGX_HTTP_ORDER_EDIT_C_LAST + 6)
                 * (160 + st->zone.len + 2 * NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN);

    as = st->accounts.elts;

    for (i = 0; i < st->accounts.nelts; i++) {
        len += 11 * (160 + st->zone.len + as[i].name.len);
    }

    /* the zone's own lines */
    len += 16 * (200 + st->zone.len);

    if (st->journal) {
        len += 4096;
    }

    len += ngx_http_order_edit_reconcile_prometheus_size(r);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;

    p = ngx_sprintf(p,
            "# HELP order_edit_webhooks_total Webhooks by shop and outcome; "
            "outcome=\"received\" counts every request.\n"
            "# TYPE order_edit_webhooks_total counter\n");

    for (i = 0; i < st->shops.nelts; i++) {
        store = ss[i].store;

        for (k = 0; k < NGX_HTTP_ORDER_EDIT_OUTCOMES; k++) {
            p = ngx_sprintf(p, "order_edit_webhooks_total{zone=\"%V\","
                            "shop=\"%V\",store=\"%V\",outcome=\"%s\"} %uL\n",
                            &st->zone, &ss[i].name, &store,
                            ngx_http_order_edit_counter_names[k],
                            ss[i].counters[k]);
        }
    }

    for (k = 0; k < NGX_HTTP_ORDER_EDIT_OUTCOMES; k++) {
        p = ngx_sprintf(p, "order_edit_webhooks_total{zone=\"%V\","
                        "shop=\"%V\",store=\"%V\",outcome=\"%s\"} %uL\n",
                        &st->zone, &unattr, &unattr,
                        ngx_http_order_edit_counter_names[k],
                        st->unattributed[k]);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_queue_events_total Queue operations by the "
            "dispatcher.\n"
            "# TYPE order_edit_queue_events_total counter\n");

    for (i = 0; i < st->shops.nelts; i++) {
        for (k = NGX_HTTP_ORDER_EDIT_OUTCOMES;
             k < NGX_HTTP_ORDER_EDIT_C_LAST;
             k++)
        {
            p = ngx_sprintf(p, "order_edit_queue_events_total{zone=\"%V\","
                            "shop=\"%V\",event=\"%s\"} %uL\n",
                            &st->zone, &ss[i].name,
                            ngx_http_order_edit_counter_names[k],
                            ss[i].counters[k]);
        }
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_queue_depth Webhooks queued, in flight "
            "included.\n"
            "# TYPE order_edit_queue_depth gauge\n");

    for (i = 0; i < st->shops.nelts; i++) {
        p = ngx_sprintf(p, "order_edit_queue_depth{zone=\"%V\",shop=\"%V\"}"
                        " %ui\n", &st->zone, &ss[i].name, ss[i].depth);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_queue_in_flight Webhooks leased for "
            "delivery.\n"
            "# TYPE order_edit_queue_in_flight gauge\n");

    for (i = 0; i < st->shops.nelts; i++) {
        p = ngx_sprintf(p, "order_edit_queue_in_flight{zone=\"%V\","
                        "shop=\"%V\"} %ui\n",
                        &st->zone, &ss[i].name, ss[i].leased);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_exceptions Webhooks parked for people.\n"
            "# TYPE order_edit_exceptions gauge\n");

    for (i = 0; i < st->shops.nelts; i++) {
        p = ngx_sprintf(p, "order_edit_exceptions{zone=\"%V\",shop=\"%V\"}"
                        " %ui\n", &st->zone, &ss[i].name, ss[i].exceptions);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_queue_delayed Webhooks waiting out a retry "
            "delay.\n"
            "# TYPE order_edit_queue_delayed gauge\n");

    for (i = 0; i < st->shops.nelts; i++) {
        p = ngx_sprintf(p, "order_edit_queue_delayed{zone=\"%V\","
                        "shop=\"%V\"} %ui\n",
                        &st->zone, &ss[i].name, ss[i].delayed);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_queue_oldest_age_seconds Age of the oldest "
            "queued webhook.\n"
            "# TYPE order_edit_queue_oldest_age_seconds gauge\n");

    for (i = 0; i < st->shops.nelts; i++) {
        p = ngx_sprintf(p, "order_edit_queue_oldest_age_seconds{zone=\"%V\","
                        "shop=\"%V\"} %uL.%03uL\n",
                        &st->zone, &ss[i].name,
                        ss[i].oldest_ms / 1000, ss[i].oldest_ms % 1000);
    }

    p = ngx_sprintf(p,
            "# HELP order_edit_unknown_shop_total Webhooks for shops with "
            "no store block.\n"
            "# TYPE order_edit_unknown_shop_total counter\n"
            "order_edit_unknown_shop_total{zone=\"%V\"} %uL\n"
            "# HELP order_edit_zone_bytes Shared memory zone size and use.\n"
            "# TYPE order_edit_zone_bytes gauge\n"
            "order_edit_zone_bytes{zone=\"%V\",kind=\"total\"} %uz\n"
            "order_edit_zone_bytes{zone=\"%V\",kind=\"used\"} %uz\n"
            "order_edit_zone_bytes{zone=\"%V\",kind=\"webhooks\"} %uz\n"
            "order_edit_zone_bytes{zone=\"%V\",kind=\"dedup\"} %uz\n"
            "order_edit_zone_bytes{zone=\"%V\",kind=\"dedup_max\"} %uz\n"
            "# HELP order_edit_dedup_ids Webhook ids remembered.\n"
            "# TYPE order_edit_dedup_ids gauge\n"
            "order_edit_dedup_ids{zone=\"%V\"} %ui\n"
            "# HELP order_edit_dedup_evicted_total Ids forgotten early for "
            "lack of memory.\n"
            "# TYPE order_edit_dedup_evicted_total counter\n"
            "order_edit_dedup_evicted_total{zone=\"%V\"} %uL\n"
            "# HELP order_edit_queue_stalled_seconds Time since a webhook "
            "last left the queue, while any is queued.\n"
            "# TYPE order_edit_queue_stalled_seconds gauge\n"
            "order_edit_queue_stalled_seconds{zone=\"%V\"} %uL.%03uL\n",
            &st->zone, st->unknown_shop,
            &st->zone, st->total, &st->zone, st->used,
            &st->zone, st->item_slab, &st->zone, st->dedup_bytes,
            &st->zone, st->dedup_max,
            &st->zone, st->dedup, &st->zone, st->dedup_evicted,
            &st->zone, st->stalled_ms / 1000, st->stalled_ms % 1000);

    as = st->accounts.elts;

    for (i = 0; i < st->accounts.nelts; i++) {
        p = ngx_sprintf(p,
                "order_edit_netsuite_concurrency{zone=\"%V\",account=\"%V\"} "
                "%ui\n"
                "order_edit_netsuite_limit{zone=\"%V\",account=\"%V\"} %ui\n"
                "order_edit_netsuite_in_flight{zone=\"%V\",account=\"%V\"} "
                "%ui\n"
                "order_edit_netsuite_requests_total{zone=\"%V\","
                "account=\"%V\"} %uL\n"
                "order_edit_netsuite_over_limit_total{zone=\"%V\","
                "account=\"%V\"} %uL\n"
                "order_edit_netsuite_failed_total{zone=\"%V\","
                "account=\"%V\"} %uL\n",
                &st->zone, &as[i].name, as[i].concurrency,
                &st->zone, &as[i].name, as[i].limit,
                &st->zone, &as[i].name, as[i].in_flight,
                &st->zone, &as[i].name, as[i].requests,
                &st->zone, &as[i].name, as[i].over_limit,
                &st->zone, &as[i].name, as[i].failed);

        if (as[i].p50 >= 0) {
            p = ngx_sprintf(p,
                    "order_edit_netsuite_latency_ms{zone=\"%V\","
                    "account=\"%V\",quantile=\"0.5\"} %L\n"
                    "order_edit_netsuite_latency_ms{zone=\"%V\","
                    "account=\"%V\",quantile=\"0.99\"} %L\n",
                    &st->zone, &as[i].name, as[i].p50,
                    &st->zone, &as[i].name, as[i].p99);
        }

        if (as[i].oauth2.on) {
            p = ngx_sprintf(p,
                    "order_edit_netsuite_oauth2_token_valid{zone=\"%V\","
                    "account=\"%V\"} %ui\n"
                    "order_edit_netsuite_oauth2_fetches_total{zone=\"%V\","
                    "account=\"%V\"} %uL\n"
                    "order_edit_netsuite_oauth2_fetch_errors_total{"
                    "zone=\"%V\",account=\"%V\"} %uL\n",
                    &st->zone, &as[i].name, as[i].oauth2.valid,
                    &st->zone, &as[i].name, as[i].oauth2.fetches,
                    &st->zone, &as[i].name, as[i].oauth2.fetch_errors);
        }
    }

    if (st->journal) {
        p = ngx_http_order_edit_journal_prometheus(p, &st->zone, &st->jstat);
    }

    p = ngx_http_order_edit_reconcile_prometheus(r, p, body + len);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK, &type, body, p - body,
                                    0);
}
