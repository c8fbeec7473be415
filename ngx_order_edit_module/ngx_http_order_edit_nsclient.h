
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The NetSuite client: every NetSuite URL, request and answer.  It finds
 * a Sales Order (by external id, or by SuiteQL on a custom field, with a
 * cache of the internal ids found), reads its state, writes a normalised
 * document (fitted to the order as read: kept lines by "line", closed
 * lines, a Credit Memo's customer, the invoice transform and the payout),
 * reads it back and compares, and says what each answer means.  Every
 * call ends in one callback with a plain C result; the dispatcher decides
 * what happens next.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSCLIENT_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSCLIENT_H_INCLUDED_


#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_nsslot.h"
#include "ngx_http_order_edit_nsparse.h"
#include "ngx_http_order_edit_curl.h"
#include "ngx_http_order_edit_parse.h"


typedef enum {
    NGX_HTTP_ORDER_EDIT_NSC_LOOKUP = 0,     /* SuiteQL: the internal id */
    NGX_HTTP_ORDER_EDIT_NSC_READ_ORDER,     /* status, lines, snapshot */
    NGX_HTTP_ORDER_EDIT_NSC_READ_CUSTOMER,  /* a refund's order */
    NGX_HTTP_ORDER_EDIT_NSC_READ_TAX_KIND,  /* the taxes_included field */
    NGX_HTTP_ORDER_EDIT_NSC_WRITE,
    NGX_HTTP_ORDER_EDIT_NSC_READBACK,
    NGX_HTTP_ORDER_EDIT_NSC_SUITEQL         /* the report's bulk read */
} ngx_http_order_edit_nsc_call_e;


/* what an answer means; the last three are this side's, not NetSuite's */
typedef enum {
    NGX_HTTP_ORDER_EDIT_NSC_OK = 0,
    NGX_HTTP_ORDER_EDIT_NSC_TRANSIENT,      /* busy or away: again later */
    NGX_HTTP_ORDER_EDIT_NSC_REFUSED,        /* people decide: r->reason */
    NGX_HTTP_ORDER_EDIT_NSC_MISSING,        /* no such Sales Order */
    NGX_HTTP_ORDER_EDIT_NSC_OVER_LIMIT,     /* the account's limit */
    NGX_HTTP_ORDER_EDIT_NSC_CONFLICT,       /* saved meanwhile by another */
    NGX_HTTP_ORDER_EDIT_NSC_UNSENT,         /* no memory, signature, token */
    NGX_HTTP_ORDER_EDIT_NSC_BUSY,           /* a token fetched elsewhere */
    NGX_HTTP_ORDER_EDIT_NSC_CANCELLED       /* the worker is going */
} ngx_http_order_edit_nsc_rc_e;


typedef struct {
    ngx_http_order_edit_nsc_call_e         call;
    ngx_http_order_edit_nsc_rc_e           rc;
    ngx_uint_t                             status;    /* HTTP; 0: none */
    const char                            *reason;    /* REFUSED's */
    ngx_str_t                              why;       /* "": none given */
    ngx_http_order_edit_nsp_order_t       *order;     /* after a read */
} ngx_http_order_edit_nsc_result_t;


/* nsc_t.fitted_n: the write not fitted to the last read (yet) */
#define NGX_HTTP_ORDER_EDIT_NSC_UNFITTED  (-2)


typedef struct ngx_http_order_edit_nsc_s  ngx_http_order_edit_nsc_t;

typedef void (*ngx_http_order_edit_nsc_done_pt)(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_result_t *r);


struct ngx_http_order_edit_nsc_s {
    /* set by the caller before the first call */
    ngx_http_order_edit_netsuite_conf_t   *ns;
    ngx_http_order_edit_norm_conf_t       *norm;      /* the store's */
    ngx_http_order_edit_norm_result_t     *res;       /* doc and request */
    ngx_http_order_edit_nsslot_t          *slot;      /* zone, account */
    ngx_pool_t                            *pool;
    ngx_log_t                             *log;
    ngx_str_t                              shop;
    ngx_str_t                              topic;
    uint64_t                               id;        /* the webhook's */
    ngx_http_order_edit_nsc_done_pt        done;
    void                                  *data;

    /*
     * Read back by the next read of the order (issue 17): fold, set
     * before a READ_ORDER, is the client of the same order whose write
     * waits for its read back; this read's answer is compared with what
     * that one sent, and its call ends (READBACK) before this one's.
     * fold_held, on the waiting one: its write may never have been sent
     * (a replay), so it is compared only if the order holds its snapshot.
     * check_held: a READ_ORDER finding this very snapshot held compares
     * the order with it too (a replay after the write, its check lost).
     */
    ngx_http_order_edit_nsc_t             *fold;
    unsigned                               fold_held:1;
    unsigned                               check_held:1;

    /* the client's own */
    ngx_http_order_edit_nsc_call_e         call;
    ngx_uint_t                             step;
    ngx_uint_t                             status;
    ngx_str_t                              method;
    ngx_str_t                              url;
    ngx_str_t                              body;
    ngx_str_t                              body_sent; /* by the write */
    char                                  *doc;       /* malloc()ed */
    ngx_http_order_edit_curl_req_t        *req;       /* in flight */
    ngx_http_order_edit_parse_t           *parse;     /* its answer's */
    ngx_str_t                              so_id;     /* SuiteQL's find */
    u_char                                 so_buf[
                                               NGX_HTTP_ORDER_EDIT_NSP_ID_LEN];
    ngx_str_t                              source;    /* the SO's id */
    ngx_str_t                              xform;     /* transform body */
    ngx_str_t                              cash;      /* a cash refund's */
    ngx_http_order_edit_nsp_order_t        order;     /* the last read */
    size_t                                 order_bytes;  /* its answer's */
    char                                  *fitted;    /* the write, to it */
    int                                    fitted_n;  /* lines; _UNFITTED */
    ngx_str_t                              cust_eid;  /* a create's */
    int64_t                                cust_shopify;
    ngx_str_t                              cust_id;   /* its entity */
    ngx_str_t                              cur_id;    /* its currency */
    ngx_str_t                              page;      /* SuiteQL's, NUL */
    json_t                                *page_root; /* parsed, exact */
    size_t                                 page_bytes;
    unsigned                               so_cached:1;
    unsigned                               reread:1;  /* read back again */
    unsigned                               auth_retried:1; /* after 401 */
    unsigned                               found_again:1;  /* a dup memo */
    unsigned                               cash_sale:1;    /* looking */
    unsigned                               cust_made:1;    /* POSTed */
    unsigned                               cust_emailed:1; /* asked */

    /* OAuth 2.0: waiting for a token, and the one sent */
    ngx_http_order_edit_oauth2_wait_t      wait;
    uint64_t                               token_gen;
};


/*
 * 1 when the Sales Order can be addressed without a lookup: by external
 * id, or by an internal id SuiteQL found before (cached); 0 when
 * ngx_http_order_edit_nsc_lookup() must find it first.
 */
ngx_uint_t ngx_http_order_edit_nsc_known(ngx_http_order_edit_nsc_t *c);

/* the calls; each ends in c->done, perhaps before it returns */
void ngx_http_order_edit_nsc_lookup(ngx_http_order_edit_nsc_t *c);
void ngx_http_order_edit_nsc_read(ngx_http_order_edit_nsc_t *c,
    ngx_http_order_edit_nsc_call_e call);
void ngx_http_order_edit_nsc_write(ngx_http_order_edit_nsc_t *c);
/*
 * The missing order created by upsert, with its customer (entity) found,
 * made (customers=create) or the guest= one; NGX_DECLINED: it cannot be.
 */
ngx_int_t ngx_http_order_edit_nsc_create(ngx_http_order_edit_nsc_t *c);
void ngx_http_order_edit_nsc_readback(ngx_http_order_edit_nsc_t *c);

/*
 * The mismatch report's bulk read: one page (limit rows from offset) of
 * the SuiteQL query in body ({"q": "..."}); the answer in c->page, and
 * parsed (exact JSON, as ngx_http_order_edit_json_load() with depth 16;
 * NULL when it is none) in c->page_root, which the caller may take (and
 * then json_decref()); the client frees both otherwise.
 */
void ngx_http_order_edit_nsc_suiteql(ngx_http_order_edit_nsc_t *c,
    ngx_str_t *body, ngx_uint_t limit, ngx_uint_t offset);

/*
 * A request out, or its answer being parsed, is cancelled: its call ends
 * in _CANCELLED; 0 if none.
 */
ngx_uint_t ngx_http_order_edit_nsc_cancel(ngx_http_order_edit_nsc_t *c);

/* what the client holds outside the pool */
void ngx_http_order_edit_nsc_free(ngx_http_order_edit_nsc_t *c);


#endif /* _NGX_HTTP_ORDER_EDIT_NSCLIENT_H_INCLUDED_ */
