# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# Every directive error stops nginx at start (as at nginx -t), with the
# file and line of the mistake.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
no_long_string();

# the NetSuite blocks read four key files (and one test a file with two
# keys): every block that declares an account gets them
add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files
        && ($block->http_config // '') =~ /order_edit_netsuite/)
    {
        $block->set_value("user_files", join '',
            map { ">>> $_->[0]\n$_->[1]\n" }
            [ck => 'consumer-key-0123456789'],
            [cs => 'consumer-secret-0123456789'],
            [ti => 'token-id-0123456789'],
            [ts => 'token-secret-0123456789'],
            [two => "key-one\nkey-two"]);
    }
});

run_tests();

__DATA__

=== TEST 1: a complete configuration starts and answers
--- http_config
    order_edit_zone edits:1m dedup_ttl=2d;
    order_edit_store acme.myshopify.com {
        secret_file ../html/acme.secret;
        rate 10r/s burst=20;
        max_body 512k;
        topics orders/updated orders/edited orders/cancelled refunds/create;
        sku_map ../html/skus.map;
        sku_rewrite "^(.+)-(XS|S|M|L|XL)$" $1;
        sku_fallback external_id;
        bundle "GIFTBOX=MUG-01:2:3,TEA-7:1:1";
        money shop;
        external_id sales_order "so-{shop}-{order_id}";
        netsuite_item shipping "eid:ship-standard";
        netsuite_field total custbody_order_total;
        netsuite_field ship_method off;
        currency_exponent XAU=0;
    }
    order_edit_store default { secret "public app secret"; rate 600r/m; }
    order_edit_log_level notice;
--- config
    location = /wh { order_edit_webhook edits; }
    location = /status { order_edit_status edits; }
--- user_files
>>> acme.secret
s3cr3t
>>> skus.map
# shopify sku    netsuite item
MUG-01           1201
TEA-7            1207
--- request
GET /status
--- error_code: 200
--- response_body_like: "total_bytes": 1048576,
--- no_error_log
[emerg]
[error]
[warn]



=== TEST 2: a zone without a size is refused at start
--- http_config
    order_edit_zone edits;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid zone "edits", expected name:size.* in \S+nginx\.conf:\d+$}



=== TEST 3: a zone size that is not a size is refused at start
--- http_config
    order_edit_zone edits:lots;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid zone size "edits:lots".* in \S+nginx\.conf:\d+$}



=== TEST 4: a zone below the minimum is refused at start
--- http_config
    order_edit_zone edits:8k;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*zone "edits:8k" is too small, the minimum is 64k.* in \S+nginx\.conf:\d+$}



=== TEST 5: a bad dedup_ttl is refused at start
--- http_config
    order_edit_zone edits:1m dedup_ttl=forever;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid dedup_ttl "dedup_ttl=forever".* in \S+nginx\.conf:\d+$}



=== TEST 6: an unknown zone parameter is refused at start
--- http_config
    order_edit_zone edits:1m size=2m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "size=2m".* in \S+nginx\.conf:\d+$}



=== TEST 7: a zone declared twice is refused at start
--- http_config
    order_edit_zone edits:1m;
    order_edit_zone edits:1m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate order_edit_zone "edits".* in \S+nginx\.conf:\d+$}



=== TEST 8: a store that is not a shop domain is refused at start
--- http_config
    order_edit_store acme_shop! { secret x; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid shop domain "acme_shop!" in order_edit_store.* in \S+nginx\.conf:\d+$}



=== TEST 8b: a store named like a domain but not name.myshopify.com is refused at start
--- http_config
    order_edit_store a.b.myshopify.com { secret x; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid shop domain "a.b.myshopify.com" in order_edit_store}



=== TEST 9: a store declared twice is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; }
    order_edit_store ACME.myshopify.com { secret y; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate order_edit_store "acme.myshopify.com", the first is in .*nginx.conf:\d+.* in \S+nginx\.conf:\d+$}



=== TEST 10: a store without a secret is refused at start
--- http_config
    order_edit_store acme.myshopify.com { rate 1r/s; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_store "acme.myshopify.com" has no "secret" or "secret_file".* in \S+nginx\.conf:\d+$}



=== TEST 11: an unknown directive in a store is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sekret y; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown directive "sekret" in order_edit_store "acme.myshopify.com".* in \S+nginx\.conf:\d+$}



=== TEST 12: a store directive with too many arguments is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x y; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "secret" directive of order_edit_store "acme.myshopify.com".* in \S+nginx\.conf:\d+$}



=== TEST 13: a missing secret_file is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret_file ../html/nope.secret; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*open\(\) ".*nope.secret" failed \(2: No such file or directory\).* in \S+nginx\.conf:\d+$}



=== TEST 14: an empty secret_file is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret_file ../html/empty.secret; }
--- config
--- user_files
>>> empty.secret


--- must_die
--- error_log eval
qr{\[emerg\] .*secret_file ".*empty.secret" holds no secret.* in \S+nginx\.conf:\d+$}



=== TEST 15: a secret_file with three secrets is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret_file ../html/three.secret; }
--- config
--- user_files
>>> three.secret
one
two
three
--- must_die
--- error_log eval
qr{\[emerg\] .*secret_file ".*three.secret" holds more than two secrets.* in \S+nginx\.conf:\d+$}



=== TEST 16: secret mixed with secret_file is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret_file ../html/one.secret; secret x; }
--- config
--- user_files
>>> one.secret
one
--- must_die
--- error_log eval
qr{\[emerg\] .*"secret" and "secret_file" cannot be mixed in order_edit_store "acme.myshopify.com".* in \S+nginx\.conf:\d+$}



=== TEST 17: three inline secrets is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret a; secret b; secret c; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_store "acme.myshopify.com" has more than two secrets.* in \S+nginx\.conf:\d+$}



=== TEST 18: an empty inline secret is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret ""; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*empty secret in order_edit_store "acme.myshopify.com".* in \S+nginx\.conf:\d+$}



=== TEST 19: a rate per hour is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; rate 10r/h; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "10r/h", expected <n>r/s or <n>r/m.* in \S+nginx\.conf:\d+$}



=== TEST 20: a zero rate is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; rate 0r/s; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "0r/s".* in \S+nginx\.conf:\d+$}



=== TEST 21: a bad burst is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; rate 1r/s burst=many; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid burst value "burst=many".* in \S+nginx\.conf:\d+$}



=== TEST 22: a rate given twice is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; rate 1r/s; rate 2r/s; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"rate" directive is duplicate in order_edit_store "acme.myshopify.com".* in \S+nginx\.conf:\d+$}



=== TEST 23: a zero max_body is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; max_body 0; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid max_body "0", expected a size from 1 to 64m.* in \S+nginx\.conf:\d+$}



=== TEST 24: a max_body over 64m is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; max_body 65m; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid max_body "65m", expected a size from 1 to 64m.* in \S+nginx\.conf:\d+$}



=== TEST 25: a topic without a slash is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; topics orders; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid topic "orders", expected a Shopify topic like orders/updated.* in \S+nginx\.conf:\d+$}



=== TEST 26: a topic given twice is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; topics orders/updated orders/updated; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate topic "orders/updated".* in \S+nginx\.conf:\d+$}



=== TEST 27: a store inside a server block is refused at start
--- config
    order_edit_store acme.myshopify.com { secret x; }
--- must_die
--- error_log eval
qr{\[emerg\] .*"order_edit_store" directive is not allowed here.* in \S+nginx\.conf:\d+$}



=== TEST 28: a webhook location with an undeclared zone is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; }
--- config
    location = /wh { order_edit_webhook nope; }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown order_edit_zone "nope" in \S+nginx\.conf:\d+$}



=== TEST 29: a webhook location with no store at all is refused at start
--- http_config
    order_edit_zone edits:1m;
--- config
    location = /wh { order_edit_webhook edits; }
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_webhook needs at least one order_edit_store block in \S+nginx\.conf:\d+$}



=== TEST 30: webhook and status in one location is refused at start
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret x; }
--- config
    location = /wh { order_edit_webhook edits; order_edit_status edits; }
--- must_die
--- error_log eval
qr{\[emerg\] .*a location takes one of order_edit_webhook, order_edit_status, order_edit_exceptions, order_edit_console, order_edit_report and order_edit_queue_debug, once.* in \S+nginx\.conf:\d+$}



=== TEST 31: an unknown log level is refused at start
--- http_config
    order_edit_zone edits:1m;
--- config
    order_edit_log_level debug;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "debug".* in \S+nginx\.conf:\d+$}



=== TEST 32: order_edit_webhook without an argument is refused at start
--- http_config
    order_edit_zone edits:1m;
--- config
    location = /wh { order_edit_webhook; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "order_edit_webhook" directive.* in \S+nginx\.conf:\d+$}



=== TEST 33: a SKU map that is missing is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sku_map ../html/none.map; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"sku_map": .*none.map.* in \S+nginx\.conf:\d+$}



=== TEST 34: a SKU map with a duplicate SKU is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sku_map ../html/dup.map; }
--- config
--- user_files
>>> dup.map
MUG-01 1201
TEA-7 1207
MUG-01 1300
--- must_die
--- error_log eval
qr{\[emerg\] .*"sku_map": .*line 3: duplicate SKU "MUG-01" \(first on line 1\).* in \S+nginx\.conf:\d+$}



=== TEST 35: a sku_rewrite regex that does not compile is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sku_rewrite "^(unclosed" $1; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*pcre2_compile\(\) failed: missing closing parenthesis in "\^\(unclosed".* in \S+nginx\.conf:\d+$}



=== TEST 36: a sku_rewrite replacement naming a missing group is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sku_rewrite "^(.+)-L$" $2; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"sku_rewrite": .*\$2.* in \S+nginx\.conf:\d+$}



=== TEST 37: a bundle without components is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; bundle GIFTBOX=; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"bundle": .* in \S+nginx\.conf:\d+$}



=== TEST 38: a bundle with a zero weight is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; bundle "GIFTBOX=MUG-01:1:0"; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"bundle": .* in \S+nginx\.conf:\d+$}



=== TEST 39: an unknown sku_fallback is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; sku_fallback guess; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"sku_fallback": .* in \S+nginx\.conf:\d+$}



=== TEST 40: an unknown money set is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; money euros; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"money": .* in \S+nginx\.conf:\d+$}



=== TEST 41: an external_id for an unknown record is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; external_id invoice "x-{order_id}"; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"external_id": .* in \S+nginx\.conf:\d+$}



=== TEST 42: an external_id pattern with characters NetSuite refuses is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; external_id sales_order "so/{order_id}"; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"external_id": .* in \S+nginx\.conf:\d+$}



=== TEST 43: an unknown netsuite_field is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite_field colour custbody_colour; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"netsuite_field": .* in \S+nginx\.conf:\d+$}



=== TEST 44: a bad currency_exponent is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; currency_exponent XAU=9; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"currency_exponent": .* in \S+nginx\.conf:\d+$}



=== TEST 45: a NetSuite account block with every option loads
--- http_config
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        endpoint http://127.0.0.1:18080/;
        mode restlet;
        restlet_url "http://127.0.0.1:18080/app/site/hosting/restlet.nl?script=1&deploy=1";
        concurrency 15;
        connect_timeout 3s;
        timeout 20s;
        retry_budget 8h;
        retry_backoff 500ms 2m;
        lock_after D;
        on_missing retry 30m;
        lookup suiteql custbody_shopify_order_id;
        proxy http://127.0.0.1:3128;
        readback off;
    }
--- config
    location = /status { order_edit_status edits; }
--- request
GET /status
--- error_code: 200
--- no_error_log
[emerg]
[warn]



=== TEST 46: a NetSuite block without an account is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main { consumer_key_file ../html/ck; consumer_secret_file ../html/cs; token_id_file ../html/ti; token_secret_file ../html/ts; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_netsuite "main" has no "account".* in \S+nginx\.conf:\d+$}



=== TEST 47: an account that is not an account id is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567.sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid NetSuite account "1234567.sb1".* in \S+nginx\.conf:\d+$}



=== TEST 48: a NetSuite block missing a key is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main { account 1234567; consumer_key_file ../html/ck; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_netsuite "main" needs consumer_key_file, consumer_secret_file, token_id_file and token_secret_file.* in \S+nginx\.conf:\d+$}



=== TEST 49: a key file with two keys is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/two;
        
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*".*two" must hold exactly one key.* in \S+nginx\.conf:\d+$}



=== TEST 50: plain http to another machine is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        endpoint http://netsuite.example.com;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*plain http is only for this machine \(127.0.0.1, localhost, \[::1\]\): "http://netsuite.example.com" must use https.* in \S+nginx\.conf:\d+$}



=== TEST 51: an endpoint with a path is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        endpoint https://1234567-sb1.suitetalk.api.netsuite.com/services;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint ".*": scheme, host and port only.* in \S+nginx\.conf:\d+$}



=== TEST 52: RESTlet mode without its URL is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        mode restlet;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_netsuite "main" uses mode restlet but has no "restlet_url".* in \S+nginx\.conf:\d+$}



=== TEST 53: a zero concurrency is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        concurrency 0;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid concurrency "0".* in \S+nginx\.conf:\d+$}



=== TEST 54: a lock_after that is no status is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        lock_after Z;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid lock_after "Z", expected a Sales Order status letter from A to H.* in \S+nginx\.conf:\d+$}



=== TEST 55: an unknown on_missing is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        on_missing ignore;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid on_missing, expected "retry \[time\]", "create \[customers=find\|create\] \[match=external_id\|email\] \[guest=id\] \[subsidiary=id\]" or "exception".* in \S+nginx\.conf:\d+$}



=== TEST 55a: on_missing create's guest= must be an internal id
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        on_missing create customers=create guest=eid:guest;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "guest=eid:guest", expected a NetSuite internal id \(digits\) in \S+nginx\.conf:\d+$}



=== TEST 55b: on_missing create's subsidiary= is for the customers it makes
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        on_missing create subsidiary=3;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"subsidiary=" is for the customers "customers=create" makes in \S+nginx\.conf:\d+$}



=== TEST 56: a SuiteQL lookup field that is not an identifier is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        lookup suiteql "x' OR 1=1";
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SuiteQL field "x\' OR 1=1".* in \S+nginx\.conf:\d+$}



=== TEST 57: a backoff whose longest wait is shorter than its first is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        retry_backoff 5m 1s;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid retry_backoff "5m 1s".* in \S+nginx\.conf:\d+$}



=== TEST 58: an unknown directive in a NetSuite block is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        concurency 5;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown directive "concurency" in order_edit_netsuite "main".* in \S+nginx\.conf:\d+$}



=== TEST 59: a store naming an unknown NetSuite block is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite other; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_store "acme.myshopify.com" names an unknown order_edit_netsuite "other".* in \S+nginx\.conf:\d+$}



=== TEST 60: two NetSuite blocks of one name is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        
    }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate order_edit_netsuite "main".* in \S+nginx\.conf:\d+$}



=== TEST 61: a dispatcher in a worker that does not exist is refused at start
--- http_config
    order_edit_zone edits:1m;
    order_edit_dispatch edits worker=3;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*order_edit_dispatch worker=3, but worker_processes is 1 \(workers count from 0\) in \S+nginx\.conf:\d+$}



=== TEST 62: an unknown dispatcher parameter is refused at start
--- http_config
    order_edit_zone edits:1m;
    order_edit_dispatch edits every=1s;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "every=1s", expected worker=<n>, interval=<time>, lease=<time> or shutdown_timeout=<time> in \S+nginx\.conf:\d+$}



=== TEST 63: a dispatcher of an undeclared zone is refused at start
--- http_config
    order_edit_dispatch nowhere;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown order_edit_zone "nowhere" in \S+nginx\.conf:\d+$}



=== TEST 64: a zero timeout is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        timeout 0;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"timeout" directive must be longer than 0 in order_edit_netsuite "main".* in \S+nginx\.conf:\d+$}



=== TEST 65: an unknown mode is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        mode soap;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "soap".* in \S+nginx\.conf:\d+$}



=== TEST 66: a readback that is not on or off is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        readback maybe;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "maybe" in "readback" directive, it must be "on" or "off".* in \S+nginx\.conf:\d+$}



=== TEST 67: a timeout given twice is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        timeout 5s; timeout 6s;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"timeout" directive is duplicate in order_edit_netsuite "main".* in \S+nginx\.conf:\d+$}



=== TEST 68: a retry_budget that is not a time is refused at start
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        retry_budget soon;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"retry_budget" directive invalid value in order_edit_netsuite "main".* in \S+nginx\.conf:\d+$}



=== TEST 69: sign_as names scheme and host only, like the endpoint
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        endpoint http://127.0.0.1:18081;
        sign_as https://1234567-sb1.suitetalk.api.netsuite.com/services;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid sign_as ".*": scheme, host and port only.* in \S+nginx\.conf:\d+$}



=== TEST 70: sign_as over plain http is for this machine only
--- http_config
    order_edit_store acme.myshopify.com { secret x; netsuite main; }
    order_edit_netsuite main {
        account 1234567_sb1;
        consumer_key_file ../html/ck; consumer_secret_file ../html/cs;
        token_id_file ../html/ti; token_secret_file ../html/ts;
        endpoint http://127.0.0.1:18081;
        sign_as http://1234567-sb1.suitetalk.api.netsuite.com;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*plain http is only for this machine.*"http://1234567-sb1.suitetalk.api.netsuite.com" must use https.* in \S+nginx\.conf:\d+$}



=== TEST 71: order_edit_exceptions takes keep_resolved=<time> only
--- http_config
    order_edit_zone edits:1m;
--- config
    location /exc { order_edit_exceptions edits keep=7d; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "keep=7d", expected keep_resolved=<time>}



=== TEST 72: keep_resolved is a time
--- http_config
    order_edit_zone edits:1m;
--- config
    location /exc { order_edit_exceptions edits keep_resolved=soon; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid keep_resolved "soon"}



=== TEST 73: shutdown_timeout is a time
--- http_config
    order_edit_zone edits:1m;
    order_edit_dispatch edits shutdown_timeout=later;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "shutdown_timeout=later", expected worker=<n>, interval=<time>, lease=<time> or shutdown_timeout=<time>}
