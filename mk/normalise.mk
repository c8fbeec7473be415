# normalise.mk: the normaliser's CLI twin, unit tests and fuzzer (included
# by the top-level Makefile).
#
#   make build/order-edit-normalise   the CLI (part of `make`)
#   make test-unit                    cmocka unit, fixture and invariant
#                                     tests (part of `make test`)
#   make test-unit-asan               the same under ASan + UBSan
#   make fuzz-normalise               libFuzzer + ASan + UBSan on the
#                                     normaliser, FUZZ_TIME seconds (120)
#   make fuzz-normalise-smoke         the same for 15 seconds
#
# The normaliser sources are pure C + jansson: the same files build into
# the nginx module, the CLI, the tests and the fuzzer.

NORM_DIR     := ngx_order_edit_module
NORM_SRCS    := $(addprefix $(NORM_DIR)/ngx_http_order_edit_, \
                    money.c exactjson.c skumap.c bundle.c jbuild.c normalise.c \
                    nsbody.c nsparse.c rdiff.c)
NORM_HDRS    := $(NORM_SRCS:.c=.h)
NORM_CFLAGS  := $(CFLAGS_TOOLS) -Wshadow -Wpointer-arith -I$(NORM_DIR)
NORM_LIBS    := -ljansson -lpcre2-8

UNIT_NAMES   := test_money test_skumap test_fixtures test_invariant \
                test_nsbody test_nsparse test_rdiff
UNIT_BINS    := $(addprefix $(BUILD)/unit/,$(UNIT_NAMES))
UNIT_ASAN    := $(addprefix $(BUILD)/unit-asan/,$(UNIT_NAMES))
UNIT_COMMON  := t/unit/oe_test_util.c t/unit/oe_test_util.h
ASAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all

FUZZ_CC      ?= clang
FUZZ_TIME    ?= 120
FUZZ_BIN     := $(BUILD)/fuzz/fuzz-normalise
FUZZ_CORPUS  := $(BUILD)/fuzz/corpus

DEB_PACKAGES += libpcre2-dev libcmocka-dev clang libclang-rt-dev

ALL_TARGETS  += $(BUILD)/order-edit-normalise
# a short fuzz run in every make test: hostile input never crashes
TEST_TARGETS += test-unit fuzz-normalise-smoke

.PHONY: test-unit test-unit-asan fuzz fuzz-normalise fuzz-normalise-smoke

$(BUILD)/order-edit-normalise: tools/order-edit-normalise.c $(NORM_SRCS) \
                               $(NORM_HDRS) | $(BUILD)
	$(CC) $(NORM_CFLAGS) -o $@ tools/order-edit-normalise.c $(NORM_SRCS) \
	    $(NORM_LIBS)

$(BUILD)/unit/%: t/unit/%.c $(UNIT_COMMON) $(NORM_SRCS) $(NORM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(NORM_CFLAGS) -It/unit -o $@ $< t/unit/oe_test_util.c \
	    $(NORM_SRCS) $(NORM_LIBS) -lcmocka

$(BUILD)/unit-asan/%: t/unit/%.c $(UNIT_COMMON) $(NORM_SRCS) $(NORM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(NORM_CFLAGS) -O1 $(ASAN_FLAGS) -It/unit -o $@ $< \
	    t/unit/oe_test_util.c $(NORM_SRCS) $(NORM_LIBS) -lcmocka

# every test binary runs from the top directory (fixtures are relative)
test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

test-unit-asan: $(UNIT_ASAN)
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t"; \
	    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; \
	done

$(FUZZ_BIN): t/fuzz/fuzz_normalise.c $(UNIT_COMMON) $(NORM_SRCS) $(NORM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Werror -I$(NORM_DIR) \
	    -It/unit -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $< t/unit/oe_test_util.c \
	    $(NORM_SRCS) $(NORM_LIBS)

# the seed corpus: every fixture payload plus the hand-made seeds
$(FUZZ_CORPUS): $(wildcard t/fixtures/shopify/*.json t/fuzz/seeds/*)
	@mkdir -p $@
	@for f in $(filter-out %.expect.json,$(wildcard t/fixtures/shopify/*.json)) \
	          $(wildcard t/fuzz/seeds/*); do \
	    cp $$f $@/seed-$$(basename $$f); done
	@touch $@

fuzz-normalise: $(FUZZ_BIN) $(FUZZ_CORPUS)
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -dict=t/fuzz/normalise.dict -artifact_prefix=$(BUILD)/fuzz/ \
	    -print_final_stats=1 $(FUZZ_CORPUS)

# quiet in make test: the log is kept, its tail shown when it fails
fuzz-normalise-smoke: $(FUZZ_BIN) $(FUZZ_CORPUS)
	@echo "fuzz-normalise: 15 s, log in $(BUILD)/fuzz/smoke.log"
	@$(FUZZ_BIN) -max_total_time=15 -max_len=65536 \
	    -dict=t/fuzz/normalise.dict -artifact_prefix=$(BUILD)/fuzz/ \
	    -print_final_stats=1 $(FUZZ_CORPUS) > $(BUILD)/fuzz/smoke.log 2>&1 \
	    || { tail -60 $(BUILD)/fuzz/smoke.log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' $(BUILD)/fuzz/smoke.log

fuzz: fuzz-normalise
