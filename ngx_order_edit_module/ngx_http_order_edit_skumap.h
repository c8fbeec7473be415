
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * SKU to NetSuite item: a map file loaded at configuration time, optional
 * regex rewrite rules and a fallback.  Pure C: the regular expressions are
 * compiled and run by the caller (nginx's ngx_regex in the module,
 * libpcre2-8 in the CLI) through a callback, so this code never links a
 * regex library itself.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_SKUMAP_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_SKUMAP_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_ORDER_EDIT_SKU_MAX        255

/* "eid:" plus a SKU, or an internal id, plus the NUL */
#define NGX_HTTP_ORDER_EDIT_ITEM_MAX       (NGX_HTTP_ORDER_EDIT_SKU_MAX + 5)

/* $0 .. $9 */
#define NGX_HTTP_ORDER_EDIT_REWRITE_CAPS   10


typedef struct ngx_http_order_edit_skumap_s  ngx_http_order_edit_skumap_t;


/*
 * Runs a compiled regex on a subject.  caps has room for ncaps (start,
 * end) byte offset pairs: caps[2 * i] and caps[2 * i + 1] for group i,
 * -1 for a group that did not take part.  Returns the number of pairs set
 * (>= 1) on a match, 0 when there is no match, -1 on an error.
 */
typedef int (*ngx_http_order_edit_regex_exec_pt)(void *regex,
    const char *subject, size_t len, int *caps, int ncaps);


typedef struct {
    void                               *regex;       /* not owned */
    char                               *replacement; /* owned */
    size_t                              replacement_len;
} ngx_http_order_edit_rewrite_t;


typedef enum {
    NGX_HTTP_ORDER_EDIT_FALLBACK_NONE = 0,
    NGX_HTTP_ORDER_EDIT_FALLBACK_EXTERNAL_ID
} ngx_http_order_edit_fallback_e;


typedef struct {
    ngx_http_order_edit_skumap_t       *map;         /* owned, or NULL */
    ngx_http_order_edit_rewrite_t      *rules;       /* owned array */
    size_t                              nrules;
    ngx_http_order_edit_regex_exec_pt   exec;
    ngx_http_order_edit_fallback_e      fallback;
} ngx_http_order_edit_skures_t;


/*
 * Parses map text: one "sku item-reference" pair per line, separated by
 * blanks; "#" starts a comment where a token could start; blank lines
 * are skipped.  An item reference is a NetSuite internal id (digits) or
 * "eid:" and an external id.  "name" (the file name) is used in error
 * messages only.  NULL on error with a message naming the line in err.
 */
ngx_http_order_edit_skumap_t *ngx_http_order_edit_skumap_parse(
    const char *buf, size_t len, const char *name, char *err,
    size_t errlen);

/* reads and parses a map file */
ngx_http_order_edit_skumap_t *ngx_http_order_edit_skumap_load(
    const char *path, char *err, size_t errlen);

void ngx_http_order_edit_skumap_free(ngx_http_order_edit_skumap_t *map);

size_t ngx_http_order_edit_skumap_size(
    const ngx_http_order_edit_skumap_t *map);

/* the item reference of a SKU (NUL-terminated), NULL if not mapped */
const char *ngx_http_order_edit_skumap_lookup(
    const ngx_http_order_edit_skumap_t *map, const char *sku, size_t len);

/*
 * 1 if s is a valid NetSuite external id: letters, digits, "_" and "-"
 * (NetSuite REST: "eid:" keys in URLs accept nothing else), 1..255 bytes.
 */
int ngx_http_order_edit_extid_valid(const char *s, size_t len);

/* 1 if ref is "digits" (an internal id) or "eid:<external id>" */
int ngx_http_order_edit_item_ref_valid(const char *ref, size_t len);

/*
 * Checks a rewrite replacement ("$1", "$$" for a dollar) against the
 * number of capture groups of its regex, for nginx -t.
 */
int ngx_http_order_edit_rewrite_check(const char *replacement, size_t len,
    int ncaptures, char *err, size_t errlen);

/*
 * Appends a rewrite rule (first match wins, in the order added); the
 * replacement is copied, the regex is not owned.  0 or -1 with err.
 */
int ngx_http_order_edit_skures_add_rewrite(ngx_http_order_edit_skures_t *r,
    void *regex, const char *replacement, size_t len, char *err,
    size_t errlen);

/*
 * Resolves a SKU to an item reference: the map first; then the first
 * matching rewrite rule and the map again with the rewritten SKU; then
 * the fallback ("eid:" + SKU, rewritten if a rule matched).  Writes the
 * reference (NUL-terminated) into item (NGX_HTTP_ORDER_EDIT_ITEM_MAX
 * bytes) and, when a rule matched, the rewritten SKU into rewritten
 * (NGX_HTTP_ORDER_EDIT_SKU_MAX + 1 bytes, may be NULL).
 * Returns 0, -1 when unmapped (err names the SKU), -2 on a regex error.
 */
int ngx_http_order_edit_skures_resolve(const ngx_http_order_edit_skures_t *r,
    const char *sku, size_t len, char *item, char *rewritten, char *err,
    size_t errlen);

void ngx_http_order_edit_skures_free(ngx_http_order_edit_skures_t *r);


#endif /* _NGX_HTTP_ORDER_EDIT_SKUMAP_H_INCLUDED_ */
