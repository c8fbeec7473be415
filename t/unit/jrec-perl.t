#!/usr/bin/perl

# t/lib/OrderEditJournal.pm against the C codec: the segments and acks it
# writes, read back by build/order-edit-journal (which uses the codec),
# list the records, acks, torn tails and corrupt records expected; and
# for the records t/fuzz/jrec_seeds.c writes, both write the same bytes.
#
#   prove t/unit/jrec-perl.t        (after make build/order-edit-journal)
#
# OE_JOURNAL_TOOL and OE_JREC_SEEDS name the binaries if not in build/.

use v5.36;
no warnings 'portable';     # 64-bit gens: this perl has 64-bit integers

use FindBin;
use lib "$FindBin::Bin/../lib";

use File::Temp qw(tempdir);
use Test::More;

use OrderEditJournal;

my $top = "$FindBin::Bin/../..";
my $tool = $ENV{OE_JOURNAL_TOOL} // "$top/build/order-edit-journal";
my $seeds = $ENV{OE_JREC_SEEDS} // "$top/build/jrec/jrec-seeds";

plan skip_all => "$tool not built (make build/order-edit-journal)"
    unless -x $tool;


# (exit status, stdout)
sub journal (@args) {
    open my $fh, '-|', $tool, @args or die "$tool: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;

    return ($? >> 8, $out);
}


sub enq (%a) {
    my $n = $a{id};
    my $order = 820982911946154500 + $n;

    return jrec_enq(
        id           => $n,
        received_ms  => 1764151200000 + $n,
        order_id     => 820982911946154500 + $n,
        shop         => 'acme.myshopify.com',
        topic        => 'orders/updated',
        webhook_id   => sprintf('wh-%04d', $n),
        event_id     => sprintf('ev-%04d', $n),
        api_version  => '2024-10',
        triggered_at => "2025-11-26T10:00:0${n}Z",
        body         => qq({"id":$order}),
        %a);
}


sub seg ($zone, $gen, $seq) {
    return jrec_seg(zone => $zone, gen => $gen, seq => $seq, pid => 4242,
                    created_ms => 1764151200000);
}


# what dump prints for a record written by enq()
sub line ($off, %a) {
    my $n = $a{id};
    my $order = 820982911946154500 + $n;
    my $body = $a{body} // qq({"id":$order});

    return sprintf '  offset=%d ENQ id=%d shop=acme.myshopify.com '
                 . 'topic=%s webhook=%s order=%s body=%d %s',
                   $off, $n, $a{topic} // 'orders/updated',
                   $a{webhook} // sprintf('wh-%04d', $n),
                   $order, length $body,
                   $a{status} // 'pending';
}


subtest 'crc32c' => sub {
    is(crc32c('123456789'), 0xE3069283, '"123456789"');
    is(crc32c(''), 0, 'empty');
    is(crc32c("\0" x 32), 0x8A9136AA, '32 zero bytes');
    is(crc32c("\xff" x 32), 0x62A8AB43, '32 0xff bytes');
    is(crc32c('56789', crc32c('1234')), 0xE3069283, 'incremental');
};


subtest 'same bytes as the C codec' => sub {
    plan skip_all => "$seeds not built" unless -x $seeds;

    my $dir = tempdir(CLEANUP => 1);
    system($seeds, $dir) == 0 or die "$seeds failed";

    # the records of t/fuzz/jrec_seeds.c
    my @bodies = ('{"id":820982911946154501}',
                  '{"id":820982911946154502,"note":"OEJ1"}',
                  '{"id":820982911946154503,"refunds":[]}');
    my @topics = qw(orders/updated orders/edited refunds/create);

    my @recs = (jrec_seg(zone => 'edits', gen => 0x0123456789abcdef,
                         seq => 1, pid => 4242,
                         created_ms => 1764151200000),
                map { enq(id => $_, topic => $topics[$_ - 1],
                          body => $bodies[$_ - 1]) } 1 .. 3);

    my @off;
    my $off = 0;

    for (@recs) {
        push @off, $off;
        $off += length;
    }

    my $c = do { local $/; open my $fh, '<:raw', "$dir/seg-basic" or die;
                 <$fh> };
    my $perl = join '', @recs;

    is(length $perl, length $c, 'segment length');
    ok($perl eq $c, 'segment bytes') or diag(first_difference($perl, $c));

    $c = do { local $/; open my $fh, '<:raw', "$dir/ack-basic" or die;
              <$fh> };
    $perl = jack('delivered', $off[1]) . jack('dropped', $off[3])
          . jack('rollback', $off[2]);
    ok($perl eq $c, 'ack bytes') or diag(first_difference($perl, $c));
};


sub first_difference ($a, $b) {
    my $i = 0;
    $i++ while $i < length $a && $i < length $b
               && substr($a, $i, 1) eq substr($b, $i, 1);

    return "first difference at byte $i";
}


subtest 'clean segments with acks' => sub {
    my $dir = tempdir(CLEANUP => 1);
    my $name = segment_name('edits', 0xa1, 1);
    my $path = "$dir/$name";

    my @off = write_segment($path, [seg('edits', 0xa1, 1),
                                    map { enq(id => $_) } 1 .. 4]);
    write_acks($path, ['delivered', $off[1]], [3, $off[3]],
               ['rollback', $off[3]]);

    # a second zone with a dash in its name, and a file that is not ours
    my $other = segment_name('zone-b', 0xa1, 7);
    write_segment("$dir/$other", [seg('zone-b', 0xa1, 7),
                                  enq(id => 9, topic => 'refunds/create')]);
    write_segment("$dir/notes.txt", ['not a segment']);

    my $size = -s $path;
    my ($rc, $out) = journal('dump', $dir);

    is($rc, 0, 'exit 0');
    is($out, join("\n",
        "segment $name zone=edits gen=00000000000000a1 seq=1 pid=4242 "
        . "created=2025-11-26T10:00:00.000Z bytes=$size",
        line($off[1], id => 1, status => 'acked(delivered)'),
        line($off[2], id => 2),
        line($off[3], id => 3, status => 'acked(dropped,rollback)'),
        line($off[4], id => 4),
        "segment $other zone=zone-b gen=00000000000000a1 seq=7 pid=4242 "
        . "created=2025-11-26T10:00:00.000Z bytes=" . (-s "$dir/$other"),
        line(56, id => 9, topic => 'refunds/create'),
        'segments=2 records=5 pending=3 acked=2 torn=0 corrupt=0 bytes='
        . ($size + -s "$dir/$other"), ''), 'dump');

    ($rc, $out) = journal('dump', $dir, 'zone-b');
    is($rc, 0, 'one zone: exit 0');
    like($out, qr/^segment \Q$other\E /, 'one zone: its segment');
    unlike($out, qr/zone=edits/, 'one zone: not the other');

    ($rc, $out) = journal('verify', $dir);
    is($rc, 0, 'verify: exit 0');
    is($out, 'segments=2 records=5 pending=3 acked=2 torn=0 corrupt=0 '
             . 'bytes=' . ($size + -s "$dir/$other") . "\n",
       'verify: the summary only');
};


subtest 'corrupt middle record and torn tail' => sub {
    my $dir = tempdir(CLEANUP => 1);
    my $name = segment_name('edits', 0xb2, 12);
    my $path = "$dir/$name";

    my @recs = (seg('edits', 0xb2, 12), map { enq(id => $_) } 1 .. 3);
    my $last = enq(id => 4);

    # a byte of the second ENQ's body, and 30 bytes of a fourth
    substr($recs[2], -10, 1) ^.= "\x01";
    my @off = write_segment($path, [@recs, substr($last, 0, 30)]);
    write_acks($path, ['delivered', $off[2]], ['resolved', $off[3]]);

    my ($rc, $out) = journal('dump', $dir);
    my $size = -s $path;

    is($rc, 2, 'exit 2');
    is($out, join("\n",
        "segment $name zone=edits gen=00000000000000b2 seq=12 pid=4242 "
        . "created=2025-11-26T10:00:00.000Z bytes=$size",
        line($off[1], id => 1),
        line($off[3], id => 3, status => 'acked(resolved)'),
        "  warning: corrupt record at offset=$off[2] (bad header or crc), "
        . "skipped to offset=$off[3]",
        "  warning: torn tail at offset=$off[4], 30 bytes",
        "  warning: ack (delivered) names offset=$off[2], where no record "
        . 'starts',
        "segments=1 records=2 pending=1 acked=1 torn=1 corrupt=1 "
        . "bytes=$size", ''), 'dump');

    ($rc, $out) = journal('verify', $dir);
    is($rc, 2, 'verify: exit 2');
    is($out, "segments=1 records=2 pending=1 acked=1 torn=1 corrupt=1 "
             . "bytes=$size\n", 'verify: the summary only');
};


subtest 'torn tails only' => sub {
    my $dir = tempdir(CLEANUP => 1);
    my $path = "$dir/" . segment_name('edits', 1, 1);

    # the last record cut anywhere, the ack file cut inside its second ack
    my $whole = enq(id => 2);

    for my $cut (1, 15, 16, 17, length($whole) - 1) {
        my @off = write_segment($path, [seg('edits', 1, 1), enq(id => 1),
                                        substr($whole, 0, $cut)]);
        open my $fh, '>:raw', "$path.ack" or die;
        print {$fh} jack('delivered', $off[1]), substr(jack(1, $off[2]), 0, 5);
        close $fh;

        my ($rc, $out) = journal('dump', $dir);
        is($rc, 0, "cut at $cut: exit 0");
        like($out, qr/^  warning: torn tail at offset=$off[2], $cut bytes$/m,
             "cut at $cut: torn tail");
        like($out, qr/^  warning: torn ack tail at offset=16 of .*, 5 bytes$/m,
             "cut at $cut: torn ack tail");
        like($out, qr/ records=1 pending=0 acked=1 torn=2 corrupt=0 /,
             "cut at $cut: summary");
    }
};


subtest 'strings are printed on one line' => sub {
    my $dir = tempdir(CLEANUP => 1);
    my $path = "$dir/" . segment_name('edits', 1, 1);

    write_segment($path, [seg('edits', 1, 1),
                          enq(id => 1, webhook_id => "a b\n\\\xff")]);

    my ($rc, $out) = journal('dump', $dir);
    is($rc, 0, 'exit 0');
    like($out, qr/ webhook=a\\x20b\\x0a\\x5c\\xff order=/, 'escaped');
};


subtest 'usage and errors' => sub {
    my $dir = tempdir(CLEANUP => 1);

    my ($rc, $out) = journal('dump', $dir);
    is($rc, 0, 'empty directory: exit 0');
    is($out, "segments=0 records=0 pending=0 acked=0 torn=0 corrupt=0 "
             . "bytes=0\n", 'empty directory: summary');

    # what replay renames to .bad: nothing, a torn SEG record, an ENQ
    # first, another zone's SEG, a corrupt SEG
    my @bad = (
        [1, []],
        [2, [substr(seg('edits', 1, 2), 0, 20)]],
        [3, [enq(id => 1), seg('edits', 1, 3)]],
        [4, [seg('other', 1, 4), enq(id => 1)]],
        [5, [seg('edits', 1, 5) =~ s/^(.{30})./${1}X/sr, enq(id => 1)]],
    );

    write_segment("$dir/" . segment_name('edits', 1, $_->[0]), $_->[1])
        for @bad;

    ($rc, $out) = journal('dump', $dir);
    is($rc, 2, 'refused segments: exit 2');

    for (1 .. 5) {
        like($out, qr/-0000000$_\.jnl \(no SEG header\) bytes=\d+$/m,
             "refused segment $_: no header");
    }

    like($out, qr/^  warning: torn tail at offset=0, 0 bytes: no whole SEG/m,
         'empty: torn');
    like($out, qr/^  warning: torn tail at offset=0, 20 bytes: no whole SEG/m,
         'torn SEG: torn');
    like($out, qr/\(it starts with an ENQ record\): replay renames it to /,
         'ENQ first: corrupt');
    like($out, qr/\(its SEG record names another zone\)/,
         'another zone: corrupt');
    like($out, qr/\(its SEG record is corrupt\)/, 'corrupt SEG: corrupt');
    unlike($out, qr/ENQ id=/, 'none of their records');
    like($out, qr/^segments=5 records=0 pending=0 acked=0 torn=2 corrupt=3 /m,
         'refused segments: summary');

    # what replay reads but mentions: a SEG of another gen or seq, a SEG
    # after the first
    $dir = tempdir(CLEANUP => 1);
    write_segment("$dir/" . segment_name('edits', 1, 1),
                  [seg('edits', 2, 9), enq(id => 1), seg('edits', 1, 1),
                   enq(id => 2)]);

    ($rc, $out) = journal('dump', $dir);
    is($rc, 0, 'odd SEG records: exit 0');
    like($out, qr/^  warning: SEG record says gen=0000000000000002 seq=9, /m,
         'gen and seq unlike the name');
    like($out, qr/^  warning: SEG record at offset=\d+, after the first, /m,
         'SEG after the first');
    like($out, qr/ records=2 pending=2 acked=0 torn=0 corrupt=0 /,
         'odd SEG records: summary');

    # the usage text and errors go to stderr: not into the TAP output
    open my $saved, '>&', \*STDERR or die;
    open STDERR, '>', '/dev/null' or die;

    my @rc = ((journal())[0], (journal('list', $dir))[0],
              (journal('dump', $dir, 'z', 'extra'))[0],
              (journal('dump', "$dir/none"))[0]);

    open STDERR, '>&', $saved or die;

    is($rc[0], 1, 'no arguments: exit 1');
    is($rc[1], 1, 'unknown command: exit 1');
    is($rc[2], 1, 'too many arguments: exit 1');
    is($rc[3], 1, 'no directory: exit 1');

    is((journal('--help'))[0], 0, '--help: exit 0');
};


done_testing();
