"""tools/nsoauth.py against RFC 5849's own examples, and its CLI."""

import os
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

from simhelper import TOOLS
import nsoauth


class RFC5849(unittest.TestCase):
    def test_section_1_2_signature(self):
        # RFC 5849 section 1.2 (HMAC-SHA1, no oauth_version).
        value, base = nsoauth.sign(
            "GET", "http://photos.example.net/photos?file=vacation.jpg"
            "&size=original", "dpf43f3p2l4k3l03", "kd94hf93k423kf44",
            "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00", realm="Photos",
            nonce="chapoH", timestamp="137131202",
            signature_method="HMAC-SHA1", version=None)
        self.assertEqual(
            base, "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvaca"
            "tion.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce"
            "%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timesta"
            "mp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Dorigi"
            "nal")
        self.assertIn('oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
                      value)
        self.assertTrue(value.startswith('OAuth realm="Photos", '))

    def test_section_3_4_1_1_base_string(self):
        # Query and form body parameters, repeated names, encoded names.
        body = urllib.parse.parse_qsl("c2&a3=2+q", keep_blank_values=True)
        base = nsoauth.signature_base_string(
            "POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r"
            "%20b", {"oauth_consumer_key": "9djdj82h48djs9d2",
                     "oauth_token": "kkk9d7dh3k39sjv7",
                     "oauth_signature_method": "HMAC-SHA1",
                     "oauth_timestamp": "137131201",
                     "oauth_nonce": "7d8f3e4a", "realm": "Example",
                     "oauth_signature": "ignored"}, body)
        self.assertEqual(
            base, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a"
            "3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%2"
            "6oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4"
            "a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137"
            "131201%26oauth_token%3Dkkk9d7dh3k39sjv7")

    def test_base_string_uri(self):
        # Section 3.4.1.2: lower-case scheme and host, default port out.
        self.assertEqual(nsoauth.base_string_uri(
            "HTTP://EXAMPLE.COM:80/r%20v/X?id=123"),
            "http://example.com/r%20v/X")
        self.assertEqual(nsoauth.base_string_uri(
            "https://www.example.net:8080/?q=1"),
            "https://www.example.net:8080/")
        self.assertEqual(nsoauth.base_string_uri(
            "https://1234567-SB1.suitetalk.api.netsuite.com:443/services"),
            "https://1234567-sb1.suitetalk.api.netsuite.com/services")

    def test_percent_encoding(self):
        self.assertEqual(nsoauth.pct("abcXYZ019-._~"), "abcXYZ019-._~")
        self.assertEqual(nsoauth.pct("a b+c/d=e&f%"),
                         "a%20b%2Bc%2Fd%3De%26f%25")
        self.assertEqual(nsoauth.pct("\u00e9\u20ac"), "%C3%A9%E2%82%AC")

    def test_key_is_encoded_secrets(self):
        self.assertEqual(nsoauth.signing_key("a&b", "c d"), "a%26b&c%20d")

    def test_realm_and_host_for_account(self):
        self.assertEqual(nsoauth.realm_for_account("1234567-sb1"),
                         "1234567_SB1")
        self.assertEqual(nsoauth.host_for_account("1234567_SB1"),
                         "1234567-sb1")

    def test_parse_and_verify_roundtrip(self):
        creds = nsoauth.Credentials("ck", "cs", "tk", "ts")
        url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/" \
              "record/v1/salesOrder/eid:x?fields=orderStatus,total"
        header = creds.authorization("GET", url, "1234567_SB1")
        params = nsoauth.parse_authorization(header)
        self.assertEqual(params["realm"], "1234567_SB1")
        self.assertEqual(params["oauth_signature_method"], "HMAC-SHA256")
        self.assertEqual(params["oauth_version"], "1.0")
        nsoauth.verify("GET", url, header, [creds], "1234567_SB1")
        with self.assertRaises(nsoauth.OAuthError):
            nsoauth.verify("GET", url.replace("total", "subtotal"), header,
                           [creds], "1234567_SB1")
        with self.assertRaises(nsoauth.OAuthError):
            nsoauth.verify("PATCH", url, header, [creds], "1234567_SB1")

    def test_repeated_parameter_refused(self):
        with self.assertRaises(nsoauth.OAuthError):
            nsoauth.parse_authorization('OAuth oauth_nonce="a", '
                                        'oauth_nonce="b"')


class CommandLine(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run([sys.executable,
                               os.path.join(TOOLS, "nsoauth.py")] + list(args),
                              capture_output=True, text=True, timeout=30)

    def test_sign_with_key_files_matches_library(self):
        with tempfile.TemporaryDirectory() as d:
            files = {}
            for name, value in (("consumer-key", "ck"),
                                ("consumer-secret", "cs"),
                                ("token-id", "tk"), ("token-secret", "ts")):
                files[name] = os.path.join(d, name)
                with open(files[name], "w") as f:
                    f.write(value + "\n")  # trailing newline is not the key
            url = "http://127.0.0.1:8080/services/rest/record/v1/salesOrder/1"
            args = ["sign", "--method", "GET", "--url", url,
                    "--realm", "1234567-sb1", "--nonce", "abcdef123",
                    "--timestamp", "1700000000"]
            for name, path in files.items():
                args += ["--%s-file" % name, path]
            r = self.run_cli(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            want, _ = nsoauth.sign("GET", url, "ck", "cs", "tk", "ts",
                                   realm="1234567_SB1", nonce="abcdef123",
                                   timestamp="1700000000")
            self.assertEqual(r.stdout.strip(), "Authorization: " + want)
            r = self.run_cli(*(args + ["--output", "base-string"]))
            self.assertTrue(r.stdout.startswith(
                "GET&http%3A%2F%2F127.0.0.1%3A8080%2Fservices"))

    def test_missing_key_is_an_error(self):
        r = self.run_cli("sign", "--method", "GET", "--url", "http://x/")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("consumer-key", r.stderr)


if __name__ == "__main__":
    unittest.main()
