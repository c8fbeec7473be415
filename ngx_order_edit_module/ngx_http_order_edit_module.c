
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Directives, configuration and process initialisation.
 */


#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_limit.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_ingest.h"
#include "ngx_http_order_edit_status.h"
#include "ngx_http_order_edit_queue_debug.h"
#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_curl_debug.h"
#include "ngx_http_order_edit_nsslot.h"
#include "ngx_http_order_edit_dispatch.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_console.h"
#include "ngx_http_order_edit_history.h"
#include "ngx_http_order_edit_reconcile.h"
#include "ngx_http_order_edit_report.h"


/* Shopify's largest order payloads are a few hundred kilobytes */
#define NGX_HTTP_ORDER_EDIT_MAX_BODY      (64 * 1024 * 1024)


static void *ngx_http_order_edit_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_order_edit_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_order_edit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_order_edit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_order_edit_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_order_edit_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_order_edit_init_process(ngx_cycle_t *cycle);
static void ngx_http_order_edit_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_order_edit_store_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_order_edit_block_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_order_edit_set_secret(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_secret_file(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_rate(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_max_body(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_topics(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_netsuite(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_norm(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_set_sku_rewrite(ngx_conf_t *cf,
    void *conf);
static int ngx_http_order_edit_regex_exec(void *re, const char *s,
    size_t len, int *caps, int ncaps);
static void ngx_http_order_edit_norm_cleanup(void *data);
static ngx_uint_t ngx_http_order_edit_valid_topic(ngx_str_t *topic);
static ngx_uint_t ngx_http_order_edit_valid_shop(ngx_str_t *shop);



/* what each location directive installs, through its cmd->post */
typedef struct {
    ngx_http_handler_pt            handler;
    ngx_uint_t                     webhook;
} ngx_http_order_edit_location_t;


static ngx_http_order_edit_location_t  ngx_http_order_edit_webhook_loc =
    { ngx_http_order_edit_webhook_handler, 1 };
static ngx_http_order_edit_location_t  ngx_http_order_edit_status_loc =
    { ngx_http_order_edit_status_handler, 0 };
static ngx_http_order_edit_location_t  ngx_http_order_edit_queue_loc =
    { ngx_http_order_edit_queue_debug_handler, 0 };
static ngx_http_order_edit_location_t  ngx_http_order_edit_exceptions_loc =
    { ngx_http_order_edit_exceptions_handler, 0 };
static ngx_http_order_edit_location_t  ngx_http_order_edit_console_loc =
    { ngx_http_order_edit_console_handler, 0 };
static ngx_http_order_edit_location_t  ngx_http_order_edit_report_loc =
    { ngx_http_order_edit_report_handler, 0 };


static ngx_conf_enum_t  ngx_http_order_edit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_order_edit_default_topics[] = {
    ngx_string("orders/updated"),
    ngx_string("orders/edited"),
    ngx_string("orders/cancelled"),
    ngx_string("refunds/create")
};


static ngx_http_order_edit_block_cmd_t  ngx_http_order_edit_store_cmds[] = {
    ngx_http_order_edit_bcmd("secret", 1, 1, ngx_http_order_edit_set_secret),
    ngx_http_order_edit_bcmd("secret_file", 1, 1,
                             ngx_http_order_edit_set_secret_file),
    ngx_http_order_edit_bcmd("rate", 1, 2, ngx_http_order_edit_set_rate),
    ngx_http_order_edit_bcmd("max_body", 1, 1,
                             ngx_http_order_edit_set_max_body),
    ngx_http_order_edit_bcmd("topics", 1, 32, ngx_http_order_edit_set_topics),
    ngx_http_order_edit_bcmd("netsuite", 1, 1,
                             ngx_http_order_edit_set_netsuite),
    ngx_http_order_edit_bcmd("reconcile", 1, 10,
                             ngx_http_order_edit_reconcile_set),
    ngx_http_order_edit_bcmd("report", 1, 4, ngx_http_order_edit_report_set),

    /* the normaliser's options: see docs/normaliser.md */
    ngx_http_order_edit_bcmd("sku_map", 1, 1, ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("sku_rewrite", 2, 2,
                             ngx_http_order_edit_set_sku_rewrite),
    ngx_http_order_edit_bcmd("sku_fallback", 1, 1,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("bundle", 1, 1, ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("money", 1, 1, ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("external_id", 2, 2, ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("netsuite_item", 2, 2,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("netsuite_field", 2, 2,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("currency_exponent", 1, 1,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("taxes_included", 1, 1,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("tax_details", 1, 2,
                             ngx_http_order_edit_set_norm),
    ngx_http_order_edit_bcmd("tax_code", 2, 3,
                             ngx_http_order_edit_set_norm),
    { ngx_null_string, 0, 0, NULL, NULL, 0, NULL }
};


static ngx_command_t  ngx_http_order_edit_commands[] = {

    { ngx_string("order_edit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1234,
      ngx_http_order_edit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_order_edit_store_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_netsuite"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_order_edit_netsuite_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_dispatch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_order_edit_dispatch,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_order_edit_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_webhook_loc },

    { ngx_string("order_edit_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_order_edit_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_status_loc },

    { ngx_string("order_edit_queue_debug"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_order_edit_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_queue_loc },

    { ngx_string("order_edit_exceptions"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_order_edit_exceptions_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_exceptions_loc },

    { ngx_string("order_edit_console"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_order_edit_console_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_console_loc },

    { ngx_string("order_edit_report"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_order_edit_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_order_edit_report_loc },

    { ngx_string("order_edit_console_actions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_order_edit_loc_conf_t, console_actions),
      NULL },

    { ngx_string("order_edit_curl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_order_edit_curl_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_curl_debug"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_order_edit_curl_debug,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_journal"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_order_edit_journal,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("order_edit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_order_edit_loc_conf_t, log_level),
      &ngx_http_order_edit_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_order_edit_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_order_edit_postconfiguration, /* postconfiguration */

    ngx_http_order_edit_create_main_conf,  /* create main configuration */
    ngx_http_order_edit_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_order_edit_create_loc_conf,   /* create location configuration */
    ngx_http_order_edit_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_order_edit_module = {
    NGX_MODULE_V1,
    &ngx_http_order_edit_module_ctx,       /* module context */
    ngx_http_order_edit_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_order_edit_init_module,       /* init module */
    ngx_http_order_edit_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_order_edit_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_order_edit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_order_edit_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->stores, cf->pool, 4,
                       sizeof(ngx_http_order_edit_store_conf_t *))
        != NGX_OK
        || ngx_array_init(&omcf->zones, cf->pool, 1,
                          sizeof(ngx_http_order_edit_zone_t *))
           != NGX_OK
        || ngx_array_init(&omcf->netsuites, cf->pool, 1,
                          sizeof(ngx_http_order_edit_netsuite_conf_t *))
           != NGX_OK
        || ngx_array_init(&omcf->dispatchers, cf->pool, 1,
                          sizeof(ngx_http_order_edit_dispatch_conf_t))
           != NGX_OK
        || ngx_array_init(&omcf->refs, cf->pool, 2,
                          sizeof(ngx_http_order_edit_zone_ref_t))
           != NGX_OK)
    {
        return NULL;
    }

    return omcf;
}


/* the store names go into an nginx hash: one lookup per webhook */

static char *
ngx_http_order_edit_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_main_conf_t  *omcf = conf;

    size_t                              maxlen;
    ngx_uint_t                          i;
    ngx_hash_init_t                     hash;
    ngx_hash_keys_arrays_t              keys;
    ngx_http_order_edit_store_conf_t  **stores;

    keys.pool = cf->pool;
    keys.temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(&keys, NGX_HASH_SMALL) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    stores = omcf->stores.elts;
    maxlen = 0;

    for (i = 0; i < omcf->stores.nelts; i++) {

        /* a store may name a NetSuite block declared after it */
        if (stores[i]->netsuite_name.len) {
            stores[i]->netsuite = ngx_http_order_edit_netsuite_find(omcf,
                                                &stores[i]->netsuite_name);

            if (stores[i]->netsuite == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "order_edit_store \"%V\" names an unknown "
                              "order_edit_netsuite \"%V\" in %V:%ui",
                              &stores[i]->name, &stores[i]->netsuite_name,
                              &stores[i]->file, stores[i]->netsuite_line);
                return NGX_CONF_ERROR;
            }
        }

        if (stores[i] == omcf->default_store) {
            continue;
        }

        if (ngx_hash_add_key(&keys, &stores[i]->name, stores[i],
                             NGX_HASH_READONLY_KEY)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        maxlen = ngx_max(maxlen, stores[i]->name.len);
    }

    hash.hash = &omcf->store_hash;
    hash.key = ngx_hash_key;
    hash.max_size = ngx_max(512, omcf->stores.nelts * 4);
    hash.bucket_size = ngx_align(ngx_max(128, 2 * sizeof(void *)
                                                + maxlen + 2),
                                 ngx_cacheline_size);
    hash.name = "order_edit_store_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, keys.keys.elts, keys.keys.nelts) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_order_edit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    olcf->log_level = NGX_CONF_UNSET_UINT;
    olcf->console_actions = NGX_CONF_UNSET;

    return olcf;
}


static char *
ngx_http_order_edit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_order_edit_loc_conf_t  *prev = parent;
    ngx_http_order_edit_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_WARN);
    ngx_conf_merge_value(conf->console_actions, prev->console_actions, 0);

    return NGX_CONF_OK;
}


/*
 * Runs after every location is merged: a location may name a zone that
 * is declared further down, so only now can a missing one be reported,
 * with the file and line of its use.
 */

static ngx_int_t
ngx_http_order_edit_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                        i;
    ngx_http_order_edit_zone_ref_t   *ref;
    ngx_http_order_edit_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_order_edit_module);

    ref = omcf->refs.elts;

    for (i = 0; i < omcf->refs.nelts; i++) {

        if (ref[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown order_edit_zone \"%V\" in %V:%ui",
                          &ref[i].shm_zone->shm.name, &ref[i].file,
                          ref[i].line);
            return NGX_ERROR;
        }

        if (ref[i].clcf == NULL) {
            continue;
        }

        if (omcf->stores.nelts == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "order_edit_webhook needs at least one "
                          "order_edit_store block in %V:%ui", &ref[i].file,
                          ref[i].line);
            return NGX_ERROR;
        }

        /*
         * Each store's max_body is the limit here, checked against the
         * Content-Length before reading, so that every refusal is JSON;
         * nginx's own limit would answer first, with an HTML page.
         */
        ref[i].clcf->client_max_body_size = 0;
    }

    return ngx_http_order_edit_journal_postconf(cf, omcf);
}


/* in the master, zones ready and no worker yet: the journal's replay */

static ngx_int_t
ngx_http_order_edit_init_module(ngx_cycle_t *cycle)
{
    ngx_http_order_edit_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_order_edit_module);
    if (omcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_order_edit_journal_init_module(cycle, omcf);
}


static ngx_int_t
ngx_http_order_edit_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i, n, level;
    ngx_http_order_edit_zone_t      **zone;
    ngx_http_order_edit_main_conf_t  *omcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_order_edit_module);
    if (omcf == NULL) {
        return NGX_OK;
    }

    /* a worker that died holding leases was replaced by this one */

    zone = omcf->zones.elts;

    for (i = 0; i < omcf->zones.nelts; i++) {

        if (zone[i]->sh == NULL) {
            continue;
        }

#if (NGX_LINUX && defined MADV_POPULATE_WRITE)

        /*
         * Map the whole zone now rather than page by page under traffic:
         * first touches of fresh shared pages cost a fault each, most of
         * a webhook's time in bench/ingest, and a machine short of memory
         * shows it here, at start, instead of with a webhook in hand.
         */

        if (madvise(zone[i]->shm_zone->shm.addr, zone[i]->shm_zone->shm.size,
                    MADV_POPULATE_WRITE)
            == -1)
        {
            /* EINVAL: a kernel older than 5.14, which faults as it goes */
            level = (ngx_errno == NGX_EINVAL) ? NGX_LOG_INFO : NGX_LOG_WARN;

            ngx_log_error(level, cycle->log, ngx_errno,
                          "order_edit: zone \"%V\" was not pre-faulted",
                          &zone[i]->name);
        }

#endif

        n = ngx_http_order_edit_queue_reclaim(zone[i], 1);

        if (n) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "order_edit: %ui webhooks leased by exited "
                          "workers returned to zone \"%V\"",
                          n, &zone[i]->name);
        }

        (void) ngx_http_order_edit_nsslot_reclaim(zone[i], 1, cycle->log);
    }

    /*
     * Without the engine only outbound HTTP is lost, and the worker
     * still answers webhooks: a failure is logged, not fatal, or the
     * master would respawn the worker in a loop.
     */

    if (omcf->curl) {
        (void) ngx_http_order_edit_curl_init(cycle, omcf->curl);
    }

    if (ngx_http_order_edit_journal_init_process(cycle, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    (void) ngx_http_order_edit_history_init_process(cycle, omcf);

    return ngx_http_order_edit_dispatch_init_process(cycle, omcf);
}


static void
ngx_http_order_edit_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_order_edit_curl_cleanup(cycle);

    if (ngx_process == NGX_PROCESS_WORKER
        || ngx_process == NGX_PROCESS_SINGLE)
    {
        ngx_http_order_edit_journal_exit_process(cycle,
            ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_order_edit_module));
    }
}


ngx_uint_t
ngx_http_order_edit_log_level(ngx_http_request_t *r)
{
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);

    return olcf->log_level;
}


ngx_http_order_edit_store_conf_t *
ngx_http_order_edit_find_store(ngx_http_order_edit_main_conf_t *omcf,
    ngx_str_t *shop)
{
    ngx_http_order_edit_store_conf_t  *store;

    store = ngx_hash_find(&omcf->store_hash,
                          ngx_hash_key(shop->data, shop->len),
                          shop->data, shop->len);

    return store ? store : omcf->default_store;
}


static char *
ngx_http_order_edit_store_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_order_edit_main_conf_t  *omcf = conf;

    char                               *rv;
    ngx_str_t                          *value, name;
    ngx_uint_t                          i;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_order_edit_block_t         block;
    ngx_http_order_edit_store_conf_t   *store, **sp;

    value = cf->args->elts;
    name = value[1];

    if (!ngx_http_order_edit_valid_shop(&name)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid shop domain \"%V\" in order_edit_store, "
                           "expected a name like example.myshopify.com or "
                           "\"default\"", &name);
        return NGX_CONF_ERROR;
    }

    /* Shopify sends the domain in lower case; compare in lower case */
    name.data = ngx_pnalloc(cf->pool, value[1].len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_strlow(name.data, value[1].data, value[1].len);

    sp = omcf->stores.elts;

    for (i = 0; i < omcf->stores.nelts; i++) {
        if (sp[i]->name.len == name.len
            && ngx_strncmp(sp[i]->name.data, name.data, name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate order_edit_store \"%V\", the "
                               "first is in %V:%ui", &name,
                               &sp[i]->file, sp[i]->line);
            return NGX_CONF_ERROR;
        }
    }

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_store_conf_t));
    if (store == NULL) {
        return NGX_CONF_ERROR;
    }

    store->name = name;
    store->max_body = NGX_CONF_UNSET_SIZE;
    store->file = cf->conf_file->file.name;
    store->line = cf->conf_file->line;

    /* the normaliser's options are malloc()ed: freed with the cycle */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_order_edit_norm_conf_init(&store->norm);
    ngx_http_order_edit_norm_set_regex_exec(&store->norm,
                                            ngx_http_order_edit_regex_exec);

    cln->handler = ngx_http_order_edit_norm_cleanup;
    cln->data = &store->norm;

    sp = ngx_array_push(&omcf->stores);
    if (sp == NULL) {
        return NGX_CONF_ERROR;
    }

    *sp = store;

    if (name.len == 7 && ngx_strncmp(name.data, "default", 7) == 0) {
        omcf->default_store = store;
    }

    block.kind = "order_edit_store";
    block.name = &store->name;
    block.cmds = ngx_http_order_edit_store_cmds;
    block.conf = store;

    rv = ngx_http_order_edit_block_parse(cf, &block);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (store->nsecrets == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_store \"%V\" has no \"secret\" "
                           "or \"secret_file\"", &store->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_size_value(store->max_body, 1024 * 1024);

    if (store->topics == NULL) {
        store->topics = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (store->topics == NULL) {
            return NGX_CONF_ERROR;
        }

        for (i = 0;
             i < sizeof(ngx_http_order_edit_default_topics)
                 / sizeof(ngx_str_t);
             i++)
        {
            value = ngx_array_push(store->topics);
            if (value == NULL) {
                return NGX_CONF_ERROR;
            }

            *value = ngx_http_order_edit_default_topics[i];
        }
    }

    return NGX_CONF_OK;
}


/*
 * Blocks like order_edit_store { } hold their own directives, parsed
 * here with nginx's reader so that every error carries file and line.
 */

char *
ngx_http_order_edit_block_parse(ngx_conf_t *cf,
    ngx_http_order_edit_block_t *block)
{
    char        *rv;
    ngx_conf_t   save;

    save = *cf;
    cf->handler = ngx_http_order_edit_block_directive;
    cf->handler_conf = (char *) block;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    return rv;
}


static char *
ngx_http_order_edit_block_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_order_edit_block_t  *block = conf;

    char                             *rv;
    ngx_str_t                        *value;
    ngx_uint_t                        n;
    ngx_command_t                     cmd;
    ngx_http_order_edit_block_cmd_t  *c;

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    for (c = block->cmds; c->name.len; c++) {

        if (c->name.len != value[0].len
            || ngx_strncmp(c->name.data, value[0].data, value[0].len) != 0)
        {
            continue;
        }

        if (n < c->min_args || n > c->max_args) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"%V\" "
                               "directive of %s \"%V\"",
                               &value[0], block->kind, block->name);
            return NGX_CONF_ERROR;
        }

        if (c->slot) {
            /* nginx's own setters: duplicates, syntax and posts as usual */
            ngx_memzero(&cmd, sizeof(ngx_command_t));
            cmd.name = c->name;
            cmd.offset = c->offset;
            cmd.post = c->post;

            rv = c->slot(cf, &cmd, block->conf);

        } else {
            rv = c->set(cf, block->conf);
        }

        if (rv != NGX_CONF_OK && rv != NGX_CONF_ERROR) {
            /* nginx prints a handler's message bare: name the directive */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive %s in %s \"%V\"",
                               &value[0], rv, block->kind, block->name);
            return NGX_CONF_ERROR;
        }

        return rv;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in %s \"%V\"",
                       &value[0], block->kind, block->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_order_edit_set_secret(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (store->secret_from_file) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"secret\" and \"secret_file\" cannot be mixed "
                           "in order_edit_store \"%V\"", &store->name);
        return NGX_CONF_ERROR;
    }

    if (store->nsecrets == NGX_HTTP_ORDER_EDIT_MAX_SECRETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_store \"%V\" has more than two "
                           "secrets; a rotation needs the old and the new "
                           "one only", &store->name);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty secret in order_edit_store \"%V\"",
                           &store->name);
        return NGX_CONF_ERROR;
    }

    store->secrets[store->nsecrets++] = value[1];

    return NGX_CONF_OK;
}


/*
 * A file with one secret per line: one line normally, two while Shopify
 * may still sign with the old secret after a rotation.  Blank lines and
 * trailing white space (an editor's newline, a CR) do not count.
 */

static char *
ngx_http_order_edit_set_secret_file(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    u_char     *p, *last, *eol, *end;
    ngx_str_t  *value, path, text;

    value = cf->args->elts;
    path = value[1];

    if (store->nsecrets) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_store \"%V\" already has a secret",
                           &store->name);
        return NGX_CONF_ERROR;
    }

    /* two secrets and a few line ends fit in far less */
    if (ngx_http_order_edit_read_conf_file(cf, &path, 4096, &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    last = text.data + text.len;

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        while (end > p && (end[-1] == ' ' || end[-1] == '\t'
                           || end[-1] == '\r'))
        {
            end--;
        }

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (end > p) {
            if (store->nsecrets == NGX_HTTP_ORDER_EDIT_MAX_SECRETS) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "secret_file \"%V\" holds more than two "
                                   "secrets", &path);
                return NGX_CONF_ERROR;
            }

            store->secrets[store->nsecrets].data = p;
            store->secrets[store->nsecrets].len = end - p;
            store->nsecrets++;
        }

        p = eol + 1;
    }

    if (store->nsecrets == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret_file \"%V\" holds no secret", &path);
        return NGX_CONF_ERROR;
    }

    store->secret_from_file = 1;

    return NGX_CONF_OK;
}


/*
 * A small file read whole while the configuration loads: secrets and
 * keys.  *name becomes the full path, for messages; errors are logged.
 */

ngx_int_t
ngx_http_order_edit_read_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    size_t max, ngx_str_t *text)
{
    u_char           *buf;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is larger than %uz bytes", name, max);
        goto failed;
    }

    buf = ngx_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, buf, size);

    if (n == -1 || (size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", name);
        goto failed;
    }

    ngx_close_file(fd);

    text->data = buf;
    text->len = size;

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


static char *
ngx_http_order_edit_set_rate(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    if (store->rate_n) {
        return "is duplicate";
    }

    return ngx_http_order_edit_parse_rate(cf, cf->args->elts,
                                          cf->args->nelts, store);
}


static char *
ngx_http_order_edit_set_max_body(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    ssize_t     size;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (store->max_body != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    size = ngx_parse_size(&value[1]);

    if (size <= 0 || size > NGX_HTTP_ORDER_EDIT_MAX_BODY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid max_body \"%V\", expected a size from 1 "
                           "to 64m", &value[1]);
        return NGX_CONF_ERROR;
    }

    store->max_body = size;

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_set_topics(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    ngx_str_t   *value, *t;
    ngx_uint_t   i, k;

    value = cf->args->elts;

    if (store->topics) {
        return "is duplicate";
    }

    store->topics = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (store->topics == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (!ngx_http_order_edit_valid_topic(&value[i])) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid topic \"%V\", expected a Shopify "
                               "topic like orders/updated", &value[i]);
            return NGX_CONF_ERROR;
        }

        t = store->topics->elts;

        for (k = 0; k < store->topics->nelts; k++) {
            if (t[k].len == value[i].len
                && ngx_strncmp(t[k].data, value[i].data, t[k].len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate topic \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        t = ngx_array_push(store->topics);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }

        *t = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_set_netsuite(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (store->netsuite_name.len) {
        return "is duplicate";
    }

    /* resolved once the whole http{} block is read */
    store->netsuite_name = value[1];
    store->netsuite_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * The normaliser checks its own options and says what is wrong; nginx adds
 * the file and line.  Directive arguments are NUL-terminated by nginx's
 * configuration reader, so they pass as C strings.
 */

static char *
ngx_http_order_edit_set_norm(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    int                               rc;
    char                              err[512], *name, *a1, *a2;
    ngx_str_t                        *value, path;
    ngx_http_order_edit_norm_conf_t  *norm;

    value = cf->args->elts;
    norm = &store->norm;
    err[0] = '\0';

    name = (char *) value[0].data;
    a1 = (char *) value[1].data;
    a2 = (cf->args->nelts > 2) ? (char *) value[2].data : NULL;

    if (ngx_strcmp(name, "sku_map") == 0) {
        path = value[1];

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_http_order_edit_norm_set_sku_map(norm, (char *) path.data,
                                                  err, sizeof(err));

    } else if (ngx_strcmp(name, "sku_fallback") == 0) {
        rc = ngx_http_order_edit_norm_set_fallback(norm, a1, err,
                                                   sizeof(err));

    } else if (ngx_strcmp(name, "bundle") == 0) {
        rc = ngx_http_order_edit_norm_add_bundle(norm, a1, value[1].len, err,
                                                 sizeof(err));

    } else if (ngx_strcmp(name, "money") == 0) {
        rc = ngx_http_order_edit_norm_set_money(norm, a1, err, sizeof(err));

    } else if (ngx_strcmp(name, "external_id") == 0) {
        rc = ngx_http_order_edit_norm_set_external_id(norm, a1, a2, err,
                                                      sizeof(err));

    } else if (ngx_strcmp(name, "netsuite_item") == 0) {
        rc = ngx_http_order_edit_norm_set_item(norm, a1, a2, err,
                                               sizeof(err));

    } else if (ngx_strcmp(name, "netsuite_field") == 0) {
        rc = ngx_http_order_edit_norm_set_field(norm, a1, a2, err,
                                                sizeof(err));

    } else if (ngx_strcmp(name, "tax_details") == 0) {
        rc = ngx_http_order_edit_norm_set_tax_details(norm, a1, a2, err,
                                                      sizeof(err));

    } else if (ngx_strcmp(name, "tax_code") == 0) {
        rc = ngx_http_order_edit_norm_add_tax_code(norm, a1, a2,
                 (cf->args->nelts > 3) ? (char *) value[3].data : NULL,
                 err, sizeof(err));

    } else if (ngx_strcmp(name, "taxes_included") == 0) {
        rc = ngx_http_order_edit_norm_set_taxes_included(norm, a1, err,
                                                         sizeof(err));

    } else {
        /* the store directive table routes nothing else here */
        rc = ngx_http_order_edit_norm_set_currency(norm, a1, err,
                                                   sizeof(err));
    }

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": %s, in order_edit_store \"%V\"",
                           &value[0], err[0] ? err : "invalid value",
                           &store->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "sku_rewrite regex replacement": compiled by nginx's ngx_regex (PCRE2) */

static char *
ngx_http_order_edit_set_sku_rewrite(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    char                  err[512];
    u_char                errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t            *value;
    ngx_regex_compile_t   rc;

    value = cf->args->elts;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = value[1];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_order_edit_norm_add_rewrite(&store->norm, rc.regex,
                                             rc.captures,
                                             (char *) value[2].data,
                                             value[2].len, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sku_rewrite\": %s, in order_edit_store \"%V\"",
                           err, &store->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the normaliser's regex callback, on nginx's ngx_regex */

static int
ngx_http_order_edit_regex_exec(void *re, const char *s, size_t len,
    int *caps, int ncaps)
{
    int                i;
#if (NGX_PCRE2)
    int                rc;
    PCRE2_SIZE        *ov;
    pcre2_match_data  *md;

    /*
     * The normaliser runs on nginx's thread pool: ngx_regex_exec() keeps
     * one match block for the whole process, so each call here has its
     * own (on the heap: PCRE2's default allocator is thread-safe).
     */

    md = pcre2_match_data_create(NGX_HTTP_ORDER_EDIT_REWRITE_CAPS, NULL);
    if (md == NULL) {
        return -1;
    }

    rc = pcre2_match((pcre2_code *) re, (PCRE2_SPTR) s, len, 0, 0, md, NULL);

    if (rc == PCRE2_ERROR_NOMATCH) {
        pcre2_match_data_free(md);
        return 0;
    }

    if (rc < 0) {
        pcre2_match_data_free(md);
        return -1;
    }

    /* 0: more groups than the block holds; all of it is filled then */
    if (rc == 0 || rc > ncaps) {
        rc = ncaps;
    }

    ov = pcre2_get_ovector_pointer(md);

    /* a group that took no part is PCRE2_UNSET, -1 for the normaliser */
    for (i = 0; i < 2 * rc; i++) {
        caps[i] = (ov[i] == PCRE2_UNSET) ? -1 : (int) ov[i];
    }

    pcre2_match_data_free(md);

    return rc;

#else
    int        ov[NGX_HTTP_ORDER_EDIT_REWRITE_CAPS * 3];
    ngx_int_t  rc;
    ngx_str_t  subject;

    /* pcre_exec() with the caller's vector is thread-safe */

    subject.data = (u_char *) s;
    subject.len = len;

    rc = ngx_regex_exec((ngx_regex_t *) re, &subject, ov,
                        NGX_HTTP_ORDER_EDIT_REWRITE_CAPS * 3);

    if (rc == NGX_REGEX_NO_MATCHED) {
        return 0;
    }

    if (rc < 0) {
        return -1;
    }

    if (rc == 0 || rc > ncaps) {
        rc = ncaps;
    }

    for (i = 0; i < 2 * rc; i++) {
        caps[i] = ov[i];
    }

    return (int) rc;
#endif
}


static void
ngx_http_order_edit_norm_cleanup(void *data)
{
    ngx_http_order_edit_norm_conf_free(data);
}


static ngx_uint_t
ngx_http_order_edit_valid_topic(ngx_str_t *topic)
{
    u_char      *p, *last;
    ngx_uint_t   slash;

    if (topic->len < 3 || topic->len > NGX_HTTP_ORDER_EDIT_MAX_TOPIC_LEN) {
        return 0;
    }

    p = topic->data;
    last = p + topic->len;
    slash = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p == '/') {
            slash++;

        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                     || *p == '_'))
        {
            return 0;
        }
    }

    return slash == 1 && topic->data[0] != '/' && last[-1] != '/';
}


/*
 * A store is a shop's permanent domain, as Shopify sends it (a name like
 * acme.myshopify.com: ingest admits no other shape), or "default".
 */

static ngx_uint_t
ngx_http_order_edit_valid_shop(ngx_str_t *shop)
{
    if (shop->len == sizeof("default") - 1
        && ngx_strncmp(shop->data, "default", shop->len) == 0)
    {
        return 1;
    }

    return ngx_http_order_edit_shop_domain_valid(shop);
}






char *
ngx_http_order_edit_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_order_edit_loc_conf_t  *olcf = conf;
    ngx_http_order_edit_location_t  *loc = cmd->post;

    ngx_str_t                        *value;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_order_edit_zone_ref_t   *ref;
    ngx_http_order_edit_main_conf_t  *omcf;

    value = cf->args->elts;

    if (olcf->shm_zone) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a location takes one of order_edit_webhook, "
                           "order_edit_status, order_edit_exceptions, "
                           "order_edit_console, order_edit_report and "
                           "order_edit_queue_debug, once");
        return NGX_CONF_ERROR;
    }

    /* size 0: a reference, sized by order_edit_zone wherever it is */
    olcf->shm_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                           &ngx_http_order_edit_module);
    if (olcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = loc->handler;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_order_edit_module);

    ref = ngx_array_push(&omcf->refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->shm_zone = olcf->shm_zone;
    ref->clcf = loc->webhook ? clcf : NULL;
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    return NGX_CONF_OK;
}
