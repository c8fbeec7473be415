# Self-test of the Test::Nginx runner (compat or real): error.log checks
# and configurations nginx must refuse (must_die).
use Test::Nginx::Socket 'no_plan';

log_level('info');
run_tests();

__DATA__

=== TEST 1: error_log / no_error_log with text, qr// and arrays
--- config
    location = /t { root html; }
--- request
GET /t
--- error_code: 404
--- error_log eval
[qr/open\(\) ".*?\/html\/t" failed/, "No such file or directory"]
--- no_error_log
[alert]
[emerg]



=== TEST 2: grep_error_log (regex) collects the matching parts, one per line
--- config
    location = /page.html { ssi on; root html; }
    location /missing { root html; }
--- user_files
>>> page.html
a<!--# include virtual="/missing1" -->b<!--# include virtual="/missing2" -->c
--- request
GET /page.html
--- response_body_like: ^a.*c$
--- grep_error_log eval
qr/missing\d" failed/
--- grep_error_log_out
missing1" failed
missing2" failed



=== TEST 3: grep_error_log (plain string)
--- config
    location = /page.html { ssi on; root html; }
    location /missing { root html; }
--- user_files
>>> page.html
<!--# include virtual="/missing1" --><!--# include virtual="/missing2" -->
--- request
GET /page.html
--- grep_error_log: No such file or directory
--- grep_error_log_out
No such file or directory
No such file or directory



=== TEST 4: block-level log_level
--- config
    location = /t { return 200 "ok\n"; }
--- log_level: debug
--- request
GET /t
--- error_log
http finalize request



=== TEST 5: must_die, error_log checks what nginx reported
--- config
    location = /t {
        return a b c;
    }
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid number of arguments in "return" directive
--- no_error_log
[error]



=== TEST 6: must_die with an exit code
--- config
    no_such_directive_here on;
--- must_die: 1
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*unknown directive "no_such_directive_here"/



=== TEST 7: the server comes back after must_die blocks
--- config
    location = /t { return 200 "back\n"; }
--- request
GET /t
--- response_body
back
