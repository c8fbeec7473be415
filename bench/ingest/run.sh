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
# Every run gets a fresh nginx (so the module's queue starts empty), a
# sanity request that must answer 200, a warm-up, then the measured wrk
# run.  See bench/README.md for the method.
#
# Usage: bench/ingest/run.sh [options]      (or: make bench-ingest)
#   --rounds N        rounds, each runs every config once   (ROUNDS, 3)
#   --duration S      measured seconds per run              (DURATION, 5)
#   --warmup S        warm-up seconds per run               (WARMUP, 1)
#   --connections N   wrk connections                       (CONNECTIONS, 32)
#   --configs LIST    e.g. baseline,njs                     (CONFIGS, all 3)
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

# Two CPUs or more: wrk on the first, nginx's worker on the second.
ncpu=$(nproc)
if [ "$PIN" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset > /dev/null; then
    pin_wrk=(taskset -c 0)
    pin_ngx=(taskset -c 1)
else
    pin_wrk=()
    pin_ngx=()
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

# ---------------------------------------------------------------- configs

# write_conf CONFIG ZONE_SIZE: a complete nginx.conf in its own prefix.
write_conf() {
    local cfg=$1 zone=$2 prefix=$work/$1
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    : > "$prefix/logs/error.log"        # each run starts with an empty log
    {
        cat << EOF
# bench/ingest: configuration "$cfg" (generated by bench/ingest/run.sh)
daemon on;
master_process on;
worker_processes 1;
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
            return 0
        fi
        sleep 0.1
    done
    die "nginx ($cfg) is not listening on 127.0.0.1:$port"
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

# Minor page faults of nginx's worker so far (field 10 of /proc/PID/stat).
worker_faults() {
    local master worker
    master=$(cat "$work/$1/logs/nginx.pid")
    worker=$(pgrep -P "$master" | head -n 1)
    awk '{ print $10 }' "/proc/$worker/stat"
}

wrk_run() {             # wrk_run SECONDS NONCE -> wrk's output
    "${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency \
        -s "$here/post.lua" "$url" -- "$payload" "$hmac" "$SHOP" "$TOPIC" "$2"
}

# --------------------------------------------------------------- zone size

# The module queues every request it accepts and nothing drains the queue
# yet (no dispatcher in a bench), so the zone must hold everything a run
# accepts: ~17 KB x req/s x seconds, gigabytes at tens of thousands of
# req/s.  "auto" measures the module's accept rate in a 1 s calibration
# run (counting only 200s), then sizes the zone for warm-up + run with 30%
# to spare, capped at half the free memory (shared memory is only backed
# by RAM as it is touched, and freed when nginx stops).  If the cap bites,
# the run is shortened to fit rather than measuring a full queue.
if want module && [ "$ZONE" = auto ]; then
    write_conf module 2048m     # nginx sizes take k and m, not g
    start_nginx module
    sanity module
    cal=$(wrk_run 1 1 | sed -n 's/^BENCH_RESULT //p')
    stop_nginx "$work/module"; running=""
    cal_rps=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(int((r["requests"] - r["err_status"]) / (r["duration_us"] / 1e6)))' "$cal")
    # a queued payload takes whole slab pages (16.8 KB -> 5 pages), plus
    # its dedup node and metadata
    item=$(( ((body_bytes + 1023) / 4096 + 1) * 4096 + 512 ))
    per_s=$(( cal_rps * 13 / 10 * item / 1048576 + 1 ))     # MB a second
    avail_mb=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
    cap_mb=$(( avail_mb / 2 ))
    zone_mb=$(( per_s * (DURATION + WARMUP + 2) ))
    [ $zone_mb -lt 256 ] && zone_mb=256
    if [ $zone_mb -gt $cap_mb ]; then
        fit=$(( cap_mb / per_s - WARMUP - 2 ))
        [ $fit -ge 1 ] || die "not enough memory for the module's queue" \
                              "(${cap_mb}m usable, ${per_s}m/s needed)"
        echo "bench-ingest: note: ${DURATION}s runs would need" \
             "${zone_mb}m of zone; runs shortened to ${fit}s" >&2
        DURATION=$fit
        zone_mb=$cap_mb
    fi
    ZONE=${zone_mb}m
    echo "zone: $ZONE (module accepted ~$cal_rps req/s in calibration)"
fi

# ------------------------------------------------------------------- runs

mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
raw=$RESULTS/ingest-$stamp.jsonl
printf '{"meta":{"body_bytes":%d,"hmac_us":%s,"connections":%d,"duration":%d,"warmup":%d,"cpus":%d,"pinned":%s}}\n' \
    "$body_bytes" "$hmac_us" "$CONNECTIONS" "$DURATION" "$WARMUP" \
    "$(nproc)" "$([ ${#pin_wrk[@]} -gt 0 ] && echo true || echo false)" > "$raw"

cat << EOF
bench-ingest: $(nproc) CPUs, $(uname -r), $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')
  payload     $body_bytes bytes orders/updated, unique webhook id per request
  hmac        ${hmac_us} us for one HMAC-SHA256 of the body (OpenSSL, nginx's CPU)
  wrk         1 thread, $CONNECTIONS connections, ${WARMUP}s warm-up + ${DURATION}s per run
  rounds      $ROUNDS x {${configs[*]}} (order rotates each round)
  pinning     $([ ${#pin_wrk[@]} -gt 0 ] && echo "wrk cpu0, nginx cpu1" || echo off)
  results     $raw
EOF

nonce=0
n=${#configs[@]}
for round in $(seq "$ROUNDS"); do
    for k in $(seq 0 $(( n - 1 ))); do
        cfg=${configs[$(( (k + round - 1) % n ))]}
        nonce=$(( nonce + 1 ))
        write_conf "$cfg" "$ZONE"
        start_nginx "$cfg"
        sanity "$cfg"
        wrk_run "$WARMUP" $(( nonce * 2 )) > /dev/null
        faults0=$(worker_faults "$cfg")
        out=$(wrk_run "$DURATION" $(( nonce * 2 + 1 )))
        faults=$(( $(worker_faults "$cfg") - faults0 ))
        result=$(sed -n 's/^BENCH_RESULT //p' <<< "$out")
        [ -n "$result" ] || { echo "$out" >&2; die "$cfg: no wrk result"; }
        status='null'
        if [ "$cfg" = module ]; then
            status=$(python3 - "$port" << 'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/order-edit/status"
                                % sys.argv[1], timeout=5) as r:
        print(json.dumps(json.load(r), separators=(",", ":")))
except Exception as e:
    print(json.dumps({"_error": str(e)}))
EOF
            )
        fi
        log_ok=true
        check_log "$cfg" || log_ok=false
        stop_nginx "$work/$cfg"; running=""
        printf '{"round":%d,"config":"%s","body_bytes":%d,"zone":"%s","log_ok":%s,"worker_minor_faults":%d,"wrk":%s,"status":%s}\n' \
            "$round" "$cfg" "$body_bytes" "$ZONE" "$log_ok" "$faults" \
            "$result" "$status" >> "$raw"
        python3 - "$result" "$cfg" "$round" << 'EOF'
import json, sys
r = json.loads(sys.argv[1])
bad = r["err_status"] + r["err_connect"] + r["err_read"] + r["err_write"] \
    + r["err_timeout"]
print("  round %s  %-8s %9.0f req/s  p99 %7.2f ms%s"
      % (sys.argv[3], sys.argv[2], r["rps"], r["lat_p99_us"] / 1000.0,
         "  (%d errors/non-2xx)" % bad if bad else ""))
EOF
        { echo "=== round $round"; cat "$work/$cfg/logs/error.log"; } \
            >> "$RESULTS/ingest-$stamp.$cfg.error.log"
    done
done

python3 "$here/summarise.py" "$raw" | tee "${raw%.jsonl}.txt"
