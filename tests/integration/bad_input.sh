#!/usr/bin/env bash
# Bad input from users, table-driven: every option of `lapis run` with bad
# values, and kernel/initrd files that are empty, truncated, huge, not ELF,
# directories, unreadable, or whose segments overlap or leave guest RAM.
# Each case must print exactly one line on stderr ("lapis: ..."), nothing on
# stdout, exit with the documented status (2 input, 4 host), create no file
# in its working directory and leave no process behind. Every input case
# (status 2) runs twice: as is, and with LAPIS_KVM_DEV naming a device that
# does not exist (a host without KVM): input is checked before /dev/kvm is
# opened, so both runs must give status 2 and the same line.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

T=$TMPDIR_LAPIS
LAPIS_ABS=$(realpath -m "$LAPIS")
SEQ=0

if [ ! -x "$LAPIS" ]; then
    echo "$LAPIS is missing: run 'make $LAPIS'"
    t_failed=1
    finish
    exit 1
fi

# Processes whose environment carries @tag (any descendant of a run inherits it).
tagged_pids() {
    grep -lsF "LAPIS_BAD_INPUT_TAG=$1" /proc/[0-9]*/environ 2>/dev/null |
        sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}

# bad_once NAME WANT_RC NEEDLE ARGS...: runs lapis in an empty scratch directory
# (LAPIS_KVM_DEV from the caller's environment, if set); sets ERR.
bad_once() {
    local name=$1 want=$2 needle=$3
    shift 3
    SEQ=$((SEQ + 1))
    local tag="$$-$SEQ" cwd="$T/cwd.$SEQ" lines left files
    mkdir -p "$cwd"
    (cd "$cwd" && LAPIS_BAD_INPUT_TAG=$tag timeout -s KILL 60 "$LAPIS_ABS" "$@" \
        >"$T/out" 2>"$T/err")
    RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
    lines=$(printf '%s' "$ERR" | grep -c '')
    left=$(tagged_pids "$tag")
    files=$(ls -A "$cwd")
    rm -rf "$cwd"
    if [ "$RC" -ne "$want" ]; then
        fail "$name" "exit status $RC, expected $want"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, expected one"
    elif ! printf '%s' "$ERR" | grep -q '^lapis: '; then
        fail "$name" "stderr does not start with 'lapis: '"
    elif ! printf '%s' "$ERR" | grep -qF -- "$needle"; then
        fail "$name" "stderr lacks '$needle'"
    elif [ -n "$OUT" ]; then
        fail "$name" "unexpected output on stdout"
    elif [ -n "$left" ]; then
        fail "$name" "processes left behind: $left"
        kill -KILL $left 2>/dev/null
    elif [ -n "$files" ]; then
        fail "$name" "files created in the working directory: $files"
    else
        return 0
    fi
    return 1
}

# bad NAME WANT_RC NEEDLE ARGS...: one case. Status 2 (input) runs twice, the second
# time as on a host without KVM, and must say the same.
bad() {
    local name=$1 want=$2 first
    if ! bad_once "$@"; then
        [ "$want" -eq 2 ] && skip "$name [no kvm]" "the run with KVM failed"
        return
    fi
    pass "$name"
    [ "$want" -eq 2 ] || return
    first=$ERR
    shift
    if ! LAPIS_KVM_DEV=$T/no-kvm bad_once "$name [no kvm]" "$@"; then
        return
    elif [ "$ERR" != "$first" ]; then
        fail "$name [no kvm]" "another message without KVM: '$ERR', with: '$first'"
    else
        pass "$name [no kvm]"
    fi
}

# ---- options: one row per case: name|status|needle|arguments (split on spaces) ----
# An argument written as <empty> stands for the empty string.
while IFS='|' read -r name want needle args; do
    [ -z "$name" ] && continue
    case $name in \#*) continue ;; esac
    read -r -a argv <<<"$args"
    for i in "${!argv[@]}"; do
        [ "${argv[$i]}" = "<empty>" ] && argv[$i]=""
    done
    bad "opt-$name" "$want" "$needle" "${argv[@]}"
done <<'EOF'
no-command|2|missing command|
unknown-command|2|unknown command 'boot'|boot
option-first|2|needs a command before it|--memory 1G run
help-args|2|takes no arguments|help me
version-args|2|takes no arguments|version 2
unknown-option|2|unknown option '--frob'|run --frob
unknown-option-eq|2|unknown option '--frob'|run --frob=1
single-dash|2|unexpected argument '-m'|run -m 1G
bare-dashes|2|unexpected argument '--'|run --
stray-argument|2|unexpected argument 'kernel.elf'|run kernel.elf
json-for-run|2|does not take --json|run --json
flag-with-value|2|--verbose takes no value|run --verbose=yes
kernel-missing-arg|2|--kernel needs a value|run --kernel
kernel-empty-arg|2|--kernel needs a file name|run --kernel=
kernel-forgotten|2|got option '--cpus'|run --kernel --cpus 2
initrd-missing-arg|2|--initrd needs a value|run --initrd
initrd-empty-arg|2|--initrd needs a file name|run --initrd=
cmdline-missing-arg|2|--cmdline needs a value|run --cmdline
memory-missing-arg|2|--memory needs a value|run --memory
memory-empty|2|--memory needs a size|run --memory=
memory-zero|2|must not be zero|run --memory 0
memory-zero-g|2|must not be zero|run --memory 0G
memory-negative|2|is not a size|run --memory -1
memory-negative-eq|2|is not a size|run --memory=-512M
memory-1k|2|not a multiple of 4K|run --memory 1K
memory-4k|2|too small|run --memory 4K
memory-1m|2|too small|run --memory 1M
memory-99999g|2|too large|run --memory 99999G
memory-2t|2|too large|run --memory 2T
memory-overflow|2|too large|run --memory 18446744073709551616
memory-overflow-k|2|too large|run --memory 18014398509481984K
memory-suffix|2|unknown suffix|run --memory 12Q
memory-suffix-mb|2|trailing 'B'|run --memory 512MB
memory-suffix-space|2|unexpected argument 'M'|run --memory=512 M
memory-fraction|2|unknown suffix|run --memory 1.5G
memory-hex|2|unknown suffix|run --memory 0x100000
memory-unaligned|2|not a multiple of 4K|run --memory 4097K
memory-words|2|is not a size|run --memory lots
cpus-missing-arg|2|--cpus needs a value|run --cpus
cpus-empty|2|not a number|run --cpus=
cpus-zero|2|out of range|run --cpus 0
cpus-65|2|out of range|run --cpus 65
cpus-huge|2|out of range|run --cpus 4294967297
cpus-overflow|2|not a number|run --cpus 99999999999999999999999
cpus-negative|2|not a number|run --cpus -1
cpus-negative-eq|2|not a number|run --cpus=-1
cpus-x|2|not a number|run --cpus x
cpus-suffix|2|not a number|run --cpus 2x
cpus-hex|2|not a number|run --cpus 0x2
cpus-plus|2|not a number|run --cpus +2
cpus-space|2|not a number|run --cpus= 2
irqchip-missing-arg|2|--irqchip needs a value|run --irqchip
irqchip-foo|2|--irqchip 'foo' is not known|run --irqchip foo
irqchip-empty|2|--irqchip '' is not known|run --irqchip=
irqchip-case|2|--irqchip 'SPLIT' is not known|run --irqchip SPLIT
ioapic-missing-arg|2|--ioapic-version needs a value|run --ioapic-version
ioapic-0x12|2|use 0x11 or 0x20|run --ioapic-version 0x12
ioapic-0x|2|use 0x11 or 0x20|run --ioapic-version 0x
ioapic-empty|2|use 0x11 or 0x20|run --ioapic-version=
ioapic-0x110|2|use 0x11 or 0x20|run --ioapic-version 0x110
ioapic-long|2|use 0x11 or 0x20|run --ioapic-version 0x10000000000000000000000000020
ioapic-garbage|2|use 0x11 or 0x20|run --ioapic-version 0x2g
ioapic-negative|2|use 0x11 or 0x20|run --ioapic-version=-0x20
ioapic-word|2|use 0x11 or 0x20|run --ioapic-version new
ioapic-kernel|2|version 0x11|run --irqchip kernel --ioapic-version 0x20
eoi-missing-arg|2|--eoi-suppression needs a value|run --eoi-suppression
eoi-foo|2|use auto, enable, disable or quirk|run --eoi-suppression foo
eoi-case|2|use auto, enable, disable or quirk|run --eoi-suppression ENABLE
eoi-empty|2|use auto, enable, disable or quirk|run --eoi-suppression=
eoi-enable-kernel|2|needs --irqchip split|run --irqchip kernel --eoi-suppression enable
probe-memory|2|does not take --memory|probe --memory 1G
save-missing-arg|2|--save needs a value|run --save
save-empty|2|--save needs a file name|run --save=
save-forgotten|2|got option '--cpus'|run --save --cpus 2
save-no-dir|2|cannot create a file there|run --save /nonexistent-lapis-dir/x.snap
save-dir|2|cannot create a file there|run --save /proc/1
restore-missing-arg|2|--restore needs a value|run --restore
restore-empty|2|--restore needs a file name|run --restore=
restore-nope|2|not found|run --restore /nonexistent-lapis-dir/x.snap
restore-dir|2|not a regular file|run --restore /
restore-dev-null|2|not a regular file|run --restore /dev/null
restore-elf|2|not a lapis snapshot|run --restore /proc/self/exe
probe-save|2|does not take --save|probe --save x
probe-kernel|2|does not take --kernel|probe --kernel x
EOF

# ---- kernel and initrd files ----------------------------------------------------------

: >"$T/empty"
echo "not a kernel" >"$T/text"
head -c 16384 /dev/urandom >"$T/random"
truncate -s 2G "$T/sparse-2g"
mkfifo "$T/fifo"
ln -s "$T/loop-a" "$T/loop-b"
ln -s "$T/loop-b" "$T/loop-a"
mb_image "$T/exit42.img" "$MB_CODE_EXIT42"
cp "$T/exit42.img" "$T/sparse-2g-mb" && truncate -s 2G "$T/sparse-2g-mb"
head -c $((3 << 20)) /dev/zero >"$T/3M"
if [ -f "$GUESTS/builtin.elf" ]; then
    head -c 6000 "$GUESTS/builtin.elf" >"$T/builtin-cut.elf"
else
    cp "$T/text" "$T/builtin-cut.elf" # still refused, with another message
fi

# ELF32 multiboot kernels with chosen program headers (no a.out kludge).
python3 - "$T" <<'PY'
import struct, sys
out = sys.argv[1]
CODE = bytes.fromhex("66baf400b02aeeebfe")  # out 0xf4, 42; jmp . -> status 85

def elf(name, segs, entry=0x100000, phoff=52, phnum=None, mb=True, mb_sum_ok=True, cut=None,
        machine=3):
    """segs: (paddr, filesz, memsz, file offset) per PT_LOAD; data is CODE padded."""
    n = len(segs) if phnum is None else phnum
    eh = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    eh += struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, entry, phoff, 0, 0, 52, 32, n, 40, 0, 0)
    img = bytearray(0x3000)
    img[0:52] = eh
    for i, (paddr, filesz, memsz, off) in enumerate(segs):
        ph = struct.pack("<IIIIIIII", 1, off, paddr, paddr, filesz, memsz, 7, 0x1000)
        if phoff + 32 * i + 32 <= len(img):
            img[phoff + 32 * i:phoff + 32 * i + 32] = ph
    if mb:
        magic, flags = 0x1BADB002, 0x3
        csum = (-(magic + flags)) & 0xFFFFFFFF
        if not mb_sum_ok:
            csum ^= 1
        img[0x200:0x20C] = struct.pack("<III", magic, flags, csum)
    img[0x1000:0x1000 + len(CODE)] = CODE
    if cut is not None:
        img = img[:cut]
    open(f"{out}/{name}", "wb").write(img)

elf("good.elf", [(0x100000, 0x1000, 0x1000, 0x1000)])
elf("overlap.elf", [(0x100000, 0x1000, 0x2000, 0x1000), (0x101000, 0x1000, 0x1000, 0x2000)])
elf("out-of-ram.elf", [(0x100000, 0x1000, 0x1000, 0x1000), (0x8000000, 0x1000, 0x1000, 0x2000)])
elf("bss-out-of-ram.elf", [(0x100000, 0x1000, 0x10000000, 0x1000)])
elf("above-4g.elf", [(0xFFFFF000, 0x1000, 0x2000, 0x1000)], entry=0xFFFFF000)
elf("reserved.elf", [(0xA0000, 0x1000, 0x1000, 0x1000)], entry=0xA0000)
elf("entry-outside.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], entry=0x200000)
elf("filesz-gt-memsz.elf", [(0x100000, 0x2000, 0x1000, 0x1000)])
elf("data-past-eof.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], cut=0x1800)
elf("truncated-phdrs.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], cut=60)
elf("truncated-header.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], cut=20)
elf("phdrs-past-eof.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], phoff=0x100000)
elf("no-load.elf", [], phnum=0)
elf("bad-checksum.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], mb_sum_ok=False)
elf("no-multiboot.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], mb=False)
elf("arm.elf", [(0x100000, 0x1000, 0x1000, 0x1000)], machine=40)

# Linux: an x86-64 vmlinux loaded at 16 MiB (a hlt), and a bzImage that is a setup header only.
BASE = 0x1000000
eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, BASE, 64, 0, 0, 64, 56, 1, 64, 0, 0)
img = bytearray(0x1001)
img[0:64] = eh
img[64:120] = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, BASE, BASE, 1, 1, 0x1000)
img[0x1000] = 0xF4
open(f"{out}/vmlinux.elf", "wb").write(img)
img = bytearray(0x1000)
img[0x1F1] = 1
struct.pack_into("<H", img, 0x1FE, 0xAA55)
img[0x202:0x206] = b"HdrS"
struct.pack_into("<H", img, 0x206, 0x020F)
open(f"{out}/cut.bzImage", "wb").write(img)
PY

# The generator itself works: the well-formed file boots.
run_lapis run --kernel "$T/good.elf"
if [ -z "$(kvm_missing)" ]; then
    expect_rc elf-generator-good 85 && pass elf-generator-good
fi

while IFS='|' read -r name want needle args; do
    [ -z "$name" ] && continue
    case $name in \#*) continue ;; esac
    read -r -a argv <<<"${args//@T@/$T}"
    bad "file-$name" "$want" "${needle//@T@/$T}" "${argv[@]}"
done <<'EOF'
kernel-missing|2|not found|run --kernel @T@/nope.elf
kernel-dir|2|not a regular file|run --kernel @T@
kernel-fifo|2|not a regular file|run --kernel @T@/fifo
kernel-dev-null|2|not a regular file|run --kernel /dev/null
kernel-symlink-loop|2|cannot read kernel|run --kernel @T@/loop-a
kernel-empty|2|is empty|run --kernel @T@/empty
kernel-text|2|not an ELF or multiboot file|run --kernel @T@/text
kernel-random|2|not an ELF or multiboot file|run --kernel @T@/random
kernel-sparse-2g|2|not an ELF or multiboot file|run --memory 3G --kernel @T@/sparse-2g
kernel-sparse-2g-multiboot|2|larger than guest RAM|run --kernel @T@/sparse-2g-mb
kernel-sparse-2g-multiboot-16m|2|larger than guest RAM|run --memory 16M --kernel @T@/sparse-2g-mb
kernel-truncated-guest|2|segment|run --kernel @T@/builtin-cut.elf
kernel-no-multiboot|2|no multiboot header|run --kernel @T@/no-multiboot.elf
kernel-bad-checksum|2|checksum is wrong|run --kernel @T@/bad-checksum.elf
kernel-truncated-header|2|no multiboot header|run --kernel @T@/truncated-header.elf
kernel-truncated-phdrs|2|ELF|run --kernel @T@/truncated-phdrs.elf
kernel-phdrs-past-eof|2|ELF|run --kernel @T@/phdrs-past-eof.elf
kernel-data-past-eof|2|segment 0|run --kernel @T@/data-past-eof.elf
kernel-overlap|2|overlap|run --kernel @T@/overlap.elf
kernel-out-of-ram|2|does not fit|run --memory 16M --kernel @T@/out-of-ram.elf
kernel-bss-out-of-ram|2|does not fit|run --memory 16M --kernel @T@/bss-out-of-ram.elf
kernel-above-4g|2|wraps around|run --kernel @T@/above-4g.elf
kernel-reserved|2|reserved area|run --kernel @T@/reserved.elf
kernel-entry-outside|2|entry point 0x200000|run --kernel @T@/entry-outside.elf
kernel-filesz-gt-memsz|2|segment 0|run --kernel @T@/filesz-gt-memsz.elf
kernel-no-load|2|program headers|run --kernel @T@/no-load.elf
kernel-arm|2|ELF|run --kernel @T@/arm.elf
initrd-missing|2|initrd '@T@/nope' not found|run --kernel @T@/exit42.img --initrd @T@/nope
initrd-dir|2|not a regular file|run --kernel @T@/exit42.img --initrd @T@
initrd-too-big|2|larger than guest RAM|run --kernel @T@/exit42.img --memory 2M --initrd @T@/3M
initrd-sparse-2g|2|larger than guest RAM|run --kernel @T@/exit42.img --initrd @T@/sparse-2g
linux-vmlinux-out-of-ram|2|not inside guest RAM|run --memory 16M --kernel @T@/vmlinux.elf
linux-initrd-too-big|2|larger than guest RAM|run --memory 16M --kernel @T@/vmlinux.elf --initrd @T@/sparse-2g
linux-bzimage-cut|2|bzImage|run --kernel @T@/cut.bzImage
linux-save|2|drop --save|run --kernel @T@/vmlinux.elf --save @T@/x.snap
EOF

# Unreadable files: root reads anything, so run as nobody there.
: >"$T/locked"
chmod 000 "$T/locked"
if [ "$(id -u)" -ne 0 ]; then
    bad file-kernel-unreadable 2 "Permission denied" run --kernel "$T/locked"
elif command -v runuser >/dev/null && NOBODY_LAPIS=$(lapis_for_nobody); then
    chmod o+rx "$T"
    mkdir -p "$T/cwd.nobody" && chmod 777 "$T/cwd.nobody"
    first=
    for kvm in "" "$T/no-kvm"; do
        name=file-kernel-unreadable${kvm:+ [no kvm]}
        o=$(cd "$T/cwd.nobody" && runuser -u nobody -- env ${kvm:+LAPIS_KVM_DEV=$kvm} \
            "$NOBODY_LAPIS" run --kernel "$T/locked" 2>&1 >/dev/null)
        RC=$? ERR=$o OUT=
        if [ "$RC" -eq 2 ] && [ "$(printf '%s' "$o" | grep -c '')" -eq 1 ] &&
            printf '%s' "$o" | grep -q "^lapis: cannot read kernel.*Permission denied" &&
            [ -z "$(ls -A "$T/cwd.nobody")" ] && [ -z "$first" -o "$o" = "$first" ]; then
            pass "$name"
        else
            fail "$name" "exit $RC"
        fi
        first=$o
    done
else
    skip file-kernel-unreadable "running as root, and the user nobody cannot run a copy of lapis"
fi

# Host problems: exit 4, one line.
LAPIS_KVM_DEV=$T/no-kvm bad host-no-kvm 4 "not found: this host has no KVM" run \
    --kernel "$T/exit42.img"
LAPIS_KVM_DEV=/dev/null bad host-not-kvm 4 "is it really KVM" run --kernel "$T/exit42.img"

finish
