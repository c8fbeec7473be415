# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The queue: bounded by the zone (503, nothing half-written), bodies that
# spill to a temporary file, and one queue shared by several workers.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();
workers(2);
master_on();

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
_EOC_

# five 4 KB pages each: two fit in the 64k zone's usable pages, not three;
# TEST 1's "dedup_ids" are the two queued webhooks' ids and their order's
# received note (reconciliation's), none of the refused ones
our $Big = ::order_body(7001, 20000);
our $Huge = ::order_body(7002, 300000);

run_tests();

__DATA__

=== TEST 1: a full zone answers 503 with Retry-After and keeps what it has
--- http_config
    order_edit_zone edits:64k;
    order_edit_store acme.myshopify.com { secret acme; }
--- config eval: $::Config
--- request eval
[(map { "POST /wh\n" . $::Big } 1 .. 4), "GET /status"]
--- more_headers eval
[(map { ::webhook_headers('acme', $::Big, "full-$_") } 1 .. 4), '']
--- error_code eval
[200, 200, 503, 503, 200]
--- response_headers eval
['!Retry-After', '!Retry-After', 'Retry-After: 30', 'Retry-After: 30', '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"',
 '^\{"error":"queue_full","message":"the webhook queue is full"\}$',
 '^\{"error":"queue_full","message":"the webhook queue is full"\}$',
 '"queued_items": 2,(?s:.*)"dedup_ids": 3,(?s:.*)"received": 4,
      "queued": 2,(?s:.*)"queue_full": 2,(?s:.*)"queue_depth": 2,']



=== TEST 2: a refused webhook left no id behind: its retry is not a duplicate
--- http_config
    order_edit_zone edits:64k;
    order_edit_store acme.myshopify.com { secret acme; }
--- config eval: $::Config
--- request eval
[(map { "POST /wh\n" . $::Big } 1 .. 3), "POST /wh\n" . $::Big]
--- more_headers eval
[(map { ::webhook_headers('acme', $::Big, "full-$_") } 1 .. 3),
 ::webhook_headers('acme', $::Big, "full-3")]
--- error_code eval
[200, 200, 503, 503]



=== TEST 3: a body larger than the buffer goes through a temporary file intact
--- http_config
    order_edit_zone edits:2m;
    order_edit_store acme.myshopify.com { secret acme; }
--- config
    location = /wh {
        client_body_buffer_size 1k;
        order_edit_webhook edits;
    }
--- request eval
"POST /wh\n" . $::Huge
--- more_headers eval
::webhook_headers('acme', $::Huge, 'huge-1')
--- error_code: 200
--- response_body
{"status":"queued","id":"1"}
--- error_log
a client request body is buffered to a temporary file



=== TEST 4: the spilled body is queued byte for byte
--- http_config
    order_edit_zone edits:2m;
    order_edit_store acme.myshopify.com { secret acme; }
--- config
    location = /wh {
        client_body_buffer_size 1k;
        order_edit_webhook edits;
    }
    location = /status { order_edit_status edits; }
--- request eval
["POST /wh\n" . $::Huge, "GET /status"]
--- more_headers eval
[::webhook_headers('acme', $::Huge, 'huge-1'), '']
--- response_body_like eval
# the body and the metadata strings: topic, webhook id, version, time
['"queued"',
 '"queued_bytes": ' . (length($::Huge) + length('orders/updated')
                       + length('huge-1') + length('2024-10')
                       + length('2026-11-26T10:00:00.000000000Z')) . ',']



=== TEST 5: duplicates across two workers: one queued, the rest duplicates
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
--- config eval: $::Config
--- request eval
[(map { "POST /wh\n" . $::Big } 1 .. 12), "GET /status"]
--- more_headers eval
[(map { ::webhook_headers('acme', $::Big, 'same-id') } 1 .. 12), '']
--- response_body_like eval
['"queued","id":"1"',
 (map { '"duplicate","id":"1"' } 1 .. 11),
 '"received": 12,
      "queued": 1,
      "duplicate": 11,']
