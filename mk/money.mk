# money.mk: the property-based Shopify generator (t/money/, written from
# Shopify's documentation, see docs/shopify-generator.md) against the
# normaliser's CLI (included by the top-level Makefile).
#
#   make test-money                   a bounded seeded slice (part of
#                                     `make test`): MONEY_CASES cases
#                                     from MONEY_SEED
#   make fuzz-money N=100000 SEED=7   as many cases as asked (SEED
#                                     defaults to the time)
#
# A failing case prints its seed and number; replay it with
#   t/money/run.py --seed S --case K
# Failing payloads and expectations are written to build/money/S-K/.

MONEY_SEED   ?= 20261206
MONEY_CASES  ?= 3000
MONEY_JOBS   ?= 2
MONEY_RUN    := python3 t/money/run.py --cli $(BUILD)/order-edit-normalise \
                    --jobs $(MONEY_JOBS) --out $(BUILD)/money

TEST_TARGETS += test-money

.PHONY: test-money fuzz-money

test-money: $(BUILD)/order-edit-normalise
	@rm -rf $(BUILD)/money
	$(MONEY_RUN) --seed $(MONEY_SEED) --cases $(MONEY_CASES)

fuzz-money: $(BUILD)/order-edit-normalise
	$(MONEY_RUN) --seed $(or $(SEED),$(shell date +%s)) \
	    --cases $(or $(N),100000) --quiet
