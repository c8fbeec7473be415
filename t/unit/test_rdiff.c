
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The mismatch report's comparison: an Admin API order (current_total_price,
 * current_total_tax, line_items' current_quantity, refunds' transactions)
 * against its NetSuite summary; exactly the differences, in minor units.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_http_order_edit_rdiff.h"


static const char  oe_shop[] =
    "{\"id\":450789469,\"currency\":\"CAD\","
    "\"updated_at\":\"2026-12-06T10:15:30-05:00\","
    "\"total_price\":\"120.00\",\"current_total_price\":\"110.00\","
    "\"total_tax\":\"12.00\",\"current_total_tax\":\"10.00\","
    "\"line_items\":[{\"id\":1,\"sku\":\"A\",\"quantity\":2,"
    "\"current_quantity\":1},{\"id\":2,\"sku\":\"B\",\"quantity\":3},"
    "{\"id\":3,\"sku\":\"\",\"variant_id\":77,\"quantity\":1}],"
    "\"refunds\":[{\"id\":900,\"transactions\":["
    "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"10.00\"},"
    "{\"kind\":\"refund\",\"status\":\"failure\",\"amount\":\"99.00\"}]}]}";

static const char  oe_ns[] =
    "{\"currency\":\"CAD\",\"total\":\"110.0\",\"tax\":\"10\","
    "\"lines\":{\"A\":1,\"B\":\"3\",\"variant:77\":1},"
    "\"memos\":{\"900\":\"10.00\"},\"locked\":false}";


static json_t *
oe_load(const char *s)
{
    json_t  *j;

    j = json_loads(s, 0, NULL);
    assert_non_null(j);

    return j;
}


static json_t *
oe_diff(json_t *shop, json_t *ns, int expect)
{
    json_t  *rows;

    rows = json_array();
    assert_int_equal(ngx_http_order_edit_rdiff(shop, ns, "1", rows), expect);
    assert_int_equal(json_array_size(rows), expect < 0 ? 1 : expect);

    return rows;
}


static void
oe_row(json_t *rows, size_t i, const char *kind, const char *what,
    const char *shop, const char *ns, int actionable)
{
    json_t  *row;

    row = json_array_get(rows, i);
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(row, "order")),
                        "450789469");
    assert_string_equal(json_string_value(json_object_get(row, "kind")),
                        kind);
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        what);

    if (shop) {
        assert_string_equal(
            json_string_value(json_object_get(row, "shopify")), shop);
    } else {
        assert_true(json_is_null(json_object_get(row, "shopify")));
    }

    if (ns) {
        assert_string_equal(
            json_string_value(json_object_get(row, "netsuite")), ns);
    } else {
        assert_true(json_is_null(json_object_get(row, "netsuite")));
    }

    assert_string_equal(json_string_value(json_object_get(row, "since")),
                        "2026-12-06T10:15:30-05:00");
    assert_int_equal(json_is_true(json_object_get(row, "actionable")),
                     actionable);
}


/* a row of quantities, -1 for none (null) */

static void
oe_qty_row(json_t *rows, size_t i, const char *kind, const char *what,
    json_int_t shop, json_int_t ns)
{
    json_t  *row, *v;

    row = json_array_get(rows, i);
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(row, "kind")),
                        kind);
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        what);

    v = json_object_get(row, "shopify");
    assert_true(shop < 0 ? json_is_null(v) : json_integer_value(v) == shop);
    v = json_object_get(row, "netsuite");
    assert_true(ns < 0 ? json_is_null(v) : json_integer_value(v) == ns);
    assert_false(json_is_true(json_object_get(row, "actionable")));
}


/* the same money in other spellings is no difference */

static void
test_equal(void **state)
{
    json_t  *shop, *ns, *rows;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    rows = oe_diff(shop, ns, 0);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


static void
test_drifted_total(void **state)
{
    json_t  *shop, *ns, *rows;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_set_new(ns, "total", json_string("109.99"));

    rows = oe_diff(shop, ns, 1);
    oe_row(rows, 0, "mismatch", "total", "110.00", "109.99", 1);
    json_decref(rows);

    /* past the fulfilment lock: reported, but no exception */
    json_object_set_new(ns, "locked", json_true());
    rows = oe_diff(shop, ns, 1);
    oe_row(rows, 0, "mismatch", "total", "110.00", "109.99", 0);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


static void
test_missing_memo(void **state)
{
    json_t  *shop, *ns, *rows;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_del(json_object_get(ns, "memos"), "900");
    json_object_set_new(json_object_get(ns, "memos"), "901",
                        json_string("5.00"));

    rows = oe_diff(shop, ns, 2);
    oe_row(rows, 0, "missing_in_netsuite", "refund:900", "10.00", NULL, 0);
    oe_row(rows, 1, "missing_in_shopify", "refund:901", NULL, "5.00", 0);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


static void
test_lines_and_tax(void **state)
{
    json_t  *shop, *ns, *rows, *row;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_set_new(ns, "tax", json_string("10.01"));
    json_object_set_new(json_object_get(ns, "lines"), "A", json_integer(2));
    json_object_set_new(json_object_get(ns, "lines"), "C", json_integer(1));

    rows = oe_diff(shop, ns, 3);
    oe_row(rows, 0, "mismatch", "tax", "10.00", "10.01", 1);

    row = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        "line:A");
    assert_int_equal(json_integer_value(json_object_get(row, "shopify")), 1);
    assert_int_equal(json_integer_value(json_object_get(row, "netsuite")), 2);

    /* a line only NetSuite has */
    row = json_array_get(rows, 2);
    assert_string_equal(json_string_value(json_object_get(row, "kind")),
                        "missing_in_shopify");
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        "line:C");
    assert_true(json_is_null(json_object_get(row, "shopify")));
    assert_int_equal(json_integer_value(json_object_get(row, "netsuite")), 1);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


/*
 * Lines by our line key, with their amounts: price x quantity now less
 * the discount still on them; a line removed by a refund keeps exactly
 * what the refund did not take.
 */

static const char  oe_keyed_shop[] =
    "{\"id\":450789469,\"currency\":\"CAD\","
    "\"updated_at\":\"2026-12-06T10:15:30-05:00\","
    "\"current_total_price\":\"1.00\",\"current_total_tax\":\"0\","
    "\"line_items\":["
    "{\"id\":11,\"sku\":\"A\",\"price\":\"19.99\",\"quantity\":3,"
    "\"current_quantity\":3,\"discount_allocations\":[{\"amount\":\"5.00\"}]},"
    "{\"id\":12,\"sku\":\"B\",\"price\":\"10.00\",\"quantity\":4,"
    "\"current_quantity\":3,\"discount_allocations\":[{\"amount\":\"4.00\"}]},"
    "{\"id\":13,\"sku\":\"C\",\"price\":\"2.50\",\"quantity\":2,"
    "\"current_quantity\":2},"
    "{\"id\":14,\"sku\":\"D\",\"price\":\"1.00\",\"quantity\":1,"
    "\"current_quantity\":0}],"
    "\"refunds\":[{\"id\":900,\"refund_line_items\":[{\"line_item_id\":12,"
    "\"quantity\":1,\"subtotal\":\"9.00\"}],\"transactions\":[]}]}";

static const char  oe_keyed_ns[] =
    "{\"currency\":\"CAD\",\"total\":\"1.00\",\"tax\":\"0\","
    "\"line_key\":true,\"lines\":{"
    "\"11\":{\"sku\":\"A\",\"quantity\":3,\"amount\":\"54.97\"},"
    "\"12\":{\"sku\":\"B\",\"quantity\":3,\"amount\":\"27.00\"},"
    "\"13\":{\"sku\":\"C\",\"quantity\":2,\"amount\":\"5.0\"}},"
    "\"memos\":{},\"locked\":false}";


static void
test_keyed_lines(void **state)
{
    json_t  *shop, *ns, *rows, *row;

    (void) state;

    shop = oe_load(oe_keyed_shop);
    ns = oe_load(oe_keyed_ns);
    json_array_clear(json_object_get(shop, "refunds"));
    json_array_append_new(json_object_get(shop, "refunds"),
        json_pack("{s:i, s:[{s:i, s:i, s:s}], s:[]}", "id", 900,
                  "refund_line_items", "line_item_id", 12, "quantity", 1,
                  "subtotal", "9.00", "transactions"));
    json_object_set_new(ns, "memos", json_pack("{s:s}", "900", "0"));

    /* equal: 3 x 19.99 - 5.00; 3 x 10.00 - (4.00 - (10.00 - 9.00)) */
    rows = oe_diff(shop, ns, 0);
    json_decref(rows);

    /* a quantity drift, an amount drift, a line gone from NetSuite */
    json_object_set_new(json_object_get(json_object_get(ns, "lines"), "11"),
                        "quantity", json_integer(2));
    json_object_set_new(json_object_get(json_object_get(ns, "lines"), "12"),
                        "amount", json_string("27.01"));
    json_object_del(json_object_get(ns, "lines"), "13");

    rows = oe_diff(shop, ns, 3);

    row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        "line:A");
    assert_int_equal(json_integer_value(json_object_get(row, "shopify")), 3);
    assert_int_equal(json_integer_value(json_object_get(row, "netsuite")), 2);
    assert_true(json_is_true(json_object_get(row, "actionable")));

    oe_row(rows, 1, "mismatch", "line_amount:B", "27.00", "27.01", 1);

    row = json_array_get(rows, 2);
    assert_string_equal(json_string_value(json_object_get(row, "kind")),
                        "missing_in_netsuite");
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        "line:C");
    assert_int_equal(json_integer_value(json_object_get(row, "shopify")), 2);
    assert_true(json_is_null(json_object_get(row, "netsuite")));
    json_decref(rows);

    /*
     * A bundle's components: their quantity is not the line's; a removal
     * no refund explains, with a discount: its amount is not exact; with
     * taxes in the price no amount is compared
     */
    json_object_set_new(json_object_get(json_object_get(ns, "lines"), "11"),
                        "parts", json_true());
    json_array_clear(json_object_get(shop, "refunds"));
    json_object_clear(json_object_get(ns, "memos"));
    rows = oe_diff(shop, ns, 1);
    row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "what")),
                        "line:C");
    json_decref(rows);

    json_object_set_new(shop, "taxes_included", json_true());
    json_object_set_new(json_object_get(json_object_get(ns, "lines"), "11"),
                        "amount", json_string("1.00"));
    rows = oe_diff(shop, ns, 1);
    json_decref(rows);

    json_decref(shop);
    json_decref(ns);
}


/* NetSuite's lines not read: only totals and Credit Memos compared */

static void
test_lines_not_read(void **state)
{
    json_t  *shop, *ns, *rows;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_del(ns, "lines");

    rows = oe_diff(shop, ns, 0);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


static void
test_missing_order(void **state)
{
    json_t      *shop, *ns, *rows, *row;

    (void) state;

    shop = oe_load(oe_shop);
    rows = oe_diff(shop, NULL, 1);
    oe_row(rows, 0, "missing_in_netsuite", "order", NULL, NULL, 0);
    json_decref(rows);

    ns = oe_load(oe_ns);
    json_object_set_new(ns, "since", json_string("2026-12-01T00:00:00Z"));
    rows = oe_diff(NULL, ns, 1);
    row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "order")),
                        "1");
    assert_string_equal(json_string_value(json_object_get(row, "kind")),
                        "missing_in_shopify");
    assert_string_equal(json_string_value(json_object_get(row, "since")),
                        "2026-12-01T00:00:00Z");

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


/*
 * A refund's lines against its Credit Memo's, by the refund line item id
 * the normaliser writes as the memo line's key: quantity and subtotal
 * (or subtotal_set's shop money) in exact minor units; a bundle's parts'
 * quantity is not the refund line's; never actionable.
 */

static const char  oe_refund[] =
    "[{\"id\":900,\"refund_line_items\":["
    "{\"id\":501,\"line_item_id\":1,\"quantity\":2,\"subtotal\":\"20.00\"},"
    "{\"id\":502,\"line_item_id\":2,\"quantity\":1,\"subtotal_set\":"
    "{\"shop_money\":{\"amount\":\"5.5\",\"currency_code\":\"CAD\"}}},"
    "{\"id\":503,\"line_item_id\":2,\"quantity\":1,\"subtotal\":\"7.00\"}],"
    "\"transactions\":[{\"kind\":\"refund\",\"status\":\"success\","
    "\"amount\":\"32.50\"}]}]";

static const char  oe_memo[] =
    "{\"total\":\"32.50\",\"lines\":{"
    "\"501\":{\"sku\":\"no-restock\",\"quantity\":2,\"amount\":\"20.00\","
    "\"parts\":false},"
    "\"502\":{\"sku\":\"B\",\"quantity\":1,\"amount\":\"5.50\","
    "\"parts\":false},"
    "\"503\":{\"sku\":\"KIT-1\",\"quantity\":3,\"amount\":\"7.0\","
    "\"parts\":true}}}";


static void
test_memo_lines(void **state)
{
    json_t  *shop, *ns, *rows, *lines;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_set_new(shop, "refunds", oe_load(oe_refund));
    json_object_set_new(json_object_get(ns, "memos"), "900",
                        oe_load(oe_memo));

    /* the same lines: nothing to report */
    rows = oe_diff(shop, ns, 0);
    json_decref(rows);

    /* a quantity drift, an amount 0.01 off, a line gone, one extra */
    lines = json_object_get(json_object_get(json_object_get(ns, "memos"),
                                            "900"), "lines");
    json_object_set_new(json_object_get(lines, "501"), "quantity",
                        json_integer(3));
    json_object_set_new(json_object_get(lines, "502"), "amount",
                        json_string("5.51"));
    json_object_del(lines, "503");
    json_object_set_new(lines, "504",
                        json_pack("{s:i, s:s}", "quantity", 1,
                                  "amount", "0.00"));

    rows = oe_diff(shop, ns, 4);
    oe_qty_row(rows, 0, "mismatch", "credit_memo_line:900:501", 2, 3);
    oe_row(rows, 1, "mismatch", "credit_memo_line_amount:900:502", "5.50",
           "5.51", 0);
    oe_qty_row(rows, 2, "missing_in_netsuite", "credit_memo_line:900:503", 1,
               -1);
    oe_qty_row(rows, 3, "missing_in_shopify", "credit_memo_line:900:504", -1,
               1);
    json_decref(rows);

    /*
     * Booked in the customer's money (money presentment) for an order
     * paid in another currency: the memo's amounts are not the shop's
     * subtotals, quantities alone are compared
     */
    json_object_set_new(json_object_get(json_object_get(ns, "memos"), "900"),
                        "presentment", json_true());
    json_object_set_new(shop, "presentment_currency", json_string("USD"));
    rows = oe_diff(shop, ns, 3);
    oe_qty_row(rows, 1, "missing_in_netsuite", "credit_memo_line:900:503", 1,
               -1);
    json_decref(rows);
    json_object_set_new(shop, "presentment_currency", json_string("CAD"));
    rows = oe_diff(shop, ns, 4);
    json_decref(rows);

    /* a memo's line that is not a number: the order is unreadable */
    json_object_set_new(json_object_get(lines, "501"), "quantity",
                        json_string("?"));
    json_object_set_new(json_object_get(lines, "502"), "amount",
                        json_string("5.50"));
    json_object_del(lines, "504");
    json_object_set_new(lines, "503",
                        json_pack("{s:i, s:s, s:b}", "quantity", 3,
                                  "amount", "7.00", "parts", 1));
    rows = oe_diff(shop, ns, -1);
    oe_row(rows, 0, "mismatch", "unreadable", NULL, NULL, 0);
    json_decref(rows);

    /* the memo's lines not read (no "lines"): its total alone */
    json_object_del(json_object_get(json_object_get(ns, "memos"), "900"),
                    "lines");
    rows = oe_diff(shop, ns, 0);
    json_decref(rows);

    json_decref(shop);
    json_decref(ns);
}


/* a double is never money: the order is flagged, not compared wrongly */

static void
test_unreadable(void **state)
{
    json_t  *shop, *ns, *rows;

    (void) state;

    shop = oe_load(oe_shop);
    ns = oe_load(oe_ns);
    json_object_set_new(ns, "total", json_real(110.0));

    rows = oe_diff(shop, ns, -1);
    oe_row(rows, 0, "mismatch", "unreadable", NULL, NULL, 0);

    json_decref(rows);
    json_decref(shop);
    json_decref(ns);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_drifted_total),
        cmocka_unit_test(test_missing_memo),
        cmocka_unit_test(test_lines_and_tax),
        cmocka_unit_test(test_lines_not_read),
        cmocka_unit_test(test_keyed_lines),
        cmocka_unit_test(test_memo_lines),
        cmocka_unit_test(test_missing_order),
        cmocka_unit_test(test_unreadable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
