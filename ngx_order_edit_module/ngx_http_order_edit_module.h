
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The umbrella header: configuration types shared by every subsystem.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_MODULE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_order_edit_normalise.h"


#define NGX_HTTP_ORDER_EDIT_VERSION       "0.1.0"

/* a rotation keeps the old and the new secret: never more than two */
#define NGX_HTTP_ORDER_EDIT_MAX_SECRETS   2

#define NGX_HTTP_ORDER_EDIT_MAX_SHOP_LEN  255
#define NGX_HTTP_ORDER_EDIT_MAX_ID_LEN    128
#define NGX_HTTP_ORDER_EDIT_MAX_TOPIC_LEN 64


typedef struct ngx_http_order_edit_zone_s  ngx_http_order_edit_zone_t;
typedef struct ngx_http_order_edit_netsuite_conf_s
    ngx_http_order_edit_netsuite_conf_t;
typedef struct ngx_http_order_edit_reconcile_conf_s
    ngx_http_order_edit_reconcile_conf_t;


/* a directive inside one of the module's blocks (store, netsuite) */
typedef char *(*ngx_http_order_edit_block_set_pt)(ngx_conf_t *cf,
    void *conf);

/*
 * Either "set", for a directive with its own parser, or one of nginx's
 * ngx_conf_set_*_slot functions with the field's offset and an optional
 * ngx_conf_post_t, exactly as in an ngx_command_t.
 */
typedef struct {
    ngx_str_t                          name;
    ngx_uint_t                         min_args;    /* without the name */
    ngx_uint_t                         max_args;
    ngx_http_order_edit_block_set_pt   set;
    char                            *(*slot)(ngx_conf_t *cf,
                                              ngx_command_t *cmd, void *conf);
    ngx_uint_t                         offset;
    void                              *post;
} ngx_http_order_edit_block_cmd_t;

#define ngx_http_order_edit_bcmd(name, min, max, set)                         \
    { ngx_string(name), min, max, set, NULL, 0, NULL }

typedef struct {
    const char                        *kind;        /* for messages */
    ngx_str_t                         *name;
    ngx_http_order_edit_block_cmd_t   *cmds;
    void                              *conf;
} ngx_http_order_edit_block_t;


/* one order_edit_store { } block */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      secrets[NGX_HTTP_ORDER_EDIT_MAX_SECRETS];
    ngx_uint_t                     nsecrets;
    ngx_uint_t                     secret_from_file;

    /* each secret's keyed EVP_MAC_CTX, made by ingest.c once a worker */
    void                          *hmac[NGX_HTTP_ORDER_EDIT_MAX_SECRETS];

    /*
     * rate_n requests per rate_period seconds (1 or 60), kept apart so
     * that 1r/m is exact; burst in 1/1000 requests, as limit_req keeps it
     */
    ngx_uint_t                     rate_n;
    ngx_uint_t                     rate_period;
    ngx_uint_t                     burst;

    size_t                         max_body;
    ngx_array_t                   *topics;      /* of ngx_str_t */

    /* how this shop's orders become NetSuite documents, and where to */
    ngx_http_order_edit_norm_conf_t   norm;
    ngx_str_t                      netsuite_name;
    ngx_uint_t                     netsuite_line;
    ngx_http_order_edit_netsuite_conf_t  *netsuite;

    /* "reconcile": catch-up from the Admin API; NULL: off */
    ngx_http_order_edit_reconcile_conf_t  *reconcile;

    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_order_edit_store_conf_t;


/* a location's use of a zone, checked once the whole http{} is read */
typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_http_core_loc_conf_t      *clcf;        /* NULL: a status location */
    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_order_edit_zone_ref_t;


typedef struct {
    ngx_array_t                    stores;      /* of store_conf_t * */
    ngx_http_order_edit_store_conf_t  *default_store;
    ngx_hash_t                     store_hash;
    ngx_array_t                    zones;       /* of zone_t * */
    ngx_array_t                    netsuites;   /* of netsuite_conf_t * */
    ngx_array_t                    dispatchers; /* of dispatch_conf_t */
    ngx_array_t                    refs;        /* of zone_ref_t */

    /* order_edit_journal; NULL: webhooks live in memory only */
    struct ngx_http_order_edit_journal_conf_s  *journal;

    /* order_edit_curl; NULL: nothing here needs the curl engine */
    struct ngx_http_order_edit_curl_conf_s  *curl;

    /* shm zones with an order_edit_console: their history is sampled */
    ngx_array_t                   *consoles;
} ngx_http_order_edit_main_conf_t;


typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_uint_t                     log_level;
    void                          *resolved;    /* order_edit_exceptions */
    ngx_flag_t                     console_actions;
    ngx_flag_t                     console;     /* order_edit_console */
} ngx_http_order_edit_loc_conf_t;


extern ngx_module_t  ngx_http_order_edit_module;


char *ngx_http_order_edit_block_parse(ngx_conf_t *cf,
    ngx_http_order_edit_block_t *block);
ngx_int_t ngx_http_order_edit_read_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    size_t max, ngx_str_t *text);
ngx_uint_t ngx_http_order_edit_log_level(ngx_http_request_t *r);
char *ngx_http_order_edit_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_order_edit_store_conf_t *ngx_http_order_edit_find_store(
    ngx_http_order_edit_main_conf_t *omcf, ngx_str_t *shop);


#endif /* _NGX_HTTP_ORDER_EDIT_MODULE_H_INCLUDED_ */
