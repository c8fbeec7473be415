
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The operations console: one page for customer service and finance over
 * the status, the history and the exception queue.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_CONSOLE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_CONSOLE_H_INCLUDED_


#include "ngx_http_order_edit_module.h"

#include <jansson.h>


/* what an exception's detail holds after NetSuite's words: the "before" */
#define NGX_HTTP_ORDER_EDIT_BEFORE_MARK  " || before "


ngx_int_t ngx_http_order_edit_console_handler(ngx_http_request_t *r);
char *ngx_http_order_edit_console_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/*
 * Appends to detail (len bytes at p, room for max in all) what NetSuite
 * holds of a Sales Order now, its lines and total, as compact JSON after
 * NGX_HTTP_ORDER_EDIT_BEFORE_MARK; nothing when it does not fit.  Returns
 * the new length.
 */
size_t ngx_http_order_edit_console_before(json_t *order, u_char *p,
    size_t len, size_t max);


#endif /* _NGX_HTTP_ORDER_EDIT_CONSOLE_H_INCLUDED_ */
