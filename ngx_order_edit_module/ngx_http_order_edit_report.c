
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
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_journal.h"
#include "ngx_http_order_edit_nsclient.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_rdiff.h"
#include "ngx_http_order_edit_money.h"
#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_dispatch.h"


/* a day's file of one store: far more rows than a day should have */
#define NGX_HTTP_ORDER_EDIT_REPORT_MAX_FILE  (8 * 1024 * 1024)

/* the shortest keep=: a month is closed from the report */
#define NGX_HTTP_ORDER_EDIT_REPORT_MIN_KEEP  31

/*
 * max_exceptions=: exceptions a run raises; a person works through them,
 * and the next run raises more while NetSuite still differs
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_MAX_EXC   100


static ngx_int_t ngx_http_order_edit_report_ask(ngx_http_request_t *r);
static ngx_int_t ngx_http_order_edit_report_target(ngx_http_request_t *r,
    ngx_str_t *shop, ngx_http_order_edit_zone_t **zone,
    ngx_http_order_edit_main_conf_t **omcf);
static ngx_uint_t ngx_http_order_edit_report_matches(
    ngx_http_order_edit_store_conf_t *store, ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop);
static ngx_http_order_edit_recon_shop_t *ngx_http_order_edit_report_shop(
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop);
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


/* report dir=<path> [at=<HH:MM>] [keep=<days>d] [max_exceptions=<n>]; */

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
    rpc->max_exc = NGX_HTTP_ORDER_EDIT_REPORT_MAX_EXC;
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

        if (n == 14 && ngx_strncmp(value[i].data, "max_exceptions", 14) == 0)
        {
            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid report max_exceptions \"%V\", "
                                   "expected a number (0: none raised)",
                                   &v);
                return NGX_CONF_ERROR;
            }

            rpc->max_exc = n;
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
                       "dir=, at=, keep= or max_exceptions=", &value[i]);

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
    ngx_str_t                            date, shop, format;
    ngx_uint_t                           k, csv, found;
    const char                          *kind;
    ngx_http_order_edit_zone_t          *zone;
    ngx_http_order_edit_main_conf_t     *omcf;
    ngx_http_order_edit_store_conf_t   **stores;

    u_char  today[sizeof("2026-12-06")];

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_order_edit_report_ask(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_order_edit_allow(r, "GET, HEAD, POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use GET, or POST to run now", 0);
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

    if (ngx_http_order_edit_report_target(r, &shop, &zone, &omcf)
        != NGX_OK)
    {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_shop", "shop is a myshopify.com domain", 0);
    }

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

        if (!ngx_http_order_edit_report_matches(stores[k], zone, &shop)) {
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


/*
 * The location's zone and the stores, and ?shop= when given (a shop's
 * domain; NGX_DECLINED: not one).
 */

static ngx_int_t
ngx_http_order_edit_report_target(ngx_http_request_t *r, ngx_str_t *shop,
    ngx_http_order_edit_zone_t **zone, ngx_http_order_edit_main_conf_t **omcf)
{
    ngx_http_order_edit_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    *omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);
    *zone = olcf->shm_zone->data;

    ngx_str_null(shop);

    if (ngx_http_arg(r, (u_char *) "shop", 4, shop) == NGX_OK
        && !ngx_http_order_edit_shop_domain_valid(shop))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* 1 if the store is reported in the zone (and is the shop, when asked) */

static ngx_uint_t
ngx_http_order_edit_report_matches(ngx_http_order_edit_store_conf_t *store,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *shop)
{
    ngx_str_t  *zname;

    if (store->reconcile == NULL || store->reconcile->report == NULL) {
        return 0;
    }

    zname = &store->reconcile->zone_name;

    if (zname->len
        && (zname->len != zone->name.len
            || ngx_strncmp(zname->data, zone->name.data, zname->len) != 0))
    {
        return 0;
    }

    return shop->len == 0
           || (shop->len == store->name.len
               && ngx_strncasecmp(shop->data, store->name.data, shop->len)
                  == 0);
}


/*
 * POST <location>[?shop=<shop>]: a run now, of one reported store or of
 * every one of the zone; the dispatching worker starts it at its next
 * tick (a run under way is not started again).  202 with the shops.
 */

static ngx_int_t
ngx_http_order_edit_report_ask(ngx_http_request_t *r)
{
    char                               *text;
    json_t                             *doc, *shops;
    ngx_int_t                           rc;
    ngx_str_t                           shop, body;
    ngx_uint_t                          k;
    ngx_http_order_edit_zone_t         *zone;
    ngx_http_order_edit_main_conf_t    *omcf;
    ngx_http_order_edit_recon_shop_t   *rs;
    ngx_http_order_edit_store_conf_t  **stores;

    static ngx_str_t  type = ngx_string("application/json");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_order_edit_report_target(r, &shop, &zone, &omcf)
        != NGX_OK)
    {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_shop", "shop is a myshopify.com domain", 0);
    }

    doc = json_pack("{s:[]}", "asked");
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    shops = json_object_get(doc, "asked");
    stores = omcf->stores.elts;

    for (k = 0; k < omcf->stores.nelts; k++) {

        if (!ngx_http_order_edit_report_matches(stores[k], zone, &shop)) {
            continue;
        }

        rs = ngx_http_order_edit_report_shop(zone, &stores[k]->name);
        if (rs == NULL) {
            /* the dispatching worker has not ticked for it yet */
            continue;
        }

        ngx_shmtx_lock(&zone->shpool->mutex);
        rs->report_asked = 1;
        ngx_shmtx_unlock(&zone->shpool->mutex);

        json_array_append_new(shops,
                              json_stringn((char *) stores[k]->name.data,
                                           stores[k]->name.len));
    }

    if (json_array_size(shops) == 0) {
        json_decref(doc);
        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND,
                   "unknown_shop", "no reported store of that name is "
                   "running", 0);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "order_edit: report asked for %V",
                  shop.len ? &shop : &zone->name);

    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = ngx_strlen(text);
    body.data = ngx_pnalloc(r->pool, body.len + 1);

    if (body.data == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, text, body.len);
    body.data[body.len++] = '\n';
    free(text);

    return ngx_http_order_edit_send(r, NGX_HTTP_ACCEPTED, &type, body.data,
                                    body.len, 0);
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


/*
 * The run, in the dispatching worker, from its tick: each reported store
 * is a small state machine with at most one request out (Shopify's or
 * NetSuite's).  A run lists, through reconcile's Admin API fetch, the
 * orders updated in the day before it, a page at a time; for each page,
 * reads their Sales Orders and Credit Memos from NetSuite in one SuiteQL
 * query (paged), then those Sales Orders' item lines in another, compares
 * each order (rdiff.c), and goes on to the next page.  After the last
 * page, the store's Sales Orders NetSuite changed in the window (by the
 * external-id prefix) that Shopify did not list are asked of Shopify, a
 * hundred ids a request: one it does not return is an order only NetSuite
 * has, one it returns is compared like the others.  The rows are written
 * to the day's file when the run ends.
 */

#define NGX_HTTP_ORDER_EDIT_REPORT_IDLE      0
#define NGX_HTTP_ORDER_EDIT_REPORT_SHOPIFY   1   /* the next page to ask */
#define NGX_HTTP_ORDER_EDIT_REPORT_NETSUITE  2   /* its SuiteQL pages */
#define NGX_HTTP_ORDER_EDIT_REPORT_LINES     3   /* its item lines' pages */
#define NGX_HTTP_ORDER_EDIT_REPORT_WINDOW    4   /* NetSuite's side's */
#define NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM   5   /* GET orders.json?ids= */
#define NGX_HTTP_ORDER_EDIT_REPORT_COMPARE   6   /* the page, a slice a step */
#define NGX_HTTP_ORDER_EDIT_REPORT_WRITE     7   /* the day's file's rows */

/* consecutive failures of one request before the run is given up */
#define NGX_HTTP_ORDER_EDIT_REPORT_TRIES     5

/* between two Shopify pages: the standard plan's leak, 2 a second */
#define NGX_HTTP_ORDER_EDIT_REPORT_PACE      500

/*
 * Orders compared a tick: rdiff and an exception raised (its body dumped,
 * put in the zone, logged) are up to 70 us an order, 17 ms for a page of
 * 250 (bench/dispatch --reconcile): a slice keeps the webhooks' wait short
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_SLICE     25

/* a SuiteQL page (NetSuite serves up to 1000): well under max_body */
#define NGX_HTTP_ORDER_EDIT_REPORT_ROWS      500

/*
 * A SuiteQL page's rows taken into the summaries a step: a row is 1-3 us
 * (its values looked up and set in the page's summaries), so a page of
 * 500 is a few slices
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_ROW_SLICE 100

/*
 * A step's time on the event loop, besides its count of orders or rows,
 * checked after each (a monotonic clock read, tens of ns): what is left
 * goes on at the loop's next turn, after the webhooks that are ready.
 * An order compared is 20-70 us, an exception raised for it (a dump, a
 * put and a log line) tens of us more: a webhook that arrives during a
 * step waits at most about this long, where 1 ms (and the step's frees
 * and file writes besides) tripled the webhooks' p99 in bench/dispatch
 * --reconcile.  What cannot be cut (freeing a page, writing the day's
 * file) goes to the thread pool.
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_BUDGET_US 150

/*
 * A step of more CPU than this is counted, by phase, in the run's log
 * line: how often the loop was held longer than a webhook should wait
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_LONG_US   200

/*
 * NetSuite's orders asked of Shopify in one request: Shopify's largest
 * page is 250; 100 ids keep the URL near 1 KB
 */
#define NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM_IDS  100

/* the window: the day before the run */
#define NGX_HTTP_ORDER_EDIT_REPORT_DAY       (24 * 60 * 60 * 1000)

/* days back, past keep, whose file a run removes (nginx was down) */
#define NGX_HTTP_ORDER_EDIT_REPORT_PRUNE     7


typedef struct {
    ngx_http_order_edit_store_conf_t      *store;
    ngx_http_order_edit_report_conf_t     *conf;
    ngx_http_order_edit_reconcile_conf_t  *rcf;
    ngx_http_order_edit_zone_t            *zone;
    ngx_http_order_edit_recon_shop_t      *rs;        /* in the zone */
    ngx_log_t                             *log;
    ngx_pool_t                            *pool;      /* of the run */
    ngx_pool_t                            *npool;     /* of a SuiteQL page */
    ngx_http_order_edit_curl_req_t        *req;       /* Shopify's, out */
    ngx_http_order_edit_parse_t           *parse;     /* its answer's */
    ngx_http_order_edit_nsc_t              nsc;
    ngx_http_order_edit_nsslot_t           slot;
    json_t                                *orders;    /* Shopify's page */
    size_t                                 orders_bytes;
    json_t                                *ns;        /* its NetSuite side */
    json_t                                *rows;      /* the run's */
    ngx_rbtree_t                           seen;      /* ids, Shopify's */
    ngx_rbtree_node_t                      seen_sentinel;
    json_t                                *extra;     /* NetSuite's only */
    json_t                                *page;      /* SuiteQL's answer */
    size_t                                 page_bytes;
    ngx_event_t                            resume;    /* the next slice */
    ngx_str_t                              url;       /* Shopify's next */
    ngx_str_t                              prefix;    /* external ids' */
    ngx_str_t                              key;       /* our line key */
    ngx_str_t                              body;      /* SuiteQL's, npool */
    ngx_uint_t                             phase;
    ngx_uint_t                             offset;    /* SuiteQL's */
    ngx_uint_t                             failures;
    ngx_uint_t                             pages;
    ngx_uint_t                             ns_pages;
    ngx_uint_t                             norders;
    ngx_uint_t                             nrefunds;
    ngx_msec_t                             yield;     /* nsslot_spare() */
    ngx_uint_t                             extra_next;
    ngx_uint_t                             opened;    /* orders, for lines */
    ngx_uint_t                             row;       /* in page's items */
    ngx_uint_t                             room;      /* max_exceptions */
    ngx_uint_t                             raised;
    ngx_uint_t                             over;      /* not raised */
    size_t                                 compared;  /* in orders */
    uint64_t                               step_us;   /* a step began */
    uint64_t                               hold_us;   /* the run's longest */
    uint64_t                               write_us;  /* the day's file */
    uint64_t                               file_us;   /* its thread's */
    uint64_t                               step_cpu;  /* the thread's */
    uint64_t                               hold_cpu;  /* the longest's */
    ngx_uint_t                             step_phase;
    ngx_uint_t                             hold_phase;
    ngx_uint_t                             cpu_phase;
    uint64_t                               ph_us[8];  /* longest, a phase */
    uint64_t                               ph_cpu[8];
    ngx_uint_t                             ph_steps[8];
    ngx_uint_t                             ph_long[8]; /* over LONG_US */
    ngx_uint_t                             counts[4]; /* of the rows */
    ngx_uint_t                             written;   /* rows in "out" */
    u_char                                *out;       /* the file's rows */
    size_t                                 out_len;
    size_t                                 out_cap;
    ngx_http_order_edit_parse_t           *file;      /* its write, out */
    uint64_t                               next_ms;   /* the schedule's */
    uint64_t                               started_ms;
    int64_t                                since_ms;
    ngx_msec_t                             not_before;
    unsigned                               nsc_out:1;
    unsigned                               waiting:1;
    unsigned                               last_page:1;
    unsigned                               asked:1;
    unsigned                               extras:1;  /* the last pass */
} ngx_http_order_edit_report_run_t;


static ngx_int_t ngx_http_order_edit_report_init(
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log);
static void ngx_http_order_edit_report_cleanup(void *data);
static void ngx_http_order_edit_report_step(
    ngx_http_order_edit_report_run_t *rr);
static uint64_t ngx_http_order_edit_report_next(
    ngx_http_order_edit_report_run_t *rr, uint64_t now);
static void ngx_http_order_edit_report_start(
    ngx_http_order_edit_report_run_t *rr, uint64_t now);
static void ngx_http_order_edit_report_shopify(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_get(
    ngx_http_order_edit_report_run_t *rr, ngx_str_t *url,
    ngx_http_order_edit_curl_done_pt done);
static ngx_int_t ngx_http_order_edit_report_answered(
    ngx_http_order_edit_report_run_t *rr,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_report_page(
    ngx_http_order_edit_curl_req_t *req, void *data);
static void ngx_http_order_edit_report_page_parsed(void *data,
    json_t *orders, size_t bytes, const char *err, ngx_uint_t cancelled);
static void ngx_http_order_edit_report_take(
    ngx_http_order_edit_report_run_t *rr, json_t *orders, size_t bytes);
static void ngx_http_order_edit_report_orders_free(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_release(
    ngx_http_order_edit_report_run_t *rr, json_t **v, size_t n);
static ngx_int_t ngx_http_order_edit_report_seen(
    ngx_http_order_edit_report_run_t *rr, const char *id, ngx_uint_t add);
static void ngx_http_order_edit_report_netsuite(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_ns_done(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_result_t *r);
static ngx_int_t ngx_http_order_edit_report_query(
    ngx_http_order_edit_report_run_t *rr, ngx_str_t *q);
static u_char *ngx_http_order_edit_report_in(
    ngx_http_order_edit_report_run_t *rr, u_char *p, ngx_uint_t lines);
static void ngx_http_order_edit_report_ns_end(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_open(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_rows(
    ngx_http_order_edit_report_run_t *rr);
static ngx_int_t ngx_http_order_edit_report_ns_row(
    ngx_http_order_edit_report_run_t *rr, json_t *row);
static ngx_int_t ngx_http_order_edit_report_ns_line(
    ngx_http_order_edit_report_run_t *rr, json_t *row);
static void ngx_http_order_edit_report_ns_amounts(json_t *sum);
static ngx_int_t ngx_http_order_edit_report_ns_window(
    ngx_http_order_edit_report_run_t *rr, json_t *row);
static void ngx_http_order_edit_report_confirm(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_confirmed(
    ngx_http_order_edit_curl_req_t *req, void *data);
static void ngx_http_order_edit_report_found(void *data, json_t *orders,
    size_t bytes, const char *err, ngx_uint_t cancelled);
static json_t *ngx_http_order_edit_report_sum(
    ngx_http_order_edit_report_run_t *rr, json_t *order, char *id);
static void ngx_http_order_edit_report_diff(
    ngx_http_order_edit_report_run_t *rr, json_t *order, json_t *sum,
    const char *id);
static ngx_int_t ngx_http_order_edit_report_names(
    ngx_http_order_edit_report_run_t *rr, ngx_pool_t *pool);
static ngx_int_t ngx_http_order_edit_report_compare(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_resume(ngx_event_t *ev);
static void ngx_http_order_edit_report_more(
    ngx_http_order_edit_report_run_t *rr);
static uint64_t ngx_http_order_edit_report_us(void);
static uint64_t ngx_http_order_edit_report_cpu_us(void);
static void ngx_http_order_edit_report_enter(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_leave(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_retry(
    ngx_http_order_edit_report_run_t *rr, const char *what, ngx_msec_t ms);
static void ngx_http_order_edit_report_finish(
    ngx_http_order_edit_report_run_t *rr, ngx_uint_t ok);
static void ngx_http_order_edit_report_save(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_save_rows(
    ngx_http_order_edit_report_run_t *rr);
static int ngx_http_order_edit_report_out(const char *text, size_t len,
    void *data);
static ngx_int_t ngx_http_order_edit_report_file(
    ngx_http_order_edit_report_run_t *rr);
static void ngx_http_order_edit_report_file_write(void *ctx);
static void ngx_http_order_edit_report_file_done(void *ctx, void *data,
    ngx_uint_t cancelled);
static void ngx_http_order_edit_report_file_clean(void *ctx);
static void ngx_http_order_edit_report_path(
    ngx_http_order_edit_report_run_t *rr, u_char *p, time_t t);


/* this worker's reported stores; NULL until the first tick */
static ngx_array_t  *ngx_http_order_edit_report_runs;


void
ngx_http_order_edit_report_tick(ngx_http_order_edit_zone_t *zone,
    ngx_http_order_edit_main_conf_t *omcf, ngx_log_t *log)
{
    ngx_uint_t                         i;
    ngx_http_order_edit_report_run_t  *rr;

    if (ngx_http_order_edit_report_runs == NULL) {
        if (ngx_exiting || ngx_terminate || ngx_quit
            || ngx_http_order_edit_report_init(omcf, log) != NGX_OK)
        {
            return;
        }
    }

    rr = ngx_http_order_edit_report_runs->elts;

    for (i = 0; i < ngx_http_order_edit_report_runs->nelts; i++) {

        if (rr[i].zone != zone) {
            continue;
        }

        /* a worker going away: the run is redone by the next one */
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            if (rr[i].resume.posted) {
                ngx_delete_posted_event(&rr[i].resume);
            }

            if (rr[i].req) {
                ngx_http_order_edit_curl_cancel(rr[i].req);

            } else if (rr[i].parse) {
                /* done(cancelled): the run is cut short */
                ngx_http_order_edit_parse_cancel(rr[i].parse);

            } else if (rr[i].nsc_out) {
                (void) ngx_http_order_edit_nsc_cancel(&rr[i].nsc);

            } else if (rr[i].file) {
                /* done(cancelled); the thread still ends its write */
                ngx_http_order_edit_parse_cancel(rr[i].file);

            } else if (rr[i].phase != NGX_HTTP_ORDER_EDIT_REPORT_IDLE
                       && rr[i].rs != NULL)
            {
                /* between two slices or waiting: nothing out to cancel */
                ngx_http_order_edit_report_finish(&rr[i], 2);
            }

            continue;
        }

        /* with a journal, only the worker that delivers reports */
        if (!ngx_http_order_edit_journal_may_deliver(zone)) {
            continue;
        }

        ngx_http_order_edit_report_enter(&rr[i]);
        ngx_http_order_edit_report_step(&rr[i]);
        ngx_http_order_edit_report_leave(&rr[i]);
    }
}


static ngx_int_t
ngx_http_order_edit_report_init(ngx_http_order_edit_main_conf_t *omcf,
    ngx_log_t *log)
{
    ngx_uint_t                             i, j;
    ngx_pool_cleanup_t                    *cln;
    ngx_http_order_edit_zone_t            *zone;
    ngx_http_order_edit_report_run_t      *rr;
    ngx_http_order_edit_store_conf_t     **stores;
    ngx_http_order_edit_dispatch_conf_t   *dc;

    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ngx_http_order_edit_report_runs = ngx_array_create(ngx_cycle->pool, 2,
                                     sizeof(ngx_http_order_edit_report_run_t));
    if (ngx_http_order_edit_report_runs == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_order_edit_report_cleanup;

    stores = omcf->stores.elts;

    for (i = 0; i < omcf->stores.nelts; i++) {

        if (stores[i]->reconcile == NULL
            || stores[i]->reconcile->report == NULL)
        {
            continue;
        }

        if (stores[i]->netsuite == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "order_edit: \"report\" of store \"%V\" needs "
                          "its \"netsuite\"; not reported",
                          &stores[i]->name);
            continue;
        }

        /* reconcile's zone */
        zone = ngx_http_order_edit_reconcile_zone(omcf, stores[i], log);

        if (zone == NULL || zone->sh == NULL) {
            continue;
        }

        rr = ngx_array_push(ngx_http_order_edit_report_runs);
        if (rr == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(rr, sizeof(ngx_http_order_edit_report_run_t));

        rr->store = stores[i];
        rr->rcf = stores[i]->reconcile;
        rr->conf = rr->rcf->report;
        rr->zone = zone;
        rr->log = log;
        rr->slot.zone = zone;
        rr->slot.ns = stores[i]->netsuite;

        /*
         * A webhook refused a NetSuite slot is leased again a dispatcher
         * interval later: until then the report leaves free slots alone.
         */
        dc = omcf->dispatchers.elts;
        rr->yield = 200;

        for (j = 0; j < omcf->dispatchers.nelts; j++) {
            if (dc[j].shm_zone->data == zone) {
                rr->yield = 2 * dc[j].interval;
            }
        }

        rr->next_ms = ngx_http_order_edit_report_next(rr,
                                              ngx_http_order_edit_now_ms());

        if (ngx_http_order_edit_report_names(rr, ngx_cycle->pool)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the array is complete: its elements move no more */
    rr = ngx_http_order_edit_report_runs->elts;

    for (i = 0; i < ngx_http_order_edit_report_runs->nelts; i++) {
        rr[i].resume.handler = ngx_http_order_edit_report_resume;
        rr[i].resume.data = &rr[i];
        rr[i].resume.log = log;
    }

    return NGX_OK;
}


static void
ngx_http_order_edit_report_cleanup(void *data)
{
    ngx_uint_t                         i;
    ngx_http_order_edit_report_run_t  *rr;

    rr = ngx_http_order_edit_report_runs->elts;

    for (i = 0; i < ngx_http_order_edit_report_runs->nelts; i++) {

        if (rr[i].parse) {
            /* exit_process cancelled it already, unless it never ran */
            ngx_http_order_edit_parse_cancel(rr[i].parse);
        }

        if (rr[i].resume.posted) {
            ngx_delete_posted_event(&rr[i].resume);
        }

        if (rr[i].file) {
            /* as a parse: its thread ends the write; nothing left half */
            ngx_http_order_edit_parse_cancel(rr[i].file);
        }

        free(rr[i].out);

        json_decref(rr[i].page);
        json_decref(rr[i].orders);
        json_decref(rr[i].ns);
        json_decref(rr[i].rows);
        json_decref(rr[i].extra);

        if (rr[i].npool) {
            ngx_destroy_pool(rr[i].npool);
        }

        if (rr[i].pool) {
            ngx_destroy_pool(rr[i].pool);
        }
    }

    ngx_http_order_edit_report_runs = NULL;
}


/* the next time of day "at", local to the server, after now */

static uint64_t
ngx_http_order_edit_report_next(ngx_http_order_edit_report_run_t *rr,
    uint64_t now)
{
    time_t    sec;
    int64_t   delta;
    ngx_tm_t  tm;

    sec = (time_t) (now / 1000);
    ngx_localtime(sec, &tm);

    delta = (int64_t) rr->conf->at * 60
            - (tm.ngx_tm_hour * 3600 + tm.ngx_tm_min * 60 + tm.ngx_tm_sec);

    if (delta <= 0) {
        delta += 24 * 60 * 60;
    }

    return (uint64_t) (sec + delta) * 1000;
}


static void
ngx_http_order_edit_report_step(ngx_http_order_edit_report_run_t *rr)
{
    uint64_t    now;
    ngx_uint_t  asked;

    /*
     * Nothing else while Shopify's answer is parsed, or the day's file
     * written, on the thread pool
     */
    if (rr->req || rr->nsc_out || rr->parse || rr->file) {
        return;
    }

    if (rr->page) {
        /* a SuiteQL page's next rows */
        ngx_http_order_edit_report_rows(rr);
        return;
    }

    if (rr->rs == NULL) {
        /* reconcile makes the shop's node on its first tick */
        rr->rs = ngx_http_order_edit_report_shop(rr->zone, &rr->store->name);
        if (rr->rs == NULL) {
            return;
        }
    }

    if (rr->waiting) {
        if ((ngx_msec_int_t) (rr->not_before - ngx_current_msec) > 0) {
            return;
        }

        rr->waiting = 0;
    }

    now = ngx_http_order_edit_now_ms();

    switch (rr->phase) {

    case NGX_HTTP_ORDER_EDIT_REPORT_IDLE:

        ngx_shmtx_lock(&rr->zone->shpool->mutex);

        /*
         * A run whose worker was killed (no finish() said so): redone at
         * once, as one a reload cut short, rather than lost with the
         * day's report (or an operator's ask) until the next day's time.
         */
        if (rr->rs->report_running
            && ngx_http_order_edit_pid_gone(rr->rs->report_running, 1))
        {
            rr->rs->report_running = 0;
            rr->rs->report_asked = 2;
        }

        asked = rr->rs->report_asked;
        rr->rs->report_asked = 0;
        ngx_shmtx_unlock(&rr->zone->shpool->mutex);

        if (asked == 2) {
            ngx_log_error(NGX_LOG_NOTICE, rr->log, 0,
                          "order_edit: report of \"%V\": a run its worker "
                          "did not finish (killed) is done again",
                          &rr->store->name);
        }

        if (!asked && now < rr->next_ms) {
            return;
        }

        rr->asked = asked ? 1 : 0;

        if (!asked) {
            rr->next_ms = ngx_http_order_edit_report_next(rr, now + 1000);
        }

        ngx_http_order_edit_report_start(rr, now);
        return;

    case NGX_HTTP_ORDER_EDIT_REPORT_SHOPIFY:
        ngx_http_order_edit_report_shopify(rr);
        return;

    case NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM:
        ngx_http_order_edit_report_confirm(rr);
        return;

    case NGX_HTTP_ORDER_EDIT_REPORT_COMPARE:
        (void) ngx_http_order_edit_report_compare(rr);
        return;

    case NGX_HTTP_ORDER_EDIT_REPORT_WRITE:
        ngx_http_order_edit_report_save_rows(rr);
        return;

    case NGX_HTTP_ORDER_EDIT_REPORT_LINES:
        if (rr->opened < json_array_size(rr->orders)) {
            ngx_http_order_edit_report_open(rr);
            return;
        }

        ngx_http_order_edit_report_netsuite(rr);
        return;

    default: /* NETSUITE, WINDOW: a SuiteQL page */
        ngx_http_order_edit_report_netsuite(rr);
        return;
    }
}


static void
ngx_http_order_edit_report_start(ngx_http_order_edit_report_run_t *rr,
    uint64_t now)
{
    rr->pool = ngx_create_pool(4096, rr->log);
    if (rr->pool == NULL) {
        return;
    }

    rr->rows = json_array();
    if (rr->rows == NULL) {
        ngx_destroy_pool(rr->pool);
        rr->pool = NULL;
        return;
    }

    /* in the run's pool: no growth in one piece, freed with it */
    ngx_rbtree_init(&rr->seen, &rr->seen_sentinel,
                    ngx_str_rbtree_insert_value);
    rr->extra = json_array();

    rr->started_ms = now;
    rr->since_ms = (int64_t) now - NGX_HTTP_ORDER_EDIT_REPORT_DAY
                   - (int64_t) rr->rcf->overlap;
    rr->since_ms -= rr->since_ms % 1000;
    rr->pages = 0;
    rr->ns_pages = 0;
    rr->norders = 0;
    rr->nrefunds = 0;
    rr->failures = 0;
    rr->last_page = 0;
    rr->extras = 0;
    rr->extra_next = 0;
    rr->compared = 0;
    rr->room = rr->conf->max_exc;
    rr->raised = 0;
    rr->over = 0;
    rr->hold_us = 0;
    rr->hold_cpu = 0;
    rr->write_us = 0;
    rr->file_us = 0;
    ngx_memzero(rr->counts, sizeof(rr->counts));
    ngx_memzero(rr->ph_us, sizeof(rr->ph_us));
    ngx_memzero(rr->ph_cpu, sizeof(rr->ph_cpu));
    ngx_memzero(rr->ph_steps, sizeof(rr->ph_steps));
    ngx_memzero(rr->ph_long, sizeof(rr->ph_long));
    rr->cpu_phase = NGX_HTTP_ORDER_EDIT_REPORT_IDLE;
    rr->hold_phase = NGX_HTTP_ORDER_EDIT_REPORT_IDLE;

    if (rr->extra == NULL
        || ngx_http_order_edit_reconcile_list_url(rr->rcf, rr->pool,
                                               rr->since_ms,
                                               (int64_t) (now - now % 1000),
                                               &rr->url)
        != NGX_OK)
    {
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    ngx_shmtx_lock(&rr->zone->shpool->mutex);
    rr->rs->report_running = ngx_pid;
    ngx_shmtx_unlock(&rr->zone->shpool->mutex);

    ngx_log_error(NGX_LOG_INFO, rr->log, 0,
                  "order_edit: report of \"%V\" started%s",
                  &rr->store->name, rr->asked ? " (asked)" : "");

    rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_SHOPIFY;
    ngx_http_order_edit_report_shopify(rr);
}


/* Shopify's next page, through reconcile's fetch */

static void
ngx_http_order_edit_report_shopify(ngx_http_order_edit_report_run_t *rr)
{
    ngx_http_order_edit_report_get(rr, &rr->url,
                                   ngx_http_order_edit_report_page);
}


static void
ngx_http_order_edit_report_get(ngx_http_order_edit_report_run_t *rr,
    ngx_str_t *url, ngx_http_order_edit_curl_done_pt done)
{
    rr->req = ngx_http_order_edit_reconcile_get(rr->rcf, url, rr->log, done,
                                                rr);
    if (rr->req == NULL) {
        ngx_http_order_edit_report_retry(rr, "cannot start a request", 0);
    }
}


/*
 * Shopify answered (NGX_OK: req->status says what), or not: the worker
 * is going (no error, the next worker redoes the run), a failure or a
 * 429 (the request again, later).
 */

static ngx_int_t
ngx_http_order_edit_report_answered(ngx_http_order_edit_report_run_t *rr,
    ngx_http_order_edit_curl_req_t *req)
{
    rr->req = NULL;

    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        ngx_http_order_edit_report_finish(rr, 2);
        return NGX_DECLINED;
    }

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        ngx_http_order_edit_report_retry(rr, "Shopify did not answer", 0);
        return NGX_DECLINED;
    }

    if (req->status == 429) {
        ngx_http_order_edit_report_retry(rr, "Shopify throttled",
                           ngx_http_order_edit_reconcile_retry_after(req));
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_order_edit_report_page(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_report_run_t *rr = data;

    ngx_int_t  rv;

    if (ngx_http_order_edit_report_answered(rr, req) != NGX_OK) {
        return;
    }

    if (req->status != 200) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": Shopify answered %ui",
                      &rr->store->name, req->status);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    /* before the body goes: a page that cannot be read ends the run */
    rv = ngx_http_order_edit_reconcile_next(rr->rcf, req, rr->pool, rr->log,
                                            &rr->store->name, &rr->url);
    if (rv == NGX_ERROR) {
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->last_page = (rv == NGX_DONE);

    /* exact numbers (money is read from Shopify's own text), on the pool */
    if (ngx_http_order_edit_reconcile_parse(req, "orders", rr->log,
                                 &rr->parse,
                                 ngx_http_order_edit_report_page_parsed, rr)
        == NGX_ERROR)
    {
        ngx_http_order_edit_report_finish(rr, 0);
    }
}


static void
ngx_http_order_edit_report_page_parsed(void *data, json_t *orders,
    size_t bytes, const char *err, ngx_uint_t cancelled)
{
    ngx_http_order_edit_report_run_t *rr = data;

    ngx_http_order_edit_report_enter(rr);

    if (cancelled) {
        ngx_http_order_edit_report_finish(rr, 2);
        return;
    }

    if (!json_is_array(orders)) {
        json_decref(orders);
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": an unreadable page",
                      &rr->store->name);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->failures = 0;
    rr->pages++;

    /* what Shopify listed is marked seen as it is compared */
    ngx_http_order_edit_report_take(rr, orders, bytes);
    ngx_http_order_edit_report_leave(rr);
}


/*
 * A list of Shopify's orders (a page, or those found of NetSuite's) is
 * the run's page: NetSuite's side of it is read next, a SuiteQL page a
 * step at the governor's lowest priority; an empty one is compared now.
 */

static void
ngx_http_order_edit_report_take(ngx_http_order_edit_report_run_t *rr,
    json_t *orders, size_t bytes)
{
    ngx_http_order_edit_report_orders_free(rr);
    rr->orders = orders;
    rr->orders_bytes = bytes;

    ngx_http_order_edit_report_release(rr, &rr->ns, 0);
    rr->ns = json_object();

    if (rr->ns == NULL) {
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->offset = 0;
    rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_NETSUITE;

    if (json_array_size(orders) == 0) {
        (void) ngx_http_order_edit_report_compare(rr);
        return;
    }

    ngx_http_order_edit_report_more(rr);
}


/*
 * One SuiteQL page of the phase's query (report_query): only when the
 * shop's queue is short and the account has a slot to spare (none of its
 * webhooks refused one lately): edits always go first.  Two steps: the
 * query's text and its JSON body (a page of 250 orders named in it: 0.1-
 * 0.3 ms), then, at the loop's next turn, the request signed and sent.
 */

static void
ngx_http_order_edit_report_netsuite(ngx_http_order_edit_report_run_t *rr)
{
    u_char                     *p;
    ngx_str_t                   q;
    ngx_http_order_edit_nsc_t  *c;

    if (ngx_http_order_edit_queue_depth(rr->zone, &rr->store->name)
        >= rr->rcf->queue_max
        || !ngx_http_order_edit_nsslot_spare(&rr->slot, rr->yield))
    {
        return;
    }

    if (rr->npool != NULL) {
        /* the body built in the step before: the request */
        goto send;
    }

    rr->npool = ngx_create_pool(4096, rr->log);
    if (rr->npool == NULL) {
        return;
    }

    if (ngx_http_order_edit_report_query(rr, &q) != NGX_OK) {
        goto failed;
    }

    if (q.len == 0) {
        /* nothing to read */
        ngx_destroy_pool(rr->npool);
        rr->npool = NULL;
        ngx_http_order_edit_report_ns_end(rr);
        return;
    }

    /* {"q":"..."}: the text escaped as a JSON string, as json_dumps() */
    rr->body.len = sizeof("{\"q\":\"\"}") - 1 + q.len
                   + ngx_escape_json(NULL, q.data, q.len);
    rr->body.data = ngx_pnalloc(rr->npool, rr->body.len);

    if (rr->body.data == NULL) {
        goto failed;
    }

    p = ngx_cpymem(rr->body.data, "{\"q\":\"", sizeof("{\"q\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, q.data, q.len);
    *p++ = '"'; *p++ = '}';

    ngx_http_order_edit_report_more(rr);
    return;

send:

    c = &rr->nsc;
    ngx_memzero(c, sizeof(ngx_http_order_edit_nsc_t));

    c->ns = rr->store->netsuite;
    c->norm = &rr->store->norm;
    c->slot = &rr->slot;
    c->pool = rr->npool;
    c->log = rr->log;
    c->shop = rr->store->name;
    ngx_str_set(&c->topic, "report");
    c->done = ngx_http_order_edit_report_ns_done;
    c->data = rr;

    ngx_http_order_edit_nsslot_take(&rr->slot);
    rr->nsc_out = 1;

    ngx_http_order_edit_nsc_suiteql(c, &rr->body,
                                    NGX_HTTP_ORDER_EDIT_REPORT_ROWS,
                                    rr->offset);
    return;

failed:

    ngx_destroy_pool(rr->npool);
    rr->npool = NULL;
    ngx_http_order_edit_report_retry(rr, "no memory for a query", 0);
}


/*
 * The phase's SuiteQL text, in rr->npool; empty when there is nothing to
 * read.  NETSUITE: the page's Sales Orders and Credit Memos, by the
 * Shopify order id the module writes on both.  LINES: the item lines of
 * those Sales Orders, neither the main line nor tax lines, with our line
 * key and the item's name (itemid); quantity and amount as NetSuite keeps
 * them on a sales transaction, negative (docs/netsuite-simulator.md,
 * "SuiteQL"): magnitudes are compared.  With our line key, the same
 * query brings those orders' Credit Memos' item lines, with the memo's
 * type and refund id (their sign, positive as far as is known, is not
 * relied on either).  WINDOW: the store's Sales Orders
 * (by the external-id prefix) NetSuite changed since the day before the
 * window began (TO_DATE is by day, in NetSuite's time zone).
 */

static ngx_int_t
ngx_http_order_edit_report_query(ngx_http_order_edit_report_run_t *rr,
    ngx_str_t *q)
{
    u_char    *p, *start;
    size_t     len;
    ngx_tm_t   tm;

    static const char  totals[] =
        "SELECT id, type, status, foreigntotal, taxtotal, currency, "
        "lastmodifieddate, custbody_shopify_order_id, "
        "custbody_shopify_refund_id FROM transaction WHERE type IN "
        "('SalesOrd', 'CustCred') AND custbody_shopify_order_id IN (";

    static const char  lines[] =
        "SELECT t.custbody_shopify_order_id AS oid, tl.quantity AS q, "
        "tl.foreignamount AS a, i.itemid AS sku";

    /* with our line key, the Credit Memos' lines too, by their refund */
    static const char  memo_lines[] =
        ", t.type AS type, t.custbody_shopify_refund_id AS rid";

    static const char  lines_from[] =
        " FROM transaction t INNER JOIN transactionline tl ON "
        "tl.transaction = t.id LEFT OUTER JOIN item i ON i.id = tl.item "
        "WHERE t.type ";

    static const char  lines_where[] =
        " AND tl.mainline = 'F' AND tl.taxline = 'F' AND "
        "t.custbody_shopify_order_id IN (";

    static const char  window[] =
        "SELECT id, externalid, custbody_shopify_order_id, lastmodifieddate "
        "FROM transaction WHERE type = 'SalesOrd' AND externalid LIKE '";

    ngx_str_null(q);

    len = sizeof(lines) + sizeof(memo_lines) + sizeof(lines_from)
          + sizeof("IN ('SalesOrd', 'CustCred')") + sizeof(lines_where)
          + sizeof(", tl. AS k") + rr->key.len + rr->prefix.len
          + sizeof(window)
          + sizeof("%' AND lastmodifieddate >= TO_DATE('2026-12-06', "
                   "'YYYY-MM-DD')")
          + 2 + json_array_size(rr->orders) * (NGX_INT64_LEN + 3);

    start = ngx_pnalloc(rr->npool, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;

    switch (rr->phase) {

    case NGX_HTTP_ORDER_EDIT_REPORT_WINDOW:
        if (rr->prefix.len == 0) {
            return NGX_OK;
        }

        ngx_libc_gmtime((time_t) (rr->since_ms / 1000) - 24 * 60 * 60, &tm);

        p = ngx_cpymem(p, window, sizeof(window) - 1);
        p = ngx_sprintf(p, "%V%%' AND lastmodifieddate >= TO_DATE("
                        "'%4d-%02d-%02d', 'YYYY-MM-DD')", &rr->prefix,
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        break;

    case NGX_HTTP_ORDER_EDIT_REPORT_LINES:
        p = ngx_cpymem(p, lines, sizeof(lines) - 1);

        if (rr->key.len) {
            p = ngx_sprintf(p, ", tl.%V AS k", &rr->key);
            p = ngx_cpymem(p, memo_lines, sizeof(memo_lines) - 1);
        }

        p = ngx_cpymem(p, lines_from, sizeof(lines_from) - 1);
        p = rr->key.len ? ngx_cpymem(p, "IN ('SalesOrd', 'CustCred')",
                                     sizeof("IN ('SalesOrd', 'CustCred')")
                                     - 1)
                        : ngx_cpymem(p, "= 'SalesOrd'",
                                     sizeof("= 'SalesOrd'") - 1);
        p = ngx_cpymem(p, lines_where, sizeof(lines_where) - 1);
        p = ngx_http_order_edit_report_in(rr, p, 1);
        break;

    default: /* NGX_HTTP_ORDER_EDIT_REPORT_NETSUITE */
        p = ngx_cpymem(p, totals, sizeof(totals) - 1);
        p = ngx_http_order_edit_report_in(rr, p, 0);
        break;
    }

    if (p != NULL) {
        q->data = start;
        q->len = p - start;
    }

    return NGX_OK;
}


/*
 * "'1','2')" of the page's orders (with lines: only those whose Sales
 * Order was read); NULL when there is none.
 */

static u_char *
ngx_http_order_edit_report_in(ngx_http_order_edit_report_run_t *rr,
    u_char *p, ngx_uint_t lines)
{
    char     id[NGX_INT64_LEN + 1];
    size_t   i;
    json_t  *order, *sum;

    json_array_foreach(rr->orders, i, order) {
        sum = ngx_http_order_edit_report_sum(rr, order, id);

        if (id[0] == '\0'
            || (lines && json_object_get(sum, "lines") == NULL))
        {
            continue;
        }

        p = ngx_sprintf(p, "%s'%s'", (p[-1] == '(') ? "" : ",", id);
    }

    if (p[-1] == '(') {
        return NULL;
    }

    *p++ = ')';

    return p;
}


static void
ngx_http_order_edit_report_ns_done(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_result_t *r)
{
    ngx_http_order_edit_report_run_t *rr = c->data;

    json_t  *root;

    /* a failure's finish() reads the step's start too */
    ngx_http_order_edit_report_enter(rr);

    rr->nsc_out = 0;
    ngx_http_order_edit_nsslot_give(&rr->slot);

    root = NULL;

    if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_OK) {
        /* parsed by the client, on the thread pool when it is large */
        root = c->page_root;
        rr->page_bytes = c->page_bytes;
        c->page_root = NULL;
    }

    ngx_http_order_edit_nsc_free(c);
    ngx_destroy_pool(rr->npool);
    rr->npool = NULL;

    if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_CANCELLED) {
        ngx_http_order_edit_report_finish(rr, 2);
        return;
    }

    if (r->rc == NGX_HTTP_ORDER_EDIT_NSC_REFUSED) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": NetSuite refused the "
                      "SuiteQL query (%s)", &rr->store->name,
                      r->reason ? r->reason : "refused");
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    if (r->rc != NGX_HTTP_ORDER_EDIT_NSC_OK) {
        /* busy, over its limit, away: the page again, later */
        ngx_http_order_edit_report_retry(rr, "NetSuite did not answer", 0);
        return;
    }

    /* its rows a slice a step: the first now, the rest at the next turns */
    rr->page = root;
    rr->row = 0;

    ngx_http_order_edit_report_rows(rr);
    ngx_http_order_edit_report_leave(rr);
}


/*
 * The next rows of the SuiteQL page into rr->ns, up to a slice or the
 * step's budget; the page's last row leads to its next page, or to the
 * phase's end.
 */

static void
ngx_http_order_edit_report_rows(ngx_http_order_edit_report_run_t *rr)
{
    size_t     n, i, last;
    json_t    *items, *row;
    uint64_t   start;
    ngx_int_t  rc;

    start = ngx_http_order_edit_report_us();

    items = json_object_get(rr->page, "items");
    n = json_array_size(items);
    last = ngx_min(n, rr->row + NGX_HTTP_ORDER_EDIT_REPORT_ROW_SLICE);
    rc = json_is_array(items) ? NGX_OK : NGX_ERROR;

    for (i = rr->row; i < last && rc == NGX_OK; /* void */) {
        row = json_array_get(items, i++);

        if (rr->phase == NGX_HTTP_ORDER_EDIT_REPORT_LINES) {
            rc = ngx_http_order_edit_report_ns_line(rr, row);

        } else if (rr->phase == NGX_HTTP_ORDER_EDIT_REPORT_WINDOW) {
            rc = ngx_http_order_edit_report_ns_window(rr, row);

        } else {
            rc = ngx_http_order_edit_report_ns_row(rr, row);
        }

        if (ngx_http_order_edit_report_us() - start
            >= NGX_HTTP_ORDER_EDIT_REPORT_BUDGET_US)
        {
            break;
        }
    }

    if (rc != NGX_OK) {
        ngx_http_order_edit_report_release(rr, &rr->page, rr->page_bytes);
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": an unreadable SuiteQL "
                      "page", &rr->store->name);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->row = i;

    if (i < n) {
        ngx_http_order_edit_report_more(rr);
        return;
    }

    rr->failures = 0;
    rr->ns_pages++;

    if (json_is_true(json_object_get(rr->page, "hasMore")) && n > 0) {
        rr->offset += n;
        ngx_http_order_edit_report_release(rr, &rr->page, rr->page_bytes);

        /* the next page's query at the loop's next turn, slot permitting */
        ngx_http_order_edit_report_more(rr);
        return;
    }

    ngx_http_order_edit_report_release(rr, &rr->page, rr->page_bytes);

    rr->offset = 0;
    ngx_http_order_edit_report_ns_end(rr);
}


/*
 * A phase's last SuiteQL page read: the page's totals lead to its lines
 * (the orders' summaries opened for them first, report_open), its lines
 * to the comparison, the window to asking Shopify; each at the loop's
 * next turn, a step of its own.
 */

static void
ngx_http_order_edit_report_ns_end(ngx_http_order_edit_report_run_t *rr)
{
    switch (rr->phase) {

    case NGX_HTTP_ORDER_EDIT_REPORT_NETSUITE:
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_LINES;
        rr->opened = 0;
        break;

    case NGX_HTTP_ORDER_EDIT_REPORT_WINDOW:
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM;
        rr->extra_next = 0;
        break;

    default: /* NGX_HTTP_ORDER_EDIT_REPORT_LINES */
        /* the lines' sums formatted order by order, in the compare */
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_COMPARE;
        rr->compared = 0;
        break;
    }

    ngx_http_order_edit_report_more(rr);
}


/*
 * Each Sales Order read has lines, none until some are read: the page's
 * summaries opened for them, up to the step's budget a step (a page of
 * 250 orders in one piece was 0.3-0.5 ms of the event loop).
 */

static void
ngx_http_order_edit_report_open(ngx_http_order_edit_report_run_t *rr)
{
    int          exp;
    char         id[NGX_INT64_LEN + 1];
    size_t       i, n;
    json_t      *order, *sum;
    uint64_t     start;
    const char  *cur;

    start = ngx_http_order_edit_report_us();
    n = json_array_size(rr->orders);

    for (i = rr->opened; i < n; /* void */) {
        order = json_array_get(rr->orders, i++);
        sum = ngx_http_order_edit_report_sum(rr, order, id);

        if (sum != NULL) {
            cur = json_string_value(json_object_get(order, "currency"));
            exp = cur ? ngx_http_order_edit_currency_exponent(cur,
                                                              ngx_strlen(cur))
                      : 2;

            if (json_object_set_new(sum, "lines", json_object()) != 0
                || json_object_set_new(sum, "line_key",
                                       json_boolean(rr->key.len)) != 0
                || json_object_set_new(sum, "exp",
                                       json_integer(exp < 0 ? 2 : exp)) != 0)
            {
                ngx_http_order_edit_report_finish(rr, 0);
                return;
            }
        }

        if (ngx_http_order_edit_report_us() - start
            >= NGX_HTTP_ORDER_EDIT_REPORT_BUDGET_US)
        {
            break;
        }
    }

    /* the rest, or the lines' first query, at the loop's next turn */
    rr->opened = i;
    ngx_http_order_edit_report_more(rr);
}


/*
 * A SuiteQL row into rr->ns: per Shopify order id, its Sales Order's
 * total, tax, status (locked past lock_after) and last change, and its
 * Credit Memos by refund id ({"total": ...}, its lines added by
 * report_ns_line).  A memo's total may come back negative (NetSuite signs
 * credits): its magnitude is compared.
 */

static ngx_int_t
ngx_http_order_edit_report_ns_row(ngx_http_order_edit_report_run_t *rr,
    json_t *row)
{
    json_t      *sum, *memos, *v;
    const char  *type, *oid, *rid, *total, *status;

    type = json_string_value(json_object_get(row, "type"));
    oid = json_string_value(json_object_get(row, "custbody_shopify_order_id"));

    if (type == NULL || oid == NULL) {
        return NGX_OK;
    }

    sum = json_object_get(rr->ns, oid);

    if (sum == NULL) {
        sum = json_pack("{s:{}}", "memos");
        if (sum == NULL || json_object_set_new(rr->ns, oid, sum) != 0) {
            return NGX_ERROR;
        }
    }

    if (ngx_strcmp(type, "SalesOrd") == 0) {
        if (json_object_get(sum, "total") != NULL) {
            /* two Sales Orders for one order: the first is compared */
            return NGX_OK;
        }

        status = json_string_value(json_object_get(row, "status"));

        /* SuiteQL leaves a null column out: no tax is none */
        v = json_object_get(row, "foreigntotal");
        json_object_set_new(sum, "total",
                            v ? json_incref(v) : json_string("0"));
        v = json_object_get(row, "taxtotal");
        json_object_set_new(sum, "tax", v ? json_incref(v) : json_string("0"));

        v = json_object_get(row, "lastmodifieddate");
        if (v != NULL) {
            json_object_set(sum, "since", v);
        }

        json_object_set_new(sum, "locked", json_boolean(
            status != NULL && status[0] != '\0' && status[1] == '\0'
            && (u_char) status[0] > rr->store->netsuite->lock_after));
        return NGX_OK;
    }

    rid = json_string_value(json_object_get(row,
                                            "custbody_shopify_refund_id"));
    total = json_string_value(json_object_get(row, "foreigntotal"));

    if (rid == NULL || total == NULL) {
        return NGX_OK;
    }

    memos = json_object_get(sum, "memos");

    /* "presentment": its lines' amounts may be in the customer's money */
    if (json_object_set_new(memos, rid,
            json_pack("{s:s, s:b}", "total",
                      total[0] == '-' ? total + 1 : total, "presentment",
                      rr->store->norm.money
                      == NGX_HTTP_ORDER_EDIT_MONEY_PRESENTMENT))
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An item line into its order's summary (rdiff.h): by our line key
 * when the store writes one (the Shopify line id; "id/N", a bundle's
 * component, adds to its line, whose quantity is then not compared; a
 * key that is no line id is a charge, shipping or a tip: the total has
 * it), else by SKU, the item's name.  A line without our key is not ours
 * (a person's, another integration's): the order's total shows it.  A
 * Credit Memo's line (type CustCred) goes to its memo's lines, by our
 * line key only (the refund line item's id; its shipping, duties and
 * discrepancy lines have no id for a key: its total holds them).
 */

static ngx_int_t
ngx_http_order_edit_report_ns_line(ngx_http_order_edit_report_run_t *rr,
    json_t *row)
{
    int          exp;
    char         key[NGX_INT64_LEN + 1];
    size_t       n;
    int64_t      q, a, v;
    json_t      *sum, *lines, *entry, *memo;
    ngx_uint_t   parts;
    const char  *oid, *k, *sku, *text, *type, *rid;

    oid = json_string_value(json_object_get(row, "oid"));
    sum = oid ? json_object_get(rr->ns, oid) : NULL;
    lines = json_object_get(sum, "lines");

    if (lines == NULL) {
        return NGX_OK;
    }

    type = json_string_value(json_object_get(row, "type"));

    if (type != NULL && ngx_strcmp(type, "CustCred") == 0) {
        rid = json_string_value(json_object_get(row, "rid"));
        memo = rid ? json_object_get(json_object_get(sum, "memos"), rid)
                   : NULL;

        if (!json_is_object(memo) || rr->key.len == 0) {
            return NGX_OK;
        }

        lines = json_object_get(memo, "lines");

        if (lines == NULL) {
            lines = json_object();
            if (json_object_set_new(memo, "lines", lines) != 0) {
                return NGX_ERROR;
            }
        }
    }

    exp = (int) json_integer_value(json_object_get(sum, "exp"));
    sku = json_string_value(json_object_get(row, "sku"));
    parts = 0;

    if (rr->key.len) {
        k = json_string_value(json_object_get(row, "k"));
        n = k ? strspn(k, "0123456789") : 0;

        if (n == 0 || n >= sizeof(key) || (k[n] != '\0' && k[n] != '/')) {
            return NGX_OK;
        }

        ngx_memcpy(key, k, n);
        key[n] = '\0';
        parts = (k[n] == '/');
        k = key;

    } else {
        k = sku;

        if (k == NULL) {
            return NGX_OK;
        }
    }

    /* magnitudes; a value that is no number makes the order unreadable */
    text = json_string_value(json_object_get(row, "q"));
    text = (text && text[0] == '-') ? text + 1 : text;

    if (text == NULL
        || ngx_http_order_edit_money_parse(text, ngx_strlen(text), 0, &q)
           != NGX_HTTP_ORDER_EDIT_MONEY_OK)
    {
        q = -1;
    }

    text = json_string_value(json_object_get(row, "a"));
    text = (text && text[0] == '-') ? text + 1 : text;
    a = 0;

    if (text != NULL
        && ngx_http_order_edit_money_parse(text, ngx_strlen(text), exp, &a)
           != NGX_HTTP_ORDER_EDIT_MONEY_OK)
    {
        a = -1;
    }

    entry = json_object_get(lines, k);

    if (entry == NULL) {
        entry = json_pack("{s:o, s:I, s:I, s:b}",
                          "sku", sku ? json_string(sku) : json_null(),
                          "quantity", (json_int_t) q,
                          "amount", (json_int_t) a, "parts", (int) parts);
        if (entry == NULL || json_object_set_new(lines, k, entry) != 0) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* -1 is "?": a value unreadable, or a sum past int64 */

    v = json_integer_value(json_object_get(entry, "quantity"));
    if (v < 0 || q < 0 || ngx_http_order_edit_money_add(v, q, &v) != 0) {
        v = -1;
    }

    json_object_set_new(entry, "quantity", json_integer(v));

    v = json_integer_value(json_object_get(entry, "amount"));
    if (v < 0 || a < 0 || ngx_http_order_edit_money_add(v, a, &v) != 0) {
        v = -1;
    }

    json_object_set_new(entry, "amount", json_integer(v));

    if (parts) {
        json_object_set_new(entry, "parts", json_true());
    }

    return NGX_OK;
}


/*
 * An order's lines' sums as rdiff reads NetSuite's: money text, "?"
 * unreadable; once, before the order is compared.  Then each of its
 * Credit Memos' lines the same way; with our line key a memo without a
 * line read has none ("lines" empty: each refund line is missing).
 */

static void
ngx_http_order_edit_report_ns_amounts(json_t *sum)
{
    int          exp;
    char         buf[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];
    void        *it;
    json_t      *lines, *memos, *memo, *entry, *v;
    int64_t      n;
    const char  *k;

    exp = (int) json_integer_value(json_object_get(sum, "exp"));
    memos = json_object_get(sum, "memos");
    it = json_object_iter(memos);
    lines = json_object_get(sum, "lines");

    for ( ;; ) {
        json_object_foreach(lines, k, entry) {
            v = json_object_get(entry, "quantity");

            if (json_is_integer(v) && json_integer_value(v) < 0) {
                json_object_set_new(entry, "quantity", json_string("?"));
            }

            v = json_object_get(entry, "amount");

            if (!json_is_integer(v)) {
                /* formatted already: the order was listed twice */
                continue;
            }

            n = json_integer_value(v);

            if (n < 0
                || ngx_http_order_edit_money_format(n, exp, buf, sizeof(buf))
                   == 0)
            {
                json_object_set_new(entry, "amount", json_string("?"));
                continue;
            }

            json_object_set_new(entry, "amount", json_string(buf));
        }

        /* the next memo's lines */

        if (it == NULL) {
            return;
        }

        memo = json_object_iter_value(it);
        it = json_object_iter_next(memos, it);

        if (!json_is_object(memo)) {
            lines = NULL;
            continue;
        }

        lines = json_object_get(memo, "lines");

        if (lines == NULL && json_is_true(json_object_get(sum, "line_key"))
            && json_object_set_new(memo, "lines", json_object()) != 0)
        {
            return;
        }
    }
}


/*
 * A Sales Order of the store NetSuite changed in the window that
 * Shopify's listing did not hold: each is asked of Shopify
 * (report_confirm).  The prefix is checked here too: in LIKE "_" is any
 * character.
 */

static ngx_int_t
ngx_http_order_edit_report_ns_window(ngx_http_order_edit_report_run_t *rr,
    json_t *row)
{
    json_t      *since;
    const char  *ext, *oid;

    ext = json_string_value(json_object_get(row, "externalid"));
    oid = json_string_value(json_object_get(row, "custbody_shopify_order_id"));

    if (ext == NULL || oid == NULL
        || ngx_strncmp(ext, rr->prefix.data, rr->prefix.len) != 0
        || oid[0] == '\0' || oid[strspn(oid, "0123456789")] != '\0'
        || ngx_strlen(oid) > NGX_INT64_LEN
        || ngx_http_order_edit_report_seen(rr, oid, 0))
    {
        return NGX_OK;
    }

    since = json_object_get(row, "lastmodifieddate");

    if (ngx_http_order_edit_report_seen(rr, oid, 1) == NGX_ERROR
        || json_array_append_new(rr->extra,
               json_pack("{s:s, s:o}", "id", oid,
                         "since", since ? json_incref(since)
                                        : json_string("")))
           != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The next NetSuite-only orders asked of Shopify, up to CONFIRM_IDS in
 * one GET orders.json?ids=...&status=any through reconcile's fetch,
 * paced like the pages; when all are asked, the run ends.  One request
 * for many: an order a request was 2 a second at Shopify's leak rate, so
 * that a day's orders NetSuite changed after Shopify's listing began (the
 * webhooks written meanwhile: 300 in bench/dispatch --reconcile) took
 * minutes.
 */

static void
ngx_http_order_edit_report_confirm(ngx_http_order_edit_report_run_t *rr)
{
    u_char      *p;
    size_t       i, last;
    ngx_str_t    url;
    const char  *id;

    if (rr->extra_next >= json_array_size(rr->extra)) {
        ngx_http_order_edit_report_save(rr);
        return;
    }

    last = ngx_min(json_array_size(rr->extra),
                   rr->extra_next + NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM_IDS);

    url.data = ngx_pnalloc(rr->pool, rr->rcf->url.len
                                     + rr->rcf->api_version.len
                                     + sizeof("/admin/api//orders.json"
                                              "?status=any&limit=250&ids=")
                                     + (last - rr->extra_next)
                                       * (NGX_INT64_LEN + 1));
    if (url.data == NULL) {
        ngx_http_order_edit_report_retry(rr, "no memory for a request", 0);
        return;
    }

    p = ngx_sprintf(url.data, "%V/admin/api/%V/orders.json?status=any"
                    "&limit=%uz&ids=", &rr->rcf->url, &rr->rcf->api_version,
                    last - rr->extra_next);

    for (i = rr->extra_next; i < last; i++) {
        id = json_string_value(json_object_get(json_array_get(rr->extra, i),
                                               "id"));
        p = ngx_sprintf(p, "%s%s", (i == rr->extra_next) ? "" : ",", id);
    }

    *p = '\0';
    url.len = p - url.data;

    ngx_http_order_edit_report_get(rr, &url,
                                   ngx_http_order_edit_report_confirmed);
}


static void
ngx_http_order_edit_report_confirmed(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_report_run_t *rr = data;

    if (ngx_http_order_edit_report_answered(rr, req) != NGX_OK) {
        return;
    }

    if (req->status != 200) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": Shopify answered %ui",
                      &rr->store->name, req->status);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    /* a list of orders, as a page is */
    if (ngx_http_order_edit_reconcile_parse(req, "orders", rr->log,
                                 &rr->parse,
                                 ngx_http_order_edit_report_found, rr)
        == NGX_ERROR)
    {
        ngx_http_order_edit_report_finish(rr, 0);
    }
}


/*
 * Of the orders asked, those Shopify did not return are only NetSuite's
 * (a row each; deleted, or never Shopify's); those it returned are
 * compared as one more page, read from NetSuite through NETSUITE and
 * LINES like the others (the rows of both sides were read, a difference
 * is as real), and then the next ones are asked.
 */

static void
ngx_http_order_edit_report_found(void *data, json_t *orders, size_t bytes,
    const char *err, ngx_uint_t cancelled)
{
    ngx_http_order_edit_report_run_t *rr = data;

    char         text[NGX_INT64_LEN + 1];
    size_t       i, last;
    json_t      *order, *ids, *e;
    const char  *id;

    ngx_http_order_edit_report_enter(rr);

    if (cancelled) {
        ngx_http_order_edit_report_finish(rr, 2);
        return;
    }

    ids = json_object();

    if (!json_is_array(orders) || ids == NULL) {
        json_decref(ids);
        ngx_http_order_edit_reconcile_release(orders, bytes, rr->log);
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": an unreadable list "
                      "of orders", &rr->store->name);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->failures = 0;

    json_array_foreach(orders, i, order) {
        (void) ngx_http_order_edit_report_sum(rr, order, text);

        if (text[0] != '\0') {
            (void) json_object_set_new(ids, text, json_true());
        }
    }

    last = ngx_min(json_array_size(rr->extra),
                   rr->extra_next + NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM_IDS);

    for (i = rr->extra_next; i < last; i++) {
        e = json_array_get(rr->extra, i);
        id = json_string_value(json_object_get(e, "id"));

        if (json_object_get(ids, id) == NULL) {
            ngx_http_order_edit_report_diff(rr, NULL, e, id);
        }
    }

    json_decref(ids);
    rr->extra_next = last;

    rr->extras = 1;
    rr->last_page = 1;

    ngx_http_order_edit_report_take(rr, orders, bytes);
    ngx_http_order_edit_report_leave(rr);
}


/* Shopify's page released: on the thread pool if it was parsed there */

static void
ngx_http_order_edit_report_orders_free(ngx_http_order_edit_report_run_t *rr)
{
    ngx_http_order_edit_reconcile_release(rr->orders, rr->orders_bytes,
                                          rr->log);
    rr->orders = NULL;
    rr->orders_bytes = 0;
}


/*
 * A tree of the run's let go of, on the thread pool when it is large, as
 * Shopify's pages are: freeing a SuiteQL page of 500 rows, a page's
 * NetSuite summaries or the run's ids of a day (thousands of small nodes)
 * was 0.2-0.5 ms of the event loop in one piece.  "n" is its text's size
 * when known; else its items are counted, as about 256 bytes each.
 */

static void
ngx_http_order_edit_report_release(ngx_http_order_edit_report_run_t *rr,
    json_t **v, size_t n)
{
    if (*v == NULL) {
        return;
    }

    if (n == 0) {
        n = 256 * (json_is_array(*v) ? json_array_size(*v)
                                     : json_object_size(*v));
    }

    ngx_http_order_edit_reconcile_release(*v, n, rr->log);
    *v = NULL;
}


/*
 * The run's order ids Shopify listed or NetSuite's side added: 1 if "id"
 * is one; with "add", it is made one (NGX_ERROR: no memory).  A tree in
 * the run's pool, not a jansson object: a day's thousands of ids grew a
 * hashtable by rehashing it whole, 0.2-0.4 ms of one step at 2,048.
 */

static ngx_int_t
ngx_http_order_edit_report_seen(ngx_http_order_edit_report_run_t *rr,
    const char *id, ngx_uint_t add)
{
    uint32_t         hash;
    ngx_str_t        name;
    ngx_str_node_t  *sn;

    name.data = (u_char *) id;
    name.len = ngx_strlen(id);
    hash = ngx_crc32_short(name.data, name.len);

    if (ngx_str_rbtree_lookup(&rr->seen, &name, hash) != NULL) {
        return 1;
    }

    if (!add) {
        return 0;
    }

    sn = ngx_palloc(rr->pool, sizeof(ngx_str_node_t) + name.len);
    if (sn == NULL) {
        return NGX_ERROR;
    }

    sn->node.key = hash;
    sn->str.data = (u_char *) (sn + 1);
    sn->str.len = name.len;
    ngx_memcpy(sn->str.data, name.data, name.len);

    ngx_rbtree_insert(&rr->seen, &sn->node);

    return 0;
}


/*
 * One order compared, its rows added to the run's: every row of a run
 * passes here ("order" NULL: only NetSuite has it, "sum" its summary).
 */

static void
ngx_http_order_edit_report_diff(ngx_http_order_edit_report_run_t *rr,
    json_t *order, json_t *sum, const char *id)
{
    size_t  from;

    from = json_array_size(rr->rows);

    if (ngx_http_order_edit_rdiff(order, sum, id, rr->rows) < 0) {
        ngx_log_error(NGX_LOG_WARN, rr->log, 0,
                      "order_edit: report of \"%V\": order %s has "
                      "values that are not exact money",
                      &rr->store->name, id);
    }

    /* its rows are final: the actionable ones go to people */
    rr->raised += ngx_http_order_edit_exc_report(rr->zone, &rr->store->name,
                                                 &rr->rcf->api_version,
                                                 order, rr->rows, from,
                                                 &rr->room, &rr->over,
                                                 rr->log);
}


/*
 * What the queries name, once: the external-id prefix of the store's
 * Sales Orders (the pattern up to its order id or number, {shop} as the
 * normaliser writes it; empty: NetSuite's side is not read), and our line
 * key's column (lower case, as SuiteQL names it; empty: switched off).
 */

static ngx_int_t
ngx_http_order_edit_report_names(ngx_http_order_edit_report_run_t *rr,
    ngx_pool_t *pool)
{
    u_char      *p;
    size_t       i, n, handle;
    ngx_str_t   *shop;
    const char  *pattern, *key;

    shop = &rr->store->name;
    pattern = rr->store->norm.sales_order_id
              ? rr->store->norm.sales_order_id
              : NGX_HTTP_ORDER_EDIT_DEFAULT_SO_ID;

    handle = shop->len;

    if (handle > 14
        && ngx_strncmp(shop->data + handle - 14, ".myshopify.com", 14) == 0)
    {
        handle -= 14;
    }

    p = ngx_pnalloc(pool, ngx_strlen(pattern) * shop->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rr->prefix.data = p;

    while (*pattern) {
        if (*pattern != '{') {
            *p++ = *pattern++;
            continue;
        }

        if (ngx_strncmp(pattern, "{shop}", 6) == 0) {
            n = handle;
            pattern += 6;

        } else if (ngx_strncmp(pattern, "{shop_domain}", 13) == 0) {
            n = shop->len;
            pattern += 13;

        } else {
            break;
        }

        for (i = 0; i < n; i++) {
            *p++ = (shop->data[i] == '.') ? '-' : shop->data[i];
        }
    }

    rr->prefix.len = p - rr->prefix.data;

    key = ngx_http_order_edit_norm_field(&rr->store->norm,
                                         NGX_HTTP_ORDER_EDIT_FIELD_LINE_KEY);
    n = key ? ngx_strlen(key) : 0;

    rr->key.data = ngx_pnalloc(pool, n + 1);
    if (rr->key.data == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        rr->key.data[i] = ngx_tolower(key[i]);

        if (!(isalnum(rr->key.data[i]) || rr->key.data[i] == '_')) {
            /* not a column SuiteQL could name: lines by SKU */
            n = 0;
            break;
        }
    }

    rr->key.len = n;

    return NGX_OK;
}


/*
 * An order's id as text into "id" (empty: it has none) and its summary
 * when its Sales Order was read (NULL: none).
 */

static json_t *
ngx_http_order_edit_report_sum(ngx_http_order_edit_report_run_t *rr,
    json_t *order, char *id)
{
    json_t  *v, *sum;

    v = json_object_get(order, "id");

    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        id[0] = '\0';
        return NULL;
    }

    ngx_sprintf((u_char *) id, "%L%Z", (int64_t) json_integer_value(v));

    sum = json_object_get(rr->ns, id);

    return json_object_get(sum, "total") ? sum : NULL;
}


/*
 * The page's orders compared, a slice a tick (NGX_AGAIN: the rest in the
 * next ticks, in the COMPARE phase); then the next page, or the run's end
 */

static ngx_int_t
ngx_http_order_edit_report_compare(ngx_http_order_edit_report_run_t *rr)
{
    char      id[NGX_INT64_LEN + 1];
    size_t    i, last;
    json_t   *order, *sum;
    uint64_t  start;

    start = ngx_http_order_edit_report_us();

    last = ngx_min(json_array_size(rr->orders),
                   rr->compared + NGX_HTTP_ORDER_EDIT_REPORT_SLICE);

    for (i = rr->compared; i < last; /* void */) {
        order = json_array_get(rr->orders, i++);

        /* memos without their Sales Order: the order is missing */
        sum = ngx_http_order_edit_report_sum(rr, order, id);

        if (id[0] == '\0') {
            continue;
        }

        /* what Shopify listed: NetSuite's side of the window is the rest */
        if (ngx_http_order_edit_report_seen(rr, id, 1) == NGX_ERROR) {
            ngx_http_order_edit_report_finish(rr, 0);
            return NGX_ERROR;
        }

        rr->norders++;
        rr->nrefunds += json_array_size(json_object_get(order, "refunds"));

        if (sum != NULL) {
            ngx_http_order_edit_report_ns_amounts(sum);
        }

        ngx_http_order_edit_report_diff(rr, order, sum, id);

        if (ngx_http_order_edit_report_us() - start
            >= NGX_HTTP_ORDER_EDIT_REPORT_BUDGET_US)
        {
            break;
        }
    }

    if (i < json_array_size(rr->orders)) {
        /* the rest at the loop's next turns */
        rr->compared = i;
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_COMPARE;
        ngx_http_order_edit_report_more(rr);
        return NGX_AGAIN;
    }

    rr->compared = 0;

    ngx_http_order_edit_report_orders_free(rr);
    ngx_http_order_edit_report_release(rr, &rr->ns, 0);

    if (rr->extras) {
        /* the next of NetSuite's orders, Shopify's pace permitting */
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_CONFIRM;
        rr->waiting = 1;
        rr->not_before = ngx_current_msec + NGX_HTTP_ORDER_EDIT_REPORT_PACE;

        return NGX_OK;
    }

    if (rr->last_page) {
        if (rr->prefix.len == 0) {
            ngx_http_order_edit_report_save(rr);
            return NGX_DONE;
        }

        /* Shopify's side done: NetSuite's side of the window */
        rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_WINDOW;
        rr->offset = 0;
        ngx_http_order_edit_report_more(rr);

        return NGX_OK;
    }

    /*
     * The next Shopify page at most at the bucket's leak rate (2 a second
     * on a standard plan): the report never drains what reconciliation
     * and the app's other calls share.
     */
    rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_SHOPIFY;
    rr->waiting = 1;
    rr->not_before = ngx_current_msec + NGX_HTTP_ORDER_EDIT_REPORT_PACE;

    return NGX_OK;
}


/* the next slice of a run, at the loop's next turn */

static void
ngx_http_order_edit_report_resume(ngx_event_t *ev)
{
    ngx_http_order_edit_report_run_t *rr = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the dispatcher's tick ends the run */
        return;
    }

    ngx_http_order_edit_report_enter(rr);
    ngx_http_order_edit_report_step(rr);
    ngx_http_order_edit_report_leave(rr);
}


/*
 * Work a run can go on with: at the loop's next turn (after the events
 * that are ready then, webhooks first), not at the dispatcher's next
 * tick, which made a run of many slices take a tick each (a day of 2,300
 * orders: 92 compare slices, 9 s, besides the SuiteQL pages' rows).
 * ngx_posted_next_events, not ngx_posted_events: a step posted from a
 * posted step would run in the same turn, never reaching epoll_wait().
 */

static void
ngx_http_order_edit_report_more(ngx_http_order_edit_report_run_t *rr)
{
    if (!rr->resume.posted) {
        ngx_post_event(&rr->resume, &ngx_posted_next_events);
    }
}


/* microseconds of a monotonic clock: a step is far shorter than a ms */

static uint64_t
ngx_http_order_edit_report_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/*
 * The thread's CPU time: a step's wall time on a loaded machine includes
 * the worker being preempted, which no slicing shortens
 */

static uint64_t
ngx_http_order_edit_report_cpu_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/*
 * A step's time on the event loop: the run's longest (wall time) and its
 * phase, and the most CPU time a step took, for the run's log line
 */

static void
ngx_http_order_edit_report_enter(ngx_http_order_edit_report_run_t *rr)
{
    rr->step_us = ngx_http_order_edit_report_us();
    rr->step_cpu = ngx_http_order_edit_report_cpu_us();
    rr->step_phase = rr->phase;
}


static void
ngx_http_order_edit_report_leave(ngx_http_order_edit_report_run_t *rr)
{
    uint64_t    held;
    ngx_uint_t  ph;

    held = ngx_http_order_edit_report_us() - rr->step_us;

    if (held > rr->hold_us) {
        rr->hold_us = held;
        rr->hold_phase = rr->step_phase;
    }

    ph = ngx_min(rr->step_phase, NGX_HTTP_ORDER_EDIT_REPORT_WRITE);
    rr->ph_us[ph] = ngx_max(rr->ph_us[ph], held);

    held = ngx_http_order_edit_report_cpu_us() - rr->step_cpu;

    if (held > rr->hold_cpu) {
        rr->hold_cpu = held;
        rr->cpu_phase = rr->step_phase;
    }

    rr->ph_cpu[ph] = ngx_max(rr->ph_cpu[ph], held);
    rr->ph_steps[ph]++;

    if (held > NGX_HTTP_ORDER_EDIT_REPORT_LONG_US) {
        rr->ph_long[ph]++;
    }
}


/* a request failed: again after 1, 2, 4 ... s, or its own wait; or give up */

static void
ngx_http_order_edit_report_retry(ngx_http_order_edit_report_run_t *rr,
    const char *what, ngx_msec_t ms)
{
    if (++rr->failures > NGX_HTTP_ORDER_EDIT_REPORT_TRIES) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\": %s, %ui times; the run "
                      "is given up", &rr->store->name, what,
                      rr->failures - 1);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    if (ms == 0) {
        ms = (ngx_msec_t) 1000 << (rr->failures - 1);
    }

    ngx_log_error(NGX_LOG_WARN, rr->log, 0,
                  "order_edit: report of \"%V\": %s; again in %M ms",
                  &rr->store->name, what, ms);

    rr->waiting = 1;
    rr->not_before = ngx_current_msec + ms;
}


/* ok: 1 the run went through, 0 it failed, 2 the worker is going */

static void
ngx_http_order_edit_report_finish(ngx_http_order_edit_report_run_t *rr,
    ngx_uint_t ok)
{
    u_char      *p;
    ngx_uint_t  *counts, ph;
    u_char       steps[8 * sizeof(", compare 999999/999999 us 99999/99999")];

    static const char  *phases[] = {
        "start", "shopify", "netsuite", "lines", "window", "confirm",
        "compare", "write"
    };

    /* the step under way counts too: it may be the longest */
    ngx_http_order_edit_report_leave(rr);

    /* the rows not handed to the file's write */
    free(rr->out);
    rr->out = NULL;
    rr->out_len = 0;
    rr->out_cap = 0;

    counts = rr->counts;

    ngx_shmtx_lock(&rr->zone->shpool->mutex);

    /* a reload's next worker may have begun its own run meanwhile */
    if (rr->rs->report_running == ngx_pid) {
        rr->rs->report_running = 0;
    }

    if (ok == 2) {
        /* cut short by a reload: the next dispatching worker redoes it */
        rr->rs->report_asked = 1;

    } else if (ok) {
        rr->rs->report_runs++;
        rr->rs->report_last = (uint64_t) ngx_time();
        rr->rs->report_mismatch = counts[0];
        rr->rs->report_missing_netsuite = counts[1];
        rr->rs->report_missing_shopify = counts[2];
        rr->rs->report_actionable = counts[3];

    } else {
        rr->rs->report_errors++;
    }

    ngx_shmtx_unlock(&rr->zone->shpool->mutex);

    if (ok == 2) {
        ngx_log_error(NGX_LOG_NOTICE, rr->log, 0,
                      "order_edit: report of \"%V\" cut short: the worker "
                      "is stopping", &rr->store->name);

    } else if (ok) {
        /* by phase: most CPU/wall time a step, long steps/steps */
        p = steps;

        for (ph = 0; ph <= NGX_HTTP_ORDER_EDIT_REPORT_WRITE; ph++) {
            if (rr->ph_steps[ph]) {
                p = ngx_slprintf(p, steps + sizeof(steps),
                                 "%s %s %uL/%uL us %ui/%ui",
                                 (p == steps) ? "" : ",", phases[ph],
                                 rr->ph_cpu[ph], rr->ph_us[ph],
                                 rr->ph_long[ph], rr->ph_steps[ph]);
            }
        }

        ngx_log_error(NGX_LOG_NOTICE, rr->log, 0,
                      "order_edit: report of \"%V\" done: %ui orders and "
                      "%ui refunds in %ui pages (%ui SuiteQL pages), "
                      "%ui mismatches, %ui missing in NetSuite, %ui missing "
                      "in Shopify, %ui actionable, %ui exceptions raised, "
                      "%M ms, longest step %uL us (%s), at most %uL us CPU "
                      "a step (%s), file %uL us (%uL us on a thread); "
                      "steps by phase (CPU/wall us most, over %d us "
                      "CPU/all):%*s",
                      &rr->store->name, rr->norders, rr->nrefunds, rr->pages,
                      rr->ns_pages, counts[0], counts[1], counts[2],
                      counts[3], rr->raised,
                      (ngx_msec_t) (ngx_http_order_edit_now_ms()
                                    - rr->started_ms),
                      rr->hold_us,
                      phases[ngx_min(rr->hold_phase,
                                     NGX_HTTP_ORDER_EDIT_REPORT_WRITE)],
                      rr->hold_cpu,
                      phases[ngx_min(rr->cpu_phase,
                                     NGX_HTTP_ORDER_EDIT_REPORT_WRITE)],
                      rr->write_us, rr->file_us,
                      NGX_HTTP_ORDER_EDIT_REPORT_LONG_US,
                      (size_t) (p - steps), steps);

    } else {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "order_edit: report of \"%V\" failed after %ui pages",
                      &rr->store->name, rr->pages);
    }

    if (rr->over) {
        ngx_log_error(NGX_LOG_WARN, rr->log, 0,
                      "order_edit: report of \"%V\": %ui exceptions not "
                      "raised, max_exceptions=%ui reached; the report lists "
                      "their rows, and the next runs raise them while "
                      "NetSuite still differs", &rr->store->name, rr->over,
                      rr->conf->max_exc);
    }

    if (rr->resume.posted) {
        ngx_delete_posted_event(&rr->resume);
    }

    ngx_http_order_edit_report_release(rr, &rr->page, rr->page_bytes);
    ngx_http_order_edit_report_orders_free(rr);
    ngx_http_order_edit_report_release(rr, &rr->ns, 0);
    ngx_http_order_edit_report_release(rr, &rr->rows, 0);
    ngx_http_order_edit_report_release(rr, &rr->extra, 0);

    if (rr->npool && !rr->nsc_out) {
        /* a query built, not sent (one out is ended by its ns_done) */
        ngx_destroy_pool(rr->npool);
        rr->npool = NULL;
    }

    if (rr->pool) {
        ngx_destroy_pool(rr->pool);
        rr->pool = NULL;
    }

    rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_IDLE;
    rr->compared = 0;
    rr->waiting = 0;
    rr->failures = 0;
}


/*
 * The day's file: written to a temporary name (.<pid>.tmp), then renamed,
 * so a reader never sees half of it; a second run that day replaces the
 * first.  The
 * run's record first, then the rows.  The rows are dumped into one text
 * here, up to a slice or the step's budget a step (a first run on a store
 * NetSuite lacks has thousands); the file is opened, written, renamed and
 * the files past keep removed (by name) on the thread pool, in one task:
 * those are blocking calls, a row a write() was up to 2 ms of the event
 * loop on a loaded machine even for a file of no rows.
 */

static void
ngx_http_order_edit_report_save(ngx_http_order_edit_report_run_t *rr)
{
    ngx_memzero(rr->counts, sizeof(rr->counts));

    rr->written = 0;
    rr->out_len = 0;
    rr->phase = NGX_HTTP_ORDER_EDIT_REPORT_WRITE;

    ngx_http_order_edit_report_save_rows(rr);
}


/* the next rows into "out", counted; after the last, the file's write */

static void
ngx_http_order_edit_report_save_rows(ngx_http_order_edit_report_run_t *rr)
{
    size_t       i, k, last;
    json_t      *row;
    uint64_t     start;
    const char  *kind;

    static const char  *kinds[] = {
        "mismatch", "missing_in_netsuite", "missing_in_shopify"
    };

    start = ngx_http_order_edit_report_us();

    last = ngx_min(json_array_size(rr->rows),
                   rr->written + NGX_HTTP_ORDER_EDIT_REPORT_ROW_SLICE);

    for (i = rr->written; i < last; /* void */) {
        row = json_array_get(rr->rows, i++);
        kind = json_string_value(json_object_get(row, "kind"));

        for (k = 0; kind && k < 3; k++) {
            if (ngx_strcmp(kind, kinds[k]) == 0) {
                rr->counts[k]++;
            }
        }

        if (json_is_true(json_object_get(row, "actionable"))) {
            rr->counts[3]++;
        }

        if (json_dump_callback(row, ngx_http_order_edit_report_out, rr,
                               JSON_COMPACT | JSON_PRESERVE_ORDER) != 0
            || ngx_http_order_edit_report_out("\n", 1, rr) != 0)
        {
            ngx_http_order_edit_report_finish(rr, 0);
            return;
        }

        if (ngx_http_order_edit_report_us() - start
            >= NGX_HTTP_ORDER_EDIT_REPORT_BUDGET_US)
        {
            break;
        }
    }

    rr->written = i;

    if (i < json_array_size(rr->rows)) {
        rr->write_us += ngx_http_order_edit_report_us() - start;
        ngx_http_order_edit_report_more(rr);
        return;
    }

    if (ngx_http_order_edit_report_file(rr) != NGX_OK) {
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    rr->write_us += ngx_http_order_edit_report_us() - start;
}


/* json_dump_callback()'s: the text appended to the run's "out" */

static int
ngx_http_order_edit_report_out(const char *text, size_t len, void *data)
{
    ngx_http_order_edit_report_run_t *rr = data;

    u_char  *p;
    size_t   cap;

    if (rr->out_len + len > rr->out_cap) {
        cap = ngx_max(2 * rr->out_cap, ngx_max(rr->out_len + len, 4096));

        p = realloc(rr->out, cap);
        if (p == NULL) {
            return -1;
        }

        rr->out = p;
        rr->out_cap = cap;
    }

    ngx_memcpy(rr->out + rr->out_len, text, len);
    rr->out_len += len;

    return 0;
}


/*
 * The file's write, on the thread pool: what the thread reads is its
 * context alone (the text, the paths), malloc()ed, so that the run (its
 * pool, its rows) may end while the thread writes.  On the results: the
 * call that failed and its error, logged in the event loop.
 */

typedef struct {
    char               *head;       /* the run's record, malloc()ed */
    u_char             *rows;       /* malloc()ed */
    size_t              rows_len;
    u_char             *path;       /* the paths: in the context's tail */
    u_char             *tmp;
    u_char             *dir;        /* the directory, NUL-terminated */
    u_char             *old[NGX_HTTP_ORDER_EDIT_REPORT_PRUNE];
    const char         *failed;     /* NULL: written */
    u_char             *failed_path;
    ngx_err_t           err;
    ngx_uint_t          pruned;     /* past keep, removed */
    ngx_uint_t          stale;      /* dead workers' .tmp, removed */
    uint64_t            us;         /* the thread's wall time */
} ngx_http_order_edit_report_file_t;


static void ngx_http_order_edit_report_stale_tmp(
    ngx_http_order_edit_report_file_t *f);


static ngx_int_t
ngx_http_order_edit_report_file(ngx_http_order_edit_report_run_t *rr)
{
    u_char                             *p;
    json_t                             *run;
    size_t                              plen;
    time_t                              now;
    ngx_uint_t                          i;
    ngx_http_order_edit_parse_t        *t;
    ngx_http_order_edit_report_file_t  *f;

    plen = rr->conf->dir.len + rr->store->name.len
           + sizeof("/report-2026-12-06-.jsonl..tmp") + NGX_INT64_LEN;

    t = ngx_http_order_edit_parse_create(
            sizeof(ngx_http_order_edit_report_file_t)
            + (3 + NGX_HTTP_ORDER_EDIT_REPORT_PRUNE) * plen,
            ngx_http_order_edit_report_file_clean, rr->log);
    if (t == NULL) {
        return NGX_ERROR;
    }

    f = ngx_http_order_edit_parse_ctx(t);
    p = (u_char *) (f + 1);
    now = (time_t) (rr->started_ms / 1000);

    f->path = p;
    ngx_http_order_edit_report_path(rr, f->path, now);
    /*
     * The worker's own temporary name: an old worker's thread may still
     * write its file after a reload while the new worker writes the day's
     */
    f->tmp = p + plen;
    ngx_sprintf(ngx_cpymem(f->tmp, f->path, ngx_strlen(f->path)),
                ".%P.tmp%Z", ngx_pid);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_REPORT_PRUNE; i++) {
        f->old[i] = p + (2 + i) * plen;
        ngx_http_order_edit_report_path(rr, f->old[i],
                  now - (time_t) (rr->conf->keep + 1 + i) * 24 * 60 * 60);
    }

    f->dir = p + (2 + NGX_HTTP_ORDER_EDIT_REPORT_PRUNE) * plen;
    ngx_sprintf(f->dir, "%V%Z", &rr->conf->dir);

    run = json_pack("{s:{s:I, s:I, s:i, s:i, s:i, s:b, s:i, s:i, s:i, "
                    "s:i, s:i, s:i, s:I, s:I}}", "run",
                    "started_ms", (json_int_t) rr->started_ms,
                    "since_ms", (json_int_t) rr->since_ms,
                    "orders", (int) rr->norders,
                    "refunds", (int) rr->nrefunds,
                    "pages", (int) rr->pages,
                    "asked", (int) rr->asked,
                    "mismatch", (int) rr->counts[0],
                    "missing_in_netsuite", (int) rr->counts[1],
                    "missing_in_shopify", (int) rr->counts[2],
                    "actionable", (int) rr->counts[3],
                    "exceptions", (int) rr->raised,
                    "exceptions_not_raised", (int) rr->over,
                    "longest_step_us", (json_int_t) rr->hold_us,
                    "longest_step_cpu_us", (json_int_t) rr->hold_cpu);

    f->head = run ? json_dumps(run, JSON_COMPACT | JSON_PRESERVE_ORDER)
                  : NULL;
    json_decref(run);

    if (f->head == NULL) {
        ngx_http_order_edit_parse_destroy(t);
        return NGX_ERROR;
    }

    /* the rows are the task's now */
    f->rows = rr->out;
    f->rows_len = rr->out_len;
    rr->out = NULL;
    rr->out_len = 0;
    rr->out_cap = 0;

    /* done() clears it, before this returns when the write is inline */
    rr->file = t;

    ngx_http_order_edit_parse_background(t);

    /*
     * A file is blocking calls, however small: on the pool when there is
     * one, whatever parse_threshold says (the largest weight)
     */
    (void) ngx_http_order_edit_parse_start(t, (size_t) -1,
                                 ngx_http_order_edit_report_file_write,
                                 ngx_http_order_edit_report_file_done, rr);

    return NGX_OK;
}


static void
ngx_http_order_edit_report_file_write(void *ctx)
{
    ngx_http_order_edit_report_file_t *f = ctx;

    u_char      *p, *last;
    size_t       len;
    ssize_t      n;
    ngx_fd_t     fd;
    uint64_t     start;
    ngx_uint_t   i;

    start = ngx_http_order_edit_report_us();

    fd = ngx_open_file(f->tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        f->failed = ngx_open_file_n;
        f->err = ngx_errno;
        goto failed;
    }

    /* the record's NUL becomes its newline: written by length */
    len = ngx_strlen(f->head);
    f->head[len++] = '\n';

    for (i = 0; i < 2; i++) {
        p = i ? f->rows : (u_char *) f->head;
        last = p + (i ? f->rows_len : len);

        while (p < last) {
            n = ngx_write_fd(fd, p, last - p);

            if (n <= 0) {
                /* the error of the call that failed, not of the cleanup */
                f->failed = ngx_write_fd_n;
                f->err = (n == 0) ? NGX_ENOSPC : ngx_errno;
                (void) ngx_close_file(fd);
                (void) ngx_delete_file(f->tmp);
                goto failed;
            }

            p += n;
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        f->failed = ngx_close_file_n;
        f->err = ngx_errno;
        (void) ngx_delete_file(f->tmp);
        goto failed;
    }

    if (ngx_rename_file(f->tmp, f->path) == NGX_FILE_ERROR) {
        f->failed = ngx_rename_file_n;
        f->err = ngx_errno;
        (void) ngx_delete_file(f->tmp);
        goto failed;
    }

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_REPORT_PRUNE; i++) {
        if (ngx_delete_file(f->old[i]) == NGX_FILE_ERROR) {
            if (ngx_errno != NGX_ENOENT && f->err == 0) {
                /* written: only a warning */
                f->err = ngx_errno;
                f->failed_path = f->old[i];
            }

            continue;
        }

        f->pruned++;
    }

    ngx_http_order_edit_report_stale_tmp(f);

    f->us = ngx_http_order_edit_report_us() - start;

    return;

failed:

    f->failed_path = f->tmp;
    f->us = ngx_http_order_edit_report_us() - start;
}


/*
 * A worker that died while it wrote a day's file left its temporary name
 * ("report-<day>-<store>.jsonl.<pid>.tmp") behind, never renamed and
 * never written again: removed once that process is gone and the file
 * is an hour old (a file is written in seconds; the hour covers a pid
 * kill() cannot see, another nginx's in another pid namespace sharing
 * the directory).  A live one's (an old worker still writing after a
 * reload) is left, and so is one whose pid another process took since.
 */

static void
ngx_http_order_edit_report_stale_tmp(ngx_http_order_edit_report_file_t *f)
{
    u_char          *name, *digits, *end, path[NGX_MAX_PATH];
    size_t           len;
    time_t           old;
    ngx_str_t        dname;
    ngx_dir_t        dir;
    ngx_int_t        pid;
    ngx_file_info_t  fi;

    dname.data = f->dir;
    dname.len = ngx_strlen(f->dir);

    if (ngx_open_dir(&dname, &dir) == NGX_ERROR) {
        return;
    }

    old = time(NULL) - 60 * 60;

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&dir) == NGX_ERROR) {
            break;
        }

        name = ngx_de_name(&dir);
        len = ngx_de_namelen(&dir);

        if (len < sizeof("report-.jsonl.1.tmp") - 1
            || ngx_strncmp(name, "report-", 7) != 0
            || ngx_strncmp(name + len - 4, ".tmp", 4) != 0)
        {
            continue;
        }

        end = name + len - 4;

        for (digits = end; digits > name && digits[-1] >= '0'
                                          && digits[-1] <= '9'; digits--)
        {
            /* void */
        }

        if (digits == end || digits - name < 7 + 7
            || ngx_strncmp(digits - 7, ".jsonl.", 7) != 0)
        {
            continue;
        }

        pid = ngx_atoi(digits, end - digits);

        /* not a pid at all (it would wrap): not a worker's */
        if (pid == NGX_ERROR || pid == 0 || (ngx_int_t) (ngx_pid_t) pid != pid
            || !ngx_http_order_edit_pid_gone((ngx_pid_t) pid, 0)
            || dname.len + 1 + len + 1 > NGX_MAX_PATH)
        {
            continue;
        }

        ngx_sprintf(path, "%V/%*s%Z", &dname, len, name);

        if (ngx_file_info(path, &fi) == NGX_FILE_ERROR
            || ngx_file_mtime(&fi) > old)
        {
            continue;
        }

        if (ngx_delete_file(path) != NGX_FILE_ERROR) {
            f->stale++;
        }
    }

    (void) ngx_close_dir(&dir);
}


static void
ngx_http_order_edit_report_file_done(void *ctx, void *data,
    ngx_uint_t cancelled)
{
    ngx_http_order_edit_report_file_t *f = ctx;
    ngx_http_order_edit_report_run_t  *rr = data;

    rr->file = NULL;

    ngx_http_order_edit_report_enter(rr);

    if (cancelled) {
        /* the thread may still write and rename it, whole */
        ngx_http_order_edit_report_finish(rr, 2);
        return;
    }

    rr->file_us = f->us;

    if (f->failed) {
        ngx_log_error(NGX_LOG_ERR, rr->log, f->err,
                      "%s \"%s\" failed: the report \"%s\" not written",
                      f->failed, f->failed_path, f->path);
        ngx_http_order_edit_report_finish(rr, 0);
        return;
    }

    if (f->err) {
        ngx_log_error(NGX_LOG_WARN, rr->log, f->err,
                      ngx_delete_file_n " \"%s\" failed", f->failed_path);
    }

    if (f->stale) {
        ngx_log_error(NGX_LOG_NOTICE, rr->log, 0,
                      "removed %ui temporary report file(s) of exited "
                      "workers in \"%s\"", f->stale, f->dir);
    }

    ngx_http_order_edit_report_finish(rr, 1);
}


static void
ngx_http_order_edit_report_file_clean(void *ctx)
{
    ngx_http_order_edit_report_file_t *f = ctx;

    free(f->head);
    free(f->rows);
}


/* the day's file of time t; "p" holds the directory and the store's name */

static void
ngx_http_order_edit_report_path(ngx_http_order_edit_report_run_t *rr,
    u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_localtime(t, &tm);

    ngx_sprintf(p, "%V/report-%4d-%02d-%02d-%V.jsonl%Z", &rr->conf->dir,
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                &rr->store->name);
}


static ngx_http_order_edit_recon_shop_t *
ngx_http_order_edit_report_shop(ngx_http_order_edit_zone_t *zone,
    ngx_str_t *shop)
{
    ngx_queue_t                       *q;
    ngx_http_order_edit_recon_shop_t  *rs, *found;

    found = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (zone->sh->reconcile != NULL) {
        for (q = ngx_queue_head(&zone->sh->reconcile->shops);
             q != ngx_queue_sentinel(&zone->sh->reconcile->shops);
             q = ngx_queue_next(q))
        {
            rs = ngx_queue_data(q, ngx_http_order_edit_recon_shop_t, queue);

            if (rs->len == shop->len
                && ngx_strncmp(rs->name, shop->data, shop->len) == 0)
            {
                found = rs;
                break;
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return found;
}
