
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The client assertion of NetSuite's OAuth 2.0 client credentials (M2M)
 * flow: a JWT built with jansson and signed with OpenSSL's EVP, PS256/
 * PS384/PS512 (RSA-PSS, salt as long as the digest) or ES256/ES384/ES512
 * (ECDSA, the raw r||s of RFC 7518 3.4), base64url without padding.
 * Pure C + jansson + libcrypto (no nginx headers): compiled into the
 * module and into the cmocka unit tests.
 *
 * Oracle's help, "The Request Token Structure" (section_162790605110):
 * header typ JWT, alg, kid = the certificate id of the M2M mapping;
 * claims iss = the client id, scope, aud = the token endpoint, iat, exp
 * less than 60 minutes after iat.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_JWT_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * OpenSSL's key, by its tag only: a header nginx files read must not pull
 * system headers in before nginx's own (tools/check-includes.sh); the .c
 * files that use a key include <openssl/evp.h>, which names it the same.
 */
struct evp_pkey_st;


typedef enum {
    NGX_HTTP_ORDER_EDIT_JWT_AUTO = 0,      /* from the key's type and size */
    NGX_HTTP_ORDER_EDIT_JWT_PS256,
    NGX_HTTP_ORDER_EDIT_JWT_PS384,
    NGX_HTTP_ORDER_EDIT_JWT_PS512,
    NGX_HTTP_ORDER_EDIT_JWT_ES256,
    NGX_HTTP_ORDER_EDIT_JWT_ES384,
    NGX_HTTP_ORDER_EDIT_JWT_ES512
} ngx_http_order_edit_jwt_alg_e;


/* what an assertion says; every string NUL-terminated */
typedef struct {
    const char                      *kid;     /* certificate id */
    const char                      *iss;     /* client id */
    const char                      *scope;   /* "rest_webservices", ... */
    const char                      *aud;     /* the token endpoint URL */
    int64_t                          iat;
    int64_t                          exp;
    const char                      *jti;     /* NULL: 128 random bits */
} ngx_http_order_edit_jwt_claims_t;


/*
 * Reads a PEM private key (PKCS#8 or traditional RSA/EC, unencrypted)
 * and checks it against "alg" (AUTO: RSA -> PS256, EC P-256/384/521 ->
 * ES256/384/512): RSA keys of 3072 bits or more, the EC curve matching
 * the algorithm, as NetSuite's "Certificate Conditions" require.  On
 * success *key owns a reference (EVP_PKEY_free() it) and *alg_out the
 * algorithm.  On failure returns -1 with a reason in err (never any key
 * material).
 */
int ngx_http_order_edit_jwt_key_load(const char *pem, size_t len,
    ngx_http_order_edit_jwt_alg_e alg, struct evp_pkey_st **key,
    ngx_http_order_edit_jwt_alg_e *alg_out, char *err, size_t errlen);

/*
 * The assertion header.payload.signature, NUL-terminated, in memory from
 * malloc() (free() it; it is a credential for as long as exp allows, so
 * never log it).  Returns -1 with a reason in err.
 */
int ngx_http_order_edit_jwt_sign(struct evp_pkey_st *key,
    ngx_http_order_edit_jwt_alg_e alg,
    const ngx_http_order_edit_jwt_claims_t *claims, char **out,
    size_t *outlen, char *err, size_t errlen);

/* "PS256", ...; NULL for AUTO or a bad value */
const char *ngx_http_order_edit_jwt_alg_name(
    ngx_http_order_edit_jwt_alg_e alg);

/* the algorithm of a name ("PS256"), AUTO for "auto", -1 if unknown */
int ngx_http_order_edit_jwt_alg_parse(const char *name, size_t len);


#endif /* _NGX_HTTP_ORDER_EDIT_JWT_H_INCLUDED_ */
