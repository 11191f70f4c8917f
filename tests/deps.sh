#!/usr/bin/env bash
# Installs, from Debian's packages, what lapis's build and tests use (run as root).
# .ci/run calls it; on a fresh Debian 12 machine `sudo tests/deps.sh` does the same.
set -euo pipefail
packages=(build-essential git clang lld llvm libclang-rt-14-dev clang-format
          qemu-system-x86 liblzma-dev zlib1g-dev libzstd-dev liblz4-dev
          gnuplot-nox strace ca-certificates cpio busybox-static kmod xz-utils zstd
          python3 file)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
