#!/usr/bin/env bash
# Runs the whole test suite against the real Docker engine: makes the base images the tests
# need (skipping those that exist), starts a throw-away PostgreSQL for the PostgreSQL tests
# unless RAILYARD_TEST_POSTGRES_URL names one, then runs every crate's tests with nextest.
# A test that cannot do its work (PostgreSQL or a reference tool missing) notes itself; the
# end of the run says how many did and why. Under CI=true such a test fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/test-images.sh
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

loud() { printf '\n!!!!!!!! %s\n' "$@" >&2; }

if [ -z "${RAILYARD_TEST_POSTGRES_URL:-}" ]; then
  if url=$(scripts/postgres-test-db.sh) && [[ $url == postgres://* ]]; then
    export RAILYARD_TEST_POSTGRES_URL=$url
  else
    loud "PostgreSQL could not be started (scripts/postgres-test-db.sh printed [${url:-}])." \
      "The PostgreSQL tests will skip: set RAILYARD_TEST_POSTGRES_URL to a server's URL."
    # Under CI every PostgreSQL test would fail one by one; say it once.
    if [ "${CI:-}" = true ]; then exit 1; fi
  fi
fi
case ${RAILYARD_TEST_POSTGRES_URL:-} in
  "" | postgres://* | postgresql://*) ;;
  *) echo "RAILYARD_TEST_POSTGRES_URL is not a postgres:// URL: [$RAILYARD_TEST_POSTGRES_URL]" >&2; exit 1 ;;
esac
[ -n "${RAILYARD_TEST_POSTGRES_URL:-}" ] && echo "PostgreSQL tests use $RAILYARD_TEST_POSTGRES_URL"

skips=$(mktemp)
trap 'rm -f "$skips"' EXIT
status=0
RAILYARD_TEST_SKIPS=$skips cargo nextest run --workspace --no-fail-fast "$@" || status=$?
if [ -s "$skips" ]; then
  loud "$(wc -l <"$skips") test(s) passed WITHOUT doing (all of) their work:"
  sort "$skips" | sed 's/^/    /' >&2
  echo "  Install what they name (see .ci/run), or set RAILYARD_TEST_POSTGRES_URL." >&2
fi
exit $status
