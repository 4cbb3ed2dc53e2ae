"""Tests of greeter, one of them against the `api` service container."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import greeter  # noqa: E402


class GreeterTest(unittest.TestCase):
    def test_decorate(self):
        self.assertEqual(greeter.decorate("hello", "ci"), "hello, ci!")

    def test_fetch_from_service(self):
        self.assertEqual(greeter.fetch_greeting(os.environ["API_URL"]), "hello")


if __name__ == "__main__":
    unittest.main(verbosity=2)
