
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The daily mismatch report's comparison: one Shopify order (as the Admin
 * API returns it) against a summary of its NetSuite Sales Order and
 * Credit Memos (what SuiteQL returns, gathered per order), giving one row
 * per difference.  Pure C + jansson, like money.c: compiled into the
 * module and the unit tests.  Money is compared in exact integer minor
 * units, never as a double.
 *
 * The NetSuite summary, one object per order:
 *
 *   { "currency": "CAD", "total": "110.00", "tax": "10.00",
 *     "lines": { "<key>": { "sku": "<sku>", "quantity": 2,
 *                          "amount": "59.97", "parts": false }, ... },
 *     "line_key": true,
 *     "memos": { "<shopify refund id>": "<amount>", ... },
 *     "locked": false }
 *
 * A memo may instead be an object with its item lines, keyed by our line
 * key as the normaliser writes it on a memo (the refund line item's id):
 *
 *     "<shopify refund id>": { "total": "<amount>",
 *         "lines": { "<refund line item id>": { "quantity": 1,
 *                        "amount": "10.00", "parts": false }, ... } }
 *
 * quantity and amount are magnitudes (NetSuite's sign is not relied on),
 * "parts" as for the order's lines; without "lines" (not read) a memo's
 * lines are not compared.  "presentment": true (the store books the
 * customer's money) compares the lines' quantities alone on an order
 * whose presentment_currency is not its currency.
 *
 * A line's key is the Shopify line id (our line key, read back) when
 * "line_key" is true, else its SKU; its quantity a magnitude; "amount"
 * (what the Sales Order books for it) may be absent; "parts" says it is
 * the sum of a bundle's component lines, whose quantity is not Shopify's.
 * A bare number instead of the object is a quantity alone.
 *
 * A row:
 *
 *   { "order": "450789469", "kind": "mismatch", "what": "total",
 *     "shopify": "110.00", "netsuite": "100.00",
 *     "since": "2026-12-06T10:15:30-05:00", "actionable": true }
 *
 * Without "lines" (not read) the lines are not compared; "since" (the
 * record's last change) dates an order only NetSuite has.
 *
 * kind is "mismatch", "missing_in_netsuite" or "missing_in_shopify";
 * what is "order", "total", "tax", "line:<sku>" (a line's quantity, or
 * the line), "line_amount:<sku>", "refund:<id>",
 * "credit_memo_line:<refund id>:<refund line item id>" (a memo line's
 * quantity, or the line) or "credit_memo_line_amount:<refund id>:<refund
 * line item id>" (its amount against the refund line's subtotal).
 */


#ifndef _NGX_HTTP_ORDER_EDIT_RDIFF_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_RDIFF_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>


/*
 * Appends to "rows" the differences between "shopify" (an order, or NULL
 * when only NetSuite has it) and "netsuite" (its summary, or NULL when
 * NetSuite has no Sales Order).  "order" names the order when "shopify" is
 * NULL.  Returns the number of rows appended, or -1 when a value cannot
 * be read as money (the row then says "unreadable" instead).
 */
int ngx_http_order_edit_rdiff(json_t *shopify, json_t *netsuite,
    const char *order, json_t *rows);


#endif /* _NGX_HTTP_ORDER_EDIT_RDIFF_H_INCLUDED_ */
