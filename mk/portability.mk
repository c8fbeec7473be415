# portability.mk: the module builds on every nginx a team runs (included
# by the top-level Makefile).
#
#   make check-includes   every nginx file of the module starts with
#                         ngx_config.h and ngx_core.h, the pure C files
#                         reach no nginx header (tools/check-includes.sh);
#                         then the check itself must fail on a copy of the
#                         sources broken each way it knows (part of
#                         `make test`)
#   make check-matrix NGINX_TREES="DIR..."
#                         tools/check-config.sh --matrix: static and
#                         dynamic, --with-compat or not, threads or not,
#                         http_ssl or not, on each nginx source tree given
#                         (default: Debian's /usr/share/nginx/src), a
#                         PASS/FAIL table.  Slow (about 20 minutes a
#                         tree on 2 cores): not part of `make test`.

NGINX_TREES  ?= $(NGINX_SRC)
INC_BROKEN   := $(BUILD)/check-includes

TEST_TARGETS += check-includes

.PHONY: check-includes check-matrix

# expect_fail NAME EDIT-COMMAND: the check must fail on the copy, naming
# the file it was given
check-includes:
	tools/check-includes.sh ngx_order_edit_module
	@set -e; m=ngx_order_edit_module; \
	expect_fail() { \
	    rm -rf $(INC_BROKEN); mkdir -p $(INC_BROKEN); \
	    cp $$m/*.c $$m/*.h $(INC_BROKEN)/; \
	    (cd $(INC_BROKEN) && eval "$$2"); \
	    if tools/check-includes.sh $(INC_BROKEN) > $(INC_BROKEN).log; then \
	        echo "check-includes: the check passed a broken copy: $$1"; \
	        exit 1; \
	    fi; \
	    grep -q "^$$3:" $(INC_BROKEN).log || { cat $(INC_BROKEN).log; \
	        echo "check-includes: $$1: $$3 not named"; exit 1; }; \
	    echo "check-includes: fails as it must: $$(grep "^$$3:" \
	        $(INC_BROKEN).log)"; \
	}; \
	expect_fail "jansson before ngx_config.h in a .c" \
	    "sed -i '0,/^#include </s//#include <jansson.h>\n&/' \
	        ngx_http_order_edit_status.c" ngx_http_order_edit_status.c; \
	expect_fail "a system header first in the module's own header" \
	    "sed -i '0,/^#include </s//#include <stdio.h>\n&/' \
	        ngx_http_order_edit_module.h" ngx_http_order_edit_shm.c; \
	expect_fail "something between ngx_config.h and ngx_core.h" \
	    "sed -i 's/^#include <ngx_config.h>/&\n#include <openssl\/evp.h>/' \
	        ngx_http_order_edit_curl.h" ngx_http_order_edit_curl.h; \
	expect_fail "an nginx header in a file built without nginx" \
	    "sed -i '0,/^#include </s//#include <ngx_core.h>\n&/' \
	        ngx_http_order_edit_money.c" ngx_http_order_edit_money.c; \
	expect_fail "a feature-dependent header shared with nginx files" \
	    "sed -i '0,/^#include </s//#include <sys\/types.h>\n&/' \
	        ngx_http_order_edit_jrec.h" ngx_http_order_edit_jrec.h; \
	rm -rf $(INC_BROKEN) $(INC_BROKEN).log

check-matrix:
	nice tools/check-config.sh --matrix $(NGINX_TREES)
