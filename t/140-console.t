# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The operations console: its directives and their errors, the page it
# serves (with its token, its own script and style, nothing from
# elsewhere), its JSON, and the POSTs it refuses.  The page in a real
# browser is t/console/test_console.py (make test-console).

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
    location /console { order_edit_console edits; }
    location /act {
        order_edit_console edits;
        order_edit_console_actions on;
    }
_EOC_

our $Body = ::order_body(450789469, 400);
our $Headers = ::webhook_headers('acme', $Body, 'c0');

our $Park = "GET /q?op=park&shop=acme.myshopify.com&id=1&token=1"
          . "&reason=fulfilment_lock&detail=orderStatus%20F";

our $Json = "Content-Type: application/json\n";

run_tests();

__DATA__

=== TEST 1: order_edit_console needs a zone that exists
--- http_config
    order_edit_zone edits:1m;
--- config
    location /console { order_edit_console nosuch; }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown order_edit_zone "nosuch" in \S+nginx\.conf:\d+$}



=== TEST 2: order_edit_console takes exactly one zone
--- http_config
    order_edit_zone edits:1m;
--- config
    location /console { order_edit_console; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "order_edit_console" directive}



=== TEST 3: order_edit_console is a location's only handler
--- http_config
    order_edit_zone edits:1m;
--- config
    location /console { order_edit_status edits; order_edit_console edits; }
--- must_die
--- error_log eval
qr{\[emerg\] .*a location takes one of order_edit_webhook, order_edit_status, order_edit_exceptions, order_edit_console, order_edit_report and order_edit_queue_debug, once}



=== TEST 4: order_edit_console belongs in a location
--- http_config
    order_edit_zone edits:1m;
    order_edit_console edits;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"order_edit_console" directive is not allowed here}



=== TEST 5: order_edit_console_actions is on or off
--- http_config
    order_edit_zone edits:1m;
--- config
    location /console {
        order_edit_console edits;
        order_edit_console_actions yes;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "yes" in "order_edit_console_actions" directive, it must be "on" or "off"}



=== TEST 6: the page: its token, read-only by default, nothing from elsewhere
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /console/
--- response_headers
Content-Type: text/html; charset=utf-8
X-Frame-Options: DENY
Cache-Control: no-store
Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'
--- response_body_like eval
qr{<meta name="oe-base" content="/console">\n<meta name="oe-token" content="\d+\.[0-9a-f]{64}">\n<meta name="oe-actions" content="off">\n<meta name="oe-user" content="">\n<link rel="stylesheet" href="/console/console.css">\n<script defer src="/console/console.js"></script>.*<h2 id="exceptions-h">Exceptions}s
--- no_error_log
[error]



=== TEST 7: the script and the style are the module's own, and the page says actions are on where they are
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /console/console.js", "GET /console/console.css", "GET /act",
 "GET /console/nothing-here", "DELETE /console/"]
--- error_code eval
[200, 200, 200, 404, 405]
--- response_body_like eval
['^/\*\n \* The operations console', '^/\*\n \* The console.s look',
 '<meta name="oe-actions" content="on">',
 '"error":"not_found"', '"error":"method_not_allowed"']



=== TEST 8: the console's JSON: status, history, exceptions and one exception's change
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n$::Body", "GET /console/api/status",
 "GET /console/api/history", "GET /q?op=lease", $::Park,
 "GET /console/api/exceptions", "GET /console/api/exceptions/1",
 "GET /console/api/exceptions/7"]
--- more_headers eval
[$::Headers, '', '', '', '', '', '', '']
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404]
--- response_body_like eval
['"queued"', '"acme.myshopify.com": \{\s*"store": "acme.myshopify.com",\s*"received": 1,',
 '"stores": \{\s*"acme.myshopify.com": \{\s*"received": \[[\s\dnul,]*\],\s*"depth": \[\s*(null,\s*){1438}[\dnul]+,\s*1\s*\],',
 '"id":1,', '"ok":true',
 '"reason": "fulfilment_lock",\s*"netsuite_error": "orderStatus F"',
 '"after": \{\s*"kind": "error",\s*"error": "missing_field",.*"before": null,\s*"id": "1",\s*"topic": "orders/updated",\s*"netsuite_error": "orderStatus F"',
 '"not_found"']



=== TEST 9: a POST without the page's token is refused, and logged
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /wh\n$::Body", "GET /q?op=lease", $::Park,
 "POST /act/api/exceptions/1/resolve\n{}",
 "POST /act/api/exceptions/1/resolve\n{}",
 "GET /act/api/exceptions/1/resolve",
 "GET /console/api/exceptions"]
--- more_headers eval
[$::Headers, '', '', $::Json,
 $::Json . "X-Order-Edit-Token: 1796590000.00000000000000000000000000000000000000000000000000000000000000ff\n",
 '', '']
--- error_code eval
[200, 200, 200, 403, 403, 405, 200]
--- response_body_like eval
['"queued"', '"id":1,', '"ok":true',
 '"forbidden","message":"the console.s token \(X-Order-Edit-Token\) is missing"',
 '"forbidden","message":"the console.s token is not valid or has expired',
 '"method_not_allowed"', '"count": 1']



=== TEST 10: a read-only console refuses every action
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /console/api/exceptions/1/retry
{}
--- more_headers eval
$::Json
--- error_code: 403
--- response_body_like eval
qr{"message":"the console is read-only here \(order_edit_console_actions\)"}
--- error_log eval
qr{\[warn\] .*order_edit: console retry of exception #1 by 127\.0\.0\.1 refused: the console is read-only here}



=== TEST 11: a POST without the page's token is logged with who sent it
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /act/api/exceptions/3/resolve
{}
--- more_headers eval
$::Json
--- error_code: 403
--- error_log eval
qr{\[warn\] .*order_edit: console resolve of exception #3 by 127\.0\.0\.1 refused: the console's token \(X-Order-Edit-Token\) is missing}



=== TEST 12: behind auth_request, the page is for those the subrequest lets in
--- http_config eval: $::HttpConfig
--- config
    location /console {
        order_edit_console edits;
        auth_request /auth;
    }
    location = /auth {
        internal;
        if ($http_x_pass = "yes") {
            return 204;
        }
        return 401;
    }
--- request eval
["GET /console/", "GET /console/", "GET /console/api/exceptions"]
--- more_headers eval
["", "X-Pass: yes\n", ""]
--- error_code eval
[401, 200, 401]



=== TEST 13: behind allow/deny, the page and its JSON are refused elsewhere
--- http_config eval: $::HttpConfig
--- config
    location /console {
        order_edit_console edits;
        allow 192.0.2.1;
        deny all;
    }
--- request eval
["GET /console/", "GET /console/api/status"]
--- error_code eval
[403, 403]
