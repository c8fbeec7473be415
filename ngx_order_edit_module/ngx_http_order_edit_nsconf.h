
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order_edit_netsuite <name> { ... }: one NetSuite account, its keys,
 * endpoint and delivery policy, shared by the stores that name it.
 */


#ifndef _NGX_HTTP_ORDER_EDIT_NSCONF_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_NSCONF_H_INCLUDED_


#include "ngx_http_order_edit_module.h"
#include "ngx_http_order_edit_oauth.h"
#include "ngx_http_order_edit_oauth2.h"


#define NGX_HTTP_ORDER_EDIT_NS_REST         0
#define NGX_HTTP_ORDER_EDIT_NS_RESTLET      1

/* X-NetSuite-PropertyNameValidation on writes */
#define NGX_HTTP_ORDER_EDIT_NS_PNV_OFF      0
#define NGX_HTTP_ORDER_EDIT_NS_PNV_ERROR    1
#define NGX_HTTP_ORDER_EDIT_NS_PNV_WARNING  2
#define NGX_HTTP_ORDER_EDIT_NS_PNV_IGNORE   3

#define NGX_HTTP_ORDER_EDIT_NS_MISSING_RETRY      0
#define NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE     1
#define NGX_HTTP_ORDER_EDIT_NS_MISSING_EXCEPTION  2

#define NGX_HTTP_ORDER_EDIT_NS_AUTH_TBA         0
#define NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2      1

#define NGX_HTTP_ORDER_EDIT_NS_LOOKUP_EXTERNAL_ID 0
#define NGX_HTTP_ORDER_EDIT_NS_LOOKUP_SUITEQL     1

/* refund_flow: how a Shopify refund is booked */
#define NGX_HTTP_ORDER_EDIT_NS_REFUND_STANDALONE  0
#define NGX_HTTP_ORDER_EDIT_NS_REFUND_INVOICE     1
#define NGX_HTTP_ORDER_EDIT_NS_REFUND_CASH_SALE   2


struct ngx_http_order_edit_netsuite_conf_s {
    ngx_str_t                      name;
    ngx_str_t                      account;       /* as configured */
    ngx_str_t                      realm;         /* 1234567_SB1 */
    ngx_str_t                      endpoint;      /* scheme://host[:port] */
    ngx_str_t                      sign_as;       /* "": the endpoint */
    ngx_str_t                      restlet_url;

    ngx_str_t                      consumer_key;
    ngx_str_t                      consumer_secret;
    ngx_str_t                      token_id;
    ngx_str_t                      token_secret;

    ngx_uint_t                     mode;
    ngx_uint_t                     concurrency;
    ngx_msec_t                     connect_timeout;
    ngx_msec_t                     timeout;
    time_t                         retry_budget;
    ngx_msec_t                     backoff_min;
    ngx_msec_t                     backoff_max;
    u_char                         lock_after;    /* 'A' .. 'H' */
    ngx_uint_t                     on_missing;
    time_t                         missing_retry_for;
    ngx_str_t                      guest_customer;  /* "": none */
    ngx_str_t                      new_customer_subsidiary;
    ngx_flag_t                     create_customers;
    ngx_flag_t                     match_email;
    ngx_uint_t                     lookup;
    ngx_str_t                      lookup_field;
    ngx_str_t                      ca_file;
    ngx_str_t                      proxy;
    ngx_flag_t                     readback;
    ngx_uint_t                     property_validation;
    ngx_uint_t                     refund_flow;
    ngx_str_t                      payout_account;  /* "": no payout */
    ngx_str_t                      payout_method;
    unsigned                       payout_set:1;

    /* the four keys and the realm, ready for signing */
    ngx_http_order_edit_oauth_keys_t  keys;

    /* auth tba | oauth2, and OAuth 2.0's client id, keys and scope */
    ngx_uint_t                     auth;
    ngx_http_order_edit_oauth2_conf_t  oauth2;


    ngx_str_t                      file;
    ngx_uint_t                     line;
};


char *ngx_http_order_edit_netsuite_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_order_edit_netsuite_conf_t *ngx_http_order_edit_netsuite_find(
    ngx_http_order_edit_main_conf_t *omcf, ngx_str_t *name);


#endif /* _NGX_HTTP_ORDER_EDIT_NSCONF_H_INCLUDED_ */
