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

BENCH_ARGS ?=

.PHONY: bench-journal

bench-journal: $(MODULE_SO)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	    python3 bench/journal/run.py $(BENCH_ARGS)
