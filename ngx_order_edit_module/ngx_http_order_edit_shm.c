
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_dedup.h"


static ngx_int_t ngx_http_order_edit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_order_edit_init_accounts(ngx_http_order_edit_zone_t *zone,
    ngx_log_t *log);
static ngx_http_order_edit_zone_t *ngx_http_order_edit_old_zone(
    ngx_http_order_edit_zone_t *zone);


char *
ngx_http_order_edit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                      *p;
    time_t                       ttl;
    ngx_msec_t                   stall;
    ssize_t                      size, dmax;
    ngx_int_t                    share;
    ngx_str_t                   *value, name, s;
    ngx_http_order_edit_zone_t **zp;
    ngx_uint_t                   i;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_order_edit_zone_t  *zone;

    value = cf->args->elts;

    p = (u_char *) ngx_strlchr(value[1].data, value[1].data + value[1].len,
                               ':');
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected name:size",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* the slab pool itself and the zone header need a few pages */
    if (size < (ssize_t) (16 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, the minimum is %uzk",
                           &value[1], 16 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    /* Shopify retries for up to a day; forgetting ids sooner invites dups */
    ttl = 86400;

    /*
     * Ids take a quarter of the zone at most: bodies keep the rest, so a
     * day of unique ids can no longer starve the queue, and a full queue
     * still leaves ids for a quarter's worth of traffic.
     */
    share = 25;
    dmax = 0;

    /* a minute without a webhook leaving while some could: say so */
    stall = 60000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "stall_after=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            stall = ngx_parse_time(&s, 0);
            if (stall == (ngx_msec_t) NGX_ERROR || stall == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid stall_after \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "dedup_max=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            if (s.len > 1 && s.data[s.len - 1] == '%') {
                share = ngx_atoi(s.data, s.len - 1);
                dmax = 0;

                if (share < 1 || share > 90) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid dedup_max \"%V\", a share "
                                       "is 1%% to 90%% of the zone",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }

                continue;
            }

            dmax = ngx_parse_size(&s);

            if (dmax == NGX_ERROR || dmax < (ssize_t) ngx_pagesize
                || dmax > size - (ssize_t) (8 * ngx_pagesize))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid dedup_max \"%V\", a size is "
                                   "at least a page and leaves the zone "
                                   "8 pages", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "dedup_ttl=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            ttl = ngx_parse_time(&s, 1);
            if (ttl == (time_t) NGX_ERROR || ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid dedup_ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_order_edit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate order_edit_zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name = name;
    zone->size = size;
    zone->dedup_ttl = ttl;
    zone->stall_after = stall;
    zone->omcf = conf;
    zone->dedup_max = dmax ? (size_t) dmax : (size_t) size / 100 * share;
    zone->shm_zone = shm_zone;

    shm_zone->init = ngx_http_order_edit_init_zone;
    shm_zone->data = zone;

    zp = ngx_array_push(&((ngx_http_order_edit_main_conf_t *) conf)->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_order_edit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_order_edit_zone_t  *ozone = data;

    size_t                        len;
    ngx_http_order_edit_zone_t   *zone, *old;
    ngx_http_order_edit_shctx_t  *sh;

    zone = shm_zone->data;

    if (ozone) {
        /* a reload with the same name and size: adopt the old memory */

        sh = ozone->sh;

        if (sh->magic != NGX_HTTP_ORDER_EDIT_SHM_MAGIC
            || sh->layout != NGX_HTTP_ORDER_EDIT_SHM_LAYOUT)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "order_edit_zone \"%V\" was created by a module "
                          "with memory layout %uD, this module uses %d: "
                          "restart nginx instead of reloading",
                          &zone->name, sh->layout,
                          NGX_HTTP_ORDER_EDIT_SHM_LAYOUT);
            return NGX_ERROR;
        }

        zone->shpool = ozone->shpool;
        zone->sh = sh;

        ngx_shmtx_lock(&zone->shpool->mutex);
        sh->reloads++;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_http_order_edit_init_accounts(zone, shm_zone->shm.log);

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    /*
     * nginx re-creates a zone whose size changed, and the old memory goes
     * with the old cycle: refuse that while it still holds webhooks that
     * were answered 200, because they would be lost.
     */

    old = ngx_http_order_edit_old_zone(zone);

    if (old != NULL) {
        ngx_shmtx_lock(&old->shpool->mutex);
        len = old->sh->nitems + old->sh->nexceptions;
        ngx_shmtx_unlock(&old->shpool->mutex);

        if (len) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "order_edit_zone \"%V\" cannot change its size "
                          "from %uz to %uz while it holds %uz queued "
                          "webhooks; keep the old size until the queue "
                          "and the exceptions are empty", &zone->name,
                          old->size, zone->size,
                          len);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "order_edit_zone \"%V\" re-created with size %uz "
                      "(was %uz); its queue was empty, counters and "
                      "de-duplication ids start afresh",
                      &zone->name, zone->size, old->size);
    }

    sh = ngx_slab_alloc(zone->shpool, sizeof(ngx_http_order_edit_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_order_edit_shctx_t));

    zone->sh = sh;
    zone->shpool->data = sh;

    sh->magic = NGX_HTTP_ORDER_EDIT_SHM_MAGIC;
    sh->layout = NGX_HTTP_ORDER_EDIT_SHM_LAYOUT;
    sh->created = ngx_time();
    sh->next_id = 1;
    sh->next_token = 1;

    ngx_rbtree_init(&sh->shops_rbtree, &sh->shops_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->shops);
    sh->rr = &sh->shops;
    ngx_queue_init(&sh->accounts);

    /* a fresh zone is a new generation: its journal files get new names */
    ngx_queue_init(&sh->journal.segments);
    sh->journal.gen = ngx_http_order_edit_now_ms();
    sh->journal.next_seq = 1;

    if (ngx_http_order_edit_dedup_init(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * nginx's own insert functions, never the module's: the tree outlives
     * a reload, which may map a rebuilt module at another address.  The
     * timer comparison keeps equal keys in insertion order.
     */
    ngx_rbtree_init(&sh->delayed, &sh->delayed_sentinel,
                    ngx_rbtree_insert_timer_value);

    len = sizeof(" in order_edit_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in order_edit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is an expected, counted outcome (503), not a crit */
    zone->shpool->log_nomem = 0;

    ngx_http_order_edit_init_accounts(zone, shm_zone->shm.log);

    return NGX_OK;
}


/*
 * Every NetSuite account configured gets its node now, while the zone has
 * room: the dispatcher cannot send a webhook without it, and a zone that
 * filled up before the first delivery would otherwise never deliver, nor
 * park, nor drain.
 */

static void
ngx_http_order_edit_init_accounts(ngx_http_order_edit_zone_t *zone,
    ngx_log_t *log)
{
    ngx_uint_t                             i;
    ngx_http_order_edit_netsuite_conf_t  **ns;

    ns = zone->omcf->netsuites.elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < zone->omcf->netsuites.nelts; i++) {
        if (ngx_http_order_edit_account_lookup(zone, &ns[i]->name, 1)
            == NULL)
        {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "order_edit_zone \"%V\" is full: no room yet for "
                          "NetSuite account \"%V\"", &zone->name,
                          &ns[i]->name);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * During ngx_init_cycle() the global ngx_cycle still points at the running
 * cycle, so its zones are the ones this configuration replaces.
 */

static ngx_http_order_edit_zone_t *
ngx_http_order_edit_old_zone(ngx_http_order_edit_zone_t *zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *shm_zone;

    if (ngx_cycle == NULL || ngx_cycle->shared_memory.part.elts == NULL) {
        return NULL;
    }

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag != &ngx_http_order_edit_module
            || shm_zone[i].data == NULL
            || shm_zone[i].shm.name.len != zone->name.len
            || ngx_strncmp(shm_zone[i].shm.name.data, zone->name.data,
                           zone->name.len)
               != 0)
        {
            continue;
        }

        if (((ngx_http_order_edit_zone_t *) shm_zone[i].data)->sh == NULL) {
            return NULL;
        }

        return shm_zone[i].data;
    }
}


ngx_http_order_edit_shop_t *
ngx_http_order_edit_shop_lookup(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *name, ngx_uint_t create)
{
    uint32_t                      hash;
    ngx_str_node_t               *sn;
    ngx_http_order_edit_shop_t   *shop;
    ngx_http_order_edit_shctx_t  *sh;

    sh = zone->sh;
    hash = ngx_crc32_short(name->data, name->len);

    sn = ngx_str_rbtree_lookup(&sh->shops_rbtree, name, hash);

    if (sn != NULL) {
        return (ngx_http_order_edit_shop_t *) sn;
    }

    if (!create) {
        return NULL;
    }

    shop = ngx_slab_calloc_locked(zone->shpool,
                                  offsetof(ngx_http_order_edit_shop_t, name)
                                  + name->len);
    if (shop == NULL) {
        return NULL;
    }

    ngx_memcpy(shop->name, name->data, name->len);

    shop->sn.node.key = hash;
    shop->sn.str.len = name->len;
    shop->sn.str.data = shop->name;

    ngx_rbtree_init(&shop->ready, &shop->ready_sentinel,
                    ngx_rbtree_insert_timer_value);
    ngx_rbtree_init(&shop->urgent, &shop->urgent_sentinel,
                    ngx_rbtree_insert_timer_value);
    ngx_queue_init(&shop->pending);
    ngx_queue_init(&shop->delayed);
    ngx_queue_init(&shop->leased);
    ngx_queue_init(&shop->exceptions);
    ngx_rbtree_init(&shop->orders, &sh->orders_sentinel,
                    ngx_rbtree_insert_value);

    ngx_rbtree_insert(&sh->shops_rbtree, &shop->sn.node);
    ngx_queue_insert_tail(&sh->shops, &shop->all);
    sh->nshops++;

    return shop;
}


/* accounts are few: a list, created when a dispatcher first uses one */

ngx_http_order_edit_account_t *
ngx_http_order_edit_account_lookup(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *name, ngx_uint_t create)
{
    ngx_queue_t                    *q;
    ngx_http_order_edit_account_t  *a;

    for (q = ngx_queue_head(&zone->sh->accounts);
         q != ngx_queue_sentinel(&zone->sh->accounts);
         q = ngx_queue_next(q))
    {
        a = ngx_queue_data(q, ngx_http_order_edit_account_t, all);

        if (a->len == name->len
            && ngx_strncmp(a->name, name->data, name->len) == 0)
        {
            return a;
        }
    }

    if (!create || name->len > 0xffff) {
        return NULL;
    }

    a = ngx_slab_calloc_locked(zone->shpool,
                               offsetof(ngx_http_order_edit_account_t, name)
                               + name->len);
    if (a == NULL) {
        return NULL;
    }

    a->len = (u_short) name->len;
    ngx_memcpy(a->name, name->data, name->len);
    ngx_queue_insert_tail(&zone->sh->accounts, &a->all);

    return a;
}


ngx_uint_t
ngx_http_order_edit_pid_gone(ngx_pid_t pid, ngx_uint_t own)
{
    if (pid == ngx_pid) {
        return own;
    }

    return kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH;
}


size_t
ngx_http_order_edit_zone_used(ngx_http_order_edit_zone_t *zone)
{
    size_t            total;
    ngx_slab_pool_t  *pool;

    pool = zone->shpool;

    /* everything but the free pages: slab headers count as used */
    total = zone->shm_zone->shm.size;

    return total - pool->pfree * ngx_pagesize;
}


/* what ngx_slab_alloc() takes for size bytes: a power of two, or pages */

size_t
ngx_http_order_edit_slab_size(size_t size)
{
    size_t  n;

    if (size > ngx_pagesize / 2) {
        return ngx_align(size, ngx_pagesize);
    }

    for (n = 8; n < size; n <<= 1) { /* void */ }

    return n;
}


uint64_t
ngx_http_order_edit_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
