# sim.mk: the NetSuite simulator's tests (included by the top-level Makefile).
#
#   make test-sim     unit tests of tools/netsuite-sim and tools/nsoauth.py
#                     (each test class starts and stops its own simulator on
#                     a free 127.0.0.1 port; about 10 s)
#
# The simulator itself needs nothing built: tools/netsuite-sim --help.
# See docs/netsuite-simulator.md.

SIM_TESTS := test_nsoauth test_shopify_sim \
             $(sort $(basename $(notdir $(wildcard tools/tests/test_sim_*.py))))

.PHONY: test-sim

test-sim:
	cd tools/tests && python3 -m unittest $(SIM_TESTS)

TEST_TARGETS += test-sim
