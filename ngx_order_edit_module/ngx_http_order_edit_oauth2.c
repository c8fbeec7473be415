
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite OAuth 2.0 client credentials: the token of an account, shared
 * through the zone.  Oracle's help, "POST Request to the Token Endpoint
 * and the Access Token Response" (section_162755359851): POST
 * grant_type=client_credentials, client_assertion_type=urn:ietf:params:
 * oauth:client-assertion-type:jwt-bearer and client_assertion=<JWT>,
 * form-encoded, to /services/rest/auth/oauth2/v1/token; the answer has
 * access_token and expires_in, and no refresh token: a new assertion gets
 * a new token.
 *
 * Only the worker that holds a fetch talks to the token endpoint; the
 * others see the slot.  A fetch that fails sets next_try (a jittered
 * backoff, at least a second), and nobody asks before then, however many
 * webhooks wait: the endpoint is never hammered.
 */


#include "ngx_http_order_edit_oauth2.h"
#include "ngx_http_order_edit_jwt.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_curl.h"


/* the assertion's life: NetSuite wants exp less than an hour after iat */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_ASSERTION_TTL   300

/* renewed this long before expiry at most ("a few minutes") */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_RENEW_MS        300000

/* a fetch by a process that went away is taken over after this */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_STALE_MS        120000

/* while failing, never more than one token request a second */
#define NGX_HTTP_ORDER_EDIT_OAUTH2_BACKOFF_MIN     1000


/* in the zone: one per account */
typedef struct {
    uint32_t                       crc;          /* the settings' */
    ngx_pid_t                      fetcher;      /* 0: nobody */
    uint64_t                       fetch_started;
    uint64_t                       gen;          /* of the token */
    uint64_t                       fetched_ms;
    uint64_t                       expires_ms;
    uint64_t                       next_try_ms;
    ngx_uint_t                     failures;     /* in a row */
    ngx_uint_t                     key;          /* in use: 0 or 1 */
    ngx_uint_t                     refused;      /* by every key */
    uint64_t                       fetches;
    uint64_t                       fetch_errors;
    uint64_t                       rejected;
    uint64_t                       rotations;
    size_t                         error_len;
    u_char                         error[NGX_HTTP_ORDER_EDIT_OAUTH2_ERROR_MAX];
    size_t                         len;
    u_char                         token[NGX_HTTP_ORDER_EDIT_OAUTH2_TOKEN_MAX];
} ngx_http_order_edit_oauth2_slot_t;


/* in this process: a fetch in flight and the jobs waiting for it */
typedef struct {
    ngx_queue_t                    queue;
    ngx_http_order_edit_zone_t    *zone;
    ngx_http_order_edit_netsuite_conf_t  *ns;
    ngx_http_order_edit_oauth2_slot_t    *slot;
    ngx_http_order_edit_curl_req_t       *req;
    ngx_queue_t                    waiters;
    ngx_uint_t                     key;          /* this fetch's */
    ngx_uint_t                     switched;     /* tried the other key */
} ngx_http_order_edit_oauth2_fetch_t;


static ngx_http_order_edit_oauth2_fetch_t *ngx_http_order_edit_oauth2_get(
    ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns);
static ngx_uint_t ngx_http_order_edit_oauth2_usable(
    ngx_http_order_edit_oauth2_slot_t *slot, uint64_t now);
static ngx_uint_t ngx_http_order_edit_oauth2_other_fetches(
    ngx_http_order_edit_oauth2_slot_t *slot, uint64_t now);
static ngx_int_t ngx_http_order_edit_oauth2_fetch(
    ngx_http_order_edit_oauth2_fetch_t *f);
static ngx_int_t ngx_http_order_edit_oauth2_request(
    ngx_http_order_edit_oauth2_fetch_t *f, u_char *jwt, size_t len);
static void ngx_http_order_edit_oauth2_done(
    ngx_http_order_edit_curl_req_t *req, void *data);
static void ngx_http_order_edit_oauth2_failed(
    ngx_http_order_edit_oauth2_fetch_t *f, ngx_uint_t refused,
    const char *fmt, ...);
static void ngx_http_order_edit_oauth2_wake(
    ngx_http_order_edit_oauth2_fetch_t *f);


static ngx_queue_t  ngx_http_order_edit_oauth2_fetches;
static ngx_uint_t   ngx_http_order_edit_oauth2_inited;


char *
ngx_http_order_edit_oauth2_finish(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    char                               *jwt, err[256];
    u_char                             *p;
    size_t                              len;
    uint32_t                            crc;
    ngx_str_t                          *base;
    ngx_uint_t                          i;
    ngx_http_order_edit_oauth2_key_t   *key;
    ngx_http_order_edit_jwt_claims_t    c;
    ngx_http_order_edit_oauth2_conf_t  *o;

    o = &ns->oauth2;

    if (o->client_id.len == 0 || o->keys[0].pkey == NULL
        || o->keys[0].certificate_id.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\" uses auth oauth2 "
                           "and needs client_id_file, certificate_id and "
                           "private_key_file", &ns->name);
        return NGX_CONF_ERROR;
    }

    if ((o->keys[1].pkey == NULL) != (o->keys[1].certificate_id.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\": a rotation needs "
                           "both next_certificate_id and "
                           "next_private_key_file", &ns->name);
        return NGX_CONF_ERROR;
    }

    o->nkeys = o->keys[1].pkey ? 2 : 1;

    if (o->nkeys == 2
        && ngx_strcmp(o->keys[0].certificate_id.data,
                      o->keys[1].certificate_id.data) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\": next_certificate_id "
                           "is the same as certificate_id", &ns->name);
        return NGX_CONF_ERROR;
    }

    if (o->scope.len == 0) {
        if (ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET) {
            ngx_str_set(&o->scope, "restlets");

        } else {
            ngx_str_set(&o->scope, "rest_webservices");
        }
    }

    /*
     * Sent to the endpoint; signed for NetSuite's own URL (sign_as) when
     * the endpoint is a local proxy, as TBA's signature is.
     */
    len = sizeof(NGX_HTTP_ORDER_EDIT_OAUTH2_PATH);

    p = ngx_pnalloc(cf->pool, ns->endpoint.len + len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    o->token_url.data = p;
    p = ngx_cpymem(p, ns->endpoint.data, ns->endpoint.len);
    p = ngx_cpymem(p, NGX_HTTP_ORDER_EDIT_OAUTH2_PATH, len);
    o->token_url.len = p - o->token_url.data - 1;

    base = ns->sign_as.len ? &ns->sign_as : &ns->endpoint;

    p = ngx_pnalloc(cf->pool, base->len + len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    o->audience.data = p;
    p = ngx_cpymem(p, base->data, base->len);
    p = ngx_cpymem(p, NGX_HTTP_ORDER_EDIT_OAUTH2_PATH, len);
    o->audience.len = p - o->audience.data - 1;

    /* "can sign": each key signs an assertion now, not at 3 a.m. */
    ngx_memzero(&c, sizeof(ngx_http_order_edit_jwt_claims_t));
    c.iss = (char *) o->client_id.data;
    c.scope = (char *) o->scope.data;
    c.aud = (char *) o->audience.data;
    c.iat = ngx_time();
    c.exp = c.iat + NGX_HTTP_ORDER_EDIT_OAUTH2_ASSERTION_TTL;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, o->client_id.data, o->client_id.len + 1);
    ngx_crc32_update(&crc, o->scope.data, o->scope.len + 1);
    ngx_crc32_update(&crc, o->token_url.data, o->token_url.len + 1);
    ngx_crc32_update(&crc, o->audience.data, o->audience.len + 1);

    for (i = 0; i < o->nkeys; i++) {
        key = &o->keys[i];
        c.kid = (char *) key->certificate_id.data;

        if (ngx_http_order_edit_jwt_sign(key->pkey, key->alg, &c, &jwt,
                                         &len, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "order_edit_netsuite \"%V\": the key of "
                               "\"%V\" (line %ui) cannot sign: %s",
                               &ns->name, &key->file, key->line, err);
            return NGX_CONF_ERROR;
        }

        ngx_explicit_memzero(jwt, len);
        free(jwt);

        ngx_crc32_update(&crc, key->certificate_id.data,
                         key->certificate_id.len + 1);
    }

    ngx_crc32_final(crc);
    o->crc = crc;

    return NGX_CONF_OK;
}


/*
 * This process's fetch record of (zone, account), with the account's
 * slot in the zone, both made when first asked for.  A slot written with
 * other settings (a reload changed the client id, a key, the scope) is
 * started afresh: its token and its failures belong to the old ones.
 */

static ngx_http_order_edit_oauth2_fetch_t *
ngx_http_order_edit_oauth2_get(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    ngx_queue_t                         *q;
    ngx_http_order_edit_account_t       *a;
    ngx_http_order_edit_oauth2_slot_t   *slot;
    ngx_http_order_edit_oauth2_fetch_t  *f;

    if (!ngx_http_order_edit_oauth2_inited) {
        ngx_queue_init(&ngx_http_order_edit_oauth2_fetches);
        ngx_http_order_edit_oauth2_inited = 1;
    }

    for (q = ngx_queue_head(&ngx_http_order_edit_oauth2_fetches);
         q != ngx_queue_sentinel(&ngx_http_order_edit_oauth2_fetches);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_http_order_edit_oauth2_fetch_t, queue);

        if (f->zone == zone && f->ns == ns) {
            return f;
        }
    }

    f = ngx_pcalloc(ngx_cycle->pool,
                    sizeof(ngx_http_order_edit_oauth2_fetch_t));
    if (f == NULL) {
        return NULL;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    a = ngx_http_order_edit_account_lookup(zone, &ns->name, 1);
    slot = NULL;

    if (a != NULL) {
        slot = a->oauth2;

        if (slot == NULL) {
            slot = ngx_slab_calloc_locked(zone->shpool,
                                  sizeof(ngx_http_order_edit_oauth2_slot_t));
            a->oauth2 = slot;
        }
    }

    if (slot != NULL && slot->crc != ns->oauth2.crc) {
        ngx_memzero(slot, sizeof(ngx_http_order_edit_oauth2_slot_t));
        slot->crc = ns->oauth2.crc;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (slot == NULL) {
        return NULL;
    }

    f->zone = zone;
    f->ns = ns;
    f->slot = slot;
    ngx_queue_init(&f->waiters);
    ngx_queue_insert_tail(&ngx_http_order_edit_oauth2_fetches, &f->queue);

    return f;
}


/* a token that will outlive a request sent now */

static ngx_uint_t
ngx_http_order_edit_oauth2_usable(ngx_http_order_edit_oauth2_slot_t *slot,
    uint64_t now)
{
    uint64_t  margin;

    if (slot->len == 0 || slot->expires_ms <= slot->fetched_ms) {
        return 0;
    }

    margin = ngx_min(2000, (slot->expires_ms - slot->fetched_ms) / 8);

    return now + margin < slot->expires_ms;
}


/*
 * Another process has a token request out: not when it is this one, nor
 * when that process is gone (killed mid-request) or the request is far
 * older than any timeout.
 */

static ngx_uint_t
ngx_http_order_edit_oauth2_other_fetches(
    ngx_http_order_edit_oauth2_slot_t *slot, uint64_t now)
{
    if (slot->fetcher == 0 || slot->fetcher == ngx_pid) {
        return 0;
    }

    if (now - slot->fetch_started > NGX_HTTP_ORDER_EDIT_OAUTH2_STALE_MS
        || ngx_http_order_edit_pid_gone(slot->fetcher, 0))
    {
        slot->fetcher = 0;
        return 0;
    }

    return 1;
}


ngx_int_t
ngx_http_order_edit_oauth2_bearer(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns, ngx_pool_t *pool,
    ngx_http_order_edit_oauth2_wait_t *wait, ngx_str_t *value,
    uint64_t *gen, ngx_str_t *why)
{
    u_char                              *p;
    uint64_t                             now, next;
    ngx_int_t                            rc;
    ngx_http_order_edit_oauth2_slot_t   *slot;
    ngx_http_order_edit_oauth2_fetch_t  *f;

    f = ngx_http_order_edit_oauth2_get(zone, ns);
    if (f == NULL) {
        ngx_str_set(why, "no memory for the OAuth 2.0 token");
        return NGX_ERROR;
    }

    slot = f->slot;

    /* room for the token, or for why there is none */
    p = ngx_pnalloc(pool, sizeof("Bearer ") - 1
                          + NGX_HTTP_ORDER_EDIT_OAUTH2_TOKEN_MAX);
    if (p == NULL) {
        ngx_str_set(why, "out of memory");
        return NGX_ERROR;
    }

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_order_edit_oauth2_usable(slot, now)) {
        value->data = p;
        p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
        p = ngx_cpymem(p, slot->token, slot->len);
        value->len = p - value->data;
        *gen = slot->gen;

        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    rc = ngx_http_order_edit_oauth2_fetch(f);

    if (rc == NGX_AGAIN) {
        ngx_queue_insert_tail(&f->waiters, &wait->queue);
        return NGX_AGAIN;
    }

    if (rc == NGX_BUSY) {
        ngx_str_set(why, "another process fetches the OAuth 2.0 token");
        return NGX_BUSY;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    next = (slot->next_try_ms > now) ? slot->next_try_ms - now : 0;

    why->data = p;
    why->len = ngx_snprintf(p, NGX_HTTP_ORDER_EDIT_OAUTH2_TOKEN_MAX,
                            "no OAuth 2.0 token: %*s (next token request "
                            "in %uL ms)", slot->error_len, slot->error,
                            next)
               - p;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_DECLINED;
}


void
ngx_http_order_edit_oauth2_rejected(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_netsuite_conf_t *ns, uint64_t gen)
{
    ngx_uint_t                           dropped;
    ngx_http_order_edit_oauth2_slot_t   *slot;
    ngx_http_order_edit_oauth2_fetch_t  *f;

    f = ngx_http_order_edit_oauth2_get(zone, ns);
    if (f == NULL) {
        return;
    }

    slot = f->slot;
    dropped = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    slot->rejected++;

    /* the first 401 of a token drops it; the others find it gone */
    if (slot->gen == gen && slot->len) {
        ngx_explicit_memzero(slot->token, slot->len);
        slot->len = 0;
        slot->expires_ms = 0;
        dropped = 1;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (dropped) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "order_edit: NetSuite \"%V\" refused its OAuth 2.0 "
                      "access token (expired or revoked); fetching another",
                      &ns->name);
    }
}


void
ngx_http_order_edit_oauth2_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf)
{
    uint64_t                               now, margin;
    ngx_uint_t                             i, need;
    ngx_http_order_edit_oauth2_slot_t     *slot;
    ngx_http_order_edit_oauth2_fetch_t    *f;
    ngx_http_order_edit_netsuite_conf_t  **ns;

    ns = omcf->netsuites.elts;

    for (i = 0; i < omcf->netsuites.nelts; i++) {

        if (ns[i]->auth != NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2) {
            continue;
        }

        f = ngx_http_order_edit_oauth2_get(zone, ns[i]);
        if (f == NULL || f->req != NULL) {
            continue;
        }

        slot = f->slot;
        now = ngx_http_order_edit_now_ms();

        ngx_shmtx_lock(&zone->shpool->mutex);

        margin = ngx_min(NGX_HTTP_ORDER_EDIT_OAUTH2_RENEW_MS,
                         (slot->expires_ms - slot->fetched_ms) / 4);

        need = (slot->len == 0 || now + margin >= slot->expires_ms)
               && now >= slot->next_try_ms
               && !ngx_http_order_edit_oauth2_other_fetches(slot, now);

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (need) {
            (void) ngx_http_order_edit_oauth2_fetch(f);
        }
    }
}


/*
 * Starts a token request unless one is out or the endpoint is resting:
 * NGX_AGAIN (this process's request is out), NGX_BUSY (another
 * process's), NGX_DECLINED (not before slot->next_try_ms).
 */

static ngx_int_t
ngx_http_order_edit_oauth2_fetch(ngx_http_order_edit_oauth2_fetch_t *f)
{
    int                                  rc;
    char                                *jwt, err[256];
    size_t                               len;
    uint64_t                             now;
    ngx_uint_t                           key;
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_oauth2_key_t    *k;
    ngx_http_order_edit_oauth2_slot_t   *slot;
    ngx_http_order_edit_oauth2_conf_t   *o;
    ngx_http_order_edit_jwt_claims_t     c;

    if (f->req != NULL) {
        return NGX_AGAIN;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return NGX_BUSY;
    }

    zone = f->zone;
    slot = f->slot;
    o = &f->ns->oauth2;
    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_order_edit_oauth2_other_fetches(slot, now)) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_BUSY;
    }

    if (now < slot->next_try_ms) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_DECLINED;
    }

    slot->fetcher = ngx_pid;
    slot->fetch_started = now;

    key = (slot->key < o->nkeys) ? slot->key : 0;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    f->key = key;
    k = &o->keys[key];

    ngx_memzero(&c, sizeof(ngx_http_order_edit_jwt_claims_t));
    c.kid = (char *) k->certificate_id.data;
    c.iss = (char *) o->client_id.data;
    c.scope = (char *) o->scope.data;
    c.aud = (char *) o->audience.data;
    c.iat = (int64_t) ngx_time();
    c.exp = c.iat + NGX_HTTP_ORDER_EDIT_OAUTH2_ASSERTION_TTL;

    rc = ngx_http_order_edit_jwt_sign(k->pkey, k->alg, &c, &jwt, &len, err,
                                      sizeof(err));
    if (rc != 0) {
        ngx_http_order_edit_oauth2_failed(f, 0, "cannot sign the "
                                          "assertion: %s", err);
        return NGX_DECLINED;
    }

    rc = ngx_http_order_edit_oauth2_request(f, (u_char *) jwt, len);

    ngx_explicit_memzero(jwt, len);
    free(jwt);

    if (rc != NGX_OK) {
        ngx_http_order_edit_oauth2_failed(f, 0, "cannot start the token "
                                          "request");
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_order_edit_oauth2_request(ngx_http_order_edit_oauth2_fetch_t *f,
    u_char *jwt, size_t len)
{
    u_char                               *body, *p;
    size_t                                size;
    ngx_str_t                             name, value;
    ngx_http_order_edit_curl_req_t       *req;
    ngx_http_order_edit_netsuite_conf_t  *ns;

    static const char  form[] =
        "grant_type=client_credentials&client_assertion_type="
        "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        "&client_assertion=";

    ns = f->ns;

    req = ngx_http_order_edit_curl_create(ngx_cycle->log);
    if (req == NULL) {
        return NGX_ERROR;
    }

    /* base64url and '.' need no form encoding */
    size = sizeof(form) - 1 + len;

    body = ngx_pnalloc(req->pool, size);
    if (body == NULL) {
        goto failed;
    }

    p = ngx_cpymem(body, form, sizeof(form) - 1);
    ngx_memcpy(p, jwt, len);

    req->method = NGX_HTTP_POST;
    req->connect_timeout = ns->connect_timeout;
    req->timeout = ns->timeout;
    req->done = ngx_http_order_edit_oauth2_done;
    req->data = f;
    req->ca_file = ns->ca_file;

    if (ngx_http_order_edit_curl_set_url(req, &ns->oauth2.token_url)
        != NGX_OK
        || ngx_http_order_edit_curl_set_body(req, body, size, 0) != NGX_OK)
    {
        goto failed;
    }

    ngx_str_set(&name, "Content-Type");
    ngx_str_set(&value, "application/x-www-form-urlencoded");

    if (ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK) {
        goto failed;
    }

    ngx_str_set(&name, "Accept");
    ngx_str_set(&value, "application/json");

    if (ngx_http_order_edit_curl_add_header(req, &name, &value) != NGX_OK) {
        goto failed;
    }

    if (ns->proxy.len
        && ngx_http_order_edit_curl_set_proxy(req, &ns->proxy) != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_order_edit_curl_start(req) != NGX_OK) {
        goto failed;
    }

    f->req = req;

    return NGX_OK;

failed:

    ngx_explicit_memzero(req->request_body.data, req->request_body.len);
    ngx_http_order_edit_curl_free(req);

    return NGX_ERROR;
}


static void
ngx_http_order_edit_oauth2_done(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_oauth2_fetch_t  *f = data;

    size_t                               len;
    json_t                              *root, *tok, *exp, *err;
    int64_t                              ttl;
    uint64_t                             now;
    ngx_uint_t                           key, other;
    const char                          *token;
    json_error_t                         jerr;
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_oauth2_slot_t   *slot;

    f->req = NULL;
    zone = f->zone;
    slot = f->slot;
    key = f->key;

    /* the assertion stays valid for minutes: no copy of it left behind */
    ngx_explicit_memzero(req->request_body.data, req->request_body.len);

    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        ngx_shmtx_lock(&zone->shpool->mutex);
        if (slot->fetcher == ngx_pid) {
            slot->fetcher = 0;
        }
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_http_order_edit_oauth2_wake(f);
        return;
    }

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        ngx_http_order_edit_oauth2_failed(f, 0, "token endpoint %V: %V",
                                          &f->ns->oauth2.token_url,
                                          &req->message);
        goto wake;
    }

    root = json_loadb((char *) req->body.data, req->body.len, 0, &jerr);

    if (req->status != 200) {
        err = root ? json_object_get(root, "error") : NULL;

        /*
         * 400/401 with invalid_client, invalid_grant...: this key will not
         * do (revoked certificate, wrong certificate id, clock): the other
         * key, if there is one, is tried at once.  429 and 5xx: later.
         */
        if (req->status >= 400 && req->status < 500 && req->status != 429) {
            other = (f->ns->oauth2.nkeys == 2 && !f->switched);

            ngx_http_order_edit_oauth2_failed(f, !other,
                "token endpoint refused certificate id \"%V\": HTTP %ui %s",
                &f->ns->oauth2.keys[key].certificate_id, req->status,
                json_is_string(err) ? json_string_value(err) : "");

            json_decref(root);

            if (other) {
                f->switched = 1;

                ngx_shmtx_lock(&zone->shpool->mutex);
                slot->key = 1 - key;
                slot->rotations++;
                slot->next_try_ms = 0;
                ngx_shmtx_unlock(&zone->shpool->mutex);

                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "order_edit: NetSuite \"%V\": trying "
                              "certificate id \"%V\"", &f->ns->name,
                              &f->ns->oauth2.keys[1 - key].certificate_id);

                if (ngx_http_order_edit_oauth2_fetch(f) == NGX_AGAIN) {
                    return;
                }
            }

            goto wake;
        }

        ngx_http_order_edit_oauth2_failed(f, 0, "token endpoint: HTTP %ui",
                                          req->status);
        json_decref(root);
        goto wake;
    }

    tok = root ? json_object_get(root, "access_token") : NULL;
    exp = root ? json_object_get(root, "expires_in") : NULL;

    token = json_is_string(tok) ? json_string_value(tok) : NULL;
    len = token ? json_string_length(tok) : 0;

    /* expires_in is a number; some servers send it as a string */
    ttl = json_is_integer(exp) ? json_integer_value(exp)
          : json_is_string(exp) ? ngx_atoi((u_char *) json_string_value(exp),
                                           json_string_length(exp))
          : -1;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_OAUTH2_TOKEN_MAX || ttl <= 0
        || ngx_strlchr((u_char *) token, (u_char *) token + len, ' ')
        || ngx_strlchr((u_char *) token, (u_char *) token + len, '\r')
        || ngx_strlchr((u_char *) token, (u_char *) token + len, '\n'))
    {
        json_decref(root);
        ngx_http_order_edit_oauth2_failed(f, 0, "token endpoint: no usable "
                                          "access_token and expires_in");
        goto wake;
    }

    now = ngx_http_order_edit_now_ms();

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (slot->crc != f->ns->oauth2.crc) {
        /* a reload changed the settings while this was out: not ours */
        ngx_shmtx_unlock(&zone->shpool->mutex);
        ngx_explicit_memzero((void *) token, len);
        json_decref(root);
        goto wake;
    }

    ngx_memcpy(slot->token, token, len);
    slot->len = len;
    slot->gen++;
    slot->fetched_ms = now;
    slot->expires_ms = now + (uint64_t) ttl * 1000;
    slot->next_try_ms = 0;
    slot->failures = 0;
    slot->refused = 0;
    slot->key = key;
    slot->fetches++;
    slot->error_len = 0;

    if (slot->fetcher == ngx_pid) {
        slot->fetcher = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* jansson's copy of the token is freed with root; wipe it first */
    ngx_explicit_memzero((void *) token, len);
    json_decref(root);

    f->switched = 0;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "order_edit: NetSuite \"%V\": OAuth 2.0 access token "
                  "for certificate id \"%V\", valid for %L s",
                  &f->ns->name, &f->ns->oauth2.keys[key].certificate_id,
                  ttl);

wake:

    ngx_http_order_edit_oauth2_wake(f);
}


/*
 * A fetch failed: the next waits min(backoff_max, max(1 s, backoff_min)
 * << failures), half of it random, so that a down endpoint sees a request
 * every few seconds to minutes, not one per webhook.
 */

static void
ngx_http_order_edit_oauth2_failed(ngx_http_order_edit_oauth2_fetch_t *f,
    ngx_uint_t refused, const char *fmt, ...)
{
    u_char                             *p;
    va_list                             args;
    uint64_t                            now;
    ngx_msec_t                          base, cap, delay;
    ngx_uint_t                          shift;
    ngx_http_order_edit_zone_t         *zone;
    ngx_http_order_edit_oauth2_slot_t  *slot;
    u_char     buf[NGX_HTTP_ORDER_EDIT_OAUTH2_ERROR_MAX];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    zone = f->zone;
    slot = f->slot;
    now = ngx_http_order_edit_now_ms();

    base = ngx_max(f->ns->backoff_min, NGX_HTTP_ORDER_EDIT_OAUTH2_BACKOFF_MIN);

    ngx_shmtx_lock(&zone->shpool->mutex);

    shift = ngx_min(slot->failures, 16);
    cap = ngx_min(ngx_max(f->ns->backoff_max, base), base << shift);
    delay = cap / 2 + (ngx_msec_t) (ngx_random() % (cap / 2 + 1));

    slot->failures++;
    slot->fetch_errors++;
    slot->refused = refused;
    slot->next_try_ms = now + delay;
    slot->error_len = p - buf;
    ngx_memcpy(slot->error, buf, p - buf);

    if (slot->fetcher == ngx_pid) {
        slot->fetcher = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    f->switched = 0;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "order_edit: NetSuite \"%V\": no OAuth 2.0 token: %*s; "
                  "next token request in %M ms", &f->ns->name, p - buf, buf,
                  delay);
}


/* the waiters go on, each once; a handler may wait again (a new fetch) */

static void
ngx_http_order_edit_oauth2_wake(ngx_http_order_edit_oauth2_fetch_t *f)
{
    ngx_queue_t                         waiting, *q;
    ngx_http_order_edit_oauth2_wait_t  *w;

    if (ngx_queue_empty(&f->waiters)) {
        return;
    }

    waiting = f->waiters;
    waiting.next->prev = &waiting;
    waiting.prev->next = &waiting;
    ngx_queue_init(&f->waiters);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_order_edit_oauth2_wait_t, queue);
        w->handler(w->data);
    }
}


void
ngx_http_order_edit_oauth2_stat(void *data, ngx_pool_t *pool,
    ngx_http_order_edit_oauth2_stat_t *st)
{
    ngx_http_order_edit_oauth2_slot_t *slot = data;

    uint64_t  now;

    ngx_memzero(st, sizeof(ngx_http_order_edit_oauth2_stat_t));

    if (slot == NULL) {
        return;
    }

    now = ngx_http_order_edit_now_ms();

    st->on = 1;
    st->valid = ngx_http_order_edit_oauth2_usable(slot, now);
    st->fetching = (slot->fetcher != 0);
    st->refused = slot->refused;
    st->key = slot->key;
    st->failures = slot->failures;
    st->expires_in = slot->len ? ((int64_t) slot->expires_ms
                                  - (int64_t) now) / 1000
                               : -1;
    st->next_try_in = (slot->next_try_ms > now) ? slot->next_try_ms - now
                                                : 0;
    st->fetches = slot->fetches;
    st->fetch_errors = slot->fetch_errors;
    st->rejected = slot->rejected;
    st->rotations = slot->rotations;

    st->error.data = ngx_pnalloc(pool, slot->error_len + 1);

    if (st->error.data != NULL) {
        ngx_memcpy(st->error.data, slot->error, slot->error_len);
        st->error.data[slot->error_len] = '\0';
        st->error.len = slot->error_len;
    }
}


json_t *
ngx_http_order_edit_oauth2_stat_json(ngx_http_order_edit_oauth2_stat_t *st)
{
    const char  *state;

    /*
     * An endpoint that keeps failing is "failing" while it is asked
     * again too: the fetch in flight is the state of a few milliseconds
     * a second, the failures are what the operator needs to see.
     */
    state = st->valid ? "valid"
            : st->refused ? "refused"
            : st->failures ? "failing"
            : st->fetching ? "fetching"
            : "none";

    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?}",
                     "token", state,
                     "key", st->key ? "next" : "current",
                     "expires_in", (json_int_t) st->expires_in,
                     "fetches", (json_int_t) st->fetches,
                     "fetch_errors", (json_int_t) st->fetch_errors,
                     "failures", (json_int_t) st->failures,
                     "next_try_ms", (json_int_t) st->next_try_in,
                     "rejected", (json_int_t) st->rejected,
                     "rotations", (json_int_t) st->rotations,
                     "error", st->error.len ? (char *) st->error.data
                                            : NULL);
}
