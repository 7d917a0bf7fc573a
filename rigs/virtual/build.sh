#!/usr/bin/env bash
# Build the virtual rig image (fleetlab/virtual-rig:latest) where no container registry can be reached:
#  1. debootstrap a minimal Debian (with sshd and Python) into a folder and `docker import` it as the base image,
#     once (later builds find it);
#  2. download the Python wheels on this host (pip inside the container cannot reach an index) into the context;
#  3. docker build with BASE_IMAGE set. Docker's cache makes an unchanged rebuild take seconds.
# With a registry: docker build --build-arg BASE_IMAGE=debian:bookworm-slim rigs/virtual (after step 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${FLEETLAB_RIG_BASE:-fleetlab/debian-base:bookworm}"
image="${FLEETLAB_RIG_IMAGE:-fleetlab/virtual-rig:latest}"
mirror="${FLEETLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
python="${PYTHON:-python3}"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  root="$(mktemp -d /tmp/fleetlab-rootfs.XXXXXX)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=openssh-server,python3,python3-venv,iproute2,procps,util-linux \
    bookworm "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  echo "imported $base"
fi

mkdir -p "$here/wheels"
"$python" -m pip download --quiet --only-binary=:all: --dest "$here/wheels" \
  --python-version 3.11 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --implementation cp \
  -r "$here/requirements.txt"

docker build --quiet --build-arg "BASE_IMAGE=$base" -t "$image" "$here" >/dev/null
echo "built $image"
