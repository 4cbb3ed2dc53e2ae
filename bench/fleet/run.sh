#!/usr/bin/env bash
# A project's pipeline on a local fleet: a server and agents on this machine's engine, the
# pipeline triggered RUNS times in a row; prints each run's status and wall time, then one
# local `railyard run` of the same project for comparison. What issue 9's "ten in a row on
# one agent of four slots and on two agents of two" was checked with.
#
#   bench/fleet/run.sh PROJECT_DIR [RUNS] [SLOTS…]
#     PROJECT_DIR  a folder holding .railyard.yml (copied into a fresh git repository)
#     RUNS         how many runs in a row (default 10)
#     SLOTS…       one number per agent (default: 4, one agent of four slots; `2 2`: two agents)
#
#   bench/fleet/more-itertools.sh fetches the public more-itertools sdist and runs this on it.
#   RAILYARD=path/to/railyard bench/fleet/run.sh …   runs that build instead of building this tree
set -euo pipefail
cd "$(dirname "$0")/../.."
project=$(realpath "$1")
runs=${2:-10}
shift 2 || shift $#
slots=("$@")
[ ${#slots[@]} -gt 0 ] || slots=(4)
./scripts/test-images.sh >/dev/null
if [ -n "${RAILYARD:-}" ]; then
  ry=$RAILYARD # another build (a before/after)
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

git init -q --bare --initial-branch=main "$work/repo.git"
cp -r "$project" "$work/src"
git -C "$work/src" init -q --initial-branch=main
git -C "$work/src" add -A
git -C "$work/src" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench
git -C "$work/src" push -q "$work/repo.git" main

RAILYARD_HOME=$work/data "$ry" server --listen 127.0.0.1:0 --admin-token admin \
  --agent-token agent >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out" | head -1)
export RAILYARD_SERVER=$url RAILYARD_TOKEN=admin
for i in "${!slots[@]}"; do
  "$ry" agent --server "$url" --token agent --slots "${slots[$i]}" --name "agent$i" \
    2>"$work/agent$i.err" &
  pids+=($!)
done
"$ry" project add bench --repo "file://$work/repo.git" >/dev/null

echo "fleet: agents with ${slots[*]} slot(s), $runs run(s) of $(basename "$project")"
passed=0
for n in $(seq "$runs"); do
  start=$(date +%s.%N)
  run=$("$ry" trigger bench --ref main --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')
  while :; do
    status=$("$ry" runs "$run" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); r=d.get("run", d); print(r["status"] if r.get("finished_at") else "")')
    [ -n "$status" ] && break
    sleep 0.5
  done
  secs=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  echo "run $n: $status in ${secs}s"
  [ "$status" = success ] && passed=$((passed + 1))
done
echo "fleet: $passed of $runs run(s) passed"
left=$(docker ps -aq --filter label=io.railyard.run | wc -l)
echo "containers labelled io.railyard.run left on the engine: $left"

echo "local: railyard run of the same project"
start=$(date +%s.%N)
if RAILYARD_HOME=$work/local "$ry" -C "$work/src" run >"$work/local.out" 2>&1; then status=success; else status=failed; fi
echo "local: $status in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")s"
[ "$passed" -eq "$runs" ]
