
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 *   GET  <location>[?shop=]          the exceptions, oldest first per shop
 *   POST <location>/<id>/retry       back to the queue for delivery
 *   POST <location>/<id>/resolve     dealt with by a person: dropped
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_order_edit_exceptions.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_queue.h"
#include "ngx_http_order_edit_ingest.h"


static ngx_int_t ngx_http_order_edit_exc_get(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone);
static ngx_int_t ngx_http_order_edit_exc_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *rest);
static json_t *ngx_http_order_edit_exc_time(uint64_t ms);
static json_t *ngx_http_order_edit_exc_str(ngx_str_t *s);


static ngx_str_t  ngx_http_order_edit_exc_type =
    ngx_string("application/json");


ngx_int_t
ngx_http_order_edit_exceptions_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        rest;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_order_edit_loc_conf_t  *olcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_order_edit_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* what follows the location's own prefix: "", "/", "/17/retry" */

    rest.data = r->uri.data;
    rest.len = 0;

    if (r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        rest.data = r->uri.data + clcf->name.len;
        rest.len = r->uri.len - clcf->name.len;
    }

    if (rest.len == 0 || (rest.len == 1 && rest.data[0] == '/')) {

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            if (ngx_http_order_edit_allow(r, "GET, HEAD") != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                       "method_not_allowed", "use GET", 0);
        }

        return ngx_http_order_edit_exc_get(r, olcf->shm_zone->data);
    }

    return ngx_http_order_edit_exc_act(r, olcf->shm_zone->data, &rest);
}


static ngx_int_t
ngx_http_order_edit_exc_get(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone)
{
    json_t                            *root, *list, *e;
    ngx_str_t                          shop, *filter;
    ngx_uint_t                         i;
    ngx_array_t                        out;
    ngx_http_order_edit_exc_info_t    *x;
    ngx_http_order_edit_main_conf_t   *omcf;
    ngx_http_order_edit_store_conf_t  *store;

    if (ngx_array_init(&out, r->pool, 8,
                       sizeof(ngx_http_order_edit_exc_info_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    filter = (ngx_http_arg(r, (u_char *) "shop", 4, &shop) == NGX_OK)
             ? &shop : NULL;

    if (ngx_http_order_edit_exc_list(zone, r->pool, filter, &out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_order_edit_module);

    root = json_object();
    list = json_array();

    if (root == NULL || json_object_set_new(root, "exceptions", list) != 0) {
        json_decref(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    x = out.elts;

    for (i = 0; i < out.nelts; i++) {
        store = ngx_http_order_edit_find_store(omcf, &x[i].shop);

        e = json_object();
        if (e == NULL) {
            json_decref(root);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* every string was made printable ASCII when it was parked */

        json_object_set_new(e, "id", json_sprintf("%llu",
                                         (unsigned long long) x[i].id));
        json_object_set_new(e, "shop", ngx_http_order_edit_exc_str(
                                           &x[i].shop));
        json_object_set_new(e, "store", store
                            ? ngx_http_order_edit_exc_str(&store->name)
                            : json_null());
        json_object_set_new(e, "topic", ngx_http_order_edit_exc_str(
                                            &x[i].topic));
        json_object_set_new(e, "webhook_id", ngx_http_order_edit_exc_str(
                                                 &x[i].webhook_id));
        json_object_set_new(e, "order_id", x[i].order_id
                            ? json_sprintf("%llu",
                                  (unsigned long long) x[i].order_id)
                            : json_null());
        json_object_set_new(e, "reason", ngx_http_order_edit_exc_str(
                                             &x[i].reason));
        json_object_set_new(e, "netsuite_error", x[i].detail.len
                            ? ngx_http_order_edit_exc_str(&x[i].detail)
                            : json_null());
        json_object_set_new(e, "received_at",
                            ngx_http_order_edit_exc_time(x[i].received_ms));
        json_object_set_new(e, "first_seen",
                            ngx_http_order_edit_exc_time(x[i].first_ms));
        json_object_set_new(e, "last_seen",
                            ngx_http_order_edit_exc_time(x[i].last_ms));
        json_object_set_new(e, "attempts", json_integer(x[i].attempts));

        if (json_array_append_new(list, e) != 0) {
            json_decref(root);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    json_object_set_new(root, "count", json_integer(out.nelts));

    return ngx_http_order_edit_send_json(r, root);
}


/* "/<id>/retry" or "/<id>/resolve", POST only */

static ngx_int_t
ngx_http_order_edit_exc_act(ngx_http_request_t *r,
    ngx_http_order_edit_zone_t *zone, ngx_str_t *rest)
{
    u_char     *p, *last, *slash, out[96];
    off_t       id;
    ngx_int_t   rc;
    ngx_str_t   action;

    p = rest->data;
    last = p + rest->len;

    if (*p != '/') {
        goto not_found;
    }

    p++;
    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL || slash == p) {
        goto not_found;
    }

    id = ngx_atoof(p, slash - p);
    if (id <= 0) {
        goto not_found;
    }

    action.data = slash + 1;
    action.len = last - action.data;

    if (!(action.len == 5 && ngx_strncmp(action.data, "retry", 5) == 0)
        && !(action.len == 7 && ngx_strncmp(action.data, "resolve", 7) == 0))
    {
        goto not_found;
    }

    if (r->method != NGX_HTTP_POST) {
        if (ngx_http_order_edit_allow(r, "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "use POST", 0);
    }

    rc = (action.len == 5)
         ? ngx_http_order_edit_exc_retry(zone, (uint64_t) id)
         : ngx_http_order_edit_exc_resolve(zone, (uint64_t) id);

    if (rc != NGX_OK) {
        return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND,
                   "not_found", "no exception with that id", 0);
    }

    /* people's actions on the queue are worth a line each */
    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "order_edit: exception #%O %s", id,
                  action.len == 5 ? "sent back to the queue" : "resolved");

    last = ngx_sprintf(out, "{\"status\":\"%s\",\"id\":\"%O\"}\n",
                       action.len == 5 ? "requeued" : "resolved", id);

    return ngx_http_order_edit_send(r, NGX_HTTP_OK,
                                    &ngx_http_order_edit_exc_type, out,
                                    last - out, 0);

not_found:

    return ngx_http_order_edit_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
               "expected <id>/retry or <id>/resolve", 0);
}


static json_t *
ngx_http_order_edit_exc_time(uint64_t ms)
{
    ngx_tm_t  tm;

    if (ms == 0) {
        return json_null();
    }

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return json_sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                        (int) (ms % 1000));
}


static json_t *
ngx_http_order_edit_exc_str(ngx_str_t *s)
{
    return json_stringn((const char *) s->data, s->len);
}
