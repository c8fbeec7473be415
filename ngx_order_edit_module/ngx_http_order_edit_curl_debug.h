
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order_edit_curl_debug: drive the curl engine over HTTP, for the suites
 * and for operators checking egress (TLS, proxy) from a worker.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_CURL_DEBUG_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_CURL_DEBUG_H_INCLUDED_


#include "ngx_http_order_edit_module.h"


ngx_int_t ngx_http_order_edit_curl_debug_handler(ngx_http_request_t *r);
char *ngx_http_order_edit_curl_debug(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_ORDER_EDIT_CURL_DEBUG_H_INCLUDED_ */
