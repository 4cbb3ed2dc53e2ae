#!/usr/bin/env bash
# Claims per second and claim latency of a real `railyard server` process (release build)
# with 200 simulated agents over HTTP that claim a job and complete it at once, on SQLite and
# on a fresh PostgreSQL database; the server's memory idle and under load. Each backend runs
# twice: closed loop (the most claims/s it sustains) and paced at the goal's 1,000 claims/s
# (the latency at that load). Prints the figures and the ratios to issue 4's goal
# (>= 1,000 claims/s, p99 < 50 ms). See bench/server/README.md.
#
#   bench/server/run.sh                 (about 2 minutes after the build)
#   JOBS=40000 SECS=20 AGENTS=200 RATE=1000 BACKENDS="sqlite postgres" bench/server/run.sh
#   RAILYARD=/tmp/railyard-before bench/server/run.sh      (another build of the server)
#   SCHEMES="http https" bench/server/run.sh   (also over HTTPS, a test CA made by openssl:
#                                              the cost of TLS on the claim path)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${JOBS:-30000}
secs=${SECS:-15}
agents=${AGENTS:-200}
rate=${RATE:-1000}
backends=${BACKENDS:-sqlite postgres}
schemes=${SCHEMES:-http}

work=$(mktemp -d /tmp/railyard-bench-server.XXXXXX)
pg_db=
cleanup() {
  if [ -n "$pg_db" ]; then psql -d "$RAILYARD_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Built once and copied, so that a rebuild in the shared target/ cannot swap them mid-run.
# RAILYARD=path/to/railyard measures that build instead (a before/after comparison).
cargo build -q --release -p railyard-agent --example claim_bench
cp "${CARGO_TARGET_DIR:-target}/release/examples/claim_bench" "$work/"
if [ -n "${RAILYARD:-}" ]; then
  cp "$RAILYARD" "$work/railyard"
else
  cargo build -q --release -p railyard
  cp "${CARGO_TARGET_DIR:-target}/release/railyard" "$work/"
fi
export NO_COLOR=1

# A CA and a server certificate for 127.0.0.1 it issued (ECDSA P-256, as a typical ACME one).
tls_flags=()
if [[ " $schemes " == *" https "* ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
    -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/req.pem" 2>/dev/null
  openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" -days 1 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n') \
    -out "$work/cert.pem" 2>/dev/null
fi

bench() { # label, then claim_bench flags
  echo "$(date -u +%T) $1 $scheme" >&2
  "$work/claim_bench" --railyard "$work/railyard" --agents "$agents" --jobs "$jobs" --secs "$secs" "${@:2}" ${tls_flags[@]+"${tls_flags[@]}"}
}

for scheme in $schemes; do
case $scheme in
  http) tls_flags=() ;;
  https) tls_flags=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --ca-cert "$work/ca.pem") ;;
  *) echo "unknown scheme $scheme (http, https)" >&2; exit 2 ;;
esac

for backend in $backends; do
  for r in 0 "$rate"; do
    case $backend in
      sqlite) bench "SQLite rate=$r" --rate "$r" ;;
      postgres)
        : "${RAILYARD_TEST_POSTGRES_URL:=$(scripts/postgres-test-db.sh)}"
        pg_db=railyard_bench_$$
        psql -d "$RAILYARD_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" 2>/dev/null
        psql -d "$RAILYARD_TEST_POSTGRES_URL" -qc "CREATE DATABASE $pg_db"
        bench "PostgreSQL rate=$r" --rate "$r" --database "${RAILYARD_TEST_POSTGRES_URL%/*}/$pg_db"
        psql -d "$RAILYARD_TEST_POSTGRES_URL" -qc "DROP DATABASE $pg_db WITH (FORCE)"
        pg_db=
        ;;
      *) echo "unknown backend $backend (sqlite, postgres)" >&2; exit 2 ;;
    esac
  done
done
done
echo
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); the agents run on the same cores as the server"
