"""The record store: Sales Orders and Credit Memos, with NetSuite's rules.

Everything here is pure data manipulation under the caller's lock; the HTTP
layer (server.py) decides who may call what.  Money is Decimal from the wire
to the wire (jsonutil parses JSON numbers as Decimal) and every amount is
rounded half-up to the currency's minor unit, so 3 x 19.99 is exactly 59.97.

A record is kept as:
    fields  body fields, already validated and normalised (references as
            {"id": ...}, numbers as Decimal)
    lines   the item sublist, a list of dicts each with a unique, never
            reused "line" number
    meta    creation/modification times and write counts (admin API only)
"""

import copy
import datetime
import re
from decimal import Decimal, ROUND_HALF_UP

from .errors import NSError, not_found, user_error, invalid_content

REST_PREFIX = "/services/rest/record/v1"

ORDER_STATUS = {
    "A": "Pending Approval",
    "B": "Pending Fulfillment",
    "C": "Cancelled",
    "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled",
    "F": "Pending Billing",
    "G": "Billed",
    "H": "Closed",
}
# The transaction "status" field NetSuite also returns, keyed by the same
# letters (its ids are camelCase words, its refNames the same labels).
ORDER_STATUS_IDS = {
    "A": "pendingApproval", "B": "pendingFulfillment", "C": "cancelled",
    "D": "partiallyFulfilled", "E": "pendingBillingPartFulfilled",
    "F": "pendingBilling", "G": "fullyBilled", "H": "closed",
}
MEMO_STATUS = {"A": ("open", "Open"), "B": ("fullyApplied", "Fully Applied")}
# Return authorization statuses (search codes RtnAuth:A..H, the labels
# NetSuite lists; research notes 6.3).  Its orderStatus takes A or B on a
# write (SOAP schema ReturnAuthorizationOrderStatus: _pendingApproval,
# _pendingReceipt), the rest follows receipts and refunds.
RA_STATUS = {
    "A": "Pending Approval",
    "B": "Pending Receipt",
    "C": "Cancelled",
    "D": "Partially Received",
    "E": "Pending Refund/Partially Received",
    "F": "Pending Refund",
    "G": "Refunded",
    "H": "Closed",
}
RA_STATUS_IDS = {
    "A": "pendingApproval", "B": "pendingReceipt", "C": "cancelled",
    "D": "partiallyReceived", "E": "pendingRefundPartReceived",
    "F": "pendingRefund", "G": "refunded", "H": "closed",
}
CASH_SALE_STATUS = ("notDeposited", "Not Deposited")

# Item record types (REST record names): only inventory items move stock.
ITEM_TYPES = {"inventoryItem", "nonInventorySaleItem", "otherChargeSaleItem",
              "serviceSaleItem", "giftCertificateItem", "kitItem"}

# What a standalone transaction takes from its customer when the body does
# not say (Oracle, "Issuing a Customer Credit Memo": classification and,
# in OneWorld, the subsidiary are chosen for the customer; the currency is
# the customer's).  A transform takes them from its source instead.
CUSTOMER_DEFAULTS = ("currency", "subsidiary", "location", "department",
                     "class")
# What else the simulator keeps of a customer record (REST field names,
# Oracle's customer record, article_161581923822, and its createCustomer
# tool, article_0822094321), and where its new internal ids start.
CUSTOMER_TEXT = ("externalId", "companyName", "firstName", "lastName",
                 "email", "phone", "isPerson")
CUSTOMER_FIRST_ID = 5000

# SuiteQL's transaction.type values.
SUITEQL_TYPE = {"salesOrder": "SalesOrd", "creditMemo": "CustCred",
                "invoice": "CustInvc", "customerRefund": "CustRfnd",
                "cashSale": "CashSale", "cashRefund": "CashRfnd",
                "returnAuthorization": "RtnAuth", "itemReceipt": "ItemRcpt"}
# Every record type the store holds, in SuiteQL's id order of creation.
RECORD_TYPES = ("salesOrder", "creditMemo", "invoice", "customerRefund",
                "cashSale", "cashRefund", "returnAuthorization",
                "itemReceipt")
TRAN_PREFIX = {"salesOrder": "SO", "creditMemo": "CM", "invoice": "INV",
               "cashSale": "CS", "cashRefund": "CR",
               "returnAuthorization": "RA", "itemReceipt": "IR"}
INVOICE_STATUS = {"A": ("open", "Open"), "B": ("paidInFull", "Paid In Full")}

# Transforms the simulator performs: source type -> target types.  Oracle,
# "Transforming Records" (the mechanism, section_157901123882: its sample
# is salesOrder -> invoice); the other pairs from the REST metadata
# (research notes 5: invoice -> creditMemo, cashSale -> cashRefund and
# returnAuthorization, salesOrder -> returnAuthorization,
# returnAuthorization -> itemReceipt, creditMemo, cashRefund; Oracle's
# own sample POSTs cashsale/<id>/!transform/returnauthorization,
# section_0526122453).  salesOrder -> cashSale is a SuiteScript pair not
# checked against the REST metadata (UNCONFIRMED).
TRANSFORMS = {
    "invoice": ("creditMemo",),
    "salesOrder": ("invoice", "cashSale", "returnAuthorization"),
    "cashSale": ("cashRefund", "returnAuthorization"),
    "returnAuthorization": ("itemReceipt", "creditMemo", "cashRefund"),
}
# Records that take the customer's defaults when made standalone (a
# transform takes its source's instead).
CUSTOMER_DEFAULTED = ("creditMemo", "cashRefund", "returnAuthorization")

# Field kinds: how a body value is validated and normalised.
_COMMON_FIELDS = {
    "externalId": "string", "tranId": "string", "tranDate": "date",
    "entity": "ref", "memo": "string", "otherRefNum": "string",
    "currency": "ref", "exchangeRate": "number", "subsidiary": "ref",
    "location": "ref", "department": "ref", "class": "ref",
    "salesRep": "ref", "email": "string", "customForm": "ref",
    "shipMethod": "ref", "shippingCost": "money", "handlingCost": "money",
    "shippingTax1Rate": "number", "shippingTaxCode": "ref",
    "discountItem": "ref", "discountRate": "discount",
    "shippingAddress": "address", "billingAddress": "address",
    "toBeEmailed": "bool", "terms": "ref", "partner": "ref",
    "leadSource": "ref", "promoCode": "ref",
}
BODY_FIELDS = {
    "salesOrder": dict(_COMMON_FIELDS, orderStatus="status", shipDate="date",
                       startDate="date", endDate="date",
                       shipComplete="bool", taxDetailsOverride="bool"),
    "creditMemo": dict(_COMMON_FIELDS, createdFrom="ref",
                       taxDetailsOverride="bool"),
    "invoice": dict(_COMMON_FIELDS, createdFrom="ref"),
    # Oracle, "Cash Refund" (REST, section_40160920714): its sample body
    # has account, currency, entity, item, location; createdFrom names the
    # cash sale or return authorization (research notes 6.5)
    "cashSale": dict(_COMMON_FIELDS, createdFrom="ref", account="ref",
                     paymentMethod="ref"),
    "cashRefund": dict(_COMMON_FIELDS, createdFrom="ref", account="ref",
                       paymentMethod="ref"),
    # SOAP schema ReturnAuthorization (research notes 6.3)
    "returnAuthorization": dict(_COMMON_FIELDS, createdFrom="ref",
                                orderStatus="status"),
    # Oracle, "Receiving a Customer Return" (section_N1307628): the
    # receipt of an authorized return, per line received and restocked
    "itemReceipt": {"externalId": "string", "tranId": "string",
                    "tranDate": "date", "entity": "ref", "memo": "string",
                    "createdFrom": "ref", "currency": "ref",
                    "subsidiary": "ref", "location": "ref",
                    "department": "ref", "class": "ref"},
    # SOAP schema CustomerRefund (research notes 6.4); "apply" is parsed
    # apart
    "customerRefund": {"externalId": "string", "tranId": "string",
                       "tranDate": "date", "customer": "ref",
                       "currency": "ref", "account": "ref",
                       "paymentMethod": "ref", "memo": "string",
                       "subsidiary": "ref", "department": "ref",
                       "class": "ref", "location": "ref"},
}
# Read-only fields: NetSuite computes them; sent in a body they are ignored
# (and noted in the request log), never an error.
READ_ONLY = {"id", "links", "refName", "subtotal", "taxTotal", "total",
             "discountTotal", "status", "createdDate", "lastModifiedDate",
             "shipAddress", "billAddress", "amountRemaining", "applied",
             "unapplied", "amountPaid", "estGrossProfit"}
LINE_FIELDS = {
    "line": "int", "item": "ref", "quantity": "number", "rate": "number",
    "amount": "money", "description": "string", "price": "ref",
    "taxCode": "ref", "taxRate1": "number", "tax1Amt": "money",
    "isClosed": "bool", "location": "ref", "department": "ref",
    "class": "ref", "units": "ref", "itemType": "string",
    "taxDetailsReference": "string",
    # the source line a transformed line comes from (SOAP schema:
    # CashRefundItem.orderLine, ReturnAuthorizationItem.orderLine)
    "orderLine": "int",
    # item receipt lines (Oracle, "Mapping the Restock Field on Item
    # Receipts", section_164500164037: restock false keeps the item out
    # of stock); itemReceive false leaves a pre-filled line unreceived
    "restock": "bool", "itemReceive": "bool",
}
# SuiteTax's tax details sublist (Oracle: with taxDetailsOverride set, all
# five tax fields are mandatory and NetSuite keeps these amounts instead of
# its engine's; see docs/netsuite-booking-research.md 1.3-1.5: the REST
# spelling is the probable one, not confirmed against the API Browser).
TAX_DETAIL_FIELDS = {
    "taxDetailsReference": "string", "taxType": "ref", "taxCode": "ref",
    "taxBasis": "money", "taxRate": "number", "taxAmount": "money",
    "lineType": "string", "lineName": "string", "netAmount": "money",
    "grossAmount": "money",
}
TAX_DETAIL_REQUIRED = ("taxType", "taxCode", "taxBasis", "taxRate",
                       "taxAmount")
LINE_READ_ONLY = {"links", "quantityFulfilled", "quantityBilled",
                  "quantityCommitted", "grossAmt", "refName",
                  "quantityReceived"}
ADDRESS_FIELDS = {"addr1", "addr2", "addr3", "city", "state", "zip",
                  "country", "addressee", "attention", "addrPhone",
                  "override"}
SUBLISTS = ("item",)
SUBRECORDS = ("shippingAddress", "billingAddress")
# Output order of body fields (the rest follow alphabetically).
_OUTPUT_ORDER = ("externalId", "tranId", "tranDate", "entity", "createdFrom",
                 "currency", "orderStatus", "status", "memo", "otherRefNum",
                 "shipMethod", "shipAddress", "subtotal", "discountTotal",
                 "taxTotal", "shippingCost", "handlingCost", "total",
                 "createdDate", "lastModifiedDate")

RATE_PLACES = Decimal("0.00000001")  # rates derived from amount/quantity


def _is_number(v):
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def round_money(value, precision):
    """Half-up to the currency's minor unit (NetSuite rounds half-up)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-precision),
                                   rounding=ROUND_HALF_UP)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


class Validation:
    """What to do with unknown body properties, NetSuite's
    X-NetSuite-PropertyNameValidation: Error (refuse), Warning or Ignore
    (drop them; the drop is reported in ``dropped``)."""

    def __init__(self, mode="Error"):
        self.mode = mode
        self.dropped = []

    def unknown(self, name, path):
        if self.mode == "Error":
            raise NSError(400, "INVALID_CONTENT",
                          'Invalid content in the request body. The '
                          'property "%s" is not a field of this record.'
                          % name, path=path)
        self.dropped.append(path)


class Record:
    def __init__(self, rtype, rid):
        self.type = rtype
        self.id = rid
        self.fields = {}
        self.lines = []
        self.next_line = 1
        stamp = now_iso()
        self.meta = {"created": stamp, "modified": stamp, "writes": 0,
                     "version": 0}
        self.totals = {}

    @property
    def external_id(self):
        return self.fields.get("externalId")

    def status_letter(self):
        if self.type in ("salesOrder", "returnAuthorization"):
            return self.fields.get("orderStatus", {}).get("id", "B")
        if self.type in ("cashSale", "cashRefund", "itemReceipt",
                         "customerRefund"):
            return None
        if self.type == "invoice":
            return "B" if self.totals.get("amountRemaining") == 0 else "A"
        return self.fields.get("_memoStatus", "A")


class Store:
    """All records plus the reference data the checks need."""

    def __init__(self, first_id=1001, currencies=None, items=None,
                 default_currency="1", default_status="B"):
        self.first_id = first_id
        self.default_currency = default_currency
        self.default_status = default_status
        # currency internal id -> {"symbol", "precision"}
        self.initial_currencies = currencies or {"1": {"symbol": "USD",
                                                       "precision": 2}}
        self.initial_items = items or []
        self.reset()

    def reset(self):
        # currencies added through the admin API go with a reset
        self.currencies = copy.deepcopy(self.initial_currencies)
        self.records = {rtype: {} for rtype in RECORD_TYPES}
        self.next_id = self.first_id
        # Quantity each inventory item got back from credit memos (the
        # simulator keeps no quantity on hand, only what memos returned):
        # item internal id -> Decimal.  See restock().
        self.stock = {}
        # The same by location: location id ("" when neither the line nor
        # the record names one) -> item id -> Decimal.
        self.stock_at = {}
        # Customers, as far as a transaction defaults from them:
        # id -> {"currency","subsidiary","location","department","class"}
        # (references {"id": ...}).  A customer not listed defaults
        # nothing (the currency falls back to the account's default).
        self.customers = {}
        # OneWorld: a new customer needs its primary subsidiary.
        self.one_world = False
        # Item catalogue: id -> {"id","externalId","itemId","basePrice"}.
        # While it is empty every item id is accepted (and items referenced
        # by externalId get ids allocated on first use).
        self.items = {}
        self.implicit_refs = {}
        for item in self.initial_items:
            self.add_item(item)
        # The account's custom fields (custbody_*, custcol_*), as its
        # administrator created them.  None: every such name exists (an
        # account set up as the README says).  A set: any other custom
        # name is an unknown property, like a misspelt standard field:
        # refused, warned or dropped by X-NetSuite-PropertyNameValidation.
        self.custom_fields = None
        # An account whose engine overrides the override (a legacy-tax
        # account, a tax engine the override does not apply to, a script
        # recalculating on save): tax details are stored but NetSuite's
        # own tax stands.  Off by default.
        self.ignore_tax_override = False
        # Accounting preference "Refund in Advance of Return" (Oracle,
        # "Receiving a Customer Return"): off, a return authorization is
        # credited only for what was received.  Off after a reset.
        self.refund_in_advance = False
        # Where an external id must be unique: "type" (each record type
        # on its own, the default) or "transaction" (every transaction
        # type together).  Oracle, "Shared Internal and External IDs":
        # "External IDs must be unique across the whole record group";
        # whether transactions are one group is UNCONFIRMED (research
        # notes 10.1).  "type" after a reset.
        self.external_id_scope = "type"

    def custom_known(self, name):
        return self.custom_fields is None or name in self.custom_fields

    # ------------------------------------------------------------------
    # reference data

    def add_item(self, item):
        if not isinstance(item, dict) or "id" not in item:
            raise user_error("an item needs at least an id")
        entry = {"id": str(item["id"])}
        if item.get("externalId") is not None:
            entry["externalId"] = str(item["externalId"])
        entry["itemId"] = str(item.get("itemId") or item.get("name")
                              or entry.get("externalId") or entry["id"])
        if item.get("basePrice") is not None:
            if not _is_number(item["basePrice"]):
                raise user_error("basePrice must be a number")
            entry["basePrice"] = Decimal(item["basePrice"])
        itype = item.get("itemType", "inventoryItem")
        if itype not in ITEM_TYPES:
            raise user_error("itemType must be one of %s"
                             % ", ".join(sorted(ITEM_TYPES)))
        entry["itemType"] = itype
        self.items[entry["id"]] = entry
        return entry

    def is_inventory(self, item_id):
        """An item not in the catalogue is taken for a stocked product
        (the catalogue is empty in most tests): only items declared
        otherwise are not inventory."""
        entry = self.items.get(item_id)
        return entry is None or entry["itemType"] == "inventoryItem"

    def add_customer(self, cust):
        if not isinstance(cust, dict) or "id" not in cust:
            raise user_error("a customer needs at least an id")
        entry = {}
        for name in CUSTOMER_DEFAULTS:
            v = cust.get(name)
            if v is None:
                continue
            if not isinstance(v, dict) or v.get("id") is None:
                raise user_error('customer %s must be {"id": ...}' % name)
            entry[name] = {"id": str(v["id"])}
        for name in cust:
            if name == "id" or name in CUSTOMER_DEFAULTS:
                continue
            if name not in CUSTOMER_TEXT:
                raise user_error("unknown customer field %s" % name)
            entry[name] = cust[name]
        ext = entry.get("externalId")
        if ext is not None and self.customer_by_eid(ext) not in (
                None, str(cust["id"])):
            raise user_error("This record already exists.",
                             path="externalId")
        self.customers[str(cust["id"])] = entry
        return dict(entry, id=str(cust["id"]))

    def customer_by_eid(self, ext):
        for k, v in self.customers.items():
            if v.get("externalId") == ext:
                return k
        return None

    def get_customer(self, ref):
        """GET customer/<id> or customer/eid:<externalId>: the record as
        far as the simulator keeps one, None when there is none."""
        cid = self.customer_by_eid(ref[4:]) if ref.startswith("eid:") \
            else ref
        entry = self.customers.get(cid)
        if entry is None:
            return None
        return dict(entry, id=cid)

    def create_customer(self, body, validation):
        """POST customer (Oracle, "Creating a Record Instance",
        section_1545141395: the body holds every mandatory field, 204 and
        the new record in Location).  Mandatory, per Oracle's createCustomer
        tool (article_0822094321): isPerson; firstName and lastName for a
        person, companyName for a company; subsidiary in OneWorld (the
        one_world preference)."""
        if not isinstance(body, dict):
            raise invalid_content("The body must be a JSON object.")
        entry = {}
        for name, v in body.items():
            if name in CUSTOMER_DEFAULTS:
                if not isinstance(v, dict) or v.get("id") is None:
                    raise invalid_content('%s must be {"id": ...}' % name,
                                          path=name)
                entry[name] = {"id": str(v["id"])}
            elif name in CUSTOMER_TEXT:
                want = bool if name == "isPerson" else str
                if not isinstance(v, want):
                    raise invalid_content("%s has the wrong type." % name,
                                          path=name)
                entry[name] = v
            else:
                validation.unknown(name, name)
        person = entry.get("isPerson") is True
        need = (("firstName", "First Name"), ("lastName", "Last Name")) \
            if person else (("companyName", "Company Name"),)
        if self.one_world:
            need += (("subsidiary", "Primary Subsidiary"),)
        missing = [label for name, label in need if not entry.get(name)]
        if missing:
            raise user_error("Please enter value(s) for: %s"
                             % ", ".join(missing), path=need[0][0])
        ext = entry.get("externalId")
        if ext is not None and self.customer_by_eid(ext) is not None:
            raise user_error("This record already exists.",
                             path="externalId")
        cid = str(max([int(k) for k in self.customers if k.isdigit()]
                      + [CUSTOMER_FIRST_ID]) + 1)
        self.customers[cid] = entry
        return dict(entry, id=cid)

    def _from_return(self, rec):
        src = (rec.fields.get("createdFrom") or {}).get("id")
        return src is not None and src in self.records["returnAuthorization"]

    def _memo_stock(self, rec):
        """What a record puts back in stock, per (location, item):
        - a credit memo: every inventory item it carries.  Oracle, "Stand
          Alone Credit Memo": "If you return an item and create a
          standalone credit memo instead of a return authorization,
          NetSuite adds the quantity back to inventory"; a memo
          transformed from an invoice is not made from a return
          authorization either, so it restocks the same way (research
          notes 6.1: a practitioner's guide, not Oracle's text);
        - a cash refund: the same (Oracle, NetSuite Connector, "A refund
          is created from the billed record of the order and affects the
          inventory of the original SKU", section_162701919740);
        - either one made from a return authorization: nothing (Oracle,
          "Issuing a Customer Credit Memo": "A credit memo created from a
          return authorization has no impact on inventory"; for a cash
          refund the same by analogy, UNCONFIRMED): its item receipt
          restocked;
        - an item receipt: its lines whose restock is not false (Oracle,
          "Receiving a Customer Return": the receipt updates "Inventory
          records ... for the new stock levels").
        Stock goes to the line's location, else the record's."""
        out = {}
        if rec is None or rec.type not in ("creditMemo", "cashRefund",
                                           "itemReceipt"):
            return out
        if rec.type != "itemReceipt" and self._from_return(rec):
            return out
        where = (rec.fields.get("location") or {}).get("id", "")
        for line in rec.lines:
            iid = line["item"]["id"]
            if not self.is_inventory(iid) or line.get("restock") is False:
                continue
            key = ((line.get("location") or {}).get("id", where), iid)
            out[key] = out.get(key, Decimal(0)) + line["quantity"]
        return out

    def restock(self, old, new):
        """Move the stock by what the record's save changed: a memo saved
        again with the same lines changes nothing; a deleted one takes its
        quantities back."""
        before, after = self._memo_stock(old), self._memo_stock(new)
        for key in set(before) | set(after):
            delta = after.get(key, Decimal(0)) - before.get(key, Decimal(0))
            if delta:
                loc, iid = key
                self.stock[iid] = self.stock.get(iid, Decimal(0)) + delta
                at = self.stock_at.setdefault(loc, {})
                at[iid] = at.get(iid, Decimal(0)) + delta

    def precision_of(self, currency_ref):
        cid = (currency_ref or {}).get("id", self.default_currency)
        cur = self.currencies.get(cid)
        return 2 if cur is None else int(cur["precision"])

    def ref_name(self, field, ref):
        rid = ref.get("id")
        if field == "item" and rid in self.items:
            return self.items[rid]["itemId"]
        if field == "currency" and rid in self.currencies:
            return self.currencies[rid]["symbol"]
        if field == "createdFrom":
            for rtype, recs in self.records.items():
                if rid in recs:
                    r = recs[rid]
                    return r.fields.get("tranId", rid)
        return ref.get("refName") or rid

    def _resolve_ref(self, field, value, path):
        """A reference must be an object with "id" or "externalId" (NetSuite
        refuses a bare "123").  externalId references are resolved to an
        internal id, through the item catalogue for items."""
        if not isinstance(value, dict):
            raise invalid_content('The property "%s" is a reference and must '
                                  'be an object such as {"id": "123"}.'
                                  % field, path=path)
        if value.get("id") is not None:
            rid = value["id"]
            if not isinstance(rid, (str, int)) or isinstance(rid, bool) \
                    or str(rid) == "":
                raise invalid_content('The reference "%s" has an invalid id.'
                                      % field, path=path + ".id")
            rid = str(rid)
            if field == "item" and self.items and rid not in self.items:
                raise user_error("You have entered an Invalid Field Value %s "
                                 "for the following field: item" % rid,
                                 path=path)
            if field == "currency" and rid not in self.currencies:
                raise user_error("You have entered an Invalid Field Value %s "
                                 "for the following field: currency" % rid,
                                 path=path)
            return {"id": rid}
        ext = value.get("externalId")
        if isinstance(ext, str) and ext:
            if field == "item":
                for item in self.items.values():
                    if item.get("externalId") == ext:
                        return {"id": item["id"]}
                if self.items:
                    raise user_error("You have entered an Invalid Field Value "
                                     "%s for the following field: item"
                                     % ext, path=path)
            key = (field, ext)
            if key not in self.implicit_refs:
                self.implicit_refs[key] = str(900000 + len(self.implicit_refs))
            return {"id": self.implicit_refs[key], "refName": ext}
        raise invalid_content('The reference "%s" needs an "id" or an '
                              '"externalId".' % field, path=path)

    # ------------------------------------------------------------------
    # lookup

    def get(self, rtype, ref):
        """``ref`` is an internal id or eid:<externalId>."""
        recs = self.records[rtype]
        if ref.startswith("eid:"):
            ext = ref[4:]
            for rec in recs.values():
                if rec.external_id == ext:
                    return rec
            return None
        return recs.get(ref)

    def clash(self, rtype, ext, rec=None):
        """Another record already holding external id ``ext`` where it
        must be unique (external_id_scope), or None."""
        types = RECORD_TYPES if self.external_id_scope == "transaction" \
            else (rtype,)
        for t in types:
            other = self.get(t, "eid:" + ext)
            if other is not None and other is not rec:
                return other
        return None

    def must_get(self, rtype, ref):
        rec = self.get(rtype, ref)
        if rec is None:
            raise not_found()
        return rec

    def all_transactions(self):
        for rtype in RECORD_TYPES:
            for rec in self.records[rtype].values():
                yield rec

    def _allocate_id(self):
        rid = str(self.next_id)
        self.next_id += 1
        return rid

    # ------------------------------------------------------------------
    # validation of a request body into normalised values

    def _value(self, kind, name, value, path, validation):
        if value is None:
            return None  # null clears a field, as in NetSuite
        if kind == "ref":
            return self._resolve_ref(name, value, path)
        if kind in ("number", "money"):
            if not _is_number(value):
                raise invalid_content('The property "%s" must be a number; '
                                      'got %s.' % (name, _jtype(value)),
                                      path=path)
            return Decimal(value)
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise invalid_content('The property "%s" must be an integer.'
                                      % name, path=path)
            return value
        if kind == "string":
            if not isinstance(value, str):
                raise invalid_content('The property "%s" must be a string; '
                                      'got %s.' % (name, _jtype(value)),
                                      path=path)
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise invalid_content('The property "%s" must be a boolean.'
                                      % name, path=path)
            return value
        if kind == "date":
            if not (isinstance(value, str)
                    and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
                raise invalid_content('The property "%s" must be a date '
                                      'YYYY-MM-DD.' % name, path=path)
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                raise invalid_content('The property "%s" is not a valid '
                                      'date.' % name, path=path)
            return value
        if kind == "status":
            if not isinstance(value, dict) or value.get("id") not in \
                    ORDER_STATUS:
                raise invalid_content('The property "orderStatus" must be '
                                      'an object {"id": "A".."H"}.',
                                      path=path)
            return {"id": value["id"]}
        if kind == "discount":
            # discountRate is an amount (a number, normally negative) or a
            # percentage string such as "-10%".
            if _is_number(value):
                return Decimal(value)
            if isinstance(value, str) and re.fullmatch(
                    r"-?\d+(\.\d+)?%", value.strip()):
                return value.strip()
            raise invalid_content('The property "discountRate" must be a '
                                  'number or a percentage like "-10%".',
                                  path=path)
        if kind == "address":
            if not isinstance(value, dict):
                raise invalid_content('The property "%s" must be an object.'
                                      % name, path=path)
            out = {}
            for k, v in value.items():
                if k in ("links", "addrText"):
                    continue
                if k not in ADDRESS_FIELDS and not k.startswith("custrecord"):
                    validation.unknown(k, "%s.%s" % (path, k))
                    continue
                if k == "country" and isinstance(v, dict) and "id" in v:
                    # an enum field: NetSuite takes the code alone or as
                    # a reference object, {"id": "US"}, like it returns it
                    v = v["id"]
                if k == "override":
                    out[k] = self._value("bool", k, v, path + "." + k,
                                         validation)
                elif v is not None:
                    out[k] = self._value("string", k, v, path + "." + k,
                                         validation)
            return out
        raise AssertionError(kind)

    def _custom(self, name, value, path):
        """Custom fields take any JSON scalar or a reference object."""
        if isinstance(value, (dict, list)):
            if isinstance(value, dict) and ("id" in value
                                            or "externalId" in value):
                return self._resolve_ref(name, value, path)
            raise invalid_content('The custom field "%s" has an invalid '
                                  'value.' % name, path=path)
        return value

    def _parse_body(self, rtype, body, validation):
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object.")
        spec = BODY_FIELDS[rtype]
        fields, items = {}, None
        for name, value in body.items():
            if name == "item":
                items = self._parse_item_sublist(value, validation)
            elif name == "taxDetails" and rtype in ("salesOrder",
                                                    "creditMemo"):
                fields["_taxDetails"] = self._parse_tax_details(value,
                                                               validation)
            elif name in spec:
                fields[name] = self._value(spec[name], name, value, name,
                                           validation)
            elif name.startswith("custbody") and self.custom_known(name):
                fields[name] = self._custom(name, value, name)
            elif name in READ_ONLY or name in SUBLISTS:
                validation.dropped.append(name)
            else:
                validation.unknown(name, name)
        return fields, items

    def _parse_tax_details(self, value, validation):
        if not isinstance(value, dict) or not isinstance(
                value.get("items"), list):
            raise invalid_content('The sublist "taxDetails" must be an '
                                  'object {"items": [...]}.',
                                  path="taxDetails")
        out = []
        for i, raw in enumerate(value["items"]):
            path = "taxDetails.items[%d]" % i
            if not isinstance(raw, dict):
                raise invalid_content("A sublist line must be an object.",
                                      path=path)
            line = {}
            for name, v in raw.items():
                if name in TAX_DETAIL_FIELDS:
                    line[name] = self._value(TAX_DETAIL_FIELDS[name], name, v,
                                             "%s.%s" % (path, name),
                                             validation)
                else:
                    validation.unknown(name, "%s.%s" % (path, name))
            out.append(line)
        return out

    def _parse_item_sublist(self, value, validation):
        # Sublists are objects holding "items"; a bare list is the classic
        # mistake NetSuite refuses.
        if not isinstance(value, dict) or not isinstance(
                value.get("items"), list):
            raise invalid_content('The sublist "item" must be an object '
                                  '{"items": [...]}.', path="item")
        lines = []
        for i, raw in enumerate(value["items"]):
            path = "item.items[%d]" % i
            if not isinstance(raw, dict):
                raise invalid_content("A sublist line must be an object.",
                                      path=path)
            line = {}
            for name, v in raw.items():
                if name in LINE_FIELDS:
                    line[name] = self._value(LINE_FIELDS[name], name, v,
                                             "%s.%s" % (path, name),
                                             validation)
                elif name.startswith("custcol") and self.custom_known(name):
                    line[name] = self._custom(name, v, "%s.%s" % (path, name))
                elif name in LINE_READ_ONLY:
                    validation.dropped.append("%s.%s" % (path, name))
                else:
                    validation.unknown(name, "%s.%s" % (path, name))
            lines.append(line)
        return lines

    # ------------------------------------------------------------------
    # writes

    def create(self, rtype, body, validation, external_id=None,
               rest=True, rid=None, defaults=None):
        """POST (or PUT on a new eid:).  Returns the new record."""
        fields, items = self._parse_body(rtype, body, validation)
        if external_id is not None:
            if fields.get("externalId") not in (None, external_id):
                raise user_error("The externalId in the body (%s) does not "
                                 "match the one in the URL (%s)."
                                 % (fields["externalId"], external_id),
                                 path="externalId")
            fields["externalId"] = external_id
        ext = fields.get("externalId")
        other = self.clash(rtype, ext) if ext is not None else None
        if other is not None:
            # NetSuite keeps external ids unique per record type (or
            # group); this is what a client that re-POSTs after a lost
            # response runs into.
            raise user_error("This record already exists. A %s with "
                             "externalId %s exists." % (other.type, ext),
                             path="externalId")
        if rid is not None and rid in self.records[rtype]:
            raise user_error("id %s is already used" % rid)
        rec = Record(rtype, rid or self._allocate_id())
        if rtype == "salesOrder":
            status = fields.get("orderStatus")
            if rest and status is not None and status["id"] not in "AB":
                raise user_error("A new sales order can only be Pending "
                                 "Approval (A) or Pending Fulfillment (B).",
                                 path="orderStatus")
            fields.setdefault("orderStatus", {"id": self.default_status})
        if rtype == "returnAuthorization":
            status = fields.get("orderStatus")
            if status is not None and status["id"] not in "AB":
                raise user_error("A new return authorization can only be "
                                 "Pending Approval (A) or Pending Receipt "
                                 "(B).", path="orderStatus")
            # UNCONFIRMED which one an account defaults to: the
            # simulator's is Pending Approval, as the UI's approval step
            fields.setdefault("orderStatus", {"id": "A"})
        if rtype in ("itemReceipt",) and rest and defaults is None:
            raise user_error("An item receipt of a customer return is made "
                             "from its return authorization: POST "
                             "returnAuthorization/<id>/!transform/"
                             "itemReceipt.")
        if rtype in CUSTOMER_DEFAULTED and defaults is None:
            # standalone: from the customer, whatever createdFrom says
            defaults = self.customers.get(
                (fields.get("entity") or {}).get("id"), {})
        for name, value in (defaults or {}).items():
            if name not in fields:
                fields[name] = dict(value)
        fields.setdefault("currency", {"id": self.default_currency})
        fields.setdefault("tranDate", datetime.date.today().isoformat())
        fields.setdefault("tranId", TRAN_PREFIX[rtype] + rec.id)
        new = self._apply(rec, fields, items or [], replace=True, rest=rest,
                          creating=True)
        self.records[rtype][new.id] = new
        if rest:
            self.restock(None, new)
        return new

    def transform(self, src, target, body, validation, replace=()):
        """POST <src>/<id>/!transform/<target>: a new record defaulted from
        the source ("all possible fields defaulted from the source record",
        Oracle, redirect.toRecordTransform), linked by createdFrom, its
        lines pre-filled from what the source still has open (each with
        orderLine naming its source line); the body sets more fields and
        lines: a body line whose orderLine names a pre-filled line is that
        line, completed from it (itemReceive false drops it), the others
        are added; with replace=item only the body's lines remain.  A
        transform is a create: externalId stays unique, so a second one
        with the same externalId is refused like a second POST.

        What each pair may carry and what it does to its source, see
        _open_lines and _after_transform.  A credit memo from an invoice
        is applied to it up to the invoice's amount due (research notes
        6.2: very likely, UNCONFIRMED by Oracle's text)."""
        if target not in TRANSFORMS.get(src.type, ()):
            raise user_error("You cannot transform a %s into a %s."
                             % (src.type, target))
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object.")
        body = dict(body)
        # the pair invoice -> creditMemo keeps its first, simpler model:
        # lines copied whole, nothing counted against the invoice
        linked = not (src.type == "invoice")
        open_ = self._open_lines(src, target) if linked else None
        prefill = []
        for l in src.lines:
            if linked and open_.get(l["line"], 0) <= 0:
                continue
            keep = {k: v for k, v in l.items()
                    if k in ("item", "quantity", "rate", "amount",
                             "description", "location", "department",
                             "class") or k.startswith("custcol")}
            if linked:
                keep["quantity"] = open_[l["line"]]
                keep["orderLine"] = l["line"]
                keep.pop("amount", None)
            prefill.append(self._raw_line(keep))
        given = body.get("item")
        given = given.get("items") if isinstance(given, dict) else None
        if given is None or not isinstance(given, list):
            lines = prefill
        else:
            # a body line naming a pre-filled line's orderLine is that
            # line, completed from it; with replace=item only the body's
            # lines remain
            by_order = {l["orderLine"]: l for l in prefill if "orderLine"
                        in l}
            lines = [] if "item" in replace else list(prefill)
            for g in given:
                ol = g.get("orderLine") if isinstance(g, dict) else None
                if ol in by_order:
                    merged = dict(by_order[ol], **g)
                    if by_order[ol] in lines:
                        lines[lines.index(by_order[ol])] = merged
                    else:
                        lines.append(merged)
                    by_order[ol] = merged
                else:
                    lines.append(g)
        lines = [l for l in lines if not (isinstance(l, dict)
                                          and l.get("itemReceive") is False)]
        if "item" in body and not isinstance(body["item"], dict):
            pass  # _parse_item_sublist refuses it with NetSuite's words
        else:
            body["item"] = {"items": lines}
        defaults = {k: v for k, v in src.fields.items()
                    if k in CUSTOMER_DEFAULTS or k == "entity"}
        if target == "cashRefund" and "account" in src.fields:
            defaults["account"] = src.fields["account"]
        body.setdefault("entity", dict(src.fields["entity"]))
        body["createdFrom"] = {"id": src.id}
        rec = self.create(target, body, validation, defaults=defaults)
        try:
            if linked:
                self._check_against_source(src, rec, open_)
        except NSError:
            del self.records[target][rec.id]
            self.restock(rec, None)
            raise
        self._after_transform(src, rec)
        return rec

    def _consumed(self, src, types, field="quantity"):
        """Per source line: what records of ``types`` made from ``src``
        carry on lines linked to it (orderLine)."""
        out = {}
        for rtype in types:
            for rec in self.records[rtype].values():
                if (rec.fields.get("createdFrom") or {}).get("id") != src.id:
                    continue
                if rtype == "returnAuthorization" and \
                        rec.status_letter() == "C":
                    continue
                for l in rec.lines:
                    ol = l.get("orderLine")
                    if ol is not None:
                        out[ol] = out.get(ol, Decimal(0)) + l[field]
        return out

    def _open_lines(self, src, target):
        """What the source still has for this target, per source line, or
        400 when it is not eligible (Oracle's transform metadata: "Whether
        a transformation succeeds also depends on the source record's
        eligibility", research notes 5; the error text is the
        simulator's, UNCONFIRMED).

        - salesOrder -> invoice / cashSale: billing, the fulfilled and not
          yet billed quantity (a non-inventory line: its quantity not yet
          billed); not in A, C or H;
        - salesOrder -> returnAuthorization: the fulfilled quantity not
          yet authorized for return (only fulfilled items can be returned
          from an order: research notes 6.3, a practitioner's page,
          UNCONFIRMED by Oracle's text); not in A or C;
        - cashSale -> cashRefund / returnAuthorization: the sold quantity
          not yet refunded / authorized;
        - returnAuthorization -> itemReceipt: the authorized quantity not
          yet received;
        - returnAuthorization -> creditMemo / cashRefund: the received
          quantity not yet credited, or the authorized one with the
          preference "Refund in Advance of Return" (Oracle, "Receiving a
          Customer Return": without it, credits wait for the receipt;
          POST /_admin/preferences).  A return authorization must be
          approved (B, D, E, F), and not Cancelled or Closed."""
        letter = src.status_letter()
        out = {}
        if src.type == "salesOrder":
            if target == "returnAuthorization":
                if letter in "AC":
                    raise user_error("You cannot authorize a return of a "
                                     "sales order that is %s."
                                     % ORDER_STATUS[letter])
                done = self._consumed(src, ("returnAuthorization",))
                for l in src.lines:
                    out[l["line"]] = l.get("quantityFulfilled", Decimal(0)) \
                        - done.get(l["line"], Decimal(0))
                what = "fulfilled items to return"
            else:
                if letter in "ACH":
                    raise user_error("You cannot bill a sales order that is "
                                     "%s." % ORDER_STATUS[letter])
                for l in src.lines:
                    if l.get("isClosed"):
                        continue
                    base = l.get("quantityFulfilled", Decimal(0)) \
                        if self.is_inventory(l["item"]["id"]) \
                        else l["quantity"]
                    out[l["line"]] = base - l.get("quantityBilled",
                                                  Decimal(0))
                what = "fulfilled items to bill"
        elif src.type == "cashSale":
            done = self._consumed(src, (target,))
            for l in src.lines:
                out[l["line"]] = l["quantity"] - done.get(l["line"],
                                                          Decimal(0))
            what = "items left to " + ("refund" if target == "cashRefund"
                                       else "return")
        else:  # returnAuthorization
            if letter == "A":
                raise user_error("This return authorization is pending "
                                 "approval: it cannot be received or "
                                 "refunded yet.")
            if letter in "CH":
                raise user_error("This return authorization is %s."
                                 % RA_STATUS[letter])
            received = self._consumed(src, ("itemReceipt",))
            if target == "itemReceipt":
                for l in src.lines:
                    out[l["line"]] = l["quantity"] - received.get(
                        l["line"], Decimal(0))
                what = "items left to receive"
            else:
                credited = self._consumed(src, ("creditMemo", "cashRefund"))
                for l in src.lines:
                    base = l["quantity"] if self.refund_in_advance else \
                        received.get(l["line"], Decimal(0))
                    out[l["line"]] = base - credited.get(l["line"],
                                                         Decimal(0))
                what = "received items left to refund"
        if not any(q > 0 for q in out.values()):
            raise user_error("The %s has no %s." % (src.type, what))
        return out

    def _check_against_source(self, src, rec, open_):
        """Lines linked to a source line take at most what it has open;
        a line without orderLine is linked to the first source line of
        the same item with room (the simulator's choice: which key the
        pre-filled lines keep in a real account is UNCONFIRMED, research
        notes 5).  An item receipt receives only linked lines."""
        src_items = {l["line"]: l["item"]["id"] for l in src.lines}
        left = dict(open_)
        for i, l in enumerate(rec.lines):
            ol = l.get("orderLine")
            if ol is None:
                for n in sorted(left):
                    if src_items.get(n) == l["item"]["id"] and \
                            left[n] >= l["quantity"] > 0:
                        ol = l["orderLine"] = n
                        break
            if ol is None:
                if rec.type == "itemReceipt":
                    raise user_error("The line %d matches no line of the "
                                     "return authorization." % l["line"],
                                     path="item.items[%d]" % i)
                continue
            if ol not in src_items:
                raise user_error("The orderLine %s is not a line of the "
                                 "%s." % (ol, src.type),
                                 path="item.items[%d].orderLine" % i)
            if rec.type == "itemReceipt" and \
                    l["item"]["id"] != src_items[ol]:
                raise user_error("The item of line %d is not the item of "
                                 "the return authorization's line %s."
                                 % (l["line"], ol),
                                 path="item.items[%d].item" % i)
            left[ol] = left.get(ol, Decimal(0)) - l["quantity"]
            if left[ol] < 0:
                raise user_error("The quantity of line %d is more than "
                                 "the %s's line %s has left (%s)."
                                 % (l["line"], src.type, ol, open_.get(
                                     ol, Decimal(0))),
                                 path="item.items[%d].quantity" % i)

    def _after_transform(self, src, rec):
        """What the new record does to its source: billing an order adds
        to its lines' billed quantities (Billed, G, once every line is
        fulfilled and billed); a receipt or a credit moves a return
        authorization's received and credited quantities and its status;
        a memo from an invoice is applied to it."""
        if rec.type == "creditMemo" and src.type == "invoice":
            due = src.totals.get("amountRemaining", Decimal(0))
            amount = min(due, rec.totals["total"])
            rec.fields["_apply"] = []
            if amount > 0:
                rec.fields["_apply"] = [{"doc": src.id, "amount": amount}]
                src.fields["_credited"] = src.fields.get(
                    "_credited", Decimal(0)) + amount
                self._compute(src)
            self._compute(rec)
        elif src.type == "salesOrder" and rec.type in ("invoice",
                                                       "cashSale"):
            by = {}
            for l in rec.lines:
                if l.get("orderLine") is not None:
                    by[l["orderLine"]] = by.get(l["orderLine"],
                                                Decimal(0)) + l["quantity"]
            for l in src.lines:
                if l["line"] in by:
                    l["quantityBilled"] = l.get("quantityBilled",
                                                Decimal(0)) + by[l["line"]]
            if all(l.get("isClosed") or (
                    l.get("quantityBilled", 0) >= l["quantity"]
                    and (l.get("quantityFulfilled", 0) >= l["quantity"]
                         or not self.is_inventory(l["item"]["id"])))
                   for l in src.lines):
                src.fields["orderStatus"] = {"id": "G"}
            src.meta["modified"] = now_iso()
            src.meta["version"] += 1
        elif src.type == "returnAuthorization":
            self.return_status(src)

    def return_status(self, ra):
        """A return authorization's received and credited quantities per
        line (quantityReceived, quantityBilled: SOAP schema
        ReturnAuthorizationItem) and its status from them: nothing
        received, Pending Receipt (B); some received, Partially Received
        (D), or Pending Refund/Partially Received (E) when some of it is
        not credited; all received, Pending Refund (F) until all is
        credited, then Refunded (G).  The names are NetSuite's (research
        notes 6.3); reading them as this function does is the
        simulator's (UNCONFIRMED).  A, C and H are left alone."""
        received = self._consumed(ra, ("itemReceipt",))
        credited = self._consumed(ra, ("creditMemo", "cashRefund"))
        for l in ra.lines:
            l["quantityReceived"] = received.get(l["line"], Decimal(0))
            l["quantityBilled"] = credited.get(l["line"], Decimal(0))
        letter = ra.status_letter()
        if letter in "ACH":
            return
        q = sum((l["quantity"] for l in ra.lines), Decimal(0))
        r = sum((l["quantityReceived"] for l in ra.lines), Decimal(0))
        b = sum((l["quantityBilled"] for l in ra.lines), Decimal(0))
        if r == 0:
            letter = "B"
        elif r < q:
            letter = "E" if b < r else "D"
        else:
            letter = "F" if b < q else "G"
        ra.fields["orderStatus"] = {"id": letter}
        ra.meta["modified"] = now_iso()
        ra.meta["version"] += 1

    def put_customer_refund(self, ext, body, validation, replace=()):
        """PUT customerRefund/eid:<ext>: pay out credit memos (Oracle,
        *Customer Refund*, REST: the "apply" sublist; the SOAP schema's
        required bank "account"; the refund's currency is the credits',
        research notes 6.4).  Each apply line names a credit memo of the
        customer by "doc" and pays at most what it leaves unapplied; the
        memo then shows the refund in its own apply list.  An upsert: a
        second PUT with the same lines changes nothing."""
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object.")
        body = dict(body)
        raw_apply = body.pop("apply", None)
        fields, _ = self._parse_body("customerRefund", body, validation)
        old = self.get("customerRefund", "eid:" + ext)
        other = self.clash("customerRefund", ext, old)
        if other is not None:
            raise user_error("This record already exists. A %s with "
                             "externalId %s exists." % (other.type, ext),
                             path="externalId")
        rec = copy.deepcopy(old) if old else Record("customerRefund", None)
        for k, v in fields.items():
            if v is None:
                rec.fields.pop(k, None)
            else:
                rec.fields[k] = v
        rec.fields["externalId"] = ext
        for name, label in (("customer", "Customer"), ("account", "Account")):
            if name not in rec.fields:
                raise user_error("Please enter value(s) for: %s" % label,
                                 path=name)
        lines = rec.fields.get("_refApply", [])
        if raw_apply is not None:
            if not isinstance(raw_apply, dict) or not isinstance(
                    raw_apply.get("items"), list):
                raise invalid_content('The sublist "apply" must be an object '
                                      '{"items": [...]}.', path="apply")
            new_lines = [] if "apply" in replace else list(lines)
            for i, a in enumerate(raw_apply["items"]):
                path = "apply.items[%d]" % i
                if not isinstance(a, dict) or not isinstance(a.get("doc"),
                                                             dict):
                    raise invalid_content("An apply line needs a doc.",
                                          path=path)
                if a.get("apply") is False:
                    continue
                amount = self._value("money", "amount", a.get("amount"),
                                     path + ".amount", validation)
                doc = str(a["doc"].get("id"))
                new_lines = [l for l in new_lines if l["doc"] != doc]
                new_lines.append({"doc": doc, "amount": amount})
            lines = new_lines
        if not lines:
            raise user_error("You must apply the refund to at least one "
                             "credit.", path="apply")
        memos = {}
        for l in lines:
            memo = self.records["creditMemo"].get(l["doc"])
            if memo is None or memo.fields.get("entity") != \
                    rec.fields["customer"]:
                raise user_error("You have entered an Invalid Field Value %s "
                                 "for the following field: doc" % l["doc"],
                                 path="apply")
            cur = rec.fields.setdefault("currency",
                                        dict(memo.fields["currency"]))
            if cur["id"] != memo.fields["currency"]["id"]:
                raise user_error("The currency of the refund must be the "
                                 "currency of the credits it refunds.",
                                 path="currency")
            p = self.precision_of(memo.fields.get("currency"))
            l["amount"] = round_money(l["amount"], p)
            already = sum((a["amount"] for a in memo.fields.get("_apply", [])
                           if old is not None and a["doc"] == old.id),
                          Decimal(0))
            left = memo.totals.get("unapplied", memo.totals["total"]) \
                + already
            if l["amount"] <= 0 or l["amount"] > left:
                raise user_error("The amount applied (%s) is more than the "
                                 "credit's unapplied amount (%s)."
                                 % (l["amount"], left), path="apply")
            memos[l["doc"]] = memo
        if rec.id is None:
            rec.id = self._allocate_id()
            rec.fields.setdefault("tranDate",
                                  datetime.date.today().isoformat())
            rec.fields.setdefault("tranId", "RFND" + rec.id)
        rec.fields["_refApply"] = lines
        rec.totals = {"total": sum((l["amount"] for l in lines), Decimal(0))}
        rec.meta["modified"] = now_iso()
        rec.meta["writes"] += 1
        rec.meta["version"] += 1
        # the memos: drop this refund's old application, add the new one
        for memo in self.records["creditMemo"].values():
            if "_apply" in memo.fields:
                memo.fields["_apply"] = [a for a in memo.fields["_apply"]
                                         if a["doc"] != rec.id]
        for l in lines:
            memo = memos[l["doc"]]
            memo.fields.setdefault("_apply", []).append(
                {"doc": rec.id, "amount": l["amount"]})
        for memo in self.records["creditMemo"].values():
            if "_apply" in memo.fields:
                self._compute(memo)
        self.records["customerRefund"][rec.id] = rec
        return rec

    def _raw_line(self, line):
        """A stored line as a request body would carry it."""
        out = {}
        for k, v in line.items():
            out[k] = v
        return out

    def update(self, rec, body, validation, replace=(), rest=True):
        """PATCH (or PUT on an existing eid:): body fields overwrite, item
        lines merge by "line" unless "item" is in ``replace``."""
        fields, items = self._parse_body(rec.type, body, validation)
        if rec.type == "itemReceipt" and rest:
            raise user_error("The simulator does not change an item receipt "
                             "once saved: receive again from the return "
                             "authorization.")
        if rec.type == "returnAuthorization" and rest:
            # approval (A -> B) is a write of orderStatus, as for a sales
            # order; the rest follows receipts and refunds
            status = fields.get("orderStatus")
            letter = rec.status_letter()
            if status is not None and status["id"] != letter and (
                    status["id"] not in "AB" or letter not in "AB"):
                raise user_error("The status of a return authorization can "
                                 "only be changed between Pending Approval "
                                 "and Pending Receipt.", path="orderStatus")
            if letter in "CH":
                raise user_error("This return authorization is %s and can "
                                 "no longer be changed." % RA_STATUS[letter])
        if rec.type == "salesOrder":
            if rec.status_letter() == "C" and rest:
                raise user_error("This sales order has been cancelled and "
                                 "can no longer be changed.")
            status = fields.get("orderStatus")
            if rest and status is not None and status["id"] != \
                    rec.status_letter():
                if status["id"] not in "AB" or rec.status_letter() not in "AB":
                    raise user_error("The order status can only be changed "
                                     "between Pending Approval and Pending "
                                     "Fulfillment.", path="orderStatus")
        if "externalId" in fields and fields["externalId"] != \
                rec.external_id and fields["externalId"] is not None:
            other = self.clash(rec.type, fields["externalId"], rec)
            if other is not None:
                raise user_error("This record already exists.",
                                 path="externalId")
        new = self._apply(rec, fields, items, replace="item" in replace,
                          rest=rest, creating=False)
        self.records[rec.type][rec.id] = new
        if rest:
            self.restock(rec, new)
        return new

    def delete(self, rec):
        if rec.type == "salesOrder" and any(
                l.get("quantityFulfilled", 0) for l in rec.lines):
            raise user_error("This order has fulfilled lines and cannot be "
                             "deleted.")
        del self.records[rec.type][rec.id]
        self.restock(rec, None)

    def _apply(self, rec, fields, items, replace, rest, creating):
        """Apply normalised fields and lines to a copy of ``rec`` and check
        NetSuite's rules on the result; the caller swaps the copy in only
        if nothing raised, so a refused write changes nothing."""
        new = copy.deepcopy(rec)
        for name, value in fields.items():
            if value is None:
                new.fields.pop(name, None)
            else:
                new.fields[name] = value
        precision = self.precision_of(new.fields.get("currency"))

        if items is not None:
            by_line = {l["line"]: l for l in new.lines}
            result = [] if replace else list(new.lines)
            used = set()
            for i, body_line in enumerate(items):
                path = "item.items[%d]" % i
                if "line" in body_line:
                    old = by_line.get(body_line["line"])
                    if old is None or body_line["line"] in used:
                        raise user_error("The line %s does not exist on this "
                                         "transaction." % body_line["line"],
                                         path=path + ".line")
                    used.add(old["line"])
                    merged = self._merge_line(old, body_line, precision, path)
                    if replace:
                        result.append(merged)
                    else:
                        result[result.index(old)] = merged
                else:
                    line = self._merge_line(None, body_line, precision, path)
                    line["line"] = new.next_line
                    new.next_line += 1
                    result.append(line)
            if replace:
                for old in new.lines:
                    if old["line"] not in used and \
                            old.get("quantityFulfilled", 0) > 0:
                        raise user_error("The line %d has been fulfilled and "
                                         "cannot be removed." % old["line"],
                                         path="item")
            new.lines = result

        self._check(new, rest, creating)
        self._compute(new)
        new.meta["modified"] = now_iso()
        new.meta["writes"] += 1
        new.meta["version"] += 1
        return new

    def _merge_line(self, old, body, precision, path):
        """Merge one body line into an existing line (or a new one) and
        recompute what NetSuite recomputes: amount from quantity x rate
        unless amount is given, tax from taxRate1 unless tax1Amt is given."""
        line = dict(old) if old else {"quantityFulfilled": Decimal(0),
                                      "quantityBilled": Decimal(0)}
        for k, v in body.items():
            if v is None:
                line.pop(k, None)
            else:
                line[k] = v
        if "item" not in line:
            raise user_error("Please enter value(s) for: Item", path=path)
        if old and "item" in body and body["item"]["id"] != old["item"]["id"] \
                and old.get("quantityFulfilled", 0) > 0:
            raise user_error("The item of a fulfilled line cannot be "
                             "changed.", path=path + ".item")
        line.setdefault("quantity", Decimal(1))
        if line["quantity"] < 0:
            raise user_error("The quantity cannot be negative.",
                             path=path + ".quantity")
        if line["quantity"] < line.get("quantityFulfilled", 0):
            raise user_error("You cannot reduce the quantity of line %s "
                             "below the quantity fulfilled (%s)."
                             % (line.get("line"), line["quantityFulfilled"]),
                             path=path + ".quantity")
        if line["quantity"] < line.get("quantityBilled", 0):
            raise user_error("You cannot reduce the quantity below the "
                             "quantity billed.", path=path + ".quantity")
        item = self.items.get(line["item"]["id"])
        if "amount" in body and body["amount"] is not None:
            line["amount"] = round_money(body["amount"], precision)
            if "rate" not in line or ("rate" not in body
                                      and line["quantity"]):
                line["rate"] = (line["amount"] / line["quantity"]).quantize(
                    RATE_PLACES, rounding=ROUND_HALF_UP) \
                    if line["quantity"] else line["amount"]
        else:
            if "rate" not in line:
                if item is not None and "basePrice" in item:
                    line["rate"] = item["basePrice"]
                else:
                    raise user_error("Please enter value(s) for: Rate",
                                     path=path + ".rate")
            line["amount"] = round_money(line["quantity"] * line["rate"],
                                         precision)
        if "tax1Amt" in body and body["tax1Amt"] is not None:
            line["tax1Amt"] = round_money(body["tax1Amt"], precision)
        elif "taxRate1" in line:
            line["tax1Amt"] = round_money(
                line["amount"] * line["taxRate1"] / 100, precision)
        else:
            line.setdefault("tax1Amt", Decimal(0).quantize(
                Decimal(1).scaleb(-precision)))
        line["grossAmt"] = line["amount"] + line["tax1Amt"]
        return line

    def _check(self, rec, rest, creating):
        if "entity" not in rec.fields:
            raise user_error("Please enter value(s) for: Customer",
                             path="entity")
        src = rec.fields.get("createdFrom")
        if rest and src is not None and not any(
                src["id"] in self.records[t] for t in self.records
                if t != rec.type):
            # a link must name a transaction (UNCONFIRMED which types
            # NetSuite accepts by hand on a memo: research notes 6.2)
            raise user_error("You have entered an Invalid Field Value %s "
                             "for the following field: createdFrom"
                             % src["id"], path="createdFrom")
        if not rec.lines:
            raise user_error("You must enter at least one line item for "
                             "this transaction.", path="item")
        if rec.fields.get("taxDetailsOverride"):
            refs = {l.get("taxDetailsReference") for l in rec.lines}
            refs.add("SHIPPING")
            for i, t in enumerate(rec.fields.get("_taxDetails", [])):
                path = "taxDetails.items[%d]" % i
                missing = [f for f in TAX_DETAIL_REQUIRED if f not in t]
                if missing:
                    raise user_error("Please enter value(s) for: %s"
                                     % ", ".join(missing), path=path)
                if t.get("taxDetailsReference") not in refs:
                    raise user_error("The tax details reference %s matches "
                                     "no line of this transaction."
                                     % t.get("taxDetailsReference"),
                                     path=path + ".taxDetailsReference")

    def _compute(self, rec):
        """Totals as NetSuite shows them, exact in minor units:
        subtotal = sum of line amounts, discountTotal from discountRate,
        taxTotal = line taxes + shipping tax, total = all of them plus
        shipping and handling."""
        p = self.precision_of(rec.fields.get("currency"))
        zero = round_money(0, p)
        subtotal = sum((l["amount"] for l in rec.lines), zero)
        rate = rec.fields.get("discountRate")
        if rate is None:
            discount = zero
        elif isinstance(rate, str):
            discount = round_money(subtotal * Decimal(rate.rstrip("%")) / 100,
                                   p)
        else:
            discount = round_money(rate, p)
        shipping = round_money(rec.fields.get("shippingCost", 0), p)
        handling = round_money(rec.fields.get("handlingCost", 0), p)
        if "shippingCost" in rec.fields:
            rec.fields["shippingCost"] = shipping
        if "handlingCost" in rec.fields:
            rec.fields["handlingCost"] = handling
        ship_tax = zero
        if "shippingTax1Rate" in rec.fields:
            ship_tax = round_money(shipping * rec.fields["shippingTax1Rate"]
                                   / 100, p)
        if "_shippingTaxAmt" in rec.fields:
            # Set only by the RESTlet (see restlet.py): an exact amount.
            ship_tax = round_money(rec.fields["_shippingTaxAmt"], p)
        if rec.fields.get("taxDetailsOverride") and \
                not self.ignore_tax_override:
            # the tax lines given are the tax: each item line's is the sum
            # of its tax lines, shipping's those referenced SHIPPING
            per_ref = {}
            for t in rec.fields.get("_taxDetails", []):
                ref = t.get("taxDetailsReference")
                per_ref[ref] = per_ref.get(ref, zero) + round_money(
                    t.get("taxAmount", 0), p)
            for l in rec.lines:
                l["tax1Amt"] = per_ref.get(l.get("taxDetailsReference"),
                                           zero)
                l["grossAmt"] = l["amount"] + l["tax1Amt"]
            ship_tax = per_ref.get("SHIPPING", zero)
        tax = sum((l["tax1Amt"] for l in rec.lines), zero) + ship_tax
        rec.totals = {
            "subtotal": subtotal, "discountTotal": discount,
            "taxTotal": tax, "total": subtotal + discount + tax + shipping
            + handling,
        }
        if rec.type == "invoice":
            # what is still due: the total less payments and credits
            rec.totals["amountRemaining"] = max(
                rec.totals["total"] - rec.fields.get("_amountPaid", zero)
                - rec.fields.get("_credited", zero), zero)
        if rec.type == "creditMemo":
            applied = sum((a["amount"] for a in rec.fields.get("_apply", [])),
                          zero)
            rec.totals["applied"] = applied
            rec.totals["unapplied"] = rec.totals["total"] - applied
            if "_apply" in rec.fields:
                rec.fields["_memoStatus"] = "B" \
                    if rec.totals["unapplied"] <= 0 else "A"
        # Closing every line closes the order (that is how an integration
        # "cancels" an order NetSuite will not cancel through REST).
        if rec.type == "salesOrder":
            letter = rec.status_letter()
            if rec.lines and all(l.get("isClosed") for l in rec.lines):
                if letter != "C":
                    rec.fields["orderStatus"] = {"id": "H"}
            elif letter == "H":
                fulfilled = any(l.get("quantityFulfilled", 0)
                                for l in rec.lines)
                rec.fields["orderStatus"] = {"id": "D" if fulfilled else "B"}

    # ------------------------------------------------------------------
    # admin: warehouse and seeding

    def seed(self, rtype, body):
        """Create a record from admin-supplied JSON: the REST body shape plus
        "id", any orderStatus letter, and per-line quantityFulfilled /
        quantityBilled.  Unknown properties are refused (typos in fixtures
        should fail loudly)."""
        if not isinstance(body, dict):
            raise user_error("a record to seed must be a JSON object")
        body = dict(body)
        rid = body.pop("id", None)
        status = body.pop("orderStatus", None)
        memo_status = body.pop("status", None) if rtype == "creditMemo" \
            else None
        paid = body.pop("amountPaid", None) if rtype == "invoice" else None
        if paid is not None and not _is_number(paid):
            raise user_error("amountPaid must be a number")
        fulfil = []
        explicit = False
        if isinstance(body.get("item"), dict) and isinstance(
                body["item"].get("items"), list):
            lines = []
            for raw in body["item"]["items"]:
                raw = dict(raw) if isinstance(raw, dict) else raw
                if isinstance(raw, dict):
                    fulfil.append((raw.pop("quantityFulfilled", None),
                                   raw.pop("quantityBilled", None)))
                    explicit = explicit or fulfil[-1] != (None, None)
                lines.append(raw)
            body["item"] = {"items": lines}
        rec = self.create(rtype, body, Validation("Error"),
                          rest=False,
                          rid=str(rid) if rid is not None else None)
        if rid is not None and _is_int_like(rid):
            self.next_id = max(self.next_id, int(rid) + 1)
        for line, (qf, qb) in zip(rec.lines, fulfil):
            for q, key in ((qf, "quantityFulfilled"), (qb, "quantityBilled")):
                if q is None:
                    continue
                if not _is_number(q) or q < 0 or q > line["quantity"]:
                    raise user_error("bad %s for line %s"
                                     % (key, line["line"]))
                line[key] = Decimal(q)
        if status is not None:
            letter = status["id"] if isinstance(status, dict) else status
            # Explicit per-line quantities win over the status defaults.
            keep = {} if explicit else None
            self.set_status(rec, letter, keep, keep)
        if memo_status in MEMO_STATUS:
            rec.fields["_memoStatus"] = memo_status
        if paid is not None:
            rec.fields["_amountPaid"] = Decimal(paid)
            self._compute(rec)
        return rec

    def set_status(self, rec, letter, fulfilled, billed):
        """Play the warehouse / finance: set orderStatus and, so that
        NetSuite's own rules bite a client that ignores the status, the
        fulfilled and billed quantities.  ``fulfilled`` / ``billed`` are
        "all", "none", or {line: quantity}; when omitted, D and E fulfil the
        first line, F fulfils everything, G fulfils and bills everything."""
        if rec.type == "invoice":
            raise user_error("an invoice's status follows its amount due")
        if rec.type == "returnAuthorization":
            if letter not in RA_STATUS:
                raise user_error("a return authorization's status is one "
                                 "of A..H")
            rec.fields["orderStatus"] = {"id": letter}
            if letter not in "ACH":
                self.return_status(rec)
            return
        if rec.type in ("cashSale", "cashRefund", "itemReceipt"):
            raise user_error("a %s has no status to set" % rec.type)
        if rec.type != "salesOrder":
            if letter not in MEMO_STATUS:
                raise user_error("credit memo status is A (Open) or B "
                                 "(Fully Applied)")
            rec.fields["_memoStatus"] = letter
            return
        if letter not in ORDER_STATUS:
            raise user_error("orderStatus must be one of A..H")
        if fulfilled is None:
            fulfilled = {"D": "first", "E": "first", "F": "all",
                         "G": "all"}.get(letter)
        if billed is None and letter == "G":
            billed = "all"
        for spec, key in ((fulfilled, "quantityFulfilled"),
                          (billed, "quantityBilled")):
            if spec is None:
                continue
            for i, line in enumerate(rec.lines):
                if spec == "all":
                    line[key] = line["quantity"]
                elif spec == "none":
                    line[key] = Decimal(0)
                elif spec == "first":
                    if i == 0 and not any(l.get(key) for l in rec.lines):
                        line[key] = line["quantity"]
                elif isinstance(spec, dict):
                    q = spec.get(str(line["line"]))
                    if q is not None:
                        if not _is_number(q) or q < 0 or q > line["quantity"]:
                            raise user_error("bad %s for line %s"
                                             % (key, line["line"]))
                        line[key] = Decimal(q)
                else:
                    raise user_error('%s must be "all", "none" or '
                                     '{"<line>": qty}' % key)
        if letter == "H":
            for line in rec.lines:
                line["isClosed"] = True
        rec.fields["orderStatus"] = {"id": letter}
        rec.meta["modified"] = now_iso()
        rec.meta["version"] += 1

    # ------------------------------------------------------------------
    # rendering

    def render(self, rec, base_url, expand=False, fields=None, admin=False):
        """The record as GET returns it.  References come back as
        {"id","refName"}; sublists and subrecords only as links unless
        expandSubResources=true (a classic surprise: without it a read-back
        sees no lines at all)."""
        url = "%s%s/%s/%s" % (base_url, REST_PREFIX, rec.type, rec.id)
        out = {"links": [{"rel": "self", "href": url}]}
        body = {}
        for name, value in rec.fields.items():
            if name.startswith("_"):
                continue
            if name == "orderStatus":
                body[name] = {"id": value["id"],
                              "refName": ORDER_STATUS[value["id"]]}
            elif name in SUBRECORDS:
                if expand or admin:
                    body[name] = dict(value, links=[{
                        "rel": "self", "href": "%s/%s" % (url, name)}])
                    body[name]["addrText"] = _addr_text(value)
                else:
                    body[name] = {"links": [{"rel": "self",
                                             "href": "%s/%s" % (url, name)}]}
            elif isinstance(value, dict) and "id" in value:
                body[name] = {"id": value["id"],
                              "refName": self.ref_name(name, value)}
            else:
                body[name] = value
        body.update(rec.totals)
        if rec.type == "salesOrder":
            letter = rec.status_letter()
            body["status"] = {"id": ORDER_STATUS_IDS[letter],
                              "refName": ORDER_STATUS[letter]}
        elif rec.type == "returnAuthorization":
            letter = rec.status_letter()
            body["orderStatus"] = {"id": letter,
                                   "refName": RA_STATUS[letter]}
            body["status"] = {"id": RA_STATUS_IDS[letter],
                              "refName": RA_STATUS[letter]}
        elif rec.type == "cashSale":
            body["status"] = {"id": CASH_SALE_STATUS[0],
                              "refName": CASH_SALE_STATUS[1]}
        elif rec.type in ("cashRefund", "itemReceipt", "customerRefund"):
            pass
        elif rec.type == "invoice":
            sid, label = INVOICE_STATUS[rec.status_letter()]
            body["status"] = {"id": sid, "refName": label}
        else:
            sid, label = MEMO_STATUS[rec.status_letter()]
            body["status"] = {"id": sid, "refName": label}
        if "_apply" in rec.fields:
            # the invoices the memo is applied to (sublist "apply")
            if expand or admin:
                items = [{"doc": {"id": a["doc"],
                                  "refName": self.ref_name("createdFrom",
                                                           {"id": a["doc"]})},
                          "apply": True, "amount": a["amount"]}
                         for a in rec.fields["_apply"]]
                body["apply"] = {"count": len(items), "items": items}
            else:
                body["apply"] = {"links": [{"rel": "self",
                                            "href": url + "/apply"}]}
        if "shippingAddress" in rec.fields:
            body["shipAddress"] = _addr_text(rec.fields["shippingAddress"])
        if "billingAddress" in rec.fields:
            body["billAddress"] = _addr_text(rec.fields["billingAddress"])
        body["createdDate"] = rec.meta["created"]
        body["lastModifiedDate"] = rec.meta["modified"]
        if (expand or admin) and "_taxDetails" in rec.fields:
            body["taxDetails"] = {"items": [dict(t) for t in
                                            rec.fields["_taxDetails"]]}
        if rec.type == "customerRefund":
            body.pop("status", None)
            items = [{"doc": {"id": l["doc"], "refName": self.ref_name(
                         "createdFrom", {"id": l["doc"]})},
                      "apply": True, "amount": l["amount"]}
                     for l in rec.fields.get("_refApply", [])]
            body["apply"] = {"count": len(items), "items": items} \
                if expand or admin else {"links": [{"rel": "self",
                                                    "href": url + "/apply"}]}
        elif expand or admin:
            body["item"] = self.render_sublist(rec, base_url)
        else:
            body["item"] = {"links": [{"rel": "self",
                                       "href": url + "/item"}]}
        if fields is not None:
            body = {k: v for k, v in body.items() if k in fields}
        # The id always comes back, whatever fields= asks for.
        out["id"] = rec.id
        for name in _OUTPUT_ORDER:
            if name in body:
                out[name] = body.pop(name)
        for name in sorted(body):
            out[name] = body[name]
        if admin:
            out["_sim"] = dict(rec.meta, type=rec.type)
        return out

    def render_sublist(self, rec, base_url):
        url = "%s%s/%s/%s/item" % (base_url, REST_PREFIX, rec.type, rec.id)
        items = [self.render_line(rec, l, base_url) for l in rec.lines]
        return {"links": [{"rel": "self", "href": url}], "count": len(items),
                "hasMore": False, "items": items, "offset": 0,
                "totalResults": len(items)}

    def render_line(self, rec, line, base_url):
        url = "%s%s/%s/%s/item/%d" % (base_url, REST_PREFIX, rec.type, rec.id,
                                      line["line"])
        out = {"links": [{"rel": "self", "href": url}]}
        for name in sorted(line, key=_line_order):
            value = line[name]
            if isinstance(value, dict) and "id" in value:
                out[name] = {"id": value["id"],
                             "refName": self.ref_name(name, value)}
            else:
                out[name] = value
        return out

    def field_names(self, rtype):
        return set(BODY_FIELDS[rtype]) | READ_ONLY | set(SUBLISTS)


_LINE_ORDER = ("line", "item", "description", "quantity", "rate", "amount",
               "taxRate1", "tax1Amt", "grossAmt", "isClosed",
               "quantityFulfilled", "quantityBilled")


def _line_order(name):
    return (_LINE_ORDER.index(name) if name in _LINE_ORDER
            else len(_LINE_ORDER), name)


def _addr_text(addr):
    parts = [addr.get(k) for k in ("attention", "addressee", "addr1",
                                   "addr2", "addr3")]
    city = " ".join(x for x in (addr.get("city"), addr.get("state"),
                                addr.get("zip")) if x)
    parts += [city, addr.get("country")]
    return "\n".join(p for p in parts if p)


def _jtype(v):
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "a boolean"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "a number"


def _is_int_like(v):
    try:
        int(v)
        return True
    except (TypeError, ValueError):
        return False
