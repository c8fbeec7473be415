
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The NetSuite client's parsers on NetSuite-shaped answers: a Sales Order
 * read with expandSubResources=true, SuiteQL's rows, REST and RESTlet
 * error bodies (Oracle: "Error Handling in REST Web Services",
 * "SuiteScript 2.x RESTlet Error Handling"), a Credit Memo's unapplied
 * amount, and the read back compared with what was written.
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
#include "ngx_http_order_edit_nsparse.h"


#define OE_LEN(s)  (s), strlen(s)


/* GET salesOrder/eid:X?expandSubResources=true, as NetSuite answers it */
static const char  oe_order[] =
    "{\"links\":[{\"rel\":\"self\",\"href\":\"https://demo123.suitetalk."
    "api.netsuite.com/services/rest/record/v1/salesOrder/1001\"}],"
    "\"id\":\"1001\",\"externalId\":\"shopify-acme-450789469\","
    "\"orderStatus\":{\"id\":\"B\",\"refName\":\"Pending Fulfillment\"},"
    "\"entity\":{\"links\":[],\"id\":\"107\",\"refName\":\"Jane Doe\"},"
    "\"currency\":{\"links\":[],\"id\":\"2\",\"refName\":\"CAD\"},"
    "\"subsidiary\":{\"links\":[],\"id\":\"3\",\"refName\":\"Canada\"},"
    "\"location\":{\"links\":[],\"id\":\"5\",\"refName\":\"Toronto\"},"
    "\"custbody_shopify_updated_at\":\"2024-03-05T10:15:30-05:00\","
    "\"custbody_shopify_taxes_included\":false,"
    "\"total\":228.09,\"taxTotal\":26.24,"
    "\"item\":{\"links\":[],\"items\":["
    "{\"links\":[],\"line\":1,\"item\":{\"id\":\"77\",\"refName\":\"Tee\"},"
    "\"quantity\":1.0,\"rate\":174.92,\"amount\":174.92,"
    "\"custcol_shopify_line_id\":\"866550311766439020\"},"
    "{\"links\":[],\"line\":2,\"item\":{\"id\":\"78\"},\"quantity\":2.0,"
    "\"rate\":9.5,\"amount\":19.0}],\"totalResults\":2}}";


static void
oe_conf(ngx_http_order_edit_norm_conf_t *conf, const char **upd,
    const char **tax)
{
    ngx_http_order_edit_norm_conf_init(conf);

    *upd = ngx_http_order_edit_norm_field(conf,
                                      NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT);
    *tax = ngx_http_order_edit_norm_field(conf,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED);
}


static void
test_order_state(void **state)
{
    int64_t                           ms;
    const char                       *upd, *tax;
    ngx_http_order_edit_nsp_order_t   o;
    ngx_http_order_edit_norm_conf_t   conf;

    (void) state;

    oe_conf(&conf, &upd, &tax);

    assert_int_equal(ngx_http_order_edit_nsp_order(OE_LEN(oe_order), upd,
                                                   tax, &o), 0);

    assert_int_equal(o.status, 'B');
    assert_string_equal(o.status_name, "Pending Fulfillment");
    assert_string_equal(o.id, "1001");
    assert_string_equal(o.entity, "107");
    assert_string_equal(o.currency, "2");
    assert_string_equal(o.subsidiary, "3");
    assert_string_equal(o.location, "5");
    assert_int_equal(o.lines, 2);
    assert_int_equal(o.taxes_included, 0);
    assert_non_null(o.record);

    assert_int_equal(ngx_http_order_edit_parse_time(
                         OE_LEN("2024-03-05T15:15:30Z"), &ms), 0);
    assert_true(o.held == ms);

    ngx_http_order_edit_nsp_order_free(&o);
    assert_null(o.record);

    ngx_http_order_edit_norm_conf_free(&conf);
}


static void
test_order_unreadable(void **state)
{
    const char                       *upd, *tax;
    ngx_http_order_edit_nsp_order_t   o;
    ngx_http_order_edit_norm_conf_t   conf;

    (void) state;

    oe_conf(&conf, &upd, &tax);

    /* a status NetSuite does not have, no snapshot, no lines */
    assert_int_equal(ngx_http_order_edit_nsp_order(OE_LEN(
        "{\"orderStatus\":{\"id\":\"Z\"},\"custbody_shopify_updated_at\":"
        "\"yesterday\",\"custbody_shopify_taxes_included\":\"T\"}"),
        upd, tax, &o), 0);

    assert_int_equal(o.status, 0);
    assert_true(o.held == NGX_HTTP_ORDER_EDIT_NO_TIME);
    assert_int_equal(o.taxes_included, -1);
    assert_int_equal(o.lines, -1);
    assert_string_equal(o.entity, "");
    ngx_http_order_edit_nsp_order_free(&o);

    /* a bare letter is a status too; fields switched off read nothing */
    assert_int_equal(ngx_http_order_edit_nsp_order(OE_LEN(
        "{\"orderStatus\":\"G\",\"custbody_shopify_taxes_included\":true}"),
        NULL, NULL, &o), 0);
    assert_int_equal(o.status, 'G');
    assert_int_equal(o.taxes_included, -1);
    ngx_http_order_edit_nsp_order_free(&o);

    assert_int_equal(ngx_http_order_edit_nsp_order(OE_LEN(
        "<html>Service Unavailable</html>"), upd, tax, &o), -1);
    assert_int_equal(o.status, 0);
    assert_null(o.record);

    ngx_http_order_edit_norm_conf_free(&conf);
}


static void
test_suiteql(void **state)
{
    char  id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];

    (void) state;

    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"links\":[],\"count\":1,\"hasMore\":false,\"items\":[{\"links\":"
        "[],\"id\":\"1001\"}],\"offset\":0,\"totalResults\":1}"),
        id, sizeof(id)), 1);
    assert_string_equal(id, "1001");

    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"links\":[],\"count\":0,\"hasMore\":false,\"items\":[],"
        "\"offset\":0,\"totalResults\":0}"), id, sizeof(id)), 0);
    assert_string_equal(id, "");

    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"count\":2,\"items\":[{\"id\":\"7\"},{\"id\":\"8\"}]}"),
        id, sizeof(id)), 2);

    /* not an internal id: letters, or more digits than an id has */
    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"items\":[{\"id\":\"1 OR 1=1\"}]}"), id, sizeof(id)), 1);
    assert_string_equal(id, "");

    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"items\":[{\"id\":\"99999999999999999999\"}]}"), id, sizeof(id)),
        1);
    assert_string_equal(id, "");

    assert_int_equal(ngx_http_order_edit_nsp_suiteql(OE_LEN(
        "{\"type\":\"x\",\"title\":\"Bad Request\"}"), id, sizeof(id)), -1);
}


static void
test_error(void **state)
{
    ngx_http_order_edit_nsp_error_t  err;

    (void) state;

    assert_int_equal(ngx_http_order_edit_nsp_error(OE_LEN(
        "{\"type\":\"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10."
        "html#sec10.4.1\",\"title\":\"Bad Request\",\"status\":400,"
        "\"o:errorDetails\":[{\"detail\":\"Error while accessing resource: "
        "You have entered an Invalid Field Value 9999 for the following "
        "field: item\",\"o:errorCode\":\"INVALID_CONTENT\",\"o:errorPath\":"
        "\"item.items[0].item\"}]}"), &err), 0);
    assert_string_equal(err.code, "INVALID_CONTENT");
    assert_non_null(strstr(err.text, "Invalid Field Value 9999"));
    json_decref(err.root);

    /* a RESTlet's SuiteScript error */
    assert_int_equal(ngx_http_order_edit_nsp_error(OE_LEN(
        "{\"error\":{\"code\":\"SSS_REQUEST_LIMIT_EXCEEDED\",\"message\":"
        "\"Request limit exceeded\"}}"), &err), 0);
    assert_string_equal(err.code, "SSS_REQUEST_LIMIT_EXCEEDED");
    assert_string_equal(err.text, "Request limit exceeded");
    json_decref(err.root);

    assert_int_equal(ngx_http_order_edit_nsp_error(OE_LEN(
        "{\"title\":\"Not Found\",\"status\":404}"), &err), -1);
    assert_null(err.code);
    json_decref(err.root);

    assert_int_equal(ngx_http_order_edit_nsp_error(OE_LEN(
        "<html>502 Bad Gateway</html>"), &err), -1);
    assert_null(err.root);
}


static void
test_restlet(void **state)
{
    char  detail[NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN];

    (void) state;

    /* applied as sent: the script's summary, no discrepancies */
    assert_int_equal(ngx_http_order_edit_nsp_restlet(OE_LEN(
        "{\"ok\":true,\"results\":{\"sales_order\":{\"id\":\"1001\","
        "\"action\":\"updated\",\"totals\":{\"total\":\"70.17\"},"
        "\"discrepancies\":[]}}}"), detail), 0);
    assert_string_equal(detail, "");

    /* applied, NetSuite's totals differ: both values told, per document */
    assert_int_equal(ngx_http_order_edit_nsp_restlet(OE_LEN(
        "{\"ok\":true,\"results\":{\"sales_order\":{\"id\":\"1001\","
        "\"discrepancies\":[{\"field\":\"total\",\"document\":\"70.18\","
        "\"netsuite\":\"70.17\"},{\"field\":\"tax\",\"document\":5.21,"
        "\"netsuite\":5.20}]},\"credit_memo\":{\"discrepancies\":[{"
        "\"field\":\"total\",\"document\":\"10.00\",\"netsuite\":"
        "\"9.99\"}]}}}"), detail), 1);
    assert_string_equal(detail, "sales_order total: document 70.18, "
                        "NetSuite 70.17; sales_order tax: document 5.21, "
                        "NetSuite 5.20; credit_memo total: document 10.00, "
                        "NetSuite 9.99");

    /* a 200 that is not the script's success */
    assert_int_equal(ngx_http_order_edit_nsp_restlet(OE_LEN(
        "{\"ok\":false,\"error\":{\"code\":\"ORDER_LOCKED\","
        "\"message\":\"order is Billed\"}}"), detail), -1);
    assert_non_null(strstr(detail, "ORDER_LOCKED: order is Billed"));

    assert_int_equal(ngx_http_order_edit_nsp_restlet(OE_LEN(
        "{\"results\":{}}"), detail), -1);
    assert_non_null(strstr(detail, "\"ok\": true"));

    assert_int_equal(ngx_http_order_edit_nsp_restlet(OE_LEN(
        "<html>Service Unavailable</html>"), detail), -1);
    assert_non_null(strstr(detail, "no JSON"));
}


static void
test_memo(void **state)
{
    json_t                          *zero;
    ngx_http_order_edit_nsp_memo_t   m;

    (void) state;

    assert_int_equal(ngx_http_order_edit_nsp_memo(OE_LEN(
        "{\"id\":\"2001\",\"entity\":{\"id\":\"107\"},\"currency\":"
        "{\"id\":\"2\"},\"unapplied\":25.50}"), &m), 0);
    assert_false(m.nothing);
    assert_string_equal(json_string_value(m.entity), "107");
    assert_non_null(m.currency);
    zero = json_integer(0);
    assert_false(ngx_http_order_edit_nsp_same_number(m.unapplied, zero));
    json_decref(zero);
    json_decref(m.root);

    assert_int_equal(ngx_http_order_edit_nsp_memo(OE_LEN(
        "{\"id\":\"2001\",\"entity\":{\"id\":\"107\"},\"unapplied\":0.00}"),
        &m), 0);
    assert_true(m.nothing);
    assert_null(m.currency);
    json_decref(m.root);

    assert_int_equal(ngx_http_order_edit_nsp_memo(OE_LEN(
        "{\"id\":\"2001\",\"entity\":{\"id\":\"107\"},\"unapplied\":0}"),
        &m), 0);
    assert_true(m.nothing);
    json_decref(m.root);

    /* no customer: nothing to pay out to */
    assert_int_equal(ngx_http_order_edit_nsp_memo(OE_LEN(
        "{\"id\":\"2001\",\"unapplied\":5.00}"), &m), -1);
    json_decref(m.root);
}


/* what the write sent: exact numbers, items by internal id */
static const char  oe_sent[] =
    "{\"taxDetailsOverride\":true,\"item\":{\"items\":["
    "{\"item\":{\"id\":\"77\"},\"quantity\":1,\"rate\":174.92,"
    "\"amount\":174.92},"
    "{\"item\":{\"id\":\"78\"},\"quantity\":2,\"amount\":19.00}]}}";


static void
test_readback(void **state)
{
    char     detail[NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN];
    json_t  *doc;

    (void) state;

    doc = json_pack("{s:{s:{s:s,s:s}}}", "sales_order", "totals",
                    "tax", "26.24", "total", "228.09");

    /* 1.0 is 1 and 19.0 is 19.00: the same numbers, nothing to say */
    assert_int_equal(ngx_http_order_edit_nsp_readback(OE_LEN(oe_sent),
                         OE_LEN(oe_order), doc, detail), 0);

    /* a workflow changed a quantity */
    assert_int_equal(ngx_http_order_edit_nsp_readback(OE_LEN(oe_sent),
        OE_LEN("{\"taxTotal\":26.24,\"total\":228.09,\"item\":{\"items\":["
               "{\"item\":{\"id\":\"77\"},\"quantity\":1.0,\"amount\":"
               "174.92},{\"item\":{\"id\":\"78\"},\"quantity\":3.0,"
               "\"amount\":19.0}]}}"), doc, detail), 1);
    assert_string_equal(detail, "read back after the write: line 2 (item "
                                "78) has another quantity than was sent");

    assert_int_equal(ngx_http_order_edit_nsp_readback(OE_LEN(oe_sent),
        OE_LEN("{\"item\":{\"items\":[{\"item\":{\"id\":\"77\"},"
               "\"quantity\":1.0,\"amount\":174.92}]}}"), doc, detail), 1);
    assert_string_equal(detail, "read back after the write: a different "
                                "number of lines than were sent");

    /* NetSuite's own tax engine despite the override */
    assert_int_equal(ngx_http_order_edit_nsp_readback(OE_LEN(oe_sent),
        OE_LEN("{\"taxTotal\":27.01,\"total\":228.86,\"item\":{\"items\":["
               "{\"item\":{\"id\":\"77\"},\"quantity\":1.0,\"amount\":"
               "174.92},{\"item\":{\"id\":\"78\"},\"quantity\":2.0,"
               "\"amount\":19.0}]}}"), doc, detail), 1);
    assert_string_equal(detail, "read back after the write: NetSuite's "
                                "taxTotal is 27.01, Shopify's tax is 26.24");

    /* no lines sent (a header-only PATCH): nothing to compare */
    assert_int_equal(ngx_http_order_edit_nsp_readback(OE_LEN("{}"),
                         OE_LEN("{}"), doc, detail), 0);

    json_decref(doc);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_order_state),
        cmocka_unit_test(test_order_unreadable),
        cmocka_unit_test(test_suiteql),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_restlet),
        cmocka_unit_test(test_memo),
        cmocka_unit_test(test_readback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
