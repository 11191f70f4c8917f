#!/usr/bin/env bash
# Sanity check of lapis's Linux loader and ACPI tables on QEMU: lays out the
# kernel with src/loader (host-side unpack, boot_params, e820, MADT/FADT/DSDT),
# packs it into a Multiboot ELF (mkqemuboot.c + qemu_stub.S) and boots it with
# QEMU's -kernel, so Linux runs on lapis's tables, not SeaBIOS's.
#
#   tests/linux/qemu_boot.sh [--tcg] [--timeout S] [--cpus N] [--no-unpack] [-- extra qemu args]
#
# Prints the serial log path and the milestones seen. Not part of `make check`:
# it needs the downloaded kernel (tests/linux/fetch.sh) and takes minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${LAPIS_BUILD:-build}
accel=(-accel kvm -machine q35,kernel-irqchip=split)
cpu=(-cpu "qemu64,-cx16,+x2apic") # cmpxchg16b stops the guest under PVM (eoi.md section 7)
timeout_s=300 unpack=() cpus=1
while [ $# -gt 0 ]; do
    case $1 in
    --tcg) accel=(-accel tcg -machine q35); cpu=(-cpu qemu64); shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --no-unpack) unpack=(--no-unpack); shift ;;
    --cpus) cpus=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "qemu_boot.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v qemu-system-x86_64 >/dev/null || { echo "qemu_boot.sh: qemu-system-x86_64 not installed" >&2; exit 2; }
cache=$(tests/linux/fetch.sh)
out=$BUILD/tests/linux
mkdir -p "$out"
make -s "$BUILD/liblapis-loader.a"
cc -c tests/linux/qemu_stub.S -o "$out/qemu_stub.o"
objcopy -O binary -j .text "$out/qemu_stub.o" "$out/qemu_stub.bin"
libs=$(for l in lzma z zstd lz4; do printf 'int main(void){return 0;}' | cc -x c - -l$l -o /dev/null 2>/dev/null && printf -- '-l%s ' $l; done)
cc -O2 -std=gnu11 -Isrc tests/linux/mkqemuboot.c "$BUILD/liblapis-loader.a" $libs -o "$out/mkqemuboot"
"$out/mkqemuboot" --kernel "$cache/vmlinuz" --initrd "$cache/initramfs.cpio.gz" \
    --cmdline "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1" --ram-mib 448 \
    --cpus "$cpus" "${unpack[@]}" --stub "$out/qemu_stub.bin" --out "$out/boot.elf"
log=$out/qemu_serial.log
start=$(date +%s)
set +e
timeout "$timeout_s" qemu-system-x86_64 "${accel[@]}" "${cpu[@]}" -smp "$cpus" -m 512M -nographic -no-reboot \
    -display none -monitor none -serial "file:$log" -kernel "$out/boot.elf" "$@" > "$out/qemu.out" 2>&1
rc=$?
set -e
echo "qemu exit $rc after $(( $(date +%s) - start )) s; serial log: $log"
grep -aE 'IOAPIC\[0\]|x2apic|Switched APIC|TIMER|IO-APIC|LAPIS-LINUX-INIT-OK|Power down' "$log" || true
grep -aA3 'internal error' "$out/qemu.out" || true
