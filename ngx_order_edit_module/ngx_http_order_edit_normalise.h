
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The normaliser: one Shopify webhook payload in, one normalised document
 * (docs/normalised-schema.md) and the exact NetSuite REST request out.
 * Pure C and jansson, no nginx headers and no I/O: the module's
 * dispatcher, the order-edit-normalise CLI, the unit tests and the fuzzer
 * all run this same code.  Everything it allocates is malloc()ed and
 * released by ngx_http_order_edit_norm_result_free() and
 * ngx_http_order_edit_norm_conf_free().
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NORMALISE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NORMALISE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ngx_http_order_edit_money.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_skumap.h"
#include "ngx_http_order_edit_bundle.h"


#define NGX_HTTP_ORDER_EDIT_SCHEMA_VERSION     1

/* "no last applied snapshot" for input.last_updated_at */
#define NGX_HTTP_ORDER_EDIT_NO_TIME            INT64_MIN

#define NGX_HTTP_ORDER_EDIT_EXTID_MAX          128
#define NGX_HTTP_ORDER_EDIT_MAX_CURRENCIES     16

#define NGX_HTTP_ORDER_EDIT_DEFAULT_SO_ID                                     \
    "shopify-{shop}-{order_id}"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_CM_ID                                     \
    "shopify-{shop}-refund-{refund_id}"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_DISCREPANCY                               \
    "eid:shopify-refund_discrepancy"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_SHIP_REFUND                               \
    "eid:shopify-shipping_refund"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_TIP                                       \
    "eid:shopify-tip"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_DUTIES                                    \
    "eid:shopify-duties"
#define NGX_HTTP_ORDER_EDIT_DEFAULT_NO_RESTOCK                                \
    "eid:shopify-refund_no_restock"

/* NetSuite field names a shop may rename (or switch off with "off") */
typedef enum {
    NGX_HTTP_ORDER_EDIT_FIELD_ORDER_NUMBER = 0,
    NGX_HTTP_ORDER_EDIT_FIELD_ORDER_ID,
    NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT,
    NGX_HTTP_ORDER_EDIT_FIELD_SUBTOTAL,
    NGX_HTTP_ORDER_EDIT_FIELD_DISCOUNT,
    NGX_HTTP_ORDER_EDIT_FIELD_TAX,
    NGX_HTTP_ORDER_EDIT_FIELD_TOTAL,
    NGX_HTTP_ORDER_EDIT_FIELD_SHIPPING_COST,
    NGX_HTTP_ORDER_EDIT_FIELD_SHIP_METHOD,
    NGX_HTTP_ORDER_EDIT_FIELD_SHIPPING_ADDRESS,
    NGX_HTTP_ORDER_EDIT_FIELD_LINE_KEY,
    NGX_HTTP_ORDER_EDIT_FIELD_LINE_DISCOUNT,
    NGX_HTTP_ORDER_EDIT_FIELD_LINE_TAX,
    NGX_HTTP_ORDER_EDIT_FIELD_RESTOCK,
    NGX_HTTP_ORDER_EDIT_FIELD_REFUND_ID,
    NGX_HTTP_ORDER_EDIT_FIELD_SALES_ORDER,
    NGX_HTTP_ORDER_EDIT_FIELD_CANCELLED,
    NGX_HTTP_ORDER_EDIT_FIELD_CANCELLED_AT,
    NGX_HTTP_ORDER_EDIT_FIELD_CANCEL_REASON,
    NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED,
    NGX_HTTP_ORDER_EDIT_FIELD_N
} ngx_http_order_edit_field_e;


typedef enum {
    NGX_HTTP_ORDER_EDIT_MONEY_SHOP = 0,        /* order.currency, default */
    NGX_HTTP_ORDER_EDIT_MONEY_PRESENTMENT      /* presentment_currency */
} ngx_http_order_edit_money_src_e;


/* tax_code: a Shopify tax line, by title or rate, to a NetSuite tax code */
typedef struct {
    char                               *title;    /* NULL: by rate */
    char                               *rate;     /* decimal, no trailing 0 */
    char                               *code;
    char                               *type;     /* NULL: tax_details' */
} ngx_http_order_edit_tax_code_t;


/*
 * Per store.  Initialise with ngx_http_order_edit_norm_conf_init(), fill
 * with the setters below (each validates and copies), release with
 * ngx_http_order_edit_norm_conf_free().  Read-only while normalising, so
 * one conf serves any number of calls.
 */
typedef struct {
    ngx_http_order_edit_skures_t        skus;
    ngx_http_order_edit_bundles_t       bundles;

    char                               *sales_order_id;    /* pattern */
    char                               *credit_memo_id;    /* pattern */
    char                               *gift_card_item;
    char                               *custom_item;
    char                               *shipping_item;
    char                               *discrepancy_item;
    char                               *shipping_refund_item;
    char                               *tip_item;
    char                               *duties_item;
    char                               *no_restock_item;

    /*
     * SuiteTax: Shopify's tax as NetSuite's tax details (override), each
     * line's tax under this type and code; NULL: NetSuite computes.
     */
    char                               *tax_type;
    char                               *tax_code;

    /*
     * tax_code: Shopify tax lines to NetSuite tax codes, first match
     * wins; unmatched tax goes under tax_type and tax_code (the default)
     */
    ngx_http_order_edit_tax_code_t     *tax_codes;
    size_t                              ntax_codes;
    char                               *fields[NGX_HTTP_ORDER_EDIT_FIELD_N];

    struct {
        char                            code[4];
        int                             exponent;
    }                                   currencies[
                                            NGX_HTTP_ORDER_EDIT_MAX_CURRENCIES];
    size_t                              ncurrencies;

    ngx_http_order_edit_money_src_e     money;

    /*
     * The store's prices include tax (1), exclude it (0), or the store
     * does not say (-1): for refunds whose dispatcher cannot tell.
     */
    int                                 taxes_included;

    size_t                              max_payload;       /* bytes */
    size_t                              max_depth;
    size_t                              max_lines;         /* per array */
    size_t                              max_sub;           /* per line */
    size_t                              max_output_lines;  /* bundles */
} ngx_http_order_edit_norm_conf_t;


typedef struct {
    const char                         *shop;
    size_t                              shop_len;
    const char                         *topic;
    size_t                              topic_len;
    const char                         *webhook_id;        /* may be NULL */
    size_t                              webhook_id_len;
    const char                         *api_version;       /* may be NULL */
    size_t                              api_version_len;
    const char                         *body;
    size_t                              body_len;

    /* the order's currency, for refunds that carry no currency at all */
    const char                         *currency;          /* may be NULL */
    size_t                              currency_len;

    /* ms since the epoch of the newest snapshot already applied */
    int64_t                             last_updated_at;

    /*
     * For refunds: 1 if the order's prices include tax, 0 if not, -1 if
     * unknown.  Unknown falls back to the store's setting; a refund that
     * carries tax and whose kind nobody knows is refused with
     * "tax_kind_unknown", never guessed: the two readings differ by the
     * tax.
     */
    int                                 taxes_included;
} ngx_http_order_edit_norm_input_t;


typedef enum {
    NGX_HTTP_ORDER_EDIT_NORM_ERROR = -1,
    NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER = 1,
    NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO,
    NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION,
    NGX_HTTP_ORDER_EDIT_NORM_EDIT_PENDING,     /* orders/edited: no request */
    NGX_HTTP_ORDER_EDIT_NORM_STALE             /* nothing produced */
} ngx_http_order_edit_norm_kind_e;


typedef struct {
    ngx_http_order_edit_norm_kind_e     kind;

    json_t                             *doc;          /* owned, or NULL */

    int64_t                             order_id;     /* 0 if unknown */
    int64_t                             refund_id;    /* credit memos */
    int64_t                             updated_at;   /* ms, or NO_TIME */
    char                                external_id[
                                            NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];

    /* refunds: the Sales Order's external id, even on "tax_kind_unknown" */
    char                                sales_order_id[
                                            NGX_HTTP_ORDER_EDIT_EXTID_MAX + 1];

    /* the NetSuite REST request; method NULL when there is none */
    const char                         *method;       /* static string */
    char                               *path;         /* owned */
    char                               *body;         /* owned */
    size_t                              body_len;

    char                                error[32];    /* stable code */
    char                                message[512];
} ngx_http_order_edit_norm_result_t;


void ngx_http_order_edit_norm_conf_init(ngx_http_order_edit_norm_conf_t *conf);
void ngx_http_order_edit_norm_conf_free(ngx_http_order_edit_norm_conf_t *conf);

/* the setters return 0, or -1 with a message for nginx -t in err */
int ngx_http_order_edit_norm_set_sku_map(ngx_http_order_edit_norm_conf_t *conf,
    const char *path, char *err, size_t errlen);
int ngx_http_order_edit_norm_add_rewrite(ngx_http_order_edit_norm_conf_t *conf,
    void *regex, int ncaptures, const char *replacement, size_t len,
    char *err, size_t errlen);
void ngx_http_order_edit_norm_set_regex_exec(
    ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_regex_exec_pt exec);
int ngx_http_order_edit_norm_add_bundle(ngx_http_order_edit_norm_conf_t *conf,
    const char *spec, size_t len, char *err, size_t errlen);
int ngx_http_order_edit_norm_set_fallback(
    ngx_http_order_edit_norm_conf_t *conf, const char *value, char *err,
    size_t errlen);
int ngx_http_order_edit_norm_set_money(ngx_http_order_edit_norm_conf_t *conf,
    const char *value, char *err, size_t errlen);
int ngx_http_order_edit_norm_set_external_id(
    ngx_http_order_edit_norm_conf_t *conf, const char *which,
    const char *pattern, char *err, size_t errlen);
int ngx_http_order_edit_norm_set_item(ngx_http_order_edit_norm_conf_t *conf,
    const char *which, const char *ref, char *err, size_t errlen);
int ngx_http_order_edit_norm_set_field(ngx_http_order_edit_norm_conf_t *conf,
    const char *name, const char *value, char *err, size_t errlen);
int ngx_http_order_edit_norm_set_currency(
    ngx_http_order_edit_norm_conf_t *conf, const char *spec, char *err,
    size_t errlen);
int ngx_http_order_edit_norm_set_taxes_included(
    ngx_http_order_edit_norm_conf_t *conf, const char *value, char *err,
    size_t errlen);
/* "tax_details type code": internal ids or eid:X; type "off" unsets */
int ngx_http_order_edit_norm_set_tax_details(
    ngx_http_order_edit_norm_conf_t *conf, const char *type,
    const char *code, char *err, size_t errlen);

/*
 * "tax_code title=<title>|rate=<decimal> code [type]": the NetSuite tax
 * code (and type, else tax_details') of the Shopify tax lines with that
 * title (any case) or rate.
 */
int ngx_http_order_edit_norm_add_tax_code(
    ngx_http_order_edit_norm_conf_t *conf, const char *match,
    const char *code, const char *type, char *err, size_t errlen);

/*
 * A tax line's entry, by its title, else its rate (decimal text); NULL
 * when none matches.
 */
const ngx_http_order_edit_tax_code_t *ngx_http_order_edit_norm_tax_code(
    const ngx_http_order_edit_norm_conf_t *conf, const char *title,
    const char *rate, size_t rate_len);

/* the effective NetSuite field name, NULL when switched off */
const char *ngx_http_order_edit_norm_field(
    const ngx_http_order_edit_norm_conf_t *conf,
    ngx_http_order_edit_field_e field);

/* the effective exponent of a currency, overrides first; -1 if invalid */
int ngx_http_order_edit_norm_exponent(
    const ngx_http_order_edit_norm_conf_t *conf, const char *code,
    size_t len);

/*
 * Normalises one payload.  Fills *res (which the caller provides and must
 * release with ngx_http_order_edit_norm_result_free() whatever the
 * outcome) and returns res->kind.  On NGX_HTTP_ORDER_EDIT_NORM_ERROR,
 * res->error holds a stable code and res->message one line for humans;
 * nothing else is set (never a partial document).
 */
ngx_http_order_edit_norm_kind_e ngx_http_order_edit_normalise(
    const ngx_http_order_edit_norm_conf_t *conf,
    const ngx_http_order_edit_norm_input_t *in,
    ngx_http_order_edit_norm_result_t *res);

void ngx_http_order_edit_norm_result_free(
    ngx_http_order_edit_norm_result_t *res);

/*
 * Parses an ISO 8601 timestamp as Shopify sends it
 * ("2024-03-05T10:15:30-05:00", "...Z", optional fraction) into ms since
 * the epoch.  0, or -1 if it is not one.
 */
int ngx_http_order_edit_parse_time(const char *s, size_t len, int64_t *ms);

/* a payload's top-level updated_at, as parse_time(): 0, or -1 if none */
int ngx_http_order_edit_norm_updated_at(const char *body, size_t len,
    int64_t *ms);


#endif /* _NGX_HTTP_ORDER_EDIT_NORMALISE_H_INCLUDED_ */
