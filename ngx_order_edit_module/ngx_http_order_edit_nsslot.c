
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include "ngx_http_order_edit_nsslot.h"


static ngx_uint_t ngx_http_order_edit_nsslot_check(
    ngx_http_order_edit_nsslot_t *s);
static struct ngx_http_order_edit_nsslot_refusal_s *
    ngx_http_order_edit_nsslot_refusal(ngx_http_order_edit_netsuite_conf_t *ns);
static ngx_uint_t ngx_http_order_edit_nsslot_over(
    ngx_http_order_edit_nsslot_t *s, ngx_http_order_edit_curl_req_t *req);
static ngx_http_order_edit_holder_t *ngx_http_order_edit_nsslot_holder(
    ngx_http_order_edit_account_t *a);
static ngx_uint_t ngx_http_order_edit_nsslot_full(
    ngx_http_order_edit_nsslot_t *s);


/* accounts whose refusals this worker remembers; more share the last */
#define NGX_HTTP_ORDER_EDIT_NSSLOT_REFUSED   16


typedef struct ngx_http_order_edit_nsslot_refusal_s {
    ngx_http_order_edit_netsuite_conf_t  *ns;
    ngx_msec_t                            at;
} ngx_http_order_edit_nsslot_refusal_t;


static ngx_http_order_edit_nsslot_refusal_t
    ngx_http_order_edit_nsslot_refused[NGX_HTTP_ORDER_EDIT_NSSLOT_REFUSED];


/*
 * Room under the account's limit?  The limit starts at the configured
 * concurrency and lives in the zone, so every worker dispatching to the
 * account shares it.
 */

ngx_uint_t
ngx_http_order_edit_nsslot_room(ngx_http_order_edit_nsslot_t *s)
{
    ngx_http_order_edit_nsslot_refusal_t  *r;

    if (ngx_http_order_edit_nsslot_check(s)
        || ngx_http_order_edit_nsslot_full(s))
    {
        return 1;
    }

    /* remembered for nsslot_spare() */
    r = ngx_http_order_edit_nsslot_refusal(s->ns);
    r->ns = s->ns;
    r->at = ngx_current_msec;

    return 0;
}


/*
 * Room for a request that yields to every other: this worker refused none
 * of the account's webhooks a slot in the last "yield" ms (a refused one
 * asks again a dispatcher interval later: a slot that comes free
 * meanwhile is still its), and the account has room.
 */

ngx_uint_t
ngx_http_order_edit_nsslot_spare(ngx_http_order_edit_nsslot_t *s,
    ngx_msec_t yield)
{
    ngx_http_order_edit_nsslot_refusal_t  *r;

    r = ngx_http_order_edit_nsslot_refusal(s->ns);

    if (r->ns != NULL && ngx_current_msec - r->at < yield) {
        return 0;
    }

    return ngx_http_order_edit_nsslot_check(s) > 0
           || ngx_http_order_edit_nsslot_full(s);
}


/*
 * The account is full: perhaps of slots a worker took with it when it
 * died during a reload (no successor takes its place to return them at
 * its start).  At most once a second a worker looks; 1 if room came.
 */

static ngx_uint_t
ngx_http_order_edit_nsslot_full(ngx_http_order_edit_nsslot_t *s)
{
    static ngx_msec_t  looked;

    if (ngx_current_msec - looked < 1000) {
        return 0;
    }

    looked = ngx_current_msec;

    return ngx_http_order_edit_nsslot_reclaim(s->zone, 0, ngx_cycle->log)
           && ngx_http_order_edit_nsslot_check(s);
}


/* the account's entry, or a free one; past the last, the last (shared) */

static ngx_http_order_edit_nsslot_refusal_t *
ngx_http_order_edit_nsslot_refusal(ngx_http_order_edit_netsuite_conf_t *ns)
{
    ngx_uint_t                             i;
    ngx_http_order_edit_nsslot_refusal_t  *r;

    r = ngx_http_order_edit_nsslot_refused;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_NSSLOT_REFUSED - 1; i++) {
        if (r[i].ns == ns || r[i].ns == NULL) {
            break;
        }
    }

    return &r[i];
}


/* the account's free slots, 0 for none */

static ngx_uint_t
ngx_http_order_edit_nsslot_check(ngx_http_order_edit_nsslot_t *s)
{
    ngx_uint_t                   room;
    ngx_http_order_edit_zone_t  *zone;

    zone = s->zone;
    room = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    s->acct = ngx_http_order_edit_account_lookup(zone, &s->ns->name, 1);

    if (s->acct != NULL) {
        if (s->acct->limit == 0 || s->acct->limit > s->ns->concurrency) {
            s->acct->limit = s->ns->concurrency;
        }

        if (s->acct->in_flight < s->acct->limit) {
            room = s->acct->limit - s->acct->in_flight;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return room;
}


/*
 * The slot is taken as soon as a job is started, while its JSON is parsed
 * elsewhere: jobs leased meanwhile must see the account as it will be.
 */

void
ngx_http_order_edit_nsslot_take(ngx_http_order_edit_nsslot_t *s)
{
    ngx_http_order_edit_holder_t  *h;

    ngx_shmtx_lock(&s->zone->shpool->mutex);

    s->acct->in_flight++;

    h = ngx_http_order_edit_nsslot_holder(s->acct);

    if (h != NULL) {
        h->pid = ngx_pid;
        h->slots++;
    }

    ngx_shmtx_unlock(&s->zone->shpool->mutex);

    s->taken = 1;
    s->holder = h;
}


void
ngx_http_order_edit_nsslot_give(ngx_http_order_edit_nsslot_t *s)
{
    ngx_http_order_edit_holder_t  *h;

    if (!s->taken) {
        return;
    }

    /* ours while it counts this slot: no other process takes it */
    h = s->holder;

    ngx_shmtx_lock(&s->zone->shpool->mutex);

    s->acct->in_flight--;

    if (h != NULL && h->pid == ngx_pid && h->slots > 0) {
        h->slots--;
    }

    ngx_shmtx_unlock(&s->zone->shpool->mutex);

    s->taken = 0;
    s->holder = NULL;
}


/*
 * Zone locked: this process's entry among the account's holders, else a
 * free one, else NULL (the slot is not tracked).
 */

static ngx_http_order_edit_holder_t *
ngx_http_order_edit_nsslot_holder(ngx_http_order_edit_account_t *a)
{
    ngx_uint_t                     i;
    ngx_http_order_edit_holder_t  *h, *empty;

    empty = NULL;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_ACCOUNT_HOLDERS; i++) {
        h = &a->holders[i];

        if (h->pid == ngx_pid) {
            return h;
        }

        if (h->slots == 0 && empty == NULL) {
            empty = h;
        }
    }

    return empty;
}


ngx_uint_t
ngx_http_order_edit_nsslot_reclaim(ngx_http_order_edit_zone_t *zone,
    ngx_uint_t start, ngx_log_t *log)
{
    u_char                          name[64];
    size_t                          len;
    ngx_uint_t                      i, n, all, named;
    ngx_queue_t                    *q;
    ngx_http_order_edit_holder_t   *h;
    ngx_http_order_edit_account_t  *a;

    all = 0;
    named = 0;
    len = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* bounded: the accounts configured, HOLDERS entries each */

    for (q = ngx_queue_head(&zone->sh->accounts);
         q != ngx_queue_sentinel(&zone->sh->accounts);
         q = ngx_queue_next(q))
    {
        a = ngx_queue_data(q, ngx_http_order_edit_account_t, all);
        n = 0;

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_ACCOUNT_HOLDERS; i++) {
            h = &a->holders[i];

            if (h->slots == 0) {
                continue;
            }

            if (!ngx_http_order_edit_pid_gone(h->pid, start)) {
                continue;
            }

            n += h->slots;
            h->slots = 0;
            h->pid = 0;
        }

        if (n == 0) {
            continue;
        }

        a->in_flight -= ngx_min(n, a->in_flight);
        all += n;

        /* the first account's name for the log line, after the lock */
        if (named++ == 0) {
            len = ngx_min((size_t) a->len, sizeof(name));
            ngx_memcpy(name, a->name, len);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (all) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "order_edit: %ui NetSuite request slots of account "
                      "\"%*s\"%s held by exited workers returned to zone "
                      "\"%V\"", all, len, name,
                      (named > 1) ? " and others" : "", &zone->name);
    }

    return all;
}


void
ngx_http_order_edit_nsslot_sent(ngx_http_order_edit_nsslot_t *s)
{
    ngx_shmtx_lock(&s->zone->shpool->mutex);
    s->epoch = s->acct->epoch;
    s->crowded = (s->acct->in_flight > 1);
    ngx_shmtx_unlock(&s->zone->shpool->mutex);
}


/*
 * Every answer is counted for the status, and steers the limit.  The
 * account's pool is shared with every other integration using it, so the
 * configured concurrency is a ceiling, not a promise: an over-limit
 * answer to a request sent under the current limit halves it (the others
 * out answer for the old one: once per round trip, as TCP does); eight
 * times the limit in successes at full use grow it by one.
 */

ngx_uint_t
ngx_http_order_edit_nsslot_answer(ngx_http_order_edit_nsslot_t *s,
    ngx_http_order_edit_curl_req_t *req, ngx_log_t *log)
{
    ngx_uint_t                      was, now, b, changed, over, level;
    ngx_msec_t                      ms;
    ngx_http_order_edit_zone_t     *zone;
    ngx_http_order_edit_account_t  *a;

    zone = s->zone;
    a = s->acct;
    changed = 0;
    over = ngx_http_order_edit_nsslot_over(s, req);

    ngx_shmtx_lock(&zone->shpool->mutex);

    a->requests++;

    if (req->outcome != NGX_HTTP_ORDER_EDIT_CURL_OK) {
        a->failed++;

    } else {
        for (b = 0, ms = req->time;
             ms > 1 && b < NGX_HTTP_ORDER_EDIT_LATENCY_BUCKETS - 1;
             ms >>= 1, b++)
        {
            /* void */
        }

        a->latency[b]++;
    }

    was = a->limit;

    if (over) {
        a->over_limit++;

        if (s->epoch == a->epoch && a->limit > 1) {
            a->limit /= 2;
            a->credit = 0;
            changed = 1;
        }

    } else if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_OK
               && req->status >= 200 && req->status < 300
               && a->in_flight >= a->limit
               && a->limit < s->ns->concurrency
               && ++a->credit >= 8 * a->limit)
    {
        /* in_flight still counts the request that succeeded */
        a->credit = 0;
        a->limit++;
        changed = 1;
    }

    if (changed) {
        a->epoch++;
    }

    now = a->limit;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    level = over ? NGX_LOG_WARN : NGX_LOG_INFO;

    if (changed) {
        ngx_log_error(level, log, 0,
                      "order_edit: NetSuite \"%V\" at %ui requests at "
                      "once (was %ui)%s", &s->ns->name, now, was,
                      over ? ": the account is over its limit" : "");
    }

    return over;
}


/*
 * Over the account's limit: 429 from the record API, 400 with
 * SSS_REQUEST_LIMIT_EXCEEDED from a RESTlet; fewer at once, a while.
 *
 * NetSuite sometimes answers an account over its limit with a 401
 * "Invalid login attempt".  Sent while other requests of ours were in
 * flight, a 401 is taken for that: the limit is halved like for a 429.
 * Alone in flight it cannot be our crowd, so it stays what it says (bad
 * keys, a clock): it lowers nothing, and retries end in an exception
 * when the retry budget is spent.
 */

static ngx_uint_t
ngx_http_order_edit_nsslot_over(ngx_http_order_edit_nsslot_t *s,
    ngx_http_order_edit_curl_req_t *req)
{
    if (req->outcome == NGX_HTTP_ORDER_EDIT_CURL_CANCELLED) {
        return 0;
    }

    if (req->status == 429 || (req->status == 401 && s->crowded)) {
        return 1;
    }

    return (req->status == 400 && req->body.len
            && ngx_strlcasestrn(req->body.data,
                                req->body.data + req->body.len,
                                (u_char *) "SSS_REQUEST_LIMIT_EXCEEDED",
                                26 - 1)
               != NULL);
}
