# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# "reconcile" in order_edit_store: every mistake stops nginx at start (as
# at nginx -t) with its file and line; and a run against a fake Admin API
# served by the same nginx: pages, the token, what is queued, a 429, and
# a next page on another host.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_long_string();

# every block reads the token from a file unless it brings its own
add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> shopify.token\nshpat_tok\n");
    }
});

run_tests();

__DATA__

=== TEST 1: a complete reconcile starts
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token api_version=2024-10
                  interval=15m window=1d overlap=5m timeout=10s
                  page_size=250 queue_max=10 zone=edits
                  url=https://acme.myshopify.com/;
    }
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]



=== TEST 2: no token file
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile interval=1m;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"reconcile" needs token_file=, the Admin API access token of store "acme.myshopify.com" in \S+nginx\.conf:\d+$}



=== TEST 3: a token file that is not there
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/missing.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*open\(\) "\S+missing\.token" failed .* in \S+nginx\.conf:\d+$}



=== TEST 4: an empty token file
--- user_files
>>> empty.token

--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/empty.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*token_file "\S+empty\.token" holds no token in \S+nginx\.conf:\d+$}



=== TEST 5: two tokens in the file
--- user_files
>>> two.token
shpat_one
shpat_two
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/two.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*holds more than one token, or a control character in \S+nginx\.conf:\d+$}



=== TEST 6: a bad api_version
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token api_version=2024-13;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid api_version "2024-13", expected YYYY-MM like 2024-10 in \S+nginx\.conf:\d+$}



=== TEST 7: a url that is not http(s)
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token url=ftp://acme;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid reconcile url "ftp://acme", expected https://host\[:port\] in \S+nginx\.conf:\d+$}



=== TEST 8: a page size Shopify does not serve
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token page_size=251;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid page_size "251", Shopify lists 1 to 250 orders a page in \S+nginx\.conf:\d+$}



=== TEST 9: a time that is not one
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token interval=often;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid time "interval=often" in "reconcile" in \S+nginx\.conf:\d+$}



=== TEST 10: an overlap as long as the window
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token window=10m overlap=10m;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*reconcile overlap \(600000 ms\) must be shorter than the window \(600000 ms\) in \S+nginx\.conf:\d+$}



=== TEST 11: an unknown parameter
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token every=1m;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "every=1m" in "reconcile", expected token_file=.* in \S+nginx\.conf:\d+$}



=== TEST 12: twice in one store
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        reconcile token_file=../html/shopify.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"reconcile" directive is duplicate in order_edit_store "acme.myshopify.com" in \S+nginx\.conf:\d+$}



=== TEST 13: not in the default store
--- http_config
    order_edit_zone edits:1m;
    order_edit_store default {
        secret acme;
        reconcile token_file=../html/shopify.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"reconcile" needs a shop's own store block, not "default" in \S+nginx\.conf:\d+$}



=== TEST 14: a run lists the pages with the token and queues what is new
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token
                  url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT
                  api_version=2024-10 page_size=2;
    }
    order_edit_dispatch edits interval=50ms;

    # the first page links to the second, which links nowhere
    map $arg_page_info $next_page {
        ""       '<http://127.0.0.1:$server_port/admin/api/2024-10/orders.json?limit=2&page_info=p2>; rel="next"';
        default  "";
    }
--- config
    location = /admin/api/2024-10/orders.json {
        add_header Link $next_page;
        if ($http_x_shopify_access_token != "shpat_tok") {
            return 401 '{"errors":"[API] Invalid API key or access token"}';
        }
        if ($arg_page_info = "p2") {
            return 200 '{"orders":[{"id":2,"updated_at":"2026-01-01T00:00:00-05:00","refunds":[{"id":20,"created_at":"2099-01-01T00:00:00Z"},{"id":21,"created_at":"2001-01-01T00:00:00Z"}]}]}';
        }
        if ($arg_status != "any") {
            return 400;
        }
        return 200 '{"orders":[{"id":1,"updated_at":"2026-01-01T00:00:00Z","total_price":19.50,"refunds":[]}]}';
    }
    location = /q { order_edit_queue_debug edits; }
--- request
GET /t
--- error_code: 404
--- wait: 1
--- error_log eval
[
qr{reconciled #1 orders/updated of "acme.myshopify.com" queued as "reconcile:o:1:1767225600000"},
qr{reconciled #2 orders/updated of "acme.myshopify.com" queued as "reconcile:o:2:1767243600000"},
qr{reconciled #3 refunds/create of "acme.myshopify.com" queued as "reconcile:r:20"},
qr{reconcile of "acme.myshopify.com" done: 2 orders in 2 pages since \d+ ms, 2 found missing, 3 queued, 0 errors, 0 throttled},
]
--- no_error_log
reconcile:r:21
[crit]



=== TEST 15: a 429 waits its Retry-After
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token
                  url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    order_edit_dispatch edits interval=50ms;
--- config
    location = /admin/api/2024-10/orders.json {
        add_header Retry-After 0.3 always;
        return 429 '{"errors":"Exceeded 2 calls per second for api client."}';
    }
--- request
GET /t
--- error_code: 404
--- wait: 1
--- error_log eval
[
qr{Shopify throttled reconcile of "acme.myshopify.com" \(429, Retry-After: 0.3\): waiting \d+ ms},
]
--- no_error_log
[crit]



=== TEST 16: a next page on another host is not followed: the token stays
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token
                  url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    order_edit_dispatch edits interval=50ms;
--- config
    location = /admin/api/2024-10/orders.json {
        add_header Link '<http://evil.example/admin/api/2024-10/orders.json?page_info=x>; rel="next"';
        return 200 '{"orders":[]}';
    }
--- request
GET /t
--- error_code: 404
--- wait: 0.5
--- error_log eval
[
qr{reconcile of "acme.myshopify.com": the next page "http://evil.example/admin/api/2024-10/orders.json\?page_info=x" is not on http://127.0.0.1:\d+},
qr{reconcile of "acme.myshopify.com": unreadable page: },
]
--- no_error_log
[crit]



=== TEST 17: a next page that is the same page again ends the run
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token
                  url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    order_edit_dispatch edits interval=50ms;
--- config
    location = /admin/api/2024-10/orders.json {
        add_header Link '<http://127.0.0.1:$server_port/admin/api/2024-10/orders.json?page_info=loop>; rel="next"';
        return 200 '{"orders":[]}';
    }
--- request
GET /t
--- error_code: 404
--- wait: 0.5
--- error_log eval
[
qr{reconcile of "acme.myshopify.com": the next page is the page itself},
]
--- no_error_log
[crit]
