
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_dedup.h"


static void ngx_http_order_edit_applied_key(ngx_str_t *key, u_char *buf,
    ngx_str_t *shop, uint64_t order_id);


/* "shop \n \n order id": header values hold no line end, ids never clash */
#define NGX_HTTP_ORDER_EDIT_APPLIED_KEY_LEN                                   \
    (NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN + 2 + NGX_INT64_LEN)


void
ngx_http_order_edit_dedup_key(u_char *buf, ngx_str_t *shop,
    ngx_str_t *webhook_id, ngx_str_t *event_id, ngx_str_t *key)
{
    u_char  *p;

    p = ngx_cpymem(buf, shop->data, shop->len);
    *p++ = '\n';

    if (webhook_id->len) {
        p = ngx_cpymem(p, webhook_id->data, webhook_id->len);

    } else {
        /* an event id never collides with a webhook id of the same text */
        *p++ = 'e';
        *p++ = ':';
        p = ngx_cpymem(p, event_id->data, event_id->len);
    }

    key->data = buf;
    key->len = p - buf;
}


ngx_http_order_edit_dedup_t *
ngx_http_order_edit_dedup_lookup(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *key, uint32_t hash)
{
    ngx_http_order_edit_dedup_t  *dd;

    dd = (ngx_http_order_edit_dedup_t *)
             ngx_str_rbtree_lookup(&zone->sh->dedup_rbtree, key, hash);

    if (dd != NULL && dd->expire < ngx_time()) {
        /* expired but not yet collected: it no longer counts */
        ngx_http_order_edit_dedup_free(zone, dd);
        return NULL;
    }

    return dd;
}


/*
 * Allocation and insertion are separate so that the ingest path can
 * allocate everything a webhook needs first and link it only when nothing
 * can fail any more: a full zone never leaves half a webhook behind.
 */

ngx_http_order_edit_dedup_t *
ngx_http_order_edit_dedup_alloc(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *key)
{
    size_t                        size;
    ngx_uint_t                    n;
    ngx_http_order_edit_dedup_t  *dd;

    size = offsetof(ngx_http_order_edit_dedup_t, data) + key->len;

    /*
     * The ids' share of the zone is a bound, not a hope: the oldest go
     * first, a few at most (the largest id is eight of the smallest).
     */

    for (n = 0;
         n < 16 && zone->sh->dedup_bytes
                   + ngx_http_order_edit_slab_size(size) > zone->dedup_max;
         n++)
    {
        if (ngx_http_order_edit_dedup_evict(zone, 1) == 0) {
            break;
        }
    }

    if (zone->sh->dedup_bytes + ngx_http_order_edit_slab_size(size)
        > zone->dedup_max)
    {
        return NULL;
    }

    dd = ngx_slab_alloc_locked(zone->shpool, size);
    if (dd == NULL) {
        return NULL;
    }

    ngx_memcpy(dd->data, key->data, key->len);

    dd->sn.str.len = key->len;
    dd->sn.str.data = dd->data;

    return dd;
}


void
ngx_http_order_edit_dedup_insert(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd, uint32_t hash, uint64_t item_id)
{
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;

    dd->sn.node.key = hash;
    dd->expire = ngx_time() + zone->dedup_ttl;
    dd->item_id = item_id;

    ngx_rbtree_insert(&sh->dedup_rbtree, &dd->sn.node);
    ngx_queue_insert_head(&sh->dedup_lru, &dd->lru);
    sh->ndedup++;

    /* counted once linked: an id allocated and let go was never in use */
    sh->dedup_bytes += ngx_http_order_edit_slab_size(
                           offsetof(ngx_http_order_edit_dedup_t, data)
                           + dd->sn.str.len);
}


/* collect at most max expired ids, oldest first, so no call is unbounded */

void
ngx_http_order_edit_dedup_expire(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t max)
{
    time_t                        now;
    ngx_queue_t                  *q;
    ngx_http_order_edit_dedup_t  *dd;

    now = ngx_time();

    while (max--) {

        if (ngx_queue_empty(&zone->sh->dedup_lru)) {
            return;
        }

        q = ngx_queue_last(&zone->sh->dedup_lru);
        dd = ngx_queue_data(q, ngx_http_order_edit_dedup_t, lru);

        if (dd->expire >= now) {
            return;
        }

        ngx_http_order_edit_dedup_free(zone, dd);
    }
}


/*
 * Memory is short, or the ids are at their bound: give up the oldest ids
 * before refusing a webhook.
 */

ngx_uint_t
ngx_http_order_edit_dedup_evict(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t max)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_order_edit_dedup_t  *dd;

    for (n = 0; n < max; n++) {

        if (ngx_queue_empty(&zone->sh->dedup_lru)) {
            break;
        }

        q = ngx_queue_last(&zone->sh->dedup_lru);
        dd = ngx_queue_data(q, ngx_http_order_edit_dedup_t, lru);

        ngx_http_order_edit_dedup_free(zone, dd);
        zone->sh->dedup_evicted++;
    }

    return n;
}


ngx_int_t
ngx_http_order_edit_applied_get(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t *updated_at)
{
    u_char                        buf[NGX_HTTP_ORDER_EDIT_APPLIED_KEY_LEN];
    ngx_int_t                     rc;
    ngx_str_t                     key;
    ngx_http_order_edit_dedup_t  *dd;

    ngx_http_order_edit_applied_key(&key, buf, shop, order_id);

    ngx_shmtx_lock(&zone->shpool->mutex);

    dd = ngx_http_order_edit_dedup_lookup(zone, &key,
                                          ngx_crc32_short(key.data, key.len));
    rc = NGX_DECLINED;

    if (dd != NULL) {
        *updated_at = (int64_t) dd->item_id;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_http_order_edit_applied_set(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t updated_at)
{
    u_char                        buf[NGX_HTTP_ORDER_EDIT_APPLIED_KEY_LEN];
    uint32_t                      hash;
    ngx_str_t                     key;
    ngx_http_order_edit_dedup_t  *dd;

    if (updated_at < 0) {
        return;
    }

    ngx_http_order_edit_applied_key(&key, buf, shop, order_id);
    hash = ngx_crc32_short(key.data, key.len);

    ngx_shmtx_lock(&zone->shpool->mutex);

    dd = ngx_http_order_edit_dedup_lookup(zone, &key, hash);

    if (dd != NULL) {
        /* only forward: a late retry never winds an order back */
        if ((int64_t) dd->item_id < updated_at) {
            dd->item_id = (uint64_t) updated_at;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    dd = ngx_http_order_edit_dedup_alloc(zone, &key);

    if (dd == NULL
        && ngx_http_order_edit_dedup_evict(zone, 64) > 0)
    {
        dd = ngx_http_order_edit_dedup_alloc(zone, &key);
    }

    if (dd != NULL) {
        ngx_http_order_edit_dedup_insert(zone, dd, hash,
                                         (uint64_t) updated_at);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_order_edit_applied_key(ngx_str_t *key, u_char *buf, ngx_str_t *shop,
    uint64_t order_id)
{
    u_char  *p;

    p = ngx_cpymem(buf, shop->data,
                   ngx_min(shop->len, NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN));
    p = ngx_sprintf(p, "\n\n%uL", order_id);

    key->data = buf;
    key->len = p - buf;
}


void
ngx_http_order_edit_dedup_free(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd)
{
    zone->sh->dedup_bytes -= ngx_http_order_edit_slab_size(
                                 offsetof(ngx_http_order_edit_dedup_t, data)
                                 + dd->sn.str.len);

    ngx_queue_remove(&dd->lru);
    ngx_rbtree_delete(&zone->sh->dedup_rbtree, &dd->sn.node);
    ngx_slab_free_locked(zone->shpool, dd);
    zone->sh->ndedup--;
}
