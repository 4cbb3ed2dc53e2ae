"""A tiny app: fetches a greeting from an upstream API and decorates it."""
import os
import urllib.request


def fetch_greeting(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode().strip()


def decorate(greeting: str, name: str) -> str:
    return f"{greeting}, {name}!"


if __name__ == "__main__":
    print(decorate(fetch_greeting(os.environ["API_URL"]), os.environ.get("APP_NAME", "world")))
