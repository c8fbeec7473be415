
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_dedup.h"
#include "ngx_http_order_edit_journal.h"


/* how far lease() looks past items that wait for a retry backoff */
#define NGX_HTTP_ORDER_EDIT_LEASE_SCAN    64

/* how far an item handed back walks to regain its FIFO place */
#define NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN  1024


static ngx_uint_t ngx_http_order_edit_queue_urgent(
    ngx_http_order_edit_item_t *item);
static ngx_int_t ngx_http_order_edit_queue_back(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_msg_t *msg,
    ngx_msec_t delay, ngx_uint_t attempted);
static void ngx_http_order_edit_queue_insert_ordered(
    ngx_http_order_edit_shop_t *shop, ngx_http_order_edit_item_t *item);
static ngx_uint_t ngx_http_order_edit_queue_reclaim_shop(
    ngx_http_order_edit_shop_t *shop, uint64_t now, ngx_uint_t check_pids);
static ngx_http_order_edit_item_t *ngx_http_order_edit_queue_find_leased(
    ngx_http_order_edit_msg_t *msg);
static ngx_int_t ngx_http_order_edit_queue_copy(ngx_pool_t *pool,
    ngx_http_order_edit_item_t *item, ngx_http_order_edit_msg_t *msg);
static void ngx_http_order_edit_queue_free(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t kind,
    ngx_http_order_edit_jack_t *ack);
static ngx_http_order_edit_item_t *ngx_http_order_edit_exc_find(
    ngx_http_order_edit_zone_t *zone, uint64_t id);
static void ngx_http_order_edit_exc_copy(ngx_str_t *dst, u_char *src,
    size_t len, ngx_uint_t printable);


ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_alloc_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg)
{
    u_char                      *p;
    size_t                       size;
    ngx_http_order_edit_item_t  *item;

    size = offsetof(ngx_http_order_edit_item_t, data)
           + msg->topic.len + msg->webhook_id.len + msg->event_id.len
           + msg->api_version.len + msg->triggered_at.len + msg->body.len;

    item = ngx_slab_alloc_locked(zone->shpool, size);
    if (item == NULL) {
        return NULL;
    }

    ngx_memzero(item, offsetof(ngx_http_order_edit_item_t, data));

    item->received_ms = msg->received_ms;
    item->order_id = msg->order_id;
    item->body_len = (uint32_t) msg->body.len;

    item->len[0] = (u_short) msg->topic.len;
    item->len[1] = (u_short) msg->webhook_id.len;
    item->len[2] = (u_short) msg->event_id.len;
    item->len[3] = (u_short) msg->api_version.len;
    item->len[4] = (u_short) msg->triggered_at.len;

    p = item->data;
    p = ngx_cpymem(p, msg->topic.data, msg->topic.len);
    p = ngx_cpymem(p, msg->webhook_id.data, msg->webhook_id.len);
    p = ngx_cpymem(p, msg->event_id.data, msg->event_id.len);
    p = ngx_cpymem(p, msg->api_version.data, msg->api_version.len);
    p = ngx_cpymem(p, msg->triggered_at.data, msg->triggered_at.len);
    ngx_memcpy(p, msg->body.data, msg->body.len);

    /* webhook bytes, not slab bytes: those show in the zone's use */
    zone->sh->item_bytes += size - offsetof(ngx_http_order_edit_item_t, data);

    return item;
}


uint64_t
ngx_http_order_edit_queue_link_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_shop_t *shop, ngx_http_order_edit_item_t *item)
{
    item->id = zone->sh->next_id++;
    item->shop = shop;

    ngx_queue_insert_tail(&shop->pending, &item->queue);
    shop->depth++;
    zone->sh->nitems++;

    return item->id;
}


ngx_int_t
ngx_http_order_edit_queue_lease(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_msec_t lease_ms, ngx_http_order_edit_msg_t *msg)
{
    uint64_t                      now;
    ngx_int_t                     rc;
    ngx_uint_t                    n, scan;
    ngx_queue_t                  *sq, *q;
    ngx_http_order_edit_item_t   *item, *first;
    ngx_http_order_edit_shop_t   *shop;
    ngx_http_order_edit_shctx_t  *sh;

    now = ngx_http_order_edit_now_ms();
    sh = zone->sh;
    item = NULL;
    shop = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* one full turn at most, starting after the shop served last */

    sq = sh->rr;

    for (n = 0; n <= sh->nshops && item == NULL; n++) {

        sq = ngx_queue_next(sq);

        if (sq == ngx_queue_sentinel(&sh->shops)) {
            continue;
        }

        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        (void) ngx_http_order_edit_queue_reclaim_shop(shop, now, 0);

        /*
         * Refunds and edits go first: money owed to a customer and lines
         * the warehouse is about to pick cannot wait behind a backlog of
         * snapshots.  Within the window looked at, the oldest of those
         * wins, else the oldest of all; snapshots of one order keep their
         * order, and a newer one that overtakes an older is stale anyway.
         */

        first = NULL;
        scan = 0;

        for (q = ngx_queue_head(&shop->pending);
             q != ngx_queue_sentinel(&shop->pending)
             && scan < NGX_HTTP_ORDER_EDIT_LEASE_SCAN;
             q = ngx_queue_next(q), scan++)
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            if (item->not_before_ms <= now) {
                if (ngx_http_order_edit_queue_urgent(item)) {
                    break;
                }

                if (first == NULL) {
                    first = item;
                }
            }

            item = NULL;
        }

        if (item == NULL) {
            item = first;
        }
    }

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    sh->rr = sq;

    rc = ngx_http_order_edit_queue_copy(pool, item, msg);

    if (rc == NGX_OK) {
        item->lease_until_ms = now + lease_ms;
        item->lease_pid = ngx_pid;
        item->lease_token = sh->next_token++;
        item->attempts++;

        ngx_queue_remove(&item->queue);
        ngx_queue_insert_tail(&shop->leased, &item->queue);
        shop->nleased++;
        shop->counters[NGX_HTTP_ORDER_EDIT_C_LEASED]++;

        msg->token = item->lease_token;
        msg->attempts = item->attempts;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


static ngx_uint_t
ngx_http_order_edit_queue_urgent(ngx_http_order_edit_item_t *item)
{
    return (item->len[0] == sizeof("refunds/create") - 1
            && ngx_strncmp(item->data, "refunds/create",
                           sizeof("refunds/create") - 1) == 0)
           || (item->len[0] == sizeof("orders/edited") - 1
               && ngx_strncmp(item->data, "orders/edited",
                              sizeof("orders/edited") - 1) == 0);
}


/* a copy of the oldest webhook of a shop, without leasing it */

ngx_int_t
ngx_http_order_edit_queue_peek(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, ngx_http_order_edit_msg_t *msg)
{
    ngx_int_t                    rc;
    ngx_queue_t                 *q;
    ngx_http_order_edit_shop_t  *shop;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, name, 0);

    if (shop != NULL && !ngx_queue_empty(&shop->pending)) {
        q = ngx_queue_head(&shop->pending);
        rc = ngx_http_order_edit_queue_copy(pool,
                 ngx_queue_data(q, ngx_http_order_edit_item_t, queue), msg);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Copies of the other queued orders/updated webhooks of the same shop
 * and order as msg, at most max: the dispatcher coalesces a burst into
 * its newest snapshot.  Leased ones are left alone.
 */

ngx_int_t
ngx_http_order_edit_queue_same_order(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_http_order_edit_msg_t *msg, ngx_uint_t max,
    ngx_array_t *out)
{
    ngx_int_t                    rc;
    ngx_uint_t                   scan;
    ngx_queue_t                 *q;
    ngx_http_order_edit_msg_t   *m;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    shop = msg->shop_node;
    rc = NGX_OK;

    if (shop == NULL || msg->order_id == 0) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    scan = 0;

    for (q = ngx_queue_head(&shop->pending);
         q != ngx_queue_sentinel(&shop->pending)
         && out->nelts < max && scan < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
         q = ngx_queue_next(q), scan++)
    {
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        /* full snapshots only: a cancellation or an edit is not one */
        if (item->id == msg->id || item->order_id != msg->order_id
            || item->len[0] != sizeof("orders/updated") - 1
            || ngx_strncmp(item->data, "orders/updated",
                           sizeof("orders/updated") - 1)
               != 0)
        {
            continue;
        }

        m = ngx_array_push(out);
        if (m == NULL
            || ngx_http_order_edit_queue_copy(pool, item, m) != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/* the normaliser's view of a queued webhook */

void
ngx_http_order_edit_queue_norm_input(ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_norm_input_t *in)
{
    ngx_memzero(in, sizeof(ngx_http_order_edit_norm_input_t));

    in->shop = (char *) msg->shop.data;
    in->shop_len = msg->shop.len;
    in->topic = (char *) msg->topic.data;
    in->topic_len = msg->topic.len;
    in->webhook_id = (char *) msg->webhook_id.data;
    in->webhook_id_len = msg->webhook_id.len;
    in->api_version = (char *) msg->api_version.data;
    in->api_version_len = msg->api_version.len;
    in->body = (char *) msg->body.data;
    in->body_len = msg->body.len;

    /* staleness across webhooks needs a per-order record: to come */
    in->last_updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;
    in->taxes_included = -1;
}


/* a copy of one webhook of a shop, queued or leased, for operators */

ngx_int_t
ngx_http_order_edit_queue_find(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, uint64_t id,
    ngx_http_order_edit_msg_t *msg)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_queue_t                 *q, *lists[2];
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, name, 0);

    if (shop != NULL) {
        lists[0] = &shop->pending;
        lists[1] = &shop->leased;

        /* bounded by the shop's depth; both lists are ordered by id */
        for (i = 0; i < 2 && rc == NGX_DECLINED; i++) {
            for (q = ngx_queue_head(lists[i]);
                 q != ngx_queue_sentinel(lists[i]);
                 q = ngx_queue_next(q))
            {
                item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

                if (item->id == id) {
                    rc = ngx_http_order_edit_queue_copy(pool, item, msg);
                    break;
                }

                if (item->id > id) {
                    break;
                }
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

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
    ngx_http_order_edit_jack_t   ack;
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_find_leased(msg);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_ACKED]++;

    if (counter < NGX_HTTP_ORDER_EDIT_C_LAST) {
        item->shop->counters[counter]++;
    }

    item->shop->depth--;
    item->shop->nleased--;
    zone->sh->nitems--;

    ngx_http_order_edit_queue_free(zone, item,
                                   NGX_HTTP_ORDER_EDIT_JACK_DELIVERED, &ack);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_order_edit_journal_ack(zone, &ack, ngx_cycle->log);

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_queue_requeue(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay)
{
    return ngx_http_order_edit_queue_back(zone, msg, delay, 1);
}


/* handed back untried (no room, the order busy): no attempt is counted */

ngx_int_t
ngx_http_order_edit_queue_release(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay)
{
    return ngx_http_order_edit_queue_back(zone, msg, delay, 0);
}


static ngx_int_t
ngx_http_order_edit_queue_back(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_msec_t delay, ngx_uint_t attempted)
{
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_find_leased(msg);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&item->queue);
    item->shop->nleased--;

    item->not_before_ms = ngx_http_order_edit_now_ms() + delay;
    item->lease_until_ms = 0;
    item->lease_pid = 0;
    item->lease_token = 0;

    if (!attempted && item->attempts) {
        item->attempts--;
    }

    ngx_http_order_edit_queue_insert_ordered(item->shop, item);
    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_REQUEUED]++;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_queue_park(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_str_t *reason, ngx_str_t *detail)
{
    size_t                        rlen, dlen;
    uint64_t                      now;
    ngx_http_order_edit_exc_t    *exc;
    ngx_http_order_edit_item_t   *item;
    ngx_http_order_edit_shop_t   *shop;
    ngx_str_t                     s;

    rlen = ngx_min(reason->len, 64);
    dlen = ngx_min(detail->len, NGX_HTTP_ORDER_EDIT_EXC_DETAIL_MAX);
    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_queue_find_leased(msg);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    exc = ngx_slab_alloc_locked(zone->shpool,
                                offsetof(ngx_http_order_edit_exc_t, data)
                                + rlen + dlen);
    if (exc == NULL) {
        /* the lease stands: the caller hands it back to retry later */
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_ERROR;
    }

    /* operators read these as JSON: keep printable ASCII, mark the rest */
    exc->last_ms = now;
    exc->reason_len = (u_short) rlen;
    exc->detail_len = (u_short) dlen;

    s.data = exc->data;
    ngx_http_order_edit_exc_copy(&s, reason->data, rlen, 1);
    s.data = exc->data + rlen;
    ngx_http_order_edit_exc_copy(&s, detail->data, dlen, 1);

    shop = item->shop;

    ngx_queue_remove(&item->queue);
    shop->nleased--;
    shop->depth--;
    zone->sh->nitems--;

    item->exc = exc;
    item->lease_until_ms = 0;
    item->lease_pid = 0;
    item->lease_token = 0;

    if (item->parked_first_ms == 0) {
        item->parked_first_ms = now;
    }

    ngx_queue_insert_tail(&shop->exceptions, &item->queue);
    shop->nexceptions++;
    zone->sh->nexceptions++;
    shop->counters[NGX_HTTP_ORDER_EDIT_C_PARKED]++;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/* back to the queue, in its FIFO place, for one more delivery */

ngx_int_t
ngx_http_order_edit_exc_retry(ngx_http_order_edit_zone_t *zone, uint64_t id)
{
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_exc_find(zone, id);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    shop = item->shop;

    ngx_queue_remove(&item->queue);
    shop->nexceptions--;
    zone->sh->nexceptions--;

    ngx_slab_free_locked(zone->shpool, item->exc);
    item->exc = NULL;
    item->not_before_ms = 0;

    ngx_http_order_edit_queue_insert_ordered(shop, item);
    shop->depth++;
    zone->sh->nitems++;
    shop->counters[NGX_HTTP_ORDER_EDIT_C_EXC_RETRIED]++;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/* a person dealt with it in NetSuite: the webhook is dropped */

ngx_int_t
ngx_http_order_edit_exc_resolve(ngx_http_order_edit_zone_t *zone,
    uint64_t id)
{
    ngx_http_order_edit_jack_t   ack;
    ngx_http_order_edit_item_t  *item;

    ngx_shmtx_lock(&zone->shpool->mutex);

    item = ngx_http_order_edit_exc_find(zone, id);

    if (item == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    item->shop->nexceptions--;
    zone->sh->nexceptions--;
    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_EXC_RESOLVED]++;

    ngx_http_order_edit_queue_free(zone, item,
                                   NGX_HTTP_ORDER_EDIT_JACK_RESOLVED, &ack);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_http_order_edit_journal_ack(zone, &ack, ngx_cycle->log);

    return NGX_OK;
}


ngx_int_t
ngx_http_order_edit_exc_list(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, ngx_array_t *out)
{
    u_char                          *p;
    size_t                           size;
    ngx_queue_t                     *sq, *q;
    ngx_http_order_edit_item_t      *item;
    ngx_http_order_edit_shop_t      *shop;
    ngx_http_order_edit_exc_info_t  *e;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (sq = ngx_queue_head(&zone->sh->shops);
         sq != ngx_queue_sentinel(&zone->sh->shops);
         sq = ngx_queue_next(sq))
    {
        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        if (name && (name->len != shop->sn.str.len
                     || ngx_strncmp(name->data, shop->name, name->len) != 0))
        {
            continue;
        }

        for (q = ngx_queue_head(&shop->exceptions);
             q != ngx_queue_sentinel(&shop->exceptions);
             q = ngx_queue_next(q))
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            size = shop->sn.str.len + item->len[0] + item->len[1]
                   + item->exc->reason_len + item->exc->detail_len;

            e = ngx_array_push(out);
            p = ngx_pnalloc(pool, size);

            if (e == NULL || p == NULL) {
                ngx_shmtx_unlock(&zone->shpool->mutex);
                return NGX_ERROR;
            }

            e->id = item->id;
            e->order_id = item->order_id;
            e->received_ms = item->received_ms;
            e->first_ms = item->parked_first_ms;
            e->last_ms = item->exc->last_ms;
            e->attempts = item->attempts;

            e->shop.data = p;
            ngx_http_order_edit_exc_copy(&e->shop, shop->name,
                                         shop->sn.str.len, 0);
            p += e->shop.len;

            e->topic.data = p;
            ngx_http_order_edit_exc_copy(&e->topic, item->data,
                                         item->len[0], 0);
            p += e->topic.len;

            e->webhook_id.data = p;
            ngx_http_order_edit_exc_copy(&e->webhook_id,
                                         item->data + item->len[0],
                                         item->len[1], 0);
            p += e->webhook_id.len;

            e->reason.data = p;
            ngx_http_order_edit_exc_copy(&e->reason, item->exc->data,
                                         item->exc->reason_len, 0);
            p += e->reason.len;

            e->detail.data = p;
            ngx_http_order_edit_exc_copy(&e->detail,
                                         item->exc->data
                                         + item->exc->reason_len,
                                         item->exc->detail_len, 0);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


static ngx_http_order_edit_item_t *
ngx_http_order_edit_exc_find(ngx_http_order_edit_zone_t *zone, uint64_t id)
{
    ngx_queue_t                 *sq, *q;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    /* bounded by the exceptions held: people act on one at a time */

    for (sq = ngx_queue_head(&zone->sh->shops);
         sq != ngx_queue_sentinel(&zone->sh->shops);
         sq = ngx_queue_next(sq))
    {
        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        for (q = ngx_queue_head(&shop->exceptions);
             q != ngx_queue_sentinel(&shop->exceptions);
             q = ngx_queue_next(q))
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            if (item->id == id) {
                return item;
            }
        }
    }

    return NULL;
}


static void
ngx_http_order_edit_exc_copy(ngx_str_t *dst, u_char *src, size_t len,
    ngx_uint_t printable)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        dst->data[i] = (!printable || (src[i] >= 0x20 && src[i] < 0x7f))
                       ? src[i] : '?';
    }

    dst->len = len;
}


ngx_uint_t
ngx_http_order_edit_queue_depth(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *name)
{
    ngx_uint_t                   depth;
    ngx_http_order_edit_shop_t  *shop;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (name == NULL) {
        depth = zone->sh->nitems;

    } else {
        shop = ngx_http_order_edit_shop_lookup(zone, name, 0);
        depth = shop ? shop->depth : 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return depth;
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
    uint64_t                      now;
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_order_edit_shctx_t  *sh;

    now = ngx_http_order_edit_now_ms();
    sh = zone->sh;
    n = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&sh->shops);
         q != ngx_queue_sentinel(&sh->shops);
         q = ngx_queue_next(q))
    {
        n += ngx_http_order_edit_queue_reclaim_shop(
                 ngx_queue_data(q, ngx_http_order_edit_shop_t, all),
                 now, check_pids);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return n;
}


uint64_t
ngx_http_order_edit_queue_oldest_ms_locked(ngx_http_order_edit_shop_t *shop,
    uint64_t now)
{
    uint64_t                     oldest;
    ngx_queue_t                 *q;
    ngx_http_order_edit_item_t  *item;

    oldest = 0;

    /* both lists are ordered by id, so each head is its oldest */

    if (!ngx_queue_empty(&shop->pending)) {
        q = ngx_queue_head(&shop->pending);
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);
        oldest = item->received_ms;
    }

    if (!ngx_queue_empty(&shop->leased)) {
        q = ngx_queue_head(&shop->leased);
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        if (oldest == 0 || item->received_ms < oldest) {
            oldest = item->received_ms;
        }
    }

    if (oldest == 0 || oldest > now) {
        return 0;
    }

    return now - oldest;
}


static ngx_uint_t
ngx_http_order_edit_queue_reclaim_shop(ngx_http_order_edit_shop_t *shop,
    uint64_t now, ngx_uint_t check_pids)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q, *next;
    ngx_http_order_edit_item_t  *item;

    n = 0;

    for (q = ngx_queue_head(&shop->leased);
         q != ngx_queue_sentinel(&shop->leased);
         q = next)
    {
        next = ngx_queue_next(q);
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        if (item->lease_until_ms > now
            && !(check_pids && item->lease_pid != ngx_pid
                 && kill(item->lease_pid, 0) == -1 && ngx_errno == ESRCH))
        {
            continue;
        }

        ngx_queue_remove(q);
        shop->nleased--;

        item->lease_until_ms = 0;
        item->lease_pid = 0;
        item->lease_token = 0;

        ngx_http_order_edit_queue_insert_ordered(shop, item);
        shop->counters[NGX_HTTP_ORDER_EDIT_C_LEASE_RECLAIMED]++;
        n++;
    }

    return n;
}


static void
ngx_http_order_edit_queue_insert_ordered(ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_item_t *item)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_order_edit_item_t  *it;

    /* leased items were taken from the head, so their place is near it */

    n = 0;

    for (q = ngx_queue_head(&shop->pending);
         q != ngx_queue_sentinel(&shop->pending)
         && n < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
         q = ngx_queue_next(q), n++)
    {
        it = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        if (it->id > item->id) {
            break;
        }
    }

    /* inserting at the "tail" of a node puts the item just before it */
    ngx_queue_insert_tail(q, &item->queue);
}


static ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_find_leased(ngx_http_order_edit_msg_t *msg)
{
    ngx_queue_t                 *q;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    shop = msg->shop_node;

    if (shop == NULL) {
        return NULL;
    }

    /* the token tells a lease that expired and went to another holder */

    for (q = ngx_queue_head(&shop->leased);
         q != ngx_queue_sentinel(&shop->leased);
         q = ngx_queue_next(q))
    {
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        if (item->id == msg->id && item->lease_token == msg->token) {
            return item;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_order_edit_queue_copy(ngx_pool_t *pool,
    ngx_http_order_edit_item_t *item, ngx_http_order_edit_msg_t *msg)
{
    u_char      *p, *src;
    size_t       size;
    ngx_str_t   *f[5];
    ngx_uint_t   i;

    size = item->shop->sn.str.len + item->body_len;

    for (i = 0; i < 5; i++) {
        size += item->len[i];
    }

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    msg->id = item->id;
    msg->token = item->lease_token;
    msg->received_ms = item->received_ms;
    msg->order_id = item->order_id;
    msg->attempts = item->attempts;
    msg->shop_node = item->shop;

    msg->shop.data = p;
    msg->shop.len = item->shop->sn.str.len;
    p = ngx_cpymem(p, item->shop->name, msg->shop.len);

    f[0] = &msg->topic;
    f[1] = &msg->webhook_id;
    f[2] = &msg->event_id;
    f[3] = &msg->api_version;
    f[4] = &msg->triggered_at;

    src = item->data;

    for (i = 0; i < 5; i++) {
        f[i]->data = p;
        f[i]->len = item->len[i];
        p = ngx_cpymem(p, src, item->len[i]);
        src += item->len[i];
    }

    msg->body.data = p;
    msg->body.len = item->body_len;
    ngx_memcpy(p, src, item->body_len);

    return NGX_OK;
}


static void
ngx_http_order_edit_queue_free(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t kind,
    ngx_http_order_edit_jack_t *ack)
{
    ngx_uint_t  i;
    size_t      size;

    ngx_http_order_edit_journal_release_locked(zone, item, kind, ack);

    size = item->body_len;

    for (i = 0; i < 5; i++) {
        size += item->len[i];
    }

    ngx_queue_remove(&item->queue);

    zone->sh->item_bytes -= size;

    if (item->exc) {
        ngx_slab_free_locked(zone->shpool, item->exc);
    }

    ngx_slab_free_locked(zone->shpool, item);
}


/*
 * A webhook that was never durable leaves as if it had not come: out of
 * the queue and out of the de-duplication set, so that Shopify's next
 * delivery of it is taken afresh.
 */

void
ngx_http_order_edit_queue_rollback_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_http_order_edit_jack_t *ack)
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
                                          ngx_crc32_short(key.data, key.len));
    if (dd != NULL && dd->item_id == item->id) {
        ngx_http_order_edit_dedup_free(zone, dd);
    }

    item->shop->depth--;
    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUED]--;
    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_QUEUE_FULL]++;
    zone->sh->nitems--;

    ngx_http_order_edit_queue_free(zone, item,
                                   NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK, ack);
}


/*
 * Zone locked: is webhook "id" of this shop still waiting for its journal
 * fsync?  It was linked a moment ago, so it is among the newest: the walk
 * goes back from the tail, and stops at an older id.
 */

ngx_uint_t
ngx_http_order_edit_queue_undurable_locked(ngx_http_order_edit_shop_t *shop,
    uint64_t id)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_order_edit_item_t  *item;

    for (q = ngx_queue_last(&shop->pending), n = 0;
         q != ngx_queue_sentinel(&shop->pending) && n < 1024;
         q = ngx_queue_prev(q), n++)
    {
        item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

        if (item->id == id) {
            return item->not_before_ms == NGX_HTTP_ORDER_EDIT_NOT_DURABLE;
        }

        if (item->id < id) {
            break;
        }
    }

    return 0;
}
