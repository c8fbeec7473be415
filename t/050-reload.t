# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# nginx -s reload (HUP) keeps the zone: queued webhooks, counters, the
# de-duplication ids and the limiter all survive; a resized empty zone is
# re-created with a notice.  Blocks run in order against one master.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

use_hup();
master_on();
no_shuffle();
repeat_each(1);
no_long_string();

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_zone spare:1m;
    order_edit_store acme.myshopify.com { secret acme; }
    order_edit_store globex.myshopify.com { secret globex; rate 1r/m; }
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
    location = /spare { order_edit_status spare; }
_EOC_

our $Body = ::order_body(5150, 800);

run_tests();

__DATA__

=== TEST 1: a webhook is queued before the reload
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('acme', $::Body, 'before-reload')
--- response_body
{"status":"queued","id":"1"}



=== TEST 2: after the reload the queue and the counters are still there
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /status
--- response_body_like
"queued_items": 1,(?s:.*)"reloads": 1\n(?s:.*)"acme.myshopify.com": \{
      "store": "acme.myshopify.com",
      "received": 1,
      "queued": 1,(?s:.*)"queue_depth": 1,



=== TEST 3: Shopify's retry after the reload is still a duplicate
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('acme', $::Body, 'before-reload')
--- response_body
{"status":"duplicate","id":"1"}



=== TEST 4: ids continue where they were
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('acme', $::Body, 'after-reload')
--- response_body
{"status":"queued","id":"2"}



=== TEST 5: a shop spends its one request a minute
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('globex', $::Body, 'g-1', shop => 'globex.myshopify.com')
--- error_code: 200



=== TEST 6: the limiter remembers it across the reload, and logs the 429 (59 s if the reload took a second)
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('globex', $::Body, 'g-2', shop => 'globex.myshopify.com')
--- error_code: 429
--- response_headers_like
Retry-After: (59|60)
--- error_log eval
qr/\[warn\] .*order_edit: rate limit of store "globex.myshopify.com" exceeded by shop "globex.myshopify.com", retry after (59|60) s/



=== TEST 7: an empty zone may change its size: it is re-created, with a notice
--- http_config eval
(my $c = $::HttpConfig) =~ s/spare:1m/spare:2m/;
$c
--- config eval: $::Config
--- request
GET /spare
--- response_body_like
"total_bytes": 2097152,
--- error_log
order_edit_zone "spare" re-created with size 2097152 (was 1048576)



=== TEST 8: the other zone kept its queue through that reload
--- http_config eval
(my $c = $::HttpConfig) =~ s/spare:1m/spare:2m/;
$c
--- config eval: $::Config
--- request
GET /status
--- response_body_like
"queued_items": 3,(?s:.*)"reloads": 7
