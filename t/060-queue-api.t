# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The queue API the dispatcher drives (lease, ack, requeue, peek, depth,
# reclaim), through order_edit_queue_debug.  Ids and lease tokens are
# deterministic in a fresh zone: ids count webhooks, tokens count leases.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(sha256_hex);
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
    order_edit_store globex.myshopify.com { secret globex; }
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location = /status { order_edit_status edits; }
_EOC_

our @Body = map { ::order_body(9000 + $_, 300 + 50 * $_) } 0 .. 3;

# three webhooks: acme a1 (#1), acme a2 (#2), globex g1 (#3)
our @Post = ("POST /wh\n" . $Body[1], "POST /wh\n" . $Body[2],
             "POST /wh\n" . $Body[3]);
our @PostHeaders = (
    ::webhook_headers('acme', $Body[1], 'a1'),
    ::webhook_headers('acme', $Body[2], 'a2'),
    ::webhook_headers('globex', $Body[3], 'g1',
                      shop => 'globex.myshopify.com',
                      topic => 'refunds/create'));

sub item_re {
    my ($id, $token, $shop, $wid, $attempts, $n) = @_;
    my $sha = sha256_hex($Body[$n]);
    return qq(^\\{"item":\\{"id":$id,"token":$token,"shop":"$shop",)
         . qq("topic":"[a-z/]+","webhook_id":"$wid","event_id":"",)
         . qq("api_version":"2024-10","order_id":\\d+,)
         . qq("attempts":$attempts,"body_bytes":) . length($Body[$n])
         . qq(,"body_sha256":"$sha"\\}\\}\$);
}

run_tests();

__DATA__

=== TEST 1: an empty queue leases nothing
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /q?op=lease
--- response_body
{"item":null}



=== TEST 2: FIFO per shop, round-robin across shops, bodies byte for byte
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[@::Post, "GET /q?op=lease", "GET /q?op=lease", "GET /q?op=lease",
 "GET /q?op=lease", "GET /q?op=depth", "GET /q?op=depth&shop=acme.myshopify.com"]
--- more_headers eval
[@::PostHeaders, '', '', '', '', '', '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', '"queued","id":"3"',
 ::item_re(1, 1, 'acme.myshopify.com', 'a1', 1, 1),
 ::item_re(3, 2, 'globex.myshopify.com', 'g1', 1, 3),
 ::item_re(2, 3, 'acme.myshopify.com', 'a2', 1, 2),
 '^\{"item":null\}$',
 '^\{"depth":3\}$', '^\{"depth":2\}$']



=== TEST 3: ack takes a leased webhook out; a second ack or a wrong token is refused
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], "GET /q?op=lease",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=7",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=1",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=1",
 "GET /q?op=depth", "GET /status"]
--- more_headers eval
[$::PostHeaders[0], '', '', '', '', '', '']
--- error_code eval
[200, 200, 409, 200, 409, 200, 200]
--- response_body_like eval
['queued', '"id":1,"token":1,', 'not_leased', '^\{"ok":true\}$',
 'not_leased', '^\{"depth":0\}$',
 '"queued_items": 0,(?s:.*)"leased": 1,
      "acked": 1,
      "requeued": 0,
      "lease_reclaimed": 0,
      "parked": 0,
      "exceptions_retried": 0,
      "exceptions_resolved": 0,
      "stale": 0,
      "coalesced": 0,
      "queue_depth": 0,
      "in_flight": 0,']



=== TEST 4: a webhook requeued with a delay waits; the next one goes first
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], $::Post[1], "GET /q?op=lease",
 "GET /q?op=requeue&shop=acme.myshopify.com&id=1&token=1&delay=60000",
 "GET /q?op=lease", "GET /q?op=lease", "GET /q?op=peek&shop=acme.myshopify.com"]
--- more_headers eval
[$::PostHeaders[0], $::PostHeaders[1], '', '', '', '', '']
--- response_body_like eval
['queued', 'queued', '"id":1,"token":1,.*"attempts":1,',
 '^\{"ok":true\}$',
 '"id":2,"token":2,.*"attempts":1,',
 '^\{"item":null\}$',
 '"id":1,"token":0,.*"attempts":1,']



=== TEST 5: requeued without delay it comes back first, one attempt more
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], $::Post[1], "GET /q?op=lease",
 "GET /q?op=requeue&shop=acme.myshopify.com&id=1&token=1",
 "GET /q?op=lease", "GET /status"]
--- more_headers eval
[$::PostHeaders[0], $::PostHeaders[1], '', '', '', '']
--- response_body_like eval
['queued', 'queued', '"id":1,"token":1,.*"attempts":1,', 'ok',
 '"id":1,"token":2,.*"attempts":2,',
 '"requeued": 1,(?s:.*)"queue_depth": 2,
      "in_flight": 1,']



=== TEST 6: an expired lease returns to the queue; its old token is stale
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], "GET /q?op=lease&ms=0", "GET /q?op=lease",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=1",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=2",
 "GET /status"]
--- more_headers eval
[$::PostHeaders[0], '', '', '', '', '']
--- error_code eval
[200, 200, 200, 409, 200, 200]
--- response_body_like eval
['queued', '"id":1,"token":1,.*"attempts":1,',
 '"id":1,"token":2,.*"attempts":2,', 'not_leased', 'ok',
 '"leased": 2,
      "acked": 1,
      "requeued": 0,
      "lease_reclaimed": 1,']



=== TEST 7: reclaim leaves the leases of live workers alone
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], "GET /q?op=lease", "GET /q?op=reclaim", "GET /q?op=lease"]
--- more_headers eval
[$::PostHeaders[0], '', '', '']
--- response_body_like eval
['queued', '"id":1,"token":1,', '^\{"reclaimed":0\}$', '^\{"item":null\}$']



=== TEST 8: bad requests
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /q", "GET /q?op=drop", "GET /q?op=ack&id=1", "GET /q?op=peek"]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
['invalid_request', 'invalid_request', 'shop, id and token are required',
 'peek needs shop']
--- no_error_log
[alert]
[error]



=== TEST 9: refunds and edits are leased before the snapshots queued ahead
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[$::Post[0], $::Post[1], "POST /wh\n" . $::Body[3], "POST /wh\n" . $::Body[0],
 "GET /q?op=lease", "GET /q?op=lease", "GET /q?op=lease", "GET /q?op=lease"]
--- more_headers eval
[$::PostHeaders[0], $::PostHeaders[1],
 ::webhook_headers('acme', $::Body[3], 'r1', topic => 'refunds/create'),
 ::webhook_headers('acme', $::Body[0], 'e1', topic => 'orders/edited'),
 '', '', '', '']
--- response_body_like eval
['"id":"1"', '"id":"2"', '"id":"3"', '"id":"4"',
 '"id":3,.*"topic":"refunds/create"', '"id":4,.*"topic":"orders/edited"',
 '"id":1,.*"webhook_id":"a1"', '"id":2,.*"webhook_id":"a2"']



=== TEST 10: drain answers at once when empty, and when it gives up says so
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /q?op=drain", $::Post[0], "GET /q?op=drain&ms=50", "GET /q?op=lease",
 "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=1", "GET /q?op=drain"]
--- more_headers eval
['', $::PostHeaders[0], '', '', '', '']
--- response_body_like eval
['^\{"drained":true,"depth":0,"exceptions":0\}$', 'queued',
 '^\{"drained":false,"depth":1,"exceptions":0\}$', '"id":1,"token":1,',
 'ok', '^\{"drained":true,"depth":0,"exceptions":0\}$']
