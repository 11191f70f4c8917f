#!/usr/bin/env bash
# Port access widths as QEMU 7.2 delivers them (src/devices/portio.h), with
# guest/progs/ports.c: isa-debug-exit (iobase 0xf4, iosize 4) written with
# outb, outw and outl, also across its edges; fw_cfg's CPU count through a
# 16-bit selector write and byte reads, and fw_cfg at other widths; every CPU
# writing isa-debug-exit at once. Every irqchip mode, 1, 2 and 4 vCPUs. Where
# QEMU is installed, the same guest runs under it and must give the same
# statuses and probe lines.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

G=$GUESTS/ports.elf
QEMU=${QEMU:-qemu-system-x86_64}

suite_start ports "$G"

# status V: what isa-debug-exit makes of a write of V (8 bits of (V << 1) | 1).
status() { echo $(((($1 << 1) | 1) & 0xFF)); }

# The probe lines of `fwcfg`, as QEMU 7.2 gives them (@N@: the CPU count).
PROBES='probe sel16-data8x4 = 0x554d4551
probe inb-sel = 0x4551
probe outb-sel = 0x4551
probe outw-data = 0x4551
probe outl-sel = 0x4551
probe sel16-write-channel = 0x@N@
probe inw-data = 0xff51
probe inb-after = 0x45
probe inw-sel = 0x0
probe inb-after = 0x51
probe inl-sel = 0x0
probe inb-after = 0x51
probe inl-50f = 0xff0000ff
probe inb-after = 0x51
probe rep-insb = 0x554d4551'

# Writes at and around 0xf4: NAME WIDTH PORT VALUE STATUS (the bytes that reach the device).
EDGES='outw-f5 w 0xf5 0x1234 105
outl-f3 l 0xf3 0x11223344 103
outl-f6 l 0xf6 0x11223344 137
outw-f7 w 0xf7 0x1122 69
outl-f1 l 0xf1 0x11223344 35
outb-f8 b 0xf8 0x11 0'

# exit_case NAME WANT CMDLINE ARGS...: lapis stops with WANT and says nothing is wrong.
exit_case() {
    local name=$1 want=$2 cl=$3
    shift 3
    run_lapis run --kernel "$G" --cmdline "$cl" "$@"
    expect_rc "$name" "$want" || return 1
    if [ "$want" -ne 0 ] && printf '%s\n' "$OUT" | grep -q 'still running'; then
        fail "$name" "the guest went on after its write"
        return 1
    fi
    if [ "$want" -eq 0 ] && ! printf '%s\n' "$OUT" | grep -q 'still running after the write'; then
        fail "$name" "the guest did not report that its write was ignored"
        return 1
    fi
    pass "$name"
}

for irq in split kernel user; do
    for cpus in 1 2 4; do
        c="$irq-$cpus"
        args=(--irqchip "$irq" --cpus "$cpus")
        exit_case "outb-$c" "$(status 0x21)" "exit=b value=0x21" "${args[@]}"
        exit_case "outw-$c" "$(status 0x1234)" "exit=w value=0x1234" "${args[@]}"
        exit_case "outl-$c" "$(status 0x12345678)" "exit=l value=0x12345678" "${args[@]}"

        # fw_cfg: the CPU count, and every probe as QEMU gives it.
        run_lapis run --kernel "$G" --cmdline fwcfg "${args[@]}"
        OUT=$(printf '%s\n' "$OUT" | tr -d '\r') # the guest ends its lines with \r\n
        got=$(printf '%s\n' "$OUT" | sed -n 's/^ports: cpus=//p')
        if ! expect_rc "fwcfg-$c" 0; then
            :
        elif [ "$got" != "$cpus" ]; then
            fail "fwcfg-$c" "fw_cfg gives ${got:-no} CPU count, expected $cpus"
        elif [ "$(printf '%s\n' "$OUT" | grep '^probe ')" != "${PROBES//@N@/$(printf %x "$cpus")}" ]; then
            fail "fwcfg-$c" "the probes differ from QEMU's: $(diff <(printf '%s\n' \
                "${PROBES//@N@/$(printf %x "$cpus")}") <(printf '%s\n' "$OUT" | grep '^probe ') |
                grep '^[<>]' | tr '\n' ' ')"
        else
            pass "fwcfg-$c"
        fi

        # Every CPU writes at once: one of the statuses, and no hang.
        run_lapis run --kernel "$G" --cmdline "exit=smp value=0x10" "${args[@]}"
        ok=0
        for ((i = 0; i < cpus; i++)); do
            [ "$RC" -eq "$(status $((0x10 + i)))" ] && ok=1
        done
        if [ "$ok" -ne 1 ]; then
            fail "smp-exit-$c" "exit status $RC is none of the $cpus CPUs' statuses"
        elif ! printf '%s\n' "$OUT" | grep -q "^ports: $cpus of $cpus CPUs write"; then
            fail "smp-exit-$c" "not every CPU took part"
        elif [ "$(stat refused.pio)" != 0 ] || [ "$(stat unknown.pio)" != 0 ]; then
            fail "smp-exit-$c" "ports refused or unknown: $STATS"
        else
            pass "smp-exit-$c (status $RC)"
        fi
    done
done

while read -r name width port value want; do
    exit_case "edge-$name" "$want" "exit=$width port=$port value=$value"
done <<<"$EDGES"

# ---- QEMU, the reference ------------------------------------------------------------------

# qemu_run SMP CMDLINE: sets RC and OUT (its serial output).
qemu_run() {
    local o=$TMPDIR_LAPIS/qemu.out
    timeout -k 5 90 "$QEMU" -machine q35,kernel-irqchip=split -accel kvm -m 256 -smp "$1" \
        -display none -serial stdio -no-reboot -monitor none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$G" -append "$2" \
        </dev/null >"$o" 2>/dev/null
    RC=$?
    OUT=$(tr -d '\r' <"$o")
    ERR=
}

if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip qemu-reference "$QEMU is not installed (apt-get install qemu-system-x86)"
else
    qemu_run 2 fwcfg
    if expect_rc qemu-fwcfg 0; then
        if [ "$(printf '%s\n' "$OUT" | grep '^probe ')" = "${PROBES//@N@/2}" ]; then
            pass qemu-fwcfg
        else
            fail qemu-fwcfg "QEMU's probes are not the table above"
        fi
    fi
    for w in "b 0x21" "w 0x1234" "l 0x12345678"; do
        read -r width value <<<"$w"
        qemu_run 1 "exit=$width value=$value"
        expect_rc "qemu-out$width" "$(status "$value")" && pass "qemu-out$width"
    done
    while read -r name width port value want; do
        qemu_run 1 "exit=$width port=$port value=$value"
        expect_rc "qemu-edge-$name" "$want" && pass "qemu-edge-$name"
    done <<<"$EDGES"
    qemu_run 4 "exit=smp value=0x10"
    case $RC in
    33 | 35 | 37 | 39) pass "qemu-smp-exit (status $RC)" ;;
    *) fail qemu-smp-exit "exit status $RC" ;;
    esac
fi

finish
