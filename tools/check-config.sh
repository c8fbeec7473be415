#!/usr/bin/env bash
# tools/check-config.sh: check the module's nginx addon script (./config)
# against nginx source trees.
#
#   tools/check-config.sh NGINX_SOURCE_DIR
#   tools/check-config.sh --matrix NGINX_SOURCE_DIR...
#
# NGINX_SOURCE_DIR is an unpacked nginx source tree that you provide (a
# release tarball with ./configure, a git checkout with auto/configure,
# or, for --matrix only, Debian's headers-only /usr/share/nginx/src from
# nginx-dev); this script never fetches or unpacks nginx itself.  It
# works on private copies of that tree and of the module (the work tree
# without build/ and .git/), in a temporary directory, so neither is
# modified.
#
# Without --matrix, one PASS/FAIL line per check:
#   static    ./configure --add-module=MODULE, make, nginx -V, nginx -t with
#             order_edit_zone/_store/_webhook, a signed webhook POST on
#             127.0.0.1 answered {"status":"queued","id":"1"}, a wrongly
#             signed one answered 401
#   dynamic   ./configure --add-dynamic-module=MODULE, make modules, make,
#             the .so's libraries resolve, load_module + nginx -t, the
#             same two requests
#   missing   configure --add-dynamic-module stops with the module's message
#             naming the Debian package when the jansson, libcurl or OpenSSL
#             headers are missing (OpenSSL with and without
#             --with-http_ssl_module).  Nothing is uninstalled: each file or
#             directory is hidden by a bind mount inside a private mount
#             namespace (unshare -m as root, unshare -r -m otherwise),
#             invisible to every other process.
#
# With --matrix, for each tree, one PASS/FAIL line per configuration:
#   every combination of --add-module | --add-dynamic-module,
#   --with-compat or not, --with-threads or not, --with-http_ssl_module
#   or not (16), with nginx's own compiler flags (-W -Wall -Werror ...,
#   plus $CC_OPT if set).  Only the module is compiled: its objects for a
#   static build, `make modules` (objects and the .so) for a dynamic one;
#   a compiler warning fails the configuration.  A tree with Debian's
#   conf_flags gets one more: Debian's flags with dpkg-buildflags' CFLAGS,
#   as dh's nginx_mod build system configures a packaged module.
#   Then, on a full tree (src/core/nginx.c present) unless NO_RUN=1, one
#   nginx built --without threads (dynamic, --with-compat, ssl): nginx -t
#   refuses order_edit_journal with the default fsync=batch, naming the
#   file:line, accepts fsync=off, and answers a signed webhook 200.
#   A summary table ends the output.
#
# Not part of `make test` (it needs nginx source trees); `make
# check-matrix NGINX_TREES="..."` (mk/portability.mk) runs --matrix.
# Needs a C toolchain, libpcre2-dev, zlib1g-dev, libssl-dev,
# libjansson-dev, libcurl4-openssl-dev, curl, openssl (or python3),
# util-linux unshare.
#
# Environment: MODULE_DIR (default: this repository), JOBS (make -j,
# default nproc), KEEP=1 keeps the temporary directory (logs) afterwards,
# CC_OPT (--matrix: extra compiler flags), NO_RUN=1 (--matrix: compile
# only), RUN_ONLY=1 (--matrix: only the nginx built without threads).
#
# Time: 1.5-3 minutes on 2 cores (two nginx builds, eight configure runs);
# --matrix: about 1 minute per configuration and 3 more for the nginx
# built without threads, per tree.  Every step runs under timeout(1)
# (configure 120 s, make 600 s, nginx 20 s, request 10 s), so it ends
# whatever happens.  The nginx processes it started are stopped and the
# temporary directory is removed on exit, Ctrl-C and SIGTERM included.
# Exit status 0 when every check passed, 1 when any failed, 2 on usage
# errors.

set -u

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

matrix=no
case ${1:-} in
-h|--help) usage ;;
--matrix) matrix=yes; shift ;;
esac
if [ $matrix = no ]; then
    [ $# -eq 1 ] || usage
else
    [ $# -ge 1 ] || usage
fi

# tree_setup DIR: sets src, configure, ngx_version for an nginx tree
tree_setup() {
    src=$(cd "$1" 2>/dev/null && pwd) || { echo "no such directory: $1" >&2; exit 2; }
    if [ -x "$src/configure" ]; then
        configure=./configure
    elif [ -f "$src/auto/configure" ]; then
        configure=auto/configure
    else
        echo "$src: not an nginx source tree (no configure or auto/configure)" >&2
        exit 2
    fi
    [ -f "$src/src/core/nginx.h" ] || { echo "$src: no src/core/nginx.h" >&2; exit 2; }
    ngx_version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
                      "$src/src/core/nginx.h")
}

for d in "$@"; do
    tree_setup "$d"
done
tree_setup "$1"

here=$(cd "$(dirname "$0")" && pwd)
mod_src=$(cd "${MODULE_DIR:-$here/..}" && pwd)
[ -f "$mod_src/config" ] || { echo "$mod_src: no config" >&2; exit 2; }

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

T_CONFIGURE=120     # seconds, per configure run
T_MAKE=600          # per make run
T_NGINX=20          # nginx -t, start, stop
T_REQUEST=10        # per HTTP request

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-config.XXXXXX") || exit 2
pidfiles=()
child=
failures=0
checks=0

# Stop every nginx this script started (master and workers), then remove
# the temporary directory.
stop_nginx() {
    local pf=$1 master kids i
    [ -s "$pf" ] || return 0
    master=$(cat "$pf" 2>/dev/null) || return 0
    case $master in ''|*[!0-9]*) return 0 ;; esac
    kill -0 "$master" 2>/dev/null || return 0
    kids=$(ps -o pid= --ppid "$master" 2>/dev/null)
    kill -QUIT "$master" 2>/dev/null
    for i in $(seq 1 $((T_NGINX * 10))); do
        kill -0 "$master" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$master" 2>/dev/null; then
        kill -KILL "$master" 2>/dev/null
    fi
    for i in $kids; do
        kill -KILL "$i" 2>/dev/null
    done
    return 0
}

# Long steps run in the background so that a signal is handled at once;
# timeout(1) leads its own process group and passes the signal on to it.
# run_in DIR COMMAND...
run_in() {
    local rc
    (cd "$1" && shift && exec "$@" 3>&-) &
    child=$!
    wait "$child"
    rc=$?
    child=
    return $rc
}

cleanup() {
    local pf
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    for pf in "${pidfiles[@]+"${pidfiles[@]}"}"; do
        stop_nginx "$pf"
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept: $tmp" >&3
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
# fd 3: the script's own stdout, for messages from a trap that fires while
# stdout is redirected to a log (not passed on to children).
exec 3>&1
trap 'echo "FAIL interrupted (SIGINT)" >&3; exit 130' INT
trap 'echo "FAIL interrupted (SIGTERM)" >&3; exit 143' TERM

pass() { checks=$((checks + 1)); echo "PASS $*"; }

# fail "what" [log file to quote]
fail() {
    checks=$((checks + 1)); failures=$((failures + 1))
    echo "FAIL $1"
    if [ $# -ge 2 ] && [ -s "$2" ]; then
        tail -n 15 "$2" | sed 's/^/    | /'
    fi
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# A private copy of the nginx tree (without a previous build) and of the
# module (the work tree as it is, without build/ and .git/).
copy_tree() {
    mkdir -p "$2" &&
    tar -C "$1" --exclude=./objs --exclude=./Makefile --exclude=./build \
        --exclude=./.git -cf - . | tar -C "$2" -xf -
}

mod="$tmp/module"
copy_tree "$mod_src" "$mod" || { echo "cannot copy $mod_src" >&2; exit 2; }

if [ $matrix = no ]; then
    echo "nginx $ngx_version source: $src ($configure)"
    echo "module: $mod_src (copied to $mod)"
fi

base_args=(--with-compat --with-threads --with-http_ssl_module)

hmac_b64() {   # hmac_b64 SECRET BODY
    if command -v openssl >/dev/null 2>&1; then
        printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" -binary | base64
    else
        python3 -c 'import base64,hashlib,hmac,sys
print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(),
      hashlib.sha256).digest()).decode())' "$1" "$2"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
        2>/dev/null || echo $((20000 + RANDOM % 40000))
}

# write_conf PREFIX PORT [LOAD_MODULE_SO]
write_conf() {
    local p=$1 port=$2 so=${3:-}
    mkdir -p "$p/conf" "$p/logs" "$p/tmp"
    {
        [ -n "$so" ] && echo "load_module $so;"
        cat <<EOF
daemon on;
master_process on;
worker_processes 2;
pid $p/logs/nginx.pid;
error_log $p/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $p/logs/access.log;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;

    order_edit_zone edits:1m;
${extra_http:-}
    order_edit_store acme.myshopify.com {
        secret test_secret_key;
    }

    server {
        listen 127.0.0.1:$port;
        location = /webhooks/shopify { order_edit_webhook edits; }
        location / { return 404; }
    }
}
EOF
    } > "$p/conf/nginx.conf"
}

# post PORT SECRET WEBHOOK_ID OUTFILE: prints the HTTP status
post() {
    local body='{"foo": "bar"}' sig
    sig=$(hmac_b64 "$2" "$body")
    curl -s -m "$T_REQUEST" -o "$4" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' \
        -H "X-Shopify-Hmac-Sha256: $sig" \
        -H 'X-Shopify-Shop-Domain: acme.myshopify.com' \
        -H 'X-Shopify-Topic: orders/updated' \
        -H "X-Shopify-Webhook-Id: $3" \
        --data-binary "$body" "http://127.0.0.1:$1/webhooks/shopify"
}

# run_nginx MODE BIN PREFIX [SO]: nginx -t, start, two requests, stop
run_nginx() {
    local mode=$1 bin=$2 p=$3 so=${4:-} port code body try started=no
    local log="$p/run.log"

    for try in 1 2 3 4 5; do
        port=$(free_port)
        write_conf "$p" "$port" "$so"
        if [ $try = 1 ]; then
            if timeout "$T_NGINX" "$bin" -p "$p" -c "$p/conf/nginx.conf" -t \
                    > "$log" 2>&1; then
                pass "$mode: nginx -t with order_edit_zone/store/webhook${so:+ (load_module)}"
            else
                fail "$mode: nginx -t${so:+ (load_module)}" "$log"
                return
            fi
        fi
        pidfiles+=("$p/logs/nginx.pid")
        if timeout "$T_NGINX" "$bin" -p "$p" -c "$p/conf/nginx.conf" \
                >> "$log" 2>&1 3>&-; then
            started=yes
            break
        fi
        grep -q 'Address already in use' "$log" "$p/logs/error.log" \
            2>/dev/null || break
    done
    if [ $started = no ]; then
        fail "$mode: nginx start on 127.0.0.1" "$log"
        return
    fi
    for try in $(seq 1 50); do      # wait for the listener (5 s at most)
        [ -s "$p/logs/nginx.pid" ] && \
            curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done

    code=$(post "$port" test_secret_key "check-config-${mode//[^a-z0-9.]/-}-1" "$p/ok.out")
    body=$(cat "$p/ok.out" 2>/dev/null)
    if [ "$code" = 200 ] && [ "$body" = '{"status":"queued","id":"1"}' ]; then
        pass "$mode: signed webhook POST -> $code $body"
    else
        echo "HTTP $code: $body" >> "$log"
        cat "$p/logs/error.log" >> "$log" 2>/dev/null
        fail "$mode: signed webhook POST -> $code $body" "$log"
    fi

    code=$(post "$port" wrong_secret "check-config-${mode//[^a-z0-9.]/-}-2" "$p/bad.out")
    body=$(cat "$p/bad.out" 2>/dev/null)
    if [ "$code" = 401 ]; then
        pass "$mode: wrongly signed webhook POST -> $code"
    else
        echo "HTTP $code: $body" >> "$log"
        fail "$mode: wrongly signed webhook POST -> $code $body" "$log"
    fi

    stop_nginx "$p/logs/nginx.pid"
    if grep -E '\[(alert|crit|emerg)\]' "$p/logs/error.log" > "$p/bad.log" \
            2>/dev/null; then
        fail "$mode: error.log has alert/crit/emerg lines" "$p/bad.log"
    else
        pass "$mode: nginx stopped, no alert/crit/emerg in error.log"
    fi
}

# configure_tree MODE DIR ARGS...: copies the tree, runs configure
configure_tree() {
    local mode=$1 dir=$2 t0 log="$2.configure.log"
    shift 2
    t0=$(now)
    if ! copy_tree "$src" "$dir"; then
        fail "$mode: copy nginx source tree"
        return 1
    fi
    if run_in "$dir" timeout "$T_CONFIGURE" $configure "$@" > "$log" 2>&1 \
       && grep -q 'ngx_http_order_edit_module was configured' "$log"; then
        pass "$mode: configure $* ($(since "$t0"))"
        return 0
    fi
    [ -f "$dir/objs/autoconf.err" ] && tail -n 30 "$dir/objs/autoconf.err" >> "$log"
    fail "$mode: configure $*" "$log"
    return 1
}

# make_tree MODE DIR TARGET
make_tree() {
    local mode=$1 dir=$2 target=$3 t0 log="$2.make-$3.log" warn
    t0=$(now)
    if run_in "$dir" timeout "$T_MAKE" make -j"$jobs" "$target" > "$log" 2>&1; then
        warn=$(grep -c 'warning:' "$log")
        if [ "$warn" = 0 ]; then
            pass "$mode: make $target ($(since "$t0"))"
        else
            grep 'warning:' "$log" > "$log.warn"
            fail "$mode: make $target: $warn compiler warning(s)" "$log.warn"
        fi
        return 0
    fi
    fail "$mode: make $target" "$log"
    return 1
}

# ---------------------------------------------------------------- matrix

# The addon's object files in a configured build directory's Makefile.
addon_objects() {
    sed -n 's|^\([^ :]*/addon/[^ :]*\.o\):.*|\1|p' "$1/Makefile"
}

# matrix_one TREE_COPY BUILDDIR LABEL LINK CONFIGURE_ARGS...: configure,
# compile the module only, one PASS/FAIL line (a warning fails)
matrix_one() {
    local s=$1 b=$2 label=$3 link=$4 t0 log objs warn n
    shift 4
    log="$b.log"
    t0=$(now)
    rm -rf "$b"
    if ! run_in "$s" timeout "$T_CONFIGURE" $configure --builddir="$b" "$@" \
            > "$log" 2>&1 \
       || ! grep -q 'ngx_http_order_edit_module was configured' "$log"; then
        [ -f "$b/autoconf.err" ] && tail -n 30 "$b/autoconf.err" >> "$log"
        fail "$label: configure" "$log"
        matrix_rows+=("$label|FAIL (configure)")
        return
    fi
    if [ "$link" = static ]; then
        objs=$(addon_objects "$b")
        n=$(wc -w <<< "$objs")
        # shellcheck disable=SC2086 # one word per object
        run_in "$s" timeout "$T_MAKE" make -j"$jobs" -f "$b/Makefile" \
            $objs >> "$log" 2>&1
    else
        n=$(addon_objects "$b" | wc -l)
        run_in "$s" timeout "$T_MAKE" make -j"$jobs" -f "$b/Makefile" \
            modules >> "$log" 2>&1 \
        && [ -f "$b/ngx_http_order_edit_module.so" ]
    fi
    if [ $? != 0 ]; then
        grep -E 'error|warning' "$log" > "$log.err" || cp "$log" "$log.err"
        fail "$label: make" "$log.err"
        matrix_rows+=("$label|FAIL (make)")
        return
    fi
    warn=$(grep -c 'warning:' "$log")
    if [ "$warn" != 0 ]; then
        grep 'warning:' "$log" > "$log.warn"
        fail "$label: $warn compiler warning(s)" "$log.warn"
        matrix_rows+=("$label|FAIL ($warn warnings)")
        return
    fi
    [ "$link" = dynamic ] && n="$n objects + .so" || n="$n objects"
    pass "$label: $n, no warnings ($(since "$t0"))"
    matrix_rows+=("$label|PASS")
}

# matrix_nothreads TREE_COPY VERSION: nginx without threads; the journal
# takes fsync=off only, and nginx -t says so with file:line
matrix_nothreads() {
    local s=$1 v=$2 b="$1/objs-nothreads" p="$tmp/nothreads-$2" log
    local label="$v dynamic compat ssl, no threads: run"
    log="$b.log"
    rm -rf "$b"
    if ! run_in "$s" timeout "$T_CONFIGURE" $configure --builddir="$b" \
            --prefix="$p" --with-compat --with-http_ssl_module \
            --add-dynamic-module="$mod" > "$log" 2>&1 \
       || ! run_in "$s" timeout "$T_MAKE" make -j"$jobs" -f "$b/Makefile" \
            >> "$log" 2>&1; then
        fail "$label: build nginx" "$log"
        matrix_rows+=("$label|FAIL (build)")
        return
    fi
    # nginx creates the journal directory, owned by the worker user, who
    # must reach it: as root that is nobody, and mktemp's directory is 0700
    [ "$(id -u)" = 0 ] && chmod 0755 "$tmp"
    extra_http="    order_edit_journal $p/journal;"
    write_conf "$p" 1 "$b/ngx_http_order_edit_module.so"
    timeout "$T_NGINX" "$b/nginx" -p "$p" -c "$p/conf/nginx.conf" -t \
        > "$p.t.log" 2>&1
    local rc=$? line
    line=$(grep -n 'order_edit_journal' "$p/conf/nginx.conf" | cut -d: -f1)
    if [ $rc != 0 ] && grep -q "fsync=batch needs nginx built --with-threads.* in $p/conf/nginx.conf:$line" "$p.t.log"; then
        pass "$v no threads: nginx -t refuses the default fsync=batch:" \
             "$(grep -o 'fsync=batch needs.*' "$p.t.log")"
    else
        fail "$v no threads: nginx -t did not refuse fsync=batch with file:line" "$p.t.log"
        matrix_rows+=("$label|FAIL (fsync=batch accepted)")
        extra_http=
        return
    fi
    extra_http="    order_edit_journal $p/journal fsync=off;"
    : > "$p/logs/error.log"     # the refusal above is not this run's
    local before=$failures
    run_nginx "$v no threads, fsync=off" "$b/nginx" "$p" \
        "$b/ngx_http_order_edit_module.so"
    extra_http=
    if [ $failures = "$before" ]; then
        matrix_rows+=("$label|PASS")
    else
        matrix_rows+=("$label|FAIL (run)")
    fi
}

# matrix_tree DIR: the 16 configurations (+ Debian's) of one tree
matrix_tree() {
    local s v link compat threads ssl args label i=0 extra link_axis
    tree_setup "$1"
    v=$ngx_version
    [ -f "$src/conf_flags" ] && v="$v-debian"
    s="$tmp/tree-$v"
    echo "== nginx $v: $src ($configure)"
    if ! copy_tree "$src" "$s"; then
        fail "$v: copy nginx source tree"
        return
    fi
    extra=()
    [ -n "${CC_OPT:-}" ] && extra=(--with-cc-opt="$CC_OPT")
    [ "${RUN_ONLY:-0}" = 1 ] && link_axis=() || link_axis=(static dynamic)
    for link in "${link_axis[@]+"${link_axis[@]}"}"; do
    for compat in compat ''; do
    for threads in threads ''; do
    for ssl in ssl ''; do
        i=$((i + 1))
        args=(--prefix="$tmp/prefix" "${extra[@]+"${extra[@]}"}")
        [ -n "$compat" ] && args+=(--with-compat)
        [ -n "$threads" ] && args+=(--with-threads)
        [ -n "$ssl" ] && args+=(--with-http_ssl_module)
        if [ $link = static ]; then
            args+=(--add-module="$mod")
        else
            args+=(--add-dynamic-module="$mod")
        fi
        label="$v $link ${compat:-no-compat} ${threads:-no-threads}"
        label="$label ${ssl:-no-ssl}"
        matrix_one "$s" "$s/objs-$i" "$label" $link "${args[@]}"
    done; done; done; done
    if [ -f "$src/conf_flags" ] && [ "${RUN_ONLY:-0}" != 1 ]; then
        # as debian/rules (nginx_mod) configures the packaged module
        # shellcheck disable=SC1091
        . "$src/conf_flags"
        matrix_one "$s" "$s/objs-debian" \
            "$v dynamic debian conf_flags + dpkg-buildflags" dynamic \
            --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
            --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" \
            "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$mod"
    fi
    if [ -f "$src/src/core/nginx.c" ] && [ "${NO_RUN:-0}" != 1 ]; then
        matrix_nothreads "$s" "$v"
    fi
    rm -rf "$s"
}

if [ $matrix = yes ]; then
    matrix_rows=()
    echo "module: $mod_src (copied to $mod)"
    for d in "$@"; do
        matrix_tree "$d"
    done
    echo
    echo "configuration | result"
    echo "--- | ---"
    printf '%s\n' "${matrix_rows[@]}" | sed 's/|/ | /'
    echo "$((checks - failures))/$checks checks passed"
    [ "$failures" = 0 ]
    exit
fi


# ---------------------------------------------------------------- static

d="$tmp/static"
if configure_tree static "$d" --prefix="$tmp/static-prefix" "${base_args[@]}" \
        --add-module="$mod" \
   && make_tree static "$d" build; then
    if "$d/objs/nginx" -V > "$d.V.log" 2>&1 \
       && grep -q -- "--add-module=$mod" "$d.V.log"; then
        pass "static: nginx -V: $(grep -o 'nginx version: .*' "$d.V.log"), --add-module=$mod"
    else
        fail "static: nginx -V does not show --add-module" "$d.V.log"
    fi
    run_nginx static "$d/objs/nginx" "$tmp/static-prefix"
fi

# --------------------------------------------------------------- dynamic

d="$tmp/dynamic"
so="$d/objs/ngx_http_order_edit_module.so"
if configure_tree dynamic "$d" --prefix="$tmp/dynamic-prefix" "${base_args[@]}" \
        --add-dynamic-module="$mod" \
   && make_tree dynamic "$d" modules \
   && make_tree dynamic "$d" build; then
    if [ -f "$so" ] && ldd "$so" > "$d.ldd.log" 2>&1 \
       && ! grep -q 'not found' "$d.ldd.log"; then
        pass "dynamic: $(basename "$so") built, its libraries resolve"
    else
        fail "dynamic: $(basename "$so") missing or unresolved libraries" "$d.ldd.log"
    fi
    if "$d/objs/nginx" -V > "$d.V.log" 2>&1 \
       && grep -q -- "--add-dynamic-module=$mod" "$d.V.log"; then
        pass "dynamic: nginx -V shows --add-dynamic-module=$mod"
    else
        fail "dynamic: nginx -V does not show --add-dynamic-module" "$d.V.log"
    fi
    run_nginx dynamic "$d/objs/nginx" "$tmp/dynamic-prefix" "$so"
fi

# --------------------------------------------------------------- missing

# Where the compiler finds a header / a link library on this system.
header_path() {
    echo "#include <$1>" | ${CC:-cc} -M -x c - 2>/dev/null | awk -v h="/$1" '
        { for (i = 1; i <= NF; i++)
              if (substr($i, length($i) - length(h) + 1) == h) { print $i; exit } }'
}
if [ "$(id -u)" = 0 ]; then
    unshare_cmd=(unshare -m)
else
    unshare_cmd=(unshare -r -m)
fi
mkdir -p "$tmp/empty"
neg_dir="$tmp/missing"
neg_n=0

# missing WHAT PATH FEATURE PACKAGE [configure args...]
# Hide PATH (a file or directory) in a private mount namespace, run
# configure --add-dynamic-module there, expect the module's probe for
# FEATURE to fail and the error to name PACKAGE.
missing() {
    local what=$1 path=$2 feature=$3 pkg=$4 log t0
    shift 4
    neg_n=$((neg_n + 1))
    log="$tmp/missing-$neg_n.log"
    if [ -z "$path" ] || [ ! -e "$path" ]; then
        fail "missing $what: cannot locate it on this system to hide it"
        return
    fi
    rm -rf "$neg_dir/objs" "$neg_dir/Makefile"
    t0=$(now)
    # shellcheck disable=SC2016 # expanded by the inner sh
    run_in "$tmp" timeout "$T_CONFIGURE" "${unshare_cmd[@]}" -- sh -c '
        path=$1 empty=$2 dir=$3; shift 3
        if [ -d "$path" ]; then
            mount --bind "$empty" "$path" || exit 97
            [ -z "$(ls -A "$path")" ] || exit 98
        else
            mount --bind /dev/null "$path" || exit 97
            [ ! -s "$path" ] || exit 98
        fi
        cd "$dir" && exec "$@"
    ' sh "$path" "$tmp/empty" "$neg_dir" $configure "$@" > "$log" 2>&1
    local rc=$?
    if [ -e "$path" ] && { [ -d "$path" ] || [ -s "$path" ]; }; then
        :   # still visible outside the namespace, as it must be
    else
        fail "missing $what: $path looks hidden OUTSIDE the namespace!"
    fi
    case $rc in
    97|98)
        fail "missing $what: could not hide $path (${unshare_cmd[*]}: needs root or user namespaces)" "$log"
        return ;;
    0)
        {   grep "checking for $feature" "$log"
            sed -n "/^checking for $feature/,/^-----/p" \
                "$neg_dir/objs/autoconf.err" 2>/dev/null
        } > "$log.probe"
        fail "missing $what: configure succeeded with $path hidden" "$log.probe"
        return ;;
    esac
    if grep -q "checking for $feature .*not found" "$log" \
       && grep -q 'error: the order_edit module requires' "$log" \
       && grep -q "apt-get install $pkg" "$log"; then
        pass "missing $what: $(grep -m1 'error: the order_edit' "$log" | sed 's/^[^:]*: //') / $(grep -m1 'apt-get install' "$log" | sed 's/^On Debian\/Ubuntu: //') ($(since "$t0"))"
    else
        [ -f "$neg_dir/objs/autoconf.err" ] && tail -n 20 "$neg_dir/objs/autoconf.err" >> "$log"
        fail "missing $what: configure did not stop with the module's message naming $pkg (rc $rc)" "$log"
    fi
}

if copy_tree "$src" "$neg_dir"; then
    neg_args=(--prefix="$tmp/missing-prefix" --with-compat --with-threads)
    add=(--add-dynamic-module="$mod")

    jansson_h=$(header_path jansson.h)
    curl_h=$(header_path curl/curl.h)
    hmac_h=$(header_path openssl/hmac.h)

    missing "jansson headers" "$jansson_h" "jansson library" libjansson-dev \
        "${neg_args[@]}" --with-http_ssl_module "${add[@]}"
    missing "libcurl headers" "${curl_h%/curl.h}" "libcurl library" \
        libcurl4-openssl-dev "${neg_args[@]}" --with-http_ssl_module "${add[@]}"
    missing "openssl/hmac.h (with http_ssl)" "$hmac_h" "OpenSSL HMAC" \
        libssl-dev "${neg_args[@]}" --with-http_ssl_module "${add[@]}"
    missing "openssl/hmac.h (without http_ssl)" "$hmac_h" "OpenSSL HMAC" \
        libssl-dev "${neg_args[@]}" "${add[@]}"
    missing "OpenSSL headers (with http_ssl)" "${hmac_h%/hmac.h}" \
        "OpenSSL HMAC" libssl-dev \
        "${neg_args[@]}" --with-http_ssl_module "${add[@]}"
    missing "OpenSSL headers (without http_ssl)" "${hmac_h%/hmac.h}" \
        "OpenSSL HMAC" libssl-dev "${neg_args[@]}" "${add[@]}"
else
    fail "missing: copy nginx source tree"
fi

echo "$((checks - failures))/$checks checks passed"
[ "$failures" = 0 ]
