# bench.mk: benchmarks (included by the top-level Makefile).
#
#   make bench-ingest                      3 rounds x {module,baseline,njs}
#   make bench-ingest BENCH_ARGS=--quick   one short round (smoke test)
#   make bench-ingest BENCH_ARGS="--rounds 5 --duration 4"
#
# Results go to bench/results/ (gitignored); see bench/README.md.

BENCH_ARGS ?=

.PHONY: bench-ingest

bench-ingest: $(MODULE_SO)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	    bench/ingest/run.sh $(BENCH_ARGS)
