#!/usr/bin/env bash
# Debian's own kernel under `lapis run`, once per IOAPIC version (0x20, 0x11):
# bzImage boot protocol, ACPI tables and legacy devices. Checks the serial
# milestones -- the IOAPIC line Linux prints (its version read from the
# IOAPIC itself), "x2apic enabled", the switch to x2APIC routing -- and that
# no legacy-device failure shows ("IO-APIC + timer doesn't work", ...).
# Reports the last milestone reached and the time it took.
#
# A third run (linux-boot-pit) adds clearcpuid=tsc_deadline_timer: without the
# TSC-deadline timer Linux clocks its boot with the PIT, so check_timer()'s
# "..TIMER: ... pin1=2" is required, and lapis's irq trace must show the PIT's
# ticks delivered through IOAPIC pin 2 (kvmclock sets no_timer_check, so the
# guest itself never complains about a silent timer). The host's PVM passes
# the TSC-deadline CPUID bit through whatever lapis sets: only the guest can
# drop it.
#
# On PVM hosts (../shared/spec/eoi.md section 7) an unmodified kernel stops on
# an unsupported instruction later in boot; that is reported, not failed,
# once the required milestones are behind it.
#
# Needs the kernel and initramfs from tests/linux/fetch.sh (downloaded on the
# first run into tests/linux/cache/). Each run is stopped (SIGTERM) once the
# required milestones are in and LAPIS_LINUX_GRACE seconds (default 5) more
# have passed, or after LAPIS_LINUX_TIMEOUT seconds (default 360), whichever
# comes first; the guest may also stop by itself. Guest kernel code is emulated
# on PVM hosts: reaching the x2APIC milestones costs lapis about 80 s of CPU
# time, so a busy machine needs a longer LAPIS_LINUX_TIMEOUT.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

TIMEOUT=${LAPIS_LINUX_TIMEOUT:-360}
GRACE=${LAPIS_LINUX_GRACE:-5}
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1"
T=$TMPDIR_LAPIS

# Milestones in boot order: "name|extended regex". The first REQUIRED must all appear.
MILESTONES=(
    "kernel started|Linux version [0-9]"
    "e820 map|BIOS-e820: \[mem 0x0000000000000000-"
    "ACPI tables|ACPI: RSDP 0x"
    "MADT IOAPIC|IOAPIC\[0\]: apic_id [0-9]+, version VERSION, address 0xfec00000, GSI 0-23"
    "x2apic enabled|x2apic enabled"
    "x2APIC routing|Switched APIC routing to .*x2apic"
    "timer through the IOAPIC|\.\.TIMER: vector=0x[0-9a-f]+ apic1=0 pin1=2"
    "initramfs /init|LAPIS-LINUX-INIT-OK"
    "ACPI power-off|reboot: Power down"
)
REQUIRED=6     # the first 6 for the plain runs
REQUIRED_PIT=7 # and the timer check for linux-boot-pit
PIT_MIN_TICKS=10 # deliveries on pin 2 the PIT run must show
# Lines that mean a legacy device or the timer routing is wrong.
BAD='IO-APIC \+ timer doesn.t work|MP-BIOS bug: 8254 timer not connected|Unable to read current time from RTC|i8042: Can.t read CTR|Kernel panic|ACPI Error|ACPI BIOS Error|APIC: Disabling|BIOS bug: IOAPIC'

# required_seen LOG DECIMAL N: are the first N milestones all in LOG?
required_seen() {
    local i pattern
    for ((i = 0; i < $3; i++)); do
        pattern=${MILESTONES[$i]#*|}
        grep -aqE -- "${pattern//VERSION/$2}" "$1" || return 1
    done
    return 0
}

run_version() { # NAME IOAPIC_VERSION DECIMAL [REQUIRED_COUNT [EXTRA_CMDLINE [MIN_PIN2_TICKS]]]
    local name=$1 ver=$2 dec=$3 required=${4:-$REQUIRED} extra=${5:-} min_ticks=${6:-0}
    local log=$T/serial-$name.log err=$T/stderr-$name.log
    local start end rc pid now seen_at="" cpu="?" stopped=""
    start=$(date +%s.%N)
    # stdin from /dev/null: lapis never reads (or puts in raw mode) the caller's terminal.
    LAPIS_TRACE=$([ "$min_ticks" -gt 0 ] && echo irq) "$LAPIS" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE${extra:+ $extra}" --memory 512M \
        --ioapic-version "$ver" </dev/null >"$log" 2>"$err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        # utime + stime of the whole process, in clock ticks (100 Hz)
        cpu=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$pid/stat" 2>/dev/null || echo "$cpu")
        now=$(date +%s.%N)
        if [ -z "$seen_at" ] && required_seen "$log" "$dec" "$required"; then
            seen_at=$now
        fi
        if [ -n "$seen_at" ] && awk -v a="$seen_at" -v b="$now" -v g="$GRACE" 'BEGIN { exit !(b - a >= g) }'; then
            stopped="the required milestones are in"
        elif awk -v a="$start" -v b="$now" -v t="$TIMEOUT" 'BEGIN { exit !(b - a >= t) }'; then
            stopped="the ${TIMEOUT} s bound"
        fi
        if [ -n "$stopped" ]; then
            kill -TERM "$pid" 2>/dev/null
            # A VM that does not stop on SIGTERM within 10 s is killed.
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
            break
        fi
        sleep 0.5
    done
    wait "$pid"
    rc=$?
    end=$(date +%s.%N)
    local elapsed
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

    local i last="none" missing="" pattern mname
    for i in "${!MILESTONES[@]}"; do
        mname=${MILESTONES[$i]%%|*}
        pattern=${MILESTONES[$i]#*|}
        pattern=${pattern//VERSION/$dec}
        if grep -aqE -- "$pattern" "$log"; then
            last="$mname ($(grep -aE -- "$pattern" "$log" | head -n 1 |
                sed -n 's/^\[ *\([0-9.]*\)\].*/guest time \1 s/p'))"
        elif [ "$i" -lt "$required" ]; then
            missing="$missing, $mname"
        fi
    done
    missing=${missing#, }
    echo "  $name: exit $rc after $elapsed s (lapis CPU time ${cpu} s)${stopped:+, stopped at $stopped}; last milestone: $last"
    local stop
    stop=$(grep -aE 'emulation failure|internal error|triple fault|crashed' "$err" | head -n 1)
    [ -n "$stop" ] && echo "  $name: guest stopped: $stop"

    local bad ticks=0
    bad=$(grep -aE -- "$BAD" "$log" | head -n 3)
    if [ "$min_ticks" -gt 0 ]; then
        ticks=$(grep -ac 'deliver pin 2 ' "$err")
        echo "  $name: $ticks interrupts delivered through IOAPIC pin 2; $(grep -a '^lapis: legacy:' "$err" | cut -d' ' -f3-4)"
    fi
    if [ -n "$bad" ]; then
        OUT=$(tail -n 15 "$log") ERR=$(grep -av "^lapis: irq" "$err" | tail -n 6) fail "$name" "legacy/timer failure: $bad"
    elif [ -n "$missing" ]; then
        OUT=$(tail -n 15 "$log") ERR=$(grep -av "^lapis: irq" "$err" | tail -n 6) fail "$name" "missing milestones: $missing"
    elif [ "$ticks" -lt "$min_ticks" ]; then
        OUT=$(tail -n 15 "$log") ERR=$(grep -av '^lapis: irq' "$err" | tail -n 6) \
            fail "$name" "only $ticks PIT interrupts reached IOAPIC pin 2, expected at least $min_ticks"
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

why=$(kvm_missing)
if [ -n "$why" ]; then
    skip linux-boot-0x20 "$why"
    skip linux-boot-0x11 "$why"
    skip linux-boot-pit "$why"
    finish
    exit $?
fi

# `lapis run` boots Linux once its --kernel takes a bzImage; until then, say so.
support=""
if ! "$LAPIS" run --help 2>&1 | grep -qiE 'bzimage|linux'; then
    support="'lapis run --kernel' does not take a Linux bzImage yet (its --help names only multiboot)"
fi
if [ -n "$support" ]; then
    skip linux-boot-0x20 "$support"
    skip linux-boot-0x11 "$support"
    skip linux-boot-pit "$support"
    finish
    exit $?
fi

if ! cache=$(tests/linux/fetch.sh 2>"$T/fetch.err"); then
    echo "tests/linux/fetch.sh failed: $(tail -n 1 "$T/fetch.err")"
    fail linux-fetch "could not download Debian's kernel and busybox (see above)"
    finish
    exit $?
fi
KERNEL=$cache/vmlinuz
INITRD=$cache/initramfs.cpio.gz
echo "  kernel: $(cat "$cache/kernel-version")"

run_version linux-boot-0x20 0x20 32
run_version linux-boot-0x11 0x11 17
run_version linux-boot-pit 0x20 32 "$REQUIRED_PIT" clearcpuid=tsc_deadline_timer "$PIT_MIN_TICKS"
finish
