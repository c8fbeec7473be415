# soak.mk: the long soak (included by the top-level Makefile; not part of
# make test).
#
#   make soak     an hour of mixed signed webhooks against nginx with the
#                 journal on, NetSuite simulator faults and reloads; worker
#                 and master memory, descriptors and zone use sampled, a
#                 table and fitted slopes printed, fails unless flat.
#                 SOAK_MINUTES=3 for a quick check; the rest of the knobs
#                 are in tools/soak.py.

.PHONY: soak

soak: $(MODULE_SO)
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE_SO) \
	    nice python3 tools/soak.py
