
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order_edit_curl_debug: GET /curl?url=...&n=... starts n transfers
 * through the worker's curl engine, waits for all of them and answers
 * one JSON line.  The transfers do not depend on the request: a client
 * that goes away leaves them to finish, and their done() handlers then
 * find the request gone (ctx->request is cleared by a cleanup on the
 * request's pool) instead of touching freed memory.
 *
 * Query arguments (values URL-encoded):
 *   url              http(s) URL; a path "/x" means this server
 *   method           GET (default), HEAD, POST, PUT, PATCH, DELETE
 *   n                parallel transfers, 1..256 (default 1)
 *   timeout          ms for each whole transfer
 *   connect_timeout  ms
 *   max_body         response body limit in bytes
 *   body             request body
 *   content_type     its Content-Type
 *   header           a response header to report for each transfer
 *
 * For tests and operators on loopback only: it makes this nginx send
 * requests wherever it is told.
 */


#include "ngx_http_order_edit_curl_debug.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_ingest.h"


#define NGX_HTTP_ORDER_EDIT_CD_MAX_N  256


typedef struct ngx_http_order_edit_cd_ctx_s  ngx_http_order_edit_cd_ctx_t;


typedef struct {
    ngx_http_order_edit_cd_ctx_t     *ctx;
    ngx_uint_t                        outcome;
    ngx_uint_t                        status;
    ngx_int_t                         curl_code;
    size_t                            body_bytes;
    ngx_msec_t                        ms;
    ngx_uint_t                        new_connections;
    ngx_str_t                         error;
    ngx_str_t                         header;
    unsigned                          has_header:1;
} ngx_http_order_edit_cd_result_t;


struct ngx_http_order_edit_cd_ctx_s {
    ngx_http_request_t               *request;  /* NULL: client gone */
    ngx_pool_cleanup_t               *cleanup;  /* on the request's pool */
    ngx_pool_t                       *pool;     /* outlives the request */
    ngx_str_t                         echo;
    ngx_uint_t                        n;
    ngx_uint_t                        pending;
    ngx_http_order_edit_cd_result_t  *results;
};


static ngx_int_t ngx_http_order_edit_cd_arg(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_http_order_edit_cd_number(ngx_http_request_t *r,
    char *name, ngx_int_t *n);
static ngx_int_t ngx_http_order_edit_cd_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_uint_t ngx_http_order_edit_cd_method(ngx_str_t *name);
static void ngx_http_order_edit_cd_done(ngx_http_order_edit_curl_req_t *req,
    void *data);
static void ngx_http_order_edit_cd_gone(void *data);
static ngx_int_t ngx_http_order_edit_cd_answer(ngx_http_request_t *r,
    ngx_http_order_edit_cd_ctx_t *ctx);


static ngx_str_t  ngx_http_order_edit_cd_json = ngx_string("application/json");

static ngx_str_t  ngx_http_order_edit_cd_outcomes[] = {
    ngx_string("ok"),
    ngx_string("failed"),
    ngx_string("too_large"),
    ngx_string("cancelled")
};

static ngx_str_t  ngx_http_order_edit_cd_not_started =
    ngx_string("not started");

static ngx_str_t  ngx_http_order_edit_cd_content_type =
    ngx_string("Content-Type");


ngx_int_t
ngx_http_order_edit_curl_debug_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc, n, timeout, connect_timeout;
    ngx_int_t                         max_body;
    ngx_str_t                         url, method, body, type, name;
    ngx_uint_t                        i, m;
    ngx_pool_t                       *pool;
    ngx_pool_cleanup_t               *cln;
    ngx_http_order_edit_cd_ctx_t     *ctx;
    ngx_http_order_edit_curl_req_t   *req;
    ngx_http_order_edit_cd_result_t  *res;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                              "method_not_allowed",
                                              "use GET", 0);
    }

    if (r != r->main) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_order_edit_cd_url(r, &url) != NGX_OK) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "invalid_request",
                                              "url is required", 0);
    }

    m = NGX_HTTP_GET;

    if (ngx_http_order_edit_cd_arg(r, "method", &method) == NGX_OK) {
        m = ngx_http_order_edit_cd_method(&method);

        if (m == 0) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request",
                       "method is GET, HEAD, POST, PUT, PATCH or DELETE", 0);
        }
    }

    n = 1;
    timeout = -1;
    connect_timeout = -1;
    max_body = -1;

    if (ngx_http_order_edit_cd_number(r, "n", &n) == NGX_ERROR
        || ngx_http_order_edit_cd_number(r, "timeout", &timeout) == NGX_ERROR
        || ngx_http_order_edit_cd_number(r, "connect_timeout",
                                         &connect_timeout)
           == NGX_ERROR
        || ngx_http_order_edit_cd_number(r, "max_body", &max_body)
           == NGX_ERROR
        || n < 1 || n > NGX_HTTP_ORDER_EDIT_CD_MAX_N
        || timeout == 0 || connect_timeout == 0)
    {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request",
                   "n is 1 to 256; timeout, connect_timeout and max_body "
                   "are numbers", 0);
    }

    if (ngx_http_order_edit_cd_arg(r, "body", &body) != NGX_OK) {
        ngx_str_null(&body);
    }

    if (ngx_http_order_edit_cd_arg(r, "content_type", &type) != NGX_OK) {
        ngx_str_null(&type);
    }

    if (!ngx_http_order_edit_curl_running()) {
        return ngx_http_order_edit_send_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                   "the curl engine is not running in this worker", 0);
    }

    /* what the transfers' done() handlers touch must outlive r */

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_order_edit_cd_ctx_t));
    if (ctx == NULL) {
        goto failed;
    }

    ctx->pool = pool;
    ctx->n = n;

    ctx->results = ngx_pcalloc(pool,
                               n * sizeof(ngx_http_order_edit_cd_result_t));
    if (ctx->results == NULL) {
        goto failed;
    }

    if (ngx_http_order_edit_cd_arg(r, "header", &name) == NGX_OK
        && name.len)
    {
        ctx->echo.data = ngx_pstrdup(pool, &name);
        if (ctx->echo.data == NULL) {
            goto failed;
        }

        ctx->echo.len = name.len;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        goto failed;
    }

    cln->handler = ngx_http_order_edit_cd_gone;
    cln->data = ctx;

    ctx->request = r;
    ctx->cleanup = cln;

    ngx_http_order_edit_curl_reset_peak();

    for (i = 0; i < (ngx_uint_t) n; i++) {
        res = &ctx->results[i];
        res->ctx = ctx;
        res->outcome = NGX_HTTP_ORDER_EDIT_CURL_FAILED;
        res->curl_code = -1;
        res->error = ngx_http_order_edit_cd_not_started;

        /* the cycle's log: the request's may be gone before done() */
        req = ngx_http_order_edit_curl_create(ngx_cycle->log);
        if (req == NULL) {
            continue;
        }

        req->method = m;
        req->done = ngx_http_order_edit_cd_done;
        req->data = res;

        if (timeout > 0) {
            req->timeout = timeout;
        }

        if (connect_timeout > 0) {
            req->connect_timeout = connect_timeout;
        }

        if (max_body >= 0) {
            req->max_body = max_body;
        }

        if (ngx_http_order_edit_curl_set_url(req, &url) != NGX_OK
            || (type.len
                && ngx_http_order_edit_curl_add_header(req,
                       &ngx_http_order_edit_cd_content_type, &type)
                   != NGX_OK)
            || (body.len
                && ngx_http_order_edit_curl_set_body(req, body.data,
                                                     body.len, 1)
                   != NGX_OK)
            || ngx_http_order_edit_curl_start(req) != NGX_OK)
        {
            ngx_http_order_edit_curl_free(req);
            continue;
        }

        ctx->pending++;
    }

    if (ctx->pending == 0) {
        rc = ngx_http_order_edit_cd_answer(r, ctx);
        cln->handler = NULL;
        ngx_destroy_pool(pool);
        return rc;
    }

    /*
     * Held until the last done(); ngx_http_test_reading() notices a
     * client that closes meanwhile and terminates the request, whose
     * pool cleanup then tells the pending done() handlers.
     */

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;

failed:

    ngx_destroy_pool(pool);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


char *
ngx_http_order_edit_curl_debug(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    /* the engine starts in workers of a configuration that uses it */
    if (ngx_http_order_edit_curl_conf_get(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_order_edit_curl_debug_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_order_edit_cd_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, v.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = v.data;

    ngx_unescape_uri(&dst, &src, v.len, 0);

    value->len = dst - value->data;
    *dst = '\0';

    return NGX_OK;
}


/* NGX_DECLINED: absent, *n untouched */

static ngx_int_t
ngx_http_order_edit_cd_number(ngx_http_request_t *r, char *name,
    ngx_int_t *n)
{
    ngx_int_t  v;
    ngx_str_t  s;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    v = ngx_atoi(s.data, s.len);
    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    *n = v;

    return NGX_OK;
}


/* a path is a URL on this very server, as the client reached it */

static ngx_int_t
ngx_http_order_edit_cd_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char            *p;
    size_t             len;
    ngx_str_t          v;
    ngx_connection_t  *c;
    u_char             addr[NGX_SOCKADDR_STRLEN];

    if (ngx_http_order_edit_cd_arg(r, "url", &v) != NGX_OK || v.len == 0) {
        return NGX_ERROR;
    }

    if (v.data[0] != '/') {
        *url = v;
        return NGX_OK;
    }

    c = r->connection;

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_sock_ntop(c->local_sockaddr, c->local_socklen, addr,
                        NGX_SOCKADDR_STRLEN, 1);

    p = ngx_pnalloc(r->pool, sizeof("http://") - 1 + len + v.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    url->data = p;

    p = ngx_cpymem(p, "http://", sizeof("http://") - 1);
    p = ngx_cpymem(p, addr, len);
    p = ngx_cpymem(p, v.data, v.len);

    url->len = p - url->data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_order_edit_cd_method(ngx_str_t *name)
{
    ngx_uint_t  i;

    static struct {
        ngx_str_t   name;
        ngx_uint_t  method;
    } methods[] = {
        { ngx_string("GET"), NGX_HTTP_GET },
        { ngx_string("HEAD"), NGX_HTTP_HEAD },
        { ngx_string("POST"), NGX_HTTP_POST },
        { ngx_string("PUT"), NGX_HTTP_PUT },
        { ngx_string("PATCH"), NGX_HTTP_PATCH },
        { ngx_string("DELETE"), NGX_HTTP_DELETE }
    };

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (name->len == methods[i].name.len
            && ngx_strncmp(name->data, methods[i].name.data, name->len) == 0)
        {
            return methods[i].method;
        }
    }

    return 0;
}


static void
ngx_http_order_edit_cd_done(ngx_http_order_edit_curl_req_t *req, void *data)
{
    ngx_http_order_edit_cd_result_t *res = data;

    ngx_int_t                      rc;
    ngx_table_elt_t               *h;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_order_edit_cd_ctx_t  *ctx;

    ctx = res->ctx;

    res->outcome = req->outcome;
    res->status = req->status;
    res->curl_code = req->curl_code;
    res->body_bytes = req->body.len;
    res->ms = req->time;
    res->new_connections = req->new_connections;

    /* req goes when this returns: keep copies in the context's pool */

    ngx_str_null(&res->error);

    if (req->message.len) {
        res->error.data = ngx_pstrdup(ctx->pool, &req->message);
        if (res->error.data) {
            res->error.len = req->message.len;
        }
    }

    if (ctx->echo.len) {
        h = ngx_http_order_edit_curl_header(req, &ctx->echo);

        if (h) {
            res->header.data = ngx_pstrdup(ctx->pool, &h->value);
            if (res->header.data) {
                res->header.len = h->value.len;
                res->has_header = 1;
            }
        }
    }

    if (--ctx->pending) {
        return;
    }

    r = ctx->request;

    if (r == NULL) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "order_edit: curl debug: %ui transfers finished after "
                      "the client went away", ctx->n);
        ngx_destroy_pool(ctx->pool);
        return;
    }

    c = r->connection;

    rc = ngx_http_order_edit_cd_answer(r, ctx);

    ctx->cleanup->handler = NULL;
    ngx_destroy_pool(ctx->pool);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_order_edit_cd_gone(void *data)
{
    ngx_http_order_edit_cd_ctx_t *ctx = data;

    ctx->request = NULL;
    ctx->cleanup = NULL;
}


static ngx_int_t
ngx_http_order_edit_cd_answer(ngx_http_request_t *r,
    ngx_http_order_edit_cd_ctx_t *ctx)
{
    u_char                           *body, *p;
    size_t                            len;
    ngx_uint_t                        i;
    ngx_http_order_edit_curl_stats_t  st;
    ngx_http_order_edit_cd_result_t  *res;

    ngx_http_order_edit_curl_stats(&st);

    len = sizeof("{\"results\":[],\"max_parallel_sockets\":}\n") - 1
          + NGX_INT_T_LEN;

    for (i = 0; i < ctx->n; i++) {
        res = &ctx->results[i];

        len += sizeof("{\"status\":,\"curl_code\":,\"body_bytes\":,\"ms\":,"
                      "\"outcome\":\"\",\"new_connections\":,"
                      "\"error\":\"\",\"header\":\"\"},") - 1
               + 6 * NGX_INT_T_LEN
               + res->error.len
               + ngx_escape_json(NULL, res->error.data, res->error.len)
               + res->header.len
               + ngx_escape_json(NULL, res->header.data, res->header.len);
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"results\":[", sizeof("{\"results\":[") - 1);

    for (i = 0; i < ctx->n; i++) {
        res = &ctx->results[i];

        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "{\"status\":%ui,\"curl_code\":%i,"
                           "\"body_bytes\":%uz,\"ms\":%M,\"outcome\":\"%V\","
                           "\"new_connections\":%ui,\"error\":\"",
                        res->status, res->curl_code, res->body_bytes,
                        res->ms, &ngx_http_order_edit_cd_outcomes[res->outcome],
                        res->new_connections);

        p = (u_char *) ngx_escape_json(p, res->error.data, res->error.len);

        if (res->has_header) {
            p = ngx_cpymem(p, "\",\"header\":\"",
                           sizeof("\",\"header\":\"") - 1);
            p = (u_char *) ngx_escape_json(p, res->header.data,
                                           res->header.len);
            p = ngx_cpymem(p, "\"}", 2);

        } else if (ctx->echo.len) {
            p = ngx_cpymem(p, "\",\"header\":null}",
                           sizeof("\",\"header\":null}") - 1);

        } else {
            p = ngx_cpymem(p, "\"}", 2);
        }
    }

    p = ngx_sprintf(p, "],\"max_parallel_sockets\":%ui}\n", st.peak_sockets);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_cd_json, body,
                                    p - body, 0);
}
