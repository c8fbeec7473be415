
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 *   GET  <location>[?shop=]          the exceptions, oldest first per shop,
 *                                    and those resolved within keep_resolved
 *   POST <location>/<id>/retry       back to the queue for delivery
 *   POST <location>/<id>/resolve     dealt with by a person: dropped from
 *                                    the queue, kept readable a while
 *
 * A POST must come from the same origin with a JSON content type, so a
 * page on another site cannot act through a person's browser (a form
 * cannot send application/json without a CORS preflight, refused here).
 *
 * Resolved exceptions live in a small shared memory zone of their own,
 * apart from the queue's zone: the queue drops a resolved exception as
 * before, and a copy taken just before is appended here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_store.h"
#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_console.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_normalise.h"


/* the resolved exceptions a zone keeps: at most this much memory */
#define NGX_HTTP_ORDER_EDIT_RESOLVED_SIZE  (512 * 1024)

/* keep_resolved's default */
#define NGX_HTTP_ORDER_EDIT_KEEP_RESOLVED  (7 * 86400)

#define NGX_HTTP_ORDER_EDIT_ACTOR_MAX      128


/* one resolved exception, in the resolved zone */
typedef struct {
    ngx_queue_t                        queue;      /* oldest first */
    uint64_t                           id;
    uint64_t                           order_id;
    uint64_t                           received_ms;
    uint64_t                           first_ms;
    uint64_t                           last_ms;
    uint64_t                           resolved_ms;
    ngx_uint_t                         attempts;
    u_short                            len[6];     /* the strings below */
    u_char                             data[1];    /* shop, topic, webhook
                                                      id, reason, detail,
                                                      actor */
} ngx_http_order_edit_resolved_t;


typedef struct {
    ngx_queue_t                        list;
    ngx_uint_t                         count;
} ngx_http_order_edit_resolved_sh_t;


/* what the directive sets up, per order_edit_zone */
typedef struct {
    ngx_shm_zone_t                    *shm_zone;
    ngx_slab_pool_t                   *shpool;
    ngx_http_order_edit_resolved_sh_t *sh;
    time_t                             keep;       /* the longest asked */
} ngx_http_order_edit_resolved_ctx_t;


/* a resolved exception as listed */
typedef struct {
    ngx_http_order_edit_exc_info_t     info;
    uint64_t                           resolved_ms;
    ngx_str_t                          actor;
} ngx_http_order_edit_resolved_info_t;


static ngx_int_t ngx_http_order_edit_exc_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *rest);
static void ngx_http_order_edit_exc_numbers(ngx_http_order_edit_zone_t *zone,
    ngx_array_t *out, uint64_t *numbers);
static uint64_t ngx_http_order_edit_exc_number(u_char *body, size_t len);
static ngx_int_t ngx_http_order_edit_exc_find(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, uint64_t id, ngx_http_order_edit_exc_info_t *out);
static void ngx_http_order_edit_resolved_add(
    ngx_http_order_edit_resolved_ctx_t *ctx,
    ngx_http_order_edit_exc_info_t *x, ngx_str_t *actor);
static ngx_int_t ngx_http_order_edit_resolved_list(
    ngx_http_order_edit_resolved_ctx_t *ctx, ngx_pool_t *pool,
    ngx_str_t *shop, ngx_array_t *out);
static void ngx_http_order_edit_resolved_expire_locked(
    ngx_http_order_edit_resolved_ctx_t *ctx, uint64_t now);
static ngx_int_t ngx_http_order_edit_resolved_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static json_t *ngx_http_order_edit_exc_json(ngx_http_order_edit_main_conf_t
    *omcf, ngx_http_order_edit_exc_info_t *x, uint64_t number);
static json_t *ngx_http_order_edit_exc_time(uint64_t ms);
static json_t *ngx_http_order_edit_exc_str(ngx_str_t *s);


static ngx_str_t  ngx_http_order_edit_exc_type =
    ngx_string("application/json");


ngx_int_t
ngx_http_order_edit_exceptions_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        rest;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_order_edit_loc_conf_t  *olcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* what follows the location's own prefix: "", "/", "/17/retry" */

    rest.data = r->uri.data;
    rest.len = 0;

    if (r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        rest.data = r->uri.data + clcf->name.len;
        rest.len = r->uri.len - clcf->name.len;
    }

    if (rest.len == 0 || (rest.len == 1 && rest.data[0] == '/')) {

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                       "method_not_allowed", "use GET", 0);
        }

        return ngx_http_order_edit_exc_get(r, olcf->shm_zone->data);
    }

    return ngx_http_order_edit_exc_act(r, olcf->shm_zone->data, &rest);
}


ngx_int_t
ngx_http_order_edit_exc_get(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone)
{
    json_t                               *root, *list, *done, *e;
    uint64_t                             *numbers;
    ngx_str_t                             shop, *filter;
    ngx_uint_t                            i;
    ngx_array_t                           out, gone;
    ngx_http_order_edit_exc_info_t       *x;
    ngx_http_order_edit_loc_conf_t       *olcf;
    ngx_http_order_edit_main_conf_t      *omcf;
    ngx_http_order_edit_resolved_info_t  *y;

    if (ngx_array_init(&out, r->pool, 8,
                       sizeof(ngx_http_order_edit_exc_info_t))
        != NGX_OK
        || ngx_array_init(&gone, r->pool, 8,
                          sizeof(ngx_http_order_edit_resolved_info_t))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    filter = (ngx_http_arg(r, (u_char *) "shop", 4, &shop) == NGX_OK)
             ? &shop : NULL;

    if (ngx_http_order_edit_exc_list(zone, r->pool, filter, &out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    numbers = ngx_pcalloc(r->pool, (out.nelts + 1) * sizeof(uint64_t));
    if (numbers == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_order_edit_exc_numbers(zone, &out, numbers);

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    if (olcf->resolved
        && ngx_http_order_edit_resolved_list(olcf->resolved, r->pool, filter,
                                             &gone)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);

    root = json_object();
    list = json_array();
    done = json_array();

    if (root == NULL || json_object_set_new(root, "exceptions", list) != 0) {
        json_decref(root);
        json_decref(done);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    x = out.elts;

    for (i = 0; i < out.nelts; i++) {
        e = ngx_http_order_edit_exc_json(omcf, &x[i], numbers[i]);

        if (e == NULL || json_array_append_new(list, e) != 0) {
            json_decref(root);
            json_decref(done);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    json_object_set_new(root, "count", json_integer(out.nelts));

    if (json_object_set_new(root, "resolved", done) != 0) {
        json_decref(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    y = gone.elts;

    for (i = 0; i < gone.nelts; i++) {
        e = ngx_http_order_edit_exc_json(omcf, &y[i].info, 0);

        if (e == NULL || json_array_append_new(done, e) != 0) {
            json_decref(root);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        json_object_set_new(e, "resolved_at",
                            ngx_http_order_edit_exc_time(y[i].resolved_ms));
        json_object_set_new(e, "resolved_by",
                            ngx_http_order_edit_exc_str(&y[i].actor));
    }

    return ngx_http_order_edit_send_json(r, root);
}


static json_t *
ngx_http_order_edit_exc_json(ngx_http_order_edit_main_conf_t *omcf,
    ngx_http_order_edit_exc_info_t *x, uint64_t number)
{
    json_t                            *e, *before;
    ngx_str_t                          error;
    ngx_http_order_edit_store_conf_t  *store;

    store = ngx_http_order_edit_find_store(omcf, &x->shop);

    e = json_object();
    if (e == NULL) {
        return NULL;
    }

    /* every string was made printable ASCII when it was parked */

    json_object_set_new(e, "id", json_sprintf("%llu",
                                     (unsigned long long) x->id));
    json_object_set_new(e, "shop", ngx_http_order_edit_exc_str(&x->shop));
    json_object_set_new(e, "store", store
                        ? ngx_http_order_edit_exc_str(&store->name)
                        : json_null());
    json_object_set_new(e, "topic", ngx_http_order_edit_exc_str(&x->topic));
    json_object_set_new(e, "webhook_id", ngx_http_order_edit_exc_str(
                                             &x->webhook_id));
    json_object_set_new(e, "order_id", x->order_id
                        ? json_sprintf("%llu",
                                       (unsigned long long) x->order_id)
                        : json_null());
    json_object_set_new(e, "reason", ngx_http_order_edit_exc_str(&x->reason));
    error = x->detail;
    before = ngx_http_order_edit_exc_before(&error);

    json_object_set_new(e, "netsuite_error", error.len
                        ? ngx_http_order_edit_exc_str(&error)
                        : json_null());
    json_object_set_new(e, "received_at",
                        ngx_http_order_edit_exc_time(x->received_ms));
    json_object_set_new(e, "first_seen",
                        ngx_http_order_edit_exc_time(x->first_ms));
    json_object_set_new(e, "last_seen",
                        ngx_http_order_edit_exc_time(x->last_ms));
    json_object_set_new(e, "attempts", json_integer(x->attempts));

    /* what NetSuite held, when the dispatcher kept it (fulfilment_lock) */
    if (before) {
        json_object_set_new(e, "netsuite_before", before);
    }

    /* Shopify's order number, when the payload says it (not a refund) */
    if (number) {
        json_object_set_new(e, "order_number",
                            json_sprintf("%llu", (unsigned long long) number));
    }

    return e;
}


/* "/<id>/retry" or "/<id>/resolve", POST only */

static ngx_int_t
ngx_http_order_edit_exc_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *rest)
{
    u_char                           *p, *last, *slash;
    off_t                             id;
    ngx_str_t                         action, actor;
    const char                       *why;

    p = rest->data;
    last = p + rest->len;

    if (*p != '/') {
        goto not_found;
    }

    p++;
    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL || slash == p) {
        goto not_found;
    }

    id = ngx_atoof(p, slash - p);
    if (id <= 0) {
        goto not_found;
    }

    action.data = slash + 1;
    action.len = last - action.data;

    if (!(action.len == 5 && ngx_strncmp(action.data, "retry", 5) == 0)
        && !(action.len == 7 && ngx_strncmp(action.data, "resolve", 7) == 0))
    {
        goto not_found;
    }

    if (r->method != NGX_HTTP_POST) {
        if (ngx_http_order_edit_allow(r, "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use POST", 0);
    }

    ngx_http_order_edit_exc_actor(r, &actor);

    why = ngx_http_order_edit_exc_forbidden(r);

    if (why) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "order_edit: %V of exception #%O by %V refused: %s",
                      &action, id, &actor, why);

        return ngx_http_order_edit_send_error(r, NGX_HTTP_FORBIDDEN,
                                              "forbidden", why, 0);
    }

    return ngx_http_order_edit_exc_apply(r, zone, (uint64_t) id,
                                         action.len == 5, &actor, NULL);

not_found:

    return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
               "expected <id>/retry or <id>/resolve", 0);
}


/*
 * Retry (back to the queue) or resolve one exception, log it with who and
 * the person's note, and answer.  The caller has checked that it may.
 */

ngx_int_t
ngx_http_order_edit_exc_apply(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id, ngx_uint_t retry,
    ngx_str_t *actor, ngx_str_t *note)
{
    u_char                           *last, out[96];
    ngx_int_t                         rc, found;
    ngx_http_order_edit_loc_conf_t   *olcf;
    ngx_http_order_edit_exc_info_t    info;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    if (retry) {
        rc = ngx_http_order_edit_exc_retry(zone, id);

    } else {
        /* a copy first: the queue forgets it once resolved */
        found = NGX_DECLINED;

        if (olcf->resolved) {
            found = ngx_http_order_edit_exc_find(zone, r->pool, id, &info);
            if (found == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        rc = ngx_http_order_edit_exc_resolve(zone, id);

        if (rc == NGX_OK && found == NGX_OK) {
            ngx_http_order_edit_resolved_add(olcf->resolved, &info, actor);
        }
    }

    if (rc != NGX_OK) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND,
                   "not_found", "no exception with that id", 0);
    }

    /* people's actions on the queue are worth a line each, with who */
    if (note && note->len) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "order_edit: exception #%uL %s by %V, note: \"%V\"",
                      id, retry ? "sent back to the queue" : "resolved",
                      actor, note);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "order_edit: exception #%uL %s by %V", id,
                      retry ? "sent back to the queue" : "resolved", actor);
    }

    last = ngx_sprintf(out, "{\"status\":\"%s\",\"id\":\"%uL\"}\n",
                       retry ? "requeued" : "resolved", id);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_exc_type, out,
                                    last - out, 0);
}


/*
 * NULL for a POST a page of this origin (or a non-browser client) made;
 * else why not.  Browsers send Sec-Fetch-Site and, on a POST, Origin; a
 * client that sends neither (curl, a script) is not a browser, and a
 * cross-site browser request cannot hide both.  The content type is what
 * a cross-site form cannot forge without a CORS preflight, which nothing
 * here answers.
 */

const char *
ngx_http_order_edit_exc_forbidden(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_str_t        *v, host;
    ngx_table_elt_t  *h;

    h = ngx_http_order_edit_exc_header(r, "sec-fetch-site",
                                       sizeof("sec-fetch-site") - 1);

    /* "none": typed in or bookmarked by the user, not sent by a page */
    if (h != NULL
        && !(h->value.len == 11
             && ngx_strncasecmp(h->value.data, (u_char *) "same-origin", 11)
                == 0)
        && !(h->value.len == 4
             && ngx_strncasecmp(h->value.data, (u_char *) "none", 4) == 0))
    {
        return "a cross-site request (Sec-Fetch-Site) may not act on "
               "exceptions";
    }

    h = ngx_http_order_edit_exc_header(r, "origin", sizeof("origin") - 1);

    if (h != NULL) {
        v = &h->value;
        p = v->data;
        last = p + v->len;

        if (v->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
            p += 7;

        } else if (v->len > 8
                   && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
        {
            p += 8;

        } else {
            return "a request from another origin may not act on exceptions";
        }

        host.len = 0;

        if (r->headers_in.host) {
            host = r->headers_in.host->value;
        }

        if ((size_t) (last - p) != host.len || host.len == 0
            || ngx_strncasecmp(p, host.data, host.len) != 0)
        {
            return "a request from another origin may not act on exceptions";
        }
    }

    h = r->headers_in.content_type;

    if (h == NULL
        || h->value.len < sizeof("application/json") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "application/json",
                           sizeof("application/json") - 1)
           != 0
        || (h->value.len > sizeof("application/json") - 1
            && h->value.data[sizeof("application/json") - 1] != ';'
            && h->value.data[sizeof("application/json") - 1] != ' '))
    {
        return "Content-Type: application/json is required";
    }

    return NULL;
}


ngx_table_elt_t *
ngx_http_order_edit_exc_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].lowcase_key, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * Who acts: the client's address and, when there is one, $remote_user
 * (authenticated only where the location checks it: auth_basic, say).
 */

void
ngx_http_order_edit_exc_actor(ngx_http_request_t *r, ngx_str_t *actor)
{
    u_char  *p, *last, c;
    size_t   i;

    actor->data = ngx_pnalloc(r->pool, NGX_HTTP_ORDER_EDIT_ACTOR_MAX);
    if (actor->data == NULL) {
        ngx_str_set(actor, "?");
        return;
    }

    p = actor->data;
    last = p + NGX_HTTP_ORDER_EDIT_ACTOR_MAX;

    p = ngx_slprintf(p, last, "%V", &r->connection->addr_text);

    if (ngx_http_auth_basic_user(r) == NGX_OK && r->headers_in.user.len) {
        p = ngx_slprintf(p, last, " user \"");

        /* printable ASCII only: it goes to the log and the status */
        for (i = 0; i < r->headers_in.user.len && p < last - 1; i++) {
            c = r->headers_in.user.data[i];
            *p++ = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
        }

        if (p < last) {
            *p++ = '"';
        }
    }

    actor->len = p - actor->data;
}


/*
 * An exception's detail is NetSuite's words, then, for a change held
 * back from an order NetSuite has, what it held (console.c writes it):
 * the words are cut to their own length, the rest parsed, or NULL.
 */

json_t *
ngx_http_order_edit_exc_before(ngx_str_t *detail)
{
    u_char        *mark, *last;
    json_error_t   err;

    last = detail->data + detail->len;

    mark = ngx_strlcasestrn(detail->data, last,
                            (u_char *) NGX_HTTP_ORDER_EDIT_BEFORE_MARK,
                            sizeof(NGX_HTTP_ORDER_EDIT_BEFORE_MARK) - 2);
    if (mark == NULL) {
        return NULL;
    }

    detail->len = mark - detail->data;
    mark += sizeof(NGX_HTTP_ORDER_EDIT_BEFORE_MARK) - 1;

    return json_loadb((char *) mark, last - mark, 0, &err);
}


/*
 * Shopify's order number ("order_number": 1001, shown as #1001) of each
 * listed exception, for people who search by it.  Read from the payload
 * without parsing it: Shopify writes the order's own fields before its
 * objects, so the first 4 KB of a body are looked at, under the lock.
 */

#define NGX_HTTP_ORDER_EDIT_EXC_NUMBER_SCAN  4096

static void
ngx_http_order_edit_exc_numbers(ngx_http_order_edit_zone_t *zone,
    ngx_array_t *out, uint64_t *numbers)
{
    u_char                          *body;
    size_t                           off;
    ngx_uint_t                       i, k, next;
    ngx_queue_t                     *sq, *q;
    ngx_http_order_edit_item_t      *item;
    ngx_http_order_edit_shop_t      *shop;
    ngx_http_order_edit_exc_info_t  *x;

    x = out->elts;
    next = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (sq = ngx_queue_head(&zone->sh->shops);
         sq != ngx_queue_sentinel(&zone->sh->shops);
         sq = ngx_queue_next(sq))
    {
        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        for (q = ngx_queue_head(&shop->exceptions);
             q != ngx_queue_sentinel(&shop->exceptions);
             q = ngx_queue_next(q))
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            /*
             * The list was taken in this same order a moment ago: the
             * next one is expected, and only a change since makes it
             * search.
             */
            if (!(next < out->nelts && x[next].id == item->id)) {
                for (next = 0; next < out->nelts; next++) {
                    if (x[next].id == item->id) {
                        break;
                    }
                }

                if (next == out->nelts) {
                    continue;
                }
            }

            i = next++;

            for (off = 0, k = 0; k < 5; k++) {
                off += item->len[k];
            }

            body = item->data + off;

            numbers[i] = ngx_http_order_edit_exc_number(body,
                             ngx_min(item->body_len,
                                     NGX_HTTP_ORDER_EDIT_EXC_NUMBER_SCAN));
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static uint64_t
ngx_http_order_edit_exc_number(u_char *body, size_t len)
{
    u_char    *p, *last;
    uint64_t   n;

    static u_char  key[] = "\"order_number\":";

    p = ngx_strlcasestrn(body, body + len, key, sizeof(key) - 2);
    if (p == NULL) {
        return 0;
    }

    last = body + len;
    p += sizeof(key) - 1;

    while (p < last && (*p == ' ' || *p == '"')) {
        p++;
    }

    for (n = 0; p < last && *p >= '0' && *p <= '9' && n < 1000000000000ULL;
         p++)
    {
        n = n * 10 + (*p - '0');
    }

    return n;
}


static ngx_int_t
ngx_http_order_edit_exc_find(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, uint64_t id, ngx_http_order_edit_exc_info_t *out)
{
    ngx_uint_t                       i;
    ngx_array_t                      all;
    ngx_http_order_edit_exc_info_t  *x;

    if (ngx_array_init(&all, pool, 8, sizeof(ngx_http_order_edit_exc_info_t))
        != NGX_OK
        || ngx_http_order_edit_exc_list(zone, pool, NULL, &all) != NGX_OK)
    {
        return NGX_ERROR;
    }

    x = all.elts;

    for (i = 0; i < all.nelts; i++) {
        if (x[i].id == id) {
            *out = x[i];
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* the zone of resolved exceptions */


static void
ngx_http_order_edit_resolved_add(ngx_http_order_edit_resolved_ctx_t *ctx,
    ngx_http_order_edit_exc_info_t *x, ngx_str_t *actor)
{
    u_char                          *p;
    size_t                           size;
    uint64_t                         now;
    ngx_uint_t                       i;
    ngx_str_t                       *str[6];
    ngx_queue_t                     *q;
    ngx_http_order_edit_resolved_t  *rx;

    str[0] = &x->shop;
    str[1] = &x->topic;
    str[2] = &x->webhook_id;
    str[3] = &x->reason;
    str[4] = &x->detail;
    str[5] = actor;

    size = offsetof(ngx_http_order_edit_resolved_t, data);

    for (i = 0; i < 6; i++) {
        str[i]->len = ngx_min(str[i]->len, 65535);
        size += str[i]->len;
    }

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_order_edit_resolved_expire_locked(ctx, now);

    /* bounded: each turn frees one, or there is nothing left to free */
    for ( ;; ) {
        rx = ngx_slab_alloc_locked(ctx->shpool, size);

        if (rx != NULL || ngx_queue_empty(&ctx->sh->list)) {
            break;
        }

        q = ngx_queue_head(&ctx->sh->list);
        ngx_queue_remove(q);
        ctx->sh->count--;
        ngx_slab_free_locked(ctx->shpool, q);
    }

    if (rx == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return;
    }

    rx->id = x->id;
    rx->order_id = x->order_id;
    rx->received_ms = x->received_ms;
    rx->first_ms = x->first_ms;
    rx->last_ms = x->last_ms;
    rx->resolved_ms = now;
    rx->attempts = x->attempts;

    p = rx->data;

    for (i = 0; i < 6; i++) {
        rx->len[i] = (u_short) str[i]->len;
        p = ngx_cpymem(p, str[i]->data, str[i]->len);
    }

    ngx_queue_insert_tail(&ctx->sh->list, &rx->queue);
    ctx->sh->count++;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static ngx_int_t
ngx_http_order_edit_resolved_list(ngx_http_order_edit_resolved_ctx_t *ctx,
    ngx_pool_t *pool, ngx_str_t *shop, ngx_array_t *out)
{
    u_char                               *p;
    ngx_int_t                             rc;
    ngx_uint_t                            i;
    ngx_str_t                            *str[6];
    ngx_queue_t                          *q;
    ngx_http_order_edit_resolved_t       *rx;
    ngx_http_order_edit_resolved_info_t  *y;

    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_order_edit_resolved_expire_locked(ctx,
                                               ngx_http_order_edit_now_ms());

    for (q = ngx_queue_head(&ctx->sh->list);
         q != ngx_queue_sentinel(&ctx->sh->list);
         q = ngx_queue_next(q))
    {
        rx = ngx_queue_data(q, ngx_http_order_edit_resolved_t, queue);

        if (shop
            && (rx->len[0] != shop->len
                || ngx_strncasecmp(rx->data, shop->data, shop->len) != 0))
        {
            continue;
        }

        y = ngx_array_push(out);
        if (y == NULL) {
            rc = NGX_ERROR;
            break;
        }

        ngx_memzero(y, sizeof(ngx_http_order_edit_resolved_info_t));

        y->info.id = rx->id;
        y->info.order_id = rx->order_id;
        y->info.received_ms = rx->received_ms;
        y->info.first_ms = rx->first_ms;
        y->info.last_ms = rx->last_ms;
        y->info.attempts = rx->attempts;
        y->resolved_ms = rx->resolved_ms;

        str[0] = &y->info.shop;
        str[1] = &y->info.topic;
        str[2] = &y->info.webhook_id;
        str[3] = &y->info.reason;
        str[4] = &y->info.detail;
        str[5] = &y->actor;

        p = rx->data;

        for (i = 0; i < 6; i++) {
            str[i]->len = rx->len[i];
            str[i]->data = ngx_pnalloc(pool, rx->len[i] + 1);

            if (str[i]->data == NULL) {
                rc = NGX_ERROR;
                break;
            }

            ngx_memcpy(str[i]->data, p, rx->len[i]);
            p += rx->len[i];
        }

        if (rc != NGX_OK) {
            break;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/* oldest first: stops at the first one still within keep_resolved */

static void
ngx_http_order_edit_resolved_expire_locked(
    ngx_http_order_edit_resolved_ctx_t *ctx, uint64_t now)
{
    ngx_queue_t                     *q;
    ngx_http_order_edit_resolved_t  *rx;

    while (!ngx_queue_empty(&ctx->sh->list)) {
        q = ngx_queue_head(&ctx->sh->list);
        rx = ngx_queue_data(q, ngx_http_order_edit_resolved_t, queue);

        if (rx->resolved_ms + (uint64_t) ctx->keep * 1000 > now) {
            break;
        }

        ngx_queue_remove(q);
        ctx->sh->count--;
        ngx_slab_free_locked(ctx->shpool, rx);
    }
}


static ngx_int_t
ngx_http_order_edit_resolved_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_order_edit_resolved_ctx_t  *octx = data;

    ngx_http_order_edit_resolved_ctx_t  *ctx;

    ctx = shm_zone->data;
    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* a reload: the resolved exceptions of the old cycle stay */
    if (octx) {
        ctx->sh = octx->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool,
                             sizeof(ngx_http_order_edit_resolved_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;
    ngx_queue_init(&ctx->sh->list);
    ctx->sh->count = 0;

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * order_edit_exceptions zone [keep_resolved=time]: the location, and the
 * zone's resolved exceptions, kept for the longest keep_resolved any of
 * its locations asks (0: not kept).
 */

char *
ngx_http_order_edit_exceptions_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_order_edit_loc_conf_t  *olcf = conf;

    char       *rv;
    time_t      keep;
    ngx_str_t  *value, s;

    value = cf->args->elts;
    keep = NGX_HTTP_ORDER_EDIT_KEEP_RESOLVED;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "keep_resolved=", 14) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "keep_resolved=<time>", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 14;
        s.len = value[2].len - 14;

        keep = ngx_parse_time(&s, 1);
        if (keep == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid keep_resolved \"%V\"", &s);
            return NGX_CONF_ERROR;
        }
    }

    rv = ngx_http_order_edit_location(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_order_edit_resolved_conf(cf, olcf, &value[1], keep);
}


/* the zone's resolved exceptions, for an exceptions or console location */

char *
ngx_http_order_edit_resolved_conf(ngx_conf_t *cf,
    ngx_http_order_edit_loc_conf_t *olcf, ngx_str_t *zone, time_t keep)
{
    u_char                              *p;
    ngx_str_t                            name;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_order_edit_resolved_ctx_t  *ctx;

    if (keep == 0) {
        return NGX_CONF_OK;
    }

    name.len = sizeof("order_edit_resolved:") - 1 + zone->len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(name.data, "order_edit_resolved:",
                   sizeof("order_edit_resolved:") - 1);
    ngx_memcpy(p, zone->data, zone->len);

    shm_zone = ngx_shared_memory_add(cf, &name,
                                     NGX_HTTP_ORDER_EDIT_RESOLVED_SIZE,
                                     &ngx_http_order_edit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx = shm_zone->data;

    if (ctx == NULL) {
        ctx = ngx_pcalloc(cf->pool,
                          sizeof(ngx_http_order_edit_resolved_ctx_t));
        if (ctx == NULL) {
            return NGX_CONF_ERROR;
        }

        ctx->shm_zone = shm_zone;
        shm_zone->init = ngx_http_order_edit_resolved_init_zone;
        shm_zone->data = ctx;
    }

    ctx->keep = ngx_max(ctx->keep, keep);
    olcf->resolved = ctx;

    return NGX_CONF_OK;
}


static json_t *
ngx_http_order_edit_exc_time(uint64_t ms)
{
    ngx_tm_t  tm;

    if (ms == 0) {
        return json_null();
    }

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return json_sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                        (int) (ms % 1000));
}


static json_t *
ngx_http_order_edit_exc_str(ngx_str_t *s)
{
    return json_stringn((const char *) s->data, s->len);
}


/*
 * The report's exceptions.  Raised, of a report's rows, those whose fix
 * is to write what Shopify holds now, which a person only has to confirm:
 *
 *   - "mismatch" rows the report marks actionable (the Sales Order's
 *     total, tax or lines differ and the order is not past the fulfilment
 *     lock): orders/updated with Shopify's current order;
 *   - "missing_in_netsuite" of an order: orders/updated, which Retry
 *     sends through the store's on_missing (create, or park);
 *   - "missing_in_netsuite" of a refund (no Credit Memo): refunds/create
 *     with Shopify's refund.
 *
 * Not raised: a refund's amount that differs (a Credit Memo edited by
 * hand), what only NetSuite has, unreadable values, a locked order:
 * people judge those from the report.  Nor an order whose newer snapshot
 * the zone has not applied yet: it is on its way (or reconciliation
 * brings it), and the difference is no drift.
 *
 * The report calls it for each order it compared, with the index of the
 * order's first row ("from"): the rows are final then.  One exception
 * per order (and per missing refund), its webhook id
 * "report:o:<order>:<ms>" ("report:r:<refund>:<ms>"): not raised again
 * while one with that prefix is parked or out for delivery.  Not
 * journaled (store_put_local()).  At most "*room" are raised (the run's
 * max_exceptions left); one that would be raised beyond it counts in
 * "*over": a first run on a store whose history NetSuite lacks does not
 * flood the exception queue, and the next runs raise the rest.
 */

#define NGX_HTTP_ORDER_EDIT_REPORT_WID      "report:"
#define NGX_HTTP_ORDER_EDIT_REPORT_ID_LEN   64


static ngx_int_t ngx_http_order_edit_exc_report_raise(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop,
    ngx_str_t *api_version, const char *key, json_t *order,
    json_t *detail, ngx_uint_t *room, ngx_uint_t *over, ngx_log_t *log);
static ngx_uint_t ngx_http_order_edit_exc_report_open(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop, u_char *prefix,
    size_t len);
static ngx_uint_t ngx_http_order_edit_exc_report_pending(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop, json_t *order);
static void ngx_http_order_edit_exc_report_value(json_t *detail,
    const char *name, json_t *v);


ngx_uint_t
ngx_http_order_edit_exc_report(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_str_t *api_version, json_t *order, json_t *rows,
    size_t from, ngx_uint_t *room, ngx_uint_t *over, ngx_log_t *log)
{
    char         key[NGX_HTTP_ORDER_EDIT_REPORT_ID_LEN];
    size_t       i;
    json_t      *want, *row, *detail;
    ngx_uint_t   n;
    const char  *kind, *what, *k;

    if (order == NULL || !json_is_integer(json_object_get(order, "id"))) {
        /* only NetSuite has it: nothing of Shopify's to write */
        return 0;
    }

    want = json_object();
    if (want == NULL) {
        return 0;
    }

    n = 0;

    /* the order's rows, from "from" on; one exception per key */

    for (i = from; i < json_array_size(rows); i++) {
        row = json_array_get(rows, i);
        kind = json_string_value(json_object_get(row, "kind"));
        what = json_string_value(json_object_get(row, "what"));

        if (kind == NULL || what == NULL) {
            continue;
        }

        if (ngx_strncmp(what, "refund:", 7) == 0) {
            if (ngx_strcmp(kind, "missing_in_netsuite") != 0) {
                continue;
            }

            ngx_snprintf((u_char *) key, sizeof(key), "r:%s%Z", what + 7);

        } else if (json_is_true(json_object_get(row, "actionable"))
                   || (ngx_strcmp(kind, "missing_in_netsuite") == 0
                       && ngx_strcmp(what, "order") == 0))
        {
            ngx_snprintf((u_char *) key, sizeof(key), "o:%L%Z",
                         (int64_t) json_integer_value(
                                       json_object_get(order, "id")));

        } else {
            continue;
        }

        detail = json_object_get(want, key);

        if (detail == NULL) {
            detail = json_pack("{s:s}", "text", "report:");

            if (detail == NULL || json_object_set_new(want, key, detail)) {
                continue;
            }
        }

        /* "report: total Shopify 110.00, NetSuite 100.00; tax ..." */

        ngx_http_order_edit_exc_report_value(detail, what,
                                             json_object_get(row, "shopify"));
        ngx_http_order_edit_exc_report_value(detail, NULL,
                                            json_object_get(row, "netsuite"));
    }

    json_object_foreach(want, k, detail) {
        if (ngx_http_order_edit_exc_report_raise(zone, shop, api_version, k,
                                                 order, detail, room, over,
                                                 log)
            == NGX_OK)
        {
            n++;
        }
    }

    json_decref(want);

    return n;
}


/* what: a row's column, then its Shopify value; NULL: NetSuite's value */

static void
ngx_http_order_edit_exc_report_value(json_t *detail, const char *what,
    json_t *v)
{
    u_char       buf[NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX], *p, *last;
    const char  *text;

    text = json_string_value(json_object_get(detail, "text"));

    if (text == NULL) {
        return;
    }

    p = buf;
    last = buf + sizeof(buf);

    p = ngx_slprintf(p, last, what ? "%s %s Shopify " : "%s, NetSuite ",
                     text, what);

    if (json_is_string(v)) {
        p = ngx_slprintf(p, last, "%s", json_string_value(v));

    } else if (json_is_integer(v)) {
        p = ngx_slprintf(p, last, "%L", (int64_t) json_integer_value(v));

    } else {
        p = ngx_slprintf(p, last, "none");
    }

    if (what == NULL) {
        p = ngx_slprintf(p, last, ";");
    }

    json_object_set_new(detail, "text", json_stringn((char *) buf, p - buf));
}


/*
 * "o:<order>" or "r:<refund>" of an order the report read: its exception,
 * with Shopify's order (or refund) as the webhook's body.  NGX_OK: raised.
 */

static ngx_int_t
ngx_http_order_edit_exc_report_raise(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_str_t *api_version, const char *key, json_t *order,
    json_t *detail, ngx_uint_t *room, ngx_uint_t *over, ngx_log_t *log)
{
    u_char                      wid[NGX_HTTP_ORDER_EDIT_REPORT_ID_LEN], *p;
    char                       *body;
    off_t                       rid;
    size_t                      i, plen;
    json_t                     *payload, *refund, *v;
    ngx_int_t                   rc;
    ngx_str_t                   reason, text;
    ngx_http_order_edit_msg_t   msg;

    ngx_memzero(&msg, sizeof(ngx_http_order_edit_msg_t));

    msg.received_ms = ngx_http_order_edit_now_ms();
    msg.order_id = (uint64_t) json_integer_value(json_object_get(order,
                                                                 "id"));
    msg.shop = *shop;
    msg.api_version = *api_version;

    payload = order;
    ngx_str_set(&msg.topic, "orders/updated");

    if (key[0] == 'r') {
        payload = NULL;
        ngx_str_set(&msg.topic, "refunds/create");
        rid = ngx_atoof((u_char *) key + 2, ngx_strlen(key + 2));

        json_array_foreach(json_object_get(order, "refunds"), i, refund) {
            v = json_object_get(refund, "id");

            if (rid > 0 && json_is_integer(v)
                && json_integer_value(v) == (json_int_t) rid)
            {
                payload = refund;
                break;
            }
        }

    } else if (ngx_http_order_edit_exc_report_pending(zone, shop, order)) {
        return NGX_DECLINED;
    }

    if (payload == NULL) {
        return NGX_DECLINED;
    }

    /* "report:o:<order>:" is open while one of that prefix is parked */

    p = ngx_sprintf(wid, NGX_HTTP_ORDER_EDIT_REPORT_WID "%s:", key);
    plen = p - wid;

    if (ngx_http_order_edit_exc_report_open(zone, shop, wid, plen)) {
        return NGX_DECLINED;
    }

    /* the run's max_exceptions reached: the report lists it, no more */
    if (*room == 0) {
        (*over)++;
        return NGX_DECLINED;
    }

    p = ngx_sprintf(p, "%uL", msg.received_ms);
    msg.webhook_id.data = wid;
    msg.webhook_id.len = p - wid;

    body = ngx_http_order_edit_json_dumps(payload, JSON_COMPACT);
    if (body == NULL) {
        return NGX_ERROR;
    }

    msg.body.data = (u_char *) body;
    msg.body.len = ngx_strlen(body);

    ngx_str_set(&reason, "report_mismatch");
    text.data = (u_char *) json_string_value(json_object_get(detail,
                                                             "text"));
    text.len = text.data ? ngx_strlen(text.data) : 0;

    rc = ngx_http_order_edit_store_put_local(zone, shop, &msg, &reason,
                                             &text);
    free(body);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "order_edit: report of \"%V\": %V of order %uL not "
                      "raised: %s", shop, &msg.topic, msg.order_id,
                      (rc == NGX_DECLINED) ? "its id is known"
                                           : "the zone is full");
        return rc;
    }

    (*room)--;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "order_edit: report of \"%V\": exception #%uL "
                  "report_mismatch, %V of order %uL as \"%V\": %V",
                  shop, msg.id, &msg.topic, msg.order_id, &msg.webhook_id,
                  &text);

    return NGX_OK;
}


/* a report exception of that prefix is parked, or out for delivery */

static ngx_uint_t
ngx_http_order_edit_exc_report_open(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, u_char *prefix, size_t len)
{
    ngx_uint_t                   found, i;
    ngx_queue_t                 *list[2], *q;
    ngx_http_order_edit_shop_t  *sp;
    ngx_http_order_edit_item_t  *item;

    found = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    sp = ngx_http_order_edit_shop_lookup(zone, shop, 0);

    if (sp != NULL) {
        list[0] = &sp->exceptions;
        list[1] = &sp->leased;

        /* the parked are few, the leased bounded by the concurrency */

        for (i = 0; i < 2 && !found; i++) {
            for (q = ngx_queue_head(list[i]);
                 q != ngx_queue_sentinel(list[i]);
                 q = ngx_queue_next(q))
            {
                item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

                if (item->len[1] >= len
                    && ngx_memcmp(item->data + item->len[0], prefix, len)
                       == 0)
                {
                    found = 1;
                    break;
                }
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return found;
}


/* the zone applied an older snapshot than Shopify's: one is on its way */

static ngx_uint_t
ngx_http_order_edit_exc_report_pending(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, json_t *order)
{
    int64_t      updated, applied;
    const char  *s;

    s = json_string_value(json_object_get(order, "updated_at"));

    if (s == NULL
        || ngx_http_order_edit_parse_time(s, ngx_strlen(s), &updated) != 0)
    {
        return 0;
    }

    return ngx_http_order_edit_applied_get(zone, shop,
                                           (uint64_t) json_integer_value(
                                               json_object_get(order, "id")),
                                           &applied)
           == NGX_OK
           && applied < updated;
}


ngx_uint_t
ngx_http_order_edit_exc_forced(ngx_http_order_edit_msg_t *msg)
{
    size_t  len;

    len = sizeof(NGX_HTTP_ORDER_EDIT_REPORT_WID) - 1;

    return msg->webhook_id.len > len
           && ngx_strncmp(msg->webhook_id.data,
                          NGX_HTTP_ORDER_EDIT_REPORT_WID, len) == 0;
}
