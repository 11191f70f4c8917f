#!/usr/bin/env bash
# lapis run --irqchip user: lapis's own LAPIC and IOAPIC models with no irqchip
# in KVM (src/kvm/userapic.c). The built-in guest under every IOAPIC version x
# EOI policy (also on a kernel without the EOI flags, pretended), the seed's
# DISABLE flag, halt_eoi (no held-back EOI can happen
# here), SMP bring-up, the UART interrupt, the LAPIC timer and IPIs (also
# under split irqchip, KVM's LAPIC, as the reference), HLT without a busy
# loop, and stopping with vCPUs blocked in HLT or wait-for-SIPI.
# Spec: ../shared/spec/eoi.md (§6 policy, §8 this mode on this host).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash
unset LAPIS_TEST_SEED_DISABLE LAPIS_STATS

T=$TMPDIR_LAPIS

if [ ! -x "$LAPIS" ]; then
    echo "$LAPIS is missing: run 'make $LAPIS'"
    t_failed=1
    finish
    exit 1
fi

why=$(kvm_missing)
if [ -n "$why" ]; then
    skip userapic "$why: the guests cannot run"
    finish
    exit
fi

# user NAME ARGS...: lapis run --irqchip user ARGS; exit 0, irqchip=user, and
# nothing this mode makes impossible: no EOI exit, no recovery, no ioctl error.
user() {
    local name=$1
    shift
    run_lapis run --irqchip user "$@"
    expect_rc "$name" 0 || return 1
    expect_stat "$name" irqchip str user || return 1
    expect_stat "$name" exits.eoi eq 0 || return 1
    expect_stat "$name" recoveries eq 0 || return 1
    expect_stat "$name" apic.errors eq 0 || return 1
    return 0
}

# ---- the built-in guest: every IOAPIC version x EOI policy (spec §6) --------------------

BUILTIN=$GUESTS/builtin.elf
if need_guest builtin "$BUILTIN"; then
    for ver in 0x11 0x20; do
        for eoi in auto enable disable quirk; do
            name="user-builtin-$ver-$eoi"
            case $eoi/$ver in
            auto/0x20) want=enable ;;
            auto/0x11) want=disable ;;
            *) want=$eoi ;;
            esac
            user "$name" --ioapic-version "$ver" --eoi-suppression "$eoi" || continue
            expect_stat "$name" mode str "$want" || continue
            expect_stat "$name" ioapic str "$ver" || continue
            expect_stat "$name" apic.inject gt 0 || continue
            if ! printf '%s' "$OUT" | grep -q "behaves as '$want' promises"; then
                fail "$name" "the guest's verdict is missing or not '$want'"
                continue
            fi
            case $want in
            enable)
                # The directed round's EOI was suppressed; the guest EOIed the IOAPIC itself.
                expect_stat "$name" apic.eoi.suppressed gt 0 || continue
                if [ "$ver" = 0x20 ]; then
                    expect_stat "$name" eoi.eoir gt 0 || continue
                fi
                ;;
            quirk)
                # SVR bit 12 ignored, as KVM's quirk: every level EOI is broadcast.
                expect_stat "$name" apic.eoi.suppressed eq 0 || continue
                expect_stat "$name" apic.eoi.bcast ge 4 || continue
                ;;
            disable)
                expect_stat "$name" apic.eoi.suppressed eq 0 || continue
                expect_stat "$name" eoi.eoir eq 0 || continue
                expect_stat "$name" apic.eoi.bcast ge 2 || continue
                ;;
            esac
            pass "$name"
        done
    done

    # A kernel without KVM_X2APIC_{ENABLE,DISABLE}_SUPPRESS_EOI_BROADCAST (Debian's
    # 6.1 and 6.12; pretended): lapis's own LAPIC does not need them, so user/auto
    # still gives ENABLE with 0x20 and DISABLE with 0x11, and forced modes still
    # work. Split irqchip, KVM's LAPIC, is the contrast: the emulated fix, or quirk.
    export LAPIS_TEST_NO_EOI_FLAGS=1
    for ver in 0x20 0x11; do
        case $ver in
        0x20) want=enable split_want=enable-emulated ;;
        0x11) want=disable split_want=quirk ;;
        esac
        name=user-noflags-$ver-auto
        if user "$name" --ioapic-version "$ver" --eoi-suppression auto; then
            if ! expect_stat "$name" mode str "$want"; then
                :
            elif ! printf '%s' "$OUT" | grep -q "behaves as '$want' promises"; then
                fail "$name" "the guest's verdict is missing or not '$want'"
            elif printf '%s' "$ERR" | grep -q 'warning:'; then
                fail "$name" "a warning about the kernel's flags, which this mode does not use"
            else
                pass "$name"
            fi
        fi
        for eoi in enable disable; do
            name=user-noflags-$ver-$eoi
            user "$name" --ioapic-version "$ver" --eoi-suppression "$eoi" &&
                expect_stat "$name" mode str "$eoi" && pass "$name"
        done
        name=split-noflags-$ver-auto
        run_lapis run --irqchip split --ioapic-version "$ver" --eoi-suppression auto
        if expect_rc "$name" 0 && expect_stat "$name" irqchip str split &&
            expect_stat "$name" mode str "$split_want"; then
            if [ "$ver" = 0x11 ] && ! printf '%s' "$ERR" | grep -q 'warning: .*cannot EOI the IOAPIC'; then
                fail "$name" "no warning about Directed EOI with a 0x11 IOAPIC"
            else
                pass "$name"
            fi
        fi
    done
    unset LAPIS_TEST_NO_EOI_FLAGS

    # The seed's SPLIT_IRQCHIP_API DISABLE flag, applied before any vCPU exists:
    # even auto with a 0x20 IOAPIC then offers no Directed EOI (no LVR bit 24).
    export LAPIS_TEST_SEED_DISABLE=1
    if user user-seed-disable --ioapic-version 0x20; then
        if ! printf '%s' "$OUT" | grep -q 'Directed EOI not offered (LVR 0x0006'; then
            fail user-seed-disable "LVR bit 24 is still offered"
        elif ! printf '%s' "$OUT" | grep -q "behaves as 'disable' promises"; then
            fail user-seed-disable "the guest was not told lapis.eoi=disable"
        else
            expect_stat user-seed-disable mode str disable && pass user-seed-disable
        fi
    fi
    unset LAPIS_TEST_SEED_DISABLE

    run_lapis run --irqchip user --verbose
    if expect_rc user-verbose 0 && printf '%s' "$ERR" | grep -q 'lapis: irqchip user, IOAPIC 0x20'; then
        pass user-verbose
    else
        fail user-verbose "--verbose did not say irqchip user"
    fi

    export LAPIS_STATS=json
    run_lapis run --irqchip user
    if expect_rc user-json 0 && printf '%s' "$ERR" | grep -q '^{"status":0,"mode":"enable","irqchip":"user"'; then
        pass user-json
    else
        fail user-json "no JSON object with irqchip \"user\""
    fi
    unset LAPIS_STATS
fi

# ---- halt_eoi: EOI then hlt with no exit between. Here the EOI reaches the IOAPIC
# ---- directly, so nothing is held back and no recovery is needed (spec §7).

if need_guest halt_eoi "$GUESTS/halt_eoi.elf"; then
    for eoi in auto quirk; do
        name=user-halt_eoi-$eoi
        user "$name" --kernel "$GUESTS/halt_eoi.elf" --eoi-suppression "$eoi" &&
            expect_stat "$name" exits.hlt gt 0 && expect_stat "$name" irqs ge 50 &&
            expect_stat "$name" apic.eoi.bcast ge 50 && pass "$name"
    done
fi

# ---- SMP: INIT-SIPI-SIPI through lapis's LAPICs ------------------------------------------

if need_guest smp "$GUESTS/smp.elf"; then
    for n in 2 4; do
        for apic in x2apic xapic; do
            name=user-smp-$n-$apic
            user "$name" --kernel "$GUESTS/smp.elf" --cpus "$n" --cmdline "apic=$apic" &&
                expect_stat "$name" cpus eq "$n" && expect_stat "$name" apic.sipi eq $((n - 1)) &&
                pass "$name"
        done
    done
fi

# ---- the UART's interrupt through IOAPIC pin 4 -------------------------------------------

if need_guest uart_irq "$GUESTS/uart_irq.elf"; then
    user user-uart_irq --kernel "$GUESTS/uart_irq.elf" && expect_stat user-uart_irq irqs gt 0 &&
        pass user-uart_irq
fi

# ---- the LAPIC timer; KVM's LAPIC (split) runs the same guest as the reference -----------

if need_guest timer "$GUESTS/timer.elf"; then
    for apic in x2apic xapic; do
        name=user-timer-$apic
        user "$name" --kernel "$GUESTS/timer.elf" --cmdline "apic=$apic" &&
            expect_stat "$name" apic.timer gt 30 && pass "$name"
        name=split-timer-$apic
        run_lapis run --irqchip split --kernel "$GUESTS/timer.elf" --cmdline "apic=$apic"
        expect_rc "$name" 0 && expect_stat "$name" irqchip str split && pass "$name"
    done
fi

# ---- IPIs between two vCPUs (and the x2APIC #GP cases); split as the reference -----------

if need_guest ipi "$GUESTS/ipi.elf"; then
    for apic in x2apic xapic; do
        name=user-ipi-$apic
        if user "$name" --kernel "$GUESTS/ipi.elf" --cpus 2 \
            --cmdline "apic=$apic lapis.irqchip=user"; then
            # NMIs went through KVM_NMI; the faults were #GP from lapis's model.
            expect_stat "$name" apic.nmi ge 2 && expect_stat "$name" apic.gp ge 2 &&
                expect_stat "$name" apic.ipi gt 20 && pass "$name"
        fi
        name=split-ipi-$apic
        run_lapis run --irqchip split --kernel "$GUESTS/ipi.elf" --cpus 2 --cmdline "apic=$apic"
        expect_rc "$name" 0 && expect_stat "$name" irqchip str split && pass "$name"
    done
fi

# ---- HLT blocks in userspace: no busy loop ------------------------------------------------

# sti; hlt; jmp back: nothing ever interrupts it. A VMM that re-entered KVM_RUN
# after the HLT exit would count a new HLT exit each time round.
mb_image "$T/idle.img" '\xfb\xf4\xeb\xfd'
mb_image "$T/spin.img" "$MB_CODE_SPIN"

# stop_after NAME IMG CPUS: runs IMG under --irqchip user, SIGTERMs it after 1 s; sets RC, ERR, STATS.
stop_after() {
    local name=$1 img=$2 cpus=$3 pid
    "$LAPIS" run --irqchip user --kernel "$img" --cpus "$cpus" >"$T/stop.out" 2>"$T/stop.err" &
    pid=$!
    sleep 1
    kill -s TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid"
        RC=124 OUT= ERR=$(cat "$T/stop.err") STATS=
        fail "$name" "lapis did not stop within 10 s"
        return 1
    fi
    wait "$pid"
    RC=$? OUT= ERR=$(cat "$T/stop.err")
    STATS=$(grep '^lapis: stats: ' "$T/stop.err")
    expect_rc "$name" 8
}

# The BSP halts for good (one HLT exit, then it sleeps); the APs wait for SIPI.
stop_after user-hlt-idle "$T/idle.img" 3 && expect_stat user-hlt-idle exits.hlt eq 1 &&
    expect_stat user-hlt-idle apic.sleep ge 3 && expect_stat user-hlt-idle status eq 8 &&
    pass user-hlt-idle
# Running vCPU plus APs in wait-for-SIPI: every thread is woken and joined.
stop_after user-sigterm "$T/spin.img" 3 && expect_stat user-sigterm apic.sipi eq 0 &&
    grep -q "stopped by SIGTERM" "$T/stop.err" && pass user-sigterm

finish
