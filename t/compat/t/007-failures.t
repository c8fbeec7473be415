# Self-test of the compat runner: wrong expectations must be reported as
# failures.  Runs t/compat/fixtures/*.tt in a nested prove, always against
# the compat runner (even when the real Test::Nginx is installed), with a
# private server root and port so the outer run is not disturbed.
use strict;
use warnings;
use Test::More;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;

my $compat = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $fixtures = "$compat/fixtures";
my $root = tempdir(CLEANUP => 1);

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die $!;
    return $s->sockport;
}

# Run one fixture; returns (exit status, TAP output).
sub nested_prove {
    my $file = shift;
    local $ENV{TEST_NGINX_SERVROOT} = "$root/servroot";
    local $ENV{TEST_NGINX_SERVER_PORT} = free_port();
    delete local $ENV{TEST_NGINX_USE_HUP};
    delete local $ENV{TEST_NGINX_RANDOMIZE};
    my $out = `prove -v -I$compat $fixtures/$file 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = nested_prove('wrong.tt');
isnt($rc, 0, 'prove fails on wrong expectations') or diag $out;
my @expected_failures = (
    qr/TEST 1: wrong body - response_body/,
    qr/TEST 2: .* - status code ok/,
    qr/TEST 2: .* - header X-A ok/,
    qr/TEST 3: .* "this text is never logged" should match a line/,
    qr/TEST 3: .* "No such file or directory" should not match any line/,
    qr/TEST 4: must_die .* - die as expected/,
    qr/client socket timed out - .*TEST 5/,
);
my @not_ok = grep { /^not ok / } split /\n/, $out;
for my $re (@expected_failures) {
    ok((grep { $_ =~ $re } @not_ok), "reported as failure: $re") or diag $out;
}
like($out, qr/^ok \d+ - .*TEST 1: wrong body - status code ok/m,
     'correct expectations still pass');

($rc, $out) = nested_prove('unknown-section.tt');
isnt($rc, 0, 'an unknown section fails the block');
like($out, qr/^not ok .*section '--- respones_body' is not supported/m,
     'and names the section') or diag $out;

# Nothing may be left running from the nested runs.
sub cmdline {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh> // '';
}
my @left = grep { cmdline($_) =~ /\Q$root\E/ } glob '/proc/[0-9]*/cmdline';
is(scalar @left, 0, 'no nginx left behind by the nested runs');

done_testing();
