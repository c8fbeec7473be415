
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_nsbody.h"


/* decimals of a Sales Order line's rate: amount / quantity */
#define NGX_HTTP_ORDER_EDIT_RATE_PLACES  8


typedef struct {
    const ngx_http_order_edit_norm_conf_t  *conf;
    int                                     exponent;  /* the currency's */
    int                                     nomem;
} ngx_http_order_edit_nsbody_ctx_t;


/* a field a store may rename or switch off */

static void
ngx_http_order_edit_nsbody_field(ngx_http_order_edit_nsbody_ctx_t *ctx,
    json_t *obj, ngx_http_order_edit_field_e field, json_t *v)
{
    ngx_http_order_edit_jbuild_set(&ctx->nomem, obj,
                                   ngx_http_order_edit_norm_field(ctx->conf,
                                                                  field),
                                   v);
}


/* a copy of one of the document's values */

static json_t *
ngx_http_order_edit_nsbody_copy(const json_t *obj, const char *key)
{
    return json_deep_copy(json_object_get(obj, key));
}


/*
 * The document's money is decimal text with the currency's exponent;
 * NetSuite takes the same digits as an exact JSON number (9.50), never
 * through a double.
 */

static json_t *
ngx_http_order_edit_nsbody_number(const json_t *obj, const char *key)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return NULL;
    }

    return ngx_http_order_edit_json_number(json_string_value(v),
                                           json_string_length(v));
}


/* the order's lines as a read with expandSubResources=true returns them */

static json_t *
ngx_http_order_edit_nsbody_record_lines(const json_t *record)
{
    json_t  *items;

    items = json_object_get(json_object_get(record, "item"), "items");

    return json_is_array(items) ? items : NULL;
}


typedef struct {
    const char                             *key;
    json_int_t                              line;
    int                                     used;
} ngx_http_order_edit_nsbody_held_t;


static int
ngx_http_order_edit_nsbody_held_cmp(const void *a, const void *b)
{
    const ngx_http_order_edit_nsbody_held_t  *x = a, *y = b;

    return strcmp(x->key, y->key);
}


int
ngx_http_order_edit_nsbody_keep_lines(
    const ngx_http_order_edit_norm_conf_t *conf, json_t *body,
    const json_t *record)
{
    int                                 matched;
    size_t                              i, n, m, lo, hi, mid;
    json_t                             *sent, *held, *b, *r, *line, *key;
    const char                         *field, *k;
    ngx_http_order_edit_nsbody_held_t  *h;

    field = ngx_http_order_edit_norm_field(conf,
                                       NGX_HTTP_ORDER_EDIT_FIELD_LINE_KEY);
    sent = json_object_get(json_object_get(body, "item"), "items");
    held = ngx_http_order_edit_nsbody_record_lines(record);

    if (field == NULL || !json_is_array(sent) || held == NULL) {
        return 0;
    }

    n = json_array_size(sent);

    h = malloc((json_array_size(held) + 1) * sizeof(*h));
    if (h == NULL) {
        return -1;
    }

    /* the order's keyed lines, sorted by key: a lookup is a search */
    m = 0;

    for (i = 0; i < json_array_size(held); i++) {
        r = json_array_get(held, i);
        key = json_object_get(r, field);
        line = json_object_get(r, "line");

        if (json_is_string(key) && json_is_integer(line)) {
            h[m].key = json_string_value(key);
            h[m].line = json_integer_value(line);
            h[m].used = 0;
            m++;
        }
    }

    /* a key twice (a data problem): each of its lines is taken once */
    qsort(h, m, sizeof(*h), ngx_http_order_edit_nsbody_held_cmp);

    matched = 0;

    for (i = 0; i < n; i++) {
        b = json_array_get(sent, i);
        key = json_object_get(b, field);

        if (!json_is_string(key)) {
            continue;
        }

        k = json_string_value(key);
        lo = 0;
        hi = m;

        while (lo < hi) {
            mid = lo + (hi - lo) / 2;

            if (strcmp(h[mid].key, k) < 0) {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        while (lo < m && strcmp(h[lo].key, k) == 0 && h[lo].used) {
            lo++;
        }

        if (lo == m || strcmp(h[lo].key, k) != 0) {
            continue;
        }

        if (json_object_set_new(b, "line", json_integer(h[lo].line)) != 0) {
            free(h);
            return -1;
        }

        h[lo].used = 1;
        matched++;
    }

    free(h);

    return matched;
}


int
ngx_http_order_edit_nsbody_close_lines(json_t *body, const json_t *record)
{
    int      n;
    size_t   i;
    json_t  *held, *line, *items, *l;

    held = ngx_http_order_edit_nsbody_record_lines(record);
    if (held == NULL) {
        return 0;
    }

    items = json_array();
    if (items == NULL) {
        return -1;
    }

    n = 0;

    for (i = 0; i < json_array_size(held); i++) {
        line = json_object_get(json_array_get(held, i), "line");

        if (!json_is_integer(line)) {
            continue;
        }

        l = json_pack("{s:I,s:b}", "line",
                      (json_int_t) json_integer_value(line), "isClosed", 1);

        if (l == NULL || json_array_append_new(items, l) != 0) {
            json_decref(items);
            return -1;
        }

        n++;
    }

    if (n == 0) {
        json_decref(items);
        return 0;
    }

    if (json_object_set_new(body, "item",
                            json_pack("{s:o}", "items", items))
        != 0)
    {
        return -1;
    }

    return n;
}


/* the NetSuite REST path of a record by its external id */

static char *
ngx_http_order_edit_nsbody_path(const char *record, const char *id,
    const char *query)
{
    char    *path;
    size_t   size;

    size = sizeof(NGX_HTTP_ORDER_EDIT_REST_PREFIX) + 32
           + NGX_HTTP_ORDER_EDIT_EXTID_MAX;

    path = malloc(size);
    if (path == NULL) {
        return NULL;
    }

    snprintf(path, size, "%s%s/eid:%s%s", NGX_HTTP_ORDER_EDIT_REST_PREFIX,
             record, id, query);

    return path;
}


/*
 * A Sales Order line's rate: its net amount over its quantity, so that
 * rate x quantity is the amount NetSuite keeps (acme #1001: 199.00 less a
 * 24.08 discount is a rate of 174.92, not 199.00, which anything that
 * recomputes the amount from the rate would undo).  Exact to
 * NGX_HTTP_ORDER_EDIT_RATE_PLACES decimals, rounded half away from zero,
 * trailing zeros dropped down to the currency's own decimals; the unit
 * price before discounts stays in the document.
 */

static json_t *
ngx_http_order_edit_nsbody_decimal(int64_t v, int places, int min_places)
{
    char          buf[48];
    size_t        len;

#if (NGX_HTTP_ORDER_EDIT_RATE_PLACES != 8)
#error "the format below divides by 10^8"
#endif

    /* places is 8 (a rate) or 4 (a percentage); v >= 0 */
    len = snprintf(buf, sizeof(buf), "%lld.%0*lld",
                   (long long) (v / (places == 8 ? 100000000 : 10000)),
                   places,
                   (long long) (v % (places == 8 ? 100000000 : 10000)));

    while (places > min_places && buf[len - 1] == '0') {
        len--;
        places--;
    }

    if (buf[len - 1] == '.') {
        len--;
    }

    return ngx_http_order_edit_json_number(buf, len);
}


/* minor units of one of the document's amounts; -1 if it has none */

static int
ngx_http_order_edit_nsbody_minor(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *obj, const char *key, int64_t *v)
{
    json_t  *s;

    s = json_object_get(obj, key);

    if (!json_is_string(s) || ctx->exponent < 0
        || ngx_http_order_edit_money_parse(json_string_value(s),
                                           json_string_length(s),
                                           ctx->exponent, v)
           != NGX_HTTP_ORDER_EDIT_MONEY_OK)
    {
        return -1;
    }

    return 0;
}


/* an amount in minor units as NetSuite's exact number */

static json_t *
ngx_http_order_edit_nsbody_amount(ngx_http_order_edit_nsbody_ctx_t *ctx,
    int64_t v)
{
    char    buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];
    size_t  len;

    len = ngx_http_order_edit_money_format(v, ctx->exponent, buf,
                                           sizeof(buf));

    return len ? ngx_http_order_edit_json_number(buf, len) : NULL;
}


static json_t *
ngx_http_order_edit_nsbody_rate_of(ngx_http_order_edit_nsbody_ctx_t *ctx,
    int64_t minor, int64_t q)
{
    int      places;
    int64_t  scale, rate;

    if (q <= 0 || minor < 0 || ctx->exponent < 0
        || ctx->exponent > NGX_HTTP_ORDER_EDIT_RATE_PLACES)
    {
        return NULL;
    }

    for (scale = 1, places = NGX_HTTP_ORDER_EDIT_RATE_PLACES;
         places > ctx->exponent;
         places--)
    {
        scale *= 10;
    }

    if (ngx_http_order_edit_money_muldiv(minor, scale, q, &rate) != 0) {
        return NULL;
    }

    return ngx_http_order_edit_nsbody_decimal(rate,
                                              NGX_HTTP_ORDER_EDIT_RATE_PLACES,
                                              ctx->exponent);
}


static json_t *
ngx_http_order_edit_nsbody_rate(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *l)
{
    json_t   *qty, *r;
    int64_t   minor;

    qty = json_object_get(l, "quantity");
    r = NULL;

    if (json_is_integer(qty)
        && ngx_http_order_edit_nsbody_minor(ctx, l, "net", &minor) == 0)
    {
        r = ngx_http_order_edit_nsbody_rate_of(ctx, minor,
                                               json_integer_value(qty));
    }

    return r ? r : ngx_http_order_edit_nsbody_number(l, "rate");
}


/*
 * SuiteTax: Shopify's tax kept as NetSuite's tax details (Oracle: with
 * the override box set, NetSuite keeps the tax lines it is given instead
 * of computing its own on every save; all five tax fields are then
 * mandatory).  Each item line with tax gets a tax line joined by
 * taxDetailsReference (the Shopify line key), under the store's tax type
 * and code, its basis the line's net amount and its rate the tax over
 * that (informational, 4 decimals); shipping tax a line with the
 * reference SHIPPING (what Oracle documents for the web store API; not
 * confirmed for REST, see docs/netsuite-booking-research.md 1.5).  With
 * prices that include tax NetSuite is sent the amounts before tax (the
 * line's net less its tax, exact), so that its total is Shopify's.
 */

static json_t *
ngx_http_order_edit_nsbody_tax_line(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const char *ref, size_t ref_len, const ngx_http_order_edit_tax_code_t *tc,
    int64_t basis, int64_t tax)
{
    json_t   *t;
    int64_t   pct;

    t = json_object();

    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxDetailsReference",
                                   json_stringn(ref, ref_len));
    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxType",
        ngx_http_order_edit_jbuild_ref((tc && tc->type) ? tc->type
                                                        : ctx->conf->tax_type));
    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxCode",
        ngx_http_order_edit_jbuild_ref(tc ? tc->code : ctx->conf->tax_code));
    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxBasis",
        ngx_http_order_edit_nsbody_amount(ctx, basis));

    if (basis <= 0
        || ngx_http_order_edit_money_muldiv(tax, 1000000, basis, &pct) != 0
        || pct < 0)
    {
        pct = 0;
    }

    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxRate",
        ngx_http_order_edit_nsbody_decimal(pct, 4, 0));
    ngx_http_order_edit_jbuild_set(&ctx->nomem, t, "taxAmount",
        ngx_http_order_edit_nsbody_amount(ctx, tax));

    return t;
}


/*
 * A line's (or shipping's) tax under its NetSuite tax codes (tax_code):
 * each of Shopify's tax lines (title, else rate) names a code, the
 * store's default when none matches; the line's tax, exact, is split over
 * the codes by the tax lines' amounts (Shopify states them as ordered,
 * the line's tax is what is left after edits and refunds), the remainder
 * on the last, so the tax lines sum to the line's tax to the minor unit.
 * Every code's tax line has the line's basis: jurisdictions tax the same
 * amount.
 */

static void
ngx_http_order_edit_nsbody_line_taxes(ngx_http_order_edit_nsbody_ctx_t *ctx,
    json_t *details, const json_t *l, const char *ref, size_t ref_len,
    int64_t basis, int64_t tax)
{
    char                                   buf[32];
    size_t                                 i, j, n, ng, rlen;
    json_t                                *tl, *e, *title, *rate;
    int64_t                                amount, w[8], out[8];
    const char                            *rtext;
    const ngx_http_order_edit_tax_code_t  *tc, *g[8];

    tl = json_object_get(l, "tax_lines");
    n = json_array_size(tl);
    ng = 0;

    for (i = 0; ctx->conf->ntax_codes && i < n; i++) {
        e = json_array_get(tl, i);
        title = json_object_get(e, "title");
        rate = json_object_get(e, "rate");

        rtext = NULL;
        rlen = 0;

        if (json_is_integer(rate)) {
            rlen = snprintf(buf, sizeof(buf), "%lld",
                            (long long) json_integer_value(rate));
            rtext = buf;

        } else if (ngx_http_order_edit_json_is_marker(rate)) {
            rtext = ngx_http_order_edit_json_marker_text(rate, &rlen);

        } else if (json_is_string(rate)) {
            rtext = json_string_value(rate);
            rlen = json_string_length(rate);
        }

        tc = ngx_http_order_edit_norm_tax_code(ctx->conf,
                                               json_string_value(title),
                                               rtext, rlen);

        if (ngx_http_order_edit_nsbody_minor(ctx, e, "amount", &amount) != 0
            || amount < 0)
        {
            amount = 0;
        }

        for (j = 0; j < ng && g[j] != tc; j++) { /* void */ }

        if (j == ng) {
            if (ng == sizeof(g) / sizeof(g[0])) {
                /* more codes than a line ever has: the last one takes it */
                j = ng - 1;

            } else {
                g[ng] = tc;
                w[ng++] = 0;
            }
        }

        w[j] += amount;
    }

    if (ng == 0 || ngx_http_order_edit_money_allocate(tax, w, ng, out) != 0) {
        /* no map, no tax lines: the default code takes the line's tax */
        ngx_http_order_edit_jbuild_append(&ctx->nomem, details,
            ngx_http_order_edit_nsbody_tax_line(ctx, ref, ref_len, NULL,
                                                basis, tax));
        return;
    }

    for (j = 0; j < ng; j++) {
        if (out[j] != 0) {
            ngx_http_order_edit_jbuild_append(&ctx->nomem, details,
                ngx_http_order_edit_nsbody_tax_line(ctx, ref, ref_len, g[j],
                                                    basis, out[j]));
        }
    }
}


static void
ngx_http_order_edit_nsbody_tax_details(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *so, json_t *body)
{
    int       incl;
    size_t    i;
    json_t   *lines, *items, *details, *l, *b, *key, *ship;
    int64_t   net, tax, basis;

    incl = json_is_true(json_object_get(so, "taxes_included"));
    lines = json_object_get(so, "lines");
    items = json_object_get(json_object_get(body, "item"), "items");

    details = json_array();

    for (i = 0; i < json_array_size(lines); i++) {
        l = json_array_get(lines, i);
        b = json_array_get(items, i);
        key = json_object_get(l, "key");

        if (b == NULL || !json_is_string(key)
            || ngx_http_order_edit_nsbody_minor(ctx, l, "net", &net) != 0
            || ngx_http_order_edit_nsbody_minor(ctx, l, "tax", &tax) != 0)
        {
            continue;
        }

        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "taxDetailsReference",
                                       json_copy(key));

        basis = incl ? net - tax : net;

        if (incl) {
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "rate",
                ngx_http_order_edit_nsbody_rate_of(ctx, basis,
                    json_integer_value(json_object_get(l, "quantity"))));
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "amount",
                ngx_http_order_edit_nsbody_amount(ctx, basis));
        }

        if (tax != 0) {
            ngx_http_order_edit_nsbody_line_taxes(ctx, details, l,
                                                  json_string_value(key),
                                                  json_string_length(key),
                                                  basis, tax);
        }
    }

    ship = json_object_get(so, "shipping");

    if (ngx_http_order_edit_nsbody_minor(ctx, ship, "cost", &net) == 0
        && ngx_http_order_edit_nsbody_minor(ctx, ship, "tax", &tax) == 0)
    {
        basis = incl ? net - tax : net;

        if (incl) {
            ngx_http_order_edit_nsbody_field(ctx, body,
                NGX_HTTP_ORDER_EDIT_FIELD_SHIPPING_COST,
                ngx_http_order_edit_nsbody_amount(ctx, basis));
        }

        if (tax != 0) {
            ngx_http_order_edit_nsbody_line_taxes(ctx, details, ship,
                                                  "SHIPPING",
                                                  sizeof("SHIPPING") - 1,
                                                  basis, tax);
        }
    }

    ngx_http_order_edit_jbuild_set(&ctx->nomem, body, "taxDetailsOverride",
                                   json_true());
    ngx_http_order_edit_jbuild_set(&ctx->nomem, body, "taxDetails",
                                   json_pack("{s:o}", "items", details));
}


/*
 * The item sublist, one line per document line: sales order lines send
 * their net amount with the discount in its own column; credit memo item
 * lines the restock flag, which their shipping and discrepancy lines lack.
 */

static void
ngx_http_order_edit_nsbody_items(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *lines, json_t *body, int memo)
{
    size_t   i;
    json_t  *l, *b, *items;

    items = ngx_http_order_edit_jbuild_set(&ctx->nomem, body, "item",
                                           json_object());
    items = ngx_http_order_edit_jbuild_set(&ctx->nomem, items, "items",
                                           json_array());

    for (i = 0; i < json_array_size(lines); i++) {
        l = json_array_get(lines, i);
        b = ngx_http_order_edit_jbuild_append(&ctx->nomem, items,
                                              json_object());

        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "item",
            ngx_http_order_edit_nsbody_copy(l, "item"));
        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "quantity",
            ngx_http_order_edit_nsbody_copy(l, "quantity"));

        if (memo) {
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "amount",
                ngx_http_order_edit_nsbody_number(l, "amount"));

            if (json_object_get(l, "restock") != NULL) {
                ngx_http_order_edit_nsbody_field(ctx, b,
                    NGX_HTTP_ORDER_EDIT_FIELD_RESTOCK,
                    ngx_http_order_edit_nsbody_copy(l, "restock"));
            }

        } else {
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "rate",
                ngx_http_order_edit_nsbody_rate(ctx, l));
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "amount",
                ngx_http_order_edit_nsbody_number(l, "net"));
            ngx_http_order_edit_nsbody_field(ctx, b,
                NGX_HTTP_ORDER_EDIT_FIELD_LINE_DISCOUNT,
                ngx_http_order_edit_nsbody_number(l, "discount"));
        }

        ngx_http_order_edit_nsbody_field(ctx, b,
            NGX_HTTP_ORDER_EDIT_FIELD_LINE_KEY,
            ngx_http_order_edit_nsbody_copy(l, "key"));
        ngx_http_order_edit_nsbody_field(ctx, b,
            NGX_HTTP_ORDER_EDIT_FIELD_LINE_TAX,
            ngx_http_order_edit_nsbody_number(l, "tax"));
    }
}


/*
 * A tip or duties: one more line of the item sublist, its amount as
 * Shopify charged it (an Other Charge item in NetSuite).
 */

static void
ngx_http_order_edit_nsbody_charges(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *charges, json_t *body)
{
    size_t   i;
    json_t  *c, *b, *items;

    items = json_object_get(json_object_get(body, "item"), "items");

    for (i = 0; json_is_array(items) && i < json_array_size(charges); i++) {
        c = json_array_get(charges, i);
        b = ngx_http_order_edit_jbuild_append(&ctx->nomem, items,
                                              json_object());

        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "item",
            ngx_http_order_edit_nsbody_copy(c, "item"));
        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "quantity",
            ngx_http_order_edit_nsbody_copy(c, "quantity"));
        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "rate",
            ngx_http_order_edit_nsbody_number(c, "amount"));
        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "amount",
            ngx_http_order_edit_nsbody_number(c, "amount"));
        ngx_http_order_edit_nsbody_field(ctx, b,
            NGX_HTTP_ORDER_EDIT_FIELD_LINE_KEY,
            ngx_http_order_edit_nsbody_copy(c, "key"));
    }
}


/* NetSuite's address subrecord from the document's Shopify address */

static json_t *
ngx_http_order_edit_nsbody_address(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *a)
{
    size_t   i;
    json_t  *b, *v;
    static const char  *fields[][2] = {
        { "name", "addressee" }, { "address1", "addr1" },
        { "address2", "addr2" }, { "city", "city" },
        { "province_code", "state" }, { "zip", "zip" },
        { "country_code", NULL }, { "phone", "addrPhone" }
    };

    b = json_object();

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        v = json_object_get(a, fields[i][0]);

        if (!json_is_string(v)) {
            continue;
        }

        if (fields[i][1] != NULL) {
            ngx_http_order_edit_jbuild_set(&ctx->nomem, b, fields[i][1],
                                           json_copy(v));
            continue;
        }

        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "country",
                                       json_pack("{ss#}", "id",
                                                 json_string_value(v),
                                                 json_string_length(v)));
    }

    /* NetSuite state: the code when Shopify has one, else the name */
    if (b && json_object_get(b, "state") == NULL
        && json_is_string(json_object_get(a, "province")))
    {
        ngx_http_order_edit_jbuild_set(&ctx->nomem, b, "state",
            json_copy(json_object_get(a, "province")));
    }

    return b;
}


static json_t *
ngx_http_order_edit_nsbody_sales_order(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *doc)
{
    json_t  *body, *src, *so, *addr, *totals;

    src = json_object_get(doc, "source");
    so = json_object_get(doc, "sales_order");
    totals = json_object_get(so, "totals");
    addr = json_object_get(json_object_get(so, "shipping"), "address");

    body = json_object();

    ngx_http_order_edit_nsbody_items(ctx, json_object_get(so, "lines"), body,
                                     0);
    ngx_http_order_edit_nsbody_charges(ctx, json_object_get(so, "charges"),
                                       body);

    if (json_is_object(addr)) {
        ngx_http_order_edit_nsbody_field(ctx, body,
            NGX_HTTP_ORDER_EDIT_FIELD_SHIPPING_ADDRESS,
            ngx_http_order_edit_nsbody_address(ctx, addr));
    }

    if (json_is_string(json_object_get(src, "order_name"))) {
        ngx_http_order_edit_nsbody_field(ctx, body,
            NGX_HTTP_ORDER_EDIT_FIELD_ORDER_NUMBER,
            ngx_http_order_edit_nsbody_copy(src, "order_name"));
    }

    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_ORDER_ID,
        ngx_http_order_edit_nsbody_copy(src, "order_id"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT,
        ngx_http_order_edit_nsbody_copy(src, "updated_at"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_SUBTOTAL,
        ngx_http_order_edit_nsbody_number(totals, "subtotal"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_DISCOUNT,
        ngx_http_order_edit_nsbody_number(totals, "discount"));
    ngx_http_order_edit_nsbody_field(ctx, body, NGX_HTTP_ORDER_EDIT_FIELD_TAX,
        ngx_http_order_edit_nsbody_number(totals, "tax"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_TOTAL,
        ngx_http_order_edit_nsbody_number(totals, "total"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_SHIPPING_COST,
        ngx_http_order_edit_nsbody_number(totals, "shipping"));

    /* what a refund of this order needs to know, kept on the order */
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED,
        ngx_http_order_edit_nsbody_copy(so, "taxes_included"));

    if (ctx->conf->tax_type != NULL && ctx->conf->tax_code != NULL) {
        ngx_http_order_edit_nsbody_tax_details(ctx, so, body);
    }

    if (ctx->conf->shipping_item) {
        ngx_http_order_edit_nsbody_field(ctx, body,
            NGX_HTTP_ORDER_EDIT_FIELD_SHIP_METHOD,
            ngx_http_order_edit_jbuild_ref(ctx->conf->shipping_item));
    }

    return body;
}


static json_t *
ngx_http_order_edit_nsbody_credit_memo(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *doc)
{
    json_t  *body, *src, *cm;

    src = json_object_get(doc, "source");
    cm = json_object_get(doc, "credit_memo");

    body = json_object();

    ngx_http_order_edit_nsbody_items(ctx, json_object_get(cm, "lines"), body,
                                     1);

    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_REFUND_ID,
        ngx_http_order_edit_nsbody_copy(cm, "refund_id"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_ORDER_ID,
        ngx_http_order_edit_nsbody_copy(src, "order_id"));

    if (json_is_string(json_object_get(cm, "sales_order_external_id"))) {
        ngx_http_order_edit_nsbody_field(ctx, body,
            NGX_HTTP_ORDER_EDIT_FIELD_SALES_ORDER,
            ngx_http_order_edit_nsbody_copy(cm, "sales_order_external_id"));
    }

    ngx_http_order_edit_nsbody_field(ctx, body, NGX_HTTP_ORDER_EDIT_FIELD_TAX,
        ngx_http_order_edit_nsbody_number(cm, "tax"));
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_TOTAL,
        ngx_http_order_edit_nsbody_number(cm, "total"));

    if (json_is_string(json_object_get(cm, "note"))) {
        ngx_http_order_edit_jbuild_set(&ctx->nomem, body, "memo",
            ngx_http_order_edit_nsbody_copy(cm, "note"));
    }

    return body;
}


static json_t *
ngx_http_order_edit_nsbody_cancellation(ngx_http_order_edit_nsbody_ctx_t *ctx,
    const json_t *doc)
{
    json_t  *body, *src, *c;

    src = json_object_get(doc, "source");
    c = json_object_get(doc, "cancellation");

    body = json_object();

    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_CANCELLED, json_true());
    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_CANCELLED_AT,
        ngx_http_order_edit_nsbody_copy(c, "cancelled_at"));

    if (json_is_string(json_object_get(c, "reason"))) {
        ngx_http_order_edit_nsbody_field(ctx, body,
            NGX_HTTP_ORDER_EDIT_FIELD_CANCEL_REASON,
            ngx_http_order_edit_nsbody_copy(c, "reason"));
    }

    ngx_http_order_edit_nsbody_field(ctx, body,
        NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT,
        ngx_http_order_edit_nsbody_copy(src, "updated_at"));

    return body;
}


int
ngx_http_order_edit_nsbody_build(const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_norm_kind_e kind, const json_t *doc,
    ngx_http_order_edit_norm_result_t *res)
{
    char                              *path, *text;
    json_t                            *body, *cur;
    const char                        *method, *record, *query, *member;
    const char                        *id;
    ngx_http_order_edit_nsbody_ctx_t   ctx;

    ctx.conf = conf;
    ctx.nomem = 0;
    ctx.exponent = -1;

    cur = json_object_get(json_object_get(doc, "sales_order"), "currency");

    if (json_is_string(cur)) {
        ctx.exponent = ngx_http_order_edit_norm_exponent(conf,
                                                    json_string_value(cur),
                                                    json_string_length(cur));
    }

    switch (kind) {

    case NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER:
        /* replace=item: the only way to remove a line */
        body = ngx_http_order_edit_nsbody_sales_order(&ctx, doc);
        method = "PATCH";
        record = "salesOrder";
        query = "?replace=item";
        member = "sales_order";
        break;

    case NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO:
        /*
         * PUT on eid: is an upsert, so a retry can never make a second
         * memo; replace=item, or a retry onto the memo already there
         * would add its lines a second time (PUT updates like PATCH).
         */
        body = ngx_http_order_edit_nsbody_credit_memo(&ctx, doc);
        method = "PUT";
        record = "creditMemo";
        query = "?replace=item";
        member = "credit_memo";
        break;

    case NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION:
        body = ngx_http_order_edit_nsbody_cancellation(&ctx, doc);
        method = "PATCH";
        record = "salesOrder";
        query = "";
        member = "cancellation";
        break;

    default:
        return 0;
    }

    if (body == NULL || ctx.nomem) {
        json_decref(body);
        return -1;
    }

    /* the record is addressed by the external id the document states */
    id = json_string_value(json_object_get(json_object_get(doc, member),
                                           "external_id"));
    if (id == NULL) {
        json_decref(body);
        return -1;
    }

    path = ngx_http_order_edit_nsbody_path(record, id, query);

    text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (path == NULL || text == NULL) {
        free(path);
        free(text);
        return -1;
    }

    res->method = method;
    res->path = path;
    res->body = text;
    res->body_len = strlen(text);

    return 0;
}


int
ngx_http_order_edit_nsbody_upsert(ngx_http_order_edit_norm_result_t *res)
{
    char  *path;

    /* an upsert may meet an order created meanwhile: its lines, whole */
    path = ngx_http_order_edit_nsbody_path("salesOrder", res->external_id,
                                           "?replace=item");
    if (path == NULL) {
        return -1;
    }

    free(res->path);
    res->path = path;
    res->method = "PUT";

    return 0;
}


ngx_http_order_edit_norm_kind_e
ngx_http_order_edit_nsbody_normalise(
    const ngx_http_order_edit_norm_conf_t *conf,
    const ngx_http_order_edit_norm_input_t *in,
    ngx_http_order_edit_norm_result_t *res)
{
    ngx_http_order_edit_norm_kind_e  kind;

    kind = ngx_http_order_edit_normalise(conf, in, res);

    /* the NetSuite request is made from the finished document alone */
    if (kind <= 0 || res->doc == NULL
        || ngx_http_order_edit_nsbody_build(conf, kind, res->doc, res) == 0)
    {
        return kind;
    }

    /* never a partial result */
    ngx_http_order_edit_norm_result_free(res);

    res->external_id[0] = '\0';
    res->kind = NGX_HTTP_ORDER_EDIT_NORM_ERROR;
    snprintf(res->error, sizeof(res->error), "internal");
    snprintf(res->message, sizeof(res->message), "out of memory");

    return res->kind;
}


int
ngx_http_order_edit_norm_upsert(const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_norm_result_t *res)
{
    (void) conf;

    if (res->kind != NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER || res->body == NULL)
    {
        snprintf(res->error, sizeof(res->error), "internal");
        snprintf(res->message, sizeof(res->message),
                 "only a sales order document can be upserted");
        return -1;
    }

    if (ngx_http_order_edit_nsbody_upsert(res) != 0) {
        snprintf(res->error, sizeof(res->error), "internal");
        snprintf(res->message, sizeof(res->message), "out of memory");
        return -1;
    }

    return 0;
}
