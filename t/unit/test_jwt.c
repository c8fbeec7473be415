
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The OAuth 2.0 client assertion (ngx_http_order_edit_jwt.c) checked by
 * an independent verifier, t/unit/jwt_verify.py (Python's cryptography):
 * PS256 with the digest-long PSS salt, ES256 as raw r||s, base64url
 * without padding; and the key checks nginx -t makes.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "ngx_http_order_edit_jwt.h"


#define OE_AUD  "https://1234567-sb1.suitetalk.api.netsuite.com/services/" \
                "rest/auth/oauth2/v1/token"


static char  oe_dir[] = "/tmp/oe-jwt-XXXXXX";


static EVP_PKEY *
oe_keygen(const char *type, const char *arg, size_t bits)
{
    EVP_PKEY  *k;

    if (strcmp(type, "RSA") == 0) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
    }

    assert_non_null(k);

    return k;
}


/* the private key as the PEM text nginx would read from the file */
static char *
oe_pem(EVP_PKEY *k, size_t *len)
{
    BIO   *b;
    char  *p, *out;
    long   n;

    b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
                                              NULL), 1);
    n = BIO_get_mem_data(b, &p);
    out = malloc(n);
    assert_non_null(out);
    memcpy(out, p, n);
    *len = n;
    BIO_free(b);

    return out;
}


static void
oe_write(const char *name, const char *data, size_t len)
{
    FILE  *f;
    char   path[256];

    snprintf(path, sizeof(path), "%s/%s", oe_dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}


static void
oe_write_pub(EVP_PKEY *k)
{
    BIO   *b;
    char  *p;
    long   n;

    b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    n = BIO_get_mem_data(b, &p);
    oe_write("pub.pem", p, n);
    BIO_free(b);
}


static int
oe_verify(const char *alg)
{
    char  cmd[1024];

    snprintf(cmd, sizeof(cmd), "python3 t/unit/jwt_verify.py %s/pub.pem "
             "%s/jwt %s cert-1 client-1 rest_webservices '%s'", oe_dir,
             oe_dir, alg, OE_AUD);

    return system(cmd);
}


static char *
oe_sign(EVP_PKEY *k, ngx_http_order_edit_jwt_alg_e alg)
{
    int                               rc;
    char                             *jwt, err[256];
    size_t                            len;
    ngx_http_order_edit_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.kid = "cert-1";
    c.iss = "client-1";
    c.scope = "rest_webservices";
    c.aud = OE_AUD;
    c.iat = 1700000000;
    c.exp = c.iat + 300;

    rc = ngx_http_order_edit_jwt_sign(k, alg, &c, &jwt, &len, err,
                                      sizeof(err));
    if (rc != 0) {
        fail_msg("sign: %s", err);
    }

    assert_int_equal(strlen(jwt), len);
    oe_write("jwt", jwt, len);

    return jwt;
}


static void
oe_roundtrip(const char *type, const char *curve, size_t bits,
    const char *name, ngx_http_order_edit_jwt_alg_e want, size_t siglen)
{
    char                           *pem, *jwt, *dot, *other, *odot,
                                    err[256];
    size_t                          len;
    EVP_PKEY                       *gen, *k;
    ngx_http_order_edit_jwt_alg_e   alg;

    gen = oe_keygen(type, curve, bits);
    pem = oe_pem(gen, &len);

    /* AUTO: the algorithm follows the key */
    if (ngx_http_order_edit_jwt_key_load(pem, len,
                                         NGX_HTTP_ORDER_EDIT_JWT_AUTO, &k,
                                         &alg, err, sizeof(err))
        != 0)
    {
        fail_msg("load: %s", err);
    }

    assert_int_equal(alg, want);
    assert_string_equal(ngx_http_order_edit_jwt_alg_name(alg), name);

    oe_write_pub(gen);

    jwt = oe_sign(k, alg);

    /* base64url: no padding, no '+' or '/' */
    assert_null(strpbrk(jwt, "=+/"));

    if (siglen) {
        dot = strrchr(jwt, '.');
        assert_int_equal(strlen(dot + 1), (siglen * 4 + 2) / 3);
    }

    assert_int_equal(oe_verify(name), 0);

    /* the verifier can fail: one changed byte of the signature */
    dot = strrchr(jwt, '.');
    dot[5] = (dot[5] == 'A') ? 'B' : 'A';
    oe_write("jwt", jwt, strlen(jwt));
    assert_int_not_equal(oe_verify(name), 0);

    /* and another assertion's claims (another jti) under the signature */
    free(jwt);
    jwt = oe_sign(k, alg);
    other = oe_sign(k, alg);
    dot = strchr(jwt, '.');
    odot = strchr(other, '.');
    assert_int_equal(strchr(dot + 1, '.') - dot,
                     strchr(odot + 1, '.') - odot);
    memcpy(dot, odot, strchr(odot + 1, '.') - odot);
    oe_write("jwt", jwt, strlen(jwt));
    assert_int_not_equal(oe_verify(name), 0);

    free(other);
    free(jwt);
    free(pem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(gen);
}


static void
test_ps256(void **state)
{
    (void) state;

    oe_roundtrip("RSA", NULL, 3072, "PS256", NGX_HTTP_ORDER_EDIT_JWT_PS256,
                 0);
}


static void
test_es256(void **state)
{
    (void) state;

    /* 64 bytes of r||s, never the 70-odd of DER */
    oe_roundtrip("EC", "P-256", 0, "ES256", NGX_HTTP_ORDER_EDIT_JWT_ES256,
                 64);
}


static void
test_es512(void **state)
{
    (void) state;

    oe_roundtrip("EC", "P-521", 0, "ES512", NGX_HTTP_ORDER_EDIT_JWT_ES512,
                 132);
}


/* every PS256 signature differs (a random salt) and so does every jti */

static void
test_fresh(void **state)
{
    (void) state;

    char      *a, *b, *pem, err[256];
    size_t     len;
    EVP_PKEY  *gen, *k;
    ngx_http_order_edit_jwt_alg_e  alg;

    gen = oe_keygen("EC", "P-256", 0);
    pem = oe_pem(gen, &len);
    assert_int_equal(ngx_http_order_edit_jwt_key_load(pem, len,
                         NGX_HTTP_ORDER_EDIT_JWT_ES256, &k, &alg, err,
                         sizeof(err)), 0);
    a = oe_sign(k, alg);
    b = oe_sign(k, alg);
    assert_string_not_equal(a, b);
    assert_string_not_equal(strchr(a, '.'), strchr(b, '.'));

    free(a);
    free(b);
    free(pem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(gen);
}


static void
oe_refused(EVP_PKEY *gen, ngx_http_order_edit_jwt_alg_e alg,
    const char *why)
{
    char      *pem, err[256];
    size_t     len;
    EVP_PKEY  *k;
    ngx_http_order_edit_jwt_alg_e  out;

    pem = oe_pem(gen, &len);
    assert_int_equal(ngx_http_order_edit_jwt_key_load(pem, len, alg, &k,
                                                      &out, err,
                                                      sizeof(err)), -1);
    assert_null(k);
    assert_non_null(strstr(err, why));
    free(pem);
}


static void
test_key_checks(void **state)
{
    (void) state;

    char      err[256];
    EVP_PKEY  *rsa2048, *p256, *k;
    ngx_http_order_edit_jwt_alg_e  out;

    rsa2048 = oe_keygen("RSA", NULL, 2048);
    p256 = oe_keygen("EC", "P-256", 0);

    oe_refused(rsa2048, NGX_HTTP_ORDER_EDIT_JWT_AUTO, "2048 bits");
    oe_refused(p256, NGX_HTTP_ORDER_EDIT_JWT_PS256, "cannot sign PS256");
    oe_refused(p256, NGX_HTTP_ORDER_EDIT_JWT_ES384, "cannot sign ES384");

    assert_int_equal(ngx_http_order_edit_jwt_key_load("hello", 5,
                         NGX_HTTP_ORDER_EDIT_JWT_AUTO, &k, &out, err,
                         sizeof(err)), -1);
    assert_non_null(strstr(err, "PEM private key"));

    assert_int_equal(ngx_http_order_edit_jwt_alg_parse("PS256", 5),
                     NGX_HTTP_ORDER_EDIT_JWT_PS256);
    assert_int_equal(ngx_http_order_edit_jwt_alg_parse("ES512", 5),
                     NGX_HTTP_ORDER_EDIT_JWT_ES512);
    assert_int_equal(ngx_http_order_edit_jwt_alg_parse("auto", 4),
                     NGX_HTTP_ORDER_EDIT_JWT_AUTO);
    assert_int_equal(ngx_http_order_edit_jwt_alg_parse("RS256", 5), -1);
    assert_null(ngx_http_order_edit_jwt_alg_name(
                    NGX_HTTP_ORDER_EDIT_JWT_AUTO));

    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(p256);
}


static int
oe_setup(void **state)
{
    (void) state;

    return mkdtemp(oe_dir) == NULL ? -1 : 0;
}


static int
oe_teardown(void **state)
{
    (void) state;

    char  cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", oe_dir);

    return system(cmd) == 0 ? 0 : -1;
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_ps256),
        cmocka_unit_test(test_es256),
        cmocka_unit_test(test_es512),
        cmocka_unit_test(test_fresh),
        cmocka_unit_test(test_key_checks),
    };

    return cmocka_run_group_tests(tests, oe_setup, oe_teardown);
}
