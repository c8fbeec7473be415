
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Outbound HTTP with libcurl's multi_socket interface on nginx's event
 * loop: one engine per worker process, request-independent, so that the
 * dispatcher can use it from a timer where no client request exists.
 * docs/curl-glue.md tells how sockets, timers and shutdown work.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_CURL_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>


/* ngx_http_order_edit_curl_req_t.outcome */
#define NGX_HTTP_ORDER_EDIT_CURL_OK         0  /* a response, any status */
#define NGX_HTTP_ORDER_EDIT_CURL_FAILED     1  /* see curl_code and message */
#define NGX_HTTP_ORDER_EDIT_CURL_TOO_LARGE  2  /* body over max_body */
#define NGX_HTTP_ORDER_EDIT_CURL_CANCELLED  3  /* cancel() or worker exit */


/*
 * Engine settings: the order_edit_curl directive, or filled in by the
 * code that owns the engine.  NGX_CONF_UNSET* values take the defaults.
 */
typedef struct ngx_http_order_edit_curl_conf_s {
    ngx_uint_t                  max_connections;  /* 0: no limit */
    ngx_uint_t                  max_host_connections;
    ngx_uint_t                  keepalive;        /* idle connections kept */
    size_t                      max_body;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    ngx_str_t                   ca_file;          /* "": libcurl's bundle */
    ngx_str_t                   proxy;            /* "": direct */
    void                       *parse_pool;       /* NULL: no threads */
    void                       *background_pool;  /* NULL: parse_pool */
    size_t                      parse_threshold;  /* parsed there from */

    ngx_str_t                   file;             /* where it was set */
    ngx_uint_t                  line;
} ngx_http_order_edit_curl_conf_t;


typedef struct ngx_http_order_edit_curl_req_s  ngx_http_order_edit_curl_req_t;

typedef void (*ngx_http_order_edit_curl_done_pt)(
    ngx_http_order_edit_curl_req_t *req, void *data);


/*
 * One transfer.  create() fills it with the engine's defaults; the caller
 * sets the fields marked "in" and calls the setters, then start().
 *
 * Ownership: all of it lives in req->pool, with libcurl's easy handle and
 * header list, freed together.  Once start() returns NGX_OK the engine
 * owns the request: done() is called exactly once, from the event loop,
 * never before start() returns (cancel() is the one exception: it calls
 * done() before it returns), and the engine frees the request as soon as
 * done() returns, so done() copies what it keeps.  When start() returns
 * anything else, done() is never called and the creator free()s it.
 *
 * The log given to create() must outlive the transfer: ngx_cycle->log,
 * not a client request's.
 */
struct ngx_http_order_edit_curl_req_s {
    /* in */
    ngx_uint_t                  method;        /* NGX_HTTP_GET, ... */
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;       /* the whole transfer */
    size_t                      max_body;
    ngx_uint_t                  ssl_verify;    /* 1 unless told */
    ngx_str_t                   ca_file;       /* "": the engine's; NUL-
                                                  terminated, outlives req */
    ngx_http_order_edit_curl_done_pt  done;
    void                       *data;

    /* out, valid in done() */
    ngx_uint_t                  outcome;
    ngx_uint_t                  status;        /* 0: no HTTP response */
    CURLcode                    curl_code;
    ngx_str_t                   message;       /* "" on success */
    ngx_str_t                   body;
    ngx_list_t                  headers;       /* of ngx_table_elt_t */
    ngx_table_elt_t            *location;
    ngx_table_elt_t            *content_type;
    ngx_table_elt_t            *retry_after;
    ngx_msec_t                  time;          /* total, in ms */
    ngx_uint_t                  new_connections;

    /* private */
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    CURL                       *easy;
    struct curl_slist          *request_headers;
    ngx_str_t                   url;
    ngx_str_t                   request_body;
    ngx_str_t                   proxy;
    size_t                      body_size;     /* allocated */
    size_t                      body_sent;     /* of request_body */
    size_t                      header_bytes;
    ngx_queue_t                 queue;

    unsigned                    started:1;
    unsigned                    sent:1;        /* a request went out */
    unsigned                    resend_refused:1;
    unsigned                    too_large:1;
    unsigned                    headers_too_large:1;
    unsigned                    wrap_failed:1;

    char                        error[CURL_ERROR_SIZE];
};


typedef struct {
    ngx_uint_t                  active;        /* transfers in flight */
    ngx_uint_t                  sockets;       /* wrapped right now */
    ngx_uint_t                  peak_sockets;  /* since reset_peak() */
    ngx_uint_t                  started;
    ngx_uint_t                  completed;
} ngx_http_order_edit_curl_stats_t;


/* configuration (master, while reading nginx.conf) */
ngx_http_order_edit_curl_conf_t *ngx_http_order_edit_curl_conf_get(
    ngx_conf_t *cf);
char *ngx_http_order_edit_curl_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the engine (a worker) */
ngx_int_t ngx_http_order_edit_curl_init(ngx_cycle_t *cycle,
    ngx_http_order_edit_curl_conf_t *conf);
void ngx_http_order_edit_curl_cleanup(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_order_edit_curl_running(void);
void ngx_http_order_edit_curl_stats(ngx_http_order_edit_curl_stats_t *st);
void ngx_http_order_edit_curl_reset_peak(void);

/* transfers */
ngx_http_order_edit_curl_req_t *ngx_http_order_edit_curl_create(
    ngx_log_t *log);
ngx_int_t ngx_http_order_edit_curl_set_url(ngx_http_order_edit_curl_req_t *req,
    ngx_str_t *url);
ngx_int_t ngx_http_order_edit_curl_add_header(
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_order_edit_curl_set_body(
    ngx_http_order_edit_curl_req_t *req, u_char *data, size_t len,
    ngx_uint_t copy);
ngx_int_t ngx_http_order_edit_curl_set_proxy(
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *proxy);
ngx_int_t ngx_http_order_edit_curl_start(ngx_http_order_edit_curl_req_t *req);
void ngx_http_order_edit_curl_cancel(ngx_http_order_edit_curl_req_t *req);
void ngx_http_order_edit_curl_free(ngx_http_order_edit_curl_req_t *req);
ngx_int_t ngx_http_order_edit_curl_take_body(
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *body);
ngx_table_elt_t *ngx_http_order_edit_curl_header(
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *name);


#endif /* _NGX_HTTP_ORDER_EDIT_CURL_H_INCLUDED_ */
