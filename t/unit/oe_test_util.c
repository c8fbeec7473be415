
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>

#include "oe_test_util.h"


#define OE_MAX_REGEX  64


static pcre2_code  *oe_regex[OE_MAX_REGEX];
static size_t       oe_nregex;


char *
oe_read_file(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    long     n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NULL;
    }

    buf = malloc(n + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }

    *len = fread(buf, 1, n, f);
    buf[*len] = '\0';
    fclose(f);

    return buf;
}


int
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

    if (rc == PCRE2_ERROR_NOMATCH || rc < 0) {
        pcre2_match_data_free(md);
        return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
    }

    if (rc == 0 || rc > ncaps) {
        rc = ncaps;
    }

    ov = pcre2_get_ovector_pointer(md);

    for (i = 0; i < rc; i++) {
        caps[2 * i] = ov[2 * i] == PCRE2_UNSET ? -1 : (int) ov[2 * i];
        caps[2 * i + 1] = ov[2 * i] == PCRE2_UNSET ? -1
                                                   : (int) ov[2 * i + 1];
    }

    pcre2_match_data_free(md);

    return rc;
}


int
oe_add_rewrite(ngx_http_order_edit_norm_conf_t *conf, const char *re,
    const char *rep, char *err, size_t errlen)
{
    int          errcode;
    uint32_t     ncap;
    PCRE2_SIZE   off;
    pcre2_code  *code;

    if (oe_nregex == OE_MAX_REGEX) {
        snprintf(err, errlen, "too many regexes");
        return -1;
    }

    code = pcre2_compile((PCRE2_SPTR) re, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                         &errcode, &off, NULL);
    if (code == NULL) {
        snprintf(err, errlen, "bad regex \"%s\"", re);
        return -1;
    }

    oe_regex[oe_nregex++] = code;

    if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap) != 0) {
        ncap = 0;
    }

    ngx_http_order_edit_norm_set_regex_exec(conf, oe_regex_exec);

    return ngx_http_order_edit_norm_add_rewrite(conf, code, (int) ncap, rep,
                                                strlen(rep), err, errlen);
}


void
oe_regex_free_all(void)
{
    while (oe_nregex) {
        pcre2_code_free(oe_regex[--oe_nregex]);
    }
}


int
oe_conf_from_json(ngx_http_order_edit_norm_conf_t *conf, const json_t *opts,
    const char *dir, char *err, size_t errlen)
{
    char         path[1024];
    size_t       i;
    json_t      *v, *e;
    const char  *key;

    if (opts == NULL) {
        return 0;
    }

    v = json_object_get(opts, "sku_map");
    if (json_is_string(v)) {
        snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(v));

        if (ngx_http_order_edit_norm_set_sku_map(conf, path, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    v = json_object_get(opts, "sku_fallback");
    if (json_is_string(v)
        && ngx_http_order_edit_norm_set_fallback(conf, json_string_value(v),
                                                 err, errlen)
           != 0)
    {
        return -1;
    }

    json_array_foreach(json_object_get(opts, "bundles"), i, e) {
        if (ngx_http_order_edit_norm_add_bundle(conf, json_string_value(e),
                                                json_string_length(e), err,
                                                errlen)
            != 0)
        {
            return -1;
        }
    }

    json_array_foreach(json_object_get(opts, "rewrites"), i, e) {
        if (oe_add_rewrite(conf, json_string_value(json_array_get(e, 0)),
                           json_string_value(json_array_get(e, 1)), err,
                           errlen)
            != 0)
        {
            return -1;
        }
    }

    json_array_foreach(json_object_get(opts, "currency_exponents"), i, e) {
        if (ngx_http_order_edit_norm_set_currency(conf, json_string_value(e),
                                                  err, errlen)
            != 0)
        {
            return -1;
        }
    }

    v = json_object_get(opts, "money");
    if (json_is_string(v)
        && ngx_http_order_edit_norm_set_money(conf, json_string_value(v),
                                              err, errlen)
           != 0)
    {
        return -1;
    }

    v = json_object_get(opts, "sales_order_id");
    if (json_is_string(v)
        && ngx_http_order_edit_norm_set_external_id(conf, "sales_order",
                                                    json_string_value(v), err,
                                                    errlen)
           != 0)
    {
        return -1;
    }

    v = json_object_get(opts, "credit_memo_id");
    if (json_is_string(v)
        && ngx_http_order_edit_norm_set_external_id(conf, "credit_memo",
                                                    json_string_value(v), err,
                                                    errlen)
           != 0)
    {
        return -1;
    }

    json_object_foreach(json_object_get(opts, "items"), key, e) {
        if (ngx_http_order_edit_norm_set_item(conf, key, json_string_value(e),
                                              err, errlen)
            != 0)
        {
            return -1;
        }
    }

    v = json_object_get(opts, "tax_details");
    if (json_is_array(v)
        && ngx_http_order_edit_norm_set_tax_details(conf,
               json_string_value(json_array_get(v, 0)),
               json_string_value(json_array_get(v, 1)), err, errlen)
           != 0)
    {
        return -1;
    }

    json_object_foreach(json_object_get(opts, "fields"), key, e) {
        if (ngx_http_order_edit_norm_set_field(conf, key,
                                               json_string_value(e), err,
                                               errlen)
            != 0)
        {
            return -1;
        }
    }

    v = json_object_get(opts, "max_lines");
    if (json_is_integer(v)) {
        conf->max_lines = json_integer_value(v);
    }

    v = json_object_get(opts, "max_depth");
    if (json_is_integer(v)) {
        conf->max_depth = json_integer_value(v);
    }

    return 0;
}


static const char *
oe_str(const json_t *obj, const char *key, size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        *len = 0;
        return NULL;
    }

    *len = json_string_length(v);

    return json_string_value(v);
}


int
oe_input_from_json(ngx_http_order_edit_norm_input_t *in,
    const json_t *expect)
{
    size_t       len;
    json_t      *v;
    const char  *s;

    in->shop = oe_str(expect, "shop", &in->shop_len);
    in->topic = oe_str(expect, "topic", &in->topic_len);
    in->webhook_id = oe_str(expect, "webhook_id", &in->webhook_id_len);
    in->api_version = oe_str(expect, "api_version", &in->api_version_len);
    in->currency = oe_str(expect, "currency", &in->currency_len);
    in->last_updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;
    in->taxes_included = -1;

    if (in->shop == NULL) {
        in->shop = "acme.myshopify.com";
        in->shop_len = strlen(in->shop);
    }

    s = oe_str(expect, "last_updated_at", &len);
    if (s && ngx_http_order_edit_parse_time(s, len, &in->last_updated_at)) {
        return -1;
    }

    v = json_object_get(expect, "taxes_included");
    if (json_is_boolean(v)) {
        in->taxes_included = json_is_true(v);
    }

    return 0;
}


const char *
oe_kind_name(ngx_http_order_edit_norm_kind_e kind)
{
    switch (kind) {
    case NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER:
        return "sales_order";
    case NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO:
        return "credit_memo";
    case NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION:
        return "cancellation";
    case NGX_HTTP_ORDER_EDIT_NORM_EDIT_PENDING:
        return "order_edited";
    case NGX_HTTP_ORDER_EDIT_NORM_STALE:
        return "stale";
    default:
        return "error";
    }
}


/* strict: the string must be exactly what the formatter would write */

int
oe_money(const json_t *v, int exponent, int64_t *out)
{
    char  buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];

    if (!json_is_string(v)
        || ngx_http_order_edit_money_parse(json_string_value(v),
                                           json_string_length(v), exponent,
                                           out)
           != NGX_HTTP_ORDER_EDIT_MONEY_OK
        || ngx_http_order_edit_money_format(*out, exponent, buf, sizeof(buf))
           == 0
        || strcmp(buf, json_string_value(v)) != 0)
    {
        return -1;
    }

    return 0;
}


#define OE_M(obj, key, var)                                                   \
    if (oe_money(json_object_get(obj, key), exp, &var) != 0) {                \
        snprintf(buf, len, "money field \"%s\" is not a %d-decimal amount",   \
                 key, exp);                                                   \
        return buf;                                                           \
    }


const char *
oe_check_invariants(const json_t *doc, char *buf, size_t len)
{
    int          exp, incl;
    size_t       i;
    json_t      *so, *t, *l, *sh;
    int64_t      sub, tax, total, ship, tip, duties, ship_tax, amount, disc;
    int64_t      ltax, net, s_net, s_tax, s, x;
    const char  *cur, *kind;

    kind = json_string_value(json_object_get(doc, "kind"));

    if (kind == NULL) {
        snprintf(buf, len, "no kind");
        return buf;
    }

    if (strcmp(kind, "sales_order") == 0) {
        so = json_object_get(doc, "sales_order");
        cur = json_string_value(json_object_get(so, "currency"));
        exp = cur ? ngx_http_order_edit_currency_exponent(cur, strlen(cur))
                  : -1;

        /* a fixture may override an exponent: trust the total's format */
        t = json_object_get(so, "totals");
        if (json_is_string(json_object_get(t, "total"))) {
            const char  *p = strchr(json_string_value(json_object_get(t,
                                                               "total")), '.');
            exp = p ? (int) strlen(p + 1) : 0;
        }

        incl = json_is_true(json_object_get(so, "taxes_included"));

        OE_M(t, "subtotal", sub);
        OE_M(t, "tax", tax);
        OE_M(t, "total", total);
        OE_M(t, "shipping", ship);
        OE_M(t, "tip", tip);
        OE_M(t, "duties", duties);
        OE_M(t, "discount", disc);

        sh = json_object_get(so, "shipping");
        OE_M(sh, "tax", ship_tax);
        OE_M(sh, "cost", x);

        if (x != ship) {
            snprintf(buf, len, "shipping.cost != totals.shipping");
            return buf;
        }

        s_net = 0;
        s_tax = ship_tax;

        json_array_foreach(json_object_get(so, "lines"), i, l) {
            OE_M(l, "amount", amount);
            OE_M(l, "discount", disc);
            OE_M(l, "net", net);
            OE_M(l, "tax", ltax);

            if (net != amount - disc || disc < 0 || disc > amount) {
                snprintf(buf, len, "line %zu: net != amount - discount", i);
                return buf;
            }

            if (!json_is_integer(json_object_get(l, "quantity"))
                || json_integer_value(json_object_get(l, "quantity")) <= 0)
            {
                snprintf(buf, len, "line %zu: quantity not positive", i);
                return buf;
            }

            s_net += net;
            s_tax += ltax;
        }

        if (s_net != sub) {
            snprintf(buf, len, "lines net %lld != subtotal %lld",
                     (long long) s_net, (long long) sub);
            return buf;
        }

        if (s_tax != tax) {
            snprintf(buf, len, "line tax + shipping tax %lld != tax %lld",
                     (long long) s_tax, (long long) tax);
            return buf;
        }

        if (sub + ship + (incl ? 0 : tax) + tip + duties != total) {
            snprintf(buf, len, "subtotal + shipping (+ tax) + tip + duties "
                     "!= total");
            return buf;
        }

        return NULL;
    }

    if (strcmp(kind, "credit_memo") == 0) {
        so = json_object_get(doc, "credit_memo");
        t = json_object_get(so, "total");
        cur = json_string_value(t);
        exp = (cur && strchr(cur, '.')) ? (int) strlen(strchr(cur, '.') + 1)
                                        : 0;
        incl = json_is_true(json_object_get(so, "taxes_included"));

        OE_M(so, "total", total);
        OE_M(so, "tax", tax);

        s = 0;
        s_tax = 0;

        /* item lines, a shipping refund line, a discrepancy line */
        json_array_foreach(json_object_get(so, "lines"), i, l) {
            OE_M(l, "amount", amount);
            OE_M(l, "tax", ltax);

            if (json_string_value(json_object_get(l, "kind")) == NULL) {
                snprintf(buf, len, "credit memo line %zu has no kind", i);
                return buf;
            }

            if (strcmp(json_string_value(json_object_get(l, "kind")),
                       "refund_discrepancy") == 0 && amount == 0)
            {
                snprintf(buf, len, "a zero discrepancy line");
                return buf;
            }

            s += amount + (incl ? 0 : ltax);
            s_tax += ltax;
        }

        if (s != total) {
            snprintf(buf, len, "credit memo parts %lld != total %lld",
                     (long long) s, (long long) total);
            return buf;
        }

        if (s_tax != tax) {
            snprintf(buf, len, "credit memo tax parts != tax");
            return buf;
        }

        return NULL;
    }

    return NULL;
}


int
oe_json_subset(const json_t *expected, const json_t *actual, char *path,
    size_t pathlen)
{
    size_t       i, n;
    json_t      *e;
    const char  *key;

    n = strlen(path);

    if (json_is_object(expected)) {
        if (!json_is_object(actual)) {
            return -1;
        }

        json_object_foreach((json_t *) expected, key, e) {
            snprintf(path + n, pathlen - n, ".%s", key);

            if (oe_json_subset(e, json_object_get(actual, key), path,
                               pathlen)
                != 0)
            {
                return -1;
            }
        }

        path[n] = '\0';
        return 0;
    }

    if (json_is_array(expected)) {
        if (!json_is_array(actual)
            || json_array_size(actual) != json_array_size(expected))
        {
            snprintf(path + n, pathlen - n, " (array size)");
            return -1;
        }

        json_array_foreach((json_t *) expected, i, e) {
            snprintf(path + n, pathlen - n, "[%zu]", i);

            if (oe_json_subset(e, json_array_get(actual, i), path, pathlen)
                != 0)
            {
                return -1;
            }
        }

        path[n] = '\0';
        return 0;
    }

    if (actual == NULL) {
        return json_is_null(expected) ? 0 : -1;
    }

    return json_equal((json_t *) expected, (json_t *) actual) ? 0 : -1;
}
