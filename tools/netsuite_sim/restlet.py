"""The RESTlet: applies one normalised document server-side, atomically.

In a real account this is netsuite/order_edit_restlet.js, the SuiteScript
2.1 RESTlet the project ships; the simulator plays the part of that script
so the module's RESTlet mode can be tested.  What the script does is
specified here and in docs/netsuite-simulator.md ("RESTlet"), and
netsuite/test/cases.json runs the same cases against both, so the two
cannot drift.  In short, the POST body is

    {"sales_order": {...}, "credit_memo": {...}, "cancellation": {...},
     "source": {...},                       # ignored (for logs)
     "options": {"on_missing": "error"|"create", "lock_after": "B",
                 "refund_flow": "standalone"|"invoice"}}

with any one or more of the three documents.  Either everything in the body
is applied or nothing is.  A SuiteScript RESTlet cannot choose its HTTP
status: success is 200 with what the script returns, a thrown error is 400
with {"error": {"code", "message"}} -- which is also what the account's
concurrency limit looks like here (SSS_REQUEST_LIMIT_EXCEEDED)."""

import copy
import re
from decimal import Decimal, ROUND_HALF_UP

from .errors import NSError
from .records import ORDER_STATUS, Validation

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_RATE_PLACES = Decimal("0.00000001")
_TAX_RATE_PLACES = Decimal("0.0001")
# shipping's tax as a rate that gives back the exact amount: 6 decimals are
# exact to the minor unit for any cost below 10^6 (how many decimals
# NetSuite keeps in a rate field is UNCONFIRMED)
_SHIP_RATE_PLACES = Decimal("0.000001")

# The script's parameters (netsuite/README.md), with their defaults:
# tax_mode legacy | suitetax (the script can also detect it), the tax code
# and SuiteTax tax type set on taxed lines and shipping, refund_flow
# standalone | invoice.
DEFAULT_PARAMS = {"tax_mode": "legacy", "tax_code": None, "tax_type": None,
                  "shipping_tax_code": None, "refund_flow": "standalone"}

# Shopify-style address keys -> NetSuite address subrecord fields.
_ADDRESS_MAP = {"address1": "addr1", "address2": "addr2", "city": "city",
                "province_code": "state", "province": "state", "zip": "zip",
                "country_code": "country", "phone": "addrPhone",
                "company": "attention", "name": "addressee"}
_NS_ADDRESS = {"addr1", "addr2", "addr3", "city", "state", "zip", "country",
               "addressee", "attention", "addrPhone"}


def _err(code, message):
    return NSError(400, code, message)


def _money(value, where):
    """Document money is a decimal string ("19.99"); a JSON number is
    accepted too (it was parsed as an exact Decimal)."""
    if isinstance(value, Decimal) or (isinstance(value, int)
                                      and not isinstance(value, bool)):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise _err("INVALID_DOCUMENT", "%s must be a decimal string, got %r"
               % (where, value))


def _quantity(value, where):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise _err("INVALID_DOCUMENT", "%s must be a whole number, got %r"
               % (where, value))


def _ref(value, where):
    """An item/customer reference: "123", {"id": "123"} or
    {"externalId": "SKU-1"}."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return {"id": str(value)}
    if isinstance(value, dict) and (value.get("id")
                                    or value.get("externalId")):
        return {k: str(value[k]) for k in ("id", "externalId") if k in value}
    raise _err("INVALID_DOCUMENT", "%s is not a reference" % where)


def _text(s):
    return format(s, "f")


def _address(addr):
    if not isinstance(addr, dict):
        raise _err("INVALID_DOCUMENT", "shipping.address must be an object")
    out = {}
    for k, v in addr.items():
        if v is None or v == "":
            continue
        if k in _NS_ADDRESS:
            out[k] = str(v)
        elif k in _ADDRESS_MAP:
            out.setdefault(_ADDRESS_MAP[k], str(v))
    if "addressee" not in out and (addr.get("first_name")
                                   or addr.get("last_name")):
        out["addressee"] = " ".join(str(addr[k]) for k in
                                    ("first_name", "last_name") if addr.get(k))
    return out


def _rate(amount, quantity, precision):
    """amount / quantity to 8 decimals, half away from zero, trailing
    zeros dropped down to the currency's decimals: rate x quantity is the
    amount, so nothing that recomputes a line from its rate undoes a
    discount (the module's REST mode uses the same rule)."""
    if not quantity:
        return amount
    r = (amount / quantity).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)
    while r.as_tuple().exponent < -precision and r == r.quantize(
            Decimal(1).scaleb(r.as_tuple().exponent + 1)):
        r = r.quantize(Decimal(1).scaleb(r.as_tuple().exponent + 1))
    return r


def _tax_rate(tax, basis, places=_TAX_RATE_PLACES):
    if not basis:
        return Decimal(0)
    return (tax * 100 / basis).quantize(places, rounding=ROUND_HALF_UP)


def _texts(fields, pairs):
    """Text fields from the document, when it has them."""
    for name, value in pairs:
        if isinstance(value, str) and value:
            fields[name] = value


class Restlet:
    def __init__(self, store, default_entity="1", params=None):
        self.store = store
        self.default_entity = default_entity
        self.params = dict(DEFAULT_PARAMS, **(params or {}))
        # the "drift" fault: a script on save (a user event) changes the
        # Sales Order's first line after the RESTlet saved it
        self.drift = False

    def currency_id(self, code):
        if code is None:
            return None
        for cid, cur in self.store.currencies.items():
            if cur["symbol"] == code or cid == str(code):
                return cid
        raise _err("INVALID_DOCUMENT", "currency %s is not set up in this "
                   "account" % code)

    def apply(self, body):
        if not isinstance(body, dict):
            raise _err("INVALID_DOCUMENT", "the body must be a JSON object")
        docs = [k for k in ("sales_order", "credit_memo", "cancellation")
                if body.get(k) is not None]
        if not docs:
            raise _err("INVALID_DOCUMENT", "the body holds none of "
                       "sales_order, credit_memo, cancellation")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise _err("INVALID_DOCUMENT", "options must be an object")
        on_missing = options.get("on_missing", "error")
        lock_after = options.get("lock_after", "B")
        # the module's refund_flow, else the script's parameter
        refund_flow = options.get("refund_flow", self.params["refund_flow"])
        if on_missing not in ("error", "create") or lock_after not in \
                ORDER_STATUS or refund_flow not in ("standalone", "invoice"):
            raise _err("INVALID_DOCUMENT", "bad options")
        # on_missing create's customer: found, or made, and the guest's
        self.customers = options.get("customers", "find")
        self.guest = options.get("guest")
        self.subsidiary = options.get("subsidiary")
        self.match = options.get("match", "external_id")
        if self.customers not in ("find", "create") or self.match not in (
                "external_id", "email") or any(
                v is not None and not (isinstance(v, str) and v.isdigit())
                for v in (self.guest, self.subsidiary)):
            raise _err("INVALID_DOCUMENT", "bad options")

        # Every document is checked before anything is written (the
        # script does the same: a RESTlet has no transaction across
        # record.save() calls); then, all or nothing: remember every
        # record this call replaces and put the old ones back if a save
        # fails (records are copy-on-write).
        source = body.get("source")
        source = source if isinstance(source, dict) else {}
        plans = {}
        if "sales_order" in docs:
            plans["sales_order"] = self._plan_sales_order(body["sales_order"],
                                                          source)
        if "credit_memo" in docs:
            plans["credit_memo"] = self._plan_credit_memo(body["credit_memo"],
                                                          source)
        if "cancellation" in docs:
            doc = body["cancellation"]
            if not isinstance(doc, dict) or not isinstance(
                    doc.get("external_id"), str) or not doc["external_id"]:
                raise _err("INVALID_DOCUMENT", "cancellation.external_id is "
                           "required")
            plans["cancellation"] = doc
        self._check_items(plans)
        undo = []
        results = {}
        try:
            if "sales_order" in plans:
                results["sales_order"] = self._sales_order(
                    plans["sales_order"], on_missing, lock_after, undo)
            if "credit_memo" in plans:
                results["credit_memo"] = self._credit_memo(
                    plans["credit_memo"], refund_flow, undo)
            if "cancellation" in plans:
                results["cancellation"] = self._cancel(
                    plans["cancellation"], lock_after, undo)
        except NSError as e:
            for rtype, rid, old in reversed(undo):
                if old is None:
                    self.store.records[rtype].pop(rid, None)
                else:
                    self.store.records[rtype][rid] = old
            if e.code in ("USER_ERROR", "INVALID_CONTENT", "NONEXISTENT_ID"):
                # Errors raised by record.save() inside the script surface
                # with the record layer's code and message.
                raise NSError(400, e.code, e.detail)
            raise
        return {"ok": True, "results": results}

    # ------------------------------------------------------------------
    # the documents, checked and turned into NetSuite values

    def _lines(self, lines, precision, incl, memo):
        """Each line as the script books it: the amount after discounts
        (and, when prices include tax, before tax), rate = amount /
        quantity, Shopify's tax as the line's tax."""
        if not isinstance(lines, list):
            raise _err("INVALID_DOCUMENT", "lines must be an array")
        out = []
        for i, line in enumerate(lines):
            where = "lines[%d]" % i
            if not isinstance(line, dict):
                raise _err("INVALID_DOCUMENT", where + " must be an object")
            if line.get("item") is not None:
                item = _ref(line["item"], where + ".item")
            elif line.get("sku"):
                item = {"externalId": str(line["sku"])}
            elif memo and line.get("kind"):
                item = {"externalId": "shopify-%s" % line["kind"]}
            else:
                raise _err("INVALID_DOCUMENT", where + " has no item or sku")
            qty = _quantity(line.get("quantity", 1), where + ".quantity")
            tax = _money(line.get("tax", "0"), where + ".tax")
            if line.get("net") is not None:
                amount = _money(line["net"], where + ".net")
            elif line.get("amount", line.get("subtotal")) is not None:
                amount = _money(line.get("amount", line.get("subtotal")),
                                where + ".amount") - _money(
                    line.get("discount", "0"), where + ".discount")
            elif line.get("rate") is not None:
                amount = _money(line["rate"], where + ".rate") * qty
            else:
                raise _err("INVALID_DOCUMENT", where + " has no amount")
            if incl:
                amount -= tax
            ns = {"item": item, "quantity": qty, "amount": amount,
                  "rate": _rate(amount, qty, precision), "tax": tax}
            if line.get("key") is not None:
                ns["key"] = str(line["key"])
            if line.get("description"):
                ns["description"] = str(line["description"])
            if memo and line.get("restock") is not None:
                ns["restock"] = bool(line["restock"])
            if memo and line.get("kind"):
                ns["kind"] = str(line["kind"])
            out.append(ns)
        return out

    def _header(self, doc, name):
        if not isinstance(doc, dict):
            raise _err("INVALID_DOCUMENT", "%s must be an object" % name)
        ext = doc.get("external_id")
        if not isinstance(ext, str) or not ext:
            raise _err("INVALID_DOCUMENT", "%s.external_id is required"
                       % name)
        fields = {}
        cid = self.currency_id(doc.get("currency"))
        if cid is not None:
            fields["currency"] = {"id": cid}
        customer = doc.get("customer", doc.get("entity"))
        if customer is not None:
            fields["entity"] = _ref(customer, "customer")
        return ext, fields

    def _plan_sales_order(self, doc, source):
        ext, fields = self._header(doc, "sales_order")
        # what the module's REST mode writes too (docs/normalised-schema.md,
        # "Field names"), so searches and the refund path read the same
        _texts(fields, (("otherRefNum", source.get("order_name")),
                        ("custbody_shopify_order_id", source.get("order_id")),
                        ("custbody_shopify_updated_at",
                         source.get("updated_at"))))
        if isinstance(doc.get("taxes_included"), bool):
            fields["custbody_shopify_taxes_included"] = doc["taxes_included"]
        precision = self.store.precision_of(fields.get("currency"))
        incl = doc.get("taxes_included") is True
        lines = self._lines(doc.get("lines"), precision, incl, memo=False)
        charges = doc.get("charges") or []
        if not isinstance(charges, list):
            raise _err("INVALID_DOCUMENT", "charges must be an array")
        # a tip or duties: an item line of its own, untaxed
        lines += self._lines(charges, precision, False, memo=False)
        totals = doc.get("totals") or {}
        if not isinstance(totals, dict):
            raise _err("INVALID_DOCUMENT", "totals must be an object")
        totals = {k: _money(v, "totals." + k) for k, v in totals.items()
                  if v is not None and k in ("total", "tax", "shipping")}
        shipping = doc.get("shipping") or {}
        if not isinstance(shipping, dict):
            raise _err("INVALID_DOCUMENT", "shipping must be an object")
        ship = {"tax": _money(shipping.get("tax") or "0", "shipping.tax")}
        if shipping.get("cost") is not None:
            ship["cost"] = _money(shipping["cost"], "shipping.cost")
            if incl:
                ship["cost"] -= ship["tax"]
        elif ship["tax"]:
            raise _err("INVALID_DOCUMENT", "shipping.tax without a cost")
        if ship["tax"] and not ship.get("cost"):
            raise _err("INVALID_DOCUMENT", "shipping tax on free shipping "
                       "cannot be booked")
        if "shipping" in totals and incl:
            totals["shipping"] -= ship["tax"]
        if shipping.get("address") is not None:
            fields["shippingAddress"] = _address(shipping["address"])
        return {"ext": ext, "fields": fields, "lines": lines,
                # the rest of it names a customer a create makes
                "customer": doc.get("customer"),
                "totals": totals, "ship": ship}

    def _plan_credit_memo(self, doc, source):
        ext, fields = self._header(doc, "credit_memo")
        _texts(fields, (("memo", doc.get("note")),
                        ("custbody_shopify_refund_id", doc.get("refund_id")),
                        ("custbody_shopify_order_id", source.get("order_id"))))
        precision = self.store.precision_of(fields.get("currency"))
        incl = doc.get("taxes_included") is True
        lines = self._lines(doc.get("lines"), precision, incl, memo=True)
        total = None
        if doc.get("total") is not None:
            total = _money(doc["total"], "credit_memo.total")
        so_ext = doc.get("sales_order_external_id")
        return {"ext": ext, "fields": fields, "lines": lines, "total": total,
                "so_ext": str(so_ext) if so_ext else None}

    def _check_items(self, plans):
        """Items named by external id must exist (the script looks them
        up before it saves anything).  With no item catalogue loaded the
        simulator accepts any item, as everywhere else."""
        if not self.store.items:
            return
        known = {i.get("externalId") for i in self.store.items.values()}
        missing = []
        for plan in plans.values():
            for ns in plan.get("lines", ()) if isinstance(plan, dict) \
                    else ():
                ext = ns["item"].get("externalId")
                if ext is not None and ext not in known \
                        and ext not in missing:
                    missing.append(ext)
        if missing:
            raise _err("INVALID_DOCUMENT", "no item with external id %s"
                       % ", ".join(missing))

    # ------------------------------------------------------------------
    # tax: Shopify's, overriding NetSuite's

    def _tax_fields(self, plan, body, ship):
        """Legacy tax: each line's tax code and tax amount (tax1Amt), and
        shipping's as a rate that gives the exact amount.  SuiteTax:
        taxDetailsOverride and one tax details line per taxed item line,
        joined by taxDetailsReference (the Shopify line key), shipping's
        under SHIPPING."""
        p = self.params
        items = body["item"]["items"]
        if p["tax_mode"] == "suitetax":
            details = []
            for ns, line in zip(plan["lines"], items):
                line["taxDetailsReference"] = ns.get("key") or "L%d" % len(
                    details)
                if ns["tax"]:
                    details.append(self._detail(line["taxDetailsReference"],
                                                ns["amount"], ns["tax"]))
            if ship and ship["tax"]:
                details.append(self._detail("SHIPPING", ship["cost"],
                                            ship["tax"]))
            body["taxDetailsOverride"] = True
            body["taxDetails"] = {"items": details}
            return
        for ns, line in zip(plan["lines"], items):
            if p["tax_code"]:
                line["taxCode"] = {"id": str(p["tax_code"])}
            line["tax1Amt"] = ns["tax"]
        if ship is not None:
            body["shippingTax1Rate"] = _tax_rate(
                ship["tax"], ship.get("cost"), _SHIP_RATE_PLACES) \
                if ship["tax"] else None
            if ship["tax"] and (p["shipping_tax_code"] or p["tax_code"]):
                body["shippingTaxCode"] = {"id": str(
                    p["shipping_tax_code"] or p["tax_code"])}

    def _detail(self, ref, basis, tax):
        if not self.params["tax_code"] or not self.params["tax_type"]:
            raise _err("MISSING_PARAMETER", "SuiteTax needs the tax_code "
                       "and tax_type script parameters")
        return {"taxDetailsReference": ref,
                "taxType": {"id": str(self.params["tax_type"])},
                "taxCode": {"id": str(self.params["tax_code"])},
                "taxBasis": basis, "taxRate": _tax_rate(tax, basis),
                "taxAmount": tax}

    def _items(self, plan, existing, memo):
        """The item sublist: a line whose Shopify key matches a line of the
        record keeps its "line" (updated in place); the others are new;
        lines of the record left out are removed (keyed replace)."""
        by_key = {}
        for old in existing.lines if existing is not None else ():
            k = old.get("custcol_shopify_line_id")
            if k is not None and k not in by_key:
                by_key[k] = old["line"]
        items = []
        for ns in plan["lines"]:
            line = {"item": ns["item"], "quantity": ns["quantity"],
                    "rate": ns["rate"], "amount": ns["amount"]}
            if ns.get("key") is not None:
                line["custcol_shopify_line_id"] = ns["key"]
                if ns["key"] in by_key:
                    line["line"] = by_key.pop(ns["key"])
            if ns.get("description"):
                line["description"] = ns["description"]
            if memo and "restock" in ns:
                line["custcol_shopify_restock"] = ns["restock"]
            if memo and "kind" in ns:
                line["custcol_shopify_line_kind"] = ns["kind"]
            items.append(line)
        return items

    # ------------------------------------------------------------------

    def _summary(self, rec, action, checks):
        t = rec.totals
        out = {"id": rec.id, "externalId": rec.external_id, "action": action,
               "totals": {k: _text(v) for k, v in t.items()
                          if k in ("subtotal", "discountTotal", "taxTotal",
                                   "total")},
               "lines": [{"line": l["line"], "item": l["item"]["id"],
                          "key": l.get("custcol_shopify_line_id"),
                          "quantity": _text(Decimal(l["quantity"])),
                          "rate": _text(l["rate"]),
                          "amount": _text(l["amount"]),
                          "tax1Amt": _text(l["tax1Amt"]),
                          "isClosed": bool(l.get("isClosed"))}
                         for l in sorted(rec.lines, key=lambda l: l["line"])]}
        if "shippingCost" in rec.fields:
            out["totals"]["shippingCost"] = _text(rec.fields["shippingCost"])
        if rec.type == "salesOrder":
            letter = rec.status_letter()
            out["orderStatus"] = {"id": letter,
                                  "refName": ORDER_STATUS[letter]}
        out["discrepancies"] = [
            {"field": name, "document": _text(want), "netsuite": _text(have)}
            for name, want, have in checks if want != have]
        return out

    def _customer(self, ref, doc):
        """A new order's customer: by internal id, by external id (made
        when absent with customers "create"), else the guest option or
        the script's default customer parameter."""
        if ref is None:
            return self.guest or self.default_entity
        if "id" in ref:
            return ref["id"]
        ext = ref["externalId"]
        cid = self.store.customer_by_eid(ext)
        if cid is not None:
            return cid
        email = doc.get("email") if isinstance(doc, dict) else None
        if self.match == "email" and isinstance(email, str) and email:
            # one another system made, without the external id, in any
            # case: the script's LOWER(email) = the ASCII-lowered email
            if len(email) > 254 or re.search(r"[\x00-\x1f\x7f]", email):
                raise _err("CUSTOMER_MISSING", "the order's email cannot "
                           "be an address; no customer is looked for or "
                           "made by it")
            want = re.sub(r"[A-Z]", lambda m: m.group(0).lower(), email)
            ids = sorted((k for k, c in self.store.customers.items()
                          if (c.get("email") or "").lower() == want),
                         key=int)
            if len(ids) > 1:
                raise _err("CUSTOMER_AMBIGUOUS", "several customers have "
                           "the email %s" % email)
            if ids:
                return ids[0]
        if self.customers != "create":
            raise _err("CUSTOMER_MISSING", "no customer with external id %s "
                       "(customers create makes one)" % ext)
        doc = doc if isinstance(doc, dict) else {}
        text = {k: doc.get(k) for k in ("first_name", "last_name", "company",
                                        "email", "phone", "shopify_id")
                if isinstance(doc.get(k), str) and doc.get(k)}
        body = {"externalId": ext}
        if "company" not in text and "first_name" in text \
                and "last_name" in text:
            body.update(isPerson=True, firstName=text["first_name"],
                        lastName=text["last_name"])
        else:
            body.update(isPerson=False, companyName=text.get(
                "company", text.get("last_name", text.get(
                    "first_name", text.get("email", "Shopify customer %s"
                                           % text.get("shopify_id", ""))))))
        for k in ("email", "phone"):
            if k in text:
                body[k] = text[k]
        if self.subsidiary:
            body["subsidiary"] = {"id": self.subsidiary}
        try:
            return self.store.create_customer(body, Validation("Error"))["id"]
        except NSError as e:
            raise _err("CUSTOMER_REJECTED", "NetSuite refused customer %s: %s"
                       % (ext, e.detail))

    def _sales_order(self, plan, on_missing, lock_after, undo):
        ext = plan["ext"]
        existing = self.store.get("salesOrder", "eid:" + ext)
        if existing is not None and existing.status_letter() > lock_after:
            letter = existing.status_letter()
            raise _err("ORDER_LOCKED", "Sales Order %s is %s (%s), past %s; "
                       "not changed" % (ext, ORDER_STATUS[letter], letter,
                                        lock_after))
        if existing is None and on_missing != "create":
            raise _err("RCRD_DSNT_EXIST", "salesOrder with externalId %s "
                       "does not exist" % ext)
        body = dict(plan["fields"])
        customer = plan.get("customer")
        if existing is not None:
            # the currency and customer of a saved order are not changed
            body.pop("currency", None)
            body.pop("entity", None)
        else:
            body["entity"] = {"id": self._customer(body.get("entity"),
                                                   customer)}
        ship = plan["ship"]
        if "cost" in ship:
            body["shippingCost"] = ship["cost"]
        body["item"] = {"items": self._items(plan, existing, memo=False)}
        self._tax_fields(plan, body, ship)
        v = Validation("Error")
        if existing is None:
            rec = self.store.create("salesOrder", body, v, external_id=ext,
                                    rest=False)
            undo.append(("salesOrder", rec.id, None))
            action = "created"
        else:
            undo.append(("salesOrder", existing.id, existing))
            rec = self.store.update(existing, body, v, replace=("item",),
                                    rest=False)
            action = "updated"
        if self.drift and rec.lines:
            self.drift = False
            rec.lines[0]["quantity"] += 1
            rec.lines[0]["amount"] += rec.lines[0]["rate"]
            self.store._compute(rec)
        totals = plan["totals"]
        checks = []
        for name, ns_name in (("total", "total"), ("tax", "taxTotal")):
            if name in totals:
                checks.append((name, totals[name], rec.totals[ns_name]))
        if "shipping" in totals:
            checks.append(("shipping", totals["shipping"],
                           rec.fields.get("shippingCost", Decimal(0))))
        return self._summary(rec, action, checks)

    def _credit_memo(self, plan, refund_flow, undo):
        ext = plan["ext"]
        fields = dict(plan["fields"])
        so = None
        if plan["so_ext"]:
            so = self.store.get("salesOrder", "eid:" + plan["so_ext"])
        existing = self.store.get("creditMemo", "eid:" + ext)
        body = dict(fields)
        body["item"] = {"items": self._items(plan, existing, memo=True)}
        self._tax_fields(plan, body, None)
        v = Validation("Error")
        if existing is not None:
            # a retry after a lost answer: the same memo, its lines
            # replaced, never a second one
            body.pop("currency", None)
            undo.append(("creditMemo", existing.id, existing))
            rec = self.store.update(existing, body, v, replace=("item",),
                                    rest=False)
            action = "updated"
        else:
            invoice = None
            if so is not None and refund_flow == "invoice":
                invoice = next((r for r in self.store.records[
                    "invoice"].values() if r.fields.get(
                        "createdFrom", {}).get("id") == so.id), None)
            if invoice is not None:
                body.pop("entity", None)
                body.pop("currency", None)
                body["externalId"] = ext
                rec = self.store.transform(invoice, "creditMemo", body, v,
                                           replace=("item",))
                action = "created_from_invoice"
            else:
                if so is not None:
                    body["createdFrom"] = {"id": so.id}
                    body.setdefault("entity", dict(so.fields["entity"]))
                    body.setdefault("currency", dict(so.fields["currency"]))
                body.setdefault("entity", {"id": self.default_entity})
                rec = self.store.create("creditMemo", body, v,
                                        external_id=ext, rest=False)
                action = "created"
            undo.append(("creditMemo", rec.id, None))
        checks = []
        if plan["total"] is not None:
            checks.append(("total", plan["total"], rec.totals["total"]))
        return self._summary(rec, action, checks)

    def _cancel(self, doc, lock_after, undo):
        """Shopify's cancellation closes every line (isClosed): NetSuite
        cannot cancel an approved order through REST or by its status,
        closing the lines is Oracle's documented way, and the order then
        shows Closed (H) with its commitments released (research notes
        2.3)."""
        ext = doc["external_id"]
        rec = self.store.get("salesOrder", "eid:" + ext)
        if rec is None:
            raise _err("RCRD_DSNT_EXIST", "salesOrder with externalId %s "
                       "does not exist" % ext)
        letter = rec.status_letter()
        if letter in "CH":
            return {"id": rec.id, "externalId": ext, "action": "unchanged",
                    "orderStatus": {"id": letter,
                                    "refName": ORDER_STATUS[letter]}}
        if letter > lock_after:
            raise _err("ORDER_LOCKED", "Sales Order %s is %s (%s), past %s; "
                       "not cancelled" % (ext, ORDER_STATUS[letter], letter,
                                          lock_after))
        body = {"item": {"items": [{"line": l["line"], "isClosed": True}
                                   for l in rec.lines]}}
        if doc.get("reason"):
            body["memo"] = "Cancelled in Shopify: %s" % doc["reason"]
        body["custbody_shopify_cancelled"] = True
        _texts(body, (("custbody_shopify_cancelled_at",
                       doc.get("cancelled_at")),
                      ("custbody_shopify_cancel_reason", doc.get("reason"))))
        undo.append(("salesOrder", rec.id, rec))
        new = self.store.update(rec, body, Validation("Error"), rest=False)
        letter = new.status_letter()
        return {"id": rec.id, "externalId": ext, "action": "cancelled",
                "orderStatus": {"id": letter,
                                "refName": ORDER_STATUS[letter]}}
