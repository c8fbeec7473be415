# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The journal: what was answered 200 is replayed after a restart, with its
# de-duplication ids; acknowledged records are not; a torn tail is cut, a
# corrupt record skipped with the rest replayed; a full journal answers
# 503.  Every block restarts nginx on the same journal directory, so the
# blocks run in order and build on each other.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use File::Path qw(remove_tree);
use OrderEditTest;

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(1);

# beside the server root: Test::Nginx wants that one to itself
our $Dir = "${Test::Nginx::Util::ServRoot}_journal";

sub http {
    my ($opts, $zone) = @_;
    $zone //= '1m';
    return "    order_edit_zone edits:$zone;\n"
         . "    order_edit_journal $Dir $opts;\n"
         . "    order_edit_store acme.myshopify.com { secret acme; }\n";
}

our $Config = <<'_EOC_';
    location = /wh { order_edit_webhook edits; }
    location = /q { order_edit_queue_debug edits; }
    location = /status { order_edit_status edits; }
_EOC_

our @Body = map { ::order_body(8000 + $_, 400 + 40 * $_) } 0 .. 9;
our $Big = ::order_body(8100, 20000);

sub post { my ($n, $id) = @_; "POST /wh\n" . $Body[$n] }
sub hdrs { my ($n, $id) = @_; ::webhook_headers('acme', $Body[$n], $id) }

sub segments { sort glob("$Dir/edits-*.jnl") }

# the block's name says what to do to the journal before nginx starts
add_block_preprocessor(sub {
    my $block = shift;
    my $name = $block->name;

    if ($name =~ /\[fresh\]/) {
        remove_tree($Dir);
    }

    if ($name =~ /\[tear\]/) {
        # the newest record of the newest segment loses its last bytes,
        # as when the machine stops in the middle of a write
        my @seg = segments();
        my $f = $seg[-1];
        truncate($f, (-s $f) - 11) or die "truncate $f: $!";
    }

    if ($name =~ /\[corrupt\]/) {
        # one byte of the second record's body changes, as a bad sector
        # would; the records before and after it stay intact
        my @seg = segments();
        my $f = $seg[-1];
        open(my $fh, '+<:raw', $f) or die "open $f: $!";
        local $/;
        my $data = <$fh>;
        # "OEJ2" (format 1 was "OEJ1")
        my ($first, $second) = (-1, -1);
        if ($data =~ /\G.{8,}?OEJ[12]/gs) {
            $first = pos($data) - 4;
            $second = pos($data) - 4 if $data =~ /\G.{4,}?OEJ[12]/gs;
        }
        die "no second record in $f" if $second < 0;
        seek($fh, $second + 100, 0);
        print $fh 'X';
        close($fh);
    }
});

run_tests();

__DATA__

=== TEST 1: the directive is checked at nginx -t, with file and line
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal fsync=sometimes;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid fsync "sometimes", expected always, batch or off in .*nginx\.conf:\d+/



=== TEST 2: batch_window is a time up to one second
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal batch_window=2s;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid batch_window "2s", expected a time up to 1s in .*nginx\.conf:\d+/



=== TEST 3: max_size has a floor
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal max_size=1k;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid max_size "1k", expected a size of at least 64k in .*nginx\.conf:\d+/



=== TEST 3a: recycle is a number of spare files up to 512
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal recycle=513;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid recycle "513", expected a number of files from 0 to 512 in .*nginx\.conf:\d+/



=== TEST 3b: preallocate is on or off
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal preallocate=yes;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid preallocate "yes", expected on or off in .*nginx\.conf:\d+/



=== TEST 4: an unknown parameter is refused
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal fsync=off speed=max;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "speed=max" in .*nginx\.conf:\d+/



=== TEST 5: one journal per http block
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal;
    order_edit_journal journal2;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"order_edit_journal" directive is duplicate in .*nginx\.conf:\d+/



=== TEST 6: not inside a server
--- http_config
    order_edit_zone edits:1m;
--- config
    order_edit_journal journal;
--- must_die
--- error_log eval
qr/\[emerg\] .*"order_edit_journal" directive is not allowed here in .*nginx\.conf:\d+/



=== TEST 7: zone names become file names, so they stay plain
--- http_config
    order_edit_zone ed/its:1m;
    order_edit_journal journal;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*order_edit_journal in .*nginx\.conf:\d+ needs zone names of letters, digits/



=== TEST 8: [fresh] accepted webhooks are journaled and fsynced before 200
--- http_config eval: ::http('fsync=batch batch_window=5ms')
--- config eval: $::Config
--- request eval
[::post(1), ::post(2), ::post(3), "GET /status"]
--- more_headers eval
[::hdrs(1, 'j1'), ::hdrs(2, 'j2'), ::hdrs(3, 'j3'), '']
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', '"queued","id":"3"',
 '"journal": \{(?s:.*)"fsync": "batch",(?s:.*)"pending": 3,(?s:.*)"writes": 3,(?s:.*)"fsyncs": [1-3],(?s:.*)"replayed": 0,']
--- no_error_log
[error]



=== TEST 9: a restart replays them, and their ids are still known
--- http_config eval: ::http('fsync=batch batch_window=5ms')
--- config eval: "# 9\n" . $::Config
--- request eval
["GET /q?op=depth", ::post(2), ::post(4), "GET /status"]
--- more_headers eval
['', ::hdrs(2, 'j2'), ::hdrs(4, 'j4'), '']
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
['^\{"depth":3\}$', '"duplicate","id":"2"', '"queued","id":"4"',
 '"pending": 4,(?s:.*)"replayed": 3,(?s:.*)"torn": 0,(?s:.*)"corrupt": 0,']



=== TEST 10: a delivered webhook is acknowledged and not replayed
--- http_config eval: ::http('fsync=batch batch_window=5ms')
--- config eval: "# 10\n" . $::Config
--- request eval
["GET /q?op=lease", "GET /q?op=ack&shop=acme.myshopify.com&id=1&token=1",
 "GET /q?op=depth"]
--- response_body_like eval
['"id":1,"token":1,', '^\{"ok":true\}$', '^\{"depth":3\}$']



=== TEST 11: after the restart only the three unacknowledged come back
--- http_config eval: ::http('fsync=batch batch_window=5ms')
--- config eval: "# 11\n" . $::Config
--- request eval
["GET /q?op=depth", "GET /q?op=peek&shop=acme.myshopify.com"]
--- response_body_like eval
['^\{"depth":3\}$', '"webhook_id":"j2"']



=== TEST 12: [fresh] one segment of three webhooks, for the next blocks
--- http_config eval: ::http('fsync=always')
--- config eval: "# 12\n" . $::Config
--- request eval
[::post(5), ::post(6), ::post(7)]
--- more_headers eval
[::hdrs(5, 'k5'), ::hdrs(6, 'k6'), ::hdrs(7, 'k7')]
--- error_code eval
[200, 200, 200]



=== TEST 13: [tear] a torn tail is cut; everything before it is replayed
--- http_config eval: ::http('fsync=always')
--- config eval: "# 13\n" . $::Config
--- request eval
["GET /q?op=depth", "GET /status", ::post(7)]
--- more_headers eval
['', '', ::hdrs(7, 'k7')]
--- response_body_like eval
['^\{"depth":2\}$', '"replayed": 2,(?s:.*)"torn": 1,(?s:.*)"corrupt": 0,',
 '"queued"']



=== TEST 14: [fresh] three webhooks in one segment again
--- http_config eval: ::http('fsync=off')
--- config eval: "# 14\n" . $::Config
--- request eval
[::post(5), ::post(6), ::post(7), "GET /status"]
--- more_headers eval
[::hdrs(5, 'm5'), ::hdrs(6, 'm6'), ::hdrs(7, 'm7'), '']
--- response_body_like eval
['"queued"', '"queued"', '"queued"',
 '"fsync": "off",(?s:.*)"writes": 3,(?s:.*)"fsyncs": 0,']



=== TEST 15: [corrupt] a corrupt record is skipped and named; the rest replays
--- http_config eval: ::http('fsync=off')
--- config eval: "# 15\n" . $::Config
--- request eval
["GET /q?op=depth", "GET /status", ::post(5), ::post(7)]
--- more_headers eval
['', '', ::hdrs(5, 'm5'), ::hdrs(7, 'm7')]
--- response_body_like eval
['^\{"depth":2\}$', '"replayed": 2,(?s:.*)"torn": 0,(?s:.*)"corrupt": 1,',
 '"duplicate"', '"duplicate"']



=== TEST 16: [fresh] a full journal answers 503 with Retry-After
--- http_config eval: ::http('max_size=64k', '4m')
--- config eval: "# 16\n" . $::Config
--- request eval
[(map { "POST /wh\n" . $::Big } 1 .. 4), "GET /status"]
--- more_headers eval
[(map { ::webhook_headers('acme', $::Big, "big-$_") } 1 .. 4), '']
--- error_code eval
[200, 200, 200, 503, 200]
--- response_headers eval
['!Retry-After', '!Retry-After', '!Retry-After', 'Retry-After: 30', '']
--- response_body_like eval
['"queued"', '"queued"', '"queued"',
 '^\{"error":"journal_full","message":"the webhook journal is full"\}$',
 '"queued_items": 3,(?s:.*)"full": 1,']



=== TEST 17: nothing refused was kept: the restart replays the three
--- http_config eval: ::http('max_size=64k', '4m')
--- config eval: "# 17\n" . $::Config
--- request
GET /q?op=depth
--- response_body_like: ^\{"depth":3\}$



=== TEST 18: and the journal is still full, said once in the error log
--- http_config eval: ::http('max_size=64k', '4m')
--- config eval: "# 18\n" . $::Config
--- request eval
"POST /wh\n" . $::Big
--- more_headers eval
::webhook_headers('acme', $::Big, "big-4")
--- error_code: 503
--- response_body_like: "journal_full"
--- error_log
journal of zone "edits" is full, webhook of shop "acme.myshopify.com" refused with 503



=== TEST 19: thread_pool= names one of nginx's thread pools
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal thread_pool=journal_io;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "journal_io" in .*nginx\.conf:\d+/



=== TEST 20: [fresh] ...and uses it when it is there
--- main_config
    thread_pool journal_io threads=2;
--- http_config eval: ::http('fsync=always thread_pool=journal_io')
--- config eval: "# 20\n" . $::Config
--- request eval
[::post(1), "GET /status"]
--- more_headers eval
[::hdrs(1, 'tp1'), '']
--- response_body_like eval
['"queued","id":"1"', '"fsync": "always",(?s:.*)"writes": 1,(?s:.*)"fsyncs": [12],']
--- no_error_log
[error]



=== TEST 21: batch_window takes microseconds too, still up to one second
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal batch_window=1000001us;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid batch_window "1000001us", expected a time up to 1s in .*nginx\.conf:\d+/



=== TEST 22: [fresh] ...and a window under a millisecond keeps batch's rule
--- http_config eval: ::http('fsync=batch batch_window=500us')
--- config eval: "# 22\n" . $::Config
--- request eval
[::post(1), ::post(2), "GET /status"]
--- more_headers eval
[::hdrs(1, 'us1'), ::hdrs(2, 'us2'), '']
--- response_body_like eval
['"queued","id":"1"', '"queued","id":"2"', '"fsync": "batch",\s*"batch_window_us": 500,(?s:.*)"writes": 2,(?s:.*)"fsyncs": [1-4],']
--- no_error_log
[error]



=== TEST 23: [fresh] batch's window is 1ms unless told
--- http_config eval: ::http('fsync=batch')
--- config eval: "# 23\n" . $::Config
--- request eval
[::post(3), "GET /status"]
--- more_headers eval
[::hdrs(3, 'us3'), '']
--- response_body_like eval
['"queued","id":"1"', '"fsync": "batch",\s*"batch_window_us": 1000,(?s:.*)"writes": 1,']
--- no_error_log
[error]
