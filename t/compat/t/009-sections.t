# Self-test of the Test::Nginx runner (compat or real): less common
# sections and request forms.
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
log_level('warn');
run_tests();

__DATA__

=== TEST 1: request_eval / response_body_eval (deprecated spellings)
--- config
    location = /t { return 200 "$arg_a\n"; }
--- request_eval
"GET /t?a=" . join("", map { $_ * 2 } 1 .. 3)
--- response_body_eval
"246\n"



=== TEST 2: raw_request in pieces with a delay between them
--- config
    location = /t { return 200 "$request_method $content_length\n"; }
--- raw_request eval
["POST /t HTTP/1.1\r\nHost: localhost\r\n",
 "Content-Length: 3\r\nConnection: close\r\n\r\nabc"]
--- raw_request_middle_delay: 0.05
--- response_body
POST 3



=== TEST 3: explicit Content-Length keeps the body untrimmed
--- config
    location = /t { return 200 "len=$content_length\n"; }
--- more_headers
Content-Length: 4
--- request eval
"POST /t\nab\n\n"
--- response_body
len=4



=== TEST 4: chunked request body
--- config
    location = /t { return 200 "te=$http_transfer_encoding\n"; }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /t
3\r
abc\r
0\r
\r
"
--- response_body
te=chunked



=== TEST 5: error_code_like, response_body_unlike, raw header checks
--- config
    location = /t { add_header X-Thing "v1"; return 302 /elsewhere; }
--- request
GET /t
--- error_code_like: ^30[12]$
--- raw_response_headers_like: X-Thing: v1\r\n
--- raw_response_headers_unlike: X-Other
--- response_body_unlike: ^$



=== TEST 6: HTTP/1.0 request line and HEAD
--- config
    location = /t { return 200 "$server_protocol\n"; }
--- request
GET /t HTTP/1.0
--- response_body
HTTP/1.0



=== TEST 7: skip_eval
--- config
    location = /t { return 200; }
--- request
GET /t
--- skip_eval: 3: 1 + 1 == 2
--- response_body
not checked



=== TEST 8: ignore_response and wait, logs still checked
--- config
    location = /t { return 200 "whatever\n"; }
--- request
GET /t
--- ignore_response
--- wait: 0.05
--- no_error_log
[warn]



=== TEST 9: grep_error_log_out as array indexed by repetition
--- config
    location = /t { root html; log_not_found on; }
--- request
GET /t
--- error_code: 404
--- log_level: error
--- grep_error_log eval: qr/No such file/
--- grep_error_log_out eval
["No such file\n", "No such file\n"]
