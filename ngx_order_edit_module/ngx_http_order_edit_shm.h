
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The shared memory zone: one slab pool holds the per-shop state (limiter,
 * counters, FIFO), the de-duplication set and the queued webhooks.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_SHM_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_SHM_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


/*
 * The layout version is kept in the zone: a reload that loads a module
 * with a different layout must refuse to adopt the old memory instead of
 * reading it with the wrong structures.
 */
#define NGX_HTTP_ORDER_EDIT_SHM_MAGIC    0x4f454451      /* "OEDQ" */
#define NGX_HTTP_ORDER_EDIT_SHM_LAYOUT   17

/* "<zone>-<16 hex gen>-<8 digit seq>.jnl", zone names up to 64 bytes */
#define NGX_HTTP_ORDER_EDIT_JZONE_MAX    64
#define NGX_HTTP_ORDER_EDIT_JNAME_LEN    96
/*
 * retired segment files kept to be written again (recycle=, at most):
 * 512 of 16m hold a burst of 8g, about 500,000 webhooks of 16 KB
 */
#define NGX_HTTP_ORDER_EDIT_JSPARES      512

/* NetSuite latency histogram: bucket i holds [2^i, 2^(i+1)) ms */
#define NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS  18


/* per-shop counters; the order is the order of the status output */
typedef enum {
    NGX_HTTP_ORDER_EDIT_C_RECEIVED = 0,
    NGX_HTTP_ORDER_EDIT_C_QUEUED,
    NGX_HTTP_ORDER_EDIT_C_DUPLICATE,
    NGX_HTTP_ORDER_EDIT_C_REJECTED_SIGNATURE,
    NGX_HTTP_ORDER_EDIT_C_REJECTED_REQUEST,
    NGX_HTTP_ORDER_EDIT_C_RATE_LIMITED,
    NGX_HTTP_ORDER_EDIT_C_IGNORED,
    NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL,
    NGX_HTTP_ORDER_EDIT_C_LEASED,
    NGX_HTTP_ORDER_EDIT_C_ACKED,
    NGX_HTTP_ORDER_EDIT_C_REQUEUED,
    NGX_HTTP_ORDER_EDIT_C_LEASE_RECLAIMED,
    NGX_HTTP_ORDER_EDIT_C_PARKED,
    NGX_HTTP_ORDER_EDIT_C_EXC_RETRIED,
    NGX_HTTP_ORDER_EDIT_C_EXC_RESOLVED,
    NGX_HTTP_ORDER_EDIT_C_STALE,
    NGX_HTTP_ORDER_EDIT_C_COALESCED,
    NGX_HTTP_ORDER_EDIT_C_LAST
} ngx_http_order_edit_counter_e;


typedef struct {
    ngx_str_node_t                 sn;          /* key: crc32 of the name */
    ngx_queue_t                    all;         /* sh->shops, oldest first */

    /*
     * A webhook is in exactly one of: ready (the two trees by id, and
     * the pending list), delayed (the zone's deadline tree and this
     * shop's delayed list), leased, or parked (exceptions).
     */
    ngx_rbtree_t                   ready;       /* by id: the rest */
    ngx_rbtree_node_t              ready_sentinel;
    ngx_rbtree_t                   urgent;      /* by id: refunds, edits */
    ngx_rbtree_node_t              urgent_sentinel;
    ngx_queue_t                    pending;     /* ready, in no order */
    ngx_queue_t                    delayed;     /* waiting, in no order */
    ngx_queue_t                    leased;      /* items out for delivery */
    ngx_queue_t                    exceptions;  /* parked for people */

    /*
     * Every webhook of the shop with an order id, in whichever of those
     * states, from its link to its free: by order id, then by id (equal
     * keys keep insertion order, and ids are given at the link).  The
     * coalescer and reconciliation find an order's webhooks in O(log n).
     * Its sentinel is the zone's (sh->orders_sentinel).
     */
    ngx_rbtree_t                   orders;
    ngx_uint_t                     depth;       /* ready, delayed, leased */
    ngx_uint_t                     nleased;
    ngx_uint_t                     ndelayed;
    ngx_uint_t                     nexceptions;

    /* the limiter, shaped as limit_req: excess in 1/1000 requests */
    ngx_msec_t                     last;
    ngx_uint_t                     excess;

    uint64_t                       counters[NGX_HTTP_ORDER_EDIT_C_LAST];

    u_char                         name[1];
} ngx_http_order_edit_shop_t;


/*
 * Who holds an account's slots: a worker killed with requests out never
 * gives them back itself, and the account would run below its limit (at
 * a limit of one, stop) until nginx restarts.  Its successor, or the next
 * worker refused a slot, finds it gone and gives them back
 * (nsslot_reclaim()).  Who takes them: the zone's dispatching worker, and
 * old ones still finishing after reloads; slots past these entries are
 * counted, not tracked.
 */
#define NGX_HTTP_ORDER_EDIT_ACCOUNT_HOLDERS  16

typedef struct {
    ngx_pid_t                      pid;
    ngx_uint_t                     slots;       /* of in_flight */
} ngx_http_order_edit_holder_t;


/*
 * A NetSuite account as the dispatchers see it: what is out, the limit
 * they adapt below the configured concurrency, and what came back.  In
 * the zone, so that every worker delivering to it shares one limit and
 * the status shows it from any worker.
 */
typedef struct {
    ngx_queue_t                    all;         /* sh->accounts */
    ngx_uint_t                     in_flight;
    ngx_uint_t                     limit;
    ngx_uint_t                     credit;
    ngx_uint_t                     epoch;       /* changes of the limit */
    uint64_t                       requests;
    uint64_t                       over_limit;
    uint64_t                       failed;      /* no HTTP answer */
    uint64_t                       latency[NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS];
    void                          *oauth2;      /* its token: _oauth2.c */
    ngx_http_order_edit_holder_t   holders[NGX_HTTP_ORDER_EDIT_ACCOUNT_HOLDERS];
    u_short                        len;
    u_char                         name[1];
} ngx_http_order_edit_account_t;


/*
 * A journal segment the zone knows: written by one of its workers, or
 * adopted from a writer that is gone.  It is removed from the disk once
 * its writer has moved on, every record is in the zone, and every one of
 * those is settled.
 */
typedef struct {
    ngx_queue_t                    queue;       /* sh->journal.segments */
    ngx_pid_t                      writer;      /* 0: sealed */
    ngx_uint_t                     pending;     /* records not settled */
    size_t                         bytes;       /* on disk */
    size_t                         replayed;    /* adopted: records before
                                                   this offset are in */
    ngx_uint_t                     adopted;
    ngx_pid_t                      removing;    /* who unlinks its files
                                                   (0: nobody yet) */
    uint32_t                       gen;         /* its records carry it */
    u_short                        len;
    u_char                         name[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
} ngx_http_order_edit_jseg_t;


/* a retired file, "<name>.free", kept for a next segment to reuse */
typedef struct {
    u_short                        len;
    u_char                         name[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
} ngx_http_order_edit_jspare_t;


typedef struct {
    ngx_queue_t                    segments;
    uint64_t                       gen;         /* names this zone's files */
    uint64_t                       next_seq;
    size_t                         bytes;
    ngx_uint_t                     nsegments;
    ngx_uint_t                     pending;
    ngx_uint_t                     undurable;   /* written, not yet synced */
    ngx_pid_t                      holder;      /* pid holding the lock */

    /*
     * Retired files for the next segments to reuse: as many entries as
     * recycle= asks, allocated in the zone at each worker's start (or
     * when a file is kept, if there was no room then; 512 in place would
     * take 50 KB of every zone, with a journal or not), and made larger
     * when a reload asks for more.
     */
    ngx_uint_t                     nspares;
    ngx_uint_t                     spare_cap;
    ngx_http_order_edit_jspare_t  *spare;
    uint64_t                       recycled;    /* segments made of one */

    /* the spare being zero-filled, by whom (0: none), and how it went */
    ngx_pid_t                      preallocating;
    ngx_uint_t                     prealloc_warned;
    uint64_t                       preallocated;
    uint64_t                       prealloc_errors;

    uint64_t                       writes;
    uint64_t                       fsyncs;
    uint64_t                       last_fsync_us;
    uint64_t                       replayed;
    uint64_t                       adopted;     /* segments */
    uint64_t                       removed;     /* segments */
    uint64_t                       torn;
    uint64_t                       corrupt;
    uint64_t                       errors;
    uint64_t                       full;
} ngx_http_order_edit_jshared_t;


typedef struct {
    uint32_t                       magic;
    uint32_t                       layout;

    ngx_rbtree_t                   shops_rbtree;
    ngx_rbtree_node_t              shops_sentinel;
    ngx_queue_t                    shops;
    ngx_uint_t                     nshops;

    struct ngx_http_order_edit_dedup_s  **dedup_buckets;  /* dedup.c */
    ngx_uint_t                     dedup_mask;  /* buckets - 1 */
    uint64_t                       dedup_seed[2];
    ngx_queue_t                    dedup_lru;   /* oldest at the tail */
    ngx_uint_t                     ndedup;
    size_t                         dedup_bytes; /* slab bytes of the ids */
    uint64_t                       dedup_evicted;

    uint64_t                       next_id;
    uint64_t                       next_token;
    ngx_uint_t                     nitems;      /* queued and in flight */
    ngx_uint_t                     ndelayed;    /* of those, waiting */
    ngx_uint_t                     nexceptions; /* parked */
    size_t                         item_bytes;  /* webhook bytes */
    size_t                         item_slab;   /* slab bytes of webhooks
                                                   and their exceptions */

    /*
     * The sentinel of every shop's order index: a shop node stays in its
     * slab class (512 bytes), a small zone keeps its pages for webhooks.
     * A sentinel is written only inside an insert or a delete (its parent,
     * during the fix-up), and every tree changes under the zone's lock.
     */
    ngx_rbtree_node_t              orders_sentinel;

    /* webhooks waiting out a delay, by deadline, of every shop */
    ngx_rbtree_t                   delayed;
    ngx_rbtree_node_t              delayed_sentinel;

    /* the queue's progress: a queue that stops draining must be seen */
    uint64_t                       drained_ms;  /* a webhook left it */
    uint64_t                       busy_ms;     /* it stopped being empty */
    uint64_t                       stall_logged_ms;

    /* where lease() resumes its round-robin walk over the shops */
    ngx_queue_t                   *rr;

    ngx_queue_t                    accounts;

    /*
     * Outcomes with no shop node to count them on: unknown shops, bad
     * headers, and shops of the default store until their signature is
     * verified (an unverified name must not allocate shared memory).
     */
    uint64_t                       unattributed[NGX_HTTP_ORDER_EDIT_C_LAST];
    uint64_t                       unknown_shop;

    ngx_http_order_edit_jshared_t  journal;

    /* the console's history and token key (_history.c); NULL until used */
    void                          *console;
    /* reconciliation's own state (_reconcile.h); NULL until it runs */
    struct ngx_http_order_edit_recon_sh_s  *reconcile;

    time_t                         created;
    ngx_uint_t                     reloads;
} ngx_http_order_edit_shctx_t;


typedef struct ngx_http_order_edit_journal_conf_s
    ngx_http_order_edit_journal_conf_t;
typedef struct ngx_http_order_edit_jwriter_s  ngx_http_order_edit_jwriter_t;


struct ngx_http_order_edit_zone_s {
    ngx_str_t                      name;
    size_t                         size;
    size_t                         dedup_max;   /* bytes the ids may use */
    time_t                         dedup_ttl;
    ngx_msec_t                     stall_after; /* undrained: log it */
    ngx_http_order_edit_main_conf_t  *omcf;
    ngx_shm_zone_t                *shm_zone;
    ngx_slab_pool_t               *shpool;
    ngx_http_order_edit_shctx_t   *sh;

    /* NULL without order_edit_journal; the writer is this process's */
    ngx_http_order_edit_journal_conf_t  *journal;
    ngx_http_order_edit_jwriter_t       *jw;
};


char *ngx_http_order_edit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the zone must be locked by the caller for the functions below */
ngx_http_order_edit_shop_t *ngx_http_order_edit_shop_lookup(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *name, ngx_uint_t create);
size_t ngx_http_order_edit_zone_used(ngx_http_order_edit_zone_t *zone);
size_t ngx_http_order_edit_slab_size(size_t size);
/*
 * A process that held something in the zone is gone: kill(pid, 0) says
 * ESRCH.  A pid in use (reused, or another user's) counts as alive: what
 * it held waits, it is not taken from a live holder.  This process's own
 * pid is gone as "own" says: 1 where it cannot hold the thing yet (at its
 * start, or idle), so the pid there is a dead process's, reused.
 */
ngx_uint_t ngx_http_order_edit_pid_gone(ngx_pid_t pid, ngx_uint_t own);

ngx_http_order_edit_account_t *ngx_http_order_edit_account_lookup(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *name, ngx_uint_t create);
uint64_t ngx_http_order_edit_now_ms(void);


#endif /* _NGX_HTTP_ORDER_EDIT_SHM_H_INCLUDED_ */
