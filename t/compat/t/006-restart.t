# Self-test of the Test::Nginx runner (compat or real): without HUP mode
# every block with a --- config starts a new nginx, so shared memory
# state does not carry over (the contrast to 005-hup.t).
use Test::Nginx::Socket 'no_plan';

master_on();
no_shuffle();

our $MasterPid;
sub main::master_pid {
    open my $fh, '<', main::server_root() . '/logs/nginx.pid' or return 0;
    chomp(my $pid = <$fh> // '');
    return $pid;
}

run_tests();

__DATA__

=== TEST 1: spend the only token of the zone
--- http_config
    limit_req_zone $server_name zone=restart:1m rate=1r/m;
--- config
    location = /t { limit_req zone=restart; root html; }
--- user_files
>>> t
one
--- init
$main::MasterPid = main::master_pid();
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 503]
--- response_body_like eval
["^one\$", "503"]



=== TEST 2: same config again: new master, fresh zone
--- http_config
    limit_req_zone $server_name zone=restart:1m rate=1r/m;
--- config
    location = /t { limit_req zone=restart; root html; }
--- user_files
>>> t
one
--- init
Test::More::isnt(main::master_pid(), $main::MasterPid, "nginx was restarted");
--- request
GET /t
--- response_body
one
