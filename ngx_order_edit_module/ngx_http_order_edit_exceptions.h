
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The exception queue for people: list, retry, resolve.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_exceptions_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_ */
