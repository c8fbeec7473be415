
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_limit.h"


/*
 * "rate 10r/s [burst=20];" shaped like limit_req, whose excess and burst
 * are in 1/1000 requests; the rate is kept as n requests per 1 or 60
 * seconds so that per-minute rates drain and answer Retry-After exactly.
 */

char *
ngx_http_order_edit_parse_rate(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t n, ngx_http_order_edit_store_conf_t *store)
{
    u_char      *p;
    size_t       len;
    ngx_int_t    rate, scale, burst;
    ngx_uint_t   i;

    p = value[1].data;
    len = value[1].len;
    scale = 1;

    if (len > 3 && ngx_strncmp(p + len - 3, "r/s", 3) == 0) {
        len -= 3;

    } else if (len > 3 && ngx_strncmp(p + len - 3, "r/m", 3) == 0) {
        scale = 60;
        len -= 3;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\", expected <n>r/s or <n>r/m",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    rate = ngx_atoi(p, len);
    if (rate <= 0 || rate > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    burst = 0;

    for (i = 2; i < n; i++) {

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (burst < 0 || burst > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    store->rate_n = rate;
    store->rate_period = scale;
    store->burst = burst * 1000;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_order_edit_limit(ngx_http_order_edit_shop_t *shop,
    ngx_http_order_edit_store_conf_t *store, time_t *retry_after)
{
    int64_t         excess, drained, n, period;
    ngx_msec_t      now, wait;
    ngx_msec_int_t  ms;

    if (store->rate_n == 0) {
        return NGX_OK;
    }

    now = ngx_current_msec;

    if (shop->last == 0) {
        /* the first request of a shop starts with an empty bucket */
        shop->last = now;
        shop->excess = 0;
        return NGX_OK;
    }

    ms = (ngx_msec_int_t) (now - shop->last);

    /* clocks of different workers may disagree by a few ms */
    if (ms < -60000) {
        ms = 1;

    } else if (ms < 0) {
        ms = 0;

    } else if (ms > 0x7fffffff) {
        /* weeks idle: the bucket is long empty, and no product overflows */
        ms = 0x7fffffff;
    }

    n = (int64_t) store->rate_n;
    period = (int64_t) store->rate_period;

    /* n requests per period seconds drain n * ms / period thousandths */
    drained = n * ms / period;

    excess = (int64_t) shop->excess - drained + 1000;

    if (excess < 0) {
        excess = 0;
    }

    if ((uint64_t) excess > store->burst) {

        /* the time until one more request fits under the burst */
        wait = (ngx_msec_t) (((excess - (int64_t) store->burst) * period
                              + n - 1) / n);

        *retry_after = (time_t) ((wait + 999) / 1000);

        if (*retry_after < 1) {
            *retry_after = 1;
        }

        return NGX_BUSY;
    }

    shop->excess = (ngx_uint_t) excess;

    if (ms) {
        shop->last = now;
    }

    return NGX_OK;
}
