# Self-test of the Test::Nginx runner (compat or real): the Perl-level
# API around the blocks: plan with blocks(), block preprocessors,
# config_preamble, env_to_nginx, no_root_location, server_port and the
# load_module lines generated from TEST_NGINX_LOAD_MODULES.
use Test::Nginx::Socket;

plan tests => 2 * blocks() + 3;

no_root_location();
no_shuffle();
env_to_nginx('COMPAT_SELFTEST_ENV=1');
config_preamble(<<'_EOC_');
        location = /preamble { return 200 "from preamble\n"; }
_EOC_

# Blocks without a request get a default one.
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('request', 'GET /preamble') unless defined $block->request;
});

# Every path in TEST_NGINX_LOAD_MODULES (set by the Makefile to the
# project's module) must appear as a load_module line of nginx.conf.
sub main::conf_has_load_modules {
    open my $fh, '<', main::server_root() . '/conf/nginx.conf' or return 0;
    my $conf = do { local $/; <$fh> };
    for my $so (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
        return 0 unless $conf =~ /load_module \Q$so\E;/;
    }
    return 1;
}

run_tests();

__DATA__

=== TEST 1: preprocessor supplies the request, preamble the location
--- config
    location = /t { return 200; }
--- init
Test::More::ok(main::conf_has_load_modules(), "load_module lines present");
Test::More::is(main::server_port(), $ENV{TEST_NGINX_SERVER_PORT}, "server_port");
--- response_body
from preamble



=== TEST 2: no_root_location: the test may define "location /" itself
--- config
    location / { return 200 "my own root location\n"; }
--- request
GET /index.html
--- init
Test::More::like(main::html_dir(), qr{/html$}, "html_dir");
--- response_body
my own root location
