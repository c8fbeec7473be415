
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The NetSuite body after the read before the write: lines kept in place
 * by their Shopify key, and a cancellation that closes every line.
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
#include "ngx_http_order_edit_nsbody.h"


static json_t *
oe_json(const char *text)
{
    json_t        *v;
    json_error_t   err;

    v = json_loads(text, 0, &err);
    if (v == NULL) {
        fail_msg("bad test JSON: %s", err.text);
    }

    return v;
}


static json_int_t
oe_line(json_t *body, size_t i)
{
    json_t  *l;

    l = json_object_get(json_array_get(json_object_get(
            json_object_get(body, "item"), "items"), i), "line");

    return json_is_integer(l) ? json_integer_value(l) : -1;
}


static void
test_keep_lines(void **state)
{
    char                              err[256];
    json_t                           *body, *record;
    ngx_http_order_edit_norm_conf_t   conf;

    (void) state;

    ngx_http_order_edit_norm_conf_init(&conf);

    body = oe_json("{\"item\": {\"items\": ["
                   "{\"custcol_shopify_line_id\": \"A\"},"
                   "{\"custcol_shopify_line_id\": \"B\"},"
                   "{\"custcol_shopify_line_id\": \"C\"},"
                   "{\"custcol_shopify_line_id\": \"A\"},"
                   "{\"custcol_shopify_line_id\": \"tip\"}]}}");

    /* NetSuite's own order, and a line another system added (no key) */
    record = oe_json("{\"item\": {\"items\": ["
                     "{\"line\": 1, \"custcol_shopify_line_id\": \"B\"},"
                     "{\"line\": 2, \"custcol_shopify_line_id\": \"A\"},"
                     "{\"line\": 5},"
                     "{\"line\": 7, \"custcol_shopify_line_id\": \"tip\"},"
                     "{\"line\": 9, \"custcol_shopify_line_id\": \"X\"}]}}");

    assert_int_equal(ngx_http_order_edit_nsbody_keep_lines(&conf, body,
                                                           record), 3);
    assert_int_equal(oe_line(body, 0), 2);
    assert_int_equal(oe_line(body, 1), 1);
    assert_int_equal(oe_line(body, 2), -1);     /* new: no line */
    assert_int_equal(oe_line(body, 3), -1);     /* A is taken once */
    assert_int_equal(oe_line(body, 4), 7);

    /* without a key column nothing can be matched */
    json_decref(body);
    body = oe_json("{\"item\": {\"items\": ["
                   "{\"custcol_shopify_line_id\": \"A\"}]}}");

    assert_int_equal(ngx_http_order_edit_norm_set_field(&conf, "line_key",
                                                        "off", err,
                                                        sizeof(err)), 0);
    assert_int_equal(ngx_http_order_edit_nsbody_keep_lines(&conf, body,
                                                           record), 0);
    assert_int_equal(oe_line(body, 0), -1);

    /* a record read without its sublist: nothing matched, nothing lost */
    json_decref(record);
    record = oe_json("{\"item\": {\"links\": []}}");
    ngx_http_order_edit_norm_conf_free(&conf);
    ngx_http_order_edit_norm_conf_init(&conf);

    assert_int_equal(ngx_http_order_edit_nsbody_keep_lines(&conf, body,
                                                           record), 0);

    json_decref(body);
    json_decref(record);
    ngx_http_order_edit_norm_conf_free(&conf);
}


static void
test_close_lines(void **state)
{
    char    *text;
    json_t  *body, *record;

    (void) state;

    body = oe_json("{\"custbody_shopify_cancelled\": true}");
    record = oe_json("{\"item\": {\"items\": ["
                     "{\"line\": 1, \"isClosed\": false},"
                     "{\"line\": 4}, {\"item\": {\"id\": \"9\"}}]}}");

    assert_int_equal(ngx_http_order_edit_nsbody_close_lines(body, record), 2);

    text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"custbody_shopify_cancelled\":true,"
                        "\"item\":{\"items\":[{\"isClosed\":true,\"line\":1},"
                        "{\"isClosed\":true,\"line\":4}]}}");
    free(text);

    json_decref(body);
    json_decref(record);

    /* no lines read: the body is left as it was */
    body = oe_json("{}");
    record = oe_json("{\"item\": {\"items\": []}}");

    assert_int_equal(ngx_http_order_edit_nsbody_close_lines(body, record), 0);
    assert_null(json_object_get(body, "item"));

    json_decref(body);
    json_decref(record);
}


/* the taxDetails line of a reference and code, or NULL */

static json_t *
oe_tax_detail(json_t *body, const char *ref, const char *code)
{
    size_t   i;
    json_t  *items, *t;

    items = json_object_get(json_object_get(body, "taxDetails"), "items");

    for (i = 0; i < json_array_size(items); i++) {
        t = json_array_get(items, i);

        if (strcmp(json_string_value(json_object_get(t,
                       "taxDetailsReference")), ref) == 0
            && strcmp(json_string_value(json_object_get(
                       json_object_get(t, "taxCode"), "id")), code) == 0)
        {
            return t;
        }
    }

    return NULL;
}


static void
test_tax_codes(void **state)
{
    char                               err[256], *payload, *p;
    size_t                             len;
    json_t                            *body, *t;
    const char                        *from, *to;
    ngx_http_order_edit_norm_input_t   in;
    ngx_http_order_edit_norm_conf_t    conf;
    ngx_http_order_edit_norm_result_t  res;
    ngx_http_order_edit_json_rc_e      rc;

    (void) state;

    ngx_http_order_edit_norm_conf_init(&conf);

    assert_int_equal(ngx_http_order_edit_norm_set_sku_map(&conf,
                         "t/fixtures/shopify/skus.map", err, sizeof(err)), 0);
    assert_int_equal(ngx_http_order_edit_norm_set_tax_details(&conf, "13",
                         "91", err, sizeof(err)), 0);
    assert_int_equal(ngx_http_order_edit_norm_add_tax_code(&conf,
                         "title=gst", "101", NULL, err, sizeof(err)), 0);
    assert_int_equal(ngx_http_order_edit_norm_add_tax_code(&conf,
                         "rate=0.010", "102", "eid:pst", err, sizeof(err)),
                     0);
    assert_int_equal(ngx_http_order_edit_norm_add_tax_code(&conf,
                         "state", "103", NULL, err, sizeof(err)), -1);
    assert_int_equal(ngx_http_order_edit_norm_add_tax_code(&conf,
                         "rate=5%", "103", NULL, err, sizeof(err)), -1);

    /* the first line taxed twice: GST 9.95 and PST 1.99 of its 11.94 */
    payload = oe_read_file("t/fixtures/shopify/01-us-tax-exclusive.json",
                           &len);
    assert_non_null(payload);

    from = "{\"title\": \"State Tax\", \"price\": \"11.94\", "
           "\"rate\": 0.06,";
    to = "{\"title\": \"GST\", \"price\": \"9.95\", \"rate\": 0.05}, "
         "{\"title\": \"PST\", \"price\": \"1.99\", \"rate\": 0.01,";

    p = strstr(payload, from);
    assert_non_null(p);

    payload = realloc(payload, len + strlen(to) + 1);
    assert_non_null(payload);
    p = strstr(payload, from);
    memmove(p + strlen(to), p + strlen(from),
            len - (p - payload) - strlen(from) + 1);
    memcpy(p, to, strlen(to));
    len += strlen(to) - strlen(from);

    memset(&in, 0, sizeof(in));
    in.shop = "acme.myshopify.com";
    in.shop_len = strlen(in.shop);
    in.topic = "orders/updated";
    in.topic_len = strlen(in.topic);
    in.body = payload;
    in.body_len = len;
    in.last_updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;
    in.taxes_included = -1;

    if (ngx_http_order_edit_nsbody_normalise(&conf, &in, &res)
        != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER)
    {
        fail_msg("%s: %s", res.error, res.message);
    }

    body = ngx_http_order_edit_json_load(res.body, res.body_len, 64,
                                         res.body_len, &rc, err,
                                         sizeof(err));
    assert_non_null(body);

    t = oe_tax_detail(body, "466157049", "101");
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(t, "taxType"), "id")), "13");
    assert_true(ngx_http_order_edit_json_is_marker(
                    json_object_get(t, "taxAmount")));

    t = oe_tax_detail(body, "466157049", "102");
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(t, "taxType"), "externalId")),
                        "pst");

    /* "State Tax" on the second line: no entry, the default code */
    assert_non_null(oe_tax_detail(body, "518995019", "91"));
    assert_null(oe_tax_detail(body, "466157049", "91"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(body,
                         "taxDetails"), "items")), 3);

    json_decref(body);
    ngx_http_order_edit_norm_result_free(&res);
    free(payload);
    ngx_http_order_edit_norm_conf_free(&conf);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_keep_lines),
        cmocka_unit_test(test_close_lines),
        cmocka_unit_test(test_tax_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
