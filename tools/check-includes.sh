#!/usr/bin/env bash
# tools/check-includes.sh: the module's include-order rule, checked.
#
#   tools/check-includes.sh [DIR]      (default: ngx_order_edit_module)
#
# nginx's rule: <ngx_config.h> and <ngx_core.h> come first in every file
# that uses nginx.  ngx_config.h defines _GNU_SOURCE and
# _FILE_OFFSET_BITS before the first system header is read; a system or
# library header (jansson, OpenSSL, curl, <sys/...>) read before it fixes
# the C library's feature set without them, and nginx's own headers then
# fail (struct in6_pktinfo in ngx_event_udp.h on current nginx) or, worse,
# see different struct layouts than the rest of nginx.
#
# Each .c and .h in DIR is expanded through the module's own headers
# ("..." includes, each followed once, in order, whatever #if they sit
# in) into the sequence of <...> headers it reads.  Then:
#
#   nginx file   reaches an <ngx_*.h> header: its first two <...> headers
#                must be <ngx_config.h> then <ngx_core.h>, included
#                directly or through the module's own first header.
#   pure file    reaches no nginx header.  These are the files also built
#                without nginx (the normaliser, the journal codec and the
#                TBA signer: the CLIs, the unit tests and the fuzzers).  As
#                translation units of their own they may include system
#                headers in any order.  Their headers are also read by
#                nginx files, after ngx_config.h, so the types they share
#                must not depend on feature macros: a pure .h may include
#                only <stddef.h>, <stdint.h>, <jansson.h> and other pure
#                headers.  A file named in PURE below must stay pure.
#
# Prints one line per violation and a summary; exit status 1 on any.

set -u

dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/ngx_order_edit_module}
[ -d "$dir" ] || { echo "no such directory: $dir" >&2; exit 2; }

# built without nginx as well: mk/normalise.mk, mk/journal.mk, mk/oauth.mk
PURE="money exactjson skumap bundle jbuild normalise nsbody nsparse jrec oauth"
PURE_H_ALLOWED="stddef.h stdint.h jansson.h"

declare -A seen

# expand FILE: prints "NAME FILE:LINE" for each <...> header reached,
# in the order the preprocessor reads them.
expand() {
    local f=$1 n line hdr
    [ -n "${seen[$f]:-}" ] && return
    seen[$f]=1
    while IFS= read -r line; do
        n=${line%%:*}
        line=${line#*:}
        if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]
        then
            echo "${BASH_REMATCH[1]} ${f##*/}:$n"
        elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]
        then
            hdr=${BASH_REMATCH[1]}
            if [ -f "${f%/*}/$hdr" ]; then
                expand "${f%/*}/$hdr"
            else
                echo "\"$hdr\" ${f##*/}:$n"
            fi
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f")
}

bad=0
nginx_files=0
pure_files=0

for f in "$dir"/*.c "$dir"/*.h; do
    [ -f "$f" ] || continue
    name=${f##*/}
    stem=${name#ngx_http_order_edit_}
    stem=${stem%.*}
    seen=()
    seq=$(expand "$f")

    is_pure=no
    case " $PURE " in *" $stem "*) is_pure=yes ;; esac

    if grep -q '^ngx_' <<< "$seq"; then
        nginx_files=$((nginx_files + 1))
        if [ $is_pure = yes ]; then
            first=$(grep -m1 '^ngx_' <<< "$seq")
            echo "$name: is built without nginx too, but reaches" \
                 "<${first%% *}> (${first#* })"
            bad=$((bad + 1))
            continue
        fi
        first=$(sed -n 1p <<< "$seq")
        second=$(sed -n 2p <<< "$seq")
        if [ "${first%% *}" != ngx_config.h ]; then
            echo "$name: <${first%% *}> (${first#* }) is read before" \
                 "<ngx_config.h>"
            bad=$((bad + 1))
        elif [ "${second%% *}" != ngx_core.h ]; then
            echo "$name: <${second%% *}> (${second#* }) is read between" \
                 "<ngx_config.h> and <ngx_core.h>"
            bad=$((bad + 1))
        fi
        continue
    fi

    pure_files=$((pure_files + 1))
    case $name in
    *.h)
        while read -r hdr where; do
            [ -n "$hdr" ] || continue
            case " $PURE_H_ALLOWED " in
            *" $hdr "*) ;;
            *)
                echo "$name: a header shared with nginx files includes" \
                     "<$hdr> ($where); allowed: $PURE_H_ALLOWED"
                bad=$((bad + 1))
                ;;
            esac
        done <<< "$seq"
        ;;
    esac
done

if [ $((nginx_files + pure_files)) = 0 ]; then
    echo "check-includes: no .c or .h files in $dir" >&2
    exit 2
fi
if [ $bad != 0 ]; then
    echo "check-includes: FAIL: $bad violation(s) in $dir" \
         "(ngx_config.h and ngx_core.h come first; see $0)"
    exit 1
fi
echo "check-includes: ok: $nginx_files files start with ngx_config.h," \
     "ngx_core.h; $pure_files pure C files reach no nginx header"
