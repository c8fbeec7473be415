# bench-dispatch.mk: the dispatcher against a saturated NetSuite simulator
# (included by the top-level Makefile).
#
#   make bench-dispatch                                 ~1.5 minutes
#   make bench-dispatch BENCH_DISPATCH_ARGS=--quick     100 orders, smoke test
#   make bench-dispatch BENCH_DISPATCH_ARGS="--interval 10ms --no-idle"
#   make bench-dispatch BENCH_ARGS=--reconcile          without and with reconcile/report
#
# Results go to bench/results/dispatch-* (gitignored); see bench/README.md.

BENCH_DISPATCH_ARGS ?= $(BENCH_ARGS)

.PHONY: bench-dispatch

bench-dispatch: $(MODULE_SO)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	    python3 bench/dispatch/run.py $(BENCH_DISPATCH_ARGS)
