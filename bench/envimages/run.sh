#!/usr/bin/env bash
# A second agent's first job: with the env image pulled from the registry (another agent
# built and pushed it) vs built on its own engine (no registry). The env is a real one: a
# Dockerfile that installs python3-pytest from Debian's mirror.
#
#   bench/envimages/run.sh [RUNS]        (default 3 of each)
#   RAILYARD=path/to/railyard bench/envimages/run.sh   (another build instead of this tree's)
#
# One engine stands for two machines: before each measured job the env image is removed
# from the engine (and, for the build, its key is new), so the second agent's engine starts
# as a fresh machine's would (the base image `debian:bookworm-slim` stays, as on any agent).
# Beside it the docker CLI doing the same by hand: `docker build` vs `docker pull`.
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
pids=()
projects=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for p in "${projects[@]}"; do drop_env_images "$p"; done
  rm -rf "$work"
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap cleanup EXIT
export NO_COLOR=1

# The registry: Debian's docker-registry on loopback.
cat >"$work/registry.yml" <<YML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $work/registry }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
registry=http://127.0.0.1:$port/bench

RAILYARD_HOME=$work/server "$ry" server --listen 127.0.0.1:0 --admin-token admin \
  --agent-token agent >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out" | head -1)
export RAILYARD_SERVER=$url RAILYARD_TOKEN=admin

# agent NAME [--registry URL]: starts an agent of one slot on its own data folder.
agent() {
  local name=$1
  shift
  RAILYARD_HOME=$work/$name "$ry" agent --server "$url" --token agent --slots 1 --name "$name" \
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
  echo $!
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# A project whose Dockerfile carries NONCE (a new env key each time).
project() { # NAME NONCE
  local src=$work/src-$1
  rm -rf "$src" && mkdir -p "$src/ci"
  cat >"$src/ci/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
LABEL bench.nonce="$2"
RUN apt-get update && apt-get install -y --no-install-recommends python3-pytest && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  cat >"$src/.railyard.yml" <<'YML'
env: { dockerfile: ci/Dockerfile }
jobs:
  test: { script: ["python3 -m pytest --version"] }
YML
  git -C "$src" init -q --initial-branch=main
  git -C "$src" add -A
  git -C "$src" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench
  rm -rf "$work/$1.git"
  git init -q --bare --initial-branch=main "$work/$1.git"
  git -C "$src" push -q "$work/$1.git" main
  "$ry" project add "$1" --repo "file://$work/$1.git" >/dev/null
  projects+=("$1")
}

# Runs project $1 on the fleet; prints the job's wall time in ms; the log's env line to stderr.
job_ms() {
  local run start
  start=$(date +%s%N)
  run=$("$ry" trigger "$1" --ref main --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["id"])')
  "$ry" logs "$run" test --follow >"$work/job.log" 2>&1 || { cat "$work/job.log" >&2; exit 1; }
  echo "    $(grep -oE 'env [^ ]*: (pulled|built) [^ ,]*' "$work/job.log" | head -1)" >&2
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
# Removes this bench's images (its projects' env images and whatever is tagged for its own
# registry) and no others: tests may run beside it on the engine.
drop_env_images() {
  {
    docker images -q --filter label=io.railyard.project="$1"
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^127\.0\.0\.1:$port/" || true
  } | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

built=() pulled=() cli_build=() cli_pull=()
for i in $(seq "$runs"); do
  nonce=$RANDOM$RANDOM
  # Build: the second agent has no registry; its engine lacks the image.
  project "bench-build-$i" "$nonce-b"
  drop_env_images "bench-build-$i"
  b=$(agent second)
  echo "run $i: second agent, no registry" >&2
  built+=("$(job_ms "bench-build-$i")")
  stop "$b"
  # Pull: the first agent builds and pushes the key; the engine forgets the image; the
  # second agent's first job finds it in the registry.
  project "bench-pull-$i" "$nonce-p"
  a=$(agent first --registry "$registry")
  echo "run $i: first agent builds and pushes" >&2
  job_ms "bench-pull-$i" >/dev/null
  stop "$a"
  drop_env_images "bench-pull-$i"
  rm -rf "$work/second"
  b=$(agent second --registry "$registry")
  echo "run $i: second agent, registry" >&2
  pulled+=("$(job_ms "bench-pull-$i")")
  stop "$b"
  # The docker CLI by hand: a build of a new key, then a pull of what it pushed.
  sed -i "s/bench.nonce=\"[^\"]*\"/bench.nonce=\"$nonce-c\"/" "$work/src-bench-build-$i/ci/Dockerfile"
  tag=127.0.0.1:$port/bench/cli:$nonce
  s=$(date +%s%N); docker build -q -t "$tag" "$work/src-bench-build-$i/ci" >/dev/null; cli_build+=($(( ($(date +%s%N) - s) / 1000000 )))
  docker push -q "$tag" >/dev/null
  docker rmi -f "$tag" >/dev/null
  s=$(date +%s%N); docker pull -q "$tag" >/dev/null; cli_pull+=($(( ($(date +%s%N) - s) / 1000000 )))
done
b=$(printf '%s\n' "${built[@]}" | median); p=$(printf '%s\n' "${pulled[@]}" | median)
cb=$(printf '%s\n' "${cli_build[@]}" | median); cp=$(printf '%s\n' "${cli_pull[@]}" | median)
python3 - "$b" "$p" "$cb" "$cp" "$runs" <<'PY'
import sys
b, p, cb, cp, runs = map(float, sys.argv[1:])
print(f"a second agent's first job (env: debian + python3-pytest), median of {int(runs)}")
print(f"  built on its engine   {b / 1000:6.1f} s")
print(f"  pulled from registry  {p / 1000:6.1f} s   build / pull = {b / p:.2f}")
print(f"  docker CLI: build {cb / 1000:.1f} s, pull {cp / 1000:.1f} s   build / pull = {cb / cp:.2f}")
PY
