
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order_edit_queue_debug: the queue API (lease, ack, requeue, peek,
 * depth, reclaim) over HTTP, so the suites can drive it the way the
 * dispatcher will, and "normalise", which shows what the oldest webhook
 * of a shop becomes under that store's options.  For tests and for
 * operators on loopback only: it can take webhooks out of the queue.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_order_edit_queue_debug.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_store.h"
#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_nsbody.h"


static ngx_int_t ngx_http_order_edit_qd_msg(ngx_http_request_t *r,
    ngx_http_order_edit_msg_t *msg);
static ngx_int_t ngx_http_order_edit_qd_handle(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg);
static ngx_int_t ngx_http_order_edit_qd_normalise(ngx_http_request_t *r,
    ngx_http_order_edit_msg_t *msg);
static ngx_int_t ngx_http_order_edit_qd_same(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg,
    ngx_uint_t max);
static ngx_int_t ngx_http_order_edit_qd_check(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone);
static ngx_int_t ngx_http_order_edit_qd_uint(ngx_http_request_t *r,
    char *name, uint64_t *value);
static ngx_int_t ngx_http_order_edit_qd_text(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_http_order_edit_qd_answer(ngx_http_request_t *r,
    u_char *p, u_char *last);


/* op=drain: a request that answers once the queue is empty */
typedef struct {
    ngx_http_request_t              *r;
    ngx_http_order_edit_zone_t      *zone;
    ngx_event_t                      timer;
    ngx_msec_t                       deadline;
    ngx_uint_t                       keep;
} ngx_http_order_edit_qd_drain_t;


static ngx_int_t ngx_http_order_edit_qd_drain(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone);
static void ngx_http_order_edit_qd_drain_check(ngx_event_t *ev);
static ngx_int_t ngx_http_order_edit_qd_drain_answer(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_uint_t keep);


static ngx_str_t  ngx_http_order_edit_qd_type =
    ngx_string("application/json");


ngx_int_t
ngx_http_order_edit_queue_debug_handler(ngx_http_request_t *r)
{
    u_char                          *p;
    uint64_t                         ms, n;
    ngx_int_t                        rc;
    ngx_str_t                        op, shop, reason, detail;
    ngx_http_order_edit_msg_t        msg;
    ngx_http_order_edit_zone_t      *zone;
    ngx_http_order_edit_loc_conf_t  *olcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    zone = olcf->shm_zone->data;

    if (ngx_http_arg(r, (u_char *) "op", 2, &op) != NGX_OK) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request",
                   "op is lease, peek, normalise, ack, requeue, park, depth, "
                   "drain, reclaim, same or check", 0);
    }

    ngx_memzero(&msg, sizeof(ngx_http_order_edit_msg_t));

    if (op.len == 5 && ngx_strncmp(op.data, "lease", 5) == 0) {

        if (ngx_http_order_edit_qd_uint(r, "ms", &ms) != NGX_OK) {
            ms = 60000;
        }

        rc = ngx_http_order_edit_queue_lease(zone, r->pool, (ngx_msec_t) ms,
                                             &msg);
        return ngx_http_order_edit_qd_handle(r, zone, rc == NGX_OK ? &msg
                                                                   : NULL);
    }

    if (op.len == 4 && ngx_strncmp(op.data, "peek", 4) == 0) {

        if (ngx_http_arg(r, (u_char *) "shop", 4, &shop) != NGX_OK) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request", "peek needs shop", 0);
        }

        rc = ngx_http_order_edit_queue_peek(zone, r->pool, &shop, &msg);
        return ngx_http_order_edit_qd_handle(r, zone, rc == NGX_OK ? &msg
                                                                   : NULL);
    }

    if (op.len == 9 && ngx_strncmp(op.data, "normalise", 9) == 0) {

        if (ngx_http_arg(r, (u_char *) "shop", 4, &shop) != NGX_OK) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request", "normalise needs shop", 0);
        }

        /* a given webhook (queued, leased or parked), or the oldest */
        rc = (ngx_http_order_edit_qd_uint(r, "id", &n) == NGX_OK)
             ? ngx_http_order_edit_queue_find(zone, r->pool, &shop, n, &msg)
             : ngx_http_order_edit_queue_peek(zone, r->pool, &shop, &msg);

        if (rc != NGX_OK) {
            return ngx_http_order_edit_qd_handle(r, zone, NULL);
        }

        return ngx_http_order_edit_qd_normalise(r, &msg);
    }

    if (op.len == 5 && ngx_strncmp(op.data, "depth", 5) == 0) {
        p = ngx_pnalloc(r->pool, 64);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = (ngx_http_arg(r, (u_char *) "shop", 4, &shop) == NGX_OK)
            ? ngx_http_order_edit_queue_depth(zone, &shop)
            : ngx_http_order_edit_queue_depth(zone, NULL);

        return ngx_http_order_edit_qd_answer(r, p,
                   ngx_sprintf(p, "{\"depth\":%uL}\n", n));
    }

    if (op.len == 5 && ngx_strncmp(op.data, "check", 5) == 0) {
        return ngx_http_order_edit_qd_check(r, zone);
    }

    if (op.len == 4 && ngx_strncmp(op.data, "same", 4) == 0) {

        if (ngx_http_order_edit_qd_msg(r, &msg) != NGX_OK
            || ngx_http_order_edit_qd_uint(r, "order", &msg.order_id)
               != NGX_OK)
        {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request", "shop, id, token and order are "
                       "required", 0);
        }

        if (ngx_http_order_edit_qd_uint(r, "max", &n) != NGX_OK) {
            n = 16;
        }

        return ngx_http_order_edit_qd_same(r, zone, &msg, (ngx_uint_t) n);
    }

    if (op.len == 5 && ngx_strncmp(op.data, "drain", 5) == 0) {
        return ngx_http_order_edit_qd_drain(r, zone);
    }

    if (op.len == 7 && ngx_strncmp(op.data, "reclaim", 7) == 0) {
        p = ngx_pnalloc(r->pool, 64);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = ngx_http_order_edit_queue_reclaim(zone, 1);

        return ngx_http_order_edit_qd_answer(r, p,
                   ngx_sprintf(p, "{\"reclaimed\":%uL}\n", n));
    }

    if (op.len == 4 && ngx_strncmp(op.data, "park", 4) == 0) {

        if (ngx_http_order_edit_qd_msg(r, &msg) != NGX_OK
            || ngx_http_order_edit_qd_text(r, "reason", &reason) != NGX_OK)
        {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request",
                       "shop, id, token and reason are required", 0);
        }

        if (ngx_http_order_edit_qd_text(r, "detail", &detail) != NGX_OK) {
            ngx_str_null(&detail);
        }

        rc = ngx_http_order_edit_queue_park(zone, &msg, &reason, &detail);

        if (rc != NGX_OK) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_CONFLICT,
                       "not_leased", "no such lease", 0);
        }

        return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                   &ngx_http_order_edit_qd_type, (u_char *) "{\"ok\":true}\n",
                   sizeof("{\"ok\":true}\n") - 1, 0);
    }

    if ((op.len == 3 && ngx_strncmp(op.data, "ack", 3) == 0)
        || (op.len == 7 && ngx_strncmp(op.data, "requeue", 7) == 0))
    {
        if (ngx_http_order_edit_qd_msg(r, &msg) != NGX_OK) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request", "shop, id and token are required",
                       0);
        }

        if (op.len == 3) {
            rc = ngx_http_order_edit_queue_ack(zone, &msg,
                                                   NGX_HTTP_ORDER_EDIT_C_LAST);

        } else {
            if (ngx_http_order_edit_qd_uint(r, "delay", &ms) != NGX_OK) {
                ms = 0;
            }

            rc = ngx_http_order_edit_queue_requeue(zone, &msg,
                                                   (ngx_msec_t) ms);
        }

        if (rc != NGX_OK) {
            /* not leased, or leased again since: the token is stale */
            return ngx_http_order_edit_send_error(r, NGX_HTTP_CONFLICT,
                       "not_leased", "no such lease", 0);
        }

        return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                   &ngx_http_order_edit_qd_type, (u_char *) "{\"ok\":true}\n",
                   sizeof("{\"ok\":true}\n") - 1, 0);
    }

    return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
               "invalid_request",
               "op is lease, peek, normalise, ack, requeue, park, depth, "
                   "drain, reclaim, same or check", 0);
}


/* shop, id and token from the arguments, as a lease holder keeps them */

static ngx_int_t
ngx_http_order_edit_qd_msg(ngx_http_request_t *r,
    ngx_http_order_edit_msg_t *msg)
{
    ngx_str_t                        shop;
    ngx_http_order_edit_zone_t      *zone;
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    zone = olcf->shm_zone->data;

    if (ngx_http_arg(r, (u_char *) "shop", 4, &shop) != NGX_OK
        || ngx_http_order_edit_qd_uint(r, "id", &msg->id) != NGX_OK
        || ngx_http_order_edit_qd_uint(r, "token", &msg->token) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    msg->shop_node = ngx_http_order_edit_shop_lookup(zone, &shop, 0);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


static ngx_int_t
ngx_http_order_edit_qd_handle(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg)
{
    u_char        *p, *last, md[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE];
    size_t         len;
    unsigned int   mdlen;

    if (msg == NULL) {
        return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                   &ngx_http_order_edit_qd_type, (u_char *) "{\"item\":null}\n",
                   sizeof("{\"item\":null}\n") - 1, 0);
    }

    /* the body's digest lets a test prove it came back byte for byte */
    if (EVP_Digest(msg->body.data, msg->body.len, md, &mdlen, EVP_sha256(),
                   NULL)
        != 1)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_hex_dump(hex, md, mdlen);

    /* every string here passed ingest's header syntax checks */
    len = 256 + 2 * mdlen + msg->shop.len + msg->topic.len + msg->webhook_id.len
          + msg->event_id.len + msg->api_version.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "{\"item\":{\"id\":%uL,\"token\":%uL,"
                       "\"shop\":\"%V\",\"topic\":\"%V\","
                       "\"webhook_id\":\"%V\",\"event_id\":\"%V\","
                       "\"api_version\":\"%V\",\"order_id\":%uL,"
                       "\"attempts\":%ui,\"body_bytes\":%uz,"
                       "\"body_sha256\":\"%*s\"}}\n",
                       msg->id, msg->token, &msg->shop, &msg->topic,
                       &msg->webhook_id, &msg->event_id, &msg->api_version,
                       msg->order_id, msg->attempts, msg->body.len,
                       (size_t) (2 * mdlen), hex);

    return ngx_http_order_edit_qd_answer(r, p, last);
}


/*
 * The document and the NetSuite request a webhook becomes, the way the
 * dispatcher will make them: the store's configured options, the payload
 * as queued.  Numbers go out exactly as the normaliser wrote them.
 */

static ngx_int_t
ngx_http_order_edit_qd_normalise(ngx_http_request_t *r,
    ngx_http_order_edit_msg_t *msg)
{
    char                               *doc, *text;
    u_char                             *p, *last;
    size_t                              len;
    json_t                             *err;
    ngx_int_t                           rc;
    ngx_http_order_edit_norm_input_t    in;
    ngx_http_order_edit_norm_result_t   res;
    ngx_http_order_edit_main_conf_t    *omcf;
    ngx_http_order_edit_store_conf_t   *store;

    static const char  *kinds[] = {
        "none", "sales_order", "credit_memo", "cancellation",
        "edit_pending", "stale"
    };

    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);

    store = ngx_http_order_edit_find_store(omcf, &msg->shop);
    if (store == NULL) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_CONFLICT,
                   "no_store", "the shop has no store block any more", 0);
    }

    ngx_http_order_edit_queue_norm_input(msg, &in);

    (void) ngx_http_order_edit_nsbody_normalise(&store->norm, &in, &res);

    doc = NULL;
    text = NULL;

    if (res.kind == NGX_HTTP_ORDER_EDIT_NORM_ERROR) {
        err = json_pack("{s:s, s:s, s:s}", "kind", "error",
                        "error", res.error, "message", res.message);
        text = err ? json_dumps(err, JSON_COMPACT) : NULL;
        json_decref(err);

        len = text ? ngx_strlen(text) + 1 : 0;

    } else {
        doc = res.doc ? ngx_http_order_edit_json_dumps(res.doc, JSON_COMPACT)
                      : NULL;

        len = 128 + ngx_strlen(kinds[res.kind])
              + (res.method ? ngx_strlen(res.method) : 0)
              + (res.path ? ngx_strlen(res.path) : 0)
              + res.body_len + (doc ? ngx_strlen(doc) : 0);
    }

    p = (len > 0) ? ngx_pnalloc(r->pool, len) : NULL;

    if (p == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    if (text) {
        last = ngx_sprintf(p, "%s\n", text);

    } else {
        /* the path is the normaliser's own: letters, digits, "/:?=-_" */
        last = ngx_sprintf(p, "{\"kind\":\"%s\",", kinds[res.kind]);

        if (res.method) {
            last = ngx_sprintf(last, "\"method\":\"%s\",\"path\":\"%s\","
                               "\"body\":%*s,", res.method, res.path,
                               res.body_len, res.body);
        }

        last = ngx_sprintf(last, "\"document\":%s}\n", doc ? doc : "null");
    }

    rc = ngx_http_order_edit_qd_answer(r, p, last);

done:

    free(doc);
    free(text);
    ngx_http_order_edit_norm_result_free(&res);

    return rc;
}


/*
 * op=same&shop=S&id=N&token=T&order=O[&max=M]: the ids of the other
 * orders/updated webhooks of order O the coalescer would find for the
 * webhook N (its msg as a lease holder keeps it), in the order it gives
 * them.
 */

static ngx_int_t
ngx_http_order_edit_qd_same(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg,
    ngx_uint_t max)
{
    u_char                     *p, *last;
    ngx_uint_t                  i;
    ngx_array_t                 out;
    ngx_http_order_edit_msg_t  *m;

    if (ngx_array_init(&out, r->pool, 4, sizeof(ngx_http_order_edit_msg_t))
        != NGX_OK
        || ngx_http_order_edit_queue_same_order(zone, r->pool, msg, max, &out)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 32 + out.nelts * (NGX_INT64_LEN + 1));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "{\"same\":[");
    m = out.elts;

    for (i = 0; i < out.nelts; i++) {
        last = ngx_sprintf(last, i ? ",%uL" : "%uL", m[i].id);
    }

    last = ngx_sprintf(last, "]}\n");

    return ngx_http_order_edit_qd_answer(r, p, last);
}


/* op=check: the zone's order index agrees with its lists (queue_check) */

static ngx_int_t
ngx_http_order_edit_qd_check(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone)
{
    u_char      *p, *last;
    char        *err;
    ngx_uint_t   n;

    err = ngx_http_order_edit_queue_check(zone, &n);

    if (err != NULL) {
        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "inconsistent", err, 0);
    }

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "{\"ok\":true,\"indexed\":%ui}\n", n);

    return ngx_http_order_edit_qd_answer(r, p, last);
}


static ngx_int_t
ngx_http_order_edit_qd_uint(ngx_http_request_t *r, char *name,
    uint64_t *value)
{
    off_t      n;
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    n = ngx_atoof(v.data, v.len);
    if (n < 0) {
        return NGX_DECLINED;
    }

    *value = (uint64_t) n;

    return NGX_OK;
}


/* an argument, percent-decoded */

static ngx_int_t
ngx_http_order_edit_qd_text(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK
        || v.len == 0)
    {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, v.len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = v.data;

    ngx_unescape_uri(&dst, &src, v.len, 0);

    value->len = dst - value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_order_edit_qd_answer(ngx_http_request_t *r, u_char *p,
    u_char *last)
{
    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_qd_type, p,
                                    last - p, 0);
}


/*
 * op=drain[&ms=N][&keep=K]: the answer waits, on a timer, until nothing
 * is queued or in flight (parked exceptions do not count), or at most K
 * are (webhooks a suite expects to wait on), or N ms (default 10000, at
 * most 60000) have passed; a suite waits for the dispatcher with it
 * instead of sleeping.
 */

static ngx_int_t
ngx_http_order_edit_qd_drain(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone)
{
    uint64_t                         ms, keep;
    ngx_http_order_edit_qd_drain_t  *d;

    if (ngx_http_order_edit_qd_uint(r, "ms", &ms) != NGX_OK) {
        ms = 10000;
    }

    if (ngx_http_order_edit_qd_uint(r, "keep", &keep) != NGX_OK) {
        keep = 0;
    }

    ms = ngx_min(ms, 60000);

    if (ngx_http_order_edit_queue_depth(zone, NULL) <= keep || ms == 0) {
        return ngx_http_order_edit_qd_drain_answer(r, zone, keep);
    }

    d = ngx_pcalloc(r->pool, sizeof(ngx_http_order_edit_qd_drain_t));
    if (d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d->r = r;
    d->zone = zone;
    d->keep = keep;
    d->deadline = ngx_current_msec + (ngx_msec_t) ms;
    d->timer.handler = ngx_http_order_edit_qd_drain_check;
    d->timer.data = d;
    d->timer.log = r->connection->log;

    ngx_add_timer(&d->timer, 10);

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_order_edit_qd_drain_check(ngx_event_t *ev)
{
    ngx_http_order_edit_qd_drain_t *d = ev->data;

    if (ngx_http_order_edit_queue_depth(d->zone, NULL) > d->keep
        && (ngx_msec_int_t) (d->deadline - ngx_current_msec) > 0)
    {
        ngx_add_timer(ev, 10);
        return;
    }

    ngx_http_finalize_request(d->r,
        ngx_http_order_edit_qd_drain_answer(d->r, d->zone, d->keep));
}


static ngx_int_t
ngx_http_order_edit_qd_drain_answer(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_uint_t keep)
{
    u_char      *p;
    ngx_uint_t   depth, exceptions;

    p = ngx_pnalloc(r->pool, 96);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    depth = zone->sh->nitems;
    exceptions = zone->sh->nexceptions;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    return ngx_http_order_edit_qd_answer(r, p,
               ngx_sprintf(p, "{\"drained\":%s,\"depth\":%ui,"
                           "\"exceptions\":%ui}\n",
                           depth > keep ? "false" : "true", depth,
                           exceptions));
}
