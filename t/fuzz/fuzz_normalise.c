
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * libFuzzer harness for the normaliser: every input is normalised as each
 * topic, in shop and in presentment money, with a SKU map, a rewrite-free
 * fallback and bundles configured.  Beyond "no crash, no leak, no UB"
 * (ASan + UBSan), every document produced must satisfy the document's
 * own arithmetic, and every NetSuite body must be valid JSON.
 *
 *   make fuzz-normalise FUZZ_TIME=300
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oe_test_util.h"


static ngx_http_order_edit_norm_conf_t  oe_conf[2];
static int                              oe_ready;

static const char  *oe_topics[] = {
    "orders/updated", "orders/create", "orders/cancelled", "orders/edited",
    "refunds/create"
};

static const char  oe_map[] =
    "IPOD2008GREEN 1001\nIPOD2008RED 1002\nMUG-CERAMIC 3001\n"
    "TEA-EARLGREY 3002\nSPOON-STEEL 3003\n";


static const char  oe_gift[] = "GIFTBOX=MUG-CERAMIC:2:60,TEA-EARLGREY:1:40";
static const char  oe_trio[] =
    "TRIO=SPOON-STEEL:1:1,MUG-CERAMIC:1:1,TEA-EARLGREY:1:1";


static void
oe_init(void)
{
    int   i;
    char  err[256];

    for (i = 0; i < 2; i++) {
        ngx_http_order_edit_norm_conf_init(&oe_conf[i]);

        oe_conf[i].skus.map = ngx_http_order_edit_skumap_parse(oe_map,
                                  sizeof(oe_map) - 1, "fuzz", err,
                                  sizeof(err));
        if (oe_conf[i].skus.map == NULL
            || ngx_http_order_edit_norm_set_fallback(&oe_conf[i],
                                                     "external_id", err,
                                                     sizeof(err)) != 0
            || ngx_http_order_edit_norm_add_bundle(&oe_conf[i], oe_gift,
                   strlen(oe_gift), err, sizeof(err)) != 0
            || ngx_http_order_edit_norm_add_bundle(&oe_conf[i], oe_trio,
                   strlen(oe_trio), err, sizeof(err)) != 0
            || ngx_http_order_edit_norm_set_item(&oe_conf[i], "gift_card",
                                                 "eid:GIFTCARD", err,
                                                 sizeof(err)) != 0)
        {
            fprintf(stderr, "fuzz init: %s\n", err);
            abort();
        }
    }

    oe_conf[1].money = NGX_HTTP_ORDER_EDIT_MONEY_PRESENTMENT;
    oe_ready = 1;
}


static void
oe_check(const ngx_http_order_edit_norm_result_t *res)
{
    char                           *s, err[256];
    json_t                         *j;
    const char                     *msg;
    ngx_http_order_edit_json_rc_e   rc;

    if (res->kind == NGX_HTTP_ORDER_EDIT_NORM_ERROR) {
        if (res->doc || res->body || res->path || res->error[0] == '\0') {
            fprintf(stderr, "partial result on error %s\n", res->error);
            abort();
        }

        return;
    }

    if (res->doc) {
        msg = oe_check_invariants(res->doc, err, sizeof(err));
        if (msg) {
            fprintf(stderr, "invariant: %s\n", msg);
            abort();
        }

        s = ngx_http_order_edit_json_dumps(res->doc, JSON_COMPACT);
        if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL) {
            fprintf(stderr, "document does not dump to JSON\n");
            abort();
        }

        json_decref(j);
        free(s);
    }

    if (res->body) {
        j = ngx_http_order_edit_json_load(res->body, res->body_len, 64,
                                          1 << 26, &rc, err, sizeof(err));
        if (j == NULL) {
            fprintf(stderr, "NetSuite body is not JSON: %s\n", err);
            abort();
        }

        json_decref(j);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                                e;
    char                               buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];
    size_t                             t, m, n;
    int64_t                            v, back;
    ngx_http_order_edit_norm_input_t   in;
    ngx_http_order_edit_norm_result_t  res;

    if (!oe_ready) {
        oe_init();
    }

    /* money: whatever parses must format and parse back to itself */
    for (e = 0; e <= NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP; e++) {
        if (ngx_http_order_edit_money_parse((const char *) data, size, e, &v)
            == NGX_HTTP_ORDER_EDIT_MONEY_OK)
        {
            n = ngx_http_order_edit_money_format(v, e, buf, sizeof(buf));
            if (n == 0
                || ngx_http_order_edit_money_parse(buf, n, e, &back)
                   != NGX_HTTP_ORDER_EDIT_MONEY_OK
                || back != v)
            {
                abort();
            }
        }
    }

    for (t = 0; t < sizeof(oe_topics) / sizeof(oe_topics[0]); t++) {
        for (m = 0; m < 2; m++) {
            memset(&in, 0, sizeof(in));
            in.shop = "acme.myshopify.com";
            in.shop_len = 18;
            in.topic = oe_topics[t];
            in.topic_len = strlen(oe_topics[t]);
            in.body = (const char *) data;
            in.body_len = size;
            in.taxes_included = (int) (size % 3) - 1;
            in.last_updated_at = (size & 1) ? 1709651730000LL
                                            : NGX_HTTP_ORDER_EDIT_NO_TIME;

            ngx_http_order_edit_nsbody_normalise(&oe_conf[m], &in, &res);
            oe_check(&res);
            ngx_http_order_edit_norm_result_free(&res);
        }
    }

    return 0;
}
