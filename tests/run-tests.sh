#!/usr/bin/env bash
# Runs every unit test binary and every integration script, and sums their
# closing "N passed, N failed[, N skipped]" lines into one final line.
#
# Integration suites need a KVM. They run on the host's /dev/kvm where it is
# usable, otherwise inside a nested standard-KVM host (tests/nested/run, Debian's
# 7.x kernel with kvm_amd in QEMU TCG), so that they run on every machine.
# LAPIS_CHECK_KVM=host|nested|auto (default auto) forces the choice;
# LAPIS_CHECK_KERNEL (default 7) picks the nested kernel.
#   tests/run-tests.sh [--unit-only | --integration-only]
set -u
cd "$(dirname "$0")/.."
BUILD=${LAPIS_BUILD:-build}
export LAPIS_BUILD=$BUILD
passed=0 failed=0 skipped=0 broken=()
unit=yes integration=yes
case ${1:-} in
--unit-only) integration=no ;;
--integration-only) unit=no ;;
"") [ -z "${LAPIS_ONLY_UNIT:-}" ] || integration=no ;;
*) echo "usage: tests/run-tests.sh [--unit-only | --integration-only]" >&2; exit 2 ;;
esac

add_counts() { # name rc line
    local name=$1 rc=$2 line=$3 p f s
    if [ -z "$line" ]; then
        echo "[$name] no summary line (exit $rc): counted as one failure"
        failed=$((failed + 1)); broken+=("$name"); return
    fi
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$name] exited $rc with no failed test: counted as one failure"
        failed=$((failed + 1))
    fi
    if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then broken+=("$name"); fi
}

run_suite() { # name, command...
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^PASS ' | sed "s|^|[$name] |"
    add_counts "$name" "$rc" "$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)"
}

# LAPIS_SUITES="a b": only these integration suites.
wanted() { [ -z "${LAPIS_SUITES:-}" ] || [[ " $LAPIS_SUITES " == *" $1 "* ]]; }

# nested_half LOG SUITE...: those integration suites in one nested host.
nested_half() {
    local log=$1
    shift
    LAPIS_SUITES="$*" LAPIS_CHECK_KVM=host tests/nested/run --timeout 3600 "$k" -- \
        bash tests/run-tests.sh --integration-only >"$log" 2>&1
    echo $? >"$log.rc"
}

kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

if [ "$unit" = yes ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "unit/$(basename "$t")" "$t"
    done
fi
if [ "$integration" = yes ]; then
    where=${LAPIS_CHECK_KVM:-auto}
    if [ "$where" = auto ]; then
        if kvm_usable; then where=host; else where=nested; fi
    fi
    if [ "$where" = host ]; then
        kvm_usable || echo "run-tests: LAPIS_CHECK_KVM=host, but /dev/kvm is not usable here"
        for t in tests/integration/*.sh; do
            [ -f "$t" ] || continue
            n=$(basename "$t" .sh)
            wanted "$n" || continue
            run_suite "integration/$n" bash "$t"
        done
    else
        k=${LAPIS_CHECK_KERNEL:-7}
        echo "run-tests: integration suites on a nested standard KVM (Debian's $k kernel, kvm_amd in QEMU TCG): tests/nested/run $k"
        # The nested host has no network: fetch what the suites download first.
        tests/linux/fetch.sh >/dev/null || echo "run-tests: tests/linux/fetch.sh failed; linux suites will say why"
        tests/nested/fetch-kernel.sh "$k" >/dev/null || echo "run-tests: cannot fetch kernel $k"
        # Two nested hosts side by side (TCG with thread=single uses one core each),
        # the suites dealt out longest first.
        longest=(conformance save_restore run_builtin linux_boot hostile)
        order=("${longest[@]}")
        for t in tests/integration/*.sh; do
            n=$(basename "$t" .sh)
            [[ " ${longest[*]} " == *" $n "* ]] || order+=("$n")
        done
        half_a=() half_b=() i=0
        for n in "${order[@]}"; do
            wanted "$n" || continue
            if [ $((i % 2)) -eq 0 ]; then half_a+=("$n"); else half_b+=("$n"); fi
            i=$((i + 1))
        done
        [ "$i" -gt 0 ] || { echo "run-tests: LAPIS_SUITES='${LAPIS_SUITES:-}' names no suite"; exit 2; }
        log_a=$(mktemp "${TMPDIR:-/tmp}/lapis-nested-check.XXXXXX")
        log_b=$(mktemp "${TMPDIR:-/tmp}/lapis-nested-check.XXXXXX")
        nested_half "$log_a" "${half_a[@]}" &
        [ ${#half_b[@]} -eq 0 ] || nested_half "$log_b" "${half_b[@]}" &
        wait
        for log in "$log_a" "$log_b"; do
            [ -s "$log" ] || [ -e "$log.rc" ] || { rm -f "$log"; continue; }
            sed "s|^|[nested/$k] |" "$log" | grep -v '^\[nested/[^]]*\] \[[^]]*\] PASS '
            add_counts "nested/$k" "$(cat "$log.rc" 2>/dev/null || echo 125)" \
                "$(grep -E '^total: [0-9]+ passed' "$log" | tail -n 1)"
            rm -f "$log" "$log.rc"
        done
    fi
fi

[ ${#broken[@]} -eq 0 ] || echo "failing suites: ${broken[*]}"
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
