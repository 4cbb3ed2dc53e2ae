#!/usr/bin/env bash
# Makespan of a sharded test job through the real `railyard` binary and real containers:
# 1,000 generated tests with log-normal durations (run as sleeps in busybox, so two cores
# suffice) at 1, 2, 4 and 8 shards, split by count (no timings yet), statically by timings
# (after a warm-up run recorded them), through the queue, and through the queue with shard 1
# at half speed. The queue runs twice: cold (no timings, so every test is estimated alike and
# the tail is one test per batch) and warm (the timings of the static runs). Prints
# makespan, ideal and ratio against issue 3's goals.
#
#   bench/shards/run.sh            (suite of ~120 s on one shard; about 15 minutes)
#   bench/shards/run.sh --quick    (suite of ~20 s; about 3 minutes)
#   SHARDS="2 4" bench/shards/run.sh   (other shard counts)   KEEP=1: keep the events
#   SCENARIOS="count static queue-warm" bench/shards/run.sh   (some scenarios only; default all:
#     count static queue queue-warm queue-slow queue-slow-warm; static implies count)
#   RAILYARD_BIN=/path/to/railyard bench/shards/run.sh   (that binary, not a fresh build: to
#     compare a commit with another)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD/bench/shards
total=120
if [ "${1:-}" = --quick ]; then total=20; fi
shards=${SHARDS:-1 2 4 8}
scenarios=" ${SCENARIOS:-count static queue queue-warm queue-slow queue-slow-warm} "
want() { [[ $scenarios == *" $1 "* ]]; }

./scripts/test-images.sh >/dev/null
work=$(mktemp -d /tmp/railyard-bench-shards.XXXXXX)
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "events kept in $work" >&2; fi
# Built once and copied, so that a rebuild in the shared target/ cannot swap it mid-run. A
# tree that does not build (another crate mid-edit) falls back to the last binary, said so.
if [ -n "${RAILYARD_BIN:-}" ]; then
  cp "$RAILYARD_BIN" "$work/railyard"
elif ! cargo build -q --release -p railyard 2>"$work/build.err"; then
  [ -x target/release/railyard ] || { cat "$work/build.err" >&2; exit 1; }
  echo "warning: cargo build failed; using target/release/railyard of $(date -u -r target/release/railyard +%FT%TZ)" >&2
fi
[ -x "$work/railyard" ] || cp target/release/railyard "$work/railyard"
ry=$work/railyard
export NO_COLOR=1
# The runner's per-batch timings (into each run's .err): table.py reads the span from them.
export RAILYARD_LOG=${RAILYARD_LOG:-railyard_runner=debug}
suite=$work/suite
mkdir -p "$suite"
python3 "$here/suite.py" "$suite" --total "$total" >&2
rows=$work/rows

# One run of the job: its own RAILYARD_HOME, `-j` as large as the shard count.
run() { # name N mode home [--slow]
  local name=$1 n=$2 mode=$3 home=$4 slow=${5:-}
  python3 "$here/suite.py" "$suite" --pipeline --parallel "$n" --mode "$mode" $slow
  local ev=$work/$name-$n.jsonl
  echo "$(date -u +%T) $name N=$n" >&2
  RAILYARD_HOME=$home "$ry" -C "$suite" run --json -j "$n" >"$ev" 2>"$work/$name-$n.err" ||
    echo "  run failed: see $ev and $work/$name-$n.err" >&2
  echo "$name $n $ev" >>"$rows"
}

for n in $shards; do
  home=$work/home-static-$n
  # No history: every test gets the same default estimate, so the split is by count. This
  # run also records the timings, so it is the warm-up of the runs that follow in $home.
  warm=
  if want count || want static || want queue-warm || want queue-slow-warm; then
    run count "$n" static "$home"
    warm=1
  fi
  if want static && [ "$n" -gt 1 ]; then
    RAILYARD_HOME=$home "$ry" -C "$suite" split test --explain | tail -1 >&2
    run static "$n" static "$home"
  fi
  if want queue; then run queue "$n" queue "$work/home-queue-$n"; fi
  if want queue-slow && [ "$n" -gt 1 ]; then
    run queue-slow "$n" queue "$work/home-slow-$n" --slow
  fi
  # Warm runs get a copy of the timings so that one run's times do not feed the next.
  if [ -n "$warm" ] && want queue-warm; then
    cp -r "$home" "$work/home-qwarm-$n"
    run queue-warm "$n" queue "$work/home-qwarm-$n"
  fi
  if [ -n "$warm" ] && want queue-slow-warm && [ "$n" -gt 1 ]; then
    cp -r "$home" "$work/home-swarm-$n"
    run queue-slow-warm "$n" queue "$work/home-swarm-$n" --slow
  fi
done

python3 "$here/table.py" "$suite/durations.txt" "$rows"
left=$(docker ps -aq --filter label=io.railyard.run | wc -l)
echo "containers labelled io.railyard.run left on the engine: $left"
