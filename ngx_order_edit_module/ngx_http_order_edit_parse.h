
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Parsing an answer off the event loop.  A 500-line Sales Order read
 * back is a few hundred KB of JSON, milliseconds of jansson: parsed in
 * the dispatching worker's event loop it would hold up every webhook
 * that worker answers meanwhile.  An answer at least the threshold long
 * (order_edit_curl parse_threshold=) is parsed on nginx's thread pool
 * (parse_thread_pool=); a smaller one, or any without threads, here and
 * now: handing a task over costs more than parsing a few KB.
 *
 * The work runs on a thread: it may read and write only its ctx and
 * what it mallocs (jansson's heap is thread-safe), never an nginx pool,
 * the zone, the configuration's mutable state or a log.  The caller
 * fills ctx with copies it hands over (ngx_http_order_edit_curl_take_body()
 * gives an answer's body away without a copy).
 */


#ifndef _NGX_HTTP_ORDER_EDIT_PARSE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_http_order_edit_parse_s  ngx_http_order_edit_parse_t;

/* on a thread, or in the event loop when inline: ctx only */
typedef void (*ngx_http_order_edit_parse_work_pt)(void *ctx);

/*
 * In the event loop, exactly once: the work done, or cancelled (the work
 * may still run, or not have run: ctx says nothing then).  done() takes
 * what it keeps out of ctx; after it returns, clean(ctx) frees the rest
 * and the task is freed, at once or when its thread is done with it.
 */
typedef void (*ngx_http_order_edit_parse_done_pt)(void *ctx, void *data,
    ngx_uint_t cancelled);
typedef void (*ngx_http_order_edit_parse_clean_pt)(void *ctx);


/*
 * A worker's settings: from order_edit_curl, in init_process.  background
 * (background_thread_pool=, NULL: none) takes the tasks marked so, on
 * threads that run only when a CPU has nothing else to run (SCHED_IDLE).
 */
void ngx_http_order_edit_parse_init(void *thread_pool, void *background,
    size_t threshold);

/*
 * A task with ctx_size bytes of zeroed ctx, malloc()ed (it may outlive
 * whatever pool its owner has); clean(ctx) frees what ctx holds, once.
 * NULL: no memory.  A task never started is freed with destroy().
 */
ngx_http_order_edit_parse_t *ngx_http_order_edit_parse_create(
    size_t ctx_size, ngx_http_order_edit_parse_clean_pt clean,
    ngx_log_t *log);
void *ngx_http_order_edit_parse_ctx(ngx_http_order_edit_parse_t *p);
void ngx_http_order_edit_parse_destroy(ngx_http_order_edit_parse_t *p);

/*
 * Before start(): the work waits for nothing and no webhook waits for
 * it (reconciliation's and the report's pages), so it goes to the
 * background pool when there is one.
 */
void ngx_http_order_edit_parse_background(ngx_http_order_edit_parse_t *p);

/*
 * Runs work(ctx) for an answer of "bytes": on the thread pool when it is
 * at least the threshold (NGX_AGAIN: done() comes later), else here, and
 * done() before this returns (NGX_OK).  The task is the engine's from
 * now on; the caller keeps its pointer only to cancel it, until done().
 */
ngx_int_t ngx_http_order_edit_parse_start(ngx_http_order_edit_parse_t *p,
    size_t bytes, ngx_http_order_edit_parse_work_pt work,
    ngx_http_order_edit_parse_done_pt done, void *data);

/*
 * free_fn(ptr) on the thread pool when "bytes" is at least the threshold
 * (freeing a large jansson tree costs a good part of parsing it), else
 * here.  At exit what is not freed yet is left to the process's end.
 */
void ngx_http_order_edit_parse_dispose(void (*free_fn)(void *), void *ptr,
    size_t bytes, ngx_log_t *log);
/* the same, on the background pool when there is one and background */
void ngx_http_order_edit_parse_dispose_on(void (*free_fn)(void *),
    void *ptr, size_t bytes, ngx_uint_t background, ngx_log_t *log);

/* done(cancelled) before this returns; the thread's result is dropped */
void ngx_http_order_edit_parse_cancel(ngx_http_order_edit_parse_t *p);

/* exit_process: every task still out is cancelled, as transfers are */
void ngx_http_order_edit_parse_cancel_all(void);


#endif /* _NGX_HTTP_ORDER_EDIT_PARSE_H_INCLUDED_ */
