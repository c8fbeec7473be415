'use strict';
/*
 * The mocked account behaves as Oracle documents NetSuite (so a script
 * that passes here is not passing against a lenient fake), and the
 * script's behaviours the simulator does not model: a save another script
 * beat is redone, governance stays small, a string body is parsed.
 *
 *   node netsuite/test/test_mock.js
 */
const assert = require('assert');
const path = require('path');
const { Account, loadScript, callRestlet } = require('./ns_mock');

const SCRIPT = path.join(__dirname, '..', 'order_edit_restlet.js');
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

function account(extra) {
    return new Account(Object.assign({
        items: [{ id: '1001', basePrice: 199 }, { id: '1002' }],
        taxCodes: { 5: 6 },
        customFields: ['custcol_shopify_line_id'],
        params: { custscript_oe_tax_mode: 'legacy',
                  custscript_oe_tax_code: '5',
                  custscript_oe_default_customer: '42' }
    }, extra || {}));
}

function seeded(a, status) {
    a.seed('salesorder', {
        id: '501', externalId: 'so-1', entity: { id: '42' },
        orderStatus: status || 'B',
        item: { items: [
            { item: { id: '1001' }, quantity: 1, rate: 199,
              custcol_shopify_line_id: 'k1', location: { id: '7' } },
            { item: { id: '1002' }, quantity: 2, rate: 24.5,
              custcol_shopify_line_id: 'k2', quantityFulfilled: 0 }] }
    });
}

/* the N/ modules themselves, through a one-line probe script */
function nmods(a) {
    const fs = require('fs');
    const os = require('os');
    const file = path.join(os.tmpdir(), 'oe-probe-' + process.pid + '.js');
    fs.writeFileSync(file, "define(['N/record', 'N/query', 'N/runtime'], "
                     + '(record, query, runtime) => ({ record: record, '
                     + 'query: query, runtime: runtime }));');
    try {
        return loadScript(file, a);
    } finally {
        fs.unlinkSync(file);
    }
}

/* an account holding order 501, its N/record, and the order loaded */
function order(isDynamic, extra) {
    const a = account(extra);
    seeded(a);
    const { record } = nmods(a);
    return { a: a, record: record,
             rec: record.load({ type: 'salesorder', id: '501',
                                isDynamic: isDynamic }) };
}

const code = (fn) => {
    try {
        fn();
    } catch (e) {
        return e.name;
    }
    return null;
};

test('sublist calls of the other mode are refused', () => {
    const { a, record, rec: dyn } = order(true);
    assert.strictEqual(code(() => dyn.setSublistValue({
        sublistId: 'item', fieldId: 'quantity', line: 0, value: 3 })),
                       'SSS_INVALID_SUBLIST_OPERATION');
    const std = record.load({ type: 'salesorder', id: '501' });
    assert.strictEqual(code(() => std.selectLine({ sublistId: 'item',
                                                   line: 0 })),
                       'SSS_INVALID_SUBLIST_OPERATION');
    assert.strictEqual(code(() => dyn.setCurrentSublistValue({
        sublistId: 'item', fieldId: 'quantity', value: 3 })),
                       'SSS_INVALID_SUBLIST_OPERATION');
});

test('setValue checks the value type', () => {
    const { a, record, rec } = order(true);
    assert.strictEqual(code(() => rec.setValue({
        fieldId: 'taxdetailsoverride', value: 'T' })), 'INVALID_FLD_VALUE');
    assert.strictEqual(code(() => rec.setValue({
        fieldId: 'shippingcost', value: '9.99' })), 'INVALID_FLD_VALUE');
    rec.selectLine({ sublistId: 'item', line: 0 });
    assert.strictEqual(code(() => rec.setCurrentSublistValue({
        sublistId: 'item', fieldId: 'isclosed', value: 1 })),
                       'INVALID_FLD_VALUE');
    /* an unknown field is ignored, as NetSuite does, and noted */
    rec.setValue({ fieldId: 'custbody_typo', value: 'x' });
    assert.deepStrictEqual(a.ignored, ['salesorder.custbody_typo']);
});

test('dynamic sourcing: the order of setCurrentSublistValue matters', () => {
    const { a, record, rec } = order(true);
    rec.selectNewLine({ sublistId: 'item' });
    rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'item',
                                 value: '1001' });
    assert.strictEqual(rec.current.item.values.amount, 199);
    rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'tax1amt',
                                 value: 1.23 });
    /* a tax code set after the amount sources its rate over it */
    rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'taxcode',
                                 value: '5' });
    assert.strictEqual(rec.current.item.values.tax1amt, 11.94);
    rec.commitLine({ sublistId: 'item' });
    rec.save();
    assert.deepStrictEqual(a.records.salesorder['501'].sublists.item
                           .map((l) => l.line), [1, 2, 3]);
});

test('line ids are never reused', () => {
    const { a, record, rec } = order(true);
    rec.removeLine({ sublistId: 'item', line: 1 });
    rec.selectNewLine({ sublistId: 'item' });
    rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'item',
                                 value: '1002' });
    rec.commitLine({ sublistId: 'item' });
    rec.save();
    assert.deepStrictEqual(a.records.salesorder['501'].sublists.item
                           .map((l) => l.line), [1, 3]);
});

test('save: required fields, unknown items, tax details, locking', () => {
    const a = account();
    seeded(a);
    const { record } = nmods(a);
    const empty = record.create({ type: 'salesorder', isDynamic: true });
    empty.setValue({ fieldId: 'entity', value: '42' });
    assert.strictEqual(code(() => empty.save()), 'USER_ERROR');
    const rec = record.load({ type: 'salesorder', id: '501',
                              isDynamic: true });
    rec.selectNewLine({ sublistId: 'item' });
    rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'item',
                                 value: '7777' });
    rec.commitLine({ sublistId: 'item' });
    assert.strictEqual(code(() => rec.save()), 'INVALID_FLD_VALUE');
    const tax = record.load({ type: 'salesorder', id: '501',
                              isDynamic: true });
    tax.setValue({ fieldId: 'taxdetailsoverride', value: true });
    tax.selectNewLine({ sublistId: 'taxdetails' });
    tax.setCurrentSublistValue({ sublistId: 'taxdetails',
                                 fieldId: 'taxdetailsreference',
                                 value: 'SHIPPING' });
    tax.setCurrentSublistValue({ sublistId: 'taxdetails',
                                 fieldId: 'taxamount', value: 1 });
    tax.commitLine({ sublistId: 'taxdetails' });
    /* "All tax information fields are mandatory" */
    assert.strictEqual(code(() => tax.save()), 'USER_ERROR');
    const first = record.load({ type: 'salesorder', id: '501' });
    const second = record.load({ type: 'salesorder', id: '501' });
    second.setValue({ fieldId: 'memo', value: 'second' });
    second.save();
    first.setValue({ fieldId: 'memo', value: 'first' });
    assert.strictEqual(code(() => first.save()), 'RCRD_HAS_BEEN_CHANGED');
});

test('closing every line closes the order', () => {
    const { a, record, rec } = order(true);
    [0, 1].forEach((i) => {
        rec.selectLine({ sublistId: 'item', line: i });
        rec.setCurrentSublistValue({ sublistId: 'item', fieldId: 'isclosed',
                                     value: true });
        rec.commitLine({ sublistId: 'item' });
    });
    rec.save();
    assert.strictEqual(a.records.salesorder['501'].fields.orderstatus, 'H');
});

test('transform: an invoice becomes a credit memo with its lines', () => {
    const a = account();
    seeded(a);
    a.seed('invoice', { id: '701', entity: { id: '42' },
                        createdFrom: { id: '501' },
                        item: { items: [{ item: { id: '1001' },
                                          quantity: 1, rate: 199 }] } });
    const { record } = nmods(a);
    const cm = record.transform({ fromType: 'invoice', fromId: '701',
                                  toType: 'creditmemo', isDynamic: true });
    assert.strictEqual(cm.getValue({ fieldId: 'createdfrom' }), '701');
    assert.strictEqual(cm.getLineCount({ sublistId: 'item' }), 1);
    assert.strictEqual(code(() => record.transform({
        fromType: 'salesorder', fromId: '501', toType: 'creditmemo' })),
                       'INVALID_RCRD_TRANSFORM');
});

/* ------------------------------------------------------------------ */

const edit = (extra) => ({
    sales_order: Object.assign({
        external_id: 'so-1', currency: null,
        lines: [{ key: 'k2', item: { id: '1002' }, quantity: 1,
                  amount: '24.50', tax: '1.47' },
                { key: 'k1', item: { id: '1001' }, quantity: 1,
                  amount: '199.00', discount: '10.00', tax: '11.34' }],
        totals: { tax: '12.81', total: '226.31' }
    }, extra || {})
});

test('script: a save another script beat is redone', () => {
    const a = account({ changedSaves: 1 });
    seeded(a);
    const r = callRestlet(loadScript(SCRIPT, a), edit());
    assert.strictEqual(r.status, 200, JSON.stringify(r.body));
    assert.strictEqual(a.saves, 1);
    const so = r.body.results.sales_order;
    assert.deepStrictEqual(so.lines.map((l) => [l.line, l.key, l.amount]),
                           [[1, 'k1', '189.00'], [2, 'k2', '24.50']]);
    assert.deepStrictEqual(so.discrepancies, []);
});

test('script: a kept line keeps what NetSuite set on it', () => {
    const a = account();
    seeded(a);
    const r = callRestlet(loadScript(SCRIPT, a), edit());
    assert.strictEqual(r.status, 200, JSON.stringify(r.body));
    /* the item is not set again, so the line's location stays */
    assert.strictEqual(a.records.salesorder['501'].sublists.item[0].location,
                       '7');
});

test('script: three saves beaten is an error, not a loop', () => {
    const a = account({ changedSaves: 3 });
    seeded(a);
    const r = callRestlet(loadScript(SCRIPT, a), edit());
    assert.deepStrictEqual([r.status, r.body.error.code],
                           [400, 'RCRD_HAS_BEEN_CHANGED']);
});

test('script: a body sent as text is parsed; bad JSON is SYNTAX_ERROR', () => {
    const a = account();
    seeded(a);
    const entry = loadScript(SCRIPT, a);
    assert.strictEqual(callRestlet(entry, JSON.stringify(edit())).status,
                       200);
    const r = callRestlet(entry, '{"sales_order":');
    assert.deepStrictEqual([r.status, r.body.error.code],
                           [400, 'SYNTAX_ERROR']);
});

test('script: a new order without any customer says so', () => {
    const a = account({ params: { custscript_oe_tax_mode: 'legacy' } });
    const r = callRestlet(loadScript(SCRIPT, a), {
        sales_order: { external_id: 'new', lines: [
            { key: 'k', item: { id: '1001' }, quantity: 1,
              amount: '1.00' }] },
        options: { on_missing: 'create' } });
    assert.deepStrictEqual([r.status, r.body.error.code],
                           [400, 'MISSING_PARAMETER']);
});

test('script: 2000 lines stay within the RESTlet governance', () => {
    const items = [];
    const lines = [];
    for (let i = 0; i < 2000; i++) {
        items.push({ id: String(20000 + i), externalId: 'SKU-' + i });
        lines.push({ key: 'k' + i, sku: 'SKU-' + i, quantity: 1,
                     amount: '1.00', tax: '0.00' });
    }
    const a = account({ items: items });
    const r = callRestlet(loadScript(SCRIPT, a), {
        sales_order: { external_id: 'big', lines: lines },
        options: { on_missing: 'create' } });
    assert.strictEqual(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    /* 4 item queries, a lookup, create, save, load */
    assert.ok(a.used < 200, 'units ' + a.used);
});

let failed = 0;
for (const [name, fn] of tests) {
    try {
        fn();
        console.log('ok - ' + name);
    } catch (e) {
        failed++;
        console.log('not ok - ' + name + '\n  ' + (e.stack || e));
    }
}
console.log(failed ? failed + ' failed' : 'all ' + tests.length + ' passed');
process.exit(failed ? 1 : 0);
