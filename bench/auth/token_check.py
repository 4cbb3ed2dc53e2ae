#!/usr/bin/env python3
"""What a stored token costs a request beside the bootstrap (flag) token.

Starts `railyard server` on SQLite in a temp folder, makes a stored agent token through the
admin API, then sends N `POST /api/v1/agents/register` with a malformed body on one
keep-alive connection: the token is checked (the bootstrap one in memory, a stored one by
one indexed lookup of its SHA-256) and the body is refused with 400, so nothing else is
measured. Prints requests/s, p50 and p99 per kind, two rounds each (the first warms up).

Usage: bench/auth/token_check.py [N] [BINARY]  (default 3000, target/release/railyard;
build it first with `cargo build --release -p railyard`).
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/railyard"
with tempfile.TemporaryDirectory() as data:
    env = {"PATH": os.environ["PATH"], "RAILYARD_HOME": data}
    server = subprocess.Popen(
        [binary, "server", "--listen", "127.0.0.1:0", "--admin-token", "adm", "--agent-token", "agt"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        host = server.stdout.readline().decode().split()[-1].removeprefix("http://")
        conn = http.client.HTTPConnection(host)

        def request(path, token, body):
            conn.request("POST", path, body=body,
                         headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()

        status, body = request("/api/v1/tokens", "adm", json.dumps({"name": "bench", "role": "agent"}))
        assert status == 201, (status, body)
        stored = json.loads(body)["token"]
        for kind, token in [("bootstrap", "agt"), ("stored", stored)] * 2:
            times = []
            for _ in range(n):
                start = time.perf_counter()
                status, _ = request("/api/v1/agents/register", token, "{")
                times.append(time.perf_counter() - start)
                assert status == 400, status
            times.sort()
            print(f"{kind:9} {n / sum(times):6.0f} req/s  p50 {times[n // 2] * 1e3:.3f} ms  "
                  f"p99 {times[int(n * 0.99)] * 1e3:.3f} ms")
    finally:
        server.terminate()
        server.wait()
