# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The daily mismatch report: "report" in order_edit_store (every mistake
# stops nginx at start, as at nginx -t, with its file and line), and the
# order_edit_report location serving a day's rows from the report files
# as JSON and CSV, by ?date= and ?shop=.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_long_string();

our $Rows = <<'_EOC_';
>>> shopify.token
shpat_tok
>>> report-2026-12-05-acme.myshopify.com.jsonl
{"run":{"started":"2026-12-05T02:00:00Z","orders":3,"refunds":1}}
{"order":"1001","kind":"mismatch","what":"total","shopify":"110.00","netsuite":"100.00","since":"2026-12-04T10:00:00Z","actionable":true}
{"order":"1002","kind":"missing_in_netsuite","what":"refund:900","shopify":"5.00","netsuite":null,"since":"2026-12-04T11:00:00Z","actionable":false}
{"order":"1003","kind":"missing_in_netsuite","what":"order","shopify":null,"netsuite":null,"since":"2026-12-04T12:00:00Z","actionable":false}
>>> report-2026-12-05-bolt.myshopify.com.jsonl
{"order":"2001","kind":"mismatch","what":"line:A, \"big\"","shopify":1,"netsuite":2,"since":"2026-12-04T13:00:00Z","actionable":false}
{"order":"2002","kind":"missing_in_shopify","what":"order","shopify":null,"netsuite":null,"since":"=cmd","actionable":false}
_EOC_

our $Http = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html at=03:30 keep=62d max_exceptions=0;
    }
    order_edit_store bolt.myshopify.com {
        secret bolt;
        reconcile token_file=../html/shopify.token;
        report dir=html;
    }
    order_edit_store calm.myshopify.com {
        secret calm;
        reconcile token_file=../html/shopify.token;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files", $Rows);
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", $Http);
    }

    if (!defined $block->config) {
        $block->set_value("config",
                          "    location = /report { order_edit_report edits; }");
    }
});

run_tests();

__DATA__

=== TEST 1: a complete report starts
--- request
GET /report?date=2026-12-01
--- error_code: 200
--- response_body_like: "stores"
--- no_error_log
[emerg]



=== TEST 2: report before reconcile
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        report dir=html;
        reconcile token_file=../html/shopify.token;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"report" needs "reconcile" before it in the block: the report reads Shopify through it in \S+nginx\.conf:\d+$}



=== TEST 3: a time of day that is not one
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html at=24:00;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid report time "24:00", expected HH:MM like 02:00 in \S+nginx\.conf:\d+$}



=== TEST 4: kept for less than a month
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html keep=7d;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid report keep "7d", expected days like 31d, at least 31d so that a month can be closed from it in \S+nginx\.conf:\d+$}



=== TEST 5: no directory
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report at=02:00;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"report" needs dir=, where a day's report of store "acme.myshopify.com" is kept in \S+nginx\.conf:\d+$}



=== TEST 6: a directory that is not there
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=no/such/dir;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*report dir "\S+/no/such/dir" is not a directory \(2: No such file or directory\) in \S+nginx\.conf:\d+$}



=== TEST 7: an unknown parameter
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html every=1d;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "every=1d" in "report", expected dir=, at=, keep= or max_exceptions= in \S+nginx\.conf:\d+$}



=== TEST 7b: max_exceptions is a number
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html max_exceptions=lots;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid report max_exceptions "lots", expected a number \(0: none raised\) in \S+nginx\.conf:\d+$}



=== TEST 8: twice in one store
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        reconcile token_file=../html/shopify.token;
        report dir=html;
        report dir=html;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"report" directive is duplicate in order_edit_store "acme.myshopify.com" in \S+nginx\.conf:\d+$}



=== TEST 9: order_edit_report and another handler in one location
--- config
    location = /report {
        order_edit_status edits;
        order_edit_report edits;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*a location takes one of .*order_edit_report.* once in \S+nginx\.conf:\d+$}



=== TEST 10: a day's rows of every reported store, as JSON, with the summary
--- request
GET /report?date=2026-12-05
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
{
  "date": "2026-12-05",
  "shop": null,
  "summary": {
    "mismatch": 2,
    "missing_in_netsuite": 2,
    "missing_in_shopify": 1,
    "actionable": 1
  },
  "stores": [
    {
      "shop": "acme.myshopify.com",
      "ran": true,
      "run": {
        "started": "2026-12-05T02:00:00Z",
        "orders": 3,
        "refunds": 1
      }
    },
    {
      "shop": "bolt.myshopify.com",
      "ran": true,
      "run": null
    }
  ],
  "rows": [
    {
      "shop": "acme.myshopify.com",
      "order": "1001",
      "kind": "mismatch",
      "what": "total",
      "shopify": "110.00",
      "netsuite": "100.00",
      "since": "2026-12-04T10:00:00Z",
      "actionable": true
    },
    {
      "shop": "acme.myshopify.com",
      "order": "1002",
      "kind": "missing_in_netsuite",
      "what": "refund:900",
      "shopify": "5.00",
      "netsuite": null,
      "since": "2026-12-04T11:00:00Z",
      "actionable": false
    },
    {
      "shop": "acme.myshopify.com",
      "order": "1003",
      "kind": "missing_in_netsuite",
      "what": "order",
      "shopify": null,
      "netsuite": null,
      "since": "2026-12-04T12:00:00Z",
      "actionable": false
    },
    {
      "shop": "bolt.myshopify.com",
      "order": "2001",
      "kind": "mismatch",
      "what": "line:A, \"big\"",
      "shopify": 1,
      "netsuite": 2,
      "since": "2026-12-04T13:00:00Z",
      "actionable": false
    },
    {
      "shop": "bolt.myshopify.com",
      "order": "2002",
      "kind": "missing_in_shopify",
      "what": "order",
      "shopify": null,
      "netsuite": null,
      "since": "=cmd",
      "actionable": false
    }
  ]
}



=== TEST 11: one shop, as CSV: quoted fields, no formula
--- request
GET /report?date=2026-12-05&shop=bolt.myshopify.com&format=csv
--- error_code: 200
--- response_headers
Content-Type: text/csv; charset=utf-8
--- response_body eval
"shop,order,kind,what,shopify,netsuite,since,actionable\r\n"
. "bolt.myshopify.com,2001,mismatch,\"line:A, \"\"big\"\"\",1,2,2026-12-04T13:00:00Z,false\r\n"
. "bolt.myshopify.com,2002,missing_in_shopify,order,,,'=cmd,false\r\n"



=== TEST 12: a day without a run: the stores say so, no rows
--- request
GET /report?date=2026-12-04&shop=acme.myshopify.com
--- error_code: 200
--- response_body_like: ^\{\s+"date": "2026-12-04",\s+"shop": "acme.myshopify.com",\s+"summary": \{\s+"mismatch": 0,\s+"missing_in_netsuite": 0,\s+"missing_in_shopify": 0,\s+"actionable": 0\s+\},\s+"stores": \[\s+\{\s+"shop": "acme.myshopify.com",\s+"ran": false,\s+"run": null\s+\}\s+\],\s+"rows": \[\]\s+\}\s*$



=== TEST 13: a shop that is not reported, a bad date, a bad format
--- request eval
["GET /report?shop=calm.myshopify.com",
 "GET /report?date=2026-13-01",
 "GET /report?format=xml",
 "GET /report?shop=not%20a%20shop"]
--- error_code eval
[404, 400, 400, 400]
--- response_body_like eval
['"unknown_shop"', '"invalid_date"', '"invalid_format"', '"invalid_shop"']



=== TEST 14: GET, or POST to run now
--- request
PUT /report
x
--- error_code: 405
--- response_headers
Allow: GET, HEAD, POST



=== TEST 15: a run asked with no dispatcher to run it
--- request
POST /report?shop=acme.myshopify.com
--- error_code: 404
--- response_body_like: "unknown_shop"
