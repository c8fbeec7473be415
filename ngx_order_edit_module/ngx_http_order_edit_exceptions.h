
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The exception queue for people: list, retry, resolve.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_exceptions_handler(ngx_http_request_t *r);
char *ngx_http_order_edit_exceptions_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_ORDER_EDIT_EXCEPTIONS_H_INCLUDED_ */
