
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The NetSuite REST request for a normalised document: method, path and
 * the exact JSON body (docs/normalised-schema.md, "The NetSuite REST
 * requests").  It reads only the document and the store's field names, so
 * the document stays the one contract between Shopify and NetSuite.  Pure
 * C and jansson, like the normaliser that calls it.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_order_edit_normalise.h"
#include "ngx_http_order_edit_jbuild.h"


#define NGX_HTTP_ORDER_EDIT_REST_PREFIX        "/services/rest/record/v1/"


/*
 * Sets res->method, path, body and body_len for a document of the given
 * kind (res->doc); kinds without a request leave them unset.  0, or -1
 * when out of memory (then nothing is set).
 */
int ngx_http_order_edit_nsbody_build(
    const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_norm_kind_e kind, const json_t *doc,
    ngx_http_order_edit_norm_result_t *res);

/*
 * Replaces a sales order's request with the upsert, PUT salesOrder/eid:X.
 * 0, or -1 when out of memory (the request is then unchanged).
 */
int ngx_http_order_edit_nsbody_upsert(ngx_http_order_edit_norm_result_t *res);

/*
 * After the read before the write, with the order as NetSuite holds it
 * (its item sublist expanded): gives each line of a Sales Order body the
 * NetSuite "line" of the order's line that carries the same Shopify key in
 * the line key column, each order line used once.  A keyed replace then
 * updates those lines in place (their identity, commitments and whatever
 * other systems hold of them survive), deletes the lines not named and
 * adds the new ones.  Returns the number of lines matched, 0 when the
 * line key column is switched off.
 */
int ngx_http_order_edit_nsbody_keep_lines(
    const ngx_http_order_edit_norm_conf_t *conf, json_t *body,
    const json_t *record);

/*
 * A cancellation closes the order: its body gets every line of the order
 * read, by its "line", with "isClosed": true (a PATCH without replace
 * merges lines by "line").  Returns the number of lines, -1 when out of
 * memory.
 */
int ngx_http_order_edit_nsbody_close_lines(json_t *body,
    const json_t *record);

/*
 * Normalises one payload and, for a document that has one, builds its
 * NetSuite request (res->method, path, body): what the normaliser alone
 * did before the builder left it.  Returns res->kind; an allocation
 * failure in the builder is NGX_HTTP_ORDER_EDIT_NORM_ERROR "internal",
 * never a partial result.
 */
ngx_http_order_edit_norm_kind_e ngx_http_order_edit_nsbody_normalise(
    const ngx_http_order_edit_norm_conf_t *conf,
    const ngx_http_order_edit_norm_input_t *in,
    ngx_http_order_edit_norm_result_t *res);

/*
 * The sales order upsert (PUT salesOrder/eid:X, no replace) for a
 * dispatcher configured to create missing orders; replaces res->method,
 * path and body.  0, or -1 with res->error set.
 */
int ngx_http_order_edit_norm_upsert(const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_norm_result_t *res);


#endif /* _NGX_HTTP_ORDER_EDIT_NSBODY_H_INCLUDED_ */
