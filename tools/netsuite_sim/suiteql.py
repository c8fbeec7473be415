"""Just enough SuiteQL for a connector's lookups.

Supported (keywords in any case, one table):

    SELECT col [, col ...] | *   FROM transaction
    [WHERE cond [AND cond ...]]
    [ORDER BY col [ASC|DESC]]

where a cond is col = literal, or col IN (literal [, literal ...]).

Literals are 'strings' ('' escapes a quote) or numbers. Columns of
transaction: id, tranid, externalid, type (SalesOrd / CustCred / CustInvc /
CustRfnd / CashSale / CashRfnd / RtnAuth / ItemRcpt), status (the one-letter
code, none for cash sales, cash refunds, customer refunds and item
receipts), entity, currency, trandate
(M/D/YYYY, NetSuite's default date format), foreigntotal, taxtotal, memo,
otherrefnum, createdfrom, lastmodifieddate and every custbody_* field. Like
NetSuite, every value comes back as a string and a column whose value is
null is left out of the row altogether. Anything else is refused with 400
INVALID_PARAMETER, so a query that would not run on NetSuite does not
quietly "work" here."""

import re
from decimal import Decimal

from .errors import NSError
from .records import SUITEQL_TYPE

STANDARD_COLUMNS = ("id", "tranid", "externalid", "type", "status", "entity",
                    "currency", "trandate", "foreigntotal", "taxtotal",
                    "memo",
                    "otherrefnum", "createdfrom", "lastmodifieddate")

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<sym>[,=*()])
)""", re.VERBOSE)


def _bad(detail):
    return NSError(400, "INVALID_PARAMETER",
                   "Invalid search query. Detailed unprocessed description "
                   "follows. " + detail)


def tokenize(q):
    pos, out = 0, []
    q = q.rstrip().rstrip(";")
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            if q[pos:].strip() == "":
                break
            raise _bad("Search error occurred: syntax error near '%s' "
                       "(the simulator supports SELECT ... FROM transaction "
                       "WHERE col = literal [AND ...] [ORDER BY col])."
                       % q[pos:pos + 20])
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "string":
            out.append(("lit", text[1:-1].replace("''", "'")))
        elif kind == "number":
            out.append(("lit", text))
        elif kind == "ident":
            out.append(("ident", text))
        else:
            out.append(("sym", text))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def keyword(self, word, required=True):
        kind, text = self.peek()
        if kind == "ident" and text.upper() == word:
            self.i += 1
            return True
        if required:
            raise _bad("Search error occurred: expected %s, found %s."
                       % (word, text or "end of query"))
        return False

    def ident(self):
        kind, text = self.peek()
        if kind != "ident":
            raise _bad("Search error occurred: expected a column name, "
                       "found %s." % (text or "end of query"))
        self.i += 1
        return text.lower()

    def sym(self, s, required=True):
        kind, text = self.peek()
        if kind == "sym" and text == s:
            self.i += 1
            return True
        if required:
            raise _bad("Search error occurred: expected '%s', found %s."
                       % (s, text or "end of query"))
        return False

    def literal(self, col):
        kind, text = self.peek()
        if kind != "lit":
            raise _bad("Search error occurred: expected a literal "
                       "after %s." % col)
        self.i += 1
        return text

    def parse(self):
        self.keyword("SELECT")
        if self.sym("*", required=False):
            cols = None
        else:
            cols = [self.ident()]
            while self.sym(",", required=False):
                cols.append(self.ident())
        self.keyword("FROM")
        table = self.ident()
        if table != "transaction":
            raise _bad("Search error occurred: Record '%s' was not found "
                       "(the simulator knows only transaction)." % table)
        where = []
        if self.keyword("WHERE", required=False):
            while True:
                col = self.ident()
                if self.keyword("IN", required=False):
                    self.sym("(")
                    values = [self.literal(col)]
                    while self.sym(",", required=False):
                        values.append(self.literal(col))
                    self.sym(")")
                    where.append((col, tuple(values)))
                else:
                    self.sym("=")
                    where.append((col, self.literal(col)))
                if not self.keyword("AND", required=False):
                    break
        order = None
        if self.keyword("ORDER", required=False):
            self.keyword("BY")
            col = self.ident()
            desc = False
            if self.keyword("DESC", required=False):
                desc = True
            else:
                self.keyword("ASC", required=False)
            order = (col, desc)
        if self.i != len(self.t):
            raise _bad("Search error occurred: unexpected '%s'."
                       % self.t[self.i][1])
        return cols, where, order


def _str(v):
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, dict):
        return v.get("id")
    if isinstance(v, Decimal):
        return format(v, "f")
    return None if v is None else str(v)


def row_of(rec):
    """The transaction row SuiteQL sees for a record (lower-case columns,
    string values, nulls left out)."""
    f = rec.fields
    y, m, d = f.get("tranDate", "1970-01-01").split("-")
    row = {
        "id": rec.id,
        "tranid": f.get("tranId"),
        "externalid": f.get("externalId"),
        "type": SUITEQL_TYPE[rec.type],
        "status": rec.status_letter(),
        "entity": _str(f.get("entity")),
        "currency": _str(f.get("currency")),
        "trandate": "%d/%d/%s" % (int(m), int(d), y),
        "foreigntotal": _str(rec.totals.get("total")),
        "taxtotal": _str(rec.totals.get("taxTotal")),
        "memo": f.get("memo"),
        "otherrefnum": f.get("otherRefNum"),
        "createdfrom": _str(f.get("createdFrom")),
        "lastmodifieddate": rec.meta["modified"],
    }
    for name, value in f.items():
        if name.startswith("custbody"):
            row[name.lower()] = _str(value)
    return {k: v for k, v in row.items() if v is not None}


def run(store, q, limit=1000, offset=0):
    """Return (rows, total) for query text ``q``."""
    if not isinstance(q, str) or not q.strip():
        raise _bad("The request body must be {\"q\": \"<SuiteQL>\"}.")
    cols, where, order = _Parser(tokenize(q)).parse()
    for col in (cols or []) + [c for c, _ in where] + \
            ([order[0]] if order else []):
        if col not in STANDARD_COLUMNS and not col.startswith("custbody"):
            raise _bad("Search error occurred: Field '%s' for record "
                       "'transaction' was not found. Reason: NOT_EXPOSED - "
                       "Not available for channel SEARCH" % col)
    rows = [row_of(r) for r in store.all_transactions()]
    # Oracle compares a string column with a literal as strings; numbers
    # given as literals compare with the column's string form.
    rows = [r for r in rows
            if all(r.get(c) in v if isinstance(v, tuple) else r.get(c) == v
                   for c, v in where)]
    if order:
        col, desc = order

        def key(r):
            v = r.get(col)
            return (v is None, int(v) if v is not None and v.isdigit()
                    else 0, v or "")
        rows.sort(key=key, reverse=desc)
    else:
        rows.sort(key=lambda r: int(r["id"]))
    total = len(rows)
    rows = rows[offset:offset + limit]
    if cols is not None:
        rows = [{c: r[c] for c in cols if c in r} for r in rows]
    return rows, total
