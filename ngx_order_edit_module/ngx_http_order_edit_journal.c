
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/file.h>
#include <sys/uio.h>
#include <sys/statvfs.h>
#include <jansson.h>

#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_dispatch.h"
#include "ngx_http_order_edit_curl.h"


/* rotated segments that still wait for their last fsync */
#define NGX_HTTP_ORDER_EDIT_JRETIRED      8

/* records one adoption step puts in the zone before yielding */
#define NGX_HTTP_ORDER_EDIT_JADOPT_STEP   2000

#define NGX_HTTP_ORDER_EDIT_JSCAN_MS      1000

/* segment bytes one adoption pass reads into memory, at least a file */
#define NGX_HTTP_ORDER_EDIT_JADOPT_BYTES  (64 * 1024 * 1024)

/* corrupt records of a file logged one by one */
#define NGX_HTTP_ORDER_EDIT_JCORRUPT_LOG  16

/* a spare is zero-filled this many bytes of zeros a call */
#define NGX_HTTP_ORDER_EDIT_JZERO_IOV     4
#define NGX_HTTP_ORDER_EDIT_JZERO_SIZE    (64 * 1024)

/*
 * fsyncs in flight at once.  Two let records written while one runs
 * start theirs at once, but on the quiet VM they made more and smaller
 * fsyncs for less throughput and more CPU a webhook (bench/README.md,
 * "Two fsyncs in flight"): one, until a disk shows otherwise.  The code
 * keeps the rules two need (start order, files of a task's own).
 */
#define NGX_HTTP_ORDER_EDIT_JSYNCS        1

/* pieces of one pwritev() of staged records: 3 a record, and the end */
#define NGX_HTTP_ORDER_EDIT_JSTAGE_IOV    256

/* a stage's first size, and one grown past KEEP by a burst is freed */
#define NGX_HTTP_ORDER_EDIT_JSTAGE_FIRST  (64 * 1024)
#define NGX_HTTP_ORDER_EDIT_JSTAGE_KEEP   (1024 * 1024)

/* staged records' place in the stage: their off_t aligned anywhere */
#define NGX_HTTP_ORDER_EDIT_JSTAGE_ALIGN  8


/*
 * bench only (-DNGX_HTTP_ORDER_EDIT_JTRACE=1): where a batch's time goes,
 * averaged over 1000 fsyncs in the error log
 */
#ifndef NGX_HTTP_ORDER_EDIT_JTRACE
#define NGX_HTTP_ORDER_EDIT_JTRACE        0
#endif

#if (NGX_HTTP_ORDER_EDIT_JTRACE)

static uint64_t
ngx_http_order_edit_jtrace_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* first waiting record, post, thread start, fsync end, seen, answered */
static uint64_t  ngx_http_order_edit_jtrace_first;
static uint64_t  ngx_http_order_edit_jtrace_sum[6];
static uint64_t  ngx_http_order_edit_jtrace_n, ngx_http_order_edit_jtrace_recs;
static uint64_t  ngx_http_order_edit_jtrace_prev_answered;

#endif


/*
 * A record staged (fsync on): its head and strings copied after this, as
 * the request holding the strings may go first; its body where the zone
 * holds it, which nobody leases, frees or moves before the record settles
 * (a webhook is held until durable, and only settle() rolls one back).
 */
typedef struct {
    ngx_fd_t                             fd;          /* the writer's */
    ngx_uint_t                           end;         /* recycled file */
    off_t                                off;
    size_t                               size;        /* padding included */
    size_t                               meta;        /* head, strings */
    size_t                               body_len;
    u_char                              *body;
} ngx_http_order_edit_jstaged_t;


/* a staged record's place in the stage: the entry, then its meta */
#define ngx_http_order_edit_jstaged_size(meta)                               \
    ngx_align(sizeof(ngx_http_order_edit_jstaged_t) + (meta),              \
              NGX_HTTP_ORDER_EDIT_JSTAGE_ALIGN)


typedef struct {
    u_char                              *buf;
    size_t                               len;
    size_t                               size;
} ngx_http_order_edit_jstage_t;


/* allocated apart from the request, which may go first (a reset) */
typedef struct ngx_http_order_edit_jwait_s  ngx_http_order_edit_jwait_t;

struct ngx_http_order_edit_jwait_s {
    ngx_queue_t                          queue;
    ngx_http_request_t                  *r;           /* NULL: gone */
    ngx_pool_cleanup_t                  *cln;
    ngx_http_order_edit_item_t          *item;
    uint64_t                             wseq;
    void                               (*done)(ngx_http_request_t *r,
                                                ngx_int_t rc);
};


struct ngx_http_order_edit_jwriter_s {
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_journal_conf_t  *jcf;
    ngx_log_t                           *log;

    ngx_fd_t                             fd;
    ngx_fd_t                             dir_fd;
    ngx_http_order_edit_jseg_t          *seg;
    uint32_t                             gen;         /* seg's records' */
    ngx_uint_t                           reused;      /* a recycled file */
    ngx_fd_t                             retired[NGX_HTTP_ORDER_EDIT_JRETIRED];
    ngx_uint_t                           nretired;
    ngx_uint_t                           dir_dirty;
    ngx_uint_t                           dir_stale;   /* saw an fsync fail */
    ngx_uint_t                           open_failed; /* logged once */

    /*
     * group commit: records staged (or written, fsync off), records known
     * durable, and records an fsync in flight will cover (at least: its
     * thread takes what is staged when it starts).  wseq is read by the
     * thread.
     */
    uint64_t                             wseq;
    uint64_t                             synced;
    uint64_t                             started;
    uint64_t                             last_ns;     /* thread's last start */
    ngx_queue_t                          waiters;
    ngx_uint_t                           syncing;     /* in flight */
    ngx_uint_t                           oldest;      /* task[] index */
    ngx_event_t                          window;      /* a retry */

    /* armed while anyone waits: a worker shutting down waits too */
    ngx_event_t                          hold;
#if (NGX_THREADS)
    ngx_thread_task_t                   *task[NGX_HTTP_ORDER_EDIT_JSYNCS];

    /*
     * fsync on: records staged for the fsync's thread to write, all of a
     * window's in one pwritev() (stage_mu: the loop's appends and the
     * thread's take), taken and written by one thread at a time
     * (write_mu), and the waiter the last one staged made ready
     */
    ngx_http_order_edit_jstage_t         stage;
    ngx_thread_mutex_t                   stage_mu;
    ngx_thread_mutex_t                   write_mu;
    ngx_uint_t                           stage_dead;  /* a write failed */
    ngx_http_order_edit_jwait_t         *staged_w;
#endif

    /* the delivering worker's: the generation lock and adoption */
    ngx_uint_t                           dispatcher;
    ngx_fd_t                             lock_fd;
    ngx_uint_t                           holding;
    ngx_event_t                          scan;
    void                                *adopting;   /* a pass in flight */

    /* the next spare, zero-filled on the thread pool */
    ngx_uint_t                           spares_wanted;
    ngx_uint_t                           preallocating;
#if (NGX_THREADS)
    ngx_thread_task_t                   *ptask;
#endif
};


typedef struct {
    ngx_http_order_edit_jwriter_t       *jw;
    ngx_fd_t                             fd[NGX_HTTP_ORDER_EDIT_JRETIRED + 2];
    ngx_uint_t                           nfd;
    ngx_uint_t                           nclose;
    uint64_t                             target;
    uint64_t                             wlimit;      /* last in its files */
    uint64_t                             window_ns;   /* batch's spacing */
    ngx_http_order_edit_jstage_t         batch;       /* the records taken */
    ngx_err_t                            err;
    ngx_uint_t                           wfailed;     /* err: a write's */
    uint64_t                             us;
    ngx_uint_t                           done;        /* event loop's */
#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    uint64_t                             t[4];        /* first..end */
    uint64_t                             recs;
#endif
} ngx_http_order_edit_jsync_t;


/*
 * A segment being adopted.  Offsets are the file's; buf holds the file
 * from "base" (the start, or where the last pass stopped) to "size".
 */
typedef struct {
    ngx_str_t                            name;
    ngx_fd_t                             fd;
    u_char                              *buf;
    size_t                               base;
    size_t                               size;
    size_t                               end;         /* adopted: bytes */
    size_t                               off;
    uint64_t                            *acks;        /* off << 8 | kind */
    ngx_uint_t                           nacks;
    ngx_http_order_edit_jseg_t          *seg;
    uint32_t                             gen;         /* 0: format 1 */
    ngx_uint_t                           fresh;
    ngx_uint_t                           reused;      /* header not ours */
    ngx_uint_t                           loaded;      /* load() ran */
    ngx_int_t                            rc;          /* load()'s verdict */
    ngx_uint_t                           ok;          /* in the zone */

    /* what load() found, for apply() to log and count */
    const char                          *what;
    ngx_err_t                            err;
    ngx_uint_t                           bad;
    ngx_uint_t                           torn;
    size_t                               torn_at;
    size_t                               torn_len;
    ngx_err_t                            cut_err;
    ngx_uint_t                           ncorrupt;
    struct {
        size_t                           off;
        size_t                           len;
    } corrupt[NGX_HTTP_ORDER_EDIT_JCORRUPT_LOG];

    ngx_http_order_edit_jrec_enq_t       head;
    size_t                               head_off;
    size_t                               head_size;
    ngx_uint_t                           has_head;
} ngx_http_order_edit_jsrc_t;


/* a spare being zero-filled: "<name>.zero", then "<name>.free" */
typedef struct {
    ngx_http_order_edit_journal_conf_t  *jcf;
    size_t                               size;
    size_t                               len;
    u_char                               name[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
    ngx_err_t                            err;
    const char                          *what;
} ngx_http_order_edit_jprealloc_t;


/* one adoption pass: its own pool, freed when the pass is over */
typedef struct {
    ngx_pool_t                          *pool;
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_jwriter_t       *jw;
    ngx_array_t                          srcs;
    ngx_uint_t                           more;
    ngx_uint_t                           inline_done;
} ngx_http_order_edit_jpass_t;


static size_t ngx_http_order_edit_journal_record_size(ngx_str_t *shop,
    ngx_http_order_edit_msg_t *msg);
static ngx_int_t ngx_http_order_edit_journal_prepare(
    ngx_http_order_edit_zone_t *zone, ngx_log_t *log);
static ngx_uint_t ngx_http_order_edit_journal_room_locked(
    ngx_http_order_edit_zone_t *zone, size_t size);
static void ngx_http_order_edit_journal_reserve_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    size_t size);
static ngx_int_t ngx_http_order_edit_journal_write(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_str_t *shop, ngx_http_order_edit_msg_t *msg, size_t size,
    ngx_log_t *log);
#if (NGX_THREADS)
static ngx_int_t ngx_http_order_edit_journal_stage(
    ngx_http_order_edit_jwriter_t *jw, ngx_http_order_edit_item_t *item,
    u_char *head, ngx_http_order_edit_jrec_enq_t *e, size_t size,
    ngx_log_t *log);
static ngx_err_t ngx_http_order_edit_journal_write_staged(
    ngx_http_order_edit_jstage_t *st);
static void ngx_http_order_edit_journal_flush_stage(
    ngx_http_order_edit_jwriter_t *jw);
#endif
static ngx_int_t ngx_http_order_edit_journal_wait(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_http_order_edit_store_done_pt done);
static void ngx_http_order_edit_journal_adopt_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_http_order_edit_recref_t *ref);
static void ngx_http_order_edit_journal_release_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_uint_t kind, ngx_http_order_edit_settle_t *ack);
static void ngx_http_order_edit_journal_ack(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_settle_t *ack, ngx_log_t *log);
static ngx_int_t ngx_http_order_edit_journal_open_segment(
    ngx_http_order_edit_jwriter_t *jw);
static void ngx_http_order_edit_journal_seal(ngx_http_order_edit_jwriter_t *jw,
    ngx_uint_t close_fd);
static void ngx_http_order_edit_journal_unlink(
    ngx_http_order_edit_journal_conf_t *jcf, u_char *name, size_t len,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_kick(ngx_http_order_edit_jwriter_t *jw);
#if (NGX_THREADS)
static ngx_fd_t ngx_http_order_edit_journal_reopen(
    ngx_http_order_edit_jwriter_t *jw, ngx_uint_t dir);
#endif
static void ngx_http_order_edit_journal_window(ngx_event_t *ev);
static void ngx_http_order_edit_journal_waiter_gone(void *data);
static void ngx_http_order_edit_journal_hold(ngx_event_t *ev);
#if (NGX_THREADS)
static void ngx_http_order_edit_journal_settle(
    ngx_http_order_edit_jwriter_t *jw, ngx_uint_t failed);
static void ngx_http_order_edit_journal_sync_thread(void *data,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_fresh_dir(
    ngx_http_order_edit_jwriter_t *jw);
static void ngx_http_order_edit_journal_sync_done(ngx_event_t *ev);
#endif
static void ngx_http_order_edit_journal_unwrite(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    size_t size, ngx_log_t *log);
static void ngx_http_order_edit_journal_scan(ngx_event_t *ev);
static ngx_uint_t ngx_http_order_edit_journal_reclaim(
    ngx_http_order_edit_zone_t *zone, ngx_uint_t start, ngx_log_t *log);
static ngx_int_t ngx_http_order_edit_journal_adopt(
    ngx_http_order_edit_zone_t *zone, ngx_uint_t budget, ngx_log_t *log,
    ngx_uint_t *more);
static ngx_http_order_edit_jpass_t *ngx_http_order_edit_journal_collect(
    ngx_http_order_edit_zone_t *zone, ngx_log_t *log);
static void ngx_http_order_edit_journal_load_all(
    ngx_http_order_edit_jpass_t *pass);
static void ngx_http_order_edit_journal_load(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jsrc_t *src);
static void ngx_http_order_edit_journal_apply(
    ngx_http_order_edit_jpass_t *pass, ngx_uint_t budget, ngx_log_t *log,
    ngx_uint_t *more);
static void ngx_http_order_edit_journal_pass_done(
    ngx_http_order_edit_jpass_t *pass);
static ngx_int_t ngx_http_order_edit_journal_adopt_start(
    ngx_http_order_edit_jwriter_t *jw);
#if (NGX_THREADS)
static void ngx_http_order_edit_journal_adopt_thread(void *data,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_adopt_done(ngx_event_t *ev);
#endif
static void ngx_http_order_edit_journal_adopted(
    ngx_http_order_edit_jpass_t *pass);
static ngx_int_t ngx_http_order_edit_journal_recycle(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_free(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len);
static ngx_int_t ngx_http_order_edit_journal_spares_grow_locked(
    ngx_http_order_edit_zone_t *zone);
static ngx_uint_t ngx_http_order_edit_journal_spare_locked(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len);
static void ngx_http_order_edit_journal_preallocate(
    ngx_http_order_edit_jwriter_t *jw);
#if (NGX_THREADS)
static void ngx_http_order_edit_journal_prealloc_thread(void *data,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_prealloc_done(ngx_event_t *ev);
#endif
static void ngx_http_order_edit_journal_zeroed(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len);
static ngx_uint_t ngx_http_order_edit_journal_all_zero(u_char *p,
    size_t size);
static void ngx_http_order_edit_journal_unlink_quiet(
    ngx_http_order_edit_journal_conf_t *jcf, u_char *name, size_t len);
static void ngx_http_order_edit_journal_next(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jsrc_t *src, ngx_log_t *log);
static ngx_int_t ngx_http_order_edit_journal_enqueue(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_jsrc_t *src,
    ngx_uint_t queue);
static void ngx_http_order_edit_journal_remove(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_jseg_t *seg,
    ngx_log_t *log);
static void ngx_http_order_edit_journal_orphan(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len);
static ngx_uint_t ngx_http_order_edit_journal_listed_locked(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len);
static ngx_http_order_edit_jseg_t *ngx_http_order_edit_journal_register_locked(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len, size_t bytes);
static void ngx_http_order_edit_journal_drop_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_jseg_t *seg);
static ngx_uint_t ngx_http_order_edit_journal_name(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len);
static ngx_uint_t ngx_http_order_edit_journal_named(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *name,
    ngx_http_order_edit_jrec_seg_t *s);
static ngx_http_order_edit_jseg_t *ngx_http_order_edit_journal_known(
    ngx_http_order_edit_zone_t *zone, u_char *name, size_t len,
    ngx_http_order_edit_jsrc_t *src, ngx_uint_t *skip);
static void ngx_http_order_edit_journal_path(
    ngx_http_order_edit_journal_conf_t *jcf, u_char *buf, u_char *name,
    size_t len, const char *suffix);
static int ngx_libc_cdecl ngx_http_order_edit_journal_cmp_off(const void *a,
    const void *b);
static ngx_fd_t ngx_http_order_edit_journal_lock_fd(
    ngx_http_order_edit_zone_t *zone, int flags);
static ngx_int_t ngx_http_order_edit_journal_gen_lock(
    ngx_http_order_edit_zone_t *zone, ngx_log_t *log);
static ngx_uint_t ngx_http_order_edit_journal_gen_alive(
    ngx_http_order_edit_zone_t *zone, u_char *name);


/*
 * The generation locks this nginx holds: "<zone>-<gen>.lock", taken by
 * the master when it creates a zone and inherited by every worker it
 * forks, so that it is held for as long as any process of the generation
 * lives.  A binary upgrade's new master does not inherit it (CLOEXEC).
 */
#define NGX_HTTP_ORDER_EDIT_JGENS  16

static uint64_t  ngx_http_order_edit_jgens[NGX_HTTP_ORDER_EDIT_JGENS];

#if (NGX_THREADS)
/* what a spare is filled with (on the thread pool); only ever read */
static u_char  ngx_http_order_edit_jzeros[NGX_HTTP_ORDER_EDIT_JZERO_SIZE];
#endif
static ngx_uint_t  ngx_http_order_edit_njgens;


/* what the store asks of its durability backend */
ngx_http_order_edit_backend_t  ngx_http_order_edit_journal_backend = {
    ngx_http_order_edit_journal_record_size,
    ngx_http_order_edit_journal_prepare,
    ngx_http_order_edit_journal_room_locked,
    ngx_http_order_edit_journal_reserve_locked,
    ngx_http_order_edit_journal_write,
    ngx_http_order_edit_journal_wait,
    ngx_http_order_edit_journal_adopt_locked,
    ngx_http_order_edit_journal_release_locked,
    ngx_http_order_edit_journal_ack
};


static ngx_str_t  ngx_http_order_edit_fsync_names[] = {
    ngx_string("off"),
    ngx_string("batch"),
    ngx_string("always")
};


char *
ngx_http_order_edit_journal(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_order_edit_main_conf_t  *omcf = conf;

    ssize_t                              size;
    ngx_int_t                            window, n;
    ngx_str_t                           *value, s;
    ngx_uint_t                           i, k;
    ngx_path_t                          *path;
    ngx_http_order_edit_journal_conf_t  *jcf;
#if (NGX_THREADS)
    ngx_str_t                            pool_name;

    ngx_str_null(&pool_name);
#endif

    if (omcf->journal) {
        return "is duplicate";
    }

    jcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_journal_conf_t));
    if (jcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    jcf->dir = value[1];
    jcf->fsync = NGX_HTTP_ORDER_EDIT_FSYNC_BATCH;
    jcf->batch_window = 1000;
    jcf->max_size = 256 * 1024 * 1024;
    jcf->recycle = 4;
    jcf->preallocate = 1;
    jcf->file = cf->conf_file->file.name;
    jcf->line = cf->conf_file->line;

    if (ngx_conf_full_name(cf->cycle, &jcf->dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (jcf->dir.len > 1 && jcf->dir.data[jcf->dir.len - 1] == '/') {
        jcf->dir.len--;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "fsync=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            for (k = 0; k < 3; k++) {
                if (s.len == ngx_http_order_edit_fsync_names[k].len
                    && ngx_strncmp(s.data,
                                   ngx_http_order_edit_fsync_names[k].data,
                                   s.len) == 0)
                {
                    break;
                }
            }

            if (k == 3) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid fsync \"%V\", expected always, "
                                   "batch or off", &s);
                return NGX_CONF_ERROR;
            }

            jcf->fsync = k;
            continue;
        }

        if (ngx_strncmp(value[i].data, "batch_window=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            /* the thread waits for it: finer than ms, e.g. "500us" */
            if (s.len > 2 && ngx_strncmp(s.data + s.len - 2, "us", 2) == 0)
            {
                window = ngx_atoi(s.data, s.len - 2);

            } else {
                window = ngx_parse_time(&s, 0);

                if (window != NGX_ERROR) {
                    window = (window > 1000) ? NGX_ERROR : window * 1000;
                }
            }

            if (window == NGX_ERROR || window > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid batch_window \"%V\", expected "
                                   "a time up to 1s", &s);
                return NGX_CONF_ERROR;
            }

            jcf->batch_window = (ngx_uint_t) window;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < 64 * 1024) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_size \"%V\", expected a "
                                   "size of at least 64k", &s);
                return NGX_CONF_ERROR;
            }

            jcf->max_size = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "recycle=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            n = ngx_atoi(s.data, s.len);

            if (n == NGX_ERROR || n > NGX_HTTP_ORDER_EDIT_JSPARES) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid recycle \"%V\", expected a "
                                   "number of files from 0 to %d",
                                   &s, NGX_HTTP_ORDER_EDIT_JSPARES);
                return NGX_CONF_ERROR;
            }

            jcf->recycle = (ngx_uint_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "preallocate=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            if (s.len == 2 && ngx_strncmp(s.data, "on", 2) == 0) {
                jcf->preallocate = 1;

            } else if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
                jcf->preallocate = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid preallocate \"%V\", expected "
                                   "on or off", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

#if (NGX_THREADS)
        if (ngx_strncmp(value[i].data, "thread_pool=", 12) == 0) {
            pool_name.data = value[i].data + 12;
            pool_name.len = value[i].len - 12;

            if (pool_name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty thread_pool name");
                return NGX_CONF_ERROR;
            }

            continue;
        }
#endif

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    /* small enough that compaction keeps up, large enough to batch */
    jcf->segment_size = ngx_min(ngx_max(jcf->max_size / 8, 32 * 1024),
                                16 * 1024 * 1024);

#if (NGX_THREADS)
    /* fsyncs and the reading of segments to adopt run on it */
    jcf->thread_pool = ngx_thread_pool_add(cf, pool_name.len ? &pool_name
                                                             : NULL);
    if (jcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    if (jcf->fsync != NGX_HTTP_ORDER_EDIT_FSYNC_OFF) {
#if !(NGX_THREADS)
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fsync=%V needs nginx built --with-threads, "
                           "or fsync=off",
                           &ngx_http_order_edit_fsync_names[jcf->fsync]);
        return NGX_CONF_ERROR;
#endif
    }

    /* nginx creates the directory at start, owned by the worker user */

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = jcf->dir;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    omcf->journal = jcf;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_order_edit_journal_postconf(ngx_conf_t *cf,
    ngx_http_order_edit_main_conf_t *omcf)
{
    u_char                       c;
    ngx_uint_t                   i, k;
    ngx_http_order_edit_zone_t **zone;

    if (omcf->journal == NULL) {
        return NGX_OK;
    }

#if (NGX_THREADS)
    /* that pool's threads turn SCHED_IDLE for good: fsyncs would wait */
    if (omcf->curl != NULL && omcf->curl->background_pool != NULL
        && omcf->curl->background_pool == omcf->journal->thread_pool)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "order_edit_journal in %V:%ui names the thread pool "
                      "of order_edit_curl background_thread_pool= in "
                      "%V:%ui: it needs one of its own",
                      &omcf->journal->file, omcf->journal->line,
                      &omcf->curl->file, omcf->curl->line);
        return NGX_ERROR;
    }
#endif

    zone = omcf->zones.elts;

    for (i = 0; i < omcf->zones.nelts; i++) {

        /* the zone names its files: keep them plain */

        for (k = 0; k < zone[i]->name.len; k++) {
            c = zone[i]->name.data[k];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '.'
                  || (c == '-' && k > 0)))
            {
                break;
            }
        }

        if (k < zone[i]->name.len
            || zone[i]->name.len > NGX_HTTP_ORDER_EDIT_JZONE_MAX)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "order_edit_journal in %V:%ui needs zone names "
                          "of letters, digits, \"_\", \".\" and \"-\", up "
                          "to %d bytes; \"%V\" is not one",
                          &omcf->journal->file, omcf->journal->line,
                          NGX_HTTP_ORDER_EDIT_JZONE_MAX, &zone[i]->name);
            return NGX_ERROR;
        }

        zone[i]->journal = omcf->journal;
    }

    return NGX_OK;
}


/*
 * In the master, before any worker exists: a fresh zone takes in every
 * unsettled record that no live process is writing.  The lock keeps a
 * second nginx (a binary upgrade in progress) from doing the same; that
 * one waits and adopts when its delivering worker gets the lock.
 */

ngx_int_t
ngx_http_order_edit_journal_init_module(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf)
{
    ngx_fd_t                     fd;
    ngx_log_t                   *log;
    ngx_uint_t                   i, more;
    ngx_http_order_edit_zone_t **zone;

    if (omcf->journal == NULL || ngx_test_config
        || ngx_process == NGX_PROCESS_SIGNALLER)
    {
        return NGX_OK;
    }

    /* at first start cycle->log is still stderr: say it in error_log */
    log = cycle->new_log.file ? &cycle->new_log : cycle->log;

    zone = omcf->zones.elts;

    for (i = 0; i < omcf->zones.nelts; i++) {

        if (ngx_http_order_edit_journal_gen_lock(zone[i], log) != NGX_OK) {
            return NGX_ERROR;
        }

        fd = ngx_http_order_edit_journal_lock_fd(zone[i], O_RDWR | O_CREAT);

        if (fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                          "order_edit: cannot open the journal lock of "
                          "zone \"%V\" in \"%V\"", &zone[i]->name,
                          &omcf->journal->dir);
            return NGX_ERROR;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
            /* on a reload the holder is this nginx's own worker */
            if (zone[i]->sh->journal.holder == 0) {
                ngx_log_error(NGX_LOG_NOTICE, log, 0,
                              "order_edit: the journal of zone \"%V\" is "
                              "held by another nginx; this one delivers "
                              "once it has exited", &zone[i]->name);
            }

            (void) close(fd);
            continue;
        }

        /* more: the files did not all fit in one pass's memory */
        do {
            if (ngx_http_order_edit_journal_adopt(zone[i], 0, log, &more)
                != NGX_OK)
            {
                (void) close(fd);
                return NGX_ERROR;
            }
        } while (more);

        (void) close(fd);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_journal_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf)
{
    ngx_int_t                             rc;
    ngx_uint_t                            i, k;
    ngx_core_conf_t                      *ccf;
    ngx_http_order_edit_zone_t          **zone;
    ngx_http_order_edit_jwriter_t        *jw;
    ngx_http_order_edit_dispatch_conf_t  *dc;
#if (NGX_THREADS)
    ngx_thread_task_t                    *task;
    ngx_http_order_edit_jsync_t          *ctx;
#endif

    if (omcf->journal == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    zone = omcf->zones.elts;
    dc = omcf->dispatchers.elts;

    for (i = 0; i < omcf->zones.nelts; i++) {

        if (zone[i]->sh == NULL) {
            continue;
        }

        jw = ngx_pcalloc(cycle->pool, sizeof(ngx_http_order_edit_jwriter_t));
        if (jw == NULL) {
            return NGX_ERROR;
        }

        jw->zone = zone[i];
        jw->jcf = omcf->journal;
        jw->log = cycle->log;
        jw->fd = NGX_INVALID_FILE;
        jw->lock_fd = NGX_INVALID_FILE;
        ngx_queue_init(&jw->waiters);

        jw->dir_fd = open((char *) omcf->journal->dir.data,
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (jw->dir_fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "order_edit: cannot open journal directory "
                          "\"%V\"", &omcf->journal->dir);
        }

        jw->window.handler = ngx_http_order_edit_journal_window;
        jw->window.data = jw;
        jw->window.log = cycle->log;

        jw->hold.handler = ngx_http_order_edit_journal_hold;
        jw->hold.data = jw;
        jw->hold.log = cycle->log;

#if (NGX_THREADS)
        for (k = 0; omcf->journal->fsync != NGX_HTTP_ORDER_EDIT_FSYNC_OFF
                    && k < NGX_HTTP_ORDER_EDIT_JSYNCS; k++)
        {
            task = ngx_thread_task_alloc(cycle->pool,
                                         sizeof(ngx_http_order_edit_jsync_t));
            if (task == NULL) {
                return NGX_ERROR;
            }

            ctx = task->ctx;
            ctx->jw = jw;

            task->handler = ngx_http_order_edit_journal_sync_thread;
            task->event.handler = ngx_http_order_edit_journal_sync_done;
            task->event.data = ctx;
            jw->task[k] = task;
        }

        if (omcf->journal->fsync != NGX_HTTP_ORDER_EDIT_FSYNC_OFF
            && (ngx_thread_mutex_create(&jw->stage_mu, cycle->log) != NGX_OK
                || ngx_thread_mutex_create(&jw->write_mu, cycle->log)
                   != NGX_OK))
        {
            return NGX_ERROR;
        }

        /* spares live in the recycling list: none without one */
        if (omcf->journal->preallocate && omcf->journal->recycle) {
            jw->ptask = ngx_thread_task_alloc(cycle->pool,
                                      sizeof(ngx_http_order_edit_jprealloc_t));
            if (jw->ptask == NULL) {
                return NGX_ERROR;
            }

            jw->ptask->handler = ngx_http_order_edit_journal_prealloc_thread;
            jw->ptask->event.handler =
                                    ngx_http_order_edit_journal_prealloc_done;
            jw->ptask->event.data = jw;
        }
#endif

        /* one spare ready for each worker that may open a segment next */
        jw->spares_wanted = ngx_min(omcf->journal->recycle,
                                    (ngx_uint_t) ngx_max(
                                        ccf->worker_processes, 1));

        zone[i]->jw = jw;

        if (omcf->journal->recycle) {
            ngx_shmtx_lock(&zone[i]->shpool->mutex);
            rc = ngx_http_order_edit_journal_spares_grow_locked(zone[i]);
            ngx_shmtx_unlock(&zone[i]->shpool->mutex);

            if (rc != NGX_OK) {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "order_edit: no room in zone \"%V\" for "
                              "the list of %ui spare journal files: "
                              "settled segments are removed, not "
                              "recycled, until there is",
                              &zone[i]->name, omcf->journal->recycle);
            }
        }

        /* a worker that died mid-write was replaced by this one */
        (void) ngx_http_order_edit_journal_reclaim(zone[i], 1, cycle->log);

        /* at start, the first spare: never on the first request's path */
        ngx_http_order_edit_journal_preallocate(jw);

        for (k = 0; k < omcf->dispatchers.nelts; k++) {
            if (dc[k].shm_zone == zone[i]->shm_zone
                && (ngx_process != NGX_PROCESS_WORKER
                    || ngx_worker == dc[k].worker))
            {
                jw->dispatcher = 1;
            }
        }

        if (!jw->dispatcher) {
            continue;
        }

        jw->lock_fd = ngx_http_order_edit_journal_lock_fd(zone[i], O_RDONLY);

        if (jw->lock_fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "order_edit: cannot open the journal lock of "
                          "zone \"%V\"", &zone[i]->name);
            continue;
        }

        jw->scan.handler = ngx_http_order_edit_journal_scan;
        jw->scan.data = jw;
        jw->scan.log = cycle->log;
        jw->scan.cancelable = 1;

        ngx_add_timer(&jw->scan, 1);
    }

    return NGX_OK;
}


void
ngx_http_order_edit_journal_exit_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf)
{
    ngx_uint_t                       i;
    ngx_http_order_edit_zone_t     **zone;
    ngx_http_order_edit_jwriter_t   *jw;

    if (omcf == NULL || omcf->journal == NULL) {
        return;
    }

    zone = omcf->zones.elts;

    for (i = 0; i < omcf->zones.nelts; i++) {

        jw = zone[i]->jw;

        if (jw == NULL) {
            continue;
        }

        if (jw->holding) {
            ngx_shmtx_lock(&zone[i]->shpool->mutex);
            if (zone[i]->sh->journal.holder == ngx_pid) {
                zone[i]->sh->journal.holder = 0;
            }
            ngx_shmtx_unlock(&zone[i]->shpool->mutex);
        }

        /*
         * A pass whose files a thread may still be reading is left as it
         * is: the process is going, and with it the descriptors and locks.
         */
        jw->adopting = NULL;

#if (NGX_THREADS)
        ngx_http_order_edit_journal_flush_stage(jw);
#endif

        /* written records are in the page cache; the kernel keeps them */
        ngx_http_order_edit_journal_seal(jw, 0);

        while (jw->nretired) {
            (void) close(jw->retired[--jw->nretired]);
        }

        if (jw->lock_fd != NGX_INVALID_FILE) {
            (void) close(jw->lock_fd);
        }

        if (jw->dir_fd != NGX_INVALID_FILE) {
            (void) close(jw->dir_fd);
        }

        zone[i]->jw = NULL;
    }
}


ngx_uint_t
ngx_http_order_edit_journal_may_deliver(ngx_http_order_edit_zone_t *zone)
{
    return zone->journal == NULL || (zone->jw != NULL && zone->jw->holding);
}


static size_t
ngx_http_order_edit_journal_record_size(ngx_str_t *shop,
    ngx_http_order_edit_msg_t *msg)
{
    ngx_http_order_edit_jrec_enq_t  e;

    ngx_memzero(&e, sizeof(ngx_http_order_edit_jrec_enq_t));

    e.len[NGX_HTTP_ORDER_EDIT_JREC_SHOP] = shop->len;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TOPIC] = msg->topic.len;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID] = msg->webhook_id.len;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = msg->event_id.len;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_API] = msg->api_version.len;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = msg->triggered_at.len;
    e.body_len = msg->body.len;

    return ngx_http_order_edit_jrec_enq_size(&e);
}


/* before the zone lock: a segment with room to write to */

static ngx_int_t
ngx_http_order_edit_journal_prepare(ngx_http_order_edit_zone_t *zone,
    ngx_log_t *log)
{
    ngx_http_order_edit_jwriter_t  *jw;

    jw = zone->jw;

    if (jw == NULL) {
        return NGX_ERROR;
    }

    if (jw->fd != NGX_INVALID_FILE
        && jw->seg->bytes >= jw->jcf->segment_size
        && jw->nretired < NGX_HTTP_ORDER_EDIT_JRETIRED)
    {
        ngx_http_order_edit_journal_seal(jw, 0);
    }

    if (jw->fd != NGX_INVALID_FILE) {
        return NGX_OK;
    }

    if (ngx_http_order_edit_journal_open_segment(jw) != NGX_OK) {
        /* the webhook is refused for the journal: it counts */
        ngx_shmtx_lock(&zone->shpool->mutex);
        zone->sh->journal.errors++;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        return NGX_ERROR;
    }

    /* the next segment's file, made while this one fills */
    ngx_http_order_edit_journal_preallocate(jw);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_order_edit_journal_room_locked(ngx_http_order_edit_zone_t *zone,
    size_t size)
{
    /* offsets in a segment are 32-bit: one that cannot rotate is full */
    if (zone->sh->journal.bytes + size > zone->journal->max_size
        || zone->jw->seg->bytes + size > 0xffffffff)
    {
        zone->sh->journal.full++;
        return 0;
    }

    return 1;
}


/*
 * The record's place is taken under the zone lock, before it is written:
 * a worker dying in between leaves a segment that counts one record too
 * many (kept until a restart replays it), never a record nobody counts.
 */

static void
ngx_http_order_edit_journal_reserve_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, size_t size)
{
    ngx_http_order_edit_jwriter_t  *jw;

    jw = zone->jw;

    item->rec.file = jw->seg;
    item->rec.off = (uint32_t) jw->seg->bytes;

    jw->seg->bytes += size;
    jw->seg->pending++;
    zone->sh->journal.bytes += size;
    zone->sh->journal.pending++;
    zone->sh->journal.undurable++;
}


static ngx_int_t
ngx_http_order_edit_journal_write(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_str_t *shop,
    ngx_http_order_edit_msg_t *msg, size_t size, ngx_log_t *log)
{
    int                              i, n;
    u_char                           head[NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD];
    u_char                           zeros[NGX_HTTP_ORDER_EDIT_JREC_HDR];
    size_t                           pad, end;
    ssize_t                          written;
    ngx_uint_t                       encoded;
    struct iovec                     iov[NGX_HTTP_ORDER_EDIT_JREC_NSTR + 4];
    ngx_http_order_edit_jwriter_t   *jw;
    ngx_http_order_edit_jrec_enq_t   e;

    jw = zone->jw;

    e.id = msg->id;
    e.received_ms = msg->received_ms;
    e.order_id = msg->order_id;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_SHOP] = shop->data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_SHOP] = shop->len;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_TOPIC] = msg->topic.data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TOPIC] = msg->topic.len;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID] = msg->webhook_id.data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID] = msg->webhook_id.len;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = msg->event_id.data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = msg->event_id.len;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_API] = msg->api_version.data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_API] = msg->api_version.len;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = msg->triggered_at.data;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = msg->triggered_at.len;
    /* the zone's copy: msg->body may be in pieces (its data NULL) */
    e.body = ngx_http_order_edit_queue_body(item);
    e.body_len = msg->body.len;

    encoded = (ngx_http_order_edit_jrec_enq_head_gen(head, &e, jw->gen,
                                                     &pad)
               == size);

#if (NGX_THREADS)
    if (jw->jcf->fsync != NGX_HTTP_ORDER_EDIT_FSYNC_OFF) {
        /* the answer waits for an fsync: its thread writes the record */

        if (encoded
            && ngx_http_order_edit_journal_stage(jw, item, head, &e, size,
                                                 log)
               == NGX_OK)
        {
            return NGX_AGAIN;
        }

        /*
         * Not staged: its place is left a gap, not cut back, in a file
         * the thread may be writing the records before it to; the file
         * takes no record after it.
         */
        ngx_http_order_edit_store_rollback(zone, item, log);

        if (jw->nretired < NGX_HTTP_ORDER_EDIT_JRETIRED) {
            ngx_http_order_edit_journal_seal(jw, 0);
        }

        return NGX_ERROR;
    }
#endif

    if (!encoded) {
        goto failed;
    }

    /*
     * fsync off: the record is written now, answered once written.
     * The pieces go out from where they are: the body is not copied into
     * a record first (bench/journal: the copy was a good part of what a
     * record cost).  At its own offset: one writer per file.
     */

    n = 0;
    iov[n].iov_base = head;
    iov[n++].iov_len = sizeof(head);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        if (e.len[i]) {
            iov[n].iov_base = (void *) e.str[i];
            iov[n++].iov_len = e.len[i];
        }
    }

    if (e.body_len) {
        iov[n].iov_base = (void *) e.body;
        iov[n++].iov_len = e.body_len;
    }

    /*
     * In a recycled file an empty header follows the record, where the
     * next one goes: a reader finds this use's end there, and tells it
     * from a torn record (the old use's bytes past it are not aligned
     * with this one's records).  A new file ends where its records do.
     */
    end = jw->reused ? NGX_HTTP_ORDER_EDIT_JREC_HDR : 0;

    ngx_memzero(zeros, sizeof(zeros));

    if (pad) {
        iov[n].iov_base = zeros;
        iov[n++].iov_len = pad;
    }

    if (end) {
        iov[n].iov_base = zeros;
        iov[n++].iov_len = end;
    }

    written = pwritev(jw->fd, iov, n, item->rec.off);

    if (written != (ssize_t) (size + end)) {
        ngx_log_error(NGX_LOG_CRIT, log, (written == -1) ? ngx_errno : 0,
                      "order_edit: journal write of %uz bytes to "
                      "\"%*s\" failed (%z written)", size,
                      (size_t) jw->seg->len, jw->seg->name, written);
        goto failed;
    }

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    if (jw->wseq == jw->started) {
        ngx_http_order_edit_jtrace_first = ngx_http_order_edit_jtrace_now();
    }
#endif

    __atomic_store_n(&jw->wseq, jw->wseq + 1, __ATOMIC_RELEASE);

    if (jw->jcf->fsync != NGX_HTTP_ORDER_EDIT_FSYNC_OFF) {
        /* no threads: an fsync's covers it once written */
        return NGX_AGAIN;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_order_edit_store_durable_locked(zone, item);
    zone->sh->journal.writes++;
    zone->sh->journal.undurable--;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;

failed:

    ngx_http_order_edit_journal_unwrite(zone, item, size, log);

    return NGX_ERROR;
}


#if (NGX_THREADS)

/*
 * fsync on: the record is staged, not written.  The fsync's thread takes
 * every record staged when its window ends and writes them with one
 * pwritev() a run, before its fdatasync(): one write a window, not one a
 * record (bench/journal: a pwritev() cost ~3 us more than its copy on
 * this VM, most of what the journal spent over its floor).  The waiter
 * is made here, before the record is staged: once staged, a record is
 * settled, never taken back alone (the thread may be writing it).
 */

static ngx_int_t
ngx_http_order_edit_journal_stage(ngx_http_order_edit_jwriter_t *jw,
    ngx_http_order_edit_item_t *item, u_char *head,
    ngx_http_order_edit_jrec_enq_t *e, size_t size, ngx_log_t *log)
{
    int                             i;
    u_char                         *p, *buf;
    size_t                          meta, need, nsize;
    ngx_http_order_edit_jwait_t    *w;
    ngx_http_order_edit_jstage_t   *st;
    ngx_http_order_edit_jstaged_t  *sr;

    meta = NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        meta += e->len[i];
    }

    need = ngx_http_order_edit_jstaged_size(meta);

    w = ngx_alloc(sizeof(ngx_http_order_edit_jwait_t), log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    st = &jw->stage;

    ngx_thread_mutex_lock(&jw->stage_mu, log);

    if (st->len + need > st->size) {
        /* kept for the next windows: a window's records, at most */
        nsize = ngx_max(st->size * 2, st->len + need);
        nsize = ngx_max(nsize, NGX_HTTP_ORDER_EDIT_JSTAGE_FIRST);

        buf = ngx_alloc(nsize, log);

        if (buf == NULL) {
            ngx_thread_mutex_unlock(&jw->stage_mu, log);
            ngx_free(w);
            return NGX_ERROR;
        }

        if (st->len) {
            ngx_memcpy(buf, st->buf, st->len);
        }

        if (st->buf != NULL) {
            ngx_free(st->buf);
        }

        st->buf = buf;
        st->size = nsize;
    }

    sr = (ngx_http_order_edit_jstaged_t *) (st->buf + st->len);

    sr->fd = jw->fd;
    sr->end = jw->reused;
    sr->off = item->rec.off;
    sr->size = size;
    sr->meta = meta;
    sr->body_len = e->body_len;
    sr->body = (u_char *) e->body;

    p = ngx_cpymem((u_char *) (sr + 1), head,
                   NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        p = ngx_cpymem(p, e->str[i], e->len[i]);
    }

    st->len += need;

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    if (jw->wseq == jw->started) {
        ngx_http_order_edit_jtrace_first = ngx_http_order_edit_jtrace_now();
    }
#endif

    /* staged: a thread that takes the stage from now on covers it */
    __atomic_store_n(&jw->wseq, jw->wseq + 1, __ATOMIC_RELEASE);

    ngx_thread_mutex_unlock(&jw->stage_mu, log);

    jw->staged_w = w;

    return NGX_OK;
}


/*
 * The staged records, written in their order: each run of records that
 * follow each other in one file in one pwritev() (IOV_MAX pieces at
 * most), an empty header after a run in a recycled file, as after each
 * record written alone.  On the fsync's thread, or on the event loop when
 * no thread will (a worker exiting).  On failure the file is cut back to
 * where the failed run began, so that it ends with a whole record and no
 * hole; the fsync then fails, and every record not yet answered is
 * refused, as after a failed fdatasync().
 */

static ngx_err_t
ngx_http_order_edit_journal_write_staged(ngx_http_order_edit_jstage_t *st)
{
    static u_char                   zeros[NGX_HTTP_ORDER_EDIT_JREC_HDR + 8];

    u_char                         *p, *last;
    off_t                           start, next;
    size_t                          total, pad;
    ssize_t                         n;
    ngx_fd_t                        fd;
    ngx_err_t                       err;
    ngx_uint_t                      niov, end;
    struct iovec                    iov[NGX_HTTP_ORDER_EDIT_JSTAGE_IOV];
    ngx_http_order_edit_jstaged_t  *sr;

    p = st->buf;
    last = st->buf + st->len;
    err = 0;

    while (p < last) {

        sr = (ngx_http_order_edit_jstaged_t *) p;
        fd = sr->fd;
        start = sr->off;
        next = start;
        total = 0;
        niov = 0;
        end = 0;

        /* a run: the next record where this one ends, room for 4 pieces */

        while (p < last && niov + 4 <= NGX_HTTP_ORDER_EDIT_JSTAGE_IOV) {

            sr = (ngx_http_order_edit_jstaged_t *) p;

            if (sr->fd != fd || sr->off != next) {
                break;
            }

            iov[niov].iov_base = (u_char *) (sr + 1);
            iov[niov++].iov_len = sr->meta;

            if (sr->body_len) {
                iov[niov].iov_base = sr->body;
                iov[niov++].iov_len = sr->body_len;
            }

            pad = sr->size - sr->meta - sr->body_len;

            if (pad) {
                iov[niov].iov_base = zeros;
                iov[niov++].iov_len = pad;
            }

            total += sr->size;
            next += sr->size;
            end = sr->end;

            p += ngx_http_order_edit_jstaged_size(sr->meta);
        }

        if (end) {
            iov[niov].iov_base = zeros;
            iov[niov++].iov_len = NGX_HTTP_ORDER_EDIT_JREC_HDR;
            total += NGX_HTTP_ORDER_EDIT_JREC_HDR;
        }

        n = pwritev(fd, iov, niov, start);

        if (n != (ssize_t) total) {
            err = (n == -1) ? ngx_errno : NGX_ENOSPC;
            (void) ftruncate(fd, start);
            break;
        }
    }

    st->len = 0;

    return err;
}


/*
 * A worker exiting: the thread pool has stopped (its exit ran before
 * this module's), so the records staged after its last fsync's take are
 * written here, to be in the page cache as they were before staging.
 */

static void
ngx_http_order_edit_journal_flush_stage(ngx_http_order_edit_jwriter_t *jw)
{
    ngx_err_t  err;

    /* the locks too: a pool whose exit could not be posted still runs */
    ngx_thread_mutex_lock(&jw->write_mu, jw->log);
    ngx_thread_mutex_lock(&jw->stage_mu, jw->log);

    /*
     * After a failed write (its task not settled) the file was cut back:
     * what was staged since would go past its end.  Never answered, it
     * is left to the next worker's start, which rolls it back.
     */
    err = (jw->stage.len && !jw->stage_dead)
          ? ngx_http_order_edit_journal_write_staged(&jw->stage) : 0;

    jw->stage.len = 0;

    ngx_thread_mutex_unlock(&jw->stage_mu, jw->log);
    ngx_thread_mutex_unlock(&jw->write_mu, jw->log);

    if (err) {
        ngx_log_error(NGX_LOG_CRIT, jw->log, err,
                      "order_edit: journal write in \"%V\" failed",
                      &jw->jcf->dir);
    }
}

#endif


/*
 * A record that could not be written is taken back: the file ends where
 * it ended before, so that the next record is written in its place and
 * no hole is left (a hole in a file on a full tmpfs is a SIGBUS for
 * whoever maps it, and a gap a replay has to skip).  fsync off only (on,
 * records are staged: write()).  This process is the file's only writer
 * and nothing ran between the attach and the write, so the record is
 * the segment's last.  When the end cannot be rewound
 * the record is settled as rolled back and the segment is not written to
 * again.
 */

static void
ngx_http_order_edit_journal_unwrite(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, size_t size, ngx_log_t *log)
{
    ngx_http_order_edit_jseg_t     *seg;
    ngx_http_order_edit_jwriter_t  *jw;

    jw = zone->jw;
    seg = jw->seg;

    if (seg == NULL || item->rec.file != seg
        || seg->bytes != (size_t) item->rec.off + size)
    {
        goto sealed;
    }

    if (ftruncate(jw->fd, item->rec.off) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "order_edit: cannot cut \"%*s\" back to %uD bytes",
                      (size_t) seg->len, seg->name, item->rec.off);
        goto sealed;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* no ack: the next record is written at this offset */
    item->rec.file = NULL;
    seg->bytes -= size;
    seg->pending--;
    zone->sh->journal.bytes -= size;
    zone->sh->journal.pending--;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_order_edit_store_rollback(zone, item, log);

    return;

sealed:

    ngx_http_order_edit_store_rollback(zone, item, log);

    if (jw->nretired < NGX_HTTP_ORDER_EDIT_JRETIRED) {
        ngx_http_order_edit_journal_seal(jw, 0);
    }
}


/*
 * The request waits for the fsync that covers its record; without one (a
 * webhook the module made) only the webhook does, as if its request had
 * gone.
 */

static ngx_int_t
ngx_http_order_edit_journal_wait(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_http_order_edit_store_done_pt done)
{
    ngx_int_t                       rc;
    ngx_log_t                      *log;
    ngx_pool_cleanup_t             *cln;
    ngx_http_order_edit_jwait_t    *w;
    ngx_http_order_edit_jwriter_t  *jw;

    jw = zone->jw;
    log = r ? r->connection->log : jw->log;

#if (NGX_THREADS)
    w = jw->staged_w;
    jw->staged_w = NULL;
#else
    w = NULL;
#endif

    rc = NGX_OK;

    if (w == NULL) {
        /* written, not staged: it can still be taken back */
        w = ngx_alloc(sizeof(ngx_http_order_edit_jwait_t), log);
        cln = r ? ngx_pool_cleanup_add(r->pool, 0) : NULL;

        if (w == NULL || (r != NULL && cln == NULL)) {
            if (w != NULL) {
                ngx_free(w);
            }

            ngx_http_order_edit_store_rollback(zone, item, log);
            return NGX_ERROR;
        }

    } else {
        cln = r ? ngx_pool_cleanup_add(r->pool, 0) : NULL;

        if (r != NULL && cln == NULL) {
            /*
             * Staged: the record settles as if its request had gone (no
             * memory for the request's cleanup), and the request is
             * refused; Shopify's next delivery finds it queued.
             */
            r = NULL;
            rc = NGX_ERROR;
        }
    }

    w->r = r;
    w->cln = cln;
    w->item = item;
    w->wseq = jw->wseq;
    w->done = done;

    if (cln != NULL) {
        cln->handler = ngx_http_order_edit_journal_waiter_gone;
        cln->data = w;
    }

    ngx_queue_insert_tail(&jw->waiters, &w->queue);

    if (!jw->hold.timer_set) {
        ngx_add_timer(&jw->hold, 1000);
    }

    ngx_http_order_edit_journal_kick(jw);

    return rc;
}


/*
 * An fsync is posted as soon as one is wanted and fewer than JSYNCS run.
 * Its thread starts it at once (always) or no sooner than batch_window
 * after the last one started (batch), and covers every record staged
 * when it starts, which it writes first, those staged while it waited
 * included; the records staged while it runs share the next.  The
 * thread waits, not a timer of the event loop: a timer counts whole
 * milliseconds and fires up to one late, and the loop would have to wake
 * to post the fsync.
 */

static void
ngx_http_order_edit_journal_kick(ngx_http_order_edit_jwriter_t *jw)
{
#if (NGX_THREADS)
    ngx_fd_t                      cur, dir;
    ngx_uint_t                    i, nretired, sync_dir;
    ngx_thread_task_t            *task;
    ngx_http_order_edit_jsync_t  *ctx;

    if (jw->syncing == NGX_HTTP_ORDER_EDIT_JSYNCS
        || ngx_queue_empty(&jw->waiters)
        || jw->wseq == jw->started)
    {
        /* all in flight, nobody waits, or one in flight covers them */
        return;
    }

    if (jw->window.timer_set) {
        ngx_del_timer(&jw->window);
    }

    task = jw->task[(jw->oldest + jw->syncing) % NGX_HTTP_ORDER_EDIT_JSYNCS];
    ctx = task->ctx;
    ctx->nfd = 0;
    ctx->err = 0;
    ctx->wfailed = 0;
    ctx->done = 0;
    ctx->target = jw->wseq;

    /*
     * batch: at most one fsync per batch_window, counted from the start
     * of the last one.  A quiet journal syncs at once; a busy one lets
     * records gather until the window since the last fsync is over.
     */
    ctx->window_ns = (jw->jcf->fsync == NGX_HTTP_ORDER_EDIT_FSYNC_BATCH)
                     ? (uint64_t) jw->jcf->batch_window * 1000 : 0;

    for (i = 0; i < jw->nretired; i++) {
        ctx->fd[ctx->nfd++] = jw->retired[i];
    }

    nretired = jw->nretired;
    jw->nretired = 0;

    /*
     * The segment and the directory are synced through files of the
     * task's own: with two fsyncs in flight on one open file, a
     * write-back error could be reported to the later one only (Linux
     * reports an error once an open file), and the earlier one's records
     * answered as durable.
     *
     * This relies on Linux >= 4.16 (Debian 12 runs 6.1): a write-back
     * error nobody has seen yet is reported to a file opened after it
     * too (errseq, commit "errseq: Always report a writeback error
     * once"); older kernels report only errors after the open.
     */

    cur = NGX_INVALID_FILE;
    dir = NGX_INVALID_FILE;
    sync_dir = 0;

    if (jw->fd != NGX_INVALID_FILE) {
        cur = ngx_http_order_edit_journal_reopen(jw, 0);

        if (cur == NGX_INVALID_FILE && jw->syncing) {
            goto again;
        }
    }

    /* a new file is durable only with its directory entry */

    if (jw->dir_dirty && jw->dir_fd != NGX_INVALID_FILE) {
        dir = ngx_http_order_edit_journal_reopen(jw, 1);
        sync_dir = 1;

        if (dir == NGX_INVALID_FILE && jw->syncing) {
            goto again;
        }
    }

    if (cur != NGX_INVALID_FILE) {
        ctx->fd[ctx->nfd++] = cur;
    }

    if (dir != NGX_INVALID_FILE) {
        ctx->fd[ctx->nfd++] = dir;
    }

    ctx->nclose = ctx->nfd;

    /*
     * None could be opened (no descriptors left): alone, the writer's own.
     * Not one open when an fsync failed: it would report that old error
     * again, and refuse records it does not concern.  The segment's is
     * closed then (sync_done()); the directory's is replaced if it can be.
     */

    if (sync_dir && dir == NGX_INVALID_FILE && jw->dir_stale) {
        goto again;
    }

    if (jw->fd != NGX_INVALID_FILE && cur == NGX_INVALID_FILE) {
        ctx->fd[ctx->nfd++] = jw->fd;
    }

    if (sync_dir && dir == NGX_INVALID_FILE) {
        ctx->fd[ctx->nfd++] = jw->dir_fd;
    }

    /*
     * The files it takes hold every record written until the next seal;
     * with no current file (its opening failed after a rotation), none
     * written after now: a file opened while the task waits for its
     * window is not among its descriptors, and seal() will not see it.
     */
    __atomic_store_n(&ctx->wlimit,
                     jw->fd == NGX_INVALID_FILE ? jw->wseq : (uint64_t) -1,
                     __ATOMIC_RELEASE);

    if (ngx_thread_task_post(jw->jcf->thread_pool, task) != NGX_OK) {
        /* the pool's queue is full */
        goto again;
    }

    if (sync_dir) {
        jw->dir_dirty = 0;
    }

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    ctx->t[0] = ngx_http_order_edit_jtrace_first;
    ctx->t[1] = ngx_http_order_edit_jtrace_now();
    ctx->recs = ctx->target - jw->started;
#endif

    jw->started = ctx->target;
    jw->syncing++;

    return;

again:

    /* the same fsync is tried again soon */

    for (i = 0; i < nretired; i++) {
        jw->retired[jw->nretired++] = ctx->fd[i];
    }

    if (cur != NGX_INVALID_FILE) {
        (void) close(cur);
    }

    if (dir != NGX_INVALID_FILE) {
        (void) close(dir);
    }

    if (!jw->window.timer_set) {
        ngx_add_timer(&jw->window, 10);
    }
#endif
}


#if (NGX_THREADS)

/* the segment being written, or the directory: an open file of its own */

static ngx_fd_t
ngx_http_order_edit_journal_reopen(ngx_http_order_edit_jwriter_t *jw,
    ngx_uint_t dir)
{
    u_char    path[NGX_MAX_PATH];
    ngx_fd_t  fd;

    if (dir) {
        fd = open((char *) jw->jcf->dir.data,
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    } else {
        ngx_http_order_edit_journal_path(jw->jcf, path, jw->seg->name,
                                         jw->seg->len, "");
        fd = open((char *) path, O_WRONLY | O_CLOEXEC);
    }

    if (fd != NGX_INVALID_FILE) {
        jw->open_failed = 0;
        return fd;
    }

    /* tried again every 10ms: logged once while descriptors lack */

    if (!jw->open_failed) {
        jw->open_failed = 1;
        ngx_log_error(NGX_LOG_CRIT, jw->log, ngx_errno,
                      "order_edit: cannot open the %s in \"%V\" to fsync it",
                      dir ? "directory" : "segment", &jw->jcf->dir);
    }

    return fd;
}

#endif


/* the request went before its fsync: the record is still settled */

static void
ngx_http_order_edit_journal_waiter_gone(void *data)
{
    ngx_http_order_edit_jwait_t *w = data;

    w->r = NULL;
}


static void
ngx_http_order_edit_journal_hold(ngx_event_t *ev)
{
    ngx_http_order_edit_jwriter_t *jw = ev->data;

    if (!ngx_queue_empty(&jw->waiters) || jw->syncing) {
        ngx_add_timer(ev, 1000);
    }
}


static void
ngx_http_order_edit_journal_window(ngx_event_t *ev)
{
    ngx_http_order_edit_jwriter_t *jw = ev->data;

    /* an fsync that could not be posted, tried again */
    ngx_http_order_edit_journal_kick(jw);
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_journal_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_jsync_t *ctx = data;

    uint64_t                        now, at, wseq, wlimit;
    ngx_uint_t                      i;
    struct timespec                 t0, t1;
    ngx_http_order_edit_jstage_t    stage;
    ngx_http_order_edit_jwriter_t  *jw;

    jw = ctx->jw;

    (void) clock_gettime(CLOCK_MONOTONIC, &t0);
    now = (uint64_t) t0.tv_sec * 1000000000 + t0.tv_nsec;

    /* batch: the window since the last start (one task at a time) */
    at = __atomic_load_n(&jw->last_ns, __ATOMIC_RELAXED) + ctx->window_ns;

    if (ctx->window_ns && now < at) {
        t1.tv_sec = at / 1000000000;
        t1.tv_nsec = at % 1000000000;

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t1, NULL)
               == EINTR)
        { /* void */ }

        (void) clock_gettime(CLOCK_MONOTONIC, &t0);
        now = (uint64_t) t0.tv_sec * 1000000000 + t0.tv_nsec;
    }

    __atomic_store_n(&jw->last_ns, now, __ATOMIC_RELAXED);

    /*
     * Every record counted is staged: taken here and written before the
     * fsync starts, so it covers them, the ones staged while the task
     * waited too, up to the last one in the files it takes.
     */
    ngx_thread_mutex_lock(&jw->write_mu, log);
    ngx_thread_mutex_lock(&jw->stage_mu, log);

    stage = jw->stage;
    jw->stage = ctx->batch;
    ctx->batch = stage;

    wseq = __atomic_load_n(&jw->wseq, __ATOMIC_ACQUIRE);

    ngx_thread_mutex_unlock(&jw->stage_mu, log);

    /*
     * The records staged after a seal are written to their new file too,
     * which this fsync does not take: the next one covers them (wlimit).
     */
    ctx->err = ngx_http_order_edit_journal_write_staged(&ctx->batch);

    if (ctx->err) {
        /* what is staged now goes after a cut: nobody writes it */
        ngx_thread_mutex_lock(&jw->stage_mu, log);
        jw->stage_dead = 1;
        ngx_thread_mutex_unlock(&jw->stage_mu, log);
    }

    ngx_thread_mutex_unlock(&jw->write_mu, log);

    wlimit = __atomic_load_n(&ctx->wlimit, __ATOMIC_ACQUIRE);
    wseq = ngx_min(wseq, wlimit);

    if (wseq > ctx->target) {
        ctx->target = wseq;
    }

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    ctx->t[2] = now;
#endif

    if (ctx->err) {
        ctx->wfailed = 1;
        goto done;
    }

    for (i = 0; i < ctx->nfd; i++) {
        if (fdatasync(ctx->fd[i]) == -1 && ctx->err == 0) {
            ctx->err = ngx_errno;
        }
    }

done:

    (void) clock_gettime(CLOCK_MONOTONIC, &t1);

    ctx->us = (uint64_t) (t1.tv_sec - t0.tv_sec) * 1000000
              + (t1.tv_nsec - t0.tv_nsec) / 1000;

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    ctx->t[3] = (uint64_t) t1.tv_sec * 1000000000 + t1.tv_nsec;
#endif
}


/*
 * After a failed fsync the directory's descriptor would report the error
 * again: another one replaces it, or, none left, it is not fsynced
 * alone any more (kick() waits for one it can open).
 */

static void
ngx_http_order_edit_journal_fresh_dir(ngx_http_order_edit_jwriter_t *jw)
{
    ngx_fd_t  fd;

    if (jw->dir_fd == NGX_INVALID_FILE) {
        return;
    }

    fd = ngx_http_order_edit_journal_reopen(jw, 1);

    if (fd == NGX_INVALID_FILE) {
        jw->dir_stale = 1;
        return;
    }

    (void) close(jw->dir_fd);
    jw->dir_fd = fd;
    jw->dir_stale = 0;
}


/*
 * An fsync covers its target only with every fsync started before it:
 * those took the files retired before it started, and the directory.
 * So fsyncs are settled in the order they started; one that ends sooner
 * than an earlier one waits for it.
 */

static void
ngx_http_order_edit_journal_sync_done(ngx_event_t *ev)
{
    ngx_http_order_edit_jsync_t *ctx = ev->data;

    ngx_uint_t                      i, failed;
    ngx_http_order_edit_jwriter_t  *jw;
#if (NGX_HTTP_ORDER_EDIT_JTRACE)
    uint64_t                        seen, answered, *sum, t[4], recs;

    seen = ngx_http_order_edit_jtrace_now();
#endif

    jw = ctx->jw;
    ctx->done = 1;

    while (jw->syncing) {
        ctx = jw->task[jw->oldest]->ctx;

        if (!ctx->done) {
            break;
        }

        jw->oldest = (jw->oldest + 1) % NGX_HTTP_ORDER_EDIT_JSYNCS;
        jw->syncing--;

        for (i = 0; i < ctx->nclose; i++) {
            (void) close(ctx->fd[i]);
        }

        if (!ctx->wfailed) {
            ngx_shmtx_lock(&jw->zone->shpool->mutex);
            jw->zone->sh->journal.fsyncs++;
            jw->zone->sh->journal.last_fsync_us = ctx->us;
            ngx_shmtx_unlock(&jw->zone->shpool->mutex);
        }

        if (ctx->err) {
            /*
             * Linux forgets a failed writeback once reported: the records
             * cannot be trusted, so their webhooks are refused, not kept.
             * A failed write of the staged records is refused alike.
             */
            ngx_log_error(NGX_LOG_CRIT, jw->log, ctx->err,
                          "order_edit: journal %s in \"%V\" failed",
                          ctx->wfailed ? "write" : "fsync", &jw->jcf->dir);
        }

        if (ctx->batch.size > NGX_HTTP_ORDER_EDIT_JSTAGE_KEEP) {
            /* a burst's: not kept for the windows after it */
            ngx_free(ctx->batch.buf);
            ngx_memzero(&ctx->batch, sizeof(ngx_http_order_edit_jstage_t));
        }

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
        ctx->recs = ctx->target - jw->synced;
#endif

        /* two in flight: the later may have started first, with less */
        if (jw->synced < ctx->target) {
            jw->synced = ctx->target;
        }

        if (jw->started < ctx->target) {
            jw->started = ctx->target;
        }

        failed = (ctx->err != 0);

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
        ngx_memcpy(t, ctx->t, sizeof(t));
        recs = ctx->recs;
#endif

        if (!failed && jw->syncing == 0) {
            /*
             * The next fsync goes before these answers do: the records
             * staged while this one ran need not wait while the loop
             * answers (~15 us a waiter, a sixth of a cycle at c=32).
             * Not after a failure, which seals the files first.  With
             * one task (JSYNCS 1), ctx is the next fsync's from here:
             * its thread may be writing it, so it is not read again.
             */
            ngx_http_order_edit_journal_kick(jw);
        }

        ngx_http_order_edit_journal_settle(jw, failed);

#if (NGX_HTTP_ORDER_EDIT_JTRACE)
        answered = ngx_http_order_edit_jtrace_now();
        sum = ngx_http_order_edit_jtrace_sum;

        /* first record after the previous answers, and the stages */
        if (ngx_http_order_edit_jtrace_prev_answered
            && t[0] > ngx_http_order_edit_jtrace_prev_answered)
        {
            sum[0] += t[0] - ngx_http_order_edit_jtrace_prev_answered;
        }

        sum[1] += t[1] - t[0];
        sum[2] += t[2] - t[1];
        sum[3] += t[3] - t[2];
        sum[4] += seen - t[3];
        sum[5] += answered - seen;
        ngx_http_order_edit_jtrace_recs += recs;
        ngx_http_order_edit_jtrace_prev_answered = answered;

        if (++ngx_http_order_edit_jtrace_n == 1000) {
            ngx_log_error(NGX_LOG_WARN, jw->log, 0,
                          "order_edit: jtrace 1000 fsyncs, %uL records, us: "
                          "answered->first %uL first->post %uL "
                          "post->start %uL fsync %uL end->seen %uL "
                          "seen->answered %uL",
                          ngx_http_order_edit_jtrace_recs,
                          sum[0] / 1000000, sum[1] / 1000000,
                          sum[2] / 1000000, sum[3] / 1000000,
                          sum[4] / 1000000, sum[5] / 1000000);
            ngx_memzero(sum, sizeof(ngx_http_order_edit_jtrace_sum));
            ngx_http_order_edit_jtrace_n = 0;
            ngx_http_order_edit_jtrace_recs = 0;
        }
#endif

        if (failed) {
            /*
             * A file whose writeback failed is not written to again.  The
             * writer's own descriptors never fsynced: Linux would report
             * the error to them once more, and so refuse the next fsync's
             * records, written to a new segment.  Every waiter was just
             * refused, so none needs them synced: they are closed.
             */
            ngx_http_order_edit_journal_seal(jw, 1);

            while (jw->nretired) {
                (void) close(jw->retired[--jw->nretired]);
            }

            /*
             * The records staged since the thread took its own were just
             * refused with every waiter, and their files closed: nobody
             * writes them (no fsync is in flight now, JSYNCS 1).
             */
            ngx_thread_mutex_lock(&jw->stage_mu, jw->log);
            jw->stage.len = 0;
            jw->stage_dead = 0;
            ngx_thread_mutex_unlock(&jw->stage_mu, jw->log);

            ngx_http_order_edit_journal_fresh_dir(jw);
        }
    }

    /* whoever still waits gets the next fsync, when batch allows */
    ngx_http_order_edit_journal_kick(jw);
}


/* answer every waiter whose record the last fsync covered */

static void
ngx_http_order_edit_journal_settle(ngx_http_order_edit_jwriter_t *jw,
    ngx_uint_t failed)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q, *next;
    ngx_http_order_edit_jwait_t  *w;

    n = 0;

    if (!failed) {
        ngx_shmtx_lock(&jw->zone->shpool->mutex);

        for (q = ngx_queue_head(&jw->waiters);
             q != ngx_queue_sentinel(&jw->waiters);
             q = ngx_queue_next(q))
        {
            w = ngx_queue_data(q, ngx_http_order_edit_jwait_t, queue);

            if (w->wseq > jw->synced) {
                break;
            }

            ngx_http_order_edit_store_durable_locked(jw->zone, w->item);
            n++;
        }

        jw->zone->sh->journal.writes += n;
        jw->zone->sh->journal.undurable -= n;

        ngx_shmtx_unlock(&jw->zone->shpool->mutex);
    }

    for (q = ngx_queue_head(&jw->waiters);
         q != ngx_queue_sentinel(&jw->waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_http_order_edit_jwait_t, queue);

        if (w->wseq > jw->synced && !failed) {
            break;
        }

        ngx_queue_remove(q);

        if (failed) {
            ngx_http_order_edit_store_rollback(jw->zone, w->item, jw->log);
        }

        if (w->r != NULL) {
            /* answered now: the request's pool may go without us */
            w->cln->handler = NULL;
            w->done(w->r, failed ? NGX_ERROR : NGX_OK);
        }

        ngx_free(w);
    }
}

#endif


/*
 * Zone locked: a webhook leaves the zone, and its record is settled as
 * "kind"; the file work (an ack, or the segment's removal) is left in ack
 * for journal_ack() once the zone is unlocked.
 */

static void
ngx_http_order_edit_journal_release_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t kind,
    ngx_http_order_edit_settle_t *ack)
{
    ngx_http_order_edit_jseg_t     *seg;
    ngx_http_order_edit_jshared_t  *js;

    js = &zone->sh->journal;

    ack->write = 0;
    ack->unlink = 0;

    if (kind == NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK) {
        /* its record failed: written in part, cut back, or not synced */
        js->errors++;
        js->undurable--;
    }

    seg = item->rec.file;

    if (seg == NULL) {
        return;
    }

    item->rec.file = NULL;

    ack->kind = kind;
    ack->offset = item->rec.off;
    ack->len = seg->len;
    ngx_memcpy(ack->name, seg->name, seg->len);

    seg->pending--;
    js->pending--;

    if (seg->pending == 0 && seg->writer == 0 && !seg->removing
        && (!seg->adopted || seg->replayed >= seg->bytes))
    {
        /* the last of a finished segment: the file goes, acks and all */
        seg->removing = ngx_pid;
        ack->seg = seg;
        ack->unlink = 1;
        return;
    }

    ack->write = 1;
}


static void
ngx_http_order_edit_journal_ack(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_settle_t *ack, ngx_log_t *log)
{
    u_char     path[NGX_MAX_PATH], rec[NGX_HTTP_ORDER_EDIT_JACK_SIZE];
    ngx_fd_t   fd;
    ssize_t    n;

    if (zone->journal == NULL) {
        /* a reload took the journal away: its files stay for a restart */
        return;
    }

    if (ack->unlink) {
        ngx_http_order_edit_journal_remove(zone, ack->seg, log);
        return;
    }

    if (!ack->write) {
        return;
    }

    ngx_http_order_edit_journal_path(zone->journal, path, ack->name,
                                     ack->len, ".ack");

    /*
     * No O_CREAT: a segment removed meanwhile takes its acks with it.
     * Not fsynced: an ack lost to a power cut means one more delivery,
     * which NetSuite takes as the same write (external ids, replace).
     */

    fd = open((char *) path, O_WRONLY | O_APPEND | O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "order_edit: cannot open \"%s\"", path);
        }

        return;
    }

    ngx_http_order_edit_jack_encode(rec, ack->kind, ack->offset);

    n = write(fd, rec, sizeof(rec));

    if (n != (ssize_t) sizeof(rec)) {
        ngx_log_error(NGX_LOG_ERR, log, (n == -1) ? ngx_errno : 0,
                      "order_edit: cannot append to \"%s\"", path);
    }

    (void) close(fd);
}


static ngx_int_t
ngx_http_order_edit_journal_open_segment(ngx_http_order_edit_jwriter_t *jw)
{
    u_char                          path[NGX_MAX_PATH], *buf;
    u_char                          final[NGX_MAX_PATH];
    u_char                          name[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
    u_char                          old[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
    size_t                          len, size, olen;
    uint64_t                        gen, seq;
    ngx_fd_t                        fd, afd;
    ngx_uint_t                      made;
    ngx_http_order_edit_zone_t     *zone;
    ngx_http_order_edit_jseg_t     *seg;
    ngx_http_order_edit_jshared_t  *js;
    ngx_http_order_edit_jrec_seg_t  s;

    zone = jw->zone;
    js = &zone->sh->journal;
    made = 0;
    olen = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    gen = js->gen;
    seq = js->next_seq++;

    /* a retired file if there is one: written before, blocks and pages */
    if (js->nspares) {
        js->nspares--;
        olen = js->spare[js->nspares].len;
        ngx_memcpy(old, js->spare[js->nspares].name, olen);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    len = ngx_snprintf(name, sizeof(name), "%V-%016xL-%08uL.jnl",
                       &zone->name, gen, seq)
          - name;

    /*
     * Made under a name no adopter looks at, locked and given its header
     * there, then renamed: a segment an adopter can see always has a live
     * writer's lock or a header, never an empty file to take for debris.
     */
    ngx_http_order_edit_journal_path(jw->jcf, path, name, len, ".tmp");

    if (olen) {
        ngx_http_order_edit_journal_path(jw->jcf, final, old, olen, ".free");

        /*
         * Its old records stay until overwritten; they carry the old
         * use's generation, so no replay takes them for this one's.
         */
        if (rename((char *) final, (char *) path) == -1) {
            ngx_log_error(NGX_LOG_ERR, jw->log, ngx_errno,
                          "order_edit: cannot reuse \"%s\"", final);
            olen = 0;
        }
    }

    fd = open((char *) path, olen ? (O_WRONLY | O_CLOEXEC)
                                  : (O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC),
              0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, jw->log, ngx_errno,
                      "order_edit: cannot create journal segment \"%s\"",
                      path);
        return NGX_ERROR;
    }

    /* held while this process writes: an adopter knows it is alive */
    (void) flock(fd, LOCK_EX | LOCK_NB);

    ngx_memzero(&s, sizeof(ngx_http_order_edit_jrec_seg_t));
    s.gen = gen;
    s.seq = seq;
    s.created_ms = ngx_http_order_edit_now_ms();
    s.pid = (uint32_t) ngx_pid;
    s.zone = zone->name.data;
    s.zone_len = zone->name.len;

    size = ngx_http_order_edit_jrec_seg_size(&s);
    buf = ngx_alloc(size, jw->log);

    if (buf == NULL) {
        goto failed;
    }

    (void) ngx_http_order_edit_jrec_seg_encode(buf, &s);

    if (pwrite(fd, buf, size, 0) != (ssize_t) size) {
        ngx_log_error(NGX_LOG_CRIT, jw->log, ngx_errno,
                      "order_edit: cannot write journal segment \"%s\"",
                      path);
        ngx_free(buf);
        goto failed;
    }

    ngx_free(buf);

    ngx_http_order_edit_journal_path(jw->jcf, path, name, len, ".ack");

    /* O_EXCL: never another segment's acks (a name taken already) */
    afd = open((char *) path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (afd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, jw->log, ngx_errno,
                      "order_edit: cannot create \"%s\"", path);
        goto failed;
    }

    (void) close(afd);
    made = 1;

    ngx_http_order_edit_journal_path(jw->jcf, path, name, len, ".tmp");
    ngx_http_order_edit_journal_path(jw->jcf, final, name, len, "");

    /* link(), not rename(): a name taken already is never replaced */
    if (link((char *) path, (char *) final) == -1) {
        ngx_log_error(NGX_LOG_CRIT, jw->log, ngx_errno,
                      "order_edit: cannot link \"%s\" to \"%s\"",
                      path, final);
        goto failed;
    }

    (void) unlink((char *) path);
    made = 2;

    ngx_shmtx_lock(&zone->shpool->mutex);

    seg = ngx_http_order_edit_journal_register_locked(zone, name, len, size);
    if (seg == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        goto failed;
    }

    seg->writer = ngx_pid;
    seg->replayed = size;
    seg->gen = ngx_http_order_edit_jrec_seg_gen(&s);

    if (olen) {
        js->recycled++;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    jw->fd = fd;
    jw->seg = seg;
    jw->gen = seg->gen;
    jw->reused = (olen != 0);
    jw->dir_dirty = 1;

    return NGX_OK;

failed:

    /* only what this call made: 1, the acks; 2, the segment as well */

    (void) close(fd);
    ngx_http_order_edit_journal_path(jw->jcf, path, name, len, ".tmp");
    (void) unlink((char *) path);

    if (made == 2) {
        ngx_http_order_edit_journal_unlink(jw->jcf, name, len, jw->log);

    } else if (made == 1) {
        ngx_http_order_edit_journal_path(jw->jcf, path, name, len, ".ack");
        (void) unlink((char *) path);
    }

    return NGX_ERROR;
}


/* this process writes no more to its segment */

static void
ngx_http_order_edit_journal_seal(ngx_http_order_edit_jwriter_t *jw,
    ngx_uint_t close_fd)
{
    ngx_uint_t                    gone;
#if (NGX_THREADS)
    ngx_uint_t                    k;
    ngx_http_order_edit_jsync_t  *ctx;
#endif
    ngx_http_order_edit_jseg_t   *seg;

    if (jw->fd == NGX_INVALID_FILE) {
        return;
    }

    seg = jw->seg;
    gone = 0;

    /*
     * The records written from now on go to another file, which an fsync
     * in flight (or waiting for its window) does not take: each covers no
     * more than the first file sealed after it was posted.
     */
#if (NGX_THREADS)
    for (k = 0; k < jw->syncing; k++) {
        ctx = jw->task[(jw->oldest + k) % NGX_HTTP_ORDER_EDIT_JSYNCS]->ctx;

        if (ctx->wlimit == (uint64_t) -1) {
            __atomic_store_n(&ctx->wlimit, jw->wseq, __ATOMIC_RELEASE);
        }
    }
#endif

    ngx_shmtx_lock(&jw->zone->shpool->mutex);

    seg->writer = 0;

    if (seg->pending == 0 && !seg->removing) {
        seg->removing = ngx_pid;
        gone = 1;
    }

    ngx_shmtx_unlock(&jw->zone->shpool->mutex);

    /* an fsync in flight or to come still covers the retired file */
    if (jw->jcf->fsync == NGX_HTTP_ORDER_EDIT_FSYNC_OFF || gone || close_fd
        || jw->nretired == NGX_HTTP_ORDER_EDIT_JRETIRED)
    {
        (void) close(jw->fd);

    } else {
        jw->retired[jw->nretired++] = jw->fd;
    }

    jw->fd = NGX_INVALID_FILE;
    jw->seg = NULL;

    if (gone) {
        ngx_http_order_edit_journal_remove(jw->zone, seg, jw->log);
    }
}


static void
ngx_http_order_edit_journal_unlink(ngx_http_order_edit_journal_conf_t *jcf,
    u_char *name, size_t len, ngx_log_t *log)
{
    u_char  path[NGX_MAX_PATH];

    /* the segment first: acks without it are harmless, not the reverse */

    ngx_http_order_edit_journal_path(jcf, path, name, len, "");

    if (unlink((char *) path) == -1 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "order_edit: cannot remove \"%s\"", path);
    }

    ngx_http_order_edit_journal_path(jcf, path, name, len, ".ack");

    if (unlink((char *) path) == -1 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "order_edit: cannot remove \"%s\"", path);
    }
}


/* the same, from a thread: what cannot be removed is found next time */

static void
ngx_http_order_edit_journal_unlink_quiet(
    ngx_http_order_edit_journal_conf_t *jcf, u_char *name, size_t len)
{
    u_char  path[NGX_MAX_PATH];

    ngx_http_order_edit_journal_path(jcf, path, name, len, "");
    (void) unlink((char *) path);
    ngx_http_order_edit_journal_path(jcf, path, name, len, ".ack");
    (void) unlink((char *) path);
}


/*
 * The delivering worker: take the lock when the other generation lets
 * go of it, then adopt segments whose writers are gone, a step at a time.
 */

static void
ngx_http_order_edit_journal_scan(ngx_event_t *ev)
{
    ngx_http_order_edit_jwriter_t *jw = ev->data;

    ngx_uint_t                    more;
    ngx_http_order_edit_zone_t   *zone;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    zone = jw->zone;
    more = 0;

    if (!jw->holding && flock(jw->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        jw->holding = 1;

        ngx_shmtx_lock(&zone->shpool->mutex);
        zone->sh->journal.holder = ngx_pid;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "order_edit: this worker holds the journal of zone "
                      "\"%V\" and delivers its webhooks", &zone->name);
    }

    if (jw->holding && jw->adopting == NULL) {
        (void) ngx_http_order_edit_journal_reclaim(zone, 0, ev->log);

        switch (ngx_http_order_edit_journal_adopt_start(jw)) {

        case NGX_OK:
            if (((ngx_http_order_edit_jpass_t *) jw->adopting)->inline_done) {
                ngx_http_order_edit_journal_adopted(jw->adopting);
            }

            /* the pass's end sets the next scan */
            return;

        case NGX_ERROR:
            more = 1;
            break;

        default:
            break;
        }
    }

    ngx_add_timer(ev, more ? 10 : NGX_HTTP_ORDER_EDIT_JSCAN_MS);
}


/*
 * Segments of workers that died are sealed, and the webhooks they had
 * written but not yet answered become deliverable: the kernel keeps what
 * a dead process wrote, and Shopify, which had no answer, sends it again
 * and hears "duplicate".
 */

static ngx_uint_t
ngx_http_order_edit_journal_reclaim(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t start, ngx_log_t *log)
{
    ngx_uint_t                   dead, orphan, undurable;
    ngx_queue_t                 *q;
    ngx_http_order_edit_jseg_t  *seg, *gone;

    dead = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->journal.segments);
         q != ngx_queue_sentinel(&zone->sh->journal.segments);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_order_edit_jseg_t, queue);

        if (seg->writer && ngx_http_order_edit_pid_gone(seg->writer, 0)) {
            seg->writer = 0;
            dead++;
        }
    }

    undurable = zone->sh->journal.undurable;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /*
     * Never answered, and their writer is gone (a crash): their records
     * may not be in their files (staged for a thread that died with it),
     * so they are rolled back, and Shopify, which had no answer, sends
     * them again.  The walks are bounded by the queue, and only made when
     * a writer was found dead, not on every scan: under load some webhook
     * always waits for its fsync.  A worker's start has made them already
     * (queue_reclaim() with pids checked, before the journal's start).
     */

    if (dead && !start && undurable) {
        (void) ngx_http_order_edit_store_writers_dead(zone);
    }

    /* sealed segments with nothing pending go, one per pass */

    for ( ;; ) {
        gone = NULL;
        orphan = 0;

        ngx_shmtx_lock(&zone->shpool->mutex);

        for (q = ngx_queue_head(&zone->sh->journal.segments);
             q != ngx_queue_sentinel(&zone->sh->journal.segments);
             q = ngx_queue_next(q))
        {
            seg = ngx_queue_data(q, ngx_http_order_edit_jseg_t, queue);

            if (seg->writer == 0 && seg->pending == 0 && !seg->removing
                && (!seg->adopted || seg->replayed >= seg->bytes))
            {
                seg->removing = ngx_pid;
                gone = seg;
                break;
            }

            /*
             * Its remover was killed between taking it and dropping it:
             * nobody else would, and its bytes would count against
             * max_size until nginx restarts.  Removing twice is
             * harmless (a file gone is ENOENT).  At a worker's start it
             * removes nothing yet: its own pid there is a dead one's.
             */
            if (seg->removing
                && ngx_http_order_edit_pid_gone(seg->removing, start))
            {
                seg->removing = ngx_pid;
                gone = seg;
                orphan = 1;
                break;
            }
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (gone == NULL) {
            break;
        }

        if (orphan) {
            ngx_http_order_edit_journal_orphan(zone, gone->name, gone->len);
        }

        ngx_http_order_edit_journal_remove(zone, gone, log);
    }

    if (dead) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "order_edit: %ui journal segments of exited workers "
                      "sealed in zone \"%V\"", dead, &zone->name);
    }

    return dead;
}


/*
 * Replay.  Every segment not yet in the zone whose writer is gone (its
 * flock is free), and every adopted one not yet wholly in, is read; their
 * unsettled records go into the queue oldest first across files, at most
 * "budget" of them (0: all), and a full zone stops the walk where it is,
 * to go on later.  Torn tails are cut, corrupt records skipped and
 * logged; every valid record's id counts as seen.
 *
 * A pass has three steps.  collect() lists the candidates (a directory
 * read and the registry, under the zone lock); load() opens, locks,
 * reads (pread, never a shared map: a hole in a file on a full tmpfs
 * would be a SIGBUS), checks and cuts each file, and touches neither the
 * zone nor a log, so that the delivering worker runs it on the thread
 * pool; apply() logs what load() found and puts the records in the zone.
 * The master at start runs all three itself, before any worker exists.
 */

static ngx_http_order_edit_jpass_t *
ngx_http_order_edit_journal_collect(ngx_http_order_edit_zone_t *zone,
    ngx_log_t *log)
{
    size_t                        len;
    ngx_dir_t                     dir;
    u_char                        path[NGX_MAX_PATH];
    ngx_str_t                    *gen, *lk, *gn;
    ngx_uint_t                    i, k, skip;
    ngx_pool_t                   *pool;
    ngx_array_t                   locks, gens;
    ngx_http_order_edit_jseg_t   *seg;
    ngx_http_order_edit_jsrc_t   *src;
    ngx_http_order_edit_jpass_t  *pass;

    pool = ngx_create_pool(16384, log);
    if (pool == NULL) {
        return NULL;
    }

    pass = ngx_pcalloc(pool, sizeof(ngx_http_order_edit_jpass_t));

    if (pass == NULL
        || ngx_array_init(&pass->srcs, pool, 8,
                          sizeof(ngx_http_order_edit_jsrc_t))
           != NGX_OK
        || ngx_array_init(&locks, pool, 4, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&gens, pool, 8, sizeof(ngx_str_t)) != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    pass->pool = pool;
    pass->zone = zone;

    if (ngx_open_dir(&zone->journal->dir, &dir) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "order_edit: cannot open journal directory \"%V\"",
                      &zone->journal->dir);
        ngx_destroy_pool(pool);
        return NULL;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&dir) == NGX_ERROR) {
            break;
        }

        len = ngx_de_namelen(&dir);

        /* a generation's lock: removed below once nothing of it is left */
        if (len == zone->name.len + 1 + 16 + 5
            && ngx_strncmp(ngx_de_name(&dir), zone->name.data,
                           zone->name.len) == 0
            && ngx_de_name(&dir)[zone->name.len] == '-'
            && ngx_strncmp(ngx_de_name(&dir) + len - 5, ".lock", 5) == 0)
        {
            gen = ngx_array_push(&locks);
            if (gen != NULL) {
                gen->len = len;
                gen->data = ngx_pnalloc(pool, len);
                if (gen->data == NULL) {
                    locks.nelts--;
                } else {
                    ngx_memcpy(gen->data, ngx_de_name(&dir), len);
                }
            }

            continue;
        }

        /* a retired file of a generation gone: ours to reuse */
        if (len > 5
            && ngx_strncmp(ngx_de_name(&dir) + len - 5, ".free", 5) == 0
            && ngx_http_order_edit_journal_name(zone, ngx_de_name(&dir),
                                                len - 5))
        {
            ngx_http_order_edit_journal_free(zone, ngx_de_name(&dir),
                                             len - 5);
            continue;
        }

        /* a spare being filled, or left half-filled by a dead maker */
        if (len > 5
            && ngx_strncmp(ngx_de_name(&dir) + len - 5, ".zero", 5) == 0
            && ngx_http_order_edit_journal_name(zone, ngx_de_name(&dir),
                                                len - 5))
        {
            ngx_http_order_edit_journal_zeroed(zone, ngx_de_name(&dir),
                                               len - 5);
            continue;
        }

        if (!ngx_http_order_edit_journal_name(zone, ngx_de_name(&dir), len)) {
            continue;
        }

        /* the generations that still have files */
        gen = ngx_array_push(&gens);
        if (gen != NULL) {
            gen->len = zone->name.len + 17;
            gen->data = ngx_pnalloc(pool, gen->len);
            if (gen->data == NULL) {
                gens.nelts--;
            } else {
                ngx_memcpy(gen->data, ngx_de_name(&dir), gen->len);
            }
        }

        src = ngx_array_push(&pass->srcs);
        if (src == NULL) {
            break;
        }

        ngx_memzero(src, sizeof(ngx_http_order_edit_jsrc_t));

        seg = ngx_http_order_edit_journal_known(zone, ngx_de_name(&dir), len,
                                                src, &skip);

        if (skip) {
            pass->srcs.nelts--;
            continue;
        }

        src->name.len = len;
        src->name.data = ngx_pnalloc(pool, len);

        if (src->name.data == NULL) {
            pass->srcs.nelts--;
            break;
        }

        ngx_memcpy(src->name.data, ngx_de_name(&dir), len);
        src->seg = seg;
        src->fresh = (seg == NULL);
        src->fd = NGX_INVALID_FILE;
    }

    (void) ngx_close_dir(&dir);

    /* locks of generations gone, with no segment left: nobody needs them */

    lk = locks.elts;
    gn = gens.elts;

    for (i = 0; i < locks.nelts; i++) {

        for (k = 0; k < gens.nelts; k++) {
            if (ngx_strncmp(gn[k].data, lk[i].data, gn[k].len) == 0) {
                break;
            }
        }

        if (k < gens.nelts
            || ngx_http_order_edit_journal_gen_alive(zone, lk[i].data))
        {
            continue;
        }

        ngx_http_order_edit_journal_path(zone->journal, path, lk[i].data,
                                         lk[i].len, "");
        (void) unlink((char *) path);
    }

    return pass;
}


/* the files of a pass, in a thread or in the master: no zone, no log */

static void
ngx_http_order_edit_journal_load_all(ngx_http_order_edit_jpass_t *pass)
{
    size_t                       bytes;
    ngx_uint_t                   i;
    ngx_http_order_edit_jsrc_t  *src;

    bytes = 0;
    src = pass->srcs.elts;

    for (i = 0; i < pass->srcs.nelts; i++) {

        /* a bounded amount of memory per pass; the rest comes next */
        if (bytes >= NGX_HTTP_ORDER_EDIT_JADOPT_BYTES) {
            pass->more = 1;
            break;
        }

        ngx_http_order_edit_journal_load(pass->zone, &src[i]);

        src[i].loaded = 1;

        if (src[i].rc == NGX_OK) {
            bytes += src[i].size - src[i].base;

        } else {
            free(src[i].buf);
            src[i].buf = NULL;
        }
    }
}


static ssize_t
ngx_http_order_edit_journal_pread(ngx_fd_t fd, u_char *buf, size_t size,
    off_t off)
{
    size_t   done;
    ssize_t  n;

    for (done = 0; done < size; done += n) {
        n = pread(fd, buf + done, size - done, off + done);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            return (n == 0) ? (ssize_t) done : -1;
        }
    }

    return (ssize_t) done;
}


/* open, lock, read, check and cut one segment, and read its acks */

static void
ngx_http_order_edit_journal_load(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jsrc_t *src)
{
    u_char                          path[NGX_MAX_PATH], *abuf;
    u_char                          bad[NGX_MAX_PATH];
    size_t                          off, end, next, want, fsize;
    ssize_t                         n;
    ngx_fd_t                        afd;
    ngx_uint_t                      i, k, stale;
    ngx_file_info_t                 fi;
    ngx_http_order_edit_jrec_t      rec;
    ngx_http_order_edit_jrec_seg_t  s;
    ngx_http_order_edit_jrec_rc_e   rc;

    src->rc = NGX_DECLINED;

    ngx_http_order_edit_journal_path(zone->journal, path, src->name.data,
                                     src->name.len, "");

    src->fd = open((char *) path, O_RDWR | O_CLOEXEC);

    if (src->fd == NGX_INVALID_FILE) {
        src->err = ngx_errno;
        src->what = "cannot open journal segment";
        return;
    }

    /*
     * A writer alive still owns the file; so does its generation, alive
     * in another nginx (a binary upgrade), even after the writer moved on:
     * that nginx has the file's webhooks in its zone and delivers them.
     */
    if (src->fresh
        && (flock(src->fd, LOCK_EX | LOCK_NB) == -1
            || ngx_http_order_edit_journal_gen_alive(zone, src->name.data)))
    {
        (void) close(src->fd);
        src->fd = NGX_INVALID_FILE;
        return;
    }

    if (ngx_fd_info(src->fd, &fi) == NGX_FILE_ERROR) {
        src->err = ngx_errno;
        src->what = "cannot stat journal segment";
        return;
    }

    fsize = (size_t) ngx_file_size(&fi);

    if (fsize == 0) {
        if (!src->fresh) {
            return;
        }

        /* created and never written: nothing to keep */
        (void) close(src->fd);
        src->fd = NGX_INVALID_FILE;
        ngx_http_order_edit_journal_unlink_quiet(zone->journal,
                                                 src->name.data,
                                                 src->name.len);
        return;
    }

    /* an adopted file is read from where the last pass stopped */

    if (src->fresh) {
        src->base = 0;
        src->size = fsize;

    } else {
        src->base = src->off;
        src->size = ngx_min(fsize, src->end);

        if (src->base > src->size) {
            src->base = src->size;
        }
    }

    want = src->size - src->base;

    if (want) {
        src->buf = malloc(want);

        if (src->buf == NULL) {
            src->err = NGX_ENOMEM;
            src->what = "cannot read journal segment";
            return;
        }

        n = ngx_http_order_edit_journal_pread(src->fd, src->buf, want,
                                              (off_t) src->base);
        if (n == -1) {
            src->err = ngx_errno;
            src->what = "cannot read journal segment";
            return;
        }

        /* shorter than it was a moment ago: what is there is read */
        src->size = src->base + (size_t) n;
    }

    if (src->fresh
        && ngx_http_order_edit_journal_all_zero(src->buf, src->size))
    {
        /*
         * A preallocated spare whose first record never reached the disk
         * (a power cut before the segment's first fdatasync): nothing of
         * it was answered, as that fsync covers the first record too.
         */
        (void) close(src->fd);
        src->fd = NGX_INVALID_FILE;
        ngx_http_order_edit_journal_unlink_quiet(zone->journal,
                                                 src->name.data,
                                                 src->name.len);
        return;
    }

    if (src->fresh) {
        rc = ngx_http_order_edit_jrec_decode(src->buf, src->size, &rec);

        if (rc != NGX_HTTP_ORDER_EDIT_JREC_OK
            || ngx_http_order_edit_jrec_seg_parse(&rec, &s)
               != NGX_HTTP_ORDER_EDIT_JREC_OK
            || s.zone_len != zone->name.len
            || ngx_strncmp(s.zone, zone->name.data, s.zone_len) != 0)
        {
            /* renamed, so that it is reported once and kept for people */
            ngx_http_order_edit_journal_path(zone->journal, bad,
                                             src->name.data, src->name.len,
                                             ".bad");
            if (rename((char *) path, (char *) bad) == -1) {
                src->err = ngx_errno;
            }

            src->bad = 1;
            return;
        }

        /*
         * A recycled file whose new first record never reached the disk
         * (a power cut before its first fdatasync) still starts with its
         * last use's, and the records after it are that use's, settled
         * and their acks gone: none is replayed.  None of this use's was
         * answered either: the fsync that would have covered one covers
         * the first record too.
         */

        if (s.version == 2
            && !ngx_http_order_edit_journal_named(zone, &src->name, &s))
        {
            src->size = rec.size;
            src->reused = 1;
            goto acks;
        }

        /*
         * The whole file once: its valid end, torn tail and corruption.
         * A recycled file goes on past this use's records with an older
         * use's, or zeros: STALE with nothing of this use after it is
         * where the segment ends, not a torn tail.
         */

        src->gen = ngx_http_order_edit_jrec_seg_gen(&s);
        off = 0;
        end = src->size;
        stale = 0;

        while (off < src->size) {
            rc = ngx_http_order_edit_jrec_decode_gen(src->buf + off,
                                                     src->size - off,
                                                     off ? src->gen : 0,
                                                     &rec);

            if (rc == NGX_HTTP_ORDER_EDIT_JREC_OK) {
                off += rec.size;
                continue;
            }

            next = ngx_http_order_edit_jrec_resync_gen(src->buf, src->size,
                                                       off, src->gen);

            if (next >= src->size) {
                end = off;
                stale = (rc == NGX_HTTP_ORDER_EDIT_JREC_STALE);
                break;
            }

            if (src->ncorrupt < NGX_HTTP_ORDER_EDIT_JCORRUPT_LOG) {
                src->corrupt[src->ncorrupt].off = off;
                src->corrupt[src->ncorrupt].len = next - off;
            }

            src->ncorrupt++;
            off = next;
        }

        if (stale) {
            src->size = end;

        } else if (end < src->size) {
            src->torn_at = end;
            src->torn_len = src->size - end;
            src->torn = 1;

            if (ftruncate(src->fd, end) == -1) {
                src->cut_err = ngx_errno;
            }

            src->size = end;
        }
    }

acks:

    /* the acks: a sorted set of the offsets already settled */

    ngx_http_order_edit_journal_path(zone->journal, path, src->name.data,
                                     src->name.len, ".ack");

    afd = open((char *) path, O_RDONLY | O_CLOEXEC);

    if (afd != NGX_INVALID_FILE) {
        if (ngx_fd_info(afd, &fi) != NGX_FILE_ERROR
            && ngx_file_size(&fi) >= NGX_HTTP_ORDER_EDIT_JACK_SIZE)
        {
            k = (ngx_uint_t) ngx_file_size(&fi)
                / NGX_HTTP_ORDER_EDIT_JACK_SIZE;

            abuf = malloc(k * NGX_HTTP_ORDER_EDIT_JACK_SIZE);
            src->acks = malloc(k * sizeof(uint64_t));

            if (abuf == NULL || src->acks == NULL) {
                /* without its acks a file would replay what was done */
                free(abuf);
                (void) close(afd);
                src->err = NGX_ENOMEM;
                src->what = "cannot read the acks of journal segment";
                return;
            }

            n = ngx_http_order_edit_journal_pread(afd, abuf,
                                           k * NGX_HTTP_ORDER_EDIT_JACK_SIZE,
                                           0);
            k = (n > 0) ? (ngx_uint_t) n / NGX_HTTP_ORDER_EDIT_JACK_SIZE : 0;

            for (i = 0; i < k; i++) {
                unsigned  kind;
                uint32_t  aoff;

                if (ngx_http_order_edit_jack_decode(
                        abuf + i * NGX_HTTP_ORDER_EDIT_JACK_SIZE,
                        &kind, &aoff)
                    == NGX_HTTP_ORDER_EDIT_JREC_OK)
                {
                    src->acks[src->nacks++] = ((uint64_t) aoff << 8) | kind;
                }
            }

            free(abuf);

            ngx_qsort(src->acks, src->nacks, sizeof(uint64_t),
                      ngx_http_order_edit_journal_cmp_off);
        }

        (void) close(afd);
    }

    src->rc = NGX_OK;
}


/* on the event loop (or in the master): what was read goes in the zone */

static void
ngx_http_order_edit_journal_apply(ngx_http_order_edit_jpass_t *pass,
    ngx_uint_t budget, ngx_log_t *log, ngx_uint_t *more)
{
    u_char                       path[NGX_MAX_PATH];
    ngx_uint_t                   i, k, n, best, nsrc, full, adopted;
    ngx_http_order_edit_jseg_t  *seg;
    ngx_http_order_edit_jsrc_t  *src;
    ngx_http_order_edit_zone_t  *zone;

    zone = pass->zone;
    *more = 0;
    n = 0;
    full = 0;
    adopted = 0;
    nsrc = 0;

    src = pass->srcs.elts;

    for (i = 0; i < pass->srcs.nelts; i++) {

        if (!src[i].loaded) {
            continue;
        }

        ngx_http_order_edit_journal_path(zone->journal, path,
                                         src[i].name.data, src[i].name.len,
                                         "");

        if (src[i].bad) {
            ngx_log_error(NGX_LOG_ERR, log, src[i].err,
                          "order_edit: \"%s\" is not a journal segment of "
                          "zone \"%V\", renamed to \"%s.bad\"", path,
                          &zone->name, path);
            continue;
        }

        if (src[i].what) {
            ngx_log_error(NGX_LOG_ERR, log, src[i].err,
                          "order_edit: %s \"%s\"", src[i].what, path);
        }

        for (k = 0; k < src[i].ncorrupt; k++) {
            if (k == NGX_HTTP_ORDER_EDIT_JCORRUPT_LOG) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "order_edit: %ui more corrupt journal records "
                              "in \"%s\" skipped", src[i].ncorrupt - k, path);
                break;
            }

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "order_edit: corrupt journal record in \"%s\" at "
                          "offset %uz, %uz bytes skipped", path,
                          src[i].corrupt[k].off, src[i].corrupt[k].len);
        }

        if (src[i].torn) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "order_edit: torn tail of journal segment \"%s\" "
                          "cut at offset %uz (%uz bytes)", path,
                          src[i].torn_at, src[i].torn_len);

            if (src[i].cut_err) {
                ngx_log_error(NGX_LOG_ERR, log, src[i].cut_err,
                              "order_edit: cannot cut \"%s\"", path);
            }
        }

        if (src[i].reused) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "order_edit: journal segment \"%s\" starts with "
                          "the first record of another (a recycled file "
                          "whose new one was lost): none of its records "
                          "replayed", path);
        }

        if (src[i].ncorrupt || src[i].torn) {
            ngx_shmtx_lock(&zone->shpool->mutex);
            zone->sh->journal.corrupt += src[i].ncorrupt;
            zone->sh->journal.torn += src[i].torn;
            ngx_shmtx_unlock(&zone->shpool->mutex);
        }

        if (src[i].rc != NGX_OK) {
            continue;
        }

        if (src[i].fresh) {
            ngx_shmtx_lock(&zone->shpool->mutex);

            seg = ngx_http_order_edit_journal_register_locked(zone,
                      src[i].name.data, src[i].name.len, src[i].size);
            if (seg == NULL) {
                ngx_shmtx_unlock(&zone->shpool->mutex);
                continue;
            }

            seg->adopted = 1;
            seg->gen = src[i].gen;

            ngx_shmtx_unlock(&zone->shpool->mutex);

            src[i].seg = seg;
            src[i].off = 0;
        }

        ngx_http_order_edit_journal_next(zone, &src[i], log);

        src[i].ok = 1;
        nsrc++;
        adopted += src[i].fresh;
    }

    /* files left for another pass; none got in: they would stay left */
    *more = pass->more && nsrc;

    /* the merge: the oldest head of all files goes in first */

    for ( ;; ) {
        best = NGX_CONF_UNSET_UINT;

        for (i = 0; i < pass->srcs.nelts; i++) {
            if (src[i].has_head
                && (best == NGX_CONF_UNSET_UINT
                    || src[i].head.received_ms < src[best].head.received_ms))
            {
                best = i;
            }
        }

        if (best == NGX_CONF_UNSET_UINT) {
            break;
        }

        if (budget && n == budget) {
            *more = 1;
            break;
        }

        if (ngx_http_order_edit_journal_enqueue(zone, &src[best], 1)
            != NGX_OK)
        {
            full = 1;
            break;
        }

        n++;
        src[best].off = src[best].head_off + src[best].head_size;
        ngx_http_order_edit_journal_next(zone, &src[best], log);
    }

    /* where each file stopped: a later pass starts there */

    for (i = 0; i < pass->srcs.nelts; i++) {

        /* a file that could not be read this time stays where it was */
        if (!src[i].ok) {
            continue;
        }

        ngx_shmtx_lock(&zone->shpool->mutex);

        src[i].seg->replayed = src[i].has_head ? src[i].head_off
                                               : src[i].seg->bytes;

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    zone->sh->journal.replayed += n;
    zone->sh->journal.adopted += adopted;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (n || adopted) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "order_edit: journal of zone \"%V\": %ui webhooks "
                      "replayed from %ui segments", &zone->name, n, nsrc);
    }

    if (full) {
        *more = 0;
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "order_edit: zone \"%V\" is full, the rest of its "
                      "journal is replayed as room is made", &zone->name);
    }
}


/* closing lets go of the flocks: the segments are the zone's now */

static void
ngx_http_order_edit_journal_pass_done(ngx_http_order_edit_jpass_t *pass)
{
    ngx_uint_t                   i;
    ngx_http_order_edit_jsrc_t  *src;

    src = pass->srcs.elts;

    for (i = 0; i < pass->srcs.nelts; i++) {
        free(src[i].buf);
        free(src[i].acks);

        if (src[i].fd != NGX_INVALID_FILE) {
            (void) close(src[i].fd);
        }
    }

    ngx_destroy_pool(pass->pool);
}


/* a whole pass, here and now: the master at start */

static ngx_int_t
ngx_http_order_edit_journal_adopt(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t budget, ngx_log_t *log, ngx_uint_t *more)
{
    ngx_http_order_edit_jpass_t  *pass;

    *more = 0;

    pass = ngx_http_order_edit_journal_collect(zone, log);
    if (pass == NULL) {
        return NGX_ERROR;
    }

    ngx_http_order_edit_journal_load_all(pass);
    ngx_http_order_edit_journal_apply(pass, budget, log, more);
    ngx_http_order_edit_journal_pass_done(pass);

    /* segments whose every record is settled go at once */
    (void) ngx_http_order_edit_journal_reclaim(zone, 0, log);

    return NGX_OK;
}


/*
 * The delivering worker's pass: the files are read on the thread pool,
 * the event loop only lists them and puts the records in the zone.
 * NGX_OK: posted, its completion re-arms the scan.
 */

static ngx_int_t
ngx_http_order_edit_journal_adopt_start(ngx_http_order_edit_jwriter_t *jw)
{
    ngx_http_order_edit_jpass_t  *pass;
#if (NGX_THREADS)
    ngx_thread_task_t            *task;
#endif

    pass = ngx_http_order_edit_journal_collect(jw->zone, jw->log);
    if (pass == NULL) {
        return NGX_ERROR;
    }

    if (pass->srcs.nelts == 0) {
        ngx_http_order_edit_journal_pass_done(pass);
        return NGX_DECLINED;
    }

    pass->jw = jw;

#if (NGX_THREADS)
    if (jw->jcf->thread_pool != NULL) {
        task = ngx_thread_task_alloc(pass->pool, 0);
        if (task == NULL) {
            ngx_http_order_edit_journal_pass_done(pass);
            return NGX_ERROR;
        }

        task->ctx = pass;
        task->handler = ngx_http_order_edit_journal_adopt_thread;
        task->event.handler = ngx_http_order_edit_journal_adopt_done;
        task->event.data = pass;
        task->event.log = jw->log;

        if (ngx_thread_task_post(jw->jcf->thread_pool, task) != NGX_OK) {
            /* the pool's queue is full: the pass is tried again soon */
            ngx_http_order_edit_journal_pass_done(pass);
            return NGX_ERROR;
        }

        jw->adopting = pass;

        return NGX_OK;
    }
#endif

    /* no threads: the files are read here */
    ngx_http_order_edit_journal_load_all(pass);
    jw->adopting = pass;
    pass->inline_done = 1;

    return NGX_OK;
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_journal_adopt_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_jpass_t *pass = data;

    ngx_http_order_edit_journal_load_all(pass);
}


static void
ngx_http_order_edit_journal_adopt_done(ngx_event_t *ev)
{
    ngx_http_order_edit_jpass_t *pass = ev->data;

    ngx_http_order_edit_journal_adopted(pass);
}

#endif


static void
ngx_http_order_edit_journal_adopted(ngx_http_order_edit_jpass_t *pass)
{
    ngx_uint_t                      more;
    ngx_http_order_edit_jwriter_t  *jw;

    jw = pass->jw;
    jw->adopting = NULL;
    more = 0;

    /* a worker on its way out leaves the files to its successor */
    if (!(ngx_exiting || ngx_terminate || ngx_quit)) {
        ngx_http_order_edit_journal_apply(pass,
                                          NGX_HTTP_ORDER_EDIT_JADOPT_STEP,
                                          jw->log, &more);
    }

    ngx_http_order_edit_journal_pass_done(pass);

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    (void) ngx_http_order_edit_journal_reclaim(jw->zone, 0, jw->log);

    ngx_add_timer(&jw->scan, more ? 10 : NGX_HTTP_ORDER_EDIT_JSCAN_MS);
}


/* from src->off on: the next record to queue, settled ones only seen */

static void
ngx_http_order_edit_journal_next(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jsrc_t *src, ngx_log_t *log)
{
    uint64_t                       key, *ack;
    unsigned                       kind;
    ngx_http_order_edit_jrec_t     rec;
    ngx_http_order_edit_jrec_rc_e  rc;

    src->has_head = 0;

    if (src->off < src->base) {
        return;
    }

    while (src->off < src->size) {
        rc = ngx_http_order_edit_jrec_decode_gen(
                 src->buf + (src->off - src->base), src->size - src->off,
                 src->off ? src->gen : 0, &rec);

        if (rc != NGX_HTTP_ORDER_EDIT_JREC_OK) {
            /* reported when the file was first read */
            src->off = src->base
                       + ngx_http_order_edit_jrec_resync_gen(src->buf,
                                                  src->size - src->base,
                                                  src->off - src->base,
                                                  src->gen);
            continue;
        }

        if (rec.type != NGX_HTTP_ORDER_EDIT_JREC_ENQ) {
            src->off += rec.size;
            continue;
        }

        if (ngx_http_order_edit_jrec_enq_parse(&rec, &src->head)
            != NGX_HTTP_ORDER_EDIT_JREC_OK)
        {
            /* its checksum holds, so a writer made it so: say where */
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "order_edit: malformed journal record in \"%V\" "
                          "at offset %uz skipped", &src->name, src->off);

            ngx_shmtx_lock(&zone->shpool->mutex);
            zone->sh->journal.corrupt++;
            ngx_shmtx_unlock(&zone->shpool->mutex);

            src->off += rec.size;
            continue;
        }

        src->head_off = src->off;
        src->head_size = rec.size;

        key = (uint64_t) src->off << 8;

        ack = bsearch(&key, src->acks, src->nacks, sizeof(uint64_t),
                      ngx_http_order_edit_journal_cmp_off);

        if (ack != NULL) {
            kind = (unsigned) (*ack & 0xff);

            /*
             * Delivered or resolved: only its id is remembered.  Rolled
             * back (answered 503) or dropped as a copy: not even that,
             * or Shopify's delivery of it would be taken for a duplicate.
             */
            if (kind == NGX_HTTP_ORDER_EDIT_JACK_DELIVERED
                || kind == NGX_HTTP_ORDER_EDIT_JACK_RESOLVED)
            {
                (void) ngx_http_order_edit_journal_enqueue(zone, src, 0);
            }

            src->off += rec.size;
            continue;
        }

        src->has_head = 1;
        return;
    }
}


/*
 * One record into the zone (queue) or only its de-duplication id, by the
 * store.  The same webhook journaled twice (two generations both took a
 * retry) goes in once; the other copy is settled as dropped.
 */

static ngx_int_t
ngx_http_order_edit_journal_enqueue(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jsrc_t *src, ngx_uint_t queue)
{
    ngx_int_t                        rc;
    ngx_str_t                        shop;
    ngx_http_order_edit_msg_t        msg;
    ngx_http_order_edit_recref_t     ref;
    ngx_http_order_edit_settle_t     ack;
    ngx_http_order_edit_jrec_enq_t  *e;

    e = &src->head;

    shop.data = (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_SHOP];
    shop.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_SHOP];

    ngx_memzero(&msg, sizeof(ngx_http_order_edit_msg_t));

    msg.received_ms = e->received_ms;
    msg.order_id = e->order_id;
    msg.topic.data = (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_TOPIC];
    msg.topic.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_TOPIC];
    msg.webhook_id.data =
                     (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID];
    msg.webhook_id.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID];
    msg.event_id.data = (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID];
    msg.event_id.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID];
    msg.api_version.data = (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_API];
    msg.api_version.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_API];
    msg.triggered_at.data =
                      (u_char *) e->str[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED];
    msg.triggered_at.len = e->len[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED];
    msg.body.data = (u_char *) e->body;
    msg.body.len = e->body_len;

    ref.file = src->seg;
    ref.off = (uint32_t) src->head_off;

    rc = ngx_http_order_edit_store_replay(zone, &shop, &msg, &ref, queue);

    if (rc != NGX_BUSY) {
        return rc;
    }

    /* a copy of a webhook the zone has: settle this one */

    ack.write = 1;
    ack.unlink = 0;
    ack.kind = NGX_HTTP_ORDER_EDIT_JACK_DROPPED;
    ack.offset = (uint32_t) src->head_off;
    ack.len = (u_short) src->name.len;
    ngx_memcpy(ack.name, src->name.data, src->name.len);

    ngx_http_order_edit_journal_ack(zone, &ack, ngx_cycle->log);

    return NGX_OK;
}


/* zone locked: a replayed webhook's record is pending again */

static void
ngx_http_order_edit_journal_adopt_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_http_order_edit_recref_t *ref)
{
    ngx_http_order_edit_jseg_t  *seg;

    seg = ref->file;

    item->rec = *ref;
    seg->pending++;
    zone->sh->journal.pending++;
}


/*
 * A settled segment leaves: its files first, then its registry entry, so
 * that an adopter never finds the file without the entry (it would take
 * it for a dead writer's and replay it).
 */

static void
ngx_http_order_edit_journal_remove(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jseg_t *seg, ngx_log_t *log)
{
    /* "removing" keeps the entry, and its name, ours until dropped */
    if (ngx_http_order_edit_journal_recycle(zone, seg->name, seg->len, log)
        != NGX_OK)
    {
        ngx_http_order_edit_journal_unlink(zone->journal, seg->name,
                                           seg->len, log);
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_order_edit_journal_drop_locked(zone, seg);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * A settled segment's file is kept for a next segment to write again, as
 * databases recycle their logs: its blocks are allocated and its pages
 * were written, so the writes land in place (no first-touch of fresh
 * pages, no block allocation for fdatasync to commit).  The segment goes
 * first ("<name>.free" is no segment to an adopter), its acks after.
 */

static ngx_int_t
ngx_http_order_edit_journal_recycle(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len, ngx_log_t *log)
{
    u_char      path[NGX_MAX_PATH], spare[NGX_MAX_PATH];
    ngx_uint_t  kept;

    if (zone->journal->recycle == 0) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    kept = (zone->sh->journal.nspares < zone->journal->recycle);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (!kept) {
        return NGX_DECLINED;
    }

    ngx_http_order_edit_journal_path(zone->journal, path, name, len, "");
    ngx_http_order_edit_journal_path(zone->journal, spare, name, len,
                                     ".free");

    if (rename((char *) path, (char *) spare) == -1) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "order_edit: cannot rename \"%s\"", path);
        }

        return NGX_DECLINED;
    }

    ngx_http_order_edit_journal_path(zone->journal, path, name, len, ".ack");

    if (unlink((char *) path) == -1 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "order_edit: cannot remove \"%s\"", path);
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    kept = ngx_http_order_edit_journal_spare_locked(zone, name, len);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* another one took the last place meanwhile */
    if (!kept) {
        (void) unlink((char *) spare);
    }

    return NGX_OK;
}


/*
 * A dead remover's segment: it may have renamed the file "<name>.free"
 * already and died before listing it as a spare.  Listed now (or removed
 * if the list is full), or it would stay on the disk, in no list, until
 * nginx restarts.
 */

static void
ngx_http_order_edit_journal_orphan(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    u_char           spare[NGX_MAX_PATH];
    ngx_uint_t       listed, kept;
    ngx_file_info_t  fi;

    ngx_http_order_edit_journal_path(zone->journal, spare, name, len,
                                     ".free");

    if (ngx_file_info(spare, &fi) == NGX_FILE_ERROR) {
        return;
    }

    kept = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    listed = ngx_http_order_edit_journal_listed_locked(zone, name, len);

    if (!listed) {
        kept = ngx_http_order_edit_journal_spare_locked(zone, name, len);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (!listed && !kept) {
        (void) unlink((char *) spare);
    }
}


/* zone locked: the name is in the spares' list (recycle=, 512 at most) */

static ngx_uint_t
ngx_http_order_edit_journal_listed_locked(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    ngx_uint_t                      i;
    ngx_http_order_edit_jshared_t  *js;

    js = &zone->sh->journal;

    for (i = 0; i < js->nspares; i++) {
        if (js->spare[i].len == len
            && ngx_memcmp(js->spare[i].name, name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A "<name>.free" found in the directory: a generation alive (this one,
 * or another nginx on the same directory) has its own spares in hand;
 * one gone left it to whoever comes next.
 */

static void
ngx_http_order_edit_journal_free(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    u_char      path[NGX_MAX_PATH];
    ngx_uint_t  kept;

    ngx_shmtx_lock(&zone->shpool->mutex);
    kept = ngx_http_order_edit_journal_listed_locked(zone, name, len);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (kept || ngx_http_order_edit_journal_gen_alive(zone, name)) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    kept = ngx_http_order_edit_journal_spare_locked(zone, name, len);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (!kept) {
        ngx_http_order_edit_journal_path(zone->journal, path, name, len,
                                         ".free");
        (void) unlink((char *) path);
    }
}


/*
 * Zone locked: the spares' list made as long as this configuration's
 * recycle= (each worker's start tries, so that no file is made to be
 * thrown away; a reload may ask for more, or a worker of the old
 * configuration for less, which leaves it as it is).
 */

static ngx_int_t
ngx_http_order_edit_journal_spares_grow_locked(
    ngx_http_order_edit_zone_t *zone)
{
    ngx_uint_t                      cap;
    ngx_http_order_edit_jspare_t   *spare;
    ngx_http_order_edit_jshared_t  *js;

    js = &zone->sh->journal;
    cap = zone->journal->recycle;

    if (js->spare_cap >= cap) {
        return NGX_OK;
    }

    spare = ngx_slab_alloc_locked(zone->shpool,
                                  cap * sizeof(ngx_http_order_edit_jspare_t));
    if (spare == NULL) {
        return NGX_ERROR;
    }

    if (js->spare != NULL) {
        ngx_memcpy(spare, js->spare,
                   js->nspares * sizeof(ngx_http_order_edit_jspare_t));
        ngx_slab_free_locked(zone->shpool, js->spare);
    }

    js->spare = spare;
    js->spare_cap = cap;

    return NGX_OK;
}


/* zone locked: a "<name>.free" file joins the spares if there is room */

static ngx_uint_t
ngx_http_order_edit_journal_spare_locked(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    ngx_http_order_edit_jshared_t  *js;

    js = &zone->sh->journal;

    if (js->nspares >= zone->journal->recycle
        || len > NGX_HTTP_ORDER_EDIT_JNAME_LEN)
    {
        return 0;
    }

    if (js->nspares == js->spare_cap
        && ngx_http_order_edit_journal_spares_grow_locked(zone) != NGX_OK)
    {
        return 0;
    }

    js->spare[js->nspares].len = (u_short) len;
    ngx_memcpy(js->spare[js->nspares].name, name, len);
    js->nspares++;

    return 1;
}


/*
 * A spare made ahead of use, as PostgreSQL makes its next WAL file: a
 * file of zeros, written and fdatasynced on the thread pool while the
 * current segment fills, so that the segment that takes it writes over
 * allocated blocks and written pages, and the batch's fdatasync has the
 * records to write and no block allocation or file size to commit.  It
 * joins the recycled files' list, and is taken as they are.  One is made
 * at a time per zone, until every worker has one to take; a spare that
 * cannot be made (a full disk) is no error: segments are then created as
 * needed, as without this, and the next rotation tries again.
 */

static void
ngx_http_order_edit_journal_preallocate(ngx_http_order_edit_jwriter_t *jw)
{
#if (NGX_THREADS)
    uint64_t                          gen, seq;
    ngx_pid_t                         pid;
    ngx_http_order_edit_zone_t       *zone;
    ngx_http_order_edit_jshared_t    *js;
    ngx_http_order_edit_jprealloc_t  *ctx;

    if (jw->ptask == NULL || jw->preallocating || ngx_exiting) {
        return;
    }

    zone = jw->zone;
    js = &zone->sh->journal;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* a maker killed mid-fill: its half-filled file is removed by a scan */
    pid = js->preallocating;

    if (pid && ngx_http_order_edit_pid_gone(pid, 1)) {
        js->preallocating = 0;
    }

    /* nor when the list has no room for it: it would be thrown away */
    if (js->preallocating || js->nspares >= jw->spares_wanted
        || (js->nspares >= js->spare_cap
            && ngx_http_order_edit_journal_spares_grow_locked(zone)
               != NGX_OK))
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    js->preallocating = ngx_pid;
    gen = js->gen;
    seq = js->next_seq++;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ctx = jw->ptask->ctx;
    ctx->jcf = jw->jcf;
    ctx->err = 0;
    ctx->what = NULL;

    /* past the segment's size: the record that crosses it lands there */
    ctx->size = ngx_align(jw->jcf->segment_size
                          + NGX_HTTP_ORDER_EDIT_JZERO_SIZE,
                          NGX_HTTP_ORDER_EDIT_JZERO_SIZE);

    ctx->len = ngx_snprintf(ctx->name, sizeof(ctx->name), "%V-%016xL-%08uL.jnl",
                            &zone->name, gen, seq)
               - ctx->name;

    if (ngx_thread_task_post(jw->jcf->thread_pool, jw->ptask) != NGX_OK) {
        ngx_shmtx_lock(&zone->shpool->mutex);
        js->preallocating = 0;
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    jw->preallocating = 1;
#endif
}


#if (NGX_THREADS)

static void
ngx_http_order_edit_journal_prealloc_thread(void *data, ngx_log_t *log)
{
    ngx_http_order_edit_jprealloc_t *ctx = data;

    int             i;
    u_char          path[NGX_MAX_PATH], spare[NGX_MAX_PATH];
    size_t          off, left;
    ssize_t         n;
    ngx_fd_t        fd;
    struct iovec    iov[NGX_HTTP_ORDER_EDIT_JZERO_IOV];
    struct statvfs  fs;

    /*
     * Not on a nearly full disk: while it is filled, a spare takes room
     * the records may need (a 16m spare fills a small tmpfs, and the
     * records written meanwhile would fail).
     */
    if (statvfs((char *) ctx->jcf->dir.data, &fs) == 0
        && (uint64_t) fs.f_bavail * fs.f_frsize < 4 * (uint64_t) ctx->size)
    {
        ctx->err = NGX_ENOSPC;
        ctx->what = "less free space than 4 spares";
        return;
    }

    ngx_http_order_edit_journal_path(ctx->jcf, path, ctx->name, ctx->len,
                                     ".zero");
    ngx_http_order_edit_journal_path(ctx->jcf, spare, ctx->name, ctx->len,
                                     ".free");

    fd = open((char *) path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd == NGX_INVALID_FILE) {
        ctx->err = ngx_errno;
        ctx->what = "create";
        return;
    }

    /* held while it is filled: a scan removes only a dead maker's file */
    (void) flock(fd, LOCK_EX | LOCK_NB);

    /* written, not only fallocate()d: unwritten extents change on use */

    for (off = 0; off < ctx->size; off += n) {
        left = ctx->size - off;

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_JZERO_IOV && left; i++) {
            iov[i].iov_base = ngx_http_order_edit_jzeros;
            iov[i].iov_len = ngx_min(left, NGX_HTTP_ORDER_EDIT_JZERO_SIZE);
            left -= iov[i].iov_len;
        }

        n = pwritev(fd, iov, i, (off_t) off);

        if (n <= 0) {
            ctx->err = (n == -1) ? ngx_errno : NGX_ENOSPC;
            ctx->what = "write";
            goto failed;
        }

#if (NGX_LINUX)
        /*
         * Written back as it goes, a chunk at a time (as RocksDB's
         * bytes_per_sync does): one fdatasync of the whole file would
         * queue megabytes on the disk ahead of the batch's fsyncs.
         */
        if (sync_file_range(fd, (off_t) off, n,
                            SYNC_FILE_RANGE_WAIT_BEFORE
                            | SYNC_FILE_RANGE_WRITE
                            | SYNC_FILE_RANGE_WAIT_AFTER)
            == -1)
        {
            ctx->err = ngx_errno;
            ctx->what = "sync_file_range";
            goto failed;
        }
#endif
    }

    /* its blocks and size on disk now, not in a batch's fdatasync */
    if (fdatasync(fd) == -1) {
        ctx->err = ngx_errno;
        ctx->what = "fdatasync";
        goto failed;
    }

    if (rename((char *) path, (char *) spare) == -1) {
        ctx->err = ngx_errno;
        ctx->what = "rename";
        goto failed;
    }

    (void) close(fd);

    return;

failed:

    /* a full disk gets its room back at once */
    (void) unlink((char *) path);
    (void) close(fd);
}


static void
ngx_http_order_edit_journal_prealloc_done(ngx_event_t *ev)
{
    ngx_http_order_edit_jwriter_t *jw = ev->data;

    u_char                            path[NGX_MAX_PATH];
    ngx_uint_t                        kept, warn;
    ngx_http_order_edit_zone_t       *zone;
    ngx_http_order_edit_jshared_t    *js;
    ngx_http_order_edit_jprealloc_t  *ctx;

    ctx = jw->ptask->ctx;
    zone = jw->zone;
    js = &zone->sh->journal;

    jw->preallocating = 0;
    kept = 0;
    warn = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (js->preallocating == ngx_pid) {
        js->preallocating = 0;
    }

    if (ctx->err == 0) {
        js->preallocated++;
        js->prealloc_warned = 0;
        kept = ngx_http_order_edit_journal_spare_locked(zone, ctx->name,
                                                        ctx->len);

    } else {
        js->prealloc_errors++;
        warn = !js->prealloc_warned;
        js->prealloc_warned = 1;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (ctx->err) {
        /* once until one is made again: every rotation tries anew */
        if (warn) {
            ngx_log_error(NGX_LOG_WARN, jw->log, ctx->err,
                          "order_edit: cannot preallocate a journal segment "
                          "in \"%V\" (%s); segments are created as they are "
                          "needed", &jw->jcf->dir, ctx->what);
        }

        return;
    }

    if (!kept) {
        /* recycled files filled the list meanwhile */
        ngx_http_order_edit_journal_path(jw->jcf, path, ctx->name, ctx->len,
                                         ".free");
        (void) unlink((char *) path);
        return;
    }

    /* more workers than spares yet */
    ngx_http_order_edit_journal_preallocate(jw);
}

#endif


/*
 * A "<name>.zero" in the directory: its maker holds its flock while it
 * fills it; one nobody holds was left half-filled by a process killed
 * meanwhile, and goes (it was never a segment, and holds no record).
 */

static void
ngx_http_order_edit_journal_zeroed(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    u_char    path[NGX_MAX_PATH];
    ngx_fd_t  fd;

    ngx_http_order_edit_journal_path(zone->journal, path, name, len, ".zero");

    fd = open((char *) path, O_RDONLY | O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        return;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        (void) unlink((char *) path);
    }

    (void) close(fd);
}


/* a file's first record is zeros: a spare's, never written over */

static ngx_uint_t
ngx_http_order_edit_journal_all_zero(u_char *p, size_t size)
{
    size_t  i;

    if (p == NULL || size == 0) {
        return 0;
    }

    size = ngx_min(size, NGX_HTTP_ORDER_EDIT_JREC_HDR);

    for (i = 0; i < size; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }

    return 1;
}


/* zone locked: a segment joins the registry, or leaves it */

static ngx_http_order_edit_jseg_t *
ngx_http_order_edit_journal_register_locked(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len, size_t bytes)
{
    ngx_http_order_edit_jseg_t  *seg;

    seg = ngx_slab_alloc_locked(zone->shpool,
                                sizeof(ngx_http_order_edit_jseg_t));
    if (seg == NULL) {
        return NULL;
    }

    ngx_memzero(seg, sizeof(ngx_http_order_edit_jseg_t));
    seg->bytes = bytes;
    seg->len = (u_short) len;
    ngx_memcpy(seg->name, name, len);

    ngx_queue_insert_tail(&zone->sh->journal.segments, &seg->queue);
    zone->sh->journal.nsegments++;
    zone->sh->journal.bytes += bytes;

    return seg;
}


static void
ngx_http_order_edit_journal_drop_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_jseg_t *seg)
{
    ngx_queue_remove(&seg->queue);
    zone->sh->journal.bytes -= seg->bytes;
    zone->sh->journal.nsegments--;
    zone->sh->journal.removed++;
    ngx_slab_free_locked(zone->shpool, seg);
}


/* "<zone>-<16 hex>-<8 digits>.jnl" of this zone, nothing else */

static ngx_uint_t
ngx_http_order_edit_journal_name(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len)
{
    size_t  i, z;

    z = zone->name.len;

    if (len != z + 1 + 16 + 1 + 8 + 4
        || ngx_strncmp(name, zone->name.data, z) != 0
        || name[z] != '-' || name[z + 17] != '-'
        || ngx_strncmp(name + len - 4, ".jnl", 4) != 0)
    {
        return 0;
    }

    for (i = z + 1; i < z + 17; i++) {
        if (!((name[i] >= '0' && name[i] <= '9')
              || (name[i] >= 'a' && name[i] <= 'f')))
        {
            return 0;
        }
    }

    for (i = z + 18; i < z + 26; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* 1 when a segment's SEG record says what its name says */

static ngx_uint_t
ngx_http_order_edit_journal_named(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *name, ngx_http_order_edit_jrec_seg_t *s)
{
    size_t     z;
    ngx_int_t  gen, seq;

    /* "<zone>-<16 hex>-<8 digits>.jnl": checked by journal_name() */
    z = zone->name.len;

    gen = ngx_hextoi(name->data + z + 1, 16);
    seq = ngx_atoi(name->data + z + 18, 8);

    return gen != NGX_ERROR && seq != NGX_ERROR
           && (uint64_t) gen == s->gen && (uint64_t) seq == s->seq;
}


static ngx_http_order_edit_jseg_t *
ngx_http_order_edit_journal_known(ngx_http_order_edit_zone_t *zone,
    u_char *name, size_t len, ngx_http_order_edit_jsrc_t *src,
    ngx_uint_t *skip)
{
    ngx_queue_t                 *q;
    ngx_http_order_edit_jseg_t  *seg, *found;

    found = NULL;
    *skip = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->journal.segments);
         q != ngx_queue_sentinel(&zone->sh->journal.segments);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_order_edit_jseg_t, queue);

        if (seg->len == len && ngx_strncmp(seg->name, name, len) == 0) {
            found = seg;

            /* decided under the lock: the entry may go once it is off */
            *skip = (!seg->adopted || seg->replayed >= seg->bytes
                     || seg->removing);

            /* an adopter's own: nobody else moves these meanwhile */
            src->off = seg->replayed;
            src->end = seg->bytes;
            src->gen = seg->gen;
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return found;
}


static void
ngx_http_order_edit_journal_path(ngx_http_order_edit_journal_conf_t *jcf,
    u_char *buf, u_char *name, size_t len, const char *suffix)
{
    (void) ngx_snprintf(buf, NGX_MAX_PATH, "%V/%*s%s%Z", &jcf->dir, len,
                        name, suffix);
}


static int ngx_libc_cdecl
ngx_http_order_edit_journal_cmp_off(const void *a, const void *b)
{
    uint64_t  x, y;

    /* by offset only: the kind rides in the low byte */
    x = *(const uint64_t *) a >> 8;
    y = *(const uint64_t *) b >> 8;

    return (x > y) - (x < y);
}


/* the master: this zone's generation is marked alive, once per zone */

static ngx_int_t
ngx_http_order_edit_journal_gen_lock(ngx_http_order_edit_zone_t *zone,
    ngx_log_t *log)
{
    u_char      path[NGX_MAX_PATH];
    uint64_t    gen;
    ngx_fd_t    fd;
    ngx_uint_t  i;

    gen = zone->sh->journal.gen;

    for (i = 0; i < ngx_http_order_edit_njgens; i++) {
        if (ngx_http_order_edit_jgens[i] == gen) {
            return NGX_OK;
        }
    }

    if (ngx_http_order_edit_njgens == NGX_HTTP_ORDER_EDIT_JGENS) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "order_edit: too many journaled zones");
        return NGX_ERROR;
    }

    (void) ngx_snprintf(path, NGX_MAX_PATH, "%V/%V-%016xL.lock%Z",
                        &zone->journal->dir, &zone->name, gen);

    /* never closed: the master and its workers hold it until they exit */
    fd = open((char *) path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd == NGX_INVALID_FILE || flock(fd, LOCK_EX | LOCK_NB) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "order_edit: cannot lock \"%s\"", path);
        if (fd != NGX_INVALID_FILE) {
            (void) close(fd);
        }
        return NGX_ERROR;
    }

    ngx_http_order_edit_jgens[ngx_http_order_edit_njgens++] = gen;

    return NGX_OK;
}


/*
 * Is the generation that wrote a segment still running?  Its master or a
 * worker holds its lock.  A generation without a lock file is gone (or
 * from before there were any).
 */

static ngx_uint_t
ngx_http_order_edit_journal_gen_alive(ngx_http_order_edit_zone_t *zone,
    u_char *name)
{
    u_char    path[NGX_MAX_PATH];
    ngx_fd_t  fd;
    ngx_uint_t  alive;

    (void) ngx_snprintf(path, NGX_MAX_PATH, "%V/%*s.lock%Z",
                        &zone->journal->dir, zone->name.len + 17, name);

    fd = open((char *) path, O_RDONLY | O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        return 0;
    }

    alive = (flock(fd, LOCK_EX | LOCK_NB) == -1);

    /* closing our own description lets go of the lock we just took */
    (void) close(fd);

    return alive;
}


static ngx_fd_t
ngx_http_order_edit_journal_lock_fd(ngx_http_order_edit_zone_t *zone,
    int flags)
{
    u_char    path[NGX_MAX_PATH];
    ngx_fd_t  fd;

    (void) ngx_snprintf(path, NGX_MAX_PATH, "%V/%V.lock%Z",
                        &zone->journal->dir, &zone->name);

    fd = open((char *) path, flags | O_CLOEXEC, 0644);

    if (fd == NGX_INVALID_FILE && ngx_errno == NGX_ENOENT
        && !(flags & O_CREAT))
    {
        fd = open((char *) path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    }

    return fd;
}


void *
ngx_http_order_edit_journal_json(ngx_http_order_edit_journal_conf_t *jcf,
    ngx_http_order_edit_jshared_t *js)
{
    json_t  *j;

    j = json_pack("{s:s%,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
                  "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}",
                  "dir", jcf->dir.data, jcf->dir.len,
                  "fsync", ngx_http_order_edit_fsync_names[jcf->fsync].data,
                  "batch_window_us", (json_int_t) jcf->batch_window,
                  "bytes", (json_int_t) js->bytes,
                  "max_size", (json_int_t) jcf->max_size,
                  "segments", (json_int_t) js->nsegments,
                  "pending", (json_int_t) js->pending,
                  "writes", (json_int_t) js->writes,
                  "fsyncs", (json_int_t) js->fsyncs,
                  "last_fsync_us", (json_int_t) js->last_fsync_us,
                  "replayed", (json_int_t) js->replayed,
                  "adopted_segments", (json_int_t) js->adopted,
                  "removed_segments", (json_int_t) js->removed,
                  "recycled_segments", (json_int_t) js->recycled,
                  "spare_files", (json_int_t) js->nspares,
                  "preallocated_segments", (json_int_t) js->preallocated,
                  "preallocate_errors", (json_int_t) js->prealloc_errors,
                  "torn", (json_int_t) js->torn,
                  "corrupt", (json_int_t) js->corrupt,
                  "errors", (json_int_t) js->errors,
                  "full", (json_int_t) js->full,
                  "holder", js->holder != 0);

    return j;
}


u_char *
ngx_http_order_edit_journal_prometheus(u_char *p, ngx_str_t *zone,
    ngx_http_order_edit_jshared_t *js)
{
    p = ngx_sprintf(p,
            "# HELP order_edit_journal_bytes Bytes of journal segments.\n"
            "# TYPE order_edit_journal_bytes gauge\n"
            "order_edit_journal_bytes{zone=\"%V\"} %uz\n"
            "# HELP order_edit_journal_pending Journaled webhooks not yet "
            "settled.\n"
            "# TYPE order_edit_journal_pending gauge\n"
            "order_edit_journal_pending{zone=\"%V\"} %ui\n"
            "# HELP order_edit_journal_segments Journal segment files.\n"
            "# TYPE order_edit_journal_segments gauge\n"
            "order_edit_journal_segments{zone=\"%V\"} %ui\n"
            "# HELP order_edit_journal_last_fsync_seconds Duration of the "
            "last journal fsync.\n"
            "# TYPE order_edit_journal_last_fsync_seconds gauge\n"
            "order_edit_journal_last_fsync_seconds{zone=\"%V\"} "
            "%uL.%06uL\n"
            "# HELP order_edit_journal_events_total Journal events by "
            "kind.\n"
            "# TYPE order_edit_journal_events_total counter\n",
            zone, js->bytes, zone, js->pending, zone, js->nsegments,
            zone, js->last_fsync_us / 1000000, js->last_fsync_us % 1000000);

    p = ngx_sprintf(p,
            "order_edit_journal_events_total{zone=\"%V\",event=\"write\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"fsync\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"replayed\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"torn\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"corrupt\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"error\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\",event=\"full\"} "
            "%uL\n"
            "order_edit_journal_events_total{zone=\"%V\","
            "event=\"preallocated\"} %uL\n"
            "order_edit_journal_events_total{zone=\"%V\","
            "event=\"preallocate_error\"} %uL\n",
            zone, js->writes, zone, js->fsyncs, zone, js->replayed,
            zone, js->torn, zone, js->corrupt, zone, js->errors,
            zone, js->full, zone, js->preallocated,
            zone, js->prealloc_errors);

    return p;
}
