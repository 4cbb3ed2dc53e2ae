#!/usr/bin/env bash
# From build to deploy on a real project, as a team would run it: the public more-itertools
# sdist (its PyPI source distribution carries its pytest tests; 10.1.0, whose flit metadata
# Debian's flit_core reads) with the pipeline of
# docs/build-to-deploy.md: `build` makes a wheel, `test` installs it and runs the tests over
# four shards, `report` reads every shard's JUnit report, `package` builds the application's
# image from the wheel and pushes it to a real registry (Debian's docker-registry on
# loopback), `deploy` ships it behind a `concurrency: production` lock.
#
#   bench/fleet/more-itertools-deploy.sh [RUNS]    (default 2 runs triggered at once)
#
# First locally (`railyard run --registry`), then on a server with two agents of two slots
# each, RUNS runs triggered together: prints each run's status, where each job ran, the
# pushed digests, and whether two deploys ever overlapped. The project is fetched at run time
# into a temporary folder; none of its code is kept here.
#   RAILYARD=path/to/railyard …   runs that build instead of building this tree
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2}
./scripts/test-images.sh >/dev/null
command -v docker-registry >/dev/null || apt-get install -y -qq docker-registry >/dev/null
if [ -n "${RAILYARD:-}" ]; then
  ry=$RAILYARD
else
  cargo build -q --release -p railyard
  ry=${CARGO_TARGET_DIR:-$PWD/target}/release/railyard
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export NO_COLOR=1 RAILYARD_LOG=info

# A registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
until curl -fs "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done
registry=http://127.0.0.1:$port/bench

pip download -q --no-binary :all: --no-deps 'more-itertools==10.1.0' -d "$work"
tar -xzf "$work"/more[-_]itertools-*.tar.gz -C "$work"
src=$(echo "$work"/more[-_]itertools-*/)
mkdir -p "$src/ci" "$src/docker"
cat >"$src/ci/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3-pytest python3-pip flit \
    && rm -rf /var/lib/apt/lists/*
DOCKERFILE
cat >"$src/docker/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
COPY *.whl /app/
DOCKERFILE
cat >"$src/deploy.sh" <<'SH'
#!/bin/sh
# Stands for a real deploy: takes a while, so that overlapping deploys would show.
echo "deploying $1"; sleep 3; echo deployed
SH
chmod +x "$src/deploy.sh"
# The pipeline of docs/build-to-deploy.md.
sed -n '/^```yaml$/,/^```$/p' docs/build-to-deploy.md | sed '1d;$d' >"$src/.railyard.yml"
git -C "$src" init -q --initial-branch=main
git -C "$src" add -A
git -C "$src" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench

echo "local: railyard run --registry $registry"
start=$(date +%s.%N)
if RAILYARD_HOME=$work/local "$ry" -C "$src" run --registry "$registry" >"$work/local.out" 2>&1; then
  status=success
else
  status=failed
  tail -30 "$work/local.out"
fi
echo "local: $status in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")s"
grep -E "pushed|digest|artifacts of" "$work/local.out" | head -12 || true

git init -q --bare --initial-branch=main "$work/repo.git"
git -C "$src" push -q "$work/repo.git" main
RAILYARD_HOME=$work/data "$ry" server --listen 127.0.0.1:0 --admin-token admin \
  --agent-token agent >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out" | head -1)
export RAILYARD_SERVER=$url RAILYARD_TOKEN=admin
for i in 0 1; do
  RAILYARD_HOME=$work/agent$i "$ry" agent --server "$url" --token agent --slots 2 \
    --name "agent$i" --registry "$registry" 2>"$work/agent$i.err" &
  pids+=($!)
done
"$ry" project add bench --repo "file://$work/repo.git" >/dev/null

echo "fleet: two agents of two slots, $runs run(s) triggered at once"
start=$(date +%s.%N)
ids=()
for _ in $(seq "$runs"); do
  ids+=("$("$ry" trigger bench --ref main --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')")
done
for run in "${ids[@]}"; do
  until "$ry" runs "$run" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["run"].get("finished_at") else 1)'; do
    sleep 1
  done
done
echo "fleet: all finished in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")s"
for i in "${!ids[@]}"; do "$ry" runs "${ids[$i]}" --json >"$work/run-$i.json"; done
python3 - "$work"/run-*.json <<'PY'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
deploys = []
for d in runs:
    r = d["run"]
    print(f'run {r["number"]}: {r["status"]}')
    for j in d["jobs"]:
        took = (j["finished_at"] or 0) - (j["started_at"] or 0)
        extra = ""
        if j.get("image"):
            extra = f' image {j["image"]}'
        print(f'  {j["name"]:<14} {j["status"]:<9} {took/1000:6.1f}s agent={j.get("agent") or "?"}{extra}')
        if j["name"] == "deploy" and j["started_at"]:
            deploys.append((j["started_at"], j["finished_at"]))
deploys.sort()
overlap = any(b[0] < a[1] for a, b in zip(deploys, deploys[1:]))
print(f'deploys: {len(deploys)}, overlapping: {"YES" if overlap else "no"}')
PY
"$ry" deployments production || true
left=$(docker ps -aq --filter label=io.railyard.run | wc -l)
echo "containers labelled io.railyard.run left on the engine: $left"
