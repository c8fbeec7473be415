package OrderEditSim;

# One NetSuite simulator (tools/netsuite-sim) for a whole Test::Nginx file.
#
#     use lib 't/lib';
#     use Test::Nginx::Socket 'no_plan';
#     use OrderEditSim;       # started here, once
#
# Loading the module starts the simulator on a free 127.0.0.1 port with
# the TBA keys of tools/tests/simhelper.py (%OrderEditSim::KEYS), waits
# (bounded) until GET /_admin/health answers, and exports the port as
# $ENV{TEST_NGINX_SIM_PORT}, which both Test::Nginx runners expand in
# http_config, config and user_files like any $TEST_NGINX_* variable.
# It is stopped (SIGTERM, then SIGKILL) by an END block of the process
# that started it, also after a die, SIGINT or SIGTERM, and the kernel
# sends it SIGTERM if the test process is killed outright (prctl
# PR_SET_PDEATHSIG).
#
# TEST_NGINX_SIM_LOG=FILE keeps the simulator's per-call log (by default
# it goes to a temporary directory removed at the end).  Pure Perl, core
# modules only.

use strict;
use warnings;

use Config;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

our $ACCOUNT = '1234567_SB1';

# the same keys as KEYS in tools/tests/simhelper.py: "+/=" and "&" make
# the OAuth signer percent-encode the signing key
our %KEYS = (
    consumer_key    => 'ck-test-consumer',
    consumer_secret => 'cs-secret+/=',
    token_id        => 'ti-test-token',
    token_secret    => 'ts-secret&x',
);

my $Top = abs_path(dirname(__FILE__) . '/../..');
my $Sim = "$Top/tools/netsuite-sim";
my $StartTimeout = 10;      # seconds, like simhelper.START_TIMEOUT
my $StopTimeout = 10;

my ($Pid, $Owner, $Port, $Dir, $Log);


sub port { $Port }
sub pid { $Pid }
sub log_file { $Log }


# the last lines of the simulator's log and stderr, for a failure message
sub tail {
    my $n = shift // 20;
    my $out = '';

    for my $f (grep { defined } $Log, $Dir && "$Dir/stderr") {
        open my $fh, '<', $f or next;
        my @lines = <$fh>;
        splice @lines, 0, @lines - $n if @lines > $n;
        $out .= "--- $f\n" . join '', @lines;
    }

    return $out;
}


# prctl(2) PR_SET_PDEATHSIG through syscall.ph (libperl), else the two
# numbers t/compat also knows
sub prctl_nr {
    my $nr = eval {
        package main;
        no warnings;
        require 'syscall.ph';
        main::SYS_prctl();
    };
    return $nr if $nr;

    my ($arch) = $Config{archname} =~ /^([^-]+)/;
    return { x86_64 => 157, aarch64 => 167 }->{$arch // ''};
}


sub start {
    $Dir = tempdir('order-edit-sim-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $Log = $ENV{TEST_NGINX_SIM_LOG} || "$Dir/sim.log";

    my $port_file = "$Dir/port";
    my @cmd = ('python3', $Sim, '--port', 0, '--port-file', $port_file,
               '--account', $ACCOUNT, '--log', $Log);

    for my $k (sort keys %KEYS) {
        (my $flag = $k) =~ tr/_/-/;
        push @cmd, "--$flag", $KEYS{$k};
    }

    my $nr = prctl_nr();

    $Owner = $$;
    $Pid = fork;
    die "OrderEditSim: fork: $!\n" unless defined $Pid;

    if ($Pid == 0) {
        # SIGTERM (15) to the simulator when this test process dies
        syscall($nr, 1, 15, 0, 0, 0) if $nr;
        _exit(0) if getppid() != $Owner;

        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';      # the port: --port-file
        open STDERR, '>', "$Dir/stderr";
        { no warnings 'exec'; exec @cmd; }
        print STDERR "exec @cmd: $!\n";
        _exit(127);
    }

    my $http = HTTP::Tiny->new(timeout => 2);
    my $deadline = time + $StartTimeout;

    while (time < $deadline) {
        if (waitpid($Pid, WNOHANG) == $Pid) {
            my $status = $? & 127 ? 'signal ' . ($? & 127)
                                  : 'code ' . ($? >> 8);
            undef $Pid;
            die "OrderEditSim: the simulator exited ($status)\n" . tail();
        }

        if (!$Port && open my $fh, '<', $port_file) {
            my $p = <$fh> // '';
            $Port = $1 if $p =~ /^(\d+)\s*$/;
        }

        if ($Port) {
            my $r = $http->get("http://127.0.0.1:$Port/_admin/health");

            if ($r->{status} == 200 && $r->{content} =~ /"ok":\s*true/) {
                $ENV{TEST_NGINX_SIM_PORT} = $Port;
                return $Port;
            }
        }

        sleep 0.05;
    }

    stop();
    die "OrderEditSim: the simulator did not answer /_admin/health within "
        . "${StartTimeout}s\n" . tail();
}


sub stop {
    return unless $Pid && defined $Owner && $$ == $Owner;

    my $pid = $Pid;
    undef $Pid;

    kill 'TERM', $pid;

    my $deadline = time + $StopTimeout;

    while (time < $deadline) {
        my $rc = waitpid($pid, WNOHANG);
        return if $rc == $pid || $rc == -1;
        sleep 0.05;
    }

    warn "OrderEditSim: the simulator ignored SIGTERM, killing it\n";
    kill 'KILL', $pid;
    waitpid($pid, 0);
}


# Ctrl-C and kill end the test process through exit, so that END runs
# (t/compat installs the same handlers; the real Test::Nginx none)
for my $sig (qw(INT TERM)) {
    my $code = $sig eq 'INT' ? 130 : 143;
    $SIG{$sig} = sub { exit $code } unless ref $SIG{$sig};
}

END {
    local $?;       # keep the test's exit status
    stop();
}

start();

1;
