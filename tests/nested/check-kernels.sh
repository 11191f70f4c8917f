#!/usr/bin/env bash
# make check-kernels: tests/nested/matrix.sh on the host's /dev/kvm (where there
# is one) and on each of Debian's kernels in a nested host, RUNS times, then one
# table kernel x target x mode.
#
#   tests/nested/check-kernels.sh [--kernels "6.1 6.12 7"] [--runs N] [--jobs N]
#                                 [--json FILE] [--no-host] [--filter GLOBS]
# Closing line: "check-kernels: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
kernels="6.1 6.12 7" runs=1 jobs=2 json= host=auto filter=()
while [ $# -gt 0 ]; do
    case $1 in
    --kernels) kernels=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --no-host) host=no; shift ;;
    --filter) filter=(--filter "$2"); shift 2 ;;
    *) echo "check-kernels: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "check-kernels: --runs takes a positive number" >&2; exit 2; }
[[ $jobs =~ ^[1-9]$ ]] || { echo "check-kernels: --jobs takes 1 to 9" >&2; exit 2; }
BUILD=${LAPIS_BUILD:-build}
export LAPIS_BUILD=$BUILD
results=$BUILD/check-kernels
rm -rf "$results" && mkdir -p "$results"

# Download first, one kernel at a time, so that parallel runs find them cached.
for k in $kernels; do
    tests/nested/fetch-kernel.sh "$k" >/dev/null || { echo "check-kernels: cannot fetch kernel $k" >&2; exit 1; }
done

jobs_list=()
for r in $(seq 1 "$runs"); do
    if [ "$host" = auto ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        jobs_list+=("host $r")
    fi
    for k in $kernels; do jobs_list+=("$k $r"); done
done

run_one() { # kernel run
    local k=$1 r=$2 d=$results/$1/run$2 rc
    mkdir -p "$d"
    local t0=$SECONDS
    if [ "$k" = host ]; then
        tests/nested/matrix.sh "$d" "${filter[@]}" >"$d/output.txt" 2>&1
    else
        tests/nested/run --timeout 2400 --out "$d" --log "$d/nested-dmesg.txt" "$k" -- \
            tests/nested/matrix.sh "$d" "${filter[@]}" >"$d/output.txt" 2>&1
    fi
    rc=$?
    echo "$rc" >"$d/status"
    echo "check-kernels: $k run $r: status $rc in $((SECONDS - t0)) s ($(tail -n 1 "$d/output.txt"))"
}

running=0
for j in "${jobs_list[@]}"; do
    # shellcheck disable=SC2086
    run_one $j &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

python3 tests/nested/report.py "$results" ${json:+--json "$json"}
