# valgrind.mk: the Test::Nginx suites with nginx under valgrind's memcheck,
# and with an AddressSanitizer build of the module (included by the
# top-level Makefile).  Neither is part of `make test` (too slow).
#
#   make test-valgrind   t/*.t with nginx run by tools/valgrind-nginx
#                        (memcheck, one log per process in
#                        build/valgrind/logs); fails on any memcheck
#                        error or definitely lost block, listing the
#                        stacks; suppressions: t/valgrind.supp
#   make test-asan       t/*.t with build/asan/ngx_http_order_edit_module.so
#                        (-fsanitize=address) loaded into Debian's nginx
#                        with libasan preloaded; fails on any ASan report
#
# Both work under the real Test::Nginx and under t/compat: they only swap
# TEST_NGINX_BINARY for the wrapper.  Extra knobs:
#   VALGRIND_SUITES="t/010-ingest.t"          a subset
#   ORDER_EDIT_VALGRIND_OPTS=--track-origins=yes   more valgrind options
#   TEST_NGINX_SERVER_PORT / TEST_NGINX_SERVROOT   as for test-nginx
#
# Both test a private copy of the module (build/valgrind/, build/asan/):
# a rebuild of build/ngx_http_order_edit_module.so during the run (cp
# rewrites the file in place) would otherwise crash the nginx that has it
# mapped and be reported as a memory error.

VALGRIND_DIR     := $(BUILD)/valgrind
VALGRIND_SUITES  ?= $(sort $(wildcard t/*.t))
# The client timeout and the wait for nginx to quit (both runners use
# TEST_NGINX_TIMEOUT for both); valgrind makes nginx ~20x slower.
VALGRIND_TIMEOUT ?= 10

ASAN_MOD_DIR     := $(BUILD)/asan
ASAN_MOD_NGX     := $(ASAN_MOD_DIR)/nginx
ASAN_MOD_SO      := $(ASAN_MOD_DIR)/$(MODULE_NAME).so
ASAN_MOD_CC_OPT  := $(MODULE_CC_OPT) -O1 -fsanitize=address \
                    -fno-omit-frame-pointer
ASAN_MOD_LD_OPT  := $(MODULE_LD_OPT) -fsanitize=address

VALGRIND_ENV = TEST_NGINX_BINARY=$(CURDIR)/tools/valgrind-nginx \
               TEST_NGINX_TOP=$(CURDIR) \
               TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-$(VALGRIND_TIMEOUT)}

.PHONY: test-valgrind test-asan

# Installs valgrind when missing (root) or says what to run.
test-valgrind: $(MODULE_SO)
	@$(MAKE) --no-print-directory deps DEB_PACKAGES=valgrind
	rm -rf $(VALGRIND_DIR)
	mkdir -p $(VALGRIND_DIR)/logs
	cp $(MODULE_SO) $(VALGRIND_DIR)/$(MODULE_NAME).so
	@start=$$(date +%s); \
	$(VALGRIND_ENV) \
	ORDER_EDIT_VALGRIND_DIR=$(CURDIR)/$(VALGRIND_DIR)/logs \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(VALGRIND_DIR)/$(MODULE_NAME).so \
	    prove $(PROVE_LIB) $(VALGRIND_SUITES); st=$$?; \
	tools/valgrind-nginx --check-logs $(VALGRIND_DIR)/logs || st=1; \
	echo "test-valgrind: $$(( $$(date +%s) - start ))s, exit $$st"; \
	exit $$st

# The ASan module: a private nginx build tree configured like the main one
# (Debian's flags, --with-compat) but with -fsanitize=address; only the
# module is instrumented, nginx itself stays Debian's binary.
$(ASAN_MOD_NGX)/objs/Makefile: config
	rm -rf $(ASAN_MOD_NGX)
	mkdir -p $(ASAN_MOD_DIR)
	cp -r $(NGINX_SRC) $(ASAN_MOD_NGX)
	. $(NGINX_SRC)/conf_flags && cd $(ASAN_MOD_NGX) && \
	    ASAN_OPTIONS=detect_leaks=0 ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(ASAN_MOD_CC_OPT)" \
	        --with-ld-opt="$(ASAN_MOD_LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) > configure.log 2>&1 || \
	    { cat configure.log; tail -20 objs/autoconf.err; exit 1; }

$(ASAN_MOD_SO): $(ASAN_MOD_NGX)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(ASAN_MOD_NGX) -f objs/Makefile modules
	cp $(ASAN_MOD_NGX)/objs/$(MODULE_NAME).so $@.tmp
	mv -f $@.tmp $@

# ASan's leak checker stays off: at exit it would report nginx's own
# per-process allocations (see t/valgrind.supp) and LSan suppressions
# match any frame, so they could hide the module's leaks; test-valgrind
# covers leaks precisely.
test-asan: $(ASAN_MOD_SO)
	rm -rf $(ASAN_MOD_DIR)/logs $(ASAN_MOD_DIR)/run
	mkdir -p $(ASAN_MOD_DIR)/logs $(ASAN_MOD_DIR)/run
	cp $(ASAN_MOD_SO) $(ASAN_MOD_DIR)/run/$(MODULE_NAME).so
	@start=$$(date +%s); \
	$(VALGRIND_ENV) \
	ORDER_EDIT_SANITIZER=asan \
	ORDER_EDIT_ASAN_LIB=$$($(CC) -print-file-name=libasan.so) \
	ORDER_EDIT_VALGRIND_DIR=$(CURDIR)/$(ASAN_MOD_DIR)/logs \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(ASAN_MOD_DIR)/run/$(MODULE_NAME).so \
	    prove $(PROVE_LIB) $(VALGRIND_SUITES); st=$$?; \
	tools/valgrind-nginx --check-logs $(ASAN_MOD_DIR)/logs || st=1; \
	echo "test-asan: $$(( $$(date +%s) - start ))s, exit $$st"; \
	exit $$st
