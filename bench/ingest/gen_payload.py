#!/usr/bin/env python3
"""Write a realistic Shopify orders/updated webhook body, deterministically.

The body has the shape Shopify sends for orders/updated (REST Admin API
"Order" resource, compact JSON as on the wire): customer, addresses, line
items with tax_lines, price_set and discount_allocations, shipping lines,
and current_* totals that add up in integer cents.  Line items are added
until the body is as close as possible to --size bytes (default 16384), so
the same command always writes the same bytes.

  gen_payload.py [--size 16384] [--out order.json] [--print-size]

build_order() is also usable as a library (the demo samples were made
with it).
"""

import argparse
import json
import sys

PRODUCTS = [
    # sku, title, variant, vendor, grams, price in cents
    ("ACM-ANV-050", "Anvil", "50 kg", "Acme Forge", 50000, 19900),
    ("ACM-RKT-SKT", "Rocket Skates", "Size 10", "Acme Motion", 2300, 34950),
    ("ACM-TNT-012", "Dynamite (box of 12)", "Standard", "Acme Energetics",
     1200, 4599),
    ("ACM-MAG-XL", "Giant Magnet", "XL", "Acme Forge", 8000, 12500),
    ("ACM-BIRD-SD", "Bird Seed", "5 lb", "Acme Pantry", 2268, 1299),
    ("ACM-SPR-SHO", "Spring-Powered Shoes", "Size 9", "Acme Motion", 1500,
     8900),
    ("ACM-PNT-HOLE", "Portable Hole", "Black", "Acme Novelties", 10, 2999),
    ("ACM-JET-MTR", "Jet-Propelled Unicycle", "Red", "Acme Motion", 9000,
     59900),
    ("ACM-INV-PNT", "Invisible Paint", "1 gal", "Acme Novelties", 4000, 2450),
    ("ACM-ERT-QKP", "Earthquake Pills", "30 ct", "Acme Pantry", 100, 1995),
    ("ACM-BAT-SUT", "Bat-Man's Outfit", "M", "Acme Apparel", 900, 7700),
    ("ACM-TRN-SCP", "Tornado Seeds", "1 oz", "Acme Pantry", 30, 899),
    ("ACM-IRN-PLS", "Iron Carrot", "Single", "Acme Pantry", 450, 399),
    ("ACM-SPK-BTS", "Super Outfit", "L", "Acme Apparel", 1100, 15000),
    ("ACM-HMR-BND", "Hi-Speed Tonic", "16 oz", "Acme Pantry", 500, 1650),
    ("ACM-ELE-PLS", "Electric Roller Skates", "Size 8", "Acme Motion", 3100,
     27500),
]


def money(cents):
    """Shopify's wire format for money: a decimal string."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d" % (sign, cents // 100, cents % 100)


def money_set(cents, currency):
    m = {"amount": money(cents), "currency_code": currency}
    return {"shop_money": m, "presentment_money": dict(m)}


def tax_of(cents, rate_ppm, included):
    """Tax on an amount, rate in parts per million, half-up rounding."""
    if included:
        net = (cents * 1000000 * 2 + (1000000 + rate_ppm)) // \
            (2 * (1000000 + rate_ppm))
        return cents - net
    return (cents * rate_ppm * 2 + 1000000) // 2000000


def address(first, last, street, city, province, code, zip_, country, ccode,
            phone):
    return {
        "first_name": first, "address1": street, "phone": phone,
        "city": city, "zip": zip_, "province": province, "country": country,
        "last_name": last, "address2": None, "company": None,
        "latitude": None, "longitude": None, "name": first + " " + last,
        "country_code": ccode, "province_code": code,
    }


def build_order(order_id=5678901234567, number=1001, shop="acme",
                currency="USD", taxes_included=False, tax_rate_ppm=88750,
                tax_title="NY State Tax", lines=6, removed=None,
                updated_at="2024-05-14T10:42:17-04:00",
                created_at="2024-05-14T09:58:03-04:00", cancelled=False,
                refunds=None, discount_pct=10, shipping_cents=1500,
                customer=None, country=("US", "United States", "NY",
                                        "New York", "10001"),
                street="10 Canyon Road", phone="+1 212-555-0101",
                products=PRODUCTS):
    """One Shopify Order, totals consistent in integer cents.

    removed maps a line index to how many units an order edit removed
    (current_quantity = quantity - removed)."""
    removed = removed or {}
    refunds = refunds or []
    ccode, cname, pcode, pname, zip_ = country
    first, last, email = customer or ("Wile E.", "Coyote",
                                      "wile.e.coyote@example.com")
    line_items, subtotal, line_price_total, total_disc, total_tax = \
        [], 0, 0, 0, 0
    for i in range(lines):
        sku, title, variant, vendor, grams, price = \
            products[i % len(products)]
        qty = 1 + (i * 7) % 3
        cur = qty - removed.get(i, 0)
        gross = price * cur
        disc = gross * discount_pct // 100
        tax = tax_of(gross - disc, tax_rate_ppm, taxes_included)
        li_id = 13000000000000 + order_id % 1000000 * 100 + i
        line_items.append({
            "id": li_id,
            "admin_graphql_api_id": "gid://shopify/LineItem/%d" % li_id,
            "attributed_staffs": [],
            "current_quantity": cur,
            "fulfillable_quantity": 0 if cancelled else cur,
            "fulfillment_service": "manual",
            "fulfillment_status": None,
            "gift_card": False,
            "grams": grams,
            "name": "%s - %s" % (title, variant),
            "price": money(price),
            "price_set": money_set(price, currency),
            "product_exists": True,
            "product_id": 8000000000000 + i,
            "properties": [],
            "quantity": qty,
            "requires_shipping": True,
            "sku": sku,
            "taxable": True,
            "title": title,
            "total_discount": "0.00",
            "total_discount_set": money_set(0, currency),
            "variant_id": 44000000000000 + i,
            "variant_inventory_management": "shopify",
            "variant_title": variant,
            "vendor": vendor,
            "tax_lines": [{
                "channel_liable": False,
                "price": money(tax),
                "price_set": money_set(tax, currency),
                "rate": tax_rate_ppm / 1000000,
                "title": tax_title,
            }],
            "duties": [],
            "discount_allocations": [{
                "amount": money(disc),
                "amount_set": money_set(disc, currency),
                "discount_application_index": 0,
            }] if disc else [],
        })
        line_price_total += price * qty
        subtotal += gross - disc
        total_disc += disc
        total_tax += tax
    ship_tax = tax_of(shipping_cents, tax_rate_ppm, taxes_included)
    total_tax += ship_tax
    total = subtotal + shipping_cents + (0 if taxes_included else total_tax)
    refunded = sum(r["_amount"] for r in refunds)
    addr = address(first, last, street, pname, pname, pcode, zip_,
                   cname, ccode, phone)
    when = created_at
    order = {
        "id": order_id,
        "admin_graphql_api_id": "gid://shopify/Order/%d" % order_id,
        "app_id": 580111,
        "browser_ip": "203.0.113.17",
        "buyer_accepts_marketing": False,
        "cancel_reason": "customer" if cancelled else None,
        "cancelled_at": updated_at if cancelled else None,
        "cart_token": "c1-%032x" % (order_id * 2654435761 % (1 << 128)),
        "checkout_id": 36000000000000 + number,
        "checkout_token": "%032x" % (order_id * 40503 % (1 << 128)),
        "client_details": {
            "accept_language": "en-US,en;q=0.9",
            "browser_height": None, "browser_ip": "203.0.113.17",
            "browser_width": None, "session_hash": None,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) "
                          "AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/124.0 Safari/537.36",
        },
        "closed_at": None,
        "confirmation_number": "K%08d" % (number * 7919 % 100000000),
        "confirmed": True,
        "contact_email": email,
        "created_at": created_at,
        "currency": currency,
        "current_subtotal_price": money(subtotal),
        "current_subtotal_price_set": money_set(subtotal, currency),
        "current_total_additional_fees_set": None,
        "current_total_discounts": money(total_disc),
        "current_total_discounts_set": money_set(total_disc, currency),
        "current_total_duties_set": None,
        "current_total_price": money(total),
        "current_total_price_set": money_set(total, currency),
        "current_total_tax": money(total_tax),
        "current_total_tax_set": money_set(total_tax, currency),
        "customer_locale": "en-US",
        "device_id": None,
        "discount_codes": [{"code": "SPRING%d" % discount_pct,
                            "amount": money(total_disc),
                            "type": "percentage"}] if discount_pct else [],
        "email": email,
        "estimated_taxes": False,
        "financial_status": ("voided" if cancelled else
                             "partially_refunded" if refunded else "paid"),
        "fulfillment_status": None,
        "landing_site": "/",
        "landing_site_ref": None,
        "location_id": None,
        "merchant_of_record_app_id": None,
        "name": "#%d" % number,
        "note": None,
        "note_attributes": [],
        "number": number - 1000,
        "order_number": number,
        "order_status_url": "https://%s.myshopify.com/60000000/orders/"
                            "%032x/authenticate?key=%032x"
                            % (shop, order_id, number),
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["shopify_payments"],
        "phone": None,
        "po_number": None,
        "presentment_currency": currency,
        "processed_at": created_at,
        "reference": None,
        "referring_site": "",
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "subtotal_price": money(subtotal),
        "subtotal_price_set": money_set(subtotal, currency),
        "tags": "wholesale, priority",
        "tax_exempt": False,
        "tax_lines": [{
            "price": money(total_tax),
            "rate": tax_rate_ppm / 1000000,
            "title": tax_title,
            "price_set": money_set(total_tax, currency),
            "channel_liable": False,
        }],
        "taxes_included": taxes_included,
        "test": False,
        "token": "%032x" % (order_id * 69069 % (1 << 128)),
        "total_discounts": money(total_disc),
        "total_discounts_set": money_set(total_disc, currency),
        "total_line_items_price": money(line_price_total),
        "total_line_items_price_set": money_set(line_price_total, currency),
        "total_outstanding": "0.00",
        "total_price": money(total),
        "total_price_set": money_set(total, currency),
        "total_shipping_price_set": money_set(shipping_cents, currency),
        "total_tax": money(total_tax),
        "total_tax_set": money_set(total_tax, currency),
        "total_tip_received": "0.00",
        "total_weight": sum(li["grams"] * li["current_quantity"]
                            for li in line_items),
        "updated_at": updated_at,
        "user_id": None,
        "billing_address": addr,
        "customer": {
            "id": 7000000000000 + number,
            "email": email,
            "created_at": "2023-11-02T08:15:00-04:00",
            "updated_at": when,
            "first_name": first,
            "last_name": last,
            "state": "enabled",
            "note": None,
            "verified_email": True,
            "multipass_identifier": None,
            "tax_exempt": False,
            "phone": None,
            "email_marketing_consent": {
                "state": "not_subscribed", "opt_in_level": "single_opt_in",
                "consent_updated_at": None},
            "tags": "",
            "currency": currency,
            "admin_graphql_api_id": "gid://shopify/Customer/%d"
                                    % (7000000000000 + number),
            "default_address": dict(addr, id=9000000000000 + number,
                                    customer_id=7000000000000 + number,
                                    default=True),
        },
        "discount_applications": [{
            "target_type": "line_item", "type": "discount_code",
            "value": "%d.0" % discount_pct, "value_type": "percentage",
            "allocation_method": "across", "target_selection": "all",
            "code": "SPRING%d" % discount_pct,
        }] if discount_pct else [],
        "fulfillments": [],
        "line_items": line_items,
        "payment_terms": None,
        "refunds": [{k: v for k, v in r.items() if k != "_amount"}
                    for r in refunds],
        "shipping_address": addr,
        "shipping_lines": [{
            "id": 4500000000000 + number,
            "carrier_identifier": None,
            "code": "Standard",
            "discounted_price": money(shipping_cents),
            "discounted_price_set": money_set(shipping_cents, currency),
            "phone": None,
            "price": money(shipping_cents),
            "price_set": money_set(shipping_cents, currency),
            "requested_fulfillment_service_id": None,
            "source": "shopify",
            "title": "Standard Shipping",
            "tax_lines": [{
                "channel_liable": False, "price": money(ship_tax),
                "price_set": money_set(ship_tax, currency),
                "rate": tax_rate_ppm / 1000000, "title": tax_title,
            }],
            "discount_allocations": [],
        }],
    }
    return order


def encode(obj):
    """Compact, key order kept: the bytes Shopify would put on the wire."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) \
        .encode("utf-8")


def payload_of_size(size):
    """The orders/updated body whose length is closest to size."""
    best = None
    for lines in range(1, 200):
        body = encode(build_order(lines=lines, removed={1: 1}))
        if best is None or abs(len(body) - size) < abs(len(best) - size):
            best = body
        if len(body) > size:
            break
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=16384,
                   help="target body size in bytes (default %(default)s)")
    p.add_argument("--out", default="-", help="output file (default stdout)")
    p.add_argument("--print-size", action="store_true",
                   help="print the body's size on stderr")
    args = p.parse_args()
    body = payload_of_size(args.size)
    if args.out == "-":
        sys.stdout.buffer.write(body)
    else:
        with open(args.out, "wb") as f:
            f.write(body)
    if args.print_size:
        sys.stderr.write("%d bytes\n" % len(body))


if __name__ == "__main__":
    main()
