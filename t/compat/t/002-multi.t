# Self-test of the Test::Nginx runner (compat or real): several requests
# per block, pipelining, arrays of expectations, repeat_each.
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
run_tests();

__DATA__

=== TEST 1: request eval array -> one connection per request, arrays expected
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 404; }
    location = /c { return 201 "C $http_x_n\n"; }
--- request eval
["GET /a", "GET /b", "POST /c\nsome body"]
--- more_headers eval
["X-N: 1", "X-N: 2", "X-N: 3"]
--- error_code eval
[200, 404, 201]
--- response_body_like eval
["^A\$", "404 Not Found", "^C 3\$"]



=== TEST 2: response_body eval array
--- config
    location = /t { return 200 "$arg_v\n"; }
--- request eval
["GET /t?v=one", "GET /t?v=two"]
--- response_body eval
["one\n", "two\n"]



=== TEST 3: pipelined requests share one keep-alive connection
--- config
    location = /t { return 200 "$arg_v:$connection_requests\n"; }
--- pipelined_requests eval
["GET /t?v=x", "GET /t?v=y", "GET /t?v=z"]
--- error_code eval
[200, 200, 200]
--- response_body eval
["x:1\n", "y:2\n", "z:3\n"]



=== TEST 4: chunked response is decoded
--- config
    location = /t {
        gzip off;
        chunked_transfer_encoding on;
        ssi on;
        ssi_types *;
        default_type text/html;
        return 200 "chunked <!--# echo var=\"arg_v\" -->\n";
    }
--- request
GET /t?v=yes
--- response_headers
Transfer-Encoding: chunked
--- response_body
chunked yes



=== TEST 5: error_log is checked after every request of a block
--- config
    location = /t { return 200 "ok\n"; }
    location = /missing { root html; }
--- log_level: error
--- request eval
["GET /missing", "GET /missing"]
--- error_code eval
[404, 404]
--- error_log
No such file or directory
--- no_error_log
[crit]
