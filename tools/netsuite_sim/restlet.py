"""The RESTlet: applies one normalised document server-side, atomically.

In a real account this is a SuiteScript 2.x RESTlet the shop deploys; the
simulator plays the part of that script so the module's RESTlet mode can be
tested.  What the script does is specified here and in
docs/netsuite-simulator.md ("RESTlet").  In short, the POST body is

    {"sales_order": {...}, "credit_memo": {...}, "cancellation": {...},
     "source": {...},                       # ignored (for logs)
     "options": {"on_missing": "error"|"create", "lock_after": "B"}}

with any one or more of the three documents.  Either everything in the body
is applied or nothing is.  A SuiteScript RESTlet cannot choose its HTTP
status: success is 200 with what the script returns, a thrown error is 400
with {"error": {"code", "message"}} -- which is also what the account's
concurrency limit looks like here (SSS_REQUEST_LIMIT_EXCEEDED)."""

import copy
import re
from decimal import Decimal

from .errors import NSError
from .records import ORDER_STATUS, Validation

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")

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


class Restlet:
    def __init__(self, store, default_entity="1"):
        self.store = store
        self.default_entity = default_entity

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
        if on_missing not in ("error", "create") or lock_after not in \
                ORDER_STATUS:
            raise _err("INVALID_DOCUMENT", "bad options")

        # All or nothing: remember every record this call replaces and put
        # the old ones back if anything fails (records are copy-on-write).
        undo = []
        results = {}
        try:
            if "sales_order" in docs:
                results["sales_order"] = self._sales_order(
                    body["sales_order"], on_missing, lock_after, undo)
            if "credit_memo" in docs:
                results["credit_memo"] = self._credit_memo(
                    body["credit_memo"], undo)
            if "cancellation" in docs:
                results["cancellation"] = self._cancel(
                    body["cancellation"], lock_after, undo)
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

    def _lines(self, lines, currency_precision, memo):
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
            ns = {"item": item, "quantity": qty}
            amount = line.get("amount", line.get("subtotal"))
            if amount is not None:
                ns["amount"] = _money(amount, where + ".amount")
            if line.get("rate") is not None:
                ns["rate"] = _money(line["rate"], where + ".rate")
            if amount is None and "rate" not in ns:
                raise _err("INVALID_DOCUMENT", where + " has neither amount "
                           "nor rate")
            ns["tax1Amt"] = _money(line.get("tax", "0"), where + ".tax")
            if line.get("key") is not None:
                ns["custcol_shopify_line_id"] = str(line["key"])
            if line.get("description"):
                ns["description"] = str(line["description"])
            if memo and line.get("restock") is not None:
                ns["custcol_shopify_restock"] = bool(line["restock"])
            if memo and line.get("kind"):
                ns["custcol_shopify_line_kind"] = str(line["kind"])
            out.append(ns)
        return out

    def _header(self, doc, rtype):
        ext = doc.get("external_id")
        if not isinstance(ext, str) or not ext:
            raise _err("INVALID_DOCUMENT", "%s.external_id is required"
                       % ("sales_order" if rtype == "salesOrder"
                          else "credit_memo"))
        fields = {}
        cid = self.currency_id(doc.get("currency"))
        if cid is not None:
            fields["currency"] = {"id": cid}
        customer = doc.get("customer", doc.get("entity"))
        if customer is not None:
            fields["entity"] = _ref(customer, "customer")
        return ext, fields

    def _write(self, rtype, ext, fields, lines, undo, create_ok=True):
        rec = self.store.get(rtype, "eid:" + ext)
        body = dict(fields, item={"items": lines})
        v = Validation("Error")
        if rec is None:
            if not create_ok:
                raise _err("RCRD_DSNT_EXIST", "%s with externalId %s does not "
                           "exist" % (rtype, ext))
            body.setdefault("entity", {"id": self.default_entity})
            new = self.store.create(rtype, body, v, external_id=ext,
                                    rest=False)
            undo.append((rtype, new.id, None))
            action = "created"
        else:
            undo.append((rtype, rec.id, rec))
            new = self.store.update(rec, body, v, replace=("item",),
                                    rest=False)
            action = "updated"
        return new, action

    def _summary(self, rec, action, checks):
        t = rec.totals
        out = {"id": rec.id, "externalId": rec.external_id, "action": action,
               "totals": {k: _text(v) for k, v in t.items()},
               "lines": [{"line": l["line"], "item": l["item"]["id"],
                          "key": l.get("custcol_shopify_line_id"),
                          "quantity": _text(Decimal(l["quantity"])),
                          "rate": _text(l["rate"]),
                          "amount": _text(l["amount"]),
                          "tax1Amt": _text(l["tax1Amt"])}
                         for l in rec.lines]}
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

    def _sales_order(self, doc, on_missing, lock_after, undo):
        if not isinstance(doc, dict):
            raise _err("INVALID_DOCUMENT", "sales_order must be an object")
        ext, fields = self._header(doc, "salesOrder")
        existing = self.store.get("salesOrder", "eid:" + ext)
        if existing is not None and existing.status_letter() > lock_after:
            letter = existing.status_letter()
            raise _err("ORDER_LOCKED", "Sales Order %s is %s (%s), past %s; "
                       "not changed" % (ext, ORDER_STATUS[letter], letter,
                                        lock_after))
        precision = self.store.precision_of(fields.get("currency"))
        lines = self._lines(doc.get("lines"), precision, memo=False)
        totals = doc.get("totals") or {}
        if not isinstance(totals, dict):
            raise _err("INVALID_DOCUMENT", "totals must be an object")
        # Check the whole document before anything is written.
        totals = {k: _money(v, "totals." + k) for k, v in totals.items()
                  if v is not None}
        discount = totals.get("discount")
        if discount is None:
            discount = sum((_money(l.get("discount", "0"), "lines.discount")
                            for l in doc["lines"]), Decimal(0))
        # discountRate as a (negative) amount; null clears an old one.
        fields["discountRate"] = -discount if discount else None
        shipping = doc.get("shipping") or {}
        if not isinstance(shipping, dict):
            raise _err("INVALID_DOCUMENT", "shipping must be an object")
        if shipping.get("cost") is not None:
            fields["shippingCost"] = _money(shipping["cost"], "shipping.cost")
        if shipping.get("address") is not None:
            fields["shippingAddress"] = _address(shipping["address"])
        ship_tax = _money(shipping.get("tax", "0"), "shipping.tax")
        rec, action = self._write("salesOrder", ext, fields, lines, undo,
                                  create_ok=(on_missing == "create"))
        # The script sets the shipping tax amount directly (a SuiteScript
        # can; the REST record API in this simulator only has
        # shippingTax1Rate), so the tax total matches the document.
        if ship_tax:
            rec.fields["_shippingTaxAmt"] = ship_tax
        else:
            rec.fields.pop("_shippingTaxAmt", None)
        self.store._compute(rec)
        checks = []
        for name, ns_name, sign in (("total", "total", 1),
                                    ("tax", "taxTotal", 1),
                                    ("discount", "discountTotal", -1)):
            if name in totals:
                checks.append((name, totals[name],
                               sign * rec.totals[ns_name]))
        if "shipping" in totals:
            checks.append(("shipping", totals["shipping"],
                           rec.fields.get("shippingCost", Decimal(0))))
        return self._summary(rec, action, checks)

    def _credit_memo(self, doc, undo):
        if not isinstance(doc, dict):
            raise _err("INVALID_DOCUMENT", "credit_memo must be an object")
        ext, fields = self._header(doc, "creditMemo")
        so_ext = doc.get("sales_order_external_id")
        if so_ext:
            so = self.store.get("salesOrder", "eid:" + str(so_ext))
            if so is not None:
                fields["createdFrom"] = {"id": so.id}
                if "entity" not in fields:
                    fields["entity"] = dict(so.fields["entity"])
                if "currency" not in fields:
                    fields["currency"] = dict(so.fields["currency"])
        precision = self.store.precision_of(fields.get("currency"))
        lines = self._lines(doc.get("lines"), precision, memo=True)
        total = None
        if doc.get("total") is not None:
            total = _money(doc["total"], "credit_memo.total")
        # A credit memo replaces whatever an earlier attempt wrote: a retry
        # after a lost response lands on the same record, never a second.
        rec, action = self._write("creditMemo", ext, fields, lines, undo)
        checks = []
        if total is not None:
            checks.append(("total", total, rec.totals["total"]))
        return self._summary(rec, action, checks)

    def _cancel(self, doc, lock_after, undo):
        if not isinstance(doc, dict) or not isinstance(
                doc.get("external_id"), str):
            raise _err("INVALID_DOCUMENT", "cancellation.external_id is "
                       "required")
        ext = doc["external_id"]
        rec = self.store.get("salesOrder", "eid:" + ext)
        if rec is None:
            raise _err("RCRD_DSNT_EXIST", "salesOrder with externalId %s "
                       "does not exist" % ext)
        letter = rec.status_letter()
        if letter == "C":
            return {"id": rec.id, "externalId": ext, "action": "unchanged",
                    "orderStatus": {"id": "C", "refName": ORDER_STATUS["C"]}}
        if letter > lock_after or letter not in "AB" or any(
                l.get("quantityFulfilled", 0) for l in rec.lines):
            raise _err("ORDER_LOCKED", "Sales Order %s is %s (%s) and cannot "
                       "be cancelled" % (ext, ORDER_STATUS[letter], letter))
        undo.append(("salesOrder", rec.id, rec))
        new = copy.deepcopy(rec)
        new.fields["orderStatus"] = {"id": "C"}
        if doc.get("reason"):
            new.fields["memo"] = "Cancelled in Shopify: %s" % doc["reason"]
        new.meta["writes"] += 1
        new.meta["version"] += 1
        self.store.records["salesOrder"][rec.id] = new
        return {"id": rec.id, "externalId": ext, "action": "cancelled",
                "orderStatus": {"id": "C", "refName": ORDER_STATUS["C"]}}
