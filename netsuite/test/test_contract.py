"""The RESTlet's contract, run twice: every case in cases.json against the
simulator's RESTlet (tools/netsuite_sim/restlet.py) and against the
SuiteScript (netsuite/order_edit_restlet.js, under node in the mocked
account of ns_mock.js).  Both must answer the same and leave the same
records, and both must meet the case's expectations, so the simulator the
module is tested against and the script shops deploy cannot drift.

    python3 netsuite/test/test_contract.py      (from the top directory;
                                                 make test-restlet)

A "fixture" request is the module's own document: build/order-edit-
normalise (make) on that Shopify payload."""

import json
import os
import re
import subprocess
import sys
import unittest
from decimal import Decimal

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))

from netsuite_sim import jsonutil                      # noqa: E402
from netsuite_sim.errors import NSError                # noqa: E402
from netsuite_sim.records import Store, round_money    # noqa: E402
from netsuite_sim.restlet import Restlet               # noqa: E402

NORMALISE = os.path.join(TOP, "build", "order-edit-normalise")
CASES = os.path.join(TOP, "netsuite", "test", "cases.json")
RESOLVED = os.path.join(TOP, "build", "restlet", "cases.json")
RUNNER = os.path.join(TOP, "netsuite", "test", "run_cases.js")
NUMBER = re.compile(r"-?\d+\.\d*0$")


def plain(v):
    """Decimals (the simulator parses JSON numbers exactly) as JSON."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and "." not in str(v) \
            else float(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def canon(v):
    """"24.50" and "24.5" are the same number: compare decimal strings by
    value (the simulator prints Decimals, the script a float's digits)."""
    if isinstance(v, str) and NUMBER.fullmatch(v):
        v = v.rstrip("0").rstrip(".")
        return "0" if v == "-0" else v
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v


def answer(status, body):
    """What the two must agree on: the status, the body, and of an error
    its code only (the messages are each side's own words)."""
    if status != 200:
        return {"status": status, "code": body["error"]["code"]}
    return {"status": status, "body": canon(body)}


def partial(want, have, where="$"):
    """Every key of ``want`` has the same value in ``have``; lists match
    element by element and have the same length."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return ["%s: expected an object, got %r" % (where, have)]
        out = []
        for k, v in want.items():
            if k not in have:
                out.append("%s.%s: missing" % (where, k))
            else:
                out += partial(v, have[k], "%s.%s" % (where, k))
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return ["%s: expected %d elements, got %r"
                    % (where, len(want), have)]
        out = []
        for i, (w, h) in enumerate(zip(want, have)):
            out += partial(w, h, "%s[%d]" % (where, i))
        return out
    if canon(want) != canon(have):
        return ["%s: expected %r, got %r" % (where, want, have)]
    return []


def resolve(case):
    """The request as the module would send it."""
    req = case["request"]
    if "fixture" not in req:
        return req
    out = subprocess.run([NORMALISE, "--compact", "--input",
                          os.path.join(TOP, req["fixture"])] + req["args"],
                         cwd=TOP, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise AssertionError("%s: order-edit-normalise failed: %s"
                             % (case["name"], out.stdout + out.stderr))
    body = json.loads(out.stdout)
    if "options" in req:
        body["options"] = req["options"]
    return body


def sim_view(store):
    """The account's state, as ns_mock.js's Account.view() gives it."""
    out = {}
    for rtype in ("salesOrder", "creditMemo", "invoice"):
        for rec in store.records[rtype].values():
            p = store.precision_of(rec.fields.get("currency"))

            def m(v):
                return format(round_money(v or 0, p), "f")
            v = {"id": rec.id,
                 "lines": [{"line": l["line"], "item": l["item"]["id"],
                            "key": l.get("custcol_shopify_line_id"),
                            "quantity": format(Decimal(l["quantity"]), "f"),
                            "amount": m(l["amount"]), "tax": m(l["tax1Amt"]),
                            "closed": bool(l.get("isClosed"))}
                           for l in rec.lines],
                 "taxTotal": m(rec.totals["taxTotal"]),
                 "total": m(rec.totals["total"]),
                 "shippingCost": m(rec.fields.get("shippingCost"))}
            if rtype == "salesOrder":
                v["status"] = rec.status_letter()
                v["entity"] = rec.fields["entity"]["id"]
            v["fields"] = {name.lower(): rec.fields[name] for name in (
                "otherRefNum", "memo", "custbody_shopify_order_id",
                "custbody_shopify_updated_at",
                "custbody_shopify_taxes_included",
                "custbody_shopify_refund_id", "custbody_shopify_cancelled",
                "custbody_shopify_cancelled_at",
                "custbody_shopify_cancel_reason")
                if rec.fields.get(name) not in (None, "")}
            if rec.fields.get("taxDetailsOverride"):
                v["taxDetails"] = [
                    {"ref": t["taxDetailsReference"],
                     "taxType": t["taxType"]["id"],
                     "taxCode": t["taxCode"]["id"], "basis": m(t["taxBasis"]),
                     "rate": format(Decimal(t["taxRate"]).quantize(
                         Decimal("0.0001")), "f"),
                     "amount": m(t["taxAmount"])}
                    for t in rec.fields.get("_taxDetails", [])]
            out["%s:%s" % (rtype, rec.external_id or rec.id)] = v
    # the customers a create made (seeded ones have no names)
    for cust in store.customers.values():
        if "isPerson" in cust:
            v = {"externalid": cust["externalId"],
                 "isperson": "T" if cust["isPerson"] else "F"}
            for name in ("firstName", "lastName", "companyName", "email",
                         "phone"):
                if cust.get(name):
                    v[name.lower()] = cust[name]
            if "subsidiary" in cust:
                v["subsidiary"] = cust["subsidiary"]["id"]
            out["customer:" + cust["externalId"]] = v
    return out


def run_sim(account, case):
    store = Store(currencies=account["currencies"], items=account["items"])
    for rtype, bodies in case.get("records", {}).items():
        for body in bodies:
            store.seed(rtype, jsonutil.loads(json.dumps(body)))
    for cust in case.get("customers", []):
        store.add_customer(cust)
    store.one_world = case.get("one_world", False)
    params = dict(case.get("params", {}))
    customer = params.pop("default_customer", "1")
    if params.get("tax_mode") == "auto":
        # what the script asks runtime.isFeatureInEffect('tax_overhauling')
        params["tax_mode"] = "suitetax" if case.get("features", {}).get(
            "tax_overhauling") else "legacy"
    restlet = Restlet(store, default_entity=customer, params=params)
    try:
        body = plain(restlet.apply(jsonutil.loads(
            json.dumps(case["request"]))))
        status = 200
    except NSError as e:
        status, body = e.status, e.restlet_body()
    return status, json.loads(json.dumps(body)), sim_view(store)


class Contract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(CASES) as f:
            spec = json.load(f)
        cls.account = spec["account"]
        cls.cases = []
        for case in spec["cases"]:
            case = dict(case, request=resolve(case))
            case.setdefault("currencies", cls.account["currencies"])
            case.setdefault("items", cls.account["items"])
            case.setdefault("tax_codes", cls.account["tax_codes"])
            case.setdefault("custom_fields", cls.account["custom_fields"])
            cls.cases.append(case)
        os.makedirs(os.path.dirname(RESOLVED), exist_ok=True)
        with open(RESOLVED, "w") as f:
            json.dump(cls.cases, f, indent=1)
        out = subprocess.run(["node", RUNNER, RESOLVED], cwd=TOP,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise AssertionError("node %s failed:\n%s" % (RUNNER,
                                                          out.stderr))
        cls.script = {r["name"]: r for r in json.loads(out.stdout)}

    def test_cases(self):
        for case in self.cases:
            with self.subTest(case=case["name"]):
                self.check(case)

    def check(self, case):
        status, body, view = run_sim(self.account, case)
        js = self.script[case["name"]]
        self.assertEqual(js["ignored"], [], "the script set fields the "
                         "record does not have")
        sim_answer = answer(status, body)
        js_answer = answer(js["status"], js["body"])
        self.assertEqual(js_answer, sim_answer, "the script and the "
                         "simulator answer differently")
        self.assertEqual(canon(js["view"]), canon(view), "the script and "
                         "the simulator leave different records")
        want = case["expect"]
        problems = []
        if want.get("status", 200) != status:
            problems.append("status %s, expected %s (%s)"
                            % (status, want.get("status", 200), body))
        if "code" in want:
            problems += partial(want["code"], sim_answer.get("code"),
                                "$.error.code")
        if "response" in want:
            problems += partial(want["response"], body)
        if "view" in want:
            if want["view"] == {}:
                problems += [] if view == {} else ["records written: %s"
                                                   % sorted(view)]
            problems += partial(want["view"], view, "records")
        self.assertEqual(problems, [], "%s (%s)" % (case["name"],
                                                    case.get("why")))
        self.assertLess(js["units"], 1000, "governance units")


if __name__ == "__main__":
    unittest.main()
