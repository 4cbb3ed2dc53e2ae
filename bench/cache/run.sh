#!/usr/bin/env bash
# A cached vs an uncached dependency step on a real project: the public attrs project (its
# PyPI source distribution carries its tests), whose job makes a virtualenv with its test
# dependencies (`pip install '.[tests]'`: hypothesis, pytest, cloudpickle, pympler… from
# PyPI) and runs its suite. The job keeps the virtualenv as a `cache:` keyed by the files
# that decide it (pyproject.toml and the env's Dockerfile), as teams cache `node_modules` or
# `.venv`: a restored one skips the install. `--copies`: a cache restored from the server
# keeps plain files and folders only (links are dropped), and a venv's `bin/python` is a link.
#
#   bench/cache/run.sh [RUNS]        (default 3 of each)
#   RAILYARD=path/to/railyard bench/cache/run.sh   (another build instead of this tree's)
#
# Prints the medians of the dependency step and of the whole job:
#   local uncached   railyard run with no cache volume (removed before each run)
#   local warm       railyard run again: the engine's volume is mounted as it is
#   fleet restored   an agent whose engine has no volume: the cache comes from the server,
#                    where main's first run put it (the job's time includes the download)
# and the ratios. The project is fetched at run time; none of its code is kept here.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
./scripts/test-images.sh >/dev/null
if [ -n "${RAILYARD:-}" ]; then
  ry=$RAILYARD
else
  cargo build -q --release -p railyard
  ry=${CARGO_TARGET_DIR:-$PWD/target}/release/railyard
fi
work=$(mktemp -d)
src=
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  drop_caches 2>/dev/null || true
  for p in bench "${src:-}" "${src%/}"; do
    [ -n "$p" ] || continue
    docker images -q --filter "label=io.railyard.project=$p" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
export NO_COLOR=1

pip download -q --no-binary :all: --no-deps 'attrs==25.3.0' -d "$work/dl"
tar -xzf "$work"/dl/attrs-*.tar.gz -C "$work"
src=$(echo "$work"/attrs-*/)
mkdir -p "$src/ci"
# The host's CA bundle goes into the env: where outbound TLS is intercepted (as on our
# machines), pip inside the job trusts what the host trusts.
cp /etc/ssl/certs/ca-certificates.crt "$src/ci/host-ca.crt"
cat >"$src/ci/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv git && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /etc/ssl/host-ca.crt
ENV PIP_CERT=/etc/ssl/host-ca.crt
DOCKERFILE
cat >"$src/.railyard.yml" <<'YML'
env: { dockerfile: ci/Dockerfile, context: ci }
variables: { PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" }
jobs:
  test:
    cache:
      - name: venv
        key: { files: [pyproject.toml, ci/Dockerfile], prefix: venv- }
        paths: [.venv]
    script:
      - s=$(date +%s%N); [ -x .venv/bin/python ] || { python3 -m venv --copies .venv && .venv/bin/pip install -q '.[tests]'; }; echo "dependencies took $(( ($(date +%s%N) - s) / 1000000 )) ms"
      - PYTHONPATH=src .venv/bin/python -m pytest -q -p no:cacheprovider tests -k 'not mypy' | tail -1
YML
git -C "$src" init -q --initial-branch=main
git -C "$src" add -A
git -C "$src" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench
git init -q --bare --initial-branch=main "$work/repo.git"
git -C "$src" push -q "$work/repo.git" main

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Removes this bench's cache volumes (the local run's project is its folder, the fleet's
# `bench`), and no others: tests may run beside it on the engine.
drop_caches() {
  docker volume ls --filter label=io.railyard.cache --format '{{.Name}} {{.Labels}}' \
    | grep -E "io\.railyard\.project=(bench|${src%/}|$src)(,|$)" | cut -d' ' -f1 \
    | xargs -r docker volume rm >/dev/null || true
}

# "STEP_MS JOB_MS" of one local run's JSON events on stdin; fails the bench when the run
# did not pass.
local_ms() {
  python3 -c '
import json, re, sys
step, job, status = None, None, None
for line in sys.stdin:
    e = json.loads(line)
    m = re.search(r"dependencies took (\d+) ms", e.get("line") or "")
    if m:
        step = m.group(1)
    if e.get("event") == "job_finished":
        job, status = e["duration_ms"], e["status"]
if status != "success" or step is None:
    sys.exit(f"the job did not pass: {status}")
print(step, job)'
}

# The env image once, outside the figures.
RAILYARD_HOME=$work/home "$ry" -C "$src" run >/dev/null 2>&1 || true

cold=() warm=()
for _ in $(seq "$runs"); do
  drop_caches
  cold+=("$(RAILYARD_HOME=$work/home "$ry" -C "$src" run --json | local_ms)")
  warm+=("$(RAILYARD_HOME=$work/home "$ry" -C "$src" run --json | local_ms)")
done

# The fleet: a server, one agent; main's first run puts the cache on the server; each
# measured run starts with no volume on the engine, so the agent restores the server's copy.
RAILYARD_HOME=$work/server "$ry" server --listen 127.0.0.1:0 --admin-token admin \
  --agent-token agent >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out" | head -1)
export RAILYARD_SERVER=$url RAILYARD_TOKEN=admin
RAILYARD_HOME=$work/agent "$ry" agent --server "$url" --token agent --slots 1 --name a \
  2>"$work/agent.err" &
pids+=($!)
"$ry" project add bench --repo "file://$work/repo.git" >/dev/null
fleet_run() { # prints "STEP_MS JOB_MS" of one fleet run of main
  local run
  run=$("$ry" trigger bench --ref main --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')
  "$ry" logs "$run" test --follow >"$work/fleet.log" 2>&1 || { cat "$work/fleet.log" >&2; exit 1; }
  grep -o 'cache venv: [a-z ]*' "$work/fleet.log" | head -1 | sed 's/^/    /' >&2
  step=$(grep -o 'dependencies took [0-9]* ms' "$work/fleet.log" | grep -o '[0-9]*')
  "$ry" runs "$run" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
job = next(j for j in d["jobs"] if j["name"] == "test")
print(sys.argv[1], job["finished_at"] - job["started_at"])' "$step"
}
drop_caches
fleet_run >/dev/null   # a miss: the cache goes up to the server
restored=()
for _ in $(seq "$runs"); do
  drop_caches
  restored+=("$(fleet_run)")
done
col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }
python3 - "$runs" "$(col 1 "${cold[@]}")" "$(col 2 "${cold[@]}")" "$(col 1 "${warm[@]}")" \
  "$(col 2 "${warm[@]}")" "$(col 1 "${restored[@]}")" "$(col 2 "${restored[@]}")" <<'PY'
import sys
runs = int(sys.argv[1])
cs, cj, ws, wj, rs, rj = map(float, sys.argv[2:])
print(f"attrs: a virtualenv with '.[tests]' as a cache:, median of {runs} run(s) each")
print(f"{'':18} {'dependencies':>12} {'whole job':>10}")
print(f"{'local uncached':18} {cs / 1000:11.1f}s {cj / 1000:9.1f}s")
def ratio(a, b):
    return f"{a / b:.1f}x" if b >= 100 else f"{a / 1000:.1f} s -> {b:.0f} ms"
print(f"{'local warm volume':18} {ws / 1000:11.1f}s {wj / 1000:9.1f}s   uncached / warm: step {ratio(cs, ws)}, job {cj / wj:.2f}x")
print(f"{'fleet restored':18} {rs / 1000:11.1f}s {rj / 1000:9.1f}s   uncached / restored: step {ratio(cs, rs)}, job {cj / rj:.2f}x")
PY
