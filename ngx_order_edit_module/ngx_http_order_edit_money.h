
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Exact money: int64 minor units plus an ISO 4217 exponent.  Pure C (no
 * nginx headers): compiled into the module, the CLI and the unit tests.
 * Nothing on this path ever uses a floating point type.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_MONEY_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_MONEY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* ISO 4217 has no currency with more than 4 decimals (CLF, UYW) */
#define NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP   4

/* "-9223372036854775808" plus "." and a NUL fits easily */
#define NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ     32


typedef enum {
    NGX_HTTP_ORDER_EDIT_MONEY_OK = 0,
    NGX_HTTP_ORDER_EDIT_MONEY_EMPTY,
    NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX,
    NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT,
    NGX_HTTP_ORDER_EDIT_MONEY_PRECISION,
    NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW,
    NGX_HTTP_ORDER_EDIT_MONEY_NAN
} ngx_http_order_edit_money_rc_e;


/*
 * The number of decimals of an ISO 4217 code ("JPY" -> 0, "KWD" -> 3,
 * anything else that looks like a code -> 2); -1 if "code" is not three
 * upper-case ASCII letters.
 */
int ngx_http_order_edit_currency_exponent(const char *code, size_t len);

/* 1 if "code" is three upper-case ASCII letters */
int ngx_http_order_edit_currency_valid(const char *code, size_t len);

/*
 * Parses a decimal "[-]digits[.digits]" into minor units of a currency
 * with "exponent" decimals.  Trailing zero decimals beyond the exponent
 * are accepted ("1500.00" JPY is 1500); any other extra digit is
 * NGX_HTTP_ORDER_EDIT_MONEY_PRECISION.  Scientific notation, "NaN",
 * "Infinity", blanks, "+", ".5" and "5." are rejected.
 */
ngx_http_order_edit_money_rc_e ngx_http_order_edit_money_parse(
    const char *s, size_t len, int exponent, int64_t *minor);

/*
 * Formats minor units back as a decimal string with exactly "exponent"
 * decimals ("19.00", "1500", "1.250").  Returns the length written (not
 * counting the NUL), 0 if "size" is too small.
 */
size_t ngx_http_order_edit_money_format(int64_t minor, int exponent,
    char *buf, size_t size);

/* a short lower-case reason for a parse result, for error messages */
const char *ngx_http_order_edit_money_strerror(
    ngx_http_order_edit_money_rc_e rc);

/* a stable error code ("bad_money", "excess_precision", ...) */
const char *ngx_http_order_edit_money_code(ngx_http_order_edit_money_rc_e rc);

/* checked arithmetic: 0 on success, -1 on int64 overflow */
int ngx_http_order_edit_money_add(int64_t a, int64_t b, int64_t *r);
int ngx_http_order_edit_money_sub(int64_t a, int64_t b, int64_t *r);
int ngx_http_order_edit_money_mul(int64_t a, int64_t b, int64_t *r);

/*
 * round(a * num / den) half away from zero, exactly, without overflow in
 * the intermediate product; -1 if the result does not fit or den <= 0.
 */
int ngx_http_order_edit_money_muldiv(int64_t a, int64_t num, int64_t den,
    int64_t *r);

/*
 * Splits "total" over n weights: out[i] = trunc(total * w[i] / sum(w))
 * for every part but the last one with a non-zero weight, which takes
 * the remainder, so the parts sum to "total" exactly and a zero-weight
 * part gets nothing.  All weights zero puts everything on the last part.
 * Weights must be >= 0.  Returns -1 on overflow or n == 0.
 */
int ngx_http_order_edit_money_allocate(int64_t total, const int64_t *w,
    size_t n, int64_t *out);


#endif /* _NGX_HTTP_ORDER_EDIT_MONEY_H_INCLUDED_ */
