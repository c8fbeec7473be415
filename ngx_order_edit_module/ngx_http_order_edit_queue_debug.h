
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The queue API over HTTP, for the suites and for operators on loopback.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_QUEUE_DEBUG_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_QUEUE_DEBUG_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_queue_debug_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ORDER_EDIT_QUEUE_DEBUG_H_INCLUDED_ */
