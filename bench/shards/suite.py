#!/usr/bin/env python3
"""Writes the benchmark's workspace: a suite of log-normal test durations (seeded), the
script that "runs" a batch of them as sleeps and writes a JUnit report, and the pipeline.

    suite.py DIR --total SECS [--tests 1000] [--sigma 1.0] [--seed 7]
    suite.py DIR --pipeline --parallel N --mode static|queue [--slow]
"""
import argparse
import math
import os
import random

RUN_TESTS = r"""#!/bin/sh
# Runs the batch named in $RAILYARD_TESTS_FILE: one sleep for the sum of its tests' durations
# from durations.txt (twice that on shard 1 when SLOW_SHARD=1), then a JUnit report giving
# each test its duration. One sleep per batch, not one per test: a fork per test costs 1 ms
# on an idle machine and 8 ms with 8 containers on 2 cores, time no report would show and
# no ideal counts.
set -e
factor=1
if [ "${SLOW_SHARD:-0}" = 1 ] && [ "$RAILYARD_SHARD" = 1 ]; then factor=2; fi
awk -v f="$factor" 'NR==FNR { d[$1] = $2; next } NF { t = d[$1] * f; s += t
    printf "<testcase classname=\"bench\" name=\"%s\" time=\"%.3f\"/>\n", $1, t }
  END { printf "%.3f\n", s > "batch.secs" }' durations.txt "$RAILYARD_TESTS_FILE" > report.tmp
sleep "$(cat batch.secs)"
{ echo '<testsuites><testsuite name="bench">'; cat report.tmp; echo '</testsuite></testsuites>'; } > report.xml
rm -f report.tmp batch.secs
"""


def suite(args):
    rng = random.Random(args.seed)
    raw = [rng.lognormvariate(0.0, args.sigma) for _ in range(args.tests)]
    scale = args.total / sum(raw)
    # Millisecond resolution, at least 1 ms, so that sleeps and reports agree.
    durs = [max(0.001, round(r * scale, 3)) for r in raw]
    with open(os.path.join(args.dir, "durations.txt"), "w") as f:
        for i, d in enumerate(durs, 1):
            f.write(f"t{i:04d} {d:.3f}\n")
    os.makedirs(os.path.join(args.dir, "ci"), exist_ok=True)
    with open(os.path.join(args.dir, "ci", "run-tests.sh"), "w") as f:
        f.write(RUN_TESTS)
    print(f"{len(durs)} tests, total {sum(durs):.3f} s, longest {max(durs):.3f} s")


def pipeline(args):
    slow = "    variables: { SLOW_SHARD: \"1\" }\n" if args.slow else ""
    with open(os.path.join(args.dir, ".railyard.yml"), "w") as f:
        f.write(
            "env: { image: busybox }\n"
            "jobs:\n"
            "  test:\n"
            f"    parallel: {args.parallel}\n"
            f"{slow}"
            "    timeout: 30m\n"
            "    tests:\n"
            "      list: cut -d' ' -f1 durations.txt\n"
            "      run: sh ci/run-tests.sh $RAILYARD_TESTS_FILE\n"
            "      junit: report.xml\n"
            f"      mode: {args.mode}\n"
            "      format: \"{name}\"\n"
        )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--total", type=float)
    p.add_argument("--tests", type=int, default=1000)
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--pipeline", action="store_true")
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--mode", default="static")
    p.add_argument("--slow", action="store_true")
    args = p.parse_args()
    if args.pipeline:
        pipeline(args)
    else:
        suite(args)


if __name__ == "__main__":
    main()
