"""Just enough SuiteQL for a connector's lookups and the mismatch report.

Supported (keywords in any case):

    SELECT sel [, sel ...] | *   FROM table [alias]
    [[INNER | LEFT [OUTER]] JOIN table [alias] ON col = col ...]
    [WHERE cond [AND cond ...]]
    [ORDER BY col [ASC|DESC]]

A sel is col [AS name]; a col is name or alias.name. A cond is
col = literal, LOWER(col) = literal, col IN (literal [, literal ...]),
col LIKE 'pattern' (% and _ as in SQL), or col >= / > / <= / < literal
or TO_DATE('YYYY-MM-DD', 'YYYY-MM-DD') (dates compare by day).

Literals are 'strings' ('' escapes a quote) or numbers.  Tables:

transaction: id, tranid, externalid, type (SalesOrd / CustCred / CustInvc /
CustRfnd / CashSale / CashRfnd / RtnAuth / ItemRcpt), status (the one-letter
code, none for cash sales, cash refunds, customer refunds and item
receipts), entity, currency, trandate (M/D/YYYY, NetSuite's default date
format), foreigntotal, taxtotal, memo, otherrefnum, createdfrom,
lastmodifieddate and every custbody_* field.

transactionline (docs/netsuite-simulator.md, "SuiteQL", says from which
sources): transaction, id, linesequencenumber, mainline, taxline, item,
quantity, rate, foreignamount, netamount and every custcol_* field.  Each
transaction has one main line (mainline 'T', no item), one line per item
sublist line (mainline 'F', taxline 'F') and, when it carries tax, one tax
line (taxline 'T').  On sales transactions (SalesOrd, CustInvc, CashSale)
quantity and amounts are stored with the opposite sign, negative, as the
line's effect on inventory and on its income account; on the others as
entered, so a Credit Memo's (CustCred) positive, the reverse of a sale
(UNCONFIRMED by an Oracle page, as the sale's sign is).

item: id, itemid, externalid, itemtype.

currency: id, symbol (the ISO code), currencyprecision, from the
currency table.

customer: id, externalid, email, companyname, firstname, lastname,
isperson ('T' / 'F'), the customer records the simulator keeps.  Strings
compare exactly (whether NetSuite's email = is case-blind is UNCONFIRMED,
so the module and the script compare LOWER(email) with a lower-cased
literal).

Like NetSuite, every value comes back as a string and a column whose value
is null is left out of the row altogether. Anything else is refused with 400
INVALID_PARAMETER, so a query that would not run on NetSuite does not
quietly "work" here."""

import datetime
import re
from decimal import Decimal

from .errors import NSError
from .records import SUITEQL_TYPE

STANDARD_COLUMNS = ("id", "tranid", "externalid", "type", "status", "entity",
                    "currency", "trandate", "foreigntotal", "taxtotal",
                    "memo",
                    "otherrefnum", "createdfrom", "lastmodifieddate")
LINE_COLUMNS = ("transaction", "id", "linesequencenumber", "mainline",
                "taxline", "item", "quantity", "rate", "foreignamount",
                "netamount")
ITEM_COLUMNS = ("id", "itemid", "externalid", "itemtype")
CUSTOMER_COLUMNS = ("id", "externalid", "email", "companyname",
                    "firstname", "lastname", "isperson")
TABLES = {"transaction": (STANDARD_COLUMNS, "custbody"),
          "transactionline": (LINE_COLUMNS, "custcol"),
          "item": (ITEM_COLUMNS, None),
          "customer": (CUSTOMER_COLUMNS, "custentity"),
          "currency": (("id", "symbol", "currencyprecision"), None)}
# the sales transactions whose lines are stored negative
SALES_TYPES = ("SalesOrd", "CustInvc", "CashSale")
# LOWER(col) in a condition, as (_LOWER, col): no alias is upper case
_LOWER = "LOWER()"
KEYWORDS = ("FROM", "WHERE", "ORDER", "JOIN", "INNER", "LEFT", "OUTER", "ON",
            "AND", "AS")

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<sym>>=|<=|[,=*().<>])
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
                       "[JOIN transactionline | item ... ON ...] WHERE "
                       "col = | IN | LIKE | >= ... [AND ...] "
                       "[ORDER BY col])."
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

    def column(self):
        """name or alias.name, as (alias or None, name)."""
        first = self.ident()
        if self.sym(".", required=False):
            return (first, self.ident())
        return (None, first)

    def operand(self):
        """A condition's left side: col, or LOWER(col) as (_LOWER, col)
        (Oracle's LOWER, in SuiteQL's supported function list)."""
        kind, text = self.peek()
        if kind == "ident" and text.upper() == "LOWER" \
                and self.t[self.i + 1:self.i + 2] == [("sym", "(")]:
            self.i += 2
            col = self.column()
            self.sym(")")
            return (_LOWER, col)
        return self.column()

    def table(self):
        name = self.ident()
        if name not in TABLES:
            raise _bad("Search error occurred: Record '%s' was not found "
                       "(the simulator knows transaction, transactionline, "
                       "item, customer and currency)." % name)
        alias = name
        kind, text = self.peek()
        if kind == "ident" and text.upper() not in KEYWORDS:
            alias = self.ident()
        return name, alias

    def value(self, col):
        """A literal, or TO_DATE('YYYY-MM-DD', 'YYYY-MM-DD') as a date."""
        kind, text = self.peek()
        if kind == "ident" and text.upper() == "TO_DATE":
            self.i += 1
            self.sym("(")
            day = self.literal(col)
            self.sym(",")
            fmt = self.literal(col)
            self.sym(")")
            if fmt.upper() != "YYYY-MM-DD":
                raise _bad("Search error occurred: the simulator's TO_DATE "
                           "takes the format 'YYYY-MM-DD' only.")
            try:
                return datetime.date.fromisoformat(day)
            except ValueError:
                raise _bad("Search error occurred: invalid date '%s'."
                           % day)
        return self.literal(col)

    def parse(self):
        self.keyword("SELECT")
        if self.sym("*", required=False):
            cols = None
        else:
            cols = []
            while True:
                col = self.column()
                name = col[1]
                if self.keyword("AS", required=False):
                    name = self.ident()
                cols.append((col, name))
                if not self.sym(",", required=False):
                    break
        self.keyword("FROM")
        tables = [self.table() + (None, None)]
        while True:
            left = False
            if self.keyword("LEFT", required=False):
                left = True
                self.keyword("OUTER", required=False)
            elif not self.keyword("INNER", required=False):
                kind, text = self.peek()
                if not (kind == "ident" and text.upper() == "JOIN"):
                    break
            self.keyword("JOIN")
            name, alias = self.table()
            self.keyword("ON")
            a = self.column()
            self.sym("=")
            b = self.column()
            tables.append((name, alias, (a, b), left))
        where = []
        if self.keyword("WHERE", required=False):
            while True:
                col = self.operand()
                if self.keyword("IN", required=False):
                    self.sym("(")
                    values = [self.literal(col[1])]
                    while self.sym(",", required=False):
                        values.append(self.literal(col[1]))
                    self.sym(")")
                    where.append((col, "in", tuple(values)))
                elif self.keyword("LIKE", required=False):
                    where.append((col, "like", self.literal(col[1])))
                else:
                    op = None
                    for s in (">=", "<=", ">", "<", "="):
                        if self.sym(s, required=False):
                            op = s
                            break
                    if op is None:
                        self.sym("=")
                    where.append((col, op, self.value(col[1])))
                if not self.keyword("AND", required=False):
                    break
        order = None
        if self.keyword("ORDER", required=False):
            self.keyword("BY")
            col = self.column()
            desc = False
            if self.keyword("DESC", required=False):
                desc = True
            else:
                self.keyword("ASC", required=False)
            order = (col, desc)
        if self.i != len(self.t):
            raise _bad("Search error occurred: unexpected '%s'."
                       % self.t[self.i][1])
        return cols, tables, where, order


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


def line_rows_of(rec):
    """The transactionline rows of a record: its main line, a line per item
    sublist line and a tax line when it carries tax; on a sales
    transaction quantity and amounts negative."""
    ttype = SUITEQL_TYPE[rec.type]
    sign = -1 if ttype in SALES_TYPES else 1
    total = rec.totals.get("total")
    rows = [{"transaction": rec.id, "id": "0", "linesequencenumber": "0",
             "mainline": "T", "taxline": "F",
             "foreignamount": _str(total) if total is not None else None}]
    for n, line in enumerate(rec.lines, 1):
        amount = line.get("amount")
        row = {
            "transaction": rec.id,
            "id": str(line.get("line", n)),
            "linesequencenumber": str(n),
            "mainline": "F",
            "taxline": "F",
            "item": _str(line.get("item")),
            "quantity": _str(sign * line["quantity"])
            if line.get("quantity") is not None else None,
            "rate": _str(line.get("rate")),
            "foreignamount": _str(sign * amount)
            if amount is not None else None,
            # one currency per simulated account: the base amount is the
            # transaction's
            "netamount": _str(sign * amount) if amount is not None else None,
        }
        for name, value in line.items():
            if name.startswith("custcol"):
                row[name.lower()] = _str(value)
        rows.append(row)
    tax = rec.totals.get("taxTotal")
    if tax:
        rows.append({"transaction": rec.id, "id": str(len(rows)),
                     "linesequencenumber": str(len(rows)), "mainline": "F",
                     "taxline": "T", "foreignamount": _str(sign * tax)})
    return [{k: v for k, v in r.items() if v is not None} for r in rows]


def item_rows(store):
    return [{k: v for k, v in {"id": i["id"], "itemid": i.get("itemId"),
                               "externalid": i.get("externalId"),
                               "itemtype": i.get("itemType")}.items()
             if v is not None}
            for i in store.items.values()]


def customer_rows(store):
    rows = []
    for cid, c in store.customers.items():
        row = {"id": cid}
        for col, field in (("externalid", "externalId"), ("email", "email"),
                           ("companyname", "companyName"),
                           ("firstname", "firstName"),
                           ("lastname", "lastName")):
            if c.get(field):
                row[col] = str(c[field])
        if "isPerson" in c:
            row["isperson"] = "T" if c["isPerson"] else "F"
        rows.append(row)
    return rows


def _table_rows(store, name):
    if name == "transaction":
        return [row_of(r) for r in store.all_transactions()]
    if name == "transactionline":
        return [l for r in store.all_transactions() for l in line_rows_of(r)]
    if name == "customer":
        return customer_rows(store)
    if name == "currency":
        return [{"id": cid, "symbol": c["symbol"],
                 "currencyprecision": str(c["precision"])}
                for cid, c in store.currencies.items()]
    return item_rows(store)


def _known(table, col):
    cols, custom = TABLES[table]
    return col in cols or (custom is not None and col.startswith(custom))


def _resolve(tables, col):
    """(alias, name) of a column; an unqualified one is the first table's
    that has it."""
    alias, name = col
    if alias is None:
        for t, a, _, _ in tables:
            if _known(t, name):
                return (a, name)
        t, a = tables[0][0], tables[0][1]
    else:
        found = [t for t, a, _, _ in tables if a == alias]
        if not found:
            raise _bad("Search error occurred: unknown table alias '%s'."
                       % alias)
        t, a = found[0], alias
    if not _known(t, name):
        raise _bad("Search error occurred: Field '%s' for record '%s' was "
                   "not found. Reason: NOT_EXPOSED - Not available for "
                   "channel SEARCH" % (name, t))
    return (a, name)


def _day(v):
    """A column's value as a date: ISO (the simulator's lastmodifieddate)
    or M/D/YYYY (trandate)."""
    if v is None:
        return None
    try:
        if "/" in v:
            m, d, y = v.split("/")
            return datetime.date(int(y), int(m), int(d))
        return datetime.date.fromisoformat(v[:10])
    except ValueError:
        return None


def _like(pattern):
    out = ""
    for c in pattern:
        out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
    return re.compile(out + r"\Z", re.DOTALL)


def _match(v, op, want):
    if op == "in":
        return v in want
    if op == "like":
        return v is not None and _like(want).match(v) is not None
    if isinstance(want, datetime.date):
        v = _day(v)
        if v is None:
            return False
    elif op != "=":
        # numbers compare as numbers, anything else as text
        try:
            v, want = Decimal(v), Decimal(want)
        except Exception:
            if v is None:
                return False
    if op == "=":
        return v == want
    return {">=": v >= want, "<=": v <= want, ">": v > want,
            "<": v < want}[op]


def _get(row, col):
    """A condition's value: the column's, or LOWER(column)'s."""
    if col[0] == _LOWER:
        v = row.get(col[1])
        return None if v is None else v.lower()
    return row.get(col)


def run(store, q, limit=1000, offset=0):
    """Return (rows, total) for query text ``q``."""
    if not isinstance(q, str) or not q.strip():
        raise _bad("The request body must be {\"q\": \"<SuiteQL>\"}.")
    cols, tables, where, order = _Parser(tokenize(q)).parse()
    aliases = [a for _, a, _, _ in tables]
    if len(set(aliases)) != len(aliases):
        raise _bad("Search error occurred: a table alias is used twice.")
    if cols is not None:
        cols = [(_resolve(tables, c), n) for c, n in cols]
    where = [((_LOWER, _resolve(tables, c[1])) if c[0] == _LOWER
              else _resolve(tables, c), op, v) for c, op, v in where]
    if order:
        order = (_resolve(tables, order[0]), order[1])

    # the joins, left to right, on one column each side
    name, alias = tables[0][0], tables[0][1]
    rows = [{(alias, k): v for k, v in r.items()}
            for r in _table_rows(store, name)]
    for name, alias, on, left in tables[1:]:
        a, b = _resolve(tables, on[0]), _resolve(tables, on[1])
        mine, theirs = (a, b) if a[0] == alias else (b, a)
        if mine[0] != alias:
            raise _bad("Search error occurred: the ON of '%s' must name "
                       "one of its columns." % alias)
        index = {}
        for r in _table_rows(store, name):
            index.setdefault(r.get(mine[1]), []).append(r)
        joined = []
        for r in rows:
            found = index.get(r.get(theirs)) if r.get(theirs) is not None \
                else None
            for o in found or ([{}] if left else []):
                j = dict(r)
                j.update({(alias, k): v for k, v in o.items()})
                joined.append(j)
        rows = joined

    # Oracle compares a string column with a literal as strings; numbers
    # given as literals compare with the column's string form.
    rows = [r for r in rows
            if all(_match(_get(r, c), op, v) for c, op, v in where)]
    if order:
        col, desc = order

        def key(r):
            v = r.get(col)
            return (v is None, int(v) if v is not None and v.isdigit()
                    else 0, v or "")
        rows.sort(key=key, reverse=desc)
    else:
        def key(r):
            return tuple(int(r.get((a, "id")) or 0) for a in aliases)
        rows.sort(key=key)
    total = len(rows)
    rows = rows[offset:offset + limit]
    if cols is None:
        if len(tables) > 1:
            raise _bad("Search error occurred: SELECT * of a join is not "
                       "supported by the simulator; name the columns.")
        return [{k[1]: v for k, v in r.items()} for r in rows], total
    return [{n.lower(): r[c] for c, n in cols if r.get(c) is not None}
            for r in rows], total
