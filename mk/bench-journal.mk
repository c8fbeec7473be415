# bench-journal.mk: what order_edit_journal costs ingest (included by the
# top-level Makefile).
#
#   make bench-journal                        3 rounds x {nojournal,off,
#                                             batch,always} x c=32,128
#   make bench-journal BENCH_ARGS=--quick     one short round at c=32
#   make bench-journal BENCH_ARGS="--rounds 5 --connections 64"
#
# The journals go to a temporary directory in build/ (the project's
# filesystem), removed afterwards. Results go to bench/results/journal-*
# (gitignored); see bench/README.md.
#
# build/bench/journal-floor (bench/journal/floor.c): the journal's
# physical floor without nginx (the module's record encoder, one pwritev
# a record into a recycled file, group fdatasync on a thread), run by
# run.py beside the module.
#
# build/bench/journal-pause (bench/journal/pause.c): how long the
# machine stops its CPUs (a real-time thread a CPU, late wake-ups), run
# by run.py beside each measured run.
#
# build/bench/flushsim.so (bench/journal/flushsim.c): fdatasync() made a
# fixed wait that flushes nothing, preloaded into nginx by run.py
# --flush-sim US: what the journal costs without the disk's flush.

BENCH_ARGS ?=

JFLOOR := $(BUILD)/bench/journal-floor
JPAUSE := $(BUILD)/bench/journal-pause
JFLUSHSIM := $(BUILD)/bench/flushsim.so

.PHONY: bench-journal

# (journal.mk's JREC_* are not defined yet where this file is included)
JFLOOR_JREC := ngx_order_edit_module/ngx_http_order_edit_jrec.c

$(JFLOOR): bench/journal/floor.c $(JFLOOR_JREC) $(JFLOOR_JREC:.c=.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TOOLS) -Wshadow -Wpointer-arith -Ingx_order_edit_module \
	    -o $@ bench/journal/floor.c $(JFLOOR_JREC) -lpthread -lcrypto

$(JPAUSE): bench/journal/pause.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TOOLS) -Wshadow -Wpointer-arith -o $@ \
	    bench/journal/pause.c -lpthread

$(JFLUSHSIM): bench/journal/flushsim.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TOOLS) -shared -fPIC -o $@ bench/journal/flushsim.c

bench-journal: $(MODULE_SO) $(JFLOOR) $(JPAUSE) $(JFLUSHSIM)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	JOURNAL_FLOOR=$(CURDIR)/$(JFLOOR) JOURNAL_PAUSE=$(CURDIR)/$(JPAUSE) \
	    python3 bench/journal/run.py $(BENCH_ARGS)
