#!/bin/sh
# Turns the console's page, style and script into a C header, so that the
# module's .so serves them with no file of its own (the Debian package, a
# static build): embed.sh OUT.h CONSOLE_DIR
#
# Run by the addon's config script at configure time (every build path:
# make, the Debian package, an nginx source tree), and by mk/console.mk
# again whenever a file here changes. POSIX sh, od and sed only.

set -e

out=$1
dir=$2

{
    echo "/* made by console/embed.sh from $(basename "$dir")/: do not edit */"
    echo

    for f in index.html console.css console.js; do
        name=ngx_http_order_edit_console_$(echo "$f" | tr '.-' '__')
        echo "static const u_char  $name[] = {"
        od -An -v -tx1 "$dir/$f" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' \
                                       -e 's/^/    /'
        echo "};"
        echo
    done
} > "$out.tmp"

mv -f "$out.tmp" "$out"
