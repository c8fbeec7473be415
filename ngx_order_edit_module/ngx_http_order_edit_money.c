
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <string.h>

#include "ngx_http_order_edit_money.h"


typedef struct {
    char    code[4];
    int     exponent;
} ngx_http_order_edit_currency_t;


/*
 * ISO 4217 currencies whose exponent is not 2, sorted by code for the
 * binary search.  Every code Shopify Payments or Shopify Markets can
 * present is covered; the rest of ISO 4217 defaults to 2.
 */
static const ngx_http_order_edit_currency_t  ngx_http_order_edit_currencies[]
    = {
    { "BHD", 3 }, { "BIF", 0 }, { "CLF", 4 }, { "CLP", 0 }, { "DJF", 0 },
    { "GNF", 0 }, { "IQD", 3 }, { "ISK", 0 }, { "JOD", 3 }, { "JPY", 0 },
    { "KMF", 0 }, { "KRW", 0 }, { "KWD", 3 }, { "LYD", 3 }, { "OMR", 3 },
    { "PYG", 0 }, { "RWF", 0 }, { "TND", 3 }, { "UGX", 0 }, { "UYI", 0 },
    { "UYW", 4 }, { "VND", 0 }, { "VUV", 0 }, { "XAF", 0 }, { "XOF", 0 },
    { "XPF", 0 }
};


int
ngx_http_order_edit_currency_valid(const char *code, size_t len)
{
    size_t  i;

    if (code == NULL || len != 3) {
        return 0;
    }

    for (i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z') {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_order_edit_currency_exponent(const char *code, size_t len)
{
    int     c;
    size_t  lo, hi, mid;

    if (!ngx_http_order_edit_currency_valid(code, len)) {
        return -1;
    }

    lo = 0;
    hi = sizeof(ngx_http_order_edit_currencies)
         / sizeof(ngx_http_order_edit_currencies[0]);

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = memcmp(code, ngx_http_order_edit_currencies[mid].code, 3);

        if (c == 0) {
            return ngx_http_order_edit_currencies[mid].exponent;
        }

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return 2;
}


static int
ngx_http_order_edit_money_word(const char *s, size_t len, const char *word)
{
    size_t  i, n;

    n = strlen(word);

    if (len != n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if ((s[i] | 0x20) != word[i]) {
            return 0;
        }
    }

    return 1;
}


ngx_http_order_edit_money_rc_e
ngx_http_order_edit_money_parse(const char *s, size_t len, int exponent,
    int64_t *minor)
{
    int         neg, digit, excess;
    size_t      i, frac;
    uint64_t    v, limit;
    const char  *p, *end;

    if (s == NULL || len == 0) {
        return NGX_HTTP_ORDER_EDIT_MONEY_EMPTY;
    }

    if (exponent < 0 || exponent > NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP) {
        return NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX;
    }

    p = s;
    end = s + len;
    neg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }

    if (ngx_http_order_edit_money_word(p, end - p, "nan")
        || ngx_http_order_edit_money_word(p, end - p, "inf")
        || ngx_http_order_edit_money_word(p, end - p, "infinity"))
    {
        return NGX_HTTP_ORDER_EDIT_MONEY_NAN;
    }

    if (p == end || *p < '0' || *p > '9') {
        return NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX;
    }

    /* the magnitude of INT64_MIN is allowed only for negative values */
    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        digit = *p++ - '0';

        if (v > (limit - digit) / 10) {
            return NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW;
        }

        v = v * 10 + digit;
    }

    frac = 0;
    excess = 0;

    if (p < end && *p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            digit = *p++ - '0';

            if (frac >= (size_t) exponent) {
                /*
                 * "1500.00" in JPY loses nothing; "1500.5" would: an
                 * error once the whole text is known to be a number
                 * ("1.2.3" is not one, whatever its decimals).
                 */
                excess |= (digit != 0);
                continue;
            }

            if (v > (limit - digit) / 10) {
                return NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW;
            }

            v = v * 10 + digit;
            frac++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        return NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT;
    }

    if (p != end) {
        return NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX;
    }

    if (excess) {
        return NGX_HTTP_ORDER_EDIT_MONEY_PRECISION;
    }

    for (i = frac; i < (size_t) exponent; i++) {
        if (v > limit / 10) {
            return NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW;
        }

        v *= 10;
    }

    if (neg) {
        /* two's complement: -(INT64_MAX + 1) is representable */
        *minor = (v == (uint64_t) INT64_MAX + 1) ? INT64_MIN : -(int64_t) v;

    } else {
        *minor = (int64_t) v;
    }

    return NGX_HTTP_ORDER_EDIT_MONEY_OK;
}


size_t
ngx_http_order_edit_money_format(int64_t minor, int exponent, char *buf,
    size_t size)
{
    int       neg;
    char      tmp[NGX_HTTP_ORDER_EDIT_MONEY_BUFSZ];
    size_t    n, i, len;
    uint64_t  v;

    if (exponent < 0 || exponent > NGX_HTTP_ORDER_EDIT_MONEY_MAX_EXP) {
        return 0;
    }

    neg = minor < 0;
    v = neg ? (uint64_t) 0 - (uint64_t) minor : (uint64_t) minor;

    /* digits in reverse, with at least exponent + 1 of them */
    n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0 || n <= (size_t) exponent);

    len = neg + n + (exponent > 0);

    if (len + 1 > size) {
        return 0;
    }

    i = 0;

    if (neg) {
        buf[i++] = '-';
    }

    while (n > 0) {
        if (n == (size_t) exponent) {
            buf[i++] = '.';
        }

        buf[i++] = tmp[--n];
    }

    buf[i] = '\0';

    return i;
}


const char *
ngx_http_order_edit_money_strerror(ngx_http_order_edit_money_rc_e rc)
{
    switch (rc) {

    case NGX_HTTP_ORDER_EDIT_MONEY_OK:
        return "ok";

    case NGX_HTTP_ORDER_EDIT_MONEY_EMPTY:
        return "empty amount";

    case NGX_HTTP_ORDER_EDIT_MONEY_SYNTAX:
        return "not a decimal amount";

    case NGX_HTTP_ORDER_EDIT_MONEY_EXPONENT:
        return "scientific notation is not accepted for money";

    case NGX_HTTP_ORDER_EDIT_MONEY_PRECISION:
        return "more decimals than the currency allows";

    case NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW:
        return "amount out of range";

    case NGX_HTTP_ORDER_EDIT_MONEY_NAN:
        return "not a number";
    }

    return "invalid amount";
}


const char *
ngx_http_order_edit_money_code(ngx_http_order_edit_money_rc_e rc)
{
    switch (rc) {

    case NGX_HTTP_ORDER_EDIT_MONEY_PRECISION:
        return "excess_precision";

    case NGX_HTTP_ORDER_EDIT_MONEY_OVERFLOW:
        return "money_overflow";

    default:
        return "bad_money";
    }
}


int
ngx_http_order_edit_money_add(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_add_overflow(a, b, r) ? -1 : 0;
}


int
ngx_http_order_edit_money_sub(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_sub_overflow(a, b, r) ? -1 : 0;
}


int
ngx_http_order_edit_money_mul(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}


/*
 * trunc(a * num / den) and the remainder's sign and size, computed in 128
 * bits where the compiler has them; elsewhere the product must fit in 64.
 */

#if defined(__SIZEOF_INT128__)

static int
ngx_http_order_edit_money_muldiv_round(int64_t a, int64_t num, int64_t den,
    int round, int64_t *r)
{
    __int128  p, q, rem;

    p = (__int128) a * num;
    q = p / den;
    rem = p % den;

    if (round) {
        if (rem < 0) {
            rem = -rem;
        }

        /* half away from zero: 2 * |rem| >= den */
        if (rem * 2 >= den) {
            q += (p < 0) ? -1 : 1;
        }
    }

    if (q > INT64_MAX || q < INT64_MIN) {
        return -1;
    }

    *r = (int64_t) q;

    return 0;
}

#else

static int
ngx_http_order_edit_money_muldiv_round(int64_t a, int64_t num, int64_t den,
    int round, int64_t *r)
{
    int64_t  p, q, rem;

    if (__builtin_mul_overflow(a, num, &p)) {
        return -1;
    }

    q = p / den;
    rem = p % den;

    if (round) {
        if (rem < 0) {
            rem = -rem;
        }

        if (rem >= den - rem) {
            q += (p < 0) ? -1 : 1;
        }
    }

    *r = q;

    return 0;
}

#endif


int
ngx_http_order_edit_money_muldiv(int64_t a, int64_t num, int64_t den,
    int64_t *r)
{
    if (den <= 0) {
        return -1;
    }

    return ngx_http_order_edit_money_muldiv_round(a, num, den, 1, r);
}


int
ngx_http_order_edit_money_allocate(int64_t total, const int64_t *w, size_t n,
    int64_t *out)
{
    size_t   i, last;
    int64_t  sum, used;

    if (n == 0) {
        return -1;
    }

    sum = 0;
    last = n - 1;

    for (i = 0; i < n; i++) {
        if (w[i] < 0 || __builtin_add_overflow(sum, w[i], &sum)) {
            return -1;
        }

        if (w[i] > 0) {
            last = i;
        }
    }

    /* the remainder goes to the last part that has a weight at all */
    used = 0;

    for (i = 0; i < n; i++) {
        if (i == last) {
            continue;
        }

        if (sum == 0 || w[i] == 0) {
            out[i] = 0;

        } else if (ngx_http_order_edit_money_muldiv_round(total, w[i], sum, 0,
                                                          &out[i])
                   != 0)
        {
            return -1;
        }

        if (__builtin_add_overflow(used, out[i], &used)) {
            return -1;
        }
    }

    if (__builtin_sub_overflow(total, used, &out[last])) {
        return -1;
    }

    return 0;
}
