# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The exception queue: a leased webhook that cannot be applied safely is
# parked with a reason and NetSuite's answer (here through
# order_edit_queue_debug, as the dispatcher will), listed for people, and
# retried or resolved through order_edit_exceptions.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location = /status { order_edit_status edits; }
    location /exc { order_edit_exceptions edits; }
_EOC_

our @Body = map { ::order_body(450789469 + $_, 400) } 0 .. 1;
our @Post = map { "POST /wh\n" . $Body[$_] } 0 .. 1;
our @Headers = map { ::webhook_headers('acme', $Body[$_], "x$_") } 0 .. 1;

# how a page of the same origin, or curl, acts on an exception
our $Json = "Content-Type: application/json\n";

our $Park = "GET /q?op=park&shop=acme.myshopify.com&id=1&token=1"
          . "&reason=fulfilment_lock"
          . "&detail=orderStatus%20F%20(Pending%20Billing)%20is%20past%20B";

run_tests();

__DATA__

=== TEST 1: a parked webhook is listed with its reason and NetSuite's answer
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[@::Post, "GET /q?op=lease", $::Park, "GET /exc", "GET /status"]
--- more_headers eval
[@::Headers, '', '', '', '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', '"id":1,"token":1,',
 '^\{"ok":true\}$',
 '^\{
  "exceptions": \[
    \{
      "id": "1",
      "shop": "acme.myshopify.com",
      "store": "acme.myshopify.com",
      "topic": "orders/updated",
      "webhook_id": "x0",
      "order_id": "450789469",
      "reason": "fulfilment_lock",
      "netsuite_error": "orderStatus F \(Pending Billing\) is past B",
      "received_at": "20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
      "first_seen": "20\d\d-[^"]+Z",
      "last_seen": "20\d\d-[^"]+Z",
      "attempts": 1
    \}
  \],
  "count": 1,
  "resolved": \[\]
\}$',
 '"exceptions": 1,(?s:.*)"parked": 1,(?s:.*)"queue_depth": 1,
      "in_flight": 0,
      "oldest_age_ms": \d+,
      "exceptions": 1\n']
--- no_error_log
[error]
[alert]



=== TEST 2: retry puts it back in its FIFO place; it is leased before newer ones
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[@::Post, "GET /q?op=lease", $::Park, "POST /exc/1/retry",
 "GET /q?op=lease", "GET /exc", "GET /status"]
--- more_headers eval
[@::Headers, '', '', $::Json, '', '', '']
--- response_body_like eval
['queued', 'queued', '"id":1,', 'ok',
 '^\{"status":"requeued","id":"1"\}$',
 '"id":1,"token":2,.*"attempts":2,',
 '"exceptions": \[\],\s+"count": 0',
 '"exceptions_retried": 1,']



=== TEST 3: resolve drops it from the queue; it stays readable as resolved, with who did it
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], "GET /q?op=lease", $::Park, "POST /exc/1/resolve",
 "POST /exc/1/resolve", "GET /q?op=lease", "GET /status", "GET /exc",
 "GET /exc?shop=other.myshopify.com"]
--- more_headers eval
[$::Headers[0], '', '', $::Json, $::Json, '', '', '', '']
--- error_code eval
[200, 200, 200, 200, 404, 200, 200, 200, 200]
--- response_body_like eval
['queued', '"id":1,', 'ok', '^\{"status":"resolved","id":"1"\}$',
 '^\{"error":"not_found","message":"no exception with that id"\}$',
 '^\{"item":null\}$',
 '"queued_items": 0,\s+"exceptions": 0,(?s:.*)"exceptions_resolved": 1,',
 '^\{
  "exceptions": \[\],
  "count": 0,
  "resolved": \[
    \{
      "id": "1",
      "shop": "acme.myshopify.com",
(?s:.*)      "reason": "fulfilment_lock",
      "netsuite_error": "orderStatus F \(Pending Billing\) is past B",
(?s:.*)      "attempts": 1,
      "resolved_at": "20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
      "resolved_by": "127.0.0.1"
    \}
  \]
\}$',
 '"count": 0,\s+"resolved": \[\]']



=== TEST 3b: keep_resolved=0 keeps nothing once resolved
--- http_config eval: $::HttpConfig
--- config
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location /exc { order_edit_exceptions edits keep_resolved=0; }
--- request eval
[$::Post[0], "GET /q?op=lease", $::Park, "POST /exc/1/resolve", "GET /exc"]
--- more_headers eval
[$::Headers[0], '', '', $::Json, '']
--- response_body_like eval
['queued', '"id":1,', 'ok', 'resolved', '"count": 0,\s+"resolved": \[\]']



=== TEST 3c: a cross-site POST cannot act: a form, another Origin, Sec-Fetch-Site
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], "GET /q?op=lease", $::Park,
 "POST /exc/1/resolve\nid=1", "POST /exc/1/resolve", "POST /exc/1/resolve",
 "POST /exc/1/resolve", "POST /exc/1/retry", "GET /exc",
 "POST /exc/1/resolve"]
--- more_headers eval
[$::Headers[0], '', '',
 "Content-Type: application/x-www-form-urlencoded\n",
 $::Json . "Origin: http://evil.example\n",
 $::Json . "Sec-Fetch-Site: cross-site\n",
 $::Json . "Origin: null\n",
 "Content-Type: text/plain\n",
 '',
 $::Json . "Origin: http://localhost\nSec-Fetch-Site: same-origin\n"]
--- error_code eval
[200, 200, 200, 403, 403, 403, 403, 403, 200, 200]
--- response_body_like eval
['queued', '"id":1,', 'ok',
 '^\{"error":"forbidden","message":"Content-Type: application/json is required"\}$',
 '^\{"error":"forbidden","message":"a request from another origin may not act on exceptions"\}$',
 '^\{"error":"forbidden","message":"a cross-site request \(Sec-Fetch-Site\) may not act on exceptions"\}$',
 '^\{"error":"forbidden","message":"a request from another origin',
 'application/json is required',
 '"count": 1,',
 '^\{"status":"resolved","id":"1"\}$']



=== TEST 3d: the actor is $remote_user too, where nginx authenticates one
--- http_config eval: $::HttpConfig
--- config
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location /exc {
        auth_basic "exceptions";
        auth_basic_user_file ../html/htpasswd;
        order_edit_exceptions edits;
    }
--- user_files
>>> htpasswd
alice:{PLAIN}wonderland
--- request eval
[$::Post[0], "GET /q?op=lease", $::Park, "POST /exc/1/resolve", "GET /exc",
 "GET /exc"]
--- more_headers eval
[$::Headers[0], '', '',
 $::Json . "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\n",
 "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\n", '']
--- error_code eval
[200, 200, 200, 200, 200, 401]
--- response_body_like eval
['queued', '"id":1,', 'ok', 'resolved',
 '"resolved_by": "127\.0\.0\.1 user \W+alice\W+"', '']



=== TEST 4: a person's action is logged
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- more_headers eval: $::Json
--- request
POST /exc/7/retry
--- error_code: 404
--- no_error_log
exception #7



=== TEST 5: wrong methods and paths
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /exc", "GET /exc/1/retry", "POST /exc/1/delete", "POST /exc/x/retry",
 "POST /exc/1", "GET /exc?shop=nobody.myshopify.com"]
--- error_code eval
[405, 405, 404, 404, 404, 200]
--- response_headers eval
['Allow: GET, HEAD', 'Allow: POST', '', '', '', '']
--- response_body_like eval
['method_not_allowed', 'method_not_allowed',
 'expected <id>/retry or <id>/resolve', 'expected', 'expected',
 '"count": 0']



=== TEST 6: parking needs a live lease and a reason
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], $::Park, "GET /q?op=lease",
 "GET /q?op=park&shop=acme.myshopify.com&id=1&token=1"]
--- more_headers eval
[$::Headers[0], '', '', '']
--- error_code eval
[200, 409, 200, 400]
--- response_body_like eval
['queued', 'not_leased', '"id":1,', 'reason are required']
