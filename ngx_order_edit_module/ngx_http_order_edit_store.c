
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_store.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_limit.h"
#include "ngx_http_order_edit_jrec.h"
#include "ngx_http_order_edit_journal.h"


/* ids given up per round, and rounds, before a webhook is refused */
#define NGX_HTTP_ORDER_EDIT_EVICT_BATCH   256
#define NGX_HTTP_ORDER_EDIT_EVICT_ROUNDS  4

/* ids given up per round, and rounds, to make room for an exception */
#define NGX_HTTP_ORDER_EDIT_PARK_EVICT    64
#define NGX_HTTP_ORDER_EDIT_PARK_ROUNDS   4

/* dead writers' webhooks rolled back per walk of the queue */
#define NGX_HTTP_ORDER_EDIT_DEAD_STEP     16


static ngx_http_order_edit_backend_t *ngx_http_order_edit_store_backend(
    ngx_http_order_edit_zone_t *zone);
static ngx_int_t ngx_http_order_edit_store_back(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg,
    ngx_msec_t delay, ngx_uint_t attempted);
static ngx_int_t ngx_http_order_edit_store_leave(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_uint_t kind, ngx_uint_t drained);
static void ngx_http_order_edit_store_leave_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_uint_t kind, ngx_uint_t drained, ngx_http_order_edit_settle_t *s);
static void ngx_http_order_edit_store_settle(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_settle_t *s, ngx_log_t *log);
static ngx_http_order_edit_item_t *ngx_http_order_edit_store_link_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *key, uint32_t hash);
static ngx_http_order_edit_item_t *ngx_http_order_edit_store_alloc_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *key, uint32_t hash,
    ngx_uint_t body);
static void ngx_http_order_edit_store_rollback_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t *item,
    ngx_uint_t record, ngx_http_order_edit_settle_t *s);


/*
 * The backend that keeps the records: the journal, the only one there is.
 * A record outlives a reload that takes the journal away: it is still
 * released in the zone when its webhook leaves (the backend settles no
 * file then, and leaves the files to a restart).
 */
static ngx_http_order_edit_backend_t  *ngx_http_order_edit_store_records
    = &ngx_http_order_edit_journal_backend;


/* the backend new webhooks are put with: none without a journal */

static ngx_http_order_edit_backend_t *
ngx_http_order_edit_store_backend(ngx_http_order_edit_zone_t *zone)
{
    return zone->journal ? ngx_http_order_edit_store_records : NULL;
}


/* the id and the body in, in the lock: see store_alloc_locked() */

static ngx_http_order_edit_item_t *
ngx_http_order_edit_store_link_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_shop_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_str_t *key, uint32_t hash)
{
    return ngx_http_order_edit_store_alloc_locked(zone, shop, msg, key, hash,
                                                  1);
}


/*
 * The id and the body in: both allocated first, nothing is linked unless
 * both fit.  The ids are bounded to their share of the zone
 * (dedup_alloc), and when the id or the body does not fit, the oldest
 * ids give way, a few rounds at most; for a body only while the ids hold
 * at least as much as it needs, or forgetting them could not make the
 * room.  The body is copied here only with "body": put copies it once
 * the zone is unlocked.  The item, its id in msg->id; NULL: nothing kept.
 */

static ngx_http_order_edit_item_t *
ngx_http_order_edit_store_alloc_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_shop_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_str_t *key, uint32_t hash, ngx_uint_t body)
{
    ngx_uint_t                    round;
    ngx_http_order_edit_item_t   *item;
    ngx_http_order_edit_dedup_t  *dd;

    dd = NULL;
    item = NULL;

    for (round = 0; /* void */ ; round++) {

        if (dd == NULL) {
            dd = ngx_http_order_edit_dedup_alloc(zone, key);
        }

        if (dd != NULL && item == NULL) {
            item = ngx_http_order_edit_queue_alloc_locked(zone, msg, body);
        }

        if (item != NULL || round == NGX_HTTP_ORDER_EDIT_EVICT_ROUNDS
            || (dd != NULL
                && zone->sh->dedup_bytes
                   < ngx_http_order_edit_queue_item_size(msg))
            || ngx_http_order_edit_dedup_evict(zone,
                                             NGX_HTTP_ORDER_EDIT_EVICT_BATCH)
               == 0)
        {
            break;
        }
    }

    if (item == NULL) {
        if (dd != NULL) {
            ngx_slab_free_locked(zone->shpool, dd);
        }

        return NULL;
    }

    msg->id = ngx_http_order_edit_queue_link_locked(zone, shop, item);
    ngx_http_order_edit_dedup_insert(zone, dd, hash, msg->id);

    return item;
}


/*
 * A webhook the module makes itself: de-duplicated by its id and put like
 * any other, but neither rate-limited nor counted as received.
 *
 * Reconciliation's (reason NULL) is queued, and journaled when the zone
 * has a journal, as a webhook is (through the backend, the same record:
 * its "reconcile:" webhook id is its mark, and replay restores it): a
 * snapshot queued or parked survives a crash or a restart.  With fsync
 * on it is held, not leased, until the fsync that covers its record.
 *
 * The report's (a reason) is parked at once, with "detail" for people,
 * and not journaled: a person's Retry sends it, and a replay would send
 * it by itself; after a restart the next report raises it again.
 *
 * NGX_OK with msg->id, NGX_DECLINED: its id is known, NGX_BUSY: no room
 * in the zone or the journal, or the record failed (rolled back as a
 * webhook's is, which moves one "queued" to "queue_full": their sum, the
 * shop's "received", stays right).
 */

ngx_int_t
ngx_http_order_edit_store_put_local(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop_name, ngx_http_order_edit_msg_t *msg, ngx_str_t *reason,
    ngx_str_t *detail)
{
    u_char                          kbuf[NGX_HTTP_ORDER_EDIT_DEDUP_KEY_LEN];
    size_t                          rsize, dsize;
    uint32_t                        hash;
    ngx_str_t                       key, d;
    ngx_http_order_edit_exc_t      *exc;
    ngx_http_order_edit_shop_t     *shop;
    ngx_http_order_edit_item_t     *item;
    ngx_http_order_edit_backend_t  *be;

    be = (reason == NULL) ? ngx_http_order_edit_store_backend(zone) : NULL;
    rsize = 0;

    if (be != NULL) {
        rsize = be->size(shop_name, msg);

        if (rsize == 0 || be->prepare(zone, ngx_cycle->log) != NGX_OK) {
            return NGX_BUSY;
        }
    }

    ngx_http_order_edit_dedup_key(kbuf, shop_name, &msg->webhook_id,
                                  &msg->event_id, &key);

    hash = ngx_http_order_edit_dedup_hash(zone, &key);

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_order_edit_dedup_lookup(zone, &key, hash) != NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    shop = ngx_http_order_edit_shop_lookup(zone, shop_name, 1);

    item = (shop == NULL || (rsize && !be->room_locked(zone, rsize))) ? NULL
           : ngx_http_order_edit_store_link_locked(zone, shop, msg, &key,
                                                   hash);

    if (item != NULL && rsize) {
        ngx_http_order_edit_queue_hold_locked(item);
        be->reserve_locked(zone, item, rsize);
    }

    if (item != NULL && reason != NULL) {
        d.data = detail->data;
        d.len = ngx_min(detail->len, NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX);
        dsize = offsetof(ngx_http_order_edit_exc_t, data) + d.len;

        exc = d.len ? ngx_slab_alloc_locked(zone->shpool, dsize) : NULL;

        ngx_http_order_edit_queue_park_locked(zone, item, reason, &d, exc,
                                              msg->received_ms);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (item == NULL) {
        return NGX_BUSY;
    }

    if (rsize == 0) {
        return NGX_OK;
    }

    /*
     * Nobody waits for the fsync: the backend's wait without a request
     * only lets the webhook be leased once its record is durable.  A
     * failure has taken it out again (store_rollback()).
     */

    switch (be->write(zone, item, shop_name, msg, rsize, ngx_cycle->log)) {

    case NGX_OK:
        return NGX_OK;

    case NGX_AGAIN:
        return (be->wait(NULL, zone, item, NULL) == NGX_OK) ? NGX_OK
                                                            : NGX_BUSY;

    default:
        return NGX_BUSY;
    }
}


/*
 * A webhook in: its shop counted, the store's rate, its id (a duplicate
 * is answered with the first one's), then room for the record, the id
 * and the body, all in one lock: nothing is linked unless all of it
 * fits.  The body is copied in after the lock, then the record written;
 * when that fails the backend rolls the webhook back (store_rollback)
 * and it is refused.
 */

void
ngx_http_order_edit_store_prepare(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_put_t *put)
{
    ngx_http_order_edit_msg_t  *msg;

    msg = &put->msg;

    /* the dedup key: shop, then the webhook id or, failing it, event id */

    ngx_http_order_edit_dedup_key(put->kbuf, &put->shop, &msg->webhook_id,
                                  &msg->event_id, &put->key);

    put->hash = ngx_http_order_edit_dedup_hash(zone, &put->key);
    ngx_http_order_edit_dedup_prefetch(zone, put->hash);

    /* an order snapshot's trigger time, for reconciliation's count */
    put->received = ngx_http_order_edit_received_key(zone, &put->shop, msg,
                                                     &put->rk);

    if (put->received == NGX_OK) {
        ngx_http_order_edit_dedup_prefetch(zone, put->rk.hash);
    }

    put->prepared = 1;
}


ngx_http_order_edit_put_e
ngx_http_order_edit_store_put(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_put_t *put, ngx_log_t *log)
{
    size_t                          rsize;
    ngx_int_t                       rc;
    ngx_http_order_edit_msg_t      *msg;
    ngx_http_order_edit_shop_t     *shop;
    ngx_http_order_edit_item_t     *item;
    ngx_http_order_edit_dedup_t    *dd;
    ngx_http_order_edit_backend_t  *be;

    msg = &put->msg;
    be = ngx_http_order_edit_store_backend(zone);

    if (!put->prepared) {
        ngx_http_order_edit_store_prepare(zone, put);
    }

    put->counted = 0;
    put->item = NULL;

    /* the backend's file is opened or rotated before the lock is taken */

    rsize = 0;

    if (be) {
        rsize = be->size(&put->shop, msg);

        if (rsize == 0 || be->prepare(zone, log) != NGX_OK) {
            return NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FAILED;
        }
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, &put->shop, 1);

    if (shop == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_HTTP_ORDER_EDIT_PUT_FULL;
    }

    put->counted = 1;
    shop->counters[NGX_HTTP_ORDER_EDIT_C_RECEIVED]++;

    if (ngx_http_order_edit_limit(shop, put->limit, &put->retry_after)
        == NGX_BUSY)
    {
        shop->counters[NGX_HTTP_ORDER_EDIT_C_RATE_LIMITED]++;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        return NGX_HTTP_ORDER_EDIT_PUT_LIMITED;
    }

    ngx_http_order_edit_dedup_expire(zone, 2);

    dd = ngx_http_order_edit_dedup_lookup(zone, &put->key, put->hash);

    if (dd != NULL) {
        put->id = dd->item_id;
        shop->counters[NGX_HTTP_ORDER_EDIT_C_DUPLICATE]++;

        /*
         * Its first delivery is still having its body copied in, or
         * waiting for the fsync that makes it safe, and may yet fail (its
         * worker may die): no 200 for a copy of it before then.
         */
        rc = ngx_http_order_edit_queue_undurable_locked(shop, put->id)
             ? NGX_HTTP_ORDER_EDIT_PUT_IN_PROGRESS
             : NGX_HTTP_ORDER_EDIT_PUT_DUPLICATE;

        ngx_shmtx_unlock(&zone->shpool->mutex);

        return rc;
    }

    if (rsize && !be->room_locked(zone, rsize)) {
        shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL]++;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        return NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FULL;
    }

    item = ngx_http_order_edit_store_alloc_locked(zone, shop, msg, &put->key,
                                                  put->hash, 0);
    if (item == NULL) {
        shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL]++;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        return NGX_HTTP_ORDER_EDIT_PUT_FULL;
    }

    put->id = msg->id;

    shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUED]++;

    if (put->received == NGX_OK) {
        ngx_http_order_edit_received_note_locked(zone, &put->rk);
    }

    if (rsize) {
        /*
         * The record's place is taken under the lock, before it is
         * written; nobody leases the webhook before it is durable.
         */
        ngx_http_order_edit_queue_hold_locked(item);
        be->reserve_locked(zone, item, rsize);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /*
     * The body, the largest part of a put (2 us of 16 KB), is copied with
     * the zone unlocked: the other workers' webhooks do not wait for it.
     * Until it is in, nobody leases or reads the webhook and a copy of
     * it is "in progress"; its "copied" flag says when, so that without
     * a record to wait for no second lock is needed.
     */

    ngx_http_order_edit_queue_copy_body(item, msg, put->bufs);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "order_edit: queued #%uL \"%V\" of \"%V\"",
                   put->id, &msg->topic, &put->shop);

    if (rsize == 0) {
        return NGX_HTTP_ORDER_EDIT_PUT_QUEUED;
    }

    /*
     * The record is written here, in the page cache; with fsync on, the
     * answer waits for the fsync that a thread runs for it and for every
     * other record written meanwhile.  A failure takes the webhook out of
     * the zone again: Shopify hears 503 and delivers it once more.
     */

    switch (be->write(zone, item, &put->shop, msg, rsize, log)) {

    case NGX_OK:
        return NGX_HTTP_ORDER_EDIT_PUT_QUEUED;

    case NGX_AGAIN:
        put->item = item;
        return NGX_HTTP_ORDER_EDIT_PUT_WAIT;

    default:
        return NGX_HTTP_ORDER_EDIT_PUT_JOURNAL_FAILED;
    }
}


/* the request waits for the fsync that covers its record */

ngx_int_t
ngx_http_order_edit_store_wait(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_put_t *put,
    ngx_http_order_edit_store_done_pt done)
{
    return ngx_http_order_edit_store_backend(zone)->wait(r, zone, put->item,
                                                         done);
}


/*
 * The backend's: a webhook that was never durable leaves as if it had
 * not come: out of the queue and out of the de-duplication set, so that
 * Shopify's next delivery of it is taken afresh, and counted refused.
 */

void
ngx_http_order_edit_store_rollback(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_log_t *log)
{
    ngx_http_order_edit_settle_t  s;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_order_edit_store_rollback_locked(zone, item, 1, &s);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_order_edit_store_settle(zone, &s, log);
}


/*
 * Zone locked: the id is read back from the item (all of it but the body
 * was written under the lock that linked it), and the record, when the
 * webhook had its place taken in the journal ("record"), is released as
 * rolled back, the file work left in s.
 */

static void
ngx_http_order_edit_store_rollback_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t record,
    ngx_http_order_edit_settle_t *s)
{
    u_char                        buf[NGX_HTTP_ORDER_EDIT_DEDUP_KEY_LEN];
    ngx_str_t                     shop, wid, eid, key;
    ngx_http_order_edit_dedup_t  *dd;

    shop.data = item->shop->name;
    shop.len = item->shop->sn.str.len;
    wid.data = item->data + item->len[0];
    wid.len = item->len[1];
    eid.data = wid.data + wid.len;
    eid.len = item->len[2];

    ngx_http_order_edit_dedup_key(buf, &shop, &wid, &eid, &key);

    dd = ngx_http_order_edit_dedup_lookup(zone, &key,
                                          ngx_http_order_edit_dedup_hash(zone,
                                                                         &key));
    if (dd != NULL && dd->item_id == item->id) {
        ngx_http_order_edit_dedup_free(zone, dd);
    }

    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUED]--;
    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL]++;

    if (record) {
        ngx_http_order_edit_store_leave_locked(zone, item,
                                             NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK,
                                             0, s);
        return;
    }

    /* release_locked() would count a record that failed */

    s->write = 0;
    s->unlink = 0;

    ngx_http_order_edit_queue_remove_locked(zone, item, 0);
}


/* the backend's: the record is durable, the webhook may be leased */

void
ngx_http_order_edit_store_durable_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item)
{
    ngx_http_order_edit_queue_unhold_locked(item);
}


ngx_int_t
ngx_http_order_edit_queue_lease(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_msec_t lease_ms, ngx_http_order_edit_msg_t *msg)
{
    size_t                       used;
    uint64_t                     now;
    ngx_int_t                    rc;
    ngx_http_order_edit_stall_t  stall;

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    rc = ngx_http_order_edit_queue_lease_locked(zone, pool, lease_ms, now,
                                                msg, &stall);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /*
     * Webhooks that could go and none has left the queue for stall_after
     * (a minute by default): nothing else may show it, so it is said, at
     * most once per stall_after.
     */

    if (stall.ms) {
        used = ngx_http_order_edit_zone_used(zone);

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "order_edit: zone \"%V\" has not drained for %uL s: "
                      "%ui webhooks ready or out for delivery, %ui delayed, "
                      "%ui parked, %uz of %uz bytes in use",
                      &zone->name, stall.ms / 1000, stall.work,
                      stall.ndelayed, stall.nexc, used, zone->size);
    }

    return rc;
}


/*
 * Delivered, or not to be sent (stale, coalesced): the webhook leaves the
 * queue, and "counter" (NGX_HTTP_ORDER_EDIT_C_LAST: none) says which, in
 * the same lock.
 */

ngx_int_t
ngx_http_order_edit_queue_ack(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_uint_t counter)
{
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_leased_locked(msg);

    if (item != NULL) {
        item->shop->counters[NGX_HTTP_ORDER_EDIT_C_ACKED]++;

        if (counter < NGX_HTTP_ORDER_EDIT_C_LAST) {
            item->shop->counters[counter]++;
        }
    }

    return ngx_http_order_edit_store_leave(zone, item,
                                           NGX_HTTP_ORDER_EDIT_JACK_DELIVERED,
                                           1);
}


ngx_int_t
ngx_http_order_edit_queue_requeue(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay)
{
    return ngx_http_order_edit_store_back(zone, msg, delay, 1);
}


/* handed back untried (no room, the order busy): no attempt is counted */

ngx_int_t
ngx_http_order_edit_queue_release(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay)
{
    return ngx_http_order_edit_store_back(zone, msg, delay, 0);
}


static ngx_int_t
ngx_http_order_edit_store_back(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay, ngx_uint_t attempted)
{
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_leased_locked(msg);

    if (item != NULL) {
        ngx_http_order_edit_queue_back_locked(zone, item, delay, attempted);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return item ? NGX_OK : NGX_DECLINED;
}


/*
 * Leases of a worker that died (or hung past its lease) go back to the
 * queue.  Checking pids costs a syscall per lease, so lease() only looks
 * at expiry and a worker checks pids once when it starts.
 */

ngx_uint_t
ngx_http_order_edit_queue_reclaim(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t check_pids)
{
    uint64_t    now;
    ngx_uint_t  n;

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);
    n = ngx_http_order_edit_queue_reclaim_locked(zone, now, check_pids);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (check_pids) {
        (void) ngx_http_order_edit_store_writers_dead(zone);
    }

    return n;
}


/*
 * Webhooks whose writer died before they were answered: between the lock
 * that linked them and the copy of their body, or before their record
 * was durable (written or not: see dead_unanswered).  None was answered
 * 200 (a copy of one heard "in progress"), so each is rolled back as a
 * failed record is, its record released as rolled back (a replay skips
 * it), and Shopify's next delivery of it is taken afresh.  Settled with
 * the zone unlocked, a few at a time: a walk of the queue a few.
 */

ngx_uint_t
ngx_http_order_edit_store_writers_dead(ngx_http_order_edit_zone_t *zone)
{
    uint64_t                      first;
    ngx_uint_t                    i, k, n;
    ngx_http_order_edit_item_t   *items[NGX_HTTP_ORDER_EDIT_DEAD_STEP];
    ngx_http_order_edit_settle_t  s[NGX_HTTP_ORDER_EDIT_DEAD_STEP];

    for (n = 0; /* void */ ; n += k) {

        ngx_shmtx_lock(&zone->shpool->mutex);

        k = ngx_http_order_edit_queue_dead_unanswered_locked(zone, items,
                                              NGX_HTTP_ORDER_EDIT_DEAD_STEP);

        first = k ? items[0]->id : 0;

        for (i = 0; i < k; i++) {
            ngx_http_order_edit_store_rollback_locked(zone, items[i],
                                                  items[i]->rec.file != NULL,
                                                  &s[i]);
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        for (i = 0; i < k; i++) {
            ngx_http_order_edit_store_settle(zone, &s[i], ngx_cycle->log);
        }

        if (k) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "order_edit: %ui webhooks from #%uL rolled back "
                          "in zone \"%V\": their worker exited before they "
                          "were answered", k, first, &zone->name);
        }

        if (k < NGX_HTTP_ORDER_EDIT_DEAD_STEP) {
            return n + k;
        }
    }
}


/* back to the queue, in its FIFO place, for one more delivery */

ngx_int_t
ngx_http_order_edit_exc_retry(ngx_http_order_edit_zone_t *zone, uint64_t id)
{
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_exc_find_locked(zone, id);

    if (item != NULL) {
        ngx_http_order_edit_exc_retry_locked(zone, item);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return item ? NGX_OK : NGX_DECLINED;
}


/* a person dealt with it in NetSuite: the webhook is dropped */

ngx_int_t
ngx_http_order_edit_exc_resolve(ngx_http_order_edit_zone_t *zone,
    uint64_t id)
{
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_exc_find_locked(zone, id);

    if (item != NULL) {
        item->shop->counters[NGX_HTTP_ORDER_EDIT_C_EXC_RESOLVED]++;
    }

    return ngx_http_order_edit_store_leave(zone, item,
                                           NGX_HTTP_ORDER_EDIT_JACK_RESOLVED,
                                           0);
}


ngx_int_t
ngx_http_order_edit_queue_park(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *reason, ngx_str_t *detail)
{
    size_t                        size;
    uint64_t                      now;
    ngx_str_t                     r, d;
    ngx_uint_t                    round;
    ngx_http_order_edit_exc_t    *exc;
    ngx_http_order_edit_item_t   *item;

    r.data = reason->data;
    r.len = ngx_min(reason->len, NGX_HTTP_ORDER_EDIT_REASON_MAX);
    d.data = detail->data;
    d.len = ngx_min(detail->len, NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX);
    size = offsetof(ngx_http_order_edit_exc_t, data) + d.len;
    now = ngx_http_order_edit_now_ms();
    exc = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_leased_locked(msg);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    /*
     * Only NetSuite's answer needs memory.  Ids give way for it, as for
     * a body; when even that leaves no room, the webhook is parked with
     * its reason alone: a webhook that cannot be parked would hold its
     * place, and a full zone of those would never drain.
     */

    for (round = 0; d.len && exc == NULL; round++) {

        exc = ngx_slab_alloc_locked(zone->shpool, size);

        if (exc != NULL || round == NGX_HTTP_ORDER_EDIT_PARK_ROUNDS
            || ngx_http_order_edit_dedup_evict(zone,
                                               NGX_HTTP_ORDER_EDIT_PARK_EVICT)
               == 0)
        {
            break;
        }
    }

    ngx_http_order_edit_queue_park_locked(zone, item, &r, &d, exc, now);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (d.len && exc == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "order_edit: zone \"%V\" is full: #%uL of \"%V\" "
                      "parked as \"%V\" without NetSuite's answer",
                      &zone->name, msg->id, &msg->shop, reason);
    }

    return NGX_OK;
}


/*
 * The backend's: one webhook read back from its record goes into the
 * zone (queue), or only its de-duplication id, for as long as the TTL
 * since it came allows.  The same webhook recorded twice (two
 * generations both took a retry) goes in once: NGX_BUSY for the copy.
 * An order snapshot's trigger time is noted as put notes it at ingest
 * (the record keeps the header and the order id): reconciliation's
 * found_missing would otherwise take a newer webhook replayed after a
 * restart for missing once an older one came since.
 */

ngx_int_t
ngx_http_order_edit_store_replay(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_recref_t *ref, ngx_uint_t queue)
{
    u_char                          kbuf[NGX_HTTP_ORDER_EDIT_DEDUP_KEY_LEN];
    time_t                          expire;
    uint32_t                        hash;
    ngx_str_t                       key;
    ngx_int_t                       received;
    ngx_http_order_edit_item_t     *item;
    ngx_http_order_edit_shop_t     *sp;
    ngx_http_order_edit_dedup_t    *dd;
    ngx_http_order_edit_received_t  rk;

    if (shop->len == 0 || shop->len > NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN
        || msg->webhook_id.len > NGX_HTTP_ORDER_EDIT_MAX_ID_LEN
        || msg->event_id.len > NGX_HTTP_ORDER_EDIT_MAX_ID_LEN)
    {
        return queue ? NGX_OK : NGX_DECLINED;
    }

    ngx_http_order_edit_dedup_key(kbuf, shop, &msg->webhook_id,
                                  &msg->event_id, &key);
    hash = ngx_http_order_edit_dedup_hash(zone, &key);
    expire = (time_t) (msg->received_ms / 1000) + zone->dedup_ttl;

    received = ngx_http_order_edit_received_key(zone, shop, msg, &rk);

    ngx_shmtx_lock(&zone->shpool->mutex);

    dd = ngx_http_order_edit_dedup_lookup(zone, &key, hash);

    if (dd != NULL || (!queue && expire < ngx_time())) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        return (queue && dd != NULL) ? NGX_BUSY : NGX_OK;
    }

    dd = ngx_http_order_edit_dedup_alloc(zone, &key);
    item = NULL;
    sp = NULL;

    if (queue && dd != NULL) {
        sp = ngx_http_order_edit_shop_lookup(zone, shop, 1);
        item = sp ? ngx_http_order_edit_queue_alloc_locked(zone, msg, 1)
                  : NULL;
    }

    if (dd == NULL || (queue && item == NULL)) {
        if (dd != NULL) {
            ngx_slab_free_locked(zone->shpool, dd);
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        /* an id that does not fit is only forgotten, a webhook waits */
        return queue ? NGX_ERROR : NGX_OK;
    }

    if (!queue) {
        ngx_http_order_edit_dedup_insert(zone, dd, hash, 0);
        dd->expire = expire;

    } else {
        (void) ngx_http_order_edit_queue_link_locked(zone, sp, item);
        ngx_http_order_edit_dedup_insert(zone, dd, hash, item->id);

        if (expire > dd->expire) {
            dd->expire = expire;
        }

        ngx_http_order_edit_store_records->adopt_locked(zone, item, ref);
    }

    /* delivered or not, it came: as at ingest */
    if (received == NGX_OK) {
        ngx_http_order_edit_received_note_locked(zone, &rk);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/*
 * Entered with the zone locked, which it unlocks: a delivered or resolved
 * webhook (NULL: none was found) leaves the zone, its record settled.
 */

static ngx_int_t
ngx_http_order_edit_store_leave(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t kind, ngx_uint_t drained)
{
    ngx_http_order_edit_settle_t  s;

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_http_order_edit_store_leave_locked(zone, item, kind, drained, &s);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_order_edit_store_settle(zone, &s, ngx_cycle->log);

    return NGX_OK;
}


/*
 * Zone locked: a webhook leaves the zone for good ("kind": how, for its
 * record), the record released first, then the queue's memory.
 */

static void
ngx_http_order_edit_store_leave_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t kind, ngx_uint_t drained,
    ngx_http_order_edit_settle_t *s)
{
    s->write = 0;
    s->unlink = 0;

    ngx_http_order_edit_store_records->release_locked(zone, item, kind, s);
    ngx_http_order_edit_queue_remove_locked(zone, item, drained);
}


/* zone unlocked: the settling's file work */

static void
ngx_http_order_edit_store_settle(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_settle_t *s, ngx_log_t *log)
{
    if (s->write || s->unlink) {
        ngx_http_order_edit_store_records->settle(zone, s, log);
    }
}
