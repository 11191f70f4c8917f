#!/usr/bin/env bash
# lapis run --save / --restore (src/kvm/snapshot.h): the guest saves itself with
# interrupts in flight (guest/progs/saverestore.c), a new lapis process restores
# it, and the guest must see every interrupt exactly once; for both IOAPIC
# versions, every EOI policy and both irqchips that support it. A held-back EOI
# exit (spec eoi.md §7) saved by SIGUSR2 must survive. Corrupt, truncated,
# foreign or mismatched files are refused with one line and status 2 (4 when
# this host cannot take the state back).
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

T=$TMPDIR_LAPIS
G=$GUESTS
SR=$G/saverestore.elf

suite_start save_restore "$SR"

# A sanitizer report fails any case.
sane() {
    if printf '%s\n' "$ERR" | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:'; then
        fail "$1" "sanitizer report on stderr"
        return 1
    fi
    return 0
}

# no_leftovers NAME FILE: no temporary file of a save is left beside FILE.
no_leftovers() {
    local left
    left=$(ls -A "$(dirname "$2")" | grep -F "$(basename "$2").tmp" || true)
    if [ -n "$left" ]; then
        fail "$1" "temporary files left behind: $left"
        return 1
    fi
    return 0
}

# save NAME FILE ARGS...: runs the guest until it saves and stops (status 0, the message).
save() {
    local name=$1 file=$2
    shift 2
    rm -f "$file"
    run_lapis run --save "$file" "$@"
    sane "$name" && expect_rc "$name" 0 || return 1
    if ! printf '%s\n' "$ERR" | grep -q "^lapis: saved the VM to '$file'"; then
        fail "$name" "no 'saved the VM' message"
        return 1
    fi
    [ -s "$file" ] || {
        fail "$name" "$file is missing or empty"
        return 1
    }
    no_leftovers "$name" "$file"
}

# restore NAME FILE WANT_RC ARGS...
restore() {
    local name=$1 file=$2 want=$3
    shift 3
    run_lapis run --restore "$file" "$@"
    sane "$name" && expect_rc "$name" "$want"
}

# exactly_once NAME [original]: the guest's verdict line(s) in OUT.
exactly_once() {
    local who=${2:-restored}
    if ! printf '%s\n' "$OUT" | grep -q "saverestore: $who VM: .*every interrupt exactly once"; then
        fail "$1" "the $who guest did not see every interrupt exactly once"
        return 1
    fi
    if printf '%s\n' "$OUT" | grep -q '^not ok'; then
        fail "$1" "a check in the guest failed"
        return 1
    fi
    return 0
}

# ---- every IOAPIC version x EOI policy, saved with three vectors pending ------------------

F=$T/vm.snap
for ver in 0x20 0x11; do
    for eoi in auto enable disable quirk; do
        name=irr-$ver-$eoi
        save "$name" "$F" --kernel "$SR" --ioapic-version "$ver" --eoi-suppression "$eoi" \
            --cmdline point=irr || continue
        restore "$name" "$F" 0 && exactly_once "$name" && expect_stat "$name" ioapic str "$ver" &&
            pass "$name"
    done
done

# Saved inside the level handler (A in service), then with Directed EOI owed by the guest.
for ver in 0x20 0x11; do
    save "isr-$ver" "$F" --kernel "$SR" --ioapic-version "$ver" --cmdline point=isr &&
        restore "isr-$ver" "$F" 0 && exactly_once "isr-$ver" && pass "isr-$ver"
done
save directed-enable "$F" --kernel "$SR" --cmdline point=directed &&
    restore directed-enable "$F" 0 && exactly_once directed-enable &&
    expect_stat directed-enable mode str enable && expect_stat directed-enable eoi.eoir gt 0 &&
    pass directed-enable

# A kernel without the EOI flags (pretended): the fix emulated in userspace.
export LAPIS_TEST_NO_EOI_FLAGS=1
save directed-emulated "$T/emu.snap" --kernel "$SR" --cmdline point=directed &&
    restore directed-emulated "$T/emu.snap" 0 && exactly_once directed-emulated &&
    expect_stat directed-emulated mode str enable-emulated && pass directed-emulated
unset LAPIS_TEST_NO_EOI_FLAGS
# ... which a host with the flags negotiates differently: refused, status 4.
if [ -s "$T/emu.snap" ]; then
    restore emulated-on-flags-host "$T/emu.snap" 4 &&
        if printf '%s\n' "$ERR" | grep -q 'negotiated EOI suppression'; then
            pass emulated-on-flags-host
        else
            fail emulated-on-flags-host "no message about the EOI negotiation"
        fi
fi

# Save and go on: the original and the restored VM both finish, each exactly once.
for point in irr isr directed; do
    name=continue-$point
    rm -f "$F"
    run_lapis run --save "$F" --kernel "$SR" --cmdline "point=$point save=continue"
    sane "$name" && expect_rc "$name" 0 && exactly_once "$name" original || continue
    restore "$name" "$F" 0 && exactly_once "$name" && pass "$name"
done

# KVM's own irqchip (PIC, IOAPIC and LAPIC state from KVM).
save kernel-irqchip "$F" --irqchip kernel --kernel "$SR" \
    --cmdline "point=irr lapis.irqchip=kernel" &&
    restore kernel-irqchip "$F" 0 && exactly_once kernel-irqchip &&
    expect_stat kernel-irqchip irqchip str kernel && pass kernel-irqchip

# lapis's own LAPICs (--irqchip user): the models' state, halted and wait-for-SIPI flags.
if "$LAPIS" run --help 2>/dev/null | grep -q -- '--irqchip.*user'; then
    for ver in 0x20 0x11; do
        for eoi in auto enable disable quirk; do
            name=user-$ver-$eoi
            save "$name" "$F" --irqchip user --kernel "$SR" --ioapic-version "$ver" \
                --eoi-suppression "$eoi" --cmdline point=irr || continue
            restore "$name" "$F" 0 && exactly_once "$name" && expect_stat "$name" irqchip str user &&
                pass "$name"
        done
    done
    for point in isr directed; do
        save "user-$point" "$F" --irqchip user --kernel "$SR" --cmdline "point=$point" &&
            restore "user-$point" "$F" 0 && exactly_once "user-$point" && pass "user-$point"
    done
    save user-smp "$F" --irqchip user --cpus 2 --kernel "$SR" --cmdline point=irr &&
        restore user-smp "$F" 0 && exactly_once user-smp && pass user-smp
    # A vCPU asleep in HLT inside userapic.c (interrupts off, one pending) is paused
    # too: saved by SIGUSR2, restored still asleep, then stopped by SIGTERM.
    if [ -f "$G/hostile_halt.elf" ]; then
        rm -f "$T/uh.snap"
        "$LAPIS" run --irqchip user --kernel "$G/hostile_halt.elf" --cmdline pending=1 \
            --save "$T/uh.snap" >"$T/uh.out" 2>"$T/uh.err" &
        pid=$!
        for _ in $(seq 100); do grep -qs 'hostile_halt: halting' "$T/uh.out" && break; sleep 0.05; done
        kill -USR2 "$pid"
        wait "$pid"
        RC=$? OUT=$(cat "$T/uh.out") ERR=$(cat "$T/uh.err")
        if sane user-halt && expect_rc user-halt 0; then
            "$LAPIS" run --restore "$T/uh.snap" >"$T/uh2.out" 2>"$T/uh2.err" &
            pid=$!
            sleep 0.5
            kill -TERM "$pid"
            wait "$pid"
            RC=$? OUT=$(cat "$T/uh2.out") ERR=$(cat "$T/uh2.err")
            STATS=$(printf '%s\n' "$ERR" | grep '^lapis: stats: ' | tail -n 1)
            sane user-halt && expect_rc user-halt 8 && expect_stat user-halt apic.sleep gt 0 &&
                pass user-halt
        fi
    fi
else
    skip user "this lapis has no --irqchip user (not in 'lapis run --help')"
fi

# Several vCPUs (the APs wait for SIPI), and restoring with the same shape spelled out.
save smp "$F" --cpus 3 --memory 64M --kernel "$SR" --cmdline point=irr &&
    restore smp "$F" 0 --cpus 3 --memory 64M --irqchip split && exactly_once smp &&
    expect_stat smp cpus eq 3 && pass smp

# ---- a held-back EOI exit (§7), saved from outside with SIGUSR2 -------------------------------

# halt_eoi spends most of its time halted with its EOI exit held back by KVM; the
# restored VM gets no such exit from its new KVM, so lapis must apply that EOI.
if need_guest halt_eoi "$G/halt_eoi.elf"; then
    got=0
    for try in 1 2 3 4 5; do
        rm -f "$T/h.snap"
        "$LAPIS" run --kernel "$G/halt_eoi.elf" --cmdline n=200 --save "$T/h.snap" \
            >"$T/h.out" 2>"$T/h.err" &
        pid=$!
        for _ in $(seq 50); do grep -qs 'halt_eoi: 200' "$T/h.out" && break; sleep 0.05; done
        sleep 0.2
        kill -USR2 "$pid"
        wait "$pid"
        RC=$? OUT=$(cat "$T/h.out") ERR=$(cat "$T/h.err")
        sane held-back-eoi && expect_rc held-back-eoi 0 || break
        if grep -q 'saved the VM .* 1 held-back EOI)' "$T/h.err"; then
            got=1
            break
        fi
    done
    if [ "$got" = 1 ]; then
        restore held-back-eoi "$T/h.snap" 0 &&
            if printf '%s\n' "$OUT" | grep -q '^ok 1 - 200 of 200 deliveries'; then
                pass held-back-eoi
            else
                fail held-back-eoi "the restored guest did not get all 200 deliveries"
            fi
    elif [ "$RC" = 0 ]; then
        skip held-back-eoi "5 saves by SIGUSR2 never caught a held-back EOI exit"
    fi
fi

# SIGUSR2 during a level storm: saved, restored, and the storm goes on (then SIGTERM).
if need_guest storm "$G/hostile_storm.elf"; then
    rm -f "$T/s.snap"
    "$LAPIS" run --kernel "$G/hostile_storm.elf" --save "$T/s.snap" >"$T/s.out" 2>"$T/s.err" &
    pid=$!
    for _ in $(seq 200); do grep -qs 'progress 2:' "$T/s.out" && break; sleep 0.1; done
    kill -USR2 "$pid"
    wait "$pid"
    RC=$? ERR=$(cat "$T/s.err") OUT=$(cat "$T/s.out")
    if sane storm && expect_rc storm 0; then
        last=$(grep -o 'progress [0-9]*' "$T/s.out" | tail -n 1 | grep -o '[0-9]*')
        "$LAPIS" run --restore "$T/s.snap" >"$T/s2.out" 2>"$T/s2.err" &
        pid=$!
        for _ in $(seq 200); do
            [ "$(grep -cs 'progress' "$T/s2.out")" -ge 2 ] && break
            sleep 0.1
        done
        kill -TERM "$pid"
        wait "$pid"
        RC=$? ERR=$(cat "$T/s2.err") OUT=$(cat "$T/s2.out")
        first=$(grep -o 'progress [0-9]*' "$T/s2.out" | head -n 1 | grep -o '[0-9]*')
        if sane storm && expect_rc storm 8; then
            if [ -n "$first" ] && [ -n "$last" ] && [ "$first" -gt "$last" ]; then
                pass storm
            else
                fail storm "progress after the restore ('${first:-none}') does not go on from ${last:-none}"
            fi
        fi
    fi
fi

# ---- refused: bad files and contradicting options ----------------------------------------

# A good file to damage.
save good "$F" --kernel "$SR" --cmdline point=irr || true

# refused_once NAME WANT_RC NEEDLE ARGS...: one line on stderr, nothing on stdout.
refused_once() {
    local name=$1 want=$2 needle=$3
    shift 3
    run_lapis "$@"
    local lines
    lines=$(printf '%s' "$ERR" | grep -c '')
    if ! sane "$name"; then
        return 1
    elif [ "$RC" -ne "$want" ]; then
        fail "$name" "exit status $RC, expected $want"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, expected one"
    elif ! printf '%s' "$ERR" | grep -q '^lapis: '; then
        fail "$name" "stderr does not start with 'lapis: '"
    elif ! printf '%s' "$ERR" | grep -qF -- "$needle"; then
        fail "$name" "stderr lacks '$needle'"
    elif [ -n "$OUT" ]; then
        fail "$name" "unexpected output on stdout"
    else
        return 0
    fi
    return 1
}

# refused NAME WANT_RC NEEDLE ARGS...: a bad file (status 2) is refused before /dev/kvm is
# opened, so it runs again as on a host without KVM and must say the same.
refused() {
    local name=$1 want=$2 first
    refused_once "$@" || return
    pass "$name"
    [ "$want" -eq 2 ] || return
    first=$ERR
    shift
    if LAPIS_KVM_DEV=$T/no-kvm refused_once "$name [no kvm]" "$@"; then
        if [ "$ERR" = "$first" ]; then
            pass "$name [no kvm]"
        else
            fail "$name [no kvm]" "another message without KVM: '$ERR', with: '$first'"
        fi
    fi
}

if [ -s "$F" ]; then
    size=$(wc -c <"$F")
    # Damage with python: flip, cut, patch; "reseal" recomputes the CRC so only the patch is wrong.
    damage() { # OUT MODE [ARG]
        python3 - "$F" "$@" <<'PY'
import struct, sys, zlib
src, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else None
d = bytearray(open(src, "rb").read())
def reseal():
    d[-8:-4] = struct.pack("<I", zlib.crc32(bytes(d[:-16])) & 0xFFFFFFFF)
if mode == "flip":
    d[int(arg)] ^= 0x20
elif mode == "cut":
    d = d[:int(arg)]
elif mode == "magic":
    d[0:8] = b"QEMUSNAP"
elif mode == "version":
    d[8:12] = struct.pack("<I", 2)
elif mode == "lapis-version":
    d[32:56] = b"9.9.9".ljust(24, b"\0"); reseal()
elif mode == "vm-cpus":
    # the VM section is the first in the table; its offset is at 64+16
    off = struct.unpack_from("<Q", d, 64 + 16)[0]
    struct.pack_into("<I", d, off + 8, 99); reseal()
elif mode == "ioapic-state":
    # the IRQCHIP section is the third; corrupt the IOAPIC state magic in its first record
    off = struct.unpack_from("<Q", d, 64 + 2 * 32 + 16)[0]
    d[off + 8] ^= 0xFF; reseal()
elif mode in ("uart-state", "fwcfg-state"):
    # DEVICES (fourth): the UART record (16 FIFO bytes, then registers: 11 is the trigger),
    # then the fw_cfg record (the selected item first)
    off = struct.unpack_from("<Q", d, 64 + 3 * 32 + 16)[0]
    if mode == "uart-state":
        d[off + 8 + 16 + 11] = 0
    else:
        struct.pack_into("<i", d, off + 40 + 8, 99)
    reseal()
elif mode == "cpu-version":
    # vCPU 0's section is the fifth in the table: a version this lapis does not read
    struct.pack_into("<I", d, 64 + 4 * 32 + 4, 7); reseal()
elif mode == "append":
    d += b"\0" * 8
open(out, "wb").write(d)
PY
    }
    damage "$T/flip-head.snap" flip 44
    damage "$T/flip-mid.snap" flip $((size / 2))
    damage "$T/flip-tail.snap" flip $((size - 10))
    damage "$T/cut-half.snap" cut $((size / 2))
    damage "$T/cut-1.snap" cut $((size - 1))
    damage "$T/cut-40.snap" cut 40
    damage "$T/magic.snap" magic
    damage "$T/version.snap" version
    damage "$T/lapis-version.snap" lapis-version
    damage "$T/vm-cpus.snap" vm-cpus
    damage "$T/ioapic.snap" ioapic-state
    damage "$T/append.snap" append
    damage "$T/cpu-version.snap" cpu-version
    damage "$T/uart.snap" uart-state
    damage "$T/fwcfg.snap" fwcfg-state
    : >"$T/empty.snap"
    head -c 100000 /dev/urandom >"$T/random.snap"

    refused bad-flip-header 2 "checksum mismatch" run --restore "$T/flip-head.snap"
    refused bad-flip-middle 2 "checksum mismatch" run --restore "$T/flip-mid.snap"
    refused bad-flip-trailer 2 "refused" run --restore "$T/flip-tail.snap"
    refused bad-truncated-half 2 "truncated" run --restore "$T/cut-half.snap"
    refused bad-truncated-1 2 "truncated" run --restore "$T/cut-1.snap"
    refused bad-truncated-40 2 "truncated" run --restore "$T/cut-40.snap"
    refused bad-appended 2 "after the end" run --restore "$T/append.snap"
    refused bad-magic 2 "not a lapis snapshot" run --restore "$T/magic.snap"
    refused bad-format-version 2 "format version 2" run --restore "$T/version.snap"
    refused bad-lapis-version 2 "saved by lapis 9.9.9" run --restore "$T/lapis-version.snap"
    refused bad-vm-section 2 "99 vCPUs" run --restore "$T/vm-cpus.snap"
    refused bad-ioapic-state 2 "IOAPIC state" run --restore "$T/ioapic.snap"
    refused bad-cpu-section 2 "section version 7" run --restore "$T/cpu-version.snap"
    refused bad-uart-state 2 "UART state is not possible" run --restore "$T/uart.snap"
    refused bad-fwcfg-state 2 "fw_cfg state names no item" run --restore "$T/fwcfg.snap"
    refused bad-empty 2 "not a lapis snapshot" run --restore "$T/empty.snap"
    refused bad-random 2 "not a lapis snapshot" run --restore "$T/random.snap"
    refused bad-elf 2 "not a lapis snapshot" run --restore "$SR"
    truncate -s 3G "$T/huge.snap" # sparse: refused from its first bytes, not read
    refused bad-huge 2 "not a lapis snapshot" run --restore "$T/huge.snap"
    rm -f "$T/huge.snap"
    refused bad-missing 2 "not found" run --restore "$T/nope.snap"
    refused bad-dir 2 "not a regular file" run --restore "$T"
    refused conflict-memory 2 "--memory differs" run --restore "$F" --memory 512M
    refused conflict-cpus 2 "--cpus differs" run --restore "$F" --cpus 2
    refused conflict-irqchip 2 "--irqchip differs" run --restore "$F" --irqchip kernel
    refused conflict-ioapic 2 "--ioapic-version differs" run --restore "$F" --ioapic-version 0x11
    refused conflict-eoi 2 "--eoi-suppression differs" run --restore "$F" --eoi-suppression quirk
    refused conflict-kernel 2 "drop --kernel" run --restore "$F" --kernel "$SR"
    refused conflict-cmdline 2 "drop --kernel" run --restore "$F" --cmdline x
    # The same shape spelled out is fine.
    restore same-shape "$F" 0 --memory 256M --cpus 1 --ioapic-version 0x20 \
        --eoi-suppression auto && exactly_once same-shape && pass same-shape
    # The restored VM can be saved again; the copy still restores.
    restore resave "$F" 0 --save "$T/again.snap" && [ ! -e "$T/again.snap" ] && pass resave-unused
fi

mkdir -p "$T/ro"
refused save-no-dir 2 "--save '$T/nodir/x.snap': cannot create" run --save "$T/nodir/x.snap" \
    --kernel "$SR"
refused save-empty 2 "--save needs a file name" run --save=
refused restore-empty 2 "--restore needs a file name" run --restore=
no_leftovers save-no-dir "$T/u.snap" && no_leftovers save-no-dir "$F" && pass no-leftovers

finish
