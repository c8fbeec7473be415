
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_bundle.h"
#include "ngx_http_order_edit_skumap.h"


static char *
ngx_http_order_edit_bundle_strndup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


static void
ngx_http_order_edit_bundle_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) {
        (*s)++;
    }

    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}


static int
ngx_http_order_edit_bundle_sku_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] <= 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* a decimal in 1..max from [s, e), or -1 */

static int64_t
ngx_http_order_edit_bundle_int(const char *s, const char *e, int64_t max)
{
    int64_t  v;

    ngx_http_order_edit_bundle_trim(&s, &e);

    if (s == e) {
        return -1;
    }

    v = 0;

    while (s < e) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        v = v * 10 + (*s++ - '0');

        if (v > max) {
            return -1;
        }
    }

    return v >= 1 ? v : -1;
}


static void
ngx_http_order_edit_bundle_clear(ngx_http_order_edit_bundle_t *bundle)
{
    size_t  i;

    for (i = 0; i < bundle->ncomponents; i++) {
        free(bundle->components[i].sku);
    }

    free(bundle->components);
    free(bundle->sku);
}


int
ngx_http_order_edit_bundles_add(ngx_http_order_edit_bundles_t *b,
    const char *spec, size_t len, char *err, size_t errlen)
{
    size_t                            i;
    const char                       *p, *end, *eq, *s, *e, *c1, *c2;
    ngx_http_order_edit_bundle_t      bundle, *nb;
    ngx_http_order_edit_component_t  *comp, *nc;

    memset(&bundle, 0, sizeof(bundle));

    end = spec + len;
    eq = memchr(spec, '=', len);

    if (eq == NULL) {
        snprintf(err, errlen, "bundle \"%.*s\": expected "
                 "\"SKU=COMP:QTY:WEIGHT,...\"", (int) (len > 64 ? 64 : len),
                 spec);
        return -1;
    }

    s = spec;
    e = eq;
    ngx_http_order_edit_bundle_trim(&s, &e);

    if (!ngx_http_order_edit_bundle_sku_ok(s, e - s)) {
        snprintf(err, errlen, "bundle \"%.*s\": invalid bundle SKU",
                 (int) (len > 64 ? 64 : len), spec);
        return -1;
    }

    if (ngx_http_order_edit_bundles_find(b, s, e - s) != NULL) {
        snprintf(err, errlen, "bundle \"%.*s\" is defined twice",
                 (int) (e - s), s);
        return -1;
    }

    bundle.sku = ngx_http_order_edit_bundle_strndup(s, e - s);
    if (bundle.sku == NULL) {
        goto nomem;
    }

    bundle.sku_len = e - s;

    for (p = eq + 1; p <= end; p = e + 1) {
        e = memchr(p, ',', end - p);
        if (e == NULL) {
            e = end;
        }

        /* COMP:QTY:WEIGHT, split from the right */
        for (c2 = e; c2 > p && c2[-1] != ':'; c2--) { /* void */ }
        for (c1 = c2 > p ? c2 - 1 : p; c1 > p && c1[-1] != ':'; c1--) {
            /* void */
        }

        s = p;

        if (c2 <= p || c1 <= p) {
            snprintf(err, errlen, "bundle \"%s\": component \"%.*s\" is "
                     "not \"COMP:QTY:WEIGHT\"", bundle.sku,
                     (int) (e - p > 64 ? 64 : e - p), p);
            goto failed;
        }

        if (bundle.ncomponents == NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_COMPONENTS) {
            snprintf(err, errlen, "bundle \"%s\": more than %d components",
                     bundle.sku, NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_COMPONENTS);
            goto failed;
        }

        nc = realloc(bundle.components,
                     (bundle.ncomponents + 1) * sizeof(*nc));
        if (nc == NULL) {
            goto nomem;
        }

        bundle.components = nc;
        comp = &nc[bundle.ncomponents];
        memset(comp, 0, sizeof(*comp));

        comp->qty = ngx_http_order_edit_bundle_int(c1, c2 - 1,
                                          NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_QTY);
        comp->weight = ngx_http_order_edit_bundle_int(c2, e,
                                       NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_WEIGHT);

        c1--;
        ngx_http_order_edit_bundle_trim(&s, &c1);

        if (!ngx_http_order_edit_bundle_sku_ok(s, c1 - s)) {
            snprintf(err, errlen, "bundle \"%s\": invalid component SKU "
                     "in \"%.*s\"", bundle.sku,
                     (int) (e - p > 64 ? 64 : e - p), p);
            goto failed;
        }

        if (comp->qty < 0) {
            snprintf(err, errlen, "bundle \"%s\": component \"%.*s\" needs "
                     "a quantity of 1 to %d", bundle.sku, (int) (c1 - s), s,
                     NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_QTY);
            goto failed;
        }

        if (comp->weight < 0) {
            snprintf(err, errlen, "bundle \"%s\": component \"%.*s\" needs "
                     "a weight of 1 to %d", bundle.sku, (int) (c1 - s), s,
                     NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_WEIGHT);
            goto failed;
        }

        if ((size_t) (c1 - s) == bundle.sku_len
            && memcmp(s, bundle.sku, bundle.sku_len) == 0)
        {
            snprintf(err, errlen, "bundle \"%s\" contains itself",
                     bundle.sku);
            goto failed;
        }

        for (i = 0; i < bundle.ncomponents; i++) {
            if (bundle.components[i].sku_len == (size_t) (c1 - s)
                && memcmp(bundle.components[i].sku, s, c1 - s) == 0)
            {
                snprintf(err, errlen, "bundle \"%s\": component \"%.*s\" "
                         "is listed twice", bundle.sku, (int) (c1 - s), s);
                goto failed;
            }
        }

        comp->sku = ngx_http_order_edit_bundle_strndup(s, c1 - s);
        if (comp->sku == NULL) {
            goto nomem;
        }

        comp->sku_len = c1 - s;
        bundle.ncomponents++;

        if (e == end) {
            break;
        }
    }

    nb = realloc(b->bundles, (b->nbundles + 1) * sizeof(*nb));
    if (nb == NULL) {
        goto nomem;
    }

    b->bundles = nb;
    b->bundles[b->nbundles++] = bundle;

    return 0;

nomem:

    snprintf(err, errlen, "out of memory");

failed:

    ngx_http_order_edit_bundle_clear(&bundle);

    return -1;
}


const ngx_http_order_edit_bundle_t *
ngx_http_order_edit_bundles_find(const ngx_http_order_edit_bundles_t *b,
    const char *sku, size_t len)
{
    size_t  i;

    /* a handful of bundles per store: a linear scan is the fastest */
    for (i = 0; i < b->nbundles; i++) {
        if (b->bundles[i].sku_len == len
            && memcmp(b->bundles[i].sku, sku, len) == 0)
        {
            return &b->bundles[i];
        }
    }

    return NULL;
}


void
ngx_http_order_edit_bundles_free(ngx_http_order_edit_bundles_t *b)
{
    size_t  i;

    for (i = 0; i < b->nbundles; i++) {
        ngx_http_order_edit_bundle_clear(&b->bundles[i]);
    }

    free(b->bundles);
    b->bundles = NULL;
    b->nbundles = 0;
}
