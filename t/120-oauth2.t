# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# NetSuite OAuth 2.0 client credentials (M2M) end to end against the
# simulator (tools/netsuite_sim/m2m.py verifies the JWT as NetSuite's help
# describes): edits and refunds delivered with Bearer tokens, a token
# expiring mid-burst, a revoked token (one refetch; an exception when the
# new one is refused too), a key rotation, and a token endpoint that is
# down (backoff, status, exception).  The key pairs are made here with
# openssl; the public halves are "uploaded" to the simulator once, with
# the client id, before the first block.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use OrderEditTest;
use OrderEditSim;
use OrderEditDispatch qw(fixture edit webhook seed_record json_request
                         faults all signing_preprocessor
                         $SO $CM $Reset $Drain $Ok $Drained $Config);

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(2);
log_level('info');
timeout(12);

our $ClientId = 'c0ffee-client-0123456789abcdef';


# key A: RSA 3072 (PS256); key B: EC P-256 (ES256); C: RSA 2048 (refused)
my $Dir = tempdir('order-edit-oauth2-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub openssl {
    system('openssl', @_) == 0 or die "openssl @_ failed\n";
}

openssl('genpkey', '-quiet', '-algorithm', 'RSA', '-pkeyopt',
        'rsa_keygen_bits:3072', '-out', "$Dir/a.pem");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-out', "$Dir/b.pem");
openssl('genpkey', '-quiet', '-algorithm', 'RSA', '-pkeyopt',
        'rsa_keygen_bits:2048', '-out', "$Dir/c.pem");

# what is uploaded to NetSuite: an x.509 certificate of each key
for my $k (qw(a b)) {
    openssl('req', '-new', '-x509', '-key', "$Dir/$k.pem", '-days', '30',
            '-subj', "/CN=order-edit-test-$k", '-out', "$Dir/$k.crt");
}

sub slurp {
    open my $fh, '<', shift or die "$!\n";
    local $/;
    return <$fh>;
}

our %Key = map { $_ => slurp("$Dir/$_.pem") } qw(a b c);

{
    my $r = HTTP::Tiny->new(timeout => 5)->post(
        "http://127.0.0.1:$ENV{TEST_NGINX_SIM_PORT}/_admin/oauth2",
        { content => JSON::PP->new->encode({
              client_id => $ClientId,
              certificates => { 'cert-A' => slurp("$Dir/a.crt"),
                                'cert-B' => slurp("$Dir/b.crt") } }) });
    die "the simulator refused the certificates: $r->{content}\n"
        unless $r->{success};
}


sub http_config {
    my (%o) = @_;

    my $next = $o{next} ? "next_certificate_id cert-B;\n"
                          . "        next_private_key_file ../html/b.pem;"
                        : '';
    my $budget = $o{budget} ? "retry_budget $o{budget};" : '';
    my $cert = $o{cert} // 'cert-A';
    my $key = $o{key} // 'a.pem';

    return <<"_EOC_";
    order_edit_zone edits:4m;
    order_edit_netsuite main {
        account $OrderEditSim::ACCOUNT;
        endpoint http://127.0.0.1:\$TEST_NGINX_SIM_PORT;
        auth oauth2;
        client_id_file ../html/cid;
        certificate_id $cert;
        private_key_file ../html/$key;
        $next
        concurrency 4;
        timeout 5s;
        retry_backoff 100ms 300ms;
        $budget
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map ../html/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
_EOC_
}

our $Edit = fixture('01-us-tax-exclusive.json');
our $Refund = fixture('28-refund-restock.json');

sub order {
    my ($id) = @_;
    return edit($Edit, '450789469', $id);
}

sub seed { return json_request("POST /sim/orders", seed_record(@_)) }

sub status_of {
    my ($letter) = @_;
    return json_request("POST /sim/orders/eid:$SO/status",
                        { orderStatus => $letter });
}

sub oauth2 { json_request("POST /sim/oauth2", {@_}) }

# eight more orders, for a burst
our @Burst = map { 450789469 + 1000 * $_ } 1 .. 8;


my $sign = signing_preprocessor(sub {
    return ([cid => $ClientId], ['a.pem' => $Key{a}], ['b.pem' => $Key{b}],
            ['c.pem' => $Key{c}], ['skus.map' => fixture('skus.map')]);
});

add_block_preprocessor(sub { $sign->(@_) });

run_tests();

__DATA__

=== TEST 1: an edit and a refund reach NetSuite with a Bearer token
One token (PS256 assertion, certificate A) serves every request; the
simulator saw no TBA header and refused nothing.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(lines => [[1001, 3, 199], [9999, 1, 5]]),
 ::webhook('e1', $::Edit),
 $::Drain,
 ::status_of('G'),
 ::webhook('r1', $::Refund, 'refunds/create'),
 $::Drain,
 "GET /sim/orders/eid:$::SO",
 "GET /sim/records/creditMemo/eid:$::CM",
 "GET /sim/counters",
 "GET /sim/oauth2",
 "GET /status",
 "GET /status?format=prometheus"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained, '"orderStatus"',
 '"queued"', $::Drained,
 '"item":\{"id":"1002","refName":"[^"]*"\},"quantity":2,',
 '"custbody_shopify_refund_id":"929361464"',
 '"401":0,.*"auth_failures":0,.*"writes":\{"salesOrder":1,"creditMemo":1\}',
 ::all('"by_kid":\{("cert-A":1)?\}', '"bearer_401":0',
       '"bearer_ok":[4-9]', '"replayed":0', '"token_refused":0'),
 ::all('"oauth2": \{', '"token": "valid"', '"key": "current"',
       '"fetches": 1,', '"rejected": 0,', '"acked": 2,',
       '"exceptions": 0\n'),
 'order_edit_netsuite_oauth2_token_valid\{zone="edits",account="main"\} 1\n'
     . 'order_edit_netsuite_oauth2_fetches_total\{zone="edits",'
     . 'account="main"\} 1\n'
     . 'order_edit_netsuite_oauth2_fetch_errors_total\{zone="edits",'
     . 'account="main"\} 0\n']
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: tokens that expire mid-burst are renewed before they run out
The simulator's tokens live 2 s and NetSuite is slow (150 ms a call, one
at a time): nine orders take several tokens, none of them refused.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::oauth2(token_ttl => 2, revoke_tokens => JSON::PP::true),
 ::faults(latency_ms => 150),
 "POST /sim/concurrency\n{\"limit\":1}",
 (map { ::seed(eid => "shopify-acme-$_") } 450789469, @::Burst),
 (map { ::webhook("m$_", ::order($_)) } 450789469, @::Burst),
 "GET /q?op=drain&ms=11000",
 "GET /sim/oauth2",
 "GET /status"]
--- error_code eval
[200, 200, 200, 200, (201) x 9, (200) x 9, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"token_ttl"', '"latency_ms"', '"limit":1',
 ('"externalId"') x 9, ('"queued"') x 9, $::Drained,
 ::all('"tokens_issued":[3-9]', '"token_refused":0', '"replayed":0',
       '"bearer_401":[01]\b'),
 ::all('"acked": 9,', '"exceptions": 0\n', '"rejected": [01],')]
--- no_error_log
[error]
[alert]
[crit]
--- timeout: 15



=== TEST 3: a token that dies before its expires_in is refetched on its 401
The simulator says 3600 s but ends its tokens after one: each 401 drops
the token once, a new one is fetched and the request sent again.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::oauth2(token_ttl => 1, expires_in => 3600, revoke_tokens => JSON::PP::true),
 ::faults(latency_ms => 200),
 "POST /sim/concurrency\n{\"limit\":1}",
 (map { ::seed(eid => "shopify-acme-$_") } 450789469, @::Burst[0 .. 3]),
 (map { ::webhook("x$_", ::order($_)) } 450789469, @::Burst[0 .. 3]),
 "GET /q?op=drain&ms=11000",
 "GET /sim/oauth2",
 "GET /status"]
--- error_code eval
[200, 200, 200, 200, (201) x 5, (200) x 5, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"expires_in":3600', '"latency_ms"', '"limit":1',
 ('"externalId"') x 5, ('"queued"') x 5, $::Drained,
 ::all('"bearer_401":[1-9]', '"tokens_issued":[2-9]', '"replayed":0'),
 ::all('"acked": 5,', '"exceptions": 0\n', '"rejected": [1-9]')]
--- no_error_log
[alert]
[crit]
--- timeout: 15



=== TEST 4: a revoked token: one refetch and the edit goes through
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(eid => $::SO),
 ::webhook('v1', $::Edit),
 $::Drain,
 ::oauth2(revoke_tokens => JSON::PP::true),
 ::seed(eid => 'shopify-acme-450790469'),
 ::webhook('v2', ::order('450790469')),
 $::Drain,
 "GET /sim/oauth2",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 201, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained, '"live_tokens":0',
 '"externalId"', '"queued"', $::Drained,
 ::all('"bearer_401":1\b', '"live_tokens":1'),
 ::all('"fetches": 2,', '"rejected": 1,', '"acked": 2,',
       '"exceptions": 0\n')]
--- no_error_log
[alert]
[crit]



=== TEST 5: a new token refused too: the webhook becomes an exception
Every Bearer token is refused (the role lost its permission): the first
401 fetches one new token, the second parks the webhook for people, and
no third token is asked for.
--- http_config eval: ::http_config()
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(eid => $::SO),
 ::oauth2(reject_bearer => JSON::PP::true),
 ::webhook('k1', $::Edit),
 $::Drain,
 "GET /exc",
 "GET /status"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"reject_bearer":true', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"webhook_id": "k1",(?s:.*)"reason": "oauth2_rejected",(?s:.*)'
     . '"netsuite_error": "HTTP 401 INVALID_LOGIN',
 ::all('"fetches": 2,', '"rejected": 1,', '"exceptions": 1\n')]
--- no_error_log
[alert]
[crit]



=== TEST 6: key rotation: certificate A revoked, certificate B takes over
--- http_config eval: ::http_config(next => 1)
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(eid => $::SO),
 ::webhook('q1', $::Edit),
 $::Drain,
 ::oauth2(revoke_certificate => 'cert-A'),
 ::seed(eid => 'shopify-acme-450790469'),
 ::webhook('q2', ::order('450790469')),
 $::Drain,
 "GET /sim/oauth2",
 "GET /status",
 ::oauth2(restore_certificate => 'cert-A')]
--- error_code eval
[200, 201, 200, 200, 200, 201, 200, 200, 200, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"queued"', $::Drained,
 '"revoked_certificates":\["cert-A"\]', '"externalId"', '"queued"',
 $::Drained,
 ::all('"by_kid":\{("cert-A":1,)?"cert-B":1\}', '"token_refused":1,',
       '"last_refusal":"unknown or revoked certificate id \'cert-A\'"'),
 ::all('"token": "valid"', '"key": "next"', '"rotations": 1,',
       '"acked": 2,', '"exceptions": 0\n'),
 '"revoked_certificates":\[\]']
--- no_error_log
[alert]
[crit]



=== TEST 7: a token endpoint that is down: backoff, status, exception
The token is revoked and the endpoint answers 503: the webhook waits with
its backoff, the endpoint sees about a request a second (not one per
retry), the status says why, and past the retry budget the webhook is an
exception.  Once the endpoint is back the next webhook goes through.
--- http_config eval: ::http_config(budget => '3s')
--- config eval: $::Config
--- request eval
[$::Reset,
 ::seed(eid => $::SO),
 ::oauth2(revoke_tokens => JSON::PP::true, down => 503),
 ::webhook('d1', $::Edit),
 "GET /q?op=drain&ms=8000",
 "GET /sim/oauth2",
 "GET /status",
 "GET /exc",
 ::oauth2(down => JSON::PP::false),
 ::seed(eid => 'shopify-acme-450790469'),
 ::webhook('d2', ::order('450790469')),
 "GET /q?op=drain&ms=5000"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200, 200, 201, 200, 200]
--- response_body_like eval
[$::Ok, '"externalId"', '"down":503', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$',
 '"token_down":[1-6],',
 ::all('"token": "failing"', '"fetch_errors": [1-6],',
       '"error": "token endpoint: HTTP 503"'),
 '"webhook_id": "d1",(?s:.*)"reason": "retry_budget_exhausted",(?s:.*)'
     . '"netsuite_error": "no OAuth 2.0 token: token endpoint: HTTP 503',
 '"down":null', '"externalId"', '"queued"',
 '^\{"drained":true,"depth":0,"exceptions":1\}$']
--- no_error_log
[alert]
[crit]
--- timeout: 15



=== TEST 8: nginx -t: an RSA key NetSuite would refuse
--- http_config eval: ::http_config(key => 'c.pem')
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*private_key_file ".*c\.pem": an RSA key of 2048 bits; NetSuite accepts 3072 or 4096 in \S+nginx\.conf:\d+$}



=== TEST 9: nginx -t: an EC key cannot sign PS256
--- http_config eval: ::http_config() =~ s{a\.pem;}{b.pem PS256;}r
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*private_key_file ".*b\.pem": an EC key of 256 bits cannot sign PS256 in \S+nginx\.conf:\d+$}



=== TEST 10: nginx -t: oauth2 without a certificate id
--- http_config eval: ::http_config() =~ s{certificate_id cert-A;}{}r
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"main" uses auth oauth2 and needs client_id_file, certificate_id and private_key_file in \S+nginx\.conf:\d+$}



=== TEST 11: nginx -t: OAuth 2.0 settings under auth tba
--- http_config eval: ::http_config() =~ s{auth oauth2;}{auth tba;}r
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"main" has OAuth 2.0 settings but no "auth oauth2" in \S+nginx\.conf:\d+$}



=== TEST 12: nginx -t: half a rotation
--- http_config eval: ::http_config() =~ s{private_key_file ../html/a.pem;}{private_key_file ../html/a.pem; next_certificate_id cert-B;}r
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*a rotation needs both next_certificate_id and next_private_key_file in \S+nginx\.conf:\d+$}
