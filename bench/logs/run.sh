#!/usr/bin/env bash
# Time to store and read a job's log through the store: a 10 MiB log of 32 KiB chunks, in the
# database as the server stores agents' chunks now, and in a log file as it did before, on
# SQLite and (with RAILYARD_TEST_POSTGRES_URL, see scripts/postgres-test-db.sh) on a fresh
# PostgreSQL database. See bench/logs/README.md.
#
#   bench/logs/run.sh                              (debug build; median of 7 rounds)
#   PROFILE=release bench/logs/run.sh -- --mib 10 --chunk-kib 4 --reps 5
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-dev}
target=${CARGO_TARGET_DIR:-target}
cargo build -q --profile "$profile" -p railyard-store --example log_bench
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
if [ "${1:-}" = -- ]; then shift; fi
uptime
"$target/$dir/examples/log_bench" --reps 7 "$@"
