
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_http_order_edit_normalise.h"
#include "ngx_http_order_edit_jbuild.h"


#define NGX_HTTP_ORDER_EDIT_MAX_QUANTITY  1000000
#define NGX_HTTP_ORDER_EDIT_MAX_PARTS  NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_COMPONENTS
/* refund line items an order's refunds may name in all */
#define NGX_HTTP_ORDER_EDIT_MAX_REFUNDED  20000


typedef struct {
    int64_t                              id;
    const char                          *sku;
    size_t                               sku_len;
    const char                          *title;
    const ngx_http_order_edit_bundle_t  *bundle;
    int64_t                              quantity;   /* current */
    int64_t                              price;
    int64_t                              amount;
    int64_t                              discount;
    int64_t                              tax;
    int                                  restock;    /* credit memos */
    int                                  estimated;  /* a share, not given */
    int                                  parts[2];   /* discounts, taxes */
    const json_t                        *tax_lines;  /* Shopify's */
    int64_t                              line_item_id;
    char                                 item[NGX_HTTP_ORDER_EDIT_ITEM_MAX];
} ngx_http_order_edit_norm_line_t;


typedef struct {
    const ngx_http_order_edit_norm_conf_t   *conf;
    const ngx_http_order_edit_norm_input_t  *in;
    ngx_http_order_edit_norm_result_t       *res;
    ngx_http_order_edit_norm_line_t         *lines;
    size_t                                   nlines;
    char                                     currency[4];
    int                                      exponent;
    int                                      presentment;
    int                                      plain_ok;
    int                                      nomem;
} ngx_http_order_edit_norm_ctx_t;


static const char  *ngx_http_order_edit_field_names[] = {
    "order_number", "order_id", "updated_at", "subtotal", "discount", "tax",
    "total", "shipping_cost", "ship_method", "shipping_address", "line_key",
    "line_discount", "line_tax", "restock", "refund_id", "sales_order",
    "cancelled", "cancelled_at", "cancel_reason", "taxes_included"
};


static const char  *ngx_http_order_edit_field_defaults[] = {
    "otherRefNum",
    "custbody_shopify_order_id",
    "custbody_shopify_updated_at",
    "custbody_shopify_subtotal",
    "custbody_shopify_discount",
    "custbody_shopify_tax",
    "custbody_shopify_total",
    "shippingCost",
    "shipMethod",
    "shippingAddress",
    "custcol_shopify_line_id",
    "custcol_shopify_discount",
    "custcol_shopify_tax",
    "custcol_shopify_restock",
    "custbody_shopify_refund_id",
    "custbody_shopify_sales_order",
    "custbody_shopify_cancelled",
    "custbody_shopify_cancelled_at",
    "custbody_shopify_cancel_reason",
    "custbody_shopify_taxes_included"
};


/* configuration */


void
ngx_http_order_edit_norm_conf_init(ngx_http_order_edit_norm_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));

    conf->max_payload = 4 * 1024 * 1024;
    conf->max_depth = 32;
    conf->max_lines = 2000;
    conf->max_sub = 100;
    conf->max_output_lines = 5000;
    conf->taxes_included = -1;
}


void
ngx_http_order_edit_norm_conf_free(ngx_http_order_edit_norm_conf_t *conf)
{
    size_t  i;

    ngx_http_order_edit_skures_free(&conf->skus);
    ngx_http_order_edit_bundles_free(&conf->bundles);

    free(conf->sales_order_id);
    free(conf->credit_memo_id);
    free(conf->gift_card_item);
    free(conf->custom_item);
    free(conf->shipping_item);
    free(conf->discrepancy_item);
    free(conf->shipping_refund_item);
    free(conf->tip_item);
    free(conf->duties_item);
    free(conf->tax_type);
    free(conf->tax_code);
    free(conf->no_restock_item);

    for (i = 0; i < conf->ntax_codes; i++) {
        free(conf->tax_codes[i].title);
        free(conf->tax_codes[i].rate);
        free(conf->tax_codes[i].code);
        free(conf->tax_codes[i].type);
    }

    free(conf->tax_codes);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_FIELD_N; i++) {
        free(conf->fields[i]);
    }

    ngx_http_order_edit_norm_conf_init(conf);
}


static int
ngx_http_order_edit_norm_replace(char **dst, const char *value, char *err,
    size_t errlen)
{
    char  *copy;

    copy = strdup(value);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    free(*dst);
    *dst = copy;

    return 0;
}


int
ngx_http_order_edit_norm_set_sku_map(ngx_http_order_edit_norm_conf_t *conf,
    const char *path, char *err, size_t errlen)
{
    ngx_http_order_edit_skumap_t  *map;

    map = ngx_http_order_edit_skumap_load(path, err, errlen);
    if (map == NULL) {
        return -1;
    }

    ngx_http_order_edit_skumap_free(conf->skus.map);
    conf->skus.map = map;

    return 0;
}


int
ngx_http_order_edit_norm_add_rewrite(ngx_http_order_edit_norm_conf_t *conf,
    void *regex, int ncaptures, const char *replacement, size_t len,
    char *err, size_t errlen)
{
    if (ngx_http_order_edit_rewrite_check(replacement, len, ncaptures, err,
                                          errlen)
        != 0)
    {
        return -1;
    }

    return ngx_http_order_edit_skures_add_rewrite(&conf->skus, regex,
                                                  replacement, len, err,
                                                  errlen);
}


void
ngx_http_order_edit_norm_set_regex_exec(ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_regex_exec_pt exec)
{
    conf->skus.exec = exec;
}


int
ngx_http_order_edit_norm_add_bundle(ngx_http_order_edit_norm_conf_t *conf,
    const char *spec, size_t len, char *err, size_t errlen)
{
    return ngx_http_order_edit_bundles_add(&conf->bundles, spec, len, err,
                                           errlen);
}


int
ngx_http_order_edit_norm_set_fallback(ngx_http_order_edit_norm_conf_t *conf,
    const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "none") == 0 || strcmp(value, "off") == 0) {
        conf->skus.fallback = NGX_HTTP_ORDER_EDIT_FALLBACK_NONE;
        return 0;
    }

    if (strcmp(value, "external_id") == 0 || strcmp(value, "eid") == 0) {
        conf->skus.fallback = NGX_HTTP_ORDER_EDIT_FALLBACK_EXTERNAL_ID;
        return 0;
    }

    snprintf(err, errlen, "invalid sku fallback \"%s\", it must be \"none\" "
             "or \"external_id\"", value);

    return -1;
}


int
ngx_http_order_edit_norm_set_money(ngx_http_order_edit_norm_conf_t *conf,
    const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "shop") == 0) {
        conf->money = NGX_HTTP_ORDER_EDIT_MONEY_SHOP;
        return 0;
    }

    if (strcmp(value, "presentment") == 0) {
        conf->money = NGX_HTTP_ORDER_EDIT_MONEY_PRESENTMENT;
        return 0;
    }

    snprintf(err, errlen, "invalid money source \"%s\", it must be \"shop\" "
             "or \"presentment\"", value);

    return -1;
}


static int
ngx_http_order_edit_extid_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


int
ngx_http_order_edit_norm_set_external_id(ngx_http_order_edit_norm_conf_t *conf,
    const char *which, const char *pattern, char *err, size_t errlen)
{
    int          so, unique;
    size_t       n;
    const char  *p, *close;

    if (strcmp(which, "sales_order") == 0) {
        so = 1;

    } else if (strcmp(which, "credit_memo") == 0) {
        so = 0;

    } else {
        snprintf(err, errlen, "unknown external id \"%s\", it must be "
                 "\"sales_order\" or \"credit_memo\"", which);
        return -1;
    }

    unique = 0;

    for (p = pattern; *p; p++) {
        if (*p != '{') {
            if (!ngx_http_order_edit_extid_char((unsigned char) *p)) {
                snprintf(err, errlen, "external id pattern \"%s\": "
                         "character \"%c\" is not allowed (use letters, "
                         "digits, \"-\" and \"_\")", pattern, *p);
                return -1;
            }

            continue;
        }

        close = strchr(p, '}');
        if (close == NULL) {
            snprintf(err, errlen, "external id pattern \"%s\": unclosed "
                     "\"{\"", pattern);
            return -1;
        }

        n = close - p + 1;

        if ((n == 14 && memcmp(p, "{order_number}", 14) == 0)
            || (n == 10 && memcmp(p, "{order_id}", 10) == 0))
        {
            unique |= so;

        } else if (n == 11 && memcmp(p, "{refund_id}", 11) == 0) {
            if (so) {
                goto unknown;
            }

            unique = 1;

        } else if ((n == 6 && memcmp(p, "{shop}", 6) == 0)
                   || (n == 13 && memcmp(p, "{shop_domain}", 13) == 0))
        {
            /* void */

        } else {
            goto unknown;
        }

        p = close;
    }

    if (!unique) {
        snprintf(err, errlen, "external id pattern \"%s\" must contain %s",
                 pattern, so ? "{order_id} or {order_number}"
                             : "{refund_id}");
        return -1;
    }

    return ngx_http_order_edit_norm_replace(so ? &conf->sales_order_id
                                               : &conf->credit_memo_id,
                                            pattern, err, errlen);

unknown:

    snprintf(err, errlen, "external id pattern \"%s\": unknown placeholder "
             "\"%.*s\"", pattern, (int) n, p);

    return -1;
}


int
ngx_http_order_edit_norm_set_item(ngx_http_order_edit_norm_conf_t *conf,
    const char *which, const char *ref, char *err, size_t errlen)
{
    char  **dst;

    if (strcmp(which, "gift_card") == 0) {
        dst = &conf->gift_card_item;

    } else if (strcmp(which, "custom") == 0) {
        dst = &conf->custom_item;

    } else if (strcmp(which, "shipping") == 0) {
        dst = &conf->shipping_item;

    } else if (strcmp(which, "discrepancy") == 0) {
        dst = &conf->discrepancy_item;

    } else if (strcmp(which, "shipping_refund") == 0) {
        dst = &conf->shipping_refund_item;

    } else if (strcmp(which, "tip") == 0) {
        dst = &conf->tip_item;

    } else if (strcmp(which, "duties") == 0) {
        dst = &conf->duties_item;

    } else if (strcmp(which, "no_restock") == 0) {
        dst = &conf->no_restock_item;

    } else {
        snprintf(err, errlen, "unknown item \"%s\", it must be "
                 "\"gift_card\", \"custom\", \"shipping\", "
                 "\"shipping_refund\", \"discrepancy\", \"tip\", "
                 "\"duties\" or \"no_restock\"", which);
        return -1;
    }

    if (!ngx_http_order_edit_item_ref_valid(ref, strlen(ref))) {
        snprintf(err, errlen, "invalid item reference \"%s\" (use a NetSuite "
                 "internal id or \"eid:<external id>\")", ref);
        return -1;
    }

    return ngx_http_order_edit_norm_replace(dst, ref, err, errlen);
}


int
ngx_http_order_edit_norm_set_field(ngx_http_order_edit_norm_conf_t *conf,
    const char *name, const char *value, char *err, size_t errlen)
{
    size_t       i;
    const char  *p;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_FIELD_N; i++) {
        if (strcmp(name, ngx_http_order_edit_field_names[i]) == 0) {
            break;
        }
    }

    if (i == NGX_HTTP_ORDER_EDIT_FIELD_N) {
        snprintf(err, errlen, "unknown NetSuite field option \"%s\"", name);
        return -1;
    }

    if (strcmp(value, "off") != 0) {
        for (p = value; *p; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '_'))
            {
                break;
            }
        }

        if (*p != '\0' || p == value || p - value > 64) {
            snprintf(err, errlen, "invalid NetSuite field id \"%s\"", value);
            return -1;
        }
    }

    return ngx_http_order_edit_norm_replace(&conf->fields[i], value, err,
                                            errlen);
}


int
ngx_http_order_edit_norm_set_currency(ngx_http_order_edit_norm_conf_t *conf,
    const char *spec, char *err, size_t errlen)
{
    size_t  i;

    /* "XYZ=3" */
    if (strlen(spec) != 5 || spec[3] != '='
        || !ngx_http_order_edit_currency_valid(spec, 3)
        || spec[4] < '0' || spec[4] > '0' + NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP)
    {
        snprintf(err, errlen, "invalid currency exponent \"%s\", expected "
                 "\"CODE=N\" with N from 0 to %d", spec,
                 NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP);
        return -1;
    }

    for (i = 0; i < conf->ncurrencies; i++) {
        if (memcmp(conf->currencies[i].code, spec, 3) == 0) {
            break;
        }
    }

    if (i == NGX_HTTP_ORDER_EDIT_MAX_CURRENCIES) {
        snprintf(err, errlen, "too many currency exponents");
        return -1;
    }

    memcpy(conf->currencies[i].code, spec, 3);
    conf->currencies[i].code[3] = '\0';
    conf->currencies[i].exponent = spec[4] - '0';

    if (i == conf->ncurrencies) {
        conf->ncurrencies++;
    }

    return 0;
}


int
ngx_http_order_edit_norm_set_taxes_included(
    ngx_http_order_edit_norm_conf_t *conf, const char *value, char *err,
    size_t errlen)
{
    if (strcmp(value, "on") == 0) {
        conf->taxes_included = 1;

    } else if (strcmp(value, "off") == 0) {
        conf->taxes_included = 0;

    } else if (strcmp(value, "unknown") == 0) {
        conf->taxes_included = -1;

    } else {
        snprintf(err, errlen, "invalid taxes_included \"%s\", it must be "
                 "\"on\", \"off\" or \"unknown\"", value);
        return -1;
    }

    return 0;
}


int
ngx_http_order_edit_norm_set_tax_details(
    ngx_http_order_edit_norm_conf_t *conf, const char *type,
    const char *code, char *err, size_t errlen)
{
    if (strcmp(type, "off") == 0 && code == NULL) {
        free(conf->tax_type);
        free(conf->tax_code);
        conf->tax_type = NULL;
        conf->tax_code = NULL;
        return 0;
    }

    if (code == NULL
        || !ngx_http_order_edit_item_ref_valid(type, strlen(type))
        || !ngx_http_order_edit_item_ref_valid(code, strlen(code)))
    {
        snprintf(err, errlen, "invalid tax_details \"%s\" \"%s\", expected "
                 "a NetSuite tax type and tax code (internal ids or "
                 "\"eid:<external id>\"), or \"off\"", type,
                 code ? code : "");
        return -1;
    }

    if (ngx_http_order_edit_norm_replace(&conf->tax_type, type, err, errlen)
        != 0)
    {
        return -1;
    }

    return ngx_http_order_edit_norm_replace(&conf->tax_code, code, err,
                                            errlen);
}


/* "0.0500" -> "0.05", "5.0" -> "5": a rate compares as its value */

static size_t
ngx_http_order_edit_norm_decimal_len(const char *s, size_t len)
{
    if (memchr(s, '.', len) == NULL) {
        return len;
    }

    while (len && s[len - 1] == '0') {
        len--;
    }

    if (len && s[len - 1] == '.') {
        len--;
    }

    return len;
}


int
ngx_http_order_edit_norm_add_tax_code(ngx_http_order_edit_norm_conf_t *conf,
    const char *match, const char *code, const char *type, char *err,
    size_t errlen)
{
    size_t                           len;
    const char                      *rate;
    ngx_http_order_edit_tax_code_t  *t, *codes;

    rate = NULL;

    if (strncmp(match, "rate=", 5) == 0) {
        rate = match + 5;
        len = strlen(rate);

        if (len == 0 || strspn(rate, "0123456789.") != len
            || strchr(rate, '.') != strrchr(rate, '.') || rate[0] == '.')
        {
            goto invalid;
        }

    } else if (strncmp(match, "title=", 6) != 0 || match[6] == '\0') {
        goto invalid;
    }

    if (code == NULL
        || !ngx_http_order_edit_item_ref_valid(code, strlen(code))
        || (type != NULL
            && !ngx_http_order_edit_item_ref_valid(type, strlen(type))))
    {
        goto invalid;
    }

    codes = realloc(conf->tax_codes, (conf->ntax_codes + 1)
                                     * sizeof(ngx_http_order_edit_tax_code_t));
    if (codes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    conf->tax_codes = codes;
    t = &codes[conf->ntax_codes];
    memset(t, 0, sizeof(ngx_http_order_edit_tax_code_t));

    t->code = strdup(code);
    t->type = type ? strdup(type) : NULL;

    if (rate) {
        t->rate = strndup(rate, ngx_http_order_edit_norm_decimal_len(rate,
                                                               strlen(rate)));
    } else {
        t->title = strdup(match + 6);
    }

    if (t->code == NULL || (type && t->type == NULL)
        || (t->rate == NULL && t->title == NULL))
    {
        free(t->code);
        free(t->type);
        free(t->rate);
        free(t->title);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    conf->ntax_codes++;

    return 0;

invalid:

    snprintf(err, errlen, "invalid tax_code \"%s\" \"%s\", expected "
             "\"title=<Shopify tax title>\" or \"rate=<decimal>\", then a "
             "NetSuite tax code and optionally its tax type (internal ids "
             "or \"eid:<external id>\")", match, code ? code : "");
    return -1;
}


const ngx_http_order_edit_tax_code_t *
ngx_http_order_edit_norm_tax_code(const ngx_http_order_edit_norm_conf_t *conf,
    const char *title, const char *rate, size_t rate_len)
{
    size_t                           i;
    ngx_http_order_edit_tax_code_t  *t;

    if (rate != NULL) {
        rate_len = ngx_http_order_edit_norm_decimal_len(rate, rate_len);
    }

    for (i = 0; i < conf->ntax_codes; i++) {
        t = &conf->tax_codes[i];

        if (t->title != NULL) {
            if (title != NULL && strcasecmp(t->title, title) == 0) {
                return t;
            }

        } else if (rate != NULL && strlen(t->rate) == rate_len
                   && memcmp(t->rate, rate, rate_len) == 0)
        {
            return t;
        }
    }

    return NULL;
}


const char *
ngx_http_order_edit_norm_field(const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_field_e field)
{
    const char  *v;

    v = conf->fields[field] ? conf->fields[field]
                            : ngx_http_order_edit_field_defaults[field];

    return strcmp(v, "off") == 0 ? NULL : v;
}


int
ngx_http_order_edit_norm_exponent(const ngx_http_order_edit_norm_conf_t *conf,
    const char *code, size_t len)
{
    size_t  i;

    if (!ngx_http_order_edit_currency_valid(code, len)) {
        return -1;
    }

    for (i = 0; i < conf->ncurrencies; i++) {
        if (memcmp(conf->currencies[i].code, code, 3) == 0) {
            return conf->currencies[i].exponent;
        }
    }

    return ngx_http_order_edit_currency_exponent(code, len);
}


/* time */


static int
ngx_http_order_edit_digits(const char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


/*
 * Only the payload's top-level updated_at: the dispatcher compares a
 * queued snapshot's age with the one it is about to send, on the thread
 * pool, without normalising it.
 */

int
ngx_http_order_edit_norm_updated_at(const char *body, size_t len,
    int64_t *ms)
{
    int      rc;
    json_t  *doc, *v;

    doc = json_loadb(body, len, 0, NULL);
    v = json_object_get(doc, "updated_at");

    rc = json_is_string(v)
         ? ngx_http_order_edit_parse_time(json_string_value(v),
                                          json_string_length(v), ms)
         : -1;

    json_decref(doc);

    return rc;
}


int
ngx_http_order_edit_parse_time(const char *s, size_t len, int64_t *ms)
{
    int          y, mo, d, h, mi, sec, oh, om, frac, fdig, sign;
    int64_t      days, yy, era, yoe, doy, doe, mp;
    const char  *p, *end;
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    if (len < 20 || len > 40) {
        return -1;
    }

    if (ngx_http_order_edit_digits(s, 4, &y) || s[4] != '-'
        || ngx_http_order_edit_digits(s + 5, 2, &mo) || s[7] != '-'
        || ngx_http_order_edit_digits(s + 8, 2, &d)
        || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        || ngx_http_order_edit_digits(s + 11, 2, &h) || s[13] != ':'
        || ngx_http_order_edit_digits(s + 14, 2, &mi) || s[16] != ':'
        || ngx_http_order_edit_digits(s + 17, 2, &sec))
    {
        return -1;
    }

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || h > 23 || mi > 59 || sec > 60)
    {
        return -1;
    }

    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    {
        return -1;
    }

    p = s + 19;
    end = s + len;
    frac = 0;
    fdig = 0;

    if (p < end && *p == '.') {
        p++;

        while (p < end && *p >= '0' && *p <= '9') {
            if (fdig < 3) {
                frac = frac * 10 + (*p - '0');
            }

            fdig++;
            p++;
        }

        if (fdig == 0 || fdig > 9) {
            return -1;
        }

        while (fdig < 3) {
            frac *= 10;
            fdig++;
        }
    }

    oh = 0;
    om = 0;
    sign = 1;

    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;

    } else if (end - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
        sign = (*p == '-') ? -1 : 1;

        if (ngx_http_order_edit_digits(p + 1, 2, &oh)
            || ngx_http_order_edit_digits(p + 4, 2, &om)
            || oh > 23 || om > 59)
        {
            return -1;
        }

        p += 6;

    } else {
        return -1;
    }

    if (p != end) {
        return -1;
    }

    /* days from civil, proleptic Gregorian (Howard Hinnant's algorithm) */
    yy = y - (mo <= 2);
    era = yy / 400;
    yoe = yy - era * 400;
    mp = (mo + 9) % 12;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;

    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec)
           - sign * (oh * 3600 + om * 60)) * 1000 + frac;

    return 0;
}


/* errors and field access */


static int
ngx_http_order_edit_norm_fail(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    /* the first error is the cause: keep it */
    if (ctx->res->error[0] != '\0') {
        return -1;
    }

    snprintf(ctx->res->error, sizeof(ctx->res->error), "%s", code);

    va_start(args, fmt);
    vsnprintf(ctx->res->message, sizeof(ctx->res->message), fmt, args);
    va_end(args);

    return -1;
}


static json_t *
ngx_http_order_edit_norm_get(const json_t *obj, const char *key)
{
    json_t  *v;

    v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}


/* a field's full name for messages: "line_items[2].price" */

static const char *
ngx_http_order_edit_norm_name(char *buf, size_t size, const char *where,
    const char *key)
{
    snprintf(buf, size, "%s%s%s", where, where[0] ? "." : "", key);

    return buf;
}


/* a member of an array of objects: the array's own name is in where */

static int
ngx_http_order_edit_norm_not_object(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *e, const char *where)
{
    if (json_is_object(e)) {
        return 0;
    }

    return ngx_http_order_edit_norm_fail(ctx, "wrong_type",
                                         "\"%s\" must be an object", where);
}


static int
ngx_http_order_edit_norm_missing(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *where, const char *key)
{
    char  name[128];

    return ngx_http_order_edit_norm_fail(ctx, "missing_field",
               "required field \"%s\" is missing",
               ngx_http_order_edit_norm_name(name, sizeof(name), where, key));
}


static int
ngx_http_order_edit_norm_wrong(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *where, const char *key, const char *expected)
{
    char  name[128];

    return ngx_http_order_edit_norm_fail(ctx, "wrong_type",
               "field \"%s\" must be %s",
               ngx_http_order_edit_norm_name(name, sizeof(name), where, key),
               expected);
}


/* 0 found, 1 absent and optional, -1 error */

static int
ngx_http_order_edit_norm_object(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int required,
    json_t **out)
{
    json_t  *v;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v == NULL) {
        return required ? ngx_http_order_edit_norm_missing(ctx, where, key)
                        : 1;
    }

    if (!json_is_object(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, where, key, "an object");
    }

    *out = v;

    return 0;
}


static int
ngx_http_order_edit_norm_array(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int required,
    size_t max, json_t **out)
{
    char     name[128];
    json_t  *v;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v == NULL) {
        return required ? ngx_http_order_edit_norm_missing(ctx, where, key)
                        : 1;
    }

    if (!json_is_array(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, where, key, "an array");
    }

    if (json_array_size(v) > max) {
        return ngx_http_order_edit_norm_fail(ctx, "too_many_items",
                   "\"%s\" has %zu entries, the limit is %zu",
                   ngx_http_order_edit_norm_name(name, sizeof(name), where,
                                                 key),
                   json_array_size(v), max);
    }

    *out = v;

    return 0;
}


static int
ngx_http_order_edit_norm_string(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int required,
    const char **s, size_t *len)
{
    json_t  *v;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v == NULL) {
        return required ? ngx_http_order_edit_norm_missing(ctx, where, key)
                        : 1;
    }

    if (!json_is_string(v) || ngx_http_order_edit_json_is_marker(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, where, key, "a string");
    }

    *s = json_string_value(v);
    *len = json_string_length(v);

    return 0;
}


static int
ngx_http_order_edit_norm_int(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int required,
    int64_t min, int64_t max, int64_t *out)
{
    char     name[128];
    json_t  *v;
    int64_t  n;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v == NULL) {
        return required ? ngx_http_order_edit_norm_missing(ctx, where, key)
                        : 1;
    }

    if (!json_is_integer(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, where, key,
                                              "an integer");
    }

    n = json_integer_value(v);

    if (n < min || n > max) {
        return ngx_http_order_edit_norm_fail(ctx, "bad_value",
                   "field \"%s\" is %lld, outside %lld..%lld",
                   ngx_http_order_edit_norm_name(name, sizeof(name), where,
                                                 key),
                   (long long) n, (long long) min, (long long) max);
    }

    *out = n;

    return 0;
}


static int
ngx_http_order_edit_norm_bool(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int *out)
{
    json_t  *v;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v == NULL) {
        return 1;
    }

    if (!json_is_boolean(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, where, key, "a boolean");
    }

    *out = json_is_true(v);

    return 0;
}


/* the text of a string or of an exact number (a marker string) */

static const char *
ngx_http_order_edit_norm_text(const json_t *v, size_t *len)
{
    const char  *text;

    text = ngx_http_order_edit_json_marker_text(v, len);

    if (text == NULL) {
        text = json_string_value(v);
        *len = json_string_length(v);
    }

    return text;
}


/* parses one money value: a decimal string, an exact number or an integer */

static int
ngx_http_order_edit_norm_money_value(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *v, const char *name, int exponent, const char *currency,
    int64_t *out)
{
    char                            buf[32];
    size_t                          len;
    const char                     *text;
    ngx_http_order_edit_money_rc_e  rc;

    if (json_is_string(v)) {
        text = ngx_http_order_edit_norm_text(v, &len);

    } else if (json_is_integer(v)) {
        len = snprintf(buf, sizeof(buf), "%lld",
                       (long long) json_integer_value(v));
        text = buf;

    } else {
        return ngx_http_order_edit_norm_fail(ctx, "wrong_type",
                   "field \"%s\" must be a decimal amount", name);
    }

    rc = ngx_http_order_edit_money_parse(text, len, exponent, out);

    if (rc != NGX_HTTP_ORDER_EDIT_MONEY_OK) {
        return ngx_http_order_edit_norm_fail(ctx,
                   ngx_http_order_edit_money_code(rc),
                   "field \"%s\": %s (\"%.*s\" in %s)", name,
                   ngx_http_order_edit_money_strerror(rc),
                   (int) (len > 40 ? 40 : len), text, currency);
    }

    return 0;
}


/*
 * A money field in the document's currency.  Shop money: the plain field
 * ("price"), else its "price_set".shop_money.  Presentment money:
 * "price_set".presentment_money, else the plain field when the shop and
 * presentment currencies are the same.  0 found, 1 absent, -1 error.
 */

static int
ngx_http_order_edit_norm_money(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, int required,
    int64_t *out)
{
    char         name[128], setkey[64];
    size_t       len;
    json_t      *v, *set, *bag;
    const char  *code;

    ngx_http_order_edit_norm_name(name, sizeof(name), where, key);

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v != NULL && !ctx->presentment) {
        return ngx_http_order_edit_norm_money_value(ctx, v, name,
                                                    ctx->exponent,
                                                    ctx->currency, out);
    }

    snprintf(setkey, sizeof(setkey), "%s_set", key);
    set = ngx_http_order_edit_norm_get(obj, setkey);

    if (set != NULL) {
        if (!json_is_object(set)) {
            return ngx_http_order_edit_norm_wrong(ctx, where, setkey,
                                                  "an object");
        }

        bag = ngx_http_order_edit_norm_get(set, ctx->presentment
                                                ? "presentment_money"
                                                : "shop_money");

        if (bag != NULL) {
            if (!json_is_object(bag)) {
                return ngx_http_order_edit_norm_wrong(ctx, where, setkey,
                           "an object of money objects");
            }

            if (ngx_http_order_edit_norm_string(ctx, bag, name,
                                                "currency_code", 0, &code,
                                                &len)
                == -1)
            {
                return -1;
            }

            if (ngx_http_order_edit_norm_get(bag, "currency_code") != NULL
                && (len != 3 || memcmp(code, ctx->currency, 3) != 0))
            {
                return ngx_http_order_edit_norm_fail(ctx,
                           "currency_mismatch",
                           "field \"%s\" is in \"%.*s\", the document is "
                           "in %s", name, (int) (len > 8 ? 8 : len), code,
                           ctx->currency);
            }

            v = ngx_http_order_edit_norm_get(bag, "amount");

            if (v != NULL) {
                return ngx_http_order_edit_norm_money_value(ctx, v, name,
                                                            ctx->exponent,
                                                            ctx->currency,
                                                            out);
            }
        }
    }

    v = ngx_http_order_edit_norm_get(obj, key);

    if (v != NULL && ctx->plain_ok) {
        return ngx_http_order_edit_norm_money_value(ctx, v, name,
                                                    ctx->exponent,
                                                    ctx->currency, out);
    }

    if (required) {
        return ngx_http_order_edit_norm_fail(ctx, "missing_field",
                   "required money field \"%s\" is missing%s", name,
                   ctx->presentment ? " in the presentment currency" : "");
    }

    *out = 0;

    return 1;
}


/* sums "field" over the objects of an optional array */

static int
ngx_http_order_edit_norm_sum(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *obj, const char *where, const char *key, const char *field,
    int64_t *sum)
{
    char     name[128];
    size_t   i;
    json_t  *arr, *e;
    int64_t  v;

    *sum = 0;

    switch (ngx_http_order_edit_norm_array(ctx, obj, where, key, 0,
                                           ctx->conf->max_sub, &arr))
    {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    for (i = 0; i < json_array_size(arr); i++) {
        e = json_array_get(arr, i);
        snprintf(name, sizeof(name), "%s%s%s[%zu]", where, where[0] ? "." : "",
                 key, i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, name) == -1) {
            return -1;
        }

        if (ngx_http_order_edit_norm_money(ctx, e, name, field, 1, &v) == -1)
        {
            return -1;
        }

        if (ngx_http_order_edit_money_add(*sum, v, sum) != 0) {
            return ngx_http_order_edit_norm_fail(ctx, "money_overflow",
                       "the sum of \"%s\" overflows", name);
        }
    }

    return 0;
}


static int
ngx_http_order_edit_norm_overflow(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *what)
{
    return ngx_http_order_edit_norm_fail(ctx, "money_overflow",
                                         "%s overflows", what);
}


static int
ngx_http_order_edit_norm_nomem(ngx_http_order_edit_norm_ctx_t *ctx)
{
    return ngx_http_order_edit_norm_fail(ctx, "internal", "out of memory");
}


/* sets the currency and its exponent; "currency" may be NULL */

static int
ngx_http_order_edit_norm_set_doc_currency(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *code, size_t len, const char *name)
{
    int  exp;

    exp = ngx_http_order_edit_norm_exponent(ctx->conf, code, len);

    if (exp < 0) {
        return ngx_http_order_edit_norm_fail(ctx, "bad_currency",
                   "\"%s\" is not an ISO 4217 currency code: \"%.*s\"", name,
                   (int) (len > 8 ? 8 : len), code);
    }

    memcpy(ctx->currency, code, 3);
    ctx->currency[3] = '\0';
    ctx->exponent = exp;

    return 0;
}


/* SKU to NetSuite item for one line, bundles left for the output stage */

static int
ngx_http_order_edit_norm_resolve(ngx_http_order_edit_norm_ctx_t *ctx,
    ngx_http_order_edit_norm_line_t *line, const char *where, int gift_card)
{
    int          rc;
    char         err[256];
    const char  *ref;

    if (line->sku == NULL || line->sku_len == 0) {
        ref = gift_card ? ctx->conf->gift_card_item : ctx->conf->custom_item;

        if (ref == NULL) {
            return ngx_http_order_edit_norm_fail(ctx, "missing_sku",
                       "%s (\"%.60s\") has no SKU and no %s item is "
                       "configured", where, line->title ? line->title : "",
                       gift_card ? "gift card" : "custom");
        }

        snprintf(line->item, sizeof(line->item), "%s", ref);

        return 0;
    }

    line->bundle = ngx_http_order_edit_bundles_find(&ctx->conf->bundles,
                                                     line->sku,
                                                     line->sku_len);
    if (line->bundle) {
        return 0;
    }

    rc = ngx_http_order_edit_skures_resolve(&ctx->conf->skus, line->sku,
                                            line->sku_len, line->item, NULL,
                                            err, sizeof(err));
    if (rc == 0) {
        return 0;
    }

    return ngx_http_order_edit_norm_fail(ctx, rc == -2 ? "sku_rewrite_failed"
                                                       : "unmapped_sku",
                                         "%s: %s", where, err);
}


static int
ngx_http_order_edit_norm_check_sku(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *sku, size_t len, const char *where)
{
    size_t  i;

    if (len > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
        return ngx_http_order_edit_norm_fail(ctx, "bad_sku",
                   "%s: SKU of %zu bytes, the limit is %d", where, len,
                   NGX_HTTP_ORDER_EDIT_SKU_MAX);
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) sku[i] < 0x20 || sku[i] == 0x7f) {
            return ngx_http_order_edit_norm_fail(ctx, "bad_sku",
                       "%s: control character in the SKU", where);
        }
    }

    return 0;
}


/* building the output; any allocation failure sets ctx->nomem */


/* the document and the NetSuite body share one set of JSON builders */

static json_t *
ngx_http_order_edit_norm_set(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *obj, const char *key, json_t *v)
{
    return ngx_http_order_edit_jbuild_set(&ctx->nomem, obj, key, v);
}


static json_t *
ngx_http_order_edit_norm_append(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *arr, json_t *v)
{
    return ngx_http_order_edit_jbuild_append(&ctx->nomem, arr, v);
}


static json_t *
ngx_http_order_edit_norm_amount(ngx_http_order_edit_norm_ctx_t *ctx,
    int64_t v)
{
    char  buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];

    if (ngx_http_order_edit_money_format(v, ctx->exponent, buf, sizeof(buf))
        == 0)
    {
        return NULL;
    }

    return json_string(buf);
}


static json_t *
ngx_http_order_edit_norm_id(int64_t id)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "%lld", (long long) id);

    return json_string(buf);
}


static json_t *
ngx_http_order_edit_norm_strn(const char *s, size_t len)
{
    return s ? json_stringn(s, len) : json_null();
}


/* external ids */


static int
ngx_http_order_edit_norm_extid(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *pattern, int64_t order_id, int64_t order_number,
    int64_t refund_id, char *out)
{
    int          n;
    char        *o, *last;
    size_t       i, len, handle;
    const char  *p, *shop;

    shop = ctx->in->shop;
    len = ctx->in->shop_len;

    /* "acme.myshopify.com" -> "acme" */
    handle = len;

    if (len > 14 && memcmp(shop + len - 14, ".myshopify.com", 14) == 0) {
        handle = len - 14;
    }

    o = out;
    last = out + NGX_HTTP_ORDER_EDIT_EXTID_MAX;

    for (p = pattern; *p; p++) {

        if (*p != '{') {
            if (o == last) {
                goto too_long;
            }

            *o++ = *p;
            continue;
        }

        if (strncmp(p, "{shop}", 6) == 0 || strncmp(p, "{shop_domain}", 13)
                                            == 0)
        {
            /*
             * Injective only for name.myshopify.com with no dot in the
             * name (what ingest admits): "a.b" and "a-b" would both be
             * "a-b", and "acme" the handle of acme.myshopify.com.
             */
            if (handle == len || memchr(shop, '.', handle) != NULL) {
                return ngx_http_order_edit_norm_fail(ctx, "bad_shop",
                           "shop domain \"%.*s\" is not name.myshopify.com",
                           (int) len, shop);
            }

            n = (p[5] == '}') ? (int) handle : (int) len;

            if (last - o < n) {
                goto too_long;
            }

            /* dots are not allowed in a NetSuite external id */
            for (i = 0; i < (size_t) n; i++) {
                *o++ = (shop[i] == '.') ? '-' : shop[i];
            }

        } else {
            if (strncmp(p, "{order_id}", 10) == 0) {
                n = snprintf(o, last - o + 1, "%lld", (long long) order_id);

            } else if (strncmp(p, "{order_number}", 14) == 0) {
                if (order_number <= 0) {
                    return ngx_http_order_edit_norm_fail(ctx,
                               "missing_field", "the external id pattern "
                               "uses {order_number} and the payload has no "
                               "\"order_number\"");
                }

                n = snprintf(o, last - o + 1, "%lld",
                             (long long) order_number);

            } else {
                n = snprintf(o, last - o + 1, "%lld", (long long) refund_id);
            }

            if (n < 0 || n > last - o) {
                goto too_long;
            }

            o += n;
        }

        p = strchr(p, '}');
    }

    *o = '\0';

    if (!ngx_http_order_edit_extid_valid(out, o - out)) {
        return ngx_http_order_edit_norm_fail(ctx, "bad_shop",
                   "external id \"%s\" has characters NetSuite does not "
                   "allow", out);
    }

    return 0;

too_long:

    return ngx_http_order_edit_norm_fail(ctx, "bad_shop",
               "external id longer than %d characters",
               NGX_HTTP_ORDER_EDIT_EXTID_MAX);
}


static const char *
ngx_http_order_edit_norm_so_pattern(ngx_http_order_edit_norm_ctx_t *ctx)
{
    return ctx->conf->sales_order_id ? ctx->conf->sales_order_id
                                     : NGX_HTTP_ORDER_EDIT_DEFAULT_SO_ID;
}


/*
 * The sales order's external id from the order id alone (refunds, edits):
 * empty when the pattern needs an {order_number} the payload lacks.
 */

static int
ngx_http_order_edit_norm_so_id(ngx_http_order_edit_norm_ctx_t *ctx,
    int64_t order_id, char *so_id)
{
    const char  *pattern;

    pattern = ngx_http_order_edit_norm_so_pattern(ctx);

    if (strstr(pattern, "{order_number}") != NULL) {
        so_id[0] = '\0';
        return 0;
    }

    return ngx_http_order_edit_norm_extid(ctx, pattern, order_id, 0, 0,
                                          so_id);
}


/*
 * tax_code: the line's (or shipping's) tax lines as Shopify states them
 * (title, rate, amount as ordered), so that the request builder puts each
 * share of its tax under its own NetSuite tax code.  Only for a store
 * with a tax_code map: the document is otherwise unchanged.
 */

static void
ngx_http_order_edit_norm_tax_lines(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *l, const json_t *tax_lines)
{
    char      name[64];
    size_t    i;
    json_t   *arr, *t, *e, *v;
    int64_t   price;

    if (ctx->conf->ntax_codes == 0 || json_array_size(tax_lines) == 0) {
        return;
    }

    /* shipping's come from every shipping line, into one list */
    arr = json_object_get(l, "tax_lines");

    if (arr == NULL) {
        arr = ngx_http_order_edit_norm_set(ctx, l, "tax_lines", json_array());
    }

    for (i = 0; arr != NULL && i < json_array_size(tax_lines); i++) {
        e = json_array_get(tax_lines, i);
        snprintf(name, sizeof(name), "tax_lines[%zu]", i);

        /* read once already, for the line's tax: it cannot fail here */
        if (ngx_http_order_edit_norm_money(ctx, e, name, "price", 1, &price)
            == -1)
        {
            continue;
        }

        t = ngx_http_order_edit_norm_append(ctx, arr, json_object());

        v = ngx_http_order_edit_norm_get(e, "title");
        ngx_http_order_edit_norm_set(ctx, t, "title",
            json_is_string(v) ? json_deep_copy(v) : json_null());

        /* Shopify's own number (exact), or its text */
        v = ngx_http_order_edit_norm_get(e, "rate");
        ngx_http_order_edit_norm_set(ctx, t, "rate",
            (json_is_integer(v) || json_is_string(v)) ? json_deep_copy(v)
                                                      : json_null());

        ngx_http_order_edit_norm_set(ctx, t, "amount",
                                     ngx_http_order_edit_norm_amount(ctx,
                                                                     price));
    }
}


/*
 * One output line, or one per component for a bundle: the line's amount,
 * discount and tax are split by the configured weights, the remainder on
 * the last component, so the components sum exactly to the line.
 */

static int
ngx_http_order_edit_norm_emit_line(ngx_http_order_edit_norm_ctx_t *ctx,
    const ngx_http_order_edit_norm_line_t *line, int memo, json_t *lines,
    size_t *nout)
{
    int                                     rc;
    char                                    key[48], where[80], err[256];
    char                                    item[NGX_HTTP_ORDER_EDIT_ITEM_MAX];
    size_t                                  i, n;
    json_t                                 *l, *bundle;
    int64_t                                 qty, rate;
    int64_t                                 w[NGX_HTTP_ORDER_EDIT_MAX_PARTS];
    int64_t                                 am[NGX_HTTP_ORDER_EDIT_MAX_PARTS];
    int64_t                                 di[NGX_HTTP_ORDER_EDIT_MAX_PARTS];
    int64_t                                 tx[NGX_HTTP_ORDER_EDIT_MAX_PARTS];
    const ngx_http_order_edit_component_t  *c;

    n = line->bundle ? line->bundle->ncomponents : 1;

    if (*nout + n > ctx->conf->max_output_lines) {
        return ngx_http_order_edit_norm_fail(ctx, "too_many_items",
                   "more than %zu lines after bundle expansion",
                   ctx->conf->max_output_lines);
    }

    *nout += n;

    if (line->bundle) {
        for (i = 0; i < n; i++) {
            w[i] = line->bundle->components[i].weight;
        }

        if (ngx_http_order_edit_money_allocate(line->amount, w, n, am) != 0
            || ngx_http_order_edit_money_allocate(line->discount, w, n, di)
               != 0
            || ngx_http_order_edit_money_allocate(line->tax, w, n, tx) != 0)
        {
            return ngx_http_order_edit_norm_overflow(ctx, "bundle allocation");
        }

    } else {
        am[0] = line->amount;
        di[0] = line->discount;
        tx[0] = line->tax;
    }

    for (i = 0; i < n; i++) {
        c = line->bundle ? &line->bundle->components[i] : NULL;

        if (c) {
            snprintf(key, sizeof(key), "%lld/%zu", (long long) line->id,
                     i + 1);
            snprintf(where, sizeof(where), "bundle \"%s\" component \"%s\"",
                     line->bundle->sku, c->sku);

            rc = ngx_http_order_edit_skures_resolve(&ctx->conf->skus, c->sku,
                                                    c->sku_len, item, NULL,
                                                    err, sizeof(err));
            if (rc != 0) {
                return ngx_http_order_edit_norm_fail(ctx,
                           rc == -2 ? "sku_rewrite_failed" : "unmapped_sku",
                           "%s: %s", where, err);
            }

            if (ngx_http_order_edit_money_mul(line->quantity, c->qty, &qty)
                != 0)
            {
                return ngx_http_order_edit_norm_overflow(ctx, "quantity");
            }

            /* informational: NetSuite takes the amount as given */
            if (qty == 0 || ngx_http_order_edit_money_muldiv(am[i], 1, qty,
                                                             &rate) != 0)
            {
                rate = 0;
            }

        } else {
            snprintf(key, sizeof(key), "%lld", (long long) line->id);
            snprintf(item, sizeof(item), "%s", line->item);
            qty = line->quantity;
            rate = line->price;
        }

        l = ngx_http_order_edit_norm_append(ctx, lines, json_object());

        if (memo) {
            ngx_http_order_edit_norm_set(ctx, l, "kind", json_string("item"));
        }

        ngx_http_order_edit_norm_set(ctx, l, "key", json_string(key));
        ngx_http_order_edit_norm_set(ctx, l, "line_item_id",
                                     ngx_http_order_edit_norm_id(
                                         memo ? line->line_item_id
                                              : line->id));
        ngx_http_order_edit_norm_set(ctx, l, "sku",
            c ? json_stringn(c->sku, c->sku_len)
              : ngx_http_order_edit_norm_strn(line->sku, line->sku_len));
        if (memo && !line->restock
            && (c != NULL || (line->sku != NULL && line->sku_len > 0))
            && (ctx->conf->gift_card_item == NULL
                || strcmp(item, ctx->conf->gift_card_item) != 0))
        {
            /*
             * A standalone credit memo puts every inventory item it
             * carries back in stock (Oracle, "Stand Alone Credit Memo"):
             * what Shopify did not restock is booked on a non-inventory
             * refund item, and the product it refunds is kept beside it.
             * A line without a SKU is on the store's custom or gift card
             * item, which is no inventory: it keeps it.
             */
            ngx_http_order_edit_norm_set(ctx, l, "item",
                ngx_http_order_edit_jbuild_ref(ctx->conf->no_restock_item
                    ? ctx->conf->no_restock_item
                    : NGX_HTTP_ORDER_EDIT_DEFAULT_NO_RESTOCK));
            ngx_http_order_edit_norm_set(ctx, l, "sold_item",
                                         ngx_http_order_edit_jbuild_ref(item));

        } else {
            ngx_http_order_edit_norm_set(ctx, l, "item",
                                         ngx_http_order_edit_jbuild_ref(item));
        }

        ngx_http_order_edit_norm_set(ctx, l, "quantity", json_integer(qty));

        if (line->title) {
            ngx_http_order_edit_norm_set(ctx, l, "title",
                                         json_string(line->title));
        }

        if (memo) {
            ngx_http_order_edit_norm_set(ctx, l, "amount",
                ngx_http_order_edit_norm_amount(ctx, am[i]));
            ngx_http_order_edit_norm_set(ctx, l, "tax",
                ngx_http_order_edit_norm_amount(ctx, tx[i]));
            ngx_http_order_edit_norm_set(ctx, l, "restock",
                                         json_boolean(line->restock));

        } else {
            ngx_http_order_edit_norm_set(ctx, l, "rate",
                ngx_http_order_edit_norm_amount(ctx, rate));
            ngx_http_order_edit_norm_set(ctx, l, "amount",
                ngx_http_order_edit_norm_amount(ctx, am[i]));
            ngx_http_order_edit_norm_set(ctx, l, "discount",
                ngx_http_order_edit_norm_amount(ctx, di[i]));
            ngx_http_order_edit_norm_set(ctx, l, "net",
                ngx_http_order_edit_norm_amount(ctx, am[i] - di[i]));
            ngx_http_order_edit_norm_set(ctx, l, "tax",
                ngx_http_order_edit_norm_amount(ctx, tx[i]));
            ngx_http_order_edit_norm_tax_lines(ctx, l, line->tax_lines);
        }

        if (c) {
            bundle = ngx_http_order_edit_norm_set(ctx, l, "bundle",
                                                  json_object());
            ngx_http_order_edit_norm_set(ctx, bundle, "sku",
                json_stringn(line->sku, line->sku_len));
            ngx_http_order_edit_norm_set(ctx, bundle, "key",
                                         ngx_http_order_edit_norm_id(line->id));
            ngx_http_order_edit_norm_set(ctx, bundle, "quantity",
                                         json_integer(line->quantity));
            ngx_http_order_edit_norm_set(ctx, bundle, "component",
                                         json_integer(i + 1));
        }
    }

    return 0;
}


/* the record's "lines", every kept line in payload order */

static int
ngx_http_order_edit_norm_emit_lines(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *record, int memo, json_t **lines)
{
    size_t  i, nout;

    *lines = ngx_http_order_edit_norm_set(ctx, record, "lines", json_array());

    nout = 0;

    for (i = 0; i < ctx->nlines; i++) {
        if (ngx_http_order_edit_norm_emit_line(ctx, &ctx->lines[i], memo,
                                               *lines, &nout)
            == -1)
        {
            return -1;
        }
    }

    return 0;
}


static json_t *
ngx_http_order_edit_norm_source(ngx_http_order_edit_norm_ctx_t *ctx,
    int64_t order_id, const char *name, size_t name_len,
    const char *updated_at, size_t updated_at_len)
{
    json_t                                  *src;
    const ngx_http_order_edit_norm_input_t  *in;

    in = ctx->in;
    src = json_object();

    ngx_http_order_edit_norm_set(ctx, src, "shop",
                                 json_stringn(in->shop, in->shop_len));
    ngx_http_order_edit_norm_set(ctx, src, "topic",
                                 json_stringn(in->topic, in->topic_len));
    ngx_http_order_edit_norm_set(ctx, src, "order_id",
                                 ngx_http_order_edit_norm_id(order_id));
    ngx_http_order_edit_norm_set(ctx, src, "order_name",
                                 ngx_http_order_edit_norm_strn(name,
                                                               name_len));
    ngx_http_order_edit_norm_set(ctx, src, "updated_at",
                                 ngx_http_order_edit_norm_strn(updated_at,
                                                        updated_at_len));
    ngx_http_order_edit_norm_set(ctx, src, "webhook_id",
                                 ngx_http_order_edit_norm_strn(
                                     in->webhook_id, in->webhook_id_len));
    ngx_http_order_edit_norm_set(ctx, src, "api_version",
                                 ngx_http_order_edit_norm_strn(
                                     in->api_version, in->api_version_len));

    return src;
}


/* the document, owned by the result from here on */

static json_t *
ngx_http_order_edit_norm_doc(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *kind, json_t *source)
{
    json_t  *doc;

    doc = json_object();

    ngx_http_order_edit_norm_set(ctx, doc, "schema_version",
                                 json_integer(
                                     NGX_HTTP_ORDER_EDIT_SCHEMA_VERSION));
    ngx_http_order_edit_norm_set(ctx, doc, "kind", json_string(kind));
    ngx_http_order_edit_norm_set(ctx, doc, "source", source);

    ctx->res->doc = doc;

    return doc;
}


/* room for every line of the payload's array, kept or not */

static int
ngx_http_order_edit_norm_alloc_lines(ngx_http_order_edit_norm_ctx_t *ctx,
    size_t n)
{
    ctx->lines = calloc(n ? n : 1, sizeof(ngx_http_order_edit_norm_line_t));
    if (ctx->lines == NULL) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    return 0;
}


/* orders */


typedef struct {
    int64_t                      id;
    int64_t                      number;
    const char                  *name;
    size_t                       name_len;
    const char                  *updated_at;
    size_t                       updated_at_len;
    int64_t                      updated_ms;
} ngx_http_order_edit_norm_order_t;


/* the sales order's external id in id, and the document for an order */

static int
ngx_http_order_edit_norm_order_doc(ngx_http_order_edit_norm_ctx_t *ctx,
    const char *kind, const ngx_http_order_edit_norm_order_t *o, char *id,
    json_t **doc)
{
    const char  *pattern;

    pattern = ngx_http_order_edit_norm_so_pattern(ctx);

    if (ngx_http_order_edit_norm_extid(ctx, pattern, o->id, o->number, 0, id)
        == -1)
    {
        return -1;
    }

    *doc = ngx_http_order_edit_norm_doc(ctx, kind,
               ngx_http_order_edit_norm_source(ctx, o->id, o->name,
                                               o->name_len, o->updated_at,
                                               o->updated_at_len));

    return 0;
}


static int
ngx_http_order_edit_norm_order_head(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, ngx_http_order_edit_norm_order_t *o)
{
    memset(o, 0, sizeof(*o));

    if (ngx_http_order_edit_norm_int(ctx, root, "", "id", 1, 1, INT64_MAX,
                                     &o->id)
        == -1
        || ngx_http_order_edit_norm_int(ctx, root, "", "order_number", 0, 1,
                                        INT64_MAX, &o->number)
           == -1
        || ngx_http_order_edit_norm_string(ctx, root, "", "name", 0, &o->name,
                                           &o->name_len)
           == -1
        || ngx_http_order_edit_norm_string(ctx, root, "", "updated_at", 1,
                                           &o->updated_at,
                                           &o->updated_at_len)
           == -1)
    {
        return -1;
    }

    if (ngx_http_order_edit_parse_time(o->updated_at, o->updated_at_len,
                                       &o->updated_ms)
        != 0)
    {
        return ngx_http_order_edit_norm_fail(ctx, "bad_timestamp",
                   "\"updated_at\" is not an ISO 8601 timestamp: \"%.40s\"",
                   o->updated_at);
    }

    ctx->res->order_id = o->id;
    ctx->res->updated_at = o->updated_ms;

    return 0;
}


static int
ngx_http_order_edit_norm_order_currency(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    size_t       len, plen;
    const char  *code, *pcode;

    if (ngx_http_order_edit_norm_string(ctx, root, "", "currency", 1, &code,
                                        &len)
        == -1)
    {
        return -1;
    }

    ctx->plain_ok = 1;

    if (!ctx->presentment) {
        return ngx_http_order_edit_norm_set_doc_currency(ctx, code, len,
                                                         "currency");
    }

    if (ngx_http_order_edit_norm_string(ctx, root, "",
                                        "presentment_currency", 1, &pcode,
                                        &plen)
        == -1)
    {
        return -1;
    }

    /* the plain fields are shop money: usable only in the same currency */
    ctx->plain_ok = (len == plen && memcmp(code, pcode, len) == 0);

    return ngx_http_order_edit_norm_set_doc_currency(ctx, pcode, plen,
                                                     "presentment_currency");
}


/* the order's shipping tax: as ordered, and still charged when known */

typedef struct {
    int64_t                              tax;        /* when known */
    int64_t                              orig_tax;   /* as ordered */
    int64_t                              orig;       /* shipping price */
    int                                  known;
} ngx_http_order_edit_norm_ship_t;


/* what the order's refunds took off one line, from refund_line_items */

typedef struct {
    int64_t                              line_item_id;
    int64_t                              quantity;
    int64_t                              subtotal;
    int64_t                              tax;
} ngx_http_order_edit_norm_refunded_t;


typedef struct {
    ngx_http_order_edit_norm_refunded_t *r;
    size_t                               n;
} ngx_http_order_edit_norm_refunds_t;


static int
ngx_http_order_edit_norm_refunded_cmp(const void *a, const void *b)
{
    const ngx_http_order_edit_norm_refunded_t  *x = a, *y = b;

    return (x->line_item_id > y->line_item_id)
           - (x->line_item_id < y->line_item_id);
}


/*
 * Every refund_line_items[] entry of the order's refunds[], summed per
 * line item and sorted by line item id.  Its subtotal and total_tax are
 * Shopify's own numbers for the units refunded: the authority for what
 * left a line, so nothing of a refunded unit is estimated.
 */

static int
ngx_http_order_edit_norm_refunded(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, ngx_http_order_edit_norm_refunds_t *out)
{
    char                                 where[80];
    size_t                               i, j, k, n, cap;
    json_t                              *refunds, *items, *e;
    ngx_http_order_edit_norm_refunded_t  r, *p;

    out->r = NULL;
    out->n = 0;

    switch (ngx_http_order_edit_norm_array(ctx, root, "", "refunds", 0,
                                           ctx->conf->max_lines, &refunds))
    {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    cap = 0;

    for (i = 0; i < json_array_size(refunds); i++) {
        e = json_array_get(refunds, i);
        snprintf(where, sizeof(where), "refunds[%zu]", i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        switch (ngx_http_order_edit_norm_array(ctx, e, where,
                                               "refund_line_items", 0,
                                               ctx->conf->max_lines, &items))
        {
        case -1:
            return -1;
        case 1:
            continue;
        }

        n = json_array_size(items);

        for (j = 0; j < n; j++) {
            e = json_array_get(items, j);
            snprintf(where, sizeof(where), "refunds[%zu].refund_line_items"
                     "[%zu]", i, j);

            if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
                return -1;
            }

            if (ngx_http_order_edit_norm_int(ctx, e, where, "line_item_id", 1,
                                             1, INT64_MAX, &r.line_item_id)
                == -1
                || ngx_http_order_edit_norm_int(ctx, e, where, "quantity", 1,
                                            0, NGX_HTTP_ORDER_EDIT_MAX_QUANTITY,
                                            &r.quantity)
                   == -1
                || ngx_http_order_edit_norm_money(ctx, e, where, "subtotal",
                                                  1, &r.subtotal)
                   == -1
                || ngx_http_order_edit_norm_money(ctx, e, where, "total_tax",
                                                  1, &r.tax)
                   == -1)
            {
                return -1;
            }

            if (out->n == cap) {
                if (cap >= NGX_HTTP_ORDER_EDIT_MAX_REFUNDED) {
                    return ngx_http_order_edit_norm_fail(ctx,
                               "too_many_items", "refunds name more than %d "
                               "refund line items",
                               NGX_HTTP_ORDER_EDIT_MAX_REFUNDED);
                }

                cap = cap ? 2 * cap : 16;
                p = realloc(out->r, cap * sizeof(*p));
                if (p == NULL) {
                    return ngx_http_order_edit_norm_nomem(ctx);
                }

                out->r = p;
            }

            out->r[out->n++] = r;
        }
    }

    if (out->n < 2) {
        return 0;
    }

    /* one entry per line item: sorted, then runs of one id summed */
    qsort(out->r, out->n, sizeof(*out->r),
          ngx_http_order_edit_norm_refunded_cmp);

    k = 0;

    for (i = 1; i < out->n; i++) {
        p = &out->r[k];

        if (out->r[i].line_item_id != p->line_item_id) {
            out->r[++k] = out->r[i];
            continue;
        }

        if (ngx_http_order_edit_money_add(p->quantity, out->r[i].quantity,
                                          &p->quantity)
            || ngx_http_order_edit_money_add(p->subtotal, out->r[i].subtotal,
                                             &p->subtotal)
            || ngx_http_order_edit_money_add(p->tax, out->r[i].tax, &p->tax))
        {
            return ngx_http_order_edit_norm_overflow(ctx, "refunded lines");
        }
    }

    out->n = k + 1;

    return 0;
}


static const ngx_http_order_edit_norm_refunded_t *
ngx_http_order_edit_norm_refunded_find(
    const ngx_http_order_edit_norm_refunds_t *refunds, int64_t id)
{
    ngx_http_order_edit_norm_refunded_t  key;

    if (refunds->n == 0) {
        return NULL;
    }

    key.line_item_id = id;

    return bsearch(&key, refunds->r, refunds->n, sizeof(*refunds->r),
                   ngx_http_order_edit_norm_refunded_cmp);
}


/*
 * A kept line's discount and tax.  Shopify gives discount_allocations and
 * tax_lines for the ordered quantity and, for every refunded unit, the
 * refund line's subtotal and total_tax: what is left after refunds is
 * exact.  Only units removed by an order edit (no refund says what they
 * took) leave an estimate: the current share of what is left, rounded
 * half away from zero, and the line is marked estimated so that the
 * reconciliation puts any leftover unit on such lines only.
 */

static int
ngx_http_order_edit_norm_kept(ngx_http_order_edit_norm_line_t *l, int64_t q,
    int64_t d, int64_t t, const ngx_http_order_edit_norm_refunded_t *r)
{
    int64_t  rq, left, dk, tk, gross_r;

    rq = r ? r->quantity : 0;

    if (rq > q - l->quantity) {
        /* refunds that do not explain the removal: estimate it all */
        rq = 0;
        r = NULL;
    }

    dk = d;
    tk = t;

    if (r != NULL) {
        /* the refunded units' discount: their gross less their subtotal */
        if (ngx_http_order_edit_money_mul(l->price, rq, &gross_r)
            || ngx_http_order_edit_money_sub(gross_r, r->subtotal, &gross_r)
            || ngx_http_order_edit_money_sub(dk, gross_r, &dk)
            || ngx_http_order_edit_money_sub(tk, r->tax, &tk))
        {
            return -1;
        }
    }

    left = q - rq;

    if (left == l->quantity) {
        l->discount = dk;
        l->tax = tk;

    } else {
        if (ngx_http_order_edit_money_muldiv(dk, l->quantity, left,
                                             &l->discount)
            || ngx_http_order_edit_money_muldiv(tk, l->quantity, left,
                                                &l->tax))
        {
            return -1;
        }

        l->estimated = 1;
    }

    if (l->discount >= 0 && l->discount <= l->amount && l->tax >= 0) {
        return 0;
    }

    /* Shopify's numbers do not fit together: the plain share, estimated */
    if (ngx_http_order_edit_money_muldiv(d, l->quantity, q, &l->discount)
        || ngx_http_order_edit_money_muldiv(t, l->quantity, q, &l->tax))
    {
        return -1;
    }

    l->estimated = 1;

    return 0;
}


static int ngx_http_order_edit_norm_order_walk(
    ngx_http_order_edit_norm_ctx_t *ctx, const json_t *items,
    const ngx_http_order_edit_norm_refunds_t *refunds);


static int
ngx_http_order_edit_norm_order_lines(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    int                                 rc;
    json_t                             *items;
    ngx_http_order_edit_norm_refunds_t  refunds;

    if (ngx_http_order_edit_norm_array(ctx, root, "", "line_items", 1,
                                       ctx->conf->max_lines, &items)
        == -1)
    {
        return -1;
    }

    if (ngx_http_order_edit_norm_alloc_lines(ctx, json_array_size(items))
        == -1)
    {
        return -1;
    }

    rc = ngx_http_order_edit_norm_refunded(ctx, root, &refunds);

    if (rc == 0) {
        rc = ngx_http_order_edit_norm_order_walk(ctx, items, &refunds);
    }

    free(refunds.r);

    return rc;
}


static int
ngx_http_order_edit_norm_order_walk(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *items, const ngx_http_order_edit_norm_refunds_t *refunds)
{
    int                               gift;
    char                              where[48];
    size_t                            i, j, n;
    json_t                           *e;
    int64_t                           q, d, t;
    ngx_http_order_edit_norm_line_t  *l;

    n = json_array_size(items);

    for (i = 0; i < n; i++) {
        e = json_array_get(items, i);
        snprintf(where, sizeof(where), "line_items[%zu]", i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        /*
         * A removed line's slot is taken by the next line: nothing of it
         * may survive there (a SKU-less line would inherit its SKU).
         */
        l = &ctx->lines[ctx->nlines];
        memset(l, 0, sizeof(ngx_http_order_edit_norm_line_t));
        gift = 0;

        if (ngx_http_order_edit_norm_int(ctx, e, where, "id", 1, 1,
                                         INT64_MAX, &l->id)
            == -1
            || ngx_http_order_edit_norm_int(ctx, e, where, "quantity", 1, 0,
                                            NGX_HTTP_ORDER_EDIT_MAX_QUANTITY,
                                            &q)
               == -1
            || ngx_http_order_edit_norm_int(ctx, e, where, "current_quantity",
                                            1, 0, q, &l->quantity)
               == -1
            || ngx_http_order_edit_norm_money(ctx, e, where, "price", 1,
                                              &l->price)
               == -1
            || ngx_http_order_edit_norm_string(ctx, e, where, "sku", 0,
                                               &l->sku, &l->sku_len)
               == -1
            || ngx_http_order_edit_norm_bool(ctx, e, where, "gift_card",
                                             &gift)
               == -1
            || ngx_http_order_edit_norm_sum(ctx, e, where,
                                            "discount_allocations", "amount",
                                            &d)
               == -1
            || ngx_http_order_edit_norm_sum(ctx, e, where, "tax_lines",
                                            "price", &t)
               == -1)
        {
            return -1;
        }

        if (ngx_http_order_edit_norm_get(e, "title") != NULL) {
            if (!json_is_string(ngx_http_order_edit_norm_get(e, "title"))) {
                return ngx_http_order_edit_norm_wrong(ctx, where, "title",
                                                      "a string");
            }

            l->title = json_string_value(ngx_http_order_edit_norm_get(e,
                                                                  "title"));
            if (l->title[0] == '\0') {
                l->title = NULL;
            }
        }

        if (l->price < 0 || d < 0 || t < 0) {
            return ngx_http_order_edit_norm_fail(ctx, "bad_value",
                       "%s has a negative price, discount or tax", where);
        }

        if (ngx_http_order_edit_norm_check_sku(ctx, l->sku, l->sku_len,
                                               where)
            == -1)
        {
            return -1;
        }

        for (j = 0; j < ctx->nlines; j++) {
            if (ctx->lines[j].id == l->id) {
                return ngx_http_order_edit_norm_fail(ctx, "duplicate_line",
                           "line item id %lld appears twice",
                           (long long) l->id);
            }
        }

        /* removed from the order: it leaves the item sublist */
        if (l->quantity == 0) {
            continue;
        }

        /* each entry of a share rounds on its own in Shopify */
        l->parts[0] = (int) json_array_size(json_object_get(e,
                                                  "discount_allocations"));
        l->parts[1] = (int) json_array_size(json_object_get(e, "tax_lines"));
        l->tax_lines = json_object_get(e, "tax_lines");

        if (ngx_http_order_edit_money_mul(l->price, l->quantity, &l->amount)
            != 0
            || ngx_http_order_edit_norm_kept(l, q, d, t,
                   ngx_http_order_edit_norm_refunded_find(refunds, l->id))
               != 0)
        {
            return ngx_http_order_edit_norm_overflow(ctx, where);
        }

        if (ngx_http_order_edit_norm_resolve(ctx, l, where, gift) == -1) {
            return -1;
        }

        ctx->nlines++;
    }

    return 0;
}


/*
 * The weights for spreading a leftover r: each line's w (0 for a line that
 * cannot take any).  The lines that hold Shopify's own numbers keep them:
 * the estimated lines take a leftover when any can.  One exception: more
 * discount to take off than the estimates' rounding can explain (Shopify
 * rounds each discount allocation on its own: up to one unit for each,
 * plus one for the share) is an order-level discount no line carries, and
 * that is every line's.  The sum, 0 when no line has weight.
 */

static int64_t
ngx_http_order_edit_norm_weights(ngx_http_order_edit_norm_ctx_t *ctx,
    int64_t *w, int what, int64_t r)
{
    int                               pass;
    size_t                            i, nest;
    int64_t                           wsum;
    ngx_http_order_edit_norm_line_t  *l;

    nest = 0;

    for (i = 0; i < ctx->nlines; i++) {
        if (ctx->lines[i].estimated) {
            nest += 1 + ctx->lines[i].parts[what == 2];
        }
    }

    for (pass = (what == 0 && r > (int64_t) nest) ? 1 : 0;
         pass < 2;
         pass++)
    {
        wsum = 0;

        for (i = 0; i < ctx->nlines; i++) {
            l = &ctx->lines[i];

            switch (what) {
            case 0:
                w[i] = l->amount - l->discount;
                break;
            case 1:
                w[i] = l->discount;
                break;
            default:
                w[i] = l->tax;
            }

            if (pass == 0 && !l->estimated) {
                w[i] = 0;
            }

            wsum += w[i];
        }

        if (wsum != 0) {
            return wsum;
        }
    }

    return 0;
}


/*
 * Makes the lines agree exactly with Shopify's totals: line discounts sum
 * to gross - current_subtotal_price, line taxes plus shipping tax sum to
 * current_total_tax.  What an estimate or an order-level discount leaves
 * over is spread by weight, the remainder on the last weighted line; the
 * lines that hold Shopify's own numbers take it only when no estimated
 * line can.  Shipping tax nobody states is what the lines leave, or, when
 * lines were estimated too, its share of what shipping still costs.
 */

static int
ngx_http_order_edit_norm_reconcile(ngx_http_order_edit_norm_ctx_t *ctx,
    int64_t subtotal, int64_t tax, int64_t shipping,
    const ngx_http_order_edit_norm_ship_t *sh, int64_t *ship_tax)
{
    int                               estimated, carried;
    size_t                            i, n;
    int64_t                          *w, *part, gross, disc, ltax, wsum, r;
    int64_t                           excess, room, take;
    ngx_http_order_edit_norm_line_t  *l;

    n = ctx->nlines;
    gross = 0;
    disc = 0;
    ltax = 0;
    estimated = 0;

    for (i = 0; i < n; i++) {
        estimated |= ctx->lines[i].estimated;

        if (ngx_http_order_edit_money_add(gross, ctx->lines[i].amount, &gross)
            || ngx_http_order_edit_money_add(disc, ctx->lines[i].discount,
                                             &disc)
            || ngx_http_order_edit_money_add(ltax, ctx->lines[i].tax, &ltax))
        {
            return ngx_http_order_edit_norm_overflow(ctx, "line totals");
        }
    }

    if (gross < subtotal) {
        return ngx_http_order_edit_norm_fail(ctx, "inconsistent_totals",
                   "current_subtotal_price is more than the current lines "
                   "are worth before discounts");
    }

    w = malloc(2 * (n ? n : 1) * sizeof(int64_t));
    if (w == NULL) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    part = w + (n ? n : 1);

    /*
     * Discounts.  More to take off (an order-level discount the lines do
     * not carry, rounding): by what each line still has, its net amount.
     * Less (an estimate rounded up): by the discount each line has.  Then
     * any line pushed outside 0..amount hands the excess to the others.
     */
    r = gross - subtotal - disc;

    if (r != 0) {
        wsum = ngx_http_order_edit_norm_weights(ctx, w, r > 0 ? 0 : 1, r);

        if (n == 0 || wsum == 0
            || ngx_http_order_edit_money_allocate(r, w, n, part) != 0)
        {
            free(w);
            return ngx_http_order_edit_norm_fail(ctx, "inconsistent_totals",
                       "line discounts cannot be reconciled with "
                       "current_subtotal_price");
        }

        excess = 0;

        for (i = 0; i < n; i++) {
            l = &ctx->lines[i];
            l->discount += part[i];

            if (l->discount > l->amount) {
                excess += l->discount - l->amount;
                l->discount = l->amount;

            } else if (l->discount < 0) {
                excess += l->discount;
                l->discount = 0;
            }
        }

        for (i = n; i > 0 && excess != 0; i--) {
            l = &ctx->lines[i - 1];
            room = (excess > 0) ? l->amount - l->discount : l->discount;
            take = (excess > 0) ? excess : -excess;

            if (take > room) {
                take = room;
            }

            l->discount += (excess > 0) ? take : -take;
            excess += (excess > 0) ? -take : take;
        }

        if (excess != 0) {
            free(w);
            return ngx_http_order_edit_norm_fail(ctx, "inconsistent_totals",
                       "line discounts cannot be reconciled with "
                       "current_subtotal_price");
        }
    }

    /* tax */
    if (ngx_http_order_edit_money_sub(tax, ltax, &r)) {
        free(w);
        return ngx_http_order_edit_norm_overflow(ctx, "tax");
    }

    if (sh->known) {
        *ship_tax = sh->tax;

    } else if (!estimated) {
        /* every line is Shopify's: shipping has the rest */
        *ship_tax = r > 0 ? r : 0;

    } else if (sh->orig > 0 && shipping > 0
               && ngx_http_order_edit_money_muldiv(sh->orig_tax,
                      shipping < sh->orig ? shipping : sh->orig, sh->orig,
                      ship_tax)
                  == 0)
    {
        if (*ship_tax > r) {
            *ship_tax = r > 0 ? r : 0;
        }

    } else {
        *ship_tax = 0;
    }

    r -= *ship_tax;

    if (r != 0) {
        wsum = ngx_http_order_edit_norm_weights(ctx, w, 2, r);

        for (i = 0, carried = 0; i < n; i++) {
            carried |= (w[i] != 0 && ctx->lines[i].estimated);
        }

        if (!sh->known && !carried) {
            /*
             * Shipping's tax was estimated too: it, not a line that holds
             * Shopify's numbers, takes what no estimated line's own tax
             * can carry.
             */
            wsum = 0;

        } else if (wsum == 0) {
            wsum = ngx_http_order_edit_norm_weights(ctx, w, 0, r);
        }

        if (wsum == 0) {
            if (ngx_http_order_edit_money_add(*ship_tax, r, ship_tax)) {
                free(w);
                return ngx_http_order_edit_norm_overflow(ctx, "tax");
            }

        } else {
            if (ngx_http_order_edit_money_allocate(r, w, n, part) != 0) {
                free(w);
                return ngx_http_order_edit_norm_overflow(ctx, "tax");
            }

            for (i = 0; i < n; i++) {
                ctx->lines[i].tax += part[i];
            }
        }
    }

    free(w);

    return 0;
}


static json_t *
ngx_http_order_edit_norm_address(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *addr)
{
    size_t       i, len;
    json_t      *a;
    const char  *s;
    static const char  *fields[] = {
        "name", "first_name", "last_name", "company", "address1",
        "address2", "city", "province", "province_code", "zip", "country",
        "country_code", "phone"
    };

    a = json_object();

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        switch (ngx_http_order_edit_norm_string(ctx, addr, "shipping_address",
                                                fields[i], 0, &s, &len))
        {
        case -1:
            json_decref(a);
            return NULL;

        case 1:
            ngx_http_order_edit_norm_set(ctx, a, fields[i], json_null());
            continue;
        }

        ngx_http_order_edit_norm_set(ctx, a, fields[i], json_stringn(s, len));
    }

    return a;
}


/*
 * Shipping tax still charged: the shipping lines' tax less the refunds'
 * shipping tax.  Refunded shipping has had three shapes: before API
 * 2024-10 an order adjustment of kind "shipping_refund" (negative, with
 * its tax_amount); since then refund_shipping_lines (positive, and in REST
 * without a tax field); and, in Shopify's own 2025-04 example, both at
 * once for the same money.  One refund is read from one shape: its
 * refund_shipping_lines when it has any, their tax when they state it,
 * else the adjustments' tax; when neither states the tax it is not known
 * (a Sales Order's reconciliation derives it from the totals, a Credit
 * Memo from the money refunded).  The same reader serves both, and also
 * sums the refund's other adjustments (discrepancies), as Shopify reports
 * them, negated to the sign of money given back.
 */

typedef struct {
    int64_t                              amount;     /* shipping refunded */
    int64_t                              tax;        /* when tax_known */
    int64_t                              reported;   /* other adjustments */
    int                                  tax_known;
} ngx_http_order_edit_norm_refship_t;


static int
ngx_http_order_edit_norm_refund_ship(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *refund, const char *where0,
    ngx_http_order_edit_norm_refship_t *rs)
{
    int          has_adj, has_lines, lines_tax;
    char         where[96];
    size_t       j, len;
    json_t      *adj, *lines, *a;
    int64_t      v, t, adj_ship, adj_tax, line_ship, line_tax;
    const char  *kind;

    memset(rs, 0, sizeof(ngx_http_order_edit_norm_refship_t));

    has_adj = 0;
    adj_ship = 0;
    adj_tax = 0;

    switch (ngx_http_order_edit_norm_array(ctx, refund, where0,
                                           "order_adjustments", 0,
                                           ctx->conf->max_sub, &adj))
    {
    case -1:
        return -1;
    case 1:
        adj = NULL;
    }

    for (j = 0; adj && j < json_array_size(adj); j++) {
        a = json_array_get(adj, j);
        snprintf(where, sizeof(where), "%s%sorder_adjustments[%zu]", where0,
                 where0[0] ? "." : "", j);

        if (ngx_http_order_edit_norm_not_object(ctx, a, where) == -1) {
            return -1;
        }

        kind = "";

        if (ngx_http_order_edit_norm_string(ctx, a, where, "kind", 0, &kind,
                                            &len)
            == -1
            || ngx_http_order_edit_norm_money(ctx, a, where, "amount", 1, &v)
               == -1
            || ngx_http_order_edit_norm_money(ctx, a, where, "tax_amount", 0,
                                              &t)
               == -1)
        {
            return -1;
        }

        /* an adjustment is negative when it gives money back */
        if (strcmp(kind, "shipping_refund") == 0) {
            has_adj = 1;

            if (ngx_http_order_edit_money_sub(adj_ship, v, &adj_ship)
                || ngx_http_order_edit_money_sub(adj_tax, t, &adj_tax))
            {
                return ngx_http_order_edit_norm_overflow(ctx, where);
            }

        } else if (ngx_http_order_edit_money_sub(rs->reported, v,
                                                 &rs->reported)
                   || ngx_http_order_edit_money_sub(rs->reported, t,
                                                    &rs->reported))
        {
            return ngx_http_order_edit_norm_overflow(ctx, where);
        }
    }

    has_lines = 0;
    lines_tax = 1;
    line_ship = 0;
    line_tax = 0;

    switch (ngx_http_order_edit_norm_array(ctx, refund, where0,
                                           "refund_shipping_lines", 0,
                                           ctx->conf->max_sub, &lines))
    {
    case -1:
        return -1;
    case 1:
        lines = NULL;
    }

    for (j = 0; lines && j < json_array_size(lines); j++) {
        a = json_array_get(lines, j);
        snprintf(where, sizeof(where), "%s%srefund_shipping_lines[%zu]",
                 where0, where0[0] ? "." : "", j);

        if (ngx_http_order_edit_norm_not_object(ctx, a, where) == -1) {
            return -1;
        }

        has_lines = 1;

        if (ngx_http_order_edit_norm_money(ctx, a, where, "subtotal_amount",
                                           1, &v)
            == -1)
        {
            return -1;
        }

        switch (ngx_http_order_edit_norm_money(ctx, a, where, "tax_amount", 0,
                                               &t))
        {
        case -1:
            return -1;
        case 1:
            lines_tax = 0;
        }

        if (ngx_http_order_edit_money_add(line_ship, v, &line_ship)
            || ngx_http_order_edit_money_add(line_tax, t, &line_tax))
        {
            return ngx_http_order_edit_norm_overflow(ctx, where);
        }
    }

    /* one refunded shipping, told once (see above) */
    rs->tax_known = 1;

    if (!has_lines) {
        rs->amount = adj_ship;
        rs->tax = adj_tax;

    } else {
        rs->amount = line_ship;

        if (lines_tax) {
            rs->tax = line_tax;

        } else if (has_adj) {
            rs->tax = adj_tax;

        } else {
            /* refunded shipping whose tax no field states */
            rs->tax_known = 0;
        }
    }

    return 0;
}


static int
ngx_http_order_edit_norm_shipping_tax(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, json_t *ship_lines, ngx_http_order_edit_norm_ship_t *sh)
{
    char                                where[48];
    size_t                              i;
    json_t                             *refunds, *e;
    int64_t                             v;
    ngx_http_order_edit_norm_refship_t  rs;

    memset(sh, 0, sizeof(*sh));
    sh->known = 1;

    for (i = 0; ship_lines && i < json_array_size(ship_lines); i++) {
        e = json_array_get(ship_lines, i);
        snprintf(where, sizeof(where), "shipping_lines[%zu]", i);

        if (ngx_http_order_edit_norm_sum(ctx, e, where, "tax_lines", "price",
                                         &v)
            == -1
            || ngx_http_order_edit_money_add(sh->orig_tax, v, &sh->orig_tax)
               != 0)
        {
            return -1;
        }

        switch (ngx_http_order_edit_norm_money(ctx, e, where, "price", 0,
                                               &v))
        {
        case -1:
            return -1;
        case 0:
            if (ngx_http_order_edit_money_add(sh->orig, v, &sh->orig) != 0) {
                return ngx_http_order_edit_norm_overflow(ctx, where);
            }
        }
    }

    sh->tax = sh->orig_tax;

    switch (ngx_http_order_edit_norm_array(ctx, root, "", "refunds", 0,
                                           ctx->conf->max_lines, &refunds))
    {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    for (i = 0; i < json_array_size(refunds); i++) {
        e = json_array_get(refunds, i);
        snprintf(where, sizeof(where), "refunds[%zu]", i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        if (ngx_http_order_edit_norm_refund_ship(ctx, e, where, &rs) == -1) {
            return -1;
        }

        if (!rs.tax_known) {
            sh->known = 0;

        } else if (ngx_http_order_edit_money_sub(sh->tax, rs.tax, &sh->tax)
                   != 0)
        {
            return ngx_http_order_edit_norm_overflow(ctx, where);
        }
    }

    return 0;
}


static int
ngx_http_order_edit_norm_tip(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, int64_t *tip)
{
    json_t                          *v;
    int64_t                          any;
    size_t                           len;
    const char                      *text;
    ngx_http_order_edit_money_rc_e   rc;

    if (ctx->plain_ok) {
        return ngx_http_order_edit_norm_money(ctx, root, "",
                                              "total_tip_received", 0, tip)
               == -1 ? -1 : 0;
    }

    /* shop money only: a tip in another currency cannot be converted */
    *tip = 0;
    v = ngx_http_order_edit_norm_get(root, "total_tip_received");

    if (v == NULL) {
        return 0;
    }

    if (json_is_integer(v)) {
        /* a whole number of units, written as a JSON number: 753 */
        any = json_integer_value(v);

    } else if (!json_is_string(v)) {
        return ngx_http_order_edit_norm_wrong(ctx, "", "total_tip_received",
                                              "a decimal amount");

    } else {
        text = ngx_http_order_edit_norm_text(v, &len);

        rc = ngx_http_order_edit_money_parse(text, len,
                                         NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP,
                                         &any);

        if (rc != NGX_HTTP_ORDER_EDIT_MONEY_OK) {
            return ngx_http_order_edit_norm_fail(ctx,
                       ngx_http_order_edit_money_code(rc),
                       "field \"total_tip_received\": %s",
                       ngx_http_order_edit_money_strerror(rc));
        }
    }

    if (any == 0) {
        return 0;
    }

    return ngx_http_order_edit_norm_fail(ctx, "unsupported",
               "a tip in shop money cannot be stated in the presentment "
               "currency");
}


/* a sales order charge line: a tip or duties */

static void
ngx_http_order_edit_norm_charge(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *charges, const char *kind, const char *item, int64_t amount)
{
    json_t  *c;

    c = ngx_http_order_edit_norm_append(ctx, charges, json_object());

    ngx_http_order_edit_norm_set(ctx, c, "kind", json_string(kind));
    ngx_http_order_edit_norm_set(ctx, c, "key", json_string(kind));
    ngx_http_order_edit_norm_set(ctx, c, "item",
                                 ngx_http_order_edit_jbuild_ref(item));
    ngx_http_order_edit_norm_set(ctx, c, "quantity", json_integer(1));
    ngx_http_order_edit_norm_set(ctx, c, "amount",
                                 ngx_http_order_edit_norm_amount(ctx, amount));
}


/* a text of the payload's, or null: never a reason to refuse the order */

static json_t *
ngx_http_order_edit_norm_ctext(const json_t *obj, const char *key)
{
    json_t  *v;

    v = ngx_http_order_edit_norm_get(obj, key);

    if (!json_is_string(v) || ngx_http_order_edit_json_is_marker(v)
        || json_string_length(v) == 0)
    {
        return json_null();
    }

    return json_stringn(json_string_value(v), json_string_length(v));
}


/*
 * The order's customer, for a Sales Order the dispatcher creates
 * (on_missing create): the NetSuite customer is found, or made, by an
 * external id derived like the order's, "shopify-<shop>-customer-<id>".
 * null for a guest checkout (no customer object, or one without an id).
 */

static json_t *
ngx_http_order_edit_norm_customer(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    char      eid[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];
    json_t   *cust, *v, *c, *email, *addr;
    int64_t   id;

    cust = ngx_http_order_edit_norm_get(root, "customer");
    v = ngx_http_order_edit_norm_get(cust, "id");

    if (json_is_integer(v)) {
        id = json_integer_value(v);

    } else if (json_is_string(v) && !ngx_http_order_edit_json_is_marker(v)) {
        id = strtoll(json_string_value(v), NULL, 10);

    } else {
        id = 0;
    }

    if (id <= 0 || ctx->res->error[0] != '\0') {
        return json_null();
    }

    if (ngx_http_order_edit_norm_extid(ctx, "shopify-{shop}-customer-"
                                       "{order_id}", id, 0, 0, eid)
        != 0)
    {
        /* a shop with no handle: a guest to NetSuite, the order stands */
        ctx->res->error[0] = '\0';
        ctx->res->message[0] = '\0';
        return json_null();
    }

    c = json_object();
    if (c == NULL) {
        return NULL;
    }

    email = ngx_http_order_edit_norm_ctext(cust, "email");

    if (json_is_null(email)) {
        json_decref(email);
        email = ngx_http_order_edit_norm_ctext(root, "email");
    }

    addr = ngx_http_order_edit_norm_get(cust, "default_address");

    if (addr == NULL) {
        addr = ngx_http_order_edit_norm_get(root, "billing_address");
    }

    ngx_http_order_edit_norm_set(ctx, c, "externalId", json_string(eid));
    ngx_http_order_edit_norm_set(ctx, c, "shopify_id",
                                 ngx_http_order_edit_norm_id(id));
    ngx_http_order_edit_norm_set(ctx, c, "email", email);
    ngx_http_order_edit_norm_set(ctx, c, "first_name",
                                 ngx_http_order_edit_norm_ctext(cust,
                                                               "first_name"));
    ngx_http_order_edit_norm_set(ctx, c, "last_name",
                                 ngx_http_order_edit_norm_ctext(cust,
                                                               "last_name"));
    ngx_http_order_edit_norm_set(ctx, c, "company",
                                 ngx_http_order_edit_norm_ctext(addr,
                                                               "company"));
    ngx_http_order_edit_norm_set(ctx, c, "phone",
                                 ngx_http_order_edit_norm_ctext(cust,
                                                               "phone"));

    return c;
}


static int
ngx_http_order_edit_norm_sales_order(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, const ngx_http_order_edit_norm_order_t *o)
{
    int          incl;
    size_t       i, len, plen;
    json_t      *doc, *so, *lines, *ship, *totals, *sl, *e, *addr;
    json_t      *ship_lines, *charges;
    int64_t      subtotal, discount, tax, total, tip, duties, shipping;
    int64_t      ship_tax, check;
    ngx_http_order_edit_norm_ship_t  sh;
    const char  *method, *code;
    char         id[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];

    incl = 0;
    e = NULL;
    ship_lines = NULL;
    method = NULL;
    code = NULL;
    len = 0;
    plen = 0;

    if (ngx_http_order_edit_norm_order_currency(ctx, root) == -1
        || ngx_http_order_edit_norm_bool(ctx, root, "", "taxes_included",
                                         &incl)
           == -1
        || ngx_http_order_edit_norm_money(ctx, root, "",
                                          "current_subtotal_price", 1,
                                          &subtotal)
           == -1
        || ngx_http_order_edit_norm_money(ctx, root, "",
                                          "current_total_discounts", 1,
                                          &discount)
           == -1
        || ngx_http_order_edit_norm_money(ctx, root, "", "current_total_tax",
                                          1, &tax)
           == -1
        || ngx_http_order_edit_norm_money(ctx, root, "",
                                          "current_total_price", 1, &total)
           == -1
        || ngx_http_order_edit_norm_money(ctx, root, "",
                                          "current_total_duties", 0, &duties)
           == -1
        || ngx_http_order_edit_norm_tip(ctx, root, &tip) == -1
        || ngx_http_order_edit_norm_array(ctx, root, "", "shipping_lines", 0,
                                          ctx->conf->max_sub, &ship_lines)
           == -1)
    {
        return -1;
    }

    if (subtotal < 0 || discount < 0 || tax < 0 || total < 0 || tip < 0
        || duties < 0)
    {
        return ngx_http_order_edit_norm_fail(ctx, "bad_value",
                                             "a current_* total is negative");
    }

    for (i = 0; ship_lines && i < json_array_size(ship_lines); i++) {
        if (!json_is_object(json_array_get(ship_lines, i))) {
            return ngx_http_order_edit_norm_fail(ctx, "wrong_type",
                       "\"shipping_lines[%zu]\" must be an object", i);
        }
    }

    if (ship_lines && json_array_size(ship_lines) > 0) {
        sl = json_array_get(ship_lines, 0);

        if (ngx_http_order_edit_norm_string(ctx, sl, "shipping_lines[0]",
                                            "title", 0, &method, &len)
            == -1
            || ngx_http_order_edit_norm_string(ctx, sl, "shipping_lines[0]",
                                               "code", 0, &code, &plen)
               == -1)
        {
            return -1;
        }
    }

    if (ngx_http_order_edit_norm_order_lines(ctx, root) == -1
        || ngx_http_order_edit_norm_shipping_tax(ctx, root, ship_lines, &sh)
           == -1)
    {
        return -1;
    }

    /*
     * Shipping is what the totals leave: total = subtotal + shipping
     * (+ tax when prices exclude it) + tip + duties.  Shopify's current_*
     * totals are the truth; shipping lines do not show refunds.
     */
    if (ngx_http_order_edit_money_sub(total, subtotal, &shipping)
        || ngx_http_order_edit_money_sub(shipping, incl ? 0 : tax, &shipping)
        || ngx_http_order_edit_money_sub(shipping, tip, &shipping)
        || ngx_http_order_edit_money_sub(shipping, duties, &shipping))
    {
        return ngx_http_order_edit_norm_overflow(ctx, "shipping");
    }

    if (shipping < 0) {
        return ngx_http_order_edit_norm_fail(ctx, "inconsistent_totals",
                   "current_total_price is less than current_subtotal_price"
                   "%s plus tips and duties",
                   incl ? "" : ", current_total_tax");
    }

    if (ngx_http_order_edit_norm_reconcile(ctx, subtotal, tax, shipping, &sh,
                                           &ship_tax)
        == -1)
    {
        return -1;
    }

    /* the document */

    if (ngx_http_order_edit_norm_order_doc(ctx, "sales_order", o, id, &doc)
        == -1)
    {
        return -1;
    }

    so = ngx_http_order_edit_norm_set(ctx, doc, "sales_order", json_object());

    ngx_http_order_edit_norm_set(ctx, so, "external_id", json_string(id));
    ngx_http_order_edit_norm_set(ctx, so, "currency",
                                 json_string(ctx->currency));
    ngx_http_order_edit_norm_set(ctx, so, "taxes_included",
                                 json_boolean(incl));
    ngx_http_order_edit_norm_set(ctx, so, "customer",
                                 ngx_http_order_edit_norm_customer(ctx,
                                                                   root));

    if (ngx_http_order_edit_norm_emit_lines(ctx, so, 0, &lines) == -1) {
        return -1;
    }

    ship = ngx_http_order_edit_norm_set(ctx, so, "shipping", json_object());
    ngx_http_order_edit_norm_set(ctx, ship, "method",
                                 ngx_http_order_edit_norm_strn(method, len));
    ngx_http_order_edit_norm_set(ctx, ship, "code",
                                 ngx_http_order_edit_norm_strn(code, plen));
    ngx_http_order_edit_norm_set(ctx, ship, "cost",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 shipping));
    ngx_http_order_edit_norm_set(ctx, ship, "tax",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 ship_tax));

    for (i = 0; ship != NULL && i < json_array_size(ship_lines); i++) {
        ngx_http_order_edit_norm_tax_lines(ctx, ship,
            json_object_get(json_array_get(ship_lines, i), "tax_lines"));
    }

    switch (ngx_http_order_edit_norm_object(ctx, root, "", "shipping_address",
                                            0, &e))
    {
    case -1:
        return -1;

    case 0:
        addr = ngx_http_order_edit_norm_address(ctx, e);

        if (addr == NULL) {
            return -1;
        }

        ngx_http_order_edit_norm_set(ctx, ship, "address", addr);
        break;

    default:
        ngx_http_order_edit_norm_set(ctx, ship, "address", json_null());
    }

    /*
     * Tips and duties are part of what the customer paid
     * (current_total_price): each is a charge line of its own, so the
     * Sales Order's lines, shipping and tax add up to Shopify's total.
     */
    charges = ngx_http_order_edit_norm_set(ctx, so, "charges", json_array());

    if (tip != 0) {
        ngx_http_order_edit_norm_charge(ctx, charges, "tip",
            ctx->conf->tip_item ? ctx->conf->tip_item
                                : NGX_HTTP_ORDER_EDIT_DEFAULT_TIP, tip);
    }

    if (duties != 0) {
        ngx_http_order_edit_norm_charge(ctx, charges, "duties",
            ctx->conf->duties_item ? ctx->conf->duties_item
                                   : NGX_HTTP_ORDER_EDIT_DEFAULT_DUTIES,
            duties);
    }

    totals = ngx_http_order_edit_norm_set(ctx, so, "totals", json_object());
    ngx_http_order_edit_norm_set(ctx, totals, "subtotal",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 subtotal));
    ngx_http_order_edit_norm_set(ctx, totals, "discount",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 discount));
    ngx_http_order_edit_norm_set(ctx, totals, "tax",
                                 ngx_http_order_edit_norm_amount(ctx, tax));
    ngx_http_order_edit_norm_set(ctx, totals, "shipping",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 shipping));
    ngx_http_order_edit_norm_set(ctx, totals, "tip",
                                 ngx_http_order_edit_norm_amount(ctx, tip));
    ngx_http_order_edit_norm_set(ctx, totals, "duties",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 duties));
    ngx_http_order_edit_norm_set(ctx, totals, "total",
                                 ngx_http_order_edit_norm_amount(ctx, total));

    if (ctx->nomem) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    /* a last self-check: what we send must equal Shopify, to the unit */
    if (ngx_http_order_edit_money_add(subtotal, shipping, &check)
        || ngx_http_order_edit_money_add(check, incl ? 0 : tax, &check)
        || ngx_http_order_edit_money_add(check, tip, &check)
        || ngx_http_order_edit_money_add(check, duties, &check)
        || check != total)
    {
        return ngx_http_order_edit_norm_fail(ctx, "internal",
                                             "totals self-check failed");
    }

    snprintf(ctx->res->external_id, sizeof(ctx->res->external_id), "%s", id);

    return NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER;
}


/* refunds */


/* the currency code of the first money bag found in an array's objects */

static const char *
ngx_http_order_edit_norm_bag_currency(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, const char *key, const char *setkey, int shop)
{
    size_t   i;
    json_t  *arr, *set, *bag, *code;

    arr = ngx_http_order_edit_norm_get(root, key);

    for (i = 0; json_is_array(arr) && i < json_array_size(arr)
                && i < ctx->conf->max_lines; i++)
    {
        set = ngx_http_order_edit_norm_get(json_array_get(arr, i), setkey);
        bag = ngx_http_order_edit_norm_get(set, shop ? "shop_money"
                                                     : "presentment_money");
        code = ngx_http_order_edit_norm_get(bag, "currency_code");

        if (json_is_string(code)) {
            return json_string_value(code);
        }
    }

    return NULL;
}


static const char *
ngx_http_order_edit_norm_refund_bags(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, int shop)
{
    const char  *c;

    c = ngx_http_order_edit_norm_bag_currency(ctx, root, "refund_line_items",
                                              "subtotal_set", shop);
    if (c == NULL) {
        c = ngx_http_order_edit_norm_bag_currency(ctx, root,
                                                  "order_adjustments",
                                                  "amount_set", shop);
    }

    if (c == NULL) {
        c = ngx_http_order_edit_norm_bag_currency(ctx, root,
                                                  "refund_shipping_lines",
                                                  "subtotal_amount_set", shop);
    }

    return c;
}


/*
 * A refund carries no currency of its own: take the dispatcher's, else the
 * money bags', else the refund transactions' (which are what was paid).
 */

static int
ngx_http_order_edit_norm_refund_currency(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    size_t       i;
    json_t      *tx, *code;
    const char  *c, *shop;

    shop = ngx_http_order_edit_norm_refund_bags(ctx, root, 1);
    c = NULL;

    if (ctx->in->currency && ctx->in->currency_len) {
        if (ngx_http_order_edit_norm_set_doc_currency(ctx, ctx->in->currency,
                                                      ctx->in->currency_len,
                                                      "input currency")
            == -1)
        {
            return -1;
        }

        ctx->plain_ok = !ctx->presentment
                        || (shop && strcmp(shop, ctx->currency) == 0);
        return 0;
    }

    c = ngx_http_order_edit_norm_refund_bags(ctx, root, !ctx->presentment);

    if (c == NULL) {
        tx = ngx_http_order_edit_norm_get(root, "transactions");

        for (i = 0; json_is_array(tx) && i < json_array_size(tx)
                    && i < ctx->conf->max_lines; i++)
        {
            code = ngx_http_order_edit_norm_get(json_array_get(tx, i),
                                                "currency");
            if (json_is_string(code)) {
                c = json_string_value(code);
                break;
            }
        }
    }

    if (c == NULL) {
        return ngx_http_order_edit_norm_fail(ctx, "missing_field",
                   "the refund states no currency (no money sets, no "
                   "transaction currency)");
    }

    if (ngx_http_order_edit_norm_set_doc_currency(ctx, c, strlen(c),
                                                  "currency_code")
        == -1)
    {
        return -1;
    }

    ctx->plain_ok = !ctx->presentment || shop == NULL
                    || strcmp(shop, ctx->currency) == 0;

    return 0;
}


static int
ngx_http_order_edit_norm_refund_lines(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, int restock_all)
{
    int                               gift;
    char                              where[64];
    size_t                            i, n, len;
    json_t                           *items, *e, *li;
    const char                       *rt;
    ngx_http_order_edit_norm_line_t  *l;

    switch (ngx_http_order_edit_norm_array(ctx, root, "", "refund_line_items",
                                           0, ctx->conf->max_lines, &items))
    {
    case -1:
        return -1;
    case 1:
        items = NULL;
    }

    n = items ? json_array_size(items) : 0;

    if (ngx_http_order_edit_norm_alloc_lines(ctx, n) == -1) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(items, i);
        snprintf(where, sizeof(where), "refund_line_items[%zu]", i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        l = &ctx->lines[ctx->nlines];
        gift = 0;
        rt = NULL;
        li = NULL;

        if (ngx_http_order_edit_norm_int(ctx, e, where, "id", 1, 1,
                                         INT64_MAX, &l->id)
            == -1
            || ngx_http_order_edit_norm_int(ctx, e, where, "line_item_id", 1,
                                            1, INT64_MAX, &l->line_item_id)
               == -1
            || ngx_http_order_edit_norm_int(ctx, e, where, "quantity", 1, 0,
                                            NGX_HTTP_ORDER_EDIT_MAX_QUANTITY,
                                            &l->quantity)
               == -1
            || ngx_http_order_edit_norm_string(ctx, e, where, "restock_type",
                                               0, &rt, &len)
               == -1
            || ngx_http_order_edit_norm_money(ctx, e, where, "subtotal", 1,
                                              &l->amount)
               == -1
            || ngx_http_order_edit_norm_money(ctx, e, where, "total_tax", 1,
                                              &l->tax)
               == -1
            || ngx_http_order_edit_norm_object(ctx, e, where, "line_item", 0,
                                               &li)
               == -1)
        {
            return -1;
        }

        if (li != NULL) {
            snprintf(where, sizeof(where), "refund_line_items[%zu].line_item",
                     i);

            if (ngx_http_order_edit_norm_string(ctx, li, where, "sku", 0,
                                                &l->sku, &l->sku_len)
                == -1
                || ngx_http_order_edit_norm_bool(ctx, li, where, "gift_card",
                                                 &gift)
                   == -1
                || ngx_http_order_edit_norm_string(ctx, li, where, "title", 0,
                                                   &l->title, &len)
                   == -1)
            {
                return -1;
            }

            if (l->title && l->title[0] == '\0') {
                l->title = NULL;
            }
        }

        if (ngx_http_order_edit_norm_check_sku(ctx, l->sku, l->sku_len,
                                               where)
            == -1)
        {
            return -1;
        }

        /* "cancel" puts unfulfilled items back too */
        l->restock = rt ? (strcmp(rt, "return") == 0
                           || strcmp(rt, "cancel") == 0
                           || strcmp(rt, "legacy_restock") == 0)
                        : restock_all;

        if (ngx_http_order_edit_norm_resolve(ctx, l, where, gift) == -1) {
            return -1;
        }

        ctx->nlines++;
    }

    return 0;
}


/*
 * The refund in the currency its money moved in (presentment money):
 * lines with their tax, refunded shipping, duties and the reported
 * adjustments.  When that is all the money refunded, the refunded
 * shipping carried no tax, in any currency.  1 if so; 0 if not, or if
 * the payload does not say it in that currency.
 */

static int
ngx_http_order_edit_norm_untaxed(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, const char *cur, int exp, int64_t paid)
{
    char          buf[32];
    size_t        i, j, k, len;
    json_t       *arr, *e, *set, *bag, *v;
    int64_t       sum, x;
    const char   *text;

    static const char  *parts[][3] = {
        { "refund_line_items", "subtotal_set", "total_tax_set" },
        { "refund_shipping_lines", "subtotal_amount_set", NULL },
        { "duties", "amount_set", NULL },
        { "order_adjustments", "amount_set", "tax_amount_set" }
    };

    sum = 0;

    for (k = 0; k < 4; k++) {
        arr = ngx_http_order_edit_norm_get(root, parts[k][0]);

        for (i = 0; json_is_array(arr) && i < json_array_size(arr)
                    && i < ctx->conf->max_lines; i++)
        {
            e = json_array_get(arr, i);

            for (j = 1; j < 3 && parts[k][j]; j++) {
                set = ngx_http_order_edit_norm_get(e, parts[k][j]);
                bag = ngx_http_order_edit_norm_get(set, "presentment_money");
                v = ngx_http_order_edit_norm_get(bag, "amount");

                if (v == NULL && k == 3 && j == 2) {
                    continue;
                }

                if (!json_is_string(json_object_get(bag, "currency_code"))
                    || strcmp(json_string_value(
                                  json_object_get(bag, "currency_code")),
                              cur) != 0)
                {
                    return 0;
                }

                if (json_is_integer(v)) {
                    /* 1415 (JPY): an amount written as a JSON integer */
                    len = snprintf(buf, sizeof(buf), "%lld",
                                   (long long) json_integer_value(v));
                    text = buf;

                } else if (json_is_string(v)) {
                    text = ngx_http_order_edit_norm_text(v, &len);

                } else {
                    return 0;
                }

                if (ngx_http_order_edit_money_parse(text, len, exp, &x)
                    != NGX_HTTP_ORDER_EDIT_MONEY_OK)
                {
                    return 0;
                }

                /* adjustments are negative when they give money back */
                if (k == 3) {
                    x = -x;
                }

                if (ngx_http_order_edit_money_add(sum, x, &sum) != 0) {
                    return 0;
                }
            }
        }
    }

    return sum == paid;
}


/* a credit memo line that is not an item: a shipping refund, a discrepancy */

static int
ngx_http_order_edit_norm_adjustment(ngx_http_order_edit_norm_ctx_t *ctx,
    json_t *lines, const char *kind, const char *item, int64_t amount,
    int64_t tax, int64_t reported)
{
    json_t  *l;

    l = ngx_http_order_edit_norm_append(ctx, lines, json_object());

    ngx_http_order_edit_norm_set(ctx, l, "kind", json_string(kind));
    ngx_http_order_edit_norm_set(ctx, l, "key", json_string(kind));
    ngx_http_order_edit_norm_set(ctx, l, "item",
                                 ngx_http_order_edit_jbuild_ref(item));
    ngx_http_order_edit_norm_set(ctx, l, "quantity", json_integer(1));
    ngx_http_order_edit_norm_set(ctx, l, "amount",
                                 ngx_http_order_edit_norm_amount(ctx, amount));
    ngx_http_order_edit_norm_set(ctx, l, "tax",
                                 ngx_http_order_edit_norm_amount(ctx, tax));

    if (strcmp(kind, "refund_discrepancy") == 0) {
        /* what Shopify's own order adjustments say, for the record */
        ngx_http_order_edit_norm_set(ctx, l, "reported",
                                     ngx_http_order_edit_norm_amount(ctx,
                                                                 reported));
    }

    return 0;
}


static int
ngx_http_order_edit_norm_credit_memo(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    int          restock_all, exp, other_exp, ntx, incl, lines_tax;
    char         where[64], other[4];
    size_t       i, len;
    json_t      *arr, *e, *doc, *cm, *lines, *o;
    int64_t      refund_id, order_id, amount, ship, ship_tax;
    int64_t      reported, tx_total, other_total, sum, total, disc, tax_sum;
    int64_t      sum_incl, duties;
    const char  *kind, *status, *extid, *created, *note, *cur, *pcur;
    char         id[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];
    char         so_id[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];

    ngx_http_order_edit_norm_refship_t  rs;

    restock_all = 0;
    created = NULL;
    note = NULL;
    len = 0;

    if (ngx_http_order_edit_norm_int(ctx, root, "", "id", 1, 1, INT64_MAX,
                                     &refund_id)
        == -1
        || ngx_http_order_edit_norm_int(ctx, root, "", "order_id", 1, 1,
                                        INT64_MAX, &order_id)
           == -1
        || ngx_http_order_edit_norm_bool(ctx, root, "", "restock",
                                         &restock_all)
           == -1
        || ngx_http_order_edit_norm_string(ctx, root, "", "created_at", 0,
                                           &created, &len)
           == -1
        || ngx_http_order_edit_norm_string(ctx, root, "", "note", 0, &note,
                                           &len)
           == -1)
    {
        return -1;
    }

    ctx->res->order_id = order_id;
    ctx->res->refund_id = refund_id;

    if (ngx_http_order_edit_norm_refund_currency(ctx, root) == -1
        || ngx_http_order_edit_norm_refund_lines(ctx, root, restock_all)
           == -1)
    {
        return -1;
    }

    /* refunded shipping, told once, and the reported discrepancies */

    if (ngx_http_order_edit_norm_refund_ship(ctx, root, "", &rs) == -1) {
        return -1;
    }

    ship = rs.amount;
    ship_tax = rs.tax_known ? rs.tax : 0;
    lines_tax = rs.tax_known;
    reported = rs.reported;

    /* refunded duties, a line of their own (never a discrepancy) */
    if (ngx_http_order_edit_norm_get(root, "total_duties_set") != NULL) {
        if (ngx_http_order_edit_norm_money(ctx, root, "", "total_duties", 0,
                                           &duties)
            == -1)
        {
            return -1;
        }

    } else if (ngx_http_order_edit_norm_sum(ctx, root, "", "duties",
                                            "amount", &duties)
               == -1)
    {
        return -1;
    }

    /* successful refund transactions: the money that really moved */

    tx_total = 0;
    other_total = 0;
    other[0] = '\0';
    other_exp = 2;
    ntx = 0;

    switch (ngx_http_order_edit_norm_array(ctx, root, "", "transactions", 0,
                                           ctx->conf->max_sub, &arr))
    {
    case -1:
        return -1;
    case 1:
        arr = NULL;
    }

    for (i = 0; arr && i < json_array_size(arr); i++) {
        e = json_array_get(arr, i);
        snprintf(where, sizeof(where), "transactions[%zu]", i);
        kind = "";
        status = "";
        cur = NULL;

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        if (ngx_http_order_edit_norm_string(ctx, e, where, "kind", 1, &kind,
                                            &len)
            == -1
            || ngx_http_order_edit_norm_string(ctx, e, where, "status", 1,
                                               &status, &len)
               == -1
            || ngx_http_order_edit_norm_string(ctx, e, where, "currency", 0,
                                               &cur, &len)
               == -1)
        {
            return -1;
        }

        if (strcmp(kind, "refund") != 0 || strcmp(status, "success") != 0) {
            continue;
        }

        e = ngx_http_order_edit_norm_get(e, "amount");
        if (e == NULL) {
            return ngx_http_order_edit_norm_missing(ctx, where, "amount");
        }

        snprintf(where + strlen(where), sizeof(where) - strlen(where),
                 ".amount");

        if (cur == NULL || strcmp(cur, ctx->currency) == 0) {
            if (ngx_http_order_edit_norm_money_value(ctx, e, where,
                                                     ctx->exponent,
                                                     ctx->currency, &amount)
                == -1
                || ngx_http_order_edit_money_add(tx_total, amount, &tx_total))
            {
                return ngx_http_order_edit_norm_overflow(ctx, where);
            }

            ntx |= 1;
            continue;
        }

        /* paid in the presentment currency while the memo is shop money */
        exp = ngx_http_order_edit_norm_exponent(ctx->conf, cur, strlen(cur));

        if (exp < 0 || (other[0] && strcmp(other, cur) != 0)) {
            return ngx_http_order_edit_norm_fail(ctx, "currency_mismatch",
                       "refund transactions in more than one currency");
        }

        memcpy(other, cur, 3);
        other[3] = '\0';
        other_exp = exp;

        if (ngx_http_order_edit_norm_money_value(ctx, e, where, exp, other,
                                                 &amount)
            == -1
            || ngx_http_order_edit_money_add(other_total, amount,
                                             &other_total))
        {
            return ngx_http_order_edit_norm_overflow(ctx, where);
        }

        ntx |= 2;
    }

    if (ntx == 3) {
        return ngx_http_order_edit_norm_fail(ctx, "currency_mismatch",
                   "refund transactions in %s and %s", ctx->currency, other);
    }

    /* sum of the lines and the shipping refund */

    sum = 0;
    tax_sum = 0;

    for (i = 0; i < ctx->nlines; i++) {
        if (ngx_http_order_edit_money_add(sum, ctx->lines[i].amount, &sum)
            || ngx_http_order_edit_money_add(sum, ctx->lines[i].tax, &sum)
            || ngx_http_order_edit_money_add(tax_sum, ctx->lines[i].tax,
                                             &tax_sum))
        {
            return ngx_http_order_edit_norm_overflow(ctx, "refund lines");
        }
    }

    if (ngx_http_order_edit_norm_so_id(ctx, order_id, so_id) == -1) {
        return -1;
    }

    snprintf(ctx->res->sales_order_id, sizeof(ctx->res->sales_order_id),
             "%s", so_id);

    /*
     * With prices that include tax, a refund line's subtotal already holds
     * its tax.  The refund does not say which kind of order it belongs
     * to: the dispatcher tells (from what it applied, or the Sales
     * Order's field), else the store's setting.  The two readings differ
     * by the tax, so a taxed refund of unknown kind is refused, never
     * guessed.
     */
    incl = ctx->in->taxes_included >= 0 ? ctx->in->taxes_included
                                        : ctx->conf->taxes_included;

    if (incl < 0) {
        if (tax_sum != 0 || ship_tax != 0) {
            return ngx_http_order_edit_norm_fail(ctx, "tax_kind_unknown",
                       "the refund carries tax and nothing tells whether "
                       "the order's prices include it (no Sales Order "
                       "field, no taxes_included setting)");
        }

        incl = 0;
    }

    /*
     * Shipping refunded with no tax stated: with prices before tax, the
     * money refunded in the memo's currency says it (what is left once
     * the lines, the shipping and the reported adjustments are counted);
     * with prices that include it, it is inside the amount.
     */
    if (!lines_tax && !incl && ntx == 2 && ship != 0
        && ngx_http_order_edit_norm_untaxed(ctx, root, other, other_exp,
                                            other_total))
    {
        /* the money paid in its own currency says: no shipping tax */
        lines_tax = 1;
    }

    if (!lines_tax && !incl && ntx != 1 && ship != 0) {
        /*
         * Paid in another currency (or not yet paid): no field and no sum
         * says the shipping tax in this one, and a memo without it would
         * be short by it.  People decide, with NetSuite's order at hand.
         */
        return ngx_http_order_edit_norm_fail(ctx, "shipping_tax_unknown",
                   "refunded shipping states no tax (REST "
                   "refund_shipping_lines have none) and the money "
                   "refunded in %s does not tell it", ctx->currency);
    }

    if (!lines_tax && !incl && ntx == 1 && ship != 0) {
        if (ngx_http_order_edit_money_add(sum, ship, &amount)
            || ngx_http_order_edit_money_add(amount, duties, &amount)
            || ngx_http_order_edit_money_add(amount, reported, &amount)
            || ngx_http_order_edit_money_sub(tx_total, amount, &ship_tax))
        {
            return ngx_http_order_edit_norm_overflow(ctx, "shipping tax");
        }

        if (ship_tax < 0) {
            ship_tax = 0;
        }
    }

    if (ngx_http_order_edit_money_add(sum, ship, &sum)
        || ngx_http_order_edit_money_add(sum, ship_tax, &sum)
        || ngx_http_order_edit_money_add(sum, duties, &sum)
        || ngx_http_order_edit_money_add(tax_sum, ship_tax, &tax_sum)
        || ngx_http_order_edit_money_sub(sum, tax_sum, &sum_incl))
    {
        return ngx_http_order_edit_norm_overflow(ctx, "refund shipping");
    }

    if (incl) {
        sum = sum_incl;
    }

    /*
     * The memo's total is the money refunded.  When that money moved in
     * another currency, the memo is Shopify's own account of the refund
     * in this one: the lines plus the reported adjustments.
     */
    pcur = (ntx == 0 && !ctx->presentment)
           ? ngx_http_order_edit_norm_refund_bags(ctx, root, 0) : NULL;

    /*
     * No money moved yet, in an order whose customer pays in another
     * currency: the memo is Shopify's shop-money account of the refund,
     * as when the money moved in that other currency.
     */
    if (ntx == 2 || (pcur != NULL && strcmp(pcur, ctx->currency) != 0)) {
        if (ngx_http_order_edit_money_add(sum, reported, &total)) {
            return ngx_http_order_edit_norm_overflow(ctx, "refund total");
        }

    } else {
        total = tx_total;
    }

    if (ngx_http_order_edit_money_sub(total, sum, &disc)) {
        return ngx_http_order_edit_norm_overflow(ctx, "refund discrepancy");
    }

    /* the document */

    extid = ctx->conf->credit_memo_id ? ctx->conf->credit_memo_id
                                      : NGX_HTTP_ORDER_EDIT_DEFAULT_CM_ID;

    if (ngx_http_order_edit_norm_extid(ctx, extid, order_id, 0, refund_id, id)
        == -1)
    {
        return -1;
    }

    doc = ngx_http_order_edit_norm_doc(ctx, "credit_memo",
              ngx_http_order_edit_norm_source(ctx, order_id, NULL, 0, NULL,
                                              0));

    cm = ngx_http_order_edit_norm_set(ctx, doc, "credit_memo", json_object());

    ngx_http_order_edit_norm_set(ctx, cm, "external_id", json_string(id));
    ngx_http_order_edit_norm_set(ctx, cm, "refund_id",
                                 ngx_http_order_edit_norm_id(refund_id));
    ngx_http_order_edit_norm_set(ctx, cm, "sales_order_external_id",
                                 so_id[0] ? json_string(so_id) : json_null());
    ngx_http_order_edit_norm_set(ctx, cm, "currency",
                                 json_string(ctx->currency));
    ngx_http_order_edit_norm_set(ctx, cm, "taxes_included",
                                 json_boolean(incl));
    ngx_http_order_edit_norm_set(ctx, cm, "created_at",
                                 created ? json_string(created) : json_null());
    ngx_http_order_edit_norm_set(ctx, cm, "note",
                                 note ? json_string(note) : json_null());

    if (ngx_http_order_edit_norm_emit_lines(ctx, cm, 1, &lines) == -1) {
        return -1;
    }

    /* the shipping refund and the discrepancy are lines of their own */
    if ((ship != 0 || ship_tax != 0)
        && ngx_http_order_edit_norm_adjustment(ctx, lines,
               "shipping_refund", ctx->conf->shipping_refund_item
                                  ? ctx->conf->shipping_refund_item
                                  : NGX_HTTP_ORDER_EDIT_DEFAULT_SHIP_REFUND,
               ship, ship_tax, 0)
           == -1)
    {
        return -1;
    }

    if (duties != 0
        && ngx_http_order_edit_norm_adjustment(ctx, lines, "duties",
               ctx->conf->duties_item ? ctx->conf->duties_item
                                      : NGX_HTTP_ORDER_EDIT_DEFAULT_DUTIES,
               duties, 0, 0)
           == -1)
    {
        return -1;
    }

    if (disc != 0
        && ngx_http_order_edit_norm_adjustment(ctx, lines,
               "refund_discrepancy", ctx->conf->discrepancy_item
                                     ? ctx->conf->discrepancy_item
                                     : NGX_HTTP_ORDER_EDIT_DEFAULT_DISCREPANCY,
               disc, 0, reported)
           == -1)
    {
        return -1;
    }

    o = ngx_http_order_edit_norm_set(ctx, cm, "transactions", json_object());

    ngx_http_order_edit_norm_set(ctx, o, "currency",
                                 json_string(ntx == 2 ? other
                                                      : ctx->currency));

    if (ntx == 2) {
        exp = ctx->exponent;
        ctx->exponent = other_exp;
        ngx_http_order_edit_norm_set(ctx, o, "total",
                                     ngx_http_order_edit_norm_amount(ctx,
                                                               other_total));
        ctx->exponent = exp;

    } else {
        ngx_http_order_edit_norm_set(ctx, o, "total",
                                     ngx_http_order_edit_norm_amount(ctx,
                                                                 tx_total));
    }

    ngx_http_order_edit_norm_set(ctx, cm, "tax",
                                 ngx_http_order_edit_norm_amount(ctx,
                                                                 tax_sum));
    ngx_http_order_edit_norm_set(ctx, cm, "total",
                                 ngx_http_order_edit_norm_amount(ctx, total));

    if (ctx->nomem) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    snprintf(ctx->res->external_id, sizeof(ctx->res->external_id), "%s", id);

    return NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO;
}


/* cancellations and edits */


static int
ngx_http_order_edit_norm_cancellation(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root, const ngx_http_order_edit_norm_order_t *o)
{
    size_t       alen, rlen;
    json_t      *doc, *c;
    const char  *at, *reason;
    char         id[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];

    reason = NULL;
    rlen = 0;

    if (ngx_http_order_edit_norm_string(ctx, root, "", "cancelled_at", 1, &at,
                                        &alen)
        == -1
        || ngx_http_order_edit_norm_string(ctx, root, "", "cancel_reason", 0,
                                           &reason, &rlen)
           == -1)
    {
        return -1;
    }

    if (ngx_http_order_edit_norm_order_doc(ctx, "cancellation", o, id, &doc)
        == -1)
    {
        return -1;
    }

    c = ngx_http_order_edit_norm_set(ctx, doc, "cancellation", json_object());
    ngx_http_order_edit_norm_set(ctx, c, "external_id",
                                 json_string(id));
    ngx_http_order_edit_norm_set(ctx, c, "cancelled_at",
                                 json_stringn(at, alen));
    ngx_http_order_edit_norm_set(ctx, c, "reason",
                                 ngx_http_order_edit_norm_strn(reason, rlen));

    if (ctx->nomem) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    snprintf(ctx->res->external_id, sizeof(ctx->res->external_id), "%s", id);

    return NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION;
}


static int
ngx_http_order_edit_norm_edit_deltas(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *li, const char *key, json_t *out)
{
    char     where[64];
    size_t   i;
    json_t  *arr, *e, *d;
    int64_t  id, delta;

    switch (ngx_http_order_edit_norm_array(ctx, li, "order_edit.line_items",
                                           key, 0, ctx->conf->max_lines,
                                           &arr))
    {
    case -1:
        return -1;
    case 1:
        return 0;
    }

    for (i = 0; i < json_array_size(arr); i++) {
        e = json_array_get(arr, i);
        snprintf(where, sizeof(where), "order_edit.line_items.%s[%zu]", key,
                 i);

        if (ngx_http_order_edit_norm_not_object(ctx, e, where) == -1) {
            return -1;
        }

        if (ngx_http_order_edit_norm_int(ctx, e, where, "id", 1, 1, INT64_MAX,
                                         &id)
            == -1
            || ngx_http_order_edit_norm_int(ctx, e, where, "delta", 1, 0,
                                            NGX_HTTP_ORDER_EDIT_MAX_QUANTITY,
                                            &delta)
               == -1)
        {
            return -1;
        }

        d = ngx_http_order_edit_norm_append(ctx, out, json_object());
        ngx_http_order_edit_norm_set(ctx, d, "line_item_id",
                                     ngx_http_order_edit_norm_id(id));
        ngx_http_order_edit_norm_set(ctx, d, "delta", json_integer(delta));
    }

    return 0;
}


/*
 * orders/edited is a delta, not an order: it cannot build a Sales Order.
 * The document marks the order as edited; Shopify always follows an edit
 * with orders/updated, and that full snapshot satisfies the mark.
 */

static int
ngx_http_order_edit_norm_edited(ngx_http_order_edit_norm_ctx_t *ctx,
    const json_t *root)
{
    size_t       i;
    json_t      *oe, *li, *doc, *e, *adds, *rems;
    int64_t      id, order_id;
    const char  *s;
    char         so_id[NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];
    static const char  *times[] = { "created_at", "committed_at",
                                    "staff_note" };

    oe = NULL;
    li = NULL;

    if (ngx_http_order_edit_norm_object(ctx, root, "", "order_edit", 1, &oe)
        == -1
        || ngx_http_order_edit_norm_int(ctx, oe, "order_edit", "id", 1, 1,
                                        INT64_MAX, &id)
           == -1
        || ngx_http_order_edit_norm_int(ctx, oe, "order_edit", "order_id", 1,
                                        1, INT64_MAX, &order_id)
           == -1
        || ngx_http_order_edit_norm_object(ctx, oe, "order_edit",
                                           "line_items", 0, &li)
           == -1)
    {
        return -1;
    }

    ctx->res->order_id = order_id;

    if (ngx_http_order_edit_norm_so_id(ctx, order_id, so_id) == -1) {
        return -1;
    }

    doc = ngx_http_order_edit_norm_doc(ctx, "order_edited",
              ngx_http_order_edit_norm_source(ctx, order_id, NULL, 0, NULL,
                                              0));

    e = ngx_http_order_edit_norm_set(ctx, doc, "order_edit", json_object());
    ngx_http_order_edit_norm_set(ctx, e, "id",
                                 ngx_http_order_edit_norm_id(id));
    ngx_http_order_edit_norm_set(ctx, e, "sales_order_external_id",
                                 so_id[0] ? json_string(so_id) : json_null());

    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        size_t  len;

        switch (ngx_http_order_edit_norm_string(ctx, oe, "order_edit",
                                                times[i], 0, &s, &len))
        {
        case -1:
            return -1;
        case 0:
            ngx_http_order_edit_norm_set(ctx, e, times[i],
                                         json_stringn(s, len));
            break;
        default:
            ngx_http_order_edit_norm_set(ctx, e, times[i], json_null());
        }
    }

    adds = ngx_http_order_edit_norm_set(ctx, e, "additions", json_array());
    rems = ngx_http_order_edit_norm_set(ctx, e, "removals", json_array());

    if (li != NULL
        && (ngx_http_order_edit_norm_edit_deltas(ctx, li, "additions", adds)
            == -1
            || ngx_http_order_edit_norm_edit_deltas(ctx, li, "removals", rems)
               == -1))
    {
        return -1;
    }

    ngx_http_order_edit_norm_set(ctx, e, "awaiting",
                                 json_string("orders/updated"));

    if (ctx->nomem) {
        return ngx_http_order_edit_norm_nomem(ctx);
    }

    return NGX_HTTP_ORDER_EDIT_NORM_EDIT_PENDING;
}


/* the entry point */


static int
ngx_http_order_edit_norm_topic(const ngx_http_order_edit_norm_input_t *in,
    const char *topic)
{
    return in->topic_len == strlen(topic)
           && memcmp(in->topic, topic, in->topic_len) == 0;
}


static int
ngx_http_order_edit_norm_shop_valid(const char *shop, size_t len)
{
    size_t  i;

    if (shop == NULL || len == 0 || len > 255) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((shop[i] >= 'a' && shop[i] <= 'z')
              || (shop[i] >= 'A' && shop[i] <= 'Z')
              || (shop[i] >= '0' && shop[i] <= '9')
              || shop[i] == '-' || shop[i] == '.'))
        {
            return 0;
        }
    }

    return shop[0] != '.' && shop[0] != '-';
}


ngx_http_order_edit_norm_kind_e
ngx_http_order_edit_normalise(const ngx_http_order_edit_norm_conf_t *conf,
    const ngx_http_order_edit_norm_input_t *in,
    ngx_http_order_edit_norm_result_t *res)
{
    int                               rc;
    char                              err[256];
    json_t                           *root;
    ngx_http_order_edit_json_rc_e     jrc;
    ngx_http_order_edit_norm_ctx_t    ctx;
    ngx_http_order_edit_norm_order_t  o;

    memset(res, 0, sizeof(*res));
    res->kind = NGX_HTTP_ORDER_EDIT_NORM_ERROR;
    res->updated_at = NGX_HTTP_ORDER_EDIT_NO_TIME;

    memset(&ctx, 0, sizeof(ctx));
    ctx.conf = conf;
    ctx.in = in;
    ctx.res = res;
    ctx.presentment = (conf->money == NGX_HTTP_ORDER_EDIT_MONEY_PRESENTMENT);
    ctx.exponent = 2;

    root = NULL;

    if (!ngx_http_order_edit_norm_shop_valid(in->shop, in->shop_len)) {
        rc = ngx_http_order_edit_norm_fail(&ctx, "bad_shop",
                                           "invalid shop domain");
        goto done;
    }

    if (in->topic == NULL
        || !(ngx_http_order_edit_norm_topic(in, "orders/create")
             || ngx_http_order_edit_norm_topic(in, "orders/updated")
             || ngx_http_order_edit_norm_topic(in, "orders/cancelled")
             || ngx_http_order_edit_norm_topic(in, "orders/edited")
             || ngx_http_order_edit_norm_topic(in, "refunds/create")))
    {
        rc = ngx_http_order_edit_norm_fail(&ctx, "unsupported_topic",
                 "topic \"%.*s\" is not normalised",
                 (int) (in->topic_len > 64 ? 64 : in->topic_len),
                 in->topic ? in->topic : "");
        goto done;
    }

    if (in->body == NULL || in->body_len == 0) {
        rc = ngx_http_order_edit_norm_fail(&ctx, "invalid_json",
                                           "empty payload");
        goto done;
    }

    root = ngx_http_order_edit_json_load(in->body, in->body_len,
                                         conf->max_depth, conf->max_payload,
                                         &jrc, err, sizeof(err));
    if (root == NULL) {
        rc = ngx_http_order_edit_norm_fail(&ctx,
                                           ngx_http_order_edit_json_code(jrc),
                                           "%s", err);
        goto done;
    }

    if (!json_is_object(root)) {
        rc = ngx_http_order_edit_norm_fail(&ctx, "wrong_type",
                                           "the payload must be an object");
        goto done;
    }

    if (ngx_http_order_edit_norm_topic(in, "refunds/create")) {
        rc = ngx_http_order_edit_norm_credit_memo(&ctx, root);

    } else if (ngx_http_order_edit_norm_topic(in, "orders/edited")) {
        rc = ngx_http_order_edit_norm_edited(&ctx, root);

    } else {
        rc = ngx_http_order_edit_norm_order_head(&ctx, root, &o);

        if (rc == 0 && in->last_updated_at != NGX_HTTP_ORDER_EDIT_NO_TIME
            && o.updated_ms < in->last_updated_at)
        {
            /* an older snapshot than the one applied: produce nothing */
            snprintf(res->error, sizeof(res->error), "stale");
            snprintf(res->message, sizeof(res->message),
                     "snapshot updated_at %.40s is older than the last "
                     "applied one", o.updated_at);
            rc = NGX_HTTP_ORDER_EDIT_NORM_STALE;

        } else if (rc == 0) {
            if (ngx_http_order_edit_norm_topic(in, "orders/cancelled")) {
                rc = ngx_http_order_edit_norm_cancellation(&ctx, root, &o);

            } else {
                rc = ngx_http_order_edit_norm_sales_order(&ctx, root, &o);
            }
        }
    }

done:

    json_decref(root);
    free(ctx.lines);

    if (rc <= 0) {
        /* never a partial document */
        ngx_http_order_edit_norm_result_free(res);

        res->external_id[0] = '\0';
        res->kind = NGX_HTTP_ORDER_EDIT_NORM_ERROR;

        if (res->error[0] == '\0') {
            snprintf(res->error, sizeof(res->error), "internal");
        }

        return res->kind;
    }

    if (rc == NGX_HTTP_ORDER_EDIT_NORM_STALE) {
        json_decref(res->doc);
        res->doc = NULL;
    }

    res->kind = rc;

    return res->kind;
}


void
ngx_http_order_edit_norm_result_free(ngx_http_order_edit_norm_result_t *res)
{
    json_decref(res->doc);
    free(res->path);
    free(res->body);

    res->doc = NULL;
    res->path = NULL;
    res->body = NULL;
    res->body_len = 0;
    res->method = NULL;
}
