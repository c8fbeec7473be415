
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Shopify's side is read from its own fields, not from what we sent:
 * current_total_price and current_total_tax (the order as edited and
 * refunded now), each line's current_quantity, and each refund's money
 * (its successful "refund" transactions).  NetSuite's side is the summary
 * described in the header.  Every amount goes through money.c's parser
 * into minor units of the order's currency; a difference is any inequality
 * of those integers, so "10.0" and "10.00" are equal and 0.01 is not.
 */


#include <stdio.h>
#include <string.h>
#include <inttypes.h>

#include "ngx_http_order_edit_rdiff.h"
#include "ngx_http_order_edit_money.h"
#include "ngx_http_order_edit_exactjson.h"


#define RDIFF_TEXT_LEN  64


static int ngx_http_order_edit_rdiff_text(json_t *v, char *buf, size_t size,
    const char **text, size_t *len);
static int ngx_http_order_edit_rdiff_money(json_t *v, int exp, int64_t *m);
static int ngx_http_order_edit_rdiff_int(json_t *v, int64_t *n);
static int ngx_http_order_edit_rdiff_row(json_t *rows, const char *order,
    const char *kind, const char *what, json_t *shopify, json_t *netsuite,
    const char *since, int actionable);
static json_t *ngx_http_order_edit_rdiff_amount(int64_t minor, int exp);
static int ngx_http_order_edit_rdiff_lines(json_t *shopify, json_t *nlines,
    const char *order, const char *since, int locked, json_t *rows, int *bad);
static json_t *ngx_http_order_edit_rdiff_shopify_lines(json_t *order);
static json_t *ngx_http_order_edit_rdiff_shopify_refunds(json_t *order,
    int exp);


int
ngx_http_order_edit_rdiff(json_t *shopify, json_t *netsuite,
    const char *order, json_t *rows)
{
    int          exp, n, rc, bad, locked;
    char         idbuf[RDIFF_TEXT_LEN], what[RDIFF_TEXT_LEN + 16];
    size_t       len;
    int64_t      s, t;
    json_t      *sv, *nv, *nlines, *srefunds, *nmemos, *v;
    const char  *cur, *since, *key, *text;

    n = 0;
    bad = 0;

    if (shopify != NULL) {
        v = json_object_get(shopify, "id");

        if (ngx_http_order_edit_rdiff_text(v, idbuf, sizeof(idbuf), &text,
                                           &len)
            != 0 || len >= sizeof(idbuf))
        {
            return -1;
        }

        memmove(idbuf, text, len);
        idbuf[len] = '\0';
        order = idbuf;
    }

    since = NULL;

    if (shopify != NULL) {
        since = json_string_value(json_object_get(shopify, "updated_at"));
    }

    if (since == NULL && netsuite != NULL) {
        since = json_string_value(json_object_get(netsuite, "since"));
    }

    if (since == NULL) {
        since = "";
    }

    if (shopify == NULL && netsuite == NULL) {
        return 0;
    }

    if (netsuite == NULL) {
        return ngx_http_order_edit_rdiff_row(rows, order,
                                             "missing_in_netsuite", "order",
                                             NULL, NULL, since, 0) ? -1 : 1;
    }

    if (shopify == NULL) {
        return ngx_http_order_edit_rdiff_row(rows, order,
                                             "missing_in_shopify", "order",
                                             NULL, NULL, since, 0) ? -1 : 1;
    }

    cur = json_string_value(json_object_get(shopify, "currency"));
    if (cur == NULL) {
        cur = json_string_value(json_object_get(netsuite, "currency"));
    }

    exp = (cur != NULL)
          ? ngx_http_order_edit_currency_exponent(cur, strlen(cur)) : 2;
    if (exp < 0) {
        exp = 2;
    }

    /* past the fulfilment lock nothing is sent to NetSuite any more */
    locked = json_is_true(json_object_get(netsuite, "locked"));

    /* the total and the tax */

    sv = json_object_get(shopify, "current_total_price");
    if (sv == NULL) {
        sv = json_object_get(shopify, "total_price");
    }

    nv = json_object_get(netsuite, "total");

    if (ngx_http_order_edit_rdiff_money(sv, exp, &s) != 0
        || ngx_http_order_edit_rdiff_money(nv, exp, &t) != 0)
    {
        bad = 1;

    } else if (s != t) {
        if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", "total",
                        ngx_http_order_edit_rdiff_amount(s, exp),
                        ngx_http_order_edit_rdiff_amount(t, exp),
                        since, !locked))
        {
            return -1;
        }

        n++;
    }

    sv = json_object_get(shopify, "current_total_tax");
    if (sv == NULL) {
        sv = json_object_get(shopify, "total_tax");
    }

    nv = json_object_get(netsuite, "tax");

    if (ngx_http_order_edit_rdiff_money(sv, exp, &s) != 0
        || ngx_http_order_edit_rdiff_money(nv, exp, &t) != 0)
    {
        bad = 1;

    } else if (s != t) {
        if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", "tax",
                        ngx_http_order_edit_rdiff_amount(s, exp),
                        ngx_http_order_edit_rdiff_amount(t, exp),
                        since, !locked))
        {
            return -1;
        }

        n++;
    }

    /* the lines, by SKU, both ways; not when NetSuite's were not read */

    nlines = json_object_get(netsuite, "lines");

    if (nlines != NULL) {
        rc = ngx_http_order_edit_rdiff_lines(shopify, nlines, order, since,
                                             locked, rows, &bad);
        if (rc < 0) {
            return -1;
        }

        n += rc;
    }

    /* the refunds against the Credit Memos, by the refund's id */

    srefunds = ngx_http_order_edit_rdiff_shopify_refunds(shopify, exp);
    if (srefunds == NULL) {
        return -1;
    }

    nmemos = json_object_get(netsuite, "memos");

    json_object_foreach(srefunds, key, sv) {
        s = json_integer_value(sv);

        if (s < 0) {
            bad = 1;
            continue;
        }

        snprintf(what, sizeof(what), "refund:%s", key);

        nv = json_is_object(nmemos) ? json_object_get(nmemos, key) : NULL;

        if (nv == NULL) {
            if (ngx_http_order_edit_rdiff_row(rows, order,
                            "missing_in_netsuite", what,
                            ngx_http_order_edit_rdiff_amount(s, exp), NULL,
                            since, 0))
            {
                json_decref(srefunds);
                return -1;
            }

            n++;
            continue;
        }

        if (ngx_http_order_edit_rdiff_money(nv, exp, &t) != 0) {
            bad = 1;
            continue;
        }

        if (s != t) {
            if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", what,
                            ngx_http_order_edit_rdiff_amount(s, exp),
                            ngx_http_order_edit_rdiff_amount(t, exp),
                            since, 0))
            {
                json_decref(srefunds);
                return -1;
            }

            n++;
        }
    }

    if (json_is_object(nmemos)) {
        json_object_foreach(nmemos, key, nv) {
            if (json_object_get(srefunds, key) != NULL) {
                continue;
            }

            if (ngx_http_order_edit_rdiff_money(nv, exp, &t) != 0) {
                bad = 1;
                continue;
            }

            snprintf(what, sizeof(what), "refund:%s", key);

            if (ngx_http_order_edit_rdiff_row(rows, order,
                            "missing_in_shopify", what, NULL,
                            ngx_http_order_edit_rdiff_amount(t, exp),
                            since, 0))
            {
                json_decref(srefunds);
                return -1;
            }

            n++;
        }
    }

    json_decref(srefunds);

    if (bad) {
        if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch",
                                          "unreadable", NULL, NULL, since, 0))
        {
            return -1;
        }

        return -1;
    }

    return n;
}


static int
ngx_http_order_edit_rdiff_lines(json_t *shopify, json_t *nlines,
    const char *order, const char *since, int locked, json_t *rows, int *bad)
{
    int          n;
    char         what[RDIFF_TEXT_LEN + 16];
    int64_t      sq, nq;
    json_t      *slines, *sv, *nv;
    const char  *key;

    n = 0;

    slines = ngx_http_order_edit_rdiff_shopify_lines(shopify);
    if (slines == NULL) {
        return -1;
    }

    json_object_foreach(slines, key, sv) {
        sq = json_integer_value(sv);
        nq = 0;

        nv = json_is_object(nlines) ? json_object_get(nlines, key) : NULL;

        if (nv != NULL && ngx_http_order_edit_rdiff_int(nv, &nq) != 0) {
            *bad = 1;
            continue;
        }

        if (sq == nq) {
            continue;
        }

        snprintf(what, sizeof(what), "line:%s", key);

        if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", what,
                                          json_integer(sq), json_integer(nq),
                                          since, !locked))
        {
            json_decref(slines);
            return -1;
        }

        n++;
    }

    if (json_is_object(nlines)) {
        json_object_foreach(nlines, key, nv) {
            if (json_object_get(slines, key) != NULL) {
                continue;
            }

            if (ngx_http_order_edit_rdiff_int(nv, &nq) != 0) {
                *bad = 1;
                continue;
            }

            if (nq == 0) {
                continue;
            }

            snprintf(what, sizeof(what), "line:%s", key);

            if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", what,
                                              json_integer(0),
                                              json_integer(nq), since,
                                              !locked))
            {
                json_decref(slines);
                return -1;
            }

            n++;
        }
    }

    json_decref(slines);

    return n;
}


/*
 * Each SKU's quantity now: current_quantity where Shopify gives it (the
 * quantity after edits and refunds), else quantity.  A line without a SKU
 * is keyed by its variant, "variant:<id>", as the normaliser would miss it
 * too.  A line at 0 is kept: NetSuite's line then shows as a difference.
 */

static json_t *
ngx_http_order_edit_rdiff_shopify_lines(json_t *order)
{
    char         key[RDIFF_TEXT_LEN + 16], buf[RDIFF_TEXT_LEN];
    size_t       i, len;
    int64_t      q, sum;
    json_t      *lines, *items, *line, *v;
    const char  *sku, *text;

    lines = json_object();
    if (lines == NULL) {
        return NULL;
    }

    items = json_object_get(order, "line_items");

    json_array_foreach(items, i, line) {
        sku = json_string_value(json_object_get(line, "sku"));

        if (sku == NULL || *sku == '\0') {
            if (ngx_http_order_edit_rdiff_text(
                    json_object_get(line, "variant_id"), buf, sizeof(buf),
                    &text, &len)
                != 0 || len >= sizeof(buf))
            {
                continue;
            }

            snprintf(key, sizeof(key), "variant:%.*s", (int) len, text);
            sku = key;
        }

        v = json_object_get(line, "current_quantity");
        if (v == NULL) {
            v = json_object_get(line, "quantity");
        }

        if (ngx_http_order_edit_rdiff_int(v, &q) != 0) {
            continue;
        }

        sum = json_integer_value(json_object_get(lines, sku)) + q;

        if (json_object_set_new(lines, sku, json_integer(sum)) != 0) {
            json_decref(lines);
            return NULL;
        }
    }

    return lines;
}


/*
 * Each refund's money: the sum of its successful "refund" transactions,
 * which is what its Credit Memo carries; -1 when one cannot be read.
 */

static json_t *
ngx_http_order_edit_rdiff_shopify_refunds(json_t *order, int exp)
{
    char         buf[RDIFF_TEXT_LEN], id[RDIFF_TEXT_LEN];
    size_t       i, k, len;
    int64_t      sum, m;
    json_t      *refunds, *list, *refund, *tx;
    const char  *kind, *status, *text;

    refunds = json_object();
    if (refunds == NULL) {
        return NULL;
    }

    list = json_object_get(order, "refunds");

    json_array_foreach(list, i, refund) {
        if (ngx_http_order_edit_rdiff_text(json_object_get(refund, "id"),
                                           buf, sizeof(buf), &text, &len)
            != 0 || len >= sizeof(id))
        {
            continue;
        }

        memcpy(id, text, len);
        id[len] = '\0';
        sum = 0;

        json_array_foreach(json_object_get(refund, "transactions"), k, tx) {
            kind = json_string_value(json_object_get(tx, "kind"));
            status = json_string_value(json_object_get(tx, "status"));

            if (kind == NULL || strcmp(kind, "refund") != 0
                || (status != NULL && strcmp(status, "success") != 0))
            {
                continue;
            }

            if (ngx_http_order_edit_rdiff_money(json_object_get(tx, "amount"),
                                                exp, &m) != 0
                || ngx_http_order_edit_money_add(sum, m, &sum) != 0)
            {
                sum = -1;
                break;
            }
        }

        if (json_object_set_new(refunds, id, json_integer(sum)) != 0) {
            json_decref(refunds);
            return NULL;
        }
    }

    return refunds;
}


/* a string's text, an exact number's text, or an integer printed */

static int
ngx_http_order_edit_rdiff_text(json_t *v, char *buf, size_t size,
    const char **text, size_t *len)
{
    int  n;

    if (json_is_string(v)) {
        *text = json_string_value(v);
        *len = json_string_length(v);
        return 0;
    }

    if (ngx_http_order_edit_json_is_marker(v)) {
        *text = ngx_http_order_edit_json_marker_text(v, len);
        return (*text == NULL) ? -1 : 0;
    }

    if (json_is_integer(v)) {
        n = snprintf(buf, size, "%" PRId64, (int64_t) json_integer_value(v));
        if (n < 0 || (size_t) n >= size) {
            return -1;
        }

        *text = buf;
        *len = n;
        return 0;
    }

    /* a double has already lost what money needs: refused */
    return -1;
}


static int
ngx_http_order_edit_rdiff_money(json_t *v, int exp, int64_t *m)
{
    char         buf[RDIFF_TEXT_LEN];
    size_t       len;
    const char  *text;

    if (ngx_http_order_edit_rdiff_text(v, buf, sizeof(buf), &text, &len)
        != 0)
    {
        return -1;
    }

    return ngx_http_order_edit_money_parse(text, len, exp, m)
           == NGX_HTTP_ORDER_EDIT_MONEY_OK ? 0 : -1;
}


static int
ngx_http_order_edit_rdiff_int(json_t *v, int64_t *n)
{
    return ngx_http_order_edit_rdiff_money(v, 0, n);
}


static json_t *
ngx_http_order_edit_rdiff_amount(int64_t minor, int exp)
{
    char  buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];

    if (ngx_http_order_edit_money_format(minor, exp, buf, sizeof(buf)) == 0) {
        return NULL;
    }

    return json_string(buf);
}


/* the row takes the references of "shopify" and "netsuite" (NULL: null) */

static int
ngx_http_order_edit_rdiff_row(json_t *rows, const char *order,
    const char *kind, const char *what, json_t *shopify, json_t *netsuite,
    const char *since, int actionable)
{
    json_t  *row;

    row = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b}",
                    "order", order, "kind", kind, "what", what,
                    "shopify", shopify ? shopify : json_null(),
                    "netsuite", netsuite ? netsuite : json_null(),
                    "since", since, "actionable", actionable);
    if (row == NULL) {
        return -1;
    }

    return json_array_append_new(rows, row);
}
