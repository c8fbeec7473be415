
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite OAuth 2.0 client credentials (M2M): one access token per
 * account and zone, fetched with a signed JWT (ngx_http_order_edit_jwt.c)
 * through the curl engine on the event loop, kept in the zone so that
 * every worker and the next generation of workers after a reload share
 * it, renewed before it expires, dropped on a 401, and fetched with a
 * jittered backoff while the token endpoint fails.
 *
 * The token lives in a slot of its own in the zone's slab pool, hung on
 * the account (ngx_http_order_edit_account_t.oauth2) when first needed.
 * Tokens and assertions never reach a log line or the status.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_OAUTH2_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_OAUTH2_H_INCLUDED_


#include "ngx_http_order_edit_module.h"

#include <jansson.h>
#include <openssl/evp.h>


/* the access token NetSuite returns is a JWT of about 1.5 KB */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_TOKEN_MAX   4096
#define NGX_HTTP_ORDER_EDIT_OAUTH2_ERROR_MAX   160

/* the current key and, for a rotation, the next */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_KEYS        2

#define NGX_HTTP_ORDER_EDIT_OAUTH2_PATH                                       \
    "/services/rest/auth/oauth2/v1/token"


/* a private key and the certificate id NetSuite gave its public half */
typedef struct {
    ngx_str_t                      certificate_id;   /* NUL-terminated */
    ngx_str_t                      file;
    EVP_PKEY                      *pkey;
    ngx_uint_t                     alg;              /* jwt_alg_e */
    ngx_uint_t                     line;
} ngx_http_order_edit_oauth2_key_t;


/* order_edit_netsuite's OAuth 2.0 settings */
typedef struct {
    ngx_str_t                      client_id;        /* NUL-terminated */
    ngx_str_t                      scope;            /* "a,b" */
    ngx_str_t                      token_url;        /* where it is sent */
    ngx_str_t                      audience;         /* NetSuite's URL */
    ngx_http_order_edit_oauth2_key_t  keys[NGX_HTTP_ORDER_EDIT_OAUTH2_KEYS];
    ngx_uint_t                     nkeys;
    uint32_t                       crc;              /* of all the above */
} ngx_http_order_edit_oauth2_conf_t;


/* a job waiting for a token this worker is fetching */
typedef struct {
    ngx_queue_t                    queue;
    void                         (*handler)(void *data);
    void                          *data;
} ngx_http_order_edit_oauth2_wait_t;


/* what the status shows of a slot */
typedef struct {
    ngx_uint_t                     on;
    ngx_uint_t                     valid;
    ngx_uint_t                     fetching;
    ngx_uint_t                     refused;
    ngx_uint_t                     key;
    ngx_uint_t                     failures;
    int64_t                        expires_in;       /* s, -1: no token */
    int64_t                        next_try_in;      /* ms, 0: now */
    uint64_t                       fetches;
    uint64_t                       fetch_errors;
    uint64_t                       rejected;         /* 401 on the API */
    uint64_t                       rotations;
    ngx_str_t                      error;
} ngx_http_order_edit_oauth2_stat_t;


/* configuration: loads and checks the keys; "can sign" is tried here */
char *ngx_http_order_edit_oauth2_finish(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns);

/*
 * The Authorization value "Bearer <token>" into *value (in pool), and
 * the token's generation for ngx_http_order_edit_oauth2_rejected().
 *   NGX_OK        *value is set
 *   NGX_AGAIN     this worker is fetching a token; wait->handler runs
 *                 from the event loop once it is in (or failed)
 *   NGX_BUSY      another process is fetching one: try again shortly
 *   NGX_DECLINED  the token endpoint fails or refuses every key; *why
 *                 says how (no secrets).  Both are retried: a refusal
 *                 is mended in NetSuite or by a reload, and the webhooks
 *                 go on once it is, or become exceptions past the
 *                 retry budget
 *   NGX_ERROR     no memory
 */
ngx_int_t ngx_http_order_edit_oauth2_bearer(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns, ngx_pool_t *pool,
    ngx_http_order_edit_oauth2_wait_t *wait, ngx_str_t *value,
    uint64_t *gen, ngx_str_t *why);

/* NetSuite answered 401 to that token: drop it, once per generation */
void ngx_http_order_edit_oauth2_rejected(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns, uint64_t gen);

/* the dispatcher's tick: fetch tokens before they are needed or expire */
void ngx_http_order_edit_oauth2_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf);

/* under the zone's lock: the slot of an account, for the status */
void ngx_http_order_edit_oauth2_stat(void *slot, ngx_pool_t *pool,
    ngx_http_order_edit_oauth2_stat_t *st);
json_t *ngx_http_order_edit_oauth2_stat_json(
    ngx_http_order_edit_oauth2_stat_t *st);


#endif /* _NGX_HTTP_ORDER_EDIT_OAUTH2_H_INCLUDED_ */
