# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# Secrets: files, rotation (two secrets at once) and the default store.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
_EOC_

our $Body = ::order_body(450789469, 700);

run_tests();

__DATA__

=== TEST 1: during a rotation the old and the new secret pass, a third fails
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret_file ../html/acme.secret;
    }
--- config eval: $::Config
--- user_files
>>> acme.secret
old-secret-2025
new-secret-2026
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body]
--- more_headers eval
[::webhook_headers('old-secret-2025', $::Body, 'r1'),
 ::webhook_headers('new-secret-2026', $::Body, 'r2'),
 ::webhook_headers('some-other-secret', $::Body, 'r3')]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', 'unauthorized']



=== TEST 2: CRLF line ends, blank lines and spaces around a secret are ignored
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret_file ../html/acme.secret;
    }
--- config eval: $::Config
--- user_files eval
[["acme.secret" => "\r\n  only-secret \r\n\r\n"]]
--- request eval
"POST /wh\n" . $::Body
--- more_headers eval
::webhook_headers('only-secret', $::Body, 'r4')
--- error_code: 200



=== TEST 3: two inline secrets rotate the same way
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret one;
        secret two;
    }
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body]
--- more_headers eval
[::webhook_headers('one', $::Body, 'r5'),
 ::webhook_headers('two', $::Body, 'r6'),
 ::webhook_headers('three', $::Body, 'r7')]
--- error_code eval
[200, 200, 401]



=== TEST 4: shops without a block use the default store; named ones do not
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
    order_edit_store default { secret public-app; }
--- config eval: $::Config
--- request eval
["POST /wh\n" . $::Body, "POST /wh\n" . $::Body, "POST /wh\n" . $::Body,
 "POST /wh\n" . $::Body, "GET /status"]
--- more_headers eval
[::webhook_headers('public-app', $::Body, 'd1',
                   shop => 'Globex.myshopify.com'),
 ::webhook_headers('public-app', $::Body, 'd2',
                   shop => 'initech.myshopify.com'),
 ::webhook_headers('public-app', $::Body, 'd3'),
 ::webhook_headers('wrong', $::Body, 'd4',
                   shop => 'hooli.myshopify.com'),
 '']
--- error_code eval
[200, 200, 401, 401, 200]
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', 'unauthorized', 'unauthorized',
 '"globex.myshopify.com": \{
      "store": "default",
      "received": 1,
      "queued": 1,
(?s:.*)"initech.myshopify.com": \{
      "store": "default",
(?s:.*)"acme.myshopify.com": \{
      "store": "acme.myshopify.com",
      "received": 1,
      "queued": 0,
      "duplicate": 0,
      "rejected_signature": 1,
(?s:.*)"unattributed": \{
    "received": 1,
    "queued": 0,
    "duplicate": 0,
    "rejected_signature": 1,']
--- no_error_log
[error]
