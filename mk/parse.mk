# parse.mk: parsing NetSuite's answers off the event loop
# (ngx_http_order_edit_parse.c).
#
#   build/slowparse.so   a test-only LD_PRELOAD shim that slows a parse on
#                        a thread, so that a reload lands while one is out
#                        (t/integration/test_parse_pool.py; part of `make`)

SLOWPARSE_SO   := $(BUILD)/slowparse.so

ALL_TARGETS    += $(SLOWPARSE_SO)

$(SLOWPARSE_SO): t/lib/slowparse.c | $(BUILD)
	$(CC) $(CFLAGS_TOOLS) -fPIC -shared -o $@ $< -ldl

# test_parse_pool.py preloads it
test-integration: $(SLOWPARSE_SO)
