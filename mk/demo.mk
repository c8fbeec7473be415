# demo.mk: `make demo` and the webhook signer's tests (included by the
# top-level Makefile).
#
#   make demo           nginx + module on 127.0.0.1 with conf/demo.conf,
#                       signed sample webhooks for two stores, the answers
#                       and the status output (tools/demo.sh);
#                       DEMO_AUTH=oauth2 delivers to NetSuite with OAuth
#                       2.0 client credentials instead of TBA; it prints
#                       the operations console's URL, and DEMO_HOLD=1
#                       keeps nginx up at the end until Enter
#   make test-webhook   unit tests of tools/shopify-webhook, including
#                       Shopify's published HMAC vector

DEMO_AUTH ?= tba
DEMO_HOLD ?=

.PHONY: demo test-webhook

demo: $(MODULE_SO)
	MODULE_SO=$(CURDIR)/$(MODULE_SO) NGINX_BIN=$(NGINX_BIN) \
	    DEMO_AUTH=$(DEMO_AUTH) DEMO_HOLD=$(DEMO_HOLD) tools/demo.sh

test-webhook:
	cd tools/tests && python3 -m unittest test_shopify_webhook

TEST_TARGETS += test-webhook
