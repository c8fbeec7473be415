"""From TBA to OAuth 2.0 by a reload, as README tells it, without losing
a queued webhook: one request is held at NetSuite (signed with TBA) and
two more webhooks wait in the queue when nginx is reloaded with
"auth oauth2"; every one of them is delivered once, the later ones with a
Bearer token the new workers fetched."""

import os
import subprocess
import time
import unittest

import test_dispatch
from test_dispatch import HTTP, SO_EID


OAUTH2 = """auth oauth2;
        client_id_file __DIR__/client_id;
        certificate_id cert-mig-1;
        private_key_file __DIR__/m2m.key;
        concurrency 4;"""

OTHER = ("shopify-acme-450790469", "shopify-acme-450791469")


class TbaToOAuth2(test_dispatch.Dispatch):

    extra = "concurrency 4;"

    def setUp(self):
        super().setUp()
        d = self.ngx.dir
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", d + "/m2m.key"],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-new", "-x509", "-key",
                        d + "/m2m.key", "-days", "30", "-subj",
                        "/CN=migration", "-out", d + "/m2m.crt"],
                       check=True, capture_output=True)
        with open(d + "/client_id", "w") as f:
            f.write("client-migration\n")
        with open(d + "/m2m.crt") as f:
            self.sim.admin("POST", "oauth2", {
                "client_id": "client-migration",
                "certificates": {"cert-mig-1": f.read()}})

    def test_a_reload_to_oauth2_delivers_every_queued_webhook(self):
        for eid in (SO_EID,) + OTHER:
            self.sim.seed_order(eid, lines=[
                {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])

        # one out at NetSuite (TBA-signed), two queued behind the gate
        self.sim.admin("POST", "faults", {"gate": True})
        self.post("01-us-tax-exclusive.json", "g1")
        self.wait(lambda: self.sim.counters()["in_flight"] >= 1,
                  "a request held at NetSuite")
        body = test_dispatch.fixture("01-us-tax-exclusive.json")
        for n, eid in enumerate(OTHER):
            order = eid.rsplit("-", 1)[1]
            b = body.rstrip().replace(b"450789469", order.encode())
            s, _, r = self.ngx.post_webhook("acme", b, "g%d" % (n + 2))
            self.assertEqual(s, 200, r)

        before = set(self.ngx.worker_pids())
        self.ngx.write_conf(HTTP.replace("__SIM__", str(self.sim.port))
                            .replace("__EXTRA__", OAUTH2)
                            .replace("__STORE__", self.store)
                            .replace("__DIR__", self.ngx.dir))
        t = self.ngx.nginx("-t")
        self.assertEqual(t.returncode, 0, t.stderr)
        os.kill(self.ngx.master_pid(), 1)
        self.wait(lambda: set(self.ngx.worker_pids()) - before,
                  "new workers")
        time.sleep(0.3)
        self.sim.admin("POST", "faults", {"gate": False})

        self.wait(lambda: self.shop()["acked"] == 3, "three acks", 30)

        for eid in (SO_EID,) + OTHER:
            self.assertEqual(self.lines(self.order(eid)),
                             [("1001", 1), ("1002", 2)], eid)
        m2m = self.sim.admin("GET", "oauth2")
        self.assertGreaterEqual(m2m["counters"]["tokens_issued"], 1)
        self.assertGreaterEqual(m2m["counters"]["bearer_ok"], 2)
        self.assertEqual(m2m["counters"]["bearer_401"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)
        self.assertEqual(self.shop()["queue_depth"], 0)
        st = self.ngx.status()["netsuite"]["main"]["oauth2"]
        self.assertEqual(st["token"], "valid")
        self.assertNotIn("sim2.", self.ngx.error_log())

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None


if __name__ == "__main__":
    unittest.main()
