#!/usr/bin/env bash
# The serial console's input (src/kvm/console.h): a terminal on stdin feeds
# COM1. Runs build/guest/console_echo.elf on a pseudo-terminal and checks that
#  - the terminal is raw while lapis runs (no ICANON, no ECHO) but Ctrl-C
#    still signals (ISIG), and that its settings come back afterwards: on a
#    normal exit, on Ctrl-C (status 8), on SIGQUIT and SIGHUP;
#  - a 300-byte line typed at once reaches the guest whole and in order
#    through a one-byte receiver (lapis waits for room; no overrun);
#  - input that is not a terminal (a pipe) is never read.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib/lapis.bash

GUEST=$GUESTS/console_echo.elf
T=$TMPDIR_LAPIS

why=$(kvm_missing)
if [ -n "$why" ]; then
    for n in console-line console-ctrl-c console-sigquit console-sighup console-pipe; do
        skip "$n" "$why"
    done
    finish
    exit $?
fi

# console_pty.py LAPIS GUEST MODE: runs lapis on a new pseudo-terminal; prints key=value lines.
cat >"$T/console_pty.py" <<'PY'
import os, pty, select, signal, sys, termios, time

lapis, guest, mode = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(lapis, [lapis, "run", "--kernel", guest])
before = termios.tcgetattr(fd)
out = b""

def read_until(needle, secs):
    global out
    end = time.time() + secs
    while needle not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return needle in out

print("ready=%d" % read_until(b"console_echo: ready", 60))
lflag = termios.tcgetattr(fd)[3]
print("raw=%d" % (not lflag & (termios.ICANON | termios.ECHO)))
print("isig=%d" % bool(lflag & termios.ISIG))
text = bytes(0x21 + i % 90 for i in range(300))
if mode == "line":
    os.write(fd, text + b"\r")
elif mode == "ctrl-c":
    os.write(fd, b"\x03")
elif mode == "sigquit":
    os.kill(pid, signal.SIGQUIT)
elif mode == "sighup":
    os.kill(pid, signal.SIGHUP)
end = time.time() + 60
while time.time() < end:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    read_until(b"\0", 0.2)
else:
    os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
read_until(b"\0", 0.5)
print("status=%s" % (os.WEXITSTATUS(st) if os.WIFEXITED(st) else "sig%d" % os.WTERMSIG(st)))
print("restored=%d" % (termios.tcgetattr(fd) == before))
print("line_ok=%d" % (b"console_echo: got 300 bytes: " + text in out))
sys.stdout.flush()
os.write(2, out[-1500:])
PY

# console_case NAME MODE WANT_STATUS [line]: one run on a pty.
console_case() {
    local name=$1 mode=$2 want=$3 check_line=${4:-}
    local res
    res=$(timeout -s KILL 120 python3 "$T/console_pty.py" "$LAPIS" "$GUEST" "$mode" 2>"$T/$name.out")
    local v
    v() { printf '%s\n' "$res" | sed -n "s/^$1=//p"; }
    OUT=$(tr -d '\r' <"$T/$name.out") ERR=""
    if [ "$(v ready)" != 1 ]; then
        fail "$name" "the guest never said it was ready"
    elif [ "$(v raw)" != 1 ] || [ "$(v isig)" != 1 ]; then
        fail "$name" "terminal not raw with ISIG while lapis ran (raw=$(v raw) isig=$(v isig))"
    elif [ "$(v status)" != "$want" ]; then
        fail "$name" "exit status $(v status), expected $want"
    elif [ "$(v restored)" != 1 ]; then
        fail "$name" "the terminal's settings were not restored"
    elif [ -n "$check_line" ] && [ "$(v line_ok)" != 1 ]; then
        fail "$name" "the guest did not get the 300-byte line whole"
    else
        pass "$name"
    fi
}

console_case console-line line 0 line
console_case console-ctrl-c ctrl-c 8
console_case console-sigquit sigquit sig3
console_case console-sighup sighup sig1

# A pipe on stdin belongs to whoever runs lapis: it is never read.
printf 'from-a-pipe\r' | timeout -s KILL 60 "$LAPIS" run --kernel "$GUEST" >"$T/pipe.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
    grep -q "console_echo: ready" "$T/pipe.out" && break
    sleep 0.1
done
sleep 2
kill -TERM "$pid" 2>/dev/null
wait "$pid"
RC=$?
OUT=$(cat "$T/pipe.out") ERR=""
if grep -q "console_echo: got" "$T/pipe.out"; then
    fail console-pipe "the guest got bytes from a pipe on stdin"
elif ! grep -q "console_echo: ready" "$T/pipe.out"; then
    fail console-pipe "the guest never said it was ready"
elif [ "$RC" -ne 8 ]; then
    fail console-pipe "exit status $RC after SIGTERM, expected 8"
else
    pass console-pipe
fi
finish
