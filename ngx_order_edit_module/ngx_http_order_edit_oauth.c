
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite TBA: OAuth 1.0a (RFC 5849) signing with HMAC-SHA256.
 *
 * The signature base string is never built in memory to be signed: it is
 * streamed into the HMAC, and its parameters are sorted by comparing
 * their percent-encodings on the fly.  So signing needs no allocation and
 * no buffer sized after the URL; the only scratch space is the parameter
 * table and the signing key on the stack.
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "ngx_http_order_edit_oauth.h"


/* protocol parameters: key, nonce, method, timestamp, token, version */
#define NGX_HTTP_ORDER_EDIT_OAUTH_NPROTO   6

#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ITEMS                                   \
    (NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS + NGX_HTTP_ORDER_EDIT_OAUTH_NPROTO)

/* pct(consumer_secret) "&" pct(token_secret) at their longest */
#define NGX_HTTP_ORDER_EDIT_OAUTH_KEY_BUF                                     \
    (2 * 3 * NGX_HTTP_ORDER_EDIT_OAUTH_MAX_KEY + 1)

/* INT64_MAX has 19 digits */
#define NGX_HTTP_ORDER_EDIT_OAUTH_TS_LEN   20

#define NGX_HTTP_ORDER_EDIT_OAUTH_MD_MAX   EVP_MAX_MD_SIZE


/*
 * A signature method.  Only HMAC-SHA256 is reachable through the public
 * API (NetSuite refuses HMAC-SHA1); SHA1 is here so that the unit tests
 * can reproduce RFC 5849's own examples byte for byte.
 */
typedef struct {
    const char                      *name;
    const char                      *digest;
    size_t                           size;
    unsigned                         version:1;
} ngx_http_order_edit_oauth_md_t;


/* one parameter to sort and sign */
typedef struct {
    const unsigned char             *name;
    const unsigned char             *value;
    size_t                           name_len;
    size_t                           value_len;

    /* raw URL query text: '+' is a space and %XX a byte (RFC 5849 3.4.1.3) */
    unsigned                         form:1;
} ngx_http_order_edit_oauth_item_t;


/* reads the bytes a parameter name or value stands for */
typedef struct {
    const unsigned char             *p;
    const unsigned char             *last;
    unsigned                         form:1;
} ngx_http_order_edit_oauth_src_t;


/* the percent-encoded form of a src, a character at a time */
typedef struct {
    ngx_http_order_edit_oauth_src_t  src;
    unsigned char                    pending[2];
    size_t                           npending;
} ngx_http_order_edit_oauth_enc_t;


/* the parts of a request URL that are signed */
typedef struct {
    const unsigned char             *scheme;
    const unsigned char             *host;
    const unsigned char             *port;
    const unsigned char             *path;
    const unsigned char             *query;
    size_t                           scheme_len;
    size_t                           host_len;
    size_t                           port_len;
    size_t                           path_len;
    size_t                           query_len;
} ngx_http_order_edit_oauth_url_t;


typedef struct {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MAC_CTX                     *ctx;
#else
    HMAC_CTX                        *ctx;
#endif
} ngx_http_order_edit_oauth_hmac_t;


/*
 * Where emitted text goes: a caller buffer (never written at or past
 * "size", "len" counts on regardless) or, when "hmac" is set, the MAC in
 * chunks.
 */
typedef struct {
    char                            *buf;
    size_t                           size;
    size_t                           len;
    ngx_http_order_edit_oauth_hmac_t *hmac;
    size_t                           nchunk;
    unsigned                         failed:1;
    unsigned char                    chunk[512];
} ngx_http_order_edit_oauth_sink_t;


/* everything sign() and base_string() need, validated */
typedef struct {
    ngx_http_order_edit_oauth_url_t  url;
    ngx_http_order_edit_oauth_item_t items[NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ITEMS];
    size_t                           nitems;
    char                             ts[NGX_HTTP_ORDER_EDIT_OAUTH_TS_LEN];
    size_t                           ts_len;
} ngx_http_order_edit_oauth_ctx_t;


static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_prepare(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md,
    ngx_http_order_edit_oauth_ctx_t *ctx);
static void ngx_http_order_edit_oauth_set(
    ngx_http_order_edit_oauth_item_t *item, const char *name,
    const char *value, size_t value_len);
static size_t ngx_http_order_edit_oauth_format_ts(int64_t t, char *buf);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_parse_url(
    const ngx_http_order_edit_oauth_str_t *s,
    ngx_http_order_edit_oauth_url_t *url);
static int ngx_http_order_edit_oauth_check_chars(const unsigned char *p,
    const unsigned char *last);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_add_query(
    ngx_http_order_edit_oauth_ctx_t *ctx);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_add(
    ngx_http_order_edit_oauth_ctx_t *ctx, const void *name, size_t name_len,
    const void *value, size_t value_len, unsigned form);
static int ngx_http_order_edit_oauth_is_proto(
    const ngx_http_order_edit_oauth_item_t *item);
static int ngx_http_order_edit_oauth_decode(
    ngx_http_order_edit_oauth_src_t *src);
static int ngx_http_order_edit_oauth_enc_next(
    ngx_http_order_edit_oauth_enc_t *enc);
static int ngx_http_order_edit_oauth_cmp_src(const unsigned char *a,
    size_t alen, unsigned aform, const unsigned char *b, size_t blen,
    unsigned bform);
static int ngx_http_order_edit_oauth_cmp_items(const void *one,
    const void *two);
static void ngx_http_order_edit_oauth_emit_base(
    ngx_http_order_edit_oauth_sink_t *sink,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_ctx_t *ctx);
static void ngx_http_order_edit_oauth_emit_header(
    ngx_http_order_edit_oauth_sink_t *sink,
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_ctx_t *ctx,
    const ngx_http_order_edit_oauth_md_t *md, const char *sig,
    size_t sig_len);
static void ngx_http_order_edit_oauth_put(
    ngx_http_order_edit_oauth_sink_t *sink, unsigned char c);
static void ngx_http_order_edit_oauth_puts(
    ngx_http_order_edit_oauth_sink_t *sink, const char *s);
static void ngx_http_order_edit_oauth_put_pct(
    ngx_http_order_edit_oauth_sink_t *sink, const void *data, size_t len,
    unsigned lower, unsigned twice);
static void ngx_http_order_edit_oauth_put_src(
    ngx_http_order_edit_oauth_sink_t *sink, const unsigned char *p,
    size_t len, unsigned form);
static void ngx_http_order_edit_oauth_flush(
    ngx_http_order_edit_oauth_sink_t *sink);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_finish(
    ngx_http_order_edit_oauth_sink_t *sink, size_t *len);
static size_t ngx_http_order_edit_oauth_signing_key(
    const ngx_http_order_edit_oauth_keys_t *keys, unsigned char *key);
static int ngx_http_order_edit_oauth_hmac_init(
    ngx_http_order_edit_oauth_hmac_t *h,
    const ngx_http_order_edit_oauth_md_t *md, const unsigned char *key,
    size_t key_len);
static int ngx_http_order_edit_oauth_hmac_update(
    ngx_http_order_edit_oauth_hmac_t *h, const unsigned char *data,
    size_t len);
static int ngx_http_order_edit_oauth_hmac_final(
    ngx_http_order_edit_oauth_hmac_t *h, unsigned char *out, size_t size,
    size_t expect);
static void ngx_http_order_edit_oauth_hmac_free(
    ngx_http_order_edit_oauth_hmac_t *h);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_account(
    const char *account, size_t alen, int upper, const char *suffix,
    char *buf, size_t size, size_t *len);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_sign_md(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md, char *buf, size_t size,
    size_t *len);
static ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_base_string_md(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md, char *buf, size_t size,
    size_t *len);


static const ngx_http_order_edit_oauth_md_t  ngx_http_order_edit_oauth_sha256
    = { "HMAC-SHA256", "SHA256", 32, 1 };

static const char  ngx_http_order_edit_oauth_hex[] = "0123456789ABCDEF";

static const char  ngx_http_order_edit_oauth_alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";


/* RFC 3986 unreserved: ALPHA DIGIT "-" "." "_" "~" (RFC 5849 3.6) */
static int
ngx_http_order_edit_oauth_unreserved(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}


static int
ngx_http_order_edit_oauth_alnum_char(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9');
}


static int
ngx_http_order_edit_oauth_hexval(unsigned c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static unsigned char
ngx_http_order_edit_oauth_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c | 0x20) : c;
}


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_sign(const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req, char *buf, size_t size,
    size_t *len)
{
    return ngx_http_order_edit_oauth_sign_md(keys, req,
                                             &ngx_http_order_edit_oauth_sha256,
                                             buf, size, len);
}


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_base_string(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req, char *buf, size_t size,
    size_t *len)
{
    return ngx_http_order_edit_oauth_base_string_md(keys, req,
                                             &ngx_http_order_edit_oauth_sha256,
                                             buf, size, len);
}


static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_sign_md(const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md, char *buf, size_t size,
    size_t *len)
{
    int                               ok;
    size_t                            key_len;
    unsigned char                     key[NGX_HTTP_ORDER_EDIT_OAUTH_KEY_BUF];
    unsigned char                     mac[NGX_HTTP_ORDER_EDIT_OAUTH_MD_MAX];
    unsigned char                     b64[NGX_HTTP_ORDER_EDIT_OAUTH_MD_MAX
                                          * 2];
    ngx_http_order_edit_oauth_rc_e    rc;
    ngx_http_order_edit_oauth_ctx_t   ctx;
    ngx_http_order_edit_oauth_hmac_t  hmac;
    ngx_http_order_edit_oauth_sink_t  sink;

    if (len == NULL || (buf == NULL && size != 0)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    *len = 0;

    if (buf != NULL && size > 0) {
        buf[0] = '\0';
    }

    rc = ngx_http_order_edit_oauth_prepare(keys, req, md, &ctx);
    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        return rc;
    }

    key_len = ngx_http_order_edit_oauth_signing_key(keys, key);
    ok = ngx_http_order_edit_oauth_hmac_init(&hmac, md, key, key_len);
    OPENSSL_cleanse(key, sizeof(key));

    if (!ok) {
        ngx_http_order_edit_oauth_hmac_free(&hmac);
        return NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO;
    }

    memset(&sink, 0, sizeof(sink));
    sink.hmac = &hmac;

    ngx_http_order_edit_oauth_emit_base(&sink, req, &ctx);
    ngx_http_order_edit_oauth_flush(&sink);

    ok = !sink.failed
         && ngx_http_order_edit_oauth_hmac_final(&hmac, mac, sizeof(mac),
                                                 md->size);

    ngx_http_order_edit_oauth_hmac_free(&hmac);
    OPENSSL_cleanse(sink.chunk, sizeof(sink.chunk));

    if (!ok) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO;
    }

    /* md->size <= 64 bytes: 88 characters and a NUL fit in b64[128] */
    (void) EVP_EncodeBlock(b64, mac, (int) md->size);

    memset(&sink, 0, sizeof(sink));
    sink.buf = buf;
    sink.size = size;

    ngx_http_order_edit_oauth_emit_header(&sink, keys, req, &ctx, md,
                                          (const char *) b64,
                                          (md->size + 2) / 3 * 4);

    return ngx_http_order_edit_oauth_finish(&sink, len);
}


static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_base_string_md(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md, char *buf, size_t size,
    size_t *len)
{
    ngx_http_order_edit_oauth_rc_e    rc;
    ngx_http_order_edit_oauth_ctx_t   ctx;
    ngx_http_order_edit_oauth_sink_t  sink;

    if (len == NULL || (buf == NULL && size != 0)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    *len = 0;

    if (buf != NULL && size > 0) {
        buf[0] = '\0';
    }

    rc = ngx_http_order_edit_oauth_prepare(keys, req, md, &ctx);
    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        return rc;
    }

    memset(&sink, 0, sizeof(sink));
    sink.buf = buf;
    sink.size = size;

    ngx_http_order_edit_oauth_emit_base(&sink, req, &ctx);

    return ngx_http_order_edit_oauth_finish(&sink, len);
}


size_t
ngx_http_order_edit_oauth_header_size(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req)
{
    size_t                            n;
    char                              worst[NGX_HTTP_ORDER_EDIT_OAUTH_MD_MAX
                                            * 2];
    ngx_http_order_edit_oauth_ctx_t   ctx;
    ngx_http_order_edit_oauth_sink_t  sink;

    if (keys == NULL || req == NULL) {
        return 0;
    }

    /* what emit_header() would read must be there */
    if (ngx_http_order_edit_oauth_check_keys(keys)
        != NGX_HTTP_ORDER_EDIT_OAUTH_OK
        || req->nonce.len > NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX
        || (req->nonce.len && req->nonce.data == NULL))
    {
        return 0;
    }

    /* only the timestamp of the context is used */
    ctx.ts_len = ngx_http_order_edit_oauth_format_ts(req->timestamp, ctx.ts);

    /* '+', '/' and '=' take three characters each once encoded */
    n = (ngx_http_order_edit_oauth_sha256.size + 2) / 3 * 4;
    memset(worst, '+', n);

    memset(&sink, 0, sizeof(sink));

    ngx_http_order_edit_oauth_emit_header(&sink, keys, req, &ctx,
                                          &ngx_http_order_edit_oauth_sha256,
                                          worst, n);

    return sink.len + 1;
}


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_check_keys(
    const ngx_http_order_edit_oauth_keys_t *keys)
{
    size_t                                  i;
    const ngx_http_order_edit_oauth_str_t  *k[4];

    if (keys == NULL) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    if (keys->realm.len == 0 || keys->realm.data == NULL
        || keys->realm.len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_REALM)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS;
    }

    k[0] = &keys->consumer_key;
    k[1] = &keys->consumer_secret;
    k[2] = &keys->token_id;
    k[3] = &keys->token_secret;

    for (i = 0; i < 4; i++) {
        if (k[i]->len == 0 || k[i]->data == NULL
            || k[i]->len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_KEY)
        {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS;
        }
    }

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


/*
 * Validates everything, parses the URL and collects the parameters to
 * sign, sorted.  Nothing is emitted before all the input is known good.
 */
static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_prepare(const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_md_t *md,
    ngx_http_order_edit_oauth_ctx_t *ctx)
{
    size_t                                    i;
    ngx_http_order_edit_oauth_rc_e            rc;
    ngx_http_order_edit_oauth_item_t         *item;
    const ngx_http_order_edit_oauth_param_t  *p;

    if (keys == NULL || req == NULL) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    rc = ngx_http_order_edit_oauth_check_keys(keys);
    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        return rc;
    }

    if (req->method.len == 0 || req->method.data == NULL
        || req->method.len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_METHOD)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD;
    }

    for (i = 0; i < req->method.len; i++) {
        unsigned char  c = (unsigned char) req->method.data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD;
        }
    }

    if (req->nonce.len < NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MIN
        || req->nonce.len > NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX
        || req->nonce.data == NULL)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE;
    }

    for (i = 0; i < req->nonce.len; i++) {
        if (!ngx_http_order_edit_oauth_alnum_char(
                 (unsigned char) req->nonce.data[i]))
        {
            return NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE;
        }
    }

    if (req->timestamp <= 0) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_ETIMESTAMP;
    }

    ctx->ts_len = ngx_http_order_edit_oauth_format_ts(req->timestamp,
                                                      ctx->ts);

    if (req->nform != 0 && req->form == NULL) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    rc = ngx_http_order_edit_oauth_parse_url(&req->url, &ctx->url);
    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        return rc;
    }

    ctx->nitems = 0;

    rc = ngx_http_order_edit_oauth_add_query(ctx);
    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        return rc;
    }

    for (i = 0; i < req->nform; i++) {
        p = &req->form[i];

        if ((p->name.len && p->name.data == NULL)
            || (p->value.len && p->value.data == NULL))
        {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
        }

        if (p->name.len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL
            || p->value.len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL)
        {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM;
        }

        rc = ngx_http_order_edit_oauth_add(ctx, p->name.data, p->name.len,
                                           p->value.data, p->value.len, 0);
        if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
            return rc;
        }
    }

    /*
     * The protocol parameters come last so that a full table of query and
     * form parameters is ETOOMANY rather than a missing oauth_* one; their
     * slots are reserved by MAX_ITEMS.
     */
    item = &ctx->items[ctx->nitems];

    ngx_http_order_edit_oauth_set(item++, "oauth_consumer_key",
                                  keys->consumer_key.data,
                                  keys->consumer_key.len);
    ngx_http_order_edit_oauth_set(item++, "oauth_token", keys->token_id.data,
                                  keys->token_id.len);
    ngx_http_order_edit_oauth_set(item++, "oauth_signature_method",
                                  md->name, strlen(md->name));
    ngx_http_order_edit_oauth_set(item++, "oauth_timestamp", ctx->ts,
                                  ctx->ts_len);
    ngx_http_order_edit_oauth_set(item++, "oauth_nonce", req->nonce.data,
                                  req->nonce.len);

    if (md->version) {
        ngx_http_order_edit_oauth_set(item++, "oauth_version", "1.0", 3);
    }

    ctx->nitems = (size_t) (item - ctx->items);

    qsort(ctx->items, ctx->nitems, sizeof(ngx_http_order_edit_oauth_item_t),
          ngx_http_order_edit_oauth_cmp_items);

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


static void
ngx_http_order_edit_oauth_set(ngx_http_order_edit_oauth_item_t *item,
    const char *name, const char *value, size_t value_len)
{
    item->name = (const unsigned char *) name;
    item->name_len = strlen(name);
    item->value = (const unsigned char *) value;
    item->value_len = value_len;
    item->form = 0;
}


/* decimal digits of t > 0 (at most 19), nothing for t <= 0 */
static size_t
ngx_http_order_edit_oauth_format_ts(int64_t t, char *buf)
{
    size_t  i, n;
    char    tmp[NGX_HTTP_ORDER_EDIT_OAUTH_TS_LEN];

    for (n = 0; t > 0; t /= 10) {
        tmp[n++] = (char) ('0' + t % 10);
    }

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    return n;
}


/*
 * scheme://host[:port][/path][?query][#fragment] with scheme http or
 * https.  The host may be a name, an IPv4 address or a bracketed IPv6
 * one; user info is refused (it is never signed and never meant here).
 */
static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_parse_url(const ngx_http_order_edit_oauth_str_t *s,
    ngx_http_order_edit_oauth_url_t *url)
{
    unsigned                c;
    unsigned long           port;
    const unsigned char    *p, *last, *auth, *auth_last, *q;

    memset(url, 0, sizeof(*url));

    if (s->len == 0 || s->data == NULL
        || s->len > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    p = (const unsigned char *) s->data;
    last = p + s->len;

    /* the scheme */

    for (q = p; q < last && *q != ':'; q++) {
        /* void */
    }

    if (last - q < 3 || q[1] != '/' || q[2] != '/') {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    url->scheme = p;
    url->scheme_len = (size_t) (q - p);

    if (!((url->scheme_len == 4 && strncasecmp((const char *) p, "http", 4)
           == 0)
          || (url->scheme_len == 5
              && strncasecmp((const char *) p, "https", 5) == 0)))
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    /* the authority */

    auth = q + 3;

    for (auth_last = auth; auth_last < last; auth_last++) {
        c = *auth_last;
        if (c == '/' || c == '?' || c == '#') {
            break;
        }
    }

    if (auth == auth_last) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    url->host = auth;

    if (*auth == '[') {
        for (q = auth + 1; q < auth_last && *q != ']'; q++) {
            c = *q;
            if (!(ngx_http_order_edit_oauth_hexval(c) >= 0 || c == ':'
                  || c == '.'))
            {
                return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
            }
        }

        if (q == auth_last || q == auth + 1) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }

        q++;

    } else {
        for (q = auth; q < auth_last && *q != ':'; q++) {
            c = *q;
            if (!(ngx_http_order_edit_oauth_alnum_char(c) || c == '-'
                  || c == '.' || c == '_'))
            {
                /* '@' (user info) ends up here too */
                return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
            }
        }

        if (q == auth) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }
    }

    url->host_len = (size_t) (q - auth);

    if (q < auth_last) {
        if (*q != ':') {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }

        q++;

        /* 1..65535, no leading zero: one spelling per port */
        if (q == auth_last || auth_last - q > 5 || *q == '0') {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }

        port = 0;
        url->port = q;
        url->port_len = (size_t) (auth_last - q);

        for ( /* void */ ; q < auth_last; q++) {
            if (*q < '0' || *q > '9') {
                return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
            }

            port = port * 10 + (unsigned long) (*q - '0');
        }

        if (port > 65535) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }

        /* RFC 5849 3.4.1.2: the default port of the scheme is left out */
        if ((url->scheme_len == 4 && port == 80)
            || (url->scheme_len == 5 && port == 443))
        {
            url->port = NULL;
            url->port_len = 0;
        }
    }

    /* the path, the query and a fragment (ignored) */

    p = auth_last;

    for (q = p; q < last && *q != '?' && *q != '#'; q++) {
        /* void */
    }

    url->path = p;
    url->path_len = (size_t) (q - p);

    if (!ngx_http_order_edit_oauth_check_chars(p, q)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    if (q < last && *q == '?') {
        p = q + 1;

        for (q = p; q < last && *q != '#'; q++) {
            /* void */
        }

        url->query = p;
        url->query_len = (size_t) (q - p);

        if (!ngx_http_order_edit_oauth_check_chars(p, q)) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
        }
    }

    if (q < last && !ngx_http_order_edit_oauth_check_chars(q + 1, last)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EURL;
    }

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


/*
 * Printable ASCII without space, '%' only as %XX: what a request line can
 * carry, and what makes the query decoding below unambiguous.
 */
static int
ngx_http_order_edit_oauth_check_chars(const unsigned char *p,
    const unsigned char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            return 0;
        }

        if (*p == '%') {
            if (last - p < 3
                || ngx_http_order_edit_oauth_hexval(p[1]) < 0
                || ngx_http_order_edit_oauth_hexval(p[2]) < 0)
            {
                return 0;
            }

            p += 2;
        }
    }

    return 1;
}


/*
 * RFC 5849 3.4.1.3.1: the query is form data.  Empty pieces ("a&&b") are
 * skipped, a piece without '=' is a name with an empty value, and only
 * the first '=' separates.
 */
static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_add_query(ngx_http_order_edit_oauth_ctx_t *ctx)
{
    const unsigned char            *p, *last, *end, *eq;
    ngx_http_order_edit_oauth_rc_e  rc;

    if (ctx->url.query_len == 0) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
    }

    p = ctx->url.query;
    last = p + ctx->url.query_len;

    for ( ;; ) {
        for (end = p; end < last && *end != '&'; end++) {
            /* void */
        }

        if (end > p) {
            for (eq = p; eq < end && *eq != '='; eq++) {
                /* void */
            }

            rc = ngx_http_order_edit_oauth_add(ctx, p, (size_t) (eq - p),
                                               eq < end ? eq + 1 : end,
                                               eq < end
                                               ? (size_t) (end - eq - 1) : 0,
                                               1);
            if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
                return rc;
            }
        }

        if (end == last) {
            return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
        }

        p = end + 1;
    }
}


static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_add(ngx_http_order_edit_oauth_ctx_t *ctx,
    const void *name, size_t name_len, const void *value, size_t value_len,
    unsigned form)
{
    ngx_http_order_edit_oauth_item_t  *item;

    if (ctx->nitems == NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY;
    }

    item = &ctx->items[ctx->nitems];

    item->name = name_len ? name : (const unsigned char *) "";
    item->name_len = name_len;
    item->value = value_len ? value : (const unsigned char *) "";
    item->value_len = value_len;
    item->form = form;

    /*
     * RFC 5849 3.5: each protocol parameter is sent once, in the header;
     * one in the query or the body would be signed next to ours and means
     * the caller is confused.
     */
    if (ngx_http_order_edit_oauth_is_proto(item)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM;
    }

    ctx->nitems++;

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


static int
ngx_http_order_edit_oauth_is_proto(const ngx_http_order_edit_oauth_item_t *item)
{
    int                              c;
    const char                      *prefix;
    ngx_http_order_edit_oauth_src_t  src;

    src.p = item->name;
    src.last = item->name + item->name_len;
    src.form = item->form;

    for (prefix = "oauth_"; *prefix; prefix++) {
        c = ngx_http_order_edit_oauth_decode(&src);
        if (c != *prefix) {
            return 0;
        }
    }

    return 1;
}


/* the next byte a src stands for, -1 at its end */
static int
ngx_http_order_edit_oauth_decode(ngx_http_order_edit_oauth_src_t *src)
{
    int  c, hi, lo;

    if (src->p >= src->last) {
        return -1;
    }

    c = *src->p++;

    if (!src->form) {
        return c;
    }

    if (c == '+') {
        return ' ';
    }

    /* parse_url() checked every escape; the bound check is belt and braces */
    if (c == '%' && src->last - src->p >= 2) {
        hi = ngx_http_order_edit_oauth_hexval(src->p[0]);
        lo = ngx_http_order_edit_oauth_hexval(src->p[1]);

        if (hi >= 0 && lo >= 0) {
            src->p += 2;
            return hi << 4 | lo;
        }
    }

    return c;
}


/* the next character of the percent-encoding of a src, -1 at its end */
static int
ngx_http_order_edit_oauth_enc_next(ngx_http_order_edit_oauth_enc_t *enc)
{
    int  c;

    if (enc->npending) {
        return enc->pending[2 - enc->npending--];
    }

    c = ngx_http_order_edit_oauth_decode(&enc->src);

    if (c < 0 || ngx_http_order_edit_oauth_unreserved((unsigned) c)) {
        return c;
    }

    enc->pending[0] = (unsigned char) ngx_http_order_edit_oauth_hex[c >> 4];
    enc->pending[1] = (unsigned char) ngx_http_order_edit_oauth_hex[c & 15];
    enc->npending = 2;

    return '%';
}


/* compares the percent-encodings of two srcs in byte order */
static int
ngx_http_order_edit_oauth_cmp_src(const unsigned char *a, size_t alen,
    unsigned aform, const unsigned char *b, size_t blen, unsigned bform)
{
    int                              x, y;
    ngx_http_order_edit_oauth_enc_t  ea, eb;

    ea.src.p = a;
    ea.src.last = a + alen;
    ea.src.form = aform;
    ea.npending = 0;

    eb.src.p = b;
    eb.src.last = b + blen;
    eb.src.form = bform;
    eb.npending = 0;

    for ( ;; ) {
        x = ngx_http_order_edit_oauth_enc_next(&ea);
        y = ngx_http_order_edit_oauth_enc_next(&eb);

        /* the end (-1) sorts before any character: "a" < "a1" */
        if (x != y) {
            return x < y ? -1 : 1;
        }

        if (x < 0) {
            return 0;
        }
    }
}


/* RFC 5849 3.4.1.3.2: by encoded name, then by encoded value */
static int
ngx_http_order_edit_oauth_cmp_items(const void *one, const void *two)
{
    int                                      rc;
    const ngx_http_order_edit_oauth_item_t  *a, *b;

    a = one;
    b = two;

    rc = ngx_http_order_edit_oauth_cmp_src(a->name, a->name_len, a->form,
                                           b->name, b->name_len, b->form);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_order_edit_oauth_cmp_src(a->value, a->value_len, a->form,
                                             b->value, b->value_len, b->form);
}


/*
 * METHOD "&" pct(base URI) "&" pct(normalised parameters).  The second
 * encoding of the parameters is folded in: an unreserved byte stays, any
 * other becomes "%25XX", and the '=' and '&' joining them "%3D" and "%26".
 */
static void
ngx_http_order_edit_oauth_emit_base(ngx_http_order_edit_oauth_sink_t *sink,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_ctx_t *ctx)
{
    size_t                                   i;
    unsigned char                            c;
    const ngx_http_order_edit_oauth_url_t   *url;
    const ngx_http_order_edit_oauth_item_t  *item;

    for (i = 0; i < req->method.len; i++) {
        c = (unsigned char) req->method.data[i];
        ngx_http_order_edit_oauth_put(sink, (c >= 'a' && c <= 'z')
                                            ? (unsigned char) (c & ~0x20)
                                            : c);
    }

    ngx_http_order_edit_oauth_put(sink, '&');

    url = &ctx->url;

    ngx_http_order_edit_oauth_put_pct(sink, url->scheme, url->scheme_len,
                                      1, 0);
    ngx_http_order_edit_oauth_puts(sink, "%3A%2F%2F");
    ngx_http_order_edit_oauth_put_pct(sink, url->host, url->host_len, 1, 0);

    if (url->port_len) {
        ngx_http_order_edit_oauth_puts(sink, "%3A");
        ngx_http_order_edit_oauth_put_pct(sink, url->port, url->port_len,
                                          0, 0);
    }

    if (url->path_len) {
        ngx_http_order_edit_oauth_put_pct(sink, url->path, url->path_len,
                                          0, 0);

    } else {
        ngx_http_order_edit_oauth_puts(sink, "%2F");
    }

    ngx_http_order_edit_oauth_put(sink, '&');

    for (i = 0; i < ctx->nitems; i++) {
        item = &ctx->items[i];

        if (i) {
            ngx_http_order_edit_oauth_puts(sink, "%26");
        }

        ngx_http_order_edit_oauth_put_src(sink, item->name, item->name_len,
                                          item->form);
        ngx_http_order_edit_oauth_puts(sink, "%3D");
        ngx_http_order_edit_oauth_put_src(sink, item->value, item->value_len,
                                          item->form);
    }
}


/* RFC 5849 3.5.1; the realm comes first, as NetSuite's examples have it */
static void
ngx_http_order_edit_oauth_emit_header(ngx_http_order_edit_oauth_sink_t *sink,
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req,
    const ngx_http_order_edit_oauth_ctx_t *ctx,
    const ngx_http_order_edit_oauth_md_t *md, const char *sig, size_t sig_len)
{
    ngx_http_order_edit_oauth_puts(sink, "OAuth realm=\"");
    ngx_http_order_edit_oauth_put_pct(sink, keys->realm.data, keys->realm.len,
                                      0, 0);
    ngx_http_order_edit_oauth_puts(sink, "\",oauth_consumer_key=\"");
    ngx_http_order_edit_oauth_put_pct(sink, keys->consumer_key.data,
                                      keys->consumer_key.len, 0, 0);
    ngx_http_order_edit_oauth_puts(sink, "\",oauth_token=\"");
    ngx_http_order_edit_oauth_put_pct(sink, keys->token_id.data,
                                      keys->token_id.len, 0, 0);
    ngx_http_order_edit_oauth_puts(sink, "\",oauth_signature_method=\"");
    ngx_http_order_edit_oauth_puts(sink, md->name);
    ngx_http_order_edit_oauth_puts(sink, "\",oauth_timestamp=\"");
    ngx_http_order_edit_oauth_put_pct(sink, ctx->ts, ctx->ts_len, 0, 0);
    ngx_http_order_edit_oauth_puts(sink, "\",oauth_nonce=\"");
    ngx_http_order_edit_oauth_put_pct(sink, req->nonce.data, req->nonce.len,
                                      0, 0);

    if (md->version) {
        ngx_http_order_edit_oauth_puts(sink, "\",oauth_version=\"1.0");
    }

    ngx_http_order_edit_oauth_puts(sink, "\",oauth_signature=\"");
    ngx_http_order_edit_oauth_put_pct(sink, sig, sig_len, 0, 0);
    ngx_http_order_edit_oauth_put(sink, '"');
}


static void
ngx_http_order_edit_oauth_put(ngx_http_order_edit_oauth_sink_t *sink,
    unsigned char c)
{
    if (sink->hmac) {
        if (sink->nchunk == sizeof(sink->chunk)) {
            ngx_http_order_edit_oauth_flush(sink);
        }

        sink->chunk[sink->nchunk++] = c;

    } else if (sink->len < sink->size) {
        sink->buf[sink->len] = (char) c;
    }

    sink->len++;
}


static void
ngx_http_order_edit_oauth_puts(ngx_http_order_edit_oauth_sink_t *sink,
    const char *s)
{
    while (*s) {
        ngx_http_order_edit_oauth_put(sink, (unsigned char) *s++);
    }
}


/*
 * Percent-encodes raw bytes (RFC 5849 3.6), lower-casing ASCII letters
 * first if "lower" (scheme and host), and encoding twice if "twice".
 */
static void
ngx_http_order_edit_oauth_put_pct(ngx_http_order_edit_oauth_sink_t *sink,
    const void *data, size_t len, unsigned lower, unsigned twice)
{
    size_t                i;
    unsigned char         c;
    const unsigned char  *p;

    p = data;

    for (i = 0; i < len; i++) {
        c = lower ? ngx_http_order_edit_oauth_lower(p[i]) : p[i];

        if (ngx_http_order_edit_oauth_unreserved(c)) {
            ngx_http_order_edit_oauth_put(sink, c);
            continue;
        }

        ngx_http_order_edit_oauth_puts(sink, twice ? "%25" : "%");
        ngx_http_order_edit_oauth_put(sink,
            (unsigned char) ngx_http_order_edit_oauth_hex[c >> 4]);
        ngx_http_order_edit_oauth_put(sink,
            (unsigned char) ngx_http_order_edit_oauth_hex[c & 15]);
    }
}


/* a parameter name or value, decoded, then encoded twice */
static void
ngx_http_order_edit_oauth_put_src(ngx_http_order_edit_oauth_sink_t *sink,
    const unsigned char *p, size_t len, unsigned form)
{
    int                              c;
    unsigned char                    b;
    ngx_http_order_edit_oauth_src_t  src;

    src.p = p;
    src.last = p + len;
    src.form = form;

    while ((c = ngx_http_order_edit_oauth_decode(&src)) >= 0) {
        b = (unsigned char) c;
        ngx_http_order_edit_oauth_put_pct(sink, &b, 1, 0, 1);
    }
}


static void
ngx_http_order_edit_oauth_flush(ngx_http_order_edit_oauth_sink_t *sink)
{
    if (sink->nchunk == 0) {
        return;
    }

    if (!sink->failed
        && !ngx_http_order_edit_oauth_hmac_update(sink->hmac, sink->chunk,
                                                  sink->nchunk))
    {
        sink->failed = 1;
    }

    sink->nchunk = 0;
}


/* NUL-terminates a buffer sink, or reports the size it needed */
static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_finish(ngx_http_order_edit_oauth_sink_t *sink,
    size_t *len)
{
    *len = sink->len;

    if (sink->len >= sink->size) {
        if (sink->size > 0) {
            sink->buf[0] = '\0';
        }

        return NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC;
    }

    sink->buf[sink->len] = '\0';

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


/* RFC 5849 3.4.2: pct(consumer secret) "&" pct(token secret) */
static size_t
ngx_http_order_edit_oauth_signing_key(
    const ngx_http_order_edit_oauth_keys_t *keys, unsigned char *key)
{
    ngx_http_order_edit_oauth_sink_t  sink;

    memset(&sink, 0, sizeof(sink));
    sink.buf = (char *) key;
    sink.size = NGX_HTTP_ORDER_EDIT_OAUTH_KEY_BUF;

    /* both secrets are at most MAX_KEY long: this always fits */
    ngx_http_order_edit_oauth_put_pct(&sink, keys->consumer_secret.data,
                                      keys->consumer_secret.len, 0, 0);
    ngx_http_order_edit_oauth_put(&sink, '&');
    ngx_http_order_edit_oauth_put_pct(&sink, keys->token_secret.data,
                                      keys->token_secret.len, 0, 0);

    return sink.len;
}


#if OPENSSL_VERSION_NUMBER >= 0x30000000L

/*
 * One HMAC context per digest, fetched and set up once per process and
 * duplicated for each signature: EVP_MAC_fetch() and the digest fetched
 * by name in EVP_MAC_init() cost more than the HMAC of a base string
 * (the provider store's lock, lookups and allocations), 7-8% of the
 * dispatching worker's event loop when signed afresh for every request.
 * Never freed: they live as long as the process, as libcrypto's own.
 */

static struct {
    const ngx_http_order_edit_oauth_md_t  *md;
    EVP_MAC_CTX                           *ctx;
} ngx_http_order_edit_oauth_templates[2];


static EVP_MAC_CTX *
ngx_http_order_edit_oauth_hmac_template(
    const ngx_http_order_edit_oauth_md_t *md)
{
    size_t        i, n;
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    n = sizeof(ngx_http_order_edit_oauth_templates)
        / sizeof(ngx_http_order_edit_oauth_templates[0]);

    for (i = 0; i < n; i++) {
        if (ngx_http_order_edit_oauth_templates[i].md == md) {
            return ngx_http_order_edit_oauth_templates[i].ctx;
        }
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) md->digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_order_edit_oauth_templates[i].md == NULL) {
            ngx_http_order_edit_oauth_templates[i].md = md;
            ngx_http_order_edit_oauth_templates[i].ctx = ctx;
            return ctx;
        }
    }

    /* the table holds every digest there is (SHA-256, and SHA-1) */
    EVP_MAC_CTX_free(ctx);

    return NULL;
}


static int
ngx_http_order_edit_oauth_hmac_init(ngx_http_order_edit_oauth_hmac_t *h,
    const ngx_http_order_edit_oauth_md_t *md, const unsigned char *key,
    size_t key_len)
{
    EVP_MAC_CTX  *tpl;

    h->ctx = NULL;

    tpl = ngx_http_order_edit_oauth_hmac_template(md);
    if (tpl == NULL) {
        return 0;
    }

    h->ctx = EVP_MAC_CTX_dup(tpl);
    if (h->ctx == NULL) {
        return 0;
    }

    return EVP_MAC_init(h->ctx, key, key_len, NULL) == 1;
}


static int
ngx_http_order_edit_oauth_hmac_update(ngx_http_order_edit_oauth_hmac_t *h,
    const unsigned char *data, size_t len)
{
    return EVP_MAC_update(h->ctx, data, len) == 1;
}


static int
ngx_http_order_edit_oauth_hmac_final(ngx_http_order_edit_oauth_hmac_t *h,
    unsigned char *out, size_t size, size_t expect)
{
    size_t  n;

    return EVP_MAC_final(h->ctx, out, &n, size) == 1 && n == expect;
}


static void
ngx_http_order_edit_oauth_hmac_free(ngx_http_order_edit_oauth_hmac_t *h)
{
    EVP_MAC_CTX_free(h->ctx);
    h->ctx = NULL;
}

#else

static int
ngx_http_order_edit_oauth_hmac_init(ngx_http_order_edit_oauth_hmac_t *h,
    const ngx_http_order_edit_oauth_md_t *md, const unsigned char *key,
    size_t key_len)
{
    const EVP_MD  *evp;

    h->ctx = HMAC_CTX_new();
    if (h->ctx == NULL) {
        return 0;
    }

    evp = EVP_get_digestbyname(md->digest);
    if (evp == NULL) {
        return 0;
    }

    return HMAC_Init_ex(h->ctx, key, (int) key_len, evp, NULL) == 1;
}


static int
ngx_http_order_edit_oauth_hmac_update(ngx_http_order_edit_oauth_hmac_t *h,
    const unsigned char *data, size_t len)
{
    return HMAC_Update(h->ctx, data, len) == 1;
}


static int
ngx_http_order_edit_oauth_hmac_final(ngx_http_order_edit_oauth_hmac_t *h,
    unsigned char *out, size_t size, size_t expect)
{
    unsigned int  n;

    return size >= EVP_MAX_MD_SIZE && HMAC_Final(h->ctx, out, &n) == 1
           && n == expect;
}


static void
ngx_http_order_edit_oauth_hmac_free(ngx_http_order_edit_oauth_hmac_t *h)
{
    HMAC_CTX_free(h->ctx);
    h->ctx = NULL;
}

#endif


/*
 * Random bytes for nonces, drawn 4 KB at a time: each RAND_bytes() call
 * sets up the DRBG's cipher again, which cost more than the rest of a
 * signature (bench/README.md, "malloc on the event loop").  Each byte is
 * used once and wiped as it is taken; a forked child (nginx's workers)
 * never uses its parent's bytes.  Not for threads: the event loop signs.
 */

static unsigned char  ngx_http_order_edit_oauth_rnd[4096];
static size_t         ngx_http_order_edit_oauth_rnd_pos
                          = sizeof(ngx_http_order_edit_oauth_rnd);
static pid_t          ngx_http_order_edit_oauth_rnd_pid;


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_nonce(char *buf, size_t len)
{
    size_t          n, size;
    unsigned char   r, *rnd;

    if (buf == NULL) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    if (len < NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MIN
        || len > NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE;
    }

    rnd = ngx_http_order_edit_oauth_rnd;
    size = sizeof(ngx_http_order_edit_oauth_rnd);

    if (ngx_http_order_edit_oauth_rnd_pid != getpid()) {
        OPENSSL_cleanse(rnd, size);
        ngx_http_order_edit_oauth_rnd_pos = size;
        ngx_http_order_edit_oauth_rnd_pid = getpid();
    }

    n = 0;

    while (n < len) {
        if (ngx_http_order_edit_oauth_rnd_pos == size) {
            if (RAND_bytes(rnd, (int) size) != 1) {
                return NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO;
            }

            ngx_http_order_edit_oauth_rnd_pos = 0;
        }

        r = rnd[ngx_http_order_edit_oauth_rnd_pos];
        rnd[ngx_http_order_edit_oauth_rnd_pos++] = 0;

        /* 248 = 4 * 62: dropping the rest keeps all 62 equally likely */
        if (r < 248) {
            buf[n++] = ngx_http_order_edit_oauth_alnum[r % 62];
        }
    }

    return NGX_HTTP_ORDER_EDIT_OAUTH_OK;
}


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_realm(const char *account, size_t alen, char *buf,
    size_t size, size_t *len)
{
    return ngx_http_order_edit_oauth_account(account, alen, 1, "", buf, size,
                                             len);
}


ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_host(const char *account, size_t alen,
    ngx_http_order_edit_oauth_service_e service, char *buf, size_t size,
    size_t *len)
{
    const char  *suffix;

    switch (service) {

    case NGX_HTTP_ORDER_EDIT_OAUTH_REST:
        suffix = ".suitetalk.api.netsuite.com";
        break;

    case NGX_HTTP_ORDER_EDIT_OAUTH_RESTLET:
        suffix = ".restlets.api.netsuite.com";
        break;

    default:
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    return ngx_http_order_edit_oauth_account(account, alen, 0, suffix, buf,
                                             size, len);
}


/*
 * An account id becomes part of a host name, so it is held to
 * [A-Za-z0-9_-]: anything else (a '.', a '/') could redirect the keys.
 */
static ngx_http_order_edit_oauth_rc_e
ngx_http_order_edit_oauth_account(const char *account, size_t alen,
    int upper, const char *suffix, char *buf, size_t size, size_t *len)
{
    size_t                            i;
    unsigned char                     c;
    ngx_http_order_edit_oauth_sink_t  sink;

    if (len == NULL || (buf == NULL && size != 0)) {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL;
    }

    *len = 0;

    if (buf != NULL && size > 0) {
        buf[0] = '\0';
    }

    if (account == NULL || alen == 0
        || alen > NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ACCOUNT)
    {
        return NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT;
    }

    for (i = 0; i < alen; i++) {
        c = (unsigned char) account[i];

        if (!(ngx_http_order_edit_oauth_alnum_char(c) || c == '-'
              || c == '_'))
        {
            return NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT;
        }
    }

    memset(&sink, 0, sizeof(sink));
    sink.buf = buf;
    sink.size = size;

    for (i = 0; i < alen; i++) {
        c = (unsigned char) account[i];

        if (upper) {
            c = (c == '-') ? '_'
                : (c >= 'a' && c <= 'z') ? (unsigned char) (c & ~0x20) : c;

        } else {
            c = (c == '_') ? '-' : ngx_http_order_edit_oauth_lower(c);
        }

        ngx_http_order_edit_oauth_put(&sink, c);
    }

    ngx_http_order_edit_oauth_puts(&sink, suffix);

    return ngx_http_order_edit_oauth_finish(&sink, len);
}


const char *
ngx_http_order_edit_oauth_strerror(ngx_http_order_edit_oauth_rc_e rc)
{
    switch (rc) {

    case NGX_HTTP_ORDER_EDIT_OAUTH_OK:
        return "ok";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL:
        return "invalid argument";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS:
        return "realm, consumer key/secret or token id/secret empty or "
               "too long";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD:
        return "http method empty, too long or not letters";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EURL:
        return "url is not http(s)://host[:port][/path][?query] "
               "in printable ascii with valid %xx escapes";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM:
        return "oauth_* parameter in the query or body, or parameter "
               "too long";

    case NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY:
        return "too many query or body parameters";

    case NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE:
        return "nonce is not 6 to 64 alphanumeric characters";

    case NGX_HTTP_ORDER_EDIT_OAUTH_ETIMESTAMP:
        return "timestamp is not positive";

    case NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT:
        return "account id is not 1 to 64 of [A-Za-z0-9_-]";

    case NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC:
        return "output buffer too small";

    case NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO:
        return "openssl failure";
    }

    return "unknown error";
}
