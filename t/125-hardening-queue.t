# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The queue under the attacks of issue 10, with the dispatcher against the
# NetSuite simulator as t/110-dispatch.t drives it.  What needs thousands
# of requests (ids starving bodies, a full zone parking) is in
# t/integration/test_queue_hardening.py.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use OrderEditTest;
use OrderEditSim;
use OrderEditDispatch qw(fixture edit webhook json_request faults
                         signing_preprocessor);

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(2);
log_level('info');
timeout(20);

our $Edit = fixture('01-us-tax-exclusive.json');
our $Refund = fixture('28-refund-restock.json');
our $SO = 'shopify-acme-450789469';
our $CM = 'shopify-acme-refund-929361464';
our $SO2 = 'shopify-acme-450790469';

# the same order under another id
sub order { return edit($Edit, '450789469', shift) }

# POST /sim/orders: a Sales Order with these lines [item, quantity, rate]
sub seed {
    my ($eid, $lines) = @_;

    return json_request("POST /sim/orders", {
        externalId => $eid,
        entity => { id => '42' },
        # as the module writes an order: what a refund reads
        custbody_shopify_taxes_included => JSON::PP::false,
        item => { items => [ map { { item => { id => "$_->[0]" },
                                     quantity => $_->[1],
                                     rate => $_->[2] } } @$lines ] },
    });
}

sub http_config {
    my (%o) = @_;

    my $zone = $o{zone} // '4m';
    my $store = $o{netsuite} // 'netsuite main;';
    my $concurrency = $o{concurrency} // 4;

    return <<"_EOC_";
    order_edit_zone edits:$zone;
    order_edit_netsuite main {
        account $OrderEditSim::ACCOUNT;
        endpoint http://127.0.0.1:\$TEST_NGINX_SIM_PORT;
        consumer_key_file ../html/ck;
        consumer_secret_file ../html/cs;
        token_id_file ../html/ti;
        token_secret_file ../html/ts;
        concurrency $concurrency;
        timeout 5s;
        retry_backoff 100ms 300ms;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        rate 10000r/s burst=100000;
        $store
        sku_map ../html/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
_EOC_
}

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location = /status { order_edit_status edits; }
    location /exc { order_edit_exceptions edits; }
    location /sim/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SIM_PORT/_admin/;
    }
_EOC_

my $sign = signing_preprocessor();

add_block_preprocessor(sub { $sign->(@_) });

run_tests();

__DATA__

=== TEST 1: 100 snapshots waiting for their Sales Orders hold nothing else up
Each missing order is retried (on_missing retry 1h, the default) every
100-300 ms for the whole test; the refund and the edit queued behind them
are delivered at once all the same.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
["POST /sim/reset",
 ::seed($::SO, [[1001, 1, 199], [1002, 2, 24.5]]),
 "POST /sim/orders/eid:$::SO/status\n{\"orderStatus\":\"G\"}",
 ::seed($::SO2, [[1001, 3, 199], [9999, 1, 5]]),
 (map { ::webhook("m$_", ::order(450800000 + $_)) } 1 .. 100),
 ::webhook('r1', $::Refund, 'refunds/create'),
 ::webhook('e2', ::order(450790469)),
 "GET /q?op=drain&ms=8000&keep=100",
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/orders/eid:$::SO2",
 "GET /status"]
--- error_code eval
[200, 201, 200, 201, (200) x 102, 200, 200, 200, 200]
--- response_body_like eval
['^\{"ok":true\}$', '"externalId"', '"orderStatus":\{"id":"G"',
 '"externalId"',
 (map { '^\{"status":"queued","id":"' . $_ . '"\}' } 1 .. 102),
 '^\{"drained":true,"depth":100,"exceptions":0\}$',
 '"externalId":"shopify-acme-refund-929361464",',
 '"item":\{"links":\[[^\]]*\],"count":2,.*"item":\{"id":"1001",'
     . '"refName":"[^"]*"\},"quantity":1,.*"item":\{"id":"1002",'
     . '"refName":"[^"]*"\},"quantity":2,',
 '"delayed_items": \d+,(?s:.*)"acked": 2,']
--- no_error_log
[alert]
[crit]



=== TEST 2: the ids' bound and the stall threshold are zone parameters
--- http_config
    order_edit_zone edits:1m dedup_max=10% stall_after=5s;
    order_edit_zone other:1m dedup_max=128k;
    order_edit_store acme.myshopify.com { secret acme; }
--- config
    location = /status { order_edit_status edits; }
    location = /other { order_edit_status other; }
--- request eval
["GET /status", "GET /other", "GET /status?format=prometheus"]
--- response_body_like eval
['"dedup_bytes": 0,\s+"dedup_max_bytes": 104850,\s+"stalled_ms": 0,',
 '"dedup_max_bytes": 131072,',
 'order_edit_zone_bytes\{zone="edits",kind="dedup_max"\} 104850\n'
     . '(?s:.*)order_edit_queue_stalled_seconds\{zone="edits"\} 0\.000\n']



=== TEST 3: a share of the zone is 1% to 90%
--- http_config
    order_edit_zone edits:1m dedup_max=95%;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid dedup_max "dedup_max=95%", a share is 1% to 90% of the zone.* in \S+nginx\.conf:\d+$}



=== TEST 4: a size leaves the zone room for bodies
--- http_config
    order_edit_zone edits:1m dedup_max=1m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid dedup_max "dedup_max=1m", a size is at least a page and leaves the zone 8 pages.* in \S+nginx\.conf:\d+$}



=== TEST 5: a bad stall_after is refused at start
--- http_config
    order_edit_zone edits:1m stall_after=never;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid stall_after "stall_after=never".* in \S+nginx\.conf:\d+$}



=== TEST 6: back from a retry delay, a webhook goes behind those queued meanwhile
Untried hand-backs keep their place (t/060-queue-api.t TEST 5); one that
failed and waited a delay takes its turn after the others, so webhooks
that keep failing cannot starve the rest by their ids.
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
--- config
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
--- request eval
["POST /wh\n{\"id\":1}", "GET /q?op=lease",
 "GET /q?op=requeue&shop=acme.myshopify.com&id=1&token=1&delay=1",
 "POST /wh\n{\"id\":2}", "POST /wh\n{\"id\":3}",
 "GET /q?op=lease", "GET /q?op=lease", "GET /q?op=lease"]
--- more_headers eval
[::webhook_headers('acme', '{"id":1}', 'a1'), '', '',
 ::webhook_headers('acme', '{"id":2}', 'a2'),
 ::webhook_headers('acme', '{"id":3}', 'a3'), '', '', '']
--- response_body_like eval
['"id":"1"', '"id":1,"token":1,', '^\{"ok":true\}$', '"id":"2"', '"id":"3"',
 '"id":2,"token":2,', '"id":3,"token":3,', '"id":1,"token":4,.*"attempts":2,']



=== TEST 7: a refund asking the Sales Order's tax kind waits for a slot
The refund's payload does not say whether prices included tax, so it
first reads the Sales Order.  It comes once 20 missing snapshots keep the
one slot busy (each read takes 30 ms, each retried every 100-300 ms) and
spares (older than 100 ms) wait in line for it: leased, the refund is
parsed as a spare too and waits in that line as any spare does, instead
of being handed back for want of a slot at every turn, which left it
queued for as long as the snapshots kept retrying.
--- http_config eval: ::http_config(concurrency => 1)
--- config eval: $::Config
--- timeout: 30
--- request eval
["POST /sim/reset",
 ::seed($::SO, [[1001, 1, 199], [1002, 2, 24.5]]),
 ::faults(latency_ms => 30),
 (map { ::webhook("s$_", ::order(450800000 + $_)) } 1 .. 20),
 "GET /q?op=drain&ms=300&keep=0",
 ::webhook('r1', $::Refund, 'refunds/create'),
 "GET /q?op=drain&ms=5000&keep=20",
 "GET /sim/records/creditMemo/eid:$::CM",
 ::faults(latency_ms => 0)]
--- error_code eval
[200, 201, 200, (200) x 20, 200, 200, 200, 200, 200]
--- response_body_like eval
['^\{"ok":true\}$', '"externalId"', '"latency_ms":30',
 (map { '^\{"status":"queued","id":"' . $_ . '"\}' } 1 .. 20),
 '^\{"drained":false,"depth":20,"exceptions":0\}$',
 '^\{"status":"queued","id":"21"\}',
 '^\{"drained":true,"depth":20,"exceptions":0\}$',
 '"externalId":"shopify-acme-refund-929361464",',
 '"latency_ms":0']
--- no_error_log
[alert]
[crit]
