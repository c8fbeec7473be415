package OrderEditJournal;

# Journal segments and acks written from Perl, for tests that need a
# journal on disk before nginx starts (replay, torn tails, corruption).
# The byte format is the one in ngx_http_order_edit_jrec.h; the payload
# layouts follow ngx_http_order_edit_jrec.c:
#
#   ENQ  id u64, received_ms u64, order_id u64, six u16 string lengths
#        (shop, topic, webhook_id, event_id, api_version, triggered_at),
#        body length u32, the strings, the body
#   SEG  gen u64, seq u64, created_ms u64, pid u32, zone length u16,
#        reserved u16, the zone
#
# all little-endian.  t/unit/jrec-perl.t checks that the C codec reads
# what this writes, and that both write the same bytes.  Pure Perl.

use v5.36;

use Carp qw(croak);
use Exporter 'import';

our @EXPORT = qw(crc32c jrec_seg jrec_enq jack write_segment write_acks
                 segment_name);

use constant {
    MAGIC     => 'OEJ1',
    ACK_MAGIC => 'OEJA',
    SEG       => 1,
    ENQ       => 2,
    MAX_LEN   => 64 * 1024 * 1024,
};

our %ACK_KIND = (
    delivered => 1,
    resolved  => 2,
    dropped   => 3,
    rollback  => 4,
);

my @ENQ_STRINGS = qw(shop topic webhook_id event_id api_version
                     triggered_at);


# CRC32C (Castagnoli, reflected polynomial 0x82F63B78), a table at a time
my @CRC_TABLE = map {
    my $c = $_;
    $c = $c & 1 ? ($c >> 1) ^ 0x82F63B78 : $c >> 1 for 1 .. 8;
    $c;
} 0 .. 255;


# crc32c($bytes [, $crc so far]): continues a crc like the C function
sub crc32c ($data, $crc = 0) {
    $crc ^= 0xFFFFFFFF;
    $crc = $CRC_TABLE[($crc ^ $_) & 0xFF] ^ ($crc >> 8)
        for unpack 'C*', $data;

    return $crc ^ 0xFFFFFFFF;
}


sub _bytes ($name, $s) {
    $s //= '';
    croak "$name: wide characters, bytes only" if utf8::is_utf8($s)
                                                   && !utf8::downgrade($s, 1);
    return $s;
}


# header, payload, zero padding to a multiple of 8
sub _record ($type, $payload) {
    my $len = length $payload;

    croak "record payload of $len bytes is over the limit" if $len > MAX_LEN;

    my $head = pack 'a4 C C v V', MAGIC, $type, 0, 0, $len;
    my $crc = crc32c($payload, crc32c($head));

    return $head . pack('V', $crc) . $payload . "\0" x (-$len % 8);
}


# jrec_seg(gen => , seq => , created_ms => , pid => , zone => )
sub jrec_seg (%a) {
    my $zone = _bytes('zone', $a{zone} // 'edits');

    croak "zone longer than 65535 bytes" if length $zone > 0xFFFF;

    return _record(SEG, pack('Q< Q< Q< V v v', $a{gen} // 1, $a{seq} // 1,
                             $a{created_ms} // 0, $a{pid} // 0,
                             length $zone, 0)
                        . $zone);
}


# jrec_enq(id => , received_ms => , order_id => , shop => , topic => ,
#          webhook_id => , event_id => , api_version => , triggered_at => ,
#          body => ); missing strings are empty
sub jrec_enq (%a) {
    my @s = map { _bytes($_, $a{$_}) } @ENQ_STRINGS;
    my $body = _bytes('body', $a{body});

    for my $i (0 .. $#s) {
        croak "$ENQ_STRINGS[$i] longer than 65535 bytes"
            if length $s[$i] > 0xFFFF;
    }

    return _record(ENQ, pack('Q< Q< Q< v6 V', $a{id} // 0,
                             $a{received_ms} // 0, $a{order_id} // 0,
                             (map { length } @s), length $body)
                        . join('', @s) . $body);
}


# jack('delivered' | 'resolved' | 'dropped' | 'rollback' | 1..4, $offset)
sub jack ($kind, $offset) {
    my $k = $kind =~ /^\d+$/ ? $kind : $ACK_KIND{$kind}
        // croak "unknown ack kind '$kind'";
    my $tail = pack 'C x3 V', $k, $offset;

    return ACK_MAGIC . pack('V', crc32c($tail)) . $tail;
}


# the records' bytes, back to back; returns the offset of each
sub write_segment ($path, $records) {
    my ($off, @offsets) = (0);

    open my $fh, '>:raw', $path or croak "$path: $!";

    for my $r (@$records) {
        push @offsets, $off;
        print {$fh} $r or croak "$path: $!";
        $off += length $r;
    }

    close $fh or croak "$path: $!";

    return @offsets;
}


# write_acks($segment_path, [kind, offset], ...): "<segment>.ack"
sub write_acks ($path, @acks) {
    open my $fh, '>:raw', "$path.ack" or croak "$path.ack: $!";
    print {$fh} map { jack(@$_) } @acks;
    close $fh or croak "$path.ack: $!";

    return "$path.ack";
}


# "<zone>-<16 hex gen>-<8 digit seq>.jnl"
sub segment_name ($zone, $gen, $seq) {
    return sprintf '%s-%016x-%08d.jnl', $zone, $gen, $seq;
}


1;
