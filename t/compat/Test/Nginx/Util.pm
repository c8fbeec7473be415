package Test::Nginx::Util;

# Server side of the project's compact Test::Nginx-compatible runner:
# settings, nginx.conf generation, starting / reloading / stopping nginx
# and reading error.log.  The request side lives in Test/Nginx/Socket.pm.
#
# Written from the documented behaviour of openresty/test-nginx (the real
# Test::Nginx); names, defaults, environment variables and the generated
# nginx.conf follow it so that t/*.t behave the same under both.  See
# t/compat/README.md for what is supported and how it differs.

use strict;
use warnings;

use Config ();
use Exporter 'import';
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min);
use POSIX qw(WNOHANG);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use Test::More ();

our @EXPORT = qw(
    run_tests bail_out expand_env_in_text error_log_data parse_time
    repeat_each workers master_on master_off master_process_enabled
    log_level timeout no_shuffle no_long_string no_root_location use_hup
    worker_connections config_preamble env_to_nginx check_accum_error_log
    server_port server_port_for_client server_addr server_name
    server_root html_dir add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler is_str
);

# ---------------------------------------------------------------------------
# Settings.  Same environment variables and defaults as the real module.

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                            || 1984;
# Like the real one, the client port is fixed at load time: calling
# server_port(N) later changes only the listen port.
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $UseHup               = $ENV{TEST_NGINX_USE_HUP};
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $Sleep                = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ForceRestartOnTest   = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $RepeatEach           = 1;
our $NoRootLocation       = 0;
our $NoLongString;
our $ConfigPreamble       = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);

# Hooks filled in by Socket.pm (kept as variables to avoid a circular use).
our ($RunTestHelper, $CheckErrorLog);

# TEST_NGINX_RANDOMIZE: private port and server root, so that several test
# files can run in parallel (prove -j).
our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};
if ($Randomize) {
    my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr, LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "TEST_NGINX_RANDOMIZE: cannot find a free port: $!\n";
    $ServerPort = $ServerPortForClient = $s->sockport;
    close $s;
}

our $ServRoot = $Randomize ? File::Spec->rel2abs("t/servroot_$ServerPort")
              : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Run-time state.
our ($PrevConfig, $ConfigVersion, $RandPorts, $NginxVersion, $NginxV);
our $FirstTime     = 1;
our $ErrLogFilePos = 0;

# ---------------------------------------------------------------------------
# Functions a test file calls before run_tests().  Prototypes match the
# real module so that e.g. `repeat_each 2;` and `add_block_preprocessor {...}`
# parse the same way.

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub server_port (@)        { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub server_addr (@)        { $ServerAddr = shift if @_; $ServerAddr }
sub server_name (@)        { $ServerName = shift if @_; $ServerName }
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    $MasterProcessEnabled = (shift() ? 'on' : 'off') if @_;
    $MasterProcessEnabled;
}
sub no_shuffle ()            { $NoShuffle = 1 }
sub no_long_string ()        { $NoLongString = 1 }
sub no_root_location ()      { $NoRootLocation = 1 }
sub use_hup ()               { $UseHup = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)      { $ConfigPreamble = shift }
sub server_root ()           { $ServRoot }
sub html_dir ()              { $HtmlDir }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)      { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# String equality; a Regexp as expected value means "like".
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc);
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# "500ms" -> 0.5, "2s" / "2" -> 2
sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

# Replace $TEST_NGINX_* with the environment value (or, for
# $TEST_NGINX_RAND_PORT_N, a free port kept for the whole block).  An unset
# variable is a fatal error, as in the real module.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= free_port();
        } else {
            defined $ENV{$var} or bail_out("$name - No environment $var defined.\n");
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr, LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or bail_out("cannot find a free port: $!");
    my $port = $s->sockport;
    close $s;
    return $port;
}

# ---------------------------------------------------------------------------
# nginx processes

sub nginx_v {
    $NginxV //= `$NginxBinary -V 2>&1` // '';
    return $NginxV;
}

# Version as the real module computes it: 1.22.1 -> 1.022001.
sub nginx_version {
    return $NginxVersion if defined $NginxVersion;
    nginx_v() =~ m{nginx[^/]*/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to get the version of $NginxBinary: " . nginx_v());
    return $NginxVersion = sprintf "%d.%03d%03d", $1, $2, $3;
}

# nginx daemonises, so the master is normally adopted by PID 1, and in
# containers whose PID 1 never reaps, every stopped nginx would stay behind
# as a zombie.  On Linux, become a "child subreaper" (prctl
# PR_SET_CHILD_SUBREAPER = 36) so that the master is adopted by this test
# process instead and is_running() can reap it.
my %PrctlSyscall = (x86_64 => 157, aarch64 => 167);
if ($^O eq 'linux') {
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)/;
    syscall($PrctlSyscall{$arch}, 36, 1, 0, 0, 0) if $PrctlSyscall{$arch};
}

# kill(0) alone is not enough: an exited nginx that nobody reaped yet is a
# zombie, which kill(0) still reports as alive.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid;
    waitpid($pid, WNOHANG);     # reaps it if it is our (adopted) child
    return 0 unless kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        return 0 if $stat =~ /\)\s+Z/;
    }
    return 1;
}

sub read_pid () {
    open my $fh, '<', $PidFile or return undef;
    my $pid = <$fh> // '';
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub wait_gone ($$) {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    sleep 0.01 while is_running($pid) && time < $deadline;
    return !is_running($pid);
}

# Graceful QUIT, then SIGKILL to the whole process group (a daemonised nginx
# is a session leader, so its workers share its group).  Bounded.
sub kill_nginx ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);
    kill 'QUIT', $pid;
    return if wait_gone($pid, $Timeout);
    warn "$name - nginx $pid did not quit in ${Timeout}s; killing it\n";
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    wait_gone($pid, 1);
}

sub cleanup () {
    $_->() for @CleanupHandlers;
}

# ---------------------------------------------------------------------------
# Server root, user files, nginx.conf

sub setup_server_root ($) {
    my $first_time = shift;
    if (-d $ServRoot) {
        remove_tree($ConfDir, glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
        if ($UseHup) {
            # Keep the running master's pid file (and sockets/certs it may
            # hold); error.log is removed and recreated by USR1 (reopen).
            File::Find::find({ no_chdir => 1, wanted => sub {
                return if -d $_;
                return if !$first_time && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
                unlink $_ or warn "Failed to remove $_: $!\n";
            } }, $ServRoot);
        } else {
            remove_tree($HtmlDir, $LogDir, "$ServRoot/cache");
        }
    }
    make_path($LogDir, $HtmlDir, $ConfDir);
    -d $ConfDir or bail_out("Failed to create $ConfDir");
    write_file("$HtmlDir/index.html",
        '<html><head><title>It works!</title></head><body>It works!</body></html>');
}

sub write_file ($$) {
    my ($path, $body) = @_;
    open my $out, '>', $path or bail_out("Cannot open $path for writing: $!");
    binmode $out;
    print $out $body;
    close $out;
}

# --- user_files: ">>> name [touch -t date]" lines, or eval [[name, body, date]]
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $files = $block->user_files;
    return unless $files;
    my $name = $block->name;
    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }
    ref $files eq 'ARRAY'
        or bail_out("$name - --- user_files must be text or an ARRAY");
    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        write_file($path, expand_env_in_text($body // '', $name, $rand_ports));
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - touch -t '$date' failed");
        }
    }
}

sub write_config ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    # Reloading needs a master process (the real module forces it too).
    master_on() if $UseHup;

    my $http_config = expand_env_in_text($block->http_config // '', $name, $rand_ports);
    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { length } split /\s+/, $LoadModules;
        $main_config = join ' ', @mods, $main_config;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);
    my $post_main_config = expand_env_in_text($block->post_main_config // '',
                                              $name, $rand_ports);

    # Debian's binary has compiled-in temp paths under /var/lib/nginx: point
    # every one of them into the server root (unless the test sets its own).
    my $paths = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if nginx_v() =~ /--without-http_${t}_module/;
        next if $http_config =~ /\b${t}_temp_path\b/;
        $paths .= " ${t}_temp_path $ServRoot/${t}_temp;";
    }
    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" } @EnvToNginx;
    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    # In HUP mode a second virtual server reports which config is live, so
    # that we can wait until the workers run the new one.
    my $version_server = !$UseHup ? '' : <<"_EOC_";
    server {
        listen          $ServerPort;
        server_name     'Test-Nginx';
        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_
    my $user = defined $ENV{TEST_NGINX_WORKER_USER} ? "user $ENV{TEST_NGINX_WORKER_USER};"
             : $> == 0 ? 'user root;' : '';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon on;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;$paths

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort;
        server_name     '$ServerName';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$version_server}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
$user
_EOC_
}

sub prepare_server_root ($$$$) {
    my ($block, $config, $rand_ports, $first_time) = @_;
    setup_server_root($first_time);
    write_user_files($block, $rand_ports);
    write_config($block, $config, $rand_ports);
}

# --- A tiny GET used only to ask the HUP-mode version server.
sub fetch_version () {
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
        PeerPort => $ServerPortForClient, Proto => 'tcp', Timeout => 2)
        or return undef;
    print $sock "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";
    my ($resp, $sel) = ('', IO::Select->new($sock));
    while ($sel->can_read(2)) {
        my $n = sysread($sock, my $buf, 4096);
        last unless $n;
        $resp .= $buf;
    }
    close $sock;
    return $resp =~ /\r\n\r\n(.*)\z/s ? $1 : undef;
}

# After HUP: wait until 20 requests in a row see the new config version
# (old workers may still answer for a moment).  Bounded to ~10s.
sub wait_config_version ($) {
    my $name = shift;
    my ($ok, $tries, $deadline) = (0, 0, time + 10);
    while (time < $deadline) {
        my $ver = fetch_version();
        if (defined $ver && $ver eq $ConfigVersion) {
            sleep $Sleep if ++$ok == 5;
            return 1 if $ok >= 20;
            next;
        }
        $ok = 0;
        $tries++;
        sleep min(1, ($Sleep + $Sleep * $tries) * $tries / 2);
    }
    Test::More::fail("$name - failed to reload configuration (version server "
                     . "never reported the new config)");
    return 0;
}

# Reopen logs (USR1, the old error.log was deleted) then reload (HUP).
sub reload_nginx ($$) {
    my ($pid, $name) = @_;
    kill('USR1', $pid) or return 0;
    sleep $Sleep;
    kill('HUP', $pid) or return 0;
    sleep $Sleep * 3;
    wait_config_version($name);
    return 1;
}

sub start_cmd ($) {
    my $block = shift;
    my $cmd = "$NginxBinary -e $ErrLogFile -p $ServRoot/ -c $ConfFile > /dev/null";
    $cmd .= ' 2> /dev/null' if defined $block->suppress_stderr;
    return $cmd;
}

# --- must_die: nginx has to fail at start-up.  Like the real module, the
# error_log checks read error.log, where `-e` makes nginx write its
# start-up [emerg] messages (they are also echoed on stderr).
sub start_must_die ($$) {
    my ($block, $must_die) = @_;
    my $name = $block->name;
    my $cmd = start_cmd($block);
    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        system($cmd);
        my $status = $?;
        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $status >> 8,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        $CheckErrorLog->($block, undef, 0, $i, 0);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it\n";
            my $deadline = time + 1;
            sleep $Sleep until -f $PidFile || time > $deadline;
            kill_nginx(read_pid(), $name) if read_pid();
        }
    }
}

# Start from scratch.  Only a port still held by the previous nginx is
# worth retrying (briefly); any other failure fails the block at once,
# where the real module retries everything for 30s and then bails out.
sub start_nginx ($) {
    my $block = shift;
    my $name = $block->name;
    -x $NginxBinary || $NginxBinary !~ m{/}
        or bail_out("$name - Cannot find the nginx executable $NginxBinary");
    my $cmd = start_cmd($block);
    my $deadline = time + 5;
    $ErrLogFilePos = 0;
    for (my $i = 1; ; $i++) {
        system($cmd);
        my $status = $?;
        if ($status == 0) {
            sleep $Sleep;
            return 1;
        }
        my $log = -f $ErrLogFile ? `tail -n 5 $ErrLogFile` : '';
        if ($log !~ /Address already in use/ || time > $deadline) {
            Test::More::fail("$name - Cannot start nginx using command \"$cmd\" "
                             . "(status $status)\n$log");
            return 0;
        }
        sleep min(0.5, 0.05 * $i);
    }
}

# ---------------------------------------------------------------------------
# error.log: the lines written since the previous call within this block
# (or all of them after check_accum_error_log()).

sub error_log_data () {
    # give the log phase, which runs after the response was sent, a moment
    sleep $Sleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

# ---------------------------------------------------------------------------
# Skipping (skip_nginx / skip_eval): returns (count, reason) or ().

my %Cmp = ('<'  => sub { $_[0] <  $_[1] }, '<=' => sub { $_[0] <= $_[1] },
           '>'  => sub { $_[0] >  $_[1] }, '>=' => sub { $_[0] >= $_[1] });

sub skip_spec ($) {
    my $block = shift;
    my $name = $block->name;
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*?))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $want = sprintf "%d.%03d%03d", $3, $4, $5;
        return ($n, $reason || "nginx version $op $3.$4.$5")
            if $Cmp{$op}->(nginx_version(), $want);
    }
    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
            return ($n, 'skip_eval') if $skip;
        }
    }
    return ();
}

# ---------------------------------------------------------------------------
# The driver

sub run_tests () {
    srand($$ + time * 1000);
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;
    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        Test::Nginx::Socket::check_sections($block);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }
    cleanup();
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;

    my $rand_ports = $RandPorts = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseHup = $UseHup;
    my $must_die = $block->must_die;
    undef $UseHup if defined $must_die;     # a dying nginx cannot be reloaded

    my ($skip_n, $skip_reason) = skip_spec($block);

    # A block without --- config reuses the running nginx as it is.  With
    # one, nginx is restarted (or reloaded in HUP mode) for every block.
    my $restart = 0;
    if (!defined $config) {
        defined $PrevConfig or bail_out("$name - No '--- config' section specified "
                                        . "and could not get previous one.");
    } else {
        $restart = $ForceRestartOnTest || $config ne ($PrevConfig // '');
    }

    if ($restart && !$skip_n) {
        $PrevConfig = $config;
        $ConfigVersion = join '', map { ('a'..'z', 0..9)[rand 36] } 1 .. 10
            if $UseHup;
        my $pid = read_pid();
        my $reloaded = 0;
        if ($pid && is_running($pid)) {
            if ($UseHup && !$first_time) {
                prepare_server_root($block, $config, $rand_ports, 0);
                $reloaded = reload_nginx($pid, $name);
            }
            kill_nginx($pid, $name) unless $reloaded;
        }
        if (!$reloaded) {
            prepare_server_root($block, $config, $rand_ports, $first_time);
            if (defined $must_die) {
                start_must_die($block, $must_die);
                return;
            }
            # Nothing to send requests to: the failure is already reported.
            return unless start_nginx($block);
        }
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block, $rand_ports) if $i > 0;
        if ($skip_n) {
            SKIP: { Test::More::skip("$name - $skip_reason", $skip_n); }
            next;
        }
        $RunTestHelper->($block, 0, $i);
    }
}

# Stop nginx when the test file ends (also on Ctrl-C / kill), unless
# TEST_NGINX_NO_CLEAN asks to keep it for inspection.
$SIG{INT}  = sub { exit 130 } unless defined $SIG{INT}  && ref $SIG{INT};
$SIG{TERM} = sub { exit 143 } unless defined $SIG{TERM} && ref $SIG{TERM};

my $MainPid = $$;

END {
    return if $$ != $MainPid;   # a process forked by the test is not the owner
    local $?;                   # keep the test script's exit status
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN}) {
        my $pid = read_pid();
        kill_nginx($pid, 'END') if $pid;
    }
    if ($Randomize && -d $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
