# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# Refunds as NetSuite books them (issue 12), end to end against the
# simulator, in the style of t/110-dispatch.t: what a Credit Memo puts
# back in stock, where its currency, subsidiary, location, department and
# class come from, and how it is linked to the order.  The simulator
# reports the stock credit memos returned (GET /sim/inventory) and
# defaults a standalone memo from its customer (POST /sim/customers).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use OrderEditTest;
use OrderEditSim;
use OrderEditDispatch qw(fixture edit webhook seed_record json_request seed
                         status_of faults all lines writes http_config
                         signing_preprocessor
                         $SO $CM $Reset $Drain $Ok $Drained $Config);

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(2);         # the dispatcher runs in worker 0, as in production
log_level('info');
timeout(10);        # a drain below waits at most 8 s

our $Refund = fixture('28-refund-restock.json');

# the green one back in stock, the red one refunded and kept
our $Mixed = fixture('71-refund-mixed-restock.json');

# a record that billed order 1001 to customer 42 (an invoice or a cash
# sale): its lines [item, quantity, rate] and any other fields
sub billed {
    my ($type, $lines, %fields) = @_;

    my @items = map { +{ item => { id => "$_->[0]" }, quantity => $_->[1],
                         rate => $_->[2] } } @$lines;

    return json_request("POST /sim/records/$type",
                        { entity => { id => '42' },
                          createdFrom => { id => '1001' }, %fields,
                          item => { items => \@items } });
}

# signed webhooks, the TBA keys and the SKU map for every block
my $sign = signing_preprocessor();

add_block_preprocessor(sub { $sign->(@_) });

run_tests();

__DATA__

=== TEST 1: only what Shopify restocked goes back to stock
Two lines refunded: the green iPod returned (restock_type "return"), the
red one kept (no_restock).  A standalone Credit Memo restocks every
inventory item it carries, so the red line is booked on the non-inventory
refund item; the stock the simulator reports holds the green one only.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::json_request("PUT /sim/items",
                [{ id => '1001', itemType => 'inventoryItem' },
                 { id => '1002', itemType => 'inventoryItem' },
                 { id => '7001', externalId => 'shopify-refund_no_restock',
                   itemType => 'otherChargeSaleItem' }]),
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::webhook('m1', $::Mixed, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/inventory"]
--- error_code eval
[200, 200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"items"', '"externalId"', '"queued"', $::Drained,
 ::all('"custbody_shopify_total":236\.91,',
       '"count":2,',
       '"item":\{"id":"1001","refName":"1001"\},"quantity":1,.*'
           . '"custcol_shopify_restock":true,',
       '"item":\{"id":"7001","refName":"shopify-refund_no_restock"\},"quantity":1,.*'
           . '"amount":24\.50,.*"custcol_shopify_restock":false,'),
 '^\{"stock":\{"1001":1\}\}$']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: the memo takes currency, subsidiary, location, department and class from the order, linked to it
The customer's own defaults (what a standalone memo would get) differ
from the order's in every field: the memo must carry the order's, and
createdFrom names the Sales Order.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::json_request("POST /sim/currencies",
                { 2 => { symbol => 'EUR', precision => 2 } }),
 ::json_request("POST /sim/customers",
                { id => '42', currency => { id => '1' },
                  subsidiary => { id => '1' }, location => { id => '1' },
                  department => { id => '1' }, class => { id => '1' } }),
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false,
        currency => { id => '2' }, subsidiary => { id => '3' },
        location => { id => '4' }, department => { id => '5' },
        class => { id => '6' }),
 ::webhook('o1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/requests"]
--- error_code eval
[200, 200, 200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"2":\{"symbol":"EUR"', '"customers"', '"id":"1001"', '"queued"',
 $::Drained,
 ::all('"entity":\{"id":"42",', '"createdFrom":\{"id":"1001",',
       '"currency":\{"id":"2","refName":"EUR"\}',
       '"subsidiary":\{"id":"3",', '"location":\{"id":"4",',
       '"department":\{"id":"5",', '"class":\{"id":"6",',
       '"custbody_shopify_total":210\.94,'),
 '"path":"/services/rest/record/v1/salesOrder/eid:shopify-acme-450789469",'
     . '"query":"fields=entity,currency,subsidiary,location,department,'
     . 'class"']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: refund_flow invoice: the order's invoice becomes the memo, applied to it
The order was billed by invoice 1002 (created from Sales Order 1001, its
amount still due).  The memo is looked for by its external id first (a
transform cannot be an upsert), then the invoice by SuiteQL, and the
invoice is transformed into the memo with Shopify's line and amounts: it
is linked to the invoice, applied to it, takes its location and
subsidiary, and restocks the returned item.
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow invoice;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false,
        subsidiary => { id => '3' }, location => { id => '4' }),
 ::billed('invoice', [[1001, 1, 199], [1002, 2, 24.5]],
          subsidiary => { id => '3' }, location => { id => '4' }),
 ::webhook('i1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/records/invoice/1002",
 "GET /sim/inventory",
 "GET /sim/requests"]
--- error_code eval
[200, 201, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"id":"1002"', '"queued"', $::Drained,
 ::all('"externalId":"shopify-acme-refund-929361464",',
       '"entity":\{"id":"42",',
       '"createdFrom":\{"id":"1002","refName":"INV1002"\}',
       '"status":\{"id":"fullyApplied",',
       '"subsidiary":\{"id":"3",', '"location":\{"id":"4",',
       '"applied":199\.00,',
       '"apply":\{"count":1,"items":\[\{"doc":\{"id":"1002",'
           . '[^}]*\},"apply":true,"amount":199\.00\}',
       '"count":1,.*"item":\{"id":"1001","refName":"1001"\},"quantity":1,',
       '"custbody_shopify_total":210\.94,'),
 ::all('"amountRemaining":49\.00,', '"status":\{"id":"open",'),
 '^\{"stock":\{"1001":1\}\}$',
 ::all('"method":"GET","path":"/services/rest/record/v1/creditMemo/'
           . 'eid:shopify-acme-refund-929361464","query":"fields=externalId",'
           . '"endpoint":"creditMemo","status":404',
       '"request_body":\{"q":"SELECT id FROM transaction WHERE type = '
           . q{'CustInvc' AND createdfrom = '1001' ORDER BY id"\}},
       '"method":"POST","path":"/services/rest/record/v1/invoice/1002/'
           . '!transform/creditMemo","query":"replace=item",'
           . '"endpoint":"invoice","status":204,',
       '"externalId":"shopify-acme-refund-929361464"\}\}\],')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: refund_flow invoice, the order not billed yet: a standalone memo, linked to the order
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow invoice;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::webhook('i2', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"queued"', $::Drained,
 ::all('"createdFrom":\{"id":"1001","refName":"SO1001"\}',
       '"status":\{"id":"open",', '"custbody_shopify_total":210\.94,'),
 ::all('"GET creditMemo":1,', '"POST suiteql":1,', '"PUT creditMemo":1\}',
       '"writes":\{"creditMemo":1\},')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: refund_flow invoice, the transform's answer lost: the retry finds the memo, one memo
The transform is applied, then the connection is reset instead of
answered.  The webhook is delivered again; a second transform would make
a second memo (NetSuite refuses a second record with the same external
id, which would park the refund): the look-up by external id finds the
first and the refund is done.
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow invoice;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::billed('invoice', [[1001, 1, 199]]),
 ::faults(once => [{ fault => 'lost_response', method => 'POST',
                     path => '!transform' }]),
 ::webhook('i3', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo",
 "GET /sim/counters",
 "GET /status"]
--- error_code eval
[200, 201, 201, 200, 200, 200, (200) x 3]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"id":"1002"', '"fault":"lost_response"', '"queued"',
 $::Drained,
 ::all('^\[\{(?:(?!"_sim").)*"_sim":\{[^}]*\}\}\]$',
       '"createdFrom":\{"id":"1002",', '"custbody_shopify_total":210\.94,'),
 ::all('"GET creditMemo":2,', '"POST invoice":1\}',
       '"writes":\{"creditMemo":1\},', '"lost_response":1,'),
 '"acked": 1,\s*"requeued": 1,(?s:.*)"exceptions": 0\n']
--- no_error_log
[alert]
[crit]



=== TEST 6: a refund_flow nginx does not know is refused at start
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow cash_refund;/ or die;
$c
--- config eval: $::Config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "cash_refund" in \S+nginx\.conf:\d+$}



=== TEST 7: refund_payout: what the memo leaves unapplied is paid out by a Customer Refund, once
The standalone memo is an open credit of 199.00: a Customer Refund from
bank account 55 (payment method 7) applies it whole.  Its answer is lost:
the webhook is delivered again, the memo is written again (an upsert),
and the memo now has nothing unapplied, so no second refund is made.
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_payout 55 7;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::faults(once => [{ fault => 'lost_response', method => 'PUT',
                     path => 'customerRefund' }]),
 ::webhook('p1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/records/customerRefund",
 "GET /sim/counters",
 "GET /exc"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"fault":"lost_response"', '"queued"', $::Drained,
 ::all('"status":\{"id":"fullyApplied",', '"applied":199\.00,',
       '"unapplied":0\.00,',
       '"apply":\{"count":1,"items":\[\{"doc":\{"id":"1003","refName":'
           . '"RFND1003"\},"apply":true,"amount":199\.00\}\]\}'),
 ::all('^\[\{(?:(?!"_sim").)*"_sim":\{[^}]*\}\}\]$',
       '"externalId":"shopify-acme-refund-929361464-cr",',
       '"customer":\{"id":"42",', '"account":\{"id":"55",',
       '"paymentMethod":\{"id":"7",', '"currency":\{"id":"1",',
       '"total":199\.00,',
       '"apply":\{"count":1,"items":\[\{"doc":\{"id":"1002",'
           . '"refName":"CM1002"\},"apply":true,"amount":199\.00\}'),
 ::all('"PUT customerRefund":1', '"GET creditMemo":2',
       '"writes":\{"creditMemo":2,"customerRefund":1\}',
       '"lost_response":1,'),
 '"exceptions": \[\]']
--- no_error_log
[alert]
[crit]



=== TEST 8: refund_payout with refund_flow invoice: a memo applied whole to an invoice still due pays nothing out
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow invoice;\n        refund_payout 55;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::billed('invoice', [[1001, 1, 199]]),
 ::webhook('p2', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/records/customerRefund"]
--- error_code eval
[200, 201, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"id":"1002"', '"queued"', $::Drained,
 ::all('"createdFrom":\{"id":"1002",', '"unapplied":0\.00,'),
 '^\[\]$']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: a refund_payout account that is not an internal id is refused at start
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_payout "Shopify clearing";/ or die;
$c
--- config eval: $::Config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid refund_payout "Shopify clearing", expected "off" or the internal ids of a bank account and a payment method in \S+nginx\.conf:\d+$}



=== TEST 10: refund_payout where external ids are unique across transactions: the Customer Refund has its own
An account may keep external ids unique across every transaction type, so
the Customer Refund cannot share its memo's: it is the memo's and "-cr".
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_payout 55 7;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::json_request("POST /sim/preferences", { external_id_scope => 'transaction' }),
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::webhook('p3', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/records/customerRefund/eid:$::CM-cr"]
--- error_code eval
[200, 200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '.', '"id":"1001"', '"queued"', $::Drained,
 ::all('"externalId":"shopify-acme-refund-929361464",', '"unapplied":0\.00,'),
 ::all('"externalId":"shopify-acme-refund-929361464-cr",',
       '"apply":\{"count":1,"items":\[\{"doc":\{"id":"1002",'
           . '"refName":"CM1002"\},"apply":true,"amount":199\.00\}')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: refund_flow cash_sale: the order's cash sale becomes a cash refund, from the payout account
The order was paid by cash sale 1002 (created from Sales Order 1001).  The
cash refund is looked for by its external id first (a transform cannot be
an upsert), then the cash sale by SuiteQL, and the cash sale is
transformed into the cash refund with Shopify's line and amounts and the
bank account (and payment method) of refund_payout: linked to the cash
sale, its location and subsidiary, the returned item back in stock, and
no Credit Memo or Customer Refund.
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow cash_sale;\n        refund_payout 55 7;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false,
        subsidiary => { id => '3' }, location => { id => '4' }),
 ::billed('cashSale', [[1001, 1, 199], [1002, 2, 24.5]],
          subsidiary => { id => '3' }, location => { id => '4' },
          account => { id => '50' }),
 ::webhook('c1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/cashRefund/eid:$::CM",
 "GET /sim/inventory",
 "GET /sim/counters",
 "GET /sim/requests"]
--- error_code eval
[200, 201, 201, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"id":"1002"', '"queued"', $::Drained,
 ::all('"externalId":"shopify-acme-refund-929361464",',
       '"entity":\{"id":"42",',
       '"createdFrom":\{"id":"1002","refName":"CS1002"\}',
       '"account":\{"id":"55",', '"paymentMethod":\{"id":"7",',
       '"subsidiary":\{"id":"3",', '"location":\{"id":"4",',
       '"count":1,.*"item":\{"id":"1001","refName":"1001"\},"quantity":1,',
       '"custbody_shopify_total":210\.94,'),
 '^\{"stock":\{"1001":1\}\}$',
 ::all('"writes":\{"cashRefund":1\},', '"POST cashSale":1\}'),
 ::all('"method":"GET","path":"/services/rest/record/v1/cashRefund/'
           . 'eid:shopify-acme-refund-929361464","query":"fields=externalId",'
           . '"endpoint":"cashRefund","status":404',
       '"request_body":\{"q":"SELECT id FROM transaction WHERE type = '
           . q{'CashSale' AND createdfrom = '1001' ORDER BY id"\}},
       '"method":"POST","path":"/services/rest/record/v1/cashSale/1002/'
           . '!transform/cashRefund","query":"replace=item",'
           . '"endpoint":"cashSale","status":204,')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: refund_flow cash_sale, the order billed by an invoice: the memo from the invoice
No cash sale was made from the order: the refund goes refund_flow
invoice's way, the invoice transformed into a Credit Memo.
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow cash_sale;/ or die;
$c
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 1, 199], [1002, 2, 24.5]],
        custbody_shopify_taxes_included => JSON::PP::false),
 ::billed('invoice', [[1001, 1, 199]]),
 ::webhook('c2', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/counters"]
--- error_code eval
[200, 201, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"id":"1001"', '"id":"1002"', '"queued"', $::Drained,
 '"createdFrom":\{"id":"1002","refName":"INV1002"\}',
 ::all('"writes":\{"creditMemo":1\},', '"POST invoice":1\}',
       '"GET cashRefund":1,')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 13: refund_flow cash_sale needs mode rest
--- http_config eval
my $c = ::http_config();
$c =~ s/(retry_backoff [^;]+;)/$1\n        refund_flow cash_sale;\n        mode restlet;\n        restlet_url http:\/\/127.0.0.1:1\/app\/site\/hosting\/restlet.nl;/ or die;
$c
--- config eval: $::Config
--- must_die
--- error_log eval
qr{\[emerg\] .*"refund_flow cash_sale" needs "mode rest" in \S+nginx\.conf:\d+$}
