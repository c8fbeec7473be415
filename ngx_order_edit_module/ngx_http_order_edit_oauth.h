
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite Token-Based Authentication: OAuth 1.0a (RFC 5849) request
 * signing with HMAC-SHA256.  Pure C + OpenSSL libcrypto (no nginx
 * headers): compiled into the module and into the cmocka unit tests.
 *
 * Nothing here allocates: every result goes into a buffer the caller
 * owns, and no function writes at or past buf[size].  Strings are
 * (len, data) pairs like ngx_str_t; they need no NUL and may contain any
 * byte.  Functions that produce text follow snprintf: "*len" receives
 * the full length without the NUL, the buffer must hold *len + 1 bytes,
 * and a buffer that is too small gives NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC
 * (and an empty string when size > 0) with *len still telling the length
 * needed.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_OAUTH_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_OAUTH_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Input limits.  NetSuite's keys and secrets are 64 hex characters and
 * its account ids a dozen; anything far longer is a wrong file, not a
 * key.
 */
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_REALM    64
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_KEY      256
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_METHOD   16
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL      8192
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ACCOUNT  64

/* query plus form parameters of one request (oauth_* not counted) */
#define NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS   64

/* NetSuite (and the simulator) want 6 to 64 alphanumeric characters */
#define NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MIN    6
#define NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX    64

/* what the dispatcher should use: 190 bits of entropy */
#define NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN    32

/*
 * Enough for any Authorization value of keys within the limits above,
 * NUL included: a stack buffer of this size never gets ENOSPC.
 */
#define NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX   2400

/* the longest host: account label plus ".suitetalk.api.netsuite.com" */
#define NGX_HTTP_ORDER_EDIT_OAUTH_HOST_MAX                                    \
    (NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ACCOUNT + 32)


typedef enum {
    NGX_HTTP_ORDER_EDIT_OAUTH_OK = 0,
    NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL,     /* NULL argument, bad service */
    NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS,      /* realm or a key empty/too long */
    NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD,    /* method empty, long, not A-Za-z */
    NGX_HTTP_ORDER_EDIT_OAUTH_EURL,       /* not http(s)://host[:port]... */
    NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM,     /* oauth_* in query/form, too long */
    NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY,   /* more than MAX_PARAMS params */
    NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE,     /* not 6..64 alphanumerics */
    NGX_HTTP_ORDER_EDIT_OAUTH_ETIMESTAMP, /* not positive */
    NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT,   /* not 1..64 of [A-Za-z0-9_-] */
    NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC,     /* output buffer too small */
    NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO     /* OpenSSL failed (HMAC, RAND) */
} ngx_http_order_edit_oauth_rc_e;


typedef enum {
    NGX_HTTP_ORDER_EDIT_OAUTH_REST = 0,   /* <acct>.suitetalk.api... */
    NGX_HTTP_ORDER_EDIT_OAUTH_RESTLET     /* <acct>.restlets.api... */
} ngx_http_order_edit_oauth_service_e;


typedef struct {
    size_t                    len;
    const char               *data;
} ngx_http_order_edit_oauth_str_t;


/*
 * One integration's TBA credentials.  "realm" is sent exactly as given
 * (make it with ngx_http_order_edit_oauth_realm()) and is never signed.
 */
typedef struct {
    ngx_http_order_edit_oauth_str_t  realm;
    ngx_http_order_edit_oauth_str_t  consumer_key;
    ngx_http_order_edit_oauth_str_t  consumer_secret;
    ngx_http_order_edit_oauth_str_t  token_id;
    ngx_http_order_edit_oauth_str_t  token_secret;
} ngx_http_order_edit_oauth_keys_t;


/* a decoded name/value pair of an application/x-www-form-urlencoded body */
typedef struct {
    ngx_http_order_edit_oauth_str_t  name;
    ngx_http_order_edit_oauth_str_t  value;
} ngx_http_order_edit_oauth_param_t;


/*
 * One request to sign.  "url" is the exact URL sent,
 * scheme://host[:port][/path][?query]: http or https, no user info, '%'
 * only as %XX, printable ASCII only.  Its query parameters are signed;
 * the path is signed as given.  "form" lists the decoded parameters of a
 * form-encoded body (NULL/0 for a JSON body, which is never signed).
 * "timestamp" is seconds since the epoch (ngx_time()); "nonce" is fresh
 * per request (ngx_http_order_edit_oauth_nonce()).
 */
typedef struct {
    ngx_http_order_edit_oauth_str_t           method;
    ngx_http_order_edit_oauth_str_t           url;
    const ngx_http_order_edit_oauth_param_t  *form;
    size_t                                    nform;
    int64_t                                   timestamp;
    ngx_http_order_edit_oauth_str_t           nonce;
} ngx_http_order_edit_oauth_request_t;


/*
 * Writes the Authorization header value (without "Authorization: "):
 * OAuth realm="...",oauth_consumer_key="...",oauth_token="...",
 * oauth_signature_method="HMAC-SHA256",oauth_timestamp="...",
 * oauth_nonce="...",oauth_version="1.0",oauth_signature="..."
 * with every value percent-encoded.  snprintf-like (see above).
 */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_sign(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req, char *buf, size_t size,
    size_t *len);

/*
 * A buffer size (NUL included) that is always enough for
 * ngx_http_order_edit_oauth_sign() with these inputs; exact but for the
 * signature, which is counted at its longest encoding (at most 88 bytes
 * over).  0 if the keys or the nonce are unusable (sign() says which).
 */
size_t ngx_http_order_edit_oauth_header_size(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req);

/*
 * Writes the RFC 5849 signature base string that
 * ngx_http_order_edit_oauth_sign() signs for the same inputs, for tests
 * and for debug logs next to a 401.  It holds no secret.  snprintf-like.
 */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_base_string(
    const ngx_http_order_edit_oauth_keys_t *keys,
    const ngx_http_order_edit_oauth_request_t *req, char *buf, size_t size,
    size_t *len);

/* the checks sign() makes on the keys alone, for configuration time */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_check_keys(
    const ngx_http_order_edit_oauth_keys_t *keys);

/*
 * Fills buf with exactly "len" (6..64) random alphanumeric characters
 * from RAND_bytes(), no NUL.
 */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_nonce(char *buf,
    size_t len);

/*
 * The realm of a NetSuite account id: upper case, '-' -> '_'
 * ("1234567-sb1" -> "1234567_SB1").  snprintf-like.
 */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_realm(
    const char *account, size_t alen, char *buf, size_t size, size_t *len);

/*
 * The API host of a NetSuite account id: lower case, '_' -> '-', then
 * ".suitetalk.api.netsuite.com" (REST) or ".restlets.api.netsuite.com"
 * (RESTLET): "1234567_SB1" -> "1234567-sb1.suitetalk.api.netsuite.com".
 * snprintf-like.
 */
ngx_http_order_edit_oauth_rc_e ngx_http_order_edit_oauth_host(
    const char *account, size_t alen,
    ngx_http_order_edit_oauth_service_e service, char *buf, size_t size,
    size_t *len);

/* a short lower-case reason, for log messages */
const char *ngx_http_order_edit_oauth_strerror(
    ngx_http_order_edit_oauth_rc_e rc);


#endif /* _NGX_HTTP_ORDER_EDIT_OAUTH_H_INCLUDED_ */
