#!/usr/bin/env bash
# Fetches Debian's current amd64 kernel and busybox-static with apt, and builds
# a small initramfs whose /init prints a marker and powers the machine off.
#
#   tests/linux/fetch.sh            -> prints the cache directory on success
#
# Output in $LAPIS_LINUX_CACHE (default tests/linux/cache, git-ignored):
#   vmlinuz              Debian's bzImage (linux-image-<version>-amd64)
#   initramfs.cpio.gz    busybox + /init
#   kernel-version       the package's version string
# Nothing here is ever committed; re-running reuses what is already there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LAPIS_LINUX_CACHE:-$here/cache}
marker=${LAPIS_INITRAMFS_MARKER:-LAPIS-LINUX-INIT-OK}
mkdir -p "$cache"
cd "$cache"

die() { echo "fetch.sh: $*" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb cpio gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing; install it (apt-get install $tool)"
done

# The versioned image package that linux-image-amd64 depends on today.
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(resolve_kernel_pkg || true)
if [ -z "$pkg" ] || [ -z "$(apt-cache policy busybox-static 2>/dev/null | grep Candidate)" ]; then
    echo "fetch.sh: apt lists look empty; running apt-get update once" >&2
    apt-get update -qq >&2 || die "apt-get update failed; check the network or the apt sources"
    pkg=$(resolve_kernel_pkg || true)
fi
[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 to a versioned package"

download() { # package -> path of the .deb in the cache
    local p=$1 deb
    deb=$(ls -1 "${p}"_*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        apt-get download "$p" >&2 || die "apt-get download $p failed"
        deb=$(ls -1 "${p}"_*.deb | head -n 1)
    fi
    printf '%s\n' "$deb"
}

kdeb=$(download "$pkg")
bdeb=$(download busybox-static)

if [ ! -s vmlinuz ] || [ "$(cat kernel-version 2>/dev/null)" != "$kdeb" ]; then
    rm -rf kernel-root && mkdir kernel-root
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C kernel-root --wildcards './boot/vmlinuz-*'
    cp kernel-root/boot/vmlinuz-* vmlinuz.tmp && mv vmlinuz.tmp vmlinuz
    rm -rf kernel-root
    printf '%s\n' "$kdeb" > kernel-version
fi

if [ ! -s initramfs.cpio.gz ] || [ "$(cat initramfs-version 2>/dev/null)" != "$bdeb $marker" ]; then
    rm -rf busybox-root initramfs-root
    mkdir busybox-root initramfs-root
    dpkg-deb -x "$bdeb" busybox-root
    r=initramfs-root
    mkdir -p $r/bin $r/sbin $r/dev $r/proc $r/sys
    cp busybox-root/bin/busybox $r/bin/busybox
    # Without /dev/console in the archive, /init would run with no stdout.
    mknod $r/dev/console c 5 1 || die "mknod failed: run as root to build the initramfs"
    mknod $r/dev/ttyS0 c 4 64
    for app in sh mount echo cat poweroff reboot sleep; do ln -s busybox "$r/bin/$app"; done
    cat > $r/init <<INIT
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
echo "$marker"
echo "lapis: uptime \$(/bin/busybox cat /proc/uptime)"
/bin/busybox poweroff -f
INIT
    chmod 755 $r/init
    (cd $r && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 > initramfs.tmp
    mv initramfs.tmp initramfs.cpio.gz
    rm -rf busybox-root initramfs-root
    printf '%s\n' "$bdeb $marker" > initramfs-version
fi

echo "$cache"
