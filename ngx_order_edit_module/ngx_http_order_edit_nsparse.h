
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * NetSuite's answers, bytes in, plain C structs out: the Sales Order as a
 * read finds it, SuiteQL's rows, an error body (REST or RESTlet), a
 * Credit Memo's unapplied amount, and the read back after a write
 * compared with what was sent.  Pure C and jansson, like the normaliser,
 * so the unit tests run them on NetSuite-shaped bodies.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSPARSE_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSPARSE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ngx_http_order_edit_normalise.h"


/* a NetSuite internal id as text: digits, and room for them */
#define NGX_HTTP_ORDER_EDIT_NSP_ID_LEN     23

/* the read back's verdict, one line for people */
#define NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN 384


/* a Sales Order as a read answers it */
typedef struct {
    json_t     *record;          /* the whole answer, owned; NULL if none */

    /* orderStatus: {"id": "B", "refName": "Pending Fulfillment"} */
    char        status;          /* 'A' .. 'H'; 0: unreadable */
    char        status_name[64];

    /* the Shopify snapshot applied last (the updated_at field), ms */
    int64_t     held;            /* NGX_HTTP_ORDER_EDIT_NO_TIME: none */

    /* the taxes_included field: 1, 0, or -1 when it is not a boolean */
    int         taxes_included;

    /* references, by internal id; "" when the order has none */
    char        id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    char        entity[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    char        currency[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    char        subsidiary[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    char        location[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];

    /* the item lines (expandSubResources=true), -1 when not read */
    int         lines;
} ngx_http_order_edit_nsp_order_t;


/* a NetSuite error body: REST's o:errorDetails, or a RESTlet's error */
typedef struct {
    json_t      *root;            /* owned */
    const char  *code;            /* NULL if none */
    const char  *text;
} ngx_http_order_edit_nsp_error_t;


/* a Credit Memo read for its payout (exact numbers) */
typedef struct {
    json_t      *root;            /* owned */
    json_t      *id;              /* the rest borrowed from root */
    json_t      *entity;          /* customer's id */
    json_t      *currency;        /* NULL if none */
    json_t      *unapplied;       /* an integer or an exact number */
    int          nothing;         /* 1: nothing unapplied to pay out */
} ngx_http_order_edit_nsp_memo_t;


/*
 * Reads a Sales Order answer; the field names are the store's (NULL:
 * switched off).  0, or -1 when it is no JSON (then *o says nothing).
 * Release with ngx_http_order_edit_nsp_order_free().
 */
int ngx_http_order_edit_nsp_order(const char *body, size_t len,
    const char *updated_field, const char *taxes_field,
    ngx_http_order_edit_nsp_order_t *o);
void ngx_http_order_edit_nsp_order_free(ngx_http_order_edit_nsp_order_t *o);

/*
 * SuiteQL's answer: the number of rows, -1 when it has no "items".  id
 * gets the first row's id when it is one (digits that fit), else "".
 */
int ngx_http_order_edit_nsp_suiteql(const char *body, size_t len, char *id,
    size_t size);

/* 0 with code and text, or -1 (err->root may still need freeing) */
int ngx_http_order_edit_nsp_error(const char *body, size_t len,
    ngx_http_order_edit_nsp_error_t *err);

/*
 * The RESTlet's answer to a write (docs/netsuite-simulator.md, "RESTlet"):
 * {"ok": true, "results": {"sales_order": {..., "discrepancies": [{"field",
 * "document", "netsuite"}]}, ...}}.  0: applied as sent; 1: applied, but
 * NetSuite booked other totals than the document's; -1: not "ok", or not
 * the script's answer.  1 and -1 say why in detail
 * (NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN bytes).
 */
int ngx_http_order_edit_nsp_restlet(const char *body, size_t len,
    char *detail);

/* 0, or -1 without an id, a customer or an unapplied amount */
int ngx_http_order_edit_nsp_memo(const char *body, size_t len,
    ngx_http_order_edit_nsp_memo_t *m);

/*
 * The read back after a Sales Order write: every line sent must come
 * back with its item, quantity and amount, no other line; with tax sent
 * as tax details, NetSuite's taxTotal and total must be Shopify's (doc)
 * to the minor unit.  0: the same; 1: a discrepancy, told in detail
 * (NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN bytes).
 */
int ngx_http_order_edit_nsp_readback(const char *sent, size_t sent_len,
    const char *got, size_t got_len, const json_t *doc, char *detail);

/* two JSON numbers, exact: "2" and 2, "9.50" and 9.5 are the same */
int ngx_http_order_edit_nsp_same_number(const json_t *a, const json_t *b);


#endif /* _NGX_HTTP_ORDER_EDIT_NSPARSE_H_INCLUDED_ */
