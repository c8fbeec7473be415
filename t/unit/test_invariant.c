
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The invariant test: thousands of generated orders, each edited (lines
 * removed, quantities reduced), discounted (per line and order-level,
 * rounded differently from the normaliser), taxed, tipped and refunded;
 * money written as strings and as JSON numbers.  For every one:
 *
 *   - the document's totals are Shopify's totals to the minor unit;
 *   - lines net sum to the subtotal, line and shipping taxes to the tax;
 *   - bundle components sum exactly to their bundle line;
 *   - every credit memo's total is the sum of its successful refund
 *     transactions, and so is the sum over all the order's refunds.
 *
 * OE_SEED and OE_ORDERS in the environment change the run.
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


#define OE_BUF  (1 << 20)


typedef struct {
    char    *p;
    size_t   len;
    int      exp;
} oe_buf_t;


static uint64_t  oe_rng;


static uint64_t
oe_rand(void)
{
    oe_rng ^= oe_rng << 13;
    oe_rng ^= oe_rng >> 7;
    oe_rng ^= oe_rng << 17;

    return oe_rng;
}


/* a random integer in [lo, hi] */

static int64_t
oe_range(int64_t lo, int64_t hi)
{
    if (hi <= lo) {
        return lo;
    }

    return lo + (int64_t) (oe_rand() % (uint64_t) (hi - lo + 1));
}


static void
oe_put(oe_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(b->p + b->len, OE_BUF - b->len, fmt, args);
    va_end(args);

    assert_true(n >= 0 && b->len + n < OE_BUF);
    b->len += n;
}


/*
 * Money written independently of the code under test: a string with all
 * decimals, or a JSON number, sometimes without trailing zeros.
 */

static void
oe_money_put(oe_buf_t *b, const char *key, int64_t v)
{
    int       i, form;
    char      digits[64], *p;
    int64_t   unit, ip, fp;

    unit = 1;
    for (i = 0; i < b->exp; i++) {
        unit *= 10;
    }

    ip = (v < 0 ? -v : v) / unit;
    fp = (v < 0 ? -v : v) % unit;

    if (b->exp > 0) {
        snprintf(digits, sizeof(digits), "%s%lld.%0*lld", v < 0 ? "-" : "",
                 (long long) ip, b->exp & 7, (long long) fp);

    } else {
        snprintf(digits, sizeof(digits), "%s%lld", v < 0 ? "-" : "",
                 (long long) ip);
    }

    form = (int) oe_range(0, 3);

    if (form == 3 && b->exp > 0) {
        /* 12.30 -> 12.3, 5.00 -> 5 */
        p = digits + strlen(digits) - 1;
        while (*p == '0') {
            *p-- = '\0';
        }

        if (*p == '.') {
            *p = '\0';
        }
    }

    oe_put(b, "\"%s\": %s%s%s", key, form >= 2 ? "" : "\"", digits,
           form >= 2 ? "" : "\"");
}


typedef struct {
    int64_t   id;
    int64_t   price;
    int64_t   qty;
    int64_t   cur;
    int64_t   disc;
    int64_t   tax;
    int       bundle;
} oe_gen_line_t;


static const struct { const char *code; int exp; }  oe_currencies[] = {
    { "USD", 2 }, { "JPY", 0 }, { "KWD", 3 }, { "EUR", 2 }, { "GBP", 2 }
};


static int64_t
oe_doc_money(const json_t *v, int exp)
{
    int64_t  m;

    if (oe_money(v, exp, &m) != 0) {
        fail_msg("not a %d-decimal amount", exp);
    }

    return m;
}


static void
oe_one_order(ngx_http_order_edit_norm_conf_t *conf, oe_buf_t *b,
    int64_t order_id)
{
    int                                c, incl, n, i, j, k, nref, out;
    char                               err[512];
    json_t                            *so, *t, *lines, *l;
    int64_t                            sub, tax, ship, ship_tax, tip, total;
    int64_t                            disc_total, order_disc, d, tx, sum;
    int64_t                            all_tx, all_cm, line_tax_total, v;
    const char                        *msg;
    oe_gen_line_t                      g[8];
    ngx_http_order_edit_norm_input_t   in;
    ngx_http_order_edit_norm_result_t  res;

    c = (int) oe_range(0, 4);
    b->exp = oe_currencies[c].exp;
    incl = (int) oe_range(0, 1);
    n = (int) oe_range(1, 8);

    sub = 0;
    disc_total = 0;
    line_tax_total = 0;

    for (i = 0; i < n; i++) {
        g[i].id = order_id * 10 + i + 1;
        g[i].price = oe_range(0, 60000);
        g[i].qty = oe_range(1, 5);
        g[i].cur = oe_range(0, g[i].qty);
        g[i].disc = oe_range(0, g[i].price * g[i].qty / 3);
        g[i].tax = oe_range(0, (g[i].price * g[i].qty - g[i].disc) / 5);
        g[i].bundle = oe_range(0, 4) == 0;

        /* Shopify's current values, floored: not the normaliser's rounding */
        d = g[i].disc * g[i].cur / g[i].qty;
        sub += g[i].price * g[i].cur - d;
        disc_total += d;
        line_tax_total += g[i].tax * g[i].cur / g[i].qty;
    }

    order_disc = oe_range(0, 2) == 0 ? oe_range(0, sub / 10) : 0;
    sub -= order_disc;
    disc_total += order_disc;

    ship = oe_range(0, 3) ? oe_range(0, 3000) : 0;
    ship_tax = oe_range(0, 1) ? oe_range(0, ship / 5) : 0;
    tax = line_tax_total + ship_tax;

    /* Shopify may round an order's tax differently from its lines */
    if (line_tax_total > 2) {
        tax += oe_range(-1, 1);
    }

    tip = oe_range(0, 4) == 0 ? oe_range(1, 2000) : 0;
    total = sub + ship + (incl ? 0 : tax) + tip;

    /* the snapshot */

    b->len = 0;
    oe_put(b, "{\"id\": %lld, \"name\": \"#%lld\", \"order_number\": %lld, "
           "\"updated_at\": \"2024-03-05T10:15:30-05:00\", "
           "\"currency\": \"%s\", \"taxes_included\": %s, ",
           (long long) order_id, (long long) order_id, (long long) order_id,
           oe_currencies[c].code, incl ? "true" : "false");
    oe_money_put(b, "current_subtotal_price", sub);
    oe_put(b, ", ");
    oe_money_put(b, "current_total_discounts", disc_total);
    oe_put(b, ", ");
    oe_money_put(b, "current_total_tax", tax);
    oe_put(b, ", ");
    oe_money_put(b, "current_total_price", total);
    oe_put(b, ", ");
    oe_money_put(b, "total_tip_received", tip);
    oe_put(b, ", \"line_items\": [");

    for (i = 0; i < n; i++) {
        oe_put(b, "%s{\"id\": %lld, \"sku\": \"%s\", \"quantity\": %lld, "
               "\"current_quantity\": %lld, ", i ? ", " : "",
               (long long) g[i].id, g[i].bundle ? "BNDL" : "SKU-X",
               (long long) g[i].qty, (long long) g[i].cur);
        oe_money_put(b, "price", g[i].price);
        oe_put(b, ", \"discount_allocations\": [{");
        oe_money_put(b, "amount", g[i].disc);
        oe_put(b, "}], \"tax_lines\": [{\"rate\": 0.2, ");
        oe_money_put(b, "price", g[i].tax);
        oe_put(b, "}]}");
    }

    oe_put(b, "], \"shipping_lines\": [{\"title\": \"Ground\", ");
    oe_money_put(b, "price", ship);
    oe_put(b, ", \"tax_lines\": [{");
    oe_money_put(b, "price", ship_tax);
    oe_put(b, "}]}]}");

    memset(&in, 0, sizeof(in));
    in.shop = "acme.myshopify.com";
    in.shop_len = 18;
    in.topic = "orders/updated";
    in.topic_len = 14;
    in.body = b->p;
    in.body_len = b->len;
    in.last_updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;
    in.taxes_included = -1;

    ngx_http_order_edit_nsbody_normalise(conf, &in, &res);

    if (res.kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER) {
        fail_msg("order %lld: %s: %s\n%.*s", (long long) order_id, res.error,
                 res.message, (int) b->len, b->p);
    }

    msg = oe_check_invariants(res.doc, err, sizeof(err));
    if (msg) {
        fail_msg("order %lld: %s", (long long) order_id, msg);
    }

    so = json_object_get(res.doc, "sales_order");
    t = json_object_get(so, "totals");

    assert_int_equal(oe_doc_money(json_object_get(t, "subtotal"), b->exp), sub);
    assert_int_equal(oe_doc_money(json_object_get(t, "discount"), b->exp),
                     disc_total);
    assert_int_equal(oe_doc_money(json_object_get(t, "tax"), b->exp), tax);
    assert_int_equal(oe_doc_money(json_object_get(t, "shipping"), b->exp),
                     ship);
    assert_int_equal(oe_doc_money(json_object_get(t, "tip"), b->exp), tip);
    assert_int_equal(oe_doc_money(json_object_get(t, "total"), b->exp),
                     total);

    /* removed lines are gone; bundles sum exactly to their line */
    lines = json_object_get(so, "lines");
    out = 0;

    for (i = 0; i < n; i++) {
        if (g[i].cur == 0) {
            continue;
        }

        sum = 0;

        for (k = 0; k < (g[i].bundle ? 3 : 1); k++) {
            l = json_array_get(lines, out++);
            assert_non_null(l);
            sum += oe_doc_money(json_object_get(l, "amount"), b->exp);

            v = json_integer_value(json_object_get(l, "quantity"));
            assert_int_equal(v, g[i].cur * (g[i].bundle ? (k == 0 ? 2
                                                          : k == 1 ? 1 : 3)
                                                        : 1));
        }

        assert_int_equal(sum, g[i].price * g[i].cur);
    }

    assert_int_equal(json_array_size(lines), out);

    ngx_http_order_edit_norm_result_free(&res);

    /* refunds: each memo is its transactions, exactly */

    nref = (int) oe_range(0, 3);
    all_tx = 0;
    all_cm = 0;

    for (j = 0; j < nref; j++) {
        b->len = 0;
        oe_put(b, "{\"id\": %lld, \"order_id\": %lld, \"restock\": %s, "
               "\"refund_line_items\": [", (long long) (order_id * 100 + j),
               (long long) order_id, oe_range(0, 1) ? "true" : "false");

        sum = 0;
        k = 0;

        for (i = 0; i < n; i++) {
            if (oe_range(0, 1)) {
                continue;
            }

            d = oe_range(0, g[i].price * g[i].qty);
            v = oe_range(0, d / 5);
            sum += d + (incl ? 0 : v);

            oe_put(b, "%s{\"id\": %lld, \"line_item_id\": %lld, "
                   "\"quantity\": %lld, \"restock_type\": \"%s\", "
                   "\"subtotal_set\": {\"shop_money\": {\"amount\": \"0\", "
                   "\"currency_code\": \"%s\"}}, ", k++ ? ", " : "",
                   (long long) (g[i].id * 10 + j), (long long) g[i].id,
                   (long long) oe_range(1, g[i].qty),
                   oe_range(0, 1) ? "return" : "no_restock",
                   oe_currencies[c].code);
            oe_money_put(b, "subtotal", d);
            oe_put(b, ", ");
            oe_money_put(b, "total_tax", v);
            oe_put(b, ", \"line_item\": {\"sku\": \"%s\"}}",
                   g[i].bundle ? "BNDL" : "SKU-X");
        }

        oe_put(b, "], \"order_adjustments\": [");

        if (oe_range(0, 2) == 0) {
            d = oe_range(1, 2000);
            v = incl ? 0 : oe_range(0, d / 5);
            sum += d + v;
            oe_put(b, "{\"kind\": \"shipping_refund\", ");
            oe_money_put(b, "amount", -d);
            oe_put(b, ", ");
            oe_money_put(b, "tax_amount", -v);
            oe_put(b, "}");
        }

        oe_put(b, "], \"transactions\": [");

        /* the money refunded, sometimes less or more than the parts */
        tx = sum + (oe_range(0, 3) == 0 ? oe_range(-sum / 2, 500) : 0);

        if (oe_range(0, 1) && tx > 1) {
            d = oe_range(1, tx - 1);
            oe_put(b, "{\"kind\": \"refund\", \"status\": \"success\", "
                   "\"currency\": \"%s\", ", oe_currencies[c].code);
            oe_money_put(b, "amount", d);
            oe_put(b, "}, {\"kind\": \"refund\", \"status\": \"success\", ");
            oe_money_put(b, "amount", tx - d);
            oe_put(b, "}");

        } else {
            oe_put(b, "{\"kind\": \"refund\", \"status\": \"success\", "
                   "\"currency\": \"%s\", ", oe_currencies[c].code);
            oe_money_put(b, "amount", tx);
            oe_put(b, "}");
        }

        /* failed and non-refund transactions move no money */
        oe_put(b, ", {\"kind\": \"refund\", \"status\": \"failure\", ");
        oe_money_put(b, "amount", oe_range(0, 9999));
        oe_put(b, "}, {\"kind\": \"sale\", \"status\": \"success\", ");
        oe_money_put(b, "amount", oe_range(0, 9999));
        oe_put(b, "}]}");

        all_tx += tx;

        in.topic = "refunds/create";
        in.topic_len = 14;
        in.body = b->p;
        in.body_len = b->len;
        in.taxes_included = oe_range(0, 1) ? incl : -1;

        ngx_http_order_edit_nsbody_normalise(conf, &in, &res);

        /* a taxed refund of unknown kind is refused, never guessed */
        if (in.taxes_included == -1
            && res.kind == NGX_HTTP_ORDER_EDIT_NORM_ERROR)
        {
            if (strcmp(res.error, "tax_kind_unknown") != 0) {
                fail_msg("refund %d of order %lld: %s: %s", j,
                         (long long) order_id, res.error, res.message);
            }

            ngx_http_order_edit_norm_result_free(&res);
            in.taxes_included = incl;
            ngx_http_order_edit_nsbody_normalise(conf, &in, &res);
        }

        if (res.kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO) {
            fail_msg("refund %d of order %lld: %s: %s\n%.*s", j,
                     (long long) order_id, res.error, res.message,
                     (int) b->len, b->p);
        }

        msg = oe_check_invariants(res.doc, err, sizeof(err));
        if (msg) {
            fail_msg("refund %d of order %lld: %s", j, (long long) order_id,
                     msg);
        }

        v = oe_doc_money(json_object_get(json_object_get(res.doc,
                                                         "credit_memo"),
                                         "total"), b->exp);
        assert_int_equal(v, tx);
        all_cm += v;

        ngx_http_order_edit_norm_result_free(&res);
    }

    assert_int_equal(all_cm, all_tx);
}


static void
test_generated_orders(void **state)
{
    char                            *s, err[256];
    long                             i, n;
    oe_buf_t                         b;
    ngx_http_order_edit_norm_conf_t  conf;

    (void) state;

    s = getenv("OE_SEED");
    oe_rng = s ? strtoull(s, NULL, 10) | 1 : 0x9e3779b97f4a7c15ULL;

    s = getenv("OE_ORDERS");
    n = s ? atol(s) : 5000;

    ngx_http_order_edit_norm_conf_init(&conf);
    assert_int_equal(ngx_http_order_edit_norm_set_fallback(&conf,
                         "external_id", err, sizeof(err)), 0);
    assert_int_equal(ngx_http_order_edit_norm_add_bundle(&conf,
                         "BNDL=MUG:2:3,TEA:1:1,SPOON:3:2", 30, err,
                         sizeof(err)), 0);

    b.p = malloc(OE_BUF);
    assert_non_null(b.p);

    for (i = 1; i <= n; i++) {
        oe_one_order(&conf, &b, 1000000 + i);
    }

    free(b.p);
    ngx_http_order_edit_norm_conf_free(&conf);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_generated_orders),
    };

    return cmocka_run_group_tests_name("invariant", tests, NULL, NULL);
}
