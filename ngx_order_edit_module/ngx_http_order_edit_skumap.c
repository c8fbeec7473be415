
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_skumap.h"


/* map files are read whole at configuration time: keep that bounded */
#define NGX_HTTP_ORDER_EDIT_SKUMAP_MAX_FILE  (256 * 1024 * 1024)


typedef struct {
    const char                  *sku;
    const char                  *item;
    size_t                       sku_len;
    unsigned                     line;
} ngx_http_order_edit_skumap_entry_t;


struct ngx_http_order_edit_skumap_s {
    char                                *text;   /* tokens point here */
    ngx_http_order_edit_skumap_entry_t  *entries;
    size_t                               n;
};


static int
ngx_http_order_edit_skumap_cmp(const void *one, const void *two)
{
    int                                        rc;
    size_t                                     n;
    const ngx_http_order_edit_skumap_entry_t  *a, *b;

    a = one;
    b = two;

    n = a->sku_len < b->sku_len ? a->sku_len : b->sku_len;
    rc = memcmp(a->sku, b->sku, n);

    if (rc != 0) {
        return rc;
    }

    if (a->sku_len != b->sku_len) {
        return a->sku_len < b->sku_len ? -1 : 1;
    }

    /* equal SKUs sort by line so a duplicate names the first one */
    return (a->line > b->line) - (a->line < b->line);
}


static int
ngx_http_order_edit_sku_char_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}


int
ngx_http_order_edit_extid_valid(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_order_edit_item_ref_valid(const char *ref, size_t len)
{
    size_t  i;

    if (len > 4 && memcmp(ref, "eid:", 4) == 0) {
        return ngx_http_order_edit_extid_valid(ref + 4, len - 4);
    }

    /* a NetSuite internal id */
    if (len == 0 || len > 18) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (ref[i] < '0' || ref[i] > '9') {
            return 0;
        }
    }

    return 1;
}


ngx_http_order_edit_skumap_t *
ngx_http_order_edit_skumap_parse(const char *buf, size_t len,
    const char *name, char *err, size_t errlen)
{
    char                                *p, *end, *eol, *sku, *item;
    size_t                               n, cap, sku_len, item_len;
    unsigned                             line;
    ngx_http_order_edit_skumap_t        *map;
    ngx_http_order_edit_skumap_entry_t  *e, *ne;

    map = calloc(1, sizeof(ngx_http_order_edit_skumap_t));
    if (map == NULL) {
        snprintf(err, errlen, "sku map \"%s\": out of memory", name);
        return NULL;
    }

    map->text = malloc(len + 1);
    if (map->text == NULL) {
        snprintf(err, errlen, "sku map \"%s\": out of memory", name);
        goto failed;
    }

    memcpy(map->text, buf, len);
    map->text[len] = '\0';

    p = map->text;
    end = map->text + len;
    cap = 0;
    line = 0;

    /* a UTF-8 byte order mark from an editor is not part of a SKU */
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }

    while (p < end) {
        line++;

        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        *eol = '\0';

        if (eol > p && eol[-1] == '\r') {
            eol[-1] = '\0';
        }

        while (*p == ' ' || *p == '\t') {
            p++;
        }

        if (*p == '\0' || *p == '#') {
            p = eol + 1;
            continue;
        }

        sku = p;

        while (*p != '\0' && *p != ' ' && *p != '\t') {
            if (!ngx_http_order_edit_sku_char_ok((unsigned char) *p)) {
                snprintf(err, errlen, "sku map \"%s\" line %u: control "
                         "character in a SKU", name, line);
                goto failed;
            }

            p++;
        }

        sku_len = p - sku;

        while (*p == ' ' || *p == '\t') {
            *p++ = '\0';
        }

        item = p;

        while (*p != '\0' && *p != ' ' && *p != '\t') {
            p++;
        }

        item_len = p - item;

        while (*p == ' ' || *p == '\t') {
            *p++ = '\0';
        }

        if (item_len == 0 || (*p != '\0' && *p != '#')) {
            snprintf(err, errlen, "sku map \"%s\" line %u: expected "
                     "\"sku item-reference\"", name, line);
            goto failed;
        }

        if (sku_len > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
            snprintf(err, errlen, "sku map \"%s\" line %u: SKU longer than "
                     "%d bytes", name, line, NGX_HTTP_ORDER_EDIT_SKU_MAX);
            goto failed;
        }

        if (!ngx_http_order_edit_item_ref_valid(item, item_len)) {
            snprintf(err, errlen, "sku map \"%s\" line %u: invalid item "
                     "reference \"%.*s\" (use a NetSuite internal id or "
                     "\"eid:<external id>\")", name, line,
                     (int) (item_len > 64 ? 64 : item_len), item);
            goto failed;
        }

        item[item_len] = '\0';

        if (map->n == cap) {
            cap = cap ? cap * 2 : 64;
            ne = realloc(map->entries, cap * sizeof(*ne));
            if (ne == NULL) {
                snprintf(err, errlen, "sku map \"%s\": out of memory", name);
                goto failed;
            }

            map->entries = ne;
        }

        e = &map->entries[map->n++];
        e->sku = sku;
        e->sku_len = sku_len;
        e->item = item;
        e->line = line;

        p = eol + 1;
    }

    if (map->n > 1) {
        qsort(map->entries, map->n, sizeof(*e), ngx_http_order_edit_skumap_cmp);
    }

    for (n = 1; n < map->n; n++) {
        e = &map->entries[n];

        if (e->sku_len == e[-1].sku_len
            && memcmp(e->sku, e[-1].sku, e->sku_len) == 0)
        {
            snprintf(err, errlen, "sku map \"%s\" line %u: duplicate SKU "
                     "\"%.*s\" (first on line %u)", name, e->line,
                     (int) (e->sku_len > 64 ? 64 : e->sku_len), e->sku,
                     e[-1].line);
            goto failed;
        }
    }

    return map;

failed:

    ngx_http_order_edit_skumap_free(map);

    return NULL;
}


ngx_http_order_edit_skumap_t *
ngx_http_order_edit_skumap_load(const char *path, char *err, size_t errlen)
{
    FILE                          *f;
    char                          *buf, *nb;
    size_t                         len, cap, n;
    ngx_http_order_edit_skumap_t  *map;

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "sku map \"%s\": %s", path, strerror(errno));
        return NULL;
    }

    buf = NULL;
    len = 0;
    cap = 0;

    for ( ;; ) {
        if (len == cap) {
            if (cap >= NGX_HTTP_ORDER_EDIT_SKUMAP_MAX_FILE) {
                snprintf(err, errlen, "sku map \"%s\": file too large", path);
                goto failed;
            }

            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                snprintf(err, errlen, "sku map \"%s\": out of memory", path);
                goto failed;
            }

            buf = nb;
        }

        n = fread(buf + len, 1, cap - len, f);
        len += n;

        if (n == 0) {
            break;
        }
    }

    if (ferror(f)) {
        snprintf(err, errlen, "sku map \"%s\": read error", path);
        goto failed;
    }

    fclose(f);

    map = ngx_http_order_edit_skumap_parse(buf, len, path, err, errlen);

    free(buf);

    return map;

failed:

    fclose(f);
    free(buf);

    return NULL;
}


void
ngx_http_order_edit_skumap_free(ngx_http_order_edit_skumap_t *map)
{
    if (map == NULL) {
        return;
    }

    free(map->entries);
    free(map->text);
    free(map);
}


size_t
ngx_http_order_edit_skumap_size(const ngx_http_order_edit_skumap_t *map)
{
    return map ? map->n : 0;
}


const char *
ngx_http_order_edit_skumap_lookup(const ngx_http_order_edit_skumap_t *map,
    const char *sku, size_t len)
{
    int                                        rc;
    size_t                                     lo, hi, mid, n;
    const ngx_http_order_edit_skumap_entry_t  *e;

    if (map == NULL) {
        return NULL;
    }

    lo = 0;
    hi = map->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        e = &map->entries[mid];

        n = len < e->sku_len ? len : e->sku_len;
        rc = memcmp(sku, e->sku, n);

        if (rc == 0) {
            rc = (len > e->sku_len) - (len < e->sku_len);
        }

        if (rc == 0) {
            return e->item;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


int
ngx_http_order_edit_rewrite_check(const char *replacement, size_t len,
    int ncaptures, char *err, size_t errlen)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (replacement[i] != '$') {
            continue;
        }

        if (i + 1 < len && replacement[i + 1] == '$') {
            i++;
            continue;
        }

        if (i + 1 == len || replacement[i + 1] < '0'
            || replacement[i + 1] > '9')
        {
            snprintf(err, errlen, "sku rewrite replacement \"%.*s\": \"$\" "
                     "must be followed by a digit or \"$\"",
                     (int) (len > 64 ? 64 : len), replacement);
            return -1;
        }

        if (ncaptures >= 0 && replacement[i + 1] - '0' > ncaptures) {
            snprintf(err, errlen, "sku rewrite replacement \"%.*s\" refers "
                     "to $%c but the regex has %d capture group(s)",
                     (int) (len > 64 ? 64 : len), replacement,
                     replacement[i + 1], ncaptures);
            return -1;
        }

        i++;
    }

    return 0;
}


int
ngx_http_order_edit_skures_add_rewrite(ngx_http_order_edit_skures_t *r,
    void *regex, const char *replacement, size_t len, char *err,
    size_t errlen)
{
    char                           *copy;
    ngx_http_order_edit_rewrite_t  *rules;

    if (ngx_http_order_edit_rewrite_check(replacement, len, -1, err, errlen)
        != 0)
    {
        return -1;
    }

    copy = malloc(len + 1);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    memcpy(copy, replacement, len);
    copy[len] = '\0';

    rules = realloc(r->rules, (r->nrules + 1) * sizeof(*rules));
    if (rules == NULL) {
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    r->rules = rules;
    rules[r->nrules].regex = regex;
    rules[r->nrules].replacement = copy;
    rules[r->nrules].replacement_len = len;
    r->nrules++;

    return 0;
}


/* expands a replacement with the captures of a match; -1 if too long */

static int
ngx_http_order_edit_rewrite_expand(const ngx_http_order_edit_rewrite_t *rule,
    const char *sku, size_t len, const int *caps, int npairs, char *out,
    size_t *outlen)
{
    int          g;
    size_t       i, n, o;
    const char  *rep;

    rep = rule->replacement;
    o = 0;

    for (i = 0; i < rule->replacement_len; i++) {

        if (rep[i] == '$' && i + 1 < rule->replacement_len) {

            if (rep[i + 1] == '$') {
                i++;

            } else if (rep[i + 1] >= '0' && rep[i + 1] <= '9') {
                g = rep[++i] - '0';

                if (g >= npairs || caps[2 * g] < 0
                    || caps[2 * g + 1] < caps[2 * g]
                    || (size_t) caps[2 * g + 1] > len)
                {
                    /* a group that did not take part expands to nothing */
                    continue;
                }

                n = caps[2 * g + 1] - caps[2 * g];

                if (o + n > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
                    return -1;
                }

                memcpy(out + o, sku + caps[2 * g], n);
                o += n;
                continue;
            }
        }

        if (o + 1 > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
            return -1;
        }

        out[o++] = rep[i];
    }

    out[o] = '\0';
    *outlen = o;

    return 0;
}


int
ngx_http_order_edit_skures_resolve(const ngx_http_order_edit_skures_t *r,
    const char *sku, size_t len, char *item, char *rewritten, char *err,
    size_t errlen)
{
    int          rc, caps[2 * NGX_HTTP_ORDER_EDIT_REWRITE_CAPS];
    char         buf[NGX_HTTP_ORDER_EDIT_SKU_MAX + 1];
    size_t       i, n;
    const char  *ref;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_SKU_MAX) {
        snprintf(err, errlen, "SKU of %zu bytes", len);
        return -1;
    }

    if (rewritten) {
        rewritten[0] = '\0';
    }

    ref = ngx_http_order_edit_skumap_lookup(r->map, sku, len);

    if (ref != NULL) {
        snprintf(item, NGX_HTTP_ORDER_EDIT_ITEM_MAX, "%s", ref);
        return 0;
    }

    for (i = 0; i < r->nrules && r->exec != NULL; i++) {
        for (n = 0; n < 2 * NGX_HTTP_ORDER_EDIT_REWRITE_CAPS; n++) {
            caps[n] = -1;
        }

        rc = r->exec(r->rules[i].regex, sku, len, caps,
                     NGX_HTTP_ORDER_EDIT_REWRITE_CAPS);

        if (rc == 0) {
            continue;
        }

        if (rc < 0) {
            snprintf(err, errlen, "sku rewrite rule %zu failed on SKU "
                     "\"%.*s\"", i + 1, (int) len, sku);
            return -2;
        }

        if (rc > NGX_HTTP_ORDER_EDIT_REWRITE_CAPS) {
            rc = NGX_HTTP_ORDER_EDIT_REWRITE_CAPS;
        }

        if (ngx_http_order_edit_rewrite_expand(&r->rules[i], sku, len, caps,
                                               rc, buf, &n)
            != 0 || n == 0)
        {
            snprintf(err, errlen, "SKU \"%.*s\" rewrites to an empty or "
                     "over-long SKU", (int) len, sku);
            return -1;
        }

        if (rewritten) {
            memcpy(rewritten, buf, n + 1);
        }

        sku = buf;
        len = n;

        ref = ngx_http_order_edit_skumap_lookup(r->map, sku, len);

        if (ref != NULL) {
            snprintf(item, NGX_HTTP_ORDER_EDIT_ITEM_MAX, "%s", ref);
            return 0;
        }

        break;
    }

    if (r->fallback == NGX_HTTP_ORDER_EDIT_FALLBACK_EXTERNAL_ID) {
        if (!ngx_http_order_edit_extid_valid(sku, len)) {
            snprintf(err, errlen, "SKU \"%.*s\" is not mapped and cannot be "
                     "a NetSuite external id (letters, digits, \"_\" and "
                     "\"-\" only)", (int) len, sku);
            return -1;
        }

        snprintf(item, NGX_HTTP_ORDER_EDIT_ITEM_MAX, "eid:%.*s", (int) len,
                 sku);
        return 0;
    }

    snprintf(err, errlen, "SKU \"%.*s\" is not mapped to a NetSuite item",
             (int) len, sku);

    return -1;
}


void
ngx_http_order_edit_skures_free(ngx_http_order_edit_skures_t *r)
{
    size_t  i;

    ngx_http_order_edit_skumap_free(r->map);
    r->map = NULL;

    for (i = 0; i < r->nrules; i++) {
        free(r->rules[i].replacement);
    }

    free(r->rules);
    r->rules = NULL;
    r->nrules = 0;
}
