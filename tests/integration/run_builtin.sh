#!/usr/bin/env bash
# lapis run on KVM: the built-in guest under every IOAPIC version x EOI policy
# and the kernel irqchip, the userspace emulation of the fix, the held-back
# EOI recovery (halt_eoi), SMP, the UART interrupt, crashes, signals, and bad
# input (one line on stderr, exit 2 or 4). Spec: ../shared/spec/eoi.md.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

T=$TMPDIR_LAPIS

# ---- bad input: no KVM needed, the check comes before /dev/kvm is opened ----

# bad NAME WANT_RC NEEDLE ARGS...: one line on stderr containing NEEDLE, nothing on stdout.
bad() {
    local name=$1 want=$2 needle=$3
    shift 3
    run_lapis "$@"
    local lines
    lines=$(printf '%s' "$ERR" | grep -c '')
    if [ "$RC" -ne "$want" ]; then
        fail "$name" "exit status $RC, expected $want"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, expected one"
    elif ! printf '%s' "$ERR" | grep -qF -- "$needle"; then
        fail "$name" "stderr lacks '$needle'"
    elif ! printf '%s' "$ERR" | grep -q '^lapis: '; then
        fail "$name" "stderr does not start with 'lapis: '"
    elif [ -n "$OUT" ]; then
        fail "$name" "unexpected output on stdout"
    else
        pass "$name"
    fi
}

if [ ! -x "$LAPIS" ]; then
    echo "$LAPIS is missing: run 'make $LAPIS'"
    t_failed=1
    finish
    exit 1
fi

: >"$T/empty"
echo "not a kernel" >"$T/text"
mb_image "$T/exit42.img" "$MB_CODE_EXIT42"
mb_image "$T/huge-bss.img" "$MB_CODE_EXIT42" 0x10000000
mb_image "$T/spin.img" "$MB_CODE_SPIN"
mb_image "$T/triple.img" "$MB_CODE_TRIPLE"
mb_image "$T/poweroff.img" "$MB_CODE_POWEROFF"
head -c $((3 << 20)) /dev/zero >"$T/3M"

bad no-command 2 "missing command"
bad unknown-command 2 "unknown command 'boot'" boot
bad unknown-option 2 "unknown option '--frob'" run --frob
bad stray-argument 2 "unexpected argument 'x'" run x
bad missing-value 2 "--memory needs a value" run --memory
bad forgotten-value 2 "got option '--verbose'" run --kernel --verbose
bad memory-zero 2 "must not be zero" run --memory 0
bad memory-suffix 2 "unknown suffix" run --memory 12Q
bad memory-overflow 2 "too large" run --memory 99999999999999999999G
bad memory-small 2 "too small" run --memory 1M
bad cpus-zero 2 "out of range" run --cpus 0
bad cpus-many 2 "out of range" run --cpus 65
bad cpus-junk 2 "not a number" run --cpus two
bad irqchip 2 "--irqchip 'bogus'" run --irqchip bogus
bad ioapic-version 2 "use 0x11 or 0x20" run --ioapic-version 0x30
bad eoi-mode 2 "use auto, enable, disable or quirk" run --eoi-suppression maybe
bad kernel-missing 2 "not found" run --kernel "$T/nope.elf"
bad kernel-dir 2 "not a regular file" run --kernel "$T"
bad kernel-empty 2 "is empty" run --kernel "$T/empty"
bad kernel-text 2 "not an ELF or multiboot file" run --kernel "$T/text"
bad kernel-no-multiboot 2 "no multiboot header" run --kernel "$LAPIS"
bad initrd-missing 2 "initrd" run --kernel "$T/exit42.img" --initrd "$T/nope"
bad initrd-too-big 2 "larger than guest RAM" run --kernel "$T/exit42.img" --memory 2M \
    --initrd "$T/3M"
bad kernel-irqchip-0x20 2 "version 0x11" run --irqchip kernel --ioapic-version 0x20 \
    --kernel "$T/exit42.img"
LAPIS_KVM_DEV=$T/no-kvm bad no-kvm 4 "not found: this host has no KVM" run \
    --kernel "$T/exit42.img"

run_lapis --help
if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -q -- '--eoi-suppression'; then
    pass help
else
    fail help "exit $RC or no usage text"
fi
run_lapis --version
if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -q '^lapis [0-9]'; then
    pass version
else
    fail version "exit $RC, output '$OUT'"
fi

why=$(kvm_missing)
if [ -n "$why" ]; then
    skip kvm "$why: the guests cannot run"
    finish
    exit
fi

# Permission: as root, run as nobody; otherwise a device node we cannot open.
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null && NOBODY_LAPIS=$(lapis_for_nobody); then
    chmod o+rx "$T"
    o=$(runuser -u nobody -- "$NOBODY_LAPIS" run --kernel "$T/exit42.img" 2>&1 >/dev/null)
    rc=$?
    ERR=$o OUT=
    if [ "$rc" -eq 4 ] && [ "$(printf '%s' "$o" | grep -c '')" -eq 1 ] &&
        printf '%s' "$o" | grep -q 'kvm group'; then
        pass no-permission
    else
        fail no-permission "exit $rc"
    fi
elif [ "$(id -u)" -eq 0 ]; then
    skip no-permission "running as root, and the user nobody cannot run a copy of lapis"
else
    : >"$T/kvm-locked"
    chmod 000 "$T/kvm-locked"
    LAPIS_KVM_DEV=$T/kvm-locked bad no-permission 4 "kvm group" run --kernel "$T/exit42.img"
fi

# ---- tiny hand-made kernels: exit statuses -----------------------------------------

run_lapis run --kernel "$T/exit42.img"
expect_rc debug-exit 85 && expect_stat debug-exit status eq 85 && pass debug-exit
run_lapis run --kernel "$T/poweroff.img" --cpus 2
expect_rc poweroff 0 && expect_stat poweroff cpus eq 2 && pass poweroff
run_lapis run --kernel "$T/triple.img"
if expect_rc triple-fault 6; then
    if printf '%s' "$ERR" | grep -q 'triple fault.*vCPU 0 at RIP 0x'; then
        pass triple-fault
    else
        fail triple-fault "no message naming the vCPU and RIP"
    fi
fi
bad loader-no-fit 2 "does not fit" run --kernel "$T/huge-bss.img" --memory 16M
run_lapis run --kernel "$T/exit42.img" --memory 4G
expect_rc memory-above-4g 85 && pass memory-above-4g
run_lapis run --kernel "$T/exit42.img" --memory 16M --initrd "$T/3M"
expect_rc initrd 85 && pass initrd

# Signals: every vCPU thread (APs still waiting for SIPI too) is kicked out and joined.
for sig in INT TERM; do
    "$LAPIS" run --kernel "$T/spin.img" --cpus 3 >"$T/sig.out" 2>"$T/sig.err" &
    pid=$!
    sleep 1
    kill -s "$sig" "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid"
        fail "sig$sig" "lapis did not stop within 10 s"
        continue
    fi
    wait "$pid"
    RC=$? OUT= ERR=$(cat "$T/sig.err")
    STATS=$(grep '^lapis: stats: ' "$T/sig.err")
    expect_rc "sig$sig" 8 && expect_stat "sig$sig" status eq 8 &&
        grep -q "stopped by SIG$sig" "$T/sig.err" && pass "sig$sig"
done

# ---- the built-in guest: every IOAPIC version x EOI policy (spec §4-§6) ---------------

BUILTIN=$GUESTS/builtin.elf

# builtin NAME WANT_MODE ARGS...: runs the built-in guest (default kernel), which
# checks that the VM keeps what lapis.eoi=<mode> promises and powers off if so.
builtin() {
    local name=$1 mode=$2
    shift 2
    run_lapis run "$@"
    expect_rc "$name" 0 || return 1
    expect_stat "$name" mode str "$mode" || return 1
    if ! printf '%s' "$OUT" | grep -q "behaves as"; then
        fail "$name" "the guest's verdict is missing"
        return 1
    fi
    return 0
}

if need_guest builtin "$BUILTIN"; then
    for ver in 0x11 0x20; do
        for eoi in auto enable disable quirk; do
            name="builtin-$ver-$eoi"
            case $eoi/$ver in
            auto/0x20) want=enable ;;
            auto/0x11) want=disable ;;
            *) want=$eoi ;;
            esac
            builtin "$name" "$want" --ioapic-version "$ver" --eoi-suppression "$eoi" || continue
            expect_stat "$name" ioapic str "$ver" || continue
            case $want in
            quirk)
                # The bug shows: EOI exits arrive while the guest has SVR bit 12 set.
                expect_stat "$name" eoi.svr12 gt 0 || continue
                ;;
            enable)
                # Suppression honoured: no exit reports an EOI the guest suppressed.
                expect_stat "$name" eoi.svr12 eq 0 || continue
                if [ "$ver" = 0x20 ]; then
                    expect_stat "$name" eoi.eoir gt 0 || continue
                fi
                ;;
            disable)
                # Directed EOI is not offered: every EOI is a broadcast, never EOIR.
                expect_stat "$name" eoi.eoir eq 0 || continue
                expect_stat "$name" eoi.exit gt 0 || continue
                ;;
            esac
            pass "$name"
        done
    done

    # KVM's own IOAPIC beside its LAPIC: no EOI exits reach lapis.
    if builtin builtin-kernel-irqchip quirk --irqchip kernel; then
        expect_stat builtin-kernel-irqchip irqchip str kernel &&
            expect_stat builtin-kernel-irqchip exits.eoi eq 0 &&
            expect_stat builtin-kernel-irqchip irqs gt 0 && pass builtin-kernel-irqchip
    fi

    # A kernel without the flags (pretended): quirk plus the fix emulated in userspace.
    export LAPIS_TEST_NO_EOI_FLAGS=1
    if builtin emulated-0x20 enable-emulated --ioapic-version 0x20; then
        expect_stat emulated-0x20 eoi.svr12 gt 0 && expect_stat emulated-0x20 eoi.ignored gt 0 &&
            expect_stat emulated-0x20 eoi.eoir gt 0 && pass emulated-0x20
    fi
    if builtin emulated-0x11 quirk --ioapic-version 0x11; then
        if printf '%s' "$ERR" | grep -q 'warning: .*cannot EOI the IOAPIC'; then
            pass emulated-0x11
        else
            fail emulated-0x11 "no warning about Directed EOI with a 0x11 IOAPIC"
        fi
    fi
    bad no-flags-enable 2 "lacks KVM_X2APIC" run --eoi-suppression enable
    bad no-flags-disable 2 "lacks KVM_X2APIC" run --eoi-suppression disable
    unset LAPIS_TEST_NO_EOI_FLAGS

    # --cmdline reaches the guest: promised quirk, it finds enable and says so.
    run_lapis run --cmdline lapis.eoi=quirk
    if expect_rc cmdline 3 && printf '%s' "$OUT" | grep -q "does NOT behave as 'quirk'"; then
        pass cmdline
    fi

    run_lapis run --verbose
    if expect_rc verbose 0 && printf '%s' "$ERR" | grep -q 'EOI suppression enable'; then
        pass verbose
    else
        fail verbose "--verbose did not print the negotiated mode"
    fi
fi

# ---- held-back EOI exits (spec §7): the guest EOIs then halts with no exit between ----

# The guest must finish on every host; recoveries happen only where the host holds
# EOI exits back (the probe says), and never where it does not.
if need_guest halt_eoi "$GUESTS/halt_eoi.elf"; then
    case $(host_holds_eoi_back) in
    yes) rec_op=gt ;;
    no) rec_op=eq ;;
    *) rec_op= ;;
    esac
    [ -n "$rec_op" ] || fail halt_eoi "lapis probe could not tell whether EOI exits are held back here"
    for eoi in ${rec_op:+auto quirk}; do
        run_lapis run --kernel "$GUESTS/halt_eoi.elf" --eoi-suppression "$eoi"
        expect_rc "halt_eoi-$eoi" 0 && expect_stat "halt_eoi-$eoi" recoveries "$rec_op" 0 &&
            pass "halt_eoi-$eoi"
    done
fi

# ---- SMP ----------------------------------------------------------------------------

if need_guest smp "$GUESTS/smp.elf"; then
    for n in 2 4; do
        run_lapis run --kernel "$GUESTS/smp.elf" --cpus "$n"
        expect_rc "smp-$n" 0 && expect_stat "smp-$n" cpus eq "$n" && pass "smp-$n"
    done
fi

# ---- the UART's interrupt through IOAPIC pin 4 ----------------------------------------

if need_guest uart_irq "$GUESTS/uart_irq.elf"; then
    for chip in split kernel; do
        run_lapis run --kernel "$GUESTS/uart_irq.elf" --irqchip "$chip"
        expect_rc "uart_irq-$chip" 0 && expect_stat "uart_irq-$chip" irqs gt 0 &&
            pass "uart_irq-$chip"
    done
fi

finish
