
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Bundles: a Shopify SKU sold as one line that NetSuite knows as several
 * component items.  Configured as "SKU=COMP:QTY:WEIGHT,COMP:QTY:WEIGHT";
 * the line's price, discount and tax are split over the components by
 * weight, the remainder on the last component.  Pure C.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_BUNDLE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_BUNDLE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_COMPONENTS  64
#define NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_QTY         10000
#define NGX_HTTP_ORDER_EDIT_BUNDLE_MAX_WEIGHT      1000000


typedef struct {
    char                                *sku;
    size_t                               sku_len;
    int64_t                              qty;       /* per bundle unit */
    int64_t                              weight;
} ngx_http_order_edit_component_t;


typedef struct {
    char                                *sku;
    size_t                               sku_len;
    ngx_http_order_edit_component_t     *components;
    size_t                               ncomponents;
} ngx_http_order_edit_bundle_t;


typedef struct {
    ngx_http_order_edit_bundle_t        *bundles;
    size_t                               nbundles;
} ngx_http_order_edit_bundles_t;


/*
 * Parses one bundle spec and adds it.  Component SKUs may contain ":"
 * (the quantity and weight are taken from the right) but not ",".
 * Quantities are 1..10000, weights 1..1000000.  0 or -1 with a message
 * for nginx -t in err.
 */
int ngx_http_order_edit_bundles_add(ngx_http_order_edit_bundles_t *b,
    const char *spec, size_t len, char *err, size_t errlen);

const ngx_http_order_edit_bundle_t *ngx_http_order_edit_bundles_find(
    const ngx_http_order_edit_bundles_t *b, const char *sku, size_t len);

void ngx_http_order_edit_bundles_free(ngx_http_order_edit_bundles_t *b);


#endif /* _NGX_HTTP_ORDER_EDIT_BUNDLE_H_INCLUDED_ */
