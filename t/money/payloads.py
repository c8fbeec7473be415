"""Shopify webhook payloads (REST Admin API shapes) for a model Shop.

orders/create, orders/updated, orders/cancelled: the Order resource.
refunds/create: the Refund resource (with order_id).
"""

from shopify_model import EXPONENT, M, Num, fmt


class Writer:
    """Writes amounts as Shopify does: decimal strings, or (for some
    shops, API clients and deprecated fields) JSON numbers."""

    def __init__(self, shop):
        self.s = shop
        rng = shop.rng
        self.mode = shop.numbers
        self.trim = rng.random() < 0.5
        # Shopify also writes fewer decimals in strings ("348.0", "5")
        self.trim_strings = rng.random() < 0.1
        # Shopify has been seen writing "1500.00" for JPY
        self.pad0 = EXPONENT[shop.pres] == 0 and rng.random() < 0.3

    def text(self, v, cur, number):
        e = EXPONENT[cur]
        t = fmt(v, e)
        if e == 0 and self.pad0 and not number:
            t += ".00"
        if number or self.trim_strings:
            if (self.trim or not number) and "." in t:
                t = t.rstrip("0")
                if t.endswith("."):
                    t = t[:-1] if self.s.rng.random() < 0.5 else t + "0"
            if number:
                return Num(t)
        return t

    def bare(self, v, cur=None, deprecated=False):
        """A bare amount field (price, total_price...)."""
        number = self.mode == "numbers" or (self.mode == "mixed"
                                            and deprecated)
        return self.text(v, cur or self.s.cur, number)

    def mset(self, m):
        number = self.mode == "numbers"
        return {"shop_money": {"amount": self.text(m.s, self.s.cur, number),
                               "currency_code": self.s.cur},
                "presentment_money": {"amount": self.text(m.p, self.s.pres,
                                                          number),
                                      "currency_code": self.s.pres}}


def rate_text(r):
    # a tax rate as Shopify writes it (a JSON number)
    from decimal import Decimal
    return Num(str(Decimal(r.numerator) / Decimal(r.denominator)))


def tax_lines(w, tm):
    return [{"title": t, "price": w.bare(m.s), "rate": rate_text(r),
             "channel_liable": False, "price_set": w.mset(m)}
            for t, r, m in tm]


def line_item(w, ln):
    s = w.s
    disc = s.l_disc(ln)
    d = {"id": ln.id,
         "admin_graphql_api_id": "gid://shopify/LineItem/%d" % ln.id,
         "variant_id": None if ln.custom else ln.id + 7,
         "product_id": None if ln.custom else ln.id + 13,
         "title": ln.title, "name": ln.title, "variant_title": None,
         "vendor": None, "quantity": ln.q,
         "current_quantity": s.cur_q(ln),
         "fulfillable_quantity": s.cur_q(ln),
         "fulfillment_service": "manual", "fulfillment_status": None,
         "sku": ln.sku, "gift_card": ln.gift_card, "taxable": ln.taxable,
         "requires_shipping": not ln.gift_card, "product_exists":
         not ln.custom, "grams": 0, "properties": [],
         "price": w.bare(ln.price_m.s), "price_set": w.mset(ln.price_m),
         "total_discount": w.bare(disc.s), "total_discount_set":
         w.mset(disc),
         "discount_allocations": [
             {"amount": w.bare(a.s), "amount_set": w.mset(a),
              "discount_application_index": i} for i, a in ln.alloc_m],
         "tax_lines": tax_lines(w, ln.tax_m),
         "duties": []}
    if ln.duty.p:
        d["duties"] = [{"id": ln.duty_id, "harmonized_system_code":
                        "520300", "country_code_of_origin": "CA",
                        "shop_money": None, "presentment_money": None,
                        "tax_lines": [], "price_set": w.mset(ln.duty),
                        "admin_graphql_api_id":
                        "gid://shopify/Duty/%d" % ln.duty_id}]
    return d


def refund_obj(w, r, with_order_id):
    s = w.s
    rlis = []
    for x in r["rlis"]:
        ln = x["line"]
        rlis.append({"id": x["id"], "quantity": x["k"],
                     "line_item_id": ln.id,
                     "location_id": (None if x["restock"] == "no_restock"
                                     else 487838322),
                     "restock_type": x["restock"],
                     "subtotal": w.bare(x["sub"].s, deprecated=True),
                     "total_tax": w.bare(x["tax"].s, deprecated=True),
                     "subtotal_set": w.mset(x["sub"]),
                     "total_tax_set": w.mset(x["tax"]),
                     "line_item": line_item(w, ln)})
    adjs = []
    rsl = []
    if r["shape"] in ("adjustment", "both"):
        # Shopify writes refunded shipping as a negative adjustment
        adjs.append({"id": s.nid(), "order_id": s.order_id,
                     "refund_id": r["id"], "kind": "shipping_refund",
                     "reason": "Shipping refund",
                     "amount": w.bare(-r["ship"].s),
                     "tax_amount": w.bare(-r["ship_tax"].s),
                     "amount_set": w.mset(-r["ship"]),
                     "tax_amount_set": w.mset(-r["ship_tax"])})
    if r["shape"] in ("lines", "both", "lines_tax"):
        for sid, am, tm in r["ship_parts"]:
            e = {"id": s.nid(), "shipping_line_id": sid,
                 "subtotal_amount_set": w.mset(am)}
            if r["shape"] == "lines_tax":
                # GraphQL's RefundShippingLine.taxAmountSet (not in REST)
                e["tax_amount_set"] = w.mset(tm)
            rsl.append(e)
    if r["disc"].p or r["disc"].s:
        adjs.append({"id": s.nid(), "order_id": s.order_id,
                     "refund_id": r["id"], "kind": "refund_discrepancy",
                     "reason": "Refund discrepancy",
                     "amount": w.bare(r["disc"].s),
                     "tax_amount": w.bare(0),
                     "amount_set": w.mset(r["disc"]),
                     "tax_amount_set": w.mset(M())})
    txs = [{"id": t["id"], "order_id": s.order_id, "kind": t["kind"],
            "gateway": t["gateway"], "status": t["status"],
            "message": None, "created_at": "2024-06-02T10:00:00-04:00",
            "test": False, "parent_id": s.order_id + 1,
            "amount": w.text(t["amount"], s.pres, w.mode == "numbers"),
            "currency": s.pres, "admin_graphql_api_id":
            "gid://shopify/OrderTransaction/%d" % t["id"]}
           for t in r["txs"]]
    d = {"id": r["id"],
         "admin_graphql_api_id": "gid://shopify/Refund/%d" % r["id"],
         "order_id": s.order_id,
         "created_at": "2024-06-02T10:00:00-04:00",
         "processed_at": "2024-06-02T10:00:00-04:00",
         "note": r["note"], "user_id": None,
         "restock": any(x["restock"] != "no_restock" for x in r["rlis"]),
         "duties": [{"duty_id": i, "amount_set": w.mset(m)}
                    for i, m in r["duties"]],
         "total_duties_set": w.mset(r["duty_total"]),
         "return": None,
         "refund_line_items": rlis,
         "refund_shipping_lines": rsl,
         "order_adjustments": adjs,
         "transactions": txs}
    if not with_order_id:
        del d["order_id"]
    return d


def order(shop, topic):
    s = shop
    w = Writer(s)
    t = s.totals()
    o = s.original_totals()
    disc_apps = s.discount_apps
    lines = [line_item(w, ln) for ln in s.lines]
    ship_lines = [{"id": sl["id"], "title": sl["title"],
                   "code": sl["title"].lower(), "source": "shopify",
                   "carrier_identifier": None,
                   "price": w.bare(sl["price"].s),
                   "price_set": w.mset(sl["price"]),
                   "discounted_price": w.bare(sl["price"].s),
                   "discounted_price_set": w.mset(sl["price"]),
                   "tax_lines": tax_lines(w, sl["tax"]),
                   "discount_allocations": []} for sl in s.ship_lines]
    # the order's tax_lines: per jurisdiction over lines and shipping
    agg = {}
    for ln in s.lines:
        if ln.added:
            continue
        for tt, r, m in ln.tax_m:
            agg.setdefault((tt, r), M())
            agg[(tt, r)] = agg[(tt, r)] + m
    for tt, r, m in s.ship_tax:
        agg.setdefault((tt, r), M())
        agg[(tt, r)] = agg[(tt, r)] + m
    addr = {"first_name": "Bob", "last_name": "Norman", "name": "Bob Norman",
            "company": None, "address1": "Chestnut Street 92",
            "address2": "", "city": "Louisville", "province": "Kentucky",
            "province_code": "KY", "zip": "40202",
            "country": "United States", "country_code": "US",
            "phone": "+1 555-625-1199"}
    num = s.order_id % 100000
    d = {"id": s.order_id,
         "admin_graphql_api_id": "gid://shopify/Order/%d" % s.order_id,
         "name": "#%d" % num, "order_number": num, "number": num - 1000,
         "email": "bob@example.com",
         "created_at": "2024-06-01T09:00:00-04:00",
         "processed_at": "2024-06-01T09:00:00-04:00",
         "updated_at": "2024-06-03T12:00:%02d-04:00" % (s.rng.randint(0, 59)),
         "cancelled_at": None, "cancel_reason": None,
         "currency": s.cur, "presentment_currency": s.pres,
         "taxes_included": s.inclusive, "estimated_taxes": False,
         "financial_status": "partially_refunded" if s.refunds else "paid",
         "total_line_items_price": w.bare(o["items"].s),
         "total_line_items_price_set": w.mset(o["items"]),
         "subtotal_price": w.bare(o["subtotal"].s),
         "subtotal_price_set": w.mset(o["subtotal"]),
         "total_discounts": w.bare(o["discounts"].s),
         "total_discounts_set": w.mset(o["discounts"]),
         "total_tax": w.bare(o["tax"].s), "total_tax_set": w.mset(o["tax"]),
         "total_price": w.bare(o["total"].s),
         "total_price_set": w.mset(o["total"]),
         "total_shipping_price_set": w.mset(s.ship),
         "total_tip_received": w.bare(s.tip.s),
         "original_total_duties_set": (w.mset(o["duties"])
                                       if s.has_duties else None),
         "current_subtotal_price": w.bare(t["subtotal"].s),
         "current_subtotal_price_set": w.mset(t["subtotal"]),
         "current_total_discounts": w.bare(t["discounts"].s),
         "current_total_discounts_set": w.mset(t["discounts"]),
         "current_total_tax": w.bare(t["tax"].s),
         "current_total_tax_set": w.mset(t["tax"]),
         "current_total_price": w.bare(t["total"].s),
         "current_total_price_set": w.mset(t["total"]),
         "current_total_duties_set": (w.mset(t["duties"])
                                      if s.has_duties else None),
         "tax_lines": [{"title": tt, "rate": rate_text(r),
                        "price": w.bare(m.s), "price_set": w.mset(m),
                        "channel_liable": False}
                       for (tt, r), m in agg.items()],
         "discount_applications": disc_apps,
         "discount_codes": [{"code": a["code"], "type": a["value_type"],
                             "amount": w.bare(sum(
                                 m.s for ln in s.lines if not ln.added
                                 for j, m in ln.alloc_m if j == i))}
                            for i, a in enumerate(disc_apps)
                            if a.get("code")],
         "line_items": lines, "shipping_lines": ship_lines,
         "shipping_address": addr, "billing_address": addr,
         "refunds": [refund_obj(w, r, True) for r in s.refunds],
         "note": None, "tags": ""}
    if s.cancelled:
        d["cancelled_at"] = "2024-06-03T12:30:00-04:00"
        d["cancel_reason"] = s.cancel_reason
        d["financial_status"] = "refunded" if s.refunds else "voided"
    return d


def refund(shop, r):
    return refund_obj(Writer(shop), r, True)
