
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The webhook queue in the shared zone: per shop, ready webhooks in id
 * order (refunds and edits first), those waiting out a delay apart in a
 * deadline tree, round-robin across shops, with leases that return to the
 * queue when their holder dies.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_QUEUE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_QUEUE_H_INCLUDED_


#include "ngx_http_order_edit_shm.h"


/* NetSuite's answer for a parked webhook, kept beside it when it fits */
typedef struct {
    u_short                        detail_len;
    u_char                         data[1];
} ngx_http_order_edit_exc_t;


/* the longest reason kept; reasons are short words such as "no_netsuite" */
#define NGX_HTTP_ORDER_EDIT_REASON_MAX  39


/*
 * Where the store's durability backend keeps a webhook's record: the
 * backend's own, never read here.
 */
typedef struct {
    void                          *file;        /* NULL: no record */
    uint32_t                       off;
} ngx_http_order_edit_recref_t;


typedef enum {
    NGX_HTTP_ORDER_EDIT_ITEM_READY = 0,
    NGX_HTTP_ORDER_EDIT_ITEM_DELAYED,
    NGX_HTTP_ORDER_EDIT_ITEM_LEASED,
    NGX_HTTP_ORDER_EDIT_ITEM_PARKED
} ngx_http_order_edit_item_state_e;


typedef struct {
    /* ready: a shop's tree, key id; delayed: the zone's, key deadline */
    ngx_rbtree_node_t              node;
    ngx_rbtree_node_t              onode;       /* shop->orders, key order
                                                   id; 0: in no index */
    ngx_queue_t                    queue;       /* a list of its shop */
    ngx_http_order_edit_shop_t    *shop;
    ngx_http_order_edit_exc_t     *exc;         /* parked, when it fit */
    uint64_t                       parked_first_ms;
    uint64_t                       parked_last_ms;

    ngx_http_order_edit_recref_t   rec;

    uint64_t                       id;
    uint64_t                       received_ms;
    uint64_t                       not_before_ms;
    uint64_t                       lease_until_ms;
    uint64_t                       lease_token;
    uint64_t                       order_id;
    ngx_pid_t                      lease_pid;   /* or its writer, while
                                                   held */
    uint32_t                       attempts;
    uint32_t                       body_len;

    /*
     * Parking needs no memory: the reason lives here, so a full zone can
     * always take a webhook out of the way of the others.
     */
    u_char                         state;
    u_char                         retried;     /* delayed after a try */
    u_char                         detail_lost;
    u_char                         reason_len;
    u_char                         reason[NGX_HTTP_ORDER_EDIT_REASON_MAX];

    /*
     * 0 while its writer copies the body in, outside the zone's lock
     * (the rest of it was written under the lock): no reader looks at
     * the body before its writer sets it, with a release store.
     */
    u_char                         copied;

    /* topic, webhook id, event id, API version, triggered-at, then body */
    u_short                        len[5];
    u_char                         data[1];
} ngx_http_order_edit_item_t;


/* not_before_ms of a webhook held until its record is durable */
#define NGX_HTTP_ORDER_EDIT_NOT_DURABLE  ((uint64_t) -1)


/* a webhook as pushed by ingest, or as copied out to a lease holder */
typedef struct {
    uint64_t                       id;
    uint64_t                       token;
    uint64_t                       received_ms;
    uint64_t                       order_id;     /* 0: not known cheaply */
    ngx_uint_t                     attempts;
    void                          *shop_node;    /* opaque lease handle */

    ngx_str_t                      shop;
    ngx_str_t                      topic;
    ngx_str_t                      webhook_id;
    ngx_str_t                      event_id;
    ngx_str_t                      api_version;
    ngx_str_t                      triggered_at;
    ngx_str_t                      body;
} ngx_http_order_edit_msg_t;


/*
 * ingest: zone locked; alloc may fail (NULL), link never fails.  Alloc
 * copies the body too unless told not to ("body" 0): then the writer
 * (its pid in lease_pid) copies it with copy_body once the zone is
 * unlocked (from msg->body, or from the memory buffers "bufs" when not
 * NULL), and lease and every reader pass it over until it is copied.
 */
ngx_http_order_edit_item_t *ngx_http_order_edit_queue_alloc_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg,
    ngx_uint_t body);
u_char *ngx_http_order_edit_queue_body(ngx_http_order_edit_item_t *item);
void ngx_http_order_edit_queue_copy_body(ngx_http_order_edit_item_t *item,
    ngx_http_order_edit_msg_t *msg, ngx_chain_t *bufs);

/*
 * Zone locked: may its body be read?  The acquire that pairs with
 * copy_body's release: a reader that sees it set sees the whole body.
 */
#define ngx_http_order_edit_queue_copied(item)                               \
    __atomic_load_n(&(item)->copied, __ATOMIC_ACQUIRE)
size_t ngx_http_order_edit_queue_item_size(ngx_http_order_edit_msg_t *msg);
uint64_t ngx_http_order_edit_queue_link_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_item_t *item);

/* a queue that stopped draining, as lease found it: to be said */
typedef struct {
    uint64_t                       ms;          /* 0: nothing to say */
    ngx_uint_t                     work;
    ngx_uint_t                     ndelayed;
    ngx_uint_t                     nexc;
} ngx_http_order_edit_stall_t;


/* zone locked: the moves of a webhook inside the queue (the store's) */
ngx_int_t ngx_http_order_edit_queue_lease_locked(
    ngx_http_order_edit_zone_t *zone, ngx_pool_t *pool, ngx_msec_t lease_ms,
    uint64_t now, ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_stall_t *stall);
void ngx_http_order_edit_queue_back_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_msec_t delay, ngx_uint_t attempted);
ngx_uint_t ngx_http_order_edit_queue_reclaim_locked(
    ngx_http_order_edit_zone_t *zone, uint64_t now, ngx_uint_t check_pids);
void ngx_http_order_edit_exc_retry_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item);

/* copies for the dispatcher and operators: each locks the zone itself */
ngx_int_t ngx_http_order_edit_queue_peek(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *shop, ngx_http_order_edit_msg_t *msg);
void ngx_http_order_edit_queue_norm_input(ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_norm_input_t *in);
ngx_int_t ngx_http_order_edit_queue_find(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *shop, uint64_t id,
    ngx_http_order_edit_msg_t *msg);
ngx_int_t ngx_http_order_edit_queue_same_order(
    ngx_http_order_edit_zone_t *zone, ngx_pool_t *pool,
    ngx_http_order_edit_msg_t *msg, ngx_uint_t max, ngx_array_t *out);
ngx_uint_t ngx_http_order_edit_queue_depth(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop);

/*
 * 1: a webhook of the order triggered at or after updated_ms is held
 * (queued, leased or parked), within a bounded walk: reconciliation's
 * test of whether the listed update is missing
 */
ngx_uint_t ngx_http_order_edit_queue_covers(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t updated_ms);
ngx_uint_t ngx_http_order_edit_queue_snapshot_topic(u_char *topic,
    size_t len);

/* for the suites: the order index agrees with the lists (NULL), or not */
char *ngx_http_order_edit_queue_check(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t *indexed);

/* an exception as listed for operators, copied out under the lock */
typedef struct {
    uint64_t                       id;
    uint64_t                       order_id;
    uint64_t                       received_ms;
    uint64_t                       first_ms;
    uint64_t                       last_ms;
    ngx_uint_t                     attempts;
    ngx_str_t                      shop;
    ngx_str_t                      topic;
    ngx_str_t                      webhook_id;
    ngx_str_t                      reason;
    ngx_str_t                      detail;
} ngx_http_order_edit_exc_info_t;


/* the most an exception keeps of NetSuite's answer */
#define NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX  2048

/*
 * The exception queue: a leased webhook that cannot be applied safely is
 * parked with a reason and NetSuite's answer; people retry (back to the
 * queue, in its FIFO place) or resolve (drop) it: the store's
 * (ngx_http_order_edit_store.h).  The list is a copy; it locks the zone.
 */
ngx_int_t ngx_http_order_edit_exc_list(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *shop, ngx_array_t *out);

/*
 * Zone locked, for the store.  A webhook is held (not leased) from its
 * put until its record is durable, its writer's pid in lease_pid; remove
 * takes it out of the queue for good and frees it ("drained": it counts
 * as progress of the queue).  Of the webhooks whose writers are gone,
 * dead_unanswered finds those whose writer is gone before they were
 * answered, for the store to roll back.
 */
void ngx_http_order_edit_queue_hold_locked(ngx_http_order_edit_item_t *item);
void ngx_http_order_edit_queue_unhold_locked(
    ngx_http_order_edit_item_t *item);
ngx_uint_t ngx_http_order_edit_queue_dead_unanswered_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t **items,
    ngx_uint_t max);
ngx_http_order_edit_item_t *ngx_http_order_edit_queue_leased_locked(
    ngx_http_order_edit_msg_t *msg);
void ngx_http_order_edit_queue_park_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_str_t *reason, ngx_str_t *detail,
    ngx_http_order_edit_exc_t *exc, uint64_t now);
ngx_http_order_edit_item_t *ngx_http_order_edit_exc_find_locked(
    ngx_http_order_edit_zone_t *zone, uint64_t id);
void ngx_http_order_edit_queue_remove_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t drained);

/*
 * Zone locked: 1 while a just-queued webhook is being copied in or held
 * for its record
 */
ngx_uint_t ngx_http_order_edit_queue_undurable_locked(
    ngx_http_order_edit_shop_t *shop, uint64_t id);

/*
 * Zone locked: ms since a webhook last left the queue (delivered, skipped
 * or parked) while any is queued, 0 when none is.
 */
uint64_t ngx_http_order_edit_queue_stalled_ms_locked(
    ngx_http_order_edit_zone_t *zone, uint64_t now);

/* zone locked: age of the oldest webhook of a shop, 0 when none */
uint64_t ngx_http_order_edit_queue_oldest_ms_locked(
    ngx_http_order_edit_shop_t *shop, uint64_t now);


#endif /* _NGX_HTTP_ORDER_EDIT_QUEUE_H_INCLUDED_ */
