"""Command line and start-up: options, config file, pid/port files, signals.

Options override the JSON config file (--config), which overrides the
defaults.  See docs/netsuite-simulator.md for every option."""

import argparse
import os
import signal
import sys
import threading

from . import jsonutil
from .faults import validate as validate_faults, FaultError
from .server import Server, Simulator

KEYS = ("consumer_key", "consumer_secret", "token_id", "token_secret")

DEFAULTS = {
    "account": None,
    "bind": "127.0.0.1",
    "port": 0,
    "concurrency": 5,
    "max_skew": 300,
    "base_url": None,
    "seed": 1,
    "restlet_script": "1",
    "restlet_deploy": "1",
    "default_entity": "1",
    "create_status": 204,
    "property_name_validation": "Warning",
    "first_id": 1001,
    "request_log_size": 1000,
    "currencies": None,
    "items": [],
    "records": {},
    "faults": {},
    "credentials": [],
    "no_auth": False,
    "m2m_client_id": None,
    "m2m_certificates": {},
    "m2m_token_ttl": 3600,
}


def parser():
    p = argparse.ArgumentParser(
        prog="netsuite-sim",
        description="A NetSuite SuiteTalk REST / SuiteQL / RESTlet simulator "
                    "with OAuth 1.0a TBA checks, a concurrency limit and "
                    "fault injection, for testing ngx_order_edit_module.")
    a = p.add_argument
    a("--config", help="JSON config file (options below override it)")
    a("--bind", help="address to listen on (default 127.0.0.1)")
    a("--port", type=int, help="TCP port; 0 (default) picks a free one and "
      "prints it on stdout")
    a("--port-file", help="write the port number to this file when ready")
    a("--pid-file", help="write the process id to this file")
    a("--log", help="append one line per request to this file (default "
      "stderr; '-' for stdout)")
    a("--quiet", action="store_true", help="no per-request log lines")
    a("--account", help="NetSuite account id, e.g. 1234567_SB1 (realm)")
    for key in KEYS:
        flag = key.replace("_", "-")
        a("--" + flag, help="inline %s (tests only)" % key)
        a("--%s-file" % flag, help="file holding the %s" % key)
    a("--no-auth", action="store_true",
      help="accept requests without checking OAuth (manual poking only)")
    a("--m2m-client-id", help="OAuth 2.0 client credentials: the client id "
      "(iss) of the integration record")
    a("--m2m-certificate", action="append", metavar="ID=PEM_FILE",
      help="an uploaded certificate (or public key) and its Certificate ID "
      "(kid); repeat for more")
    a("--m2m-token-ttl", type=float, help="access token life in seconds "
      "(default 3600, NetSuite's)")
    a("--max-skew", type=int, help="allowed oauth_timestamp skew in seconds "
      "(default 300); nonces are remembered for twice this")
    a("--base-url", help="verify signatures and build Location headers "
      "against this scheme://host[:port] instead of http://<Host header>")
    a("--concurrency", type=int, help="account concurrency limit "
      "(default 5)")
    a("--seed", type=int, help="RNG seed for the fault rates (default 1)")
    a("--latency-ms", type=float, help="fixed latency per API request")
    a("--latency-range-ms", help="random extra latency LO,HI (uniform)")
    a("--error-rate", type=float, help="share of requests answered 5xx")
    a("--error-statuses", help="comma list of 5xx codes (default 500)")
    a("--reset-rate", type=float, help="share of connections reset before "
      "the request is applied")
    a("--timeout-rate", type=float, help="share of requests never answered")
    a("--timeout-s", type=float, help="how long a timeout holds the "
      "connection (default 30)")
    a("--lost-response-rate", type=float, help="share of requests applied "
      "whose answer is then lost")
    a("--lost-response-mode", choices=("reset", "timeout"))
    a("--close-rate", type=float, help="share of requests on kept-alive "
      "connections authenticated, then closed unanswered, nothing applied")
    a("--bogus-401-rate", type=float, help="share of over-limit answers "
      "sent as 401 INVALID_LOGIN_ATTEMPT instead of 429")
    a("--restlet-script", help="script id the RESTlet answers to (default 1)")
    a("--restlet-deploy", help="deploy id (default 1)")
    a("--default-entity", help="customer id a RESTlet uses when the "
      "document names none (default 1)")
    a("--create-status", type=int, choices=(201, 204),
      help="status of a successful POST create (NetSuite: 204, default)")
    a("--property-name-validation", choices=("Error", "Warning", "Ignore"),
      help="unknown body fields: Error (default, like NetSuite), or drop")
    a("--first-id", type=int, help="first internal id (default 1001)")
    a("--seed-file", help="JSON {\"salesOrder\": [...], \"creditMemo\": "
      "[...]} created at start (and again on reset)")
    a("--items-file", help="JSON list of catalogue items; when any exist, "
      "unknown item ids are refused")
    return p


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _load_json(path):
    with open(path, "rb") as f:
        return jsonutil.loads(f.read())


def build_settings(args):
    s = dict(DEFAULTS)
    conf = _load_json(args.config) if args.config else {}
    if not isinstance(conf, dict):
        raise SystemExit("netsuite-sim: config must be a JSON object")
    for k, v in conf.items():
        if k in KEYS or k.endswith("_file") and k[:-5] in KEYS:
            continue
        if k == "restlet" and isinstance(v, dict):
            for rk in ("script", "deploy", "default_entity"):
                if rk in v:
                    s["restlet_" + rk if rk != "default_entity"
                      else rk] = str(v[rk])
            if isinstance(v.get("params"), dict):
                # the script's parameters (netsuite/README.md)
                s["restlet_params"] = dict(v["params"])
            continue
        if k not in s:
            raise SystemExit("netsuite-sim: unknown config key %r" % k)
        s[k] = v

    # The main key set: option, option file, config value, config file.
    main = {}
    for key in KEYS:
        flag = key
        value = getattr(args, flag)
        path = getattr(args, flag + "_file")
        if value is None and path is not None:
            value = _read(path)
        if value is None:
            value = conf.get(key)
        if value is None and conf.get(key + "_file"):
            value = _read(conf[key + "_file"])
        if value is not None:
            main[key] = str(value)
    creds = []
    if main:
        missing = [k for k in KEYS if k not in main]
        if missing:
            raise SystemExit("netsuite-sim: missing %s" % ", ".join(missing))
        creds.append(main)
    for c in s["credentials"]:
        if not isinstance(c, dict) or any(k not in c for k in KEYS):
            raise SystemExit("netsuite-sim: each credentials entry needs %s"
                             % ", ".join(KEYS))
        creds.append({k: str(c[k]) for k in KEYS})
    s["credentials"] = creds

    simple = {"bind": "bind", "port": "port", "account": "account",
              "max_skew": "max_skew", "base_url": "base_url",
              "concurrency": "concurrency", "seed": "seed",
              "restlet_script": "restlet_script",
              "restlet_deploy": "restlet_deploy",
              "default_entity": "default_entity",
              "create_status": "create_status",
              "property_name_validation": "property_name_validation",
              "first_id": "first_id"}
    for opt, key in simple.items():
        v = getattr(args, opt)
        if v is not None:
            s[key] = v
    if args.no_auth:
        s["no_auth"] = True
    if args.m2m_client_id:
        s["m2m_client_id"] = args.m2m_client_id
    if args.m2m_token_ttl:
        s["m2m_token_ttl"] = args.m2m_token_ttl
    certs = dict(s["m2m_certificates"])
    for spec in args.m2m_certificate or ():
        cid, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit("netsuite-sim: --m2m-certificate ID=PEM_FILE")
        with open(path, encoding="ascii") as f:
            certs[cid] = f.read()
    s["m2m_certificates"] = certs
    faults = dict(s["faults"])
    for opt in ("latency_ms", "error_rate", "reset_rate", "timeout_rate",
                "timeout_s", "lost_response_rate", "lost_response_mode",
                "bogus_401_rate", "close_rate"):
        v = getattr(args, opt)
        if v is not None:
            faults[opt] = v
    if args.latency_range_ms:
        lo, _, hi = args.latency_range_ms.partition(",")
        faults["latency_range_ms"] = [float(lo), float(hi or lo)]
    if args.error_statuses:
        faults["error_statuses"] = [int(x) for x in
                                    args.error_statuses.split(",")]
    try:
        validate_faults(faults)
    except FaultError as e:
        raise SystemExit("netsuite-sim: %s" % e)
    s["faults"] = faults
    if args.seed_file:
        s["records"] = _load_json(args.seed_file)
    if args.items_file:
        s["items"] = _load_json(args.items_file)
    if s["currencies"] is not None:
        s["currencies"] = {str(k): {"symbol": v["symbol"],
                                    "precision": int(v["precision"])}
                           for k, v in s["currencies"].items()}

    if not s["account"]:
        raise SystemExit("netsuite-sim: --account is required "
                         "(e.g. 1234567_SB1)")
    if not s["credentials"] and not s["no_auth"] \
            and not s["m2m_client_id"]:
        raise SystemExit("netsuite-sim: give the TBA keys (--consumer-key[-"
                         "file], --consumer-secret[-file], --token-id[-file],"
                         " --token-secret[-file] or --config), or --no-auth")
    if s["concurrency"] < 1:
        raise SystemExit("netsuite-sim: --concurrency must be >= 1")
    s["restlet_script"] = str(s["restlet_script"])
    s["restlet_deploy"] = str(s["restlet_deploy"])
    return s


def main(argv=None):
    args = parser().parse_args(argv)
    s = build_settings(args)
    if args.quiet:
        s["log_file"] = None
    elif args.log in (None, ""):
        s["log_file"] = sys.stderr
    elif args.log == "-":
        s["log_file"] = sys.stdout
    else:
        s["log_file"] = open(args.log, "a", encoding="utf-8")

    try:
        sim = Simulator(s)
    except Exception as e:  # a bad seed file, for instance
        raise SystemExit("netsuite-sim: cannot start: %s" % e)
    try:
        server = Server((s["bind"], s["port"]), sim)
    except OSError as e:
        raise SystemExit("netsuite-sim: cannot listen on %s:%s: %s"
                         % (s["bind"], s["port"], e))
    port = server.server_address[1]

    # Handlers first: whoever reads the port may signal us at once.
    # serve_forever runs in a thread so that the main thread can wait for
    # a signal and then call shutdown(), which must not run in the serving
    # thread itself.
    def on_signal(signum, frame):
        sim.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.pid_file:
        _write_atomic(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        _write_atomic(args.port_file, "%d\n" % port)
    if s["port"] == 0:
        print(port, flush=True)
    sys.stderr.write("netsuite-sim: listening on http://%s:%d realm %s "
                     "concurrency %d\n" % (s["bind"], port, sim.realm,
                                           s["concurrency"]))
    sys.stderr.flush()

    t = threading.Thread(target=server.serve_forever, kwargs={
        "poll_interval": 0.1}, daemon=True)
    t.start()
    while not sim.stop.wait(0.5):
        pass
    sim.gate_open.set()  # let gated requests finish
    server.shutdown()
    server.server_close()
    for path in (args.pid_file, args.port_file):
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
    sys.stderr.write("netsuite-sim: stopped\n")
    return 0


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
