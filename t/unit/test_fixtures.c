
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Runs every hand-written Shopify payload in t/fixtures/shopify through
 * the normaliser and compares with its NN-name.expect.json, whose values
 * were worked out by hand from the payload.  An expectation holds:
 *
 *   topic, shop, [payload], [options], [last_updated_at], [currency],
 *   [taxes_included], and either "error": "<code>" or "kind" plus
 *   optional "doc" and "request" objects that must be contained in the
 *   normaliser's output (objects by key, arrays element by element).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "oe_test_util.h"


#define OE_FIXTURES  "t/fixtures/shopify"
#define OE_MAX       256


static char  *oe_names[OE_MAX];


static json_t *
oe_load_exact(const char *path)
{
    char                          *buf, err[256];
    size_t                         len;
    json_t                        *j;
    ngx_http_order_edit_json_rc_e  rc;

    buf = oe_read_file(path, &len);
    if (buf == NULL) {
        return NULL;
    }

    j = ngx_http_order_edit_json_load(buf, len, 64, 1 << 26, &rc, err,
                                      sizeof(err));
    if (j == NULL) {
        print_error("%s: %s\n", path, err);
    }

    free(buf);

    return j;
}


static void
oe_run_fixture(void **state)
{
    char                               path[1024], err[512], where[512];
    char                              *payload, *dumped;
    size_t                             len;
    json_t                            *expect, *v, *body, *req;
    const char                        *name, *pfile, *msg;
    ngx_http_order_edit_norm_conf_t    conf;
    ngx_http_order_edit_norm_input_t   in;
    ngx_http_order_edit_norm_result_t  res;

    name = *state;

    snprintf(path, sizeof(path), "%s/%s.expect.json", OE_FIXTURES, name);
    expect = oe_load_exact(path);
    assert_non_null(expect);

    pfile = json_string_value(json_object_get(expect, "payload"));
    if (pfile) {
        snprintf(path, sizeof(path), "%s/%s", OE_FIXTURES, pfile);

    } else {
        snprintf(path, sizeof(path), "%s/%s.json", OE_FIXTURES, name);
    }

    payload = oe_read_file(path, &len);
    if (payload == NULL) {
        fail_msg("%s: cannot read the payload %s", name, path);
    }

    ngx_http_order_edit_norm_conf_init(&conf);

    if (oe_conf_from_json(&conf, json_object_get(expect, "options"),
                          OE_FIXTURES, err, sizeof(err))
        != 0)
    {
        fail_msg("%s: options: %s", name, err);
    }

    memset(&in, 0, sizeof(in));
    assert_int_equal(oe_input_from_json(&in, expect), 0);
    in.body = payload;
    in.body_len = len;

    ngx_http_order_edit_nsbody_normalise(&conf, &in, &res);

    v = json_object_get(expect, "error");

    if (json_is_string(v)) {
        if (res.kind != NGX_HTTP_ORDER_EDIT_NORM_ERROR) {
            fail_msg("%s: expected error \"%s\", got %s", name,
                     json_string_value(v), oe_kind_name(res.kind));
        }

        if (strcmp(res.error, json_string_value(v)) != 0) {
            fail_msg("%s: expected error \"%s\", got \"%s\": %s", name,
                     json_string_value(v), res.error, res.message);
        }

        /* never a partial document */
        assert_null(res.doc);
        assert_null(res.body);
        assert_null(res.path);
        assert_true(res.message[0] != '\0');

    } else {
        if (res.kind == NGX_HTTP_ORDER_EDIT_NORM_ERROR) {
            fail_msg("%s: unexpected error %s: %s", name, res.error,
                     res.message);
        }

        assert_string_equal(oe_kind_name(res.kind),
                            json_string_value(json_object_get(expect,
                                                              "kind")));

        if (res.doc) {
            msg = oe_check_invariants(res.doc, err, sizeof(err));
            if (msg) {
                fail_msg("%s: invariant: %s", name, msg);
            }

            /* the document is plain JSON: it must dump and parse back */
            dumped = json_dumps(res.doc, JSON_COMPACT);
            assert_non_null(dumped);
            v = json_loads(dumped, 0, NULL);
            assert_non_null(v);
            json_decref(v);
            free(dumped);
        }

        where[0] = '\0';
        v = json_object_get(expect, "doc");

        if (v && oe_json_subset(v, res.doc, where, sizeof(where)) != 0) {
            dumped = res.doc ? json_dumps(res.doc, JSON_INDENT(1)) : NULL;
            print_error("%s\n", dumped ? dumped : "(no document)");
            free(dumped);
            fail_msg("%s: document differs at %s", name, where);
        }

        req = json_object_get(expect, "request");

        if (req) {
            if (json_is_string(json_object_get(req, "method"))) {
                assert_non_null(res.method);
                assert_string_equal(res.method,
                    json_string_value(json_object_get(req, "method")));
            }

            if (json_is_string(json_object_get(req, "path"))) {
                assert_non_null(res.path);
                assert_string_equal(res.path,
                    json_string_value(json_object_get(req, "path")));
            }

            if (json_object_get(req, "body")) {
                ngx_http_order_edit_json_rc_e  jrc;

                assert_non_null(res.body);
                body = ngx_http_order_edit_json_load(res.body, res.body_len,
                                                     64, 1 << 26, &jrc, err,
                                                     sizeof(err));
                assert_non_null(body);

                where[0] = '\0';
                if (oe_json_subset(json_object_get(req, "body"), body, where,
                                   sizeof(where))
                    != 0)
                {
                    print_error("%s\n", res.body);
                    fail_msg("%s: NetSuite body differs at %s", name, where);
                }

                json_decref(body);
            }

            if (json_is_null(json_object_get(req, "method"))) {
                assert_null(res.method);
                assert_null(res.body);
            }
        }
    }

    ngx_http_order_edit_norm_result_free(&res);
    ngx_http_order_edit_norm_conf_free(&conf);
    oe_regex_free_all();
    free(payload);
    json_decref(expect);
}


static int
oe_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


int
main(void)
{
    int              rc;
    DIR             *d;
    size_t           n, i, len;
    struct dirent   *de;
    struct CMUnitTest  tests[OE_MAX];

    d = opendir(OE_FIXTURES);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s (run from the top directory)\n",
                OE_FIXTURES);
        return 1;
    }

    n = 0;

    while ((de = readdir(d)) != NULL && n < OE_MAX) {
        len = strlen(de->d_name);

        if (len > 12 && strcmp(de->d_name + len - 12, ".expect.json") == 0) {
            oe_names[n] = strndup(de->d_name, len - 12);
            n++;
        }
    }

    closedir(d);

    qsort(oe_names, n, sizeof(char *), oe_cmp);

    for (i = 0; i < n; i++) {
        memset(&tests[i], 0, sizeof(tests[i]));
        tests[i].name = oe_names[i];
        tests[i].test_func = oe_run_fixture;
        tests[i].initial_state = oe_names[i];
    }

    rc = _cmocka_run_group_tests("fixtures", tests, n, NULL, NULL);

    for (i = 0; i < n; i++) {
        free(oe_names[i]);
    }

    return rc;
}
