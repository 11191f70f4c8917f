#!/usr/bin/env bash
# Instructions per operation, repeatably: the VMM under valgrind --tool=callgrind
# (all threads), two values of n, (Ir_big - Ir_small) / (n_big - n_small).
#
#   bench/callgrind.sh [WORKLOAD [N_SMALL N_BIG [lapis|qemu|both]]]
#   bench/callgrind.sh level_broadcast 1000 3000 both   (same digit count: same console output)
#
# Callgrind runs one thread at a time and far slower than the real thing, so
# time-driven work (lapis's watchdog, QEMU's main loop timers) is undercounted:
# this is the work done per operation on the vCPU path. QEMU takes minutes.
# Profiles stay in $CG_DIR (default a temporary directory) for callgrind_annotate.
set -eu
cd "$(dirname "$0")/.."
BUILD=${LAPIS_BUILD:-build}
W=${1:-level_broadcast}
NS=${2:-1000}
NB=${3:-3000}
WHO=${4:-both}
CG_DIR=${CG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/callgrind.XXXXXX")}
mkdir -p "$CG_DIR"
GUEST=$BUILD/guest/bench_$W.elf
QEMU=(qemu-system-x86_64 -machine q35,kernel-irqchip=split -accel kvm -m 256 -display none
    -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -device pc-testdev)

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found" >&2; exit 2; }
[ -f "$GUEST" ] || { echo "callgrind.sh: $GUEST not found: make guests" >&2; exit 2; }

ir() { # name n cmd...: prints the instruction count of one run
    local name=$1 n=$2 out
    shift 2
    out=$CG_DIR/$name.$n
    # Status 3 with all n done is a guest that counted an extra delivery (bench/README.md).
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$@" >"$out.stdout" 2>"$out.stderr" ||
        [ $? -eq 3 ] || { echo "callgrind.sh: $name n=$n failed (see $out.stderr)" >&2; exit 1; }
    grep -q ": $n of $n " "$out.stdout" || { echo "callgrind.sh: $name n=$n: guest did not finish" >&2; exit 1; }
    sed -n 's/^summary: //p' "$out.cg"
}

per_op() { # name cmd-prefix...: runs both n and prints Ir/op
    local name=$1 a b
    shift
    a=$(ir "$name" "$NS" "$@" "n=$NS")
    b=$(ir "$name" "$NB" "$@" "n=$NB")
    awk -v a="$a" -v b="$b" -v s="$NS" -v l="$NB" -v who="$name" -v w="$W" \
        'BEGIN { printf "%s %s: %.0f instructions per operation (Ir %d at n=%d, %d at n=%d)\n",
                 who, w, (b - a) / (l - s), a, s, b, l }'
}

case $WHO in lapis | both) per_op lapis "$BUILD/lapis" run --kernel "$GUEST" --cmdline ;; esac
case $WHO in qemu | both) per_op qemu "${QEMU[@]}" -kernel "$GUEST" -append ;; esac
echo "profiles: $CG_DIR (callgrind_annotate $CG_DIR/lapis.$NB.cg)"
