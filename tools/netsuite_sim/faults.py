"""Injected faults, decided per request from one seeded RNG.

Rates are probabilities in [0, 1].  For a given seed and the same sequence
of requests the same requests fail the same way, because every request
draws the same number of random values in the same order whatever the
configuration.  For fully scripted tests, ``once`` holds one-shot faults
that hit the next matching request(s) before any rate is considered:

    {"fault": "lost_response", "method": "PATCH", "path": "salesOrder",
     "count": 1}

Fault kinds:
    timeout        hold the connection, never answer (nothing applied)
    reset          TCP reset before anything is applied
    error          a 5xx (status from error_statuses or the entry's
                   "status"); nothing applied
    lost_response  apply the request, then reset (or hold, with
                   lost_response_mode "timeout") instead of answering
    concurrency    answer as if over the account's concurrency limit
    auth           answer 401 INVALID_LOGIN_ATTEMPT whatever the signature
    latency        add the entry's "ms" to this request's latency
    drift          (one-shot only) apply a write, then change the record's
                   first line quantity by one, as a NetSuite script or
                   workflow acting on save would: for read-back checks
                   (on the RESTlet: the Sales Order's first line, after
                   the script saved it and before it reports totals)
    close          on a kept-alive connection only (one that has already
                   carried a request): authenticate the request, so its
                   nonce is used up, apply nothing, and close the
                   connection (FIN) without a word, as a load balancer
                   dropping an idle connection the client has just reused
                   does.  A client that then re-sends the same signed
                   request is caught as a nonce replay (401).
    changed        (one-shot only) 400 RCRD_HAS_BEEN_CHANGED, nothing
                   applied: another user or script saved the record
                   meanwhile (the optimistic lock NetSuite reports as
                   "Record has been changed"; its REST spelling is not
                   confirmed, docs/netsuite-booking-research.md 4)
"""

import copy
import random

KINDS = ("timeout", "reset", "error", "lost_response", "concurrency", "auth",
         "latency", "drift", "close", "changed")

DEFAULTS = {
    "latency_ms": 0,            # fixed latency added to every API request
    "latency_range_ms": [0, 0],  # plus a uniform random [lo, hi]
    "error_rate": 0.0,
    "error_statuses": [500],
    "reset_rate": 0.0,
    "timeout_rate": 0.0,
    "timeout_s": 30.0,          # how long a timeout holds the connection
    "lost_response_rate": 0.0,
    "lost_response_mode": "reset",  # or "timeout"
    "close_rate": 0.0,          # of requests on kept-alive connections
    "bogus_401_rate": 0.0,      # share of over-limit answers sent as 401
    "gate": False,              # True: admitted requests wait until False
    "once": [],
}

_RATES = ("error_rate", "reset_rate", "timeout_rate", "lost_response_rate",
          "bogus_401_rate", "close_rate")


class FaultError(ValueError):
    pass


def validate(conf, base=None):
    """Merge ``conf`` over ``base`` (defaults if None), checking types, and
    return the new configuration.  Raises FaultError on bad input."""
    out = copy.deepcopy(base if base is not None else DEFAULTS)
    if not isinstance(conf, dict):
        raise FaultError("faults must be a JSON object")
    for key, value in conf.items():
        if key not in DEFAULTS:
            raise FaultError("unknown fault setting %r" % key)
        if key in _RATES:
            value = _number(key, value)
            if not 0 <= value <= 1:
                raise FaultError("%s must be between 0 and 1" % key)
        elif key in ("latency_ms", "timeout_s"):
            value = _number(key, value)
            if value < 0:
                raise FaultError("%s must be >= 0" % key)
        elif key == "latency_range_ms":
            if not (isinstance(value, list) and len(value) == 2):
                raise FaultError("latency_range_ms is [lo, hi]")
            value = [_number(key, v) for v in value]
            if not 0 <= value[0] <= value[1]:
                raise FaultError("latency_range_ms needs 0 <= lo <= hi")
        elif key == "error_statuses":
            if not (isinstance(value, list) and value and all(
                    isinstance(s, int) and 500 <= s <= 599 for s in value)):
                raise FaultError("error_statuses is a list of 5xx codes")
        elif key == "lost_response_mode":
            if value not in ("reset", "timeout"):
                raise FaultError("lost_response_mode is reset or timeout")
        elif key == "gate":
            if not isinstance(value, bool):
                raise FaultError("gate is true or false")
        elif key == "once":
            if not isinstance(value, list):
                raise FaultError("once is a list of one-shot faults")
            value = out["once"] + [_once(e) for e in value]
        out[key] = value
    return out


def _number(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            and type(value).__name__ != "Decimal":
        raise FaultError("%s must be a number" % key)
    return float(value)


def _once(entry):
    if not isinstance(entry, dict) or entry.get("fault") not in KINDS:
        raise FaultError("a once entry needs \"fault\": one of %s"
                         % ", ".join(KINDS))
    allowed = {"fault", "method", "path", "status", "ms", "count"}
    extra = set(entry) - allowed
    if extra:
        raise FaultError("unknown once keys: %s" % ", ".join(sorted(extra)))
    e = dict(entry)
    e["count"] = int(e.get("count", 1))
    if "status" in e and not (isinstance(e["status"], int)
                              and 500 <= e["status"] <= 599):
        raise FaultError("once status must be a 5xx code")
    if e["fault"] == "latency":
        e["ms"] = _number("ms", e.get("ms", 0))
    if "method" in e:
        e["method"] = str(e["method"]).upper()
    return e


class Decision:
    """What happens to one request."""

    def __init__(self):
        self.kind = None        # one of KINDS (latency aside) or None
        self.status = None      # for "error"
        self.latency = 0.0      # seconds
        self.bogus_401 = False  # if it ends up over the limit


class Faults:
    def __init__(self, conf, seed):
        self.seed = seed
        self.initial = validate(conf or {})
        self.reset()

    def reset(self):
        self.conf = copy.deepcopy(self.initial)
        self.rng = random.Random(self.seed)

    def set(self, conf):
        self.conf = validate(conf, self.conf)

    def clear(self):
        self.conf = copy.deepcopy(DEFAULTS)

    def decide(self, method, path, kept_alive=False):
        """Call under the simulator's lock, once per API request.
        ``kept_alive``: the request came on a connection that has already
        carried one (only those can be hit by "close")."""
        c = self.conf
        d = Decision()
        # Always draw the same values so one rate does not shift another.
        r_timeout, r_reset, r_error, r_lost, r_bogus, r_lat, r_status = \
            (self.rng.random() for _ in range(7))
        # One more draw only when close_rate is on, so that the sequences
        # of seeds used before "close" existed stay the same.
        r_close = self.rng.random() if c["close_rate"] > 0 else 1.0
        lo, hi = c["latency_range_ms"]
        d.latency = (c["latency_ms"] + lo + (hi - lo) * r_lat) / 1000.0
        d.bogus_401 = r_bogus < c["bogus_401_rate"]
        once = self._take_once(method, path, kept_alive)
        if once is not None:
            if once["fault"] != "latency":
                d.kind = once["fault"]
                if d.kind == "error":
                    d.status = once.get("status", c["error_statuses"][0])
                return d
            # A one-shot latency adds to whatever the rates decide.
            d.latency += once["ms"] / 1000.0
        statuses = c["error_statuses"]
        if r_timeout < c["timeout_rate"]:
            d.kind = "timeout"
        elif r_reset < c["reset_rate"]:
            d.kind = "reset"
        elif r_error < c["error_rate"]:
            d.kind = "error"
            d.status = statuses[min(int(r_status * len(statuses)),
                                    len(statuses) - 1)]
        elif r_lost < c["lost_response_rate"]:
            d.kind = "lost_response"
        elif kept_alive and r_close < c["close_rate"]:
            d.kind = "close"
        return d

    def _take_once(self, method, path, kept_alive):
        for i, e in enumerate(self.conf["once"]):
            if e["fault"] == "close" and not kept_alive:
                continue
            if "method" in e and e["method"] != method:
                continue
            if "path" in e and e["path"] not in path:
                continue
            e["count"] -= 1
            if e["count"] <= 0:
                del self.conf["once"][i]
            return e
        return None
