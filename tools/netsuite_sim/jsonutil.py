"""JSON in and out without ever turning money into a float.

Requests are parsed with every non-integer number as a Decimal, so 19.99
stays 19.99 (a float would be 19.989999999999998...).  Responses are written
by a tiny encoder that prints Decimals as plain JSON numbers, because the
standard json module cannot."""

import json
from decimal import Decimal


class BadJSON(ValueError):
    pass


def _refuse_constant(name):
    # NaN / Infinity are not JSON; Python would accept them by default.
    raise BadJSON("non-standard JSON constant %s" % name)


def loads(data):
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadJSON("body is not UTF-8: %s" % e)
    try:
        return json.loads(data, parse_float=Decimal,
                          parse_constant=_refuse_constant)
    except BadJSON:
        raise
    except ValueError as e:
        raise BadJSON(str(e))


def _enc(o, out):
    if o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(str(o))
    elif isinstance(o, Decimal):
        # 'f' never uses an exponent; normalise -0 to 0.
        text = format(o, "f")
        out.append(text[1:] if o == 0 and text.startswith("-") else text)
    elif isinstance(o, float):
        out.append(repr(o))
    elif isinstance(o, str):
        out.append(json.dumps(o, ensure_ascii=False))
    elif isinstance(o, dict):
        out.append("{")
        first = True
        for k, v in o.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _enc(v, out)
        out.append("}")
    elif isinstance(o, (list, tuple)):
        out.append("[")
        for i, v in enumerate(o):
            if i:
                out.append(",")
            _enc(v, out)
        out.append("]")
    else:
        raise TypeError("cannot encode %r" % type(o))


def dumps(o):
    out = []
    _enc(o, out)
    return "".join(out)


def dumpb(o):
    return dumps(o).encode("utf-8")
