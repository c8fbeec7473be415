
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_exactjson.h"


/* what a marker looks like in JSON text: a string opening with \u0000 */
#define NGX_HTTP_ORDER_EDIT_MARKER_OPEN      "\"\\u0000"
#define NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN  7


/*
 * The length of the JSON number (RFC 8259 grammar) at p, 0 if the text
 * there is not one; *real is set when it has a fraction or an exponent.
 */

static size_t
ngx_http_order_edit_json_scan_number(const char *p, const char *end,
    int *real)
{
    const char  *s;

    s = p;
    *real = 0;

    if (p < end && *p == '-') {
        p++;
    }

    if (p == end) {
        return 0;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return 0;
    }

    if (p < end && *p == '.') {
        p++;
        *real = 1;

        if (p == end || *p < '0' || *p > '9') {
            return 0;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        *real = 1;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return 0;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    return p - s;
}


json_t *
ngx_http_order_edit_json_load(const char *buf, size_t len, size_t max_depth,
    size_t max_len, ngx_http_order_edit_json_rc_e *rc, char *err,
    size_t errlen)
{
    int           real;
    char         *out, *o;
    size_t        n, depth;
    json_t       *root;
    const char   *p, *q, *end;
    json_error_t  jerr;

    if (len > max_len || len > (size_t) -1 / 4 - 16) {
        *rc = NGX_HTTP_ORDER_EDIT_JSON_TOO_LARGE;
        snprintf(err, errlen, "payload of %zu bytes is over the limit of %zu",
                 len, max_len);
        return NULL;
    }

    /* a marker adds 8 bytes to a number of at least 3 ("1.5", "1e5") */
    out = malloc(len * 4 + 16);
    if (out == NULL) {
        *rc = NGX_HTTP_ORDER_EDIT_JSON_NOMEM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    o = out;
    p = buf;
    end = buf + len;
    depth = 0;

    while (p < end) {

        switch (*p) {

        case '"':
            for (q = p + 1; q < end && *q != '"'; q++) {
                if (*q != '\\') {
                    continue;
                }

                if (end - q >= 6 && q[1] == 'u' && memcmp(q + 2, "0000", 4)
                                                   == 0)
                {
                    *rc = NGX_HTTP_ORDER_EDIT_JSON_INVALID;
                    snprintf(err, errlen, "invalid JSON: \\u0000 in a string "
                             "at byte %zu", (size_t) (q - buf));
                    goto failed;
                }

                /* skip the escaped character, a quote included */
                q++;
            }

            if (q >= end) {
                *rc = NGX_HTTP_ORDER_EDIT_JSON_INVALID;
                snprintf(err, errlen, "invalid JSON: unterminated string "
                         "at byte %zu", (size_t) (p - buf));
                goto failed;
            }

            n = q + 1 - p;
            memcpy(o, p, n);
            o += n;
            p += n;
            break;

        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            n = ngx_http_order_edit_json_scan_number(p, end, &real);

            if (n == 0) {
                *rc = NGX_HTTP_ORDER_EDIT_JSON_INVALID;
                snprintf(err, errlen, "invalid JSON: bad number at byte %zu",
                         (size_t) (p - buf));
                goto failed;
            }

            if (real) {
                memcpy(o, NGX_HTTP_ORDER_EDIT_MARKER_OPEN,
                       NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN);
                o += NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN;
                memcpy(o, p, n);
                o += n;
                *o++ = '"';

            } else {
                memcpy(o, p, n);
                o += n;
            }

            p += n;
            break;

        case '[':
        case '{':
            if (++depth > max_depth) {
                *rc = NGX_HTTP_ORDER_EDIT_JSON_TOO_DEEP;
                snprintf(err, errlen, "JSON nested deeper than %zu levels",
                         max_depth);
                goto failed;
            }

            *o++ = *p++;
            break;

        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }

            *o++ = *p++;
            break;

        default:
            *o++ = *p++;
        }
    }

    root = json_loadb(out, o - out, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                      &jerr);

    if (root == NULL) {
        /* positions refer to the rewritten text: report the line only */
        *rc = NGX_HTTP_ORDER_EDIT_JSON_INVALID;
        snprintf(err, errlen, "invalid JSON: %s (line %d)", jerr.text,
                 jerr.line);
        goto failed;
    }

    free(out);

    *rc = NGX_HTTP_ORDER_EDIT_JSON_OK;

    return root;

failed:

    free(out);

    return NULL;
}


int
ngx_http_order_edit_json_is_marker(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) >= 2
           && json_string_value(v)[0] == '\0';
}


const char *
ngx_http_order_edit_json_marker_text(const json_t *v, size_t *len)
{
    if (!ngx_http_order_edit_json_is_marker(v)) {
        return NULL;
    }

    *len = json_string_length(v) - 1;

    return json_string_value(v) + 1;
}


json_t *
ngx_http_order_edit_json_number(const char *text, size_t len)
{
    int     real;
    char    buf[64];
    json_t  *v;

    if (len == 0 || len >= sizeof(buf)
        || ngx_http_order_edit_json_scan_number(text, text + len, &real)
           != len)
    {
        return NULL;
    }

    buf[0] = '\0';
    memcpy(buf + 1, text, len);

    v = json_stringn(buf, len + 1);

    return v;
}


char *
ngx_http_order_edit_json_dumps(const json_t *v, size_t flags)
{
    char        *s, *o;
    const char  *p, *q, *end;

    s = json_dumps(v, flags);
    if (s == NULL) {
        return NULL;
    }

    /* rewrite in place: a marker only ever shrinks */
    p = s;
    o = s;
    end = s + strlen(s);

    while (p < end) {

        if (*p != '"') {
            *o++ = *p++;
            continue;
        }

        if (end - p >= NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN
            && memcmp(p, NGX_HTTP_ORDER_EDIT_MARKER_OPEN,
                      NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN) == 0)
        {
            /* a number text needs no escapes: copy up to the quote */
            p += NGX_HTTP_ORDER_EDIT_MARKER_OPEN_LEN;

            while (p < end && *p != '"') {
                *o++ = *p++;
            }

            p++;
            continue;
        }

        /* an ordinary string: copy it whole, escapes included */
        q = p + 1;

        while (q < end && *q != '"') {
            q += (*q == '\\') ? 2 : 1;
        }

        q = (q < end) ? q + 1 : end;

        memmove(o, p, q - p);
        o += q - p;
        p = q;
    }

    *o = '\0';

    return s;
}


const char *
ngx_http_order_edit_json_code(ngx_http_order_edit_json_rc_e rc)
{
    switch (rc) {

    case NGX_HTTP_ORDER_EDIT_JSON_OK:
        return "ok";

    case NGX_HTTP_ORDER_EDIT_JSON_TOO_DEEP:
        return "too_deep";

    case NGX_HTTP_ORDER_EDIT_JSON_TOO_LARGE:
        return "too_large";

    case NGX_HTTP_ORDER_EDIT_JSON_NOMEM:
        return "internal";

    default:
        return "invalid_json";
    }
}
