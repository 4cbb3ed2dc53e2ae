#!/usr/bin/env python3
"""Reads the scenario rows that run.sh collected (one `scenario N events.jsonl` a line) and
prints makespan, ideal and ratio against the issue's goals.

    table.py DURATIONS ROWS
"""
import datetime
import json
import re
import sys


def span(err_path):
    """Seconds from the first batch's start to the last one's end over all shards, from the
    runner's debug lines (RAILYARD_LOG=railyard_runner=debug); None without them."""
    starts, ends = [], []
    try:
        lines = open(err_path, errors="replace")
    except OSError:
        return None
    for line in lines:
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if "batch timing" not in line:
            continue
        m = re.match(r"(\S+Z) .*batch_secs=([0-9.e-]+)", line)
        if not m:
            continue
        end = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        ends.append(end)
        starts.append(end - float(m.group(2)))
    return max(ends) - min(starts) if ends else None


def events(path):
    shards, wall = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            e = json.loads(line)
            if e.get("event") == "shard_finished":
                shards[e["shard"]] = (e["actual_secs"], e["tests"], e["predicted_secs"])
            elif e.get("event") == "run_finished":
                wall = e["duration_ms"] / 1000.0
                status = e["status"]
    return shards, wall, status


def main():
    durs = [float(l.split()[1]) for l in open(sys.argv[1]) if l.strip()]
    total, longest = sum(durs), max(durs)
    print(f"suite: {len(durs)} tests, total {total:.1f} s, longest {longest:.2f} s\n")
    head = f"{'scenario':<16}{'N':>3}{'makespan':>10}{'ideal':>9}{'ratio':>8}{'goal':>7}  {'ok':<4}{'span':>7}{'wall':>8}  shards (actual s / tests)"
    print(head)
    print("-" * len(head))
    for row in open(sys.argv[2]):
        if not row.strip():
            continue
        name, n, path = row.split()
        n = int(n)
        try:
            shards, wall, status = events(path)
        except (OSError, ValueError) as err:
            print(f"{name:<16}{n:>3}  (no result: {err})")
            continue
        if len(shards) != n or status != "success":
            print(f"{name:<16}{n:>3}  (run {status}, {len(shards)}/{n} shards finished; see {path})")
            continue
        makespan = max(s[0] for s in shards.values())
        if name.startswith("queue-slow"):
            ideal, goal = max(total / (n - 0.5), longest), 1.10
        else:
            ideal, goal = max(total / n, longest), 1.05
        if name.startswith("static") or name.startswith("queue"):
            ok = "yes" if makespan <= goal * ideal else "NO"
        else:
            ok, goal_s = "-", "-"
        goal_s = f"{goal:.2f}" if ok != "-" else "-"
        per = " ".join(f"{shards[k][0]:.1f}/{shards[k][1]}" for k in sorted(shards))
        spanned = span(path[: -len(".jsonl")] + ".err")
        span_s = f"{spanned:.1f}" if spanned is not None else "-"
        print(f"{name:<16}{n:>3}{makespan:>10.1f}{ideal:>9.1f}{makespan / ideal:>8.3f}{goal_s:>7}  {ok:<4}{span_s:>7}{wall:>8.1f}  {per}")
    print("\nmakespan: max over shards of shard_finished.actual_secs (each shard's first batch start to its")
    print("last batch end); span: first batch start to last batch end over all shards (shards start")
    print("apart: their containers are set up one after another); wall: the whole run.")
    print("ideal: max(total/N, longest); queue-slow: max(total/(N-0.5), longest), shard 1 at half speed.")


if __name__ == "__main__":
    main()
