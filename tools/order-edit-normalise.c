
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order-edit-normalise: the module's normaliser on one payload, for
 * operators checking a mapping before they deploy it, and for tests.
 *
 *   order-edit-normalise --shop acme.myshopify.com --topic orders/updated
 *       [--sku-map FILE] [--bundle 'SKU=COMP:QTY:WEIGHT,...'] ...
 *       < payload.json
 *
 * Prints the normalised document (or, with --netsuite-body, the NetSuite
 * REST request) on stdout.  Errors: exit status 1 (bad payload) or 2 (bad
 * options) and one line of JSON {"error":"...","message":"..."} on
 * stderr.  A stale snapshot prints {"kind":"stale",...} and exits 3.
 * See docs/normaliser.md.
 */


#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>

#include "ngx_http_order_edit_normalise.h"
#include "ngx_http_order_edit_nsbody.h"


#define OE_MAX_REGEX  64


static pcre2_code  *oe_regex[OE_MAX_REGEX];
static size_t       oe_nregex;


static void
oe_error(const char *code, const char *message)
{
    json_t  *e;
    char    *s;

    e = json_pack("{ssss}", "error", code, "message", message);
    s = e ? json_dumps(e, JSON_COMPACT) : NULL;

    if (s) {
        fprintf(stderr, "%s\n", s);

    } else {
        fprintf(stderr, "{\"error\":\"%s\",\"message\":\"\"}\n", code);
    }

    free(s);
    json_decref(e);
}


static void
oe_usage_error(const char *message)
{
    oe_error("usage", message);
}


static const char  oe_usage[] =
    "usage: order-edit-normalise --shop DOMAIN --topic TOPIC [options]"
    " < payload.json\n"
    "  --sku-map FILE               sku to NetSuite item map\n"
    "  --sku-rewrite REGEX REPL     PCRE2 rewrite ($1..$9), repeatable\n"
    "  --sku-fallback none|external_id\n"
    "  --bundle 'SKU=COMP:QTY:WEIGHT,...'   repeatable\n"
    "  --currency-exponent CODE=N   repeatable\n"
    "  --money shop|presentment\n"
    "  --sales-order-id PATTERN     default " NGX_HTTP_ORDER_EDIT_DEFAULT_SO_ID
    "\n"
    "  --credit-memo-id PATTERN     default " NGX_HTTP_ORDER_EDIT_DEFAULT_CM_ID
    "\n"
    "  --gift-card-item REF  --custom-item REF  --shipping-item REF\n"
    "  --shipping-refund-item REF  --discrepancy-item REF\n"
    "  --tip-item REF  --duties-item REF  --no-restock-item REF\n"
    "  --tax-details TYPE CODE      Shopify's tax as SuiteTax tax details\n"
    "  --field NAME=VALUE           NetSuite field name, or NAME=off\n"
    "  --last-updated-at TIMESTAMP  last applied snapshot (staleness)\n"
    "  --currency CODE              the order's currency, for refunds\n"
    "  --taxes-included | --taxes-excluded   the order's kind, for refunds\n"
    "  --store-taxes-included on|off|unknown   the store's setting\n"
    "  --webhook-id ID  --api-version VERSION\n"
    "  --netsuite-body              print the NetSuite REST request\n"
    "  --upsert                     sales orders: PUT eid: instead of PATCH\n"
    "  --compact                    one line of JSON\n"
    "  --input FILE                 read the payload from FILE, not stdin\n";


static int
oe_regex_exec(void *regex, const char *subject, size_t len, int *caps,
    int ncaps)
{
    int                rc, i;
    PCRE2_SIZE        *ov;
    pcre2_match_data  *md;

    md = pcre2_match_data_create_from_pattern(regex, NULL);
    if (md == NULL) {
        return -1;
    }

    rc = pcre2_match(regex, (PCRE2_SPTR) subject, len, 0, 0, md, NULL);

    if (rc == PCRE2_ERROR_NOMATCH) {
        pcre2_match_data_free(md);
        return 0;
    }

    if (rc < 0) {
        pcre2_match_data_free(md);
        return -1;
    }

    /* rc 0: the ovector was too small, all its pairs are set */
    if (rc == 0 || rc > ncaps) {
        rc = ncaps;
    }

    ov = pcre2_get_ovector_pointer(md);

    for (i = 0; i < rc; i++) {
        if (ov[2 * i] == PCRE2_UNSET) {
            caps[2 * i] = -1;
            caps[2 * i + 1] = -1;

        } else {
            caps[2 * i] = (int) ov[2 * i];
            caps[2 * i + 1] = (int) ov[2 * i + 1];
        }
    }

    pcre2_match_data_free(md);

    return rc;
}


static int
oe_add_rewrite(ngx_http_order_edit_norm_conf_t *conf, const char *re,
    const char *rep)
{
    int          errcode;
    char         err[512];
    uint32_t     ncap;
    PCRE2_SIZE   off;
    pcre2_code  *code;
    PCRE2_UCHAR  msg[256];

    if (oe_nregex == OE_MAX_REGEX) {
        oe_usage_error("too many --sku-rewrite rules");
        return -1;
    }

    code = pcre2_compile((PCRE2_SPTR) re, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                         &errcode, &off, NULL);
    if (code == NULL) {
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        snprintf(err, sizeof(err), "sku rewrite regex \"%s\": %s at %zu", re,
                 (char *) msg, (size_t) off);
        oe_usage_error(err);
        return -1;
    }

    oe_regex[oe_nregex++] = code;

    if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap) != 0) {
        ncap = 0;
    }

    if (ngx_http_order_edit_norm_add_rewrite(conf, code, (int) ncap, rep,
                                             strlen(rep), err, sizeof(err))
        != 0)
    {
        oe_usage_error(err);
        return -1;
    }

    ngx_http_order_edit_norm_set_regex_exec(conf, oe_regex_exec);

    return 0;
}


static char *
oe_read(FILE *f, size_t max, size_t *len)
{
    char    *buf, *nb;
    size_t   cap, n;

    buf = NULL;
    cap = 0;
    *len = 0;

    for ( ;; ) {
        if (*len == cap) {
            if (cap > max) {
                break;
            }

            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }

            buf = nb;
        }

        n = fread(buf + *len, 1, cap - *len, f);
        *len += n;

        if (n == 0) {
            break;
        }
    }

    return buf ? buf : calloc(1, 1);
}


static int
oe_print_request(const ngx_http_order_edit_norm_result_t *res)
{
    char    *m, *p;
    json_t  *jm, *jp;

    jm = res->method ? json_string(res->method) : json_null();
    jp = res->path ? json_string(res->path) : json_null();

    m = json_dumps(jm, JSON_ENCODE_ANY);
    p = json_dumps(jp, JSON_ENCODE_ANY);

    json_decref(jm);
    json_decref(jp);

    if (m == NULL || p == NULL) {
        free(m);
        free(p);
        return -1;
    }

    /* the body is spliced in as is: it holds exact numbers */
    printf("{\"method\":%s,\"path\":%s,\"body\":%s}\n", m, p,
           res->body ? res->body : "null");

    free(m);
    free(p);

    return 0;
}


static int
oe_need(int argc, char **argv, int i, int n)
{
    char  msg[128];

    if (i + n >= argc) {
        snprintf(msg, sizeof(msg), "option %s needs %d argument%s", argv[i],
                 n, n > 1 ? "s" : "");
        oe_usage_error(msg);
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                                 i, rc, netsuite, upsert, compact;
    char                               *payload, *out, err[512], *eq;
    FILE                               *f;
    size_t                              len, n;
    const char                         *shop, *topic, *input, *a;
    ngx_http_order_edit_norm_conf_t     conf;
    ngx_http_order_edit_norm_input_t    in;
    ngx_http_order_edit_norm_result_t   res;

    ngx_http_order_edit_norm_conf_init(&conf);
    memset(&in, 0, sizeof(in));
    in.last_updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;
    in.taxes_included = -1;

    shop = NULL;
    topic = NULL;
    input = NULL;
    netsuite = 0;
    upsert = 0;
    compact = 0;
    rc = 2;

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(oe_usage, stdout);
            rc = 0;
            goto done;

        } else if (strcmp(a, "--netsuite-body") == 0) {
            netsuite = 1;

        } else if (strcmp(a, "--upsert") == 0) {
            upsert = 1;

        } else if (strcmp(a, "--compact") == 0) {
            compact = 1;

        } else if (strcmp(a, "--taxes-included") == 0) {
            in.taxes_included = 1;

        } else if (strcmp(a, "--taxes-excluded") == 0) {
            in.taxes_included = 0;

        } else if (strcmp(a, "--tax-details") == 0) {
            if (oe_need(argc, argv, i, 2) != 0) {
                goto done;
            }

            if (ngx_http_order_edit_norm_set_tax_details(&conf, argv[i + 1],
                                                         argv[i + 2], err,
                                                         sizeof(err))
                != 0)
            {
                goto bad;
            }

            i += 2;

        } else if (strcmp(a, "--sku-rewrite") == 0) {
            if (oe_need(argc, argv, i, 2) != 0
                || oe_add_rewrite(&conf, argv[i + 1], argv[i + 2]) != 0)
            {
                goto done;
            }

            i += 2;

        } else {
            if (oe_need(argc, argv, i, 1) != 0) {
                goto done;
            }

            a = argv[++i];
            err[0] = '\0';

            if (strcmp(argv[i - 1], "--shop") == 0) {
                shop = a;

            } else if (strcmp(argv[i - 1], "--topic") == 0) {
                topic = a;

            } else if (strcmp(argv[i - 1], "--input") == 0) {
                input = a;

            } else if (strcmp(argv[i - 1], "--webhook-id") == 0) {
                in.webhook_id = a;
                in.webhook_id_len = strlen(a);

            } else if (strcmp(argv[i - 1], "--api-version") == 0) {
                in.api_version = a;
                in.api_version_len = strlen(a);

            } else if (strcmp(argv[i - 1], "--currency") == 0) {
                in.currency = a;
                in.currency_len = strlen(a);

            } else if (strcmp(argv[i - 1], "--last-updated-at") == 0) {
                if (ngx_http_order_edit_parse_time(a, strlen(a),
                                                   &in.last_updated_at)
                    != 0)
                {
                    oe_usage_error("--last-updated-at needs an ISO 8601 "
                                   "timestamp");
                    goto done;
                }

            } else if (strcmp(argv[i - 1], "--sku-map") == 0) {
                if (ngx_http_order_edit_norm_set_sku_map(&conf, a, err,
                                                         sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--sku-fallback") == 0) {
                if (ngx_http_order_edit_norm_set_fallback(&conf, a, err,
                                                          sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--bundle") == 0) {
                if (ngx_http_order_edit_norm_add_bundle(&conf, a, strlen(a),
                                                        err, sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--currency-exponent") == 0) {
                if (ngx_http_order_edit_norm_set_currency(&conf, a, err,
                                                          sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--store-taxes-included") == 0) {
                if (ngx_http_order_edit_norm_set_taxes_included(&conf, a, err,
                                                                sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--money") == 0) {
                if (ngx_http_order_edit_norm_set_money(&conf, a, err,
                                                       sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--sales-order-id") == 0
                       || strcmp(argv[i - 1], "--credit-memo-id") == 0)
            {
                if (ngx_http_order_edit_norm_set_external_id(&conf,
                        argv[i - 1][2] == 's' ? "sales_order" : "credit_memo",
                        a, err, sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--gift-card-item") == 0
                       || strcmp(argv[i - 1], "--custom-item") == 0
                       || strcmp(argv[i - 1], "--shipping-item") == 0
                       || strcmp(argv[i - 1], "--shipping-refund-item") == 0
                       || strcmp(argv[i - 1], "--discrepancy-item") == 0
                       || strcmp(argv[i - 1], "--tip-item") == 0
                       || strcmp(argv[i - 1], "--duties-item") == 0
                       || strcmp(argv[i - 1], "--no-restock-item") == 0)
            {
                char  which[32];

                /* "--gift-card-item" -> "gift_card" */
                snprintf(which, sizeof(which), "%s", argv[i - 1] + 2);
                which[strlen(which) - 5] = '\0';

                for (n = 0; which[n]; n++) {
                    if (which[n] == '-') {
                        which[n] = '_';
                    }
                }

                if (ngx_http_order_edit_norm_set_item(&conf, which, a, err,
                                                      sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else if (strcmp(argv[i - 1], "--field") == 0) {
                char  name[64];

                eq = strchr(a, '=');

                if (eq == NULL || (size_t) (eq - a) >= sizeof(name)) {
                    oe_usage_error("--field needs NAME=VALUE");
                    goto done;
                }

                memcpy(name, a, eq - a);
                name[eq - a] = '\0';

                if (ngx_http_order_edit_norm_set_field(&conf, name, eq + 1,
                                                       err, sizeof(err))
                    != 0)
                {
                    goto bad;
                }

            } else {
                snprintf(err, sizeof(err), "unknown option \"%s\"",
                         argv[i - 1]);
                goto bad;
            }
        }
    }

    if (shop == NULL || topic == NULL) {
        oe_usage_error("--shop and --topic are required");
        goto done;
    }

    in.shop = shop;
    in.shop_len = strlen(shop);
    in.topic = topic;
    in.topic_len = strlen(topic);

    if (input) {
        f = fopen(input, "rb");
        if (f == NULL) {
            snprintf(err, sizeof(err), "cannot open \"%s\"", input);
            goto bad;
        }

    } else {
        f = stdin;
    }

    payload = oe_read(f, conf.max_payload, &len);

    if (f != stdin) {
        fclose(f);
    }

    if (payload == NULL) {
        oe_error("internal", "out of memory");
        rc = 1;
        goto done;
    }

    in.body = payload;
    in.body_len = len;

    ngx_http_order_edit_nsbody_normalise(&conf, &in, &res);

    free(payload);

    switch (res.kind) {

    case NGX_HTTP_ORDER_EDIT_NORM_ERROR:
        oe_error(res.error, res.message);
        rc = 1;
        break;

    case NGX_HTTP_ORDER_EDIT_NORM_STALE:
        printf("{\"kind\":\"stale\",\"order_id\":\"%lld\"}\n",
               (long long) res.order_id);
        rc = 3;
        break;

    default:
        rc = 0;

        if (netsuite) {
            if (upsert && res.kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                && ngx_http_order_edit_norm_upsert(&conf, &res) != 0)
            {
                oe_error(res.error, res.message);
                rc = 1;
                break;
            }

            if (oe_print_request(&res) != 0) {
                oe_error("internal", "out of memory");
                rc = 1;
            }

            break;
        }

        out = ngx_http_order_edit_json_dumps(res.doc,
                  compact ? JSON_COMPACT : JSON_INDENT(2));
        if (out == NULL) {
            oe_error("internal", "out of memory");
            rc = 1;
            break;
        }

        printf("%s\n", out);
        free(out);
    }

    ngx_http_order_edit_norm_result_free(&res);

    goto done;

bad:

    oe_usage_error(err);
    rc = 2;

done:

    ngx_http_order_edit_norm_conf_free(&conf);

    for (n = 0; n < oe_nregex; n++) {
        pcre2_code_free(oe_regex[n]);
    }

    return rc;
}
