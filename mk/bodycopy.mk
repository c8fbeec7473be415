# a worker stopped in the middle of a put, at its body's copy into the
# zone, for t/integration/test_bodycopy.py: an LD_PRELOAD shim, nothing
# of it in the module
CFAULT_SO      := $(BUILD)/cfault.so
ALL_TARGETS    += $(CFAULT_SO)

$(CFAULT_SO): t/lib/cfault.c | $(BUILD)
	$(CC) $(CFLAGS_TOOLS) -fPIC -shared -o $@ $< -ldl

test-integration: $(CFAULT_SO)
