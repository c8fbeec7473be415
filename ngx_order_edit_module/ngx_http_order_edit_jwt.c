
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * A JWT client assertion: JSON by jansson, signature by EVP_DigestSign,
 * base64 by EVP_EncodeBlock (then made url-safe and unpadded).  Nothing
 * here does arithmetic on key material.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "ngx_http_order_edit_jwt.h"


/* NetSuite's "Certificate Conditions": RSA keys of 3072 or 4096 bits */
#define NGX_HTTP_ORDER_EDIT_JWT_RSA_MIN   3072

/* a PEM key file of an RSA 16384-bit key is under 13 KB */
#define NGX_HTTP_ORDER_EDIT_JWT_PEM_MAX   65536


typedef struct {
    const char                      *name;
    const char                      *digest;
    int                              ec_bits;   /* 0: RSA-PSS */
    size_t                           ec_len;    /* of r and of s */
} ngx_http_order_edit_jwt_def_t;


static const ngx_http_order_edit_jwt_def_t  ngx_http_order_edit_jwt_defs[] = {
    { NULL, NULL, 0, 0 },
    { "PS256", "SHA256", 0, 0 },
    { "PS384", "SHA384", 0, 0 },
    { "PS512", "SHA512", 0, 0 },
    { "ES256", "SHA256", 256, 32 },
    { "ES384", "SHA384", 384, 48 },
    { "ES512", "SHA512", 521, 66 }
};


static size_t ngx_http_order_edit_jwt_b64url(char *dst,
    const unsigned char *src, size_t len);
static char *ngx_http_order_edit_jwt_b64url_json(json_t *j, size_t *len);


const char *
ngx_http_order_edit_jwt_alg_name(ngx_http_order_edit_jwt_alg_e alg)
{
    if (alg <= NGX_HTTP_ORDER_EDIT_JWT_AUTO
        || alg > NGX_HTTP_ORDER_EDIT_JWT_ES512)
    {
        return NULL;
    }

    return ngx_http_order_edit_jwt_defs[alg].name;
}


int
ngx_http_order_edit_jwt_alg_parse(const char *name, size_t len)
{
    int  i;

    if (len == 4 && strncmp(name, "auto", 4) == 0) {
        return NGX_HTTP_ORDER_EDIT_JWT_AUTO;
    }

    for (i = NGX_HTTP_ORDER_EDIT_JWT_PS256;
         i <= NGX_HTTP_ORDER_EDIT_JWT_ES512;
         i++)
    {
        if (len == 5 && strncmp(name, ngx_http_order_edit_jwt_defs[i].name, 5)
                        == 0)
        {
            return i;
        }
    }

    return -1;
}


int
ngx_http_order_edit_jwt_key_load(const char *pem, size_t len,
    ngx_http_order_edit_jwt_alg_e alg, EVP_PKEY **key,
    ngx_http_order_edit_jwt_alg_e *alg_out, char *err, size_t errlen)
{
    int        type, bits;
    BIO       *bio;
    EVP_PKEY  *pk;

    *key = NULL;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_JWT_PEM_MAX) {
        snprintf(err, errlen, "not a PEM private key");
        return -1;
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    /* no passphrase callback: an encrypted key fails here, not at a tty */
    pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *) "");
    BIO_free(bio);
    ERR_clear_error();

    if (pk == NULL) {
        snprintf(err, errlen, "not an unencrypted PEM private key "
                 "(\"-----BEGIN PRIVATE KEY-----\")");
        return -1;
    }

    type = EVP_PKEY_get_base_id(pk);
    bits = EVP_PKEY_get_bits(pk);

    if (type == EVP_PKEY_RSA) {
        if (alg == NGX_HTTP_ORDER_EDIT_JWT_AUTO) {
            alg = NGX_HTTP_ORDER_EDIT_JWT_PS256;
        }

        if (ngx_http_order_edit_jwt_defs[alg].ec_bits != 0) {
            snprintf(err, errlen, "an RSA key cannot sign %s",
                     ngx_http_order_edit_jwt_defs[alg].name);
            goto failed;
        }

        if (bits < NGX_HTTP_ORDER_EDIT_JWT_RSA_MIN) {
            snprintf(err, errlen, "an RSA key of %d bits; NetSuite accepts "
                     "3072 or 4096", bits);
            goto failed;
        }

    } else if (type == EVP_PKEY_EC) {
        if (alg == NGX_HTTP_ORDER_EDIT_JWT_AUTO) {
            alg = (bits == 256) ? NGX_HTTP_ORDER_EDIT_JWT_ES256
                  : (bits == 384) ? NGX_HTTP_ORDER_EDIT_JWT_ES384
                  : (bits == 521) ? NGX_HTTP_ORDER_EDIT_JWT_ES512
                  : NGX_HTTP_ORDER_EDIT_JWT_AUTO;

            if (alg == NGX_HTTP_ORDER_EDIT_JWT_AUTO) {
                snprintf(err, errlen, "an EC key of %d bits; NetSuite "
                         "accepts P-256, P-384 or P-521", bits);
                goto failed;
            }
        }

        if (ngx_http_order_edit_jwt_defs[alg].ec_bits != bits) {
            snprintf(err, errlen, "an EC key of %d bits cannot sign %s",
                     bits, ngx_http_order_edit_jwt_defs[alg].name);
            goto failed;
        }

    } else {
        snprintf(err, errlen, "neither an RSA nor an EC key");
        goto failed;
    }

    *key = pk;
    *alg_out = alg;

    return 0;

failed:

    EVP_PKEY_free(pk);

    return -1;
}


int
ngx_http_order_edit_jwt_sign(EVP_PKEY *key,
    ngx_http_order_edit_jwt_alg_e alg,
    const ngx_http_order_edit_jwt_claims_t *claims, char **out,
    size_t *outlen, char *err, size_t errlen)
{
    int                                   rc;
    char                                 *h, *p, *jwt, jti[33];
    json_t                               *hdr, *pay;
    size_t                                hlen, plen, siglen, n, i;
    ECDSA_SIG                            *ecs;
    EVP_MD_CTX                           *md;
    EVP_PKEY_CTX                         *pctx;
    const BIGNUM                         *r, *s;
    unsigned char                        *sig, raw[2 * 66], rnd[16];
    const unsigned char                  *der;
    const ngx_http_order_edit_jwt_def_t  *def;

    *out = NULL;
    rc = -1;
    h = NULL;
    p = NULL;
    sig = NULL;
    md = NULL;

    if (alg <= NGX_HTTP_ORDER_EDIT_JWT_AUTO
        || alg > NGX_HTTP_ORDER_EDIT_JWT_ES512
        || claims->kid == NULL || claims->iss == NULL
        || claims->scope == NULL || claims->aud == NULL)
    {
        snprintf(err, errlen, "invalid arguments");
        return -1;
    }

    def = &ngx_http_order_edit_jwt_defs[alg];

    if (claims->jti == NULL) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            snprintf(err, errlen, "RAND_bytes() failed");
            return -1;
        }

        for (i = 0; i < sizeof(rnd); i++) {
            snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
        }
    }

    hdr = json_pack("{s:s, s:s, s:s}", "alg", def->name, "typ", "JWT",
                    "kid", claims->kid);
    pay = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}",
                    "iss", claims->iss, "scope", claims->scope,
                    "aud", claims->aud, "iat", (json_int_t) claims->iat,
                    "exp", (json_int_t) claims->exp,
                    "jti", claims->jti ? claims->jti : jti);

    if (hdr == NULL || pay == NULL) {
        snprintf(err, errlen, "a claim is not UTF-8");
        goto done;
    }

    h = ngx_http_order_edit_jwt_b64url_json(hdr, &hlen);
    p = ngx_http_order_edit_jwt_b64url_json(pay, &plen);

    if (h == NULL || p == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    pctx = NULL;

    if (EVP_DigestSignInit_ex(md, &pctx, def->digest, NULL, NULL, key, NULL)
        != 1)
    {
        snprintf(err, errlen, "EVP_DigestSignInit_ex(%s) failed",
                 def->digest);
        goto done;
    }

    if (def->ec_bits == 0
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1))
    {
        snprintf(err, errlen, "RSA-PSS parameters refused");
        goto done;
    }

    /* the signing input is ASCII(BASE64URL(header) "." BASE64URL(payload)) */
    if (EVP_DigestSignUpdate(md, h, hlen) != 1
        || EVP_DigestSignUpdate(md, ".", 1) != 1
        || EVP_DigestSignUpdate(md, p, plen) != 1
        || EVP_DigestSignFinal(md, NULL, &siglen) != 1)
    {
        snprintf(err, errlen, "EVP_DigestSign failed");
        goto done;
    }

    sig = malloc(siglen);
    if (sig == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    if (EVP_DigestSignFinal(md, sig, &siglen) != 1) {
        snprintf(err, errlen, "EVP_DigestSignFinal failed");
        goto done;
    }

    if (def->ec_bits) {
        /* DER SEQUENCE { r, s } -> fixed-width r || s (RFC 7518 3.4) */
        der = sig;
        ecs = d2i_ECDSA_SIG(NULL, &der, (long) siglen);
        if (ecs == NULL) {
            snprintf(err, errlen, "cannot read the ECDSA signature");
            goto done;
        }

        ECDSA_SIG_get0(ecs, &r, &s);

        if (BN_bn2binpad(r, raw, (int) def->ec_len) < 0
            || BN_bn2binpad(s, raw + def->ec_len, (int) def->ec_len) < 0)
        {
            ECDSA_SIG_free(ecs);
            snprintf(err, errlen, "ECDSA signature too long");
            goto done;
        }

        ECDSA_SIG_free(ecs);

        memcpy(sig, raw, 2 * def->ec_len);
        siglen = 2 * def->ec_len;
    }

    n = hlen + 1 + plen + 1 + (siglen + 2) / 3 * 4 + 4 + 1;

    jwt = malloc(n);
    if (jwt == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    memcpy(jwt, h, hlen);
    jwt[hlen] = '.';
    memcpy(jwt + hlen + 1, p, plen);
    jwt[hlen + 1 + plen] = '.';
    n = hlen + 1 + plen + 1;
    n += ngx_http_order_edit_jwt_b64url(jwt + n, sig, siglen);
    jwt[n] = '\0';

    *out = jwt;
    *outlen = n;
    rc = 0;

done:

    ERR_clear_error();
    EVP_MD_CTX_free(md);
    free(sig);
    free(h);
    free(p);
    json_decref(hdr);
    json_decref(pay);

    return rc;
}


/* base64url without padding (RFC 7515 2); dst holds 4 * ceil(len/3) + 1 */

static size_t
ngx_http_order_edit_jwt_b64url(char *dst, const unsigned char *src,
    size_t len)
{
    int     n;
    size_t  i;

    n = EVP_EncodeBlock((unsigned char *) dst, src, (int) len);

    while (n > 0 && dst[n - 1] == '=') {
        n--;
    }

    for (i = 0; i < (size_t) n; i++) {
        if (dst[i] == '+') {
            dst[i] = '-';

        } else if (dst[i] == '/') {
            dst[i] = '_';
        }
    }

    dst[n] = '\0';

    return (size_t) n;
}


static char *
ngx_http_order_edit_jwt_b64url_json(json_t *j, size_t *len)
{
    char    *text, *b;
    size_t   tlen;

    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return NULL;
    }

    tlen = strlen(text);

    b = malloc((tlen + 2) / 3 * 4 + 1);
    if (b != NULL) {
        *len = ngx_http_order_edit_jwt_b64url(b, (unsigned char *) text,
                                              tlen);
    }

    free(text);

    return b;
}
