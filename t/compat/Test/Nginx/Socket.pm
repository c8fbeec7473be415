package Test::Nginx::Socket;

# Request side of the project's compact Test::Nginx-compatible runner:
# builds the HTTP requests of a block, sends them over a plain socket,
# parses the responses and runs the checks of each section.
#
#     use Test::Nginx::Socket 'no_plan';
#     run_tests();
#     __DATA__
#     === TEST 1: ...
#
# Blocks are parsed by Test::Base, exactly as under the real Test::Nginx,
# so section filters (eval, chomp, ...) and ONLY / SKIP / LAST behave the
# same.  See t/compat/README.md for the supported sections.

use strict;
use warnings;

# Must come first: makes this package the Test::Base class whose blocks()
# reads the test file's __DATA__ (-base: no Spiffy source filter).
use Test::Base -base;

use Test::Nginx::Util;
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);
use List::Util qw(min);

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

$Test::Nginx::Util::RunTestHelper = \&run_test_helper;
$Test::Nginx::Util::CheckErrorLog = \&check_error_log;

our @ResponseBodyChecks;
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

# Sections this runner implements.  Anything else fails the block: the real
# Test::Nginx silently ignores unknown sections, so a typo or an
# unimplemented section would otherwise pass without checking anything.
my %Supported = map { $_ => 1 } qw(
    ONLY SKIP LAST
    main_config http_config config post_main_config user_files init
    log_level must_die suppress_stderr skip_nginx skip_eval
    request request_eval raw_request raw_request_middle_delay
    pipelined_requests more_headers timeout wait abort shutdown
    ignore_response
    error_code error_code_like
    response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    response_body response_body_eval response_body_like response_body_unlike
    error_log no_error_log grep_error_log grep_error_log_out
);

sub check_sections ($) {
    my $block = shift;
    for my $s (@{ $block->{_section_order}[0] || [] }) {
        next if $Supported{$s};
        Test::More::fail($block->name . " - section '--- $s' is not supported "
                         . "by the compat runner (see t/compat/README.md)");
    }
}

# ---------------------------------------------------------------------------
# Building requests

# "--- more_headers" text -> ("Key: value\r\n"..., is_chunked).  Lines
# starting with # are comments.
sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URL [VERSION]]\nbody" -> raw HTTP request.  Host and Connection
# are added unless given; a body gets trimmed and a Content-Length unless
# the request is chunked or sets its own length.
sub build_request ($$$$) {
    my ($name, $more_headers, $conn, $text) = @_;
    defined $text && $text =~ /\S/ or bail_out("$name - Request line should be non-empty");
    my ($first, $body) = split /\n/, $text, 2;
    $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    $body //= '';

    my ($hdr, $chunked) = parse_more_headers($more_headers);
    my $len = '';
    if (!$chunked && $body ne '' && $hdr !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//g;
        $len = 'Content-Length: ' . length($body) . "\r\n";
    }
    my $std = '';
    $std .= "Host: $Test::Nginx::Util::ServerName\r\n" if $hdr !~ /(?:^|\n)Host:/i;
    $std .= "Connection: $conn\r\n" if $hdr !~ /(?:^|\n)Connection/i;
    return "$meth $url $ver\r\n$std$hdr$len\r\n$body";
}

# more_headers may be an array (one entry per request)
sub more_headers_for ($$$) {
    my ($name, $more, $i) = @_;
    return $more unless ref $more eq 'ARRAY';
    defined $more->[$i] or bail_out("$name - --- more_headers lacks data for request $i");
    return $more->[$i];
}

# All requests of a block: a list of connections, each a list of pieces
# written in turn (several pieces only for an array --- raw_request).
sub requests_of ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [ ref $raw eq 'ARRAY' ? [@$raw] : [$raw] ];
    }

    my $more = $block->more_headers || '';
    if (my $reqs = $block->pipelined_requests) {
        ref $reqs eq 'ARRAY' or bail_out("$name - invalid entries in --- pipelined_requests");
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $r = expand_env_in_text($reqs->[$i], $name, $Test::Nginx::Util::RandPorts);
            $all .= build_request($name, more_headers_for($name, $more, $i),
                                  $i == $#$reqs ? 'close' : 'keep-alive', $r);
        }
        return [[$all]];
    }

    my $request;
    if (defined $block->request_eval) {
        diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        # leading blank space and "# comment" lines are not part of it
        1 while defined $request && !ref $request
                && $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }

    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    my @out;
    for my $i (0 .. $#list) {
        ref $list[$i] and bail_out("$name - requests split into packets "
                                   . "are not supported by the compat runner");
        push @out, [ build_request($name, more_headers_for($name, $more, $i),
                                   'close', $list[$i]) ];
    }
    return \@out;
}

# ---------------------------------------------------------------------------
# Talking to nginx

# Connect (retrying while nginx comes up, bounded), write the pieces, read
# until nginx closes or nothing happens for $timeout seconds.
sub send_request ($$$$) {
    my ($pieces, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my $head_req = join('', @$pieces) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my ($sock, $deadline) = (undef, time + 5);
    for (my $try = 1; ; $try++) {
        $sock = IO::Socket::INET->new(PeerAddr => $Test::Nginx::Util::ServerAddr,
            PeerPort => $Test::Nginx::Util::ServerPortForClient,
            Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        if (time > $deadline) {
            fail("$name - Can't connect to $Test::Nginx::Util::ServerAddr:"
                 . "$Test::Nginx::Util::ServerPortForClient: $! (aborted)");
            return (undef, $head_req);
        }
        my $s = $Test::Nginx::Util::Sleep;
        sleep min(1, ($s + $s * $try) * $try / 2);
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @todo = @$pieces;
    my $buf = shift @todo;
    my ($resp, $writing) = ('', 1);
    my $sel = IO::Select->new($sock);
    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {
            fail("ERROR: client socket timed out - $name\n") unless defined $block->abort;
            last;
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $buf);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                warn "write failed: $!\n";
                $writing = 0;       # keep reading: nginx may have answered
            } elsif (($buf = substr($buf, $n)) eq '') {
                if (@todo) {
                    sleep $middle_delay if $middle_delay;
                    $buf = shift @todo;
                } else {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown($sock, $how =~ /\S/ ? $how : 1);
                    }
                }
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $chunk, 4096);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }
    close $sock;
    return ($resp, $head_req);
}

# raw bytes -> (HTTP::Response with decoded body, raw header text, bytes
# left over for the next pipelined response)
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $body = $res->content // '';
    my $left;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $te && $te eq 'chunked') {
        my ($pos, $out) = (0, '');
        while (1) {
            pos($body) = $pos;
            if ($body !~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*\r\n/gc) {
                fail($body =~ /\G./s ? "$name - invalid chunked body received: "
                                       . substr($body, $pos)
                                     : "$name - no last chunk found - $body");
                return ($res, $raw_headers);
            }
            my $size = hex $1;
            $pos = pos($body);
            if ($size == 0) {
                # optional trailer lines, then the final CRLF
                pos($body) = $pos;
                if ($body !~ /\G(?:[^\r\n]+\r\n)*\r\n/gc) {
                    fail("$name - invalid chunked data received (expected CRLF).");
                    return ($res, $raw_headers);
                }
                $left = substr($body, pos($body)) if pos($body) < length $body;
                last;
            }
            if (length($body) < $pos + $size + 2
                || substr($body, $pos + $size, 2) ne "\r\n")
            {
                fail("$name - invalid chunked data received (not enough octets "
                     . "for the data section or no CRLF after it)");
                return ($res, $raw_headers);
            }
            $out .= substr($body, $pos, $size);
            $pos += $size + 2;
        }
        $res->content($out);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $left = substr($body, $len);
            $res->content(substr($body, 0, $len));
        } elsif (length $body < $len && !$head_req) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n";
        }
    }
    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Checks.  $need_array: the block sends several requests, so every expected
# value must be an array indexed by request.

sub indexed ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$idx] if $need_array || $idx == 0;
    } elsif (!$need_array) {
        return $value;
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.");
}

sub parse_headers ($) {
    my %h;
    for my $line (split /\n/, shift) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;              # "!Name": must be absent
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            $h{$k} = $v;
        }
    }
    return \%h;
}

sub subst_ports ($) {
    my $s = shift;
    $s =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
    return $s;
}

sub check_response ($$$$$$) {
    my ($block, $res, $raw_headers, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    # --- status: defaults to 200
    if (defined $block->error_code_like) {
        my $re = indexed($name, $block->error_code_like, $idx, $need_array);
        like($code, qr/$re/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($code, indexed($name, $block->error_code, $idx, $need_array),
           "$name - status code ok");
    } else {
        is($code, 200, "$name - status code ok");
    }

    # --- headers
    if (defined $block->raw_response_headers_like) {
        my $re = indexed($name, $block->raw_response_headers_like, $idx, $need_array);
        like($raw_headers, qr/$re/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $re = indexed($name, $block->raw_response_headers_unlike, $idx, $need_array);
        unlike($raw_headers, qr/$re/s, "$name - raw resp headers unlike");
    }
    if (defined $block->response_headers) {
        my $h = parse_headers(indexed($name, $block->response_headers, $idx, $need_array));
        for my $key (sort keys %$h) {
            if (!defined $h->{$key}) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            my $got = $res ? $res->header($key) : undef;
            is($got // '', subst_ports($h->{$key}), "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $h = parse_headers(indexed($name, $block->response_headers_like, $idx, $need_array));
        for my $key (sort keys %$h) {
            my $got = $res ? $res->header($key) : undef;
            my $re = $h->{$key} // '';
            like($got // '', qr/^$re$/, "$name - header $key like ok");
        }
    }

    # --- body
    my $content = $res ? $res->content : undef;
    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if (defined $block->response_body_eval) {
            diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval indexed($name, $block->response_body_eval, $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed($name, $block->response_body, $idx, $need_array);
        }
        my $desc = "(repeated req $rep, req $idx)";
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like $desc");
        } else {
            $expected = expand_env_in_text(subst_ports($expected), $name,
                                           $Test::Nginx::Util::RandPorts)
                if defined $expected;
            is($content, $expected, "$name - response_body - response is expected $desc");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pats = $type eq 'like' ? $block->response_body_like : $block->response_body_unlike;
        my $re = subst_ports(indexed($name, $pats, $idx, $need_array));
        (my $summary = $content // '') =~ s/\s+/ /g;
        $summary =~ s/^ | $//g;
        my $desc = "$name - response_body_$type - response is expected ($summary)";
        $type eq 'like' ? like($content, qr/$re/s, $desc)
                        : unlike($content, qr/$re/s, $desc);
    }
    $_->($block, $content, $idx, $rep, 0) for @ResponseBodyChecks;
}

# Does a (possibly nested) section value mention $pat literally?
sub value_contains ($$);
sub value_contains ($$) {
    my ($val, $pat) = @_;
    return grep { value_contains($_, $pat) } @$val if ref $val eq 'ARRAY';
    return index("$val", $pat) >= 0;
}

# Patterns of --- error_log / no_error_log: lines of text, a qr//, or an
# array of strings and qr//s.
sub pattern_list ($) {
    my $p = shift;
    return [@$p] if ref $p eq 'ARRAY';
    return [$p] if ref $p;
    chomp $p;
    return [split /\n+/, $p];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# error.log checks on the lines logged since the previous check.  With
# several requests they run after each request, as in the real module.
sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$rep] if ref $grep_pat eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        defined $expected or bail_out("$name - No --- grep_error_log_out defined "
                                      . "but --- grep_error_log is defined");
        $expected = expand_env_in_text($expected, $name, $Test::Nginx::Util::RandPorts);
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        $lines ||= error_log_data();
        my $out = '';
        for my $line (@$lines) {
            my $m;
            if (ref $grep_pat) {
                $m = substr($line, $-[0], $+[0] - $-[0]) if $line =~ $grep_pat;
            } else {
                $m = $grep_pat if index($line, $grep_pat) >= 0;
            }
            $out .= "$m\n" if defined $m && $m !~ /\n/;
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        ref $expected eq 'Regexp' ? like($out, $expected, $desc)
                                  : is($out, $expected, $desc);
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    my %expected_level;     # levels a test mentions are not warned about
    for my $lvl (qw(alert crit emerg)) {
        $expected_level{$lvl} = 1
            if grep { defined && value_contains($_, "[$lvl") }
                    $block->error_log, $block->no_error_log;
    }

    if (defined $block->error_log) {
        my $pats = pattern_list($block->error_log);
        $lines ||= error_log_data();
        for my $pat (@$pats) {
            if (grep { line_matches($_, $pat) } @$lines) {
                pass("$name - pattern \"$pat\" matches a line in error.log (req $rep)");
            } else {
                fail("$name - pattern \"$pat\" should match a line in error.log (req $rep)");
            }
        }
    }

    if (defined $block->no_error_log) {
        my $pats = pattern_list($block->no_error_log);
        $lines ||= error_log_data();
        for my $pat (@$pats) {
            my $p = fmt_str($pat);
            my @hits = grep { line_matches($lines->[$_], $pat) } 0 .. $#$lines;
            pass("$name - pattern \"$p\" does not match a line in error.log (req $rep)")
                unless @hits;
            for my $i (@hits) {
                my $last = min($i + 9, $#$lines - 1);
                fail("$name - pattern \"$p\" should not match any line in error.log "
                     . "but matches line \"" . fmt_str($lines->[$i]) . "\" (req $rep)\n"
                     . join '', @$lines[$i + 1 .. $last]);
            }
        }
    }

    $lines ||= error_log_data();
    for my $line (@$lines) {
        for my $lvl (qw(alert crit emerg)) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if !$expected_level{$lvl} && $line =~ /\[$lvl\]/;
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            (my $l = $line) =~ s/\n$//;
            fail("$name - $l\n");
        }
    }
}

# ---------------------------------------------------------------------------
# One run of a block's requests (repeat_each runs it several times).

sub run_test_helper ($$$) {
    my ($block, $dry_run, $rep) = @_;
    my $name = $block->name;
    my $conns = requests_of($block);
    @$conns or bail_out("$name - request empty");

    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined ? 1 : @$conns > 1;
    my ($res, $idx) = (undef, 0);

    for my $c (0 .. $#$conns) {
        my ($raw, $head_req) = send_request($conns->[$c], $block->raw_request_middle_delay,
                                            $timeout, $block);
        $raw //= '';
        my $nresp = $pipelined || 1;        # responses expected on this connection
        for my $k (1 .. $nresp) {
            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
                check_response($block, $res, $raw_headers, $idx, $rep, $need_array);
            }
            if (!$pipelined && defined $left && $left ne '') {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in "
                     . "response: \"$l\"\n";
            }
            $raw = $left // '';
            if ($k < $nresp || $c < $#$conns) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, 0, $rep, $need_array);
            }
            $idx++;
        }
    }
    sleep $block->wait if $block->wait;
    check_error_log($block, $res, 0, $rep, $need_array);
}

1;
