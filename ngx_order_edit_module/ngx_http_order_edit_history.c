
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Once a minute one worker (whichever comes first: each has a timer, and
 * a slot written for this minute is not written again) writes one slot
 * per shop and one per NetSuite account into rings of 1440 slots in the
 * zone.
 * Every slot carries its own minute, so a gap (nginx stopped, no sample)
 * reads as "no data", never as zeros, and nothing is ever cleared.
 *
 * A shop's slot: webhooks received in the minute, the queue depth and the
 * oldest webhook's age at the sample.  An account's: requests, over-limit
 * answers and the latency p50/p99 of the requests answered in the minute
 * (from the difference of its cumulative histogram).  Values are 16 bits,
 * saturated: 12 bytes a slot, 17 KB a ring.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_order_edit_history.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"


#define NGX_HTTP_ORDER_EDIT_HISTORY_NONE  0xffff


typedef struct {
    uint32_t                       minute;      /* minutes since the epoch */
    uint16_t                       v[4];
} ngx_http_order_edit_slot_t;


typedef struct {
    ngx_queue_t                    queue;
    void                          *owner;      /* shop_t or account_t */
    /* the counters at the last sample: requests, 429s, the histogram */
    uint64_t                       prev[2
                                        + NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS];
    ngx_uint_t                     primed;
    ngx_http_order_edit_slot_t     slots[NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS];
} ngx_http_order_edit_ring_t;


struct ngx_http_order_edit_console_sh_s {
    u_char                         key[NGX_HTTP_ORDER_EDIT_CONSOLE_KEY];
    ngx_queue_t                    shops;       /* rings */
    ngx_queue_t                    accounts;
};


static void ngx_http_order_edit_history_tick(ngx_event_t *ev);
static void ngx_http_order_edit_history_sample(
    ngx_http_order_edit_zone_t *zone, uint64_t minute);
static ngx_http_order_edit_ring_t *ngx_http_order_edit_ring_get(
    ngx_http_order_edit_zone_t *zone, ngx_queue_t *rings, void *owner);
static uint16_t ngx_http_order_edit_sat16(uint64_t v);
static json_t *ngx_http_order_edit_ring_json(
    ngx_http_order_edit_slot_t *slots, uint64_t minute, const char **names);


static ngx_event_t  ngx_http_order_edit_history_ev;


ngx_http_order_edit_console_sh_t *
ngx_http_order_edit_console_shared(ngx_http_order_edit_zone_t *zone)
{
    u_char                             key[NGX_HTTP_ORDER_EDIT_CONSOLE_KEY];
    ngx_http_order_edit_console_sh_t  *c;

    if (zone->sh == NULL) {
        return NULL;
    }

    /* outside the lock: the key of whichever worker creates the state */
    if (RAND_bytes(key, sizeof(key)) != 1) {
        return NULL;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    c = zone->sh->console;

    if (c == NULL) {
        c = ngx_slab_calloc_locked(zone->shpool,
                                   sizeof(ngx_http_order_edit_console_sh_t));
        if (c != NULL) {
            ngx_memcpy(c->key, key, sizeof(key));
            ngx_queue_init(&c->shops);
            ngx_queue_init(&c->accounts);
            zone->sh->console = c;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_explicit_memzero(key, sizeof(key));

    return c;
}


u_char *
ngx_http_order_edit_console_key(ngx_http_order_edit_console_sh_t *c)
{
    return c->key;
}


ngx_int_t
ngx_http_order_edit_history_init_process(ngx_cycle_t *cycle,
    ngx_http_order_edit_main_conf_t *omcf)
{
    ngx_event_t  *ev;

    if (omcf->consoles == NULL || omcf->consoles->nelts == 0) {
        return NGX_OK;
    }

    ev = &ngx_http_order_edit_history_ev;

    ev->handler = ngx_http_order_edit_history_tick;
    ev->data = omcf;
    ev->log = cycle->log;

    /* a worker leaving on a reload does not wait for the next minute */
    ev->cancelable = 1;

    /* the first sample soon, so a fresh console has a point to show */
    ngx_add_timer(ev, 1000 + ngx_random() % 1000);

    return NGX_OK;
}


static void
ngx_http_order_edit_history_tick(ngx_event_t *ev)
{
    uint64_t                           now;
    ngx_uint_t                         i;
    ngx_shm_zone_t                   **shm;
    ngx_http_order_edit_main_conf_t   *omcf;

    omcf = ev->data;
    now = ngx_http_order_edit_now_ms();

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    shm = omcf->consoles->elts;

    for (i = 0; i < omcf->consoles->nelts; i++) {
        if (shm[i]->data != NULL) {
            ngx_http_order_edit_history_sample(shm[i]->data, now / 60000);
        }
    }

    /* just after the next minute starts, spread over the workers */
    ngx_add_timer(ev, 60000 - now % 60000 + 100 + ngx_random() % 900);
}


/*
 * One slot per shop and per account and minute, under the zone lock: the
 * lock is held for a walk of the shops and accounts; the first worker of
 * the minute writes each slot, the others (and the console's reads, which
 * sample too, so a shop new this minute has its point at once) find it
 * written and go on.
 */

static void
ngx_http_order_edit_history_sample(ngx_http_order_edit_zone_t *zone,
    uint64_t minute)
{
    uint64_t                           now, total, oldest;
    uint64_t                           d[NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS];
    ngx_uint_t                         i;
    ngx_queue_t                       *q;
    ngx_http_order_edit_ring_t        *ring;
    ngx_http_order_edit_shop_t        *shop;
    ngx_http_order_edit_slot_t        *slot;
    ngx_http_order_edit_account_t     *a;
    ngx_http_order_edit_console_sh_t  *c;

    c = (zone->sh && zone->sh->console) ? zone->sh->console
        : ngx_http_order_edit_console_shared(zone);

    if (c == NULL) {
        return;
    }

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->shops);
         q != ngx_queue_sentinel(&zone->sh->shops);
         q = ngx_queue_next(q))
    {
        shop = ngx_queue_data(q, ngx_http_order_edit_shop_t, all);

        ring = ngx_http_order_edit_ring_get(zone, &c->shops, shop);
        if (ring == NULL) {
            continue;
        }

        slot = &ring->slots[minute % NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS];

        if (slot->minute == (uint32_t) minute) {
            continue;
        }

        oldest = ngx_http_order_edit_queue_oldest_ms_locked(shop, now);

        slot->minute = (uint32_t) minute;
        slot->v[0] = ring->primed
                     ? ngx_http_order_edit_sat16(
                           shop->counters[NGX_HTTP_ORDER_EDIT_C_RECEIVED]
                           - ring->prev[0])
                     : NGX_HTTP_ORDER_EDIT_HISTORY_NONE;
        slot->v[1] = ngx_http_order_edit_sat16(shop->depth);
        slot->v[2] = ngx_http_order_edit_sat16(oldest / 1000);
        slot->v[3] = ngx_http_order_edit_sat16(shop->nexceptions);

        ring->prev[0] = shop->counters[NGX_HTTP_ORDER_EDIT_C_RECEIVED];
        ring->primed = 1;
    }

    for (q = ngx_queue_head(&zone->sh->accounts);
         q != ngx_queue_sentinel(&zone->sh->accounts);
         q = ngx_queue_next(q))
    {
        a = ngx_queue_data(q, ngx_http_order_edit_account_t, all);

        ring = ngx_http_order_edit_ring_get(zone, &c->accounts, a);
        if (ring == NULL) {
            continue;
        }

        slot = &ring->slots[minute % NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS];

        if (slot->minute == (uint32_t) minute) {
            continue;
        }

        slot->minute = (uint32_t) minute;

        if (!ring->primed) {
            ngx_memset(slot->v, 0xff, sizeof(slot->v));

        } else {
            for (total = 0, i = 0;
                 i < NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS;
                 i++)
            {
                d[i] = a->latency[i] - ring->prev[2 + i];
                total += d[i];
            }

            slot->v[0] = ngx_http_order_edit_sat16(a->requests - ring->prev[0]);
            slot->v[1] = ngx_http_order_edit_sat16(a->over_limit
                                                   - ring->prev[1]);
            slot->v[2] = total
                ? ngx_http_order_edit_sat16(ngx_http_order_edit_quantile(d,
                      NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS, total, 500))
                : NGX_HTTP_ORDER_EDIT_HISTORY_NONE;
            slot->v[3] = total
                ? ngx_http_order_edit_sat16(ngx_http_order_edit_quantile(d,
                      NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS, total, 990))
                : NGX_HTTP_ORDER_EDIT_HISTORY_NONE;
        }

        ring->prev[0] = a->requests;
        ring->prev[1] = a->over_limit;
        ngx_memcpy(&ring->prev[2], a->latency, sizeof(a->latency));
        ring->primed = 1;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * Zone locked.  Shops and accounts are never freed while the zone lives,
 * so a ring is found by the address of what it follows; a few dozen of
 * each make the walk cheaper than a tree.  NULL when the zone is full:
 * that shop has no history until there is room.
 */

static ngx_http_order_edit_ring_t *
ngx_http_order_edit_ring_get(ngx_http_order_edit_zone_t *zone,
    ngx_queue_t *rings, void *owner)
{
    ngx_queue_t                 *q;
    ngx_http_order_edit_ring_t  *ring;

    for (q = ngx_queue_head(rings);
         q != ngx_queue_sentinel(rings);
         q = ngx_queue_next(q))
    {
        ring = ngx_queue_data(q, ngx_http_order_edit_ring_t, queue);

        if (ring->owner == owner) {
            return ring;
        }
    }

    ring = ngx_slab_calloc_locked(zone->shpool,
                                  sizeof(ngx_http_order_edit_ring_t));
    if (ring == NULL) {
        return NULL;
    }

    ring->owner = owner;
    ngx_queue_insert_tail(rings, &ring->queue);

    return ring;
}


static uint16_t
ngx_http_order_edit_sat16(uint64_t v)
{
    /* 0xffff is "no data": the largest value kept is one below */
    return (uint16_t) ngx_min(v, NGX_HTTP_ORDER_EDIT_HISTORY_NONE - 1);
}


/* a ring copied out under the lock, turned into JSON after it */
typedef struct {
    ngx_str_t                      name;
    ngx_uint_t                     account;
    ngx_http_order_edit_slot_t    *slots;
} ngx_http_order_edit_ring_copy_t;


json_t *
ngx_http_order_edit_history_json(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_pool_t *pool)
{
    json_t                            *root, *stores, *accounts, *j;
    uint64_t                           minute;
    ngx_uint_t                         i, k;
    ngx_array_t                        copies;
    ngx_queue_t                       *q, *lists[2];
    ngx_http_order_edit_ring_t        *ring;
    ngx_http_order_edit_shop_t        *shop;
    ngx_http_order_edit_account_t     *a;
    ngx_http_order_edit_ring_copy_t   *rc;
    ngx_http_order_edit_store_conf_t  *store;
    ngx_http_order_edit_console_sh_t  *c;

    static const char  *shop_names[] = {
        "received", "depth", "oldest_s", "exceptions"
    };

    static const char  *account_names[] = {
        "requests", "over_limit", "latency_p50_ms", "latency_p99_ms"
    };

    minute = ngx_http_order_edit_now_ms() / 60000;

    if (ngx_array_init(&copies, pool, 4,
                       sizeof(ngx_http_order_edit_ring_copy_t))
        != NGX_OK)
    {
        return NULL;
    }

    /* this minute's point, if no worker has taken it yet */
    ngx_http_order_edit_history_sample(zone, minute);

    c = zone->sh ? zone->sh->console : NULL;

    if (c != NULL) {
        lists[0] = &c->shops;
        lists[1] = &c->accounts;

        /* a memcpy of 17 KB a ring under the lock; JSON after it */
        ngx_shmtx_lock(&zone->shpool->mutex);

        for (k = 0; k < 2; k++) {
            for (q = ngx_queue_head(lists[k]);
                 q != ngx_queue_sentinel(lists[k]);
                 q = ngx_queue_next(q))
            {
                ring = ngx_queue_data(q, ngx_http_order_edit_ring_t, queue);

                rc = ngx_array_push(&copies);
                if (rc == NULL) {
                    break;
                }

                rc->account = k;

                if (k == 0) {
                    shop = ring->owner;
                    rc->name.len = shop->sn.str.len;
                    rc->name.data = ngx_pnalloc(pool, rc->name.len);

                    if (rc->name.data) {
                        ngx_memcpy(rc->name.data, shop->name, rc->name.len);
                    }

                } else {
                    a = ring->owner;
                    rc->name.len = a->len;
                    rc->name.data = ngx_pnalloc(pool, rc->name.len);

                    if (rc->name.data) {
                        ngx_memcpy(rc->name.data, a->name, rc->name.len);
                    }
                }

                rc->slots = ngx_palloc(pool, sizeof(ring->slots));

                if (rc->name.data == NULL || rc->slots == NULL) {
                    copies.nelts--;
                    break;
                }

                ngx_memcpy(rc->slots, ring->slots, sizeof(ring->slots));
            }
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    root = json_object();
    stores = json_object();
    accounts = json_object();

    if (json_object_set_new(root, "minute", json_integer(minute))
        || json_object_set_new(root, "stores", stores)
        || json_object_set_new(root, "netsuite", accounts))
    {
        json_decref(root);
        return NULL;
    }

    rc = copies.elts;

    for (i = 0; i < copies.nelts; i++) {
        j = ngx_http_order_edit_ring_json(rc[i].slots, minute,
                                          rc[i].account ? account_names
                                                        : shop_names);

        /* which account a shop's orders go to: its latency is that */
        store = rc[i].account ? NULL
                : ngx_http_order_edit_find_store(omcf, &rc[i].name);

        if (j != NULL && store != NULL && store->netsuite_name.len) {
            json_object_set_new(j, "netsuite",
                                json_stringn((char *) store->netsuite_name.data,
                                             store->netsuite_name.len));
        }

        if (j == NULL
            || json_object_setn_new(rc[i].account ? accounts : stores,
                                    (const char *) rc[i].name.data,
                                    rc[i].name.len, j)
               != 0)
        {
            json_decref(root);
            return NULL;
        }
    }

    return root;
}


/* oldest first, the current minute last; null where no sample was taken */

static json_t *
ngx_http_order_edit_ring_json(ngx_http_order_edit_slot_t *slots,
    uint64_t minute, const char **names)
{
    json_t                      *obj, *arr[4];
    uint64_t                     m;
    ngx_uint_t                   k;
    ngx_http_order_edit_slot_t  *slot;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    for (k = 0; k < 4; k++) {
        arr[k] = json_array();
        if (json_object_set_new(obj, names[k], arr[k]) != 0) {
            json_decref(obj);
            return NULL;
        }
    }

    for (m = minute + 1 - NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS;
         m <= minute;
         m++)
    {
        slot = &slots[m % NGX_HTTP_ORDER_EDIT_HISTORY_SLOTS];

        for (k = 0; k < 4; k++) {
            json_array_append_new(arr[k],
                (slot->minute != (uint32_t) m
                 || slot->v[k] == NGX_HTTP_ORDER_EDIT_HISTORY_NONE)
                ? json_null() : json_integer(slot->v[k]));
        }
    }

    return obj;
}


/*
 * The upper bound of the histogram bucket (2^(i+1) ms) holding the
 * per-mille quantile: coarse, but it never understates a latency.
 */

int64_t
ngx_http_order_edit_quantile(uint64_t *hist, ngx_uint_t n, uint64_t total,
    ngx_uint_t per_mille)
{
    uint64_t    seen, want;
    ngx_uint_t  i;

    if (total == 0) {
        return -1;
    }

    want = (total * per_mille + 999) / 1000;
    seen = 0;

    for (i = 0; i < n; i++) {
        seen += hist[i];

        if (seen >= want) {
            return (int64_t) 1 << (i + 1);
        }
    }

    return (int64_t) 1 << n;
}
