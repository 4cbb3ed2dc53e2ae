#!/usr/bin/env bash
# The public more-itertools project (its PyPI source distribution carries its 765 pytest
# tests) with a pipeline of ours splitting the tests over four shards, on a local fleet:
#
#   bench/fleet/more-itertools.sh [RUNS] [SLOTS…]     e.g. `10 4` or `10 2 2`
#
# The project is fetched at run time into a temporary folder; none of its code is kept here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip download -q --no-binary :all: --no-deps 'more-itertools==11.2.1' -d "$work"
tar -xzf "$work"/more_itertools-*.tar.gz -C "$work"
src=$(echo "$work"/more_itertools-*/)
mkdir -p "$src/ci"
cat >"$src/ci/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3-pytest && rm -rf /var/lib/apt/lists/*
DOCKERFILE
cat >"$src/.railyard.yml" <<'YML'
env: { dockerfile: ci/Dockerfile }
variables: { PYTHONDONTWRITEBYTECODE: "1" }
jobs:
  unit:
    parallel: 4
    tests:
      list: python3 -m pytest --collect-only -q tests | grep '::'
      run: python3 -m pytest -q -p no:cacheprovider --junitxml=report.xml {tests}
      junit: report.xml
      format: pytest
YML
"$here/run.sh" "$src" "$@"
