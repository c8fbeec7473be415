# ngx_order_edit_module: build, test, demo and bench entry points.
#
#   make            build build/ngx_http_order_edit_module.so (+ tools)
#   make test       install missing Debian packages, build, run every suite
#   make demo       nginx + module on 127.0.0.1 with signed sample webhooks
#
# Sub-systems add their own targets in mk/*.mk (included below) by
# appending to ALL_TARGETS, TEST_TARGETS and DEB_PACKAGES.

SHELL        := /bin/bash
NGINX_SRC    ?= /usr/share/nginx/src
NGINX_BIN    ?= /usr/sbin/nginx
BUILD        := build
NGX_BUILD    := $(BUILD)/nginx
MODULE_NAME  := ngx_http_order_edit_module
MODULE_SO    := $(BUILD)/$(MODULE_NAME).so
MODULE_SRCS  := $(wildcard ngx_order_edit_module/*.c ngx_order_edit_module/*.h)

# Warnings for the module's own objects; nginx adds -W -Wall -Werror itself.
MODULE_CC_OPT ?= -Wextra -Wno-unused-parameter -Werror -O2 -g
MODULE_LD_OPT ?=

CC           ?= cc
CFLAGS_TOOLS ?= -std=gnu11 -O2 -g -Wall -Wextra -Werror

DEB_PACKAGES := nginx nginx-dev libjansson-dev libcurl4-openssl-dev \
                libssl-dev libpcre2-dev libcmocka-dev libtest-base-perl \
                libwww-perl libtext-diff-perl liblist-moreutils-perl \
                python3 perl curl openssl
ALL_TARGETS  := $(MODULE_SO)
TEST_TARGETS :=

.PHONY: all deps test test-nginx test-integration demo clean
.DEFAULT_GOAL := all

-include mk/*.mk

all: $(ALL_TARGETS)

# Debian's nginx-dev ships a headers-only tree with nginx's own configure;
# configure a private copy with the exact flags the system nginx was built
# with, so the .so is binary compatible (--with-compat) with it.
$(NGX_BUILD)/objs/Makefile: config | $(BUILD)
	rm -rf $(NGX_BUILD)
	cp -r $(NGINX_SRC) $(NGX_BUILD)
	. $(NGINX_SRC)/conf_flags && cd $(NGX_BUILD) && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(MODULE_CC_OPT)" \
	        --with-ld-opt="$(MODULE_LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) > configure.log 2>&1 || \
	    { cat configure.log; tail -20 objs/autoconf.err; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	@# a new inode: an nginx running the old .so must not see it change
	cp $(NGX_BUILD)/objs/$(MODULE_NAME).so $@.tmp && mv -f $@.tmp $@

$(BUILD):
	mkdir -p $@

# Install what is missing when root; otherwise say exactly what to run.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	            apt-get install -y -qq --no-install-recommends $$missing; \
	    else \
	        echo "missing packages; run as root:"; \
	        echo "  apt-get install -y$$missing"; exit 1; \
	    fi; \
	fi

# The suites run under the real Test::Nginx when it is installed, else
# under the compact compatible runner in t/compat.
PROVE_LIB := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null || \
                     echo "-I$(CURDIR)/t/compat")

test-nginx: $(MODULE_SO)
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE_SO) \
	TEST_NGINX_TOP=$(CURDIR) \
	    prove $(PROVE_LIB) -r t/

# what Test::Nginx cannot express: workers racing, refused reloads
test-integration: $(MODULE_SO)
	cd t/integration && \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE_SO) \
	    python3 -m unittest -v

test: deps
	$(MAKE) all
	$(MAKE) $(TEST_TARGETS) test-nginx test-integration

clean:
	rm -rf $(BUILD) t/servroot*
