#!/usr/bin/env bash
# Starts Debian's docker-registry on a free loopback port as the tests do, checks that it
# answers `GET /v2/` and that the engine pushes to it and pulls from it, then stops it. CI
# runs this before the suite, so a registry that cannot start is one clear failure rather
# than every registry test failing alike.
set -euo pipefail
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tag=127.0.0.1:$port/check/busybox:latest
cat >"$work/config.yml" <<YML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $work/storage } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; docker rmi -f "$tag" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$work/registry.log" >&2; echo "docker-registry exited" >&2; exit 1; }
  sleep 0.05
done
curl -sf "http://127.0.0.1:$port/v2/" >/dev/null || { echo "docker-registry did not answer on 127.0.0.1:$port" >&2; exit 1; }
docker tag busybox:latest "$tag"
docker push -q "$tag" >/dev/null
docker rmi "$tag" >/dev/null
docker pull -q "$tag" >/dev/null
echo "registry: docker-registry on 127.0.0.1:$port answers, the engine pushed and pulled"
