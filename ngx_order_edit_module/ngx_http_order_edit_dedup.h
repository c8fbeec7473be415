
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The de-duplication set: "shop \n webhook id" keys remembered for a TTL,
 * in a hash index with an insertion-ordered list for expiry and eviction.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_DEDUP_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_DEDUP_H_INCLUDED_


#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"


typedef struct ngx_http_order_edit_dedup_s  ngx_http_order_edit_dedup_t;

struct ngx_http_order_edit_dedup_s {
    ngx_http_order_edit_dedup_t   *next;        /* in its bucket */
    ngx_queue_t                    lru;
    time_t                         expire;
    uint64_t                       item_id;
    uint32_t                       hash;
    uint16_t                       len;
    u_char                         data[1];
};


/* "shop \n webhook id", or "shop \n e: event id" without a webhook id */
#define NGX_HTTP_ORDER_EDIT_DEDUP_KEY_LEN                                     \
    (NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN + 3 + NGX_HTTP_ORDER_EDIT_MAX_ID_LEN)

void ngx_http_order_edit_dedup_key(u_char *buf, ngx_str_t *shop,
    ngx_str_t *webhook_id, ngx_str_t *event_id, ngx_str_t *key);

/* the keyed hash of a key: needs no lock, the seed never changes */
uint32_t ngx_http_order_edit_dedup_hash(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *key);
/* a new zone's index, before any worker runs */
ngx_int_t ngx_http_order_edit_dedup_init(ngx_http_order_edit_zone_t *zone);

/*
 * A lookup's bucket into the CPU's cache before the lock is taken: in a
 * multi-GB zone it is a cache (and TLB) miss, otherwise paid under the
 * lock.  Needs no lock: the array and its mask never change.
 */
#define ngx_http_order_edit_dedup_prefetch(zone, hash)                        \
    __builtin_prefetch(                                                       \
        &(zone)->sh->dedup_buckets[(hash) & (zone)->sh->dedup_mask])

/* all with the zone locked */
ngx_http_order_edit_dedup_t *ngx_http_order_edit_dedup_lookup(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *key, uint32_t hash);
ngx_http_order_edit_dedup_t *ngx_http_order_edit_dedup_alloc(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *key);
void ngx_http_order_edit_dedup_insert(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd, uint32_t hash, uint64_t item_id);
void ngx_http_order_edit_dedup_expire(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t max);
void ngx_http_order_edit_dedup_free(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd);
ngx_uint_t ngx_http_order_edit_dedup_evict(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t max);

/* "shop \n \n [t] order id": header values hold no line end */
#define NGX_HTTP_ORDER_EDIT_ORDER_KEY_LEN                                     \
    (NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN + 3 + NGX_INT64_LEN)

/*
 * The Shopify updated_at (ms) last applied to an order, kept in the same
 * set under a key no webhook id can have; each locks the zone itself.
 */
ngx_int_t ngx_http_order_edit_applied_get(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t *updated_at);
void ngx_http_order_edit_applied_set(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t updated_at);

/*
 * The newest X-Shopify-Triggered-At (ms) of the order snapshots received
 * for an order (orders/create, orders/updated, orders/cancelled), under
 * "shop \n \n t order id": key() before the lock (NGX_DECLINED: not
 * such a webhook), note_locked() with the webhook linked, get() locks.
 */
typedef struct {
    u_char                         buf[NGX_HTTP_ORDER_EDIT_ORDER_KEY_LEN];
    ngx_str_t                      key;
    uint32_t                       hash;
    int64_t                        ms;
} ngx_http_order_edit_received_t;

ngx_int_t ngx_http_order_edit_received_key(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_received_t *rk);
void ngx_http_order_edit_received_note_locked(
    ngx_http_order_edit_zone_t *zone, ngx_http_order_edit_received_t *rk);
ngx_int_t ngx_http_order_edit_received_get(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t *triggered_at);


#endif /* _NGX_HTTP_ORDER_EDIT_DEDUP_H_INCLUDED_ */
