# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The curl engine (libcurl multi_socket on nginx's event loop), driven
# through order_edit_curl_debug against locations of the same nginx:
# plain fetches, refused connections, timeouts, 20 parallel transfers,
# connection reuse, body limits, request bodies, TLS verification and a
# client that goes away before its transfers finish.  One worker, so
# that every request of a block meets the same engine.

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(1);
worker_connections(1024);

# a self-signed certificate for 127.0.0.1, made fresh for this run
our ($Cert, $Key);
{
    my $dir = tempdir(CLEANUP => 1);
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 2"
           . " -subj /CN=order-edit-test -addext subjectAltName=IP:127.0.0.1"
           . " -keyout $dir/key.pem -out $dir/cert.pem >/dev/null 2>&1") == 0
        or die "openssl req failed\n";
    local $/;
    open my $fh, '<', "$dir/cert.pem" or die "$!\n"; $Cert = <$fh>; close $fh;
    open $fh, '<', "$dir/key.pem" or die "$!\n"; $Key = <$fh>; close $fh;
}

our $Big = 'x' x 200000;

our $UserFiles = ">>> small.txt\nhello world\n>>> big.txt\n$Big";

our $HttpConfig = <<'_EOC_';
    order_edit_curl max_connections=4 keepalive=8 max_body=64k timeout=5s;
_EOC_

our $Config = <<'_EOC_';
    location = /curl { order_edit_curl_debug; }

    location = /small.txt { root html; }
    location = /big.txt { root html; }
    location = /slow { alias html/big.txt; limit_rate 4k; }
    location = /chunked {
        alias html/big.txt;
        sub_filter_types *;
        sub_filter zzz y;
    }
    location = /conn {
        add_header X-Conn "$connection/$connection_requests";
        return 200 "ok\n";
    }
    location = /echo {
        add_header X-Got "$request_method $http_content_type $content_length"
                   always;
        return 200 "x";
    }
    location = /busy {
        add_header Retry-After 7 always;
        return 429;
    }
    # A URL with a port only the config knows: error_page's redirect
    # carries arguments without a regex (nginx 1.22 never frees a
    # rewrite's pcre2 compile context, which valgrind reports).
    location = /refused {
        error_page 404 = "/curl?url=http%3A%2F%2F127.0.0.1%3A$TEST_NGINX_RAND_PORT_1%2F&n=2";
        return 404;
    }
_EOC_

sub ok_result {
    my ($bytes, $conns, $header) = @_;
    my $re = qq(\\{"status":200,"curl_code":0,"body_bytes":$bytes,"ms":\\d+,)
           . qq("outcome":"ok","new_connections":$conns,"error":"");
    $re .= qq(,"header":"$header") if defined $header;
    return $re . '\}';
}

run_tests();

__DATA__

=== TEST 1: a static file through the engine: status, body, a header
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/small.txt&header=Content-Length
--- response_headers
Content-Type: application/json
--- response_body_like eval
'^\{"results":\[' . ::ok_result(12, 1, 12) . '\],"max_parallel_sockets":1\}$'
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: a non-2xx is a response, not a failure; Retry-After is kept
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /curl?url=/busy&header=retry-after
--- response_body_like
^\{"results":\[\{"status":429,"curl_code":0,"body_bytes":\d+,"ms":\d+,"outcome":"ok","new_connections":1,"error":"","header":"7"\}\],"max_parallel_sockets":1\}$
--- no_error_log
[alert]
[crit]



=== TEST 3: a refused connection is a curl error for each transfer
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /refused
--- response_body_like
^\{"results":\[(\{"status":0,"curl_code":7,"body_bytes":0,"ms":\d+,"outcome":"failed","new_connections":0,"error":"[^"]*(Couldn't|Failed to) connect[^"]*"\},?){2}\],"max_parallel_sockets":[12]\}$
--- no_error_log
[alert]
[crit]



=== TEST 4: a transfer slower than its timeout fails with CURLE_OPERATION_TIMEDOUT
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/slow&timeout=300&max_body=1000000
--- response_body_like
^\{"results":\[\{"status":200,"curl_code":28,"body_bytes":\d+,"ms":\d+,"outcome":"failed","new_connections":1,"error":"Operation timed out after \d+ milliseconds with \d+ out of 200000 bytes received"\}\],"max_parallel_sockets":1\}$
--- no_error_log
[alert]
[crit]



=== TEST 5: 20 transfers in parallel, all complete
--- http_config
    order_edit_curl;
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/small.txt&n=20
--- response_body_like eval
'^\{"results":\[(' . ::ok_result(12, 1) . ',?){20}\],"max_parallel_sockets":(1[0-9]|20)\}$'
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: max_connections=4 queues 20 transfers on 4 sockets, all complete
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/small.txt&n=20
--- response_body_like eval
'^\{"results":\[(' . ::ok_result(12, '[01]') . ',?){20}\],"max_parallel_sockets":[1-4]\}$'
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: the multi handle keeps the connection alive between requests
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /curl?url=/conn&header=X-Conn", "GET /curl?url=/conn&header=X-Conn",
 "GET /curl?url=/conn&header=X-Conn"]
--- response_body_like eval
['^\{"results":\[' . ::ok_result(3, 1, '\d+/1') . '\]',
 '^\{"results":\[' . ::ok_result(3, 0, '\d+/2') . '\]',
 '^\{"results":\[' . ::ok_result(3, 0, '\d+/3') . '\]']
--- no_error_log
[alert]
[crit]



=== TEST 8: a body over the limit is refused on its Content-Length
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/big.txt&max_body=1000
--- response_body_like
^\{"results":\[\{"status":200,"curl_code":63,"body_bytes":0,"ms":\d+,"outcome":"too_large","new_connections":1,"error":"response body larger than 1000 bytes"\}\],"max_parallel_sockets":1\}$
--- no_error_log
[alert]
[crit]



=== TEST 9: a chunked body over the limit is cut off as it arrives
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/chunked&max_body=1000&header=Transfer-Encoding
--- response_body_like
^\{"results":\[\{"status":200,"curl_code":23,"body_bytes":\d{1,3},"ms":\d+,"outcome":"too_large","new_connections":1,"error":"response body larger than 1000 bytes","header":"chunked"\}\],"max_parallel_sockets":1\}$
--- no_error_log
[alert]
[crit]



=== TEST 10: the engine's max_body applies when the request sets none
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request eval
["GET /curl?url=/big.txt", "GET /curl?url=/big.txt&max_body=200000"]
--- response_body_like eval
['"outcome":"too_large","new_connections":1,"error":"response body larger than 65536 bytes"',
 '^\{"results":\[' . ::ok_result(200000, '[01]') . '\]']
--- no_error_log
[alert]
[crit]



=== TEST 11: request bodies, methods and headers reach the server
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /curl?url=/echo&method=PATCH&body=%7B%22a%22%3A1%7D&content_type=application%2Fjson&header=X-Got",
 "GET /curl?url=/echo&method=POST&body=hello&content_type=text%2Fplain&header=X-Got",
 "GET /curl?url=/echo&method=PUT&header=X-Got",
 "GET /curl?url=/echo&method=DELETE&header=X-Got"]
--- response_body_like eval
['"header":"PATCH application/json 7"', '"header":"POST text/plain 5"',
 '"header":"PUT application/x-www-form-urlencoded 0"',
 '"header":"DELETE"']
--- no_error_log
[alert]
[crit]



=== TEST 12: TLS is verified by default: a self-signed server is refused
--- http_config eval
$::HttpConfig . qq{
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate ../html/cert.pem;
        ssl_certificate_key ../html/key.pem;
        location / { return 200 "secure\\n"; }
    }
}
--- config eval
$::Config . q{
    location = /tls {
        error_page 404 = "/curl?url=https%3A%2F%2F127.0.0.1%3A$TEST_NGINX_RAND_PORT_2%2F";
        return 404;
    }
}
--- user_files eval
">>> cert.pem\n$::Cert>>> key.pem\n$::Key"
--- request
GET /tls
--- response_body_like
^\{"results":\[\{"status":0,"curl_code":60,"body_bytes":0,"ms":\d+,"outcome":"failed","new_connections":1,"error":"SSL certificate problem: self.signed certificate"\}\],"max_parallel_sockets":1\}$
--- no_error_log
[alert]
[crit]



=== TEST 13: ca_file makes the same server trusted
--- http_config eval
qq{
    order_edit_curl ca_file=../html/cert.pem;
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate ../html/cert.pem;
        ssl_certificate_key ../html/key.pem;
        location / { return 200 "secure\\n"; }
    }
}
--- config eval
$::Config . q{
    location = /tls {
        error_page 404 = "/curl?url=https%3A%2F%2F127.0.0.1%3A$TEST_NGINX_RAND_PORT_2%2F";
        return 404;
    }
}
--- user_files eval
">>> cert.pem\n$::Cert>>> key.pem\n$::Key"
--- request
GET /tls
--- response_body_like eval
'^\{"results":\[' . ::ok_result(7, 1) . '\],"max_parallel_sockets":1\}$'
--- no_error_log
[alert]
[crit]



=== TEST 14: a client that goes away leaves its transfers to finish safely
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- user_files eval: $::UserFiles
--- request
GET /curl?url=/slow&timeout=800&max_body=1000000&n=3
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 1.5
--- error_log
client prematurely closed connection
order_edit: curl debug: 3 transfers finished after the client went away
--- no_error_log
[alert]
[crit]



=== TEST 15: bad arguments and methods are refused
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /curl", "GET /curl?url=/x&n=0", "GET /curl?url=/x&n=257",
 "GET /curl?url=/x&method=TRACE", "POST /curl?url=/x\nbody"]
--- error_code eval
[400, 400, 400, 400, 405]
--- response_body_like eval
['"url is required"', '"n is 1 to 256', '"n is 1 to 256',
 '"method is GET, HEAD', '"use GET"']
--- no_error_log
[alert]
[crit]



=== TEST 16: an unknown order_edit_curl parameter stops nginx
--- http_config
    order_edit_curl max_connections=four;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*invalid parameter "max_connections=four" in .*nginx\.conf:\d+/



=== TEST 17: a missing ca_file stops nginx
--- http_config
    order_edit_curl ca_file=/nonexistent/ca.pem;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*"\/nonexistent\/ca\.pem" failed \(2: No such file or directory\)/



=== TEST 18: order_edit_curl twice is refused
--- http_config
    order_edit_curl keepalive=4;
    order_edit_curl keepalive=8;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*"order_edit_curl" directive is duplicate/



=== TEST 19: parse_thread_pool names a thread pool nginx has
--- main_config
    thread_pool parse threads=2;
--- http_config
    order_edit_curl parse_thread_pool=parse parse_threshold=64k;
--- config
    location = /curl { order_edit_curl_debug; }
    location = /x { return 200 "ok"; }
--- request
GET /curl?url=/x
--- response_body_like: "status": ?200
--- no_error_log
[emerg]
[alert]



=== TEST 20: an unknown parse_thread_pool stops nginx
--- http_config
    order_edit_curl parse_thread_pool=nosuch;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuch"/



=== TEST 21: parse_threshold is a size
--- http_config
    order_edit_curl parse_threshold=big;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*invalid parameter "parse_threshold=big"/



=== TEST 22: background_thread_pool names a thread pool nginx has
--- main_config
    thread_pool background threads=1;
--- http_config
    order_edit_curl background_thread_pool=background;
--- config
    location = /curl { order_edit_curl_debug; }
    location = /x { return 200 "ok"; }
--- request
GET /curl?url=/x
--- response_body_like: "status": ?200
--- no_error_log
[emerg]
[alert]



=== TEST 23: background_thread_pool is not nginx's default pool
--- http_config
    order_edit_curl background_thread_pool=default;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*invalid parameter "background_thread_pool=default" in \S+nginx\.conf:\d+$/



=== TEST 24: background_thread_pool is not the pool of parse_thread_pool
--- main_config
    thread_pool parse threads=1;
--- http_config
    order_edit_curl parse_thread_pool=parse background_thread_pool=parse;
--- config
    location = /curl { order_edit_curl_debug; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*background_thread_pool= names the pool of parse_thread_pool=: it needs one of its own in \S+nginx\.conf:\d+$/



=== TEST 25: background_thread_pool is not the journal's pool
--- main_config
    thread_pool bg threads=1;
--- http_config
    order_edit_zone edits:1m;
    order_edit_journal journal fsync=batch thread_pool=bg;
    order_edit_store acme.myshopify.com { secret acme; }
    order_edit_curl background_thread_pool=bg;
--- config
    location = /wh { order_edit_webhook edits; }
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*order_edit_journal in \S+nginx\.conf:\d+ names the thread pool of order_edit_curl background_thread_pool= in \S+nginx\.conf:\d+: it needs one of its own/
