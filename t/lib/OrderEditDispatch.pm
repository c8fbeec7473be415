package OrderEditDispatch;

# What the dispatcher suites (t/110, t/120, t/125, t/130) share: Shopify
# fixtures, NetSuite simulator requests as ordinary Test::Nginx requests
# (through the /sim/ location each suite proxies to the simulator's admin
# API), patterns over what the simulator answers, and the block
# preprocessor that signs webhooks.  A suite names what it uses; the
# values it tests against ($::SO and the like) stay in the suite.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP ();

use OrderEditTest;
use OrderEditSim;

our @EXPORT_OK = qw(fixture edit webhook seed_record json_request seed
                    status_of faults all lines writes http_config
                    signing_preprocessor tba_files
                    $SO $CM $Reset $Drain $Ok $Drained $Config);


# the order and the refund of the fixtures, as NetSuite records
our $SO = 'shopify-acme-450789469';
our $CM = 'shopify-acme-refund-929361464';

# the simulator's admin API through /sim/, and what it answers
our $Reset = "POST /sim/reset";
our $Drain = "GET /q?op=drain&ms=8000";
our $Ok = '^\{"ok":true\}$';
our $Drained = '^\{"drained":true,"depth":0,"exceptions":0\}$';

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location = /status { order_edit_status edits; }
    location /exc { order_edit_exceptions edits; }
    location /sim/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SIM_PORT/_admin/;
    }
_EOC_


# a Shopify payload as Shopify signs it (no trailing newline: Test::Nginx
# trims a request body's trailing white space)
sub fixture {
    my $name = shift;

    open my $fh, '<:raw', "t/fixtures/shopify/$name"
        or die "$name: $!\n";
    local $/;
    my $body = <$fh>;
    $body =~ s/\s+\z//;

    return $body;
}


# the payload with each FROM replaced by TO (each must be there)
sub edit {
    my ($body, @pairs) = @_;

    while (my ($from, $to) = splice @pairs, 0, 2) {
        $body =~ s/\Q$from\E/$to/g or die "no $from in the payload\n";
    }

    return $body;
}


# a webhook: the preprocessor below signs it and adds its headers
sub webhook {
    my ($id, $body, $topic) = @_;
    return { id => $id, body => $body, topic => $topic // 'orders/updated' };
}


# a Sales Order as NetSuite has it (lines [item, quantity, rate, key])
sub seed_record {
    my (%o) = @_;

    my $lines = delete $o{lines} // [[1001, 3, 199]];

    return {
        externalId => delete $o{eid} // $::SO,
        entity => { id => '42' },
        item => { items => [ map { { item => { id => "$_->[0]" },
                                     quantity => $_->[1],
                                     rate => $_->[2],
                                     # the Shopify key the module writes
                                     defined $_->[3]
                                     ? (custcol_shopify_line_id => $_->[3])
                                     : () } } @$lines ] },
        %o,
    };
}


sub json_request {
    my ($line, $data) = @_;
    return "$line\n" . JSON::PP->new->canonical->encode($data);
}


# POST /sim/orders: seed one Sales Order (or a list of records)
sub seed {
    return json_request("POST /sim/orders",
                        @_ == 1 ? $_[0] : seed_record(@_));
}


sub status_of {
    my ($letter, $eid) = @_;
    return json_request("POST /sim/orders/eid:" . ($eid // $::SO)
                        . "/status", { orderStatus => $letter });
}


sub faults { json_request("POST /sim/faults", {@_}) }


# a pattern that holds when each part matches somewhere, in any order
sub all {
    return '^' . join '', map { "(?=.*$_)" } @_;
}


# the parts saying a record has exactly these item lines: [item, qty], ...
sub lines {
    my @lines = @_;

    return ('"item":\{"links":\[[^\]]*\],"count":' . @lines . ',',
            map { '"item":\{"id":"' . $_->[0] . '","refName":"[^"]*"\},'
                  . '"quantity":' . $_->[1] . ',' } @lines);
}


# its _sim.writes (a seed is one)
sub writes {
    return '"_sim":\{[^}]*"writes":' . shift . ',';
}


# one account (TBA keys in ../html) and one store, the dispatcher in
# worker 0 every 50 ms
sub http_config {
    my (%o) = @_;

    my $ts = $o{token_secret_file} // 'ts';
    my $timeout = $o{timeout} // '5s';
    my $concurrency = $o{concurrency} // 4;
    my $extra = $o{extra} // '';

    return <<"_EOC_";
    order_edit_zone edits:4m;
    order_edit_netsuite main {
        account $OrderEditSim::ACCOUNT;
        endpoint http://127.0.0.1:\$TEST_NGINX_SIM_PORT;
        consumer_key_file ../html/ck;
        consumer_secret_file ../html/cs;
        token_id_file ../html/ti;
        token_secret_file ../html/$ts;
        concurrency $concurrency;
        timeout $timeout;
        retry_backoff 100ms 300ms;
        $extra
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map ../html/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
_EOC_
}


# the TBA keys the simulator was started with, and the fixtures' SKU map
sub tba_files {
    my %k = %OrderEditSim::KEYS;

    return ([ck => $k{consumer_key}], [cs => $k{consumer_secret}],
            [ti => $k{token_id}], [ts => $k{token_secret}],
            ['skus.map' => fixture('skus.map')]);
}


# The block preprocessor: a block declaring an account gets the files the
# suite names (a list of [name, content]; by default the TBA keys, a wrong
# token secret and the SKU map); webhooks in a request list become signed
# POST /wh requests.
sub signing_preprocessor {
    my ($files) = @_;

    $files //= sub {
        my %k = %OrderEditSim::KEYS;

        return (tba_files(), ['ts-wrong' => 'not-' . $k{token_secret}]);
    };

    return sub {
        my $block = shift;

        if (!defined $block->user_files
            && ($block->http_config // '') =~ /order_edit_netsuite/)
        {
            $block->set_value("user_files", join '',
                map { ">>> $_->[0]\n$_->[1]\n" } $files->());
        }

        my $reqs = $block->request;

        if (ref $reqs eq 'ARRAY' && !defined $block->more_headers) {
            my (@r, @h);

            for my $r (@$reqs) {
                if (ref $r) {
                    push @r, "POST /wh\n$r->{body}";
                    push @h, webhook_headers('acme', $r->{body}, $r->{id},
                                             topic => $r->{topic});
                } else {
                    push @r, $r;
                    push @h, '';
                }
            }

            $block->set_value("request", \@r);
            $block->set_value("more_headers", \@h);
        }
    };
}


1;
