"""A NetSuite (SuiteTalk REST, SuiteQL and RESTlet) simulator for tests,
demos and benchmarks of ngx_order_edit_module.  See
docs/netsuite-simulator.md; the executable is tools/netsuite-sim."""
