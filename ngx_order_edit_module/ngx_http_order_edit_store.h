
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The store: every change of the zone's webhooks, each one transaction
 * under one zone lock, and the zone's all-or-nothing rules in one place.
 * A webhook is its de-duplication id, its body in the queue, its counters
 * and its durable record: put (ingest) takes all of them or none, and
 * ack, resolve and rollback give all of them back; replay (the journal
 * at start and on adoption) puts a recorded one again.  Lease, requeue,
 * release, park, retry and reclaim move a webhook inside the queue.
 *
 * The queue (ngx_http_order_edit_queue.h) is the data structure under
 * it: the store calls its zone-locked primitives; its copies for readers
 * (peek, find, depth, the exception list) lock the zone themselves.  The
 * record is kept by a durability backend, the journal, through the hooks
 * below; the queue knows nothing of it.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_STORE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_STORE_H_INCLUDED_


#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_dedup.h"


/*
 * What a record's settling leaves to do once the zone is unlocked (no
 * file is touched under the lock): the backend's release fills it, its
 * settle does it.
 */
typedef struct {
    ngx_uint_t                     write;
    ngx_uint_t                     unlink;
    ngx_http_order_edit_jseg_t    *seg;         /* to remove, when unlink */
    ngx_uint_t                     kind;
    uint32_t                       offset;
    u_short                        len;
    u_char                         name[NGX_HTTP_ORDER_EDIT_JNAME_LEN];
} ngx_http_order_edit_settle_t;


typedef void (*ngx_http_order_edit_store_done_pt)(ngx_http_request_t *r,
    ngx_int_t rc);


/*
 * The durability backend, in the order put calls it: size and prepare
 * (no lock), room and reserve (zone locked), write (unlocked: NGX_OK the
 * record is durable, NGX_AGAIN it waits for an fsync, NGX_ERROR it was
 * rolled back), wait.  A replayed record is adopted as it is; a webhook
 * that leaves the zone has its record released under the lock ("kind":
 * delivered, resolved, rolled back) and settled after.
 */
typedef struct {
    size_t                       (*size)(ngx_str_t *shop,
                                         ngx_http_order_edit_msg_t *msg);
    ngx_int_t                    (*prepare)(ngx_http_order_edit_zone_t *zone,
                                            ngx_log_t *log);
    ngx_uint_t                   (*room_locked)(
                                     ngx_http_order_edit_zone_t *zone,
                                     size_t size);
    void                         (*reserve_locked)(
                                     ngx_http_order_edit_zone_t *zone,
                                     ngx_http_order_edit_item_t *item,
                                     size_t size);
    ngx_int_t                    (*write)(ngx_http_order_edit_zone_t *zone,
                                          ngx_http_order_edit_item_t *item,
                                          ngx_str_t *shop,
                                          ngx_http_order_edit_msg_t *msg,
                                          size_t size, ngx_log_t *log);
    ngx_int_t                    (*wait)(ngx_http_request_t *r,
                                         ngx_http_order_edit_zone_t *zone,
                                         ngx_http_order_edit_item_t *item,
                                         ngx_http_order_edit_store_done_pt
                                             done);
    void                         (*adopt_locked)(
                                     ngx_http_order_edit_zone_t *zone,
                                     ngx_http_order_edit_item_t *item,
                                     ngx_http_order_edit_recref_t *ref);
    void                         (*release_locked)(
                                     ngx_http_order_edit_zone_t *zone,
                                     ngx_http_order_edit_item_t *item,
                                     ngx_uint_t kind,
                                     ngx_http_order_edit_settle_t *s);
    void                         (*settle)(ngx_http_order_edit_zone_t *zone,
                                           ngx_http_order_edit_settle_t *s,
                                           ngx_log_t *log);
} ngx_http_order_edit_backend_t;


/* what put made of a webhook */
typedef enum {
    NGX_HTTP_ORDER_EDIT_PUT_QUEUED = 0,         /* durable: 200 */
    NGX_HTTP_ORDER_EDIT_PUT_WAIT,               /* store_wait() it */
    NGX_HTTP_ORDER_EDIT_PUT_DUPLICATE,          /* of put->id: 200 */
    NGX_HTTP_ORDER_EDIT_PUT_IN_PROGRESS,        /* its first not durable */
    NGX_HTTP_ORDER_EDIT_PUT_LIMITED,            /* put->retry_after */
    NGX_HTTP_ORDER_EDIT_PUT_FULL,               /* the zone */
    NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FULL,
    NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FAILED
} ngx_http_order_edit_put_e;


typedef struct {
    /* in: the webhook, its shop (lower-cased) and its store's limit */
    ngx_http_order_edit_msg_t          msg;
    ngx_str_t                          shop;
    ngx_http_order_edit_store_conf_t  *limit;

    /*
     * in: the body in the memory buffers it was read into, when msg.body
     * has its length only (data NULL)
     */
    ngx_chain_t                       *bufs;

    /* store_prepare()'s: the keys and their hashes, made before the lock */
    ngx_uint_t                         prepared;
    ngx_str_t                          key;
    uint32_t                           hash;
    ngx_int_t                          received;
    ngx_http_order_edit_received_t     rk;
    u_char                             kbuf[NGX_HTTP_ORDER_EDIT_DEDUP_KEY_LEN];

    /* out */
    uint64_t                           id;
    time_t                             retry_after;
    ngx_uint_t                         counted;    /* on its shop's node */
    ngx_http_order_edit_item_t        *item;       /* PUT_WAIT */
} ngx_http_order_edit_put_t;


/*
 * prepare, optional, makes put's keys and starts loading the buckets
 * their lookups will read: called before the HMAC, their cache misses
 * are over by the time put takes the lock.  It writes nothing shared.
 */
void ngx_http_order_edit_store_prepare(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_put_t *put);
ngx_http_order_edit_put_e ngx_http_order_edit_store_put(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_put_t *put,
    ngx_log_t *log);
ngx_int_t ngx_http_order_edit_store_put_local(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop_name,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *reason, ngx_str_t *detail);
ngx_int_t ngx_http_order_edit_store_wait(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_put_t *put,
    ngx_http_order_edit_store_done_pt done);

/*
 * The dispatcher's (the names it has always called) and the operators':
 * each locks the zone itself; NGX_DECLINED: no such lease, or exception.
 * A lease is the oldest ready webhook of the next shop round-robin, its
 * copy in msg, held for lease_ms.  Requeue hands it back after a failed
 * attempt, release untried (no attempt counted), ready after "delay" ms.
 * Parking a leased webhook always succeeds: it changes the webhook's
 * state in place, and only NetSuite's answer is allocated, and dropped
 * when even evicting ids leaves no room for it.  Reclaim gives expired
 * leases back (and those of dead workers, with check_pids).
 */
ngx_int_t ngx_http_order_edit_queue_lease(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_msec_t lease_ms, ngx_http_order_edit_msg_t *msg);
ngx_int_t ngx_http_order_edit_queue_ack(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_uint_t counter);
ngx_int_t ngx_http_order_edit_queue_requeue(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay);
ngx_int_t ngx_http_order_edit_queue_release(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay);
ngx_int_t ngx_http_order_edit_queue_park(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *reason, ngx_str_t *detail);
ngx_uint_t ngx_http_order_edit_queue_reclaim(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t check_pids);
ngx_int_t ngx_http_order_edit_exc_retry(ngx_http_order_edit_zone_t *zone,
    uint64_t id);
ngx_int_t ngx_http_order_edit_exc_resolve(ngx_http_order_edit_zone_t *zone,
    uint64_t id);

/*
 * The backend's: a webhook whose record failed leaves as if it had not
 * come; one whose record is durable may be leased; one read back from a
 * record is put again (NGX_ERROR: the zone is full, NGX_BUSY: a copy of
 * a webhook the zone has, to settle as dropped).
 */
void ngx_http_order_edit_store_rollback(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_log_t *log);
void ngx_http_order_edit_store_durable_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item);
ngx_uint_t ngx_http_order_edit_store_writers_dead(
    ngx_http_order_edit_zone_t *zone);
ngx_int_t ngx_http_order_edit_store_replay(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_recref_t *ref, ngx_uint_t queue);


#endif /* _NGX_HTTP_ORDER_EDIT_STORE_H_INCLUDED_ */
