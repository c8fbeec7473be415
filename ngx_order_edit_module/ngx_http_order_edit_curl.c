
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * libcurl's multi_socket interface driven by nginx's event loop.
 *
 * Every socket libcurl wants watched is wrapped in an nginx connection
 * whose read and write handlers call curl_multi_socket_action(); libcurl's
 * one timeout becomes one cancelable nginx timer.  Nothing here blocks:
 * names resolve in libcurl's resolver thread, connects are non-blocking,
 * and curl_easy_perform() is never used.  docs/curl-glue.md has the why.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/err.h>

#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_parse.h"


#define NGX_HTTP_ORDER_EDIT_CURL_MAX_CONNECTIONS  64
#define NGX_HTTP_ORDER_EDIT_CURL_KEEPALIVE        32
#define NGX_HTTP_ORDER_EDIT_CURL_MAX_BODY         (1024 * 1024)
#define NGX_HTTP_ORDER_EDIT_CURL_CONNECT_TIMEOUT  10000
#define NGX_HTTP_ORDER_EDIT_CURL_TIMEOUT          60000

/* answers this long are parsed on the thread pool (jansson: ~100 us) */
#define NGX_HTTP_ORDER_EDIT_CURL_PARSE_THRESHOLD  (16 * 1024)

/* every response header of one response, together */
#define NGX_HTTP_ORDER_EDIT_CURL_MAX_HEADERS      (64 * 1024)

#define NGX_HTTP_ORDER_EDIT_CURL_POOL_SIZE        2048


/*
 * libcurl and nginx share OpenSSL, and so its per-thread error queue.
 * libcurl leaves errors there (a failed verification, a shutdown during
 * a handshake) that nginx's next TLS call on a client connection would
 * find and log as "ignoring stale global SSL error" at alert level.
 * Every libcurl call that can run TLS code is followed by this.
 */
#define ngx_http_order_edit_curl_clear_tls_errors()  ERR_clear_error()


/* one socket libcurl asked us to watch */
typedef struct {
    curl_socket_t                     fd;
    ngx_connection_t                 *c;       /* NULL: not wrapped now */
    ngx_file_uniq_t                   uniq;    /* which socket fd was */
    dev_t                             dev;
    ngx_queue_t                       queue;
} ngx_http_order_edit_curl_sock_t;


/* one per worker process */
typedef struct {
    CURLM                            *multi;
    ngx_log_t                        *log;
    ngx_event_t                       timer;
    ngx_event_t                       reap;
    ngx_queue_t                       active;   /* of req_t */
    ngx_queue_t                       sockets;  /* of sock_t */
    ngx_http_order_edit_curl_conf_t   conf;     /* defaults applied */
    ngx_uint_t                        nactive;
    ngx_uint_t                        nsockets;
    ngx_uint_t                        peak;
    ngx_uint_t                        started;
    ngx_uint_t                        completed;
    unsigned                          closing:1;
} ngx_http_order_edit_curl_engine_t;


static void ngx_http_order_edit_curl_conf_defaults(
    ngx_http_order_edit_curl_conf_t *dst,
    ngx_http_order_edit_curl_conf_t *src);
static ngx_int_t ngx_http_order_edit_curl_setopts(
    ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_req_t *req);
static size_t ngx_http_order_edit_curl_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static size_t ngx_http_order_edit_curl_read(char *buf, size_t size,
    size_t nitems, void *userdata);
static int ngx_http_order_edit_curl_seek(void *userdata, curl_off_t offset,
    int origin);
static int ngx_http_order_edit_curl_prereq(void *clientp, char *primary_ip,
    char *local_ip, int primary_port, int local_port);
static size_t ngx_http_order_edit_curl_header_line(char *buf, size_t size,
    size_t nitems, void *userdata);
static curl_socket_t ngx_http_order_edit_curl_open_socket(void *clientp,
    curlsocktype purpose, struct curl_sockaddr *addr);
static int ngx_http_order_edit_curl_close_socket(void *clientp,
    curl_socket_t fd);
static int ngx_http_order_edit_curl_socket_cb(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static int ngx_http_order_edit_curl_timer_cb(CURLM *multi, long timeout_ms,
    void *userp);
static ngx_int_t ngx_http_order_edit_curl_wrap(
    ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_sock_t *w);
static void ngx_http_order_edit_curl_unwrap(
    ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_sock_t *w, ngx_uint_t closed);
static ngx_uint_t ngx_http_order_edit_curl_same_socket(
    ngx_http_order_edit_curl_sock_t *w);
static void ngx_http_order_edit_curl_wrap_failed(
    ngx_http_order_edit_curl_engine_t *engine, CURL *easy);
static void ngx_http_order_edit_curl_read_handler(ngx_event_t *rev);
static void ngx_http_order_edit_curl_write_handler(ngx_event_t *wev);
static void ngx_http_order_edit_curl_socket_event(ngx_event_t *ev,
    int bits);
static void ngx_http_order_edit_curl_timer_handler(ngx_event_t *ev);
static void ngx_http_order_edit_curl_reap_handler(ngx_event_t *ev);
static void ngx_http_order_edit_curl_action(
    ngx_http_order_edit_curl_engine_t *engine, curl_socket_t s, int bits);
static void ngx_http_order_edit_curl_check_info(
    ngx_http_order_edit_curl_engine_t *engine);
static void ngx_http_order_edit_curl_finish(
    ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_req_t *req, CURLcode code,
    ngx_uint_t cancelled);
static void ngx_http_order_edit_curl_cancel_all(
    ngx_http_order_edit_curl_engine_t *engine);
static void ngx_http_order_edit_curl_unwrap_all(
    ngx_http_order_edit_curl_engine_t *engine, ngx_uint_t release);


/* one engine per worker process: a worker is single-threaded */
static ngx_http_order_edit_curl_engine_t  *ngx_http_order_edit_curl_engine;
static ngx_uint_t                          ngx_http_order_edit_curl_inited;


static ngx_str_t  ngx_http_order_edit_curl_cancelled =
    ngx_string("cancelled");
static ngx_str_t  ngx_http_order_edit_curl_no_connection =
    ngx_string("no free worker connection for the socket");
static ngx_str_t  ngx_http_order_edit_curl_resend =
    ngx_string("the reused connection died unanswered; not re-sent with "
               "the same signature");
static ngx_str_t  ngx_http_order_edit_curl_big_headers =
    ngx_string("response headers too large");


/* configuration */

ngx_http_order_edit_curl_conf_t *
ngx_http_order_edit_curl_conf_get(ngx_conf_t *cf)
{
    ngx_http_order_edit_curl_conf_t  *ccf;
    ngx_http_order_edit_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_order_edit_module);

    if (omcf->curl) {
        return omcf->curl;
    }

    ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_curl_conf_t));
    if (ccf == NULL) {
        return NULL;
    }

    ccf->max_connections = NGX_CONF_UNSET_UINT;
    ccf->max_host_connections = NGX_CONF_UNSET_UINT;
    ccf->keepalive = NGX_CONF_UNSET_UINT;
    ccf->max_body = NGX_CONF_UNSET_SIZE;
    ccf->connect_timeout = NGX_CONF_UNSET_MSEC;
    ccf->timeout = NGX_CONF_UNSET_MSEC;
    ccf->parse_threshold = NGX_CONF_UNSET_SIZE;

#if (NGX_THREADS)
    /* large answers are parsed off the event loop unless told not to */
    ccf->parse_pool = ngx_thread_pool_add(cf, NULL);
    if (ccf->parse_pool == NULL) {
        return NULL;
    }
#endif

    omcf->curl = ccf;

    return ccf;
}


/*
 * order_edit_curl [max_connections=N] [max_host_connections=N]
 *     [keepalive=N] [max_body=size] [connect_timeout=time] [timeout=time]
 *     [ca_file=path] [proxy=url] [parse_threshold=size]
 *     [parse_thread_pool=name|off] [background_thread_pool=name];
 */

char *
ngx_http_order_edit_curl_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ssize_t                           size;
    ngx_int_t                         n;
    ngx_str_t                        *value, s;
    ngx_msec_t                        ms;
    ngx_uint_t                        i;
    ngx_file_info_t                   fi;
    ngx_http_order_edit_curl_conf_t  *ccf;

    ccf = ngx_http_order_edit_curl_conf_get(cf);
    if (ccf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ccf->line) {
        return "is duplicate";
    }

    ccf->file = cf->conf_file->file.name;
    ccf->line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_connections=", 16) == 0
            || ngx_strncmp(value[i].data, "max_host_connections=", 21) == 0
            || ngx_strncmp(value[i].data, "keepalive=", 10) == 0)
        {
            s.data = (u_char *) ngx_strlchr(value[i].data,
                                            value[i].data + value[i].len,
                                            '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            n = ngx_atoi(s.data, s.len);
            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            if (value[i].data[0] == 'k') {
                ccf->keepalive = n;

            } else if (value[i].data[4] == 'h') {
                ccf->max_host_connections = n;

            } else {
                ccf->max_connections = n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_body=", 9) == 0
            || ngx_strncmp(value[i].data, "parse_threshold=", 16) == 0)
        {
            n = (value[i].data[0] == 'm') ? 9 : 16;

            s.data = value[i].data + n;
            s.len = value[i].len - n;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR) {
                goto invalid;
            }

            if (n == 9) {
                ccf->max_body = size;

            } else {
                ccf->parse_threshold = size;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "parse_thread_pool=", 18) == 0
            || ngx_strncmp(value[i].data, "background_thread_pool=", 23)
               == 0)
        {
            n = (value[i].data[0] == 'b') ? 23 : 18;

            s.data = value[i].data + n;
            s.len = value[i].len - n;

            if (s.len == 0) {
                goto invalid;
            }

            if (n == 18 && s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
                ccf->parse_pool = NULL;
                continue;
            }

            /*
             * The background pool's threads turn SCHED_IDLE for good: a
             * pool others share (nginx's "default": the dispatcher's,
             * parse_thread_pool=) would take their work down with them.
             */
            if (n == 23
                && s.len == 7 && ngx_strncmp(s.data, "default", 7) == 0)
            {
                goto invalid;
            }

#if (NGX_THREADS)
            if (n == 23) {
                ccf->background_pool = ngx_thread_pool_add(cf, &s);

            } else {
                ccf->parse_pool = ngx_thread_pool_add(cf, &s);
            }

            if ((n == 23 ? ccf->background_pool : ccf->parse_pool) == NULL) {
                return NGX_CONF_ERROR;
            }
#else
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" needs nginx built --with-threads",
                               &value[i]);
            return NGX_CONF_ERROR;
#endif

            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0
            || ngx_strncmp(value[i].data, "timeout=", 8) == 0)
        {
            n = (value[i].data[0] == 'c') ? 16 : 8;

            s.data = value[i].data + n;
            s.len = value[i].len - n;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            if (n == 16) {
                ccf->connect_timeout = ms;

            } else {
                ccf->timeout = ms;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ca_file=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            if (s.len == 0) {
                goto invalid;
            }

            /* the name is NUL-terminated: libcurl takes a C string */
            if (ngx_conf_full_name(cf->cycle, &s, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            /* a typo here would only show as TLS failures, much later */
            if (ngx_file_info(s.data, &fi) == NGX_FILE_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   ngx_file_info_n " \"%s\" failed", s.data);
                return NGX_CONF_ERROR;
            }

            ccf->ca_file = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "proxy=", 6) == 0) {
            s.len = value[i].len - 6;

            if (s.len == 0) {
                goto invalid;
            }

            s.data = ngx_pnalloc(cf->pool, s.len + 1);
            if (s.data == NULL) {
                return NGX_CONF_ERROR;
            }

            *ngx_cpymem(s.data, value[i].data + 6, s.len) = '\0';

            ccf->proxy = s;
            continue;
        }

        goto invalid;
    }

    if (ccf->background_pool != NULL
        && ccf->background_pool == ccf->parse_pool)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "background_thread_pool= names the pool of "
                           "parse_thread_pool=: it needs one of its own");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static void
ngx_http_order_edit_curl_conf_defaults(ngx_http_order_edit_curl_conf_t *dst,
    ngx_http_order_edit_curl_conf_t *src)
{
    if (src) {
        *dst = *src;

    } else {
        ngx_memzero(dst, sizeof(ngx_http_order_edit_curl_conf_t));
        dst->max_connections = NGX_CONF_UNSET_UINT;
        dst->max_host_connections = NGX_CONF_UNSET_UINT;
        dst->keepalive = NGX_CONF_UNSET_UINT;
        dst->max_body = NGX_CONF_UNSET_SIZE;
        dst->connect_timeout = NGX_CONF_UNSET_MSEC;
        dst->timeout = NGX_CONF_UNSET_MSEC;
        dst->parse_threshold = NGX_CONF_UNSET_SIZE;
    }

    ngx_conf_init_uint_value(dst->max_connections,
                             NGX_HTTP_ORDER_EDIT_CURL_MAX_CONNECTIONS);
    ngx_conf_init_uint_value(dst->max_host_connections, 0);
    ngx_conf_init_uint_value(dst->keepalive,
                             NGX_HTTP_ORDER_EDIT_CURL_KEEPALIVE);
    ngx_conf_init_size_value(dst->max_body,
                             NGX_HTTP_ORDER_EDIT_CURL_MAX_BODY);
    ngx_conf_init_msec_value(dst->connect_timeout,
                             NGX_HTTP_ORDER_EDIT_CURL_CONNECT_TIMEOUT);
    ngx_conf_init_msec_value(dst->timeout, NGX_HTTP_ORDER_EDIT_CURL_TIMEOUT);
    ngx_conf_init_size_value(dst->parse_threshold,
                             NGX_HTTP_ORDER_EDIT_CURL_PARSE_THRESHOLD);
}


/* the engine */

ngx_int_t
ngx_http_order_edit_curl_init(ngx_cycle_t *cycle,
    ngx_http_order_edit_curl_conf_t *conf)
{
    CURLM                              *multi;
    CURLcode                            code;
    CURLMcode                           mc;
    curl_version_info_data             *info;
    ngx_http_order_edit_curl_engine_t  *engine;

    if (ngx_http_order_edit_curl_engine) {
        return NGX_OK;
    }

    if (!ngx_http_order_edit_curl_inited) {
        code = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (code != CURLE_OK) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "order_edit: curl_global_init() failed: %s",
                          curl_easy_strerror(code));
            return NGX_ERROR;
        }

        ngx_http_order_edit_curl_inited = 1;
    }

    engine = ngx_calloc(sizeof(ngx_http_order_edit_curl_engine_t),
                        cycle->log);
    if (engine == NULL) {
        return NGX_ERROR;
    }

    ngx_http_order_edit_curl_conf_defaults(&engine->conf, conf);

    ngx_http_order_edit_parse_init(engine->conf.parse_pool,
                                   engine->conf.background_pool,
                                   engine->conf.parse_threshold);

    multi = curl_multi_init();
    if (multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "order_edit: curl_multi_init() failed");
        ngx_free(engine);
        return NGX_ERROR;
    }

    engine->multi = multi;
    engine->log = cycle->log;

    ngx_queue_init(&engine->active);
    ngx_queue_init(&engine->sockets);

    engine->timer.handler = ngx_http_order_edit_curl_timer_handler;
    engine->timer.data = engine;
    engine->timer.log = cycle->log;
    engine->timer.cancelable = 1;

    engine->reap.handler = ngx_http_order_edit_curl_reap_handler;
    engine->reap.data = engine;
    engine->reap.log = cycle->log;

    mc = curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION,
                           ngx_http_order_edit_curl_socket_cb);

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, engine);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION,
                               ngx_http_order_edit_curl_timer_cb);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_TIMERDATA, engine);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                               (long) engine->conf.max_connections);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                               (long) engine->conf.max_host_connections);
    }

    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                               (long) engine->conf.keepalive);
    }

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "order_edit: curl_multi_setopt() failed: %s",
                      curl_multi_strerror(mc));
        curl_multi_cleanup(multi);
        ngx_free(engine);
        return NGX_ERROR;
    }

    ngx_http_order_edit_curl_engine = engine;

    info = curl_version_info(CURLVERSION_NOW);

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "order_edit: curl engine ready, libcurl %s, %s, "
                  "asynchronous resolver: %s",
                  info->version,
                  info->ssl_version ? info->ssl_version : "no tls",
                  (info->features & CURL_VERSION_ASYNCHDNS) ? "yes" : "no");

    if (!(info->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "order_edit: this libcurl resolves host names "
                      "synchronously and would block the worker; "
                      "use IP addresses in URLs or a libcurl built with "
                      "the threaded resolver or c-ares");
    }

    return NGX_OK;
}


/*
 * exit_process: transfers still in flight are cancelled, their done()
 * called with NGX_HTTP_ORDER_EDIT_CURL_CANCELLED so that the caller hands
 * its leases back; then libcurl closes its idle connections.
 */

void
ngx_http_order_edit_curl_cleanup(ngx_cycle_t *cycle)
{
    ngx_http_order_edit_curl_engine_t  *engine;

    engine = ngx_http_order_edit_curl_engine;

    if (engine == NULL) {
        return;
    }

    /* answers still being parsed are cancelled, as transfers are */
    ngx_http_order_edit_parse_cancel_all();

    if (engine->nactive) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "order_edit: cancelling %ui transfers on exit",
                      engine->nactive);
    }

    ngx_http_order_edit_curl_cancel_all(engine);

    if (engine->timer.timer_set) {
        ngx_del_timer(&engine->timer);
    }

    if (engine->timer.posted) {
        ngx_delete_posted_event(&engine->timer);
    }

    if (engine->reap.posted) {
        ngx_delete_posted_event(&engine->reap);
    }

    /* closes the idle connections through our close_socket callback */
    (void) curl_multi_cleanup(engine->multi);

    ngx_http_order_edit_curl_clear_tls_errors();

    /* what a libcurl that missed CURL_POLL_REMOVE left behind */
    ngx_http_order_edit_curl_unwrap_all(engine, 1);

    ngx_http_order_edit_curl_engine = NULL;
    ngx_free(engine);

    if (ngx_http_order_edit_curl_inited) {
        curl_global_cleanup();
        ngx_http_order_edit_curl_inited = 0;
    }
}


ngx_uint_t
ngx_http_order_edit_curl_running(void)
{
    ngx_http_order_edit_curl_engine_t  *engine;

    engine = ngx_http_order_edit_curl_engine;

    return engine && !engine->closing && !ngx_exiting && !ngx_quit
           && !ngx_terminate;
}


void
ngx_http_order_edit_curl_stats(ngx_http_order_edit_curl_stats_t *st)
{
    ngx_http_order_edit_curl_engine_t  *engine;

    ngx_memzero(st, sizeof(ngx_http_order_edit_curl_stats_t));

    engine = ngx_http_order_edit_curl_engine;

    if (engine == NULL) {
        return;
    }

    st->active = engine->nactive;
    st->sockets = engine->nsockets;
    st->peak_sockets = engine->peak;
    st->started = engine->started;
    st->completed = engine->completed;
}


void
ngx_http_order_edit_curl_reset_peak(void)
{
    if (ngx_http_order_edit_curl_engine) {
        ngx_http_order_edit_curl_engine->peak =
                                   ngx_http_order_edit_curl_engine->nsockets;
    }
}


/* transfers */

ngx_http_order_edit_curl_req_t *
ngx_http_order_edit_curl_create(ngx_log_t *log)
{
    ngx_pool_t                       *pool;
    ngx_http_order_edit_curl_conf_t   defaults, *conf;
    ngx_http_order_edit_curl_req_t   *req;

    pool = ngx_create_pool(NGX_HTTP_ORDER_EDIT_CURL_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    req = ngx_pcalloc(pool, sizeof(ngx_http_order_edit_curl_req_t));
    if (req == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    if (ngx_list_init(&req->headers, pool, 8, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    if (ngx_http_order_edit_curl_engine) {
        conf = &ngx_http_order_edit_curl_engine->conf;

    } else {
        ngx_http_order_edit_curl_conf_defaults(&defaults, NULL);
        conf = &defaults;
    }

    req->pool = pool;
    req->log = log;
    req->method = NGX_HTTP_GET;
    req->connect_timeout = conf->connect_timeout;
    req->timeout = conf->timeout;
    req->max_body = conf->max_body;
    req->ssl_verify = 1;
    req->proxy = conf->proxy;

    return req;
}


ngx_int_t
ngx_http_order_edit_curl_set_url(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *url)
{
    u_char  *p;

    p = ngx_pnalloc(req->pool, url->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, url->data, url->len) = '\0';

    req->url.data = p;
    req->url.len = url->len;

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_curl_add_header(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *name, ngx_str_t *value)
{
    u_char             *p, *line;
    ngx_uint_t          i;
    struct curl_slist  *list;

    if (name->len == 0) {
        return NGX_ERROR;
    }

    /* a CR or LF would let a value smuggle in headers of its own */

    for (i = 0; i < name->len; i++) {
        if (name->data[i] <= ' ' || name->data[i] == ':'
            || name->data[i] == 0x7f)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < value->len; i++) {
        if (value->data[i] == CR || value->data[i] == LF
            || value->data[i] == '\0')
        {
            return NGX_ERROR;
        }
    }

    line = ngx_pnalloc(req->pool, name->len + value->len + 3);
    if (line == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(line, name->data, name->len);

    /* "Name;" is libcurl's way to send a header with an empty value */
    if (value->len == 0) {
        *p++ = ';';

    } else {
        *p++ = ':'; *p++ = ' ';
        p = ngx_cpymem(p, value->data, value->len);
    }

    *p = '\0';

    list = curl_slist_append(req->request_headers, (char *) line);
    if (list == NULL) {
        return NGX_ERROR;
    }

    req->request_headers = list;

    return NGX_OK;
}


/*
 * copy: the body is copied into the request's pool.  Otherwise it is
 * borrowed: it must stay valid and unchanged until done() is called (or,
 * if start() fails, until free()).
 */

ngx_int_t
ngx_http_order_edit_curl_set_body(ngx_http_order_edit_curl_req_t *req,
    u_char *data, size_t len, ngx_uint_t copy)
{
    u_char  *p;

    if (copy && len) {
        p = ngx_pnalloc(req->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, data, len);
        data = p;
    }

    req->request_body.data = data;
    req->request_body.len = len;

    return NGX_OK;
}


/* an empty proxy: a direct connection, whatever the engine's default */

ngx_int_t
ngx_http_order_edit_curl_set_proxy(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *proxy)
{
    u_char  *p;

    p = ngx_pnalloc(req->pool, proxy->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, proxy->data, proxy->len) = '\0';

    req->proxy.data = p;
    req->proxy.len = proxy->len;

    return NGX_OK;
}


/*
 * NGX_OK: done() will be called.  NGX_DECLINED: the engine takes no work
 * (not initialised in this process, or the worker is exiting).
 * NGX_ERROR: the request could not be set up.  Neither of the last two
 * calls done(); the caller still owns the request.
 */

ngx_int_t
ngx_http_order_edit_curl_start(ngx_http_order_edit_curl_req_t *req)
{
    CURLMcode                           mc;
    ngx_http_order_edit_curl_engine_t  *engine;

    if (!ngx_http_order_edit_curl_running()) {
        return NGX_DECLINED;
    }

    engine = ngx_http_order_edit_curl_engine;

    if (req->started || req->easy || req->url.len == 0 || req->done == NULL) {
        ngx_log_error(NGX_LOG_ALERT, req->log, 0,
                      "order_edit: curl transfer started without a url, "
                      "a done handler, or twice");
        return NGX_ERROR;
    }

    req->easy = curl_easy_init();
    if (req->easy == NULL) {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "order_edit: curl_easy_init() failed");
        return NGX_ERROR;
    }

    if (ngx_http_order_edit_curl_setopts(engine, req) != NGX_OK) {
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        return NGX_ERROR;
    }

    /* libcurl only sets its timer here: no socket callback, no done() */

    mc = curl_multi_add_handle(engine->multi, req->easy);
    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "order_edit: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(mc));
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        return NGX_ERROR;
    }

    req->started = 1;

    ngx_queue_insert_tail(&engine->active, &req->queue);
    engine->nactive++;
    engine->started++;

    /* a worker shutting down gracefully waits for this transfer */
    engine->timer.cancelable = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "order_edit: curl start %p \"%V\", %ui active",
                   req, &req->url, engine->nactive);

    return NGX_OK;
}


/* done() is called before this returns; never call it from done() */

void
ngx_http_order_edit_curl_cancel(ngx_http_order_edit_curl_req_t *req)
{
    if (!req->started || req->easy == NULL
        || ngx_http_order_edit_curl_engine == NULL)
    {
        return;
    }

    ngx_http_order_edit_curl_finish(ngx_http_order_edit_curl_engine, req,
                                    CURLE_OK, 1);
}


void
ngx_http_order_edit_curl_free(ngx_http_order_edit_curl_req_t *req)
{
    free(req->body.data);
    req->body.data = NULL;

    if (req->easy) {
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
    }

    if (req->request_headers) {
        curl_slist_free_all(req->request_headers);
        req->request_headers = NULL;
    }

    ngx_destroy_pool(req->pool);
}


/*
 * The answer's body, handed over in done(): the caller free()s it, and
 * may give it to a thread (ngx_http_order_edit_parse.c), which a body in
 * the request's pool could not outlive.  NGX_DECLINED: no body.
 */

ngx_int_t
ngx_http_order_edit_curl_take_body(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *body)
{
    if (req->body.data == NULL) {
        ngx_str_null(body);
        return NGX_DECLINED;
    }

    *body = req->body;

    ngx_str_null(&req->body);
    req->body_size = 0;

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_order_edit_curl_header(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &req->headers.part;
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

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_order_edit_curl_setopts(ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_req_t *req)
{
    CURL               *easy;
    char               *method;
    CURLcode            rc;
    struct curl_slist  *list;

    easy = req->easy;

    /* no "Expect: 100-continue": one round trip fewer, and no 1 s stall */
    list = curl_slist_append(req->request_headers, "Expect:");
    if (list == NULL) {
        return NGX_ERROR;
    }

    req->request_headers = list;

    switch (req->method) {
    case NGX_HTTP_GET:
    case NGX_HTTP_HEAD:
    case NGX_HTTP_POST:
        method = NULL;
        break;
    case NGX_HTTP_PUT:
        method = "PUT";
        break;
    case NGX_HTTP_PATCH:
        method = "PATCH";
        break;
    case NGX_HTTP_DELETE:
        method = "DELETE";
        break;
    default:
        ngx_log_error(NGX_LOG_ALERT, req->log, 0,
                      "order_edit: curl method %ui not supported",
                      req->method);
        return NGX_ERROR;
    }

    /*
     * One chain, stopped by the first failure: the options are plain
     * values and cannot fail short of a libcurl without HTTP or TLS.
     * An empty CURLOPT_PROXY keeps libcurl off the *_proxy variables.
     */

    rc = curl_easy_setopt(easy, CURLOPT_PRIVATE, req);

#define ngx_http_order_edit_curl_opt(opt, val)                                \
    if (rc == CURLE_OK) {                                                     \
        rc = curl_easy_setopt(easy, opt, val);                                \
    }

    ngx_http_order_edit_curl_opt(CURLOPT_URL, (char *) req->url.data);
    ngx_http_order_edit_curl_opt(CURLOPT_NOSIGNAL, 1L);
    ngx_http_order_edit_curl_opt(CURLOPT_ERRORBUFFER, req->error);
    ngx_http_order_edit_curl_opt(CURLOPT_WRITEFUNCTION,
                                 ngx_http_order_edit_curl_write);
    ngx_http_order_edit_curl_opt(CURLOPT_WRITEDATA, req);
    ngx_http_order_edit_curl_opt(CURLOPT_HEADERFUNCTION,
                                 ngx_http_order_edit_curl_header_line);
    ngx_http_order_edit_curl_opt(CURLOPT_HEADERDATA, req);
    ngx_http_order_edit_curl_opt(CURLOPT_OPENSOCKETFUNCTION,
                                 ngx_http_order_edit_curl_open_socket);
    ngx_http_order_edit_curl_opt(CURLOPT_OPENSOCKETDATA, engine);
    ngx_http_order_edit_curl_opt(CURLOPT_CLOSESOCKETFUNCTION,
                                 ngx_http_order_edit_curl_close_socket);
    ngx_http_order_edit_curl_opt(CURLOPT_CLOSESOCKETDATA, engine);
    ngx_http_order_edit_curl_opt(CURLOPT_CONNECTTIMEOUT_MS,
                                 (long) req->connect_timeout);
    ngx_http_order_edit_curl_opt(CURLOPT_TIMEOUT_MS, (long) req->timeout);
#if (LIBCURL_VERSION_NUM >= 0x075500)
    ngx_http_order_edit_curl_opt(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    ngx_http_order_edit_curl_opt(CURLOPT_PROTOCOLS,
                                 (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
#endif
    ngx_http_order_edit_curl_opt(CURLOPT_FOLLOWLOCATION, 0L);
    ngx_http_order_edit_curl_opt(CURLOPT_SSL_VERIFYPEER,
                                 req->ssl_verify ? 1L : 0L);
    ngx_http_order_edit_curl_opt(CURLOPT_SSL_VERIFYHOST,
                                 req->ssl_verify ? 2L : 0L);
    ngx_http_order_edit_curl_opt(CURLOPT_PROXY,
                                 req->proxy.len ? (char *) req->proxy.data
                                                : "");
    ngx_http_order_edit_curl_opt(CURLOPT_TCP_KEEPALIVE, 1L);
    ngx_http_order_edit_curl_opt(CURLOPT_USERAGENT,
                                 "ngx_order_edit/" NGX_HTTP_ORDER_EDIT_VERSION);
    ngx_http_order_edit_curl_opt(CURLOPT_HTTPHEADER, req->request_headers);
    ngx_http_order_edit_curl_opt(CURLOPT_PREREQFUNCTION,
                                 ngx_http_order_edit_curl_prereq);
    ngx_http_order_edit_curl_opt(CURLOPT_PREREQDATA, req);

    /* an account's own CA file wins over the engine's */
    if (req->ca_file.len) {
        ngx_http_order_edit_curl_opt(CURLOPT_CAINFO,
                                     (char *) req->ca_file.data);

    } else if (engine->conf.ca_file.len) {
        ngx_http_order_edit_curl_opt(CURLOPT_CAINFO,
                                     (char *) engine->conf.ca_file.data);
    }

    /* refused on Content-Length, before a byte of the body is read */
    if (req->max_body) {
        ngx_http_order_edit_curl_opt(CURLOPT_MAXFILESIZE_LARGE,
                                     (curl_off_t) req->max_body);
    }

    if (req->method == NGX_HTTP_HEAD) {
        ngx_http_order_edit_curl_opt(CURLOPT_NOBODY, 1L);

    } else if (req->method == NGX_HTTP_GET) {
        ngx_http_order_edit_curl_opt(CURLOPT_HTTPGET, 1L);

    } else {
        if (method) {
            ngx_http_order_edit_curl_opt(CURLOPT_CUSTOMREQUEST, method);
        }

        if (req->method != NGX_HTTP_DELETE || req->request_body.len) {
            /*
             * The body is read through a callback that refuses to rewind
             * once a byte went out: a body is never sent twice by one
             * transfer (the pre-request callback already stops libcurl's
             * own re-sends; this holds whatever else would rewind).
             */
            req->body_sent = 0;
            ngx_http_order_edit_curl_opt(CURLOPT_POST, 1L);
            ngx_http_order_edit_curl_opt(CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t) req->request_body.len);
            ngx_http_order_edit_curl_opt(CURLOPT_READFUNCTION,
                                   ngx_http_order_edit_curl_read);
            ngx_http_order_edit_curl_opt(CURLOPT_READDATA, req);
            ngx_http_order_edit_curl_opt(CURLOPT_SEEKFUNCTION,
                                   ngx_http_order_edit_curl_seek);
            ngx_http_order_edit_curl_opt(CURLOPT_SEEKDATA, req);
        }
    }

#undef ngx_http_order_edit_curl_opt

    if (rc != CURLE_OK) {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "order_edit: curl_easy_setopt() failed: %s",
                      curl_easy_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The body grows in the request's pool; buffers past the pool's small
 * size are separate allocations that ngx_pfree() gives back at once.
 * Returning less than asked makes libcurl fail the transfer.
 */

static size_t
ngx_http_order_edit_curl_read(char *buf, size_t size, size_t nitems,
    void *userdata)
{
    ngx_http_order_edit_curl_req_t *req = userdata;

    size_t  n;

    n = ngx_min(size * nitems, req->request_body.len - req->body_sent);

    if (n) {
        ngx_memcpy(buf, req->request_body.data + req->body_sent, n);
        req->body_sent += n;
    }

    return n;
}


/* only "from the start, before a byte went out" is allowed: see above */

static int
ngx_http_order_edit_curl_seek(void *userdata, curl_off_t offset, int origin)
{
    ngx_http_order_edit_curl_req_t *req = userdata;

    if (origin == SEEK_SET && offset == 0 && req->body_sent == 0) {
        return CURL_SEEKFUNC_OK;
    }

    return CURL_SEEKFUNC_FAIL;
}


/*
 * libcurl re-sends a request by itself, on a new connection and with the
 * same headers, when a reused connection dies before a byte of the answer
 * came back (lib/transfer.c, Curl_retry_request(); no option turns it off
 * in 7.88, curl PR #18417 proposes one).  The server may well have read
 * the request: the same OAuth nonce would go out twice, and NetSuite
 * refuses a spent nonce (401, a failed login in its audit trail).
 *
 * This callback runs before each request a transfer sends, once the
 * connection is set up or reused.  The second call of one transfer can
 * only be such a re-send (redirects are off), so it fails the transfer
 * instead: the caller tries again with a new easy handle and a fresh
 * signature.  Connections are still reused, and no TLS handshake is
 * spent, unlike CURLOPT_FORBID_REUSE or CURLOPT_FRESH_CONNECT.
 */

static int
ngx_http_order_edit_curl_prereq(void *clientp, char *primary_ip,
    char *local_ip, int primary_port, int local_port)
{
    ngx_http_order_edit_curl_req_t *req = clientp;

    if (req->sent) {
        req->resend_refused = 1;
        return CURL_PREREQFUNC_ABORT;
    }

    req->sent = 1;

    return CURL_PREREQFUNC_OK;
}


static size_t
ngx_http_order_edit_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_order_edit_curl_req_t *req = userdata;

    u_char      *p;
    size_t       n, want;
    curl_off_t   length;

    n = size * nmemb;

    if (n == 0) {
        return 0;
    }

    if (n > req->max_body - req->body.len) {
        req->too_large = 1;
        return 0;
    }

    if (n > req->body_size - req->body.len) {
        want = ngx_max(req->body_size * 2, req->body.len + n);
        want = ngx_max(want, 1024);

        /*
         * The first piece: one allocation of the answer's length when it
         * is told, rather than a doubling series whose frees (64 KB and
         * more) make malloc consolidate its fast bins on the event loop.
         */
        if (req->body_size == 0
            && curl_easy_getinfo(req->easy,
                                 CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
               == CURLE_OK
            && length > 0 && (size_t) length > want)
        {
            want = (size_t) length;
        }

        want = ngx_min(want, req->max_body);

        /* on the heap, not in the pool: take_body() may hand it over */
        p = realloc(req->body.data, want);
        if (p == NULL) {
            return 0;
        }

        req->body.data = p;
        req->body_size = want;
    }

    ngx_memcpy(req->body.data + req->body.len, ptr, n);
    req->body.len += n;

    return n;
}


/* one header line with its CRLF; "HTTP/..." starts each response */

static size_t
ngx_http_order_edit_curl_header_line(char *buf, size_t size, size_t nitems,
    void *userdata)
{
    ngx_http_order_edit_curl_req_t *req = userdata;

    u_char           *p, *last, *colon, *v;
    size_t            n;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    n = size * nitems;

    req->header_bytes += n;

    if (req->header_bytes > NGX_HTTP_ORDER_EDIT_CURL_MAX_HEADERS) {
        req->headers_too_large = 1;
        return 0;
    }

    p = (u_char *) buf;
    last = p + n;

    while (last > p && (last[-1] == CR || last[-1] == LF)) {
        last--;
    }

    if (last - p >= 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {

        /* a 1xx or a proxy's CONNECT answer came first: start afresh */

        if (req->headers.part.nelts || req->headers.part.next) {
            if (ngx_list_init(&req->headers, req->pool, 8,
                              sizeof(ngx_table_elt_t))
                != NGX_OK)
            {
                return 0;
            }

            req->location = NULL;
            req->content_type = NULL;
            req->retry_after = NULL;
        }

        return n;
    }

    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL || colon == p) {
        return n;
    }

    h = ngx_list_push(&req->headers);
    if (h == NULL) {
        return 0;
    }

    v = colon + 1;

    while (v < last && (*v == ' ' || *v == '\t')) {
        v++;
    }

    while (last > v && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    h->hash = 1;
    h->key.len = colon - p;
    h->value.len = last - v;

    h->key.data = ngx_pnalloc(req->pool,
                              2 * h->key.len + h->value.len + 1);
    if (h->key.data == NULL) {
        return 0;
    }

    ngx_memcpy(h->key.data, p, h->key.len);

    h->lowcase_key = h->key.data + h->key.len;
    for (i = 0; i < h->key.len; i++) {
        h->lowcase_key[i] = ngx_tolower(h->key.data[i]);
    }

    h->value.data = h->lowcase_key + h->key.len;
    *ngx_cpymem(h->value.data, v, h->value.len) = '\0';

    if (h->key.len == 8
        && ngx_strncmp(h->lowcase_key, "location", 8) == 0)
    {
        req->location = h;

    } else if (h->key.len == 12
               && ngx_strncmp(h->lowcase_key, "content-type", 12) == 0)
    {
        req->content_type = h;

    } else if (h->key.len == 11
               && ngx_strncmp(h->lowcase_key, "retry-after", 11) == 0)
    {
        req->retry_after = h;
    }

    return n;
}


/*
 * libcurl opens its connection sockets here.  A wrapper still holding
 * this descriptor number belongs to a socket libcurl closed without
 * telling us (an old libcurl, or a socket not made through this
 * callback): the kernel dropped it from epoll with the close, so it is
 * let go without touching epoll, where the number now means this socket.
 */

static curl_socket_t
ngx_http_order_edit_curl_open_socket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_http_order_edit_curl_engine_t *engine = clientp;

    int                               type;
    ngx_queue_t                      *q;
    curl_socket_t                     s;
    ngx_http_order_edit_curl_sock_t  *w;

    if (purpose != CURLSOCKTYPE_IPCXN) {
        return CURL_SOCKET_BAD;
    }

    type = addr->socktype;

#ifdef SOCK_CLOEXEC
    type |= SOCK_CLOEXEC;
#endif

    s = socket(addr->family, type, addr->protocol);

    if (s == (curl_socket_t) -1) {
        ngx_log_error(NGX_LOG_ERR, engine->log, ngx_socket_errno,
                      "order_edit: " ngx_socket_n " failed");
        return CURL_SOCKET_BAD;
    }

    for (q = ngx_queue_head(&engine->sockets);
         q != ngx_queue_sentinel(&engine->sockets);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_order_edit_curl_sock_t, queue);

        if (w->fd == s && w->c) {
            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                           "order_edit: curl socket %d reused, stale "
                           "wrapper dropped", s);
            ngx_http_order_edit_curl_unwrap(engine, w, 1);
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl socket %d opened", s);

    return s;
}


/*
 * libcurl closes its sockets here: the nginx connection goes first, so
 * that nginx never sees a descriptor that is no longer what it was.
 */

static int
ngx_http_order_edit_curl_close_socket(void *clientp, curl_socket_t fd)
{
    ngx_http_order_edit_curl_engine_t *engine = clientp;

    ngx_queue_t                      *q;
    ngx_http_order_edit_curl_sock_t  *w;

    for (q = ngx_queue_head(&engine->sockets);
         q != ngx_queue_sentinel(&engine->sockets);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_order_edit_curl_sock_t, queue);

        if (w->fd == fd && w->c) {
            /* the close below takes it out of epoll */
            ngx_http_order_edit_curl_unwrap(engine, w, 1);
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl socket %d closed", fd);

    if (close(fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, engine->log, ngx_socket_errno,
                      "order_edit: " ngx_close_socket_n " %d failed", fd);
        return 1;
    }

    return 0;
}


/*
 * CURLMOPT_SOCKETFUNCTION: what libcurl wants to know about s now.
 *
 * Sockets are registered level-triggered, whatever nginx uses for its
 * own: libcurl reads at most 100 buffers per call and writes a request
 * body once per call, so an edge that libcurl did not drain to EAGAIN
 * would never come again.  Level triggering matches libcurl's contract
 * ("tell me while s is readable") exactly.
 *
 * Never return -1: libcurl 7.88 then marks the whole multi handle dead.
 */

static int
ngx_http_order_edit_curl_socket_cb(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_http_order_edit_curl_engine_t *engine = userp;
    ngx_http_order_edit_curl_sock_t   *w = socketp;

    ngx_event_t       *rev, *wev;
    ngx_connection_t  *c;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl socket %d what:%d wrapper:%p",
                   s, what, w);

    if (what == CURL_POLL_REMOVE) {

        if (w) {
            ngx_http_order_edit_curl_unwrap(engine, w, 0);
            ngx_queue_remove(&w->queue);
            ngx_free(w);
        }

        return 0;
    }

    if (w == NULL) {
        w = ngx_calloc(sizeof(ngx_http_order_edit_curl_sock_t), engine->log);
        if (w == NULL) {
            ngx_http_order_edit_curl_wrap_failed(engine, easy);
            return 0;
        }

        w->fd = s;
        ngx_queue_insert_tail(&engine->sockets, &w->queue);

        if (curl_multi_assign(engine->multi, s, w) != CURLM_OK) {
            ngx_queue_remove(&w->queue);
            ngx_free(w);
            ngx_http_order_edit_curl_wrap_failed(engine, easy);
            return 0;
        }
    }

    if (w->c && !ngx_http_order_edit_curl_same_socket(w)) {
        ngx_http_order_edit_curl_unwrap(engine, w, 1);
    }

    if (w->c == NULL
        && ngx_http_order_edit_curl_wrap(engine, w) != NGX_OK)
    {
        ngx_http_order_edit_curl_wrap_failed(engine, easy);
        return 0;
    }

    c = w->c;
    rev = c->read;
    wev = c->write;

    if (what & CURL_POLL_IN) {
        if (!rev->active
            && ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            ngx_http_order_edit_curl_wrap_failed(engine, easy);
        }

    } else if (rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }

    if (what & CURL_POLL_OUT) {
        if (!wev->active
            && ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
        {
            ngx_http_order_edit_curl_wrap_failed(engine, easy);
        }

    } else if (wev->active) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    return 0;
}


static ngx_int_t
ngx_http_order_edit_curl_wrap(ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_sock_t *w)
{
    ngx_file_info_t    fi;
    ngx_connection_t  *c;

    if (ngx_fd_info(w->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, engine->log, ngx_errno,
                      "order_edit: " ngx_fd_info_n " of curl socket %d "
                      "failed", w->fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(w->fd, engine->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    w->c = c;
    w->uniq = ngx_file_uniq(&fi);
    w->dev = fi.st_dev;

    c->data = w;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    c->read->handler = ngx_http_order_edit_curl_read_handler;
    c->write->handler = ngx_http_order_edit_curl_write_handler;
    c->read->log = engine->log;
    c->write->log = engine->log;

    engine->nsockets++;

    if (engine->nsockets > engine->peak) {
        engine->peak = engine->nsockets;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl socket %d wrapped in *%uA",
                   w->fd, c->number);

    return NGX_OK;
}


/*
 * Gives the nginx connection back and leaves the descriptor to libcurl:
 * nginx must never close() a socket libcurl owns.  closed: the socket
 * is being or was closed, which takes it out of epoll by itself, and an
 * epoll_ctl() on its number could hit another socket.
 */

static void
ngx_http_order_edit_curl_unwrap(ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_sock_t *w, ngx_uint_t closed)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = w->c;

    if (c == NULL) {
        return;
    }

    if (!closed && !ngx_http_order_edit_curl_same_socket(w)) {
        closed = 1;
    }

    flags = closed ? NGX_CLOSE_EVENT : NGX_LEVEL_EVENT;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl socket %d unwrapped from *%uA%s",
                   w->fd, c->number, closed ? ", closed" : "");

    /* fd -1 makes a stale event for it in this epoll batch be skipped */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    w->c = NULL;
    engine->nsockets--;
}


/* is w->fd still the socket that was wrapped? */

static ngx_uint_t
ngx_http_order_edit_curl_same_socket(ngx_http_order_edit_curl_sock_t *w)
{
    ngx_file_info_t  fi;

    if (ngx_fd_info(w->fd, &fi) == NGX_FILE_ERROR) {
        return 0;
    }

    return ngx_file_uniq(&fi) == w->uniq && fi.st_dev == w->dev;
}


/*
 * Out of worker_connections (or memory): fail that transfer.  Not from
 * here, inside libcurl's callback, but from a posted event.
 */

static void
ngx_http_order_edit_curl_wrap_failed(ngx_http_order_edit_curl_engine_t *engine,
    CURL *easy)
{
    ngx_http_order_edit_curl_req_t  *req;

    req = NULL;

    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &req) != CURLE_OK
        || req == NULL)
    {
        return;
    }

    req->wrap_failed = 1;

    ngx_post_event(&engine->reap, &ngx_posted_events);
}


static void
ngx_http_order_edit_curl_read_handler(ngx_event_t *rev)
{
    ngx_http_order_edit_curl_socket_event(rev, CURL_CSELECT_IN);
}


static void
ngx_http_order_edit_curl_write_handler(ngx_event_t *wev)
{
    ngx_http_order_edit_curl_socket_event(wev, CURL_CSELECT_OUT);
}


static void
ngx_http_order_edit_curl_socket_event(ngx_event_t *ev, int bits)
{
    curl_socket_t                       fd;
    ngx_connection_t                   *c;
    ngx_http_order_edit_curl_sock_t    *w;
    ngx_http_order_edit_curl_engine_t  *engine;

    c = ev->data;
    w = c->data;
    engine = ngx_http_order_edit_curl_engine;

    if (c->close) {
        /*
         * worker_shutdown_timeout expired: nginx closes every connection
         * it has, ours through this handler
         */

        ngx_log_error(NGX_LOG_NOTICE, engine->log, 0,
                      "order_edit: shutdown timeout, cancelling %ui "
                      "transfers", engine->nactive);

        engine->closing = 1;
        ngx_http_order_edit_curl_cancel_all(engine);
        ngx_http_order_edit_curl_unwrap_all(engine, 0);
        return;
    }

    /* the connection may be gone when this returns: use w->fd first */
    fd = w->fd;

    ngx_http_order_edit_curl_action(engine, fd, bits);
}


static void
ngx_http_order_edit_curl_timer_handler(ngx_event_t *ev)
{
    ngx_http_order_edit_curl_engine_t *engine = ev->data;

    ev->timedout = 0;

    ngx_http_order_edit_curl_action(engine, CURL_SOCKET_TIMEOUT, 0);
}


/*
 * CURLMOPT_TIMERFUNCTION.  Zero means "as soon as possible": that goes
 * to the next turn of the event loop (ngx_posted_next_events), not into
 * a 0 ms timer or ngx_posted_events, either of which a libcurl asking
 * again and again for 0 would spin without ever reaching epoll_wait().
 */

static int
ngx_http_order_edit_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_http_order_edit_curl_engine_t *engine = userp;

    ngx_event_t  *ev;

    ev = &engine->timer;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, engine->log, 0,
                   "order_edit: curl timer %l", timeout_ms);

    if (timeout_ms < 0) {

        if (ev->timer_set) {
            ngx_del_timer(ev);
        }

        if (ev->posted) {
            ngx_delete_posted_event(ev);
        }

        return 0;
    }

    if (timeout_ms == 0) {

        if (ev->timer_set) {
            ngx_del_timer(ev);
        }

        ngx_post_event(ev, &ngx_posted_next_events);

        return 0;
    }

    if (ev->posted) {
        ngx_delete_posted_event(ev);
    }

    ngx_add_timer(ev, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_http_order_edit_curl_reap_handler(ngx_event_t *ev)
{
    ngx_http_order_edit_curl_engine_t *engine = ev->data;

    ngx_queue_t                     *q;
    ngx_http_order_edit_curl_req_t  *req;

    /* done() may start transfers: look again from the head each time */

    for ( ;; ) {

        for (q = ngx_queue_head(&engine->active);
             q != ngx_queue_sentinel(&engine->active);
             q = ngx_queue_next(q))
        {
            req = ngx_queue_data(q, ngx_http_order_edit_curl_req_t, queue);

            if (req->wrap_failed) {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&engine->active)) {
            break;
        }

        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "order_edit: curl transfer \"%V\" failed: %V",
                      &req->url, &ngx_http_order_edit_curl_no_connection);

        ngx_http_order_edit_curl_finish(engine, req, CURLE_COULDNT_CONNECT,
                                        0);
    }
}


static void
ngx_http_order_edit_curl_action(ngx_http_order_edit_curl_engine_t *engine,
    curl_socket_t s, int bits)
{
    int        running;
    CURLMcode  mc;

    mc = curl_multi_socket_action(engine->multi, s, bits, &running);

    ngx_http_order_edit_curl_clear_tls_errors();

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ERR, engine->log, 0,
                      "order_edit: curl_multi_socket_action(%d) failed: %s",
                      s, curl_multi_strerror(mc));
    }

    ngx_http_order_edit_curl_check_info(engine);
}


/*
 * Completes what libcurl finished.  Bounded: every message removes its
 * handle, and a handle added by a done() cannot finish before the next
 * socket action.
 */

static void
ngx_http_order_edit_curl_check_info(ngx_http_order_edit_curl_engine_t *engine)
{
    int                              left;
    CURL                            *easy;
    CURLMsg                         *msg;
    CURLcode                         code;
    ngx_http_order_edit_curl_req_t  *req;

    for ( ;; ) {

        msg = curl_multi_info_read(engine->multi, &left);

        if (msg == NULL) {
            return;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg is gone once its handle is removed */
        easy = msg->easy_handle;
        code = msg->data.result;

        req = NULL;

        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &req)
            != CURLE_OK
            || req == NULL)
        {
            ngx_log_error(NGX_LOG_ALERT, engine->log, 0,
                          "order_edit: curl handle %p without a transfer",
                          easy);
            (void) curl_multi_remove_handle(engine->multi, easy);
            continue;
        }

        ngx_http_order_edit_curl_finish(engine, req, code, 0);
    }
}


static void
ngx_http_order_edit_curl_finish(ngx_http_order_edit_curl_engine_t *engine,
    ngx_http_order_edit_curl_req_t *req, CURLcode code, ngx_uint_t cancelled)
{
    u_char      *p;
    long         status, connects;
    size_t       len;
    CURLMcode    mc;
    curl_off_t   total;

    status = 0;
    connects = 0;
    total = 0;

    (void) curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
    (void) curl_easy_getinfo(req->easy, CURLINFO_NUM_CONNECTS, &connects);
    (void) curl_easy_getinfo(req->easy, CURLINFO_TOTAL_TIME_T, &total);

    /* an unfinished transfer's connection is closed right here */
    mc = curl_multi_remove_handle(engine->multi, req->easy);
    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, engine->log, 0,
                      "order_edit: curl_multi_remove_handle() failed: %s",
                      curl_multi_strerror(mc));
    }

    curl_easy_cleanup(req->easy);
    req->easy = NULL;

    ngx_http_order_edit_curl_clear_tls_errors();

    ngx_queue_remove(&req->queue);
    engine->nactive--;
    engine->completed++;

    /* with nothing in flight, a graceful shutdown need not wait for us */
    engine->timer.cancelable = (engine->nactive == 0);

    req->status = (status > 0 && status < 1000) ? (ngx_uint_t) status : 0;
    req->curl_code = code;
    req->time = (ngx_msec_t) (total / 1000);
    req->new_connections = connects > 0 ? (ngx_uint_t) connects : 0;

    if (cancelled) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_CANCELLED;
        req->message = ngx_http_order_edit_curl_cancelled;

    } else if (req->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_TOO_LARGE;

        len = sizeof("response body larger than  bytes") - 1 + NGX_SIZE_T_LEN;

        p = ngx_pnalloc(req->pool, len);
        if (p) {
            req->message.data = p;
            req->message.len = ngx_sprintf(p,
                                           "response body larger than %uz "
                                           "bytes", req->max_body)
                               - p;
        }

    } else if (req->headers_too_large) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_FAILED;
        req->message = ngx_http_order_edit_curl_big_headers;

    } else if (req->wrap_failed) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_FAILED;
        req->message = ngx_http_order_edit_curl_no_connection;

    } else if (req->resend_refused) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_FAILED;
        req->message = ngx_http_order_edit_curl_resend;

    } else if (code != CURLE_OK) {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_FAILED;

        if (req->error[0] == '\0') {
            (void) ngx_cpystrn((u_char *) req->error,
                               (u_char *) curl_easy_strerror(code),
                               CURL_ERROR_SIZE);
        }

        req->message.data = (u_char *) req->error;
        req->message.len = ngx_strlen(req->error);

    } else {
        req->outcome = NGX_HTTP_ORDER_EDIT_CURL_OK;
    }

    ngx_log_debug7(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "order_edit: curl done %p \"%V\" outcome:%ui status:%ui "
                   "code:%d body:%uz %V",
                   req, &req->url, req->outcome, req->status, (int) code,
                   req->body.len, &req->message);

    req->done(req, req->data);

    ngx_http_order_edit_curl_free(req);
}


static void
ngx_http_order_edit_curl_cancel_all(ngx_http_order_edit_curl_engine_t *engine)
{
    ngx_queue_t                     *q;
    ngx_http_order_edit_curl_req_t  *req;

    /* bounded: with closing set, a done() cannot start new transfers */

    engine->closing = 1;

    while (!ngx_queue_empty(&engine->active)) {
        q = ngx_queue_head(&engine->active);
        req = ngx_queue_data(q, ngx_http_order_edit_curl_req_t, queue);

        ngx_http_order_edit_curl_finish(engine, req, CURLE_OK, 1);
    }
}


/*
 * release: the wrappers go too (the multi handle is gone); otherwise
 * only the nginx connections, as libcurl may still name the wrappers.
 */

static void
ngx_http_order_edit_curl_unwrap_all(ngx_http_order_edit_curl_engine_t *engine,
    ngx_uint_t release)
{
    ngx_queue_t                      *q;
    ngx_http_order_edit_curl_sock_t  *w;

    q = ngx_queue_head(&engine->sockets);

    while (q != ngx_queue_sentinel(&engine->sockets)) {
        w = ngx_queue_data(q, ngx_http_order_edit_curl_sock_t, queue);
        q = ngx_queue_next(q);

        ngx_http_order_edit_curl_unwrap(engine, w, 0);

        if (release) {
            ngx_queue_remove(&w->queue);
            ngx_free(w);
        }
    }
}
