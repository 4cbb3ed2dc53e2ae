#!/usr/bin/env bash
# Runs the whole test suite against the real Docker engine: makes the base images the tests
# need (skipping those that exist), then runs every crate's tests with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/test-images.sh
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
exec cargo nextest run --workspace --no-fail-fast "$@"
