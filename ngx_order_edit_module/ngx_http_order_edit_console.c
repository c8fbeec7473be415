
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order_edit_console zone: in a prefix location (say /order-edit/console)
 *
 *   GET  <location>/                       the page (its token inside)
 *   GET  <location>/console.css, .js       its style and script
 *   GET  <location>/api/status             the zone's status (JSON)
 *   GET  <location>/api/history            the last 24 hours, per minute
 *   GET  <location>/api/report?date=&shop=  the mismatch report (JSON)
 *   GET  <location>/api/exceptions         the exception queue
 *   GET  <location>/api/exceptions/<id>    one, with the change not applied
 *   POST <location>/api/exceptions/<id>/retry | resolve   {"note": "..."}
 *
 * The page, style and script are compiled in (objs/..._console_files.h,
 * made from console/ by the config script), so the .so needs no files of
 * its own.  Actions need order_edit_console_actions on, a token the page
 * was served with (an HMAC of the user and the time under a key kept in
 * the zone) in X-Order-Edit-Token, and a request from the page's origin.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

#include "ngx_http_order_edit_console.h"
#include "ngx_http_order_edit_report.h"
#include "ngx_http_order_edit_history.h"
#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_status.h"
#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"

#include "ngx_http_order_edit_console_files.h"


/* a page's token is good for a working day, then the page is reloaded */
#define NGX_HTTP_ORDER_EDIT_TOKEN_TTL      (12 * 3600)
/* "<time>.<64 hex>" and a NUL */
#define NGX_HTTP_ORDER_EDIT_TOKEN_LEN      (NGX_TIME_T_LEN + 1 + 64 + 1)

/* a note goes to the error log: one line, bounded */
#define NGX_HTTP_ORDER_EDIT_NOTE_MAX       500
#define NGX_HTTP_ORDER_EDIT_NOTE_BODY_MAX  4096

/* a larger payload is not normalised on the event loop to be shown */
#define NGX_HTTP_ORDER_EDIT_PREVIEW_MAX    (512 * 1024)


typedef struct {
    uint64_t                       id;
    ngx_uint_t                     retry;
} ngx_http_order_edit_console_ctx_t;


static ngx_int_t ngx_http_order_edit_console_page(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *base);
static ngx_int_t ngx_http_order_edit_console_static(ngx_http_request_t *r,
    const u_char *data, size_t len, const char *type);
static ngx_int_t ngx_http_order_edit_console_headers(ngx_http_request_t *r);
static ngx_int_t ngx_http_order_edit_console_token(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, time_t issued, u_char *out);
static const char *ngx_http_order_edit_console_check(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone);
static ngx_int_t ngx_http_order_edit_console_exception(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id);
static ngx_int_t ngx_http_order_edit_console_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id, ngx_str_t *action);
static void ngx_http_order_edit_console_body(ngx_http_request_t *r);
static void ngx_http_order_edit_console_note(ngx_http_request_t *r,
    ngx_str_t *note);
static ngx_int_t ngx_http_order_edit_console_method(ngx_http_request_t *r,
    ngx_uint_t methods);


static ngx_str_t  ngx_http_order_edit_console_page_placeholder =
    ngx_string("<!--OE-SESSION-->");


ngx_int_t
ngx_http_order_edit_console_handler(ngx_http_request_t *r)
{
    u_char                          *p, *last, *slash;
    off_t                            id;
    json_t                          *doc;
    ngx_int_t                        rc;
    ngx_str_t                        rest, base, action;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_order_edit_zone_t      *zone;
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    zone = olcf->shm_zone->data;

    base = clcf->name;

    while (base.len && base.data[base.len - 1] == '/') {
        base.len--;
    }

    rest.data = r->uri.data;
    rest.len = 0;

    if (r->uri.len >= base.len
        && ngx_strncmp(r->uri.data, base.data, base.len) == 0)
    {
        rest.data = r->uri.data + base.len;
        rest.len = r->uri.len - base.len;
    }

#define ngx_http_order_edit_is(s)                                             \
    (rest.len == sizeof(s) - 1 && ngx_strncmp(rest.data, s, rest.len) == 0)

    if (rest.len == 0 || ngx_http_order_edit_is("/")
        || ngx_http_order_edit_is("/index.html"))
    {
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_console_page(r, zone, &base);
    }

    if (ngx_http_order_edit_is("/console.css")) {
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_console_static(r,
                   ngx_http_order_edit_console_console_css,
                   sizeof(ngx_http_order_edit_console_console_css),
                   "text/css; charset=utf-8");
    }

    if (ngx_http_order_edit_is("/console.js")) {
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_console_static(r,
                   ngx_http_order_edit_console_console_js,
                   sizeof(ngx_http_order_edit_console_console_js),
                   "text/javascript; charset=utf-8");
    }

    if (ngx_http_order_edit_is("/api/status")) {
        /* the status handler answers other methods itself */
        return ngx_http_order_edit_status_handler(r);
    }

    if (ngx_http_order_edit_is("/api/history")) {
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        doc = ngx_http_order_edit_history_json(zone,
                  ngx_http_get_module_main_conf(r, ngx_http_order_edit_module),
                  r->pool);
        if (doc == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_order_edit_send_json(r, doc);
    }

    if (ngx_http_order_edit_is("/api/report")) {
        /* read only here: a run is asked at order_edit_report itself */
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_report_handler(r);
    }

    if (ngx_http_order_edit_is("/api/exceptions")) {
        rc = ngx_http_order_edit_console_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_exc_get(r, zone);
    }

#undef ngx_http_order_edit_is

    /* /api/exceptions/<id>[/retry|/resolve] */

    if (rest.len > sizeof("/api/exceptions/") - 1
        && ngx_strncmp(rest.data, "/api/exceptions/",
                       sizeof("/api/exceptions/") - 1)
           == 0)
    {
        p = rest.data + sizeof("/api/exceptions/") - 1;
        last = rest.data + rest.len;

        slash = ngx_strlchr(p, last, '/');

        id = ngx_atoof(p, (slash ? slash : last) - p);

        if (id > 0 && slash == NULL) {
            rc = ngx_http_order_edit_console_method(r,
                                                    NGX_HTTP_GET|NGX_HTTP_HEAD);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_order_edit_console_exception(r, zone,
                                                         (uint64_t) id);
        }

        if (id > 0) {
            action.data = slash + 1;
            action.len = last - action.data;

            if ((action.len == 5
                 && ngx_strncmp(action.data, "retry", 5) == 0)
                || (action.len == 7
                    && ngx_strncmp(action.data, "resolve", 7) == 0))
            {
                return ngx_http_order_edit_console_act(r, zone,
                                                       (uint64_t) id, &action);
            }
        }
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
               "no such page in the console", 0);
}


/* NGX_OK, or the answer to a method the resource does not take */

static ngx_int_t
ngx_http_order_edit_console_method(ngx_http_request_t *r, ngx_uint_t methods)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method & methods) {
        return NGX_OK;
    }

    if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
               "method_not_allowed", "use GET", 0);
}


/*
 * The page, with what the script needs in <meta> elements where the
 * placeholder is: the location, the token, whether actions are on, and
 * who is looking.  Never cached: the token is this visit's.
 */

static ngx_int_t
ngx_http_order_edit_console_page(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *base)
{
    u_char                          *page, *at, *body, *p;
    u_char                           token[NGX_HTTP_ORDER_EDIT_TOKEN_LEN];
    size_t                           len, ulen, blen, plen;
    ngx_str_t                        user, type;
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    page = (u_char *) ngx_http_order_edit_console_index_html;
    plen = sizeof(ngx_http_order_edit_console_index_html);

    at = ngx_strlcasestrn(page, page + plen,
                          ngx_http_order_edit_console_page_placeholder.data,
                          ngx_http_order_edit_console_page_placeholder.len
                          - 1);
    if (at == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&user);

    if (ngx_http_auth_basic_user(r) == NGX_OK) {
        user = r->headers_in.user;
    }

    len = ngx_http_order_edit_console_token(r, zone, ngx_time(), token);
    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ulen = ngx_escape_html(NULL, user.data, user.len);
    blen = ngx_escape_html(NULL, base->data, base->len);

    len = plen + 512 + 3 * (base->len + blen) + user.len + ulen
          + NGX_HTTP_ORDER_EDIT_TOKEN_LEN;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, page, at - page);

    p = ngx_cpymem(p, "<meta name=\"oe-base\" content=\"", 30);
    p = (u_char *) ngx_escape_html(p, base->data, base->len);
    p = ngx_sprintf(p, "\">\n<meta name=\"oe-token\" content=\"%s\">\n"
                    "<meta name=\"oe-actions\" content=\"%s\">\n"
                    "<meta name=\"oe-user\" content=\"",
                    token, olcf->console_actions ? "on" : "off");
    p = (u_char *) ngx_escape_html(p, user.data, user.len);
    p = ngx_cpymem(p, "\">\n<link rel=\"stylesheet\" href=\"", 32);
    p = (u_char *) ngx_escape_html(p, base->data, base->len);
    p = ngx_cpymem(p, "/console.css\">\n<script defer src=\"", 34);
    p = (u_char *) ngx_escape_html(p, base->data, base->len);
    p = ngx_cpymem(p, "/console.js\"></script>", 22);

    at += ngx_http_order_edit_console_page_placeholder.len;
    p = ngx_cpymem(p, at, page + plen - at);

    if (ngx_http_order_edit_console_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&type, "text/html; charset=utf-8");

    return ngx_http_order_edit_send(r, NGX_HTTP_OK, &type, body, p - body, 0);
}


static ngx_int_t
ngx_http_order_edit_console_static(ngx_http_request_t *r, const u_char *data,
    size_t len, const char *type)
{
    ngx_str_t  t;

    if (ngx_http_order_edit_console_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t.data = (u_char *) type;
    t.len = ngx_strlen(type);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK, &t, (u_char *) data, len,
                                    0);
}


/*
 * Nothing from elsewhere runs, loads or frames the console: the script
 * and style are its own files, and no page of another site may show it
 * (clickjacking the buttons).
 */

static ngx_int_t
ngx_http_order_edit_console_headers(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    static ngx_str_t  headers[][2] = {
        { ngx_string("Content-Security-Policy"),
          ngx_string("default-src 'none'; script-src 'self'; "
                     "style-src 'self'; connect-src 'self'; "
                     "img-src 'self' data:; base-uri 'none'; "
                     "form-action 'none'; "
                     "frame-ancestors 'none'") },
        { ngx_string("X-Frame-Options"), ngx_string("DENY") },
        { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
        { ngx_string("Referrer-Policy"), ngx_string("no-referrer") },
        { ngx_string("Cache-Control"), ngx_string("no-store") }
    };

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = headers[i][0];
        h->value = headers[i][1];
    }

    return NGX_OK;
}


/*
 * "<issued>.<hex HMAC-SHA256 of zone, user, issued>" under the zone's
 * console key: a token of one user does not act for another, one from
 * before the zone was created is worthless, and it ages out.  Returns
 * its length, 0 on failure.
 */

static ngx_int_t
ngx_http_order_edit_console_token(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, time_t issued, u_char *out)
{
    u_char                            *p, msg[512], mac[EVP_MAX_MD_SIZE];
    unsigned int                       n;
    ngx_str_t                          user;
    ngx_http_order_edit_console_sh_t  *c;

    c = ngx_http_order_edit_console_shared(zone);
    if (c == NULL) {
        return 0;
    }

    ngx_str_null(&user);

    if (ngx_http_auth_basic_user(r) == NGX_OK) {
        user = r->headers_in.user;
    }

    p = ngx_slprintf(msg, msg + sizeof(msg), "order_edit_console\n%V\n%T\n%V",
                     &zone->name, issued, &user);

    if (HMAC(EVP_sha256(), ngx_http_order_edit_console_key(c),
             NGX_HTTP_ORDER_EDIT_CONSOLE_KEY, msg, p - msg, mac, &n)
        == NULL)
    {
        return 0;
    }

    p = ngx_sprintf(out, "%T.", issued);
    p = ngx_hex_dump(p, mac, n);
    *p = '\0';

    return p - out;
}


/* NULL when the request may act; else why not */

static const char *
ngx_http_order_edit_console_check(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone)
{
    u_char                          *dot;
    size_t                           len;
    time_t                           issued, now;
    const char                      *why;
    ngx_table_elt_t                 *token;
    ngx_http_order_edit_loc_conf_t  *olcf;
    u_char                           want[NGX_HTTP_ORDER_EDIT_TOKEN_LEN];

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    if (!olcf->console_actions) {
        return "the console is read-only here (order_edit_console_actions)";
    }

    why = ngx_http_order_edit_exc_forbidden(r);
    if (why) {
        return why;
    }

    token = ngx_http_order_edit_exc_header(r, "x-order-edit-token",
                                           sizeof("x-order-edit-token") - 1);

    if (token == NULL) {
        return "the console's token (X-Order-Edit-Token) is missing";
    }

    dot = ngx_strlchr(token->value.data,
                      token->value.data + token->value.len, '.');

    issued = dot ? ngx_atotm(token->value.data, dot - token->value.data)
                 : NGX_ERROR;
    now = ngx_time();

    if (issued == NGX_ERROR
        || issued > now + 60
        || now - issued > NGX_HTTP_ORDER_EDIT_TOKEN_TTL)
    {
        return "the console's token is not valid or has expired: "
               "reload the page";
    }

    len = ngx_http_order_edit_console_token(r, zone, issued, want);

    if (len == 0 || len != token->value.len
        || CRYPTO_memcmp(want, token->value.data, len) != 0)
    {
        return "the console's token is not valid or has expired: "
               "reload the page";
    }

    return NULL;
}


/*
 * One exception as the page shows it: NetSuite's words, what NetSuite
 * held ("before", when the dispatcher kept it) and what the webhook
 * would have written ("after": the normalised document).
 */

static ngx_int_t
ngx_http_order_edit_console_exception(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id)
{
    json_t                              *root, *after, *before;
    ngx_int_t                            rc;
    ngx_str_t                            error;
    ngx_uint_t                           i;
    ngx_array_t                          all;
    ngx_http_order_edit_msg_t            msg;
    ngx_http_order_edit_exc_info_t      *x, *found;
    ngx_http_order_edit_norm_input_t     in;
    ngx_http_order_edit_norm_result_t    res;
    ngx_http_order_edit_store_conf_t    *store;
    ngx_http_order_edit_main_conf_t     *omcf;

    if (ngx_array_init(&all, r->pool, 8,
                       sizeof(ngx_http_order_edit_exc_info_t))
        != NGX_OK
        || ngx_http_order_edit_exc_list(zone, r->pool, NULL, &all) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    x = all.elts;
    found = NULL;

    for (i = 0; i < all.nelts; i++) {
        if (x[i].id == id) {
            found = &x[i];
            break;
        }
    }

    /* the webhook itself, body and all: it is parked in its shop */
    rc = (found == NULL) ? NGX_DECLINED
         : ngx_http_order_edit_queue_find(zone, r->pool, &found->shop, id,
                                          &msg);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND,
                   "not_found", "no exception with that id", 0);
    }

    /* NetSuite's words, and what NetSuite held, when the detail has it */

    error = found->detail;
    before = ngx_http_order_edit_exc_before(&error);

    root = json_object();
    after = json_object();

    if (root == NULL
        || json_object_set_new(root, "after", after) != 0
        || json_object_set_new(root, "before",
                               before ? before : json_null()) != 0)
    {
        json_decref(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_object_set_new(root, "id", json_sprintf("%llu",
                                        (unsigned long long) id));
    json_object_set_new(root, "topic",
                        json_stringn((char *) msg.topic.data, msg.topic.len));
    json_object_set_new(root, "netsuite_error", error.len
                        ? json_stringn((char *) error.data, error.len)
                        : json_null());

    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);
    store = ngx_http_order_edit_find_store(omcf, &msg.shop);

    if (store == NULL) {
        json_object_set_new(after, "kind", json_string("unavailable"));
        json_object_set_new(after, "message", json_string(
                            "the shop has no store block any more"));
        return ngx_http_order_edit_send_json(r, root);
    }

    if (msg.body.len > NGX_HTTP_ORDER_EDIT_PREVIEW_MAX) {
        json_object_set_new(after, "kind", json_string("unavailable"));
        json_object_set_new(after, "message", json_string(
                            "the webhook is too large to show here: "
                            "use order-edit-normalise"));
        return ngx_http_order_edit_send_json(r, root);
    }

    ngx_http_order_edit_queue_norm_input(&msg, &in);

    (void) ngx_http_order_edit_normalise(&store->norm, &in, &res);

    if (res.kind == NGX_HTTP_ORDER_EDIT_NORM_ERROR) {
        json_object_set_new(after, "kind", json_string("error"));
        json_object_set_new(after, "error", json_string(res.error));
        json_object_set_new(after, "message", json_string(res.message));

    } else {
        json_object_set_new(after, "kind", json_string(
            res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER ? "sales_order"
            : res.kind == NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO ? "credit_memo"
            : res.kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION
              ? "cancellation" : "other"));

        if (res.doc) {
            json_object_set(after, "document", res.doc);
        }
    }

    ngx_http_order_edit_norm_result_free(&res);

    return ngx_http_order_edit_send_json(r, root);
}


/* retry or resolve: checked before the body (the note) is read */

static ngx_int_t
ngx_http_order_edit_console_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, uint64_t id, ngx_str_t *action)
{
    ngx_int_t                           rc;
    ngx_str_t                           actor;
    const char                         *why;
    ngx_http_order_edit_console_ctx_t  *ctx;

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_order_edit_allow(r, "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use POST", 0);
    }

    why = ngx_http_order_edit_console_check(r, zone);

    if (why) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_order_edit_exc_actor(r, &actor);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "order_edit: console %V of exception #%uL by %V "
                      "refused: %s", action, id, &actor, why);

        return ngx_http_order_edit_send_error(r, NGX_HTTP_FORBIDDEN,
                                              "forbidden", why, 0);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_ORDER_EDIT_NOTE_BODY_MAX) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "a note is at most 500 characters", 0);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_order_edit_console_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->id = id;
    ctx->retry = (action->len == 5);

    ngx_http_set_ctx(r, ctx, ngx_http_order_edit_module);

    /* small and in memory: the location keeps its buffer for the note */
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_order_edit_console_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_order_edit_console_body(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_str_t                           actor, note;
    ngx_http_order_edit_loc_conf_t     *olcf;
    ngx_http_order_edit_console_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_order_edit_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    ngx_http_order_edit_console_note(r, &note);
    ngx_http_order_edit_exc_actor(r, &actor);

    rc = ngx_http_order_edit_exc_apply(r, olcf->shm_zone->data, ctx->id,
                                       ctx->retry, &actor, &note);

    ngx_http_finalize_request(r, rc);
}


/*
 * {"note": "..."}: one line for the log, at most NOTE_MAX bytes, control
 * characters made spaces and double quotes single, so that the log line
 * cannot be forged.  Anything else is no note.
 */

static void
ngx_http_order_edit_console_note(ngx_http_request_t *r, ngx_str_t *note)
{
    u_char        *p, *src, c;
    size_t         len, i;
    json_t        *root, *v;
    ngx_buf_t     *b;
    json_error_t   err;

    ngx_str_null(note);

    if (r->request_body == NULL || r->request_body->bufs == NULL
        || r->request_body->bufs->next != NULL)
    {
        return;
    }

    b = r->request_body->bufs->buf;

    if (b->in_file || b->last - b->pos > NGX_HTTP_ORDER_EDIT_NOTE_BODY_MAX) {
        return;
    }

    root = json_loadb((char *) b->pos, b->last - b->pos, 0, &err);
    v = root ? json_object_get(root, "note") : NULL;

    if (!json_is_string(v)) {
        json_decref(root);
        return;
    }

    src = (u_char *) json_string_value(v);
    len = ngx_min(json_string_length(v), NGX_HTTP_ORDER_EDIT_NOTE_MAX);

    /* do not cut a UTF-8 character in two */
    while (len && len < json_string_length(v) && (src[len] & 0xc0) == 0x80) {
        len--;
    }

    p = ngx_pnalloc(r->pool, len);

    if (p != NULL) {
        for (i = 0; i < len; i++) {
            c = src[i];
            p[i] = (c < 0x20 || c == 0x7f) ? ' ' : (c == '"' ? '\'' : c);
        }

        note->data = p;
        note->len = len;
    }

    json_decref(root);
}


/*
 * The dispatcher's fulfilment lock hands the Sales Order it read: its
 * lines (NetSuite item, Shopify line, quantity, rate, amount) and total,
 * kept with the exception so that people see what the warehouse has.
 */

size_t
ngx_http_order_edit_console_before(json_t *order, u_char *p, size_t len,
    size_t max)
{
    char    *text;
    size_t   n, i;
    json_t  *items, *line, *out, *lines, *l, *item, *v;

    static const char  *fields[] = {
        "quantity", "rate", "amount", "custcol_shopify_line_id"
    };

    items = json_object_get(json_object_get(order, "item"), "items");

    if (!json_is_array(items)) {
        return len;
    }

    out = json_object();
    lines = json_array();

    if (out == NULL || json_object_set_new(out, "lines", lines) != 0) {
        json_decref(out);
        return len;
    }

    for (i = 0; i < json_array_size(items); i++) {
        line = json_array_get(items, i);
        item = json_object_get(line, "item");

        l = json_object();
        if (l == NULL || json_array_append_new(lines, l) != 0) {
            json_decref(out);
            return len;
        }

        v = json_is_object(item) ? json_object_get(item, "id") : item;
        json_object_set(l, "item", v ? v : json_null());

        v = json_is_object(item) ? json_object_get(item, "refName") : NULL;
        if (v) {
            json_object_set(l, "name", v);
        }

        for (n = 0; n < sizeof(fields) / sizeof(fields[0]); n++) {
            v = json_object_get(line, fields[n]);
            if (v) {
                json_object_set(l, n == 3 ? "key" : fields[n], v);
            }
        }
    }

    v = json_object_get(order, "total");
    if (v) {
        json_object_set(out, "total", v);
    }

    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);

    if (text == NULL) {
        return len;
    }

    n = ngx_strlen(text);

    if (len + sizeof(NGX_HTTP_ORDER_EDIT_BEFORE_MARK) - 1 + n <= max) {
        p = ngx_cpymem(p + len, NGX_HTTP_ORDER_EDIT_BEFORE_MARK,
                       sizeof(NGX_HTTP_ORDER_EDIT_BEFORE_MARK) - 1);
        ngx_memcpy(p, text, n);
        len += sizeof(NGX_HTTP_ORDER_EDIT_BEFORE_MARK) - 1 + n;
    }

    free(text);

    return len;
}


/*
 * order_edit_console zone: the location, the zone's resolved exceptions
 * (kept 7 days unless an order_edit_exceptions location asks longer) and
 * its history, sampled from now on.
 */

char *
ngx_http_order_edit_console_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_order_edit_loc_conf_t  *olcf = conf;

    char                             *rv;
    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_shm_zone_t                  **z;
    ngx_http_order_edit_main_conf_t  *omcf;

    value = cf->args->elts;

    rv = ngx_http_order_edit_location(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    olcf->console = 1;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_order_edit_module);

    if (omcf->consoles == NULL) {
        omcf->consoles = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_shm_zone_t *));
        if (omcf->consoles == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    z = omcf->consoles->elts;

    for (i = 0; i < omcf->consoles->nelts; i++) {
        if (z[i] == olcf->shm_zone) {
            break;
        }
    }

    if (i == omcf->consoles->nelts) {
        z = ngx_array_push(omcf->consoles);
        if (z == NULL) {
            return NGX_CONF_ERROR;
        }

        *z = olcf->shm_zone;
    }

    return ngx_http_order_edit_resolved_conf(cf, olcf, &value[1], 7 * 86400);
}
