# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# Every row of the ingest contract (DESIGN.md section 4).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret test_secret_key;
        max_body 4k;
    }
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
_EOC_

our $Body = ::order_body(820982911946154508, 600);

run_tests();

__DATA__

=== TEST 1: Shopify's published HMAC vector is accepted and queued
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . '{"foo": "bar"}'
--- more_headers
X-Shopify-Hmac-Sha256: B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=
X-Shopify-Shop-Domain: acme.myshopify.com
X-Shopify-Topic: orders/updated
X-Shopify-Webhook-Id: b54557e4-bdd9-4b37-8a5f-bf7d70bcd043
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
{"status":"queued","id":"1"}
--- no_error_log
[error]
[warn]



=== TEST 2: the same webhook id again is a duplicate, not queued twice
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "GET /status"]
--- more_headers eval
::webhook_headers('test_secret_key', $::Body, 'wh-dup-1')
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['^\{"status":"queued","id":"1"\}$',
 '^\{"status":"duplicate","id":"1"\}$',
 '"queue_depth": 1,']
--- no_error_log
[error]



=== TEST 3: without a webhook id the event id de-duplicates
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body]
--- more_headers eval
[::webhook_headers('test_secret_key', $::Body, undef, event_id => 'ev-1'),
 ::webhook_headers('test_secret_key', $::Body, undef, event_id => 'ev-1'),
 ::webhook_headers('test_secret_key', $::Body, 'ev-1')]
--- response_body_like eval
['"queued","id":"1"', '"duplicate","id":"1"', '"queued","id":"2"']
--- no_error_log
[error]



=== TEST 4: the un-prefixed shopify-* headers of event deliveries work too
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
my $h = ::webhook_headers('test_secret_key', $::Body, 'ev-9');
$h =~ s/^X-Shopify-/shopify-/mg;
$h
--- error_code: 200
--- response_body
{"status":"queued","id":"1"}



=== TEST 5: a topic the store does not take is answered 200 ignored
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret test_secret_key;
        topics orders/updated refunds/create;
    }
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "GET /status"]
--- more_headers eval
[::webhook_headers('test_secret_key', $::Body, 'w5', topic => 'orders/paid'),
 '']
--- error_code eval
[200, 200]
--- response_body_like eval
['^\{"status":"ignored"\}$', '"ignored": 1,[^}]*"queue_depth": 0,']



=== TEST 6: GET is 405 with Allow: POST and a JSON body
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /wh
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body
{"error":"method_not_allowed","message":"webhooks are delivered with POST"}
--- error_log
webhook rejected with 405



=== TEST 7: each missing header is a 400 that names it
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body,
 "POST /wh\n" . $::Body]
--- more_headers eval
[map { my $h = ::webhook_headers('test_secret_key', $::Body, 'w7');
       $h =~ s/^$_:[^\n]*\n//mi; $h }
 qw(X-Shopify-Hmac-Sha256 X-Shopify-Shop-Domain X-Shopify-Topic
    X-Shopify-Webhook-Id)]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
['{"error":"invalid_header","message":"X-Shopify-Hmac-Sha256 is required"}
',
'{"error":"invalid_header","message":"X-Shopify-Shop-Domain is required"}
',
'{"error":"invalid_header","message":"X-Shopify-Topic is required"}
',
'{"error":"invalid_header","message":"X-Shopify-Webhook-Id is required"}
']



=== TEST 8: malformed, oversized or repeated headers are 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body,
 "POST /wh\n" . $::Body, "POST /wh\n" . $::Body]
--- more_headers eval
[::webhook_headers('x', $::Body, 'w8', hmac => 'not-base64'),
 ::webhook_headers('test_secret_key', $::Body, 'w8',
                   shop => 'acme.myshopify.com/../x'),
 ::webhook_headers('test_secret_key', $::Body, 'w8', topic => 'orders'),
 ::webhook_headers('test_secret_key', $::Body, 'x' x 200),
 ::webhook_headers('test_secret_key', $::Body, 'w8',
                   extra => "X-Shopify-Topic: orders/updated\n")]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body_like eval
['X-Shopify-Hmac-Sha256 is invalid', 'X-Shopify-Shop-Domain is invalid',
 'X-Shopify-Topic is invalid', 'X-Shopify-Webhook-Id is invalid',
 'X-Shopify-Topic is sent more than once']



=== TEST 9: an empty body is 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n"
--- more_headers eval
::webhook_headers('test_secret_key', '', 'w9') . "Content-Length: 0\n"
--- error_code: 400
--- response_body
{"error":"empty_body","message":"the webhook body is empty"}



=== TEST 10: a bad signature and an unknown shop get the same 401
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "GET /status"]
--- more_headers eval
[::webhook_headers('wrong_secret', $::Body, 'w10'),
 ::webhook_headers('test_secret_key', $::Body, 'w10',
                   shop => 'other.myshopify.com'),
 '']
--- error_code eval
[401, 401, 200]
--- response_body_like eval
['^\{"error":"unauthorized","message":"the webhook signature could not be verified"\}$',
 '^\{"error":"unauthorized","message":"the webhook signature could not be verified"\}$',
 '"rejected_signature": 1,(?s:.*)"unknown_shop": 1']



=== TEST 11: a rejection logs one line at order_edit_log_level
--- http_config eval: $::HttpConfig
--- config
    order_edit_log_level error;
    location = /wh { order_edit_webhook edits; }
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('wrong_secret', $::Body, 'w11')
--- error_code: 401
--- error_log eval
qr/\[error\] .*order_edit: webhook rejected with 401 unauthorized: the webhook signature could not be verified, shop "acme.myshopify.com"/



=== TEST 12: a tampered body fails the signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $b = $::Body; $b =~ s/9\.99/0.99/; "POST /wh\n" . $b
--- more_headers eval
::webhook_headers('test_secret_key', $::Body, 'w11')
--- error_code: 401



=== TEST 13: a body over max_body is 413 in JSON, before it is read
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $b = ::order_body(1, 5000);
"POST /wh\n" . $b
--- more_headers eval
::webhook_headers('test_secret_key', ::order_body(1, 5000), 'w12')
--- error_code: 413
--- response_body
{"error":"body_too_large","message":"the webhook body is larger than max_body"}



=== TEST 14: the status shows every outcome per store
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "GET /wh",
 "GET /status"]
--- more_headers eval
[::webhook_headers('test_secret_key', $::Body, 'w13'),
 ::webhook_headers('test_secret_key', $::Body, 'w13'), '', '']
--- error_code eval
[200, 200, 405, 200]
--- response_body_like eval
['queued', 'duplicate', 'method_not_allowed',
 '"acme.myshopify.com": \{
      "store": "acme.myshopify.com",
      "received": 2,
      "queued": 1,
      "duplicate": 1,
      "rejected_signature": 0,
      "rejected_request": 0,
      "rate_limited": 0,
      "ignored": 0,
      "queue_full": 0,
(?s:.*)      "queue_depth": 1,
      "in_flight": 0,
      "oldest_age_ms": \d+,
      "exceptions": 0
(?s:.*)"unattributed": \{
    "received": 1,
(?s:.*)"rejected_request": 1,']



=== TEST 15: Prometheus text format
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "GET /status?format=prometheus"]
--- more_headers eval
[::webhook_headers('test_secret_key', $::Body, 'w14'), '']
--- response_body_like eval
['queued',
 '# TYPE order_edit_webhooks_total counter
(?s:.*)order_edit_webhooks_total\{zone="edits",shop="acme.myshopify.com",store="acme.myshopify.com",outcome="queued"\} 1
(?s:.*)order_edit_queue_depth\{zone="edits",shop="acme.myshopify.com"\} 1
(?s:.*)order_edit_zone_bytes\{zone="edits",kind="total"\} 1048576
']



=== TEST 16: status refuses other methods and unknown formats
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /status\nx", "GET /status?format=xml"]
--- error_code eval
[405, 400]
--- response_body_like eval
['method_not_allowed', 'invalid_format']



=== TEST 17: a shop domain must be name.myshopify.com (Shopify's shape), even for the default store
--- http_config
    order_edit_zone edits:1m;
    order_edit_store default {
        secret test_secret_key;
    }
--- config eval: $::Config
--- request eval
[("POST /wh\n" . $::Body) x 9]
--- more_headers eval
[map({ ::webhook_headers('test_secret_key', $::Body, "w17-$_->[1]",
                         shop => $_->[0]) }
     ['..', 1], ['-', 2], [('a' x 241) . '.myshopify.com', 3],
     ['a.b.myshopify.com', 4], ['-a.myshopify.com', 5],
     [('a' x 64) . '.myshopify.com', 6], ['.myshopify.com', 7],
     ['a-b.myshopify.com', 8], [('a' x 63) . '.myshopify.com', 9])]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 200, 200]
--- response_body_like eval
[('^\{"error":"invalid_header","message":"X-Shopify-Shop-Domain is invalid"\}$') x 7,
 'queued', 'queued']



=== TEST 18: an unknown shop goes through the same checks as a bad signature: its body is read and hashed
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $big = ::order_body(1, 5000);
["POST /wh\n" . $big, "POST /wh\n" . $big, "POST /wh\n" . $::Body,
 "POST /wh\n" . $::Body, "GET /status"]
--- more_headers eval
my $big = ::order_body(1, 5000);
[::webhook_headers('wrong_secret', $big, 'w18'),
 ::webhook_headers('other', $big, 'w18', shop => 'other.myshopify.com'),
 ::webhook_headers('wrong_secret', $::Body, 'w18'),
 ::webhook_headers('other', $::Body, 'w18', shop => 'other.myshopify.com'),
 '']
--- error_code eval
[413, 413, 401, 401, 200]
--- response_body_like eval
['^\{"error":"body_too_large","message":"the webhook body is larger than max_body"\}$',
 '^\{"error":"body_too_large","message":"the webhook body is larger than max_body"\}$',
 '^\{"error":"unauthorized","message":"the webhook signature could not be verified"\}$',
 '^\{"error":"unauthorized","message":"the webhook signature could not be verified"\}$',
 '"unattributed": \{
    "received": 2,
(?s:.*)"rejected_signature": 1,
    "rejected_request": 1,(?s:.*)"unknown_shop": 2']
