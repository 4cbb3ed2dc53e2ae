#!/usr/bin/env bash
# What an artifact hand-over adds to a dependent job: `make` writes SIZE bytes as its
# artifact; `take` needs it and gets the file in its workspace; `plain` needs it with
# `artifacts: false` (and runs after `take`, so the two never share the machine). The
# difference of their durations is the hand-over. Locally (`railyard run`) and on a local
# fleet (a server and one agent: the file goes up to the server and down again).
#
#   bench/artifacts/run.sh [RUNS] [SIZE_MB…]     (default 3 runs of 10 and 1000 MB)
#   RAILYARD=path/to/railyard bench/artifacts/run.sh   (another build instead of this tree's)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 1000)
./scripts/test-images.sh >/dev/null
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
export NO_COLOR=1

pipeline() { # SIZE_MB
  cat <<YML
env: { image: busybox }
jobs:
  make:
    script: ["mkdir -p out && head -c $(($1 * 1048576)) /dev/zero > out/blob"]
    artifacts: [out/blob]
  take:
    needs: [make]
    script: ["test \$(wc -c < out/blob) -eq $(($1 * 1048576))"]
  plain:
    needs: [{ job: make, artifacts: false }, { job: take, artifacts: false }]
    script: ["test ! -e out/blob"]
YML
}

# Median of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Prints "take plain" durations in ms of one local run of the project in $1.
local_once() {
  RAILYARD_HOME=$work/home "$ry" -C "$1" run --json | python3 -c '
import json, sys
d = {}
for line in sys.stdin:
    e = json.loads(line)
    if e.get("event") == "job_finished":
        d[e["job"]] = e["duration_ms"]
print(d["take"], d["plain"])'
}

# A fleet: a server and one agent of one slot.
git init -q --bare --initial-branch=main "$work/repo.git"
RAILYARD_HOME=$work/data "$ry" server --listen 127.0.0.1:0 --admin-token admin \
  --agent-token agent >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out" | head -1)
export RAILYARD_SERVER=$url RAILYARD_TOKEN=admin
"$ry" agent --server "$url" --token agent --slots 1 --name bench 2>"$work/agent.err" &
pids+=($!)
"$ry" project add bench --repo "file://$work/repo.git" >/dev/null

# Prints "take plain" durations in ms of one fleet run of the commit on main.
fleet_once() {
  run=$("$ry" trigger bench --ref main --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')
  while :; do
    out=$("$ry" runs "$run" --json)
    done=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("y" if d["run"].get("finished_at") else "")')
    [ -n "$done" ] && break
    sleep 0.5
  done
  echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["run"]["status"] == "success", d["run"]
t = {j["name"]: j["finished_at"] - j["started_at"] for j in d["jobs"]}
print(t["take"], t["plain"])'
}

printf '%-8s %-6s %12s %12s %12s\n' where size take_ms plain_ms handover_ms
for mb in "${sizes[@]}"; do
  src=$work/src-$mb
  mkdir -p "$src"
  pipeline "$mb" >"$src/.railyard.yml"
  git -C "$src" init -q --initial-branch=main
  git -C "$src" add -A
  git -C "$src" -c user.name=bench -c user.email=bench@example.invalid commit -qm "bench $mb"
  git -C "$src" push -qf "$work/repo.git" main
  for where in local fleet; do
    : >"$work/t"
    for _ in $(seq "$runs"); do
      if [ $where = local ]; then local_once "$src"; else fleet_once; fi >>"$work/t"
    done
    take=$(cut -d' ' -f1 <"$work/t" | median)
    plain=$(cut -d' ' -f2 <"$work/t" | median)
    printf '%-8s %-6s %12s %12s %12s\n' "$where" "${mb}MB" "$take" "$plain" "$((${take%.*} - ${plain%.*}))"
  done
done
left=$(docker ps -aq --filter label=io.railyard.run | wc -l)
echo "containers labelled io.railyard.run left on the engine: $left"
