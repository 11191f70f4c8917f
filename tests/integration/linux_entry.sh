#!/usr/bin/env bash
# The Linux path of `lapis run` with tiny x86-64 ELF "kernels" (a bare vmlinux
# as far as lapis knows), in seconds rather than the minutes Debian's kernel
# takes on PVM hosts (linux_boot.sh):
#  - the 64-bit entry state: long mode, rsi = boot_params with "HdrS" at 0x202,
#    and the ACPI PM1a event block (port 0x600) reading 0 -> isa-debug-exit;
#  - the 8042 reset line (0xFE to port 0x64) is a reboot: status 0, "guest rebooted";
#  - a triple fault while booting Linux is a reboot too (a multiboot guest's is a crash);
#  - SLP_EN at PM1a control (0x604) powers off: status 0;
#  - a truncated bzImage is refused with one line and status 2.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

T=$TMPDIR_LAPIS
CASES=(entry-state reset triple-fault poweroff)

why=$(kvm_missing)
if [ -n "$why" ]; then
    for c in "${CASES[@]}"; do skip "linux-$c" "$why"; done
    skip linux-bad-bzimage "$why"
    finish
    exit $?
fi

# One ELF64 per entry point into the same code (assembled by hand; comments are the source).
python3 - "$T" <<'PY'
import struct, sys
out = sys.argv[1]
CODE = bytes.fromhex(
    "81be0202000048647253"  # 00 entry-state: cmpl $0x53726448 ("HdrS"), 0x202(%rsi)
    "7510"                  # 0a jne bad
    "66ba0006"              # 0c mov $0x600, %dx    (PM1a status)
    "66ed"                  # 10 in (%dx), %ax
    "6685c0"                # 12 test %ax, %ax
    "7505"                  # 15 jne bad
    "b015e6f4f4"            # 17 mov $0x15, %al; out %al, $0xf4 (status 43); hlt
    "b001e6f4f4"            # 1c bad: mov $1, %al; out %al, $0xf4 (status 3); hlt
    "b0fee664f4"            # 21 reset: mov $0xfe, %al; out %al, $0x64; hlt
    "66b8002066ba040666eff4"  # 26 poweroff: mov $0x2000, %ax; mov $0x604, %dx; out %ax, (%dx); hlt
    "0f0b"                  # 31 triple-fault: ud2 with no IDT
)
ENTRIES = {"entry-state": 0x00, "reset": 0x21, "poweroff": 0x26, "triple-fault": 0x31}
BASE = 0x1000000  # 16 MiB, where Linux kernels load
for name, off in ENTRIES.items():
    phoff, code_off = 64, 0x1000
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, BASE + off, phoff, 0, 0, 64, 56, 1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, code_off, BASE, BASE, len(CODE), len(CODE), 0x1000)
    img = bytearray(code_off + len(CODE))
    img[0:64] = eh
    img[phoff:phoff + 56] = ph
    img[code_off:] = CODE
    open(f"{out}/{name}.elf", "wb").write(img)
PY

# case NAME WANT_STATUS NEEDLE_IN_STDERR (empty: none) FORBIDDEN_IN_STDERR
run_case() {
    local name=$1 want=$2 needle=$3 forbidden=$4
    run_lapis run --kernel "$T/$name.elf" --memory 64M </dev/null
    if ! expect_rc "linux-$name" "$want"; then
        return
    elif [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$ERR"; then
        fail "linux-$name" "stderr lacks '$needle'"
    elif [ -n "$forbidden" ] && grep -qF -- "$forbidden" <<<"$ERR"; then
        fail "linux-$name" "stderr says '$forbidden'"
    elif ! grep -q '^lapis: legacy: pit.irqs=' <<<"$ERR"; then
        fail "linux-$name" "no legacy-device statistics line: not booted as Linux"
    else
        pass "linux-$name"
    fi
}

run_case entry-state 43 "" "rebooted"
run_case reset 0 "lapis: guest rebooted (8042 reset line)" "crashed"
run_case triple-fault 0 "lapis: guest rebooted (triple fault" "crashed"
run_case poweroff 0 "" "rebooted"

# A bzImage cut short: one line, status 2, nothing run.
cache=${LAPIS_LINUX_CACHE:-tests/linux/cache}
if [ -s "$cache/vmlinuz" ]; then
    head -c 600000 "$cache/vmlinuz" >"$T/cut.bzImage"
else
    # A setup header alone: boot flag, "HdrS", protocol 2.15, then nothing.
    python3 -c '
import struct, sys
img = bytearray(0x1000)
img[0x1F1] = 1
struct.pack_into("<H", img, 0x1FE, 0xAA55)
img[0x202:0x206] = b"HdrS"
struct.pack_into("<H", img, 0x206, 0x020F)
open(sys.argv[1], "wb").write(img)' "$T/cut.bzImage"
fi
run_lapis run --kernel "$T/cut.bzImage" --memory 64M </dev/null
if expect_rc linux-bad-bzimage 2; then
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$lines" -ne 1 ]; then
        fail linux-bad-bzimage "expected one line on stderr, got $lines: $ERR"
    else
        pass linux-bad-bzimage
    fi
fi
finish
