# Self-test of the Test::Nginx runner (compat or real): HUP mode.  Blocks
# after the first reload the running master with the new config instead of
# restarting it, so shared memory zones (here limit_req state) survive.
use Test::Nginx::Socket 'no_plan';

use_hup();      # same as BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1 } before the use line
master_on();    # HUP mode forces it anyway; say it for readers
no_shuffle();   # the blocks build on each other

our $MasterPid;
sub main::master_pid {
    open my $fh, '<', main::server_root() . '/logs/nginx.pid' or return 0;
    chomp(my $pid = <$fh> // '');
    return $pid;
}

run_tests();

__DATA__

=== TEST 1: fresh start; the only token of the zone is spent
--- http_config
    limit_req_zone $server_name zone=hup:1m rate=1r/m;
--- config
    location = /t {
        # limit_req runs in the preaccess phase: serve a file, since
        # "return" would answer before it (rewrite phase)
        limit_req zone=hup;
        root html;
    }
--- user_files
>>> t
first config
--- init
$main::MasterPid = main::master_pid();
--- request
GET /t
--- response_body
first config



=== TEST 2: changed config is live, same master, zone state kept
--- http_config
    limit_req_zone $server_name zone=hup:1m rate=1r/m;
--- config
    location = /t {
        limit_req zone=hup;
        limit_req_status 429;
        root html;
    }
    location = /v { return 200 "second config\n"; }
--- user_files
>>> t
second config
--- init
Test::More::ok($main::MasterPid > 1, "master pid recorded");
Test::More::is(main::master_pid(), $main::MasterPid, "same master after reload");
--- request eval
["GET /t", "GET /v"]
--- error_code eval
[429, 200]
--- response_body_like eval
["429", "^second config\$"]



=== TEST 3: error.log starts empty for every block even without a restart
--- http_config
    limit_req_zone $server_name zone=hup:1m rate=1r/m;
--- config
    location = /t { return 200 "third config\n"; }
--- log_level: info
--- request
GET /t
--- response_body
third config
--- no_error_log
limiting requests



=== TEST 4: must_die leaves HUP mode for this block: the master is stopped
--- config
    location = /t { return a b c; }
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid number of arguments



=== TEST 5: with no master left, the next block starts a new one
--- http_config
    limit_req_zone $server_name zone=hup:1m rate=1r/m;
--- config
    location = /t { limit_req zone=hup; root html; }
--- user_files
>>> t
fresh zone
--- init
Test::More::isnt(main::master_pid(), $main::MasterPid, "a new master");
--- request
GET /t
--- response_body
fresh zone
