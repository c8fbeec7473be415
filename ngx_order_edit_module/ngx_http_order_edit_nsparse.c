
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_nsparse.h"


static void ngx_http_order_edit_nsp_ref(json_t *root, const char *key,
    char *out);
static int ngx_http_order_edit_nsp_lines(const json_t *sl, const json_t *gl,
    char *detail);
static int ngx_http_order_edit_nsp_totals(const json_t *sent,
    const json_t *got, const json_t *doc, char *detail);
static const char *ngx_http_order_edit_nsp_number_text(const json_t *v,
    char *buf, size_t size);
static int ngx_http_order_edit_nsp_same_decimal(const char *text,
    const json_t *v);
static size_t ngx_http_order_edit_nsp_drift(const char *doc,
    const json_t *list, char *detail, size_t off);


int
ngx_http_order_edit_nsp_order(const char *body, size_t len,
    const char *updated_field, const char *taxes_field,
    ngx_http_order_edit_nsp_order_t *o)
{
    json_t      *root, *st, *id, *ref, *v, *items;
    const char  *letter;

    memset(o, 0, sizeof(ngx_http_order_edit_nsp_order_t));
    o->held = NGX_HTTP_ORDER_EDIT_NO_TIME;
    o->taxes_included = -1;
    o->lines = -1;

    root = json_loadb(body, len, 0, NULL);
    if (root == NULL) {
        return -1;
    }

    o->record = root;

    /* NetSuite answers references as objects; a bare letter is taken too */
    st = json_object_get(root, "orderStatus");
    id = json_is_object(st) ? json_object_get(st, "id") : st;
    ref = json_is_object(st) ? json_object_get(st, "refName") : NULL;

    letter = json_is_string(id) ? json_string_value(id) : NULL;

    if (letter != NULL && letter[0] >= 'A' && letter[0] <= 'H'
        && letter[1] == '\0')
    {
        o->status = letter[0];
    }

    if (json_is_string(ref)) {
        snprintf(o->status_name, sizeof(o->status_name), "%s",
                 json_string_value(ref));
    }

    v = updated_field ? json_object_get(root, updated_field) : NULL;

    if (!json_is_string(v)
        || ngx_http_order_edit_parse_time(json_string_value(v),
                                          json_string_length(v), &o->held)
           != 0)
    {
        o->held = NGX_HTTP_ORDER_EDIT_NO_TIME;
    }

    v = taxes_field ? json_object_get(root, taxes_field) : NULL;

    if (json_is_boolean(v)) {
        o->taxes_included = json_is_true(v);
    }

    v = json_object_get(root, "id");

    if (json_is_string(v)
        && json_string_length(v) <= NGX_HTTP_ORDER_EDIT_NSP_ID_LEN)
    {
        memcpy(o->id, json_string_value(v), json_string_length(v) + 1);
    }

    ngx_http_order_edit_nsp_ref(root, "entity", o->entity);
    ngx_http_order_edit_nsp_ref(root, "currency", o->currency);
    ngx_http_order_edit_nsp_ref(root, "subsidiary", o->subsidiary);
    ngx_http_order_edit_nsp_ref(root, "location", o->location);

    items = json_object_get(json_object_get(root, "item"), "items");

    if (json_is_array(items)) {
        o->lines = (int) json_array_size(items);
    }

    return 0;
}


/* {"entity": {"id": "42", "refName": "..."}} -> "42" */

static void
ngx_http_order_edit_nsp_ref(json_t *root, const char *key, char *out)
{
    json_t  *ref;

    ref = json_object_get(root, key);
    ref = json_is_object(ref) ? json_object_get(ref, "id") : NULL;

    if (json_is_string(ref)
        && json_string_length(ref) <= NGX_HTTP_ORDER_EDIT_NSP_ID_LEN)
    {
        memcpy(out, json_string_value(ref), json_string_length(ref) + 1);
    }
}


void
ngx_http_order_edit_nsp_order_free(ngx_http_order_edit_nsp_order_t *o)
{
    json_decref(o->record);
    o->record = NULL;
}


int
ngx_http_order_edit_nsp_suiteql(const char *body, size_t len, char *id,
    size_t size)
{
    int          n;
    json_t      *root, *items;
    size_t       idlen;
    const char  *s;

    id[0] = '\0';

    root = json_loadb(body, len, 0, NULL);
    items = json_object_get(root, "items");

    if (!json_is_array(items)) {
        json_decref(root);
        return -1;
    }

    n = (int) json_array_size(items);

    s = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    idlen = s ? strlen(s) : 0;

    /* digits, and no more than an int64 holds */
    if (idlen > 0 && idlen < size && strspn(s, "0123456789") == idlen
        && (idlen < 19
            || (idlen == 19 && strcmp(s, "9223372036854775807") <= 0)))
    {
        memcpy(id, s, idlen + 1);
    }

    json_decref(root);

    return n;
}


int
ngx_http_order_edit_nsp_error(const char *body, size_t len,
    ngx_http_order_edit_nsp_error_t *err)
{
    json_t  *root, *details, *first, *code, *text;

    memset(err, 0, sizeof(ngx_http_order_edit_nsp_error_t));

    root = json_loadb(body, len, 0, NULL);
    if (root == NULL) {
        return -1;
    }

    err->root = root;

    details = json_object_get(root, "o:errorDetails");
    first = json_is_array(details) ? json_array_get(details, 0) : NULL;
    code = first ? json_object_get(first, "o:errorCode") : NULL;
    text = first ? json_object_get(first, "detail") : NULL;

    if (first == NULL) {
        /* a RESTlet's error: {"error": {"code": "...", "message": "..."}} */
        first = json_object_get(root, "error");
        code = json_is_object(first) ? json_object_get(first, "code") : NULL;
        text = json_is_object(first) ? json_object_get(first, "message")
                                     : NULL;
    }

    if (!json_is_string(code) || !json_is_string(text)) {
        return -1;
    }

    err->code = json_string_value(code);
    err->text = json_string_value(text);

    return 0;
}


int
ngx_http_order_edit_nsp_restlet(const char *body, size_t len, char *detail)
{
    char                            errbuf[128];
    json_t                         *root, *results, *v, *err;
    size_t                          off;
    const char                     *doc, *code, *text;
    ngx_http_order_edit_json_rc_e   rc;

    detail[0] = '\0';

    /* exact: the totals told are NetSuite's and the document's texts */
    root = ngx_http_order_edit_json_load(body, len, 16, len, &rc, errbuf,
                                         sizeof(errbuf));
    if (root == NULL) {
        snprintf(detail, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN,
                 "the RESTlet's answer is no JSON: %s", errbuf);
        return -1;
    }

    results = json_object_get(root, "results");

    if (!json_is_true(json_object_get(root, "ok"))
        || !json_is_object(results))
    {
        /* a script that caught its own error and answered it */
        err = json_object_get(root, "error");
        code = json_string_value(json_object_get(err, "code"));
        text = json_string_value(json_object_get(err, "message"));

        snprintf(detail, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN,
                 "the RESTlet did not answer \"ok\": true: %s: %s",
                 code ? code : "no error code", text ? text : "no message");

        json_decref(root);
        return -1;
    }

    off = 0;

    json_object_foreach(results, doc, v) {
        off = ngx_http_order_edit_nsp_drift(doc,
                                       json_object_get(v, "discrepancies"),
                                       detail, off);
    }

    json_decref(root);

    return off ? 1 : 0;
}


/* one document's discrepancies told after detail's first off bytes */

static size_t
ngx_http_order_edit_nsp_drift(const char *doc, const json_t *list,
    char *detail, size_t off)
{
    int          n;
    char         a[64], b[64];
    size_t       i;
    json_t      *d, *v, *w;
    const char  *field, *da, *db;

    if (!json_is_array(list)) {
        return off;
    }

    json_array_foreach(list, i, d) {
        field = json_string_value(json_object_get(d, "field"));
        v = json_object_get(d, "document");
        w = json_object_get(d, "netsuite");

        /* a number marker is a string too: the number first */
        da = (json_is_number(v) || ngx_http_order_edit_json_is_marker(v))
             ? ngx_http_order_edit_nsp_number_text(v, a, sizeof(a))
             : json_string_value(v);
        db = (json_is_number(w) || ngx_http_order_edit_json_is_marker(w))
             ? ngx_http_order_edit_nsp_number_text(w, b, sizeof(b))
             : json_string_value(w);

        da = da ? da : "?";
        db = db ? db : "?";

        if (off >= NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN - 1) {
            /* the first ones told, and at least one counted */
            return off;
        }

        n = snprintf(detail + off, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN - off,
                     "%s%s %s: document %s, NetSuite %s", off ? "; " : "",
                     doc, field ? field : "?", da, db);

        if (n < 0) {
            continue;
        }

        off += (size_t) n;

        if (off > NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN - 1) {
            off = NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN - 1;
        }
    }

    return off;
}


int
ngx_http_order_edit_nsp_memo(const char *body, size_t len,
    ngx_http_order_edit_nsp_memo_t *m)
{
    char                            errbuf[128];
    json_t                         *v;
    size_t                          n;
    const char                     *s;
    ngx_http_order_edit_json_rc_e   rc;

    memset(m, 0, sizeof(ngx_http_order_edit_nsp_memo_t));

    /* exact: the amount paid out is the one NetSuite wrote */
    m->root = ngx_http_order_edit_json_load(body, len, 16, len, &rc, errbuf,
                                            sizeof(errbuf));

    v = json_object_get(m->root, "unapplied");
    m->id = json_object_get(m->root, "id");
    m->entity = json_object_get(json_object_get(m->root, "entity"), "id");
    m->currency = json_object_get(json_object_get(m->root, "currency"),
                                  "id");
    m->unapplied = v;

    if (!json_is_string(m->currency)) {
        m->currency = NULL;
    }

    /* an exact number is a marker string: NUL, then its text */
    s = json_is_string(v) ? json_string_value(v) : NULL;
    n = s ? json_string_length(v) : 0;

    if (m->root == NULL || !json_is_string(m->id)
        || !json_is_string(m->entity)
        || !(json_is_integer(v) || (s != NULL && s[0] == '\0' && n > 1)))
    {
        return -1;
    }

    m->nothing = json_is_integer(v) ? json_integer_value(v) <= 0
                                    : (s[1] == '-'
                                       || strspn(s + 1, "0.") == n - 1);

    return 0;
}


/*
 * Silent drift: a NetSuite script, workflow or rounding that changes what
 * was sent.  Both bodies are loaded exact, so "9.50" and 9.5 compare as
 * the same number and nothing is rounded through a double.
 */

int
ngx_http_order_edit_nsp_readback(const char *sent, size_t sent_len,
    const char *got, size_t got_len, const json_t *doc, char *detail)
{
    int                             rc;
    char                            errbuf[128];
    json_t                         *s, *g, *sl, *gl;
    ngx_http_order_edit_json_rc_e   jrc;

    s = ngx_http_order_edit_json_load(sent, sent_len, 64, sent_len, &jrc,
                                      errbuf, sizeof(errbuf));
    g = ngx_http_order_edit_json_load(got, got_len, 64, got_len, &jrc,
                                      errbuf, sizeof(errbuf));

    sl = json_object_get(json_object_get(s, "item"), "items");
    gl = json_object_get(json_object_get(g, "item"), "items");

    detail[0] = '\0';

    /* nothing line by line was sent: nothing to compare */
    rc = json_is_array(sl) ? ngx_http_order_edit_nsp_lines(sl, gl, detail)
                           : 0;

    if (rc == 0 && json_is_array(sl)) {
        rc = ngx_http_order_edit_nsp_totals(s, g, doc, detail);
    }

    json_decref(s);
    json_decref(g);

    return rc;
}


static int
ngx_http_order_edit_nsp_lines(const json_t *sl, const json_t *gl,
    char *detail)
{
    char          idbuf[64];
    size_t        i, n;
    json_t       *a, *b, *si, *gi;
    const char   *what;

    if (!json_is_array(gl)) {
        what = "no item lines came back";
        goto count;
    }

    n = json_array_size(sl);

    if (json_array_size(gl) != n) {
        what = "a different number of lines";
        goto count;
    }

    for (i = 0; i < n; i++) {
        a = json_array_get(sl, i);
        b = json_array_get(gl, i);

        si = json_object_get(json_object_get(a, "item"), "id");
        gi = json_object_get(json_object_get(b, "item"), "id");

        snprintf(idbuf, sizeof(idbuf), "%s",
                 json_is_string(si) ? json_string_value(si) : "");

        /* an item sent by external id comes back by internal id */
        if (json_is_string(si)
            && !(json_is_string(gi)
                 && strcmp(json_string_value(si), json_string_value(gi))
                    == 0))
        {
            what = "another item";
            goto line;
        }

        if (!ngx_http_order_edit_nsp_same_number(
                 json_object_get(a, "quantity"),
                 json_object_get(b, "quantity")))
        {
            what = "another quantity";
            goto line;
        }

        if (json_object_get(a, "amount")
            && !ngx_http_order_edit_nsp_same_number(
                    json_object_get(a, "amount"),
                    json_object_get(b, "amount")))
        {
            what = "another amount";
            goto line;
        }
    }

    return 0;

line:

    snprintf(detail, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN,
             "read back after the write: line %zu (item %s) has %s than "
             "was sent", i + 1, idbuf, what);
    return 1;

count:

    snprintf(detail, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN,
             "read back after the write: %s than were sent", what);
    return 1;
}


/*
 * When Shopify's tax was sent as tax details (the override), NetSuite's
 * own tax total and total must be Shopify's to the minor unit: anything
 * else (a script, a workflow, an engine that ignored the override) is a
 * discrepancy showing both values.  Without the override NetSuite's tax
 * is its own by the store's choice, and only the lines are compared.
 */

static int
ngx_http_order_edit_nsp_totals(const json_t *sent, const json_t *got,
    const json_t *doc, char *detail)
{
    char          buf[64];
    json_t       *totals, *want, *have;
    unsigned      i;

    static const char  *names[][2] = {
        { "tax", "taxTotal" }, { "total", "total" }
    };

    if (!json_is_true(json_object_get(sent, "taxDetailsOverride"))) {
        return 0;
    }

    totals = json_object_get(json_object_get(doc, "sales_order"), "totals");

    for (i = 0; i < 2; i++) {
        want = json_object_get(totals, names[i][0]);
        have = json_object_get(got, names[i][1]);

        if (!json_is_string(want)) {
            continue;
        }

        if (have != NULL
            && ngx_http_order_edit_nsp_same_decimal(json_string_value(want),
                                                    have))
        {
            continue;
        }

        snprintf(detail, NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN,
                 "read back after the write: NetSuite's %s is %s, "
                 "Shopify's %s is %s", names[i][1],
                 have ? ngx_http_order_edit_nsp_number_text(have, buf,
                                                            sizeof(buf))
                      : "missing",
                 names[i][0], json_string_value(want));

        return 1;
    }

    return 0;
}


/* a JSON number's exact text (an exact-JSON marker, an integer), or "?" */

static const char *
ngx_http_order_edit_nsp_number_text(const json_t *v, char *buf, size_t size)
{
    size_t       len;
    const char  *t;

    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long) json_integer_value(v));
        return buf;
    }

    t = ngx_http_order_edit_json_marker_text(v, &len);

    if (t == NULL || len >= size) {
        return "?";
    }

    memcpy(buf, t, len);
    buf[len] = '\0';

    return buf;
}


/* a decimal string and a JSON number, the same value: "9.50" and 9.5 */

static int
ngx_http_order_edit_nsp_same_decimal(const char *text, const json_t *v)
{
    int      same;
    json_t  *a;

    a = ngx_http_order_edit_json_number(text, strlen(text));
    if (a == NULL) {
        return 0;
    }

    same = ngx_http_order_edit_nsp_same_number(a, v);
    json_decref(a);

    return same;
}


int
ngx_http_order_edit_nsp_same_number(const json_t *a, const json_t *b)
{
    char          t[2][64];
    size_t        len[2], n;
    unsigned      k;
    const char   *s;
    const json_t *v;

    for (k = 0; k < 2; k++) {
        v = (k == 0) ? a : b;

        if (json_is_integer(v)) {
            len[k] = (size_t) snprintf(t[k], sizeof(t[k]), "%lld",
                                       (long long) json_integer_value(v));

        } else if (ngx_http_order_edit_json_is_marker(v)) {
            s = ngx_http_order_edit_json_marker_text(v, &n);
            if (s == NULL || n >= sizeof(t[k])) {
                return 0;
            }

            memcpy(t[k], s, n);
            len[k] = n;

        } else {
            return 0;
        }

        /* "9.50" -> "9.5", "2.0" -> "2": the same value, written so */
        if (memchr(t[k], '.', len[k]) != NULL) {
            while (len[k] && t[k][len[k] - 1] == '0') {
                len[k]--;
            }

            if (len[k] && t[k][len[k] - 1] == '.') {
                len[k]--;
            }
        }
    }

    return len[0] == len[1] && memcmp(t[0], t[1], len[0]) == 0;
}
