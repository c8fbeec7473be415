
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * A day's report of a store is the file <dir>/report-<YYYY-MM-DD>-<shop>
 * .jsonl: one JSON object a line, either a row of rdiff.h (with "shop")
 * or a run's record ({"run": {...}}).  A file per store and day, not the
 * zone: the zone is gone after a restart, the journal is optional and
 * holds webhooks, and a month's close needs 31 days; small files in a
 * directory the operator names are kept, copied and pruned (keep=) by
 * name.  The location reads one day's files: small (bounded below), read
 * whole, as the static module reads a file without aio.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_report.h"
#include "ngx_http_order_edit_reconcile.h"
#include "ngx_http_order_edit_ingest.h"


/* a day's file of one store: far more rows than a day should have */
#define NGX_HTTP_ORDER_EDIT_REPORT_MAX_FILE  (8 * 1024 * 1024)

/* the shortest keep=: a month is closed from the report */
#define NGX_HTTP_ORDER_EDIT_REPORT_MIN_KEEP  31


static ngx_int_t ngx_http_order_edit_report_read(ngx_http_request_t *r,
    ngx_http_order_edit_store_conf_t *store, ngx_str_t *date, json_t *doc);
static ngx_int_t ngx_http_order_edit_report_csv(ngx_http_request_t *r,
    json_t *doc);
static u_char *ngx_http_order_edit_report_field(u_char *p, const char *s,
    size_t len);
static size_t ngx_http_order_edit_report_field_len(const char *s,
    size_t len);
static ngx_uint_t ngx_http_order_edit_report_date_valid(ngx_str_t *date);


static const char  *ngx_http_order_edit_report_kinds[] = {
    "mismatch", "missing_in_netsuite", "missing_in_shopify", NULL
};


/* report dir=<path> [at=<HH:MM>] [keep=<days>d]; */

char *
ngx_http_order_edit_report_set(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_store_conf_t  *store = conf;

    u_char                              *p;
    ngx_int_t                            n, h, m;
    ngx_str_t                           *value, v;
    ngx_uint_t                           i;
    ngx_file_info_t                      fi;
    ngx_http_order_edit_report_conf_t   *rpc;

    if (store->reconcile == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"report\" needs \"reconcile\" before it in the "
                           "block: the report reads Shopify through it");
        return NGX_CONF_ERROR;
    }

    if (store->reconcile->report) {
        return "is duplicate";
    }

    rpc = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_report_conf_t));
    if (rpc == NULL) {
        return NGX_CONF_ERROR;
    }

    rpc->at = 2 * 60;
    rpc->keep = NGX_HTTP_ORDER_EDIT_REPORT_MIN_KEEP;
    rpc->file = cf->conf_file->file.name;
    rpc->line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        if (p == NULL) {
            goto invalid;
        }

        v.data = p + 1;
        v.len = value[i].data + value[i].len - v.data;
        n = p - value[i].data;

        if (n == 3 && ngx_strncmp(value[i].data, "dir", 3) == 0) {
            if (v.len == 0) {
                goto invalid;
            }

            while (v.len > 1 && v.data[v.len - 1] == '/') {
                v.len--;
            }

            if (ngx_conf_full_name(cf->cycle, &v, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            rpc->dir = v;
            continue;
        }

        if (n == 2 && ngx_strncmp(value[i].data, "at", 2) == 0) {
            h = (v.len == 5 && v.data[2] == ':') ? ngx_atoi(v.data, 2) : -1;
            m = (h >= 0) ? ngx_atoi(v.data + 3, 2) : -1;

            if (h < 0 || h > 23 || m < 0 || m > 59) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid report time \"%V\", expected "
                                   "HH:MM like 02:00", &v);
                return NGX_CONF_ERROR;
            }

            rpc->at = h * 60 + m;
            continue;
        }

        if (n == 4 && ngx_strncmp(value[i].data, "keep", 4) == 0) {
            n = (v.len > 1 && v.data[v.len - 1] == 'd')
                ? ngx_atoi(v.data, v.len - 1) : NGX_ERROR;

            if (n < NGX_HTTP_ORDER_EDIT_REPORT_MIN_KEEP) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid report keep \"%V\", expected "
                                   "days like 31d, at least 31d so that "
                                   "a month can be closed from it", &v);
                return NGX_CONF_ERROR;
            }

            rpc->keep = n;
            continue;
        }

        goto invalid;
    }

    if (rpc->dir.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"report\" needs dir=, where a day's report of "
                           "store \"%V\" is kept", &store->name);
        return NGX_CONF_ERROR;
    }

    /* the master writes nothing there: a typo shows now, not at 02:00 */
    if (ngx_file_info(rpc->dir.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "report dir \"%V\" is not a directory",
                           &rpc->dir);
        return NGX_CONF_ERROR;
    }

    store->reconcile->report = rpc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"report\", expected "
                       "dir=, at= or keep=", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * GET <location>?date=YYYY-MM-DD&shop=<shop>&format=json|csv: the rows of
 * that day (today, local to the server, by default) of every reported
 * store of the location's zone, or of one.
 */

ngx_int_t
ngx_http_order_edit_report_handler(ngx_http_request_t *r)
{
    u_char                              *p;
    json_t                              *doc, *summary, *rows, *row;
    size_t                               i;
    ngx_tm_t                             tm;
    ngx_int_t                            rc;
    ngx_str_t                            date, shop, format, *zname;
    ngx_uint_t                           k, csv, found;
    const char                          *kind;
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_loc_conf_t      *olcf;
    ngx_http_order_edit_main_conf_t     *omcf;
    ngx_http_order_edit_store_conf_t   **stores;

    u_char  today[sizeof("2026-12-06")];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use GET", 0);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    csv = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 3 && ngx_strncmp(format.data, "csv", 3) == 0) {
            csv = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_format", "format is json or csv", 0);
        }
    }

    if (ngx_http_arg(r, (u_char *) "date", 4, &date) == NGX_OK) {
        if (!ngx_http_order_edit_report_date_valid(&date)) {
            return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_date", "date is YYYY-MM-DD", 0);
        }

    } else {
        ngx_localtime(ngx_time(), &tm);
        p = ngx_sprintf(today, "%4d-%02d-%02d", tm.ngx_tm_year,
                        tm.ngx_tm_mon, tm.ngx_tm_mday);
        date.data = today;
        date.len = p - today;
    }

    ngx_str_null(&shop);

    if (ngx_http_arg(r, (u_char *) "shop", 4, &shop) == NGX_OK
        && !ngx_http_order_edit_shop_domain_valid(&shop))
    {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_shop", "shop is a myshopify.com domain", 0);
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);
    zone = olcf->shm_zone->data;

    doc = json_pack("{s:s%, s:o, s:{s:i, s:i, s:i, s:i}, s:[], s:[]}",
                    "date", date.data, date.len,
                    "shop", shop.len ? json_stringn((char *) shop.data,
                                                    shop.len)
                                     : json_null(),
                    "summary", "mismatch", 0, "missing_in_netsuite", 0,
                    "missing_in_shopify", 0, "actionable", 0,
                    "stores", "rows");
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    stores = omcf->stores.elts;
    found = 0;

    for (k = 0; k < omcf->stores.nelts; k++) {

        if (stores[k]->reconcile == NULL
            || stores[k]->reconcile->report == NULL)
        {
            continue;
        }

        zname = &stores[k]->reconcile->zone_name;

        if (zname->len
            && (zname->len != zone->name.len
                || ngx_strncmp(zname->data, zone->name.data, zname->len)
                   != 0))
        {
            continue;
        }

        if (shop.len
            && (shop.len != stores[k]->name.len
                || ngx_strncasecmp(shop.data, stores[k]->name.data,
                                   shop.len) != 0))
        {
            continue;
        }

        found = 1;

        if (ngx_http_order_edit_report_read(r, stores[k], &date, doc)
            != NGX_OK)
        {
            json_decref(doc);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (shop.len && !found) {
        json_decref(doc);
        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND,
                   "unknown_shop", "no reported store of that name", 0);
    }

    summary = json_object_get(doc, "summary");
    rows = json_object_get(doc, "rows");

    json_array_foreach(rows, i, row) {
        kind = json_string_value(json_object_get(row, "kind"));

        for (k = 0; kind && ngx_http_order_edit_report_kinds[k]; k++) {
            if (ngx_strcmp(kind, ngx_http_order_edit_report_kinds[k]) == 0) {
                json_object_set_new(summary, kind, json_integer(
                    json_integer_value(json_object_get(summary, kind)) + 1));
                break;
            }
        }

        if (json_is_true(json_object_get(row, "actionable"))) {
            json_object_set_new(summary, "actionable", json_integer(
                json_integer_value(json_object_get(summary, "actionable"))
                + 1));
        }
    }

    if (csv) {
        return ngx_http_order_edit_report_csv(r, doc);
    }

    return ngx_http_order_edit_send_json(r, doc);
}


static ngx_int_t
ngx_http_order_edit_report_read(ngx_http_request_t *r,
    ngx_http_order_edit_store_conf_t *store, ngx_str_t *date, json_t *doc)
{
    u_char                             *buf, *p, *last, *eol;
    json_t                             *row, *rows, *st, *run, *out;
    ssize_t                             n;
    ngx_fd_t                            fd;
    ngx_str_t                           path;
    json_error_t                        err;
    ngx_file_info_t                     fi;
    ngx_http_order_edit_report_conf_t  *rpc;

    rpc = store->reconcile->report;

    path.len = rpc->dir.len + sizeof("/report--.jsonl") - 1 + date->len
               + store->name.len;
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path.data, "%V/report-%V-%V.jsonl%Z", &rpc->dir, date,
                &store->name);

    st = json_pack("{s:s%, s:b, s:n}", "shop", store->name.data,
                   store->name.len, "ran", 0, "run");
    if (st == NULL
        || json_array_append_new(json_object_get(doc, "stores"), st) != 0)
    {
        return NGX_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            /* no run that day: the store says so, with no rows */
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", path.data);
        return NGX_ERROR;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", path.data);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_ORDER_EDIT_REPORT_MAX_FILE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "order_edit: report \"%s\" is larger than %d bytes",
                      path.data, NGX_HTTP_ORDER_EDIT_REPORT_MAX_FILE);
        goto failed;
    }

    buf = ngx_pnalloc(r->pool, (size_t) ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, buf, (size_t) ngx_file_size(&fi));

    if (n == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_read_fd_n " \"%s\" failed", path.data);
        goto failed;
    }

    ngx_close_file(fd);

    json_object_set_new(st, "ran", json_true());
    rows = json_object_get(doc, "rows");

    for (p = buf, last = buf + n; p < last; p = eol + 1) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            /* a line still being written is not read */
            break;
        }

        if (eol == p) {
            continue;
        }

        row = json_loadb((char *) p, eol - p, 0, &err);

        if (!json_is_object(row)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "order_edit: report \"%s\": a line skipped: %s",
                          path.data, err.text);
            json_decref(row);
            continue;
        }

        run = json_object_get(row, "run");

        if (run != NULL) {
            json_object_set(st, "run", run);
            json_decref(row);
            continue;
        }

        /* the shop first, as in the CSV */
        out = json_pack("{s:s%}", "shop", store->name.data,
                        store->name.len);

        if (out == NULL || json_object_update(out, row) != 0
            || json_array_append_new(rows, out) != 0)
        {
            json_decref(row);
            return NGX_ERROR;
        }

        json_decref(row);
    }

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


/* RFC 4180: CRLF, fields quoted when they hold , " CR or LF */

static ngx_int_t
ngx_http_order_edit_report_csv(ngx_http_request_t *r, json_t *doc)
{
    u_char       *body, *p;
    json_t       *rows, *row, *v;
    size_t        i, k, len, vlen;
    const char   *s;
    u_char        num[NGX_INT64_LEN + 1];

    static const char  *cols[] = {
        "shop", "order", "kind", "what", "shopify", "netsuite", "since",
        "actionable", NULL
    };

    static ngx_str_t  type = ngx_string("text/csv; charset=utf-8");

    rows = json_object_get(doc, "rows");

    /* twice: the length, then the text */
    len = 0;
    body = NULL;

again:

    p = body;

    for (k = 0; cols[k]; k++) {
        if (body) {
            p = ngx_sprintf(p, "%s%s", k ? "," : "", cols[k]);
        } else {
            len += ngx_strlen(cols[k]) + 1;
        }
    }

    if (body) {
        *p++ = '\r'; *p++ = '\n';
    } else {
        len += 2;
    }

    json_array_foreach(rows, i, row) {
        for (k = 0; cols[k]; k++) {
            v = json_object_get(row, cols[k]);

            if (json_is_string(v)) {
                s = json_string_value(v);
                vlen = json_string_length(v);

            } else if (json_is_integer(v)) {
                s = (char *) num;
                vlen = ngx_sprintf(num, "%L", (int64_t) json_integer_value(v))
                       - num;

            } else if (json_is_boolean(v)) {
                s = json_is_true(v) ? "true" : "false";
                vlen = ngx_strlen(s);

            } else {
                s = "";
                vlen = 0;
            }

            if (body) {
                if (k) {
                    *p++ = ',';
                }

                p = ngx_http_order_edit_report_field(p, s, vlen);

            } else {
                len += 1 + ngx_http_order_edit_report_field_len(s, vlen);
            }
        }

        if (body) {
            *p++ = '\r'; *p++ = '\n';
        } else {
            len += 2;
        }
    }

    if (body == NULL) {
        body = ngx_pnalloc(r->pool, len);
        if (body == NULL) {
            json_decref(doc);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        goto again;
    }

    json_decref(doc);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK, &type, body, p - body,
                                    0);
}


/*
 * A field a spreadsheet would take for a formula (= + @, a tab) gets a
 * leading "'"; a negative amount stays a number.
 */

static size_t
ngx_http_order_edit_report_field_len(const char *s, size_t len)
{
    size_t  i, n;

    n = len + 3;

    for (i = 0; i < len; i++) {
        if (s[i] == '"') {
            n++;
        }
    }

    return n;
}


static u_char *
ngx_http_order_edit_report_field(u_char *p, const char *s, size_t len)
{
    size_t      i;
    ngx_uint_t  quote;

    quote = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = 1;
            break;
        }
    }

    if (quote) {
        *p++ = '"';
    }

    if (len && (s[0] == '=' || s[0] == '+' || s[0] == '@' || s[0] == '\t')) {
        *p++ = '\'';
    }

    for (i = 0; i < len; i++) {
        if (s[i] == '"') {
            *p++ = '"';
        }

        *p++ = s[i];
    }

    if (quote) {
        *p++ = '"';
    }

    return p;
}


static ngx_uint_t
ngx_http_order_edit_report_date_valid(ngx_str_t *date)
{
    ngx_int_t  y, m, d;

    if (date->len != 10 || date->data[4] != '-' || date->data[7] != '-') {
        return 0;
    }

    y = ngx_atoi(date->data, 4);
    m = ngx_atoi(date->data + 5, 2);
    d = ngx_atoi(date->data + 8, 2);

    return y >= 2000 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}
