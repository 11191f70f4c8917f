#!/usr/bin/env bash
# Hostile guests (guest/progs/hostile_*.c): lapis stays responsive (SIGTERM
# ends it, status 8, within a second: a bounded wait, not a benchmark), never
# crashes (no sanitizer report, only documented statuses) and says in its
# statistics what the guest did:
#   a  level interrupt storm: the throttle engages, the guest's main loop still runs
#   b  garbage in every IOAPIC/LAPIC register, every width, bad selectors
#   c  EOIR spam with unknown vectors
#   d  reserved vectors (0-15) in redirection entries with the line raised
#   e  MMIO and port I/O where nothing is mapped
#   f  a triple fault: status 6 with a message
#   g  halted with interrupts off: SIGTERM still stops it
# b-e run under every IOAPIC version, xAPIC and x2APIC, the kernel irqchip,
# and --irqchip user when this lapis has it.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

T=$TMPDIR_LAPIS
STOP_WAIT_MS=${LAPIS_STOP_WAIT_MS:-1000} # SIGTERM to exit

why=$(kvm_missing)
if [ -n "$why" ]; then
    skip hostile "$why: the guests cannot run"
    finish
    exit
fi
if [ ! -x "$LAPIS" ]; then
    fail hostile "$LAPIS is missing: run 'make $LAPIS'"
    finish
    exit 1
fi

# A sanitizer report or an undocumented status is a failure whatever the test wanted.
sane() {
    local name=$1
    if printf '%s\n' "$ERR" | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: '; then
        fail "$name" "sanitizer report on stderr"
        return 1
    fi
    case $RC in
    0 | 2 | 4 | 6 | 8) ;;
    *) if [ $((RC % 2)) -eq 0 ] || [ "$RC" -gt 255 ] || [ "$RC" -ge 128 ]; then
        fail "$name" "exit status $RC is not a documented one"
        return 1
    fi ;;
    esac
    return 0
}

# now_ms: wall clock in milliseconds.
now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# run_until NAME PATTERN COUNT WAIT_S ARGS...: starts lapis, waits (at most WAIT_S
# seconds) until COUNT stdout lines match PATTERN, sends SIGTERM and waits at most
# STOP_WAIT_MS for it to exit. Sets RC, OUT, ERR, STATS, SEEN (matching lines) and
# STOP_MS; returns 1 (after a fail) if the lines never came or lapis did not stop.
run_until() {
    local name=$1 pattern=$2 count=$3 wait_s=$4
    shift 4
    local o=$T/bg.out e=$T/bg.err pid t0 deadline
    "$LAPIS" "$@" >"$o" 2>"$e" &
    pid=$!
    deadline=$(($(now_ms) + wait_s * 1000))
    SEEN=0
    while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
        SEEN=$(grep -csE "$pattern" "$o")
        [ "$SEEN" -ge "$count" ] && break
        sleep 0.2
    done
    SEEN=$(grep -csE "$pattern" "$o")
    t0=$(now_ms)
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $(($(now_ms) - t0)) -le "$STOP_WAIT_MS" ]; do
        sleep 0.02
    done
    STOP_MS=$(($(now_ms) - t0))
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        RC=137 OUT=$(cat "$o") ERR=$(cat "$e") STATS=
        fail "$name" "still running ${STOP_MS} ms after SIGTERM"
        return 1
    fi
    wait "$pid"
    RC=$?
    OUT=$(cat "$o")
    ERR=$(cat "$e")
    STATS=$(printf '%s\n' "$ERR" | grep '^lapis: stats: ' | tail -n 1)
    sane "$name" || return 1
    if [ "$SEEN" -lt "$count" ]; then
        fail "$name" "only $SEEN of $count lines matching '$pattern' within ${wait_s}s"
        return 1
    fi
    return 0
}

# stopped NAME: the run ended by SIGTERM, in time, with status 8 and the message.
stopped() {
    expect_rc "$1" 8 || return 1
    if ! printf '%s\n' "$ERR" | grep -q 'stopped by SIGTERM'; then
        fail "$1" "no 'stopped by SIGTERM' message"
        return 1
    fi
    expect_stat "$1" status eq 8
}

G=$GUESTS

# ---- a: the level storm ------------------------------------------------------------------

if need_guest storm "$G/hostile_storm.elf"; then
    # 6 lines = 12000 deliveries: past the 10000 back-to-back EOIs that engage the throttle.
    if run_until storm-split 'hostile_storm: progress' 6 120 run --kernel "$G/hostile_storm.elf"; then
        stopped storm-split && expect_stat storm-split throttled gt 0 &&
            expect_stat storm-split irqs ge 10000 && pass storm-split
        echo "# storm-split: ${STOP_MS} ms from SIGTERM to exit"
    fi
    # KVM's own IOAPIC throttles too; lapis must stay responsive beside it.
    if run_until storm-kernel 'hostile_storm: progress' 3 120 run --irqchip kernel \
        --kernel "$G/hostile_storm.elf"; then
        stopped storm-kernel && pass storm-kernel
    fi
fi

# ---- b-e: garbage ------------------------------------------------------------------------

# garbage NAME ARGS...: the guest survives every phase and powers off.
garbage() {
    local name=$1
    shift
    run_lapis run --kernel "$G/hostile_garbage.elf" "$@"
    sane "$name" || return 1
    expect_rc "$name" 0 || return 1
    if ! printf '%s\n' "$OUT" | grep -q 'hostile_garbage: survived'; then
        fail "$name" "the guest did not survive its garbage"
        return 1
    fi
    case "$*" in
    *phases=*) return 0 ;;
    esac
    expect_stat "$name" unknown.pio gt 0 && expect_stat "$name" unknown.mmio gt 0
}

if need_guest garbage "$G/hostile_garbage.elf"; then
    for ver in 0x20 0x11; do
        for apic in x2apic xapic; do
            name=garbage-split-$ver-$apic
            garbage "$name" --ioapic-version "$ver" --cmdline "apic=$apic" || continue
            # The IOAPIC model saw it all, and counted it.
            expect_stat "$name" ioapic.bad_access gt 0 &&
                expect_stat "$name" ioapic.bad_selector gt 0 &&
                expect_stat "$name" ioapic.bad_vector gt 0 || continue
            if [ "$ver" = 0x11 ]; then
                expect_stat "$name" ioapic.eoir_ignored gt 0 || continue
            else
                expect_stat "$name" eoi.eoir gt 1000 || continue
            fi
            pass "$name"
        done
    done
    # Every EOI policy takes the same garbage (x2APIC, where SVR bit 12 matters).
    for eoi in enable disable quirk; do
        garbage "garbage-eoi-$eoi" --eoi-suppression "$eoi" --cmdline phases=bc &&
            pass "garbage-eoi-$eoi"
    done
    # KVM's IOAPIC and PIC: lapis only sees what KVM does not claim.
    for apic in x2apic xapic; do
        garbage "garbage-kernel-$apic" --irqchip kernel --cmdline "apic=$apic" &&
            pass "garbage-kernel-$apic"
    done
    if "$LAPIS" run --help 2>/dev/null | grep -q -- '--irqchip.*user'; then
        for apic in x2apic xapic; do
            # lapis's own LAPIC takes the LAPIC garbage here, and the IOAPIC model the rest.
            garbage "garbage-user-$apic" --irqchip user --cmdline "apic=$apic" &&
                expect_stat "garbage-user-$apic" ioapic.bad_access gt 0 &&
                expect_stat "garbage-user-$apic" ioapic.bad_vector gt 0 &&
                pass "garbage-user-$apic"
        done
    else
        skip garbage-user "this lapis has no --irqchip user (not in 'lapis run --help')"
    fi
fi

if [ -f "$G/hostile_storm.elf" ] && "$LAPIS" run --help 2>/dev/null | grep -q -- '--irqchip.*user'; then
    if run_until storm-user 'hostile_storm: progress' 3 120 run --irqchip user \
        --kernel "$G/hostile_storm.elf"; then
        stopped storm-user && pass storm-user
    fi
else
    skip storm-user "this lapis has no --irqchip user (not in 'lapis run --help')"
fi

# ---- f: triple fault ---------------------------------------------------------------------

if need_guest triple "$G/hostile_triple.elf"; then
    for chip in split kernel; do
        run_lapis run --irqchip "$chip" --kernel "$G/hostile_triple.elf"
        sane "triple-$chip" && expect_rc "triple-$chip" 6 || continue
        if printf '%s\n' "$ERR" | grep -q '^lapis: guest crashed: triple fault .*vCPU 0 at RIP 0x'; then
            expect_stat "triple-$chip" status eq 6 && pass "triple-$chip"
        else
            fail "triple-$chip" "no 'guest crashed: triple fault' message"
        fi
    done
fi

# ---- g: halted with interrupts off -------------------------------------------------------

if need_guest halt "$G/hostile_halt.elf"; then
    for pending in 0 1; do
        for chip in split kernel; do
            name=halt-$chip-pending$pending
            run_until "$name" 'hostile_halt: halting' 1 60 run --irqchip "$chip" \
                --kernel "$G/hostile_halt.elf" --cmdline "pending=$pending" || continue
            stopped "$name" && pass "$name"
        done
    done
    if "$LAPIS" run --help 2>/dev/null | grep -q -- '--irqchip.*user'; then
        run_until halt-user-pending1 'hostile_halt: halting' 1 60 run --irqchip user \
            --kernel "$G/hostile_halt.elf" --cmdline pending=1 && stopped halt-user-pending1 &&
            pass halt-user-pending1
    else
        skip halt-user "this lapis has no --irqchip user (not in 'lapis run --help')"
    fi
    # Several vCPUs, the APs never started (waiting for SIPI), the BSP in cli; hlt.
    run_until halt-smp 'hostile_halt: halting' 1 60 run --cpus 4 --kernel "$G/hostile_halt.elf" &&
        stopped halt-smp && pass halt-smp
fi

finish
