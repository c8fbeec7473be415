# oauth.mk: NetSuite TBA (OAuth 1.0a) signing unit tests (included by the
# top-level Makefile).
#
#   make test-oauth        build and run build/unit/test_oauth (part of
#                          `make test`)
#   make test-oauth-asan   the same under ASan + UBSan
#
# ngx_http_order_edit_oauth.c is pure C + libcrypto; the test includes it
# (to reach the HMAC-SHA1 mode RFC 5849's examples need), so it is not
# linked in separately.  test-oauth also compiles it alone with the
# warnings nginx builds modules with, so a warning fails here first.

OAUTH_DIR    := ngx_order_edit_module
OAUTH_SRCS   := $(OAUTH_DIR)/ngx_http_order_edit_oauth.c \
                $(OAUTH_DIR)/ngx_http_order_edit_oauth.h
OAUTH_CFLAGS := $(CFLAGS_TOOLS) -Wshadow -Wpointer-arith -I$(OAUTH_DIR)
OAUTH_LIBS   := -lcmocka -lcrypto
OAUTH_NGXOPT := -W -Wall -Wextra -Wpointer-arith -Wno-unused-parameter \
                -Werror -Wshadow -O2
OAUTH_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all

TEST_TARGETS += test-oauth

.PHONY: test-oauth test-oauth-asan

$(BUILD)/unit/test_oauth: t/unit/test_oauth.c $(OAUTH_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_CFLAGS) -o $@ $< $(OAUTH_LIBS)

$(BUILD)/unit/oauth-nginx-flags.o: $(OAUTH_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_NGXOPT) -c -o $@ $<

$(BUILD)/unit-asan/test_oauth: t/unit/test_oauth.c $(OAUTH_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_CFLAGS) -O1 $(OAUTH_SAN) -o $@ $< $(OAUTH_LIBS)

test-oauth: $(BUILD)/unit/test_oauth $(BUILD)/unit/oauth-nginx-flags.o
	$(BUILD)/unit/test_oauth

test-oauth-asan: $(BUILD)/unit-asan/test_oauth
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(BUILD)/unit-asan/test_oauth


# OAuth 2.0 client credentials: the JWT client assertion
# (ngx_http_order_edit_jwt.c), checked by t/unit/jwt_verify.py (Python's
# cryptography, an independent verifier).  Run from the top directory.
#
#   make test-jwt          build and run build/unit/test_jwt (part of
#                          `make test`)
#   make test-jwt-asan     the same under ASan + UBSan

JWT_SRCS := $(OAUTH_DIR)/ngx_http_order_edit_jwt.c \
            $(OAUTH_DIR)/ngx_http_order_edit_jwt.h
JWT_LIBS := -lcmocka -ljansson -lcrypto

TEST_TARGETS += test-jwt
DEB_PACKAGES += python3-cryptography

.PHONY: test-jwt test-jwt-asan

$(BUILD)/unit/test_jwt: t/unit/test_jwt.c $(JWT_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_CFLAGS) -o $@ $< $(OAUTH_DIR)/ngx_http_order_edit_jwt.c \
	    $(JWT_LIBS)

$(BUILD)/unit/jwt-nginx-flags.o: $(JWT_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_NGXOPT) -c -o $@ $<

$(BUILD)/unit-asan/test_jwt: t/unit/test_jwt.c $(JWT_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(OAUTH_CFLAGS) -O1 $(OAUTH_SAN) -o $@ $< \
	    $(OAUTH_DIR)/ngx_http_order_edit_jwt.c $(JWT_LIBS)

test-jwt: $(BUILD)/unit/test_jwt $(BUILD)/unit/jwt-nginx-flags.o
	$(BUILD)/unit/test_jwt

test-jwt-asan: $(BUILD)/unit-asan/test_jwt
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(BUILD)/unit-asan/test_jwt
