
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_nsconf.h"
#include "ngx_http_order_edit_jwt.h"


/* a key file holds one line: the key, and perhaps an editor's newline */
#define NGX_HTTP_ORDER_EDIT_NS_KEY_FILE_MAX  1024


static char *ngx_http_order_edit_ns_account(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_endpoint(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_sign_as(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_restlet_url(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_key_file(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_auth(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_certificate_id(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_ns_private_key(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_scope(ngx_conf_t *cf, void *conf);
static void ngx_http_order_edit_ns_pkey_free(void *data);
static char *ngx_http_order_edit_ns_concurrency(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_retry_backoff(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_ns_lock_after(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_on_missing(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_create_args(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns);
static char *ngx_http_order_edit_ns_lookup(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_path(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_proxy(ngx_conf_t *cf, void *conf);
static char *ngx_http_order_edit_ns_refund_payout(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_order_edit_ns_set_url(ngx_conf_t *cf, ngx_str_t *url,
    ngx_uint_t with_path, const char *what);
static char *ngx_http_order_edit_ns_check_url(ngx_conf_t *cf,
    ngx_str_t *url, ngx_uint_t with_path, const char *what);
static char *ngx_http_order_edit_ns_tba_keys(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns);
static char *ngx_http_order_edit_ns_finish(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns);


static char *ngx_http_order_edit_ns_msec_positive(ngx_conf_t *cf,
    void *post, void *data);
static char *ngx_http_order_edit_ns_sec_positive(ngx_conf_t *cf,
    void *post, void *data);


static ngx_conf_enum_t  ngx_http_order_edit_ns_modes[] = {
    { ngx_string("rest"), NGX_HTTP_ORDER_EDIT_NS_REST },
    { ngx_string("restlet"), NGX_HTTP_ORDER_EDIT_NS_RESTLET },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_order_edit_ns_pnv[] = {
    { ngx_string("off"), NGX_HTTP_ORDER_EDIT_NS_PNV_OFF },
    { ngx_string("error"), NGX_HTTP_ORDER_EDIT_NS_PNV_ERROR },
    { ngx_string("warning"), NGX_HTTP_ORDER_EDIT_NS_PNV_WARNING },
    { ngx_string("ignore"), NGX_HTTP_ORDER_EDIT_NS_PNV_IGNORE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_order_edit_ns_refund_flows[] = {
    { ngx_string("standalone"), NGX_HTTP_ORDER_EDIT_NS_REFUND_STANDALONE },
    { ngx_string("invoice"), NGX_HTTP_ORDER_EDIT_NS_REFUND_INVOICE },
    { ngx_string("cash_sale"), NGX_HTTP_ORDER_EDIT_NS_REFUND_CASH_SALE },
    { ngx_null_string, 0 }
};

/* a zero timeout would be libcurl's "no timeout", a zero budget none */
static ngx_conf_post_t  ngx_http_order_edit_ns_positive_msec =
    { ngx_http_order_edit_ns_msec_positive };
static ngx_conf_post_t  ngx_http_order_edit_ns_positive_sec =
    { ngx_http_order_edit_ns_sec_positive };


static ngx_http_order_edit_block_cmd_t  ngx_http_order_edit_ns_cmds[] = {
    ngx_http_order_edit_bcmd("account", 1, 1, ngx_http_order_edit_ns_account),
    ngx_http_order_edit_bcmd("endpoint", 1, 1, ngx_http_order_edit_ns_endpoint),
    ngx_http_order_edit_bcmd("sign_as", 1, 1, ngx_http_order_edit_ns_sign_as),
    ngx_http_order_edit_bcmd("restlet_url", 1, 1,
                             ngx_http_order_edit_ns_restlet_url),
    ngx_http_order_edit_bcmd("consumer_key_file", 1, 1,
                             ngx_http_order_edit_ns_key_file),
    ngx_http_order_edit_bcmd("consumer_secret_file", 1, 1,
                             ngx_http_order_edit_ns_key_file),
    ngx_http_order_edit_bcmd("token_id_file", 1, 1,
                             ngx_http_order_edit_ns_key_file),
    ngx_http_order_edit_bcmd("token_secret_file", 1, 1,
                             ngx_http_order_edit_ns_key_file),
    ngx_http_order_edit_bcmd("auth", 1, 1, ngx_http_order_edit_ns_auth),
    ngx_http_order_edit_bcmd("client_id_file", 1, 1,
                             ngx_http_order_edit_ns_key_file),
    ngx_http_order_edit_bcmd("certificate_id", 1, 1,
                             ngx_http_order_edit_ns_certificate_id),
    ngx_http_order_edit_bcmd("private_key_file", 1, 2,
                             ngx_http_order_edit_ns_private_key),
    ngx_http_order_edit_bcmd("next_certificate_id", 1, 1,
                             ngx_http_order_edit_ns_certificate_id),
    ngx_http_order_edit_bcmd("next_private_key_file", 1, 2,
                             ngx_http_order_edit_ns_private_key),
    ngx_http_order_edit_bcmd("scope", 1, 3, ngx_http_order_edit_ns_scope),
    { ngx_string("mode"), 1, 1, NULL, ngx_conf_set_enum_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, mode),
      &ngx_http_order_edit_ns_modes },
    ngx_http_order_edit_bcmd("concurrency", 1, 1,
                             ngx_http_order_edit_ns_concurrency),
    { ngx_string("connect_timeout"), 1, 1, NULL, ngx_conf_set_msec_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, connect_timeout),
      &ngx_http_order_edit_ns_positive_msec },
    { ngx_string("timeout"), 1, 1, NULL, ngx_conf_set_msec_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, timeout),
      &ngx_http_order_edit_ns_positive_msec },
    { ngx_string("retry_budget"), 1, 1, NULL, ngx_conf_set_sec_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, retry_budget),
      &ngx_http_order_edit_ns_positive_sec },
    ngx_http_order_edit_bcmd("retry_backoff", 2, 2,
                             ngx_http_order_edit_ns_retry_backoff),
    ngx_http_order_edit_bcmd("lock_after", 1, 1,
                             ngx_http_order_edit_ns_lock_after),
    ngx_http_order_edit_bcmd("on_missing", 1, 5,
                             ngx_http_order_edit_ns_on_missing),
    ngx_http_order_edit_bcmd("lookup", 1, 2, ngx_http_order_edit_ns_lookup),
    ngx_http_order_edit_bcmd("ca_file", 1, 1, ngx_http_order_edit_ns_path),
    ngx_http_order_edit_bcmd("proxy", 1, 1, ngx_http_order_edit_ns_proxy),
    { ngx_string("readback"), 1, 1, NULL, ngx_conf_set_flag_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, readback), NULL },
    { ngx_string("property_validation"), 1, 1, NULL, ngx_conf_set_enum_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, property_validation),
      &ngx_http_order_edit_ns_pnv },
    { ngx_string("refund_flow"), 1, 1, NULL, ngx_conf_set_enum_slot,
      offsetof(ngx_http_order_edit_netsuite_conf_t, refund_flow),
      &ngx_http_order_edit_ns_refund_flows },
    ngx_http_order_edit_bcmd("refund_payout", 1, 2,
                             ngx_http_order_edit_ns_refund_payout),
    { ngx_null_string, 0, 0, NULL, NULL, 0, NULL }
};


char *
ngx_http_order_edit_netsuite_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_order_edit_main_conf_t  *omcf = conf;

    char                                  *rv;
    u_char                                *p, *last;
    ngx_str_t                             *value;
    ngx_http_order_edit_block_t            block;
    ngx_http_order_edit_netsuite_conf_t   *ns, **nsp;

    value = cf->args->elts;

    for (p = value[1].data, last = p + value[1].len; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid order_edit_netsuite name \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_order_edit_netsuite_find(omcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate order_edit_netsuite \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    ns = ngx_pcalloc(cf->pool, sizeof(ngx_http_order_edit_netsuite_conf_t));
    if (ns == NULL) {
        return NGX_CONF_ERROR;
    }

    ns->name = value[1];
    ns->file = cf->conf_file->file.name;
    ns->line = cf->conf_file->line;
    ns->mode = NGX_CONF_UNSET_UINT;
    ns->property_validation = NGX_CONF_UNSET_UINT;
    ns->refund_flow = NGX_CONF_UNSET_UINT;
    ns->concurrency = NGX_CONF_UNSET_UINT;
    ns->connect_timeout = NGX_CONF_UNSET_MSEC;
    ns->timeout = NGX_CONF_UNSET_MSEC;
    ns->retry_budget = NGX_CONF_UNSET;
    ns->backoff_min = NGX_CONF_UNSET_MSEC;
    ns->backoff_max = NGX_CONF_UNSET_MSEC;
    ns->on_missing = NGX_CONF_UNSET_UINT;
    ns->missing_retry_for = NGX_CONF_UNSET;
    ns->lookup = NGX_CONF_UNSET_UINT;
    ns->readback = NGX_CONF_UNSET;
    ns->auth = NGX_CONF_UNSET_UINT;

    nsp = ngx_array_push(&omcf->netsuites);
    if (nsp == NULL) {
        return NGX_CONF_ERROR;
    }

    *nsp = ns;

    block.kind = "order_edit_netsuite";
    block.name = &ns->name;
    block.cmds = ngx_http_order_edit_ns_cmds;
    block.conf = ns;

    rv = ngx_http_order_edit_block_parse(cf, &block);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_order_edit_ns_finish(cf, ns);
}


ngx_http_order_edit_netsuite_conf_t *
ngx_http_order_edit_netsuite_find(ngx_http_order_edit_main_conf_t *omcf,
    ngx_str_t *name)
{
    ngx_uint_t                              i;
    ngx_http_order_edit_netsuite_conf_t   **ns;

    ns = omcf->netsuites.elts;

    for (i = 0; i < omcf->netsuites.nelts; i++) {
        if (ns[i]->name.len == name->len
            && ngx_strncmp(ns[i]->name.data, name->data, name->len) == 0)
        {
            return ns[i];
        }
    }

    return NULL;
}


/* TBA: the four keys are all there and usable for signing */

static char *
ngx_http_order_edit_ns_tba_keys(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    ngx_uint_t                         rc;
    ngx_http_order_edit_oauth_keys_t  *keys;

    if (ns->consumer_key.len == 0 || ns->consumer_secret.len == 0
        || ns->token_id.len == 0 || ns->token_secret.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\" needs "
                           "consumer_key_file, consumer_secret_file, "
                           "token_id_file and token_secret_file",
                           &ns->name);
        return NGX_CONF_ERROR;
    }

    keys = &ns->keys;

    keys->realm.data = (char *) ns->realm.data;
    keys->realm.len = ns->realm.len;
    keys->consumer_key.data = (char *) ns->consumer_key.data;
    keys->consumer_key.len = ns->consumer_key.len;
    keys->consumer_secret.data = (char *) ns->consumer_secret.data;
    keys->consumer_secret.len = ns->consumer_secret.len;
    keys->token_id.data = (char *) ns->token_id.data;
    keys->token_id.len = ns->token_id.len;
    keys->token_secret.data = (char *) ns->token_secret.data;
    keys->token_secret.len = ns->token_secret.len;

    rc = ngx_http_order_edit_oauth_check_keys(keys);

    if (rc != NGX_HTTP_ORDER_EDIT_OAUTH_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\": the keys cannot "
                           "sign requests: %s", &ns->name,
                           ngx_http_order_edit_oauth_strerror(rc));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The defaults, and what only the whole block can tell: an account and
 * its four keys are required, the keys must be usable for signing, and a
 * RESTlet needs its URL.
 */

static char *
ngx_http_order_edit_ns_finish(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    u_char  *p;
    size_t   len;

    if (ns->account.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\" has no \"account\"",
                           &ns->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_uint_value(ns->auth, NGX_HTTP_ORDER_EDIT_NS_AUTH_TBA);

    if (ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_TBA
        && (ns->oauth2.client_id.len || ns->oauth2.scope.len
            || ns->oauth2.keys[0].pkey || ns->oauth2.keys[1].pkey
            || ns->oauth2.keys[0].certificate_id.len
            || ns->oauth2.keys[1].certificate_id.len))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\" has OAuth 2.0 "
                           "settings but no \"auth oauth2\"", &ns->name);
        return NGX_CONF_ERROR;
    }

    /*
     * With OAuth 2.0 the TBA keys may stay configured (unused), so that
     * going back is one line: README, "From TBA to OAuth 2.0".
     */
    if (ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2
        && ns->consumer_key.len == 0 && ns->consumer_secret.len == 0
        && ns->token_id.len == 0 && ns->token_secret.len == 0)
    {
        goto keys_done;
    }

    if (ngx_http_order_edit_ns_tba_keys(cf, ns) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

keys_done:

    if (ns->endpoint.len == 0) {
        /* the account's own host: 1234567_SB1 -> 1234567-sb1.suitetalk... */
        p = ngx_pnalloc(cf->pool, sizeof("https://") - 1
                                  + NGX_HTTP_ORDER_EDIT_OAUTH_HOST_MAX);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(p, "https://", sizeof("https://") - 1);

        if (ngx_http_order_edit_oauth_host((char *) ns->account.data,
                                           ns->account.len,
                                           NGX_HTTP_ORDER_EDIT_OAUTH_REST,
                                           (char *) p + 8,
                                           NGX_HTTP_ORDER_EDIT_OAUTH_HOST_MAX,
                                           &len)
            != NGX_HTTP_ORDER_EDIT_OAUTH_OK)
        {
            return NGX_CONF_ERROR;
        }

        ns->endpoint.data = p;
        ns->endpoint.len = 8 + len;
    }

    ngx_conf_init_uint_value(ns->mode, NGX_HTTP_ORDER_EDIT_NS_REST);

    /* a misspelt field must fail loudly, not vanish (NetSuite's default) */
    ngx_conf_init_uint_value(ns->property_validation,
                             NGX_HTTP_ORDER_EDIT_NS_PNV_ERROR);
    ngx_conf_init_uint_value(ns->refund_flow,
                             NGX_HTTP_ORDER_EDIT_NS_REFUND_STANDALONE);

    if (ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET
        && ns->refund_flow == NGX_HTTP_ORDER_EDIT_NS_REFUND_CASH_SALE)
    {
        /* the shipped script books memos only: say so, not degrade */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\": \"refund_flow "
                           "cash_sale\" needs \"mode rest\"", &ns->name);
        return NGX_CONF_ERROR;
    }

    if (ns->mode == NGX_HTTP_ORDER_EDIT_NS_RESTLET
        && ns->restlet_url.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "order_edit_netsuite \"%V\" uses mode restlet "
                           "but has no \"restlet_url\"", &ns->name);
        return NGX_CONF_ERROR;
    }

    if (ns->auth == NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2
        && ngx_http_order_edit_oauth2_finish(cf, ns) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the smallest account allocation: more only where a licence says so */
    ngx_conf_init_uint_value(ns->concurrency, 5);
    ngx_conf_init_msec_value(ns->connect_timeout, 10000);
    ngx_conf_init_msec_value(ns->timeout, 60000);

    /* longer than Shopify's own retries: NetSuite outages run for hours */
    ngx_conf_init_value(ns->retry_budget, 6 * 3600);
    ngx_conf_init_msec_value(ns->backoff_min, 1000);
    ngx_conf_init_msec_value(ns->backoff_max, 300000);

    if (ns->lock_after == 0) {
        ns->lock_after = 'B';
    }

    /* another connector may create the order up to 20 minutes late */
    ngx_conf_init_uint_value(ns->on_missing,
                             NGX_HTTP_ORDER_EDIT_NS_MISSING_RETRY);
    ngx_conf_init_value(ns->missing_retry_for, 3600);
    ngx_conf_init_uint_value(ns->lookup,
                             NGX_HTTP_ORDER_EDIT_NS_LOOKUP_EXTERNAL_ID);
    ngx_conf_init_value(ns->readback, 1);

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_account(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    u_char      *p;
    size_t       len;
    ngx_str_t   *value;

    value = cf->args->elts;

    if (ns->account.len) {
        return "is duplicate";
    }

    p = ngx_pnalloc(cf->pool, NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ACCOUNT + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_order_edit_oauth_realm((char *) value[1].data, value[1].len,
                                        (char *) p,
                                        NGX_HTTP_ORDER_EDIT_OAUTH_MAX_ACCOUNT
                                        + 1, &len)
        != NGX_HTTP_ORDER_EDIT_OAUTH_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid NetSuite account \"%V\", expected an "
                           "account id like 1234567 or 1234567_SB1",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    ns->account = value[1];
    ns->realm.data = p;
    ns->realm.len = len;

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_endpoint(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    return ngx_http_order_edit_ns_set_url(cf, &ns->endpoint, 0, "endpoint");
}


/*
 * The URL NetSuite sees, when the endpoint is a local proxy (an nginx
 * location that proxy_passes to NetSuite): OAuth signs scheme and host,
 * so the signature must name NetSuite's, not the proxy's.
 */

static char *
ngx_http_order_edit_ns_sign_as(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    return ngx_http_order_edit_ns_set_url(cf, &ns->sign_as, 0, "sign_as");
}


static char *
ngx_http_order_edit_ns_restlet_url(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    return ngx_http_order_edit_ns_set_url(cf, &ns->restlet_url, 1,
                                          "restlet_url");
}


/*
 * A URL directive's argument, checked; one without a path (a host) is
 * kept without its trailing slashes: "https://host/" and "https://host"
 * are the same endpoint.
 */

static char *
ngx_http_order_edit_ns_set_url(ngx_conf_t *cf, ngx_str_t *url,
    ngx_uint_t with_path, const char *what)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (url->len) {
        return "is duplicate";
    }

    *url = value[1];

    while (!with_path && url->len && url->data[url->len - 1] == '/') {
        url->len--;
    }

    return ngx_http_order_edit_ns_check_url(cf, url, with_path, what);
}


/*
 * https:// anywhere; plain http:// only to this machine, for the
 * simulator or a local location that proxies to NetSuite over TLS.
 */

static char *
ngx_http_order_edit_ns_check_url(ngx_conf_t *cf, ngx_str_t *url,
    ngx_uint_t with_path, const char *what)
{
    u_char     *host, *last, *end;
    ngx_str_t   h;

    last = url->data + url->len;

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        host = url->data + 8;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        host = url->data + 7;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\", expected https://host", url);
        return NGX_CONF_ERROR;
    }

    end = ngx_strlchr(host, last, '/');

    if (end == NULL) {
        end = last;

    } else if (!with_path) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s \"%V\": scheme, host and port "
                           "only; the record paths are the module's", what,
                           url);
        return NGX_CONF_ERROR;
    }

    if (end == host) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": no host", url);
        return NGX_CONF_ERROR;
    }

    if (host == url->data + 8) {
        return NGX_CONF_OK;
    }

    h.data = host;
    h.len = end - host;

    if ((h.len >= 4 && ngx_strncmp(h.data, "127.", 4) == 0)
        || (h.len >= 9 && ngx_strncasecmp(h.data, (u_char *) "localhost", 9)
                          == 0
            && (h.len == 9 || h.data[9] == ':'))
        || (h.len >= 5 && ngx_strncmp(h.data, "[::1]", 5) == 0))
    {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "plain http is only for this machine (127.0.0.1, "
                       "localhost, [::1]): \"%V\" must use https", url);

    return NGX_CONF_ERROR;
}


/* the key is the file's one line, without its line end or spaces */

static char *
ngx_http_order_edit_ns_key_file(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    u_char     *p, *last;
    ngx_str_t  *value, path, *key, text;

    value = cf->args->elts;

    if (ngx_strcmp(value[0].data, "consumer_key_file") == 0) {
        key = &ns->consumer_key;

    } else if (ngx_strcmp(value[0].data, "consumer_secret_file") == 0) {
        key = &ns->consumer_secret;

    } else if (ngx_strcmp(value[0].data, "token_id_file") == 0) {
        key = &ns->token_id;

    } else if (ngx_strcmp(value[0].data, "client_id_file") == 0) {
        key = &ns->oauth2.client_id;

    } else {
        key = &ns->token_secret;
    }

    if (key->len) {
        return "is duplicate";
    }

    path = value[1];

    if (ngx_http_order_edit_read_conf_file(cf, &path,
                                           NGX_HTTP_ORDER_EDIT_NS_KEY_FILE_MAX,
                                           &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    last = text.data + text.len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t'
                        || last[-1] == '\r' || last[-1] == '\n'))
    {
        last--;
    }

    if (p == last || ngx_strlchr(p, last, '\n') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must hold exactly one key", &path);
        return NGX_CONF_ERROR;
    }

    /* NUL-terminated: the client id goes into the JWT as a C string */
    *last = '\0';

    key->data = p;
    key->len = last - p;

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_auth(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "tba") == 0) {
        ns->auth = NGX_HTTP_ORDER_EDIT_NS_AUTH_TBA;

    } else if (ngx_strcmp(value[1].data, "oauth2") == 0) {
        ns->auth = NGX_HTTP_ORDER_EDIT_NS_AUTH_OAUTH2;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid auth \"%V\", expected \"tba\" or "
                           "\"oauth2\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* what NetSuite showed on the OAuth 2.0 Client Credentials (M2M) Setup */

static char *
ngx_http_order_edit_ns_certificate_id(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    u_char                            *p, *last;
    ngx_str_t                         *value;
    ngx_http_order_edit_oauth2_key_t  *key;

    value = cf->args->elts;

    key = &ns->oauth2.keys[value[0].data[0] == 'n' ? 1 : 0];

    if (key->certificate_id.len) {
        return "is duplicate";
    }

    /* it goes into the JWT header: printable, no quote, 1 to 256 bytes */
    for (p = value[1].data, last = p + value[1].len; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            break;
        }
    }

    if (value[1].len == 0 || value[1].len > 256 || p != last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\", expected the Certificate ID "
                           "NetSuite shows for the uploaded certificate",
                           &value[0], &value[1]);
        return NGX_CONF_ERROR;
    }

    key->certificate_id = value[1];

    return NGX_CONF_OK;
}


/*
 * private_key_file <file> [auto | PS256 | PS384 | PS512 | ES256 | ES384 |
 * ES512]: read and checked here, so nginx -t names this line when the
 * key is unusable; the PEM text is wiped once the key is parsed.
 */

static char *
ngx_http_order_edit_ns_private_key(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    int                                alg, rc;
    char                               err[256];
    EVP_PKEY                          *pkey;
    ngx_str_t                         *value, path, text;
    ngx_pool_cleanup_t                *cln;
    ngx_http_order_edit_jwt_alg_e      out;
    ngx_http_order_edit_oauth2_key_t  *key;

    value = cf->args->elts;

    key = &ns->oauth2.keys[value[0].data[0] == 'n' ? 1 : 0];

    if (key->pkey) {
        return "is duplicate";
    }

    alg = NGX_HTTP_ORDER_EDIT_JWT_AUTO;

    if (cf->args->nelts == 3) {
        alg = ngx_http_order_edit_jwt_alg_parse((char *) value[2].data,
                                                value[2].len);
        if (alg < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid algorithm \"%V\", expected auto, "
                               "PS256, PS384, PS512, ES256, ES384 or ES512",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    path = value[1];

    if (ngx_http_order_edit_read_conf_file(cf, &path, 65536, &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_order_edit_jwt_key_load((char *) text.data, text.len,
                                          (ngx_http_order_edit_jwt_alg_e) alg,
                                          &pkey, &out, err, sizeof(err));

    ngx_explicit_memzero(text.data, text.len);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V \"%V\": %s",
                           &value[0], &path, err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(pkey);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_order_edit_ns_pkey_free;
    cln->data = pkey;

    key->pkey = pkey;
    key->alg = out;
    key->file = path;
    key->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static void
ngx_http_order_edit_ns_pkey_free(void *data)
{
    EVP_PKEY_free(data);
}


/* scope rest_webservices | restlets | suite_analytics ...: "a,b" */

static char *
ngx_http_order_edit_ns_scope(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    u_char      *p;
    size_t       len;
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (ns->oauth2.scope.len) {
        return "is duplicate";
    }

    len = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strcmp(value[i].data, "rest_webservices") != 0
            && ngx_strcmp(value[i].data, "restlets") != 0
            && ngx_strcmp(value[i].data, "suite_analytics") != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid scope \"%V\", expected "
                               "rest_webservices, restlets or "
                               "suite_analytics", &value[i]);
            return NGX_CONF_ERROR;
        }

        len += value[i].len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ns->oauth2.scope.data = p;

    for (i = 1; i < cf->args->nelts; i++) {
        if (i > 1) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, value[i].data, value[i].len);
    }

    ns->oauth2.scope.len = p - ns->oauth2.scope.data;
    *p = '\0';

    return NGX_CONF_OK;
}



static char *
ngx_http_order_edit_ns_concurrency(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->concurrency != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid concurrency \"%V\", expected the "
                           "account's allocation, 1 to 1000", &value[1]);
        return NGX_CONF_ERROR;
    }

    ns->concurrency = n;

    return NGX_CONF_OK;
}




static char *
ngx_http_order_edit_ns_retry_backoff(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_msec_t   min, max;
    ngx_str_t   *value;

    value = cf->args->elts;

    if (ns->backoff_min != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    min = ngx_parse_time(&value[1], 0);
    max = ngx_parse_time(&value[2], 0);

    if (min == (ngx_msec_t) NGX_ERROR || max == (ngx_msec_t) NGX_ERROR
        || min == 0 || max < min)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid retry_backoff \"%V %V\", expected the "
                           "first and the longest wait, like 1s 5m",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    ns->backoff_min = min;
    ns->backoff_max = max;

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_lock_after(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->lock_after) {
        return "is duplicate";
    }

    if (value[1].len != 1 || value[1].data[0] < 'A'
        || value[1].data[0] > 'H')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lock_after \"%V\", expected a Sales "
                           "Order status letter from A to H", &value[1]);
        return NGX_CONF_ERROR;
    }

    ns->lock_after = value[1].data[0];

    return NGX_CONF_OK;
}


/*
 * refund_payout off | account [payment_method]: the internal ids of the
 * bank account a Customer Refund pays from and of its payment method.
 */

static char *
ngx_http_order_edit_ns_refund_payout(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (ns->payout_set) {
        return "is duplicate";
    }

    ns->payout_set = 1;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    /* they go into a JSON body as they are: internal ids, digits only */

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || value[i].len > 20
            || ngx_atoi(value[i].data, value[i].len) == NGX_ERROR)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid refund_payout \"%V\", expected "
                               "\"off\" or the internal ids of a bank "
                               "account and a payment method", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    ns->payout_account = value[1];

    if (cf->args->nelts == 3) {
        ns->payout_method = value[2];
    }

    return NGX_CONF_OK;
}


/*
 * on_missing retry [time] | exception
 *          | create [customers=find|create] [match=external_id|email]
 *                   [guest=id] [subsidiary=id]
 */

static char *
ngx_http_order_edit_ns_on_missing(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    time_t      s;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->on_missing != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "retry") == 0 && cf->args->nelts <= 3) {
        ns->on_missing = NGX_HTTP_ORDER_EDIT_NS_MISSING_RETRY;

        if (cf->args->nelts == 3) {
            s = ngx_parse_time(&value[2], 1);

            if (s == (time_t) NGX_ERROR || s == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid time \"%V\"", &value[2]);
                return NGX_CONF_ERROR;
            }

            ns->missing_retry_for = s;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "create") == 0) {
        ns->on_missing = NGX_HTTP_ORDER_EDIT_NS_MISSING_CREATE;
        return ngx_http_order_edit_ns_create_args(cf, ns);
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "exception") == 0)
    {
        ns->on_missing = NGX_HTTP_ORDER_EDIT_NS_MISSING_EXCEPTION;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid on_missing, expected \"retry [time]\", "
                       "\"create [customers=find|create] "
                       "[match=external_id|email] [guest=id] "
                       "[subsidiary=id]\" or \"exception\"");

    return NGX_CONF_ERROR;
}


/*
 * A Sales Order create needs its customer (entity): the order's own,
 * found by external id (customers=find, the default), then by email
 * (match=email), or made when absent (customers=create, in OneWorld with
 * subsidiary=); guest= for orders without one.
 */

static char *
ngx_http_order_edit_ns_create_args(ngx_conf_t *cf,
    ngx_http_order_edit_netsuite_conf_t *ns)
{
    ngx_str_t   *value, v, *to;
    ngx_uint_t   i, k;

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "customers=find") == 0) {
            ns->create_customers = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "customers=create") == 0) {
            ns->create_customers = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "match=external_id") == 0) {
            ns->match_email = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "match=email") == 0) {
            ns->match_email = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "guest=", 6) == 0) {
            to = &ns->guest_customer;
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;

        } else if (ngx_strncmp(value[i].data, "subsidiary=", 11) == 0) {
            to = &ns->new_customer_subsidiary;
            v.data = value[i].data + 11;
            v.len = value[i].len - 11;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\", expected "
                               "\"customers=find|create\", "
                               "\"match=external_id|email\", \"guest=id\" "
                               "or \"subsidiary=id\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        /* an internal id: it goes into JSON and URLs as it is */
        for (k = 0; k < v.len; k++) {
            if (v.data[k] < '0' || v.data[k] > '9') {
                break;
            }
        }

        if (v.len == 0 || v.len > 20 || k < v.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\", expected a NetSuite "
                               "internal id (digits)", &value[i]);
            return NGX_CONF_ERROR;
        }

        *to = v;
    }

    if (ns->new_customer_subsidiary.len && !ns->create_customers) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"subsidiary=\" is for the customers "
                           "\"customers=create\" makes");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* lookup external_id | suiteql <custom body field> */

static char *
ngx_http_order_edit_ns_lookup(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    u_char     *p, *last;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->lookup != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "external_id") == 0)
    {
        ns->lookup = NGX_HTTP_ORDER_EDIT_NS_LOOKUP_EXTERNAL_ID;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts != 3 || ngx_strcmp(value[1].data, "suiteql") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lookup, expected \"external_id\" or "
                           "\"suiteql <field>\"");
        return NGX_CONF_ERROR;
    }

    /* the field goes into a SuiteQL query: an identifier, nothing else */
    for (p = value[2].data, last = p + value[2].len; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid SuiteQL field \"%V\", expected a "
                               "field id like custbody_shopify_order_id",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    ns->lookup = NGX_HTTP_ORDER_EDIT_NS_LOOKUP_SUITEQL;
    ns->lookup_field = value[2];

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_path(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_str_t        *value;
    ngx_file_info_t   fi;

    value = cf->args->elts;

    if (ns->ca_file.len) {
        return "is duplicate";
    }

    ns->ca_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &ns->ca_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(ns->ca_file.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_file_info_n " \"%V\" failed", &ns->ca_file);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_proxy(ngx_conf_t *cf, void *conf)
{
    ngx_http_order_edit_netsuite_conf_t  *ns = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ns->proxy.len) {
        return "is duplicate";
    }

    if (!(value[1].len > 7
          && (ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0
              || ngx_strncasecmp(value[1].data, (u_char *) "https://", 8)
                 == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid proxy \"%V\", expected "
                           "http://host:port", &value[1]);
        return NGX_CONF_ERROR;
    }

    ns->proxy = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_msec_positive(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    return (*ms == 0) ? "must be longer than 0" : NGX_CONF_OK;
}


static char *
ngx_http_order_edit_ns_sec_positive(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *s = data;

    return (*s == 0) ? "must be longer than 0" : NGX_CONF_OK;
}
