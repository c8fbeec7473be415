'use strict';
/*
 * Runs resolved contract cases (written by test_contract.py) against
 * netsuite/order_edit_restlet.js in the mocked account and prints, per
 * case, the RESTlet's answer and the account's state as JSON; the Python
 * side compares them with the simulator's and with the expectations.
 *
 *   node netsuite/test/run_cases.js build/restlet/cases.json
 */
const fs = require('fs');
const path = require('path');
const { Account, loadScript, callRestlet } = require('./ns_mock');

const SCRIPT = path.join(__dirname, '..', 'order_edit_restlet.js');
const PARAM = { tax_mode: 'custscript_oe_tax_mode',
                tax_code: 'custscript_oe_tax_code',
                tax_type: 'custscript_oe_tax_type',
                shipping_tax_code: 'custscript_oe_shipping_tax_code',
                refund_flow: 'custscript_oe_refund_flow',
                default_customer: 'custscript_oe_default_customer' };
const TYPE = { salesOrder: 'salesorder', creditMemo: 'creditmemo',
               invoice: 'invoice' };

function run(c) {
    const params = {};
    Object.keys(c.params || {}).forEach((k) => {
        if (!(k in PARAM)) {
            throw new Error(c.name + ': unknown parameter ' + k);
        }
        params[PARAM[k]] = c.params[k];
    });
    const account = new Account({
        currencies: c.currencies, items: c.items, taxCodes: c.tax_codes,
        features: c.features, params: params,
        customFields: c.custom_fields,
        changedSaves: c.changed_saves,
        customers: c.customers, oneWorld: c.one_world
    });
    Object.keys(c.records || {}).forEach((type) => {
        c.records[type].forEach((body) => account.seed(TYPE[type], body));
    });
    const entry = loadScript(SCRIPT, account);
    const answer = callRestlet(entry, c.request);
    return { name: c.name, status: answer.status, body: answer.body,
             view: account.view(), ignored: account.ignored,
             units: account.used };
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
process.stdout.write(JSON.stringify(cases.map(run), null, 1) + '\n');
