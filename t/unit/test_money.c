
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Money: parsing, formatting, exponents, allocation, and the exact JSON
 * loader that keeps 195.66 as 19566.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oe_test_util.h"


typedef struct {
    const char                      *text;
    int                              exponent;
    ngx_http_order_edit_money_rc_e   rc;
    int64_t                          minor;
} oe_parse_case_t;


static const oe_parse_case_t  oe_cases[] = {
    { "199.00", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, 19900 },
    { "195.66", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, 19566 },
    { "0.1", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, 10 },
    { "5", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, 500 },
    { "-8.60", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, -860 },
    { "-0.00", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, 0 },
    { "1500", 0, NGX_HTTP_ORDER_EDIT_MONEY_OK, 1500 },
    { "1500.00", 0, NGX_HTTP_ORDER_EDIT_MONEY_OK, 1500 },
    { "1500.5", 0, NGX_HTTP_ORDER_EDIT_MONEY_PRECISION, 0 },
    { "12.345", 3, NGX_HTTP_ORDER_EDIT_MONEY_OK, 12345 },
    { "12.3450", 3, NGX_HTTP_ORDER_EDIT_MONEY_OK, 12345 },
    { "12.3456", 3, NGX_HTTP_ORDER_EDIT_MONEY_PRECISION, 0 },
    { "199.001", 2, NGX_HTTP_ORDER_EDIT_MONEY_PRECISION, 0 },
    /* malformed first, whatever its decimals */
    { "1.2.3", 0, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "1.25x", 1, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "1.255e2", 2, NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT, 0 },
    { "", 2, NGX_HTTP_ORDER_EDIT_MONEY_EMPTY, 0 },
    { " 1.00", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "1.00 ", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "+1.00", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { ".5", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "5.", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "-", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "1,000.00", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "0x10", 2, NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX, 0 },
    { "1e5", 2, NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT, 0 },
    { "1.5E-2", 2, NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT, 0 },
    { "NaN", 2, NGX_HTTP_ORDER_EDIT_MONEY_NAN, 0 },
    { "-Infinity", 2, NGX_HTTP_ORDER_EDIT_MONEY_NAN, 0 },
    { "inf", 2, NGX_HTTP_ORDER_EDIT_MONEY_NAN, 0 },
    { "92233720368547758.07", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, INT64_MAX },
    { "92233720368547758.08", 2, NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW, 0 },
    { "-92233720368547758.08", 2, NGX_HTTP_ORDER_EDIT_MONEY_OK, INT64_MIN },
    { "99999999999999999999", 0, NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW, 0 },
    { "9223372036854775807", 1, NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW, 0 },
};


static void
test_parse_table(void **state)
{
    size_t                          i;
    int64_t                         v;
    ngx_http_order_edit_money_rc_e  rc;

    (void) state;

    for (i = 0; i < sizeof(oe_cases) / sizeof(oe_cases[0]); i++) {
        v = 0;
        rc = ngx_http_order_edit_money_parse(oe_cases[i].text,
                                             strlen(oe_cases[i].text),
                                             oe_cases[i].exponent, &v);
        if (rc != oe_cases[i].rc) {
            fail_msg("\"%s\" exp %d: rc %d, expected %d", oe_cases[i].text,
                     oe_cases[i].exponent, rc, oe_cases[i].rc);
        }

        if (rc == NGX_HTTP_ORDER_EDIT_MONEY_OK) {
            assert_int_equal(v, oe_cases[i].minor);
        }

        assert_non_null(ngx_http_order_edit_money_strerror(rc));
    }
}


static void
test_parse_not_nul_terminated(void **state)
{
    int64_t  v;

    (void) state;

    /* only len bytes count: "19.99" out of "19.995" */
    assert_int_equal(ngx_http_order_edit_money_parse("19.995", 5, 2, &v),
                     NGX_HTTP_ORDER_EDIT_MONEY_OK);
    assert_int_equal(v, 1999);
}


static void
test_format(void **state)
{
    char  buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];

    (void) state;

    assert_int_equal(ngx_http_order_edit_money_format(1900, 2, buf,
                                                      sizeof(buf)), 5);
    assert_string_equal(buf, "19.00");
    ngx_http_order_edit_money_format(1500, 0, buf, sizeof(buf));
    assert_string_equal(buf, "1500");
    ngx_http_order_edit_money_format(1250, 3, buf, sizeof(buf));
    assert_string_equal(buf, "1.250");
    ngx_http_order_edit_money_format(5, 2, buf, sizeof(buf));
    assert_string_equal(buf, "0.05");
    ngx_http_order_edit_money_format(-5, 2, buf, sizeof(buf));
    assert_string_equal(buf, "-0.05");
    ngx_http_order_edit_money_format(0, 3, buf, sizeof(buf));
    assert_string_equal(buf, "0.000");
    ngx_http_order_edit_money_format(INT64_MIN, 2, buf, sizeof(buf));
    assert_string_equal(buf, "-92233720368547758.08");
    ngx_http_order_edit_money_format(INT64_MAX, 4, buf, sizeof(buf));
    assert_string_equal(buf, "922337203685477.5807");

    /* too small a buffer is refused, never overrun */
    assert_int_equal(ngx_http_order_edit_money_format(1900, 2, buf, 5), 0);
    assert_int_equal(ngx_http_order_edit_money_format(1900, 2, buf, 6), 5);
}


static void
test_round_trip(void **state)
{
    int       e;
    char      buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];
    size_t    n, i;
    int64_t   v, back;
    uint64_t  x;

    (void) state;

    x = 88172645463325252ULL;

    for (i = 0; i < 200000; i++) {
        /* xorshift64: spread over the whole int64 range and small values */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;

        v = (int64_t) x;
        if (i % 2) {
            v %= 1000000;
        }

        e = (int) (x % 5);

        n = ngx_http_order_edit_money_format(v, e, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(ngx_http_order_edit_money_parse(buf, n, e, &back),
                         NGX_HTTP_ORDER_EDIT_MONEY_OK);
        assert_int_equal(back, v);
    }
}


static void
test_currency_exponents(void **state)
{
    size_t  i;
    static const struct { const char *code; int exp; }  t[] = {
        { "USD", 2 }, { "EUR", 2 }, { "GBP", 2 }, { "JPY", 0 },
        { "KRW", 0 }, { "VND", 0 }, { "CLP", 0 }, { "ISK", 0 },
        { "UGX", 0 }, { "XAF", 0 }, { "XOF", 0 }, { "XPF", 0 },
        { "PYG", 0 }, { "RWF", 0 }, { "BIF", 0 }, { "DJF", 0 },
        { "GNF", 0 }, { "KMF", 0 }, { "VUV", 0 }, { "BHD", 3 },
        { "KWD", 3 }, { "OMR", 3 }, { "JOD", 3 }, { "TND", 3 },
        { "LYD", 3 }, { "IQD", 3 }, { "CLF", 4 }, { "HUF", 2 },
        { "TWD", 2 }, { "XYZ", 2 }
    };

    (void) state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(ngx_http_order_edit_currency_exponent(t[i].code, 3),
                         t[i].exp);
    }

    assert_int_equal(ngx_http_order_edit_currency_exponent("usd", 3), -1);
    assert_int_equal(ngx_http_order_edit_currency_exponent("US", 2), -1);
    assert_int_equal(ngx_http_order_edit_currency_exponent("USDX", 4), -1);
    assert_int_equal(ngx_http_order_edit_currency_exponent(NULL, 3), -1);
}


static void
test_allocate(void **state)
{
    int64_t  out[4];
    int64_t  w3[] = { 1, 1, 1 }, w64[] = { 60, 40 }, wz[] = { 5, 0 };
    int64_t  w0[] = { 0, 0, 0 }, wneg[] = { 1, -1 };

    (void) state;

    assert_int_equal(ngx_http_order_edit_money_allocate(1000, w3, 3, out), 0);
    assert_int_equal(out[0], 333);
    assert_int_equal(out[1], 333);
    assert_int_equal(out[2], 334);

    assert_int_equal(ngx_http_order_edit_money_allocate(-1000, w3, 3, out),
                     0);
    assert_int_equal(out[0] + out[1] + out[2], -1000);
    assert_int_equal(out[2], -334);

    assert_int_equal(ngx_http_order_edit_money_allocate(4999, w64, 2, out),
                     0);
    assert_int_equal(out[0], 2999);
    assert_int_equal(out[1], 2000);

    /* the remainder goes to the last part that has a weight */
    assert_int_equal(ngx_http_order_edit_money_allocate(7, wz, 2, out), 0);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[1], 0);

    assert_int_equal(ngx_http_order_edit_money_allocate(7, w0, 3, out), 0);
    assert_int_equal(out[2], 7);

    assert_int_equal(ngx_http_order_edit_money_allocate(7, wneg, 2, out), -1);
    assert_int_equal(ngx_http_order_edit_money_allocate(7, w3, 0, out), -1);

    /* no overflow in the product */
    w64[0] = 1000000;
    w64[1] = 3;
    assert_int_equal(ngx_http_order_edit_money_allocate(INT64_MAX / 2, w64, 2,
                                                        out), 0);
    assert_int_equal(out[0] + out[1], INT64_MAX / 2);
}


static void
test_muldiv(void **state)
{
    int64_t  r;

    (void) state;

    assert_int_equal(ngx_http_order_edit_money_muldiv(100, 2, 3, &r), 0);
    assert_int_equal(r, 67);
    assert_int_equal(ngx_http_order_edit_money_muldiv(-100, 2, 3, &r), 0);
    assert_int_equal(r, -67);
    assert_int_equal(ngx_http_order_edit_money_muldiv(5, 1, 2, &r), 0);
    assert_int_equal(r, 3);
    assert_int_equal(ngx_http_order_edit_money_muldiv(432, 2, 3, &r), 0);
    assert_int_equal(r, 288);
    assert_int_equal(ngx_http_order_edit_money_muldiv(1, 1, 0, &r), -1);
    assert_int_equal(ngx_http_order_edit_money_muldiv(INT64_MAX, 2, 1, &r),
                     -1);
    assert_int_equal(ngx_http_order_edit_money_muldiv(INT64_MAX, 3, 3, &r),
                     0);
    assert_int_equal(r, INT64_MAX);

    assert_int_equal(ngx_http_order_edit_money_add(INT64_MAX, 1, &r), -1);
    assert_int_equal(ngx_http_order_edit_money_sub(INT64_MIN, 1, &r), -1);
    assert_int_equal(ngx_http_order_edit_money_mul(INT64_MAX, 2, &r), -1);
}


static void
test_exact_json(void **state)
{
    char                           *s, err[256];
    size_t                          len;
    json_t                         *j, *v;
    int64_t                         m;
    const char                     *t, *text;
    ngx_http_order_edit_json_rc_e   rc;

    (void) state;

    text = "{\"a\": 195.66, \"b\": [0.1, -1.5e3, 7], \"c\": \"195.66\","
           " \"d\": \"x\\\"y\\\\\", \"e\": 1E2}";

    j = ngx_http_order_edit_json_load(text, strlen(text), 8, 4096, &rc, err,
                                      sizeof(err));
    assert_non_null(j);

    v = json_object_get(j, "a");
    assert_true(ngx_http_order_edit_json_is_marker(v));
    t = ngx_http_order_edit_json_marker_text(v, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(t, "195.66", 6);
    assert_int_equal(ngx_http_order_edit_money_parse(t, len, 2, &m),
                     NGX_HTTP_ORDER_EDIT_MONEY_OK);
    assert_int_equal(m, 19566);

    /* a genuine string is not a marker; integers stay integers */
    assert_false(ngx_http_order_edit_json_is_marker(json_object_get(j, "c")));
    assert_true(json_is_integer(json_array_get(json_object_get(j, "b"), 2)));

    /* dumping writes markers back as the exact same numbers */
    s = ngx_http_order_edit_json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    assert_string_equal(s, "{\"a\":195.66,\"b\":[0.1,-1.5e3,7],"
                           "\"c\":\"195.66\",\"d\":\"x\\\"y\\\\\","
                           "\"e\":1E2}");
    free(s);
    json_decref(j);

    /* building a number for NetSuite */
    v = ngx_http_order_edit_json_number("9.50", 4);
    assert_non_null(v);
    s = ngx_http_order_edit_json_dumps(v, JSON_ENCODE_ANY);
    assert_string_equal(s, "9.50");
    free(s);
    json_decref(v);
    assert_null(ngx_http_order_edit_json_number("9.", 2));
    assert_null(ngx_http_order_edit_json_number("abc", 3));
}


static void
test_exact_json_rejects(void **state)
{
    char                           err[256];
    size_t                         i;
    json_t                        *j;
    ngx_http_order_edit_json_rc_e  rc;
    static const struct {
        const char                     *text;
        ngx_http_order_edit_json_rc_e   rc;
    }  t[] = {
        { "{\"a\": \"\\u0000\"}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": 1, \"a\": 2}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": 01.5}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": 1.}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": -}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": .5}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": 1e}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": \"open", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "{\"a\": NaN}", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "[[[[[[[[[[]]]]]]]]]]", NGX_HTTP_ORDER_EDIT_JSON_TOO_DEEP },
        { "\"top\"", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
        { "", NGX_HTTP_ORDER_EDIT_JSON_INVALID },
    };

    (void) state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        j = ngx_http_order_edit_json_load(t[i].text, strlen(t[i].text), 8,
                                          4096, &rc, err, sizeof(err));
        if (j != NULL || rc != t[i].rc) {
            fail_msg("case %zu (%s): rc %d", i, t[i].text, rc);
        }
    }

    j = ngx_http_order_edit_json_load("{}", 2, 8, 1, &rc, err, sizeof(err));
    assert_null(j);
    assert_int_equal(rc, NGX_HTTP_ORDER_EDIT_JSON_TOO_LARGE);
    assert_string_equal(ngx_http_order_edit_json_code(rc), "too_large");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_not_nul_terminated),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_currency_exponents),
        cmocka_unit_test(test_allocate),
        cmocka_unit_test(test_muldiv),
        cmocka_unit_test(test_exact_json),
        cmocka_unit_test(test_exact_json_rejects),
    };

    return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
