#!/usr/bin/env bash
# tools/test-deb.sh: install the package, use it, purge it, and check that
# the system is as it was (run by `make test-deb`, as root).
#
#   tools/test-deb.sh build/deb/libnginx-mod-http-order-edit_*.deb
#
#   1. refuses to run when the package is already installed: the test
#      purges it at the end, and must not remove an administrator's copy
#   2. records /etc/nginx, /usr/share/nginx/modules-available and
#      /usr/lib/nginx/modules (names, link targets, checksums) and whether
#      the system config passes nginx -t
#   3. dpkg -i; debian/tests/smoke (the system config still passes nginx
#      -t with the module enabled; a minimal config loads it, one signed
#      webhook answered 200 on a private port)
#   4. dpkg -r: the module is gone, its load file disabled, nginx -t
#      passes; then dpkg --purge: every file the package installed is gone, the
#      recorded trees are exactly as before, and nginx -t passes again
#
# The package is purged on every exit, failures and Ctrl-C included.

set -u

deb=${1:?usage: $0 PACKAGE.deb}
pkg=libnginx-mod-http-order-edit
here=$(cd "$(dirname "$0")/.." && pwd)

[ "$(id -u)" = 0 ] || { echo "test-deb: needs root" >&2; exit 2; }
[ -f "$deb" ] || { echo "test-deb: no $deb" >&2; exit 2; }

if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then
    echo "test-deb: FAIL: $pkg is already installed here; this test purges" \
         "it afterwards, so remove it first (dpkg --purge $pkg)"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-deb.XXXXXX") || exit 2
installed=no
failures=0

fail() { echo "FAIL $*"; failures=$((failures + 1)); }
pass() { echo "PASS $*"; }

purge() {
    if [ $installed = yes ]; then
        dpkg --purge "$pkg" > "$tmp/purge.log" 2>&1 \
            || { cat "$tmp/purge.log"; fail "dpkg --purge $pkg"; }
        installed=no
    fi
}
trap 'purge; rm -rf "$tmp"' EXIT
trap 'echo "FAIL interrupted"; exit 130' INT TERM

# what the package may touch, as a sorted listing
snapshot() {
    find /etc/nginx /usr/share/nginx/modules-available /usr/lib/nginx/modules \
        \( -type l -printf '%p -> %l\n' \) -o \
        \( -type f -printf '%p ' -exec md5sum {} + \) -o \
        \( -type d -printf '%p/\n' \) 2>/dev/null \
        | sed 's/  .*//' | sort
}

system_t() { nginx -t -q > "$1" 2>&1; echo $?; }

snapshot > "$tmp/before"
t_before=$(system_t "$tmp/t-before.log")

echo "== dpkg -i $(basename "$deb")"
dpkg-deb -I "$deb" | grep -E '^ (Package|Version|Depends):'
if ! dpkg -i "$deb" > "$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    installed=yes          # half-installed: purge it
    fail "dpkg -i"
    exit 1
fi
installed=yes
pass "dpkg -i $(basename "$deb")"
dpkg -L "$pkg" > "$tmp/files"

if [ "$(system_t "$tmp/t-installed.log")" = "$t_before" ]; then
    pass "system nginx -t with the module enabled: same result as before" \
         "(exit $t_before)"
else
    cat "$tmp/t-installed.log"
    fail "system nginx -t changed once the package was installed"
fi

if "$here/debian/tests/smoke" > "$tmp/smoke.log" 2>&1; then
    sed 's/^/    /' "$tmp/smoke.log"
    pass "debian/tests/smoke"
else
    sed 's/^/    /' "$tmp/smoke.log"
    fail "debian/tests/smoke"
fi

# remove first, as apt-get remove would: the load file is kept, disabled
enabled=/etc/nginx/modules-enabled/50-mod-http-order-edit.conf
if dpkg -r "$pkg" > "$tmp/remove.log" 2>&1 \
   && [ ! -e "$enabled" ] && [ -L "$enabled.removed" ] \
   && [ ! -e /usr/lib/nginx/modules/ngx_http_order_edit_module.so ] \
   && [ "$(system_t "$tmp/t-removed.log")" = "$t_before" ]; then
    pass "dpkg -r: module gone, $enabled disabled (.removed), system nginx -t as before"
else
    cat "$tmp/remove.log" "$tmp/t-removed.log" 2>/dev/null
    ls -l /etc/nginx/modules-enabled/
    fail "dpkg -r $pkg"
fi

purge
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'
then
    fail "$pkg still known to dpkg after --purge"
else
    pass "dpkg --purge $pkg"
fi

left=$(while read -r f; do
           [ -e "$f" ] || [ -L "$f" ] || continue
           [ -d "$f" ] && ! [ -L "$f" ] && continue   # shared directories
           echo "$f"
       done < "$tmp/files")
if [ -z "$left" ]; then
    pass "none of the package's $(wc -l < "$tmp/files") paths left behind"
else
    fail "left behind after purge:"; echo "$left" | sed 's/^/    /'
fi

snapshot > "$tmp/after"
if diff -u "$tmp/before" "$tmp/after" > "$tmp/diff"; then
    pass "/etc/nginx, modules-available, /usr/lib/nginx/modules as before"
else
    sed 's/^/    /' "$tmp/diff"
    fail "the system's nginx trees differ after purge"
fi

if [ "$(system_t "$tmp/t-after.log")" = "$t_before" ]; then
    pass "system nginx -t after purge: as before (exit $t_before)"
else
    cat "$tmp/t-after.log"
    fail "system nginx -t changed after purge"
fi

if [ $failures = 0 ]; then
    echo "test-deb: ok"
else
    echo "test-deb: $failures failure(s)"
    exit 1
fi
