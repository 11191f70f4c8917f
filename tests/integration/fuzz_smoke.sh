#!/usr/bin/env bash
# A short libFuzzer run of every fuzz target, for CI: one test per target,
# passing if the fuzzer finds no crash in FUZZ_SMOKE_SECONDS (default 5).
# Targets whose sources have not landed are skipped with the reason; so is
# everything if clang's libFuzzer is missing. The committed seeds and the
# crash inputs in fuzz/regressions/ are replayed first, so an old crash that
# comes back fails here at once. Needs no /dev/kvm.
set -u
cd "$(dirname "$0")/../.."
# The fuzzers are the same whatever LAPIS_BUILD (they carry their own
# sanitizers), so the plain and the ASan test runs share one build of them.
BUILD=${FUZZ_SMOKE_BUILD:-build}
secs=${FUZZ_SMOKE_SECONDS:-5}
cc=${FUZZ_CC:-clang}
# We are usually run from inside `make check`: don't inherit its jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL
mk=(make -s --no-print-directory BUILD="$BUILD" FUZZ_CC="$cc")

list=$("${mk[@]}" fuzz-list 2>/dev/null)
if [ -z "$list" ]; then
    echo "fuzz_smoke: 0 passed, 1 failed, 0 skipped (make fuzz-list printed nothing: fuzz/fuzz.mk not included?)"
    exit 1
fi
targets=$(awk '{print $2}' <<<"$list")

skip_all() { # reason
    local n=0
    for t in $targets; do
        echo "SKIP fuzz $t: $1"
        n=$((n + 1))
    done
    echo "fuzz_smoke: 0 passed, 0 failed, $n skipped"
    exit 0
}

if ! command -v "$cc" >/dev/null 2>&1; then
    skip_all "$cc not found (apt-get install clang libclang-rt-14-dev)"
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
    skip_all "$cc cannot build with -fsanitize=fuzzer (libFuzzer missing: apt-get install libclang-rt-14-dev): $(head -n 1 "$probe/log")"
fi

args=()
while read -r state t missing; do
    [ -n "$t" ] || continue
    if [ "$state" = waiting ]; then
        args+=("--waiting=$t:${missing// /+}")
        continue
    fi
    log=$BUILD/fuzz/smoke/build-$t.log
    mkdir -p "$(dirname "$log")"
    if "${mk[@]}" "$BUILD/fuzz/fuzz_$t" >"$log" 2>&1; then
        args+=("$t")
    else
        grep -m3 -E 'error' "$log" | sed "s|^|  [$t] |"
        args+=("--broken=$t:build failed, see $log")
    fi
done <<<"$list"

# A fresh scratch corpus, apart from the one `make fuzz` grows.
rm -rf "$BUILD/fuzz/smoke/corpus"
FUZZ_DIR=$BUILD/fuzz FUZZ_WORK=$BUILD/fuzz/smoke FUZZ_SECONDS=$secs FUZZ_SUMMARY=fuzz_smoke \
    fuzz/run-fuzzers.sh "${args[@]}"
