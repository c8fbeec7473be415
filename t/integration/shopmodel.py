"""Self-consistent Shopify orders and refunds for the reconciliation
tests: one line of IPOD2008RED at 10.00 with 10% tax (1.00 a unit), taxes
excluded, no shipping.  An edit sets the quantity; a refund gives one unit
back (no restock) and lowers the order's current_* values by it."""

import json

PRICE = 1000        # minor units
TAX = 100


def money(minor):
    return "%d.%02d" % (minor // 100, minor % 100)


def mset(minor):
    m = {"amount": money(minor), "currency_code": "USD"}
    return {"shop_money": m, "presentment_money": dict(m)}


def order(oid, qty, refunded=0):
    """The order as Shopify shows it after `refunded` one-unit refunds."""
    cur = qty - refunded
    line = {
        "id": oid * 10 + 1, "variant_id": 49148385, "product_id": 632910392,
        "title": "IPod Nano - 8gb", "variant_title": "red",
        "sku": "IPOD2008RED", "quantity": qty, "current_quantity": cur,
        "fulfillable_quantity": cur, "price": money(PRICE),
        "price_set": mset(PRICE), "total_discount": "0.00",
        "gift_card": False, "taxable": True, "discount_allocations": [],
        "tax_lines": [{"title": "Tax", "price": money(TAX * qty),
                       "rate": 0.1, "price_set": mset(TAX * qty)}]}
    return {
        "id": oid, "admin_graphql_api_id": "gid://shopify/Order/%d" % oid,
        "name": "#%d" % oid, "order_number": oid, "email": "c@example.com",
        "currency": "USD", "presentment_currency": "USD",
        "financial_status": "partially_refunded" if refunded else "paid",
        "fulfillment_status": None, "taxes_included": False,
        "total_line_items_price": money(PRICE * qty),
        "subtotal_price": money(PRICE * qty), "total_discounts": "0.00",
        "total_tax": money(TAX * qty),
        "total_price": money((PRICE + TAX) * qty),
        "current_subtotal_price": money(PRICE * cur),
        "current_total_discounts": "0.00",
        "current_total_tax": money(TAX * cur),
        "current_total_price": money((PRICE + TAX) * cur),
        "total_tip_received": "0.00", "discount_applications": [],
        "line_items": [line], "shipping_lines": []}


def order_changes(oid, qty, refunded=0):
    """What a change sets at the top level of the order (not refunds)."""
    o = order(oid, qty, refunded)
    del o["id"]
    return o


def refund(oid, n):
    """The n-th one-unit refund of the order's line, as Shopify sends it
    (the simulator fills in id, order_id and created_at)."""
    return {
        "note": "refund %d" % n, "restock": False, "user_id": None,
        "refund_line_items": [{
            "id": oid * 100 + n, "quantity": 1, "line_item_id": oid * 10 + 1,
            "location_id": None, "restock_type": "no_restock",
            "subtotal": money(PRICE), "total_tax": money(TAX),
            "subtotal_set": mset(PRICE), "total_tax_set": mset(TAX),
            "line_item": {"id": oid * 10 + 1, "variant_id": 49148385,
                          "title": "IPod Nano - 8gb", "quantity": 1,
                          "sku": "IPOD2008RED", "price": money(PRICE),
                          "gift_card": False, "taxable": True,
                          "tax_lines": [{"title": "Tax",
                                         "price": money(TAX),
                                         "rate": 0.1}]}}],
        "transactions": [{"id": oid * 1000 + n, "kind": "refund",
                          "gateway": "manual", "status": "success",
                          "message": None, "test": False,
                          "currency": "USD", "parent_id": None,
                          "amount": money(PRICE + TAX)}],
        "order_adjustments": []}


if __name__ == "__main__":
    import sys
    if sys.argv[1] == "order":
        o = order(77, 3, 1)
        o["updated_at"] = "2026-12-06T10:00:00-05:00"
        o["created_at"] = "2026-12-06T09:00:00-05:00"
        r = refund(77, 1)
        r.update({"id": 9001, "order_id": 77,
                  "created_at": "2026-12-06T10:00:00-05:00"})
        o["refunds"] = [r]
        print(json.dumps(o))
    else:
        r = refund(77, 1)
        r.update({"id": 9001, "order_id": 77,
                  "created_at": "2026-12-06T10:00:00-05:00"})
        print(json.dumps(r))
