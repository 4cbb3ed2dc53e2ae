#!/usr/bin/env bash
# Creates the base images that tests and examples use, since no registry can be reached here:
#   busybox:latest        from Debian's busybox-static
#   debian:bookworm-slim  from `debootstrap --variant=minbase bookworm`
# Images that already exist are left alone. Needs root (apt-get, debootstrap).
set -euo pipefail

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

need_pkg() {
  local bin=$1 pkg=$2
  command -v "$bin" >/dev/null 2>&1 && return 0
  echo "installing $pkg" >&2
  if ! apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have_image busybox:latest; then
  need_pkg busybox busybox-static
  root="$work/busybox"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  cp "$(command -v busybox)" "$root/bin/busybox"
  # One link per applet, as the official image has.
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - busybox:latest >/dev/null
  echo "created busybox:latest"
fi

if ! have_image debian:bookworm-slim; then
  need_pkg debootstrap debootstrap
  root="$work/bookworm"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  # Keep the image small, as the slim image does.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - debian:bookworm-slim >/dev/null
  docker tag debian:bookworm-slim debian:bookworm
  docker tag debian:bookworm-slim debian:12-slim
  echo "created debian:bookworm-slim (also tagged debian:bookworm, debian:12-slim)"
fi
