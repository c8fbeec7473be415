#!/usr/bin/env bash
# tools/demo.sh: the story `make demo` tells.
#
# Starts nginx with the module on 127.0.0.1 (conf/demo.conf, in a temporary
# prefix), posts signed sample webhooks for two stores and shows every
# answer, then the status output in JSON and Prometheus form, and stops
# nginx, whatever happens.
#
#   tools/demo.sh            (or: make demo)
#
# Environment: MODULE_SO (default build/ngx_http_order_edit_module.so),
# NGINX_BIN (/usr/sbin/nginx), DEMO_PORT (8088 when free, else any free
# port), KEEP=1 keeps the temporary prefix (logs) afterwards,
# DEMO_AUTH=oauth2 (make demo DEMO_AUTH=oauth2) authenticates to NetSuite
# with OAuth 2.0 client credentials (a key pair made here, its
# certificate "uploaded" to the simulator) instead of TBA, DEMO_HOLD=1
# keeps nginx running at the end, for the operations console whose URL
# it prints, until Enter is pressed.
#
# Exit status 0 when every answer was the one the story expects.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
MODULE_SO=${MODULE_SO:-$top/build/ngx_http_order_edit_module.so}
webhook=$here/shopify-webhook
samples=$here/samples

die() { echo "demo: $*" >&2; exit 2; }

[ -x "$NGINX_BIN" ] || die "nginx not found at $NGINX_BIN"
[ -f "$MODULE_SO" ] || die "module not built: $MODULE_SO (run make)"
MODULE_SO=$(cd "$(dirname "$MODULE_SO")" && pwd)/$(basename "$MODULE_SO")

free_port() {
    python3 - "${DEMO_PORT:-}" << 'EOF'
import socket, sys
for port in ([int(sys.argv[1])] if sys.argv[1] else [8088, 0]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        if sys.argv[1]:
            sys.exit("port %s is busy" % sys.argv[1])
    finally:
        s.close()
EOF
}

prefix=$(mktemp -d "${TMPDIR:-/tmp}/order-edit-demo.XXXXXX")
port=$(free_port)
base=http://127.0.0.1:$port
export SHOPIFY_WEBHOOK_URL=$base/webhooks/shopify
unexpected=0
answers=0

# ------------------------------------------------------------ NetSuite
#
# The NetSuite simulator (tools/netsuite-sim) plays the account: it holds
# the Sales Orders another connector created, checks every OAuth
# signature, and shows afterwards what the dispatcher changed.  Globex's
# order 2041 has been fulfilled (status F) when its edit arrives: the edit
# must land in the exception queue, not in the order, while its refund
# still becomes a Credit Memo.

sim_pid=
DEMO_AUTH=${DEMO_AUTH:-tba}
case $DEMO_AUTH in tba|oauth2) ;; *) die "DEMO_AUTH is tba or oauth2";; esac

netsuite_setup() {
    local i keys=$prefix/ns
    mkdir -p "$keys"
    printf '%s\n' "demo-consumer-key-7d1c" > "$keys/consumer_key"
    printf '%s\n' "demo-consumer-secret-91fe" > "$keys/consumer_secret"
    printf '%s\n' "demo-token-id-33ab" > "$keys/token_id"
    printf '%s\n' "demo-token-secret-c0de" > "$keys/token_secret"
    chmod 600 "$keys"/*

    # OAuth 2.0: the integration record's client id, and a key pair whose
    # certificate is what one uploads to NetSuite (README)
    local m2m=()
    if [ "$DEMO_AUTH" = oauth2 ]; then
        printf '%s\n' "demo-client-id-5e7a0c" > "$keys/client_id"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$keys/m2m.key" 2> /dev/null
        openssl req -new -x509 -key "$keys/m2m.key" -days 30 \
            -subj "/CN=order-edit-demo" -out "$keys/m2m.crt" 2> /dev/null
        chmod 600 "$keys/m2m.key"
        m2m=(--m2m-client-id demo-client-id-5e7a0c
             --m2m-certificate "demo-cert-1=$keys/m2m.crt")
        # after token_secret_file (the TBA keys stay, unused: README)
        sed -i -e "/^ *token_secret_file /a\\
        auth                 oauth2;\\
        client_id_file       $keys/client_id;\\
        certificate_id       demo-cert-1;\\
        private_key_file     $keys/m2m.key;" "$prefix/conf/nginx.conf"
    fi

    python3 "$here/netsuite-sim" --account 1234567_SB1 "${m2m[@]}" \
        --consumer-key-file "$keys/consumer_key" \
        --consumer-secret-file "$keys/consumer_secret" \
        --token-id-file "$keys/token_id" \
        --token-secret-file "$keys/token_secret" \
        --concurrency 5 --latency-ms 20 --port 0 \
        --port-file "$keys/port" --log "$prefix/logs/netsuite.log" \
        > /dev/null 2>&1 &
    sim_pid=$!

    for i in $(seq 100); do
        [ -s "$keys/port" ] && break
        sleep 0.05
    done
    [ -s "$keys/port" ] || die "the NetSuite simulator did not start"

    sim=http://127.0.0.1:$(cat "$keys/port")
    sed -i "s|__NETSUITE__|$sim|g" "$prefix/conf/nginx.conf"

    # the orders as another connector created them: one line each
    python3 - "$sim" << 'PY'
import json, sys, urllib.request
sim = sys.argv[1]
def admin(path, body):
    req = urllib.request.Request(sim + "/_admin/" + path,
                                 json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=5).read()
orders = {"shopify-acme-5678901234567": "B", "shopify-acme-5678901234999": "B",
          "shopify-acme-5678901235555": "B", "shopify-globex-6123456789012": "F",
          "shopify-globex-6123456789555": "A"}
for eid, status in orders.items():
    admin("records/salesOrder", {
        "externalId": eid, "entity": {"id": "42"},
        "item": {"items": [{"item": {"id": "5501"}, "quantity": 1,
                            "rate": 10}]}})
    admin(f"records/salesOrder/eid:{eid}/status", {"orderStatus": status})
PY
}

netsuite_story() {
    heading "11. The dispatcher delivers to NetSuite (the simulator)"
    note "one worker leases the queue, reads each order's status (the"
    if [ "$DEMO_AUTH" = oauth2 ]; then
        note "fulfilment lock), and sends PATCH/PUT requests with an OAuth"
        note "2.0 Bearer token (one per account, fetched with an ES256 JWT);"
    else
        note "fulfilment lock), and sends OAuth-signed PATCH/PUT requests;"
    fi
    note "a burst of snapshots of one order becomes one write of the"
    note "newest (coalesced), and older ones are never sent (stale)"
    wait_drained

    python3 - "$sim" "$base" "$DEMO_AUTH" << 'PY' || unexpected=$(( unexpected + 1 ))
import json, sys, urllib.request
from decimal import Decimal
sim, base, auth = sys.argv[1], sys.argv[2], sys.argv[3]
def get(url):
    # money stays exact on the way to the screen too
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read(), parse_float=Decimal)
bad = 0
print("   Sales Orders in NetSuite:")
for so in get(sim + "/_admin/records/salesOrder"):
    lines = ", ".join(f"{l['item']['id']}x{l['quantity']}"
                      for l in so.get("item", {}).get("items", []))
    writes = so.get("_sim", {}).get("writes", "?")
    total = so.get("custbody_shopify_total", "")
    flag = " cancelled" if so.get("custbody_shopify_cancelled") else ""
    print(f"     {so['externalId']:32} status {so['orderStatus']['id']} "
          f"writes {writes}  lines {lines}  shopify total {total}{flag}")
print("   Credit Memos in NetSuite:")
cms = get(sim + "/_admin/records/creditMemo")
for cm in cms:
    print(f"     {cm['externalId']:40} customer {cm['entity']['id']} "
          f"shopify total {cm.get('custbody_shopify_total')}")
bad += len(cms) != 2
print("   The exception queue (GET /order-edit/exceptions):")
exc = get(base + "/order-edit/exceptions")["exceptions"]
for e in exc:
    print(f"     #{e['id']} {e['shop']} {e['topic']}: {e['reason']}: "
          f"{e['netsuite_error']}")
bad += not any(e["reason"] == "fulfilment_lock" for e in exc)
if auth == "oauth2":
    m2m = get(sim + "/_admin/oauth2")["counters"]
    st = get(base + "/order-edit/status")["netsuite"]["main"]["oauth2"]
    print(f"   OAuth 2.0: {m2m['tokens_issued']} token(s) issued, "
          f"{m2m['bearer_ok']} requests with a Bearer token, "
          f"{m2m['bearer_401']} refused; status: token {st['token']}, "
          f"expires in {st['expires_in']} s")
    bad += m2m["bearer_ok"] == 0 or m2m["bearer_401"] != 0
sys.exit(1 if bad else 0)
PY
}

# The crash: NetSuite is held (the simulator's gate), a refund and an
# edit are accepted, and nginx is killed with -9, master and workers.
# What was answered 200 is in the journal: the restart replays it and
# the dispatcher delivers it, once.
crash_story() {
    local acme=acme.myshopify.com pids i

    heading "12. A crash: kill -9 of nginx while NetSuite is held"
    admin_post faults '{"gate": true}'

    python3 - "$samples/$acme" "$prefix" << 'PY'
import json, sys
src, prefix = sys.argv[1], sys.argv[2]
r = json.load(open(src + "/refunds.create.1001.json"))
r["id"] = 918273640042            # a second refund of the same order
for l in r.get("refund_line_items", []):
    l["id"] = l["id"] + 1
json.dump(r, open(prefix + "/refund-2.json", "w"))
PY
    note "a second refund of acme's order 1001, accepted while NetSuite"
    note "is held: its 200 means it is on disk (the exception parked"
    note "above is replayed too, and parked again)"
    post 200:queued "$prefix/refund-2.json" --shop $acme \
        --secret "$(secret_of $acme)" --topic refunds/create

    pids="$(cat "$prefix/logs/nginx.pid") $(pgrep -P "$(cat "$prefix/logs/nginx.pid")" | tr '\n' ' ')"
    note "kill -9 $pids"
    kill -STOP $pids 2> /dev/null || true
    kill -KILL $pids 2> /dev/null || true
    for i in $(seq 50); do
        kill -0 $pids 2> /dev/null || break
        sleep 0.1
    done
    rm -f "$prefix/logs/nginx.pid"

    start_nginx
    python3 - "$base/order-edit/status" << 'PY' || unexpected=$((unexpected+1))
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    j = json.loads(r.read())["journal"]
print("   restarted; the journal replayed %d webhook(s), %d torn, %d corrupt"
      % (j["replayed"], j["torn"], j["corrupt"]))
sys.exit(0 if j["replayed"] >= 1 else 1)
PY

    admin_post faults '{"gate": false}'
    wait_drained

    python3 - "$sim" << 'PY' || unexpected=$((unexpected+1))
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1]
                            + "/_admin/records/creditMemo", timeout=5) as r:
    cms = json.loads(r.read())
mine = [c for c in cms if c["externalId"].endswith("-918273640042")]
first = [c for c in cms if c["externalId"].endswith("-918273645001")]
for c in mine:
    print("   %s: %d line(s), written %s time(s) (a repeat replaces)"
          % (c["externalId"], len(c["item"]["items"]),
             c.get("_sim", {}).get("writes")))
print("   %d Credit Memos in NetSuite now" % len(cms))
sys.exit(0 if len(mine) == 1 and len(first) == 1
         and len(mine[0]["item"]["items"]) == len(first[0]["item"]["items"])
         else 1)
PY
}

# wait_drained: until nothing is queued or in flight, 30 s at most
wait_drained() {
    local i depth
    for i in $(seq 150); do
        depth=$(curl -s "$base/order-edit/status" | python3 -c \
            'import json,sys; d=json.load(sys.stdin)
print(sum(s["queue_depth"] for s in d["stores"].values()))')
        [ "$depth" = 0 ] && return 0
        sleep 0.2
    done
    note "UNEXPECTED: the queue did not drain"
    unexpected=$((unexpected+1))
}

admin_post() {
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d "$2" "$sim/_admin/$1"
}

netsuite_teardown() {
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2> /dev/null || true
        wait "$sim_pid" 2> /dev/null || true
    fi
}

# ------------------------------------------------------------------ nginx

nginx_cmd() {
    "$NGINX_BIN" -p "$prefix" -c "$prefix/conf/nginx.conf" \
        -e "$prefix/logs/error.log" "$@"
}

stop_nginx() {
    local pid i
    [ -f "$prefix/logs/nginx.pid" ] || return 0
    pid=$(cat "$prefix/logs/nginx.pid" 2> /dev/null) || return 0
    kill -QUIT "$pid" 2> /dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid" 2> /dev/null || true
    fi
    rm -f "$prefix/logs/nginx.pid"
}

cleanup() {
    local rc=$?
    stop_nginx
    netsuite_teardown || true
    if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "demo: nginx prefix kept: $prefix" >&2
    else
        rm -rf "$prefix"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_prefix() {
    # Started as root, nginx's workers run as nobody: they must be able to
    # reach the temp paths (bodies over client_body_buffer_size spill there).
    chmod 755 "$prefix"
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp" "$prefix/secrets"
    # acme is rotating: new secret first, the previous one second.
    printf '%s\n%s\n' "acme-new-secret-2024-05" "acme-old-secret-2023-11" \
        > "$prefix/secrets/acme.myshopify.com.secret"
    printf '%s\n' "globex-secret-7f3a9c" \
        > "$prefix/secrets/globex.myshopify.com.secret"
    chmod 600 "$prefix"/secrets/*
    sed -e "s|__PREFIX__|$prefix|g" \
        -e "s|__MODULE__|$MODULE_SO|g" \
        -e "s|__LISTEN__|127.0.0.1:$port|g" \
        "$top/conf/demo.conf" > "$prefix/conf/nginx.conf"
    cp "$top/conf/demo-acme.skus.map" "$prefix/conf/"
}

start_nginx() {
    local i
    nginx_cmd -t -q || die "conf/demo.conf does not pass nginx -t"
    nginx_cmd || { tail -20 "$prefix/logs/error.log" >&2
                   die "nginx did not start"; }
    for i in $(seq 50); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nginx is not listening on 127.0.0.1:$port"
}

# --------------------------------------------------------------- helpers

heading() {
    if [ -t 1 ]; then
        printf '\n\033[1m== %s\033[0m\n' "$*"
    else
        printf '\n== %s\n' "$*"
    fi
}

# note TEXT: one line of narration.
note() { printf '   %s\n' "$*"; }

# post EXPECT [shopify-webhook args...]: send, print the answer, check it.
# EXPECT is a status, or "200:duplicate"-style status:body-word.
post() {
    local expect=$1 code word out rc=0
    shift
    code=${expect%%:*}
    word=${expect#*:}
    [ "$word" = "$expect" ] && word=""
    out=$("$webhook" "$@" --expect "$code" --width 110 2>&1) || rc=$?
    answers=$(( answers + 1 ))
    if [ $rc -eq 0 ] && { [ -z "$word" ] || grep -q "\"$word\"" <<< "$out"; }
    then
        printf '   %-5s ok  %s\n' "$code" "$out"
    else
        printf '   %-5s UNEXPECTED  %s\n' "$code" "$out"
        unexpected=$(( unexpected + 1 ))
    fi
}

secret_of() { head -n "${2:-1}" "$prefix/secrets/$1.secret" | tail -n 1; }

# -------------------------------------------------------------- the story

story() {
    local acme=acme.myshopify.com globex=globex.myshopify.com
    local order=$samples/$acme/orders.updated.1002.json
    local id out rc=0

    heading "1. Shopify delivers order webhooks for two stores"
    note "every sample under tools/samples, signed with its store's secret;"
    note "the module verifies, de-duplicates and queues each one (200 queued)"
    out=$("$webhook" replay "$samples" --secrets-dir "$prefix/secrets" \
              --expect 200 --width 80 2>&1) || rc=$?
    sed 's/^/   /' <<< "$out"
    answers=$(( answers + $(grep -c ' 200 ' <<< "$out" || true) ))
    if [ "$rc" -ne 0 ] || grep -q '"duplicate"\|"ignored"' <<< "$out"
    then
        note "UNEXPECTED: every sample should be queued"
        unexpected=$(( unexpected + 1 ))
    fi

    heading "2. Acme is rotating its secret: the previous one still passes"
    post 200:queued "$order" --shop $acme --secret "$(secret_of $acme 2)"

    heading "3. A body changed in transit (one byte flipped after signing)"
    post 401 "$order" --shop $acme --secret "$(secret_of $acme)" --tamper

    heading "4. Shopify retries a webhook it already delivered"
    id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    note "X-Shopify-Webhook-Id: $id, sent twice"
    post 200:queued "$order" --shop $acme --secret "$(secret_of $acme)" \
        --webhook-id "$id"
    post 200:duplicate "$order" --shop $acme --secret "$(secret_of $acme)" \
        --webhook-id "$id"

    heading "5. A shop this nginx does not know"
    note "same 401 as a bad signature: no hint which one was wrong"
    post 401 "$order" --shop initech.myshopify.com --secret "guessed-secret"

    heading "6. A topic the store does not handle"
    note "200 so that Shopify stops retrying, but nothing is queued"
    post 200:ignored --body '{"id":8000000000001,"title":"Anvil"}' \
        --shop $globex --topic products/update \
        --secret "$(secret_of $globex)"

    heading "7. Malformed requests"
    note "a GET, then a POST without X-Shopify-Topic"
    post 405 "$order" --shop $acme --secret "$(secret_of $acme)" -X GET
    post 400 "$order" --shop $acme --secret "$(secret_of $acme)" \
        --omit-header X-Shopify-Topic

    heading "8. A burst: 30 webhooks at once for acme (rate 5r/s burst=10)"
    note "the first answer of each kind, then the count"
    rc=0
    out=$("$webhook" "$order" --shop $acme --secret "$(secret_of $acme)" \
              --repeat 30 --summary --expect 200,429 --width 90 2>&1) || rc=$?
    sed 's/^/   /' <<< "$out"
    answers=$(( answers + 30 ))
    if [ "$rc" -ne 0 ] || ! grep -q '^429 .*Retry-After=' <<< "$out"
    then
        note "UNEXPECTED: some answers should be 429 with Retry-After"
        unexpected=$(( unexpected + 1 ))
    fi

    heading "9. Status (JSON): GET /order-edit/status"
    if out=$(python3 - "$base/order-edit/status" << 'EOF'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
EOF
    ); then
        python3 -m json.tool <<< "$out" | sed 's/^/   /' ||
            { note "UNEXPECTED: not JSON:"; sed 's/^/   /' <<< "$out"
              unexpected=$(( unexpected + 1 )); }
    else
        note "UNEXPECTED: the status location did not answer 200"
        unexpected=$(( unexpected + 1 ))
    fi

    heading "10. Status (Prometheus): GET /order-edit/status?format=prometheus"
    if out=$(python3 - "$base/order-edit/status?format=prometheus" << 'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
EOF
    ); then
        grep -v '^# HELP' <<< "$out" | sed 's/^/   /'
    else
        note "UNEXPECTED: the prometheus status did not answer 200"
        unexpected=$(( unexpected + 1 ))
    fi
}

# --------------------------------------------------------------------- run

setup_prefix
netsuite_setup
start_nginx
heading "nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///') + ngx_http_order_edit_module on $base"
note "conf: conf/demo.conf -> $prefix/conf/nginx.conf"
console_url=$base/order-edit/console/
if curl -s -o /dev/null -w '%{http_code}' "$console_url" | grep -qx 200; then
    note "operations console: $console_url"
    note "(open it while the demo runs; DEMO_HOLD=1 make demo keeps nginx"
    note " up at the end until you press Enter)"
else
    note "UNEXPECTED: the console did not answer 200 at $console_url"
    unexpected=$(( unexpected + 1 ))
fi

story
netsuite_story
crash_story

heading "error log: warnings and above, counted"
# "2024/.. [warn] 123#123: *4 order_edit: ..., client: ..." -> "[warn] order_edit: ..."
sed -n -E 's/^[0-9/]+ [0-9:]+ (\[(warn|error|crit|alert|emerg)\]) [0-9#]+: (\*[0-9]+ )?/\1 /p' \
    "$prefix/logs/error.log" | sed -E 's/, client: .*//' | sort | uniq -c |
    sort -rn | cut -c1-150 | sed 's/^/   /'
if grep -qE '\[(crit|alert|emerg)\]|exited on signal' "$prefix/logs/error.log"
then
    note "UNEXPECTED: serious lines in the error log"
    unexpected=$(( unexpected + 1 ))
fi

heading "done"
note "operations console: $console_url"
if [ "${DEMO_HOLD:-}" = 1 ] && [ -t 0 ]; then
    note "nginx keeps running for the console; press Enter to stop it"
    read -r _
fi
if [ $unexpected -eq 0 ]; then
    note "all $answers answers were the expected ones; stopping nginx"
else
    note "$unexpected unexpected result(s) in $answers answers; stopping nginx"
    exit 1
fi
