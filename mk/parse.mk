# parse.mk: parsing NetSuite's answers off the event loop
# (ngx_http_order_edit_parse.c).
#
#   build/slowparse.so   a test-only LD_PRELOAD shim that slows a parse on
#                        a thread, so that a reload lands while one is out
#                        (t/integration/test_parse_pool.py; part of `make`)
#   make bench-parse     the event loop against 300-line answers, with the
#                        thread pool and without (~5 minutes; bench/README.md)
#   make bench-parse BENCH_PARSE_ARGS="--orders 40 --rounds 1"   quicker

SLOWPARSE_SO      := $(BUILD)/slowparse.so
BENCH_PARSE_ARGS  ?=

ALL_TARGETS       += $(SLOWPARSE_SO)

$(SLOWPARSE_SO): t/lib/slowparse.c | $(BUILD)
	$(CC) $(CFLAGS_TOOLS) -fPIC -shared -o $@ $< -ldl

# test_parse_pool.py preloads it
test-integration: $(SLOWPARSE_SO)

.PHONY: bench-parse

bench-parse: $(MODULE_SO)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	    python3 bench/parse/run.py --perf $(BENCH_PARSE_ARGS)
