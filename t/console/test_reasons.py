"""Every reason the module parks a webhook with is explained, both in the
console (console.js) and in the runbook for customer service
(docs/runbook.md). The reasons are read from the C sources: a new
job_park() or norm_fail() code without its explanation fails here."""

import os
import re
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SRC = os.path.join(TOP, "ngx_order_edit_module")


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


def reasons_in_code():
    found = set()
    for name in os.listdir(SRC):
        if not name.endswith(".c"):
            continue
        text = read("ngx_order_edit_module", name)
        # the dispatcher's: job_park(job, "reason", ...)
        found |= set(re.findall(r'job_park\(\s*job,\s*"([a-z0-9_]+)"', text))
        # the store's own exceptions (the report's): put_local(..., &reason)
        found |= set(re.findall(r'ngx_str_set\(&reason,\s*"([a-z0-9_]+)"\)',
                                text))
        # the normaliser's: norm_fail(ctx, "code" | cond ? "a" : "b", ...)
        for call in re.findall(r'norm_fail\(\s*&?ctx,\s*([^,]+),', text):
            found |= set(re.findall(r'"([a-z0-9_]+)"', call))
    return found


class Reasons(unittest.TestCase):

    def test_the_code_has_reasons_to_check(self):
        # the extraction itself works: these are known to exist
        r = reasons_in_code()
        for known in ("fulfilment_lock", "netsuite_rejected",
                      "unmapped_sku", "sku_rewrite_failed", "missing_field",
                      "report_mismatch"):
            self.assertIn(known, r)

    def test_the_console_explains_every_reason(self):
        js = read("ngx_order_edit_module", "console", "console.js")
        keys = set(re.findall(r"^    ([a-z0-9_]+): \{$", js, re.M))
        listed = re.search(r"\[('bad_currency'.*?)\]\.forEach", js, re.S)
        keys |= set(re.findall(r"'([a-z0-9_]+)'", listed.group(1)))
        self.assertEqual(sorted(reasons_in_code() - keys), [])

    def test_the_runbook_explains_every_reason(self):
        md = read("docs", "runbook.md")
        keys = set(re.findall(r"^### ([a-z0-9_]+)$", md, re.M))
        group = md.split("### Data Shopify sent that cannot be booked")[1]
        group = group.split("**What happened.**")[0]
        keys |= set(re.findall(r"`([a-z0-9_]+)`", group))
        self.assertEqual(sorted(reasons_in_code() - keys), [])


if __name__ == "__main__":
    unittest.main()
