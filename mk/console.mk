# console.mk: the operations console (included by the top-level Makefile).
#
#   make test-console    the console in a real headless browser (Debian's
#                        chromium, chromium-driver, python3-selenium):
#                        nginx, the NetSuite simulator and the page, as a
#                        person uses it; screenshots in build/console/
#                        (part of `make test`)
#
# The page, style and script (ngx_order_edit_module/console/) are compiled
# into the module: the config script writes them as a C header into the
# nginx build tree at configure time; the rule below writes it again when
# one of them changes, so `make` rebuilds the module without a configure.

CONSOLE_DIR   := ngx_order_edit_module/console
CONSOLE_FILES := $(CONSOLE_DIR)/index.html $(CONSOLE_DIR)/console.css \
                 $(CONSOLE_DIR)/console.js
CONSOLE_H     := $(NGX_BUILD)/objs/ngx_http_order_edit_console_files.h
# Debian's own python3: python3-selenium is installed for it, whatever
# python3 comes first on the PATH
CONSOLE_PY    ?= /usr/bin/python3

DEB_PACKAGES += chromium chromium-driver python3-selenium
TEST_TARGETS += test-console

.PHONY: test-console

$(CONSOLE_H): $(CONSOLE_FILES) $(CONSOLE_DIR)/embed.sh \
              $(NGX_BUILD)/objs/Makefile
	sh $(CONSOLE_DIR)/embed.sh $@ $(CONSOLE_DIR)

$(MODULE_SO): $(CONSOLE_H)

test-console: $(MODULE_SO)
	mkdir -p $(BUILD)/console
	cd t/console && \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE_SO) \
	OE_CONSOLE_SHOTS=$(CURDIR)/$(BUILD)/console \
	    $(CONSOLE_PY) -m unittest -v
