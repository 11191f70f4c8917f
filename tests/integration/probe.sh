#!/usr/bin/env bash
# lapis probe on this machine: runs `lapis probe` and `lapis probe --json` and
# checks what they measured against the facts known for the development
# machines (spec eoi.md §4, §7: upstream KVM 6.18.44 with the EOI flags, on
# PVM, where an EOI exit is held back while the vCPU halts). Also the exit
# statuses: 4 without /dev/kvm, 2 for bad options. KVM tests are skipped,
# with the reason, only where /dev/kvm is absent.
set -u
cd "$(dirname "$0")/../.."
BUILD=${LAPIS_BUILD:-build}
LAPIS=$BUILD/lapis
PROBE_TIMEOUT=${PROBE_TIMEOUT:-180}

passed=0 failed=0 skipped=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lapis-probe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1: $2"; }
finish() {
    echo "probe: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}

# check NAME COMMAND...: passes if COMMAND succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name" "${WHY:-$*}"; fi
    WHY=
}

# has FILE REGEX: the file has a line matching the extended regex.
has() {
    grep -Eq -- "$2" "$1" || {
        WHY="no line matching '$2' in $(basename "$1")"
        return 1
    }
}

if [ ! -x "$LAPIS" ]; then
    fail "lapis binary" "$LAPIS is missing: run 'make'"
    finish
    exit 1
fi

# ---- exit statuses that need no KVM ----------------------------------------------------
LAPIS_KVM_DEV=/nonexistent/kvm "$LAPIS" probe >"$tmp/nokvm.out" 2>"$tmp/nokvm.err"
rc=$?
check "probe without /dev/kvm exits 4" test "$rc" -eq 4
check "probe without /dev/kvm says so in one line" \
    test "$(wc -l <"$tmp/nokvm.err")" -eq 1 -a ! -s "$tmp/nokvm.out"
has "$tmp/nokvm.err" '^lapis: /nonexistent/kvm not found' && pass "probe without /dev/kvm names the device" ||
    fail "probe without /dev/kvm names the device" "$(cat "$tmp/nokvm.err")"
for bad in "--bogus" "--json=1" "--kernel x" "extra"; do
    # shellcheck disable=SC2086
    "$LAPIS" probe $bad >/dev/null 2>"$tmp/bad.err"
    rc=$?
    check "probe $bad exits 2" test "$rc" -eq 2 -a "$(wc -l <"$tmp/bad.err")" -eq 1
done
"$LAPIS" run --no-eoi-recovery --kernel /nonexistent.elf >/dev/null 2>&1
rc=$?
check "run takes the hidden --no-eoi-recovery (fails only on the missing kernel)" test "$rc" -eq 2

# ---- the probe itself --------------------------------------------------------------------
reason=
if [ ! -e /dev/kvm ]; then
    reason="/dev/kvm is absent"
fi
if [ -n "$reason" ]; then
    for t in "probe (text)" "probe --json"; do skip "$t" "$reason"; done
    finish
    exit $?
fi

timeout -s KILL "$PROBE_TIMEOUT" "$LAPIS" probe >"$tmp/text" 2>"$tmp/text.err"
rc=$?
check "probe exits 0" test "$rc" -eq 0
check "probe prints nothing on stderr" test ! -s "$tmp/text.err"
T=$tmp/text
# Header facts (§2, §4).
check "text: KVM API version 12" has "$T" '^KVM API version +12$'
check "text: split irqchip yes" has "$T" '^split irqchip +yes$'
check "text: X2APIC_API 0xf on the system fd, 0xb on a VM, 0xf with split irqchip" \
    has "$T" '^KVM_CAP_X2APIC_API +system fd 0xf, VM fd 0xb, VM fd with split irqchip 0xf$'
check "text: EOI broadcast flags offered" has "$T" '^EOI broadcast flags \(bits 2, 3\) +offered'
check "text: ENABLE with split accepted" has "$T" '^  ENABLE, split irqchip +accepted \(as upstream\)$'
check "text: DISABLE with split accepted" has "$T" '^  DISABLE, split irqchip +accepted \(as upstream\)$'
check "text: both flags EINVAL" has "$T" '^  ENABLE\|DISABLE, split irqchip +EINVAL \(as upstream\)$'
check "text: ENABLE without split EINVAL" has "$T" '^  ENABLE, no split +EINVAL \(as upstream\)$'
check "text: DISABLE without split accepted" has "$T" '^  DISABLE, no split +accepted \(as upstream\)$'
# §4's table, measured.
check "text: table header" has "$T" '^mode +\| irqchip +\| LVR bit 24 +\| SVR.12 sticks +\| level EOI, SVR.12=0 +\| level EOI, SVR.12=1$'
check "text: quirk row (LVR24 yes, sticks, EOI exit even with SVR.12)" \
    has "$T" '^quirk +\| split +\| yes +\| yes +\| EOI exit +\| EOI exit \(SVR.12 ignored\)$'
check "text: enable row (LVR24 yes, sticks, no exit with SVR.12)" \
    has "$T" '^enable +\| split +\| yes +\| yes +\| EOI exit +\| no exit \(guest EOIs via EOIR\)$'
check "text: disable row (no LVR24, does not stick, exit with SVR.12=0)" \
    has "$T" '^disable +\| split +\| no +\| no +\| EOI exit +\| n/a$'
check "text: kernel irqchip row (no LVR24)" \
    has "$T" '^quirk +\| kernel +\| no +\| no +\| in-kernel EOI +\| n/a$'
check "text: no row reports a failed run" bash -c "! grep -q '^        ! ' '$T'"
# §7 and §6.
check "text: EOI exit held back while halted: yes" \
    has "$T" '^EOI exit held back while the vCPU halts \(spec §7\): yes \(halt_eoi stalled'
check "text: recovery works: yes" \
    has "$T" "^lapis's recovery of held-back EOI exits: +yes \(halt_eoi finished: 20 interrupts"
check "text: auto picks enable with 0x20, disable with 0x11" \
    has "$T" '^auto policy here: enable with an IOAPIC 0x20 .*; disable with 0x11 '

timeout -s KILL "$PROBE_TIMEOUT" "$LAPIS" probe --json >"$tmp/json" 2>"$tmp/json.err"
rc=$?
check "probe --json exits 0" test "$rc" -eq 0
check "probe --json parses (python3 -m json.tool)" python3 -m json.tool "$tmp/json" /dev/null
# The same facts from the JSON: one "PASS name" or "FAIL name<TAB>why" line per check.
python3 - "$tmp/json" >"$tmp/json.checks" 2>&1 <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"FAIL json: load\t{e}")
    sys.exit(0)
def check(name, got, want):
    if got == want:
        print(f"PASS json: {name}")
    else:
        print(f"FAIL json: {name}\tgot {got!r}, expected {want!r}")
def get(path):
    v = j
    for k in path:
        try:
            v = v[k]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return v
check("api_version", get(["kvm", "api_version"]), 12)
check("split_irqchip", get(["kvm", "split_irqchip"]), True)
check("x2apic_api", get(["kvm", "x2apic_api"]), {"system": 15, "vm": 11, "vm_split_irqchip": 15})
check("eoi_broadcast_flags", get(["kvm", "eoi_broadcast_flags"]), True)
caps = {(c.get("flags"), c.get("split_irqchip")): c for c in get(["kvm", "enable_cap"]) or []}
for (flags, split), (accepted, err) in {
        ("ENABLE", True): (True, 0), ("DISABLE", True): (True, 0),
        ("ENABLE|DISABLE", True): (False, 22), ("ENABLE", False): (False, 22),
        ("DISABLE", False): (True, 0)}.items():
    c = caps.get((flags, split), {})
    where = "split" if split else "no split"
    check(f"enable_cap {flags}, {where}",
          (c.get("accepted"), c.get("errno"), c.get("as_upstream")), (accepted, err, True))
modes = {(m.get("mode"), m.get("irqchip")): m for m in get(["modes"]) or []}
keys = ("ran", "error", "lvr_directed_eoi", "svr12_sticks", "level_eoi_svr12_clear",
        "level_eoi_with_svr12")
for (mode, chip), want in {
        ("quirk", "split"): (True, None, True, True, True, True),
        ("enable", "split"): (True, None, True, True, True, False),
        ("disable", "split"): (True, None, False, False, True, None),
        ("quirk", "kernel"): (True, None, False, False, True, None)}.items():
    m = modes.get((mode, chip), {})
    check(f"mode {mode}/{chip} " + ",".join(keys[2:]), tuple(m.get(k, "<missing>") for k in keys), want)
check("quirk: the EOI with SVR.12 set found the line high and redelivered",
      get(["modes", 0, "deliveries_with_svr12"]), 2)
check("enable: one delivery with SVR.12 set (the guest's EOIR, line low)",
      get(["modes", 1, "deliveries_with_svr12"]), 1)
check("held back while halted", get(["held_back_eoi", "held_back"]), True)
check("held back: interrupt taken, no EOI exit",
      (get(["held_back_eoi", "timed_out"]), get(["held_back_eoi", "irqs"]) >= 1,
       get(["held_back_eoi", "eoi_exits"])), (True, True, 0))
check("recovery works", get(["eoi_recovery", "works"]), True)
r = get(["eoi_recovery", "recoveries"])
check("recovery: status 0 and recoveries > 0",
      (get(["eoi_recovery", "status"]), isinstance(r, int) and r > 0), (0, True))
check("auto policy", get(["auto_policy"]), {"ioapic_0x20": "enable", "ioapic_0x11": "disable"})
EOF
while IFS= read -r line; do
    case $line in
    PASS\ *) pass "${line#PASS }" ;;
    FAIL\ *) rest=${line#FAIL }; fail "${rest%%$'\t'*}" "${rest#*$'\t'}" ;;
    *) fail "json checks" "$line" ;;
    esac
done <"$tmp/json.checks"

if [ "$failed" -ne 0 ]; then
    echo "--- lapis probe:"
    sed 's/^/    /' "$tmp/text" "$tmp/text.err"
    echo "--- lapis probe --json:"
    sed 's/^/    /' "$tmp/json" "$tmp/json.err"
fi
finish
