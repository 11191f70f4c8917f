#!/usr/bin/env bash
# bench_smoke: the benchmark harness (bench/bench.py) on tiny n, lapis only.
# Structural and behavioural checks, no timing: the JSON has every workload,
# and lapis's exits and hot-path ioctls per operation equal each workload's
# floor exactly (one port exit per port write, one KVM_IRQ_LINE per interrupt,
# no route rewrite, no KVM_GET_LAPIC...). Where kernel tracepoints are
# readable, lapis's own counts must also agree with the kernel's.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/lapis.bash

WORKLOADS="pio level_broadcast level_directed edge ioapic_regs"

why=$(kvm_missing)
if [ -n "$why" ]; then
    for w in $WORKLOADS; do skip "bench $w" "$why"; done
    finish
    exit
fi

dir=$TMPDIR_LAPIS/bench
OUT=$(python3 bench/bench.py --build "$BUILD" --no-qemu --reps 1 --n-small 3 --n 40 \
    --strace '' --startup-runs 1 --sample-us 0 --out-dir "$dir" --quiet 2>&1)
rc=$?
ERR=
json=$dir/latest.json
if [ "$rc" -ne 0 ] || [ ! -s "$json" ]; then
    fail "bench.py runs" "exit status $rc, no $json"
    finish
    exit
fi
pass "bench.py runs and writes its JSON"

# One line per check from the JSON: "PASS name" or "FAIL name: why".
checks=$(python3 - "$json" $WORKLOADS <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
ws = r.get("workloads", {})
for name in sys.argv[2:]:
    w = ws.get(name)
    s = w and w.get("lapis")
    if not s:
        why = (w or {}).get("lapis_why", "missing from the JSON")
        print("FAIL %s measured: %s" % (name, why))
        continue
    print("PASS %s measured" % name)
    if s.get("floor_exact"):
        print("PASS %s: exits and hot-path ioctls are exactly the floor" % name)
    else:
        print("FAIL %s: exits/ioctls above the floor: %s" % (name, s.get("floor_excess")))
    # per operation, the exits by reason must be the floor's integers
    # (extra deliveries from the host aside, which floor_exact accounts for)
    if not any(s.get("extra_deliveries_all", [])):
        bad = [k for k, v in w["floor"].items() if k.startswith("exit.") and
               abs(s.get(k, 0) - v) > 1e-9]
        print("%s %s: exits per operation equal the floor%s" % (
            "FAIL" if bad else "PASS", name, ": " + ", ".join(
                "%s %s vs %s" % (k, s.get(k), w["floor"][k]) for k in bad) if bad else ""))
    mism = [e.get("tracepoint_mismatch") for e in w.get("lapis_runs", []) if e.get("tracepoint_mismatch")]
    if r["config"]["events"]:
        print("%s %s: lapis's counts agree with the kernel tracepoints%s" % (
            "FAIL" if mism else "PASS", name, ": " + mism[0] if mism else ""))
    if name not in r.get("table", ""):
        print("FAIL %s: not in the printed table" % name)
EOF
)
while IFS= read -r line; do
    case "$line" in
    PASS\ *) pass "${line#PASS }" ;;
    FAIL\ *) rest=${line#FAIL }; fail "${rest%%: *}" "${rest#*: }" ;;
    esac
done <<<"$checks"
finish
