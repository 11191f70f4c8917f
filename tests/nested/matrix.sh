#!/usr/bin/env bash
# One KVM's row of `make check-kernels`: the probe, the built-in guest in every
# mode, lapis's own SMP guests and the whole conformance suite, run on whatever
# KVM this shell sees (the host's /dev/kvm, or a nested host's under
# tests/nested/run). Writes into OUT_DIR:
#   probe.json, conformance.json, logs/, results.tsv (target, mode, test, result, detail)
# and ends with "matrix: N passed, N failed, N skipped".
#
#   tests/nested/matrix.sh OUT_DIR [--filter GLOBS]
set -u
cd "$(dirname "$0")/../.."
out=${1:?usage: matrix.sh OUT_DIR [--filter GLOBS]}
shift
BUILD=${LAPIS_BUILD:-build}
LAPIS=$BUILD/lapis
G=$BUILD/guest
mkdir -p "$out/logs"
: >"$out/results.tsv"
passed=0 failed=0 skipped=0

record() { # target mode test result detail
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$out/results.tsv"
    case $4 in
    pass) passed=$((passed + 1)) ;;
    fail) failed=$((failed + 1)); echo "FAIL $1/$2 $3: $5" ;;
    *) skipped=$((skipped + 1)) ;;
    esac
}

# run_case TARGET MODE TEST WANT_RC ARGS...: a lapis run that must end with WANT_RC.
run_case() {
    local target=$1 mode=$2 name=$3 want=$4 log rc
    shift 4
    log=$out/logs/$target-$mode-$name.log
    timeout -s KILL 300 "$LAPIS" run "$@" </dev/null >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        record "$target" "$mode" "$name" pass "status $rc"
    else
        record "$target" "$mode" "$name" fail "status $rc, expected $want ($(tail -n 1 "$log"))"
    fi
}

"$LAPIS" probe --json >"$out/probe.json" 2>"$out/logs/probe.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '"x2apic_api"' "$out/probe.json"; then
    record probe - probe pass "lapis probe ran"
else
    record probe - probe fail "lapis probe: status $rc"
fi
# A kernel without KVM_X2APIC_{ENABLE,DISABLE}_SUPPRESS_EOI_BROADCAST cannot give
# those modes under split irqchip: there they do not apply, and lapis must refuse
# them (status 2).
flags=yes
grep -q '"eoi_broadcast_flags": false' "$out/probe.json" && flags=no

for ioapic in 0x20 0x11; do
    for mode in auto quirk enable disable; do
        want=0
        [ "$flags" = no ] && [ "$mode" = enable -o "$mode" = disable ] && want=2
        run_case split "$mode" "builtin@$ioapic" "$want" --irqchip split --eoi-suppression "$mode" \
            --ioapic-version "$ioapic"
        run_case user "$mode" "builtin@$ioapic" 0 --irqchip user --eoi-suppression "$mode" \
            --ioapic-version "$ioapic"
    done
done
run_case kernel - builtin@0x11 0 --irqchip kernel --ioapic-version 0x11

for irqchip in split kernel user; do
    v=()
    [ "$irqchip" = kernel ] && v=(--ioapic-version 0x11)
    c=()
    [ "$irqchip" = user ] && c=(--cmdline lapis.irqchip=user)
    for cpus in 2 4; do
        run_case "$irqchip" auto "smp/$cpus" 1 --irqchip "$irqchip" "${v[@]}" --cpus "$cpus" \
            --kernel "$G/smp.elf"
        run_case "$irqchip" auto "ipi/$cpus" 1 --irqchip "$irqchip" "${v[@]}" --cpus "$cpus" \
            --kernel "$G/ipi.elf" "${c[@]}"
    done
    run_case "$irqchip" auto timer/2 1 --irqchip "$irqchip" "${v[@]}" --cpus 2 --kernel "$G/timer.elf"
    [ "$irqchip" = kernel ] ||
        run_case "$irqchip" auto halt_eoi/2 1 --irqchip "$irqchip" --cpus 2 --kernel "$G/halt_eoi.elf"
done

"$LAPIS" conformance --json "$out/conformance.json" "$@" >"$out/logs/conformance.txt" 2>&1
rc=$?
if [ ! -s "$out/conformance.json" ]; then
    record conformance - run fail "lapis conformance: status $rc, no JSON"
else
    python3 - "$out/conformance.json" >>"$out/results.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["rows"]:
    for col, c in r["cells"].items():
        target, _, mode = col.partition("/")
        res = c["result"]
        if res == "n/a":  # does not apply to this column: not a test
            continue
        detail = "; ".join("%s: %s" % kv for kv in c.get("reasons", {}).items()) or c.get("reason", "")
        print("conf-%s\t%s\t%s@%s\t%s\t%s" % (target, mode or "-", r["scenario"], r["variant"],
              "pass" if res == "pass" else "fail" if res == "fail" else "skip", detail.replace("\t", " ")))
PY
    t=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["passed"], t["failed"], t["skipped"])' "$out/conformance.json")
    read -r p f s <<<"$t"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    grep -E '^FAIL|^ *fail' "$out/logs/conformance.txt" | head -n 40
    [ "$f" -eq 0 ] || grep -A3 -i 'failures' "$out/logs/conformance.txt" | head -n 60
fi
echo "matrix: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
