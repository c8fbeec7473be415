# restlet.mk: the SuiteScript RESTlet shipped in netsuite/ (included by the
# top-level Makefile).
#
#   make test-restlet   the mocked-account tests of the script (node), and
#                       the contract cases (netsuite/test/cases.json) run
#                       against both the script and the simulator's RESTlet,
#                       from the normaliser's own documents
#
# Deploying the script: netsuite/README.md.

DEB_PACKAGES += nodejs

.PHONY: test-restlet

test-restlet: $(BUILD)/order-edit-normalise
	node netsuite/test/test_mock.js
	python3 netsuite/test/test_contract.py -v

TEST_TARGETS += test-restlet
