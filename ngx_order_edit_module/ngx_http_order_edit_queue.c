
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_queue.h"


/*
 * How far lease() looks past ready webhooks held until their record is
 * durable: only those just written wait so, a few milliseconds each.
 */
#define NGX_HTTP_ORDER_EDIT_LEASE_SCAN    64

/* how far the walks for operators and for coalescing look */
#define NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN  1024

/* due delayed webhooks made ready per lease(); the rest on the next */
#define NGX_HTTP_ORDER_EDIT_PROMOTE_MAX   256


static ngx_uint_t ngx_http_order_edit_queue_urgent(
    ngx_http_order_edit_item_t *item);
static ngx_rbtree_t *ngx_http_order_edit_queue_tree(
    ngx_http_order_edit_item_t *item);
static void ngx_http_order_edit_queue_ready(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item);
static ngx_int_t ngx_http_order_edit_queue_same_one(ngx_pool_t *pool,
    ngx_http_order_edit_msg_t *msg, ngx_http_order_edit_item_t *item,
    ngx_array_t *out);
static int64_t ngx_http_order_edit_queue_triggered(
    ngx_http_order_edit_item_t *item);
static void ngx_http_order_edit_queue_delay(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, uint64_t until);
static void ngx_http_order_edit_queue_unlink(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item);
static ngx_uint_t ngx_http_order_edit_queue_promote(
    ngx_http_order_edit_zone_t *zone, uint64_t now, ngx_uint_t max);
static ngx_http_order_edit_item_t *ngx_http_order_edit_queue_first(
    ngx_rbtree_t *tree);
static ngx_rbtree_node_t *ngx_http_order_edit_queue_order_first(
    ngx_http_order_edit_shop_t *shop, uint64_t order_id);
static ngx_http_order_edit_item_t *ngx_http_order_edit_queue_lookup(
    ngx_rbtree_t *tree, uint64_t id);
static ngx_http_order_edit_item_t *ngx_http_order_edit_queue_oldest(
    ngx_http_order_edit_shop_t *shop);
static void ngx_http_order_edit_queue_busy(ngx_http_order_edit_zone_t *zone);
static ngx_uint_t ngx_http_order_edit_queue_reclaim_shop(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_shop_t *shop,
    uint64_t now, ngx_uint_t check_pids);
static ngx_int_t ngx_http_order_edit_queue_copy(ngx_pool_t *pool,
    ngx_http_order_edit_item_t *item, ngx_http_order_edit_msg_t *msg);
static void ngx_http_order_edit_exc_copy(ngx_str_t *dst, u_char *src,
    size_t len, ngx_uint_t printable);
static ngx_str_t ngx_http_order_edit_exc_detail(
    ngx_http_order_edit_item_t *item);


ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_alloc_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_msg_t *msg, ngx_uint_t body)
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

    if (body) {
        ngx_memcpy(p, msg->body.data, msg->body.len);
        item->copied = 1;

    } else {
        /* its writer, to roll it back if it dies before the copy */
        item->lease_pid = ngx_pid;
    }

    /* webhook bytes, and what the slab allocator took for them */
    zone->sh->item_bytes += size - offsetof(ngx_http_order_edit_item_t, data);
    zone->sh->item_slab += ngx_http_order_edit_slab_size(size);

    return item;
}


/*
 * Zone unlocked: the writer of a webhook held since its alloc copies its
 * body in (the largest part of a put, and no other worker waits for it),
 * then lets readers see it with a release store.  Nobody frees a held
 * webhook but its writer, or the store once the writer is gone.
 */

void
ngx_http_order_edit_queue_copy_body(ngx_http_order_edit_item_t *item,
    ngx_http_order_edit_msg_t *msg, ngx_chain_t *bufs)
{
    u_char  *p;

    p = ngx_http_order_edit_queue_body(item);

    if (bufs == NULL) {
        ngx_memcpy(p, msg->body.data, msg->body.len);

    } else {
        /*
         * the body as read, msg->body.len bytes in all; the last buf
         * nginx chains may be empty, without memory
         */
        for ( /* void */ ; bufs; bufs = bufs->next) {
            if (bufs->buf->last != bufs->buf->pos) {
                p = ngx_cpymem(p, bufs->buf->pos,
                               bufs->buf->last - bufs->buf->pos);
            }
        }
    }

    __atomic_store_n(&item->copied, 1, __ATOMIC_RELEASE);
}


/*
 * Where a webhook's body lies in the zone, after its five strings: the
 * journal's record is written from here, so that the body is never
 * joined into one piece on the way (nginx reads it into two buffers).
 */

u_char *
ngx_http_order_edit_queue_body(ngx_http_order_edit_item_t *item)
{
    u_char      *p;
    ngx_uint_t   i;

    p = item->data;

    for (i = 0; i < 5; i++) {
        p += item->len[i];
    }

    return p;
}


/* what a webhook takes of the zone, as the slab allocator rounds it */

size_t
ngx_http_order_edit_queue_item_size(ngx_http_order_edit_msg_t *msg)
{
    return ngx_http_order_edit_slab_size(
               offsetof(ngx_http_order_edit_item_t, data)
               + msg->topic.len + msg->webhook_id.len + msg->event_id.len
               + msg->api_version.len + msg->triggered_at.len
               + msg->body.len);
}


uint64_t
ngx_http_order_edit_queue_link_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_shop_t *shop, ngx_http_order_edit_item_t *item)
{
    item->id = zone->sh->next_id++;
    item->shop = shop;

    /* in the order index until freed: ids grow, so it is last of its key */
    if (item->order_id) {
        item->onode.key = (ngx_rbtree_key_t) item->order_id;
        ngx_rbtree_insert(&shop->orders, &item->onode);
    }

    ngx_http_order_edit_queue_busy(zone);
    ngx_http_order_edit_queue_ready(zone, item);
    shop->depth++;
    zone->sh->nitems++;

    return item->id;
}


/*
 * Zone locked: the next ready webhook, round-robin across shops, copied
 * to msg and leased until now + lease_ms; NGX_DECLINED: none is ready.
 * A queue that has stopped draining is reported in stall, for the caller
 * to say once the zone is unlocked.
 */

ngx_int_t
ngx_http_order_edit_queue_lease_locked(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_msec_t lease_ms, uint64_t now,
    ngx_http_order_edit_msg_t *msg, ngx_http_order_edit_stall_t *stall)
{
    ngx_int_t                     rc;
    ngx_uint_t                    n;
    ngx_queue_t                  *sq;
    ngx_http_order_edit_item_t   *item;
    ngx_http_order_edit_shop_t   *shop;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;
    item = NULL;
    shop = NULL;
    stall->ms = 0;

    (void) ngx_http_order_edit_queue_promote(zone, now,
                                             NGX_HTTP_ORDER_EDIT_PROMOTE_MAX);

    /*
     * Webhooks that could go and none has left the queue for stall_after
     * (a minute by default): nothing else may show it, so it is said, at
     * most once per stall_after.
     */

    stall->work = sh->nitems - sh->ndelayed;
    stall->ndelayed = sh->ndelayed;
    stall->nexc = sh->nexceptions;

    if (stall->work
        && ngx_http_order_edit_queue_stalled_ms_locked(zone, now)
           >= zone->stall_after
        && now - sh->stall_logged_ms >= zone->stall_after)
    {
        sh->stall_logged_ms = now;
        stall->ms = ngx_http_order_edit_queue_stalled_ms_locked(zone, now);
    }

    /* one full turn at most, starting after the shop served last */

    sq = sh->rr;

    for (n = 0; n <= sh->nshops && item == NULL; n++) {

        sq = ngx_queue_next(sq);

        if (sq == ngx_queue_sentinel(&sh->shops)) {
            continue;
        }

        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        (void) ngx_http_order_edit_queue_reclaim_shop(zone, shop, now, 0);

        /*
         * Refunds and edits go first: money owed to a customer and lines
         * the warehouse is about to pick cannot wait behind a backlog of
         * snapshots.  Each kind is its own tree by id, so the oldest ready
         * one of either is its leftmost node, whatever waits meanwhile:
         * delayed webhooks are in none of them.  Snapshots of one order
         * keep their order, and a newer one that overtakes an older (the
         * older waiting out a retry) makes the older stale anyway.
         */

        item = ngx_http_order_edit_queue_first(&shop->urgent);

        if (item == NULL) {
            item = ngx_http_order_edit_queue_first(&shop->ready);
        }
    }

    if (item == NULL) {
        return NGX_DECLINED;
    }

    sh->rr = sq;

    rc = ngx_http_order_edit_queue_copy(pool, item, msg);

    if (rc == NGX_OK) {
        ngx_http_order_edit_queue_unlink(zone, item);

        item->lease_until_ms = now + lease_ms;
        item->lease_pid = ngx_pid;
        item->lease_token = sh->next_token++;
        item->attempts++;
        item->state = NGX_HTTP_ORDER_EDIT_ITEM_LEASED;

        ngx_queue_insert_tail(&shop->leased, &item->queue);
        shop->nleased++;
        shop->counters[NGX_HTTP_ORDER_EDIT_C_LEASED]++;

        msg->token = item->lease_token;
        msg->attempts = item->attempts;
    }

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


static ngx_rbtree_t *
ngx_http_order_edit_queue_tree(ngx_http_order_edit_item_t *item)
{
    return ngx_http_order_edit_queue_urgent(item) ? &item->shop->urgent
                                                  : &item->shop->ready;
}


/*
 * Zone locked: the webhook may be leased now.  Its place is its id, so a
 * webhook handed back untried, reclaimed or retried by people is next in
 * line again; one back from a retry delay after a failed attempt goes
 * behind every webhook queued so far instead (the key a new webhook would
 * get, after it in equal keys): a set of webhooks that keep failing takes
 * its turns with the others and never starves them.
 */

static void
ngx_http_order_edit_queue_ready(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item)
{
    item->state = NGX_HTTP_ORDER_EDIT_ITEM_READY;
    item->node.key = (ngx_rbtree_key_t) (item->retried ? zone->sh->next_id
                                                       : item->id);
    item->retried = 0;

    ngx_rbtree_insert(ngx_http_order_edit_queue_tree(item), &item->node);
    ngx_queue_insert_tail(&item->shop->pending, &item->queue);
}


/* zone locked: the webhook waits until "until", in no ready tree */

static void
ngx_http_order_edit_queue_delay(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, uint64_t until)
{
    item->state = NGX_HTTP_ORDER_EDIT_ITEM_DELAYED;
    item->not_before_ms = until;
    item->node.key = (ngx_rbtree_key_t) until;

    ngx_rbtree_insert(&zone->sh->delayed, &item->node);
    ngx_queue_insert_tail(&item->shop->delayed, &item->queue);
    item->shop->ndelayed++;
    zone->sh->ndelayed++;
}


/* zone locked: out of whatever holds it; depth and the rest stay */

static void
ngx_http_order_edit_queue_unlink(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item)
{
    switch (item->state) {

    case NGX_HTTP_ORDER_EDIT_ITEM_READY:
        ngx_rbtree_delete(ngx_http_order_edit_queue_tree(item), &item->node);
        break;

    case NGX_HTTP_ORDER_EDIT_ITEM_DELAYED:
        ngx_rbtree_delete(&zone->sh->delayed, &item->node);
        item->shop->ndelayed--;
        zone->sh->ndelayed--;
        break;

    case NGX_HTTP_ORDER_EDIT_ITEM_LEASED:
        item->shop->nleased--;
        break;

    default: /* NGX_HTTP_ORDER_EDIT_ITEM_PARKED */
        break;
    }

    ngx_queue_remove(&item->queue);
}


/*
 * Zone locked: delayed webhooks whose time has come become ready, the
 * earliest deadline first, at most max of them: O(log n) each.
 */

static ngx_uint_t
ngx_http_order_edit_queue_promote(ngx_http_order_edit_zone_t *zone,
    uint64_t now, ngx_uint_t max)
{
    ngx_uint_t                    n;
    ngx_rbtree_node_t            *node;
    ngx_http_order_edit_item_t   *item;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;

    for (n = 0; n < max; n++) {

        if (sh->delayed.root == sh->delayed.sentinel) {
            break;
        }

        node = ngx_rbtree_min(sh->delayed.root, sh->delayed.sentinel);
        item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, node);

        if (item->not_before_ms > now) {
            break;
        }

        ngx_http_order_edit_queue_unlink(zone, item);
        item->not_before_ms = 0;
        ngx_http_order_edit_queue_ready(zone, item);
    }

    return n;
}


/*
 * Zone locked: the oldest ready webhook of a tree.  Only one held while
 * its body is copied or its record synced is passed over: those are the
 * newest, and few (one per webhook request waiting for its record).
 */

static ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_first(ngx_rbtree_t *tree)
{
    ngx_uint_t                   n;
    ngx_rbtree_node_t           *node;
    ngx_http_order_edit_item_t  *item;

    if (tree->root == tree->sentinel) {
        return NULL;
    }

    node = ngx_rbtree_min(tree->root, tree->sentinel);

    for (n = 0;
         node != NULL && n < NGX_HTTP_ORDER_EDIT_LEASE_SCAN;
         node = ngx_rbtree_next(tree, node), n++)
    {
        item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, node);

        if (item->not_before_ms != NGX_HTTP_ORDER_EDIT_NOT_DURABLE
            && ngx_http_order_edit_queue_copied(item))
        {
            return item;
        }
    }

    return NULL;
}


/*
 * Zone locked: a ready webhook by id, in O(log n), if it is in its place
 * by id (a new one is: the store asks about those).  Keys can repeat,
 * so the walk finds the first node of the key, then looks along it.
 */

static ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_lookup(ngx_rbtree_t *tree, uint64_t id)
{
    ngx_uint_t                   n;
    ngx_rbtree_key_t             key;
    ngx_rbtree_node_t           *node, *first;
    ngx_http_order_edit_item_t  *item;

    key = (ngx_rbtree_key_t) id;
    node = tree->root;
    first = NULL;

    /* the order of ngx_rbtree_insert_timer_value(), which built it */

    while (node != tree->sentinel) {

        if ((ngx_rbtree_key_int_t) (node->key - key) >= 0) {
            first = node;
            node = node->left;

        } else {
            node = node->right;
        }
    }

    for (n = 0;
         first != NULL && first->key == key
         && n < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
         first = ngx_rbtree_next(tree, first), n++)
    {
        item = ngx_rbtree_data(first, ngx_http_order_edit_item_t, node);

        if (item->id == id) {
            return item;
        }
    }

    return NULL;
}


/*
 * Zone locked: the oldest webhook of a shop not leased nor parked, and
 * whose body is there to read: one still being copied in is passed over.
 */

static ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_oldest(ngx_http_order_edit_shop_t *shop)
{
    ngx_uint_t                   n, i;
    ngx_queue_t                 *q, *lists[2];
    ngx_rbtree_t                *trees[2];
    ngx_rbtree_node_t           *node;
    ngx_http_order_edit_item_t  *item, *oldest;

    oldest = NULL;
    trees[0] = &shop->urgent;
    trees[1] = &shop->ready;

    for (i = 0; i < 2; i++) {
        if (trees[i]->root == trees[i]->sentinel) {
            continue;
        }

        for (node = ngx_rbtree_min(trees[i]->root, trees[i]->sentinel), n = 0;
             node != NULL && n < NGX_HTTP_ORDER_EDIT_LEASE_SCAN;
             node = ngx_rbtree_next(trees[i], node), n++)
        {
            item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, node);

            if (ngx_http_order_edit_queue_copied(item)) {
                if (oldest == NULL || item->id < oldest->id) {
                    oldest = item;
                }

                break;
            }
        }
    }

    /*
     * A webhook back from a retry delay is not in its place by id, and
     * the delayed are in the zone's deadline tree: bounded walks here.
     */

    lists[0] = &shop->pending;
    lists[1] = &shop->delayed;

    for (i = 0; i < 2; i++) {
        for (q = ngx_queue_head(lists[i]), n = 0;
             q != ngx_queue_sentinel(lists[i])
             && n < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
             q = ngx_queue_next(q), n++)
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            if ((oldest == NULL || item->id < oldest->id)
                && ngx_http_order_edit_queue_copied(item))
            {
                oldest = item;
            }
        }
    }

    return oldest;
}


/* zone locked: before a webhook joins the queue's work */

static void
ngx_http_order_edit_queue_busy(ngx_http_order_edit_zone_t *zone)
{
    if (zone->sh->nitems == 0) {
        zone->sh->busy_ms = ngx_http_order_edit_now_ms();
    }
}


uint64_t
ngx_http_order_edit_queue_stalled_ms_locked(ngx_http_order_edit_zone_t *zone,
    uint64_t now)
{
    uint64_t                      since;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;

    if (sh->nitems == 0) {
        return 0;
    }

    since = ngx_max(sh->drained_ms, sh->busy_ms);

    return (now > since) ? now - since : 0;
}


/* a copy of the oldest webhook of a shop, without leasing it */

ngx_int_t
ngx_http_order_edit_queue_peek(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, ngx_http_order_edit_msg_t *msg)
{
    ngx_int_t                    rc;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, name, 0);
    item = shop ? ngx_http_order_edit_queue_oldest(shop) : NULL;

    if (item != NULL) {
        rc = ngx_http_order_edit_queue_copy(pool, item, msg);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Copies of the other queued orders/updated webhooks of the same shop
 * and order as msg, at most max: the dispatcher coalesces a burst into
 * its newest snapshot.  Leased ones are left alone.
 *
 * The shop's order index holds them: the ready ones first, then those
 * waiting out a delay, each by id, oldest first (the callers only ask
 * whether any is newer, or whether there is one).  Only the order's own
 * webhooks are walked, so a long backlog of other orders hides none,
 * and none costs this walk, made under the lock, more than O(log n).
 */

ngx_int_t
ngx_http_order_edit_queue_same_order(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_http_order_edit_msg_t *msg, ngx_uint_t max,
    ngx_array_t *out)
{
    ngx_int_t                    rc;
    ngx_uint_t                   scan, pass;
    ngx_rbtree_node_t           *node;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    static u_char  states[2] = {
        NGX_HTTP_ORDER_EDIT_ITEM_READY, NGX_HTTP_ORDER_EDIT_ITEM_DELAYED
    };

    shop = msg->shop_node;
    rc = NGX_OK;

    if (shop == NULL || msg->order_id == 0) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (pass = 0; pass < 2; pass++) {

        /* bounded all the same: one order's webhooks, by the thousand */

        for (node = ngx_http_order_edit_queue_order_first(shop,
                                                          msg->order_id),
             scan = 0;
             node != NULL && rc == NGX_OK && out->nelts < max
             && scan < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
             node = ngx_rbtree_next(&shop->orders, node), scan++)
        {
            if (node->key != (ngx_rbtree_key_t) msg->order_id) {
                break;
            }

            item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, onode);

            /* same_one() compares the whole id: a 32-bit key may not */
            if (item->state == states[pass]) {
                rc = ngx_http_order_edit_queue_same_one(pool, msg, item, out);
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Zone locked: the first webhook of the order in the shop's index (the
 * lowest id of the key), NULL when it has none.
 */

static ngx_rbtree_node_t *
ngx_http_order_edit_queue_order_first(ngx_http_order_edit_shop_t *shop,
    uint64_t order_id)
{
    ngx_rbtree_key_t    key;
    ngx_rbtree_node_t  *node, *first, *sentinel;

    key = (ngx_rbtree_key_t) order_id;
    node = shop->orders.root;
    sentinel = shop->orders.sentinel;
    first = NULL;

    /* ngx_rbtree_insert_value() put equal keys to the right */

    while (node != sentinel) {

        if (node->key >= key) {
            if (node->key == key) {
                first = node;
            }

            node = node->left;

        } else {
            node = node->right;
        }
    }

    return first;
}


/* zone locked: a copy of item in out if it is another snapshot of msg's */

static ngx_int_t
ngx_http_order_edit_queue_same_one(ngx_pool_t *pool,
    ngx_http_order_edit_msg_t *msg, ngx_http_order_edit_item_t *item,
    ngx_array_t *out)
{
    ngx_http_order_edit_msg_t  *m;

    /*
     * Full snapshots only: a cancellation or an edit is not one; nor is
     * one whose body is still being copied in.
     */
    if (item->id == msg->id || item->order_id != msg->order_id
        || !ngx_http_order_edit_queue_copied(item)
        || item->len[0] != sizeof("orders/updated") - 1
        || ngx_strncmp(item->data, "orders/updated",
                       sizeof("orders/updated") - 1)
           != 0)
    {
        return NGX_OK;
    }

    m = ngx_array_push(out);

    if (m == NULL || ngx_http_order_edit_queue_copy(pool, item, m) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Does Shopify's webhook of the order's update at updated_ms sit in the
 * shop's queue (ready, delayed, leased) or parked?  1 when a full order
 * snapshot of it (orders/create, orders/updated, orders/cancelled: the
 * topics whose body is the order) was triggered at or after updated_ms
 * (X-Shopify-Triggered-At, written with the item under the lock, so it
 * is there to read while the body is still being copied in).  An older
 * one does not cover a newer update; a snapshot without the header (a
 * reconciled one: it was not delivered by Shopify) covers nothing.
 *
 * The shop's order index holds every webhook of the order in any of
 * those states: only the order's own are walked, newest first, bounded
 * as the coalescer's walk is; past the bound the answer is 0, counted
 * as missing.  Shopify's order ids are never 0, nor indexed.
 */

ngx_uint_t
ngx_http_order_edit_queue_covers(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *name, uint64_t order_id, int64_t updated_ms)
{
    ngx_uint_t                   n, found;
    ngx_rbtree_node_t           *node;
    ngx_http_order_edit_item_t  *item;
    ngx_http_order_edit_shop_t  *shop;

    found = 0;

    if (order_id == 0) {
        return 0;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, name, 0);

    if (shop == NULL) {
        goto done;
    }

    for (node = ngx_http_order_edit_queue_order_first(shop, order_id), n = 0;
         node != NULL && n < NGX_HTTP_ORDER_EDIT_REQUEUE_SCAN;
         node = ngx_rbtree_next(&shop->orders, node), n++)
    {
        if (node->key != (ngx_rbtree_key_t) order_id) {
            break;
        }

        item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, onode);

        /* a 32-bit key holds orders whose ids differ above its bits */
        if (item->order_id == order_id
            && ngx_http_order_edit_queue_triggered(item) >= updated_ms)
        {
            found = 1;
            break;
        }
    }

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return found;
}


/*
 * Zone locked: when Shopify triggered a queued order snapshot, ms since
 * the epoch; -1 for any other topic, or without a readable header.
 */

static int64_t
ngx_http_order_edit_queue_triggered(ngx_http_order_edit_item_t *item)
{
    u_char   *p;
    int64_t   ms;

    if (!ngx_http_order_edit_queue_snapshot_topic(item->data, item->len[0]))
    {
        return -1;
    }

    p = item->data + item->len[0] + item->len[1] + item->len[2]
        + item->len[3];

    if (ngx_http_order_edit_parse_time((char *) p, item->len[4], &ms) != 0) {
        return -1;
    }

    return ms;
}


/* the topics whose body is the whole order, as the Admin API shows it */

ngx_uint_t
ngx_http_order_edit_queue_snapshot_topic(u_char *topic, size_t len)
{
    ngx_uint_t  i;

    static ngx_str_t  topics[] = {
        ngx_string("orders/updated"),
        ngx_string("orders/create"),
        ngx_string("orders/cancelled")
    };

    for (i = 0; i < sizeof(topics) / sizeof(ngx_str_t); i++) {
        if (len == topics[i].len
            && ngx_strncmp(topic, topics[i].data, len) == 0)
        {
            return 1;
        }
    }

    return 0;
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


/* a copy of one webhook of a shop, queued, leased or parked, for people */

ngx_int_t
ngx_http_order_edit_queue_find(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, uint64_t id,
    ngx_http_order_edit_msg_t *msg)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_queue_t                 *q, *lists[4];
    ngx_http_order_edit_item_t  *item, *it;
    ngx_http_order_edit_shop_t  *shop;

    rc = NGX_DECLINED;
    item = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    shop = ngx_http_order_edit_shop_lookup(zone, name, 0);

    if (shop != NULL) {
        item = ngx_http_order_edit_queue_lookup(&shop->urgent, id);

        if (item == NULL) {
            item = ngx_http_order_edit_queue_lookup(&shop->ready, id);
        }

        lists[0] = &shop->pending;
        lists[1] = &shop->leased;
        lists[2] = &shop->delayed;
        lists[3] = &shop->exceptions;

        /* bounded by the shop's depth and exceptions */
        for (i = 0; i < 4 && item == NULL; i++) {
            for (q = ngx_queue_head(lists[i]);
                 q != ngx_queue_sentinel(lists[i]);
                 q = ngx_queue_next(q))
            {
                it = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

                if (it->id == id) {
                    item = it;
                    break;
                }
            }
        }
    }

    /* one whose body is still being copied in is not there yet */

    if (item != NULL && ngx_http_order_edit_queue_copied(item)) {
        rc = ngx_http_order_edit_queue_copy(pool, item, msg);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Zone locked: a leased webhook handed back, ready at once or after a
 * delay; "attempted": its lease counts as an attempt (not when it was
 * handed back untried: no room, the order busy).
 */

void
ngx_http_order_edit_queue_back_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_msec_t delay, ngx_uint_t attempted)
{
    ngx_http_order_edit_queue_unlink(zone, item);

    item->lease_until_ms = 0;
    item->lease_pid = 0;
    item->lease_token = 0;

    if (!attempted && item->attempts) {
        item->attempts--;
    }

    /*
     * Without a delay it is ready at once, in its place by id; with one
     * it waits in the deadline tree, where no lease looks at it.
     */

    if (delay == 0) {
        item->not_before_ms = 0;
        item->retried = 0;
        ngx_http_order_edit_queue_ready(zone, item);

    } else {
        item->retried = (u_char) attempted;
        ngx_http_order_edit_queue_delay(zone, item,
                                      ngx_http_order_edit_now_ms() + delay);
    }

    item->shop->counters[NGX_HTTP_ORDER_EDIT_C_REQUEUED]++;
}


/*
 * Zone locked: a leased webhook parked in place, with its reason and
 * NetSuite's answer in exc (allocated for detail->len bytes; NULL when
 * it did not fit).
 */

void
ngx_http_order_edit_queue_park_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_str_t *reason, ngx_str_t *detail,
    ngx_http_order_edit_exc_t *exc, uint64_t now)
{
    ngx_str_t                    s;
    ngx_http_order_edit_shop_t  *shop;

    if (item->exc != NULL) {
        zone->sh->item_slab -= ngx_http_order_edit_slab_size(
                                   offsetof(ngx_http_order_edit_exc_t, data)
                                   + item->exc->detail_len);
        ngx_slab_free_locked(zone->shpool, item->exc);
    }

    /* operators read these as JSON: keep printable ASCII, mark the rest */

    s.data = item->reason;
    ngx_http_order_edit_exc_copy(&s, reason->data, reason->len, 1);
    item->reason_len = (u_char) reason->len;

    item->exc = exc;
    item->detail_lost = (detail->len && exc == NULL);

    if (exc != NULL) {
        exc->detail_len = (u_short) detail->len;
        s.data = exc->data;
        ngx_http_order_edit_exc_copy(&s, detail->data, detail->len, 1);
        zone->sh->item_slab += ngx_http_order_edit_slab_size(
                                   offsetof(ngx_http_order_edit_exc_t, data)
                                   + detail->len);
    }

    shop = item->shop;

    ngx_http_order_edit_queue_unlink(zone, item);
    shop->depth--;
    zone->sh->nitems--;
    zone->sh->drained_ms = now;

    item->state = NGX_HTTP_ORDER_EDIT_ITEM_PARKED;
    item->lease_until_ms = 0;
    item->lease_pid = 0;
    item->lease_token = 0;
    item->parked_last_ms = now;

    if (item->parked_first_ms == 0) {
        item->parked_first_ms = now;
    }

    ngx_queue_insert_tail(&shop->exceptions, &item->queue);
    shop->nexceptions++;
    zone->sh->nexceptions++;
    shop->counters[NGX_HTTP_ORDER_EDIT_C_PARKED]++;
}


/* zone locked: a parked webhook back in its FIFO place, to be delivered */

void
ngx_http_order_edit_exc_retry_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item)
{
    ngx_http_order_edit_shop_t  *shop;

    shop = item->shop;

    ngx_http_order_edit_queue_unlink(zone, item);
    shop->nexceptions--;
    zone->sh->nexceptions--;

    if (item->exc != NULL) {
        zone->sh->item_slab -= ngx_http_order_edit_slab_size(
                                   offsetof(ngx_http_order_edit_exc_t, data)
                                   + item->exc->detail_len);
        ngx_slab_free_locked(zone->shpool, item->exc);
        item->exc = NULL;
    }

    item->detail_lost = 0;
    item->not_before_ms = 0;

    ngx_http_order_edit_queue_busy(zone);
    ngx_http_order_edit_queue_ready(zone, item);
    shop->depth++;
    zone->sh->nitems++;
    shop->counters[NGX_HTTP_ORDER_EDIT_C_EXC_RETRIED]++;
}


ngx_int_t
ngx_http_order_edit_exc_list(ngx_http_order_edit_zone_t *zone,
    ngx_pool_t *pool, ngx_str_t *name, ngx_array_t *out)
{
    u_char                          *p;
    size_t                           size;
    ngx_str_t                        detail;
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

            detail = ngx_http_order_edit_exc_detail(item);

            size = shop->sn.str.len + item->len[0] + item->len[1]
                   + item->reason_len + detail.len;

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
            e->last_ms = item->parked_last_ms;
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
            ngx_http_order_edit_exc_copy(&e->reason, item->reason,
                                         item->reason_len, 0);
            p += e->reason.len;

            e->detail.data = p;
            ngx_http_order_edit_exc_copy(&e->detail, detail.data,
                                         detail.len, 0);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


ngx_http_order_edit_item_t *
ngx_http_order_edit_exc_find_locked(ngx_http_order_edit_zone_t *zone,
    uint64_t id)
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


static ngx_str_t
ngx_http_order_edit_exc_detail(ngx_http_order_edit_item_t *item)
{
    ngx_str_t  detail;

    if (item->exc != NULL) {
        detail.data = item->exc->data;
        detail.len = item->exc->detail_len;

    } else if (item->detail_lost) {
        ngx_str_set(&detail, "(NetSuite's answer was not kept: the zone "
                             "was full when the webhook was parked)");

    } else {
        ngx_str_null(&detail);
    }

    return detail;
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
 * For the suites (queue_debug's op=check): every shop's order index
 * holds exactly its webhooks with an order id, in whatever state, in
 * order of order id and then id; NULL when it does, else what is wrong.
 * The walks are bounded by the zone's webhooks, as find()'s are.
 */

char *
ngx_http_order_edit_queue_check(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t *indexed)
{
    char                        *err;
    ngx_uint_t                   i, nlisted, nindexed;
    ngx_queue_t                 *sq, *q, *lists[4];
    ngx_rbtree_node_t           *node;
    ngx_http_order_edit_item_t  *item, *prev;
    ngx_http_order_edit_shop_t  *shop;

    err = NULL;
    *indexed = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (sq = ngx_queue_head(&zone->sh->shops);
         sq != ngx_queue_sentinel(&zone->sh->shops) && err == NULL;
         sq = ngx_queue_next(sq))
    {
        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        lists[0] = &shop->pending;
        lists[1] = &shop->delayed;
        lists[2] = &shop->leased;
        lists[3] = &shop->exceptions;

        nlisted = 0;

        for (i = 0; i < 4; i++) {
            for (q = ngx_queue_head(lists[i]);
                 q != ngx_queue_sentinel(lists[i]);
                 q = ngx_queue_next(q))
            {
                item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);
                nlisted += (item->order_id != 0);
            }
        }

        nindexed = 0;
        prev = NULL;

        node = (shop->orders.root == shop->orders.sentinel)
               ? NULL : ngx_rbtree_min(shop->orders.root,
                                       shop->orders.sentinel);

        for ( /* void */ ; node != NULL && err == NULL;
             node = ngx_rbtree_next(&shop->orders, node))
        {
            item = ngx_rbtree_data(node, ngx_http_order_edit_item_t, onode);
            nindexed++;

            if (item->shop != shop || item->order_id == 0
                || node->key != (ngx_rbtree_key_t) item->order_id)
            {
                err = "an indexed webhook of another shop or order";

            } else if (prev != NULL
                       && (prev->onode.key > node->key
                           || (prev->onode.key == node->key
                               && prev->id >= item->id)))
            {
                err = "the order index out of order";
            }

            prev = item;
        }

        if (err == NULL && nindexed != nlisted) {
            err = "the order index and the lists disagree";
        }

        *indexed += nindexed;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return err;
}


/* zone locked: expired leases back, and with check_pids dead workers' */

ngx_uint_t
ngx_http_order_edit_queue_reclaim_locked(ngx_http_order_edit_zone_t *zone,
    uint64_t now, ngx_uint_t check_pids)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;
    n = 0;

    for (q = ngx_queue_head(&sh->shops);
         q != ngx_queue_sentinel(&sh->shops);
         q = ngx_queue_next(q))
    {
        n += ngx_http_order_edit_queue_reclaim_shop(zone,
                 ngx_queue_data(q, ngx_http_order_edit_shop_t, all),
                 now, check_pids);
    }

    return n;
}


uint64_t
ngx_http_order_edit_queue_oldest_ms_locked(ngx_http_order_edit_shop_t *shop,
    uint64_t now)
{
    uint64_t                     oldest;
    ngx_queue_t                 *q;
    ngx_http_order_edit_item_t  *item;

    item = ngx_http_order_edit_queue_oldest(shop);
    oldest = item ? item->received_ms : 0;

    /* leases are bounded by the accounts' concurrency */

    for (q = ngx_queue_head(&shop->leased);
         q != ngx_queue_sentinel(&shop->leased);
         q = ngx_queue_next(q))
    {
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
ngx_http_order_edit_queue_reclaim_shop(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_shop_t *shop, uint64_t now, ngx_uint_t check_pids)
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
            && !(check_pids
                 && ngx_http_order_edit_pid_gone(item->lease_pid, 0)))
        {
            continue;
        }

        ngx_http_order_edit_queue_unlink(zone, item);

        item->lease_until_ms = 0;
        item->lease_pid = 0;
        item->lease_token = 0;
        item->not_before_ms = 0;

        ngx_http_order_edit_queue_ready(zone, item);
        shop->counters[NGX_HTTP_ORDER_EDIT_C_LEASE_RECLAIMED]++;
        n++;
    }

    return n;
}


ngx_http_order_edit_item_t *
ngx_http_order_edit_queue_leased_locked(ngx_http_order_edit_msg_t *msg)
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


/*
 * Zone locked: the webhook leaves the queue for good, from whatever state
 * it is in, and its memory goes back to the zone.
 */

void
ngx_http_order_edit_queue_remove_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_item_t *item, ngx_uint_t drained)
{
    ngx_uint_t  i;
    size_t      size;

    if (item->state == NGX_HTTP_ORDER_EDIT_ITEM_PARKED) {
        item->shop->nexceptions--;
        zone->sh->nexceptions--;

    } else {
        item->shop->depth--;
        zone->sh->nitems--;
    }

    if (drained) {
        zone->sh->drained_ms = ngx_http_order_edit_now_ms();
    }

    size = item->body_len;

    for (i = 0; i < 5; i++) {
        size += item->len[i];
    }

    ngx_http_order_edit_queue_unlink(zone, item);

    if (item->order_id) {
        ngx_rbtree_delete(&item->shop->orders, &item->onode);
    }

    zone->sh->item_bytes -= size;
    zone->sh->item_slab -= ngx_http_order_edit_slab_size(
                               offsetof(ngx_http_order_edit_item_t, data)
                               + size);

    if (item->exc) {
        zone->sh->item_slab -= ngx_http_order_edit_slab_size(
                                   offsetof(ngx_http_order_edit_exc_t, data)
                                   + item->exc->detail_len);
        ngx_slab_free_locked(zone->shpool, item->exc);
    }

    ngx_slab_free_locked(zone->shpool, item);
}


/* zone locked: not to be leased until its writer says it is durable */

void
ngx_http_order_edit_queue_hold_locked(ngx_http_order_edit_item_t *item)
{
    item->not_before_ms = NGX_HTTP_ORDER_EDIT_NOT_DURABLE;
    item->lease_pid = ngx_pid;
}


void
ngx_http_order_edit_queue_unhold_locked(ngx_http_order_edit_item_t *item)
{
    item->not_before_ms = 0;
    item->lease_pid = 0;
}


/*
 * Zone locked: up to max webhooks whose writer is gone (a crash) before
 * they were answered, their number: the body not copied in (no half body
 * is ever read), or the record not durable.  The record may not even be
 * in its file: with fsync on, the fsync's thread writes it, and died
 * with the worker.  So none is let go as if its record were kept: each
 * is rolled back, and Shopify, which had no answer, sends it again to be
 * taken afresh.  A walk bounded by the queue.
 */

ngx_uint_t
ngx_http_order_edit_queue_dead_unanswered_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_item_t **items,
    ngx_uint_t max)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q, *sq;
    ngx_http_order_edit_shop_t  *shop;
    ngx_http_order_edit_item_t  *item;

    n = 0;

    for (sq = ngx_queue_head(&zone->sh->shops);
         sq != ngx_queue_sentinel(&zone->sh->shops);
         sq = ngx_queue_next(sq))
    {
        shop = ngx_queue_data(sq, ngx_http_order_edit_shop_t, all);

        for (q = ngx_queue_head(&shop->pending);
             q != ngx_queue_sentinel(&shop->pending);
             q = ngx_queue_next(q))
        {
            item = ngx_queue_data(q, ngx_http_order_edit_item_t, queue);

            if ((ngx_http_order_edit_queue_copied(item)
                 && item->not_before_ms != NGX_HTTP_ORDER_EDIT_NOT_DURABLE)
                || !ngx_http_order_edit_pid_gone(item->lease_pid, 0))
            {
                continue;
            }

            items[n++] = item;

            if (n == max) {
                return n;
            }
        }
    }

    return n;
}


/*
 * Zone locked: is webhook "id" of this shop still being copied in, or
 * held for its record?  It was linked a moment ago and is ready: a
 * lookup by id.
 */

ngx_uint_t
ngx_http_order_edit_queue_undurable_locked(ngx_http_order_edit_shop_t *shop,
    uint64_t id)
{
    ngx_http_order_edit_item_t  *item;

    item = ngx_http_order_edit_queue_lookup(&shop->urgent, id);

    if (item == NULL) {
        item = ngx_http_order_edit_queue_lookup(&shop->ready, id);
    }

    return item != NULL
           && (item->not_before_ms == NGX_HTTP_ORDER_EDIT_NOT_DURABLE
               || !ngx_http_order_edit_queue_copied(item));
}
