
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * JSON with exact numbers.  jansson turns every number with a fraction or
 * an exponent into a double, and 195.66 is not a double: it comes back as
 * 195.65999999999999659.  This loader pre-scans the text and hands jansson
 * every such number as a "number marker": a string whose first byte is NUL
 * followed by the number's original text.  The scan rejects "\u0000" in
 * the input, so a marker can never be forged by a payload.  The dumper
 * does the reverse, writing markers back as bare JSON numbers, which is
 * how exact decimals ("rate": 9.50) reach NetSuite without a double.
 * Pure C and jansson, no nginx headers.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_EXACTJSON_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_EXACTJSON_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>


typedef enum {
    NGX_HTTP_ORDER_EDIT_JSON_OK = 0,
    NGX_HTTP_ORDER_EDIT_JSON_INVALID,      /* "invalid_json" */
    NGX_HTTP_ORDER_EDIT_JSON_TOO_DEEP,     /* "too_deep" */
    NGX_HTTP_ORDER_EDIT_JSON_TOO_LARGE,    /* "too_large" */
    NGX_HTTP_ORDER_EDIT_JSON_NOMEM         /* "internal" */
} ngx_http_order_edit_json_rc_e;


/*
 * Parses "len" bytes of JSON text (an object or an array at the top).
 * Numbers with a fraction or an exponent become number markers; integers
 * stay jansson integers.  Duplicate object keys, "\u0000" and nesting
 * deeper than max_depth are rejected.  On error returns NULL, sets *rc
 * and writes a one-line message into err.  The caller json_decref()s.
 */
json_t *ngx_http_order_edit_json_load(const char *buf, size_t len,
    size_t max_depth, size_t max_len, ngx_http_order_edit_json_rc_e *rc,
    char *err, size_t errlen);

/* 1 if v is a number marker */
int ngx_http_order_edit_json_is_marker(const json_t *v);

/* the original text of a number marker (not NUL-terminated), or NULL */
const char *ngx_http_order_edit_json_marker_text(const json_t *v,
    size_t *len);

/*
 * A new number marker for a JSON number text such as "19.50"; NULL if
 * "text" is not a JSON number.  Used to emit exact decimals.
 */
json_t *ngx_http_order_edit_json_number(const char *text, size_t len);

/*
 * json_dumps() with markers written as bare numbers.  The result is
 * malloc()ed (free() it); NULL on allocation failure.
 */
char *ngx_http_order_edit_json_dumps(const json_t *v, size_t flags);

/* the stable error code string of a load result */
const char *ngx_http_order_edit_json_code(ngx_http_order_edit_json_rc_e rc);


#endif /* _NGX_HTTP_ORDER_EDIT_EXACTJSON_H_INCLUDED_ */
