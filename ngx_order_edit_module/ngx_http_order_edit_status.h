
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The status endpoint: JSON, or Prometheus text with ?format=prometheus.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_STATUS_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_STATUS_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_status_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ORDER_EDIT_STATUS_H_INCLUDED_ */
