/**
 * Shopify order edits: applies one normalised document (the body the
 * nginx module sends in "mode restlet") to a NetSuite account, with
 * Shopify's tax overriding NetSuite's.
 *
 * The contract is docs/netsuite-simulator.md ("RESTlet"); the simulator
 * (tools/netsuite_sim/restlet.py) plays this script in the project's
 * tests and netsuite/test/ runs the same cases against both.  Deploy
 * steps, parameters and what is unverified: netsuite/README.md.
 *
 * @NApiVersion 2.1
 * @NScriptType Restlet
 * @NModuleScope SameAccount
 */
define(['N/record', 'N/query', 'N/error', 'N/log', 'N/runtime'],
    (record, query, error, log, runtime) => {

        const STATUS = {
            A: 'Pending Approval', B: 'Pending Fulfillment', C: 'Cancelled',
            D: 'Partially Fulfilled',
            E: 'Pending Billing/Partially Fulfilled', F: 'Pending Billing',
            G: 'Billed', H: 'Closed'
        };

        /* Field ids (SuiteScript Records Browser; see netsuite/README.md
         * for which ones are unconfirmed). */
        const F = {
            key: 'custcol_shopify_line_id',
            restock: 'custcol_shopify_restock',
            kind: 'custcol_shopify_line_kind',
            orderId: 'custbody_shopify_order_id',
            updatedAt: 'custbody_shopify_updated_at',
            taxesIncluded: 'custbody_shopify_taxes_included',
            refundId: 'custbody_shopify_refund_id',
            cancelled: 'custbody_shopify_cancelled',
            cancelledAt: 'custbody_shopify_cancelled_at',
            cancelReason: 'custbody_shopify_cancel_reason'
        };

        /* text body fields from the document, when it has them */
        function texts(pairs) {
            const out = {};
            pairs.forEach(([fieldId, v]) => {
                if (typeof v === 'string' && v) {
                    out[fieldId] = v;
                }
            });
            return out;
        }

        function setFields(rec, fields) {
            Object.keys(fields).forEach((fieldId) => {
                rec.setValue({ fieldId: fieldId, value: fields[fieldId] });
            });
        }

        const RATE_SCALE = 8;       /* line rates */
        const TAX_RATE_SCALE = 4;   /* SuiteTax tax details */
        const SHIP_RATE_SCALE = 6;  /* legacy shipping tax rate */
        const SAVE_ATTEMPTS = 3;    /* RCRD_HAS_BEEN_CHANGED */

        const fail = (name, message) =>
            error.create({ name: name, message: message, notifyOff: true });

        const bad = (message) => fail('INVALID_DOCUMENT', message);

        /* ------------------------------------------------------------
         * Exact money: decimal strings to BigInt at a scale and back; a
         * number read from a record is already rounded to its scale.
         */

        const DECIMAL = /^-?\d+(\.\d+)?$/;

        function scaled(text, scale, where) {
            let s = typeof text === 'number' ? String(text) : text;
            if (typeof s !== 'string' || !DECIMAL.test(s.trim())) {
                throw bad(where + ' must be a decimal string, got '
                          + JSON.stringify(text));
            }
            s = s.trim();
            const neg = s[0] === '-';
            if (neg) {
                s = s.slice(1);
            }
            const [int, frac = ''] = s.split('.');
            let digits = frac;
            let extra = 0n;
            if (digits.length > scale) {
                /* half away from zero, as NetSuite rounds */
                extra = digits[scale] >= '5' ? 1n : 0n;
                digits = digits.slice(0, scale);
            }
            let v = BigInt(int + digits.padEnd(scale, '0')) + extra;
            return neg ? -v : v;
        }

        function fromNumber(x, scale) {
            const v = Number(x || 0);
            return BigInt(Math.round(v * Math.pow(10, scale)));
        }

        /* text with at most "scale" decimals, trailing zeros dropped down
         * to "keep" decimals */
        function text(v, scale, keep) {
            const neg = v < 0n;
            let s = (neg ? -v : v).toString().padStart(scale + 1, '0');
            let int = s.slice(0, s.length - scale);
            let frac = s.slice(s.length - scale);
            while (frac.length > keep && frac.endsWith('0')) {
                frac = frac.slice(0, -1);
            }
            s = frac.length ? int + '.' + frac : int;
            return (neg && /[1-9]/.test(s) ? '-' : '') + s;
        }

        const num = (v, scale) => Number(text(v, scale, 0));

        /* n / d half away from zero (BigInt) */
        function div(n, d) {
            const q = n / d;
            const r = n % d;
            const twice = (r < 0n ? -r : r) * 2n;
            if (twice >= (d < 0n ? -d : d)) {
                return q + ((n < 0n) !== (d < 0n) ? -1n : 1n);
            }
            return q;
        }

        const pow10 = (n) => 10n ** BigInt(n);

        /* a rate with "scale" decimals: part x 100 / whole */
        const percent = (part, whole, scale) =>
            whole === 0n ? 0n : div(part * 100n * pow10(scale), whole);

        /* ------------------------------------------------------------
         * The account
         */

        function params() {
            const script = runtime.getCurrentScript();
            const p = (name) => script.getParameter({ name: name }) || null;
            let mode = p('custscript_oe_tax_mode') || 'auto';
            if (mode === 'auto') {
                /* SuiteTax's feature id */
                mode = runtime.isFeatureInEffect({
                    feature: 'tax_overhauling'
                }) ? 'suitetax' : 'legacy';
            }
            return {
                taxMode: mode,
                taxCode: p('custscript_oe_tax_code'),
                taxType: p('custscript_oe_tax_type'),
                shippingTaxCode: p('custscript_oe_shipping_tax_code'),
                refundFlow: p('custscript_oe_refund_flow') || 'standalone',
                customer: p('custscript_oe_default_customer')
            };
        }

        function one(sql, args) {
            const rows = query.runSuiteQL({ query: sql, params: args })
                .asMappedResults();
            return rows.length ? rows[0] : null;
        }

        const TRAN = { salesorder: 'SalesOrd', creditmemo: 'CustCred',
                       invoice: 'CustInvc' };

        function findTransaction(type, externalId) {
            const row = one('SELECT id FROM transaction WHERE type = ? AND '
                            + 'externalid = ?', [TRAN[type], externalId]);
            return row ? String(row.id) : null;
        }

        function currency(code) {
            if (code === null || code === undefined) {
                return null;
            }
            const row = one('SELECT id, currencyprecision FROM currency '
                            + 'WHERE symbol = ?', [String(code)]);
            if (!row) {
                throw bad('currency ' + code + ' is not set up in this '
                          + 'account');
            }
            return { id: String(row.id),
                     precision: Number(row.currencyprecision) };
        }

        function precisionOf(currencyId) {
            const row = one('SELECT currencyprecision FROM currency WHERE '
                            + 'id = ?', [currencyId]);
            return row ? Number(row.currencyprecision) : 2;
        }

        /* external id -> internal id, filled by resolveItems() */
        const items = {};
        const ITEMS_PER_QUERY = 500;

        /*
         * Every item the documents name by external id, looked up before
         * anything is saved: one query per ITEMS_PER_QUERY items (10
         * units each), not one per line, and an unknown item refuses the
         * whole body.
         */
        function resolveItems(plans) {
            const wanted = [];
            Object.values(plans).forEach((plan) => {
                (plan.lines || []).forEach((l) => {
                    const ext = l.item.externalId;
                    if (ext !== undefined && !(ext in items)
                        && !wanted.includes(ext)) {
                        wanted.push(ext);
                    }
                });
            });
            for (let i = 0; i < wanted.length; i += ITEMS_PER_QUERY) {
                const chunk = wanted.slice(i, i + ITEMS_PER_QUERY);
                query.runSuiteQL({
                    query: 'SELECT id, externalid FROM item WHERE '
                           + 'externalid IN ('
                           + chunk.map(() => '?').join(', ') + ')',
                    params: chunk
                }).asMappedResults().forEach((row) => {
                    items[row.externalid] = String(row.id);
                });
            }
            const missing = wanted.filter((ext) => !(ext in items));
            if (missing.length) {
                throw bad('no item with external id ' + missing.join(', '));
            }
        }

        const itemId = (ref) => ref.id !== undefined ? ref.id
                                                     : items[ref.externalId];

        /* ------------------------------------------------------------
         * The documents, checked before anything is saved
         */

        function reference(v, where) {
            if ((typeof v === 'string' && v) || typeof v === 'number') {
                return { id: String(v) };
            }
            if (v && typeof v === 'object' && (v.id || v.externalId)) {
                return v.id ? { id: String(v.id) }
                            : { externalId: String(v.externalId) };
            }
            throw bad(where + ' is not a reference');
        }

        function quantity(v, where) {
            if (v === undefined || v === null) {
                return 1n;
            }
            if ((typeof v === 'number' && Number.isInteger(v) && v >= 0)
                || (typeof v === 'string' && /^\d+$/.test(v))) {
                return BigInt(v);
            }
            throw bad(where + ' must be a whole number, got '
                      + JSON.stringify(v));
        }

        function lines(list, p, incl, memo) {
            if (!Array.isArray(list)) {
                throw bad('lines must be an array');
            }
            return list.map((line, i) => {
                const where = 'lines[' + i + ']';
                if (!line || typeof line !== 'object') {
                    throw bad(where + ' must be an object');
                }
                let item;
                if (line.item !== undefined && line.item !== null) {
                    item = reference(line.item, where + '.item');
                } else if (line.sku) {
                    item = { externalId: String(line.sku) };
                } else if (memo && line.kind) {
                    item = { externalId: 'shopify-' + line.kind };
                } else {
                    throw bad(where + ' has no item or sku');
                }
                const qty = quantity(line.quantity, where + '.quantity');
                const tax = scaled(line.tax === undefined || line.tax === null
                                   ? '0' : line.tax, p, where + '.tax');
                const gross = line.amount !== undefined
                              && line.amount !== null
                              ? line.amount : line.subtotal;
                let amount;
                if (line.net !== undefined && line.net !== null) {
                    amount = scaled(line.net, p, where + '.net');
                } else if (gross !== undefined && gross !== null) {
                    amount = scaled(gross, p, where + '.amount')
                             - scaled(line.discount || '0', p,
                                      where + '.discount');
                } else if (line.rate !== undefined && line.rate !== null) {
                    amount = scaled(line.rate, p, where + '.rate') * qty;
                } else {
                    throw bad(where + ' has no amount');
                }
                if (incl) {
                    amount -= tax;
                }
                /* rate x quantity = amount: the discount stays */
                const rate = qty === 0n ? amount * pow10(RATE_SCALE - p)
                             : div(amount * pow10(RATE_SCALE - p), qty);
                const out = { item: item, quantity: qty, amount: amount,
                              rate: rate, tax: tax };
                if (line.key !== undefined && line.key !== null) {
                    out.key = String(line.key);
                }
                if (line.description) {
                    out.description = String(line.description);
                }
                if (memo && line.restock !== undefined
                    && line.restock !== null) {
                    out.restock = Boolean(line.restock);
                }
                if (memo && line.kind) {
                    out.kind = String(line.kind);
                }
                return out;
            });
        }

        function header(doc, name) {
            if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
                throw bad(name + ' must be an object');
            }
            if (typeof doc.external_id !== 'string' || !doc.external_id) {
                throw bad(name + '.external_id is required');
            }
            const cur = currency(doc.currency);
            const customer = doc.customer !== undefined ? doc.customer
                                                        : doc.entity;
            return {
                ext: doc.external_id,
                currency: cur,
                precision: cur ? cur.precision : 2,
                entity: customer !== undefined && customer !== null
                        ? reference(customer, 'customer') : null,
                customer: doc.customer,
                incl: doc.taxes_included === true
            };
        }

        function planSalesOrder(doc, source) {
            const h = header(doc, 'sales_order');
            /* what the module's REST mode writes too (normalised-schema.md,
             * "Field names"), so searches and refunds read the same */
            h.fields = texts([['otherrefnum', source.order_name],
                              [F.orderId, source.order_id],
                              [F.updatedAt, source.updated_at]]);
            if (typeof doc.taxes_included === 'boolean') {
                h.fields[F.taxesIncluded] = doc.taxes_included;
            }
            const p = h.precision;
            h.lines = lines(doc.lines, p, h.incl, false)
                .concat(lines(doc.charges || [], p, false, false));
            const totals = doc.totals || {};
            if (typeof totals !== 'object') {
                throw bad('totals must be an object');
            }
            h.totals = {};
            ['total', 'tax', 'shipping'].forEach((k) => {
                if (totals[k] !== undefined && totals[k] !== null) {
                    h.totals[k] = scaled(totals[k], p, 'totals.' + k);
                }
            });
            const shipping = doc.shipping || {};
            if (typeof shipping !== 'object') {
                throw bad('shipping must be an object');
            }
            h.ship = { tax: scaled(shipping.tax || '0', p, 'shipping.tax') };
            if (shipping.cost !== undefined && shipping.cost !== null) {
                h.ship.cost = scaled(shipping.cost, p, 'shipping.cost');
                if (h.incl) {
                    h.ship.cost -= h.ship.tax;
                }
            } else if (h.ship.tax !== 0n) {
                throw bad('shipping.tax without a cost');
            }
            if (h.ship.tax !== 0n && !h.ship.cost) {
                throw bad('shipping tax on free shipping cannot be booked');
            }
            if (h.totals.shipping !== undefined && h.incl) {
                h.totals.shipping -= h.ship.tax;
            }
            if (shipping.address !== undefined && shipping.address !== null) {
                if (typeof shipping.address !== 'object') {
                    throw bad('shipping.address must be an object');
                }
                h.address = address(shipping.address);
            }
            return h;
        }

        function planCreditMemo(doc, source) {
            const h = header(doc, 'credit_memo');
            h.fields = texts([['memo', doc.note],
                              [F.refundId, doc.refund_id],
                              [F.orderId, source.order_id]]);
            h.lines = lines(doc.lines, h.precision, h.incl, true);
            h.total = doc.total !== undefined && doc.total !== null
                      ? scaled(doc.total, h.precision, 'credit_memo.total')
                      : null;
            h.soExt = doc.sales_order_external_id
                      ? String(doc.sales_order_external_id) : null;
            return h;
        }

        const ADDRESS = { address1: 'addr1', address2: 'addr2',
                          city: 'city', province_code: 'state',
                          province: 'state', zip: 'zip',
                          country_code: 'country', phone: 'addrphone',
                          company: 'attention', name: 'addressee' };

        function address(a) {
            const out = {};
            Object.keys(ADDRESS).forEach((k) => {
                const v = a[k];
                if (v !== undefined && v !== null && v !== ''
                    && !(ADDRESS[k] in out)) {
                    out[ADDRESS[k]] = String(v);
                }
            });
            if (!out.addressee && (a.first_name || a.last_name)) {
                out.addressee = [a.first_name, a.last_name]
                    .filter((x) => x).join(' ');
            }
            return out;
        }

        /* ------------------------------------------------------------
         * Writing a record (dynamic mode: sourcing runs as in the UI, so
         * the order of setValue calls matters: item, quantity, rate,
         * amount, then tax code (which sources a rate), then the tax
         * amount, last, so that it stands)
         */

        function setLine(rec, sublist, values) {
            Object.keys(values).forEach((fieldId) => {
                rec.setCurrentSublistValue({ sublistId: sublist,
                                             fieldId: fieldId,
                                             value: values[fieldId] });
            });
            rec.commitLine({ sublistId: sublist });
        }

        function lineValues(l, p, cfg, memo) {
            const v = {
                item: itemId(l.item),
                quantity: Number(l.quantity),
                rate: num(l.rate, RATE_SCALE),
                amount: num(l.amount, p)
            };
            if (l.key !== undefined) {
                v[F.key] = l.key;
            }
            if (l.description) {
                v.description = l.description;
            }
            if (memo && l.restock !== undefined) {
                v[F.restock] = l.restock;
            }
            if (memo && l.kind) {
                v[F.kind] = l.kind;
            }
            if (cfg.taxMode === 'suitetax') {
                v.taxdetailsreference = l.ref;
            } else {
                if (cfg.taxCode) {
                    v.taxcode = cfg.taxCode;
                }
                v.tax1amt = num(l.tax, p);
            }
            return v;
        }

        /*
         * The item sublist, keyed by the Shopify line id: a matched line
         * is updated in place (its "line", commitments and links stay),
         * the record's lines left out are removed, the rest are new.
         */
        function writeLines(rec, plan, cfg, memo) {
            const p = plan.precision;
            const byKey = {};
            const count = rec.getLineCount({ sublistId: 'item' });
            for (let i = 0; i < count; i++) {
                const k = rec.getSublistValue({ sublistId: 'item',
                                                fieldId: F.key, line: i });
                if (k && !(k in byKey)) {
                    byKey[k] = i;
                }
            }
            const kept = {};
            plan.lines.forEach((l, i) => {
                l.ref = l.key !== undefined ? l.key : 'L' + i;
                if (l.key !== undefined && l.key in byKey
                    && !(byKey[l.key] in kept)) {
                    kept[byKey[l.key]] = l;
                }
            });
            /* from the end, so that indexes stay valid */
            for (let i = count - 1; i >= 0; i--) {
                if (!(i in kept)) {
                    rec.removeLine({ sublistId: 'item', line: i });
                }
            }
            let index = 0;
            for (let i = 0; i < count; i++) {
                if (i in kept) {
                    rec.selectLine({ sublistId: 'item', line: index++ });
                    const v = lineValues(kept[i], p, cfg, memo);
                    /* the same item set again would source the line's
                     * defaults afresh, as in the UI: leave it */
                    if (String(rec.getCurrentSublistValue({
                        sublistId: 'item', fieldId: 'item' })) === v.item) {
                        delete v.item;
                    }
                    setLine(rec, 'item', v);
                }
            }
            const reused = new Set(Object.values(kept));
            plan.lines.forEach((l) => {
                if (!reused.has(l)) {
                    rec.selectNewLine({ sublistId: 'item' });
                    setLine(rec, 'item', lineValues(l, p, cfg, memo));
                }
            });
        }

        /*
         * Shopify's tax over NetSuite's.  SuiteTax: the override flag and
         * one tax details line per taxed item line, joined by
         * taxdetailsreference, shipping's under SHIPPING.  Legacy tax:
         * the line amounts are set in writeLines(); shipping's as a rate.
         */
        function writeTax(rec, plan, cfg, ship) {
            const p = plan.precision;
            if (cfg.taxMode === 'suitetax') {
                if (!cfg.taxCode || !cfg.taxType) {
                    throw fail('MISSING_PARAMETER', 'SuiteTax needs the '
                               + 'custscript_oe_tax_code and '
                               + 'custscript_oe_tax_type parameters');
                }
                rec.setValue({ fieldId: 'taxdetailsoverride', value: true });
                for (let i = rec.getLineCount({ sublistId: 'taxdetails' })
                     - 1; i >= 0; i--) {
                    rec.removeLine({ sublistId: 'taxdetails', line: i });
                }
                const detail = (ref, basis, tax) => {
                    rec.selectNewLine({ sublistId: 'taxdetails' });
                    setLine(rec, 'taxdetails', {
                        taxdetailsreference: ref,
                        taxtype: cfg.taxType,
                        taxcode: cfg.taxCode,
                        taxbasis: num(basis, p),
                        taxrate: num(percent(tax, basis, TAX_RATE_SCALE),
                                     TAX_RATE_SCALE),
                        taxamount: num(tax, p)
                    });
                };
                plan.lines.forEach((l) => {
                    if (l.tax !== 0n) {
                        detail(l.ref, l.amount, l.tax);
                    }
                });
                if (ship && ship.tax !== 0n) {
                    detail('SHIPPING', ship.cost, ship.tax);
                }
                return;
            }
            if (ship) {
                rec.setValue({ fieldId: 'shippingtax1rate',
                               value: ship.tax === 0n ? 0
                                      : num(percent(ship.tax, ship.cost,
                                                    SHIP_RATE_SCALE),
                                            SHIP_RATE_SCALE) });
                const code = cfg.shippingTaxCode || cfg.taxCode;
                if (ship.tax !== 0n && code) {
                    rec.setValue({ fieldId: 'shippingtaxcode', value: code });
                }
            }
        }

        function writeAddress(rec, a) {
            const sub = rec.getSubrecord({ fieldId: 'shippingaddress' });
            /* the country first: it chooses the address form */
            if (a.country) {
                sub.setValue({ fieldId: 'country', value: a.country });
            }
            Object.keys(a).forEach((k) => {
                if (k !== 'country') {
                    sub.setValue({ fieldId: k, value: a[k] });
                }
            });
        }

        /* a save another user or script beat: load afresh and redo */
        function saving(build) {
            for (let attempt = 1; ; attempt++) {
                try {
                    return build();
                } catch (e) {
                    if (e.name !== 'RCRD_HAS_BEEN_CHANGED'
                        || attempt >= SAVE_ATTEMPTS) {
                        throw e;
                    }
                    log.audit({ title: 'record changed meanwhile',
                                details: 'attempt ' + attempt });
                }
            }
        }

        /* ------------------------------------------------------------
         * What the caller reads back: NetSuite's own values
         */

        function summary(type, id, action, plan, checks, cfg) {
            const rec = record.load({ type: type, id: id });
            const p = plan.precision;
            const money = (v) => text(fromNumber(v, p), p, p);
            const perRef = {};
            if (cfg.taxMode === 'suitetax') {
                const n = rec.getLineCount({ sublistId: 'taxdetails' });
                for (let i = 0; i < n; i++) {
                    const g = (f) => rec.getSublistValue({
                        sublistId: 'taxdetails', fieldId: f, line: i });
                    const ref = g('taxdetailsreference');
                    perRef[ref] = (perRef[ref] || 0n)
                                  + fromNumber(g('taxamount'), p);
                }
            }
            const out = {
                id: String(id),
                externalId: rec.getValue({ fieldId: 'externalid' }),
                action: action,
                totals: {},
                lines: []
            };
            [['subtotal', 'subtotal'], ['discountTotal', 'discounttotal'],
             ['taxTotal', 'taxtotal'], ['total', 'total']]
                .forEach(([name, f]) => {
                    out.totals[name] = money(rec.getValue({ fieldId: f }));
                });
            const shipping = rec.getValue({ fieldId: 'shippingcost' });
            if (shipping !== null && shipping !== ''
                && shipping !== undefined) {
                out.totals.shippingCost = money(shipping);
            }
            const n = rec.getLineCount({ sublistId: 'item' });
            for (let i = 0; i < n; i++) {
                const g = (f) => rec.getSublistValue({ sublistId: 'item',
                                                       fieldId: f,
                                                       line: i });
                const tax = cfg.taxMode === 'suitetax'
                            ? perRef[g('taxdetailsreference')] || 0n
                            : fromNumber(g('tax1amt'), p);
                const key = g(F.key);
                out.lines.push({
                    line: Number(g('line')),
                    item: String(g('item')),
                    key: key === '' || key === undefined ? null : key,
                    quantity: String(g('quantity')),
                    rate: text(fromNumber(g('rate'), RATE_SCALE),
                               RATE_SCALE, p),
                    amount: money(g('amount')),
                    tax1Amt: text(tax, p, p),
                    isClosed: g('isclosed') === true
                });
            }
            out.lines.sort((a, b) => a.line - b.line);
            if (type === record.Type.SALES_ORDER) {
                const letter = rec.getValue({ fieldId: 'orderstatus' });
                out.orderStatus = { id: letter, refName: STATUS[letter] };
            }
            const have = { total: scaled(out.totals.total, p, 'total'),
                           tax: scaled(out.totals.taxTotal, p, 'tax'),
                           shipping: scaled(out.totals.shippingCost || '0',
                                            p, 'shipping') };
            out.discrepancies = checks
                .filter((name) => plan.want[name] !== have[name])
                .map((name) => ({ field: name,
                                  document: text(plan.want[name], p, p),
                                  netsuite: text(have[name], p, p) }));
            return out;
        }

        /* ------------------------------------------------------------
         * The three documents
         */

        function orderStatus(id) {
            const rec = record.load({ type: record.Type.SALES_ORDER,
                                      id: id });
            return rec.getValue({ fieldId: 'orderstatus' });
        }

        /*
         * A new order's customer (NetSuite requires entity): by internal
         * id; by external id, the module's shopify-<shop>-customer-<id>,
         * then by email with options.match "email", made when absent
         * with options.customers "create"; an order with
         * none takes options.guest, else custscript_oe_default_customer.
         */
        function customerOf(plan, opts, cfg) {
            const ref = plan.entity;
            if (!ref) {
                const guest = opts.guest || cfg.customer;
                if (!guest) {
                    throw fail('MISSING_PARAMETER', 'the document names no '
                               + 'customer and custscript_oe_default_'
                               + 'customer is not set');
                }
                return guest;
            }
            if (ref.id) {
                return ref.id;
            }
            const found = () => one('SELECT id FROM customer WHERE '
                                    + 'externalid = ?', [ref.externalId]);
            let row = found();
            if (row) {
                return String(row.id);
            }
            const email = plan.customer && plan.customer.email;
            if (opts.match === 'email' && typeof email === 'string'
                && email) {
                /*
                 * one another system made, without the external id; any
                 * case (SuiteQL's = is not documented as case-blind), the
                 * parameter ASCII-lowered as the module's query is
                 */
                if (/[\x00-\x1f\x7f]/.test(email) || email.length > 254) {
                    throw fail('CUSTOMER_MISSING', 'the order\'s email '
                               + 'cannot be an address; no customer is '
                               + 'looked for or made by it');
                }
                const rows = query.runSuiteQL({
                    query: 'SELECT id FROM customer WHERE LOWER(email) = ? '
                           + 'ORDER BY id',
                    params: [email.replace(/[A-Z]/g,
                                           (ch) => ch.toLowerCase())]
                }).asMappedResults();
                if (rows.length > 1) {
                    throw fail('CUSTOMER_AMBIGUOUS', 'several customers '
                               + 'have the email ' + email);
                }
                if (rows.length === 1) {
                    return String(rows[0].id);
                }
            }
            if (opts.customers !== 'create') {
                throw fail('CUSTOMER_MISSING', 'no customer with external '
                           + 'id ' + ref.externalId + ' (customers create '
                           + 'makes one)');
            }
            try {
                return String(makeCustomer(ref.externalId,
                                           plan.customer || {}, opts));
            } catch (e) {
                /* made meanwhile by another call: that one */
                row = e.name === 'DUP_RCRD' ? found() : null;
                if (row) {
                    return String(row.id);
                }
                throw fail('CUSTOMER_REJECTED', 'NetSuite refused customer '
                           + ref.externalId + ': ' + e.message);
            }
        }

        /*
         * Oracle's createCustomer: isPerson, a person's first and last
         * name or a company's name, and in OneWorld the subsidiary.  The
         * isperson values 'T'/'F' are UNCONFIRMED in SuiteScript 2.1.
         */
        function makeCustomer(ext, c, opts) {
            const str = (v) => (typeof v === 'string' && v ? v : null);
            const rec = record.create({ type: record.Type.CUSTOMER,
                                        isDynamic: true });
            const person = !str(c.company) && str(c.first_name)
                           && str(c.last_name);
            rec.setValue({ fieldId: 'externalid', value: ext });
            rec.setValue({ fieldId: 'isperson', value: person ? 'T' : 'F' });
            if (person) {
                rec.setValue({ fieldId: 'firstname', value: c.first_name });
                rec.setValue({ fieldId: 'lastname', value: c.last_name });
            } else {
                rec.setValue({ fieldId: 'companyname',
                               value: str(c.company) || str(c.last_name)
                                      || str(c.first_name) || str(c.email)
                                      || 'Shopify customer '
                                         + (str(c.shopify_id) || '') });
            }
            ['email', 'phone'].filter((k) => str(c[k])).forEach((k) => {
                rec.setValue({ fieldId: k, value: c[k] });
            });
            if (opts.subsidiary) {
                rec.setValue({ fieldId: 'subsidiary',
                               value: opts.subsidiary });
            }
            return rec.save();
        }

        function salesOrder(plan, opts, cfg) {
            const id = findTransaction('salesorder', plan.ext);
            if (id === null && opts.onMissing !== 'create') {
                throw fail('RCRD_DSNT_EXIST', 'salesOrder with externalId '
                           + plan.ext + ' does not exist');
            }
            const saved = saving(() => {
                let rec;
                if (id !== null) {
                    rec = record.load({ type: record.Type.SALES_ORDER,
                                        id: id, isDynamic: true });
                    const letter = rec.getValue({ fieldId: 'orderstatus' });
                    if (letter > opts.lockAfter) {
                        throw fail('ORDER_LOCKED', 'Sales Order ' + plan.ext
                                   + ' is ' + STATUS[letter] + ' ('
                                   + letter + '), past ' + opts.lockAfter
                                   + '; not changed');
                    }
                } else {
                    rec = record.create({ type: record.Type.SALES_ORDER,
                                          isDynamic: true });
                    const entity = customerOf(plan, opts, cfg);
                    /* the customer first: it sources the rest */
                    rec.setValue({ fieldId: 'entity', value: entity });
                    rec.setValue({ fieldId: 'externalid', value: plan.ext });
                    if (plan.currency) {
                        rec.setValue({ fieldId: 'currency',
                                       value: plan.currency.id });
                    }
                }
                setFields(rec, plan.fields);
                if (plan.address) {
                    writeAddress(rec, plan.address);
                }
                writeLines(rec, plan, cfg, false);
                if (plan.ship.cost !== undefined) {
                    rec.setValue({ fieldId: 'shippingcost',
                                   value: num(plan.ship.cost,
                                              plan.precision) });
                }
                writeTax(rec, plan, cfg, plan.ship);
                return rec.save();
            });
            plan.want = plan.totals;
            return summary(record.Type.SALES_ORDER, saved,
                           id === null ? 'created' : 'updated', plan,
                           ['total', 'tax', 'shipping']
                               .filter((k) => k in plan.totals), cfg);
        }

        function creditMemo(plan, cfg) {
            const so = plan.soExt ? findTransaction('salesorder', plan.soExt)
                                  : null;
            const id = findTransaction('creditmemo', plan.ext);
            let action = id !== null ? 'updated' : 'created';
            const saved = saving(() => {
                let rec;
                if (id !== null) {
                    /* a retry: the same memo, its lines replaced */
                    rec = record.load({ type: record.Type.CREDIT_MEMO,
                                        id: id, isDynamic: true });
                } else {
                    const inv = so !== null && cfg.refundFlow === 'invoice'
                        ? one('SELECT id FROM transaction WHERE type = ? '
                              + 'AND createdfrom = ?', ['CustInvc', so])
                        : null;
                    if (inv) {
                        rec = record.transform({
                            fromType: record.Type.INVOICE,
                            fromId: String(inv.id),
                            toType: record.Type.CREDIT_MEMO,
                            isDynamic: true });
                        action = 'created_from_invoice';
                    } else {
                        rec = record.create({ type: record.Type.CREDIT_MEMO,
                                              isDynamic: true });
                        let entity = plan.entity ? plan.entity.id : null;
                        let cur = plan.currency ? plan.currency.id : null;
                        if (so !== null) {
                            const order = record.load({
                                type: record.Type.SALES_ORDER, id: so });
                            entity = entity
                                || order.getValue({ fieldId: 'entity' });
                            cur = cur
                                || order.getValue({ fieldId: 'currency' });
                        }
                        rec.setValue({ fieldId: 'entity',
                                       value: entity || cfg.customer });
                        if (cur) {
                            rec.setValue({ fieldId: 'currency', value: cur });
                        }
                        if (so !== null) {
                            rec.setValue({ fieldId: 'createdfrom',
                                           value: so });
                        }
                    }
                    rec.setValue({ fieldId: 'externalid', value: plan.ext });
                }
                setFields(rec, plan.fields);
                if (!plan.currency) {
                    plan.precision = precisionOf(
                        rec.getValue({ fieldId: 'currency' }));
                }
                writeLines(rec, { lines: plan.lines,
                                  precision: plan.precision }, cfg, true);
                writeTax(rec, plan, cfg, null);
                return rec.save();
            });
            plan.want = { total: plan.total };
            return summary(record.Type.CREDIT_MEMO, saved, action, plan,
                           plan.total === null ? [] : ['total'], cfg);
        }

        /*
         * Closing every line is how an approved order is cancelled
         * (Oracle documents no cancel action); the order shows Closed.
         */
        function cancellation(doc, opts) {
            const id = findTransaction('salesorder', doc.external_id);
            if (id === null) {
                throw fail('RCRD_DSNT_EXIST', 'salesOrder with externalId '
                           + doc.external_id + ' does not exist');
            }
            const answer = (action, letter) => ({
                id: id, externalId: doc.external_id, action: action,
                orderStatus: { id: letter, refName: STATUS[letter] } });
            let letter = orderStatus(id);
            if (letter === 'C' || letter === 'H') {
                return answer('unchanged', letter);
            }
            if (letter > opts.lockAfter) {
                throw fail('ORDER_LOCKED', 'Sales Order ' + doc.external_id
                           + ' is ' + STATUS[letter] + ' (' + letter
                           + '), past ' + opts.lockAfter + '; not cancelled');
            }
            saving(() => {
                const rec = record.load({ type: record.Type.SALES_ORDER,
                                          id: id, isDynamic: true });
                const n = rec.getLineCount({ sublistId: 'item' });
                for (let i = 0; i < n; i++) {
                    rec.selectLine({ sublistId: 'item', line: i });
                    setLine(rec, 'item', { isclosed: true });
                }
                if (doc.reason) {
                    rec.setValue({ fieldId: 'memo', value:
                                   'Cancelled in Shopify: ' + doc.reason });
                }
                rec.setValue({ fieldId: F.cancelled, value: true });
                setFields(rec, texts([[F.cancelledAt, doc.cancelled_at],
                                      [F.cancelReason, doc.reason]]));
                return rec.save();
            });
            return answer('cancelled', orderStatus(id));
        }

        /* ------------------------------------------------------------ */

        function post(body) {
            if (typeof body === 'string') {
                try {
                    body = JSON.parse(body);
                } catch (e) {
                    throw fail('SYNTAX_ERROR', String(e.message));
                }
            }
            if (!body || typeof body !== 'object' || Array.isArray(body)) {
                throw bad('the body must be a JSON object');
            }
            const present = (k) => body[k] !== undefined && body[k] !== null;
            if (!['sales_order', 'credit_memo', 'cancellation']
                .some(present)) {
                throw bad('the body holds none of sales_order, credit_memo, '
                          + 'cancellation');
            }
            const o = body.options || {};
            if (typeof o !== 'object' || Array.isArray(o)) {
                throw bad('options must be an object');
            }
            const opts = { onMissing: o.on_missing || 'error',
                           lockAfter: o.lock_after || 'B',
                           customers: o.customers || 'find',
                           match: o.match || 'external_id',
                           guest: o.guest || null,
                           subsidiary: o.subsidiary || null };
            const id = (v) => v === null
                              || (typeof v === 'string' && /^\d+$/.test(v));
            if (!['error', 'create'].includes(opts.onMissing)
                || !(opts.lockAfter in STATUS)
                || !['find', 'create'].includes(opts.customers)
                || !['external_id', 'email'].includes(opts.match)
                || !id(opts.guest) || !id(opts.subsidiary)
                || (o.refund_flow !== undefined
                    && !['standalone', 'invoice'].includes(o.refund_flow))) {
                throw bad('bad options');
            }
            const cfg = params();
            /* the module's refund_flow, else the script parameter */
            if (o.refund_flow !== undefined) {
                cfg.refundFlow = o.refund_flow;
            }

            /* every document is checked before anything is saved */
            const source = body.source && typeof body.source === 'object'
                           ? body.source : {};
            const plans = {};
            if (present('sales_order')) {
                plans.sales_order = planSalesOrder(body.sales_order, source);
            }
            if (present('credit_memo')) {
                plans.credit_memo = planCreditMemo(body.credit_memo, source);
            }
            if (present('cancellation')) {
                const c = body.cancellation;
                if (!c || typeof c !== 'object'
                    || typeof c.external_id !== 'string' || !c.external_id) {
                    throw bad('cancellation.external_id is required');
                }
                plans.cancellation = c;
            }
            resolveItems(plans);

            const results = {};
            if (plans.sales_order) {
                results.sales_order = salesOrder(plans.sales_order, opts,
                                                 cfg);
            }
            if (plans.credit_memo) {
                results.credit_memo = creditMemo(plans.credit_memo, cfg);
            }
            if (plans.cancellation) {
                results.cancellation = cancellation(plans.cancellation,
                                                    opts);
            }
            log.audit({ title: 'order edit applied',
                        details: JSON.stringify(body.source || {}) });
            return JSON.stringify({ ok: true, results: results });
        }

        return { post: post };
    });
