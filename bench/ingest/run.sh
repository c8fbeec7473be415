#!/usr/bin/env bash
# bench/ingest: webhook ingest throughput, module vs baseline vs njs.
#
# Measures, side by side in one run and interleaved in rounds, nginx with
# ONE worker answering a signed ~16 KB Shopify orders/updated webhook
# (unique X-Shopify-Webhook-Id per request) in three configurations:
#
#   module    order_edit_webhook: HMAC verify + rate limit + dedup + enqueue
#   baseline  echo module: read the body, answer 200 (the floor: nginx only)
#   njs       js_content: read the body, HMAC-SHA256 in JavaScript, 200/401
#
# Every run gets a fresh nginx, a sanity request that must answer 200, a
# warm-up, then the measured wrk run.  The module is measured twice in
# its run: first cold (a fresh zone, every webhook on never-written
# pages: what these VMs make expensive), then in the steady state (the
# zone filled until it refuses and drained by lease + ack, so every page
# has been written before, as in a queue that a dispatcher drains).
# perf profiles every measured run ("where the time goes").  With
# --workers 1,2 everything but njs runs with 1 and with 2 workers.  See
# bench/README.md for the method.
#
# Usage: bench/ingest/run.sh [options]      (or: make bench-ingest)
#   --rounds N        rounds, each runs every config once   (ROUNDS, 3)
#   --duration S      measured seconds per run              (DURATION, 5)
#   --warmup S        warm-up seconds per run               (WARMUP, 1)
#   --connections N   wrk connections                       (CONNECTIONS, 32)
#   --configs LIST    e.g. baseline,njs                     (CONFIGS, all 3)
#   --workers LIST    nginx worker counts, e.g. 1,2         (WORKERS, 1)
#   --no-perf         no perf profiles                      (PERF_PROFILE=0)
#   --zone SIZE       order_edit_zone size, or auto         (ZONE, auto)
#   --size BYTES      payload size                          (SIZE, 16384)
#   --module PATH     the module .so   (MODULE_SO, build/ngx_http_order_edit_module.so)
#   --no-pin          do not pin wrk and nginx to separate CPUs (PIN=0)
#   --quick           1 round, 3 s, 1 s warm-up (a smoke test, not a result)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}
MODULE_SO=${MODULE_SO:-$top/build/ngx_http_order_edit_module.so}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
CONFIGS=${CONFIGS:-module,baseline,njs}
ZONE=${ZONE:-auto}
SIZE=${SIZE:-16384}
PIN=${PIN:-1}
WORKERS=${WORKERS:-1}
PERF_PROFILE=${PERF_PROFILE:-1}
RESULTS=${RESULTS:-$top/bench/results}

SHOP=bench.myshopify.com
TOPIC=orders/updated
SECRET=bench-shared-secret-0123456789abcdef

die() { echo "bench-ingest: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --rounds)      ROUNDS=$2; shift 2 ;;
        --duration)    DURATION=$2; shift 2 ;;
        --warmup)      WARMUP=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --configs)     CONFIGS=$2; shift 2 ;;
        --workers)     WORKERS=$2; shift 2 ;;
        --no-perf)     PERF_PROFILE=0; shift ;;
        --zone)        ZONE=$2; shift 2 ;;
        --size)        SIZE=$2; shift 2 ;;
        --module)      MODULE_SO=$2; shift 2 ;;
        --no-pin)      PIN=0; shift ;;
        --quick)       ROUNDS=1; DURATION=3; WARMUP=1; shift ;;
        -h|--help)     sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
                       exit 0 ;;
        *)             die "unknown option $1 (try --help)" ;;
    esac
done

read -r -a configs <<< "${CONFIGS//,/ }"
for c in "${configs[@]}"; do
    case $c in module|baseline|njs) ;; *) die "unknown config '$c'" ;; esac
done
read -r -a workers_list <<< "${WORKERS//,/ }"
for w in "${workers_list[@]}"; do
    [[ $w =~ ^[1-9][0-9]*$ ]] || die "bad worker count '$w'"
done

command -v wrk > /dev/null || die "wrk not found (apt-get install wrk)"
[ -x "$NGINX_BIN" ] || die "nginx not found at $NGINX_BIN"
want() { [[ " ${configs[*]} " == *" $1 "* ]]; }
if want module; then
    [ -f "$MODULE_SO" ] || die "module not built: $MODULE_SO (run make)"
    MODULE_SO=$(cd "$(dirname "$MODULE_SO")" && pwd)/$(basename "$MODULE_SO")
fi
if want baseline; then
    [ -f "$NGX_MODULES/ngx_http_echo_module.so" ] ||
        die "echo module missing (apt-get install libnginx-mod-http-echo)"
fi
if want njs; then
    [ -f "$NGX_MODULES/ngx_http_js_module.so" ] ||
        die "njs module missing (apt-get install libnginx-mod-http-js)"
fi

# Two CPUs or more: wrk on the first, nginx's one worker on the others.
# With as many workers as CPUs or more, nginx is not pinned (on a 2-CPU
# machine its second worker shares CPU 0 with wrk; the summary says so).
ncpu=$(nproc)
if [ "$PIN" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset > /dev/null; then
    pin_wrk=(taskset -c 0)
    pin_ngx1=(taskset -c 1-$(( ncpu - 1 )))
else
    pin_wrk=()
    pin_ngx1=()
fi
pin_ngx=("${pin_ngx1[@]}")
set_pin() {             # set_pin WORKERS: nginx's pinning for that many
    if [ ${#pin_ngx1[@]} -gt 0 ] && [ "$1" -lt "$ncpu" ]; then
        pin_ngx=("${pin_ngx1[@]}")
    else
        pin_ngx=()
    fi
}

# perf, once: profiles go into the output, or a line says why not.
perf_why="profiles off (--no-perf)"
if [ "$PERF_PROFILE" = 1 ]; then
    perf_why=$(python3 "$top/bench/perf_profile.py" check 2>&1) || true
    [ "$perf_why" = ok ] && perf_why=""
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ingest.XXXXXX")
running=""          # prefix of the nginx currently up, for the trap

stop_nginx() {
    local prefix=$1 pid i
    [ -f "$prefix/logs/nginx.pid" ] || return 0
    pid=$(cat "$prefix/logs/nginx.pid" 2> /dev/null) || return 0
    kill -QUIT "$pid" 2> /dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
        kill -TERM "$pid" 2> /dev/null || true
        sleep 0.5
        kill -KILL "$pid" 2> /dev/null || true
    fi
    rm -f "$prefix/logs/nginx.pid"
}

cleanup() {
    local rc=$?
    [ -n "$running" ] && stop_nginx "$running"
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "bench-ingest: work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/webhooks/shopify"

# The payload and its one signature.
payload=$work/order.json
python3 "$here/gen_payload.py" --size "$SIZE" --out "$payload"
body_bytes=$(stat -c %s "$payload")
hmac=$("$top/tools/shopify-webhook" sign "$payload" --secret "$SECRET")

# What one HMAC-SHA256 over the body costs on nginx's CPU (OpenSSL, as the
# module uses): the floor under the module's per-request time.
hmac_us=$("${pin_ngx[@]}" python3 - "$payload" << 'EOF'
import hashlib, hmac, sys, time
body = open(sys.argv[1], "rb").read()
best = None
for _ in range(5):
    t = time.perf_counter()
    for _ in range(1000):
        hmac.new(b"bench-secret", body, hashlib.sha256).digest()
    dt = (time.perf_counter() - t) / 1000 * 1e6
    best = dt if best is None else min(best, dt)
print("%.2f" % best)
EOF
)

# And one copy of the body into memory written before but no longer in
# the CPU's caches (the queue's copy in the steady state: a drained zone
# of gigabytes), with Python's overhead for a slice assignment.
copy_us=$("${pin_ngx[@]}" python3 - "$payload" << 'EOF'
import sys, time
body = open(sys.argv[1], "rb").read()
slots = 4096                            # ~69 MB: more than the caches hold
buf = bytearray(len(body) * slots)
view = memoryview(buf)
n = len(body)
for i in range(slots):                  # written once, as a drained zone
    view[i * n:(i + 1) * n] = body
best = None
for _ in range(5):
    t = time.perf_counter()
    for k in range(10000):
        i = k & (slots - 1)
        view[i * n:(i + 1) * n] = body
    dt = (time.perf_counter() - t) / 10000 * 1e6
    best = dt if best is None else min(best, dt)
print("%.2f" % best)
EOF
)

# ---------------------------------------------------------------- configs

# write_conf CONFIG ZONE_SIZE [WORKERS]: a complete nginx.conf in its own
# prefix.
write_conf() {
    local cfg=$1 zone=$2 nworkers=${3:-1} prefix=$work/$1
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    : > "$prefix/logs/error.log"        # each run starts with an empty log
    {
        cat << EOF
# bench/ingest: configuration "$cfg" (generated by bench/ingest/run.sh)
daemon on;
master_process on;
worker_processes $nworkers;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log warn;
EOF
        case $cfg in
            module)   echo "load_module $MODULE_SO;" ;;
            baseline) echo "load_module $NGX_MODULES/ngx_http_echo_module.so;" ;;
            njs)      echo "load_module $NGX_MODULES/ngx_http_js_module.so;" ;;
        esac
        cat << EOF

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type application/json;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path       $prefix/tmp/proxy;
    fastcgi_temp_path     $prefix/tmp/fastcgi;
    uwsgi_temp_path       $prefix/tmp/uwsgi;
    scgi_temp_path        $prefix/tmp/scgi;

    # Identical for all three: the body stays in memory (njs needs that),
    # connections are kept alive for the whole run.
    client_body_buffer_size 64k;
    client_max_body_size    1m;
    keepalive_requests      1000000;
    keepalive_timeout       60s;

EOF
        case $cfg in
            module) cat << EOF
    order_edit_zone bench:$zone;

    # The limiter runs on every request but never rejects at this rate.
    order_edit_store $SHOP {
        secret   "$SECRET";
        rate     1000000r/s burst=1000000;
        max_body 1m;
    }

    server {
        listen 127.0.0.1:$port;
        location = /webhooks/shopify  { order_edit_webhook bench; }
        location = /order-edit/status { order_edit_status  bench; }
        location = /q                 { order_edit_queue_debug bench; }
    }
EOF
            ;;
            baseline) cat << EOF
    server {
        listen 127.0.0.1:$port;
        location = /webhooks/shopify {
            echo_read_request_body;
            echo ok;
        }
    }
EOF
            ;;
            njs) cat << EOF
    js_import shopify from $here/shopify_hmac.js;

    map \$http_x_shopify_shop_domain \$shopify_secret {
        default    "";
        $SHOP "$SECRET";
    }

    server {
        listen 127.0.0.1:$port;
        location = /webhooks/shopify {
            js_content shopify.verify;
        }
    }
EOF
            ;;
        esac
        echo "}"
    } > "$prefix/conf/nginx.conf"
}

start_nginx() {
    local cfg=$1 prefix=$work/$1 i
    "${pin_ngx[@]}" "$NGINX_BIN" -p "$prefix" -c "$prefix/conf/nginx.conf" \
        -e "$prefix/logs/error.log" ||
        { cat "$prefix/logs/error.log" >&2; die "nginx ($cfg) did not start"; }
    running=$prefix
    for i in $(seq 50); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            break
        fi
        sleep 0.1
    done
    [ "$i" -lt 50 ] || die "nginx ($cfg) is not listening on 127.0.0.1:$port"
    [ "$cfg" = module ] || return 0
    # each worker maps the whole zone when it starts (MADV_POPULATE_WRITE):
    # seconds for gigabytes, during which it answers nothing
    for i in $(seq 300); do
        curl -s -o /dev/null --max-time 1 \
             "http://127.0.0.1:$port/order-edit/status" && return 0
        sleep 0.5
    done
    die "nginx ($cfg) did not answer its status in 150 s"
}

# The same request wrk will send must answer 200, or the numbers mean
# nothing (wrong secret, wrong config, a 503 from the module...).
sanity() {
    local cfg=$1 out
    if ! out=$("$top/tools/shopify-webhook" "$payload" --url "$url" \
                   --secret "$SECRET" --shop "$SHOP" --topic "$TOPIC"); then
        echo "$out" >&2
        die "$cfg: a signed request did not answer 200; see $work/$cfg/logs"
    fi
}

# The worker must not have crashed, and the log must hold no alerts.
check_log() {
    local cfg=$1 log=$work/$1/logs/error.log
    if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$log" > /dev/null
    then
        echo "bench-ingest: $cfg: serious lines in error.log:" >&2
        grep -E '\[(alert|crit|emerg)\]|exited on signal' "$log" |
            head -5 >&2
        return 1
    fi
}

# nginx's worker pids, comma-separated.
worker_pids() {
    pgrep -P "$(cat "$work/$1/logs/nginx.pid")" | paste -sd, -
}

# Minor page faults of nginx's workers so far (field 10 of /proc/PID/stat)
# and their CPU time in clock ticks (utime + stime, fields 14 and 15).
worker_faults() {
    local p
    for p in ${1//,/ }; do cat "/proc/$p/stat"; done |
        awk '{ s += $10 } END { print s + 0 }'
}
worker_ticks() {
    local p
    for p in ${1//,/ }; do cat "/proc/$p/stat"; done |
        awk '{ s += $14 + $15 } END { print s + 0 }'
}

wrk_run() {             # wrk_run SECONDS NONCE -> wrk's output
    "${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency \
        -s "$here/post.lua" "$url" -- "$payload" "$hmac" "$SHOP" "$TOPIC" "$2"
}

status_json() {         # the module's status, one line of JSON
    python3 - "$port" << 'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/order-edit/status"
                                % sys.argv[1], timeout=5) as r:
        print(json.dumps(json.load(r), separators=(",", ":")))
except Exception as e:
    print(json.dumps({"_error": str(e)}))
EOF
}

# fill_zone: post until the module refuses (503: the zone is full), so
# that every page of the zone has been written once.  Sets $filled to how
# many webhooks it queued; not to be run in a subshell, as each of its
# runs takes the next $nonce (webhook ids never repeat within an nginx).
fill_zone() {
    local i out r total=0
    for i in $(seq 120); do
        nonce=$(( nonce + 1 ))
        out=$(wrk_run 2 "$nonce" | sed -n 's/^BENCH_RESULT //p')
        r=$(python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print(r["requests"], r["err_status"])' "$out")
        total=$(( total + ${r% *} - ${r#* } ))
        filled=$total
        if [ "${r#* }" -gt 0 ]; then
            return 0
        fi
    done
    echo "bench-ingest: the zone did not fill in 240 s" >&2
    return 1
}

# measure LABEL SECONDS NONCE PIDS: one measured wrk run, profiled; sets
# $result (wrk's JSON), $faults, $ticks and $perf_json.
measure() {
    local label=$1 secs=$2 n=$3 pids=$4 perf_pid="" data f0 t0 out
    data=$work/$label.perf.data
    perf_json=null
    if [ -z "$perf_why" ]; then
        "${pin_wrk[@]}" python3 "$top/bench/perf_profile.py" record \
            --pids "$pids" --seconds "$secs" --out "$data" 2> /dev/null &
        perf_pid=$!
    fi
    f0=$(worker_faults "$pids")
    t0=$(worker_ticks "$pids")
    out=$(wrk_run "$secs" "$n")
    faults=$(( $(worker_faults "$pids") - f0 ))
    ticks=$(( $(worker_ticks "$pids") - t0 ))
    result=$(sed -n 's/^BENCH_RESULT //p' <<< "$out")
    [ -n "$result" ] || { echo "$out" >&2; die "$label: no wrk result"; }
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        perf_json=$(python3 "$top/bench/perf_profile.py" report "$data" \
                        --top 15 --json "$data.json" > /dev/null 2>&1 &&
                    cat "$data.json") || perf_json=null
        # kept for perf report -g (callers) in the next step
        mv -f "$data" "$RESULTS/ingest-$stamp.$label.r$round.perf.data"
        rm -f "$data.json"
    fi
}

# --------------------------------------------------------------- zone size

# The zone must hold everything one measured stretch accepts (warm-up and
# run: ~17 KB x req/s x seconds, gigabytes at tens of thousands of req/s),
# since nothing drains the queue while it is measured (a draining client
# would take the worker's CPU from the run it measures).  "auto" measures
# the module's accept rate in a 1 s calibration run on a fresh zone (the
# cold rate, counting only 200s) and sizes the zone for warm-up + run at
# 1.6 times that rate (the steady state may be faster), with 10% to spare,
# times 1.5 for 2 workers or more (2 CPUs shared with wrk do not give
# twice); capped at half the free memory (shared memory
# is backed by RAM as it is touched, and freed when nginx stops).  If the
# cap bites, the runs are shortened to fit.  A steady run that still
# fills the zone shows queue_full and is not a valid measurement.
item=$(( ((body_bytes + 1023) / 4096 + 1) * 4096 + 512 ))
# the zone for w workers, in tenths of the one-worker zone
wscale() { [ "$1" -gt 1 ] && echo $(( $1 * 15 / 2 )) || echo 10; }
max_w=10
for w in "${workers_list[@]}"; do
    [ "$(wscale "$w")" -gt "$max_w" ] && max_w=$(wscale "$w")
done
zone_for() { echo "$ZONE"; }
if want module && [ "$ZONE" = auto ]; then
    set_pin 1
    write_conf module 2048m     # nginx sizes take k and m, not g
    start_nginx module
    sanity module
    cal=$(wrk_run 1 1 | sed -n 's/^BENCH_RESULT //p')
    stop_nginx "$work/module"; running=""
    cal_rps=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(int((r["requests"] - r["err_status"]) / (r["duration_us"] / 1e6)))' "$cal")
    # MB a second at the steady rate, for one worker
    per_s=$(( cal_rps * 16 / 10 * 11 / 10 * item / 1048576 + 1 ))
    avail_mb=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
    cap_mb=$(( avail_mb / 2 ))
    zone_mb=$(( per_s * (DURATION + WARMUP + 1) ))
    [ $zone_mb -lt 256 ] && zone_mb=256
    if [ $(( zone_mb * max_w / 10 )) -gt $cap_mb ]; then
        fit=$(( cap_mb * 10 / (per_s * max_w) - WARMUP - 1 ))
        [ $fit -ge 1 ] || die "not enough memory for the module's queue" \
                              "(${cap_mb}m usable, ${per_s}m/s needed)"
        echo "bench-ingest: note: ${DURATION}s runs would need" \
             "$(( zone_mb * max_w / 10 ))m of zone; runs shortened to" \
             "${fit}s" >&2
        DURATION=$fit
        zone_mb=$(( cap_mb * 10 / max_w ))
    fi
    zone_for() { echo "$(( zone_mb * $(wscale "$1") / 10 ))m"; }
    echo "zone: ${zone_mb}m per worker (module accepted ~$cal_rps req/s" \
         "cold in calibration)"
fi

# ------------------------------------------------------------------- runs

mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
raw=$RESULTS/ingest-$stamp.jsonl
jstr() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
printf '{"meta":{"body_bytes":%d,"hmac_us":%s,"copy_us":%s,"connections":%d,'\
'"duration":%d,"warmup":%d,"cpus":%d,"pinned":%s,"workers":[%s],'\
'"perf":%s,"clk_tck":%d,"machine":%s}}\n' \
    "$body_bytes" "$hmac_us" "$copy_us" "$CONNECTIONS" "$DURATION" \
    "$WARMUP" "$ncpu" \
    "$([ ${#pin_wrk[@]} -gt 0 ] && echo true || echo false)" \
    "$WORKERS" "$(jstr "${perf_why:-ok}")" "$(getconf CLK_TCK)" \
    "$(jstr "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)")" \
    > "$raw"

cat << EOF
bench-ingest: $ncpu CPUs, $(uname -r), $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')
  payload     $body_bytes bytes orders/updated, unique webhook id per request
  hmac        ${hmac_us} us for one HMAC-SHA256 of the body (OpenSSL, nginx's CPU)
  copy        ${copy_us} us for one copy of the body into memory written before (69 MB)
  wrk         1 thread, $CONNECTIONS connections, ${WARMUP}s warm-up + ${DURATION}s per run
  rounds      $ROUNDS x {${configs[*]}} (order rotates each round), workers ${workers_list[*]}
  module      cold (fresh zone), then steady (zone filled until full and drained)
  pinning     $([ ${#pin_wrk[@]} -gt 0 ] && echo "wrk cpu0, nginx cpu1 (with 1 worker; unpinned with more)" || echo off)
  perf        ${perf_why:-cpu-clock profile of the workers during every measured run}
  results     $raw
EOF

# record LINE...: the run's JSON lines, written once the log is checked
lines=()
print_run() {           # print_run LABEL ROUND
    python3 - "$result" "$1" "$2" << 'EOF'
import json, sys
r = json.loads(sys.argv[1])
bad = r["err_status"] + r["err_connect"] + r["err_read"] + r["err_write"] \
    + r["err_timeout"]
print("  round %s  %-16s %9.0f req/s  p99 %7.2f ms%s"
      % (sys.argv[3], sys.argv[2], r["rps"], r["lat_p99_us"] / 1000.0,
         "  (%d errors/non-2xx)" % bad if bad else ""))
EOF
}
run_line() {            # run_line LABEL CONFIG STATE [STATUS0 STATUS1 EXTRA]
    lines+=("$(printf '{"round":%d,"config":"%s","base":"%s",'\
'"workers":%d,"state":"%s","body_bytes":%d,"zone":"%s",'\
'"worker_minor_faults":%d,"worker_cpu_ticks":%d,"wrk":%s,'\
'"status_before":%s,"status":%s,"perf":%s%s}' \
        "$round" "$1" "$2" "$w" "$3" "$body_bytes" "$zone" "$faults" \
        "$ticks" "$result" "${4:-null}" "${5:-null}" "$perf_json" "${6:-}")")
    print_run "$1" "$round"
}

nonce=0
for w in "${workers_list[@]}"; do
    set_pin "$w"
    zone=$(zone_for "$w")
    sfx=""
    [ "$w" -gt 1 ] && sfx="@${w}w"
    cfgs=()
    for c in "${configs[@]}"; do
        # njs is the reference for one worker only
        [ "$w" -gt 1 ] && [ "$c" = njs ] && continue
        cfgs+=("$c")
    done
    n=${#cfgs[@]}
    [ "$n" -gt 0 ] || continue
    for round in $(seq "$ROUNDS"); do
        for k in $(seq 0 $(( n - 1 ))); do
            cfg=${cfgs[$(( (k + round - 1) % n ))]}
            write_conf "$cfg" "$zone" "$w"
            start_nginx "$cfg"
            sanity "$cfg"
            pids=$(worker_pids "$cfg")
            lines=()
            nonce=$(( nonce + 1 ))
            wrk_run "$WARMUP" "$nonce" > /dev/null
            if [ "$cfg" = module ]; then
                # cold: the zone is fresh, every webhook on new pages
                st0=$(status_json)
                nonce=$(( nonce + 1 ))
                measure "module-cold$sfx" "$DURATION" "$nonce" "$pids"
                run_line "module-cold$sfx" module cold "$st0" "$(status_json)"
                # fill the zone until it refuses, drain it: every page
                # has now been written once
                fill_zone ||
                    die "module: the zone did not fill; see $work/module/logs"
                drain=$(python3 "$top/bench/queue_drain.py" --port "$port" \
                            ${pin_wrk:+--pin-cpu 0}) ||
                    die "module: the queue did not drain: $drain"
                echo "  round $round  module$sfx: zone filled with" \
                     "$filled webhooks and drained" \
                     "($(sed 's/.*"seconds":\([0-9.]*\).*/\1/' <<< "$drain") s)"
                nonce=$(( nonce + 1 ))
                wrk_run "$WARMUP" "$nonce" > /dev/null
                st0=$(status_json)
                nonce=$(( nonce + 1 ))
                measure "module$sfx" "$DURATION" "$nonce" "$pids"
                run_line "module$sfx" module steady "$st0" "$(status_json)" \
                    ",\"filled\":$filled,\"drain\":$drain"
            else
                nonce=$(( nonce + 1 ))
                measure "$cfg$sfx" "$DURATION" "$nonce" "$pids"
                run_line "$cfg$sfx" "$cfg" n/a
            fi
            log_ok=true
            check_log "$cfg" || log_ok=false
            stop_nginx "$work/$cfg"; running=""
            for l in "${lines[@]}"; do
                echo "${l%\}},\"log_ok\":$log_ok}" >> "$raw"
            done
            { echo "=== round $round, $w worker(s)"
              cat "$work/$cfg/logs/error.log"; } \
                >> "$RESULTS/ingest-$stamp.$cfg.error.log"
        done
    done
done

python3 "$here/summarise.py" "$raw" | tee "${raw%.jsonl}.txt"
