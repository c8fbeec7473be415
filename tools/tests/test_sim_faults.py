"""Concurrency limit, injected faults and counters."""

import http.client
import json
import socket
import threading
import time
import unittest

from simhelper import Sim, SimTestCase, REC, parallel, nsoauth

SO = REC + "/salesOrder"
RESTLET = "/app/site/hosting/restlet.nl?script=1&deploy=1"


class Concurrency(SimTestCase):
    def setUp(self):
        super().setUp()
        self.sim.seed_order("c-1")
        self.path = SO + "/eid:c-1"

    def hold_requests(self, n):
        """Start n requests that the closed gate keeps in flight."""
        results = [None] * n

        def run(i):
            results[i] = self.sim.request("GET", self.path)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        self.sim.wait_for(lambda c: c["in_flight"] == n,
                          what="%d requests in flight" % n)
        return threads, results

    def release(self, threads):
        self.sim.admin("POST", "faults", {"gate": False})
        for t in threads:
            t.join(timeout=10)

    def test_request_over_the_limit_gets_429(self):
        self.sim.admin("POST", "concurrency", {"limit": 2})
        self.sim.admin("POST", "faults", {"gate": True})
        threads, results = self.hold_requests(2)
        try:
            for _ in range(4):
                r = self.sim.request("GET", self.path)
                self.assertError(r, 429, "CONCURRENCY_LIMIT_EXCEEDED")
                self.assertEqual(r.json["title"], "Too Many Requests")
                # NetSuite sends no Retry-After.
                self.assertIsNone(r.header("retry-after"))
        finally:
            self.release(threads)
        self.assertEqual([r.status for r in results], [200, 200])
        c = self.sim.counters()
        self.assertEqual((c["429"], c["over_limit"], c["max_in_flight"],
                          c["in_flight"], c["2xx"]), (4, 4, 2, 0, 2))

    def test_parallel_slow_requests(self):
        # Eight requests at once against a limit of 3 with 800 ms latency:
        # three are admitted, the rest are refused while they run.
        self.sim.admin("POST", "concurrency", {"limit": 3})
        self.sim.admin("POST", "faults", {"latency_ms": 800})
        results = parallel(8, lambda i: self.sim.request("GET", self.path))
        statuses = sorted(r.status for r in results)
        self.assertTrue(set(statuses) <= {200, 429}, statuses)
        self.assertGreaterEqual(statuses.count(200), 3, statuses)
        self.assertGreaterEqual(statuses.count(429), 1, statuses)
        c = self.sim.counters()
        self.assertEqual(c["max_in_flight"], 3)
        self.assertEqual(c["429"], statuses.count(429))
        self.assertEqual(c["in_flight"], 0)

    def test_slot_is_free_when_the_answer_arrives(self):
        # A client that sends its next request the moment it has an answer
        # never sees a 429 from its own previous request.
        self.sim.admin("POST", "concurrency", {"limit": 1})
        for _ in range(20):
            self.assertEqual(self.sim.request("GET", self.path).status, 200)

    def test_restlet_over_limit_is_400(self):
        self.sim.admin("POST", "concurrency", {"limit": 1})
        self.sim.admin("POST", "faults", {"gate": True})
        threads, _ = self.hold_requests(1)
        try:
            r = self.sim.request("POST", RESTLET, {"cancellation": {
                "external_id": "c-1"}})
            self.assertEqual(r.status, 400)
            self.assertEqual(r.json["error"]["code"],
                             "SSS_REQUEST_LIMIT_EXCEEDED")
        finally:
            self.release(threads)
        self.assertEqual(self.sim.counters()["sss_request_limit_exceeded"], 1)

    def test_bogus_401_when_over_limit(self):
        self.sim.admin("POST", "concurrency", {"limit": 1})
        self.sim.admin("POST", "faults", {"gate": True,
                                          "bogus_401_rate": 1.0})
        threads, _ = self.hold_requests(1)
        try:
            r = self.sim.request("GET", self.path)
            self.assertError(r, 401, "INVALID_LOGIN_ATTEMPT")
        finally:
            self.release(threads)
        c = self.sim.counters()
        self.assertEqual((c["bogus_401"], c["401"], c["auth_failures"]),
                         (1, 1, 0))


class Faults(SimTestCase):
    def setUp(self):
        super().setUp()
        self.sim.seed_order("f-1")
        self.path = SO + "/eid:f-1"

    def memo(self):
        rec = self.sim.admin("GET", "records/salesOrder/eid:f-1")
        return rec.get("memo")

    def test_5xx_rate(self):
        self.sim.admin("POST", "faults", {"error_rate": 1.0,
                                          "error_statuses": [503]})
        r = self.sim.request("PATCH", self.path, {"memo": "x"})
        self.assertEqual(r.status, 503)
        # Gateways answer in HTML: a client must not assume JSON.
        self.assertEqual(r.header("content-type"), "text/html")
        self.assertIsNone(self.memo())
        c = self.sim.counters()
        self.assertEqual((c["5xx"], c["faults"]["error"]), (1, 1))

    def test_500_once_is_netsuite_json(self):
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "error", "status": 500, "method": "PATCH"}]})
        self.assertEqual(self.sim.request("GET", self.path).status, 200)
        r = self.sim.request("PATCH", self.path, {"memo": "x"})
        self.assertError(r, 500, "UNEXPECTED_ERROR")
        # One-shot: the next one goes through.
        self.assertEqual(self.sim.request("PATCH", self.path,
                                          {"memo": "y"}).status, 204)
        self.assertEqual(self.memo(), "y")

    def test_connection_reset_applies_nothing(self):
        self.sim.admin("POST", "faults", {"once": [{"fault": "reset"}]})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.sim.request("PATCH", self.path, {"memo": "x"})
        self.assertIsNone(self.memo())
        c = self.sim.counters()
        self.assertEqual((c["faults"]["reset"], c["no_response"]), (1, 1))

    def test_lost_response_applies_the_write(self):
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "lost_response", "method": "PATCH"}]})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.sim.request("PATCH", self.path, {"memo": "applied"})
        self.assertEqual(self.memo(), "applied")
        c = self.sim.counters()
        self.assertEqual((c["faults"]["lost_response"], c["writes"],
                          c["in_flight"]),
                         (1, {"salesOrder": 1}, 0))

    def test_lost_response_by_rate_on_credit_memo_put_is_idempotent(self):
        body = {"entity": {"id": "1"}, "item": {"items": [
            {"item": {"id": "1"}, "quantity": 1, "amount": 5}]}}
        self.sim.admin("POST", "faults", {"lost_response_rate": 1.0})
        for _ in range(3):  # the client retries after every lost answer
            with self.assertRaises((ConnectionError,
                                    http.client.HTTPException)):
                self.sim.request("PUT", REC + "/creditMemo/eid:r-1", body)
        self.sim.admin("POST", "faults", {"lost_response_rate": 0.0})
        self.assertEqual(self.sim.request("PUT", REC + "/creditMemo/eid:r-1",
                                          body).status, 204)
        self.assertEqual(len(self.sim.admin("GET", "records/creditMemo")), 1)

    def kept_alive(self, method, path, body=None, nonce=None):
        """Two signed requests on one connection: a GET, then this one.
        Returns the second one's response, or the exception it raised."""
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.port,
                                          timeout=5)
        try:
            for m, p, b, n in (("GET", self.path, None, None),
                               (method, path, body, nonce)):
                kw = {"nonce": n} if n else {}
                c = self.sim.creds
                headers = {"Authorization": nsoauth.sign(
                    m, self.sim.url(p), c.consumer_key, c.consumer_secret,
                    c.token_id, c.token_secret, realm=self.sim.realm,
                    **kw)[0]}
                data = None
                if b is not None:
                    data = json.dumps(b).encode()
                    headers["Content-Type"] = "application/json"
                try:
                    conn.request(m, p, body=data, headers=headers)
                    r = conn.getresponse()
                    r.read()
                except (ConnectionError, http.client.HTTPException) as e:
                    return e
            return r
        finally:
            conn.close()

    def test_close_hits_only_a_kept_alive_connection(self):
        self.sim.admin("POST", "faults", {"once": [{"fault": "close"}]})
        # a fresh connection is not hit; the fault waits for a reused one
        self.assertEqual(self.sim.request("PATCH", self.path,
                                          {"memo": "a"}).status, 204)
        r = self.kept_alive("PATCH", self.path, {"memo": "b"},
                            nonce="closedNonce1")
        self.assertIsInstance(r, (ConnectionError,
                                  http.client.HTTPException))
        self.assertEqual(self.memo(), "a")   # nothing applied
        c = self.sim.counters()
        self.assertEqual((c["faults"]["close"], c["no_response"],
                          c["nonce_replays"]), (1, 1, 0))
        # the nonce was spent: the same signed request again is a replay
        r = self.sim.request("PATCH", self.path, {"memo": "b"},
                             nonce="closedNonce1")
        self.assertError(r, 401, "INVALID_LOGIN_ATTEMPT")
        self.assertEqual(self.memo(), "a")
        self.assertEqual(self.sim.counters()["nonce_replays"], 1)

    def test_close_rate_spares_fresh_connections(self):
        self.sim.admin("POST", "faults", {"close_rate": 1.0})
        for _ in range(3):
            self.assertEqual(self.sim.request("GET", self.path).status, 200)
        self.assertIsInstance(self.kept_alive("GET", self.path),
                              (ConnectionError, http.client.HTTPException))
        self.assertEqual(self.sim.counters()["faults"]["close"], 1)

    def test_timeout_holds_without_answer(self):
        self.sim.admin("POST", "faults", {"once": [{"fault": "timeout"}],
                                          "timeout_s": 30})
        t0 = time.monotonic()
        with self.assertRaises(socket.timeout):
            self.sim.request("PATCH", self.path, {"memo": "x"}, timeout=0.3)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIsNone(self.memo())
        self.assertEqual(self.sim.counters()["faults"]["timeout"], 1)
        # The simulator notices the client gave up and carries on.
        self.assertEqual(self.sim.request("GET", self.path).status, 200)

    def test_timeout_ends_with_a_close(self):
        self.sim.admin("POST", "faults", {"once": [{"fault": "timeout"}],
                                          "timeout_s": 0.2})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.sim.request("GET", self.path, timeout=5)

    def test_lost_response_as_timeout(self):
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "lost_response"}], "lost_response_mode": "timeout",
            "timeout_s": 10})
        with self.assertRaises(socket.timeout):
            self.sim.request("PATCH", self.path, {"memo": "late"},
                             timeout=0.3)
        self.assertEqual(self.memo(), "late")
        # The slot was released when the write finished, not when the
        # held connection closes.
        self.assertEqual(self.sim.counters()["in_flight"], 0)

    def test_fixed_latency(self):
        self.sim.admin("POST", "faults", {"latency_ms": 200})
        t0 = time.monotonic()
        self.assertEqual(self.sim.request("GET", self.path).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        self.assertEqual(self.sim.counters()["faults"]["latency"], 1)

    def test_latency_counts_from_the_arrival(self):
        # A real NetSuite's service time includes its own work: the
        # answer is due the latency after the request arrived, however
        # long the simulator took to read and parse it, so C / latency
        # is the account's bound.  A read sent with a large body makes
        # that work measurable (a read ignores its body; this one is
        # parsed to its broken end, and so not kept in the request log).
        def answer_ms(n):
            body = b"[" + b'{"y": 0.5},' * n + b"!"
            r = self.sim.request("GET", self.path, body)
            self.assertEqual(r.status, 200, r)
            return float(self.sim.admin("GET", "requests")
                         ["requests"][-1]["ms"])
        n, work = 2000, 0.0
        while n <= 200000:
            work = sorted(answer_ms(n) for _ in range(3))[1]
            if work >= 20:
                break
            n = n * 3 // 2
        self.assertGreaterEqual(work, 20, "no request slow enough")
        self.sim.admin("POST", "faults", {"latency_ms": 200})
        for _ in range(3):
            ms = answer_ms(n)
            self.assertGreaterEqual(ms, 199.9)
            # before: 200 ms plus the work
            self.assertLess(ms, 200 + work / 2, "work %.1f ms" % work)

    def test_forced_auth_and_concurrency_once(self):
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "auth"}, {"fault": "concurrency"}]})
        self.assertError(self.sim.request("GET", self.path), 401,
                         "INVALID_LOGIN_ATTEMPT")
        self.assertError(self.sim.request("GET", self.path), 429,
                         "CONCURRENCY_LIMIT_EXCEEDED")
        self.assertEqual(self.sim.request("GET", self.path).status, 200)

    def test_bad_fault_settings_refused(self):
        for body in ({"error_rate": 2}, {"nonsense": 1},
                     {"once": [{"fault": "boom"}]},
                     {"error_statuses": [404]}):
            r = self.sim.request("POST", "/_admin/faults", body, sign=False)
            self.assertEqual(r.status, 400, body)

    def test_admin_is_not_subject_to_faults(self):
        self.sim.admin("POST", "faults", {"error_rate": 1.0,
                                          "reset_rate": 1.0})
        self.assertEqual(self.sim.counters()["requests"], 0)
        self.sim.admin("DELETE", "faults")
        self.assertEqual(self.sim.request("GET", self.path).status, 200)


class Counting(SimTestCase):
    def test_counters_by_method_endpoint_and_class(self):
        self.sim.seed_order("k-1")
        self.sim.request("GET", SO + "/eid:k-1")
        self.sim.request("PATCH", SO + "/eid:k-1", {"memo": "m"})
        self.sim.request("GET", SO + "/eid:none")
        self.sim.request("POST", "/services/rest/query/v1/suiteql",
                         {"q": "SELECT id FROM transaction"},
                         headers={"Prefer": "transient"})
        c = self.sim.counters()
        self.assertEqual(c["requests"], 4)
        self.assertEqual(c["by_method"], {"GET": 2, "PATCH": 1, "POST": 1})
        self.assertEqual(c["by_endpoint"], {"salesOrder": 3, "suiteql": 1})
        self.assertEqual(c["by_method_endpoint"]["GET salesOrder"], 2)
        self.assertEqual((c["2xx"], c["4xx"], c["5xx"]), (3, 1, 0))
        self.assertEqual(c["by_status"], {"200": 2, "204": 1, "404": 1})
        self.assertEqual(c["writes"], {"salesOrder": 1})
        self.assertEqual(c["max_in_flight"], 1)
        log = self.sim.admin("GET", "requests")
        self.assertEqual([e["status"] for e in log["requests"]],
                         [200, 204, 404, 200])
        self.assertEqual(log["requests"][1]["request_body"], {"memo": "m"})
        since = self.sim.admin("GET", "requests?since=%d"
                               % log["requests"][2]["seq"])
        self.assertEqual(len(since["requests"]), 1)
        self.sim.admin("POST", "counters/reset")
        self.assertEqual(self.sim.counters()["requests"], 0)


class Determinism(unittest.TestCase):
    def statuses(self, seed):
        sim = Sim("--seed", str(seed), "--error-rate", "0.3",
                  "--error-statuses", "500,503")
        try:
            sim.seed_order("d-1")
            return [sim.request("GET", SO + "/eid:d-1").status
                    for _ in range(30)]
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_same_seed_same_faults(self):
        a = self.statuses(7)
        self.assertEqual(a, self.statuses(7))
        self.assertTrue(200 in a and (500 in a or 503 in a), a)


if __name__ == "__main__":
    unittest.main()
