
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Helpers shared by the normaliser's unit tests and its fuzzer.
 */


#ifndef _OE_TEST_UTIL_H_INCLUDED_
#define _OE_TEST_UTIL_H_INCLUDED_


#include "ngx_http_order_edit_normalise.h"
#include "ngx_http_order_edit_nsbody.h"


char *oe_read_file(const char *path, size_t *len);

/* a libpcre2-8 implementation of the normaliser's regex hook */
int oe_regex_exec(void *regex, const char *subject, size_t len, int *caps,
    int ncaps);

/* compiles a regex for a rewrite rule; freed by oe_regex_free_all() */
int oe_add_rewrite(ngx_http_order_edit_norm_conf_t *conf, const char *re,
    const char *rep, char *err, size_t errlen);
void oe_regex_free_all(void);

/*
 * Builds a conf from a fixture's "options" object (sku_map relative to
 * dir, sku_fallback, bundles, rewrites, currency_exponents, money,
 * sales_order_id, credit_memo_id, items, fields, max_lines, max_depth).
 */
int oe_conf_from_json(ngx_http_order_edit_norm_conf_t *conf,
    const json_t *opts, const char *dir, char *err, size_t errlen);

/* fills the input's meta data from a fixture's expectation */
int oe_input_from_json(ngx_http_order_edit_norm_input_t *in,
    const json_t *expect);

const char *oe_kind_name(ngx_http_order_edit_norm_kind_e kind);

/*
 * The document's own arithmetic: lines against totals for a sales order,
 * lines, shipping and discrepancy against the total for a credit memo.
 * NULL when it holds, else what failed (in buf).
 */
const char *oe_check_invariants(const json_t *doc, char *buf, size_t len);

/* 0 if every value in expected is equal in actual, else -1 (path set) */
int oe_json_subset(const json_t *expected, const json_t *actual, char *path,
    size_t pathlen);

/* minor units of a decimal string in the document (strict format) */
int oe_money(const json_t *v, int exponent, int64_t *out);


#endif /* _OE_TEST_UTIL_H_INCLUDED_ */
