
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_nsclient.h"
#include "ngx_http_order_edit_exactjson.h"
#include "ngx_http_order_edit_nsbody.h"
#include "ngx_http_order_edit_oauth.h"
#include "ngx_http_order_edit_oauth2.h"


#define NGX_HTTP_ORDER_EDIT_SUITEQL  "/services/rest/query/v1/suiteql"

/* the client's requests; a call may take several */
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_LOOKUP       0
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_READ         1
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_WRITE        2
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_READBACK     3
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_MEMO_FIND    4   /* invoice, cash_sale */
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_INVOICE      5
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT_READ  6   /* refund_payout */
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT       7
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_XFORM        8   /* the transform */
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_FIND    9   /* on_missing create */
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_MAKE    10
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_EMAIL   11
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_CUR_FIND     12
#define NGX_HTTP_ORDER_EDIT_NSC_STEP_SUITEQL      16  /* the report's page */

/* a Customer Refund's external id: its memo's, and this */
#define NGX_HTTP_ORDER_EDIT_NSC_PAYOUT_EID        "-cr"

/* NetSuite's answer quoted in an error at most (an exception's detail) */
#define NGX_HTTP_ORDER_EDIT_NSC_QUOTE_MAX         2048

/* Sales Order internal ids found by SuiteQL, per dispatching worker */
#define NGX_HTTP_ORDER_EDIT_SO_CACHE              4096

/* customers' internal ids found or made for a create, likewise */
#define NGX_HTTP_ORDER_EDIT_CUST_CACHE            1024

/* currencies' internal ids by ISO code, for a create */
#define NGX_HTTP_ORDER_EDIT_CUR_CACHE             16


/*
 * What SuiteQL said: (account, shop, Shopify order) -> internal id.  A
 * Sales Order keeps its internal id for life, so entries never expire;
 * a slot is simply overwritten by the next order hashed to it, and an
 * id NetSuite no longer knows (404) is dropped and looked up again.
 */
typedef struct {
    void                                  *ns;
    uint32_t                               shop;
    int64_t                                order_id;
    u_char                                 len;
    u_char                                 id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];
} ngx_http_order_edit_so_cache_t;


/*
 * A write compared with the order read, with the read's parse: what was
 * sent and the document's totals (all the compare reads of it), copied,
 * as the job that wrote may end while a thread compares.  held_only: only
 * if the order read holds that snapshot (held), else there is nothing
 * of this write's to check.
 */
typedef struct {
    u_char                                *sent;
    size_t                                 sent_len;
    json_t                                *doc;
    int64_t                                held;
    unsigned                               on:1;      /* to compare */
    unsigned                               held_only:1;
    unsigned                               done:1;    /* compared */
    int                                    rc;
    char                                   detail[
                                           NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN];
} ngx_http_order_edit_nsc_check_t;


/*
 * An answer parsed off the event loop (ngx_http_order_edit_parse.c):
 * everything the work reads is the task's own, handed over or copied,
 * so that the job may end while a thread still parses.
 */
typedef struct {
    u_char                                *got;       /* the answer */
    size_t                                 got_len;
    ngx_http_order_edit_nsc_check_t        check;     /* the job's write */
    ngx_http_order_edit_nsc_check_t        fold;      /* a FOLDED one's */
    json_t                                *page;      /* SuiteQL's, parsed */
    char                                  *updated;   /* the store's */
    char                                  *taxes;     /* field names */
    char                                  *request;   /* to fit, copied */
    size_t                                 request_len;
    ngx_uint_t                             kind;
    ngx_http_order_edit_norm_conf_t       *norm;      /* read only */
    char                                  *fitted;    /* the write's */
    int                                    fitted_n;
    ngx_http_order_edit_nsp_order_t        order;
    int                                    rc;
} ngx_http_order_edit_nsc_parse_t;


static ngx_http_order_edit_so_cache_t
    ngx_http_order_edit_so_cache[NGX_HTTP_ORDER_EDIT_SO_CACHE];

/* the same shape: (account, shop, Shopify customer) -> internal id */
static ngx_http_order_edit_so_cache_t
    ngx_http_order_edit_cust_cache[NGX_HTTP_ORDER_EDIT_CUST_CACHE];

/* (account, ISO code) -> internal id: a currency's id never changes */
typedef struct {
    void                                  *ns;
    u_char                                 code[3];
    u_char                                 len;
    u_char                                 id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];
} ngx_http_order_edit_cur_cache_t;

static ngx_http_order_edit_cur_cache_t
    ngx_http_order_edit_cur_cache[NGX_HTTP_ORDER_EDIT_CUR_CACHE];
static ngx_uint_t  ngx_http_order_edit_cur_next;


static ngx_http_order_edit_so_cache_t *ngx_http_order_edit_nsc_so_slot(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_nsc_set_url(ngx_http_order_edit_nsc_t *c,
    const char *path, const u_char *id, size_t id_len, const char *query);
static ngx_int_t ngx_http_order_edit_nsc_order_url(
    ngx_http_order_edit_nsc_t *c, const char *eid, const char *query);
static void ngx_http_order_edit_nsc_write_send(ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_restlet(ngx_http_order_edit_nsc_t *c);
static json_t *ngx_http_order_edit_nsc_restlet_body(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_restlet_answer(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_restlet_applied(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_nsc_in_place(
    ngx_http_order_edit_nsc_t *c);
static ngx_uint_t ngx_http_order_edit_nsc_fits(ngx_http_order_edit_nsc_t *c);
static int ngx_http_order_edit_nsc_fit(
    const ngx_http_order_edit_norm_conf_t *norm, ngx_uint_t kind,
    const char *request, size_t len, const json_t *record, char **text);
static void ngx_http_order_edit_nsc_read_answer(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_read_parse(void *ctx);
static void ngx_http_order_edit_nsc_read_parsed(void *ctx, void *data,
    ngx_uint_t cancelled);
static ngx_http_order_edit_nsc_parse_t *ngx_http_order_edit_nsc_parse(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_curl_req_t *req);
static ngx_uint_t ngx_http_order_edit_nsc_parse_end(
    ngx_http_order_edit_nsc_t *c, ngx_uint_t cancelled);
static void ngx_http_order_edit_nsc_parse_failed(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_order_release(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_json_free(void *root);
static void ngx_http_order_edit_nsc_parse_clean(void *ctx);
static ngx_int_t ngx_http_order_edit_nsc_customer(
    ngx_http_order_edit_nsc_t *c);
static ngx_int_t ngx_http_order_edit_nsc_xform_body(
    ngx_http_order_edit_nsc_t *c, json_t *body, json_t *id);
static ngx_int_t ngx_http_order_edit_nsc_cash_body(
    ngx_http_order_edit_nsc_t *c, json_t *body);
static ngx_int_t ngx_http_order_edit_nsc_dump(ngx_http_order_edit_nsc_t *c,
    json_t *v, ngx_str_t *out);
static void ngx_http_order_edit_nsc_memo_find(ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_refund_step(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static ngx_uint_t ngx_http_order_edit_nsc_duplicate(
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_memo_there(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_invoice(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static ngx_int_t ngx_http_order_edit_nsc_payout(ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_payout_send(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_written(ngx_http_order_edit_nsc_t *c);
static ngx_http_order_edit_so_cache_t *ngx_http_order_edit_nsc_cust_slot(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_cust_find(ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_cust_step(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_cust_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_cust_none(ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_cust_make(ngx_http_order_edit_nsc_t *c);
static ngx_int_t ngx_http_order_edit_nsc_cust_email(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_cust_emailed(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_cust_use(ngx_http_order_edit_nsc_t *c,
    const char *id, size_t len);
static json_t *ngx_http_order_edit_nsc_cust_body(ngx_http_order_edit_nsc_t *c,
    const json_t *cust);
static void ngx_http_order_edit_nsc_create_send(ngx_http_order_edit_nsc_t *c,
    const u_char *entity, size_t len);
static ngx_int_t ngx_http_order_edit_nsc_query(ngx_http_order_edit_nsc_t *c,
    ngx_uint_t step, size_t size, const char *fmt, ...);
static void ngx_http_order_edit_nsc_cur_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_create_write(
    ngx_http_order_edit_nsc_t *c);
static void ngx_http_order_edit_nsc_compare(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_compare_parse(void *ctx);
static void ngx_http_order_edit_nsc_compared(void *ctx, void *data,
    ngx_uint_t cancelled);
static ngx_int_t ngx_http_order_edit_nsc_check_copy(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_nsc_t *w,
    ngx_str_t *sent, ngx_http_order_edit_nsc_check_t *k);
static json_t *ngx_http_order_edit_nsc_totals(ngx_http_order_edit_nsc_t *w);
static void ngx_http_order_edit_nsc_check_run(
    ngx_http_order_edit_nsc_check_t *k, ngx_http_order_edit_nsc_parse_t *pc);
static ngx_int_t ngx_http_order_edit_nsc_check_verdict(
    ngx_http_order_edit_nsc_t *w, ngx_http_order_edit_nsc_check_t *k,
    ngx_str_t *detail);
static ngx_int_t ngx_http_order_edit_nsc_discrepancy(
    ngx_http_order_edit_nsc_t *c, const char *text, ngx_str_t *detail);
static void ngx_http_order_edit_nsc_check_report(
    ngx_http_order_edit_nsc_t *w, ngx_http_order_edit_nsc_check_t *k);
static ngx_int_t ngx_http_order_edit_nsc_fold_copy(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_nsc_parse_t *pc);
static void ngx_http_order_edit_nsc_fold_check(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_parse_t *pc);
static void ngx_http_order_edit_nsc_send(ngx_http_order_edit_nsc_t *c);
static ngx_int_t ngx_http_order_edit_nsc_sign(ngx_http_order_edit_nsc_t *c,
    ngx_str_t *auth);
static ngx_int_t ngx_http_order_edit_nsc_headers(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *auth);
static ngx_int_t ngx_http_order_edit_nsc_bearer(ngx_http_order_edit_nsc_t *c,
    ngx_str_t *value);
static void ngx_http_order_edit_nsc_resend(void *data);
static void ngx_http_order_edit_nsc_answer(ngx_http_order_edit_curl_req_t *req,
    void *data);
static ngx_uint_t ngx_http_order_edit_nsc_auth(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_uint_t over);
static void ngx_http_order_edit_nsc_classify(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_rejected(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_error(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *out);
static void ngx_http_order_edit_nsc_report(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_rc_e rc, const char *reason, ngx_str_t *why);
static void ngx_http_order_edit_nsc_refused(ngx_http_order_edit_nsc_t *c,
    const char *reason, const char *why);
static void ngx_http_order_edit_nsc_suiteql_answer(
    ngx_http_order_edit_nsc_t *c, ngx_http_order_edit_curl_req_t *req);
static void ngx_http_order_edit_nsc_page_parse(void *ctx);
static void ngx_http_order_edit_nsc_page_parsed(void *ctx, void *data,
    ngx_uint_t cancelled);
static void ngx_http_order_edit_nsc_page_free(ngx_http_order_edit_nsc_t *c);


ngx_uint_t
ngx_http_order_edit_nsc_known(ngx_http_order_edit_nsc_t *c)
{
    ngx_http_order_edit_so_cache_t  *slot;

    if (c->ns->lookup != NGX_HTTP_ORDER_EDIT_NS_LOOKUP_SUITEQL) {
        return 1;
    }

    if (c->res->order_id <= 0) {
        /* the lookup says why it cannot be found */
        return 0;
    }

    slot = ngx_http_order_edit_nsc_so_slot(c);

    if (slot->len == 0) {
        return 0;
    }

    /* copied: the slot may be another order's before the job ends */
    ngx_memcpy(c->so_buf, slot->id, slot->len);
    c->so_id.data = c->so_buf;
    c->so_id.len = slot->len;
    c->so_cached = 1;

    return 1;
}


/*
 * "lookup suiteql field": the order is found by the custom body field
 * another connector filled with the Shopify order id.
 */

void
ngx_http_order_edit_nsc_lookup(ngx_http_order_edit_nsc_t *c)
{
    size_t  size;

    c->call = NGX_HTTP_ORDER_EDIT_NSC_LOOKUP;

    if (c->res->order_id <= 0) {
        ngx_http_order_edit_nsc_refused(c, "order_missing",
                                        "no Shopify order id to find the "
                                        "Sales Order by");
        return;
    }

    /* the field name was checked at load: letters, digits, "_" */
    size = sizeof("{\"q\":\"SELECT id FROM transaction WHERE type "
                  "= 'SalesOrd' AND  = ''\"}") + NGX_INT64_LEN
           + c->ns->lookup_field.len;

    c->body.data = ngx_pnalloc(c->pool, size);

    if (c->body.data == NULL
        || ngx_http_order_edit_nsc_set_url(c, NGX_HTTP_ORDER_EDIT_SUITEQL,
                                           NULL, 0, "")
           != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->body.len = ngx_sprintf(c->body.data,
                              "{\"q\":\"SELECT id FROM transaction WHERE "
                              "type = 'SalesOrd' AND %V = '%L'\"}",
                              &c->ns->lookup_field, c->res->order_id)
                  - c->body.data;

    ngx_str_set(&c->method, "POST");
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_LOOKUP;

    ngx_http_order_edit_nsc_send(c);
}


/* SuiteQL answered: one Sales Order, none, or (a data problem) several */

static void
ngx_http_order_edit_nsc_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    int                              n;
    size_t                           len;
    ngx_str_t                        detail;
    ngx_http_order_edit_so_cache_t  *slot;

    n = ngx_http_order_edit_nsp_suiteql((char *) req->body.data,
                                        req->body.len, (char *) c->so_buf,
                                        sizeof(c->so_buf));

    /* the query is no body for what follows (a create, say) */
    ngx_str_null(&c->body);

    if (n < 0) {
        ngx_str_set(&detail, "SuiteQL answered without \"items\"");
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                       NULL, &detail);
        return;
    }

    if (n == 0) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_MISSING,
                                       NULL, NULL);
        return;
    }

    if (n > 1) {
        ngx_http_order_edit_nsc_refused(c, "order_ambiguous",
                                        "several Sales Orders carry this "
                                        "Shopify order id");
        return;
    }

    len = ngx_strlen(c->so_buf);

    if (len == 0) {
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "SuiteQL answered an id that is "
                                        "not one");
        return;
    }

    slot = ngx_http_order_edit_nsc_so_slot(c);
    slot->ns = c->ns;
    slot->shop = ngx_crc32_short(c->shop.data, c->shop.len);
    slot->order_id = c->res->order_id;
    slot->len = (u_char) len;
    ngx_memcpy(slot->id, c->so_buf, len);

    c->so_id.data = c->so_buf;
    c->so_id.len = len;

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL, NULL);
}


/* the cache slot of the job's order: its entry, or an empty one */

static ngx_http_order_edit_so_cache_t *
ngx_http_order_edit_nsc_so_slot(ngx_http_order_edit_nsc_t *c)
{
    uint32_t                         shop;
    ngx_http_order_edit_so_cache_t  *slot;

    shop = ngx_crc32_short(c->shop.data, c->shop.len);

    slot = &ngx_http_order_edit_so_cache[
               ((uint64_t) c->res->order_id * 0x9e3779b97f4a7c15ULL
                ^ shop) % NGX_HTTP_ORDER_EDIT_SO_CACHE];

    if (slot->ns != c->ns || slot->shop != shop
        || slot->order_id != c->res->order_id)
    {
        slot->len = 0;
    }

    return slot;
}


/*
 * The reads before a write.  A Sales Order update or cancellation reads
 * the whole order with its lines: the write names each kept line by its
 * "line", and a cancellation closes them all.  Oracle documents sublists
 * in a read only with expandSubResources=true, and fields= is not honoured
 * with it (so the status and the applied snapshot come with it).  A
 * refund reads the customer, and what the memo must take from the order;
 * a refund of unknown tax kind reads the order's taxes_included field.
 */

void
ngx_http_order_edit_nsc_read(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_call_e call)
{
    char        *query;
    const char  *eid, *field;

    c->call = call;
    ngx_http_order_edit_nsc_order_release(c);

    free(c->fitted);
    c->fitted = NULL;
    c->fitted_n = NGX_HTTP_ORDER_EDIT_NSC_UNFITTED;

    eid = c->res->sales_order_id;

    switch (call) {

    case NGX_HTTP_ORDER_EDIT_NSC_READ_CUSTOMER:
        /*
         * A standalone memo defaults them from the customer, which is
         * wrong for a shop selling in several currencies or subsidiaries.
         */
        query = "?fields=entity,currency,subsidiary,location,department,"
                "class";
        break;

    case NGX_HTTP_ORDER_EDIT_NSC_READ_TAX_KIND:
        field = ngx_http_order_edit_norm_field(c->norm,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED);

        query = ngx_pnalloc(c->pool, sizeof("?fields=")
                                     + (field ? ngx_strlen(field) : 0));
        if (query == NULL) {
            ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                           NULL, NULL);
            return;
        }

        (void) ngx_sprintf((u_char *) query, "?fields=%s%Z",
                           field ? field : "");
        break;

    default: /* NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER */
        eid = c->res->external_id;
        query = (c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                 || c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION)
                ? "?expandSubResources=true" : "?fields=orderStatus";
        break;
    }

    ngx_str_set(&c->method, "GET");
    ngx_str_null(&c->body);
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_READ;

    if (ngx_http_order_edit_nsc_order_url(c, eid, query) != NGX_OK) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_http_order_edit_nsc_send(c);
}


/*
 * A read answered 200: the order's state, and what the write takes of
 * it.  A Sales Order read with its lines is as large as the order, and
 * is parsed on the thread pool.
 */

static void
ngx_http_order_edit_nsc_read_answer(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    const char                       *updated, *taxes;
    ngx_http_order_edit_nsc_parse_t  *pc;

    pc = ngx_http_order_edit_nsc_parse(c, req);
    if (pc == NULL) {
        return;
    }

    updated = ngx_http_order_edit_norm_field(c->norm,
                                     NGX_HTTP_ORDER_EDIT_FIELD_UPDATED_AT);
    taxes = ngx_http_order_edit_norm_field(c->norm,
                                   NGX_HTTP_ORDER_EDIT_FIELD_TAXES_INCLUDED);

    /* the configuration's, copied: the thread reads its own only */
    pc->updated = updated ? strdup(updated) : NULL;
    pc->taxes = taxes ? strdup(taxes) : NULL;

    if ((updated && pc->updated == NULL) || (taxes && pc->taxes == NULL)) {
        ngx_http_order_edit_nsc_parse_failed(c);
        return;
    }

    /*
     * The writes this read checks (a FOLDED one's, and this snapshot's
     * own when a replay finds it held) are compared on the same thread,
     * not parsed again here.
     */

    if (c->fold != NULL && c->call == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER
        && ngx_http_order_edit_nsc_fold_copy(c, pc) != NGX_OK)
    {
        ngx_http_order_edit_nsc_parse_failed(c);
        return;
    }

    /*
     * The write will be fitted to the order read (as large as both): on
     * the same thread, while the record is there.  The request is handed
     * over, not copied (a copy as large as the order, made and freed on
     * the event loop), and handed back in read_parsed(); nothing reads it
     * meanwhile, and a cancelled job ends without it.
     */

    if (c->call == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER
        && c->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
        && c->res->body != NULL
        && (c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
            || c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION))
    {
        pc->request = c->res->body;
        pc->request_len = c->res->body_len;
        pc->kind = c->res->kind;
        pc->norm = c->norm;
        c->res->body = NULL;
    }

    /*
     * check_held compares with that same request, and the document (for
     * its totals) is handed over with it, as it is only seldom compared:
     * a copy would cost every lock read.
     */

    if (c->check_held && pc->request != NULL && pc->request_len
        && c->res->doc != NULL
        && c->res->updated_at != NGX_HTTP_ORDER_EDIT_NO_TIME)
    {
        pc->check.sent = (u_char *) pc->request;
        pc->check.sent_len = pc->request_len;
        pc->check.doc = c->res->doc;
        c->res->doc = NULL;

        pc->check.on = 1;
        pc->check.held_only = 1;
        pc->check.held = c->res->updated_at;
    }

    (void) ngx_http_order_edit_parse_start(c->parse,
                                           pc->got_len + pc->request_len
                                           + pc->check.sent_len
                                           + pc->fold.sent_len,
                                           ngx_http_order_edit_nsc_read_parse,
                                           ngx_http_order_edit_nsc_read_parsed,
                                           c);
}


/* on the thread pool, or here for a small answer */

static void
ngx_http_order_edit_nsc_read_parse(void *ctx)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;

    (void) ngx_http_order_edit_nsp_order((char *) pc->got, pc->got_len,
                                         pc->updated, pc->taxes, &pc->order);

    if (pc->request != NULL && pc->order.record != NULL) {
        pc->fitted_n = ngx_http_order_edit_nsc_fit(pc->norm, pc->kind,
                                                   pc->request,
                                                   pc->request_len,
                                                   pc->order.record,
                                                   &pc->fitted);
    } else {
        pc->fitted_n = NGX_HTTP_ORDER_EDIT_NSC_UNFITTED;
    }

    /* an unreadable orderStatus is refused before any check */
    if (pc->order.status != 0) {
        ngx_http_order_edit_nsc_check_run(&pc->check, pc);
    }

    ngx_http_order_edit_nsc_check_run(&pc->fold, pc);
}


static void
ngx_http_order_edit_nsc_read_parsed(void *ctx, void *data,
    ngx_uint_t cancelled)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;
    ngx_http_order_edit_nsc_t       *c = data;

    ngx_str_t  detail;

    if (ngx_http_order_edit_nsc_parse_end(c, cancelled)) {
        return;
    }

    /* the request back, with the check that shared it and the document */
    if (pc->request != NULL) {
        c->res->body = pc->request;

        if (pc->check.sent == (u_char *) pc->request) {
            pc->check.sent = NULL;
            c->res->doc = pc->check.doc;
            pc->check.doc = NULL;
        }

        pc->request = NULL;
    }

    /* the record parsed, and the write fitted to it, are the client's */
    ngx_http_order_edit_nsc_order_release(c);
    c->order = pc->order;
    c->order_bytes = pc->got_len;
    pc->order.record = NULL;

    free(c->fitted);
    c->fitted = pc->fitted;
    c->fitted_n = pc->fitted_n;
    pc->fitted = NULL;

    /*
     * c->fold is set before the read goes out (the claim), and only
     * cleared since: the task compared for it.
     */

    if (c->fold != NULL && c->call == NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER) {
        ngx_http_order_edit_nsc_fold_check(c, pc);
    }

    switch (c->call) {

    case NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER:
        if (c->order.status == 0) {
            ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                            "the Sales Order's orderStatus "
                                            "is unreadable");
            return;
        }

        /*
         * check_held, compared on the read's task if the order holds this
         * snapshot; the "line"s the write would add change none of what
         * is compared.
         */
        if (ngx_http_order_edit_nsc_check_verdict(c, &pc->check, &detail)
            != NGX_OK)
        {
            ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                           "discrepancy", &detail);
            return;
        }

        break;

    case NGX_HTTP_ORDER_EDIT_NSC_READ_CUSTOMER:
        if (c->order.entity[0] == '\0') {
            ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                            "the Sales Order has no "
                                            "customer (entity)");
            return;
        }

        if (ngx_http_order_edit_nsc_customer(c) != NGX_OK) {
            ngx_http_order_edit_nsc_report(c,
                                           NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                           NULL, NULL);
            return;
        }

        break;

    default:
        break;
    }

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL, NULL);
}


/*
 * The task for an answer's parse, with the answer's body handed over
 * from the transfer (no copy).  NULL: no memory, and the call has ended
 * (reported).
 */

static ngx_http_order_edit_nsc_parse_t *
ngx_http_order_edit_nsc_parse(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t                         body;
    ngx_http_order_edit_nsc_parse_t  *pc;

    c->parse = ngx_http_order_edit_parse_create(
                   sizeof(ngx_http_order_edit_nsc_parse_t),
                   ngx_http_order_edit_nsc_parse_clean, c->log);

    if (c->parse == NULL) {
        ngx_http_order_edit_nsc_parse_failed(c);
        return NULL;
    }

    pc = ngx_http_order_edit_parse_ctx(c->parse);

    (void) ngx_http_order_edit_curl_take_body(req, &body);

    pc->got = body.data;
    pc->got_len = body.len;

    return pc;
}


/* a parse is back: 1 when it was cancelled, and the call has ended */

static ngx_uint_t
ngx_http_order_edit_nsc_parse_end(ngx_http_order_edit_nsc_t *c,
    ngx_uint_t cancelled)
{
    c->parse = NULL;

    if (cancelled) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_CANCELLED,
                                       NULL, NULL);
        return 1;
    }

    return 0;
}


/* a task not started for want of memory: the call ends */

static void
ngx_http_order_edit_nsc_parse_failed(ngx_http_order_edit_nsc_t *c)
{
    ngx_str_t  why;

    if (c->parse) {
        ngx_http_order_edit_parse_destroy(c->parse);
        c->parse = NULL;
    }

    ngx_str_set(&why, "no memory to parse NetSuite's answer");
    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                   NULL, &why);
}


/* the last read's record, freed where it was parsed if it is large */

static void
ngx_http_order_edit_nsc_order_release(ngx_http_order_edit_nsc_t *c)
{
    if (c->order.record != NULL) {
        ngx_http_order_edit_parse_dispose(ngx_http_order_edit_nsc_json_free,
                                          c->order.record, c->order_bytes,
                                          c->log);
        c->order.record = NULL;
    }

    ngx_http_order_edit_nsp_order_free(&c->order);
}


static void
ngx_http_order_edit_nsc_json_free(void *root)
{
    json_decref(root);
}


static void
ngx_http_order_edit_nsc_parse_clean(void *ctx)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;

    ngx_http_order_edit_nsp_order_free(&pc->order);
    json_decref(pc->check.doc);
    json_decref(pc->fold.doc);
    json_decref(pc->page);

    free(pc->got);
    free(pc->fold.sent);

    if (pc->check.sent != (u_char *) pc->request) {
        free(pc->check.sent);
    }

    free(pc->request);
    free(pc->fitted);
    free(pc->updated);
    free(pc->taxes);
}


/* c->url = the account's endpoint, path, id (may be empty), query */

static ngx_int_t
ngx_http_order_edit_nsc_set_url(ngx_http_order_edit_nsc_t *c,
    const char *path, const u_char *id, size_t id_len, const char *query)
{
    u_char     *p;
    size_t      plen, qlen;
    ngx_str_t  *e;

    e = &c->ns->endpoint;
    plen = ngx_strlen(path);
    qlen = ngx_strlen(query);

    p = ngx_pnalloc(c->pool, e->len + plen + id_len + qlen);
    if (p == NULL) {
        return NGX_ERROR;
    }

    c->url.data = p;

    p = ngx_cpymem(p, e->data, e->len);
    p = ngx_cpymem(p, path, plen);
    p = ngx_cpymem(p, id, id_len);
    p = ngx_cpymem(p, query, qlen);

    c->url.len = p - c->url.data;

    return NGX_OK;
}


/* the Sales Order: found by SuiteQL, its internal id; else eid:<id> */

static ngx_int_t
ngx_http_order_edit_nsc_order_url(ngx_http_order_edit_nsc_t *c,
    const char *eid, const char *query)
{
    if (c->so_id.len) {
        return ngx_http_order_edit_nsc_set_url(c,
                   NGX_HTTP_ORDER_EDIT_REST_PREFIX "salesOrder/",
                   c->so_id.data, c->so_id.len, query);
    }

    return ngx_http_order_edit_nsc_set_url(c,
               NGX_HTTP_ORDER_EDIT_REST_PREFIX "salesOrder/eid:",
               (u_char *) eid, ngx_strlen(eid), query);
}


/*
 * The write: the normaliser's request, fitted to the order as read; in
 * RESTlet mode the whole document, which the RESTlet applies on
 * NetSuite's side.
 */

void
ngx_http_order_edit_nsc_write(ngx_http_order_edit_nsc_t *c)
{
    c->call = NGX_HTTP_ORDER_EDIT_NSC_WRITE;

    if (c->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET) {
        ngx_http_order_edit_nsc_restlet(c);
        return;
    }

    if (c->xform.len) {
        /* refund_flow invoice or cash_sale: is the record there already? */
        c->cash_sale = (c->cash.len != 0);
        ngx_http_order_edit_nsc_memo_find(c);
        return;
    }

    if (ngx_http_order_edit_nsc_in_place(c) != NGX_OK) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_http_order_edit_nsc_write_send(c);
}


static void
ngx_http_order_edit_nsc_restlet(ngx_http_order_edit_nsc_t *c)
{
    json_t  *body;

    body = ngx_http_order_edit_nsc_restlet_body(c);

    c->doc = body ? ngx_http_order_edit_json_dumps(body, JSON_COMPACT)
                  : NULL;

    json_decref(body);

    if (c->doc == NULL) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_str_set(&c->method, "POST");
    c->url = c->ns->restlet_url;
    c->body.data = (u_char *) c->doc;
    c->body.len = ngx_strlen(c->doc);
    c->body_sent = c->body;
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_WRITE;

    ngx_http_order_edit_nsc_send(c);
}


/*
 * The document and the NetSuite block's choices, which the script cannot
 * know otherwise: {"options": {"lock_after": "B", "on_missing": "error",
 * "refund_flow": "standalone"}}, and with on_missing create "customers",
 * "match", "guest" and "subsidiary".  A shallow copy: the document's
 * values are shared, not copied.
 */

static json_t *
ngx_http_order_edit_nsc_restlet_body(ngx_http_order_edit_nsc_t *c)
{
    char     letter[2];
    json_t  *body, *options;

    body = json_copy(c->res->doc);
    options = json_object();

    if (body == NULL || options == NULL) {
        json_decref(body);
        json_decref(options);
        return NULL;
    }

    letter[0] = (char) c->ns->lock_after;
    letter[1] = '\0';

    if (json_object_set_new(body, "options", options) != 0
        || json_object_set_new(options, "lock_after", json_string(letter))
           != 0
        || json_object_set_new(options, "on_missing", json_string(
               c->ns->on_missing == NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE
               ? "create" : "error"))
           != 0
        || json_object_set_new(options, "refund_flow", json_string(
               c->ns->refund_flow == NGX_HTTP_ORDER_EDIT_NS_REFUND_INVOICE
               ? "invoice" : "standalone"))
           != 0)
    {
        json_decref(body);
        return NULL;
    }

    if (c->ns->on_missing != NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE) {
        return body;
    }

    /* the customer of an order the script creates, as REST mode's */

    if (json_object_set_new(options, "customers",
                            json_string(c->ns->create_customers
                                        ? "create" : "find"))
        != 0
        || json_object_set_new(options, "match",
                               json_string(c->ns->match_email
                                           ? "email" : "external_id"))
           != 0
        || (c->ns->guest_customer.len
            && json_object_set_new(options, "guest",
                   json_stringn((char *) c->ns->guest_customer.data,
                                c->ns->guest_customer.len))
               != 0)
        || (c->ns->new_customer_subsidiary.len
            && json_object_set_new(options, "subsidiary",
                   json_stringn((char *) c->ns->new_customer_subsidiary.data,
                                c->ns->new_customer_subsidiary.len))
               != 0))
    {
        json_decref(body);
        return NULL;
    }

    return body;
}


/*
 * The RESTlet answered the write.  A SuiteScript cannot choose its status:
 * success is 200 with {"ok": true, "results": ...}, a thrown error 400
 * with {"error": {"code", "message"}}.  The codes the script throws for
 * the order's state mean what REST mode's reads find: ORDER_LOCKED is
 * past lock_after, RCRD_DSNT_EXIST no such order (on_missing decides).
 */

static void
ngx_http_order_edit_nsc_restlet_answer(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t                         why;
    ngx_uint_t                        missing;
    const char                       *reason;
    ngx_http_order_edit_nsp_error_t   err;

    if (req->status >= 200 && req->status < 300) {
        ngx_http_order_edit_nsc_restlet_applied(c, req);
        return;
    }

    reason = "netsuite_rejected";
    missing = 0;
    err.root = NULL;

    if (req->status == 400
        && ngx_http_order_edit_nsp_error((char *) req->body.data,
                                         req->body.len, &err)
           == 0)
    {
        if (ngx_strcmp(err.code, "ORDER_LOCKED") == 0) {
            reason = "fulfilment_lock";

        } else if (ngx_strcmp(err.code, "RCRD_DSNT_EXIST") == 0) {
            missing = 1;

        } else if (ngx_strcmp(err.code, "CUSTOMER_MISSING") == 0) {
            /* the script's create found no customer, as REST mode's */
            reason = "customer_missing";

        } else if (ngx_strcmp(err.code, "CUSTOMER_REJECTED") == 0) {
            reason = "customer_rejected";

        } else if (ngx_strcmp(err.code, "CUSTOMER_AMBIGUOUS") == 0) {
            reason = "customer_ambiguous";
        }
    }

    json_decref(err.root);

    if (missing) {
        ngx_http_order_edit_nsc_error(c, req, &why);
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_MISSING,
                                       NULL, &why);
        return;
    }

    ngx_http_order_edit_nsc_error(c, req, &why);

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "order_edit: #%uL of \"%V\": the RESTlet refused it "
                  "(%s): %V", c->id, &c->shop, reason, &why);

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   reason, &why);
}


/*
 * A 2xx from the RESTlet: the script's "ok" and what it booked.  Its
 * discrepancies (NetSuite's totals against the document's) are REST
 * mode's read back done on NetSuite's side: the write stands, people
 * look (unless readback is off).
 */

static void
ngx_http_order_edit_nsc_restlet_applied(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    int         rc;
    char        text[NGX_HTTP_ORDER_EDIT_NSP_DETAIL_LEN];
    ngx_str_t   detail;

    rc = ngx_http_order_edit_nsp_restlet((char *) req->body.data,
                                         req->body.len, text);

    if (rc == 0 || (rc == 1 && !c->ns->readback)) {
        ngx_http_order_edit_nsc_written(c);
        return;
    }

    detail.len = ngx_strlen(text);
    detail.data = ngx_pnalloc(c->pool, detail.len);

    if (detail.data == NULL) {
        detail.len = 0;

    } else {
        ngx_memcpy(detail.data, text, detail.len);
    }

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "order_edit: #%uL of \"%V\": %s: %V", c->id, &c->shop,
                  rc == 1 ? "discrepancy" : "the RESTlet failed", &detail);

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   rc == 1 ? "discrepancy"
                                           : "netsuite_rejected",
                                   &detail);
}


static void
ngx_http_order_edit_nsc_write_send(ngx_http_order_edit_nsc_t *c)
{
    u_char      *p, *eid, *rest;
    size_t       len;
    const char  *path;

    c->method.data = (u_char *) c->res->method;
    c->method.len = ngx_strlen(c->res->method);

    if (c->body.len == 0) {
        c->body.data = (u_char *) c->res->body;
        c->body.len = c->res->body_len;
    }

    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_WRITE;
    c->body_sent = c->body;

    path = c->res->path;
    len = ngx_strlen(path);
    eid = NULL;

    /*
     * The normaliser addresses the Sales Order by external id; one found
     * by SuiteQL is addressed by its internal id, with the same query.
     */

    if (c->so_id.len && c->res->kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO
        && c->res->external_id[0] != '\0')
    {
        eid = ngx_strlcasestrn((u_char *) path, (u_char *) path + len,
                               (u_char *) "/salesOrder/eid:",
                               sizeof("/salesOrder/eid:") - 2);
    }

    p = ngx_pnalloc(c->pool, c->ns->endpoint.len + len + c->so_id.len);
    if (p == NULL) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->url.data = p;
    p = ngx_cpymem(p, c->ns->endpoint.data, c->ns->endpoint.len);

    if (eid != NULL) {
        rest = eid + sizeof("/salesOrder/eid:") - 1
               + ngx_strlen(c->res->external_id);

        p = ngx_cpymem(p, path, eid - (u_char *) path);
        p = ngx_cpymem(p, "/salesOrder/", sizeof("/salesOrder/") - 1);
        p = ngx_cpymem(p, c->so_id.data, c->so_id.len);
        p = ngx_cpymem(p, rest, (u_char *) path + len - rest);

    } else {
        p = ngx_cpymem(p, path, len);
    }

    c->url.len = p - c->url.data;

    ngx_http_order_edit_nsc_send(c);
}


/*
 * The write, fitted to the order as NetSuite holds it: a Sales Order's
 * kept lines named by their "line" (updated in place by the keyed
 * replace, not deleted and added again), a cancellation closing every
 * line (NetSuite REST has no cancel: closed lines release their
 * commitments and the order becomes Closed).  The normaliser's exact
 * numbers are kept: the body is loaded as exact JSON and dumped again.
 */

static ngx_int_t
ngx_http_order_edit_nsc_in_place(ngx_http_order_edit_nsc_t *c)
{
    int    n;
    char  *text;

    if (!ngx_http_order_edit_nsc_fits(c)) {
        return NGX_OK;
    }

    if (c->fitted_n != NGX_HTTP_ORDER_EDIT_NSC_UNFITTED) {
        /* fitted with the read, on the thread pool */
        n = c->fitted_n;
        text = c->fitted;
        c->fitted = NULL;
        c->fitted_n = NGX_HTTP_ORDER_EDIT_NSC_UNFITTED;

    } else {
        n = ngx_http_order_edit_nsc_fit(c->norm, c->res->kind,
                                        c->res->body, c->res->body_len,
                                        c->order.record, &text);
    }

    if (n <= 0) {
        return n == 0 ? NGX_OK : NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "order_edit: #%uL: %d line(s) of the order %s",
                   c->id, n,
                   c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
                   ? "kept in place" : "closed");

    free(c->doc);
    c->doc = text;
    c->body.data = (u_char *) text;
    c->body.len = ngx_strlen(text);

    return NGX_OK;
}


/* 1 when the write is fitted to the order as read */

static ngx_uint_t
ngx_http_order_edit_nsc_fits(ngx_http_order_edit_nsc_t *c)
{
    return c->res->body != NULL && c->order.record != NULL
           && (c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER
               || c->res->kind == NGX_HTTP_ORDER_EDIT_NORM_CANCELLATION);
}


/*
 * The request body fitted to the record: the lines kept or closed (n),
 * with *text the new body (malloc()ed) when n > 0; 0: nothing to fit;
 * -1: no memory, or a body that is no JSON.  Pure C and jansson, on
 * the thread pool with the read's parse, or here.
 */

static int
ngx_http_order_edit_nsc_fit(const ngx_http_order_edit_norm_conf_t *norm,
    ngx_uint_t kind, const char *request, size_t len, const json_t *record,
    char **text)
{
    int                             n;
    char                            errbuf[128];
    json_t                         *body;
    ngx_http_order_edit_json_rc_e   rc;

    *text = NULL;

    body = ngx_http_order_edit_json_load(request, len, 64, len, &rc, errbuf,
                                         sizeof(errbuf));
    if (body == NULL) {
        return -1;
    }

    if (kind == NGX_HTTP_ORDER_EDIT_NORM_SALES_ORDER) {
        n = ngx_http_order_edit_nsbody_keep_lines(norm, body, record);
    } else {
        n = ngx_http_order_edit_nsbody_close_lines(body, record);
    }

    if (n > 0) {
        *text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);
        n = (*text == NULL) ? -1 : n;
    }

    json_decref(body);

    return n;
}


/*
 * The Credit Memo goes to the Sales Order's customer, in the order's
 * currency, subsidiary, location, department and class, linked to the
 * order by createdFrom.
 */

static ngx_int_t
ngx_http_order_edit_nsc_customer(ngx_http_order_edit_nsc_t *c)
{
    char                            *text, errbuf[128];
    json_t                          *root, *body, *ref;
    ngx_uint_t                       i;
    ngx_http_order_edit_json_rc_e    rc;

    static const char  *from_order[] = {
        "currency", "subsidiary", "location", "department", "class"
    };

    root = c->order.record;

    /* the body keeps the normaliser's exact numbers */
    body = ngx_http_order_edit_json_load(c->res->body, c->res->body_len,
                                         64, c->res->body_len, &rc, errbuf,
                                         sizeof(errbuf));

    if (body == NULL
        || json_object_set_new(body, "entity",
                               json_pack("{s:s}", "id", c->order.entity))
           != 0)
    {
        goto failed;
    }

    /* only what the order has: an account without classes has none */

    for (i = 0; i < sizeof(from_order) / sizeof(from_order[0]); i++) {
        ref = json_object_get(root, from_order[i]);
        ref = json_is_object(ref) ? json_object_get(ref, "id") : NULL;

        if (json_is_string(ref)
            && json_object_set_new(body, from_order[i],
                                   json_pack("{s:s}", "id",
                                             json_string_value(ref)))
               != 0)
        {
            goto failed;
        }
    }

    ref = json_object_get(root, "id");

    if (json_is_string(ref)
        && json_object_set_new(body, "createdFrom",
                               json_pack("{s:s}", "id",
                                         json_string_value(ref)))
           != 0)
    {
        goto failed;
    }

    text = ngx_http_order_edit_json_dumps(body, JSON_COMPACT);

    if (text == NULL) {
        goto failed;
    }

    if (c->ns->refund_flow != NGX_HTTP_ORDER_EDIT_NS_REFUND_STANDALONE
        && ngx_http_order_edit_nsc_xform_body(c, body, ref) != NGX_OK)
    {
        free(text);
        goto failed;
    }

    json_decref(body);

    free(c->doc);
    c->doc = text;
    c->body.data = (u_char *) text;
    c->body.len = ngx_strlen(text);

    return NGX_OK;

failed:

    json_decref(body);

    return NGX_ERROR;
}


/*
 * refund_flow invoice: the body of invoice/<id>/!transform/creditMemo.
 * The transform takes the customer, currency, subsidiary, location,
 * department and class from the invoice ("all possible fields defaulted
 * from the source record", Oracle) and sets createdFrom itself; the
 * memo's lines are Shopify's (replace=item drops the invoice's) and its
 * externalId is set in the body, the URL naming none.
 */

static ngx_int_t
ngx_http_order_edit_nsc_xform_body(ngx_http_order_edit_nsc_t *c,
    json_t *body, json_t *id)
{
    size_t       len;
    json_t      *cm, *eid;
    ngx_uint_t   i;

    static const char  *from_source[] = {
        "entity", "currency", "subsidiary", "location", "department",
        "class", "createdFrom"
    };

    if (!json_is_string(id)
        || ngx_atoi((u_char *) json_string_value(id),
                    json_string_length(id)) == NGX_ERROR)
    {
        /* no id to find the invoice by: the memo stays standalone */
        return NGX_OK;
    }

    cm = json_object_get(c->res->doc, "credit_memo");
    eid = json_object_get(cm, "external_id");

    if (!json_is_string(eid)) {
        return NGX_OK;
    }

    len = json_string_length(id);
    c->source.data = ngx_pnalloc(c->pool, len);
    if (c->source.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(c->source.data, json_string_value(id), len);
    c->source.len = len;

    for (i = 0; i < sizeof(from_source) / sizeof(from_source[0]); i++) {
        (void) json_object_del(body, from_source[i]);
    }

    if (json_object_set(body, "externalId", eid) != 0
        || ngx_http_order_edit_nsc_dump(c, body, &c->xform) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (c->ns->refund_flow != NGX_HTTP_ORDER_EDIT_NS_REFUND_CASH_SALE) {
        return NGX_OK;
    }

    return ngx_http_order_edit_nsc_cash_body(c, body);
}


/*
 * refund_flow cash_sale: the body of cashSale/<id>/!transform/cashRefund,
 * the memo's and the bank account the money goes back from (and the
 * payment method), refund_payout's; without it, the cash sale's own.
 */

static ngx_int_t
ngx_http_order_edit_nsc_cash_body(ngx_http_order_edit_nsc_t *c,
    json_t *body)
{
    if (c->ns->payout_account.len
        && json_object_set_new(body, "account",
                               json_pack("{s:s%}", "id",
                                         c->ns->payout_account.data,
                                         c->ns->payout_account.len))
           != 0)
    {
        return NGX_ERROR;
    }

    if (c->ns->payout_method.len
        && json_object_set_new(body, "paymentMethod",
                               json_pack("{s:s%}", "id",
                                         c->ns->payout_method.data,
                                         c->ns->payout_method.len))
           != 0)
    {
        return NGX_ERROR;
    }

    return ngx_http_order_edit_nsc_dump(c, body, &c->cash);
}


/* a request body, exact numbers kept, in the pool */

static ngx_int_t
ngx_http_order_edit_nsc_dump(ngx_http_order_edit_nsc_t *c, json_t *v,
    ngx_str_t *out)
{
    char    *text;
    size_t   len;

    text = ngx_http_order_edit_json_dumps(v, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(text);
    out->data = ngx_pnalloc(c->pool, len);

    if (out->data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text, len);
    out->len = len;
    free(text);

    return NGX_OK;
}


/*
 * A transform cannot be an upsert: before making the memo from the
 * invoice (or the cash refund from the cash sale), look for it by its
 * external id, so a retry after a lost answer, a replay after a crash or
 * a second delivery finds the record made the first time instead of
 * making a second one.
 */

static void
ngx_http_order_edit_nsc_memo_find(ngx_http_order_edit_nsc_t *c)
{
    const char  *eid;

    eid = json_string_value(json_object_get(
              json_object_get(c->res->doc, "credit_memo"), "external_id"));

    if (ngx_http_order_edit_nsc_set_url(c,
            c->cash_sale ? NGX_HTTP_ORDER_EDIT_REST_PREFIX "cashRefund/eid:"
                         : NGX_HTTP_ORDER_EDIT_REST_PREFIX "creditMemo/eid:",
            (u_char *) eid, ngx_strlen(eid), "?fields=externalId")
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_str_set(&c->method, "GET");
    ngx_str_null(&c->body);
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_MEMO_FIND;

    ngx_http_order_edit_nsc_send(c);
}


/* the answers of refund_flow invoice's reads and of the payout */

static void
ngx_http_order_edit_nsc_refund_step(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT_READ
        && req->status == 200)
    {
        ngx_http_order_edit_nsc_payout_send(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT
        && req->status >= 200 && req->status < 300)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "order_edit: #%uL of \"%V\" paid out: %V %V %ui",
                      c->id, &c->shop, &c->method, &c->url, req->status);

        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL,
                                       NULL);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_INVOICE
        && req->status == 200)
    {
        ngx_http_order_edit_nsc_invoice(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_XFORM) {

        if (req->status >= 200 && req->status < 300) {
            ngx_http_order_edit_nsc_written(c);
            return;
        }

        if (!c->found_again && ngx_http_order_edit_nsc_duplicate(req)) {
            /*
             * An earlier transform of this refund (sent before a restart,
             * or by a worker since gone) landed after this one looked:
             * the memo is there, and is looked up once more.
             */
            ngx_log_error(NGX_LOG_WARN, c->log, 0,
                          "order_edit: #%uL of \"%V\": NetSuite has the "
                          "Credit Memo already, looking it up again",
                          c->id, &c->shop);

            c->found_again = 1;
            ngx_http_order_edit_nsc_memo_find(c);
            return;
        }
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_MEMO_FIND
        && (req->status == 200 || req->status == 404))
    {
        ngx_http_order_edit_nsc_memo_there(c, req);
        return;
    }

    /*
     * The memo gone, the refund refused, or SuiteQL refused the query:
     * the account must be looked at, people decide.
     */
    ngx_http_order_edit_nsc_rejected(c, req);
}


/*
 * NetSuite refused a record because its external id is taken: REST
 * answers USER_ERROR "This record already exists" (SOAP's code for it is
 * DUP_RCRD, taken too).
 */

static ngx_uint_t
ngx_http_order_edit_nsc_duplicate(ngx_http_order_edit_curl_req_t *req)
{
    ngx_uint_t                        dup;
    ngx_http_order_edit_nsp_error_t   err;

    err.root = NULL;

    if (req->status != 400
        || ngx_http_order_edit_nsp_error((char *) req->body.data,
                                         req->body.len, &err)
           != 0)
    {
        json_decref(err.root);
        return 0;
    }

    dup = ngx_strcmp(err.code, "DUP_RCRD") == 0
          || (ngx_strcmp(err.code, "USER_ERROR") == 0
              && ngx_strstr(err.text, "This record already exists")
                 != NULL);

    json_decref(err.root);

    return dup;
}


/* the memo looked for: there already, or the invoice to make it from */

static void
ngx_http_order_edit_nsc_memo_there(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    size_t  size;

    if (req->status == 200) {
        /* made the first time, its answer lost: nothing more to make */
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "order_edit: #%uL of \"%V\": the %s is there "
                      "already", c->id, &c->shop,
                      c->cash_sale ? "Cash Refund" : "Credit Memo");

        if (ngx_http_order_edit_nsc_payout(c) != NGX_OK) {
            ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK,
                                           NULL, NULL);
        }

        return;
    }

    /*
     * Not there: the invoice made from the order, the oldest if it was
     * billed in parts.  The id is digits (checked), safe in the query.
     */

    size = sizeof("{\"q\":\"SELECT id FROM transaction WHERE type = "
                  "'CashSale' AND createdfrom = '' ORDER BY id\"}")
           + c->source.len;

    c->body.data = ngx_pnalloc(c->pool, size);

    if (c->body.data == NULL
        || ngx_http_order_edit_nsc_set_url(c, NGX_HTTP_ORDER_EDIT_SUITEQL,
                                           NULL, 0, "")
           != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->body.len = ngx_sprintf(c->body.data,
                              "{\"q\":\"SELECT id FROM transaction WHERE "
                              "type = '%s' AND createdfrom = '%V' "
                              "ORDER BY id\"}",
                              c->cash_sale ? "CashSale" : "CustInvc",
                              &c->source)
                  - c->body.data;

    ngx_str_set(&c->method, "POST");
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_INVOICE;

    ngx_http_order_edit_nsc_send(c);
}


/*
 * SuiteQL answered: transform the invoice into the memo, applied to it;
 * no invoice (the order is not billed yet): the standalone memo.
 */

static void
ngx_http_order_edit_nsc_invoice(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    int        n;
    u_char     id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];
    ngx_str_t  detail;

    n = ngx_http_order_edit_nsp_suiteql((char *) req->body.data,
                                        req->body.len, (char *) id,
                                        sizeof(id));

    if (n < 0) {
        ngx_str_set(&detail, "SuiteQL answered without \"items\"");
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                       NULL, &detail);
        return;
    }

    if (n == 0 && c->cash_sale) {
        /* not paid by a cash sale: refund_flow invoice's way */
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "order_edit: #%uL of \"%V\": the order has no "
                      "cash sale, a Credit Memo instead", c->id, &c->shop);

        c->cash_sale = 0;
        ngx_http_order_edit_nsc_memo_find(c);
        return;
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "order_edit: #%uL of \"%V\": the order has no "
                      "invoice, the Credit Memo is standalone",
                      c->id, &c->shop);

        c->body.data = (u_char *) c->doc;
        c->body.len = ngx_strlen(c->doc);

        ngx_http_order_edit_nsc_write_send(c);
        return;
    }

    if (id[0] == '\0') {
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "SuiteQL answered an id that is "
                                        "not one");
        return;
    }

    if (ngx_http_order_edit_nsc_set_url(c,
            c->cash_sale ? NGX_HTTP_ORDER_EDIT_REST_PREFIX "cashSale/"
                         : NGX_HTTP_ORDER_EDIT_REST_PREFIX "invoice/",
            id, ngx_strlen(id),
            c->cash_sale ? "/!transform/cashRefund?replace=item"
                         : "/!transform/creditMemo?replace=item")
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_str_set(&c->method, "POST");
    c->body = c->cash_sale ? c->cash : c->xform;
    c->body_sent = c->body;
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_XFORM;

    ngx_http_order_edit_nsc_send(c);
}


/*
 * refund_payout: after the memo is in, read what it leaves unapplied (a
 * memo applied to an invoice still due has less to pay out, or nothing).
 * NGX_DECLINED: no payout configured, or not a Credit Memo.
 */

static ngx_int_t
ngx_http_order_edit_nsc_payout(ngx_http_order_edit_nsc_t *c)
{
    const char  *eid;

    if (c->res->kind != NGX_HTTP_ORDER_EDIT_NORM_CREDIT_MEMO
        || c->ns->mode != NGX_HTTP_ORDER_EDIT_NS_REST
        || c->ns->payout_account.len == 0
        || c->cash_sale)
    {
        /* a cash refund is the money going back itself */
        return NGX_DECLINED;
    }

    eid = json_string_value(json_object_get(
              json_object_get(c->res->doc, "credit_memo"), "external_id"));
    if (eid == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_order_edit_nsc_set_url(c,
            NGX_HTTP_ORDER_EDIT_REST_PREFIX "creditMemo/eid:",
            (u_char *) eid, ngx_strlen(eid),
            "?fields=entity,currency,unapplied")
        != NGX_OK)
    {
        /* the memo is in; paying out is left to people, and said */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "order_edit: #%uL of \"%V\": the Credit Memo is in "
                      "but not paid out", c->id, &c->shop);
        return NGX_DECLINED;
    }

    ngx_str_set(&c->method, "GET");
    ngx_str_null(&c->body);
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT_READ;

    ngx_http_order_edit_nsc_send(c);

    return NGX_OK;
}


/*
 * The memo answered: a Customer Refund of what it leaves unapplied, in
 * its currency, to its customer, from the configured bank account.  PUT
 * on the memo's external id and "-cr" is an upsert (an account may keep
 * external ids unique across all transactions, so not the memo's own).
 * Every Customer Refund applies the memo, so what the memo leaves
 * unapplied already counts every earlier payout, under this id or the
 * memo's own (which versions before "-cr" used): a retry, a replay or an
 * upgrade finds nothing unapplied and never pays out twice.
 */

static void
ngx_http_order_edit_nsc_payout_send(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    char                            *text;
    size_t                           len;
    json_t                          *body;
    const char                      *eid;
    ngx_http_order_edit_nsp_memo_t   m;

    if (ngx_http_order_edit_nsp_memo((char *) req->body.data, req->body.len,
                                     &m)
        != 0)
    {
        json_decref(m.root);
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "the Credit Memo answered without "
                                        "its id, customer or unapplied "
                                        "amount");
        return;
    }

    if (m.nothing) {
        json_decref(m.root);

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "order_edit: #%uL of \"%V\": the Credit Memo has "
                      "nothing unapplied to pay out", c->id, &c->shop);

        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL,
                                       NULL);
        return;
    }

    body = json_pack("{s:{s:O},s:{s:s%},s:{s:[{s:{s:O},s:b,s:O}]}}",
                     "customer", "id", m.entity,
                     "account", "id", c->ns->payout_account.data,
                     c->ns->payout_account.len,
                     "apply", "items", "doc", "id", m.id, "apply", 1,
                     "amount", m.unapplied);

    if (body != NULL && m.currency != NULL) {
        (void) json_object_set_new(body, "currency",
                                   json_pack("{s:O}", "id", m.currency));
    }

    if (body != NULL && c->ns->payout_method.len) {
        (void) json_object_set_new(body, "paymentMethod",
                                   json_pack("{s:s%}", "id",
                                             c->ns->payout_method.data,
                                             c->ns->payout_method.len));
    }

    json_decref(m.root);

    text = body ? ngx_http_order_edit_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    eid = json_string_value(json_object_get(
              json_object_get(c->res->doc, "credit_memo"), "external_id"));

    len = text ? ngx_strlen(text) : 0;
    c->body.data = text ? ngx_pnalloc(c->pool, len) : NULL;

    if (c->body.data == NULL || eid == NULL
        || ngx_http_order_edit_nsc_set_url(c,
               NGX_HTTP_ORDER_EDIT_REST_PREFIX "customerRefund/eid:",
               (u_char *) eid, ngx_strlen(eid),
               NGX_HTTP_ORDER_EDIT_NSC_PAYOUT_EID "?replace=apply")
           != NGX_OK)
    {
        free(text);
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_memcpy(c->body.data, text, len);
    c->body.len = len;
    free(text);

    ngx_str_set(&c->method, "PUT");
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_PAYOUT;

    ngx_http_order_edit_nsc_send(c);
}


/* written; eid: and replace=item make a repeat harmless */

static void
ngx_http_order_edit_nsc_written(ngx_http_order_edit_nsc_t *c)
{
    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "order_edit: #%uL %V of \"%V\" written: %V %V %ui",
                  c->id, &c->topic, &c->shop, &c->method, &c->url,
                  c->status);

    /* refund_payout: what the memo leaves unapplied is paid out */
    if (ngx_http_order_edit_nsc_payout(c) == NGX_OK) {
        return;
    }

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL, NULL);
}


/*
 * No such Sales Order, and the store creates it: the upsert, PUT
 * salesOrder/eid:X.  NGX_DECLINED when the document cannot be one (then
 * nothing is reported).
 */

ngx_int_t
ngx_http_order_edit_nsc_create(ngx_http_order_edit_nsc_t *c)
{
    json_t                          *cust, *ext, *sid;
    ngx_http_order_edit_so_cache_t  *slot;

    if (ngx_http_order_edit_norm_upsert(c->norm, c->res) != 0) {
        return NGX_DECLINED;
    }

    c->call = NGX_HTTP_ORDER_EDIT_NSC_WRITE;

    if (c->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET) {
        /* the script finds or makes the customer (options.customers) */
        ngx_http_order_edit_nsc_write(c);
        return NGX_OK;
    }

    /*
     * NetSuite refuses a Sales Order without its customer ("Please enter
     * value(s) for: Customer"): the order's own, by the external id the
     * normaliser derived; a guest checkout's, the configured one.
     */

    cust = json_object_get(json_object_get(c->res->doc, "sales_order"),
                           "customer");
    ext = json_object_get(cust, "externalId");
    sid = json_object_get(cust, "shopify_id");

    if (!json_is_string(ext) || !json_is_string(sid)) {

        if (c->ns->guest_customer.len == 0) {
            ngx_http_order_edit_nsc_refused(c, "customer_missing",
                                            "the order has no customer (a "
                                            "guest checkout) and on_missing "
                                            "create names no guest= "
                                            "customer");
            return NGX_OK;
        }

        ngx_http_order_edit_nsc_create_send(c, c->ns->guest_customer.data,
                                            c->ns->guest_customer.len);
        return NGX_OK;
    }

    /* the document's: letters, digits, "-" and "_", safe in a URL */
    c->cust_eid.data = (u_char *) json_string_value(ext);
    c->cust_eid.len = json_string_length(ext);
    c->cust_shopify = ngx_atoof((u_char *) json_string_value(sid),
                                json_string_length(sid));
    c->cust_made = 0;
    c->cust_emailed = 0;

    slot = ngx_http_order_edit_nsc_cust_slot(c);

    if (slot->len) {
        ngx_http_order_edit_nsc_create_send(c, slot->id, slot->len);
        return NGX_OK;
    }

    ngx_http_order_edit_nsc_cust_find(c);

    return NGX_OK;
}


/* the cache slot of the create's customer: its entry, or an empty one */

static ngx_http_order_edit_so_cache_t *
ngx_http_order_edit_nsc_cust_slot(ngx_http_order_edit_nsc_t *c)
{
    uint32_t                         shop;
    ngx_http_order_edit_so_cache_t  *slot;

    shop = ngx_crc32_short(c->shop.data, c->shop.len);

    slot = &ngx_http_order_edit_cust_cache[
               ((uint64_t) c->cust_shopify * 0x9e3779b97f4a7c15ULL ^ shop)
               % NGX_HTTP_ORDER_EDIT_CUST_CACHE];

    if (slot->ns != c->ns || slot->shop != shop
        || slot->order_id != c->cust_shopify)
    {
        slot->len = 0;
    }

    return slot;
}


/* GET customer/eid:<id>: the customer made for this Shopify customer */

static void
ngx_http_order_edit_nsc_cust_find(ngx_http_order_edit_nsc_t *c)
{
    ngx_str_set(&c->method, "GET");
    ngx_str_null(&c->body);
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_FIND;

    if (ngx_http_order_edit_nsc_set_url(c,
            NGX_HTTP_ORDER_EDIT_REST_PREFIX "customer/eid:",
            c->cust_eid.data, c->cust_eid.len, "")
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_http_order_edit_nsc_send(c);
}


/* the customer's read and its create answered */

static void
ngx_http_order_edit_nsc_cust_step(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t  why;

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_FIND) {

        if (req->status == 200) {
            ngx_http_order_edit_nsc_cust_found(c, req);
            return;
        }

        if (req->status != 404) {
            ngx_http_order_edit_nsc_rejected(c, req);
            return;
        }

        if (c->ns->match_email && !c->cust_made && !c->cust_emailed
            && ngx_http_order_edit_nsc_cust_email(c) == NGX_OK)
        {
            return;
        }

        ngx_http_order_edit_nsc_cust_none(c);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_EMAIL) {

        if (req->status == 200) {
            ngx_http_order_edit_nsc_cust_emailed(c, req);
            return;
        }

        ngx_http_order_edit_nsc_rejected(c, req);
        return;
    }

    /* NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_MAKE */

    if ((req->status >= 200 && req->status < 300)
        || (!c->cust_made && ngx_http_order_edit_nsc_duplicate(req)))
    {
        /*
         * Made (its id is in Location; read by external id, which also
         * finds one another worker made meanwhile: "already exists").
         */
        c->cust_made = 1;
        ngx_http_order_edit_nsc_cust_find(c);
        return;
    }

    ngx_http_order_edit_nsc_error(c, req, &why);
    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   "customer_rejected", &why);
}


/* no such customer: made (customers=create), or people decide */

static void
ngx_http_order_edit_nsc_cust_none(ngx_http_order_edit_nsc_t *c)
{
    u_char     *p;
    ngx_str_t   why;

    if (c->ns->create_customers && !c->cust_made) {
        ngx_http_order_edit_nsc_cust_make(c);
        return;
    }

    p = ngx_pnalloc(c->pool, 160 + c->cust_eid.len);
    if (p == NULL) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    why.data = p;
    why.len = ngx_sprintf(p, "NetSuite has no customer with external id "
                          "\"%V\"%s%s", &c->cust_eid,
                          c->cust_emailed ? " nor the order's email" : "",
                          c->cust_made ? " even after creating it"
                          : " (on_missing create makes none without "
                            "customers=create)")
              - p;

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   "customer_missing", &why);
}


/* the customer read: its internal id, remembered, and the order made */

static void
ngx_http_order_edit_nsc_cust_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    char           buf[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];
    size_t         len;
    json_t        *root, *id;
    ngx_uint_t     i;
    const char    *s;
    json_error_t   err;

    /* a customer record, a few KB, once per new customer: parsed here */
    root = json_loadb((char *) req->body.data, req->body.len, 0, &err);
    id = json_object_get(root, "id");
    s = json_string_value(id);
    len = s ? ngx_strlen(s) : 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            break;
        }
    }

    if (len == 0 || i < len || len > NGX_HTTP_ORDER_EDIT_NSP_ID_LEN) {
        json_decref(root);
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "NetSuite answered the customer "
                                        "read without an internal id");
        return;
    }

    /* copied: the order is made (and the job may end) after the free */
    ngx_memcpy(buf, s, len);
    json_decref(root);

    ngx_http_order_edit_nsc_cust_use(c, buf, len);
}


/* the customer's internal id: remembered, and the order made with it */

static void
ngx_http_order_edit_nsc_cust_use(ngx_http_order_edit_nsc_t *c,
    const char *id, size_t len)
{
    ngx_http_order_edit_so_cache_t  *slot;

    slot = ngx_http_order_edit_nsc_cust_slot(c);
    slot->ns = c->ns;
    slot->shop = ngx_crc32_short(c->shop.data, c->shop.len);
    slot->order_id = c->cust_shopify;
    slot->len = (u_char) len;
    ngx_memcpy(slot->id, id, len);

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "order_edit: #%uL of \"%V\": customer \"%V\" is %*s%s",
                  c->id, &c->shop, &c->cust_eid, (size_t) slot->len,
                  slot->id, c->cust_made ? ", created"
                            : c->cust_emailed ? ", by email" : "");

    ngx_http_order_edit_nsc_create_send(c, slot->id, slot->len);
}


/*
 * match=email: a customer another system made, with Shopify's email.
 * Both sides are compared lower-cased: Oracle does not document SuiteQL's
 * string = as case-blind, and people type their email in any case.  The
 * literal lowers ASCII only (the domain is ASCII, or punycode); LOWER()
 * lowers the column's local part too, which RFC 5321 lets a mail server
 * tell apart, but no mailbox in practice does.  NGX_DECLINED (nothing
 * done) when the order has no email; else NGX_OK: the query sent, or the
 * job reported, transient without memory, refused when the email cannot
 * be an address (then no customer is made for it either).
 */

#define NGX_HTTP_ORDER_EDIT_NSC_BY_EMAIL                                      \
    "SELECT id FROM customer WHERE LOWER(email) = '"

static ngx_int_t
ngx_http_order_edit_nsc_cust_email(ngx_http_order_edit_nsc_t *c)
{
    char        *text;
    size_t       len, i;
    u_char      *q, *p;
    json_t      *email, *body;
    const char  *e;

    email = json_object_get(json_object_get(json_object_get(c->res->doc,
                                                            "sales_order"),
                                            "customer"),
                            "email");
    e = json_string_value(email);
    len = e ? json_string_length(email) : 0;

    if (len == 0) {
        return NGX_DECLINED;
    }

    /* RFC 5321: a path is at most 256 octets, with its two brackets */
    if (len > 254) {
        ngx_http_order_edit_nsc_refused(c, "customer_missing",
                                        "the order's email is longer than "
                                        "an address can be (254 octets); "
                                        "no customer is looked for or made "
                                        "by it");
        return NGX_OK;
    }

    for (i = 0; i < len; i++) {
        if ((u_char) e[i] < 0x20 || e[i] == 0x7f) {
            ngx_http_order_edit_nsc_refused(c, "customer_missing",
                                            "the order's email has a "
                                            "control character; no "
                                            "customer is looked for or "
                                            "made by it");
            return NGX_OK;
        }
    }

    /* the SuiteQL literal: each ' doubled, as SQL quotes it */
    q = ngx_pnalloc(c->pool, sizeof(NGX_HTTP_ORDER_EDIT_NSC_BY_EMAIL) - 1
                             + 2 * len + sizeof("' ORDER BY id"));
    if (q == NULL) {
        goto nomem;
    }

    p = ngx_cpymem(q, NGX_HTTP_ORDER_EDIT_NSC_BY_EMAIL,
                   sizeof(NGX_HTTP_ORDER_EDIT_NSC_BY_EMAIL) - 1);

    for (i = 0; i < len; i++) {
        if (e[i] == '\'') {
            *p++ = '\'';
        }

        *p++ = ngx_tolower(e[i]);
    }

    ngx_memcpy(p, "' ORDER BY id", sizeof("' ORDER BY id"));

    /* and the request body, {"q": ...}, quoted by jansson */
    body = json_pack("{s:s}", "q", (char *) q);
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (text == NULL) {
        goto nomem;
    }

    c->body.len = ngx_strlen(text);
    c->body.data = ngx_pnalloc(c->pool, c->body.len);

    if (c->body.data == NULL
        || ngx_http_order_edit_nsc_set_url(c, NGX_HTTP_ORDER_EDIT_SUITEQL,
                                           NULL, 0, "")
           != NGX_OK)
    {
        free(text);
        goto nomem;
    }

    ngx_memcpy(c->body.data, text, c->body.len);
    free(text);

    ngx_str_set(&c->method, "POST");
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_EMAIL;
    c->cust_emailed = 1;

    ngx_http_order_edit_nsc_send(c);

    return NGX_OK;

nomem:

    /* not "no such customer": that would make one another has */
    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                   NULL, NULL);
    return NGX_OK;
}


/*
 * A create's SuiteQL query, {"q": "..."}, as the call's next step; the
 * caller checked its literals.  NGX_DECLINED (nothing sent) without
 * memory.
 */

static ngx_int_t
ngx_http_order_edit_nsc_query(ngx_http_order_edit_nsc_t *c, ngx_uint_t step,
    size_t size, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    p = ngx_pnalloc(c->pool, size);

    if (p == NULL
        || ngx_http_order_edit_nsc_set_url(c, NGX_HTTP_ORDER_EDIT_SUITEQL,
                                           NULL, 0, "")
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    va_start(args, fmt);
    c->body.len = ngx_vslprintf(p, p + size, fmt, args) - p;
    va_end(args);

    c->body.data = p;
    ngx_str_set(&c->method, "POST");
    c->step = step;

    ngx_http_order_edit_nsc_send(c);

    return NGX_OK;
}


/* SuiteQL by email answered: one customer, none, or several */

static void
ngx_http_order_edit_nsc_cust_emailed(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    int        n;
    char       id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    ngx_str_t  why;

    n = ngx_http_order_edit_nsp_suiteql((char *) req->body.data,
                                        req->body.len, id, sizeof(id));

    if (n == 1 && id[0] != '\0') {
        ngx_http_order_edit_nsc_cust_use(c, id, ngx_strlen(id));
        return;
    }

    if (n > 1) {
        ngx_http_order_edit_nsc_refused(c, "customer_ambiguous",
                                        "several NetSuite customers have "
                                        "the order's email; set the "
                                        "External ID of the right one");
        return;
    }

    if (n < 0 || n == 1) {
        ngx_str_set(&why, "SuiteQL answered the customer query without "
                          "\"items\" or an id");
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                       NULL, &why);
        return;
    }

    ngx_http_order_edit_nsc_cust_none(c);
}


/*
 * POST customer: externalId, a person's names (a company's name when
 * Shopify has one, or no full name), email, phone, and in OneWorld the
 * subsidiary (Oracle: "Creating a Record Instance"; the createCustomer
 * tool's mandatory fields).
 */

static void
ngx_http_order_edit_nsc_cust_make(ngx_http_order_edit_nsc_t *c)
{
    json_t  *body, *cust;
    char    *text;

    cust = json_object_get(json_object_get(c->res->doc, "sales_order"),
                           "customer");

    body = ngx_http_order_edit_nsc_cust_body(c, cust);
    text = body ? ngx_http_order_edit_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (text == NULL
        || ngx_http_order_edit_nsc_set_url(c,
               NGX_HTTP_ORDER_EDIT_REST_PREFIX "customer", NULL, 0, "")
           != NGX_OK)
    {
        free(text);
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->body.len = ngx_strlen(text);
    c->body.data = ngx_pnalloc(c->pool, c->body.len);

    if (c->body.data == NULL) {
        free(text);
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_memcpy(c->body.data, text, c->body.len);
    free(text);

    ngx_str_set(&c->method, "POST");
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_MAKE;

    ngx_log_error(NGX_LOG_NOTICE, c->log, 0,
                  "order_edit: #%uL of \"%V\": creating NetSuite customer "
                  "\"%V\"", c->id, &c->shop, &c->cust_eid);

    ngx_http_order_edit_nsc_send(c);
}


static json_t *
ngx_http_order_edit_nsc_cust_body(ngx_http_order_edit_nsc_t *c,
    const json_t *cust)
{
    json_t      *body, *first, *last, *company, *v;
    const char  *name;

    body = json_object();
    if (body == NULL) {
        return NULL;
    }

    first = json_object_get(cust, "first_name");
    last = json_object_get(cust, "last_name");
    company = json_object_get(cust, "company");

    if (json_object_set(body, "externalId",
                        json_object_get(cust, "externalId"))
        != 0)
    {
        goto failed;
    }

    if (!json_is_string(company) && json_is_string(first)
        && json_is_string(last))
    {
        /* a person: NetSuite requires both names */
        if (json_object_set_new(body, "isPerson", json_true()) != 0
            || json_object_set(body, "firstName", first) != 0
            || json_object_set(body, "lastName", last) != 0)
        {
            goto failed;
        }

    } else {
        /* a company, or a person known only in part: the best name */
        v = json_is_string(company) ? company
            : json_is_string(last) ? last
            : json_is_string(first) ? first
            : json_object_get(cust, "email");

        if (json_is_string(v)) {
            v = json_copy(v);

        } else {
            name = json_string_value(json_object_get(cust, "shopify_id"));
            v = json_sprintf("Shopify customer %s", name ? name : "");
        }

        if (json_object_set_new(body, "isPerson", json_false()) != 0
            || json_object_set_new(body, "companyName", v) != 0)
        {
            goto failed;
        }
    }

    v = json_object_get(cust, "email");

    if (json_is_string(v) && json_object_set(body, "email", v) != 0) {
        goto failed;
    }

    v = json_object_get(cust, "phone");

    if (json_is_string(v) && json_object_set(body, "phone", v) != 0) {
        goto failed;
    }

    if (c->ns->new_customer_subsidiary.len
        && json_object_set_new(body, "subsidiary",
               json_pack("{s:s%}", "id",
                         c->ns->new_customer_subsidiary.data,
                         c->ns->new_customer_subsidiary.len))
           != 0)
    {
        goto failed;
    }

    return body;

failed:

    json_decref(body);
    return NULL;
}


/*
 * The upsert with its customer, and the order's currency: NetSuite would
 * otherwise take the customer's, which need not be the order's.  The
 * currency's internal id is SuiteQL's (currency.symbol is the ISO code),
 * remembered by the worker.
 */

static void
ngx_http_order_edit_nsc_create_send(ngx_http_order_edit_nsc_t *c,
    const u_char *entity, size_t len)
{
    json_t                           *cur;
    ngx_uint_t                        i;
    const char                       *code;
    ngx_http_order_edit_cur_cache_t  *e;

    c->cust_id.data = ngx_pnalloc(c->pool, len);
    if (c->cust_id.data == NULL) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_memcpy(c->cust_id.data, entity, len);
    c->cust_id.len = len;
    ngx_str_null(&c->cur_id);

    cur = json_object_get(json_object_get(c->res->doc, "sales_order"),
                          "currency");
    code = json_string_value(cur);

    if (code == NULL || json_string_length(cur) != 3) {
        /* the normaliser checked it: no currency, the customer's */
        ngx_http_order_edit_nsc_create_write(c);
        return;
    }

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_CUR_CACHE; i++) {
        e = &ngx_http_order_edit_cur_cache[i];

        if (e->ns == c->ns && e->len && ngx_memcmp(e->code, code, 3) == 0) {
            c->cur_id.data = e->id;
            c->cur_id.len = e->len;
            ngx_http_order_edit_nsc_create_write(c);
            return;
        }
    }

    /* ISO 4217 codes are three letters (the normaliser's check) */
    if (ngx_http_order_edit_nsc_query(c, NGX_HTTP_ORDER_EDIT_NSC_STEP_CUR_FIND,
                                      64,
                                      "{\"q\":\"SELECT id FROM currency "
                                      "WHERE symbol = '%*s'\"}",
                                      (size_t) 3, code)
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
    }
}


/* SuiteQL answered the currency: one, or the order cannot be booked */

static void
ngx_http_order_edit_nsc_cur_found(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    int                               n;
    char                              id[NGX_HTTP_ORDER_EDIT_NSP_ID_LEN + 1];
    size_t                            len;
    const char                       *code;
    ngx_http_order_edit_cur_cache_t  *e;

    n = req->status == 200
        ? ngx_http_order_edit_nsp_suiteql((char *) req->body.data,
                                          req->body.len, id, sizeof(id))
        : -1;

    if (n < 0) {
        ngx_http_order_edit_nsc_rejected(c, req);
        return;
    }

    len = (n == 1) ? ngx_strlen(id) : 0;

    if (len == 0 || len > NGX_HTTP_ORDER_EDIT_NSP_ID_LEN) {
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "NetSuite has no currency (or "
                                        "several) with the order's ISO "
                                        "code: the Sales Order cannot be "
                                        "created in it");
        return;
    }

    code = json_string_value(json_object_get(json_object_get(c->res->doc,
                                                             "sales_order"),
                                             "currency"));

    e = &ngx_http_order_edit_cur_cache[ngx_http_order_edit_cur_next++
                                       % NGX_HTTP_ORDER_EDIT_CUR_CACHE];
    e->ns = c->ns;
    ngx_memcpy(e->code, code, 3);
    ngx_memcpy(e->id, id, len);
    e->len = (u_char) len;

    c->cur_id.data = e->id;
    c->cur_id.len = len;

    ngx_http_order_edit_nsc_create_write(c);
}


/*
 * {"entity": {"id": "<id>"}, "currency": {"id": "<id>"}, ...}: put in
 * front of the normaliser's body as text, whose numbers are exact and
 * stay as they are.  The body is an object with lines.
 */

static void
ngx_http_order_edit_nsc_create_write(ngx_http_order_edit_nsc_t *c)
{
    u_char  *p;
    size_t   rest;

    if (c->res->body_len < 2 || c->res->body[0] != '{') {
        ngx_http_order_edit_nsc_refused(c, "netsuite_rejected",
                                        "the Sales Order body is not an "
                                        "object");
        return;
    }

    rest = c->res->body_len - 1;

    p = ngx_pnalloc(c->pool, sizeof("{\"entity\":{\"id\":\"\"},"
                                    "\"currency\":{\"id\":\"\"},")
                             + c->cust_id.len + c->cur_id.len + rest);
    if (p == NULL) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->body.data = p;
    p = ngx_sprintf(p, "{\"entity\":{\"id\":\"%V\"}", &c->cust_id);

    if (c->cur_id.len) {
        p = ngx_sprintf(p, ",\"currency\":{\"id\":\"%V\"}", &c->cur_id);
    }

    if (c->res->body[1] != '}') {
        *p++ = ',';
    }

    p = ngx_cpymem(p, c->res->body + 1, rest);
    c->body.len = p - c->body.data;

    ngx_http_order_edit_nsc_write(c);
}


/* read the lines back: what NetSuite keeps is what counts */

void
ngx_http_order_edit_nsc_readback(ngx_http_order_edit_nsc_t *c)
{
    c->call = NGX_HTTP_ORDER_EDIT_NSC_READBACK;

    ngx_str_set(&c->method, "GET");
    ngx_str_null(&c->body);
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_READBACK;

    if (ngx_http_order_edit_nsc_order_url(c, c->res->external_id,
                                          "?expandSubResources=true")
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_http_order_edit_nsc_send(c);
}


/*
 * Silent drift: a NetSuite script, workflow or rounding that changes what
 * was sent is a discrepancy (the write stands) for people to look at.
 */

static void
ngx_http_order_edit_nsc_compare(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_http_order_edit_nsc_parse_t  *pc;

    pc = ngx_http_order_edit_nsc_parse(c, req);
    if (pc == NULL) {
        return;
    }

    if (ngx_http_order_edit_nsc_check_copy(c, c, &c->body_sent, &pc->check)
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_parse_failed(c);
        return;
    }

    (void) ngx_http_order_edit_parse_start(c->parse,
                                        pc->got_len + pc->check.sent_len,
                                        ngx_http_order_edit_nsc_compare_parse,
                                        ngx_http_order_edit_nsc_compared, c);
}


/* on the thread pool, or here for small bodies */

static void
ngx_http_order_edit_nsc_compare_parse(void *ctx)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;

    ngx_http_order_edit_nsc_check_run(&pc->check, pc);
}


static void
ngx_http_order_edit_nsc_compared(void *ctx, void *data, ngx_uint_t cancelled)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;
    ngx_http_order_edit_nsc_t       *c = data;

    if (ngx_http_order_edit_nsc_parse_end(c, cancelled)) {
        return;
    }

    ngx_http_order_edit_nsc_check_report(c, &pc->check);
}


/*
 * What the write of w sent (sent) and w's document's totals (all the
 * compare reads of it), copied into the task of c's parse: w's own may be
 * freed while a thread compares.
 */

static ngx_int_t
ngx_http_order_edit_nsc_check_copy(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_t *w, ngx_str_t *sent,
    ngx_http_order_edit_nsc_check_t *k)
{
    k->sent = ngx_alloc(sent->len + 1, c->log);
    k->doc = ngx_http_order_edit_nsc_totals(w);

    if (k->sent == NULL || k->doc == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(k->sent, sent->data, sent->len);
    k->sent_len = sent->len;
    k->on = 1;

    return NGX_OK;
}


/* w's document's totals, all the compare reads of it, copied; NULL: none */

static json_t *
ngx_http_order_edit_nsc_totals(ngx_http_order_edit_nsc_t *w)
{
    json_t  *totals;

    totals = json_object_get(json_object_get(w->res->doc, "sales_order"),
                             "totals");

    return totals ? json_pack("{s:{s:o}}", "sales_order", "totals",
                              json_deep_copy(totals))
                  : json_object();
}


/* on the thread pool, or here for small bodies: the answer against k */

static void
ngx_http_order_edit_nsc_check_run(ngx_http_order_edit_nsc_check_t *k,
    ngx_http_order_edit_nsc_parse_t *pc)
{
    if (!k->on || (k->held_only && pc->order.held != k->held)) {
        return;
    }

    k->rc = ngx_http_order_edit_nsp_readback((char *) k->sent, k->sent_len,
                                             (char *) pc->got, pc->got_len,
                                             k->doc, k->detail);
    k->done = 1;
}


/*
 * NGX_OK: the order as read holds what w sent, or nothing was compared
 * (not w's snapshot), or the difference could not be told (the write
 * stands, unchecked); NGX_DECLINED: a discrepancy, logged and in detail.
 */

static ngx_int_t
ngx_http_order_edit_nsc_check_verdict(ngx_http_order_edit_nsc_t *w,
    ngx_http_order_edit_nsc_check_t *k, ngx_str_t *detail)
{
    if (!k->done || k->rc == 0) {
        return NGX_OK;
    }

    return ngx_http_order_edit_nsc_discrepancy(w, k->detail, detail);
}


/* w's read back ends with k's verdict: acked, or a discrepancy */

static void
ngx_http_order_edit_nsc_check_report(ngx_http_order_edit_nsc_t *w,
    ngx_http_order_edit_nsc_check_t *k)
{
    ngx_str_t  detail;

    if (ngx_http_order_edit_nsc_check_verdict(w, k, &detail) == NGX_OK) {
        ngx_http_order_edit_nsc_report(w, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL,
                                       NULL);
        return;
    }

    ngx_http_order_edit_nsc_report(w, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   "discrepancy", &detail);
}


/*
 * This lock read is the read back of a FOLDED write (c->fold): its
 * compare goes with the read's task.  A coalesced one (fold_held) may
 * never have been written, so it is compared only if the order holds its
 * snapshot.
 */

static ngx_int_t
ngx_http_order_edit_nsc_fold_copy(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_parse_t *pc)
{
    ngx_str_t                   sent;
    ngx_http_order_edit_nsc_t  *f;

    f = c->fold;

    if (f->body_sent.len) {
        sent = f->body_sent;

    } else {
        sent.data = (u_char *) f->res->body;
        sent.len = f->res->body_len;
    }

    if (ngx_http_order_edit_nsc_check_copy(c, f, &sent, &pc->fold)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pc->fold.held_only = f->fold_held;
    pc->fold.held = f->res->updated_at;

    return NGX_OK;
}


/*
 * The previous write's read back is this lock read (FOLDED): told first,
 * to its own job, the verdict the read's task reached.
 */

static void
ngx_http_order_edit_nsc_fold_check(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_parse_t *pc)
{
    ngx_http_order_edit_nsc_t  *f;

    f = c->fold;
    c->fold = NULL;
    f->call = NGX_HTTP_ORDER_EDIT_NSC_READBACK;
    f->status = c->status;

    if (f->body_sent.len == 0) {
        f->body_sent.data = (u_char *) f->res->body;
        f->body_sent.len = f->res->body_len;
    }

    /* held and not written, or written over since: nothing to check */
    ngx_http_order_edit_nsc_check_report(f, &pc->fold);
}


/*
 * What the comparison found, logged and in detail: NGX_DECLINED; NGX_OK
 * when it cannot be told (no memory: the write stands, unchecked).
 */

static ngx_int_t
ngx_http_order_edit_nsc_discrepancy(ngx_http_order_edit_nsc_t *c,
    const char *text, ngx_str_t *detail)
{
    detail->len = ngx_strlen(text);
    detail->data = ngx_pnalloc(c->pool, detail->len);

    if (detail->data == NULL) {
        return NGX_OK;
    }

    ngx_memcpy(detail->data, text, detail->len);

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "order_edit: #%uL of \"%V\": discrepancy: %V",
                  c->id, &c->shop, detail);

    return NGX_DECLINED;
}


/* one request, signed afresh (a new nonce and timestamp) every time */

static void
ngx_http_order_edit_nsc_send(ngx_http_order_edit_nsc_t *c)
{
    ngx_int_t                        rc;
    ngx_str_t                        auth;
    ngx_http_order_edit_curl_req_t  *req;

    if (c->ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2) {
        rc = ngx_http_order_edit_nsc_bearer(c, &auth);

    } else {
        rc = ngx_http_order_edit_nsc_sign(c, &auth);
    }

    if (rc != NGX_OK) {
        /* NGX_AGAIN: waiting for a token; NGX_DONE: reported */
        if (rc == NGX_ERROR) {
            goto failed;
        }

        return;
    }

    req = ngx_http_order_edit_curl_create(c->log);
    if (req == NULL) {
        goto failed;
    }

    switch (c->method.data[0]) {
    case 'G':
        req->method = NGX_HTTP_GET;
        break;
    case 'P':
        req->method = (c->method.data[1] == 'A') ? NGX_HTTP_PATCH
                      : (c->method.data[1] == 'U') ? NGX_HTTP_PUT
                                                   : NGX_HTTP_POST;
        break;
    default:
        req->method = NGX_HTTP_DELETE;
        break;
    }

    req->connect_timeout = c->ns->connect_timeout;
    req->timeout = c->ns->timeout;
    req->done = ngx_http_order_edit_nsc_answer;
    req->data = c;

    /* the configuration's strings are NUL-terminated and outlive req */
    req->ca_file = c->ns->ca_file;

    if (ngx_http_order_edit_nsc_headers(c, req, &auth) != NGX_OK
        || (c->ns->proxy.len
            && ngx_http_order_edit_curl_set_proxy(req, &c->ns->proxy)
               != NGX_OK))
    {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    ngx_http_order_edit_nsslot_sent(c->slot);

    if (ngx_http_order_edit_curl_start(req) != NGX_OK) {
        ngx_http_order_edit_curl_free(req);
        goto failed;
    }

    c->req = req;

    return;

failed:

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT, NULL,
                                   NULL);
}


/* TBA: the OAuth 1.0a header for the request */

static ngx_int_t
ngx_http_order_edit_nsc_sign(ngx_http_order_edit_nsc_t *c, ngx_str_t *auth)
{
    char                                 *nonce;
    u_char                               *signed_url;
    size_t                                len;
    ngx_str_t                            *e;
    ngx_uint_t                            rc;
    ngx_http_order_edit_oauth_request_t   oreq;

    nonce = ngx_pnalloc(c->pool, NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN
                                 + NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX);
    if (nonce == NULL) {
        return NGX_ERROR;
    }

    auth->data = (u_char *) nonce + NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN;

    if (ngx_http_order_edit_oauth_nonce(nonce,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN)
        != NGX_HTTP_ORDER_EDIT_OAUTH_OK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&oreq, sizeof(ngx_http_order_edit_oauth_request_t));

    oreq.method.data = (char *) c->method.data;
    oreq.method.len = c->method.len;
    oreq.url.data = (char *) c->url.data;
    oreq.url.len = c->url.len;

    e = &c->ns->endpoint;

    /* through a local proxy: signed for NetSuite's own URL */
    if (c->ns->sign_as.len && c->url.len >= e->len
        && ngx_strncmp(c->url.data, e->data, e->len) == 0)
    {
        signed_url = ngx_pnalloc(c->pool, c->ns->sign_as.len
                                          + c->url.len - e->len);
        if (signed_url == NULL) {
            return NGX_ERROR;
        }

        oreq.url.data = (char *) signed_url;
        oreq.url.len = ngx_cpymem(ngx_cpymem(signed_url,
                                             c->ns->sign_as.data,
                                             c->ns->sign_as.len),
                                  c->url.data + e->len,
                                  c->url.len - e->len)
                       - signed_url;
    }

    oreq.timestamp = (int64_t) ngx_time();
    oreq.nonce.data = nonce;
    oreq.nonce.len = NGX_HTTP_ORDER_EDIT_OAUTH_NONCE_LEN;

    rc = ngx_http_order_edit_oauth_sign(&c->ns->keys, &oreq,
                                        (char *) auth->data,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_HEADER_MAX,
                                        &len);

    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "order_edit: cannot sign %V %V: %s",
                      &c->method, &c->url,
                      ngx_http_order_edit_oauth_strerror(rc));
        return NGX_ERROR;
    }

    auth->len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_order_edit_nsc_headers(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *auth)
{
    ngx_str_t  name, value, json;

    ngx_str_set(&json, "application/json");
    ngx_str_set(&name, "Authorization");

    if (ngx_http_order_edit_curl_set_url(req, &c->url) != NGX_OK
        || ngx_http_order_edit_curl_add_header(req, &name, auth) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "Accept");

    if (ngx_http_order_edit_curl_add_header(req, &name, &json) != NGX_OK) {
        return NGX_ERROR;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_LOOKUP
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_INVOICE
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_EMAIL
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUR_FIND
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_SUITEQL)
    {
        ngx_str_set(&name, "Prefer");
        ngx_str_set(&value, "transient");

        if (ngx_http_order_edit_curl_add_header(req, &name, &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_WRITE
        && c->ns->mode == NGX_HTTP_ORDER_EDIT_NS_REST
        && c->ns->property_validation != NGX_HTTP_ORDER_EDIT_NS_PNV_OFF)
    {
        /*
         * NetSuite ignores a property it does not know unless told
         * otherwise: a misspelt custom field would vanish silently.
         */
        ngx_str_set(&name, "X-NetSuite-PropertyNameValidation");
        ngx_str_set(&value, "Error");

        if (c->ns->property_validation == NGX_HTTP_ORDER_EDIT_NS_PNV_WARNING) {
            ngx_str_set(&value, "Warning");

        } else if (c->ns->property_validation
                   == NGX_HTTP_ORDER_EDIT_NS_PNV_IGNORE)
        {
            ngx_str_set(&value, "Ignore");
        }

        if (ngx_http_order_edit_curl_add_header(req, &name, &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (c->body.len) {
        ngx_str_set(&name, "Content-Type");

        if (ngx_http_order_edit_curl_add_header(req, &name, &json) != NGX_OK
            || ngx_http_order_edit_curl_set_body(req, c->body.data,
                                                 c->body.len, 0)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The OAuth 2.0 token for a request: NGX_OK with the header value,
 * NGX_AGAIN when the call waits for a token this worker fetches, or
 * NGX_DONE when the call has ended (reported) without one.
 */

static ngx_int_t
ngx_http_order_edit_nsc_bearer(ngx_http_order_edit_nsc_t *c,
    ngx_str_t *value)
{
    ngx_int_t  rc;
    ngx_str_t  why;

    c->wait.handler = ngx_http_order_edit_nsc_resend;
    c->wait.data = c;

    rc = ngx_http_order_edit_oauth2_bearer(c->slot->zone, c->ns, c->pool,
                                           &c->wait, value, &c->token_gen,
                                           &why);
    if (rc == NGX_OK || rc == NGX_AGAIN) {
        return rc;
    }

    /* NGX_BUSY: another process fetches it, or this one is exiting */
    ngx_http_order_edit_nsc_report(c, rc == NGX_BUSY
                                      ? NGX_HTTP_ORDER_EDIT_NSC_BUSY
                                      : NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                   NULL, &why);
    return NGX_DONE;
}


static void
ngx_http_order_edit_nsc_resend(void *data)
{
    ngx_http_order_edit_nsc_send(data);
}


/* NetSuite answered, or the transfer ended without an answer */

static void
ngx_http_order_edit_nsc_answer(ngx_http_order_edit_curl_req_t *req,
    void *data)
{
    ngx_http_order_edit_nsc_t  *c = data;

    ngx_str_t   why;
    ngx_uint_t  over;

    c->req = NULL;
    c->status = req->status;

    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_CANCELLED,
                                       NULL, NULL);
        return;
    }

    over = ngx_http_order_edit_nsslot_answer(c->slot, req, c->log);

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_READBACK) {

        if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_OK
            && req->status == 200)
        {
            ngx_http_order_edit_nsc_compare(c, req);
            return;
        }

        if (req->resend_refused && !c->reread) {
            /* a reused connection died under the GET: read once more */
            c->reread = 1;
            ngx_http_order_edit_nsc_send(c);
            return;
        }

        ngx_http_order_edit_nsc_error(c, req, &why);
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                       NULL, &why);
        return;
    }

    if (req->status == 401 && ngx_http_order_edit_nsc_auth(c, req, over)) {
        return;
    }

    /* the next request of the call may have its own 401 and refetch */
    c->auth_retried = 0;

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK || over
        || req->status >= 500
        || (req->status == 400 && req->body.len
            && ngx_strlcasestrn(req->body.data,
                                req->body.data + req->body.len,
                                (u_char *) "RCRD_HAS_BEEN_CHANGED",
                                21 - 1)
               != NULL))
    {
        /*
         * NetSuite is busy or away, or another user or script saved the
         * record meanwhile (its optimistic lock): nothing was applied,
         * and the request may be sent again, after a while.
         */
        ngx_http_order_edit_nsc_error(c, req, &why);
        ngx_http_order_edit_nsc_report(c,
            over ? NGX_HTTP_ORDER_EDIT_NSC_OVER_LIMIT
            : (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_OK
               && req->status == 400)
              ? NGX_HTTP_ORDER_EDIT_NSC_CONFLICT
              : NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
            NULL, &why);
        return;
    }

    ngx_http_order_edit_nsc_classify(c, req);
}


/*
 * A 401.  OAuth 2.0: expired or revoked, once with a new token, then
 * people decide.  TBA: bad keys, or NetSuite's bogus 401 when the account
 * is over its limit: both are worth a loud line and a retry, not a
 * verdict.  1 when the answer is dealt with.
 */

static ngx_uint_t
ngx_http_order_edit_nsc_auth(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_uint_t over)
{
    ngx_str_t  why;

    ngx_http_order_edit_nsc_error(c, req, &why);

    if (c->ns->auth != NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "order_edit: NetSuite refused the signature of "
                      "\"%V\" (check the TBA keys and the clock): %V",
                      &c->ns->name, &why);

        c->auth_retried = 0;
        ngx_http_order_edit_nsc_report(c, over
                                          ? NGX_HTTP_ORDER_EDIT_NSC_OVER_LIMIT
                                          : NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                       NULL, &why);
        return 1;
    }

    if (!c->auth_retried) {
        c->auth_retried = 1;
        ngx_http_order_edit_oauth2_rejected(c->slot->zone, c->ns,
                                            c->token_gen);
        ngx_http_order_edit_nsc_send(c);
        return 1;
    }

    if (over) {
        /* a new token refused too, in a crowd: NetSuite's overload */
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OVER_LIMIT,
                                       NULL, &why);
        return 1;
    }

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   "oauth2_rejected", &why);
    return 1;
}


/* an answer that is NetSuite's verdict on the request itself */

static void
ngx_http_order_edit_nsc_classify(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t  why;

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_SUITEQL) {
        ngx_http_order_edit_nsc_suiteql_answer(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_FIND
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_MAKE
        || c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUST_EMAIL)
    {
        ngx_http_order_edit_nsc_cust_step(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_CUR_FIND) {
        ngx_http_order_edit_nsc_cur_found(c, req);
        return;
    }

    if (c->step >= NGX_HTTP_ORDER_EDIT_NSC_STEP_MEMO_FIND) {
        /* refund_flow invoice and refund_payout */
        ngx_http_order_edit_nsc_refund_step(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_WRITE
        && c->ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET)
    {
        ngx_http_order_edit_nsc_restlet_answer(c, req);
        return;
    }

    if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_LOOKUP) {

        if (req->status == 200) {
            ngx_http_order_edit_nsc_found(c, req);
            return;
        }

        /* a field NetSuite does not know: the configuration is wrong */

    } else if (c->step == NGX_HTTP_ORDER_EDIT_NSC_STEP_READ) {

        if (req->status == 404 && c->so_cached) {
            /* the id remembered is gone: find the order afresh */
            ngx_http_order_edit_nsc_so_slot(c)->len = 0;
            ngx_str_set(&why, "the Sales Order found earlier is gone");
            ngx_http_order_edit_nsc_report(c,
                                           NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,
                                           NULL, &why);
            return;
        }

        if (req->status == 200) {
            ngx_http_order_edit_nsc_read_answer(c, req);
            return;
        }

        if (req->status == 404) {
            ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_MISSING,
                                           NULL, NULL);
            return;
        }

    } else if (req->status >= 200 && req->status < 300) {
        ngx_http_order_edit_nsc_written(c);
        return;
    }

    /* NetSuite refused the record itself: retrying would not change it */
    ngx_http_order_edit_nsc_rejected(c, req);
}


/* NetSuite's refusal, with its own words, for people to decide */

static void
ngx_http_order_edit_nsc_rejected(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_str_t  why;

    ngx_http_order_edit_nsc_error(c, req, &why);
    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED,
                                   "netsuite_rejected", &why);
}


/* "HTTP 400: USER_ERROR: Invalid value for ..." from NetSuite's answer */

static void
ngx_http_order_edit_nsc_error(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req, ngx_str_t *out)
{
    u_char                           *p, *last;
    size_t                            size;
    ngx_http_order_edit_nsp_error_t   err;

    size = 128 + ngx_min(req->body.len, NGX_HTTP_ORDER_EDIT_NSC_QUOTE_MAX)
           + req->message.len;

    p = ngx_pnalloc(c->pool, size);
    if (p == NULL) {
        ngx_str_set(out, "out of memory");
        return;
    }

    out->data = p;

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        last = ngx_snprintf(p, size, "%V %V: %V (curl %d)", &c->method,
                            &c->url, &req->message, (int) req->curl_code);
        out->len = last - p;
        return;
    }

    if (ngx_http_order_edit_nsp_error((char *) req->body.data, req->body.len,
                                      &err)
        == 0)
    {
        last = ngx_snprintf(p, size, "HTTP %ui %s: %s", req->status,
                            err.code, err.text);

    } else {
        last = ngx_snprintf(p, size, "HTTP %ui from %V %V", req->status,
                            &c->method, &c->url);
    }

    json_decref(err.root);

    out->len = last - p;
}


static void
ngx_http_order_edit_nsc_report(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_rc_e rc, const char *reason, ngx_str_t *why)
{
    ngx_http_order_edit_nsc_result_t  r;

    r.call = c->call;
    r.rc = rc;
    r.status = c->status;
    r.reason = reason;
    r.order = &c->order;

    if (why != NULL) {
        r.why = *why;

    } else {
        ngx_str_null(&r.why);
    }

    /* the callback may end the job, and free c with its pool */
    c->done(c, &r);
}


static void
ngx_http_order_edit_nsc_refused(ngx_http_order_edit_nsc_t *c,
    const char *reason, const char *why)
{
    ngx_str_t  detail;

    detail.data = (u_char *) why;
    detail.len = ngx_strlen(why);

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_REFUSED, reason,
                                   &detail);
}


ngx_uint_t
ngx_http_order_edit_nsc_cancel(ngx_http_order_edit_nsc_t *c)
{
    if (c->parse) {
        /* the thread's result is dropped when it comes */
        ngx_http_order_edit_parse_cancel(c->parse);
        return 1;
    }

    if (c->req == NULL) {
        return 0;
    }

    /* the call ends, reported _CANCELLED, before this returns */
    ngx_http_order_edit_curl_cancel(c->req);

    return 1;
}


void
ngx_http_order_edit_nsc_free(ngx_http_order_edit_nsc_t *c)
{
    ngx_http_order_edit_nsc_order_release(c);

    free(c->doc);
    c->doc = NULL;

    free(c->fitted);
    c->fitted = NULL;

    ngx_http_order_edit_nsc_page_free(c);
}


static void
ngx_http_order_edit_nsc_page_free(ngx_http_order_edit_nsc_t *c)
{
    free(c->page.data);
    ngx_str_null(&c->page);

    if (c->page_root != NULL) {
        /* a SuiteQL page: the report's, nothing waits for its free */
        ngx_http_order_edit_parse_dispose_on(
                                          ngx_http_order_edit_nsc_json_free,
                                          c->page_root, c->page_bytes, 1,
                                          c->log);
        c->page_root = NULL;
    }
}


/*
 * The mismatch report's bulk read (report.c): one page of a SuiteQL
 * query, signed and sent like any call; the caller holds the account's
 * slot and paces the pages.  The page's answer is left in c->page.
 */

void
ngx_http_order_edit_nsc_suiteql(ngx_http_order_edit_nsc_t *c,
    ngx_str_t *body, ngx_uint_t limit, ngx_uint_t offset)
{
    u_char  query[sizeof("?limit=&offset=") + 2 * NGX_INT_T_LEN];

    c->call = NGX_HTTP_ORDER_EDIT_NSC_SUITEQL;
    c->step = NGX_HTTP_ORDER_EDIT_NSC_STEP_SUITEQL;
    c->body = *body;
    ngx_http_order_edit_nsc_page_free(c);
    ngx_str_set(&c->method, "POST");

    *ngx_sprintf(query, "?limit=%ui&offset=%ui", limit, offset) = '\0';

    if (ngx_http_order_edit_nsc_set_url(c, NGX_HTTP_ORDER_EDIT_SUITEQL, NULL,
                                        0, (char *) query)
        != NGX_OK)
    {
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    ngx_http_order_edit_nsc_send(c);
}


/*
 * A page is up to a thousand rows: parsed (exact numbers, as the report
 * compares money) on the thread pool when it is large.
 */

static void
ngx_http_order_edit_nsc_suiteql_answer(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_curl_req_t *req)
{
    ngx_http_order_edit_nsc_parse_t  *pc;

    if (req->status != 200) {
        /* a query NetSuite does not run: retrying would not change it */
        ngx_http_order_edit_nsc_rejected(c, req);
        return;
    }

    /*
     * The account's slot is given back with the answer in, before the
     * parse: on background_thread_pool= it may wait long for a CPU, and
     * every worker's deliveries count the slot (report_ns_done() gives
     * it again, which does nothing then)
     */
    ngx_http_order_edit_nsslot_give(c->slot);

    pc = ngx_http_order_edit_nsc_parse(c, req);
    if (pc == NULL) {
        return;
    }

    /* the report's page: nothing but the report waits for its parse */
    ngx_http_order_edit_parse_background(c->parse);

    (void) ngx_http_order_edit_parse_start(c->parse, pc->got_len,
                                        ngx_http_order_edit_nsc_page_parse,
                                        ngx_http_order_edit_nsc_page_parsed,
                                        c);
}


static void
ngx_http_order_edit_nsc_page_parse(void *ctx)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;

    u_char                         *p;
    char                            errbuf[128];
    ngx_http_order_edit_json_rc_e   rc;

    pc->page = ngx_http_order_edit_json_load((char *) pc->got, pc->got_len,
                                             16, pc->got_len, &rc, errbuf,
                                             sizeof(errbuf));

    /* the text too, NUL-terminated, for whoever reads it as text */
    p = realloc(pc->got, pc->got_len + 1);

    if (p == NULL) {
        pc->rc = -1;
        return;
    }

    p[pc->got_len] = '\0';
    pc->got = p;
}


static void
ngx_http_order_edit_nsc_page_parsed(void *ctx, void *data,
    ngx_uint_t cancelled)
{
    ngx_http_order_edit_nsc_parse_t *pc = ctx;
    ngx_http_order_edit_nsc_t       *c = data;

    if (ngx_http_order_edit_nsc_parse_end(c, cancelled)) {
        return;
    }

    if (pc->rc != 0) {
        /* no memory for the text */
        ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_UNSENT,
                                       NULL, NULL);
        return;
    }

    c->page.data = pc->got;
    c->page.len = pc->got_len;
    c->page_root = pc->page;
    c->page_bytes = pc->got_len;
    pc->got = NULL;
    pc->page = NULL;

    ngx_http_order_edit_nsc_report(c, NGX_HTTP_ORDER_EDIT_NSC_OK, NULL, NULL);
}
