#!/usr/bin/env bash
# Runs every unit test binary and every integration script, and sums their
# closing "N passed, N failed[, N skipped]" lines into one final line.
set -u
cd "$(dirname "$0")/.."
BUILD=${LAPIS_BUILD:-build}
export LAPIS_BUILD=$BUILD
passed=0 failed=0 skipped=0 broken=()

run_suite() { # name, command...
    local name=$1; shift
    local out rc line p f s
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^PASS ' | sed "s|^|[$name] |"
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
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
    [ "$f" -ne 0 ] || [ "$rc" -ne 0 ] && broken+=("$name")
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite "unit/$(basename "$t")" "$t"
done
if [ -z "${LAPIS_ONLY_UNIT:-}" ]; then
    for t in tests/integration/*.sh; do
        [ -f "$t" ] || continue
        run_suite "integration/$(basename "$t" .sh)" bash "$t"
    done
fi

[ ${#broken[@]} -eq 0 ] || echo "failing suites: ${broken[*]}"
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
