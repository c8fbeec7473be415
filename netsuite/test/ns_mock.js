'use strict';
/*
 * A NetSuite account for SuiteScript 2.1 under node: a tiny AMD define()
 * loader and mocks of N/record, N/query, N/error, N/log and N/runtime that
 * model what Oracle documents (netsuite/README.md lists the sources):
 *
 * - records with body fields, sublists ("item", "taxdetails") and line ids
 *   NetSuite assigns at save and never reuses;
 * - standard mode (getSublistValue/setSublistValue) and dynamic mode
 *   (selectLine/selectNewLine, setCurrentSublistValue, commitLine), each
 *   refusing the other's sublist calls (SSS_INVALID_SUBLIST_OPERATION);
 * - dynamic-mode sourcing, so the order of setValue calls matters as in
 *   the UI: item sources its base price, quantity and rate recompute the
 *   amount, a tax code sources its rate and recomputes the tax amount;
 * - setValue type checks (a checkbox takes a boolean, a number field a
 *   finite number, a list a string or number id);
 * - required fields and checks at save, optimistic locking
 *   (RCRD_HAS_BEEN_CHANGED), unique external ids, totals as NetSuite
 *   shows them, a sales order whose lines are all closed shows Closed (H);
 * - record.transform (invoice -> credit memo), N/query SuiteQL for the
 *   queries the script runs, governance units per call.
 *
 * A value set on a field the record does not have is ignored, as NetSuite
 * does, and noted in account.ignored: the harness fails on any, so a
 * misspelt field id cannot pass.
 */

const fs = require('fs');
const path = require('path');
const vm = require('vm');

class SuiteScriptError extends Error {
    constructor(name, message) {
        super(message);
        this.name = name;
        this.type = 'error.SuiteScriptError';
    }
}

const err = (name, message) => new SuiteScriptError(name, message);

/* field kinds */
const SELECT = 'select', MONEY = 'currency', FLOAT = 'float',
      BOOL = 'checkbox', TEXT = 'text', INT = 'integer', PCT = 'percent';

const BODY = {
    entity: SELECT, currency: SELECT, externalid: TEXT, memo: TEXT,
    otherrefnum: TEXT, orderstatus: TEXT, createdfrom: SELECT,
    shippingcost: MONEY, shippingtax1rate: PCT, shippingtaxcode: SELECT,
    taxdetailsoverride: BOOL, subtotal: MONEY, discounttotal: MONEY,
    taxtotal: MONEY, total: MONEY
};
const READ_ONLY_BODY = ['subtotal', 'discounttotal', 'taxtotal', 'total'];
const ITEM = {
    item: SELECT, quantity: FLOAT, rate: FLOAT, amount: MONEY,
    description: TEXT, taxcode: SELECT, taxrate1: PCT, tax1amt: MONEY,
    isclosed: BOOL, line: INT, quantityfulfilled: FLOAT, location: SELECT,
    quantitybilled: FLOAT, taxdetailsreference: TEXT
};
const TAXDETAILS = {
    taxdetailsreference: TEXT, taxtype: SELECT, taxcode: SELECT,
    taxbasis: MONEY, taxrate: PCT, taxamount: MONEY
};
const TAXDETAILS_REQUIRED = ['taxtype', 'taxcode', 'taxbasis', 'taxrate',
                             'taxamount'];
const ADDRESS = ['addr1', 'addr2', 'addr3', 'city', 'state', 'zip',
                 'country', 'addressee', 'attention', 'addrphone'];
/* the body fields the contract test compares */
const VIEW_FIELDS = ['otherrefnum', 'memo', 'custbody_shopify_order_id',
                     'custbody_shopify_updated_at',
                     'custbody_shopify_taxes_included',
                     'custbody_shopify_refund_id',
                     'custbody_shopify_cancelled',
                     'custbody_shopify_cancelled_at',
                     'custbody_shopify_cancel_reason'];
const TYPES = { SALES_ORDER: 'salesorder', CREDIT_MEMO: 'creditmemo',
                INVOICE: 'invoice', CUSTOMER: 'customer' };
/* a customer record's fields, as far as a Sales Order create makes one */
const CUSTOMER = ['externalid', 'isperson', 'firstname', 'lastname',
                  'companyname', 'email', 'phone', 'subsidiary'];
const SQL_TYPE = { salesorder: 'SalesOrd', creditmemo: 'CustCred',
                   invoice: 'CustInvc' };

const clone = (x) => JSON.parse(JSON.stringify(x));

function round(v, p) {
    const f = Math.pow(10, p);
    const n = Math.round(Math.abs(v) * f + 1e-9) / f;
    return v < 0 ? -n : n;
}

class Account {
    /*
     * options: {currencies: {id: {symbol, precision}}, items: [{id,
     * externalId, basePrice}], taxCodes: {id: rate}, features: {name:
     * bool}, params: {name: value}, customFields: [ids],
     * changedSaves: n (the next n saves find the record changed)}
     */
    constructor(o) {
        o = o || {};
        this.currencies = o.currencies || { 1: { symbol: 'USD',
                                                 precision: 2 } };
        this.defaultCurrency = Object.keys(this.currencies)[0];
        this.items = {};
        (o.items || []).forEach((i) => { this.items[String(i.id)] = i; });
        this.taxCodes = o.taxCodes || {};
        this.features = o.features || {};
        this.params = o.params || {};
        /* id -> kind ("text" or "checkbox"), as the account's admin made
         * them; a list means text fields */
        this.customFields = new Map(Array.isArray(o.customFields)
            ? o.customFields.map((f) => [f, TEXT])
            : Object.entries(o.customFields || {}));
        this.changedSaves = o.changedSaves || 0;
        /* id -> fields (CUSTOMER); oneWorld: a new one needs subsidiary */
        this.customers = {};
        (o.customers || []).forEach((c) => {
            this.customers[String(c.id)] = { externalid: c.externalId || '',
                                             email: c.email || '' };
        });
        this.oneWorld = o.oneWorld === true;
        this.records = { salesorder: {}, creditmemo: {}, invoice: {} };
        this.nextId = 1001;
        this.units = 5000;
        this.used = 0;
        this.ignored = [];
        this.logs = [];
        this.saves = 0;
    }

    charge(n, what) {
        this.used += n;
        if (this.used > this.units) {
            throw err('SSS_USAGE_LIMIT_EXCEEDED', 'Script Execution Usage '
                      + 'Limit Exceeded (' + what + ')');
        }
    }

    precision(currencyId) {
        const c = this.currencies[String(currencyId || this.defaultCurrency)];
        return c ? c.precision : 2;
    }

    /* a record from the REST-shaped seed the simulator takes too */
    seed(type, body) {
        const b = clone(body);
        const id = String(b.id || this.nextId);
        this.nextId = Math.max(this.nextId, Number(id) + 1);
        const ref = (v) => (v && typeof v === 'object' ? String(v.id)
                                                       : v === undefined
                                                         ? undefined
                                                         : String(v));
        const s = {
            type: type, id: id, version: 1,
            fields: {
                externalid: b.externalId || '',
                entity: ref(b.entity) || '1',
                currency: ref(b.currency) || this.defaultCurrency,
                memo: b.memo || ''
            },
            sublists: { item: [], taxdetails: [] },
            subrecords: { shippingaddress: {} },
            nextLine: 1
        };
        if (type === 'salesorder') {
            const st = b.orderStatus;
            s.fields.orderstatus = (st && typeof st === 'object'
                                    ? st.id : st) || 'B';
        }
        if (b.createdFrom) {
            s.fields.createdfrom = ref(b.createdFrom);
        }
        if (b.shippingCost !== undefined) {
            s.fields.shippingcost = Number(b.shippingCost);
        }
        const p = this.precision(s.fields.currency);
        ((b.item || {}).items || []).forEach((l) => {
            const rate = l.rate !== undefined ? Number(l.rate) : null;
            const qty = l.quantity !== undefined ? Number(l.quantity) : 1;
            const amount = l.amount !== undefined ? Number(l.amount)
                                                  : round(qty * rate, p);
            s.sublists.item.push({
                line: s.nextLine++, item: ref(l.item), quantity: qty,
                rate: rate !== null ? rate : amount / qty, amount: amount,
                tax1amt: Number(l.tax1Amt || 0),
                custcol_shopify_line_id: l.custcol_shopify_line_id,
                location: ref(l.location),
                isclosed: l.isClosed === true,
                quantityfulfilled: Number(l.quantityFulfilled || 0),
                quantitybilled: Number(l.quantityBilled || 0)
            });
        });
        if (s.fields.orderstatus === 'H') {
            /* a Closed order is one whose lines are all closed */
            s.sublists.item.forEach((l) => { l.isclosed = true; });
        }
        this.compute(s);
        this.records[type][id] = s;
        return s;
    }

    compute(s) {
        const p = this.precision(s.fields.currency);
        const lines = s.sublists.item;
        const sum = (xs, f) => round(xs.reduce((a, x) => a + (x[f] || 0), 0),
                                     p);
        const subtotal = sum(lines, 'amount');
        const shipping = round(s.fields.shippingcost || 0, p);
        let tax;
        if (s.fields.taxdetailsoverride) {
            tax = sum(s.sublists.taxdetails, 'taxamount');
        } else {
            tax = round(sum(lines, 'tax1amt')
                        + round(shipping * (s.fields.shippingtax1rate || 0)
                                / 100, p), p);
        }
        s.fields.subtotal = subtotal;
        s.fields.discounttotal = 0;
        s.fields.taxtotal = tax;
        s.fields.total = round(subtotal + tax + shipping, p);
        if (s.type === 'salesorder' && lines.length
            && lines.every((l) => l.isclosed)) {
            s.fields.orderstatus = 'H';
        }
    }

    /* the account's state, in the shape the contract test compares */
    view() {
        const out = {};
        Object.keys(this.records).forEach((type) => {
            Object.values(this.records[type]).forEach((s) => {
                const p = this.precision(s.fields.currency);
                const m = (v) => Number(v || 0).toFixed(p);
                const perRef = {};
                s.sublists.taxdetails.forEach((t) => {
                    perRef[t.taxdetailsreference] =
                        (perRef[t.taxdetailsreference] || 0) + t.taxamount;
                });
                const v = {
                    id: s.id,
                    lines: s.sublists.item.map((l) => ({
                        line: l.line, item: String(l.item),
                        key: l.custcol_shopify_line_id === undefined
                             || l.custcol_shopify_line_id === ''
                             ? null : l.custcol_shopify_line_id,
                        quantity: String(l.quantity), amount: m(l.amount),
                        tax: m(s.fields.taxdetailsoverride
                               ? perRef[l.taxdetailsreference]
                               : l.tax1amt),
                        closed: l.isclosed === true
                    })),
                    taxTotal: m(s.fields.taxtotal), total: m(s.fields.total),
                    shippingCost: m(s.fields.shippingcost)
                };
                if (type === 'salesorder') {
                    v.status = s.fields.orderstatus;
                    v.entity = String(s.fields.entity);
                }
                v.fields = {};
                VIEW_FIELDS.forEach((f) => {
                    const x = s.fields[f];
                    if (x !== undefined && x !== '' && x !== null) {
                        v.fields[f] = x;
                    }
                });
                if (s.fields.taxdetailsoverride) {
                    v.taxDetails = s.sublists.taxdetails.map((t) => ({
                        ref: t.taxdetailsreference, taxType: t.taxtype,
                        taxCode: t.taxcode, basis: m(t.taxbasis),
                        rate: Number(t.taxrate).toFixed(4),
                        amount: m(t.taxamount)
                    }));
                }
                const name = { salesorder: 'salesOrder',
                               creditmemo: 'creditMemo',
                               invoice: 'invoice' }[type];
                out[name + ':' + (s.fields.externalid || s.id)] = v;
            });
        });
        /* the customers a create made (seeded ones have no names) */
        Object.values(this.customers).forEach((c) => {
            if (c.isperson !== undefined) {
                const v = {};
                CUSTOMER.filter((k) => c[k]).forEach((k) => { v[k] = c[k]; });
                out['customer:' + c.externalid] = v;
            }
        });
        return out;
    }
}

/* ------------------------------------------------------------------ */

function checkValue(kind, fieldId, value) {
    const bad = () => err('INVALID_FLD_VALUE', 'You have entered an Invalid '
                          + 'Field Value ' + value + ' for the following '
                          + 'field: ' + fieldId);
    switch (kind) {
    case BOOL:
        if (typeof value !== 'boolean') {
            throw bad();
        }
        break;
    case MONEY: case FLOAT: case PCT: case INT:
        if (typeof value !== 'number' || !Number.isFinite(value)) {
            throw bad();
        }
        break;
    case SELECT:
        if (!((typeof value === 'string' && /^\d+$/.test(value))
              || (typeof value === 'number' && Number.isInteger(value)))) {
            throw bad();
        }
        break;
    default:
        if (typeof value !== 'string') {
            throw bad();
        }
    }
    return kind === SELECT ? String(value) : value;
}

class Record {
    constructor(account, state, isDynamic, isNew) {
        this.account = account;
        this.s = state;
        this.isDynamic = Boolean(isDynamic);
        this.isNew = isNew;
        this.type = state.type;
        this.id = isNew ? null : state.id;
        this.current = {};
    }

    kind(fieldId) {
        if (fieldId in BODY) {
            return BODY[fieldId];
        }
        return this.account.customFields.get(fieldId) || null;
    }

    setValue(o) {
        const kind = this.kind(o.fieldId);
        if (kind === null) {
            this.account.ignored.push(this.type + '.' + o.fieldId);
            return this;
        }
        if (READ_ONLY_BODY.includes(o.fieldId)) {
            throw err('READ_ONLY_FIELD', o.fieldId + ' is read-only');
        }
        this.s.fields[o.fieldId] = checkValue(kind, o.fieldId, o.value);
        return this;
    }

    getValue(o) {
        const v = this.s.fields[typeof o === 'string' ? o : o.fieldId];
        return v === undefined ? '' : v;
    }

    getSubrecord(o) {
        if (o.fieldId !== 'shippingaddress') {
            throw err('FIELD_1_IS_NOT_A_SUBRECORD_FIELD', o.fieldId);
        }
        const sub = this.s.subrecords.shippingaddress;
        const acct = this.account;
        return {
            setValue(x) {
                if (!ADDRESS.includes(x.fieldId)) {
                    acct.ignored.push('address.' + x.fieldId);
                    return this;
                }
                sub[x.fieldId] = checkValue(TEXT, x.fieldId, x.value);
                return this;
            },
            getValue(x) { return sub[x.fieldId] || ''; }
        };
    }

    sublistSpec(sublistId) {
        if (sublistId === 'item') {
            return ITEM;
        }
        if (sublistId === 'taxdetails') {
            return TAXDETAILS;
        }
        throw err('SSS_INVALID_SUBLIST_OPERATION', 'no sublist ' + sublistId);
    }

    lineKind(sublistId, fieldId) {
        const spec = this.sublistSpec(sublistId);
        if (fieldId in spec) {
            return spec[fieldId];
        }
        return sublistId === 'item'
               && this.account.customFields.get(fieldId) || null;
    }

    getLineCount(o) {
        this.sublistSpec(o.sublistId);
        return this.s.sublists[o.sublistId].length;
    }

    getSublistValue(o) {
        const line = this.s.sublists[o.sublistId][o.line];
        if (!line) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'no line ' + o.line);
        }
        const v = line[o.fieldId];
        return v === undefined ? '' : v;
    }

    setSublistValue(o) {
        if (this.isDynamic) {
            /* standard mode only (Oracle, Record.setSublistValue) */
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'setSublistValue in '
                      + 'dynamic mode');
        }
        const kind = this.lineKind(o.sublistId, o.fieldId);
        const lines = this.s.sublists[o.sublistId];
        if (o.line > lines.length || o.line < 0) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'no line ' + o.line);
        }
        if (kind === null) {
            this.account.ignored.push(o.sublistId + '.' + o.fieldId);
            return this;
        }
        if (o.line === lines.length) {
            lines.push({});
        }
        lines[o.line][o.fieldId] = checkValue(kind, o.fieldId, o.value);
        return this;
    }

    dynamicOnly(what) {
        if (!this.isDynamic) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', what + ' is for '
                      + 'records in dynamic mode');
        }
    }

    /* the line selectLine/selectNewLine chose, in dynamic mode */
    selected(o, what) {
        this.dynamicOnly(what);
        const cur = this.current[o.sublistId];
        if (!cur) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'no line selected on '
                      + o.sublistId);
        }
        return cur;
    }

    selectLine(o) {
        this.dynamicOnly('selectLine');
        const line = this.s.sublists[o.sublistId][o.line];
        if (!line) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'no line ' + o.line);
        }
        this.current[o.sublistId] = { index: o.line, values: clone(line) };
        return this;
    }

    selectNewLine(o) {
        this.dynamicOnly('selectNewLine');
        this.sublistSpec(o.sublistId);
        this.current[o.sublistId] = { index: null, values: {} };
        return this;
    }

    setCurrentSublistValue(o) {
        const cur = this.selected(o, 'setCurrentSublistValue');
        const kind = this.lineKind(o.sublistId, o.fieldId);
        if (kind === null) {
            this.account.ignored.push(o.sublistId + '.' + o.fieldId);
            return this;
        }
        const v = checkValue(kind, o.fieldId, o.value);
        const l = cur.values;
        l[o.fieldId] = v;
        if (o.sublistId !== 'item') {
            return this;
        }
        /* sourcing, as the UI does it */
        const p = this.account.precision(this.s.fields.currency);
        const item = this.account.items[String(l.item)];
        if (o.fieldId === 'item') {
            /* a new item sources the line afresh: what the line had from
             * the old one (its tax, its location) goes */
            delete l.tax1amt;
            delete l.location;
            l.rate = item && item.basePrice !== undefined
                     ? Number(item.basePrice) : l.rate;
            l.quantity = l.quantity === undefined ? 1 : l.quantity;
        }
        if (['item', 'quantity', 'rate'].includes(o.fieldId)
            && typeof l.rate === 'number') {
            l.amount = round(l.quantity * l.rate, p);
        }
        if (['item', 'quantity', 'rate', 'amount'].includes(o.fieldId)
            && typeof l.taxrate1 === 'number') {
            l.tax1amt = round(l.amount * l.taxrate1 / 100, p);
        }
        if (o.fieldId === 'taxcode') {
            l.taxrate1 = Number(this.account.taxCodes[v] || 0);
            l.tax1amt = round((l.amount || 0) * l.taxrate1 / 100, p);
        }
        return this;
    }

    getCurrentSublistValue(o) {
        const cur = this.selected(o, 'getCurrentSublistValue');
        const v = cur.values[o.fieldId];
        return v === undefined ? '' : v;
    }

    commitLine(o) {
        const cur = this.selected(o, 'commitLine');
        if (o.sublistId === 'item' && !cur.values.item) {
            throw err('USER_ERROR', 'Please enter value(s) for: Item');
        }
        const lines = this.s.sublists[o.sublistId];
        if (cur.index === null) {
            lines.push(cur.values);
        } else {
            lines[cur.index] = cur.values;
        }
        delete this.current[o.sublistId];
        return this;
    }

    removeLine(o) {
        const lines = this.s.sublists[o.sublistId];
        const line = lines[o.line];
        if (!line) {
            throw err('SSS_INVALID_SUBLIST_OPERATION', 'no line ' + o.line);
        }
        if (line.quantityfulfilled > 0) {
            throw err('USER_ERROR', 'The line ' + line.line + ' has been '
                      + 'fulfilled and cannot be removed.');
        }
        lines.splice(o.line, 1);
        return this;
    }

    save() {
        const a = this.account;
        a.charge(20, 'save');
        if (Object.keys(this.current).length) {
            /* an uncommitted line is dropped, as in the UI */
            this.current = {};
        }
        const s = this.s;
        if (!s.fields.entity) {
            throw err('USER_ERROR', 'Please enter value(s) for: Customer');
        }
        if (!s.sublists.item.length) {
            throw err('USER_ERROR', 'You must enter at least one line item '
                      + 'for this transaction.');
        }
        const known = Object.keys(a.items).length > 0;
        s.sublists.item.forEach((l) => {
            if (known && !(String(l.item) in a.items)) {
                throw err('INVALID_FLD_VALUE', 'You have entered an Invalid '
                          + 'Field Value ' + l.item + ' for the following '
                          + 'field: item');
            }
            if (l.line === undefined) {
                l.line = s.nextLine++;
            }
            l.quantityfulfilled = l.quantityfulfilled || 0;
        });
        if (s.fields.taxdetailsoverride) {
            const refs = new Set(s.sublists.item.map(
                (l) => l.taxdetailsreference));
            refs.add('SHIPPING');
            s.sublists.taxdetails.forEach((t) => {
                const missing = TAXDETAILS_REQUIRED.filter(
                    (f) => t[f] === undefined || t[f] === '');
                if (missing.length) {
                    throw err('USER_ERROR', 'Please enter value(s) for: '
                              + missing.join(', '));
                }
                if (!refs.has(t.taxdetailsreference)) {
                    throw err('USER_ERROR', 'The tax details reference '
                              + t.taxdetailsreference + ' matches no line '
                              + 'of this transaction.');
                }
            });
        }
        const ext = s.fields.externalid;
        if (ext && Object.values(a.records[this.type]).some(
            (r) => r.fields.externalid === ext && r.id !== s.id)) {
            throw err('DUP_RCRD', 'A record with this external id exists.');
        }
        if (!this.isNew) {
            const stored = a.records[this.type][s.id];
            if (a.changedSaves > 0) {
                a.changedSaves--;
                stored.version++;
            }
            if (stored.version !== s.version) {
                throw err('RCRD_HAS_BEEN_CHANGED', 'Record has been changed');
            }
        } else {
            s.id = String(a.nextId++);
            s.version = 0;
        }
        a.compute(s);
        s.version++;
        a.records[this.type][s.id] = clone(s);
        a.saves++;
        this.id = s.id;
        this.isNew = false;
        return Number(s.id);
    }
}

/* record.create({type: 'customer'}): the fields set, and save()'s checks */
class CustomerRecord {
    constructor(account) {
        this.account = account;
        this.fields = {};
        this.type = 'customer';
    }

    setValue(o) {
        if (!CUSTOMER.includes(o.fieldId)) {
            this.account.ignored.push('customer.' + o.fieldId);
            return this;
        }
        this.fields[o.fieldId] = o.value === null || o.value === undefined
                                 ? '' : String(o.value);
        return this;
    }

    getValue(o) {
        return this.fields[o.fieldId];
    }

    save() {
        const a = this.account;
        a.charge(20, 'save customer');
        const f = this.fields;
        const need = (f.isperson === 'T' ? [['firstname', 'First Name'],
                                             ['lastname', 'Last Name']]
                                          : [['companyname',
                                              'Company Name']])
            .concat(a.oneWorld ? [['subsidiary', 'Primary Subsidiary']]
                               : []);
        const missing = need.filter(([k]) => !f[k]).map(([, label]) => label);
        if (missing.length) {
            throw err('USER_ERROR', 'Please enter value(s) for: '
                      + missing.join(', '));
        }
        if (f.externalid && Object.values(a.customers).some(
            (c) => c.externalid === f.externalid)) {
            throw err('DUP_RCRD', 'A record with this external id exists.');
        }
        /* entities count apart from transactions (as the simulator's) */
        const id = String(Math.max(5000, ...Object.keys(a.customers)
                                              .map(Number)) + 1);
        a.customers[id] = clone(f);
        a.saves++;
        return Number(id);
    }
}

function recordModule(account) {
    const blank = (type) => ({
        type: type, id: null, version: 0,
        fields: { externalid: '', currency: account.defaultCurrency,
                  orderstatus: type === 'salesorder' ? 'B' : undefined },
        sublists: { item: [], taxdetails: [] },
        subrecords: { shippingaddress: {} }, nextLine: 1
    });
    const stored = (type, id) => {
        const s = account.records[type] && account.records[type][String(id)];
        if (!s) {
            throw err('RCRD_DSNT_EXIST', 'That record does not exist. '
                      + type + ' ' + id);
        }
        return clone(s);
    };
    return {
        Type: TYPES,
        create(o) {
            account.charge(10, 'create');
            if (o.type === TYPES.CUSTOMER) {
                return new CustomerRecord(account);
            }
            return new Record(account, blank(o.type), o.isDynamic, true);
        },
        load(o) {
            account.charge(10, 'load');
            return new Record(account, stored(o.type, o.id), o.isDynamic,
                              false);
        },
        transform(o) {
            account.charge(10, 'transform');
            const pairs = { invoice: ['creditmemo'] };
            if (!(pairs[o.fromType] || []).includes(o.toType)) {
                throw err('INVALID_RCRD_TRANSFORM', 'You cannot transform a '
                          + o.fromType + ' into a ' + o.toType);
            }
            const src = stored(o.fromType, o.fromId);
            const s = blank(o.toType);
            s.fields.entity = src.fields.entity;
            s.fields.currency = src.fields.currency;
            s.fields.createdfrom = src.id;
            s.sublists.item = src.sublists.item.map((l) => {
                const c = clone(l);
                delete c.line;
                c.quantityfulfilled = 0;
                return c;
            });
            return new Record(account, s, o.isDynamic, true);
        }
    };
}

/* the SuiteQL the script runs, and nothing else */
function queryModule(account) {
    const QUERIES = [
        [/^SELECT id FROM transaction WHERE type = \? AND externalid = \?$/,
         ([type, ext]) => Object.keys(SQL_TYPE)
             .filter((t) => SQL_TYPE[t] === type)
             .flatMap((t) => Object.values(account.records[t]))
             .filter((r) => r.fields.externalid === ext)
             .map((r) => ({ id: Number(r.id) }))],
        [/^SELECT id FROM transaction WHERE type = \? AND createdfrom = \?$/,
         ([type, from]) => Object.keys(SQL_TYPE)
             .filter((t) => SQL_TYPE[t] === type)
             .flatMap((t) => Object.values(account.records[t]))
             .filter((r) => String(r.fields.createdfrom) === String(from))
             .map((r) => ({ id: Number(r.id) }))],
        [/^SELECT id FROM customer WHERE LOWER\(email\) = \? ORDER BY id$/,
         ([email]) => Object.keys(account.customers)
             .filter((id) => String(account.customers[id].email || '')
                 .toLowerCase() === email)
             .sort((x, y) => Number(x) - Number(y))
             .map((id) => ({ id: Number(id) }))],
        [/^SELECT id FROM customer WHERE externalid = \?$/,
         ([ext]) => Object.keys(account.customers)
             .filter((id) => account.customers[id].externalid === ext)
             .map((id) => ({ id: Number(id) }))],
        [/^SELECT id, currencyprecision FROM currency WHERE symbol = \?$/,
         ([sym]) => Object.keys(account.currencies)
             .filter((id) => account.currencies[id].symbol === sym)
             .map((id) => ({ id: Number(id), currencyprecision:
                             account.currencies[id].precision }))],
        [/^SELECT currencyprecision FROM currency WHERE id = \?$/,
         ([id]) => account.currencies[String(id)]
             ? [{ currencyprecision: account.currencies[String(id)]
                 .precision }] : []],
        [/^SELECT id, externalid FROM item WHERE externalid IN \(\?(, \?)*\)$/,
         (exts) => Object.values(account.items)
             .filter((i) => exts.includes(i.externalId))
             .map((i) => ({ id: Number(i.id), externalid: i.externalId }))]
    ];
    return {
        runSuiteQL(o) {
            account.charge(10, 'runSuiteQL');
            const sql = o.query.replace(/\s+/g, ' ').trim();
            const args = o.params || [];
            if (!Array.isArray(args) || args.some(
                (x) => !['string', 'number', 'boolean'].includes(typeof x))) {
                throw err('SSS_INVALID_TYPE_ARG', 'params');
            }
            if ((sql.match(/\?/g) || []).length !== args.length) {
                throw err('SSS_SEARCH_ERROR_OCCURRED', 'parameter count');
            }
            for (const [re, run] of QUERIES) {
                if (re.test(sql)) {
                    const rows = run(args);
                    return { asMappedResults: () => clone(rows) };
                }
            }
            throw new Error('ns_mock: a query the mock does not model: '
                            + sql);
        }
    };
}

function modules(account) {
    const log = {};
    ['debug', 'audit', 'error', 'emergency'].forEach((level) => {
        log[level] = (o) => account.logs.push([level, o.title, o.details]);
    });
    return {
        'N/record': recordModule(account),
        'N/query': queryModule(account),
        'N/error': {
            create: (o) => err(o.name, o.message),
            SuiteScriptError: SuiteScriptError
        },
        'N/log': log,
        'N/runtime': {
            getCurrentScript: () => ({
                getParameter: (o) => (o.name in account.params
                                      ? account.params[o.name] : null),
                getRemainingUsage: () => account.units - account.used
            }),
            isFeatureInEffect: (o) =>
                account.features[String(o.feature).toLowerCase()] === true
        }
    };
}

/*
 * The AMD loader: run the script file with a define() that hands it the
 * mocked modules; the script's exports are what define()'s callback
 * returns.
 */
function loadScript(file, account) {
    const mods = modules(account);
    let exported = null;
    const define = (deps, factory) => {
        exported = factory(...deps.map((d) => {
            if (!(d in mods)) {
                throw new Error('ns_mock: no module ' + d);
            }
            return mods[d];
        }));
    };
    const src = fs.readFileSync(file, 'utf8');
    vm.runInNewContext(src, { define: define, JSON: JSON, BigInt: BigInt,
                              Math: Math, Number: Number, String: String,
                              Object: Object, Array: Array, Set: Set,
                              Boolean: Boolean, Error: Error },
                       { filename: path.basename(file) });
    if (!exported) {
        throw new Error('ns_mock: ' + file + ' did not call define()');
    }
    return exported;
}

/*
 * A RESTlet call as NetSuite answers it: 200 with what post() returns, or
 * 400 {"error": {"code", "message"}} for a thrown error (Oracle,
 * "SuiteScript 2.x RESTlet Error Handling").
 */
function callRestlet(entry, body) {
    try {
        const out = entry.post(clone(body));
        return { status: 200,
                 body: typeof out === 'string' ? JSON.parse(out) : out };
    } catch (e) {
        if (!(e instanceof SuiteScriptError)) {
            throw e;
        }
        return { status: 400, body: { error: { code: e.name,
                                               message: e.message } } };
    }
}

module.exports = { Account, loadScript, callRestlet, SuiteScriptError };
