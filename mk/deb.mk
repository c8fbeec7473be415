# deb.mk: the Debian package libnginx-mod-http-order-edit (included by
# the top-level Makefile).
#
#   make deb        build $(DEB_OUT)/libnginx-mod-http-order-edit_*.deb
#                   with dpkg-buildpackage and debian/ (dh + the nginx
#                   addon from nginx-dev), in a copy of the work tree
#   make test-deb   (root) build it, install it, run debian/tests/smoke
#                   (the system nginx loads it, nginx -t, one signed
#                   webhook answered 200 on a private port), purge it and
#                   check that nothing is left behind (part of make test;
#                   skipped with a message when not root)
#
# dpkg-buildpackage writes its output next to the source directory, so
# the source is copied to $(DEB_OUT)/src: nothing is written outside
# build/ and debian/ in the work tree stays free of build output.

DEB_OUT      := $(BUILD)/deb
DEB_NAME     := libnginx-mod-http-order-edit
DEB_VERSION  := $(shell dpkg-parsechangelog -l debian/changelog \
                    -S Version 2>/dev/null)
DEB_ARCH     := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE     := $(DEB_OUT)/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_INPUTS   := config Makefile $(wildcard mk/*.mk) $(MODULE_SRCS) \
                $(wildcard debian/* debian/*/* tools/*.c) \
                tools/shopify-webhook README.md $(wildcard docs/*.md conf/*)

DEB_PACKAGES += debhelper dpkg-dev nginx-dev

TEST_TARGETS += test-deb

.PHONY: deb test-deb

deb: $(DEB_FILE)

$(DEB_FILE): $(DEB_INPUTS)
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_OUT)/src
	tar --exclude=./build --exclude=./.git --exclude='./t/servroot*' \
	    -cf - . | tar -C $(DEB_OUT)/src -xf -
	cd $(DEB_OUT)/src && nice dpkg-buildpackage -b -us -uc \
	    > ../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	@ls -l $(DEB_OUT)/*.deb

test-deb:
	@if [ "$$(id -u)" != 0 ]; then \
	    echo "test-deb: SKIPPED: installing a package needs root" \
	         "(run make test-deb as root)"; \
	else \
	    $(MAKE) deb && tools/test-deb.sh $(DEB_FILE); \
	fi
