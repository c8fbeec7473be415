# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The normaliser inside nginx: a store's options from nginx.conf (SKU map,
# rewrites, ids) applied to a webhook as it was queued, through
# order_edit_queue_debug's "normalise".  The payloads and the values are
# the hand-checked fixtures of the unit tests (t/fixtures/shopify).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();

sub slurp {
    my $f = "t/fixtures/shopify/$_[0]";
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    my $text = <$fh>;
    # the runners trim a request body's trailing newline: sign what is sent
    $text =~ s/\s+\z//;
    return $text;
}

our $Map = slurp('skus.map') . "\n";
our $Order = slurp('01-us-tax-exclusive.json');
our $Refund = slurp('28-refund-restock.json');

our $HttpConfig = <<'_EOC_';
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        sku_map ../html/skus.map;
        netsuite_field total custbody_order_total;
        taxes_included off;
    }
    order_edit_store globex.myshopify.com {
        secret globex;
        external_id sales_order "gx-{order_id}";
    }
_EOC_

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
_EOC_

run_tests();

__DATA__

=== TEST 1: an order becomes a Sales Order update with Shopify's totals, to the cent
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
["POST /wh\n" . $::Order, "GET /q?op=normalise&shop=acme.myshopify.com"]
--- more_headers eval
[::webhook_headers('acme', $::Order, 'n1'), '']
--- response_body_like eval
['"queued"',
 '^\{"kind":"sales_order","method":"PATCH",'
 . '"path":"/services/rest/record/v1/salesOrder/eid:shopify-acme-450789469\?replace=item",'
 . '"body":\{"item":\{"items":\[\{"item":\{"id":"1001"\},"quantity":1,"rate":199.00,'
 . '.*"custbody_order_total":272.87'
 . '.*"document":\{.*"totals":\{"subtotal":"248.00","discount":"0.00","tax":"14.88",'
 . '"shipping":"9.99",.*"total":"272.87"\}']
--- no_error_log
[error]
[alert]



=== TEST 2: a refund becomes a Credit Memo keyed by the refund id
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
["POST /wh\n" . $::Refund, "GET /q?op=normalise&shop=acme.myshopify.com"]
--- more_headers eval
[::webhook_headers('acme', $::Refund, 'n2', topic => 'refunds/create'), '']
--- response_body_like eval
['"queued"',
 '^\{"kind":"credit_memo","method":"PUT",'
 . '"path":"/services/rest/record/v1/creditMemo/eid:shopify-acme-refund-929361464\?replace=item",'
 . '.*"document":\{.*"credit_memo":\{"external_id":"shopify-acme-refund-929361464",'
 . '.*"total":"210.94"']



=== TEST 3: an unmapped SKU is an error that names it, not a guess
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
["POST /wh\n" . $::Order, "GET /q?op=normalise&shop=globex.myshopify.com"]
--- more_headers eval
[::webhook_headers('globex', $::Order, 'n3', shop => 'globex.myshopify.com'),
 '']
--- response_body_like eval
['"queued"',
 '^\{"kind":"error","error":"unmapped_sku","message":"line_items\[0\]: SKU \\\\"IPOD2008GREEN\\\\" is not mapped to a NetSuite item"\}$']



=== TEST 4: a given webhook by id, queued or leased (refunds lease first)
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
["POST /wh\n" . $::Order, "POST /wh\n" . $::Refund, "GET /q?op=lease",
 "GET /q?op=normalise&shop=acme.myshopify.com&id=1",
 "GET /q?op=normalise&shop=acme.myshopify.com&id=2",
 "GET /q?op=normalise&shop=acme.myshopify.com&id=3",
 "GET /q?op=normalise&shop=globex.myshopify.com&id=1"]
--- more_headers eval
[::webhook_headers('acme', $::Order, 'n4'),
 ::webhook_headers('acme', $::Refund, 'n5', topic => 'refunds/create'),
 '', '', '', '', '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', '"id":2,"token":1,',
 '^\{"kind":"sales_order",', '^\{"kind":"credit_memo",',
 '^\{"item":null\}$', '^\{"item":null\}$']



=== TEST 5: a shop with nothing queued
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request
GET /q?op=normalise&shop=acme.myshopify.com
--- response_body
{"item":null}



=== TEST 9: sku_rewrite maps a sized SKU through PCRE2, inside nginx
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        sku_map ../html/skus.map;
        sku_rewrite "^(IPOD2008[A-Z]+)-(S|M|L|XL)$" $1;
    }
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
my $sized = $::Order;
$sized =~ s/"sku": *"IPOD2008RED"/"sku": "IPOD2008RED-XL"/ or die;
["POST /wh\n" . $sized, "GET /q?op=normalise&shop=acme.myshopify.com"]
--- more_headers eval
my $sized = $::Order;
$sized =~ s/"sku": *"IPOD2008RED"/"sku": "IPOD2008RED-XL"/ or die;
[::webhook_headers('acme', $sized, 'rw1'), '']
--- response_body_like eval
['"queued"', '"item":\{"id":"1002"\},"quantity":2,.*"sku":"IPOD2008RED-XL","item":\{"id":"1002"\}']



=== TEST 10: a taxed refund of a store that does not say its tax kind is refused, not guessed
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        sku_map ../html/skus.map;
    }
--- config eval: $::Config
--- user_files eval
[["skus.map" => $::Map]]
--- request eval
["POST /wh\n" . $::Refund, "GET /q?op=normalise&shop=acme.myshopify.com"]
--- more_headers eval
[::webhook_headers('acme', $::Refund, 'n2', topic => 'refunds/create'), '']
--- response_body_like eval
['"queued"', '^\{"kind":"error","error":"tax_kind_unknown",']



=== TEST 11: taxes_included takes on, off or unknown
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com {
        secret acme;
        taxes_included sometimes;
    }
--- config eval: $::Config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid taxes_included "sometimes", it must be "on", "off" or "unknown", in order_edit_store "acme\.myshopify\.com" in \S+nginx\.conf:\d+$}
