
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite TBA signing (OAuth 1.0a, RFC 5849): RFC examples, percent-
 * encoding, parameter normalisation, URL rules, input validation, buffer
 * bounds, and vectors from the project's Python signer tools/nsoauth.py
 * (the same code the NetSuite simulator verifies with).
 *
 * The module's .c is included so that the tests reach its HMAC-SHA1 mode:
 * RFC 5849's examples are SHA1, which the public API does not offer.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/hmac.h>

#include "ngx_http_order_edit_oauth.c"


#define OE_S(s)          { sizeof(s) - 1, (s) }
#define OE_BUF           16384


typedef ngx_http_order_edit_oauth_keys_t     oe_keys_t;
typedef ngx_http_order_edit_oauth_request_t  oe_req_t;
typedef ngx_http_order_edit_oauth_param_t    oe_param_t;


/* RFC 5849 examples: HMAC-SHA1 without oauth_version */
static const ngx_http_order_edit_oauth_md_t  oe_rfc_sha1
    = { "HMAC-SHA1", "SHA1", 20, 0 };


/* the keys of the nsoauth.py vectors (made up, NetSuite-shaped) */
static const oe_keys_t  oe_ns_keys = {
    OE_S("1234567_SB1"),
    OE_S("ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4"),
    OE_S("d5f5f2ae6a4eb4e6e1d6a1bd0f2f3b0f8d9b3e8a6f7c1e2d3b4a5c6d7e8f9a0b"),
    OE_S("2ea1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2"),
    OE_S("7c9e6f5d4c3b2a1908f7e6d5c4b3a2918f0e1d2c3b4a5968778695a4b3c2d1e0")
};


static oe_req_t
oe_req(const char *method, const char *url)
{
    oe_req_t  r;

    memset(&r, 0, sizeof(r));
    r.method.data = method;
    r.method.len = strlen(method);
    r.url.data = url;
    r.url.len = strlen(url);
    r.timestamp = 1718000000;
    r.nonce.data = "4kZr8QpW2mXv7TnB1yLs";
    r.nonce.len = 20;

    return r;
}


static void
oe_str(ngx_http_order_edit_oauth_str_t *s, const char *v)
{
    s->data = v;
    s->len = strlen(v);
}


/* the base string of a request, asserting success */
static char *
oe_base(const oe_keys_t *keys, const oe_req_t *req,
    const ngx_http_order_edit_oauth_md_t *md)
{
    size_t       len;
    static char  buf[OE_BUF];

    assert_int_equal(ngx_http_order_edit_oauth_base_string_md(keys, req, md,
                                                        buf, sizeof(buf),
                                                        &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_int_equal(len, strlen(buf));

    return buf;
}


static char *
oe_sign(const oe_keys_t *keys, const oe_req_t *req,
    const ngx_http_order_edit_oauth_md_t *md)
{
    size_t       len;
    static char  buf[OE_BUF];

    assert_int_equal(ngx_http_order_edit_oauth_sign_md(keys, req, md, buf,
                                                       sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_int_equal(len, strlen(buf));

    if (md == &ngx_http_order_edit_oauth_sha256) {
        assert_true(len + 1
                    <= ngx_http_order_edit_oauth_header_size(keys, req));
    }

    return buf;
}


/* decodes %XX in place (the third part of a base string, for reading) */
static char *
oe_unpct(const char *s)
{
    char         *d;
    unsigned      c;
    static char   buf[OE_BUF];

    for (d = buf; *s; d++) {
        if (*s == '%' && sscanf(s + 1, "%2X", &c) == 1) {
            *d = (char) c;
            s += 3;

        } else {
            *d = *s++;
        }
    }

    *d = '\0';

    return buf;
}


/* the normalised parameters of a request (decoded third part) */
static char *
oe_params(const oe_keys_t *keys, const oe_req_t *req)
{
    char  *base, *amp;

    base = oe_base(keys, req, &ngx_http_order_edit_oauth_sha256);
    amp = strchr(strchr(base, '&') + 1, '&');
    assert_non_null(amp);

    return oe_unpct(amp + 1);
}


static int
oe_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}


/* the base string URI of a request (decoded second part) */
static char *
oe_uri(const char *url)
{
    char      *base, *first, *second;
    oe_req_t   r;

    r = oe_req("GET", url);
    base = oe_base(&oe_ns_keys, &r, &ngx_http_order_edit_oauth_sha256);
    first = strchr(base, '&');
    second = strchr(first + 1, '&');
    *second = '\0';

    return oe_unpct(first + 1);
}


/* ---------------------------------------------------------------------- */
/* RFC 5849 */


/* RFC 5849 section 1.2: the photos example, signature given in the RFC */
static void
test_rfc5849_1_2(void **state)
{
    oe_keys_t  k = {
        OE_S("Photos"), OE_S("dpf43f3p2l4k3l03"), OE_S("kd94hf93k423kf44"),
        OE_S("nnch734d00sl2jdk"), OE_S("pfkkdhi9sl3r4s00")
    };
    oe_req_t   r;

    (void) state;

    r = oe_req("GET",
               "http://photos.example.net/photos?file=vacation.jpg"
               "&size=original");
    r.timestamp = 137131202;
    oe_str(&r.nonce, "chapoH");

    assert_string_equal(oe_base(&k, &r, &oe_rfc_sha1),
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg"
        "%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH"
        "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp"
        "%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal");

    assert_string_equal(oe_sign(&k, &r, &oe_rfc_sha1),
        "OAuth realm=\"Photos\",oauth_consumer_key=\"dpf43f3p2l4k3l03\","
        "oauth_token=\"nnch734d00sl2jdk\","
        "oauth_signature_method=\"HMAC-SHA1\","
        "oauth_timestamp=\"137131202\",oauth_nonce=\"chapoH\","
        "oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"");
}


/*
 * RFC 5849 sections 3.4.1.1 and 3.4.1.3.2: query with escapes, a form
 * body with "+" for space, a repeated name.  The RFC gives no secrets for
 * this example, so only the base string can be checked.
 */
static void
test_rfc5849_3_4_1(void **state)
{
    oe_keys_t   k = {
        OE_S("Example"), OE_S("9djdj82h48djs9d2"), OE_S("unknown"),
        OE_S("kkk9d7dh3k39sjv7"), OE_S("unknown")
    };
    oe_param_t  form[] = {
        { OE_S("c2"), OE_S("") },
        { OE_S("a3"), OE_S("2 q") }
    };
    oe_req_t    r;

    (void) state;

    r = oe_req("POST",
               "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
    r.timestamp = 137131201;
    oe_str(&r.nonce, "7d8f3e4a");
    r.form = form;
    r.nform = 2;

    assert_string_equal(oe_base(&k, &r, &oe_rfc_sha1),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
        "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
        "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_"
        "method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dk"
        "kk9d7dh3k39sjv7");

    /* section 3.4.1.3.2's normalised parameters, before the last encoding */
    assert_string_equal(oe_unpct(strrchr(oe_base(&k, &r, &oe_rfc_sha1),
                                         '&') + 1),
        "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9dj"
        "dj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1"
        "&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7");
}


/* ---------------------------------------------------------------------- */
/* vectors from tools/nsoauth.py */


/*
 * Made with (keys as in oe_ns_keys, passed as --consumer-key ...
 * --token-secret):
 *
 *   python3 tools/nsoauth.py sign --method M --url U --realm R \
 *       --nonce N --timestamp T [--form-body F] --output json
 *
 * nsoauth.py separates the header's parameters with ", ", this module
 * with "," (both are RFC 5849 3.5.1); oe_ns_case() drops the blanks
 * before comparing.  Values are percent-encoded, so no ", " can occur
 * inside one.
 */
typedef struct {
    const char  *method;
    const char  *url;
    const char  *realm;
    const char  *nonce;
    int64_t      timestamp;
    const char  *base;
    const char  *header;
} oe_vector_t;


static const oe_vector_t  oe_vectors[] = {

    /* the fulfilment-lock read: a query with a ',' */
    { "GET",
      "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record"
      "/v1/salesOrder/eid:SHOP-1001?fields=orderStatus,total",
      "1234567_SB1", "4kZr8QpW2mXv7TnB1yLs", 1718000000,
      "GET&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservices"
      "%2Frest%2Frecord%2Fv1%2FsalesOrder%2Feid%3ASHOP-1001&fields%3Dorder"
      "Status%252Ctotal%26oauth_consumer_key%3Def40afdd8abaac111b13825dd5e5"
      "e2ddddb44f86d5a0dd6dcf38c20aae6b67e4%26oauth_nonce%3D4kZr8QpW2mXv7T"
      "nB1yLs%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1"
      "718000000%26oauth_token%3D2ea1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d"
      "5c4b3a29180f7e6d5c4b3a2%26oauth_version%3D1.0",
      "OAuth realm=\"1234567_SB1\", oauth_consumer_key=\"ef40afdd8abaac111"
      "b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4\", oauth_token=\"2e"
      "a1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2\", o"
      "auth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1718000000"
      "\", oauth_nonce=\"4kZr8QpW2mXv7TnB1yLs\", oauth_version=\"1.0\", oa"
      "uth_signature=\"miZB6W7908kgRVQA%2B2IrknwJca%2F0Hh16KWfHa4fNSXA%3D"
      "\"" },

    /* the line-replacing write, with the default https port spelled out */
    { "PATCH",
      "https://1234567-sb1.suitetalk.api.netsuite.com:443/services/rest/re"
      "cord/v1/salesOrder/eid:SHOP-1001?replace=item",
      "1234567_SB1", "Qm3Vt9Lx2Hc7Rb5Nw8Zp4Kd6", 1718000042,
      "PATCH&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservic"
      "es%2Frest%2Frecord%2Fv1%2FsalesOrder%2Feid%3ASHOP-1001&oauth_consume"
      "r_key%3Def40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b"
      "67e4%26oauth_nonce%3DQm3Vt9Lx2Hc7Rb5Nw8Zp4Kd6%26oauth_signature_meth"
      "od%3DHMAC-SHA256%26oauth_timestamp%3D1718000042%26oauth_token%3D2ea1"
      "f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2%26oauth"
      "_version%3D1.0%26replace%3Ditem",
      "OAuth realm=\"1234567_SB1\", oauth_consumer_key=\"ef40afdd8abaac111"
      "b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4\", oauth_token=\"2e"
      "a1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2\", o"
      "auth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1718000042"
      "\", oauth_nonce=\"Qm3Vt9Lx2Hc7Rb5Nw8Zp4Kd6\", oauth_version=\"1.0\""
      ", oauth_signature=\"flJQ6M7H5s329aLipKgNwElBhk5oT1ft11wP5zy6RVc%3D\""
    },

    /* a RESTlet on the simulator: plain http, a port that is kept */
    { "POST",
      "http://127.0.0.1:18080/app/site/hosting/restlet.nl?script=123&deplo"
      "y=1",
      "TSTDRV1234567", "a1B2c3D4e5F6g7H8i9J0", 1718000100,
      "POST&http%3A%2F%2F127.0.0.1%3A18080%2Fapp%2Fsite%2Fhosting%2Frestle"
      "t.nl&deploy%3D1%26oauth_consumer_key%3Def40afdd8abaac111b13825dd5e5"
      "e2ddddb44f86d5a0dd6dcf38c20aae6b67e4%26oauth_nonce%3Da1B2c3D4e5F6g7"
      "H8i9J0%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1"
      "718000100%26oauth_token%3D2ea1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d"
      "5c4b3a29180f7e6d5c4b3a2%26oauth_version%3D1.0%26script%3D123",
      "OAuth realm=\"TSTDRV1234567\", oauth_consumer_key=\"ef40afdd8abaac1"
      "11b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4\", oauth_token=\""
      "2ea1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2\","
      " oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"17180001"
      "00\", oauth_nonce=\"a1B2c3D4e5F6g7H8i9J0\", oauth_version=\"1.0\", "
      "oauth_signature=\"80bslI7wHRbI%2B8zUkQgbol6NSvDrq0D7AdghV0Y5hjM%3D"
      "\"" }
};


static void
oe_ns_case(const oe_keys_t *keys, const oe_req_t *r, const char *base,
    const char *header)
{
    char        *d;
    const char  *s;
    char         want[OE_BUF];

    for (s = header, d = want; *s; s++) {
        if (s[0] == ',' && s[1] == ' ') {
            *d++ = ',';
            s++;

        } else {
            *d++ = *s;
        }
    }

    *d = '\0';

    assert_string_equal(oe_base(keys, r, &ngx_http_order_edit_oauth_sha256),
                        base);
    assert_string_equal(oe_sign(keys, r, &ngx_http_order_edit_oauth_sha256),
                        want);
}


static void
test_nsoauth_vectors(void **state)
{
    size_t     i;
    oe_req_t   r;
    oe_keys_t  k;

    (void) state;

    for (i = 0; i < sizeof(oe_vectors) / sizeof(oe_vectors[0]); i++) {
        k = oe_ns_keys;
        oe_str(&k.realm, oe_vectors[i].realm);

        r = oe_req(oe_vectors[i].method, oe_vectors[i].url);
        oe_str(&r.nonce, oe_vectors[i].nonce);
        r.timestamp = oe_vectors[i].timestamp;

        oe_ns_case(&k, &r, oe_vectors[i].base, oe_vectors[i].header);
    }
}


/*
 * Everything awkward at once, also from nsoauth.py:
 *
 *   python3 tools/nsoauth.py sign --method PUT \
 *     --url 'HTTPS://Acct-Host.Example.COM:8443/services/rest/record/v1/\
 *            creditMemo/eid:refund%2F42?z=%7E+x&a=2&a=1&A=%C3%A9&b=%2A&c' \
 *     --realm 1234567_SB1 --consumer-key 'ck+key/1' \
 *     --consumer-secret 'cs&sec ret%~*é' --token-id 'tok=id' \
 *     --token-secret 'ts+=/é' --nonce Zz09Aa18Bb27Cc36Dd45 \
 *     --timestamp 1718000999 --form-body 'f=1+2&e=%26' --output json
 *
 * (the URL on one line).  Upper-case scheme and host, a kept port, an
 * escaped '/' in the path, '+' for space, '~' escaped needlessly, UTF-8,
 * a repeated name, a name without '=', form parameters, and secrets and
 * ids that all need encoding.
 */
static void
test_nsoauth_awkward(void **state)
{
    oe_keys_t   k = {
        OE_S("1234567_SB1"), OE_S("ck+key/1"),
        OE_S("cs&sec ret%~*\xc3\xa9"), OE_S("tok=id"),
        OE_S("ts+=/\xc3\xa9")
    };
    oe_param_t  form[] = {
        { OE_S("f"), OE_S("1 2") },
        { OE_S("e"), OE_S("&") }
    };
    oe_req_t    r;

    (void) state;

    r = oe_req("PUT",
               "HTTPS://Acct-Host.Example.COM:8443/services/rest/record/v1/"
               "creditMemo/eid:refund%2F42?z=%7E+x&a=2&a=1&A=%C3%A9&b=%2A&c");
    oe_str(&r.nonce, "Zz09Aa18Bb27Cc36Dd45");
    r.timestamp = 1718000999;
    r.form = form;
    r.nform = 2;

    oe_ns_case(&k, &r,
        "PUT&https%3A%2F%2Facct-host.example.com%3A8443%2Fservices%2Frest%2F"
        "record%2Fv1%2FcreditMemo%2Feid%3Arefund%252F42&A%3D%25C3%25A9%26a%3"
        "D1%26a%3D2%26b%3D%252A%26c%3D%26e%3D%2526%26f%3D1%25202%26oauth_con"
        "sumer_key%3Dck%252Bkey%252F1%26oauth_nonce%3DZz09Aa18Bb27Cc36Dd45%2"
        "6oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D171800099"
        "9%26oauth_token%3Dtok%253Did%26oauth_version%3D1.0%26z%3D~%2520x",
        "OAuth realm=\"1234567_SB1\", oauth_consumer_key=\"ck%2Bkey%2F1\", o"
        "auth_token=\"tok%3Did\", oauth_signature_method=\"HMAC-SHA256\", oa"
        "uth_timestamp=\"1718000999\", oauth_nonce=\"Zz09Aa18Bb27Cc36Dd45\","
        " oauth_version=\"1.0\", oauth_signature=\"h8MYmTwzc49NsnrUtlPn4fYjL"
        "3ETauU8ii%2FlO%2BixGMI%3D\"");
}


/* ---------------------------------------------------------------------- */
/* encoding and normalisation */


static char *
oe_pct(const void *data, size_t len)
{
    static char                       buf[OE_BUF];
    ngx_http_order_edit_oauth_sink_t  sink;

    memset(&sink, 0, sizeof(sink));
    sink.buf = buf;
    sink.size = sizeof(buf);

    ngx_http_order_edit_oauth_put_pct(&sink, data, len, 0, 0);
    assert_true(sink.len < sizeof(buf));
    buf[sink.len] = '\0';

    return buf;
}


static void
test_pct_encoding(void **state)
{
    char      want[8], *got;
    unsigned  c;

    (void) state;

    assert_string_equal(oe_pct(" ", 1), "%20");
    assert_string_equal(oe_pct("+", 1), "%2B");
    assert_string_equal(oe_pct("~", 1), "~");
    assert_string_equal(oe_pct("*", 1), "%2A");
    assert_string_equal(oe_pct("%", 1), "%25");
    assert_string_equal(oe_pct("\xc3\xa9", 2), "%C3%A9");
    assert_string_equal(oe_pct("\xe2\x82\xac", 3), "%E2%82%AC");
    assert_string_equal(oe_pct("a-b.c_d~e", 9), "a-b.c_d~e");
    assert_string_equal(oe_pct("=&/:?#", 6), "%3D%26%2F%3A%3F%23");
    assert_string_equal(oe_pct("\0", 1), "%00");

    /* every byte: only the 66 unreserved ones stay, hex is upper case */
    for (c = 0; c < 256; c++) {
        unsigned char  b = (unsigned char) c;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            want[0] = (char) c;
            want[1] = '\0';

        } else {
            snprintf(want, sizeof(want), "%%%02X", c);
        }

        got = oe_pct(&b, 1);
        assert_string_equal(got, want);
    }
}


/* query values are decoded ('+' is a space) and re-encoded */
static void
test_query_decoding(void **state)
{
    oe_req_t  r;

    (void) state;

    r = oe_req("GET", "http://h/p?q=a+b%2Bc%7e%7E~%2a*x&u=%c3%a9&e=&n");
    assert_non_null(strstr(oe_params(&oe_ns_keys, &r),
                           "&q=a%20b%2Bc~~~%2A%2Ax"));
    assert_non_null(strstr(oe_params(&oe_ns_keys, &r), "&u=%C3%A9"));
    assert_true(oe_prefix(oe_params(&oe_ns_keys, &r), "e=&n=&oauth_"));

    /* "==" in a value: only the first '=' separates; "&&" is skipped */
    r = oe_req("GET", "http://h/p?&&k==v=&&");
    assert_true(oe_prefix(oe_params(&oe_ns_keys, &r), "k=%3Dv%3D&oauth_"));

    /* a fragment is neither signed nor in the base URI */
    r = oe_req("GET", "http://h/p?a=1#frag=2");
    assert_true(oe_prefix(oe_params(&oe_ns_keys, &r), "a=1&oauth_"));
    assert_null(strstr(oe_base(&oe_ns_keys, &r,
                               &ngx_http_order_edit_oauth_sha256), "frag"));
}


/* by encoded name then encoded value, byte order; duplicates kept */
static void
test_param_sorting(void **state)
{
    char        *p;
    oe_param_t   form[] = {
        { OE_S("a"), OE_S("0") },
        { OE_S("a b"), OE_S("x") }
    };
    oe_req_t     r;

    (void) state;

    r = oe_req("GET", "http://h/?a=2&a=10&a=1&b=&a&A=9&a-b=y&a~=z&a=1");
    r.form = form;
    r.nform = 2;

    p = oe_params(&oe_ns_keys, &r);

    /*
     * "A" < "a" < "a%20b" ('%' 0x25) < "a-b" ('-' 0x2D) < "a~" < "b";
     * values "" < "0" < "1" = "1" < "10" < "2"; query and form mixed.
     */
    assert_string_equal(p,
        "A=9&a=&a=0&a=1&a=1&a=10&a=2&a%20b=x&a-b=y&a~=z&b="
        "&oauth_consumer_key="
        "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4"
        "&oauth_nonce=4kZr8QpW2mXv7TnB1yLs"
        "&oauth_signature_method=HMAC-SHA256&oauth_timestamp=1718000000"
        "&oauth_token="
        "2ea1f9d1bb4d4b3e8a1c9e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2"
        "&oauth_version=1.0");

    /* sorting is on the encoding: "%2A" ('*') sorts before "-" and "0" */
    r = oe_req("GET", "http://h/?k=0&k=-&k=*&k=%2a");
    assert_true(oe_prefix(oe_params(&oe_ns_keys, &r), "k=%2A&k=%2A&k=-&k=0&"));
}


static void
test_base_uri(void **state)
{
    (void) state;

    /* default ports go, others stay */
    assert_string_equal(oe_uri("http://h:80/x"), "http://h/x");
    assert_string_equal(oe_uri("https://h:443/x"), "https://h/x");
    assert_string_equal(oe_uri("http://h:443/x"), "http://h:443/x");
    assert_string_equal(oe_uri("https://h:80/x"), "https://h:80/x");
    assert_string_equal(oe_uri("http://h:8080/x"), "http://h:8080/x");
    assert_string_equal(oe_uri("HTTPS://H:443/x"), "https://h/x");

    /* scheme and host lowered, path kept as sent (escapes too) */
    assert_string_equal(oe_uri("HtTp://WWW.Example.NET:8080/Path/%7Eu%2f?Q=1"),
                        "http://www.example.net:8080/Path/%7Eu%2f");

    /* no path is "/" */
    assert_string_equal(oe_uri("http://h"), "http://h/");
    assert_string_equal(oe_uri("http://h?a=1"), "http://h/");
    assert_string_equal(oe_uri("http://h:8080#x"), "http://h:8080/");

    /* IPv6 literals */
    assert_string_equal(oe_uri("http://[::1]:8080/x"), "http://[::1]:8080/x");
    assert_string_equal(oe_uri("http://[FE80::1]:80/"), "http://[fe80::1]/");

    /* the method is upper-cased in the base string */
    {
        oe_req_t  r = oe_req("patch", "http://h/");

        assert_true(strncmp(oe_base(&oe_ns_keys, &r,
                                    &ngx_http_order_edit_oauth_sha256),
                            "PATCH&http%3A%2F%2Fh%2F&", 24) == 0);
    }
}


/* the realm is sent as configured and never signed */
static void
test_realm(void **state)
{
    char       base1[OE_BUF];
    oe_req_t   r;
    oe_keys_t  k;

    (void) state;

    k = oe_ns_keys;
    r = oe_req("GET", "https://h/x");

    strcpy(base1, oe_base(&k, &r, &ngx_http_order_edit_oauth_sha256));
    assert_null(strstr(base1, "realm"));
    assert_null(strstr(base1, "1234567"));
    assert_null(strstr(base1, "oauth_signature%3D"));

    oe_str(&k.realm, "Other_Realm");
    assert_string_equal(oe_base(&k, &r, &ngx_http_order_edit_oauth_sha256),
                        base1);
    assert_true(oe_prefix(oe_sign(&k, &r, &ngx_http_order_edit_oauth_sha256),
                          "OAuth realm=\"Other_Realm\",oauth_consumer_key="));
}


/*
 * The streamed HMAC equals a one-shot HMAC of the base string, also for a
 * base string much longer than the sink's 512-byte chunks.
 */
static void
test_streaming_hmac(void **state)
{
    char           url[4096], *base, *hdr, *sig;
    size_t         i, j, k, n;
    unsigned int   mlen;
    unsigned char  mac[EVP_MAX_MD_SIZE], b64[128];
    oe_req_t       r;

    (void) state;

    for (n = 0; n < 4; n++) {
        i = (size_t) snprintf(url, sizeof(url), "https://h/p?");

        /* n * 3 parameters of some 300 characters (about 270 once in
         * the base string): past the sink's 512-byte chunks */
        for (j = 0; j < n * 3; j++) {
            i += (size_t) snprintf(url + i, sizeof(url) - i, "k%zu=", j);

            for (k = 0; k < 30; k++) {
                i += (size_t) snprintf(url + i, sizeof(url) - i, "%s",
                                       k % 2 ? "+a" : "%C3%A9~x");
            }

            i += (size_t) snprintf(url + i, sizeof(url) - i, "&");
        }

        r = oe_req("POST", url);
        base = oe_base(&oe_ns_keys, &r, &ngx_http_order_edit_oauth_sha256);
        assert_true(strlen(base) > n * 750);

        assert_non_null(HMAC(EVP_sha256(),
                             "d5f5f2ae6a4eb4e6e1d6a1bd0f2f3b0f8d9b3e8a6f7c1e2"
                             "d3b4a5c6d7e8f9a0b&7c9e6f5d4c3b2a1908f7e6d5c4b3"
                             "a2918f0e1d2c3b4a5968778695a4b3c2d1e0", 129,
                             (unsigned char *) base, strlen(base), mac,
                             &mlen));
        EVP_EncodeBlock(b64, mac, (int) mlen);

        hdr = oe_sign(&oe_ns_keys, &r, &ngx_http_order_edit_oauth_sha256);
        sig = strstr(hdr, "oauth_signature=\"");
        assert_non_null(sig);
        sig[17 + strlen(sig + 17) - 1] = '\0';
        assert_string_equal(oe_unpct(sig + 17), (char *) b64);
    }
}


/* ---------------------------------------------------------------------- */
/* validation */


static void
test_bad_keys(void **state)
{
    size_t                            i, len;
    char                              buf[OE_BUF], big[400];
    oe_req_t                          r;
    oe_keys_t                         k;
    ngx_http_order_edit_oauth_str_t  *f[5];

    (void) state;

    r = oe_req("GET", "https://h/x");
    memset(big, 'k', sizeof(big));

    for (i = 0; i < 5; i++) {
        k = oe_ns_keys;
        f[0] = &k.realm;
        f[1] = &k.consumer_key;
        f[2] = &k.consumer_secret;
        f[3] = &k.token_id;
        f[4] = &k.token_secret;

        f[i]->len = 0;
        assert_int_equal(ngx_http_order_edit_oauth_sign(&k, &r, buf,
                                                        sizeof(buf), &len),
                         NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS);
        assert_int_equal(ngx_http_order_edit_oauth_check_keys(&k),
                         NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS);
        assert_int_equal(ngx_http_order_edit_oauth_header_size(&k, &r), 0);

        f[i]->data = big;
        f[i]->len = i == 0 ? 65 : 257;
        assert_int_equal(ngx_http_order_edit_oauth_sign(&k, &r, buf,
                                                        sizeof(buf), &len),
                         NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS);

        f[i]->len = i == 0 ? 64 : 256;
        assert_int_equal(ngx_http_order_edit_oauth_sign(&k, &r, buf,
                                                        sizeof(buf), &len),
                         NGX_HTTP_ORDER_EDIT_OAUTH_OK);

        f[i]->data = NULL;
        assert_int_equal(ngx_http_order_edit_oauth_check_keys(&k),
                         NGX_HTTP_ORDER_EDIT_OAUTH_EKEYS);
    }

    assert_int_equal(ngx_http_order_edit_oauth_check_keys(&oe_ns_keys),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_int_equal(ngx_http_order_edit_oauth_check_keys(NULL),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
}


static void
test_bad_urls(void **state)
{
    size_t              i, len;
    char                buf[OE_BUF], huge[9000];
    oe_req_t            r;
    static const char  *bad[] = {
        "",
        "example.com/x",
        "/services/rest",
        "//example.com/x",
        "ftp://h/x",
        "httpx://h/x",
        "http:/h/x",
        "http:h/x",
        "http://",
        "http:///x",
        "http://?a=1",
        "http://u@h/x",
        "http://u:p@h/x",
        "http://h:/x",
        "http://h:0/x",
        "http://h:080/x",
        "http://h:65536/x",
        "http://h:123456/x",
        "http://h:8a/x",
        "http://h:80:80/x",
        "http://h%41/x",
        "http://h h/x",
        "http://[::1/x",
        "http://[]/x",
        "http://[::1]x/",
        "http://h/a b",
        "http://h/a\tb",
        "http://h/\xc3\xa9",
        "http://h/a%zz",
        "http://h/a%4",
        "http://h/a%",
        "http://h/?a=%4",
        "http://h/?a=%g0",
        "http://h/?a=\x7f",
        "http://h/?a=1#x y",
        "http://h/\n"
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = oe_req("GET", bad[i]);

        if (ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf, sizeof(buf),
                                           &len)
            != NGX_HTTP_ORDER_EDIT_OAUTH_EURL)
        {
            fail_msg("accepted bad url \"%s\"", bad[i]);
        }

        assert_int_equal(ngx_http_order_edit_oauth_base_string(&oe_ns_keys,
                                                       &r, buf, sizeof(buf),
                                                       &len),
                         NGX_HTTP_ORDER_EDIT_OAUTH_EURL);
        assert_string_equal(buf, "");
    }

    /* NULL data */
    r = oe_req("GET", "http://h/");
    r.url.data = NULL;
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf,
                                                    sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EURL);

    /* longer than the limit, and just at it */
    memcpy(huge, "http://h/", 9);
    memset(huge + 9, 'a', sizeof(huge) - 9);
    r = oe_req("GET", "http://h/");
    r.url.data = huge;
    r.url.len = NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL + 1;
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf,
                                                    sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EURL);

    r.url.len = NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL;
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf,
                                                    sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    /* its base string is longer than 8192: ENOSPC, not EURL */
    assert_int_equal(ngx_http_order_edit_oauth_base_string(&oe_ns_keys, &r,
                                                      buf, 8192, &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC);
    assert_true(len > 8192);
    assert_int_equal(ngx_http_order_edit_oauth_base_string(&oe_ns_keys, &r,
                                                      buf, sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    /* good ones at the edges */
    {
        static const char  *good[] = {
            "http://h:1/", "http://h:65535/", "https://a-b.c_d.example/",
            "http://h/a%20b%7e", "http://h/?", "http://h/?#", "http://h#"
        };

        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
            r = oe_req("GET", good[i]);

            if (ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf,
                                               sizeof(buf), &len)
                != NGX_HTTP_ORDER_EDIT_OAUTH_OK)
            {
                fail_msg("refused good url \"%s\"", good[i]);
            }
        }
    }
}


static void
test_bad_request(void **state)
{
    size_t      i, len;
    char        buf[OE_BUF], q[1024];
    oe_req_t    r;
    oe_param_t  form[NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS + 1];

    (void) state;

#define oe_rc(rr)                                                             \
    ngx_http_order_edit_oauth_sign(&oe_ns_keys, &(rr), buf, sizeof(buf), &len)

    /* methods */
    r = oe_req("", "http://h/");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD);
    r = oe_req("GE T", "http://h/");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD);
    r = oe_req("GET\r\n", "http://h/");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD);
    r = oe_req("ABCDEFGHIJKLMNOPQ", "http://h/");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EMETHOD);
    r = oe_req("ABCDEFGHIJKLMNOP", "http://h/");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    /* nonces: 6..64 alphanumerics */
    r = oe_req("GET", "http://h/");
    oe_str(&r.nonce, "abc12");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    oe_str(&r.nonce, "abc123");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    oe_str(&r.nonce, "abc-123456");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    oe_str(&r.nonce, "abc 123456");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    oe_str(&r.nonce, "abc\xc3\xa9" "123456");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    memset(q, 'n', 65);
    r.nonce.data = q;
    r.nonce.len = 65;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    r.nonce.len = 64;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    r.nonce.data = NULL;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);

    /* timestamps */
    r = oe_req("GET", "http://h/");
    r.timestamp = 0;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ETIMESTAMP);
    r.timestamp = -1718000000;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ETIMESTAMP);
    r.timestamp = INT64_MAX;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_non_null(strstr(buf, "oauth_timestamp=\"9223372036854775807\""));
    r.timestamp = 1;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_non_null(strstr(buf, "oauth_timestamp=\"1\""));

    /* protocol parameters belong in the header only */
    r = oe_req("GET", "http://h/?oauth_token=x");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM);
    r = oe_req("GET", "http://h/?a=1&oauth%5Fnonce=x");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM);
    r = oe_req("GET", "http://h/?oauth=1&oauth-x=2&xoauth_y=3&oaut=4");
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    form[0].name.data = "oauth_signature";
    form[0].name.len = 15;
    form[0].value.data = "x";
    form[0].value.len = 1;
    r = oe_req("POST", "http://h/");
    r.form = form;
    r.nform = 1;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM);

    /* form parameters: NULL table, NULL data, too long */
    r.form = NULL;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    r.form = form;
    form[0].name.data = NULL;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    form[0].name.data = "n";
    form[0].name.len = 1;
    form[0].value.len = NGX_HTTP_ORDER_EDIT_OAUTH_MAX_URL + 1;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_EPARAM);

    /* the parameter limit counts query and form together */
    for (i = 0; i < NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS + 1; i++) {
        oe_str(&form[i].name, "f");
        oe_str(&form[i].value, "v");
    }

    r = oe_req("POST", "http://h/");
    r.form = form;
    r.nform = NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    r.nform++;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY);

    r = oe_req("POST", "http://h/?q=1");
    r.form = form;
    r.nform = NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS;
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY);

    len = (size_t) snprintf(q, sizeof(q), "http://h/?");
    for (i = 0; i < NGX_HTTP_ORDER_EDIT_OAUTH_MAX_PARAMS; i++) {
        len += (size_t) snprintf(q + len, sizeof(q) - len, "p%zu&", i);
    }

    r = oe_req("GET", q);
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    strcat(q, "one=more");
    r = oe_req("GET", q);
    assert_int_equal(oe_rc(r), NGX_HTTP_ORDER_EDIT_OAUTH_ETOOMANY);

    /* NULL arguments */
    r = oe_req("GET", "http://h/");
    assert_int_equal(ngx_http_order_edit_oauth_sign(NULL, &r, buf,
                                                    sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, NULL, buf,
                                                    sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, buf,
                                                    sizeof(buf), NULL),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, NULL,
                                                    10, &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);
    assert_int_equal(ngx_http_order_edit_oauth_header_size(NULL, &r), 0);

#undef oe_rc
}


/* ---------------------------------------------------------------------- */
/* buffers */


static void
test_buffer_bounds(void **state)
{
    size_t     need, len, size, bound;
    char       full[OE_BUF], buf[OE_BUF + 16];
    oe_req_t   r;

    (void) state;

    r = oe_req("GET", oe_vectors[0].url);

    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, full,
                                                    sizeof(full), &need),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    bound = ngx_http_order_edit_oauth_header_size(&oe_ns_keys, &r);
    assert_true(bound >= need + 1);
    assert_true(bound <= need + 1 + 2 * 44);
    assert_true(bound <= NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX);

    /* every size below need + 1 fails and writes nothing past size */
    for (size = 0; size <= need + 1; size++) {
        memset(buf, 0x5a, sizeof(buf));
        len = 12345;

        assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r,
                                                  size ? buf : NULL, size,
                                                  &len),
                         size == need + 1 ? NGX_HTTP_ORDER_EDIT_OAUTH_OK
                                          : NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC);
        assert_int_equal(len, need);
        assert_int_equal((unsigned char) buf[size], 0x5a);

        if (size == need + 1) {
            assert_string_equal(buf, full);

        } else if (size > 0) {
            assert_int_equal(buf[0], '\0');
        }
    }

    /* the same for the base string */
    assert_int_equal(ngx_http_order_edit_oauth_base_string(&oe_ns_keys, &r,
                                                      full, sizeof(full),
                                                      &need),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    for (size = 0; size <= need + 1; size++) {
        memset(buf, 0x5a, sizeof(buf));

        assert_int_equal(ngx_http_order_edit_oauth_base_string(&oe_ns_keys,
                                                  &r, size ? buf : NULL,
                                                  size, &len),
                         size == need + 1 ? NGX_HTTP_ORDER_EDIT_OAUTH_OK
                                          : NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC);
        assert_int_equal(len, need);
        assert_int_equal((unsigned char) buf[size], 0x5a);

        if (size == need + 1) {
            assert_string_equal(buf, full);
        }
    }
}


/* the longest keys, all needing encoding, fit HEADER_MAX */
static void
test_header_max(void **state)
{
    size_t     len;
    char       realm[64], key[256], nonce[64], buf[OE_BUF];
    oe_req_t   r;
    oe_keys_t  k;

    (void) state;

    memset(realm, '/', sizeof(realm));
    memset(key, '\xff', sizeof(key));
    memset(nonce, 'N', sizeof(nonce));

    k.realm.data = realm;
    k.realm.len = sizeof(realm);
    k.consumer_key.data = key;
    k.consumer_key.len = sizeof(key);
    k.consumer_secret = k.consumer_key;
    k.token_id = k.consumer_key;
    k.token_secret = k.consumer_key;

    r = oe_req("DELETE", "https://h/");
    r.nonce.data = nonce;
    r.nonce.len = sizeof(nonce);
    r.timestamp = INT64_MAX;

    assert_true(ngx_http_order_edit_oauth_header_size(&k, &r)
                <= NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX);
    assert_int_equal(ngx_http_order_edit_oauth_sign(&k, &r, buf,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX,
                                        &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
}


/* ---------------------------------------------------------------------- */
/* helpers */


static void
test_nonce(void **state)
{
    size_t    i, n, seen[256];
    char      hdr[NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX];
    char      a[NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX + 1];
    char      b[NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_MAX + 1];
    oe_req_t  r;

    (void) state;

    memset(a, 0x5a, sizeof(a));
    assert_int_equal(ngx_http_order_edit_oauth_nonce(a,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_int_equal((unsigned char) a[NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN],
                     0x5a);
    assert_int_equal(ngx_http_order_edit_oauth_nonce(b,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_memory_not_equal(a, b, NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN);

    /* what it makes, sign() takes */
    r = oe_req("GET", "http://h/");
    r.nonce.data = a;
    r.nonce.len = NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN;
    assert_int_equal(ngx_http_order_edit_oauth_sign(&oe_ns_keys, &r, hdr,
                                                    sizeof(hdr), &n),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);

    assert_int_equal(ngx_http_order_edit_oauth_nonce(a, 5),
                     NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    assert_int_equal(ngx_http_order_edit_oauth_nonce(a, 65),
                     NGX_HTTP_ORDER_EDIT_OAUTH_ENONCE);
    assert_int_equal(ngx_http_order_edit_oauth_nonce(NULL, 32),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);

    /* only alphanumerics, and all 62 of them turn up */
    memset(seen, 0, sizeof(seen));

    for (n = 0; n < 200; n++) {
        assert_int_equal(ngx_http_order_edit_oauth_nonce(a, 64),
                         NGX_HTTP_ORDER_EDIT_OAUTH_OK);

        for (i = 0; i < 64; i++) {
            seen[(unsigned char) a[i]]++;
        }
    }

    for (i = 0, n = 0; i < 256; i++) {
        if (seen[i]) {
            assert_true(ngx_http_order_edit_oauth_alnum_char((unsigned) i));
            n++;
        }
    }

    assert_int_equal(n, 62);
}


static void
test_account(void **state)
{
    size_t      len;
    char        buf[NGX_HTTP_ORDER_EDIT_OAUTH_HOST_MAX + 1], big[65];
    const char  *rest = ".suitetalk.api.netsuite.com";

    (void) state;

#define oe_realm(a)                                                           \
    ngx_http_order_edit_oauth_realm(a, strlen(a), buf, sizeof(buf), &len)
#define oe_host(a, s)                                                         \
    ngx_http_order_edit_oauth_host(a, strlen(a), s, buf, sizeof(buf), &len)

    assert_int_equal(oe_realm("1234567_sb1"), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "1234567_SB1");
    assert_int_equal(len, 11);
    assert_int_equal(oe_realm("1234567-sb1"), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "1234567_SB1");
    assert_int_equal(oe_realm("TSTDRV1234567"), NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "TSTDRV1234567");

    assert_int_equal(oe_host("1234567_sb1", NGX_HTTP_ORDER_EDIT_OAUTH_REST),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "1234567-sb1.suitetalk.api.netsuite.com");
    assert_int_equal(len, strlen(buf));
    assert_int_equal(oe_host("1234567_SB1", NGX_HTTP_ORDER_EDIT_OAUTH_RESTLET),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "1234567-sb1.restlets.api.netsuite.com");
    assert_int_equal(oe_host("TSTDRV1234567", NGX_HTTP_ORDER_EDIT_OAUTH_REST),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "tstdrv1234567.suitetalk.api.netsuite.com");

    /* anything that could steer the host elsewhere is refused */
    assert_int_equal(oe_realm(""), NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT);
    assert_int_equal(oe_host("evil.com/x", NGX_HTTP_ORDER_EDIT_OAUTH_REST),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT);
    assert_int_equal(oe_host("a b", NGX_HTTP_ORDER_EDIT_OAUTH_REST),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT);
    assert_int_equal(oe_host("123@x", NGX_HTTP_ORDER_EDIT_OAUTH_REST),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT);
    assert_int_equal(oe_host("1234567", 7), NGX_HTTP_ORDER_EDIT_OAUTH_EINVAL);

    /* 64 is the longest, and fits HOST_MAX */
    memset(big, 'a', sizeof(big));
    assert_int_equal(ngx_http_order_edit_oauth_host(big, 64,
                                           NGX_HTTP_ORDER_EDIT_OAUTH_REST,
                                           buf, sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_int_equal(len, 64 + strlen(rest));
    assert_int_equal(ngx_http_order_edit_oauth_realm(big, 65, buf,
                                                     sizeof(buf), &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_EACCOUNT);

    /* snprintf-like sizes */
    assert_int_equal(ngx_http_order_edit_oauth_realm("abc", 3, buf, 3, &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC);
    assert_int_equal(len, 3);
    assert_string_equal(buf, "");
    assert_int_equal(ngx_http_order_edit_oauth_realm("abc", 3, buf, 4, &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_OK);
    assert_string_equal(buf, "ABC");
    assert_int_equal(ngx_http_order_edit_oauth_realm("abc", 3, NULL, 0, &len),
                     NGX_HTTP_ORDER_EDIT_OAUTH_ENOSPC);
    assert_int_equal(len, 3);

#undef oe_realm
#undef oe_host
}


static void
test_strerror(void **state)
{
    int          i, j;
    const char  *s[NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO + 1];

    (void) state;

    for (i = 0; i <= NGX_HTTP_ORDER_EDIT_OAUTH_ECRYPTO; i++) {
        s[i] = ngx_http_order_edit_oauth_strerror(
                   (ngx_http_order_edit_oauth_rc_e) i);
        assert_non_null(s[i]);
        assert_string_not_equal(s[i], "unknown error");

        for (j = 0; j < i; j++) {
            assert_string_not_equal(s[i], s[j]);
        }
    }

    assert_string_equal(ngx_http_order_edit_oauth_strerror(
                            (ngx_http_order_edit_oauth_rc_e) 99),
                        "unknown error");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rfc5849_1_2),
        cmocka_unit_test(test_rfc5849_3_4_1),
        cmocka_unit_test(test_nsoauth_vectors),
        cmocka_unit_test(test_nsoauth_awkward),
        cmocka_unit_test(test_pct_encoding),
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_param_sorting),
        cmocka_unit_test(test_base_uri),
        cmocka_unit_test(test_realm),
        cmocka_unit_test(test_streaming_hmac),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_bad_request),
        cmocka_unit_test(test_buffer_bounds),
        cmocka_unit_test(test_header_max),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests_name("oauth", tests, NULL, NULL);
}
