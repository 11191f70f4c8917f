# Helpers for tests/integration/run_*.sh: running lapis, reading its one-line
# statistics, counting results, and making tiny multiboot images on the fly.
# Source it after `set -u`; it sets BUILD, LAPIS and GUESTS.

# Knobs that change lapis's output must not leak in from the caller.
unset LAPIS_TRACE LAPIS_TEST_NO_EOI_FLAGS LAPIS_KVM_DEV

BUILD=${LAPIS_BUILD:-build}
LAPIS=$BUILD/lapis
GUESTS=$BUILD/guest
LAPIS_TIMEOUT=${LAPIS_TIMEOUT:-120}

t_passed=0 t_failed=0 t_skipped=0
TMPDIR_LAPIS=$(mktemp -d "${TMPDIR:-/tmp}/lapis-it.XXXXXX")
trap 'rm -rf "$TMPDIR_LAPIS"' EXIT

pass() { t_passed=$((t_passed + 1)); echo "PASS $1"; }
fail() {
    t_failed=$((t_failed + 1))
    echo "FAIL $1: $2"
    if [ -n "${OUT:-}${ERR:-}" ]; then
        printf '%s\n' "$OUT" | tail -n 15 | sed 's/^/    stdout| /'
        printf '%s\n' "$ERR" | tail -n 6 | sed 's/^/    stderr| /'
    fi
}
skip() { t_skipped=$((t_skipped + 1)); echo "SKIP $1: $2"; }

# The summary line tests/run-tests.sh sums; the exit status says if anything failed.
finish() {
    echo "$(basename "$0" .sh): $t_passed passed, $t_failed failed, $t_skipped skipped"
    [ "$t_failed" -eq 0 ]
}

# Why KVM tests cannot run here, or nothing if they can.
kvm_missing() {
    if [ ! -e /dev/kvm ]; then
        echo "/dev/kvm is absent"
    elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        echo "/dev/kvm is not accessible to $(id -un)"
    fi
}

# run_lapis ARGS...: runs lapis with a timeout; sets RC, OUT (stdout), ERR (stderr).
run_lapis() {
    local o=$TMPDIR_LAPIS/out e=$TMPDIR_LAPIS/err
    # stdin from /dev/null: a terminal there would become the guest's console
    # (raw mode), and a SIGKILL on timeout would leave it raw.
    timeout -s KILL "$LAPIS_TIMEOUT" "$LAPIS" "$@" </dev/null >"$o" 2>"$e"
    RC=$?
    OUT=$(cat "$o")
    ERR=$(cat "$e")
    STATS=$(printf '%s\n' "$ERR" | grep '^lapis: stats: ' | tail -n 1)
}

# stat KEY: the value of KEY=... in the last statistics line (empty if absent).
stat() {
    printf '%s\n' "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# expect_stat NAME KEY OP VALUE: OP is eq, ne, gt, ge, lt or str (string equality).
expect_stat() {
    local name=$1 key=$2 op=$3 want=$4 got
    got=$(stat "$key")
    if [ -z "$got" ]; then
        fail "$name" "no $key in the statistics line"
        return 1
    fi
    case $op in
    str) [ "$got" = "$want" ] ;;
    *) [ "$got" -"$op" "$want" ] ;;
    esac || {
        fail "$name" "$key=$got, expected $op $want"
        return 1
    }
    return 0
}

# expect_rc NAME WANT: checks RC.
expect_rc() {
    if [ "$RC" -ne "$2" ]; then
        fail "$1" "exit status $RC, expected $2"
        return 1
    fi
    return 0
}

# need_guest NAME FILE: fails the test if the guest image is missing.
need_guest() {
    if [ ! -f "$2" ]; then
        fail "$1" "$2 is missing: build it with 'make guests'"
        return 1
    fi
    return 0
}

# le32 N: N as 4 little-endian bytes, in printf %b form.
le32() {
    local n=$(($1 & 0xFFFFFFFF))
    printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $(((n >> 8) & 255)) \
        $(((n >> 16) & 255)) $(((n >> 24) & 255))
}

# mb_image FILE CODE [BSS_END]: a multiboot v1 "a.out kludge" image loaded at 1 MiB
# whose 32-bit code CODE (printf %b escapes) starts right after the 32-byte header.
mb_image() {
    local file=$1 code=$2 bss=${3:-0}
    local magic=0x1BADB002 flags=0x00010003 base=0x100000
    {
        printf '%b' "$(le32 $magic)$(le32 $flags)$(le32 $((-(magic + flags))))"
        printf '%b' "$(le32 $base)$(le32 $base)$(le32 0)$(le32 "$bss")$(le32 $((base + 32)))"
        printf '%b' "$code"
    } >"$file"
}

# Code for mb_image (32-bit protected mode, paging off).
MB_CODE_SPIN='\xeb\xfe'                                           # jmp .
MB_CODE_EXIT42='\x66\xba\xf4\x00\xb0\x2a\xee\xeb\xfe'             # out 0xf4, 42 -> status 85
MB_CODE_TRIPLE='\x0f\x01\x1d\x30\x00\x10\x00\x0f\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' # lidt [empty]; ud2
MB_CODE_POWEROFF='\x66\xba\x04\x06\x66\xb8\x00\x20\x66\xef\xeb\xfe' # outw 0x604, SLP_EN

# A copy of lapis that the user nobody can execute, for the permission tests:
# the build tree may sit in a directory only root can enter (a mktemp clone).
# Prints its path, or nothing (and returns 1) where nobody still cannot run it.
lapis_for_nobody() {
    local dir=$TMPDIR_LAPIS/nobody-bin
    chmod o+x "$TMPDIR_LAPIS" || return 1
    mkdir -p "$dir" && chmod 755 "$dir" && cp "$LAPIS" "$dir/lapis" && chmod 755 "$dir/lapis" ||
        return 1
    runuser -u nobody -- "$dir/lapis" --version >/dev/null 2>&1 || return 1
    echo "$dir/lapis"
}

# Does this host's KVM hold an EOI exit back while the vCPU halts (PVM does; a
# standard KVM exits at the EOI)? Measured once per suite by lapis probe: prints yes,
# no, or unknown (the probe could not tell).
host_holds_eoi_back() {
    local f=$TMPDIR_LAPIS/held-back held
    if [ ! -s "$f" ]; then
        held=$(timeout -s KILL 180 "$LAPIS" probe --json 2>/dev/null </dev/null |
            sed -nE 's/^ *"held_back_eoi": \{"held_back": (true|false|null),.*/\1/p')
        case $held in
        true) echo yes ;;
        false) echo no ;;
        *) echo unknown ;;
        esac >"$f"
    fi
    cat "$f"
}

# suite_start NAME GUEST...: ends the suite (with its summary line) unless lapis and the
# guests are built and a KVM is at hand. Without /dev/kvm the suite is skipped when run
# alone; make check runs it inside a nested standard KVM instead.
suite_start() {
    local name=$1 why g
    shift
    if [ ! -x "$LAPIS" ]; then
        fail "$name" "$LAPIS is missing: run 'make $LAPIS'"
        finish
        exit 1
    fi
    why=$(kvm_missing)
    if [ -n "$why" ]; then
        skip "$name" "$why: run it through 'make check' or 'tests/nested/run 7 -- bash $0'"
        finish
        exit
    fi
    for g in "$@"; do
        need_guest "$name" "$g" || {
            finish
            exit 1
        }
    done
}
