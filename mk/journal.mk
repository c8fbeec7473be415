# journal.mk: the journal's record codec, its operator CLI, unit tests,
# Perl encoder check and fuzzer (included by the top-level Makefile).
#
#   make build/order-edit-journal  the CLI (part of `make`)
#   make test-jrec                 cmocka unit tests of the codec, and
#                                  t/lib/OrderEditJournal.pm read back
#                                  through the CLI (part of `make test`)
#   make test-jrec-asan            the same under ASan + UBSan
#   make fuzz-jrec                 libFuzzer + ASan + UBSan on the codec,
#                                  FUZZ_TIME seconds (120)
#   make fuzz-jrec-smoke           the same for 10 seconds (part of
#                                  `make test`)
#
# ngx_http_order_edit_jrec.c is pure C: the same file builds into the
# module, the CLI, the tests and the fuzzer.  Its binaries have explicit
# rules: normalise.mk's $(BUILD)/unit/% pattern would link the
# normaliser instead.

JREC_DIR       := ngx_order_edit_module
JREC_SRCS      := $(JREC_DIR)/ngx_http_order_edit_jrec.c
JREC_HDRS      := $(JREC_DIR)/ngx_http_order_edit_jrec.h
JREC_CFLAGS    := $(CFLAGS_TOOLS) -Wshadow -Wpointer-arith -I$(JREC_DIR)
# the CLI is plain C99 (+ POSIX for directories and gmtime_r)
JREC_CLIFLAGS  := $(JREC_CFLAGS) -std=c99 -pedantic
JREC_NGXOPT    := -W -Wall -Wextra -Wpointer-arith -Wno-unused-parameter \
                  -Werror -Wshadow -O2
JREC_SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=all
JREC_UNIT      := t/unit/test_jrec.c t/unit/jrec_table.c
JREC_TEST      := $(BUILD)/unit/test_jrec
JREC_TEST_ASAN := $(BUILD)/unit-asan/test_jrec
JREC_CLI       := $(BUILD)/order-edit-journal
JREC_CLI_ASAN  := $(BUILD)/jrec/order-edit-journal-asan
JREC_SEEDGEN   := $(BUILD)/jrec/jrec-seeds
JREC_FUZZ      := $(BUILD)/fuzz/fuzz-jrec
JREC_CORPUS    := $(BUILD)/fuzz/corpus-jrec

FUZZ_CC        ?= clang
FUZZ_TIME      ?= 120

DEB_PACKAGES   += libcmocka-dev clang libclang-rt-dev perl

ALL_TARGETS    += $(JREC_CLI)
# a short fuzz run in every make test: a hostile segment never crashes
TEST_TARGETS   += test-jrec fuzz-jrec-smoke

.PHONY: test-jrec test-jrec-asan fuzz-jrec \
        fuzz-jrec-smoke

$(JREC_CLI): tools/order-edit-journal.c $(JREC_SRCS) $(JREC_HDRS) | $(BUILD)
	$(CC) $(JREC_CLIFLAGS) -o $@ tools/order-edit-journal.c $(JREC_SRCS)

$(JREC_CLI_ASAN): tools/order-edit-journal.c $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(JREC_CLIFLAGS) -O1 $(JREC_SAN) -o $@ \
	    tools/order-edit-journal.c $(JREC_SRCS)

# jrec_table.c includes the codec again, its hardware CRC32C path off
$(JREC_TEST): $(JREC_UNIT) $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(JREC_CFLAGS) -o $@ $(JREC_UNIT) $(JREC_SRCS) -lcmocka

$(JREC_TEST_ASAN): $(JREC_UNIT) $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(JREC_CFLAGS) -O1 $(JREC_SAN) -o $@ $(JREC_UNIT) $(JREC_SRCS) \
	    -lcmocka

# the codec alone with the warnings nginx builds modules with
$(BUILD)/jrec/jrec-nginx-flags.o: $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(JREC_NGXOPT) -c -o $@ $(JREC_SRCS)

$(JREC_SEEDGEN): t/fuzz/jrec_seeds.c $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(JREC_CFLAGS) -o $@ t/fuzz/jrec_seeds.c $(JREC_SRCS)

test-jrec: $(JREC_TEST) $(JREC_CLI) $(JREC_SEEDGEN) \
           $(BUILD)/jrec/jrec-nginx-flags.o
	$(JREC_TEST)
	OE_JOURNAL_TOOL=$(CURDIR)/$(JREC_CLI) \
	OE_JREC_SEEDS=$(CURDIR)/$(JREC_SEEDGEN) \
	    prove t/unit/jrec-perl.t

test-jrec-asan: $(JREC_TEST_ASAN) $(JREC_CLI_ASAN) $(JREC_SEEDGEN)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(JREC_TEST_ASAN)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	OE_JOURNAL_TOOL=$(CURDIR)/$(JREC_CLI_ASAN) \
	OE_JREC_SEEDS=$(CURDIR)/$(JREC_SEEDGEN) \
	    prove t/unit/jrec-perl.t

$(JREC_FUZZ): t/fuzz/fuzz_jrec.c $(JREC_SRCS) $(JREC_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Werror -I$(JREC_DIR) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(JREC_SRCS)

# the seeds are written by the codec itself: t/fuzz/jrec_seeds.c
$(JREC_CORPUS): $(JREC_SEEDGEN)
	@mkdir -p $@
	$(JREC_SEEDGEN) $@
	@touch $@

fuzz-jrec: $(JREC_FUZZ) $(JREC_CORPUS)
	$(JREC_FUZZ) -max_total_time=$(FUZZ_TIME) -max_len=16384 \
	    -dict=t/fuzz/jrec.dict -artifact_prefix=$(BUILD)/fuzz/jrec- \
	    -print_final_stats=1 $(JREC_CORPUS)

# quiet in make test: the log is kept, its tail shown when it fails
fuzz-jrec-smoke: $(JREC_FUZZ) $(JREC_CORPUS)
	@echo "fuzz-jrec: 10 s, log in $(BUILD)/fuzz/smoke-jrec.log"
	@$(JREC_FUZZ) -max_total_time=10 -max_len=16384 \
	    -dict=t/fuzz/jrec.dict -artifact_prefix=$(BUILD)/fuzz/jrec- \
	    -print_final_stats=1 $(JREC_CORPUS) \
	    > $(BUILD)/fuzz/smoke-jrec.log 2>&1 \
	    || { tail -60 $(BUILD)/fuzz/smoke-jrec.log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' \
	    $(BUILD)/fuzz/smoke-jrec.log

fuzz: fuzz-jrec

# disk faults for t/integration/test_journal_faults.py without root: an
# LD_PRELOAD shim, nothing of it in the module
JFAULT_SO      := $(BUILD)/jfault.so
ALL_TARGETS    += $(JFAULT_SO)

$(JFAULT_SO): t/lib/jfault.c | $(BUILD)
	$(CC) $(CFLAGS_TOOLS) -fPIC -shared -o $@ $< -ldl

# test_journal_faults.py preloads it when it cannot mount a tmpfs
test-integration: $(JFAULT_SO)
