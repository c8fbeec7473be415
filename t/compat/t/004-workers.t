# Self-test of the Test::Nginx runner (compat or real): workers(2) with
# master_on() really runs a master and two worker processes.
use Test::Nginx::Socket 'no_plan';

workers(2);
master_on();
no_shuffle();

# Children of the master named in the pid file (workers may still be
# forking right after start-up, so poll for a moment).
sub main::worker_count {
    my $pidfile = main::server_root() . '/logs/nginx.pid';
    open my $fh, '<', $pidfile or return -1;
    chomp(my $master = <$fh> // '');
    my $n = 0;
    for my $try (1 .. 100) {
        $n = 0;
        for my $status (glob '/proc/[0-9]*/status') {
            open my $s, '<', $status or next;
            local $/;
            my $text = <$s> // '';
            $n++ if $text =~ /^PPid:\s+\Q$master\E$/m && $text =~ /^Name:\s+nginx$/m;
        }
        last if $n >= 2;
        select undef, undef, undef, 0.02;
    }
    return $n;
}

run_tests();

__DATA__

=== TEST 1: two workers under one master
--- config
    location = /t { return 200 "pid $pid\n"; }
--- init
Test::More::is(main::worker_count(), 2, "master has 2 worker processes");
--- request
GET /t
--- response_body_like: ^pid \d+$
