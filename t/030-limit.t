# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The per-shop rate limit: burst, 429 with Retry-After, recovery.
#
# Recovery needs time to pass between two requests of one block: nginx's
# own limit_req (burst, no nodelay) holds a second GET /pause for one
# second, which lets the shop's bucket drain without a sleep in the test.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        rate 2r/s burst=1;
    }
    order_edit_store globex.myshopify.com {
        secret globex;
        rate 30r/m;
    }
    limit_req_zone $server_name zone=pause:64k rate=1r/s;
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
    location = /pause { limit_req zone=pause burst=5; }
_EOC_

our $Body = ::order_body(1001, 500);

sub post { "POST /wh\n" . $::Body }

run_tests();

__DATA__

=== TEST 1: the burst passes, the next is 429 with Retry-After, then it recovers
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[::post(), ::post(), ::post(), "GET /pause", "GET /pause", ::post(),
 "GET /status"]
--- more_headers eval
[::webhook_headers('acme', $::Body, 'l1'),
 ::webhook_headers('acme', $::Body, 'l2'),
 ::webhook_headers('acme', $::Body, 'l3'),
 '', '',
 ::webhook_headers('acme', $::Body, 'l3'),
 '']
--- user_files
>>> pause
ok
--- error_code eval
[200, 200, 429, 200, 200, 200, 200]
--- response_headers eval
['!Retry-After', '!Retry-After', 'Retry-After: 1', '', '', '!Retry-After',
 '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"',
 '^\{"error":"rate_limited","message":"the store\'s webhook rate is exceeded"\}$',
 '^ok$', '^ok$',
 '"queued","id":"3"',
 '"acme.myshopify.com": \{
      "store": "acme.myshopify.com",
      "received": 4,
      "queued": 3,
      "duplicate": 0,
      "rejected_signature": 0,
      "rejected_request": 0,
      "rate_limited": 1,']



=== TEST 2: shops are limited separately; r/m rates give whole-second Retry-After
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[::post(), ::post(), ::post()]
--- more_headers eval
[::webhook_headers('globex', $::Body, 'g1', shop => 'globex.myshopify.com'),
 ::webhook_headers('globex', $::Body, 'g2', shop => 'globex.myshopify.com'),
 ::webhook_headers('acme', $::Body, 'a1')]
--- error_code eval
[200, 429, 200]
--- response_headers eval
['', 'Retry-After: 2', '']



=== TEST 3: duplicates count against the rate too, but signature failures do not
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[::post(), ::post(), ::post()]
--- more_headers eval
[::webhook_headers('bad', $::Body, 'g1', shop => 'globex.myshopify.com'),
 ::webhook_headers('globex', $::Body, 'g1', shop => 'globex.myshopify.com'),
 ::webhook_headers('globex', $::Body, 'g1', shop => 'globex.myshopify.com')]
--- error_code eval
[401, 200, 429]
