
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * A NetSuite account's request slots, shared by every worker through the
 * zone: how many requests are out (in_flight) against how many may be
 * (the limit), and the AIMD that moves the limit under the configured
 * concurrency as NetSuite answers.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSSLOT_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSSLOT_H_INCLUDED_


#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_shm.h"
#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_curl.h"


/* one job's hold on its account; zone and ns set by the owner */
typedef struct {
    ngx_http_order_edit_zone_t            *zone;
    ngx_http_order_edit_netsuite_conf_t   *ns;
    ngx_http_order_edit_account_t         *acct;     /* in the zone */
    ngx_http_order_edit_holder_t          *holder;   /* acct's, or NULL */
    ngx_uint_t                             epoch;    /* acct's at send */
    unsigned                               taken:1;  /* in in_flight */
    unsigned                               crowded:1; /* others out */
} ngx_http_order_edit_nsslot_t;


/* finds (or adds) the account; 1 if it has room for one more request */
ngx_uint_t ngx_http_order_edit_nsslot_room(ngx_http_order_edit_nsslot_t *s);

/*
 * The same for a request that goes after all others (the mismatch
 * report's): 0 also for "yield" ms after room() refused this worker a slot
 * of the account (a refused webhook asks again a dispatcher interval
 * later: the slot that comes free meanwhile is its).
 */
ngx_uint_t ngx_http_order_edit_nsslot_spare(ngx_http_order_edit_nsslot_t *s,
    ngx_msec_t yield);

/* takes the slot (after room()), and gives it back; give() is idempotent */
void ngx_http_order_edit_nsslot_take(ngx_http_order_edit_nsslot_t *s);
void ngx_http_order_edit_nsslot_give(ngx_http_order_edit_nsslot_t *s);

/*
 * The slots of workers gone without giving them back, returned to their
 * accounts: at a worker's start (start: this process holds none yet), and
 * by a worker refused a slot (at most once a second).  Returns how many.
 */
ngx_uint_t ngx_http_order_edit_nsslot_reclaim(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t start, ngx_log_t *log);

/* a request goes out: the limit's epoch and whether others are out */
void ngx_http_order_edit_nsslot_sent(ngx_http_order_edit_nsslot_t *s);

/*
 * NetSuite answered (or did not): counted for the status, and the limit
 * steered.  Returns 1 when the answer says the account is over its limit
 * (429, a RESTlet's SSS_REQUEST_LIMIT_EXCEEDED, a 401 in a crowd).
 */
ngx_uint_t ngx_http_order_edit_nsslot_answer(ngx_http_order_edit_nsslot_t *s,
    ngx_http_order_edit_curl_req_t *req, ngx_log_t *log);


#endif /* _NGX_HTTP_ORDER_EDIT_NSSLOT_H_INCLUDED_ */
