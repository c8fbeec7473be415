package OrderEditTest;

# Helpers shared by the suites: sign webhook bodies the way Shopify does
# and build the X-Shopify-* headers.  Pure Perl (Digest::SHA is core), so
# the suites run the same under the real Test::Nginx and t/compat.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_base64);
use Exporter 'import';

our @EXPORT = qw(sign webhook_headers order_body);


# base64(HMAC-SHA256(body, secret)) with the padding Shopify sends
sub sign {
    my ($secret, $body) = @_;

    my $mac = hmac_sha256_base64($body, $secret);
    $mac .= '=' while length($mac) % 4;

    return $mac;
}


# webhook_headers(secret, body, id, shop => ..., topic => ..., ...)
sub webhook_headers {
    my ($secret, $body, $id, %o) = @_;

    my $shop = $o{shop} // 'acme.myshopify.com';
    my $topic = $o{topic} // 'orders/updated';
    my $hmac = $o{hmac} // sign($secret, $body);

    my $h = "X-Shopify-Hmac-Sha256: $hmac\n"
          . "X-Shopify-Shop-Domain: $shop\n"
          . "X-Shopify-Topic: $topic\n"
          . "X-Shopify-API-Version: 2024-10\n"
          . "X-Shopify-Triggered-At: 2026-11-26T10:00:00.000000000Z\n";

    $h .= "X-Shopify-Webhook-Id: $id\n" if defined $id;
    $h .= "X-Shopify-Event-Id: $o{event_id}\n" if defined $o{event_id};
    $h .= $o{extra} if defined $o{extra};

    return $h;
}


# a syntactically plausible order of about $size bytes
sub order_body {
    my ($id, $size) = @_;

    my $body = qq({"id":$id,"name":"#$id","currency":"USD","line_items":[);
    my $i = 0;

    while (length($body) < ($size // 512) - 64) {
        $body .= ',' if $i;
        $body .= qq({"id":$i,"sku":"SKU-$i","quantity":1,"price":"9.99"});
        $i++;
    }

    return $body . qq(],"updated_at":"2026-11-26T10:00:00Z"});
}


1;
