# Self-test of the Test::Nginx runner (compat or real): single requests.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_COMPAT_GREETING} = 'hello from env';

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: plain GET, default status 200, body with trailing newline
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 2: indented request, comment line, explicit error_code
--- config
    location = /t {
        return 404;
    }
--- request
    # a comment line before the request line is ignored
    GET /t
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 3: response_headers (present, absent) and response_headers_like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 200 "x";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
!X-Missing
Content-Length: 1
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
--- response_body chomp
x



=== TEST 4: POST body is trimmed and gets a Content-Length; more_headers
--- config
    location = /t {
        return 200 "len=$content_length ct=$http_content_type foo=$http_x_foo\n";
    }
--- more_headers
Content-Type: text/x-test
X-Foo: 42
--- request
POST /t
hello world
--- response_body
len=11 ct=text/x-test foo=42



=== TEST 5: $TEST_NGINX_* in config, http_config and response_body
--- http_config
    map $uri $greeting {
        default "$TEST_NGINX_COMPAT_GREETING";
    }
--- config
    location = /t {
        return 200 "$greeting on $TEST_NGINX_SERVER_PORT\n";
    }
--- request
GET /t
--- response_body
hello from env on $TEST_NGINX_SERVER_PORT



=== TEST 6: main_config, user_files and the default root location
--- main_config
    worker_rlimit_nofile 1024;
--- config
--- user_files
>>> sub/hello.txt
Hello, world
>>> other.txt
second file
--- request
GET /sub/hello.txt
--- response_body
Hello, world



=== TEST 7: block without --- config reuses the running nginx
--- request
GET /other.txt
--- response_body
second file



=== TEST 8: request eval and response_body eval with a regex
--- config
    location = /t {
        return 200 "a${arg_n}b\n";
    }
--- request eval
"GET /t?n=" . (6 * 7)
--- response_body eval
qr/^a42b$/



=== TEST 9: HEAD request and the 'timeout' / 'wait' sections
--- config
    location = /t {
        return 200 "body";
    }
--- request
HEAD /t
--- timeout: 2s
--- wait: 0.1
--- response_body chomp



=== TEST 10: raw_request as one piece
--- config
    location = /t {
        return 200 "raw $request_method\n";
    }
--- raw_request eval
"PUT /t HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
--- response_body
raw PUT



=== TEST 11: skip_nginx skips on the running version
--- config
    location = /t { return 200; }
--- request
GET /t
--- skip_nginx: 2: > 0.1.0
--- response_body
never checked
