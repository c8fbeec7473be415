/*
 * The operations console: plain JavaScript, no library, nothing fetched
 * from anywhere but this location. It reads the module's JSON (status,
 * history, exceptions) every few seconds and, when actions are on, posts
 * retry and resolve with the page's token.
 */
'use strict';

(function () {

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') : '';
  }

  var BASE = meta('oe-base');
  var TOKEN = meta('oe-token');
  var ACTIONS = meta('oe-actions') === 'on';
  var USER = meta('oe-user');
  var REFRESH_MS = 10000;

  /*
   * Every reason the module parks a webhook with (the dispatcher's and
   * the normaliser's; docs/runbook.md says the same at length). what:
   * what happened; customer, warehouse: what they see; netsuite: what to
   * do there; choice: retry or resolve.
   */
  var FIX_DATA = 'Fix the data in Shopify (or the store\'s settings) and ' +
    'let Shopify send the order again, or enter the change in NetSuite ' +
    'by hand and Resolve. Ask the nginx team if it keeps happening.';
  var NOT_APPLIED_CUSTOMER = 'Nothing: the customer sees the change in ' +
    'Shopify (their order page, emails) as usual.';
  var OLD_ORDER_WAREHOUSE = 'The order as it was before this change: ' +
    'NetSuite was not updated.';

  var REASONS = {
    fulfilment_lock: {
      title: 'Changed after the warehouse started on it',
      what: 'The order was changed in Shopify after NetSuite had moved it ' +
        'past the point where edits are applied safely (it is being picked, ' +
        'packed, shipped or billed). The module did not touch it, so the ' +
        'warehouse does not work from an order that changes under it.',
      customer: 'The changed order in Shopify. What they receive is what ' +
        'the warehouse ships: the order before the change, unless someone ' +
        'acts.',
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Open the Sales Order and check its status and ' +
        'fulfilments. If the shipment can still change, edit the lines by ' +
        'hand to match "After" below (or ask the warehouse). If it has ' +
        'shipped, arrange the difference with the customer (a return, a ' +
        'refund in Shopify, a second shipment).',
      choice: 'Resolve once NetSuite is right. Retry only if the order was ' +
        'moved back to Pending Fulfillment: it will then be applied.'
    },
    netsuite_rejected: {
      title: 'NetSuite refused the change',
      what: 'NetSuite answered that the record is not valid (a required ' +
        'field, a closed period, an inactive item, a permission, a custom ' +
        'field that does not exist). Sending it again unchanged would be ' +
        'refused again.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Read NetSuite\'s own words below; fix what it names (make ' +
        'the item active, open the period, give the integration role the ' +
        'permission, create the custom field).',
      choice: 'Retry after fixing what NetSuite named. Resolve if you ' +
        'applied the change by hand instead.'
    },
    discrepancy: {
      title: 'NetSuite kept something different',
      what: 'The change was written, but reading the order back showed ' +
        'NetSuite holding other lines, amounts or totals than were sent: a ' +
        'script or workflow in NetSuite changed it while saving, or its tax ' +
        'differs from Shopify\'s.',
      customer: 'The order in Shopify; the invoice from NetSuite may show ' +
        'other amounts.',
      warehouse: 'The order as NetSuite saved it, which may differ from ' +
        'Shopify.',
      netsuite: 'Compare the Sales Order with the values in NetSuite\'s ' +
        'words below; correct it, and find the script or workflow that ' +
        'changes it on save.',
      choice: 'Resolve once the order is right. Retry only after the ' +
        'script or workflow was fixed: the same write would be changed ' +
        'again.'
    },
    order_missing: {
      title: 'The order is not in NetSuite',
      what: 'NetSuite has no Sales Order for this Shopify order (by its ' +
        'external id, or the Shopify order id field), and it did not ' +
        'appear in the time allowed.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: 'No order at all, or an order created by another ' +
        'connector under another id.',
      netsuite: 'Find the order (search by the Shopify order number). If ' +
        'it is missing, create it or have the connector that creates ' +
        'orders import it; if it exists under another id, tell the nginx ' +
        'team (the lookup setting).',
      choice: 'Retry once the order exists in NetSuite. Resolve if the ' +
        'order should never be in NetSuite.'
    },
    report_mismatch: {
      title: 'The daily report found NetSuite differing from Shopify',
      what: 'The mismatch report compared this order with NetSuite: its ' +
        'total, tax or lines differ from what was applied (changed in ' +
        'NetSuite by hand or by a script), its refund has no Credit Memo, ' +
        'or its Sales Order is missing. The differences are below. The ' +
        'change held here is Shopify\'s order (or refund) as the report ' +
        'read it.',
      customer: 'The order in Shopify; the invoice from NetSuite may show ' +
        'other amounts.',
      warehouse: 'The order as NetSuite holds it, which differs from ' +
        'Shopify.',
      netsuite: 'Check that Shopify is right (it usually is: the customer ' +
        'sees it). If the Sales Order is missing, have it imported first.',
      choice: 'Retry writes Shopify\'s order over the Sales Order (or ' +
        'makes the Credit Memo), even though NetSuite holds this change ' +
        'already. Resolve if NetSuite is right as it is.'
    },
    order_ambiguous: {
      title: 'More than one NetSuite order matches',
      what: 'Several Sales Orders carry this Shopify order id; the module ' +
        'will not guess which one to change.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: 'Two orders for one purchase: a risk of shipping twice.',
      netsuite: 'Find the duplicates, close or delete the wrong one, so ' +
        'that one order remains.',
      choice: 'Retry after the duplicate is gone.'
    },
    no_netsuite: {
      title: 'The store has no NetSuite account configured',
      what: 'This store\'s configuration names no NetSuite account (or one ' +
        'that is gone), so there is nowhere to send the change.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Nothing in NetSuite: the nginx team must add the account ' +
        'to the store\'s settings.',
      choice: 'Retry once the configuration is fixed and reloaded.'
    },
    oauth2_rejected: {
      title: 'NetSuite refused the module\'s login',
      what: 'NetSuite refused the integration\'s access token twice for ' +
        'this request: the role lost a permission, the integration or ' +
        'certificate was revoked.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Check the integration record, the OAuth 2.0 client ' +
        'credentials mapping and the role\'s permissions (Setup > ' +
        'Integration).',
      choice: 'Retry once the login works again.'
    },
    retry_budget_exhausted: {
      title: 'NetSuite could not be reached for hours',
      what: 'Every attempt failed with a passing error (NetSuite down or ' +
        'too busy, time-outs, network) for the whole retry budget.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Check NetSuite\'s status and the account\'s concurrency ' +
        'use by other integrations.',
      choice: 'Retry when NetSuite answers again (the NetSuite accounts ' +
        'above show it).'
    },
    tax_kind_unknown: {
      title: 'Unknown whether prices include tax',
      what: 'A refund with tax, where neither the Sales Order nor the ' +
        'store\'s settings say whether prices include tax; the two ' +
        'readings differ by the tax, so the module did not guess.',
      customer: 'The refund in Shopify (the money is already back).',
      warehouse: 'No credit memo for the refund in NetSuite.',
      netsuite: 'Create the Credit Memo by hand; the nginx team should set ' +
        'taxes_included for the store.',
      choice: 'Retry once the store setting is made; Resolve if you booked ' +
        'the memo by hand.'
    },
    unmapped_sku: {
      title: 'A product has no NetSuite item',
      what: 'A line\'s SKU is not in the store\'s SKU map, so the module ' +
        'does not know which NetSuite item it is.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Find the item for the SKU named below; have it added to ' +
        'the SKU map (nginx team).',
      choice: 'Retry once the SKU is mapped and nginx reloaded.'
    },
    sku_rewrite_failed: {
      title: 'A product\'s SKU could not be translated',
      what: 'A line\'s SKU matched a rewrite rule, but the result is not a ' +
        'known NetSuite item.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'As for an unmapped SKU: the nginx team fixes the rule or ' +
        'the map.',
      choice: 'Retry once fixed.'
    },
    missing_sku: {
      title: 'A product line has no SKU',
      what: 'A line has no SKU and the store has no item for such lines ' +
        '(custom items, gift cards).',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Give the product a SKU in Shopify, or have the nginx team ' +
        'configure the custom or gift card item.',
      choice: 'Retry after the configuration; Resolve if applied by hand.'
    },
    shipping_tax_unknown: {
      title: 'The refunded shipping\'s tax is unknown',
      what: 'A refund in another currency refunded shipping without ' +
        'saying its tax, and it cannot be derived exactly.',
      customer: 'The refund in Shopify.',
      warehouse: 'No credit memo in NetSuite.',
      netsuite: 'Create the Credit Memo by hand from the refund in Shopify.',
      choice: 'Resolve once booked by hand.'
    },
    currency_mismatch: {
      title: 'Currencies do not match',
      what: 'Amounts in one webhook are in different currencies where ' +
        'they must be one.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'Apply the change by hand.',
      choice: 'Resolve once applied by hand.'
    }
  };

  /* the normaliser's refusals of a payload: the same text for each */
  ['bad_currency', 'bad_shop', 'bad_sku', 'bad_timestamp', 'bad_value',
   'duplicate_line', 'inconsistent_totals', 'internal', 'invalid_json',
   'missing_field', 'money_overflow', 'too_many_items', 'unsupported',
   'unsupported_topic', 'wrong_type'].forEach(function (code) {
    REASONS[code] = {
      title: 'Shopify sent data the module cannot book (' +
        code.replace(/_/g, ' ') + ')',
      what: 'The webhook could not be turned into a NetSuite document: ' +
        'a value is missing, malformed, too large, or the totals do not add ' +
        'up. NetSuite\'s words below name it.',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: FIX_DATA,
      choice: 'Resolve once applied by hand; Retry only if the store\'s ' +
        'settings were changed.'
    };
  });

  function reasonInfo(code) {
    return REASONS[code] || {
      title: 'Not applied: ' + code,
      what: 'The module parked this change for a person (reason "' + code +
        '").',
      customer: NOT_APPLIED_CUSTOMER,
      warehouse: OLD_ORDER_WAREHOUSE,
      netsuite: 'See NetSuite\'s words below and docs/runbook.md.',
      choice: 'Retry once the cause is fixed; Resolve if applied by hand.'
    };
  }

  /* small helpers */

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    var k;
    attrs = attrs || {};
    for (k in attrs) {
      if (k === 'text') {
        e.textContent = attrs[k];
      } else if (k === 'cls') {
        e.className = attrs[k];
      } else if (attrs[k] !== null && attrs[k] !== undefined) {
        e.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    var k;
    for (k in attrs) {
      e.setAttribute(k, attrs[k]);
    }
    return e;
  }

  function duration(s) {
    if (s === null || s === undefined) {
      return 'unknown';
    }
    if (s < 60) {
      return Math.round(s) + ' s';
    }
    if (s < 3600) {
      return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
    }
    if (s < 86400) {
      return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) +
        ' min';
    }
    return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) +
      ' h';
  }

  function when(iso) {
    if (!iso) {
      return 'unknown';
    }
    var d = new Date(iso);
    return d.toLocaleString() + ' (' +
      duration((Date.now() - d.getTime()) / 1000) + ' ago)';
  }

  function getJSON(path) {
    return fetch(BASE + path, {
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' }
    }).then(function (r) {
      if (!r.ok) {
        throw new Error(path + ': ' + r.status + ' ' + r.statusText);
      }
      return r.json();
    });
  }

  function problem(text) {
    var p = $('problem');
    p.textContent = text || '';
    p.hidden = !text;
  }

  /* charts: one series, 1440 minutes drawn as 288 five-minute maxima */

  function chart(label, unit, values, fmt) {
    var W = 288, H = 56, n = values.length, step = 5;
    var pts = [], max = 0, last = null, i, j, v, have;

    for (i = 0; i < n; i += step) {
      v = null;
      for (j = i; j < i + step && j < n; j++) {
        if (values[j] !== null && values[j] !== undefined) {
          v = v === null ? values[j] : Math.max(v, values[j]);
        }
      }
      pts.push(v);
      if (v !== null) {
        max = Math.max(max, v);
      }
    }

    for (i = n - 1; i >= 0; i--) {
      if (values[i] !== null && values[i] !== undefined) {
        last = values[i];
        break;
      }
    }

    fmt = fmt || function (x) { return String(x); };
    have = pts.some(function (x) { return x !== null; });

    var summary = have
      ? label + ': latest ' + fmt(last) + unit + ', highest ' + fmt(max) +
        unit + ' in the last 24 hours'
      : label + ': no measurement yet';

    var fig = el('figure', { cls: 'chart' });
    var s = svg('svg', {
      viewBox: '0 0 ' + W + ' ' + (H + 14),
      role: 'img',
      'aria-label': summary,
      preserveAspectRatio: 'none'
    });
    var d = '', pen = false, x, y, top = max || 1;

    s.appendChild(svg('line', { x1: 0, y1: H, x2: W, y2: H,
                                'class': 'axis' }));

    for (i = 0; i < pts.length; i++) {
      if (pts[i] === null) {
        pen = false;
        continue;
      }
      x = (i + 0.5) * W / pts.length;
      y = H - 2 - (pts[i] / top) * (H - 6);
      d += (pen ? ' L' : ' M') + x.toFixed(1) + ' ' + y.toFixed(1);
      pen = true;

      /* a point with no neighbour draws no line: mark it */
      if ((i === 0 || pts[i - 1] === null)
          && (i === pts.length - 1 || pts[i + 1] === null))
      {
        s.appendChild(svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1),
                                      r: 2.5, 'class': 'dot' }));
      }
    }

    if (d) {
      s.appendChild(svg('path', { d: d.trim(), 'class': 'series' }));
    }

    var t1 = svg('text', { x: 0, y: H + 12, 'class': 'tick' });
    t1.textContent = '24 h ago';
    var t2 = svg('text', { x: W, y: H + 12, 'class': 'tick end' });
    t2.textContent = 'now';
    var t3 = svg('text', { x: 2, y: 10, 'class': 'tick' });
    t3.textContent = have ? 'max ' + fmt(max) + unit : 'no data yet';
    s.appendChild(t1);
    s.appendChild(t2);
    s.appendChild(t3);

    fig.appendChild(el('figcaption', { text: label }));
    fig.appendChild(s);
    fig.appendChild(el('p', { cls: 'chart-text', text: summary }));
    return fig;
  }

  function stat(label, value, note) {
    return el('div', { cls: String(value).length > 12 ? 'stat long'
                                                      : 'stat' }, [
      el('dt', { text: label }),
      el('dd', { text: String(value) }, note ? [el('span', {
        cls: 'note', text: ' ' + note })] : [])
    ]);
  }

  /* rendering */

  var state = { status: null, history: null, exc: null, report: null };
  var details = {};     /* id -> the exception's detail, once opened */

  function renderStores() {
    var list = $('store-list');
    var stores = state.status.stores || {};
    var hist = (state.history && state.history.stores) || {};
    var nhist = (state.history && state.history.netsuite) || {};
    var names = Object.keys(stores).sort();

    list.textContent = '';

    if (!names.length) {
      list.appendChild(el('p', { text: 'No webhook has arrived yet.' }));
      return;
    }

    names.forEach(function (name) {
      var s = stores[name], h = hist[name] || {}, acct = h.netsuite;
      var nh = (acct && nhist[acct]) || {};
      var card = el('article', { cls: 'card store', 'data-shop': name,
                                 'aria-label': 'Store ' + name });

      card.appendChild(el('h3', { text: name }));
      card.appendChild(el('p', { cls: 'sub', text:
        (s.store && s.store !== name ? 'settings: ' + s.store + '; ' : '') +
        (acct ? 'NetSuite account: ' + acct : 'no NetSuite account') }));

      var dl = el('dl', { cls: 'stats' });
      dl.appendChild(stat('Webhooks received', s.received));
      dl.appendChild(stat('Waiting for NetSuite', s.queue_depth,
                          s.in_flight ? '(' + s.in_flight + ' being sent)'
                                      : ''));
      dl.appendChild(stat('Oldest waiting',
                          s.queue_depth ? duration(s.oldest_age_ms / 1000)
                                        : 'none'));
      dl.appendChild(stat('Exceptions', s.exceptions,
                          s.exceptions ? '(see below)' : ''));
      dl.appendChild(stat('Delivered', s.acked));
      dl.appendChild(stat('Refused (signature, rate)',
                          s.rejected_signature + s.rejected_request +
                          s.rate_limited));
      card.appendChild(dl);

      var charts = el('div', { cls: 'charts' });
      charts.appendChild(chart('Webhooks per minute', '',
                               h.received || []));
      charts.appendChild(chart('Waiting for NetSuite', '', h.depth || []));
      charts.appendChild(chart('Oldest waiting', '', h.oldest_s || [],
                               function (x) { return duration(x); }));
      charts.appendChild(chart('NetSuite answer time (median)', ' ms',
                               nh.latency_p50_ms || []));
      card.appendChild(charts);
      list.appendChild(card);
    });
  }

  function renderAccounts() {
    var list = $('account-list');
    var accts = state.status.netsuite || {};
    var nhist = (state.history && state.history.netsuite) || {};
    var names = Object.keys(accts).sort();

    list.textContent = '';

    if (!names.length) {
      list.appendChild(el('p', {
        text: 'No request has been sent to NetSuite yet.' }));
      return;
    }

    names.forEach(function (name) {
      var a = accts[name], h = nhist[name] || {};
      var card = el('article', { cls: 'card account',
                                 'aria-label': 'NetSuite account ' + name });
      card.appendChild(el('h3', { text: name }));

      var dl = el('dl', { cls: 'stats' });
      dl.appendChild(stat('Requests at once', a.in_flight + ' of ' + a.limit,
                          a.limit < a.concurrency
                            ? '(slowed down from ' + a.concurrency + ')'
                            : '(configured ' + a.concurrency + ')'));
      dl.appendChild(stat('Requests sent', a.requests));
      dl.appendChild(stat('"Too busy" answers (429)', a.over_limit));
      dl.appendChild(stat('No answer', a.failed));
      dl.appendChild(stat('Answer time', a.latency_ms.p50 === null
                          ? 'no answer yet'
                          : 'median under ' + a.latency_ms.p50 +
                            ' ms, 99% under ' + a.latency_ms.p99 + ' ms'));
      card.appendChild(dl);

      var charts = el('div', { cls: 'charts' });
      charts.appendChild(chart('Requests per minute', '',
                               h.requests || []));
      charts.appendChild(chart('"Too busy" (429) per minute', '',
                               h.over_limit || []));
      charts.appendChild(chart('Answer time, 99% under', ' ms',
                               h.latency_p99_ms || []));
      card.appendChild(charts);
      list.appendChild(card);
    });
  }

  function orderLabel(x) {
    if (x.order_number) {
      return 'Order #' + x.order_number;
    }
    if (x.order_id) {
      return 'Order ' + x.order_id;
    }
    return 'Webhook ' + x.id;
  }

  function searchText(x) {
    var r = reasonInfo(x.reason);
    return [x.order_number ? '#' + x.order_number : '', x.order_id,
            x.shop, x.store, x.reason, r.title, x.topic, x.webhook_id,
            x.id].join(' ').toLowerCase();
  }

  function matches(x) {
    var q = $('q').value.trim().toLowerCase();
    var reason = $('reason').value;
    if (reason && x.reason !== reason) {
      return false;
    }
    return q.split(/\s+/).every(function (w) {
      return !w || searchText(x).indexOf(w) >= 0;
    });
  }

  function renderReasons(list) {
    var sel = $('reason'), cur = sel.value, seen = {};
    list.forEach(function (x) { seen[x.reason] = true; });
    if (cur) {
      seen[cur] = true;
    }
    while (sel.options.length > 1) {
      sel.remove(1);
    }
    Object.keys(seen).sort().forEach(function (code) {
      sel.appendChild(el('option', { value: code,
                                     text: reasonInfo(code).title }));
    });
    sel.value = cur;
  }

  function renderExceptions() {
    var ul = $('exc-list');
    var all = state.exc.exceptions || [];
    var shown = all.filter(matches);
    var keep = {};

    renderReasons(all);

    $('exc-count').textContent = '(' + all.length + ' waiting)';
    $('exc-summary').textContent = all.length === 0
      ? 'No exceptions: every change reached NetSuite.'
      : shown.length === all.length
        ? all.length + ' waiting for a person, oldest first.'
        : shown.length + ' of ' + all.length + ' match the search.';

    /* rows are kept across refreshes: an open one keeps its note */
    shown.forEach(function (x) {
      var li = document.getElementById('exc-' + x.id);
      keep[x.id] = true;
      if (!li) {
        li = excItem(x);
      } else {
        updateItem(li, x);
      }
      ul.appendChild(li);
    });

    Array.prototype.slice.call(ul.children).forEach(function (li) {
      if (!keep[li.getAttribute('data-id')]) {
        ul.removeChild(li);
      }
    });

    var done = state.exc.resolved || [];
    var rl = $('resolved-list');
    rl.textContent = '';
    $('resolved-count').textContent = '(' + done.length + ')';
    done.slice().reverse().forEach(function (x) {
      rl.appendChild(el('li', { text: orderLabel(x) + ', ' + x.shop + ': ' +
        reasonInfo(x.reason).title + '. Resolved ' + when(x.resolved_at) +
        ' by ' + (x.resolved_by || 'unknown') + '.' }));
    });
  }

  function metaText(x) {
    return 'Reason code ' + x.reason + '. Shopify ' + x.topic +
      '. First held ' + when(x.first_seen) + '. Tried ' + x.attempts +
      (x.attempts === 1 ? ' time.' : ' times.');
  }

  function updateItem(li, x) {
    li.querySelector('.meta').textContent = metaText(x);
  }

  function excItem(x) {
    var r = reasonInfo(x.reason);
    var id = 'exc-' + x.id;
    var li = el('li', { id: id, cls: 'exc', 'data-id': x.id,
                        'data-reason': x.reason });
    var btn = el('button', { type: 'button', cls: 'toggle',
                             'aria-expanded': 'false',
                             'aria-controls': id + '-detail' });

    btn.appendChild(el('span', { cls: 'order', text: orderLabel(x) }));
    btn.appendChild(el('span', { cls: 'shop', text: x.shop }));
    btn.appendChild(el('span', { cls: 'reason', text: r.title }));

    li.appendChild(el('h3', {}, [btn]));
    li.appendChild(el('p', { cls: 'meta', text: metaText(x) }));

    var body = el('div', { id: id + '-detail', cls: 'detail', hidden: '' });
    li.appendChild(body);

    btn.addEventListener('click', function () {
      var open = btn.getAttribute('aria-expanded') === 'true';
      btn.setAttribute('aria-expanded', open ? 'false' : 'true');
      body.hidden = open;
      if (!open && !body.hasChildNodes()) {
        fillDetail(body, x);
      }
    });

    return li;
  }

  function section(title, text) {
    return el('div', { cls: 'part' }, [el('h4', { text: title }),
                                       el('p', { text: text })]);
  }

  function fillDetail(body, x) {
    var r = reasonInfo(x.reason);

    body.appendChild(section('What happened', r.what));
    body.appendChild(section('What the customer sees', r.customer));
    body.appendChild(section('What the warehouse sees', r.warehouse));
    body.appendChild(section('What to do in NetSuite', r.netsuite));
    body.appendChild(section('Retry or resolve', r.choice));

    var change = el('div', { cls: 'part change' },
                    [el('h4', { text: 'The change that was not applied' }),
                     el('p', { text: 'Loading\u2026' })]);
    body.appendChild(change);

    var ns = el('div', { cls: 'part' }, [
      el('h4', { text: 'The message kept with it (NetSuite\'s own, when ' +
                       'it answered)' }),
      el('pre', { cls: 'nserror', text: x.netsuite_error || '(none)' })]);
    body.appendChild(ns);

    body.appendChild(actionsFor(x));

    getJSON('/api/exceptions/' + encodeURIComponent(x.id)).then(function (d) {
      details[x.id] = d;
      ns.querySelector('pre').textContent = d.netsuite_error || '(none)';
      change.replaceChild(changeTable(d), change.lastChild);
    }).catch(function (e) {
      change.lastChild.textContent = 'Could not load it: ' + e.message;
    });
  }

  function num(v) {
    return v === null || v === undefined ? '' : String(v);
  }

  /*
   * NetSuite answers 597 where the document says 597.00: pad (never
   * round) a decimal to the places the document's amounts use, so both
   * sides of the table read alike.
   */
  function places(v) {
    var m = /\.(\d+)$/.exec(num(v));
    return m ? m[1].length : 0;
  }

  function money(v, dp) {
    var s = num(v);
    if (!/^-?\d+(\.\d*)?$/.test(s)) {
      return s;
    }
    var have = places(s);
    if (have >= dp) {
      return s;
    }
    return (have ? s : s + '.') + new Array(dp - have + 1).join('0');
  }

  /*
   * Before: what NetSuite holds (kept when the change was held back);
   * after: what the webhook would write. Lines are matched by Shopify's
   * line id, else by NetSuite item.
   */
  function changeTable(d) {
    var wrap = el('div', {});
    var doc = d.after && d.after.document;
    var part = doc && (doc.sales_order || doc.credit_memo ||
                       doc.cancellation) || {};
    var after = part.lines || [];
    var before = (d.before && d.before.lines) || [];
    var rows = [], used = {};

    if (d.after && d.after.kind === 'error') {
      wrap.appendChild(el('p', { text: 'The webhook cannot be turned into ' +
        'a NetSuite change: ' + d.after.message }));
    } else if (d.after && d.after.kind === 'unavailable') {
      wrap.appendChild(el('p', { text: d.after.message }));
    }

    if (!after.length && !before.length) {
      if (!wrap.hasChildNodes()) {
        wrap.appendChild(el('p', { text: 'No lines to show.' }));
      }
      return wrap;
    }

    function itemOf(l) {
      var i = l.item || {};
      return typeof i === 'object' ? (i.id || i.external_id || '') : i;
    }

    after.forEach(function (a) {
      var match = null;
      before.forEach(function (b, k) {
        if (!used[k] && match === null
            && ((b.key && b.key === a.key) || String(b.item) === itemOf(a)))
        {
          match = k;
        }
      });
      if (match !== null) {
        used[match] = true;
      }
      rows.push({ a: a, b: match === null ? null : before[match] });
    });

    before.forEach(function (b, k) {
      if (!used[k]) {
        rows.push({ a: null, b: b });
      }
    });

    var hasBefore = !!d.before;
    var dp = places(part.totals && part.totals.total);
    var table = el('table', { cls: 'change-table' });
    table.appendChild(el('caption', { text: hasBefore
      ? 'Before: what NetSuite holds now. After: what this change from ' +
        'Shopify would make it.'
      : 'What this change from Shopify would write to NetSuite ' +
        '(NetSuite\'s lines were not kept for this reason).' }));

    var head = ['Product'];
    if (hasBefore) {
      head.push('Before: quantity', 'Before: amount');
    }
    head.push('After: quantity', 'After: amount');
    if (hasBefore) {
      head.push('Change');
    }
    table.appendChild(el('thead', {}, [el('tr', {}, head.map(function (h) {
      return el('th', { scope: 'col', text: h });
    }))]));

    var tb = el('tbody', {});
    rows.forEach(function (row) {
      var a = row.a, b = row.b, what;
      var name = a ? (a.sku ? a.sku + ' (item ' + itemOf(a) + ')'
                             : 'item ' + itemOf(a))
                   : (b.name ? b.name + ' (item ' + b.item + ')'
                             : 'item ' + b.item);
      if (!b) {
        what = 'added';
      } else if (!a) {
        what = 'removed';
      } else if (Number(a.quantity) !== Number(b.quantity)) {
        what = 'quantity ' + b.quantity + ' \u2192 ' + a.quantity;
      } else if (Number(a.amount) !== Number(b.amount)) {
        what = 'amount ' + money(b.amount, dp) + ' \u2192 ' + a.amount;
      } else {
        what = 'unchanged';
      }
      var cells = [el('th', { scope: 'row', text: name })];
      if (hasBefore) {
        cells.push(el('td', { text: b ? num(b.quantity) : '\u2014' }),
                   el('td', { text: b ? money(b.amount, dp) : '\u2014' }));
      }
      cells.push(el('td', { text: a ? num(a.quantity) : '\u2014' }),
                 el('td', { text: a ? num(a.amount) : '\u2014' }));
      if (hasBefore) {
        cells.push(el('td', { cls: 'what', text: what }));
      }
      tb.appendChild(el('tr', { 'data-change': hasBefore ? what : null },
                        cells));
    });
    table.appendChild(tb);

    var totals = part.totals || {};
    var cur = part.currency ? ' ' + part.currency : '';
    var tf = [el('th', { scope: 'row', text: 'Total' + cur })];
    if (hasBefore) {
      tf.push(el('td', {}), el('td', { text: money(d.before.total, dp) }));
    }
    tf.push(el('td', {}), el('td', { text: num(totals.total) }));
    if (hasBefore) {
      tf.push(el('td', { cls: 'what', text:
        Number(d.before.total) === Number(totals.total) ? 'unchanged'
          : money(d.before.total, dp) + ' \u2192 ' + num(totals.total) }));
    }
    table.appendChild(el('tfoot', {}, [el('tr', {}, tf)]));

    wrap.appendChild(el('div', { cls: 'scroll' }, [table]));

    if (totals.total !== undefined) {
      wrap.appendChild(el('p', { cls: 'totals', text: 'After, in detail: ' +
        'lines ' + num(totals.subtotal) + ', discounts ' +
        num(totals.discount) + ', shipping ' + num(totals.shipping) +
        ', tax ' + num(totals.tax) + ', total ' + num(totals.total) + cur +
        '.' }));
    }

    return wrap;
  }

  function actionsFor(x) {
    var box = el('div', { cls: 'part actions' });

    if (!ACTIONS) {
      box.appendChild(el('p', { cls: 'readonly', text: 'This console is ' +
        'read-only: retry and resolve are turned off here ' +
        '(order_edit_console_actions).' }));
      return box;
    }

    var nid = 'note-' + x.id;
    box.appendChild(el('h4', { text: 'Act on it' }));
    box.appendChild(el('label', { 'for': nid, text: 'Note for the log ' +
      '(what you did, who you asked)' }));
    var note = el('textarea', { id: nid, rows: '2', maxlength: '500' });
    box.appendChild(note);

    var row = el('div', { cls: 'buttons' });
    var retry = el('button', { type: 'button', cls: 'retry',
                               text: 'Retry: send to NetSuite again' });
    var resolve = el('button', { type: 'button', cls: 'resolve',
                                 text: 'Resolve: remove, NetSuite is right' });
    row.appendChild(retry);
    row.appendChild(resolve);
    box.appendChild(row);

    var out = el('p', { cls: 'result', 'aria-live': 'polite' });
    box.appendChild(out);

    retry.addEventListener('click', function () {
      act(x, 'retry', note, out);
    });
    resolve.addEventListener('click', function () {
      act(x, 'resolve', note, out);
    });

    return box;
  }

  function confirmDialog(title, text, note, ok) {
    var dlg = $('confirm');
    $('confirm-h').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-note').textContent = note ? 'Your note: \u201c' + note +
      '\u201d' : 'No note given.';
    $('confirm-ok').textContent = ok;

    return new Promise(function (resolve) {
      function done(v) {
        $('confirm-ok').removeEventListener('click', yes);
        $('confirm-cancel').removeEventListener('click', no);
        dlg.removeEventListener('cancel', no);
        if (dlg.open) {
          dlg.close();
        }
        resolve(v);
      }
      function yes() { done(true); }
      function no(e) {
        if (e) {
          e.preventDefault();
        }
        done(false);
      }
      $('confirm-ok').addEventListener('click', yes);
      $('confirm-cancel').addEventListener('click', no);
      dlg.addEventListener('cancel', no);
      dlg.showModal();
      $('confirm-cancel').focus();
    });
  }

  function act(x, action, noteField, out) {
    var label = orderLabel(x) + ' of ' + x.shop;
    var note = noteField.value;
    var text = action === 'retry'
      ? 'The change will be sent to NetSuite again. If what stopped it is ' +
        'not fixed, it will come back here.'
      : 'It leaves this list and nothing is sent to NetSuite. Do this only ' +
        'when NetSuite is right as it is.';

    confirmDialog((action === 'retry' ? 'Retry ' : 'Resolve ') + label + '?',
                  text, note.trim(),
                  action === 'retry' ? 'Yes, retry' : 'Yes, resolve')
      .then(function (yes) {
        if (!yes) {
          out.textContent = 'Cancelled: nothing was done.';
          return null;
        }
        out.textContent = 'Sending\u2026';
        return fetch(BASE + '/api/exceptions/' + encodeURIComponent(x.id) +
                     '/' + action, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json',
                     'X-Order-Edit-Token': TOKEN },
          body: JSON.stringify({ note: note.trim() })
        }).then(function (r) {
          return r.json().then(function (j) {
            if (!r.ok) {
              throw new Error(j.message || r.statusText);
            }
            out.textContent = action === 'retry'
              ? label + ' was sent back to the queue for NetSuite.'
              : label + ' was resolved.';
            /* the note went to the log with this action, not the next */
            noteField.value = '';
            announce(out.textContent);
            return refresh();
          });
        });
      })
      .catch(function (e) {
        out.textContent = 'Not done: ' + e.message;
      });
  }

  /* outlives the row: a resolved exception's row is gone at once */
  function announce(text) {
    $('action-result').textContent = text;
  }

  /* the history moves once a minute: no need to read it every time */
  var historyAt = 0;

  /* the mismatch report of a day: fetched once a minute, or when asked */

  var reportAt = 0, reportDay = '';

  var REPORT_KINDS = {
    mismatch: 'Differs',
    missing_in_netsuite: 'Missing in NetSuite',
    missing_in_shopify: 'Missing in Shopify'
  };

  function report() {
    var day = $('report-date').value;
    if (state.report && day === reportDay && Date.now() - reportAt < 55000) {
      return Promise.resolve(state.report);
    }
    return getJSON('/api/report' + (day ? '?date=' + encodeURIComponent(day)
                                        : ''))
      .then(function (r) {
        reportAt = Date.now();
        reportDay = day;
        return r;
      })
      .catch(function () {
        /* no report configured: the section says so, nothing else fails */
        return null;
      });
  }

  function renderReport() {
    var r = state.report, box = $('report-table'), sum = $('report-summary');
    var ran, table, tb, cols;

    box.textContent = '';

    if (!r || !r.stores || !r.stores.length) {
      sum.textContent = 'No store has a daily report.';
      return;
    }

    if (!$('report-date').value) {
      $('report-date').value = r.date;
    }

    ran = r.stores.filter(function (s) { return s.ran; });

    if (!ran.length) {
      sum.textContent = 'No report for ' + r.date + ' yet.';
      return;
    }

    sum.textContent = r.date + ': ' + r.summary.mismatch + ' differ, ' +
      r.summary.missing_in_netsuite + ' missing in NetSuite, ' +
      r.summary.missing_in_shopify + ' missing in Shopify (' +
      r.summary.actionable + ' actionable).';

    if (!r.rows.length) {
      return;
    }

    cols = ['Store', 'Order', 'Difference', 'What', 'Shopify', 'NetSuite',
            'Since', 'Actionable'];
    table = el('table', { cls: 'report-table' });
    table.appendChild(el('thead', {}, [el('tr', {}, cols.map(function (h) {
      return el('th', { scope: 'col', text: h });
    }))]));
    tb = el('tbody');
    r.rows.forEach(function (x) {
      tb.appendChild(el('tr', { 'data-order': x.order }, [
        el('td', { text: x.shop }),
        el('td', { text: x.order }),
        el('td', { text: REPORT_KINDS[x.kind] || x.kind }),
        el('td', { text: x.what }),
        el('td', { cls: 'num', text: x.shopify === null ? '—'
                                                        : String(x.shopify) }),
        el('td', { cls: 'num', text: x.netsuite === null ? '—'
                                                         : String(x.netsuite) }),
        el('td', { text: x.since }),
        el('td', { text: x.actionable ? 'yes' : 'no' })
      ]));
    });
    table.appendChild(tb);
    box.appendChild(table);
  }

  function history() {
    if (state.history && Date.now() - historyAt < 55000) {
      return Promise.resolve(state.history);
    }
    return getJSON('/api/history').then(function (h) {
      historyAt = Date.now();
      return h;
    });
  }

  function refresh() {
    return Promise.all([getJSON('/api/status'), history(),
                        getJSON('/api/exceptions'), report()])
      .then(function (r) {
        state.status = r[0];
        state.history = r[1];
        state.exc = r[2];
        state.report = r[3];
        problem('');
        renderStores();
        renderAccounts();
        renderReport();
        renderExceptions();
        document.body.setAttribute('data-loaded', String(Date.now()));
        $('updated').textContent = 'Updated ' +
          new Date().toLocaleTimeString() + '.';
      })
      .catch(function (e) {
        problem('The console could not read the module\'s state (' +
                e.message + '). It tries again every ' + REFRESH_MS / 1000 +
                ' seconds.');
      });
  }

  function start() {
    $('mode').textContent = ACTIONS ? 'Retry and resolve enabled'
                                    : 'Read-only';
    $('mode').className = 'badge ' + (ACTIONS ? 'on' : 'off');
    $('who').textContent = USER ? 'Signed in as ' + USER + '.' : '';

    $('refresh').addEventListener('click', function () {
      historyAt = 0;
      reportAt = 0;
      refresh();
    });
    $('report-date').addEventListener('change', function () {
      report().then(function (r) {
        state.report = r;
        renderReport();
      });
    });
    $('q').addEventListener('input', function () {
      if (state.exc) {
        renderExceptions();
      }
    });
    $('reason').addEventListener('change', function () {
      if (state.exc) {
        renderExceptions();
      }
    });

    refresh();
    setInterval(function () {
      if (!$('confirm').open) {
        refresh();
      }
    }, REFRESH_MS);
  }

  start();
}());
