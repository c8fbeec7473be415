
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "ngx_http_order_edit_parse.h"


struct ngx_http_order_edit_parse_s {
#if (NGX_THREADS)
    ngx_thread_task_t                     task;
#endif
    ngx_queue_t                           queue;      /* out on the pool */
    ngx_log_t                            *log;
    ngx_http_order_edit_parse_work_pt     work;
    ngx_http_order_edit_parse_done_pt     done;
    ngx_http_order_edit_parse_clean_pt    clean;
    void                                 *data;
    void                                 *ctx;
    size_t                                bytes;
    volatile ngx_uint_t                   finished;   /* by the thread */
    unsigned                              orphan:1;   /* done() told */
    unsigned                              garbage:1;  /* dispose()'s */
    unsigned                              background:1;
};


/* what dispose() frees */
typedef struct {
    void                                (*free_fn)(void *);
    void                                 *ptr;
} ngx_http_order_edit_parse_garbage_t;


static void ngx_http_order_edit_parse_free(ngx_http_order_edit_parse_t *p);
static void ngx_http_order_edit_parse_drop(void *ctx);
static void ngx_http_order_edit_parse_dropped(void *ctx, void *data,
    ngx_uint_t cancelled);
#if (NGX_THREADS)
static void ngx_http_order_edit_parse_thread(void *data, ngx_log_t *log);
static void ngx_http_order_edit_parse_thread_idle(void *data,
    ngx_log_t *log);
static void ngx_http_order_edit_parse_completed(ngx_event_t *ev);
#endif


/* the worker's: order_edit_curl's settings, and the tasks out */
static void                               *ngx_http_order_edit_parse_pool;
static void                               *ngx_http_order_edit_parse_bg;
static size_t                              ngx_http_order_edit_parse_min;
static ngx_queue_t                         ngx_http_order_edit_parse_out;


void
ngx_http_order_edit_parse_init(void *thread_pool, void *background,
    size_t threshold)
{
    ngx_http_order_edit_parse_pool = thread_pool;
    ngx_http_order_edit_parse_bg = background;
    ngx_http_order_edit_parse_min = threshold;

    if (ngx_http_order_edit_parse_out.next == NULL) {
        ngx_queue_init(&ngx_http_order_edit_parse_out);
    }
}


ngx_http_order_edit_parse_t *
ngx_http_order_edit_parse_create(size_t ctx_size,
    ngx_http_order_edit_parse_clean_pt clean, ngx_log_t *log)
{
    ngx_http_order_edit_parse_t  *p;

    /* ctx right after the task, aligned for anything it holds */
    p = ngx_calloc(ngx_align(sizeof(ngx_http_order_edit_parse_t), 16)
                   + ctx_size, log);
    if (p == NULL) {
        return NULL;
    }

    p->log = log;
    p->clean = clean;
    p->ctx = (u_char *) p
             + ngx_align(sizeof(ngx_http_order_edit_parse_t), 16);

    return p;
}


void *
ngx_http_order_edit_parse_ctx(ngx_http_order_edit_parse_t *p)
{
    return p->ctx;
}


void
ngx_http_order_edit_parse_destroy(ngx_http_order_edit_parse_t *p)
{
    ngx_http_order_edit_parse_free(p);
}


void
ngx_http_order_edit_parse_background(ngx_http_order_edit_parse_t *p)
{
    p->background = 1;
}


ngx_int_t
ngx_http_order_edit_parse_start(ngx_http_order_edit_parse_t *p,
    size_t bytes, ngx_http_order_edit_parse_work_pt work,
    ngx_http_order_edit_parse_done_pt done, void *data)
{
#if (NGX_THREADS)
    void  *pool;
#endif

    p->work = work;
    p->done = done;
    p->data = data;
    p->bytes = bytes;

#if (NGX_THREADS)

    pool = (p->background && ngx_http_order_edit_parse_bg != NULL)
           ? ngx_http_order_edit_parse_bg : ngx_http_order_edit_parse_pool;

    if (pool != NULL && bytes >= ngx_http_order_edit_parse_min) {
        p->background = (pool == ngx_http_order_edit_parse_bg);

        p->task.ctx = p;
        /* chosen here: the thread reads none of p's bit-fields */
        p->task.handler = p->background
                          ? ngx_http_order_edit_parse_thread_idle
                          : ngx_http_order_edit_parse_thread;
        p->task.event.handler = ngx_http_order_edit_parse_completed;
        p->task.event.data = p;
        p->task.event.log = p->log;

        if (ngx_thread_task_post(pool, &p->task) == NGX_OK) {
            ngx_queue_insert_tail(&ngx_http_order_edit_parse_out,
                                  &p->queue);

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, p->log, 0,
                           "order_edit: %s of %uz bytes goes to the "
                           "thread pool",
                           p->garbage ? "the freeing of a parse"
                                      : "an answer", bytes);

            return NGX_AGAIN;
        }

        /* the pool's queue is full (it said so): parsed here instead */
    }

#endif

    work(p->ctx);
    p->finished = 1;

    done(p->ctx, data, 0);

    ngx_http_order_edit_parse_free(p);

    return NGX_OK;
}


void
ngx_http_order_edit_parse_dispose(void (*free_fn)(void *), void *ptr,
    size_t bytes, ngx_log_t *log)
{
    ngx_http_order_edit_parse_dispose_on(free_fn, ptr, bytes, 0, log);
}


void
ngx_http_order_edit_parse_dispose_on(void (*free_fn)(void *), void *ptr,
    size_t bytes, ngx_uint_t background, ngx_log_t *log)
{
    ngx_http_order_edit_parse_t          *p;
    ngx_http_order_edit_parse_garbage_t  *g;

    p = ((ngx_http_order_edit_parse_pool != NULL
          || (background && ngx_http_order_edit_parse_bg != NULL))
         && bytes >= ngx_http_order_edit_parse_min)
        ? ngx_http_order_edit_parse_create(
              sizeof(ngx_http_order_edit_parse_garbage_t), NULL, log)
        : NULL;

    if (p == NULL) {
        free_fn(ptr);
        return;
    }

    g = p->ctx;
    g->free_fn = free_fn;
    g->ptr = ptr;
    p->garbage = 1;
    p->background = background ? 1 : 0;

    (void) ngx_http_order_edit_parse_start(p, bytes,
                                           ngx_http_order_edit_parse_drop,
                                           ngx_http_order_edit_parse_dropped,
                                           NULL);
}


static void
ngx_http_order_edit_parse_drop(void *ctx)
{
    ngx_http_order_edit_parse_garbage_t *g = ctx;

    g->free_fn(g->ptr);
}


static void
ngx_http_order_edit_parse_dropped(void *ctx, void *data,
    ngx_uint_t cancelled)
{
    /* nothing waits for garbage */
}


void
ngx_http_order_edit_parse_cancel(ngx_http_order_edit_parse_t *p)
{
    if (p->orphan) {
        return;
    }

    /* the thread still has it: freed when the pool gives it back */
    p->orphan = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->log, 0,
                   "order_edit: the parse of an answer of %uz bytes is "
                   "cancelled", p->bytes);

    p->done(p->ctx, p->data, 1);
}


/*
 * exit_process.  nginx's thread pools are destroyed before this module's
 * exit_process runs (theirs is a core module), after their threads ran
 * every task posted: a task is finished, its completion never to come.
 */

void
ngx_http_order_edit_parse_cancel_all(void)
{
    ngx_queue_t                  *q, *next;
    ngx_http_order_edit_parse_t  *p;

    /*
     * The pools are gone: whatever a cancelled job starts from here on
     * (freeing its record, say) is done inline.
     */
    ngx_http_order_edit_parse_pool = NULL;
    ngx_http_order_edit_parse_bg = NULL;

    if (ngx_http_order_edit_parse_out.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_order_edit_parse_out);
         q != ngx_queue_sentinel(&ngx_http_order_edit_parse_out);
         q = next)
    {
        next = ngx_queue_next(q);
        p = ngx_queue_data(q, ngx_http_order_edit_parse_t, queue);

        ngx_http_order_edit_parse_cancel(p);

        if (p->finished) {
            ngx_queue_remove(&p->queue);
            ngx_http_order_edit_parse_free(p);
        }

        /* else a thread may still be in it: left to the exit */
    }
}


static void
ngx_http_order_edit_parse_free(ngx_http_order_edit_parse_t *p)
{
    if (p->clean) {
        p->clean(p->ctx);
    }

    ngx_free(p);
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_parse_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_parse_t *p = data;

    p->work(p->ctx);

    ngx_memory_barrier();
    p->finished = 1;
}


static void
ngx_http_order_edit_parse_thread_idle(void *data, ngx_log_t *log)
{
    int                        err;
    struct sched_param         sp;
    static __thread ngx_uint_t  idle;

    /*
     * A thread of background_thread_pool= gives the CPUs up to anything
     * else runnable (the event loops, other processes) for good: nginx
     * makes the pool's threads, so the first task switches its own.  A
     * thread cannot take a normal policy back unprivileged: only this
     * pool's threads, which do nothing else, are switched.
     */
    if (!idle) {
        idle = 1;
        ngx_memzero(&sp, sizeof(struct sched_param));

        err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
        if (err != 0) {
            ngx_log_error(NGX_LOG_ALERT, log, err,
                          "order_edit: pthread_setschedparam(SCHED_IDLE) "
                          "failed");
        }
    }

    ngx_http_order_edit_parse_thread(data, log);
}


static void
ngx_http_order_edit_parse_completed(ngx_event_t *ev)
{
    ngx_http_order_edit_parse_t *p = ev->data;

    ngx_queue_remove(&p->queue);

    if (p->orphan) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->log, 0,
                       "order_edit: an answer of %uz bytes parsed on the "
                       "thread pool for nobody (cancelled)", p->bytes);

        ngx_http_order_edit_parse_free(p);
        return;
    }

    if (p->garbage) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->log, 0,
                       "order_edit: a parse of %uz bytes freed on the "
                       "thread pool", p->bytes);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->log, 0,
                       "order_edit: an answer of %uz bytes parsed on the "
                       "thread pool", p->bytes);
    }

    p->done(p->ctx, p->data, 0);

    ngx_http_order_edit_parse_free(p);
}

#endif
