# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The dispatcher end to end against the NetSuite simulator, as
# t/integration/test_dispatch.py does it in Python: one simulator for the
# file (t/lib/OrderEditSim.pm), reached by the dispatcher at
# $TEST_NGINX_SIM_PORT and by each block through /sim/ (its admin API,
# proxied), so that a block resets it, seeds orders, sets statuses,
# injects faults and reads records and counters as ordinary requests.
# GET /q?op=drain waits for the dispatcher instead of sleeping.
# TEST_NGINX_SIM_LOG=FILE keeps the simulator's log of every call.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use OrderEditTest;
use OrderEditSim;
use OrderEditDispatch qw(fixture edit webhook seed_record json_request seed
                         status_of faults all lines writes http_config
                         signing_preprocessor
                         $SO $CM $Reset $Drain $Ok $Drained $Config);

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(2);         # the dispatcher runs in worker 0, as in production
log_level('info');
timeout(10);        # a drain below waits at most 8 s

our $Edit = fixture('01-us-tax-exclusive.json');
our $Refund = fixture('28-refund-restock.json');
our $Cancel = fixture('27-orders-cancelled.json');

# the order as Shopify sent it at another time
sub at {
    my ($time, $body) = @_;
    return edit($body // $Edit, '"2024-03-05T10:15:30-05:00"', qq("$time"));
}

# the same order, another order id
sub order {
    my ($id, $body) = @_;
    return edit($body // $Edit, '450789469', $id);
}

# the order earlier that morning, with three of the red one (its own
# totals agree: the normaliser checks them)
our $Older = edit(at('2024-03-05T09:00:00-05:00'),
    qq("quantity": 2,\n      "current_quantity": 2,\n)
        . qq(      "fulfillable_quantity": 2,),
    qq("quantity": 3,\n      "current_quantity": 3,\n)
        . qq(      "fulfillable_quantity": 3,),
    '"price": "2.94"', '"price": "4.41"',
    '"total_line_items_price": "248.00"', '"total_line_items_price": "272.50"',
    '"subtotal_price": "248.00"', '"subtotal_price": "272.50"',
    '"total_tax": "14.88"', '"total_tax": "16.35"',
    '"total_price": "272.87"', '"total_price": "298.84"');

# another order of the shop
our $SO2 = 'shopify-acme-450790469';
our $Other = order('450790469');

# sixteen orders for the account's pool
our @Storm = map { 450789469 + 1000 * $_ } 1 .. 16;

# signed webhooks, the TBA keys and the SKU map for every block
my $sign = signing_preprocessor();

add_block_preprocessor(sub { $sign->(@_) });

run_tests();

__DATA__

=== TEST 1: an edit reaches the Sales Order: a line removed, a quantity changed
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 3, 199], [9999, 1, 5]]),
 ::webhook('e1', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/requests",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok,
 '"externalId":"shopify-acme-450789469"',
 '^\{"status":"queued","id":"1"\}',
 $::Drained,
 ::all(::lines([1001, 1], [1002, 2]), ::writes(2)),
 '"method":"PATCH","path":"/services/rest/record/v1/salesOrder/'
     . 'eid:shopify-acme-450789469","query":"replace=item"',
 '"401":0,.*"writes":\{"salesOrder":1\}',
 '"acked": 1,(?s:.*)"queue_depth": 0,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: an address change reaches the Sales Order's shipping address
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        shippingAddress => { addressee => 'Bob Norman',
                             addr1 => 'Chestnut Street 92',
                             city => 'Louisville', state => 'KY',
                             zip => '40202', country => { id => 'US' } }),
 ::webhook('a1', ::edit($::Edit,
                        '"Chestnut Street 92"' => '"Elm Street 7"',
                        '"city": "Louisville"' => '"city": "Lexington"',
                        '"zip": "40202"' => '"zip": "40507"')),
 $::Drain,
 "GET /sim/orders/eid:$::SO"]
--- error_code eval
[200, 201, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"addr1":"Chestnut Street 92"', '"queued"', $::Drained,
 '"shippingAddress":\{"addressee":"Bob Norman","addr1":"Elm Street 7",'
     . '"addr2":"","city":"Lexington","state":"KY","zip":"40507",'
     . '"country":"US",']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a refund becomes a Credit Memo with Shopify's exact values
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::status_of('G'),
 ::webhook('r1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"orderStatus":\{"id":"G"', '"queued"', $::Drained,
 '"externalId":"shopify-acme-refund-929361464",.*'
     . '"entity":\{"id":"42",.*"memo":"wrong size",.*'
     . '"custbody_shopify_refund_id":"929361464",'
     . '"custbody_shopify_sales_order":"shopify-acme-450789469",'
     . '"custbody_shopify_tax":11\.94,"custbody_shopify_total":210\.94,.*'
     . '"count":1,.*"item":\{"id":"1001","refName":"1001"\},"quantity":1,'
     . '"rate":[\d.]+,"amount":199\.00,.*"custcol_shopify_restock":true,'
     . '"custcol_shopify_tax":11\.94\}',
 '"writes":\{"creditMemo":1\}',
 '"acked": 1,(?s:.*)"queue_depth": 0,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: an edit after fulfilment is an exception; the order is untouched
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 3, 199]]),
 ::status_of('F'),
 ::webhook('f1', $::Edit),
 $::Drain,
 "GET /exc",
 "GET /sim/orders/eid:$::SO",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"orderStatus":\{"id":"F"', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"webhook_id": "f1",\s*"order_id": "450789469",\s*'
     . '"reason": "fulfilment_lock",\s*"netsuite_error": "orderStatus F '
     . '\(Pending Billing\) is past lock_after B: PATCH /services/rest/'
     . 'record/v1/salesOrder/eid:shopify-acme-450789469\?replace=item was '
     . 'not sent",(?s:.*)"count": 1,\n',
 ::all(::lines([1001, 3]), ::writes(1)),
 '"by_method_endpoint":\{"GET salesOrder":1\},.*"writes":\{\}']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: a duplicate, then an older snapshot: the order is never wound back
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::webhook('s1', $::Edit),
 $::Drain,
 ::webhook('s1', $::Edit),
 ::webhook('s0', $::Older),
 ::webhook('s2', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"',
 '^\{"status":"queued","id":"1"\}', $::Drained,
 '^\{"status":"duplicate","id":"1"\}',
 '^\{"status":"queued","id":"2"\}',
 '^\{"status":"queued","id":"3"\}',
 $::Drained,
 ::all(::lines([1001, 1], [1002, 2]), ::writes(2),
       '"custbody_shopify_updated_at":"2024-03-05T10:15:30-05:00",'),
 '"writes":\{"salesOrder":1\}',
 '"queued": 3,\s*"duplicate": 1,(?s:.*)"acked": 3,(?s:.*)'
     . '"stale": 2,\s*"coalesced": 0,']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: a burst of edits to one order is one NetSuite write, of the newest
Another order holds the account's only slot (concurrency 1) at the
simulator's gate while five snapshots of the order arrive, the newest
fourth: they become one PATCH, of 10:24.
--- http_config eval: ::http_config(concurrency => 1)
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::seed(eid => $::SO2),
 ::faults(gate => JSON::PP::true),
 ::webhook('o1', $::Other),
 "GET /q?op=drain&ms=300",
 "GET /status",
 (map { ::webhook("b$_->[0]", ::at("2024-03-05T10:$_->[1]:00-05:00")) }
      [0, 20], [1, 21], [2, 22], [3, 24], [4, 23]),
 ::faults(gate => JSON::PP::false),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/orders/eid:$::SO2",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 201, (200) x 15]
--- response_body_like eval
[$::Ok, '"externalId"', '"externalId"', '"gate":true',
 '^\{"status":"queued","id":"1"\}',
 '^\{"drained":false,"depth":1,"exceptions":0\}$',
 '"queue_depth": 1,\s*"in_flight": 1,',
 (map { '^\{"status":"queued","id":"' . $_ . '"\}' } 2 .. 6),
 '"gate":false',
 $::Drained,
 ::all('"custbody_shopify_updated_at":"2024-03-05T10:24:00-05:00",',
       ::writes(2)),
 ::all('"custbody_shopify_updated_at":"2024-03-05T10:15:30-05:00",',
       ::writes(2)),
 '"PATCH salesOrder":2\},.*"writes":\{"salesOrder":2\}',
 '"acked": 6,(?s:.*)"stale": (?:'
     . CORE::join('|', map { "$_,\\s*\"coalesced\": " . (4 - $_) } 0 .. 4)
     . '),']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: a 5xx is retried, then applied
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 3, 199], [9999, 1, 5]]),
 ::faults(once => [{ fault => 'error', status => 503, method => 'PATCH',
                     count => 2 }]),
 ::webhook('x1', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, (200) x 6]
--- response_body_like eval
[$::Ok, '"externalId"', '"fault":"error"', '"queued"', $::Drained,
 ::all(::lines([1001, 1], [1002, 2]), ::writes(2)),
 '"by_status":\{"200":\d+,"204":1,"503":2\},.*"5xx":2,.*'
     . '"writes":\{"salesOrder":1\}',
 '"acked": 1,\s*"requeued": 2,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: a 429 storm: NetSuite's pool is smaller than configured
NetSuite allows 2 at once (other integrations share the account), nginx
is configured for 8, every request takes 150 ms: AIMD halves the limit,
the 429s are counted, and every order ends applied once.
--- http_config eval: ::http_config(concurrency => 8)
--- config eval: $::Config
--- timeout: 40
--- request eval
[$::Reset,
 ::json_request("POST /sim/concurrency", { limit => 2 }),
 ::faults(latency_ms => 150),
 ::seed([ map { ::seed_record(eid => "shopify-acme-$_") } @::Storm ]),
 (map { ::webhook("g$_", ::order($_)) } @::Storm),
 "GET /q?op=drain&ms=30000",
 "GET /sim/counters",
 "GET /sim/orders",
 "GET /status"]
--- error_code eval
[200, 200, 200, 201, (200) x 20]
--- response_body_like eval
[$::Ok, '"limit":2', '"latency_ms":150', '^\[\{',
 (map { '^\{"status":"queued","id":"' . $_ . '"\}' } 1 .. 16),
 $::Drained,
 '"5xx":0,.*"429":([1-9]|1[0-5]),"over_limit":\1,.*'
     . '"writes":\{"salesOrder":16\}',
 '^(?:(?:(?!"writes":).)*"writes":2,){16}(?:(?!"writes":).)*$',
 '"acked": 16,(?s:.*)"exceptions": 0\n(?s:.*)'
     . '"main": \{\s*"concurrency": 8,\s*"limit": [1-4],\s*"in_flight": 0,'
     . '\s*"requests": \d+,\s*"over_limit": [1-9]\d*,\s*"failed": 0,\s*'
     . '"latency_ms": \{\s*"p50": 256,']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: (the same nginx) the first 429 halved the account's limit, logged
--- request
GET /status
--- response_body_like: "acked": 16,
--- error_log
NetSuite "main" at 4 requests at once (was 8): the account is over its limit



=== TEST 10: a timeout: NetSuite answers too late; retried, applied once
The PATCH takes 2 s against a timeout of 1 s: nginx gives up and retries,
NetSuite applies it anyway. The simulator allows one request at a time,
so the retry (429 meanwhile) reads the order only once the abandoned
PATCH is done: NetSuite holds this snapshot already, and it is not sent
again (stale). One write, the order as sent.
--- http_config eval: ::http_config(timeout => '1s')
--- config eval: $::Config
--- request eval
[$::Reset,
 ::json_request("POST /sim/concurrency", { limit => 1 }),
 ::seed(lines => [[1001, 3, 199], [9999, 1, 5]]),
 ::faults(once => [{ fault => 'latency', ms => 2000, method => 'PATCH' }]),
 ::webhook('t1', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 200, 201, (200) x 6]
--- response_body_like eval
[$::Ok, '"limit":1', '"externalId"', '"fault":"latency"', '"queued"',
 $::Drained,
 ::all(::lines([1001, 1], [1002, 2]), ::writes(2)),
 '"PATCH salesOrder":1\},.*"writes":\{"salesOrder":1\}',
 '"acked": 1,\s*"requeued": [1-9]\d*,(?s:.*)"stale": 1,(?s:.*)'
     . '"exceptions": 0\n(?s:.*)"in_flight": 0,\s*"requests": \d+,\s*'
     . '"over_limit": \d+,\s*"failed": 1,']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: a refund's answer is lost after it was applied: one Credit Memo
The PUT is applied, then the connection is reset instead of answered;
the webhook is delivered again and the PUT to the refund's eid:
(replace=item) leaves one Credit Memo, with its one line, written twice,
and no exception.  The retry is the dispatcher's, signed afresh: libcurl
is not allowed to re-send the request by itself on a new connection (it
would repeat the OAuth nonce, which NetSuite refuses as a replay: 401).
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::faults(once => [{ fault => 'lost_response', method => 'PUT',
                     path => 'creditMemo' }]),
 ::webhook('l1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, (200) x 6]
--- response_body_like eval
[$::Ok, '"externalId"', '"fault":"lost_response"', '"queued"', $::Drained,
 ::all('^\[\{(?:(?!"_sim").)*"_sim":\{[^}]*\}\}\]$', ::writes(2),
       '"externalId":"shopify-acme-refund-929361464",',
       '"custbody_shopify_total":210\.94,',
       ::lines([1001, 1]), '"amount":199\.00,'),
 '"401":0,.*"writes":\{"creditMemo":2\},.*"lost_response":1,',
 '"acked": 1,\s*"requeued": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
refused the signature
[alert]
[crit]



=== TEST 12: bad TBA keys: 401, nothing written, the webhook waits
--- http_config eval: ::http_config(token_secret_file => 'ts-wrong')
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::webhook('k1', $::Edit),
 "GET /q?op=drain&ms=1000",
 "GET /sim/counters",
 "GET /sim/orders/eid:$::SO",
 "GET /status",
 "GET /exc"]
--- error_code eval
[200, 201, (200) x 6]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"',
 '^\{"drained":false,"depth":1,"exceptions":0\}$',
 '"2xx":0,"4xx":([1-9]\d*),"5xx":0,"401":\1,.*"auth_failures":\1,.*'
     . '"writes":\{\}',
 ::all(::lines([1001, 3]), ::writes(1)),
 '"acked": 0,\s*"requeued": [1-9]\d*,(?s:.*)"queue_depth": 1,'
     . '(?s:.*)"exceptions": 0\n',
 '"count": 0,\n']
--- no_error_log
[alert]
[crit]



=== TEST 13: (the same nginx) the error log names the account; still queued
--- request
GET /q?op=drain&ms=500
--- response_body
{"drained":false,"depth":1,"exceptions":0}
--- error_log eval
my $re = '\[error\] .*NetSuite refused the signature of "main" '
       . '\(check the TBA keys and the clock\): HTTP 401 INVALID_LOGIN_ATTEMPT';
qr/$re/



=== TEST 14: a slow NetSuite does not slow the webhooks' answers
NetSuite takes 2.5 s a request: the second webhook is answered (queued)
while NetSuite has not yet answered the dispatcher's first request.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::seed(eid => $::SO2),
 ::faults(latency_ms => 2500),
 ::webhook('w1', $::Edit),
 "GET /q?op=drain&ms=500",
 ::webhook('w2', $::Other),
 "GET /sim/counters",
 "DELETE /sim/faults",
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/orders/eid:$::SO2",
 "GET /status"]
--- error_code eval
[200, 201, 201, (200) x 10]
--- response_body_like eval
[$::Ok, '"externalId"', '"externalId"', '"latency_ms":2500',
 '^\{"status":"queued","id":"1"\}',
 '^\{"drained":false,"depth":1,"exceptions":0\}$',
 '^\{"status":"queued","id":"2"\}',
 '"2xx":0,.*"in_flight":[12],',
 '"latency_ms":0',
 $::Drained,
 '"custbody_shopify_updated_at":"2024-03-05T10:15:30-05:00"',
 '"custbody_shopify_updated_at":"2024-03-05T10:15:30-05:00"',
 '"acked": 2,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 22: a taxed refund whose tax kind nobody knows is an exception, nothing written
The store does not say whether its prices include tax and the Sales Order
carries no custbody_shopify_taxes_included (written by the module with
every order; this one was made by someone else): the two readings of the
refund differ by its tax, so it is not guessed.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]]),
 ::webhook('t1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /exc",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"webhook_id": "t1",(?s:.*)"reason": "tax_kind_unknown",',
 '"by_method_endpoint":\{"GET salesOrder":1\},.*"writes":\{\}']
--- no_error_log
[alert]
[crit]



=== TEST 23: the store's taxes_included answers for a refund without asking NetSuite
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1\n        taxes_included off;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]]),
 ::webhook('t2', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 '"custbody_shopify_tax":11\.94,"custbody_shopify_total":210\.94,',
 '"by_method_endpoint":\{"GET salesOrder":1,"PUT creditMemo":1\},']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 24: an edit updates the order's lines in place, by their Shopify key
The order holds three lines written earlier (lines 1..3, keyed by their
Shopify line ids); Shopify now has two of them, one with another
quantity.  The keyed replace names lines 1 and 2, so they keep their
identity (and what the warehouse or another system holds of them); line
3 goes.  Without the keys every line would be deleted and added anew.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199, '466157049'], [1002, 3, 24.5, '518995019'],
                  [1003, 1, 5, '777']]),
 ::webhook('k1', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/requests"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 ::all('"item":\{"links":\[[^\]]*\],"count":2,',
       '"line":1,"item":\{"id":"1001","refName":"1001"\},"quantity":1,',
       '"line":2,"item":\{"id":"1002","refName":"1002"\},"quantity":2,',
       '"custcol_shopify_line_id":"518995019"'),
 ::all('"method":"PATCH","path":"[^"]*salesOrder/eid:shopify-acme-450789469",'
       . '"query":"replace=item"',
       '"custcol_shopify_line_id":"466157049","custcol_shopify_tax":11.94,'
       . '"line":1\}',
       '"custcol_shopify_line_id":"518995019","custcol_shopify_tax":2.94,'
       . '"line":2\}')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 25: a cancellation closes every line; the order is Closed
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199, '466157049'], [1002, 2, 24.5, '518995019']]),
 ::webhook('c1', $::Cancel, 'orders/cancelled'),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 ::all('"orderStatus":\{"id":"H"',
       '"isClosed":true,[^{]*"custcol_shopify_line_id":"466157049"',
       '"isClosed":true,[^{]*"custcol_shopify_line_id":"518995019"',
       '"custbody_shopify_cancelled":true'),
 '"acked": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 26: a cancellation after fulfilment is an exception; nothing is closed
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199, '466157049']]),
 ::status_of('F'),
 ::webhook('c2', $::Cancel, 'orders/cancelled'),
 $::Drain,
 "GET /exc",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"orderStatus":\{"id":"F"', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"webhook_id": "c2",(?s:.*)"reason": "fulfilment_lock",',
 '"writes":\{\}']
--- no_error_log
[alert]
[crit]



=== TEST 27: a custom field the account does not have is refused loudly, not dropped
The module sends X-NetSuite-PropertyNameValidation: Error with every
write: NetSuite otherwise drops a property it does not know, and a
misspelt (or never created) custom field would vanish silently.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::json_request("POST /sim/custom_fields",
                { fields => [qw(custbody_shopify_order_id
                                custbody_shopify_updated_at
                                custbody_shopify_subtotal
                                custbody_shopify_discount custbody_shopify_tax
                                custbody_shopify_taxes_included
                                custcol_shopify_discount
                                custcol_shopify_line_id
                                custcol_shopify_tax)] }),
 ::webhook('p1', $::Edit),
 $::Drain,
 "GET /exc",
 "GET /sim/counters",
 ::json_request("POST /sim/custom_fields", { fields => undef })]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"fields":\[', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"webhook_id": "p1",(?s:.*)"netsuite_error": "HTTP 400 INVALID_CONTENT: .*custbody_shopify_total',
 '"writes":\{\}',
 '"fields":null']
--- no_error_log
[alert]
[crit]



=== TEST 28: NetSuite answers its overload with a bogus 401: the limit comes down all the same
NetSuite allows 2 at once and answers the excess with 401 "Invalid login
attempt" instead of 429: sent while others were in flight, the 401 halves
the account's limit like a 429, and every order ends applied once.
--- http_config eval: ::http_config(concurrency => 8)
--- config eval: $::Config
--- timeout: 40
--- request eval
[$::Reset,
 ::json_request("POST /sim/concurrency", { limit => 2 }),
 ::faults(latency_ms => 150, bogus_401_rate => 1.0),
 ::seed([ map { ::seed_record(eid => "shopify-acme-$_") } @::Storm ]),
 (map { ::webhook("b$_", ::order($_)) } @::Storm),
 "GET /q?op=drain&ms=30000",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 200, 200, 201, (200) x 19]
--- response_body_like eval
[$::Ok, '"limit":2', '"bogus_401_rate":1', '^\[\{',
 (map { '^\{"status":"queued","id":"' . $_ . '"\}' } 1 .. 16),
 $::Drained,
 '"429":0,.*"bogus_401":[1-9]\d*,.*"writes":\{"salesOrder":16\}',
 '"acked": 16,(?s:.*)"exceptions": 0\n(?s:.*)'
     . '"main": \{\s*"concurrency": 8,\s*"limit": [1-4],\s*"in_flight": 0,'
     . '\s*"requests": \d+,\s*"over_limit": [1-9]\d*,']
--- no_error_log
[alert]
[crit]



=== TEST 29: SuiteTax: Shopify's tax is NetSuite's tax, read back to the cent
With tax_details, the order carries taxDetailsOverride and one tax line
per taxed line (and shipping), so NetSuite keeps Shopify's tax instead
of computing its own; the read-back compares NetSuite's tax total and
total with Shopify's.
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1\n        tax_details 13 91;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::webhook('x1', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 ::all('"taxTotal":14\.88,', '"total":272\.87,',
       '"taxDetailsOverride":true',
       '"taxDetailsReference":"466157049","taxType":\{"id":"13"\},'
       . '"taxCode":\{"id":"91"\},"taxBasis":199\.00,"taxRate":6,'
       . '"taxAmount":11\.94\}'),
 '"acked": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 30: NetSuite's own tax stands despite the override: a discrepancy that shows both
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1\n        tax_details 13 91;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::json_request("POST /sim/tax_engine", { ignore_override => JSON::PP::true }),
 ::webhook('x2', $::Edit),
 $::Drain,
 "GET /exc",
 ::json_request("POST /sim/tax_engine", { ignore_override => JSON::PP::false })]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"ignore_override":true', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"reason": "discrepancy",\s*"netsuite_error": "read back after the write: '
 . 'NetSuite.s taxTotal is 0\.00, Shopify.s tax is 14\.88"',
 '"ignore_override":false']
--- no_error_log
[alert]
[crit]



=== TEST 31: another script saved the order meanwhile: the edit is retried, not parked
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::faults(once => [{ fault => 'changed', method => 'PATCH' }]),
 ::webhook('m1', $::Edit),
 $::Drain,
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"fault":"changed"', '"queued"', $::Drained,
 '"by_method_endpoint":\{"GET salesOrder":3,"PATCH salesOrder":2\},',
 '"acked": 1,\s*"requeued": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[alert]
[crit]





=== TEST 32: on_missing create: an order without a customer and no guest= is customer_missing
The read before the write answers 404 and the store creates missing
orders; NetSuite requires a new Sales Order's customer ("Please enter
value(s) for: Customer").  The order has no customer (a guest checkout)
and no guest= customer is configured: an exception that says so, and no
create goes out to be refused.
--- http_config eval: ::http_config(extra => 'on_missing create;')
--- config eval: $::Config
--- request eval
[$::Reset,
 ::webhook('c1', $::Edit),
 $::Drain,
 "GET /sim/requests",
 "GET /exc"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '(?s)^(?!.*"method":"PUT").*"method":"GET","path":"/services/rest/'
     . 'record/v1/salesOrder/eid:shopify-acme-450789469","query":'
     . '"expandSubResources=true","endpoint":"salesOrder","status":404',
 '"reason": "customer_missing",\s*"netsuite_error": "the order has no '
     . 'customer \(a guest checkout\) and on_missing create names no '
     . 'guest= customer"']
--- no_error_log
[alert]
[crit]



=== TEST 32a: on_missing create guest=: a guest checkout's order is created with the guest customer
The upsert PUT salesOrder/eid:X carries entity, which NetSuite requires
of a new Sales Order.
--- http_config eval: ::http_config(extra => 'on_missing create guest=42;')
--- config eval: $::Config
--- request eval
[$::Reset,
 ::webhook('c2', $::Edit),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /status"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":0\}$',
 '"entity":\s*\{\s*"id":\s*"42"',
 '"acked":\s*1\b']
--- no_error_log
[alert]
[crit]



=== TEST 32b: on_missing create customers=create: the order's customer is made in NetSuite, then the order with it
The Shopify customer has no NetSuite customer with its external id: POST
customer (a person, with the email and the subsidiary), then the upsert
names it as entity.
--- http_config eval: ::http_config(extra => 'on_missing create customers=create subsidiary=3;')
--- config eval: $::Config
--- request eval
my $with = $::Edit;
$with =~ s/^\{/{"customer": {"id": 207119551, "email": "bob\@example.com", "first_name": "Bob", "last_name": "Norman"},/ or die;
[$::Reset,
 ::webhook('c3', $with),
 $::Drain,
 "GET /sim/requests",
 "GET /sim/orders/eid:$::SO"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":0\}$',
 '(?s)"method":"GET","path":"/services/rest/record/v1/customer/eid:'
     . 'shopify-acme-customer-207119551".*"status":404'
     . '.*"method":"POST","path":"/services/rest/record/v1/customer"'
     . '.*"method":"PUT","path":"/services/rest/record/v1/salesOrder/',
 '"entity":\s*\{\s*"id":\s*"5001"']
--- no_error_log
[alert]
[crit]



=== TEST 33: tax_code: each of a line's Shopify tax lines goes under its own NetSuite tax code
The first line is taxed by two jurisdictions (GST 5 %, PST 1 %), the
second by a state tax no tax_code names.  GST is matched by title (any
case), PST by rate (0.010 is 0.01) with a tax type of its own; the state
tax takes tax_details' default code.  Every tax line has the line's
basis, and the amounts are Shopify's: NetSuite's tax total stays 14.88.
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1
        tax_details 13 91;
        tax_code title=gst 101;
        tax_code rate=0.010 102 14;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::webhook('t1', ::edit($::Edit,
     '{"title": "State Tax", "price": "11.94", "rate": 0.06,'
     => '{"title": "GST", "price": "9.95", "rate": 0.05}, '
        . '{"title": "PST", "price": "1.99", "rate": 0.01,')),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 ::all('"taxTotal":14\.88,', '"total":272\.87,',
       '"taxDetailsReference":"466157049","taxType":\{"id":"13"\},'
       . '"taxCode":\{"id":"101"\},"taxBasis":199\.00,"taxRate":5,'
       . '"taxAmount":9\.95\}',
       '"taxDetailsReference":"466157049","taxType":\{"id":"14"\},'
       . '"taxCode":\{"id":"102"\},"taxBasis":199\.00,"taxRate":1,'
       . '"taxAmount":1\.99\}',
       '"taxDetailsReference":"518995019","taxType":\{"id":"13"\},'
       . '"taxCode":\{"id":"91"\},"taxBasis":49\.00,"taxRate":6,'
       . '"taxAmount":2\.94\}'),
 '"acked": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]




=== TEST 34: tax_code: shipping's tax goes under the code of its own Shopify tax lines
Shipping taxed 0.60 by GST: its tax line (reference SHIPPING) takes
GST's code, not the default; the order's tax total is Shopify's 15.48.
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1
        tax_details 13 91;
        tax_code title=gst 101;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(),
 ::webhook('t2', ::edit($::Edit,
     '"discount_allocations": [], "tax_lines": []}'
     => '"discount_allocations": [], "tax_lines": [{"title": "GST", '
        . '"price": "0.60", "rate": 0.06}]}',
     '"total_tax": "14.88"' => '"total_tax": "15.48"',
     '"current_total_tax": "14.88"' => '"current_total_tax": "15.48"',
     '"total_price": "272.87"' => '"total_price": "273.47"',
     '"current_total_price": "272.87"' => '"current_total_price": "273.47"')),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 ::all('"taxTotal":15\.48,', '"total":273\.47,',
       '"taxDetailsReference":"SHIPPING","taxType":\{"id":"13"\},'
       . '"taxCode":\{"id":"101"\},"taxBasis":9\.99,"taxRate":6\.006,'
       . '"taxAmount":0\.60\}',
       '"taxDetailsReference":"466157049","taxType":\{"id":"13"\},'
       . '"taxCode":\{"id":"91"\}'),
 '"acked": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[error]
[alert]
[crit]


=== TEST 35: tax_code refuses a match that is neither a title nor a rate
--- http_config eval
my $c = ::http_config();
$c =~ s/(sku_map [^;]+;)/$1\n        tax_code state 101;/ or die;
$c
--- config eval: $::Config
--- must_die
--- error_log eval
qr{\[emerg\] .*"tax_code": invalid tax_code "state" "101", expected "title=<Shopify tax title>" or "rate=<decimal>".* in \S+nginx\.conf:\d+$}
