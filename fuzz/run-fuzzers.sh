#!/usr/bin/env bash
# Runs built fuzzers for a fixed time each and prints one line per target:
# exec/s, total runs, coverage (edges, features), corpus size and any crash.
# Ends with "<FUZZ_SUMMARY>: N passed, N failed, N skipped"; exits 1 on a crash.
#
#   FUZZ_DIR=build/fuzz FUZZ_SECONDS=60 fuzz/run-fuzzers.sh ioapic msi --waiting=lapic:src/devices/lapic.c
#
# Each target runs on a scratch corpus, $FUZZ_WORK/corpus/<target> (FUZZ_WORK
# defaults to FUZZ_DIR), seeded from fuzz/corpus/<target> and
# fuzz/regressions/<target> (read, never written). Crash inputs go to
# $FUZZ_WORK/artifacts/<target>/, logs to $FUZZ_WORK/logs/.
# --waiting=<target>:<file>+<file> reports a skip; --broken=<target>:<why> a failure.
set -u
cd "$(dirname "$0")/.."
dir=${FUZZ_DIR:-build/fuzz}
work=${FUZZ_WORK:-$dir}
secs=${FUZZ_SECONDS:-60}
name=${FUZZ_SUMMARY:-fuzz}
nice_cmd=(nice -n "${FUZZ_NICE:-10}")
passed=0 failed=0 skipped=0

# Longer inputs for the file formats; devices and the CLI want short programs.
max_len_for() {
    case $1 in
    elf | multiboot | bzimage) echo 65536 ;;
    acpi) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

stat_of() { # log, key
    sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

for arg in "$@"; do
    case $arg in
    --waiting=*)
        t=${arg#--waiting=}
        miss=${t#*:}
        echo "$name ${t%%:*}: SKIP (sources not there yet: ${miss//+/ })"
        skipped=$((skipped + 1))
        continue
        ;;
    --broken=*)
        t=${arg#--broken=}
        echo "$name ${t%%:*}: FAIL (${t#*:})"
        failed=$((failed + 1))
        continue
        ;;
    esac
    t=$arg
    bin=$dir/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "$name $t: FAIL (no fuzzer binary at $bin)"
        failed=$((failed + 1))
        continue
    fi
    corpus=$work/corpus/$t
    art=$work/artifacts/$t
    log=$work/logs/$t.log
    mkdir -p "$corpus" "$art" "$work/logs"
    seeds=()
    for s in fuzz/corpus/$t fuzz/regressions/$t; do
        [ -d "$s" ] && seeds+=("$s")
    done
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
    start=$(date +%s)
    "${nice_cmd[@]}" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_for "$t")" -print_final_stats=1 -artifact_prefix="$art/" \
        "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    runs=$(stat_of "$log" number_of_executed_units)
    eps=$(stat_of "$log" average_exec_per_sec)
    runs=${runs:-0}
    [ "${eps:-0}" -gt 0 ] || eps=$((runs / (elapsed > 0 ? elapsed : 1)))
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    corp=$(find "$corpus" -type f | wc -l)
    line="${elapsed} s, ${runs} runs, ${eps} exec/s, ${cov:-cov: ?}, corpus ${corp}"
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        echo "$name $t: PASS ($line)"
        passed=$((passed + 1))
    else
        why=$(grep -m1 -E '^SUMMARY: |invariant failed|ERROR: libFuzzer|ALARM: ' "$log")
        echo "$name $t: FAIL (exit $rc; $line)"
        echo "  ${why:-see $log}"
        [ -n "$crash" ] && echo "  input: $crash  (replay: $bin $crash)"
        echo "  log: $log"
        failed=$((failed + 1))
    fi
done
echo "$name: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
