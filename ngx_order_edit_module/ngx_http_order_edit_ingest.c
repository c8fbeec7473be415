
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>

#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_limit.h"
#include "ngx_http_order_edit_store.h"


#define NGX_HTTP_ORDER_EDIT_HMAC_LEN      32

/* the order id hint is looked for in this many leading bytes only */
#define NGX_HTTP_ORDER_EDIT_HINT_SCAN     512

/* a full queue drains at delivery speed: ask Shopify to come back later */
#define NGX_HTTP_ORDER_EDIT_FULL_RETRY    30

/* a copy of a webhook whose record is being synced: a moment, no more */
#define NGX_HTTP_ORDER_EDIT_BUSY_RETRY    5


enum {
    NGX_HTTP_ORDER_EDIT_H_HMAC = 0,
    NGX_HTTP_ORDER_EDIT_H_SHOP,
    NGX_HTTP_ORDER_EDIT_H_TOPIC,
    NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID,
    NGX_HTTP_ORDER_EDIT_H_EVENT_ID,
    NGX_HTTP_ORDER_EDIT_H_API_VERSION,
    NGX_HTTP_ORDER_EDIT_H_TRIGGERED_AT,
    NGX_HTTP_ORDER_EDIT_H_LAST
};


typedef struct {
    ngx_str_t                      h[NGX_HTTP_ORDER_EDIT_H_LAST];
    ngx_str_t                      shop;        /* lower-cased */
    ngx_http_order_edit_store_conf_t  *store;
    ngx_http_order_edit_zone_t    *zone;
    uint64_t                       id;          /* once queued */

    /* the body: in one piece, or (data NULL) in bufs, see read_body() */
    ngx_str_t                      body;
    ngx_chain_t                   *bufs;

    /* a named store's shop is counted on its own node from the start */
    unsigned                       attributed:1;
    unsigned                       unknown:1;   /* no store: always 401 */
} ngx_http_order_edit_ingest_ctx_t;


typedef struct {
    ngx_str_t                      name;        /* lower case */
    ngx_uint_t                     header;
    size_t                         max_len;
} ngx_http_order_edit_header_t;


/*
 * Both the classic X-Shopify-* names and the un-prefixed shopify-* names
 * of Shopify's newer event deliveries are accepted.
 */

static ngx_http_order_edit_header_t  ngx_http_order_edit_headers[] = {

    { ngx_string("x-shopify-hmac-sha256"),
      NGX_HTTP_ORDER_EDIT_H_HMAC, 64 },
    { ngx_string("shopify-hmac-sha256"),
      NGX_HTTP_ORDER_EDIT_H_HMAC, 64 },
    { ngx_string("x-shopify-shop-domain"),
      NGX_HTTP_ORDER_EDIT_H_SHOP, NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN },
    { ngx_string("shopify-shop-domain"),
      NGX_HTTP_ORDER_EDIT_H_SHOP, NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN },
    { ngx_string("x-shopify-topic"),
      NGX_HTTP_ORDER_EDIT_H_TOPIC, NGX_HTTP_ORDER_EDIT_MAX_TOPIC_LEN },
    { ngx_string("shopify-topic"),
      NGX_HTTP_ORDER_EDIT_H_TOPIC, NGX_HTTP_ORDER_EDIT_MAX_TOPIC_LEN },
    { ngx_string("x-shopify-webhook-id"),
      NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID, NGX_HTTP_ORDER_EDIT_MAX_ID_LEN },
    { ngx_string("shopify-webhook-id"),
      NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID, NGX_HTTP_ORDER_EDIT_MAX_ID_LEN },
    { ngx_string("x-shopify-event-id"),
      NGX_HTTP_ORDER_EDIT_H_EVENT_ID, NGX_HTTP_ORDER_EDIT_MAX_ID_LEN },
    { ngx_string("shopify-event-id"),
      NGX_HTTP_ORDER_EDIT_H_EVENT_ID, NGX_HTTP_ORDER_EDIT_MAX_ID_LEN },
    { ngx_string("x-shopify-api-version"),
      NGX_HTTP_ORDER_EDIT_H_API_VERSION, 32 },
    { ngx_string("shopify-api-version"),
      NGX_HTTP_ORDER_EDIT_H_API_VERSION, 32 },
    { ngx_string("x-shopify-triggered-at"),
      NGX_HTTP_ORDER_EDIT_H_TRIGGERED_AT, 64 },
    { ngx_string("shopify-triggered-at"),
      NGX_HTTP_ORDER_EDIT_H_TRIGGERED_AT, 64 },
    { ngx_null_string, 0, 0 }
};


/* the canonical names used in error messages */
static const char  *ngx_http_order_edit_header_names[] = {
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Topic",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At"
};


static ngx_int_t ngx_http_order_edit_reject(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, ngx_uint_t counter,
    ngx_uint_t status, const char *code, const char *message,
    time_t retry_after);
static void ngx_http_order_edit_count(ngx_http_order_edit_ingest_ctx_t *ctx,
    ngx_uint_t counter);
static ngx_int_t ngx_http_order_edit_parse_headers(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, const char **bad);
static ngx_uint_t ngx_http_order_edit_valid(ngx_str_t *v, ngx_uint_t header);
static void ngx_http_order_edit_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_order_edit_process(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx);
static ngx_int_t ngx_http_order_edit_read_body(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx);
static ngx_int_t ngx_http_order_edit_join_body(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx);
static ngx_uint_t ngx_http_order_edit_verify(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, u_char *expected);
static EVP_MAC_CTX *ngx_http_order_edit_hmac(
    ngx_http_order_edit_store_conf_t *store, ngx_uint_t i);
static void ngx_http_order_edit_hmac_cleanup(void *data);
static void ngx_http_order_edit_hmac_unknown_cleanup(void *data);
static ngx_uint_t ngx_http_order_edit_topic_wanted(
    ngx_http_order_edit_store_conf_t *store, ngx_str_t *topic);
static uint64_t ngx_http_order_edit_order_hint(ngx_str_t *topic,
    ngx_http_order_edit_ingest_ctx_t *ctx);
static u_char *ngx_http_order_edit_skip_space(u_char *p, u_char *last);
static void ngx_http_order_edit_durable(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_order_edit_queued(ngx_http_request_t *r,
    uint64_t id);
static ngx_int_t ngx_http_order_edit_journal_failed(ngx_http_request_t *r,
    ngx_uint_t full);
static void ngx_http_order_edit_put_init(
    ngx_http_order_edit_ingest_ctx_t *ctx, ngx_http_order_edit_put_t *put);
static ngx_int_t ngx_http_order_edit_enqueue(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, ngx_http_order_edit_put_t *put);
static ngx_http_order_edit_store_conf_t *ngx_http_order_edit_unknown_store(
    ngx_http_order_edit_main_conf_t *omcf);


static ngx_str_t  ngx_http_order_edit_json_type =
    ngx_string("application/json");


/* what an unknown shop is checked with: see unknown_store() */
static ngx_http_order_edit_store_conf_t  ngx_http_order_edit_unknown;
static u_char  ngx_http_order_edit_unknown_key[32];


ngx_int_t
ngx_http_order_edit_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    const char                        *bad;
    ngx_http_order_edit_loc_conf_t    *olcf;
    ngx_http_order_edit_main_conf_t   *omcf;
    ngx_http_order_edit_ingest_ctx_t  *ctx;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_order_edit_ingest_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->zone = olcf->shm_zone->data;
    ngx_http_set_ctx(r, ctx, ngx_http_order_edit_module);

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
                   "webhooks are delivered with POST", 0);
    }

    rc = ngx_http_order_edit_parse_headers(r, ctx, &bad);

    if (rc == NGX_DECLINED) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_BAD_REQUEST, "invalid_header", bad, 0);
    }

    if (rc != NGX_OK) {
        (void) ngx_http_discard_request_body(r);

        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                   "out of memory", 0);
    }

    ctx->store = ngx_http_order_edit_find_store(omcf, &ctx->shop);

    if (ctx->store == NULL) {
        ngx_http_order_edit_count(ctx, NGX_HTTP_ORDER_EDIT_C_LAST);

        /*
         * The same answer as a bad signature, after the same work: the
         * body is read and hashed (with a key nobody has), so that
         * neither the answer nor its timing tells which shops exist.
         */
        ctx->unknown = 1;
        ctx->store = ngx_http_order_edit_unknown_store(omcf);
    }

    ctx->attributed = (ctx->store != omcf->default_store && !ctx->unknown);

    /*
     * The length is checked before a byte is read: a webhook always has
     * a Content-Length, and a body nobody will accept is never buffered.
     */

    if (r->headers_in.content_length_n < 0) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_LENGTH_REQUIRED, "length_required",
                   "a Content-Length header is required", 0);
    }

    if (r->headers_in.content_length_n == 0) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_BAD_REQUEST, "empty_body",
                   "the webhook body is empty", 0);
    }

    if (r->headers_in.content_length_n > (off_t) ctx->store->max_body) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the webhook body is larger than max_body", 0);
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_order_edit_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_order_edit_body_handler(ngx_http_request_t *r)
{
    ngx_http_order_edit_ingest_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_order_edit_module);

    ngx_http_finalize_request(r, ngx_http_order_edit_process(r, ctx));
}


static ngx_int_t
ngx_http_order_edit_process(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx)
{
    u_char                     expected[NGX_HTTP_ORDER_EDIT_HMAC_LEN + 16];
    ngx_str_t                  dst;
    ngx_http_order_edit_put_t  put;

    if (ngx_http_order_edit_read_body(r, ctx) != NGX_OK) {
        /* nothing was kept: a 5xx makes Shopify deliver it again */
        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                   "the webhook body could not be read", 0);
    }

    if (ctx->body.len == 0) {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
                   NGX_HTTP_BAD_REQUEST, "empty_body",
                   "the webhook body is empty", 0);
    }

    /*
     * The store's keys first: the buckets their lookups will read load
     * while the HMAC runs, not under the zone's lock.  Nothing is kept
     * unless the signature holds.
     */
    ngx_http_order_edit_put_init(ctx, &put);
    ngx_http_order_edit_store_prepare(ctx->zone, &put);

    /* the header was checked to decode to exactly 32 bytes */
    dst.data = expected;
    (void) ngx_decode_base64(&dst, &ctx->h[NGX_HTTP_ORDER_EDIT_H_HMAC]);

    if (!ngx_http_order_edit_verify(r, ctx, expected)
        || ctx->unknown)
    {
        return ngx_http_order_edit_reject(r, ctx,
                   NGX_HTTP_ORDER_EDIT_C_REJECTED_SIGNATURE,
                   NGX_HTTP_UNAUTHORIZED, "unauthorized",
                   "the webhook signature could not be verified", 0);
    }

    /* from here on the shop is authentic and gets its own counters */
    ctx->attributed = 1;

    if (!ngx_http_order_edit_topic_wanted(ctx->store,
                                          &ctx->h[NGX_HTTP_ORDER_EDIT_H_TOPIC]))
    {
        ngx_http_order_edit_count(ctx, NGX_HTTP_ORDER_EDIT_C_IGNORED);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "order_edit: topic \"%V\" ignored",
                       &ctx->h[NGX_HTTP_ORDER_EDIT_H_TOPIC]);

        /* a 2xx, or Shopify would retry and finally drop the subscription */
        return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                   &ngx_http_order_edit_json_type,
                   (u_char *) "{\"status\":\"ignored\"}\n",
                   sizeof("{\"status\":\"ignored\"}\n") - 1, 0);
    }

    return ngx_http_order_edit_enqueue(r, ctx, &put);
}


static void
ngx_http_order_edit_put_init(ngx_http_order_edit_ingest_ctx_t *ctx,
    ngx_http_order_edit_put_t *put)
{
    ngx_memzero(put, sizeof(ngx_http_order_edit_put_t));

    put->shop = ctx->shop;
    put->limit = ctx->store;
    put->msg.received_ms = ngx_http_order_edit_now_ms();
    put->msg.topic = ctx->h[NGX_HTTP_ORDER_EDIT_H_TOPIC];
    put->msg.webhook_id = ctx->h[NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID];
    put->msg.event_id = ctx->h[NGX_HTTP_ORDER_EDIT_H_EVENT_ID];
    put->msg.api_version = ctx->h[NGX_HTTP_ORDER_EDIT_H_API_VERSION];
    put->msg.triggered_at = ctx->h[NGX_HTTP_ORDER_EDIT_H_TRIGGERED_AT];
    put->msg.body = ctx->body;
    put->bufs = ctx->bufs;
    put->msg.order_id = ngx_http_order_edit_order_hint(&put->msg.topic, ctx);
}


static ngx_int_t
ngx_http_order_edit_enqueue(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, ngx_http_order_edit_put_t *put)
{
    u_char                      *p, out[128];
    ngx_str_t                   *wid;
    ngx_http_order_edit_zone_t  *zone;

    zone = ctx->zone;

    /* the dedup key: shop, then the webhook id or, failing it, event id */

    if (ctx->h[NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID].len) {
        wid = &ctx->h[NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID];

    } else {
        wid = &ctx->h[NGX_HTTP_ORDER_EDIT_H_EVENT_ID];
    }

    switch (ngx_http_order_edit_store_put(zone, put, r->connection->log)) {

    case NGX_HTTP_ORDER_EDIT_PUT_QUEUED:
        return ngx_http_order_edit_queued(r, put->id);

    case NGX_HTTP_ORDER_EDIT_PUT_WAIT:
        ctx->id = put->id;

        if (ngx_http_order_edit_store_wait(r, zone, put,
                                           ngx_http_order_edit_durable)
            != NGX_OK)
        {
            return ngx_http_order_edit_journal_failed(r, 0);
        }

        r->main->count++;

        return NGX_DONE;

    case NGX_HTTP_ORDER_EDIT_PUT_DUPLICATE:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "order_edit: duplicate webhook \"%V\" of #%uL",
                       wid, put->id);

        p = ngx_sprintf(out, "{\"status\":\"duplicate\",\"id\":\"%uL\"}\n",
                        put->id);

        return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                        &ngx_http_order_edit_json_type,
                                        out, p - out, 0);

    case NGX_HTTP_ORDER_EDIT_PUT_IN_PROGRESS:
        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "in_progress",
                   "the first delivery of this webhook is being written",
                   NGX_HTTP_ORDER_EDIT_BUSY_RETRY);

    case NGX_HTTP_ORDER_EDIT_PUT_LIMITED:
        ngx_log_error(ngx_http_order_edit_log_level(r), r->connection->log,
                      0, "order_edit: rate limit of store \"%V\" exceeded "
                      "by shop \"%V\", retry after %T s",
                      &ctx->store->name, &ctx->shop, put->retry_after);

        return ngx_http_order_edit_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                   "rate_limited", "the store's webhook rate is exceeded",
                   put->retry_after);

    case NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FULL:
        return ngx_http_order_edit_journal_failed(r, 1);

    case NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FAILED:
        return ngx_http_order_edit_journal_failed(r, 0);

    default: /* NGX_HTTP_ORDER_EDIT_PUT_FULL */
        break;
    }

    if (!put->counted) {
        /* no node for the shop: not even that fitted */
        ctx->attributed = 0;
        ngx_http_order_edit_count(ctx, NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "order_edit: zone \"%V\" is full, webhook \"%V\" of shop "
                  "\"%V\" refused with 503", &zone->name, wid, &ctx->shop);

    return ngx_http_order_edit_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
               "queue_full", "the webhook queue is full",
               NGX_HTTP_ORDER_EDIT_FULL_RETRY);
}


static void
ngx_http_order_edit_durable(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_order_edit_ingest_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_order_edit_module);

    if (rc == NGX_OK) {
        rc = ngx_http_order_edit_queued(r, ctx->id);

    } else {
        rc = ngx_http_order_edit_journal_failed(r, 0);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_order_edit_queued(ngx_http_request_t *r, uint64_t id)
{
    u_char  *p, out[64];

    p = ngx_sprintf(out, "{\"status\":\"queued\",\"id\":\"%uL\"}\n", id);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_json_type,
                                    out, p - out, 0);
}


/* nothing of the webhook is kept: Shopify delivers it again later */

static ngx_int_t
ngx_http_order_edit_journal_failed(ngx_http_request_t *r, ngx_uint_t full)
{
    ngx_http_order_edit_ingest_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_order_edit_module);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "order_edit: journal of zone \"%V\" %s, webhook of shop "
                  "\"%V\" refused with 503", &ctx->zone->name,
                  full ? "is full" : "cannot be written", &ctx->shop);

    if (full) {
        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "journal_full",
                   "the webhook journal is full",
                   NGX_HTTP_ORDER_EDIT_FULL_RETRY);
    }

    return ngx_http_order_edit_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
               "journal_unavailable",
               "the webhook could not be written to the journal",
               NGX_HTTP_ORDER_EDIT_FULL_RETRY);
}


static ngx_int_t
ngx_http_order_edit_reject(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, ngx_uint_t counter,
    ngx_uint_t status, const char *code, const char *message,
    time_t retry_after)
{
    ngx_int_t  rc;

    ngx_http_order_edit_count(ctx, counter);

    ngx_log_error(ngx_http_order_edit_log_level(r), r->connection->log, 0,
                  "order_edit: webhook rejected with %ui %s: %s%s%V%s",
                  status, code, message,
                  ctx->shop.len ? ", shop \"" : "", &ctx->shop,
                  ctx->shop.len ? "\"" : "");

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_order_edit_allow(r, "POST") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_order_edit_send_error(r, status, code, message,
                                          retry_after);
}


/*
 * Counts one request and its outcome; NGX_HTTP_ORDER_EDIT_C_LAST as the
 * outcome counts an unknown shop.
 */

static void
ngx_http_order_edit_count(ngx_http_order_edit_ingest_ctx_t *ctx,
    ngx_uint_t counter)
{
    ngx_http_order_edit_zone_t   *zone;
    ngx_http_order_edit_shop_t   *shop;
    ngx_http_order_edit_shctx_t  *sh;

    zone = ctx->zone;
    sh = zone->sh;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (counter == NGX_HTTP_ORDER_EDIT_C_LAST) {
        sh->unknown_shop++;
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    shop = NULL;

    if (ctx->attributed) {
        shop = ngx_http_order_edit_shop_lookup(zone, &ctx->shop, 1);
    }

    if (shop != NULL) {
        shop->counters[NGX_HTTP_ORDER_EDIT_C_RECEIVED]++;
        shop->counters[counter]++;

    } else {
        sh->unattributed[NGX_HTTP_ORDER_EDIT_C_RECEIVED]++;
        sh->unattributed[counter]++;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static ngx_int_t
ngx_http_order_edit_parse_headers(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, const char **bad)
{
    u_char                        *msg;
    ngx_str_t                     *v;
    ngx_uint_t                     i, k;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_order_edit_header_t  *hd;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len < sizeof("shopify-topic") - 1
            || (h[i].lowcase_key[0] != 'x' && h[i].lowcase_key[0] != 's'))
        {
            continue;
        }

        for (hd = ngx_http_order_edit_headers; hd->name.len; hd++) {

            if (h[i].key.len != hd->name.len
                || ngx_strncmp(h[i].lowcase_key, hd->name.data,
                               hd->name.len)
                   != 0)
            {
                continue;
            }

            v = &ctx->h[hd->header];

            if (v->data != NULL) {
                /* two values for one key is ambiguous, whichever spelling */
                msg = ngx_pnalloc(r->pool, 64);
                if (msg == NULL) {
                    return NGX_ERROR;
                }

                ngx_sprintf(msg, "%s is sent more than once%Z",
                            ngx_http_order_edit_header_names[hd->header]);
                *bad = (const char *) msg;
                return NGX_DECLINED;
            }

            *v = h[i].value;

            if (v->len > hd->max_len
                || !ngx_http_order_edit_valid(v, hd->header))
            {
                msg = ngx_pnalloc(r->pool, 64);
                if (msg == NULL) {
                    return NGX_ERROR;
                }

                ngx_sprintf(msg, "%s is invalid%Z",
                            ngx_http_order_edit_header_names[hd->header]);
                *bad = (const char *) msg;
                return NGX_DECLINED;
            }

            break;
        }
    }

    for (k = 0; k < NGX_HTTP_ORDER_EDIT_H_LAST; k++) {

        if (ctx->h[k].len) {
            continue;
        }

        if (k == NGX_HTTP_ORDER_EDIT_H_WEBHOOK_ID
            && ctx->h[NGX_HTTP_ORDER_EDIT_H_EVENT_ID].len)
        {
            continue;
        }

        if (k == NGX_HTTP_ORDER_EDIT_H_EVENT_ID
            || k == NGX_HTTP_ORDER_EDIT_H_API_VERSION
            || k == NGX_HTTP_ORDER_EDIT_H_TRIGGERED_AT)
        {
            continue;
        }

        msg = ngx_pnalloc(r->pool, 64);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(msg, "%s is required%Z",
                    ngx_http_order_edit_header_names[k]);
        *bad = (const char *) msg;
        return NGX_DECLINED;
    }

    v = &ctx->h[NGX_HTTP_ORDER_EDIT_H_SHOP];

    ctx->shop.len = v->len;
    ctx->shop.data = ngx_pnalloc(r->pool, v->len);
    if (ctx->shop.data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(ctx->shop.data, v->data, v->len);

    return NGX_OK;
}


/* strict syntax per header, so that nothing odd reaches logs or NetSuite */

static ngx_uint_t
ngx_http_order_edit_valid(ngx_str_t *v, ngx_uint_t header)
{
    u_char      c, *p, *last;
    ngx_uint_t  slash;

    if (v->len == 0) {
        return 0;
    }

    p = v->data;
    last = p + v->len;

    switch (header) {

    case NGX_HTTP_ORDER_EDIT_H_HMAC:
        /* base64 of 32 bytes: 43 characters and one "=" */
        if (v->len != 44 || p[43] != '=') {
            return 0;
        }

        for ( /* void */ ; p < last - 1; p++) {
            c = *p;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            {
                return 0;
            }
        }

        return 1;

    case NGX_HTTP_ORDER_EDIT_H_SHOP:
        return ngx_http_order_edit_shop_domain_valid(v);

    case NGX_HTTP_ORDER_EDIT_H_TOPIC:
        slash = 0;

        for ( /* void */ ; p < last; p++) {
            c = *p;

            if (c == '/') {
                slash++;
                continue;
            }

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '_'))
            {
                return 0;
            }
        }

        return slash == 1 && v->data[0] != '/' && last[-1] != '/';

    default:
        /* ids, versions and timestamps: printable ASCII, no spaces */
        for ( /* void */ ; p < last; p++) {
            if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
                return 0;
            }
        }

        return 1;
    }
}


/*
 * The signature covers the exact bytes on the wire, so the body is used
 * as read: in place when nginx kept it in one buffer, and in the memory
 * buffers it read it into otherwise (the first bytes in the header's
 * buffer, the rest in the body's), which the HMAC and the zone's copy
 * take piece by piece: joining them cost a 16 KB allocation and copy of
 * every webhook.  The journal's record is written from the zone's copy.
 * It is assembled only from a temporary file.
 */

static ngx_int_t
ngx_http_order_edit_read_body(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_str_t    *body;
    ngx_uint_t    in_file;
    ngx_chain_t  *cl;

    body = &ctx->body;
    body->len = 0;
    body->data = NULL;
    ctx->bufs = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;
    in_file = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            in_file = 1;
            len += (size_t) (b->file_last - b->file_pos);

        } else {
            len += (size_t) (b->last - b->pos);
        }
    }

    if (len == 0) {
        return NGX_OK;
    }

    body->len = len;

    if (!in_file) {
        ctx->bufs = r->request_body->bufs;
        return NGX_OK;
    }

    return ngx_http_order_edit_join_body(r, ctx);
}


/* the body in one piece, from its buffers and temporary file */

static ngx_int_t
ngx_http_order_edit_join_body(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx)
{
    u_char       *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    p = ngx_pnalloc(r->pool, ctx->body.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->body.data = p;
    ctx->bufs = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        /* the temp file is local and fresh in the page cache */
        size = (size_t) (b->file_last - b->file_pos);

        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if ((size_t) n != size) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "order_edit: short read of the body file \"%V\": "
                          "%z of %uz bytes", &b->file->name, n, size);
            return NGX_ERROR;
        }

        p += n;
    }

    return NGX_OK;
}


/* every accepted secret is tried; each comparison is constant time */

static ngx_uint_t
ngx_http_order_edit_verify(ngx_http_request_t *r,
    ngx_http_order_edit_ingest_ctx_t *ctx, u_char *expected)
{
    u_char                             md[EVP_MAX_MD_SIZE];
    size_t                             mdlen;
    ngx_buf_t                         *b;
    ngx_uint_t                         i, ok;
    ngx_chain_t                       *cl;
    EVP_MAC_CTX                       *mac;
    unsigned int                       len;
    ngx_http_order_edit_store_conf_t  *store;

    ok = 0;
    store = ctx->store;

    for (i = 0; i < store->nsecrets; i++) {
        mac = ngx_http_order_edit_hmac(store, i);

        if (mac != NULL) {
            /* without a key, init starts over from the keyed state */
            if (EVP_MAC_init(mac, NULL, 0, NULL) != 1) {
                continue;
            }

            if (ctx->body.data != NULL) {
                if (EVP_MAC_update(mac, ctx->body.data, ctx->body.len) != 1)
                {
                    continue;
                }

            } else {
                for (cl = ctx->bufs; cl; cl = cl->next) {
                    b = cl->buf;

                    if (EVP_MAC_update(mac, b->pos, b->last - b->pos) != 1)
                    {
                        break;
                    }
                }

                if (cl != NULL) {
                    continue;
                }
            }

            if (EVP_MAC_final(mac, md, &mdlen, sizeof(md)) != 1
                || mdlen != NGX_HTTP_ORDER_EDIT_HMAC_LEN)
            {
                continue;
            }

        } else {
            len = 0;

            /* the one-shot wants the body in one piece */
            if ((ctx->body.data == NULL
                 && ngx_http_order_edit_join_body(r, ctx) != NGX_OK)
                || HMAC(EVP_sha256(), store->secrets[i].data,
                        (int) store->secrets[i].len, ctx->body.data,
                        ctx->body.len, md, &len)
                   == NULL
                || len != NGX_HTTP_ORDER_EDIT_HMAC_LEN)
            {
                continue;
            }
        }

        if (CRYPTO_memcmp(md, expected, NGX_HTTP_ORDER_EDIT_HMAC_LEN) == 0) {
            ok = 1;
        }
    }

    return ok;
}


/*
 * A secret's HMAC-SHA256 context, keyed once in each worker, on the
 * first webhook it checks.  The one-shot HMAC() fetches the algorithm,
 * makes and frees a context and hashes the key (two SHA-256 blocks) for
 * every webhook: 1.5-1.8 us of the 12 that a 16 KB body takes.  It is
 * freed with the cycle; the unknown shops' store, a static that outlives
 * cycles, forgets it then, and keys a new one when next needed.  NULL:
 * OpenSSL made none, and the one-shot does the work.
 */

static EVP_MAC_CTX *
ngx_http_order_edit_hmac(ngx_http_order_edit_store_conf_t *store,
    ngx_uint_t i)
{
    EVP_MAC             *alg;
    OSSL_PARAM           params[2];
    EVP_MAC_CTX         *mac;
    ngx_pool_cleanup_t  *cln;

    if (store->hmac[i] != NULL) {
        return store->hmac[i];
    }

    alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (alg == NULL) {
        return NULL;
    }

    mac = EVP_MAC_CTX_new(alg);
    EVP_MAC_free(alg);

    if (mac == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(mac, store->secrets[i].data, store->secrets[i].len,
                     params)
        != 1)
    {
        EVP_MAC_CTX_free(mac);
        return NULL;
    }

    /*
     * The cleanup only once the context is made: a failure above is
     * retried by the next webhook, and must not leave a cleanup each time
     */
    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        EVP_MAC_CTX_free(mac);
        return NULL;
    }

    cln->handler = (store == &ngx_http_order_edit_unknown)
                   ? ngx_http_order_edit_hmac_unknown_cleanup
                   : ngx_http_order_edit_hmac_cleanup;
    cln->data = mac;

    store->hmac[i] = mac;

    return mac;
}


static void
ngx_http_order_edit_hmac_cleanup(void *data)
{
    EVP_MAC_CTX_free(data);
}


static void
ngx_http_order_edit_hmac_unknown_cleanup(void *data)
{
    EVP_MAC_CTX_free(data);
    ngx_http_order_edit_unknown.hmac[0] = NULL;
}


static ngx_uint_t
ngx_http_order_edit_topic_wanted(ngx_http_order_edit_store_conf_t *store,
    ngx_str_t *topic)
{
    ngx_str_t   *t;
    ngx_uint_t   i;

    t = store->topics->elts;

    for (i = 0; i < store->topics->nelts; i++) {
        if (t[i].len == topic->len
            && ngx_strncmp(t[i].data, topic->data, topic->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The order id, when the first bytes give it away: a hint for operators
 * and the dispatcher's coalescing, never parsed JSON (that is the
 * dispatcher's job, off the request path).  Orders start with their "id";
 * refunds and order edits carry an "order_id" near the top.
 */

static u_char *
ngx_http_order_edit_skip_space(u_char *p, u_char *last)
{
    while (p < last && (*p == ' ' || *p == '\n' || *p == '\r'
                        || *p == '\t'))
    {
        p++;
    }

    return p;
}


static uint64_t
ngx_http_order_edit_order_hint(ngx_str_t *topic,
    ngx_http_order_edit_ingest_ctx_t *ctx)
{
    u_char       *p, *last, head[NGX_HTTP_ORDER_EDIT_HINT_SCAN];
    size_t        len, n;
    uint64_t      id;
    ngx_chain_t  *cl;

    len = ngx_min(ctx->body.len, NGX_HTTP_ORDER_EDIT_HINT_SCAN);
    p = ctx->body.data;

    if (p == NULL) {
        /* the first bytes, from as many buffers as hold them */
        p = ctx->bufs->buf->pos;

        if ((size_t) (ctx->bufs->buf->last - p) < len) {
            p = head;

            for (cl = ctx->bufs; cl && p < head + len; cl = cl->next) {
                n = ngx_min((size_t) (cl->buf->last - cl->buf->pos),
                            (size_t) (head + len - p));

                if (n) {
                    p = ngx_cpymem(p, cl->buf->pos, n);
                }
            }

            p = head;
        }
    }

    last = p + len;

    if (topic->len > 7 && ngx_strncmp(topic->data, "orders/", 7) == 0
        && !(topic->len == 13 && ngx_strncmp(topic->data, "orders/edited",
                                             13) == 0))
    {
        /* '{', then "id" as the first key, white space allowed */
        p = ngx_http_order_edit_skip_space(p, last);

        if (p == last || *p++ != '{') {
            return 0;
        }

        p = ngx_http_order_edit_skip_space(p, last);

        if (last - p < 5 || ngx_strncmp(p, "\"id\"", 4) != 0) {
            return 0;
        }

        p = ngx_http_order_edit_skip_space(p + 4, last);

        if (p == last || *p++ != ':') {
            return 0;
        }

    } else {
        p = ngx_strlcasestrn(p, last, (u_char *) "\"order_id\":", 11 - 1);
        if (p == NULL) {
            return 0;
        }

        p += 11;
    }

    p = ngx_http_order_edit_skip_space(p, last);

    id = 0;

    /* 19 digits always fit in 64 bits */
    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (id > 99999999999999999ULL) {
            return 0;
        }

        id = id * 10 + (*p - '0');
    }

    return id;
}


/* answers a jansson document, indented for people, and releases it */

ngx_int_t
ngx_http_order_edit_send_json(ngx_http_request_t *r, void *doc)
{
    char    *text;
    u_char  *body;
    size_t   len;

    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body, text, len);
    body[len++] = '\n';
    free(text);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_json_type, body, len,
                                    0);
}


ngx_int_t
ngx_http_order_edit_allow(ngx_http_request_t *r, char *methods)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) methods;
    h->value.len = ngx_strlen(methods);

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, time_t retry_after)
{
    u_char  *p, *body;
    size_t   len;

    len = sizeof("{\"error\":\"\",\"message\":\"\"}\n") - 1
          + ngx_strlen(code) + ngx_strlen(message);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* codes and messages are our own constants: nothing to escape */
    p = ngx_sprintf(body, "{\"error\":\"%s\",\"message\":\"%s\"}\n",
                    code, message);

    return ngx_http_order_edit_send(r, status,
                                    &ngx_http_order_edit_json_type,
                                    body, p - body, retry_after);
}


ngx_int_t
ngx_http_order_edit_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len, time_t retry_after)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = len;

    if (retry_after > 0) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%T", retry_after)
                       - h->value.data;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * The shape of a shop's permanent domain, the one Shopify sends in
 * X-Shopify-Shop-Domain: one name of letters, digits and hyphens, starting
 * with a letter or digit, then ".myshopify.com" (shopify.dev, "Shop domain
 * validation": ^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$).  The name is a
 * DNS label, so at most 63 characters.  Case is not significant here; the
 * domain is lower-cased before use.
 */

ngx_uint_t
ngx_http_order_edit_shop_domain_valid(ngx_str_t *shop)
{
    u_char  c, *p, *last;

    static u_char  suffix[] = ".myshopify.com";

    if (shop->len < sizeof(suffix) || shop->len > 63 + sizeof(suffix) - 1
        || ngx_strncasecmp(shop->data + shop->len - (sizeof(suffix) - 1),
                           suffix, sizeof(suffix) - 1)
           != 0)
    {
        return 0;
    }

    p = shop->data;
    last = p + shop->len - (sizeof(suffix) - 1);

    if (*p == '-') {
        return 0;
    }

    for ( /* void */ ; p < last; p++) {
        c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The store an unknown shop is checked against: one secret of 32 random
 * bytes, drawn once per worker and never shown (a signature that matches
 * it is refused all the same), and the largest max_body of the stores,
 * so that a body some store would read is read for an unknown shop too.
 */

static ngx_http_order_edit_store_conf_t *
ngx_http_order_edit_unknown_store(ngx_http_order_edit_main_conf_t *omcf)
{
    size_t                              max;
    ngx_uint_t                          i;
    ngx_http_order_edit_store_conf_t  **sp, *u;

    u = &ngx_http_order_edit_unknown;

    if (u->nsecrets == 0) {
        if (RAND_bytes(ngx_http_order_edit_unknown_key,
                       sizeof(ngx_http_order_edit_unknown_key))
            != 1)
        {
            /* a worse key does no harm: nothing it signs is accepted */
            ngx_memset(ngx_http_order_edit_unknown_key, 0x5c,
                       sizeof(ngx_http_order_edit_unknown_key));
        }

        u->secrets[0].data = ngx_http_order_edit_unknown_key;
        u->secrets[0].len = sizeof(ngx_http_order_edit_unknown_key);
        u->nsecrets = 1;
    }

    /* a few stores at most: looked at each time, so a reload is seen */
    max = 0;
    sp = omcf->stores.elts;

    for (i = 0; i < omcf->stores.nelts; i++) {
        max = ngx_max(max, sp[i]->max_body);
    }

    u->max_body = max ? max : 1024 * 1024;

    return u;
}
