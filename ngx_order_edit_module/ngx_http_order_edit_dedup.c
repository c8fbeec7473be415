
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_dedup.h"

#include <openssl/rand.h>


static uint64_t ngx_http_order_edit_siphash(const uint64_t *k, u_char *p,
    size_t len);
static ngx_int_t ngx_http_order_edit_order_get(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop, const char *tag,
    uint64_t order_id, int64_t *value);
static void ngx_http_order_edit_order_set_locked(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *key, uint32_t hash,
    int64_t value, ngx_uint_t evict);
static void ngx_http_order_edit_order_key(ngx_str_t *key, u_char *buf,
    ngx_str_t *shop, const char *tag, uint64_t order_id);

/*
 * One bucket for every id of this many slab bytes the ids may hold: a
 * typical id ("shop \n uuid") takes a 128-byte slot, so at dedup_max
 * most chains hold one id, and the index costs 1/16 of dedup_max.
 */
#define NGX_HTTP_ORDER_EDIT_DEDUP_BUCKET_BYTES  128


ngx_int_t
ngx_http_order_edit_dedup_init(ngx_http_order_edit_zone_t *zone)
{
    size_t                        n;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;

    ngx_queue_init(&sh->dedup_lru);

    /*
     * A secret seed per zone: whoever sends webhook ids cannot choose ids
     * that all land in one bucket and turn every lookup into a walk.
     */
    if (RAND_bytes((u_char *) sh->dedup_seed, sizeof(sh->dedup_seed)) != 1) {
        return NGX_ERROR;
    }

    /* a power of two, so that a bucket is a mask away from the hash */

    for (n = 64;
         n * 2 * NGX_HTTP_ORDER_EDIT_DEDUP_BUCKET_BYTES <= zone->dedup_max;
         n *= 2)
    {
        /* void */
    }

    sh->dedup_buckets = ngx_slab_calloc(zone->shpool, n * sizeof(void *));
    if (sh->dedup_buckets == NULL) {
        return NGX_ERROR;
    }

    sh->dedup_mask = n - 1;

    return NGX_OK;
}


uint32_t
ngx_http_order_edit_dedup_hash(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *key)
{
    return (uint32_t) ngx_http_order_edit_siphash(zone->sh->dedup_seed,
                                                  key->data, key->len);
}


#define ngx_http_order_edit_rotl(x, b)  (((x) << (b)) | ((x) >> (64 - (b))))

#define ngx_http_order_edit_sipround(v)                                       \
    v[0] += v[1]; v[1] = ngx_http_order_edit_rotl(v[1], 13);                 \
    v[1] ^= v[0]; v[0] = ngx_http_order_edit_rotl(v[0], 32);                 \
    v[2] += v[3]; v[3] = ngx_http_order_edit_rotl(v[3], 16);                 \
    v[3] ^= v[2];                                                             \
    v[0] += v[3]; v[3] = ngx_http_order_edit_rotl(v[3], 21);                 \
    v[3] ^= v[0];                                                             \
    v[2] += v[1]; v[1] = ngx_http_order_edit_rotl(v[1], 17);                 \
    v[1] ^= v[2]; v[2] = ngx_http_order_edit_rotl(v[2], 32)


/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed hash made for hash
 * tables fed by the network.  CRC32 and MurmurHash2 with a seed are not
 * enough: their collisions can be found without knowing the seed.
 */

static uint64_t
ngx_http_order_edit_siphash(const uint64_t *k, u_char *p, size_t len)
{
    size_t    i;
    uint64_t  v[4], m;

    v[0] = k[0] ^ 0x736f6d6570736575ULL;
    v[1] = k[1] ^ 0x646f72616e646f6dULL;
    v[2] = k[0] ^ 0x6c7967656e657261ULL;
    v[3] = k[1] ^ 0x7465646279746573ULL;

    for (i = 0; i + 8 <= len; i += 8) {
        m = (uint64_t) p[i] | (uint64_t) p[i + 1] << 8
            | (uint64_t) p[i + 2] << 16 | (uint64_t) p[i + 3] << 24
            | (uint64_t) p[i + 4] << 32 | (uint64_t) p[i + 5] << 40
            | (uint64_t) p[i + 6] << 48 | (uint64_t) p[i + 7] << 56;

        v[3] ^= m;
        ngx_http_order_edit_sipround(v);
        ngx_http_order_edit_sipround(v);
        v[0] ^= m;
    }

    /* the last, partial word carries the length in its top byte */

    m = (uint64_t) len << 56;

    switch (len & 7) {
    case 7: m |= (uint64_t) p[i + 6] << 48; /* fall through */
    case 6: m |= (uint64_t) p[i + 5] << 40; /* fall through */
    case 5: m |= (uint64_t) p[i + 4] << 32; /* fall through */
    case 4: m |= (uint64_t) p[i + 3] << 24; /* fall through */
    case 3: m |= (uint64_t) p[i + 2] << 16; /* fall through */
    case 2: m |= (uint64_t) p[i + 1] << 8;  /* fall through */
    case 1: m |= (uint64_t) p[i];
    }

    v[3] ^= m;
    ngx_http_order_edit_sipround(v);
    ngx_http_order_edit_sipround(v);
    v[0] ^= m;

    v[2] ^= 0xff;
    ngx_http_order_edit_sipround(v);
    ngx_http_order_edit_sipround(v);
    ngx_http_order_edit_sipround(v);
    ngx_http_order_edit_sipround(v);

    return v[0] ^ v[1] ^ v[2] ^ v[3];
}


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

    /* the full hash first: a chain is walked without touching the keys */

    for (dd = zone->sh->dedup_buckets[hash & zone->sh->dedup_mask];
         dd != NULL;
         dd = dd->next)
    {
        if (dd->hash == hash && dd->len == key->len
            && ngx_memcmp(dd->data, key->data, key->len) == 0)
        {
            break;
        }
    }

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
    dd->len = (uint16_t) key->len;

    return dd;
}


void
ngx_http_order_edit_dedup_insert(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd, uint32_t hash, uint64_t item_id)
{
    ngx_http_order_edit_dedup_t  **bucket;
    ngx_http_order_edit_shctx_t   *sh;

    sh = zone->sh;

    dd->hash = hash;
    dd->expire = ngx_time() + zone->dedup_ttl;
    dd->item_id = item_id;

    bucket = &sh->dedup_buckets[hash & sh->dedup_mask];
    dd->next = *bucket;
    *bucket = dd;

    ngx_queue_insert_head(&sh->dedup_lru, &dd->lru);
    sh->ndedup++;

    /* counted once linked: an id allocated and let go was never in use */
    sh->dedup_bytes += ngx_http_order_edit_slab_size(
                           offsetof(ngx_http_order_edit_dedup_t, data)
                           + dd->len);
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
    return ngx_http_order_edit_order_get(zone, shop, "", order_id,
                                         updated_at);
}


void
ngx_http_order_edit_applied_set(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t updated_at)
{
    u_char     buf[NGX_HTTP_ORDER_EDIT_ORDER_KEY_LEN];
    uint32_t   hash;
    ngx_str_t  key;

    if (updated_at < 0) {
        return;
    }

    ngx_http_order_edit_order_key(&key, buf, shop, "", order_id);
    hash = ngx_http_order_edit_dedup_hash(zone, &key);

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_order_edit_order_set_locked(zone, &key, hash, updated_at, 1);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * The newest X-Shopify-Triggered-At (ms) of an order's snapshot webhooks
 * the zone took in, under "shop \n \n t order id": the key and its hash
 * made before the lock, noted in it (a hint: it evicts no webhook id to
 * make room), read by reconciliation.
 */

ngx_int_t
ngx_http_order_edit_received_key(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, ngx_http_order_edit_msg_t *msg,
    ngx_http_order_edit_received_t *rk)
{
    if (msg->order_id == 0
        || !ngx_http_order_edit_queue_snapshot_topic(msg->topic.data,
                                                     msg->topic.len)
        || ngx_http_order_edit_parse_time((char *) msg->triggered_at.data,
                                          msg->triggered_at.len, &rk->ms)
           != 0)
    {
        return NGX_DECLINED;
    }

    ngx_http_order_edit_order_key(&rk->key, rk->buf, shop, "t",
                                  msg->order_id);
    rk->hash = ngx_http_order_edit_dedup_hash(zone, &rk->key);

    return NGX_OK;
}


void
ngx_http_order_edit_received_note_locked(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_received_t *rk)
{
    ngx_http_order_edit_order_set_locked(zone, &rk->key, rk->hash, rk->ms,
                                         0);
}


ngx_int_t
ngx_http_order_edit_received_get(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, uint64_t order_id, int64_t *triggered_at)
{
    return ngx_http_order_edit_order_get(zone, shop, "t", order_id,
                                         triggered_at);
}


/* an order's value in the set: applied ("") or received ("t") */

static ngx_int_t
ngx_http_order_edit_order_get(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop, const char *tag, uint64_t order_id, int64_t *value)
{
    u_char                        buf[NGX_HTTP_ORDER_EDIT_ORDER_KEY_LEN];
    uint32_t                      hash;
    ngx_int_t                     rc;
    ngx_str_t                     key;
    ngx_http_order_edit_dedup_t  *dd;

    ngx_http_order_edit_order_key(&key, buf, shop, tag, order_id);
    hash = ngx_http_order_edit_dedup_hash(zone, &key);

    ngx_shmtx_lock(&zone->shpool->mutex);

    dd = ngx_http_order_edit_dedup_lookup(zone, &key, hash);
    rc = NGX_DECLINED;

    if (dd != NULL) {
        *value = (int64_t) dd->item_id;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/* zone locked: only forward, so that a late retry never winds it back */

static void
ngx_http_order_edit_order_set_locked(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *key, uint32_t hash, int64_t value, ngx_uint_t evict)
{
    ngx_http_order_edit_dedup_t  *dd;

    dd = ngx_http_order_edit_dedup_lookup(zone, key, hash);

    if (dd != NULL) {
        if ((int64_t) dd->item_id < value) {
            dd->item_id = (uint64_t) value;
        }

        return;
    }

    dd = ngx_http_order_edit_dedup_alloc(zone, key);

    if (dd == NULL && evict && ngx_http_order_edit_dedup_evict(zone, 64) > 0)
    {
        dd = ngx_http_order_edit_dedup_alloc(zone, key);
    }

    if (dd != NULL) {
        ngx_http_order_edit_dedup_insert(zone, dd, hash, (uint64_t) value);
    }
}


static void
ngx_http_order_edit_order_key(ngx_str_t *key, u_char *buf, ngx_str_t *shop,
    const char *tag, uint64_t order_id)
{
    u_char  *p;

    p = ngx_cpymem(buf, shop->data,
                   ngx_min(shop->len, NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN));
    p = ngx_sprintf(p, "\n\n%s%uL", tag, order_id);

    key->data = buf;
    key->len = p - buf;
}


void
ngx_http_order_edit_dedup_free(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_dedup_t *dd)
{
    ngx_http_order_edit_dedup_t  **pp;

    zone->sh->dedup_bytes -= ngx_http_order_edit_slab_size(
                                 offsetof(ngx_http_order_edit_dedup_t, data)
                                 + dd->len);

    /* chains are short: the buckets are sized for the ids' bound */

    for (pp = &zone->sh->dedup_buckets[dd->hash & zone->sh->dedup_mask];
         *pp != dd;
         pp = &(*pp)->next)
    {
        /* void */
    }

    *pp = dd->next;

    ngx_queue_remove(&dd->lru);
    ngx_slab_free_locked(zone->shpool, dd);
    zone->sh->ndedup--;
}
