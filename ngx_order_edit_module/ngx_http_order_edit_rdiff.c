
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
static int ngx_http_order_edit_rdiff_lines(json_t *shopify, json_t *netsuite,
    const char *order, const char *since, int exp, int locked, json_t *rows,
    int *bad);
static json_t *ngx_http_order_edit_rdiff_shopify_lines(json_t *order,
    int by_id, int exp);
static int ngx_http_order_edit_rdiff_line_amount(json_t *order, json_t *line,
    int64_t cq, int exp, int64_t *amount);
static json_t *ngx_http_order_edit_rdiff_shopify_refunds(json_t *order,
    int exp);
static int ngx_http_order_edit_rdiff_memo_lines(json_t *shopify,
    json_t *nmemos, const char *order, const char *since, int exp,
    json_t *rows, int *bad);
static json_t *ngx_http_order_edit_rdiff_refund_lines(json_t *refund,
    int exp, int amounts, int *bad);


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
        rc = ngx_http_order_edit_rdiff_lines(shopify, netsuite, order, since,
                                             exp, locked, rows, &bad);
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

        if (json_is_object(nv)) {
            /* with its lines: the memo's total beside them */
            nv = json_object_get(nv, "total");
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

            if (json_is_object(nv)) {
                nv = json_object_get(nv, "total");
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

    /* each refund's lines against its Credit Memo's, where those were read */

    if (json_is_object(nmemos)) {
        rc = ngx_http_order_edit_rdiff_memo_lines(shopify, nmemos, order,
                                                  since, exp, rows, &bad);
        if (rc < 0) {
            return -1;
        }

        n += rc;
    }

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


/*
 * The lines both ways, by the key NetSuite's were read with: the Shopify
 * line id (our line key) when "line_key" is true, else the SKU.  A line at
 * 0 in Shopify (removed, or refunded whole) is no line.  A line's amount
 * is compared where both sides have an exact one; its quantity where
 * NetSuite's line is one line (a bundle's components are not).
 */

static int
ngx_http_order_edit_rdiff_lines(json_t *shopify, json_t *netsuite,
    const char *order, const char *since, int exp, int locked, json_t *rows,
    int *bad)
{
    int          n, by_id;
    char         what[RDIFF_TEXT_LEN + 32];
    int64_t      sq, nq, sa, na;
    json_t      *slines, *nlines, *sv, *nv, *v;
    const char  *key, *label;

    n = 0;
    nlines = json_object_get(netsuite, "lines");
    by_id = json_is_true(json_object_get(netsuite, "line_key"));

    slines = ngx_http_order_edit_rdiff_shopify_lines(shopify, by_id, exp);
    if (slines == NULL) {
        return -1;
    }

    json_object_foreach(slines, key, sv) {
        sq = json_integer_value(json_object_get(sv, "quantity"));
        label = json_string_value(json_object_get(sv, "sku"));
        nv = json_is_object(nlines) ? json_object_get(nlines, key) : NULL;

        if (nv == NULL) {
            if (sq == 0) {
                continue;
            }

            snprintf(what, sizeof(what), "line:%s", label);

            if (ngx_http_order_edit_rdiff_row(rows, order,
                                              "missing_in_netsuite", what,
                                              json_integer(sq), NULL, since,
                                              !locked))
            {
                goto failed;
            }

            n++;
            continue;
        }

        v = json_is_object(nv) ? json_object_get(nv, "quantity") : nv;

        if (ngx_http_order_edit_rdiff_int(v, &nq) != 0) {
            *bad = 1;
            continue;
        }

        if (sq != nq && !json_is_true(json_object_get(nv, "parts"))) {
            snprintf(what, sizeof(what), "line:%s", label);

            if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", what,
                                              json_integer(sq),
                                              json_integer(nq), since,
                                              !locked))
            {
                goto failed;
            }

            n++;
        }

        v = json_object_get(sv, "amount");
        if (v == NULL || json_object_get(nv, "amount") == NULL) {
            continue;
        }

        sa = json_integer_value(v);

        if (ngx_http_order_edit_rdiff_money(json_object_get(nv, "amount"),
                                            exp, &na)
            != 0)
        {
            *bad = 1;
            continue;
        }

        if (sa != na) {
            snprintf(what, sizeof(what), "line_amount:%s", label);

            if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch", what,
                            ngx_http_order_edit_rdiff_amount(sa, exp),
                            ngx_http_order_edit_rdiff_amount(na, exp),
                            since, !locked))
            {
                goto failed;
            }

            n++;
        }
    }

    json_object_foreach(nlines, key, nv) {
        if (json_object_get(slines, key) != NULL) {
            continue;
        }

        v = json_is_object(nv) ? json_object_get(nv, "quantity") : nv;

        if (ngx_http_order_edit_rdiff_int(v, &nq) != 0) {
            *bad = 1;
            continue;
        }

        if (nq == 0) {
            continue;
        }

        label = json_string_value(json_object_get(nv, "sku"));
        snprintf(what, sizeof(what), "line:%s", label ? label : key);

        if (ngx_http_order_edit_rdiff_row(rows, order, "missing_in_shopify",
                                          what, NULL, json_integer(nq), since,
                                          0))
        {
            goto failed;
        }

        n++;
    }

    json_decref(slines);

    return n;

failed:

    json_decref(slines);

    return -1;
}


/*
 * Shopify's lines now, by line id or by SKU: each one's SKU (a line
 * without one is "variant:<id>", as the normaliser would miss it too),
 * quantity now (current_quantity, after edits and refunds) and, when it
 * is exact, its amount in minor units (see the _amount below).  Lines of
 * one SKU add up when keyed by SKU.
 */

static json_t *
ngx_http_order_edit_rdiff_shopify_lines(json_t *order, int by_id, int exp)
{
    int          exact, incl;
    char         key[RDIFF_TEXT_LEN + 16], sku[RDIFF_TEXT_LEN + 16],
                 buf[RDIFF_TEXT_LEN];
    size_t       i, len;
    int64_t      q, a, sum;
    json_t      *lines, *items, *line, *v, *entry;
    const char  *s, *text;

    lines = json_object();
    if (lines == NULL) {
        return NULL;
    }

    incl = json_is_true(json_object_get(order, "taxes_included"));
    items = json_object_get(order, "line_items");

    json_array_foreach(items, i, line) {
        s = json_string_value(json_object_get(line, "sku"));

        if (s != NULL && *s != '\0') {
            snprintf(sku, sizeof(sku), "%s", s);

        } else if (ngx_http_order_edit_rdiff_text(
                       json_object_get(line, "variant_id"), buf, sizeof(buf),
                       &text, &len)
                   == 0 && len < sizeof(buf))
        {
            snprintf(sku, sizeof(sku), "variant:%.*s", (int) len, text);

        } else if (by_id) {
            snprintf(sku, sizeof(sku), "line");

        } else {
            continue;
        }

        if (by_id) {
            if (ngx_http_order_edit_rdiff_text(json_object_get(line, "id"),
                                               buf, sizeof(buf), &text, &len)
                != 0 || len >= sizeof(buf))
            {
                continue;
            }

            snprintf(key, sizeof(key), "%.*s", (int) len, text);

        } else {
            snprintf(key, sizeof(key), "%s", sku);
        }

        v = json_object_get(line, "current_quantity");
        if (v == NULL) {
            v = json_object_get(line, "quantity");
        }

        if (ngx_http_order_edit_rdiff_int(v, &q) != 0) {
            continue;
        }

        /* with taxes in the price NetSuite's line is not Shopify's */
        exact = !incl
                && ngx_http_order_edit_rdiff_line_amount(order, line, q, exp,
                                                         &a) == 0;

        entry = json_object_get(lines, key);

        if (entry == NULL) {
            entry = json_pack("{s:s, s:I}", "sku", sku, "quantity",
                              (json_int_t) q);
            if (entry == NULL
                || (exact && json_object_set_new(entry, "amount",
                                                 json_integer(a)) != 0)
                || json_object_set_new(lines, key, entry) != 0)
            {
                json_decref(lines);
                return NULL;
            }

            continue;
        }

        /* another line of the SKU */
        sum = json_integer_value(json_object_get(entry, "quantity")) + q;
        json_object_set_new(entry, "quantity", json_integer(sum));

        v = json_object_get(entry, "amount");

        if (v != NULL && exact
            && ngx_http_order_edit_money_add(json_integer_value(v), a, &sum)
               == 0)
        {
            json_object_set_new(entry, "amount", json_integer(sum));

        } else {
            json_object_del(entry, "amount");
        }
    }

    return lines;
}


/*
 * A line's amount now as our Sales Order books it (price times the
 * quantity now, less the discount still on those units), from Shopify's
 * own fields, where they make it exact: nothing removed, or what was
 * removed was refunded (the refund lines' subtotal says what the units
 * took with them), or no discount to share.  -1: not exact (a discount
 * on units an order edit removed is an estimate on both sides).
 */

static int
ngx_http_order_edit_rdiff_line_amount(json_t *order, json_t *line,
    int64_t cq, int exp, int64_t *amount)
{
    char         buf[RDIFF_TEXT_LEN], id[RDIFF_TEXT_LEN];
    size_t       i, k, len;
    int64_t      price, q, d, m, rq, rsub, n, gross;
    json_t      *refund, *rl, *v;
    const char  *text;

    if (ngx_http_order_edit_rdiff_money(json_object_get(line, "price"), exp,
                                        &price)
        != 0
        || ngx_http_order_edit_rdiff_int(json_object_get(line, "quantity"),
                                         &q)
           != 0
        || ngx_http_order_edit_rdiff_text(json_object_get(line, "id"), buf,
                                          sizeof(buf), &text, &len)
           != 0
        || len >= sizeof(id))
    {
        return -1;
    }

    memcpy(id, text, len);
    id[len] = '\0';

    d = 0;

    json_array_foreach(json_object_get(line, "discount_allocations"), i, v) {
        if (ngx_http_order_edit_rdiff_money(json_object_get(v, "amount"),
                                            exp, &m) != 0
            || ngx_http_order_edit_money_add(d, m, &d) != 0)
        {
            return -1;
        }
    }

    if (cq != q && d != 0) {
        /* the refunded units of the line, and their subtotal */
        rq = 0;
        rsub = 0;

        json_array_foreach(json_object_get(order, "refunds"), i, refund) {
            json_array_foreach(json_object_get(refund, "refund_line_items"),
                               k, rl)
            {
                if (ngx_http_order_edit_rdiff_text(
                        json_object_get(rl, "line_item_id"), buf,
                        sizeof(buf), &text, &len)
                    != 0 || len != strlen(id) || memcmp(text, id, len) != 0)
                {
                    continue;
                }

                if (ngx_http_order_edit_rdiff_int(
                        json_object_get(rl, "quantity"), &n) != 0
                    || ngx_http_order_edit_rdiff_money(
                        json_object_get(rl, "subtotal"), exp, &m) != 0
                    || ngx_http_order_edit_money_add(rq, n, &rq) != 0
                    || ngx_http_order_edit_money_add(rsub, m, &rsub) != 0)
                {
                    return -1;
                }
            }
        }

        if (rq != q - cq) {
            return -1;
        }

        /* what the refunded units took of the discount: gross - subtotal */
        if (ngx_http_order_edit_money_mul(price, rq, &gross) != 0
            || ngx_http_order_edit_money_sub(gross, rsub, &gross) != 0
            || ngx_http_order_edit_money_sub(d, gross, &d) != 0)
        {
            return -1;
        }
    }

    if (ngx_http_order_edit_money_mul(price, cq, &m) != 0
        || ngx_http_order_edit_money_sub(m, d, amount) != 0)
    {
        return -1;
    }

    return 0;
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


/*
 * Each Shopify refund's lines against its Credit Memo's item lines, by the
 * memo line's key, which the normaliser writes as the refund line item's
 * id ("<id>/<n>" for a bundle's components, summed by the report into one
 * line with "parts"): a refund line's quantity and subtotal are the memo
 * line's quantity and amount, whether the units were restocked or not (a
 * line not restocked is booked on the no-restock item under the same
 * key).  The memo's shipping, duties and discrepancy lines are not refund
 * lines (their keys are no ids, the report leaves them out): the memo's
 * total holds them.  Compared only for memos whose lines were read
 * ("lines" in the memo's summary).  Never actionable: the module does not
 * rewrite a Credit Memo, people correct it.
 */

static int
ngx_http_order_edit_rdiff_memo_lines(json_t *shopify, json_t *nmemos,
    const char *order, const char *since, int exp, json_t *rows, int *bad)
{
    int          n, amounts;
    char         rid[RDIFF_TEXT_LEN], buf[RDIFF_TEXT_LEN],
                 what[2 * RDIFF_TEXT_LEN + 32];
    size_t       i, len;
    int64_t      sq, nq, sa, na;
    json_t      *refund, *memo, *slines, *nlines, *sv, *nv, *v;
    const char  *key, *text, *cur, *pcur;

    n = 0;
    slines = NULL;

    /*
     * A store that books the customer's money (money presentment): an
     * order paid in another currency has memo amounts in that one, and
     * Shopify's "subtotal" in the shop's: quantities alone are compared
     */
    cur = json_string_value(json_object_get(shopify, "currency"));
    pcur = json_string_value(json_object_get(shopify,
                                             "presentment_currency"));
    amounts = (cur == NULL || pcur == NULL || strcmp(cur, pcur) == 0);

    json_array_foreach(json_object_get(shopify, "refunds"), i, refund) {
        if (ngx_http_order_edit_rdiff_text(json_object_get(refund, "id"),
                                           buf, sizeof(buf), &text, &len)
            != 0 || len >= sizeof(rid))
        {
            continue;
        }

        memcpy(rid, text, len);
        rid[len] = '\0';

        memo = json_object_get(nmemos, rid);
        nlines = json_is_object(memo) ? json_object_get(memo, "lines") : NULL;

        if (!json_is_object(nlines)) {
            /* no memo (its row says so), or its lines not read */
            continue;
        }

        slines = ngx_http_order_edit_rdiff_refund_lines(refund, exp,
                     amounts
                     || !json_is_true(json_object_get(memo, "presentment")),
                     bad);
        if (slines == NULL) {
            return -1;
        }

        json_object_foreach(slines, key, sv) {
            sq = json_integer_value(json_object_get(sv, "quantity"));
            v = json_object_get(sv, "amount");
            sa = json_integer_value(v);
            nv = json_object_get(nlines, key);

            snprintf(what, sizeof(what), "credit_memo_line:%s:%s", rid, key);

            if (nv == NULL) {
                if (sq == 0 && sa == 0) {
                    continue;
                }

                if (ngx_http_order_edit_rdiff_row(rows, order,
                                                  "missing_in_netsuite",
                                                  what, json_integer(sq),
                                                  NULL, since, 0))
                {
                    goto failed;
                }

                n++;
                continue;
            }

            if (ngx_http_order_edit_rdiff_int(json_object_get(nv, "quantity"),
                                              &nq)
                != 0)
            {
                *bad = 1;

            } else if (sq != nq
                       && !json_is_true(json_object_get(nv, "parts")))
            {
                if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch",
                                                  what, json_integer(sq),
                                                  json_integer(nq), since, 0))
                {
                    goto failed;
                }

                n++;
            }

            if (v == NULL) {
                /* no subtotal, or not exact money ("bad" says so) */
                continue;
            }

            if (ngx_http_order_edit_rdiff_money(json_object_get(nv, "amount"),
                                                exp, &na)
                != 0)
            {
                *bad = 1;
                continue;
            }

            if (sa != na) {
                snprintf(what, sizeof(what), "credit_memo_line_amount:%s:%s",
                         rid, key);

                if (ngx_http_order_edit_rdiff_row(rows, order, "mismatch",
                                what,
                                ngx_http_order_edit_rdiff_amount(sa, exp),
                                ngx_http_order_edit_rdiff_amount(na, exp),
                                since, 0))
                {
                    goto failed;
                }

                n++;
            }
        }

        /* memo lines with a refund line's key that the refund lacks */

        json_object_foreach(nlines, key, nv) {
            if (json_object_get(slines, key) != NULL) {
                continue;
            }

            if (ngx_http_order_edit_rdiff_int(json_object_get(nv, "quantity"),
                                              &nq)
                != 0)
            {
                *bad = 1;
                continue;
            }

            if (nq == 0) {
                /* as a Sales Order's: a line at 0 is no line */
                continue;
            }

            snprintf(what, sizeof(what), "credit_memo_line:%s:%s", rid, key);

            if (ngx_http_order_edit_rdiff_row(rows, order,
                                              "missing_in_shopify", what,
                                              NULL, json_integer(nq), since,
                                              0))
            {
                goto failed;
            }

            n++;
        }

        json_decref(slines);
        slines = NULL;
    }

    return n;

failed:

    json_decref(slines);

    return -1;
}


/*
 * A refund's lines by refund line item id: quantity, and (with "amounts")
 * the subtotal in minor units (shop money, as the memo books it by
 * default) when it is exact money, else no "amount" and "*bad" set.
 */

static json_t *
ngx_http_order_edit_rdiff_refund_lines(json_t *refund, int exp,
    int amounts, int *bad)
{
    char         key[RDIFF_TEXT_LEN], buf[RDIFF_TEXT_LEN];
    size_t       i, len;
    int64_t      q, a, sum;
    json_t      *lines, *rl, *v, *entry;
    const char  *text;

    lines = json_object();
    if (lines == NULL) {
        return NULL;
    }

    json_array_foreach(json_object_get(refund, "refund_line_items"), i, rl) {
        if (ngx_http_order_edit_rdiff_text(json_object_get(rl, "id"), buf,
                                           sizeof(buf), &text, &len)
            != 0 || len >= sizeof(key))
        {
            *bad = 1;
            continue;
        }

        memcpy(key, text, len);
        key[len] = '\0';

        if (ngx_http_order_edit_rdiff_int(json_object_get(rl, "quantity"), &q)
            != 0)
        {
            *bad = 1;
            continue;
        }

        v = json_object_get(rl, "subtotal");
        if (v == NULL) {
            v = json_object_get(json_object_get(json_object_get(rl,
                                    "subtotal_set"), "shop_money"), "amount");
        }

        if (!amounts) {
            v = NULL;
        }

        entry = json_object_get(lines, key);

        if (entry == NULL) {
            entry = json_pack("{s:I, s:I}", "quantity", (json_int_t) q,
                              "amount", (json_int_t) 0);
            if (entry == NULL || json_object_set_new(lines, key, entry) != 0) {
                json_decref(lines);
                return NULL;
            }

        } else {
            /* the same id twice: one line */
            if (ngx_http_order_edit_money_add(q,
                    json_integer_value(json_object_get(entry, "quantity")),
                    &q)
                != 0
                || json_object_set_new(entry, "quantity", json_integer(q))
                   != 0)
            {
                *bad = 1;
                continue;
            }
        }

        if (json_object_get(entry, "amount") == NULL) {
            continue;
        }

        if (v == NULL) {
            /* no subtotal given: the quantity alone is compared */
            json_object_del(entry, "amount");
            continue;
        }

        sum = json_integer_value(json_object_get(entry, "amount"));

        if (ngx_http_order_edit_rdiff_money(v, exp, &a) != 0
            || ngx_http_order_edit_money_add(sum, a, &sum) != 0)
        {
            *bad = 1;
            json_object_del(entry, "amount");
            continue;
        }

        json_object_set_new(entry, "amount", json_integer(sum));
    }

    return lines;
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
