#!/usr/bin/env bash
# Line coverage of the model sources reached by a corpus, with clang's
# source-based coverage: shows which paths the seeds and the fuzzer reach.
#
#   fuzz/coverage.sh <target> [corpus dirs...]   (default: fuzz/corpus/<target>)
#
# Builds $BUILD/fuzz/cov/fuzz_<target> with -fprofile-instr-generate, replays
# the corpus (-runs=0) and prints `llvm-cov report` for the model sources.
set -eu
cd "$(dirname "$0")/.."
t=${1:?usage: fuzz/coverage.sh <target> [corpus dirs...]}
shift
BUILD=${BUILD:-build}
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=("fuzz/corpus/$t")
srcs=$(make -s --no-print-directory BUILD="$BUILD" fuzz-list | awk -v t="$t" '$2 == t {print $1}')
[ "$srcs" = ready ] || { echo "coverage: target $t is not ready (make fuzz-list)"; exit 1; }
files=$(make -s --no-print-directory BUILD="$BUILD" fuzz-srcs FUZZ="$t")
out=$BUILD/fuzz/cov
mkdir -p "$out"
${FUZZ_CC:-clang} -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -Isrc/devices -Isrc/loader -Isrc/cli \
    -Ifuzz -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
    "fuzz/fuzz_$t.c" $files -o "$out/fuzz_$t" $(make -s --no-print-directory fuzz-libs FUZZ="$t")
rm -f "$out/$t".profraw
LLVM_PROFILE_FILE="$out/$t.profraw" "$out/fuzz_$t" -runs=0 "${dirs[@]}" >/dev/null 2>&1
llvm-profdata merge -sparse "$out/$t.profraw" -o "$out/$t.profdata"
llvm-cov report "$out/fuzz_$t" -instr-profile="$out/$t.profdata" $files
echo "details: llvm-cov show $out/fuzz_$t -instr-profile=$out/$t.profdata $files"
