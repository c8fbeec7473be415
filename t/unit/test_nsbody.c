
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


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_keep_lines),
        cmocka_unit_test(test_close_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
