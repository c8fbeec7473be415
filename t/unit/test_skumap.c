
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * SKU maps, rewrite rules, fallbacks, bundle specs, configuration setters
 * and timestamps: everything nginx -t checks at configuration time.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oe_test_util.h"


static ngx_http_order_edit_skumap_t *
oe_map(const char *text, char *err, size_t errlen)
{
    return ngx_http_order_edit_skumap_parse(text, strlen(text), "test.map",
                                            err, errlen);
}


static void
test_map_parse(void **state)
{
    char                           err[256];
    ngx_http_order_edit_skumap_t  *m;

    (void) state;

    m = oe_map("\xef\xbb\xbf# header\r\n"
               "\n"
               "  ABC-1   1234   # trailing comment\r\n"
               "\tSKU#2\teid:ITEM_2-b\n"
               "ZZZ 9", err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(ngx_http_order_edit_skumap_size(m), 3);
    assert_string_equal(ngx_http_order_edit_skumap_lookup(m, "ABC-1", 5),
                        "1234");
    assert_string_equal(ngx_http_order_edit_skumap_lookup(m, "SKU#2", 5),
                        "eid:ITEM_2-b");
    assert_string_equal(ngx_http_order_edit_skumap_lookup(m, "ZZZ", 3), "9");
    assert_null(ngx_http_order_edit_skumap_lookup(m, "ABC", 3));
    assert_null(ngx_http_order_edit_skumap_lookup(m, "ABC-10", 6));
    ngx_http_order_edit_skumap_free(m);

    m = oe_map("", err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(ngx_http_order_edit_skumap_size(m), 0);
    ngx_http_order_edit_skumap_free(m);
}


static void
test_map_errors(void **state)
{
    char                           err[256];
    size_t                         i;
    ngx_http_order_edit_skumap_t  *m;
    static const struct { const char *text; const char *msg; }  t[] = {
        { "A 1\nB 2\n\nA 3\n",
          "sku map \"test.map\" line 4: duplicate SKU \"A\" "
          "(first on line 1)" },
        { "A 1\nB\n", "sku map \"test.map\" line 2: expected "
                      "\"sku item-reference\"" },
        { "A 1 2\n", "sku map \"test.map\" line 1: expected "
                     "\"sku item-reference\"" },
        { "A abc\n", "sku map \"test.map\" line 1: invalid item reference "
                     "\"abc\" (use a NetSuite internal id or "
                     "\"eid:<external id>\")" },
        { "A eid:has.dot\n", NULL },
        { "A eid:\n", NULL },
        { "A\x01 1\n", "sku map \"test.map\" line 1: control character in "
                       "a SKU" },
    };

    (void) state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        err[0] = '\0';
        m = oe_map(t[i].text, err, sizeof(err));

        if (m != NULL) {
            fail_msg("case %zu accepted", i);
        }

        if (t[i].msg) {
            assert_string_equal(err, t[i].msg);

        } else {
            assert_true(strstr(err, "line 1") != NULL);
        }
    }

    m = ngx_http_order_edit_skumap_load("/nonexistent/skus.map", err,
                                        sizeof(err));
    assert_null(m);
    assert_string_equal(err, "sku map \"/nonexistent/skus.map\": No such file "
                             "or directory");
}


static void
test_rewrite_and_fallback(void **state)
{
    int                              rc;
    char                             err[256];
    char                             item[NGX_HTTP_ORDER_EDIT_ITEM_MAX];
    char                             rw[NGX_HTTP_ORDER_EDIT_SKU_MAX + 1];
    ngx_http_order_edit_norm_conf_t  conf;

    (void) state;

    ngx_http_order_edit_norm_conf_init(&conf);
    conf.skus.map = oe_map("TEE 11\nMUG 12\nTEE-L 13\n", err, sizeof(err));
    assert_non_null(conf.skus.map);

    assert_int_equal(oe_add_rewrite(&conf, "^(.+)-(S|M|L|XL)$", "$1", err,
                                    sizeof(err)), 0);
    assert_int_equal(oe_add_rewrite(&conf, "^OLD-(\\w+)$", "$1$$", err,
                                    sizeof(err)), 0);

    /* the exact SKU wins over a rewrite */
    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "TEE-L", 5, item, rw,
                                            err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_string_equal(item, "13");
    assert_string_equal(rw, "");

    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "TEE-XL", 6, item, rw,
                                            err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_string_equal(item, "11");
    assert_string_equal(rw, "TEE");

    /* "$$" is a dollar; unmapped after the rewrite, no fallback */
    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "OLD-MUG", 7, item,
                                            rw, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_string_equal(rw, "MUG$");
    assert_string_equal(err, "SKU \"MUG$\" is not mapped to a NetSuite item");

    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "NOPE", 4, item, rw,
                                            err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_string_equal(err, "SKU \"NOPE\" is not mapped to a NetSuite item");

    assert_int_equal(ngx_http_order_edit_norm_set_fallback(&conf,
                                                           "external_id", err,
                                                           sizeof(err)), 0);
    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "NOPE", 4, item, rw,
                                            err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_string_equal(item, "eid:NOPE");

    /* a fallback external id must be one NetSuite accepts */
    rc = ngx_http_order_edit_skures_resolve(&conf.skus, "A B", 3, item, rw,
                                            err, sizeof(err));
    assert_int_equal(rc, -1);

    assert_int_equal(ngx_http_order_edit_norm_set_fallback(&conf, "maybe",
                                                           err, sizeof(err)),
                     -1);

    /* replacements are checked against the capture groups */
    assert_int_equal(oe_add_rewrite(&conf, "^(a)$", "$2", err, sizeof(err)),
                     -1);
    assert_string_equal(err, "sku rewrite replacement \"$2\" refers to $2 but "
                             "the regex has 1 capture group(s)");
    assert_int_equal(ngx_http_order_edit_rewrite_check("x$", 2, 1, err,
                                                       sizeof(err)), -1);

    ngx_http_order_edit_norm_conf_free(&conf);
    oe_regex_free_all();
}


static void
test_bundles(void **state)
{
    char                                 err[256];
    size_t                               i;
    ngx_http_order_edit_bundles_t        b;
    const ngx_http_order_edit_bundle_t  *x;
    static const char  *bad[] = {
        "GIFTBOX", "=A:1:1", "GIFTBOX=", "GIFTBOX=A:1", "GIFTBOX=A:0:1",
        "GIFTBOX=A:1:0", "GIFTBOX=A:1:x", "GIFTBOX=A:1:1,", "GIFTBOX=,A:1:1",
        "GIFTBOX=GIFTBOX:1:1", "GIFTBOX=A:1:1,A:2:2", "GIFTBOX=:1:1",
        "GIFTBOX=A:10001:1", "GIFTBOX=A:1:1000001", "GIFT BOX=A:1:1"
    };

    (void) state;

    memset(&b, 0, sizeof(b));

    assert_int_equal(ngx_http_order_edit_bundles_add(&b,
                         "GIFTBOX=MUG:2:60, TEA:1:40", 26, err, sizeof(err)),
                     0);
    assert_int_equal(ngx_http_order_edit_bundles_add(&b,
                         "NS=ITEM:WITH:COLON:3:1", 22, err, sizeof(err)), 0);

    x = ngx_http_order_edit_bundles_find(&b, "GIFTBOX", 7);
    assert_non_null(x);
    assert_int_equal(x->ncomponents, 2);
    assert_string_equal(x->components[0].sku, "MUG");
    assert_int_equal(x->components[0].qty, 2);
    assert_int_equal(x->components[0].weight, 60);
    assert_string_equal(x->components[1].sku, "TEA");
    assert_int_equal(x->components[1].weight, 40);

    x = ngx_http_order_edit_bundles_find(&b, "NS", 2);
    assert_non_null(x);
    assert_string_equal(x->components[0].sku, "ITEM:WITH:COLON");
    assert_int_equal(x->components[0].qty, 3);

    assert_int_equal(ngx_http_order_edit_bundles_add(&b, "GIFTBOX=A:1:1", 13,
                                                     err, sizeof(err)), -1);
    assert_string_equal(err, "bundle \"GIFTBOX\" is defined twice");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';

        if (ngx_http_order_edit_bundles_add(&b, bad[i], strlen(bad[i]), err,
                                            sizeof(err))
            != -1 || err[0] == '\0')
        {
            fail_msg("bundle spec \"%s\" accepted", bad[i]);
        }
    }

    assert_int_equal(b.nbundles, 2);
    ngx_http_order_edit_bundles_free(&b);
}


static void
test_conf_setters(void **state)
{
    char                             err[256];
    ngx_http_order_edit_norm_conf_t  conf;

    (void) state;

    ngx_http_order_edit_norm_conf_init(&conf);

#define OK(call)   assert_int_equal(call, 0)
#define BAD(call)  assert_int_equal(call, -1)

    OK(ngx_http_order_edit_norm_set_external_id(&conf, "sales_order",
           "NS-{shop}-{order_number}", err, sizeof(err)));
    OK(ngx_http_order_edit_norm_set_external_id(&conf, "credit_memo",
           "CM_{shop_domain}_{refund_id}", err, sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "sales_order",
            "so-{shop}", err, sizeof(err)));
    assert_string_equal(err, "external id pattern \"so-{shop}\" must contain "
                             "{order_id} or {order_number}");
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "credit_memo",
            "cm-{order_id}", err, sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "sales_order",
            "so.{order_id}", err, sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "sales_order",
            "so-{order_id", err, sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "sales_order",
            "so-{refund_id}", err, sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_external_id(&conf, "invoice",
            "x-{order_id}", err, sizeof(err)));

    OK(ngx_http_order_edit_norm_set_field(&conf, "total", "custbody_x", err,
                                          sizeof(err)));
    OK(ngx_http_order_edit_norm_set_field(&conf, "line_tax", "off", err,
                                          sizeof(err)));
    assert_string_equal(ngx_http_order_edit_norm_field(&conf,
                            NGX_HTTP_ORDER_EDIT_FIELD_TOTAL), "custbody_x");
    assert_null(ngx_http_order_edit_norm_field(&conf,
                    NGX_HTTP_ORDER_EDIT_FIELD_LINE_TAX));
    assert_string_equal(ngx_http_order_edit_norm_field(&conf,
                            NGX_HTTP_ORDER_EDIT_FIELD_ORDER_NUMBER),
                        "otherRefNum");
    BAD(ngx_http_order_edit_norm_set_field(&conf, "colour", "x", err,
                                           sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_field(&conf, "total", "custbody-x", err,
                                           sizeof(err)));

    OK(ngx_http_order_edit_norm_set_item(&conf, "gift_card", "eid:GIFT", err,
                                         sizeof(err)));
    OK(ngx_http_order_edit_norm_set_item(&conf, "shipping", "123", err,
                                         sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_item(&conf, "shipping", "UPS", err,
                                          sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_item(&conf, "tips", "1", err,
                                          sizeof(err)));
    OK(ngx_http_order_edit_norm_set_item(&conf, "tip", "eid:TIP", err,
                                         sizeof(err)));
    OK(ngx_http_order_edit_norm_set_item(&conf, "duties", "77", err,
                                         sizeof(err)));
    OK(ngx_http_order_edit_norm_set_taxes_included(&conf, "on", err,
                                                   sizeof(err)));
    assert_int_equal(conf.taxes_included, 1);
    BAD(ngx_http_order_edit_norm_set_taxes_included(&conf, "yes", err,
                                                    sizeof(err)));

    OK(ngx_http_order_edit_norm_set_currency(&conf, "XTS=3", err,
                                             sizeof(err)));
    OK(ngx_http_order_edit_norm_set_currency(&conf, "JPY=2", err,
                                             sizeof(err)));
    assert_int_equal(ngx_http_order_edit_norm_exponent(&conf, "XTS", 3), 3);
    assert_int_equal(ngx_http_order_edit_norm_exponent(&conf, "JPY", 3), 2);
    assert_int_equal(ngx_http_order_edit_norm_exponent(&conf, "KWD", 3), 3);
    BAD(ngx_http_order_edit_norm_set_currency(&conf, "XTS=5", err,
                                              sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_currency(&conf, "xts=2", err,
                                              sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_currency(&conf, "XTS", err,
                                              sizeof(err)));

    OK(ngx_http_order_edit_norm_set_money(&conf, "presentment", err,
                                          sizeof(err)));
    BAD(ngx_http_order_edit_norm_set_money(&conf, "customer", err,
                                           sizeof(err)));

    ngx_http_order_edit_norm_conf_free(&conf);
}


static void
test_time(void **state)
{
    int64_t  a, b;

    (void) state;

    assert_int_equal(ngx_http_order_edit_parse_time("1970-01-01T00:00:00Z",
                                                    20, &a), 0);
    assert_int_equal(a, 0);

    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-03-05T10:15:30-05:00", 25, &a), 0);
    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-03-05T15:15:30Z", 20, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(a, 1709651730000LL);

    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-03-05T15:15:30.250Z", 24, &b), 0);
    assert_int_equal(b - a, 250);

    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-02-29T00:00:00+00:00", 25, &a), 0);
    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2023-02-29T00:00:00+00:00", 25, &a), -1);
    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-13-01T00:00:00Z", 20, &a), -1);
    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-03-05 10:15:30", 19, &a), -1);
    assert_int_equal(ngx_http_order_edit_parse_time(
                         "2024-03-05T10:15:30+0500", 24, &a), -1);
    assert_int_equal(ngx_http_order_edit_parse_time("yesterday", 9, &a), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_map_parse),
        cmocka_unit_test(test_map_errors),
        cmocka_unit_test(test_rewrite_and_fallback),
        cmocka_unit_test(test_bundles),
        cmocka_unit_test(test_conf_setters),
        cmocka_unit_test(test_time),
    };

    return cmocka_run_group_tests_name("skumap", tests, NULL, NULL);
}
