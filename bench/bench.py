#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""lapis benchmarks: the interrupt path's cost against QEMU and against the exit floor.

Runs each bench guest (guest/progs/bench_*.c) under lapis and under QEMU, small
n and big n, alternating the VMMs, several repetitions; takes per-operation
figures as (big - small) / (n_big - n_small) for each repetition and reports
medians. Every run goes through bench/vmrun, which measures both VMMs the same
way (wait4 rusage, wall time, kernel tracepoint counts of exits, ioctls and
syscalls). bench/README.md explains the method and the JSON.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What each guest does per operation (see its source), and the floor that
# follows: the exits and ioctls no VMM can avoid. "per_op" is paid once per
# loop iteration (n of them); "per_delivery" once per interrupt the guest's
# handler takes (n of them, unless the host delivers extra ones: see README).
# A port write or an MMIO access is one exit and one KVM_RUN; an interrupt is
# one KVM_IRQ_LINE (or _STATUS, or KVM_SIGNAL_MSI); an EOI exit is one exit.
WORKLOADS = [
    {
        "name": "pio",
        "guest": "bench_pio",
        "what": "outb to port 0x80 (no device): the exit floor",
        "interrupt": False,
        "per_op": {"exit.io": 1, "ioctl.KVM_RUN": 1},
        "per_delivery": {},
        "floor_note": "1 port exit",
    },
    {
        "name": "level_broadcast",
        "guest": "bench_level_broadcast",
        "what": "level IRQ, broadcast EOI: raise by port, handler lowers by port, LAPIC EOI",
        "interrupt": True,
        "per_op": {"exit.io": 1, "ioctl.KVM_RUN": 1},
        "per_delivery": {"exit.io": 1, "exit.ioapic_eoi": 1, "ioctl.KVM_RUN": 2, "ioctl.irq": 1},
        "floor_note": "port exit (raise) + KVM_IRQ_LINE + port exit (lower) + EOI exit",
    },
    {
        "name": "level_directed",
        "guest": "bench_level_directed",
        "what": "level IRQ, Directed EOI: as above, LAPIC EOI suppressed, EOIR write",
        "interrupt": True,
        "per_op": {"exit.io": 1, "ioctl.KVM_RUN": 1},
        "per_delivery": {"exit.io": 1, "exit.mmio": 1, "ioctl.KVM_RUN": 2, "ioctl.irq": 1},
        "floor_note": "port exit (raise) + KVM_IRQ_LINE + port exit (lower) + EOIR MMIO exit",
    },
    {
        "name": "edge",
        "guest": "bench_edge",
        "what": "edge IRQ: raise and lower by port, LAPIC EOI (no IOAPIC work)",
        "interrupt": True,
        "per_op": {"exit.io": 2, "ioctl.KVM_RUN": 2, "ioctl.irq": 1},
        "per_delivery": {},
        "floor_note": "2 port exits (raise, lower) + KVM_IRQ_LINE",
    },
    {
        "name": "ioapic_regs",
        "guest": "bench_ioapic_regs",
        "what": "IOAPIC mask/unmask: IOREGSEL+IOWIN written twice, line low",
        "interrupt": False,
        "per_op": {"exit.mmio": 4, "ioctl.KVM_RUN": 4},
        "per_delivery": {},
        "floor_note": "4 MMIO exits; no route update (a mask bit changes no MSI message)",
    },
]

EXIT_KINDS = ["io", "mmio", "ioapic_eoi", "hlt", "other"]
# ioctl kinds in the tables; "irq" sums the ways of raising an interrupt.
IOCTL_KINDS = ["KVM_RUN", "irq", "KVM_SET_GSI_ROUTING", "lapic", "mp_state", "other"]
IRQ_IOCTLS = ["KVM_IRQ_LINE", "KVM_IRQ_LINE_STATUS", "KVM_SIGNAL_MSI"]
# The guest console: each byte is an LSR read and a THR write, two port exits.
CONSOLE_EXITS_PER_BYTE = 2
RAM_MIB = 256

QEMU_ARGS = [
    "-machine", "q35,kernel-irqchip=split", "-accel", "kvm", "-m", str(RAM_MIB),
    "-display", "none", "-serial", "stdio", "-no-reboot",
    # iobase 0xf4 as the guests (guest/lib/ports.h); QEMU's default is 0x501
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-device", "pc-testdev",
]  # fmt: skip

# The guests print these before and after their loop (vmrun times them).
START_MARK = ": start, n="
FINISH_MARK = " of "
RESULT_RE = re.compile(r"^(bench_\w+): (\d+) of (\d+) [^(\n]*?(?:\((\d+) deliveries\))?\s*$", re.M)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- running ---------------------------------------------------------------------------


class Runner:
    def __init__(self, args):
        self.args = args
        self.build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
        self.lapis = os.path.join(self.build, "lapis")
        self.work = tempfile.mkdtemp(prefix="benchrun.")
        self.vmrun = args.vmrun or os.path.join(self.build, "bench", "vmrun")
        self.events = False
        self.sampling = False
        self.qemu = None
        self.nice = []

    def guest(self, w):
        return os.path.join(self.build, "guest", w["guest"] + ".elf")

    def prepare(self):
        if not os.access(self.vmrun, os.X_OK):
            # The smoke test and direct use: build it here (make bench builds it in $(BUILD)).
            self.vmrun = os.path.join(self.work, "vmrun")
            cc = os.environ.get("CC", "cc")
            subprocess.run([cc, "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-o", self.vmrun,
                            os.path.join(ROOT, "bench", "vmrun.c")], check=True)  # fmt: skip
        missing = [p for p in [self.lapis] + [self.guest(w) for w in self.workloads()]
                   if not os.path.exists(p)]  # fmt: skip
        if missing:
            sys.exit("bench: missing %s: run 'make build/lapis guests' first" % ", ".join(missing))
        if not self.args.no_qemu:
            self.qemu = shutil.which(self.args.qemu)
            if not self.qemu:
                log("bench: %s not found: QEMU columns will be n/a" % self.args.qemu)
        if not self.args.no_events:
            r = subprocess.run([self.vmrun, "-e", "--", "true"], capture_output=True, text=True)
            self.events = r.returncode == 0
            if not self.events:
                log("bench: kernel tracepoints unavailable (%s): exits and ioctls of QEMU come "
                    "from strace only" % r.stderr.strip())  # fmt: skip
        if self.args.sample_us:
            r = subprocess.run([self.vmrun, "-u", str(self.args.sample_us), "--", "true"],
                               capture_output=True, text=True)  # fmt: skip
            self.sampling = r.returncode == 0
            if not self.sampling:
                log("bench: no perf sampling (%s): user CPU from getrusage only" % r.stderr.strip())
        if self.args.nice and os.geteuid() == 0:
            self.nice = ["nice", "-n", str(self.args.nice)]

    def workloads(self):
        names = self.args.workloads.split(",") if self.args.workloads else None
        return [w for w in WORKLOADS if not names or w["name"] in names]

    def command(self, vmm, w, n):
        if vmm == "lapis":
            return ([self.lapis, "run", "--memory", "%dM" % RAM_MIB] + shlex.split(self.args.lapis_args)
                    + ["--kernel", self.guest(w), "--cmdline", "n=%d" % n])  # fmt: skip
        return [self.qemu] + QEMU_ARGS + ["-kernel", self.guest(w), "-append", "n=%d" % n]

    def run(self, vmm, w, n, wrap=None, events=True):
        """One run under vmrun; returns a dict (raw figures, guest result)."""
        tag = "%s-%s-%d-%d" % (vmm, w["name"], n, time.monotonic_ns())
        out, err, stats = (os.path.join(self.work, tag + s) for s in (".out", ".err", ".json"))
        cmd = self.command(vmm, w, n)
        if wrap:
            cmd = wrap + cmd
        env = dict(os.environ)
        for k in ("LAPIS_TRACE", "LAPIS_TEST_NO_EOI_FLAGS", "LAPIS_KVM_DEV"):
            env.pop(k, None)
        env.update(LAPIS_STATS="json", LAPIS_STATS_FILE=stats)
        vm = self.nice + [self.vmrun, "-m", str(RAM_MIB), "-t", str(self.args.timeout),
                          "-o", out, "-E", err, "-S", START_MARK, "-F", FINISH_MARK]  # fmt: skip
        if self.sampling and events and not wrap:
            vm += ["-u", str(self.args.sample_us)]
        if self.events and events and not wrap:
            vm.append("-e")
        r = subprocess.run(vm + ["--"] + cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit("bench: vmrun failed: %s" % r.stderr.strip())
        res = json.loads(r.stdout)
        with open(out, "rb") as f:
            text = f.read()
        res["stdout_bytes"] = len(text)
        text = text.decode("utf-8", "replace")
        res["guest"] = parse_guest(text, n)
        with open(err, "r", errors="replace") as f:
            res["stderr_tail"] = f.read()[-600:]
        res["lapis"] = None
        if vmm == "lapis" and os.path.exists(stats):
            with open(stats) as f:
                res["lapis"] = json.load(f)
        res["vmm"], res["workload"], res["n"] = vmm, w["name"], n
        res["valid"], res["why"] = judge(res, n)
        for p in (out, err, stats):
            if os.path.exists(p):
                os.unlink(p)
        return res

    def run_valid(self, vmm, w, n):
        """Runs until the guest completes its n operations (at most 3 tries)."""
        tries = []
        for _ in range(3):
            r = self.run(vmm, w, n)
            tries.append(r)
            if r["valid"] or r["why"].startswith("unsupported"):
                break
            log("bench:   %s %s n=%d invalid (%s), retrying" % (vmm, w["name"], n, r["why"]))
        r = tries[-1]
        r["tries"] = len(tries)
        r["failed_tries"] = [t["why"] for t in tries if not t["valid"]]
        return r


def parse_guest(text, n):
    m = None
    for m in RESULT_RE.finditer(text):
        pass
    g = {"done": None, "n": None, "deliveries": None, "note": None}
    if m:
        g["done"], g["n"] = int(m.group(2)), int(m.group(3))
        g["deliveries"] = int(m.group(4)) if m.group(4) else None
    if "directed EOI not offered" in text:
        g["note"] = "the guest found no Directed EOI (LVR bit 24 or SVR bit 12 missing)"
    return g


def judge(res, n):
    """Whether a run measured n complete operations; the reason if not."""
    g = res["guest"]
    if res["timed_out"]:
        return False, "timed out"
    if g["note"]:
        return False, "unsupported: " + g["note"]
    if g["done"] is None:
        return False, "no result line from the guest (exit status %d)" % res["exit_status"]
    if g["done"] != n or g["n"] != n:
        return False, "guest did %s of %s operations" % (g["done"], g["n"])
    if res["exit_status"] == 0:
        return True, ""
    # bench guests fail their own check on extra deliveries; the run still did n operations.
    if g["deliveries"] is not None and g["deliveries"] > n and res["exit_status"] == 3:
        return True, "extra deliveries"
    return False, "exit status %d" % res["exit_status"]


# ---- counts ------------------------------------------------------------------------------


def counts(res):
    """The run's counts, one flat dict: exit.*, ioctl.*, syscall.* (None: unknown)."""
    c = {}
    ev = res.get("events") or {}
    lp = res.get("lapis")
    if lp:
        # lapis counts its own; the tracepoints, when present, must agree (checked).
        ex = lp["exits"]
        for k in EXIT_KINDS:
            c["exit." + k] = ex.get(k, 0)
        c["exit.interrupted"] = ex.get("intr", 0)
        io = lp["ioctls"]
        c["ioctl.KVM_RUN"] = io["KVM_RUN"] - c["exit.interrupted"]
        c["ioctl.run_interrupted"] = c["exit.interrupted"]
        c["ioctl.irq"] = sum(io.get(k, 0) for k in IRQ_IOCTLS)
        c["ioctl.KVM_SET_GSI_ROUTING"] = io["KVM_SET_GSI_ROUTING"]
        c["ioctl.lapic"] = io["KVM_GET_LAPIC"] + io["KVM_SET_LAPIC"]
        c["ioctl.mp_state"] = io["KVM_GET_MP_STATE"] + io["KVM_SET_MP_STATE"]
        c["ioctl.total"] = io["total"]
    elif ev:
        for k in ["io", "mmio", "ioapic_eoi", "hlt"]:
            c["exit." + k] = ev["exit." + k]
        c["exit.other"] = ev["exit.total"] - sum(ev["exit." + k] for k in
                                                 ["io", "mmio", "ioapic_eoi", "hlt"])  # fmt: skip
        c["exit.interrupted"] = ev["exit.interrupted"]
        c["ioctl.KVM_RUN"] = ev["ioctl.KVM_RUN"] - ev["exit.interrupted"]
        c["ioctl.run_interrupted"] = ev["exit.interrupted"]
        c["ioctl.irq"] = sum(ev["ioctl." + k] for k in IRQ_IOCTLS)
        c["ioctl.KVM_SET_GSI_ROUTING"] = ev["ioctl.KVM_SET_GSI_ROUTING"]
        c["ioctl.lapic"] = ev["ioctl.KVM_GET_LAPIC"] + ev["ioctl.KVM_SET_LAPIC"]
        c["ioctl.mp_state"] = ev["ioctl.KVM_GET_MP_STATE"] + ev["ioctl.KVM_SET_MP_STATE"]
        c["ioctl.total"] = ev["ioctl.total"]
    if "ioctl.total" in c:
        known = sum(c["ioctl." + k] for k in IOCTL_KINDS if k != "other")
        c["ioctl.other"] = c["ioctl.total"] - known - c["ioctl.run_interrupted"]
        c["exit.total"] = sum(c["exit." + k] for k in EXIT_KINDS)
    if ev:
        for k, v in ev.items():
            if k.startswith("syscall."):
                c[k] = v
    return c


def tracepoint_mismatch(res):
    """lapis's own exit and ioctl counts against the kernel's, for one run (None: agree)."""
    ev, lp = res.get("events"), res.get("lapis")
    if not ev or not lp:
        return None
    pairs = [("exit.io", lp["exits"]["io"]), ("exit.mmio", lp["exits"]["mmio"]),
             ("exit.ioapic_eoi", lp["exits"]["ioapic_eoi"]),
             ("ioctl.KVM_RUN", lp["ioctls"]["KVM_RUN"]),
             ("ioctl.KVM_IRQ_LINE", lp["ioctls"]["KVM_IRQ_LINE"]),
             ("ioctl.KVM_SET_GSI_ROUTING", lp["ioctls"]["KVM_SET_GSI_ROUTING"]),
             ("ioctl.KVM_GET_LAPIC", lp["ioctls"]["KVM_GET_LAPIC"])]  # fmt: skip
    bad = ["%s: lapis %d, kernel %d" % (k, v, ev[k]) for k, v in pairs if ev[k] != v]
    # the kernel also sees ioctls on non-KVM fds (terminals): only >= is required there
    if ev["ioctl.total"] < lp["ioctls"]["total"]:
        bad.append("ioctl.total: lapis %d > kernel %d" % (lp["ioctls"]["total"], ev["ioctl.total"]))
    return "; ".join(bad) or None


def floor_counts(w, n, deliveries):
    d = deliveries if deliveries is not None else n
    f = {}
    for k, v in w["per_op"].items():
        f[k] = f.get(k, 0) + v * n
    for k, v in w["per_delivery"].items():
        f[k] = f.get(k, 0) + v * d
    return f


def floor_per_op(w):
    f = dict(w["per_op"])
    for k, v in w["per_delivery"].items():
        f[k] = f.get(k, 0) + v
    f["exit.total"] = sum(v for k, v in f.items() if k.startswith("exit."))
    f["ioctl.total"] = sum(v for k, v in f.items() if k.startswith("ioctl."))
    f["syscall.total"] = f["ioctl.total"]  # the floor needs no syscall but these ioctls
    return f


def pair(w, small, big):
    """Per-operation figures of one repetition (small and big run of one VMM)."""
    dn = big["n"] - small["n"]
    dbytes = big["stdout_bytes"] - small["stdout_bytes"]
    console = CONSOLE_EXITS_PER_BYTE * dbytes
    cs, cb = counts(small), counts(big)
    p = {"n_small": small["n"], "n_big": big["n"], "console_bytes": dbytes}
    for k in cb:
        if k in cs:
            delta = cb[k] - cs[k]
            # the console's exits (n has more digits in the big run) are not the workload's
            if k in ("exit.io", "exit.total", "ioctl.KVM_RUN", "ioctl.total", "syscall.total",
                     "syscall.ioctl"):  # fmt: skip
                delta -= console
            p[k] = delta / dn
    for k, rk in (("user_us", "utime_us"), ("sys_us", "stime_us")):
        p[k] = (big[rk] - small[rk]) / dn
    p["wall_us"] = (big["wall_ns"] - small["wall_ns"]) / 1000.0 / dn
    # The loop alone, from the big run's markers: no start-up in it, nothing to subtract.
    s0, s1 = big.get("start_mark"), big.get("finish_mark")
    if s0 and s1:
        n = big["n"]
        p["loop_wall_us"] = (s1["ns"] - s0["ns"]) / 1000.0 / n
        if big.get("sample_period_ns"):
            per = big["sample_period_ns"] / 1000.0
            u = s1["user_samples"] - s0["user_samples"]
            k = s1["user_samples_at_syscall"] - s0["user_samples_at_syscall"]
            p["loop_user_us"] = (u - k) * per / n
            p["loop_user_raw_us"] = u * per / n
            p["loop_user_samples"] = u - k
    p["extra_deliveries"] = ((big["guest"]["deliveries"] or big["n"]) - big["n"]
                             if w["interrupt"] else 0)  # fmt: skip
    p["maxrss_kb"] = big["maxrss_kb"]
    p["guest_ram_rss_kb"] = big["guest_ram_rss_kb"]
    p["rss_overhead_kb"] = big["maxrss_kb"] - big["guest_ram_rss_kb"]
    # The floor, exactly, for the deliveries that happened (lapis's own counts).
    if small.get("lapis") and big.get("lapis"):
        fs = floor_counts(w, small["n"], small["guest"]["deliveries"])
        fb = floor_counts(w, big["n"], big["guest"]["deliveries"])
        got, want, extra = {}, {}, {}
        for k in ["exit." + e for e in EXIT_KINDS] + ["ioctl." + i for i in IOCTL_KINDS]:
            g = cb.get(k, 0) - cs.get(k, 0) - (console if k in ("exit.io", "ioctl.KVM_RUN") else 0)
            f = fb.get(k, 0) - fs.get(k, 0)
            got[k], want[k] = g, f
            if g != f:
                extra[k] = g - f
        p["floor_delta"] = {"got": got, "floor": want, "excess": extra}
        # Watchdog kicks (spec eoi.md §7) depend on host load, not on the operations.
        p["floor_exact"] = not {k for k in extra if k != "ioctl.mp_state"}
    return p


# ---- the whole benchmark ---------------------------------------------------------------


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "model": None}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["loadavg_start"] = os.getloadavg()[0]
    info["host"] = host_kind(info["kernel"])
    return info


def host_kind(release):
    """Which KVM the figures come from: they mean different things on each."""
    if os.environ.get("LAPIS_NESTED_KERNEL"):
        return ("standard KVM (Debian %s, kvm_amd) nested under QEMU TCG: exits, ioctls and "
                "syscalls per operation are exact; user CPU is TCG time, a ratio only"
                % os.environ["LAPIS_NESTED_KERNEL"])
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    if " svm" in flags or " vmx" in flags:
        return "standard KVM (%s)" % release
    return ("KVM without VMX/SVM (%s; a PVM-backed host: guest kernel code is emulated)"
            % release)


def qemu_version(qemu):
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
        return out.splitlines()[0]
    except (OSError, IndexError):
        return None


def strace_check(runner, w, vmm, n_small, n_big):
    """strace -f -C on two runs: ioctls by request and all syscalls per operation."""
    if not shutil.which("strace"):
        return {"error": "strace not found"}
    res = {}
    for n in (n_small, n_big):
        logf = os.path.join(runner.work, "strace-%s-%d.txt" % (vmm, n))
        r = runner.run(vmm, w, n, wrap=["strace", "-f", "-qq", "-C", "-e", "trace=all",
                                        "-o", logf])  # fmt: skip
        if not r["valid"]:
            return {"error": "run under strace: " + r["why"]}
        ioctls, total = {}, 0
        with open(logf, errors="replace") as f:
            text = f.read()
        for m in re.finditer(r"ioctl\(\d+, (\w+)", text):
            ioctls[m.group(1)] = ioctls.get(m.group(1), 0) + 1
        m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total\s*$", text, re.M)
        total = int(m.group(1)) if m else None
        os.unlink(logf)
        res[n] = {"ioctls": ioctls, "syscalls": total, "bytes": r["stdout_bytes"],
                  "lapis": r.get("lapis"), "deliveries": r["guest"]["deliveries"]}  # fmt: skip
    dn = n_big - n_small
    console = CONSOLE_EXITS_PER_BYTE * (res[n_big]["bytes"] - res[n_small]["bytes"])
    a, b = res[n_small], res[n_big]
    out = {"n_small": n_small, "n_big": n_big, "ioctl_per_op": {}}
    for k in set(a["ioctls"]) | set(b["ioctls"]):
        d = b["ioctls"].get(k, 0) - a["ioctls"].get(k, 0) - (console if k == "KVM_RUN" else 0)
        if abs(d) / dn >= 0.0005:
            out["ioctl_per_op"][k] = d / dn
    tot_a, tot_b = sum(a["ioctls"].values()), sum(b["ioctls"].values())
    out["ioctls_per_op"] = (tot_b - tot_a - console) / dn
    if a["syscalls"] is not None and b["syscalls"] is not None:
        out["syscalls_per_op"] = (b["syscalls"] - a["syscalls"] - console) / dn
    if a["lapis"] and b["lapis"]:
        # lapis counts its KVM ioctls; strace also sees the odd terminal ioctl (TCGETS)
        kvm_a = sum(v for k, v in a["ioctls"].items() if k.startswith("KVM_"))
        kvm_b = sum(v for k, v in b["ioctls"].items() if k.startswith("KVM_"))
        own = b["lapis"]["ioctls"]["total"] - a["lapis"]["ioctls"]["total"] - console
        out["lapis_own_ioctls_per_op"] = own / dn
        out["lapis_own_matches_strace"] = (b["lapis"]["ioctls"]["total"] == kvm_b
                                           and a["lapis"]["ioctls"]["total"] == kvm_a)  # fmt: skip
    return out


def summarize(w, reps, vmm):
    """Medians over repetitions (plus min/max of the CPU and wall figures)."""
    pairs = [r["pair"] for r in reps if r.get("pair")]
    if not pairs:
        return None
    s = {"reps": len(pairs)}
    keys = set().union(*pairs)
    for k in sorted(keys):
        vals = [p.get(k) for p in pairs if isinstance(p.get(k), (int, float))]
        if vals and not isinstance(pairs[0].get(k), bool):
            s[k] = median(vals)
            if k in ("user_us", "sys_us", "wall_us", "loop_user_us", "loop_wall_us"):
                s[k + "_min"], s[k + "_max"] = min(vals), max(vals)
    if vmm == "lapis":
        s["floor_exact"] = all(p.get("floor_exact") for p in pairs)
        s["floor_excess"] = [p["floor_delta"]["excess"] for p in pairs if "floor_delta" in p]
        s["extra_deliveries_all"] = [p["extra_deliveries"] for p in pairs]
    return s


def run_all(args):
    runner = Runner(args)
    runner.prepare()
    wl = runner.workloads()
    vmms = ["lapis"] + (["qemu"] if runner.qemu else [])
    t0 = time.monotonic()
    result = {
        "method": "see bench/README.md",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {"reps": args.reps, "n_small": args.n_small, "n_big": args.n,
                   "ram_mib": RAM_MIB, "events": runner.events, "nice": runner.nice,
                   "sample_us": runner.sampling and args.sample_us,
                   "qemu": runner.qemu and [runner.qemu] + QEMU_ARGS,
                   "qemu_version": runner.qemu and qemu_version(runner.qemu),
                   "lapis": runner.command("lapis", wl[0], 0)[:-4]},  # fmt: skip
        "command": args.reproduce,
        "workloads": {},
    }
    runs = {(w["name"], v): [] for w in wl for v in vmms}
    smalls = {}
    for rep in range(args.reps):
        for i, w in enumerate(wl):
            # alternate which VMM goes first, so drifts in host load hit both alike
            order = vmms if (rep + i) % 2 == 0 else vmms[::-1]
            for vmm in order:
                # The baseline (start-up, firmware, console) is run once per workload and
                # VMM unless asked otherwise: QEMU's start-up takes seconds here.
                key = (w["name"], vmm)
                if key not in smalls or args.small_every_rep:
                    smalls[key] = runner.run_valid(vmm, w, args.n_small)
                small = smalls[key]
                big = runner.run_valid(vmm, w, args.n) if small["valid"] else None
                entry = {"small": slim(small), "big": slim(big) if big else None}
                if small["valid"] and big and big["valid"]:
                    entry["pair"] = pair(w, small, big)
                    mm = tracepoint_mismatch(small) or tracepoint_mismatch(big)
                    if mm:
                        entry["tracepoint_mismatch"] = mm
                else:
                    entry["why"] = (big or small)["why"]
                runs[(w["name"], vmm)].append(entry)
                p = entry.get("pair")
                log("bench: rep %d/%d %-16s %-5s %s" % (
                    rep + 1, args.reps, w["name"], vmm,
                    "user %s us/op (rusage %.3f), loop wall %s us/op, exits %.3f/op" % (
                        fmt(p.get("loop_user_us")), p["user_us"], fmt(p.get("loop_wall_us"), 1),
                        p.get("exit.total", float("nan")))
                    if p else "n/a: " + entry["why"]))  # fmt: skip
    for w in wl:
        wr = {"what": w["what"], "floor": floor_per_op(w), "floor_note": w["floor_note"],
              "interrupt": w["interrupt"]}  # fmt: skip
        for vmm in vmms:
            reps = runs[(w["name"], vmm)]
            wr[vmm] = summarize(w, reps, vmm)
            wr[vmm + "_runs"] = reps
            if wr[vmm] is None:
                wr[vmm + "_why"] = next((r.get("why") for r in reps if r.get("why")), "no data")
        result["workloads"][w["name"]] = wr
    if args.strace and shutil.which("strace"):
        result["strace_check"] = {}
        for name in args.strace.split(","):
            w = next((x for x in wl if x["name"] == name), None)
            if not w:
                continue
            for vmm in vmms:
                log("bench: strace check, %s under %s" % (name, vmm))
                result["strace_check"]["%s/%s" % (name, vmm)] = strace_check(
                    runner, w, vmm, args.n_small, args.strace_n)
    # Start-up alone: tracepoint counters slow thread creation, so these runs have none.
    su = []
    for _ in range(args.startup_runs):
        r = runner.run("lapis", WORKLOADS[0], 1, events=False)
        if r["valid"] and r["lapis"] and r["lapis"]["first_kvm_run_ns"]:
            su.append({"exec_ms": (r["lapis"]["first_kvm_run_ns"] - r["exec_ns"]) / 1e6,
                       "fork_ms": (r["lapis"]["first_kvm_run_ns"] - r["spawn_ns"]) / 1e6,
                       "self_ms": r["lapis"]["start_to_first_kvm_run_ns"] / 1e6})  # fmt: skip
    result["startup_runs"] = su
    result["machine"]["loadavg_end"] = os.getloadavg()[0]
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    shutil.rmtree(runner.work, ignore_errors=True)
    return result


def slim(r):
    """A run without its bulky parts, for the JSON."""
    if r is None:
        return None
    keep = ("exit_status", "timed_out", "wall_ns", "utime_us", "stime_us", "maxrss_kb",
            "guest_ram_rss_kb", "stdout_bytes", "guest", "valid", "why", "tries", "failed_tries",
            "events", "lapis", "spawn_ns")  # fmt: skip
    s = {k: r[k] for k in keep if k in r}
    if r.get("lapis") and r["lapis"].get("first_kvm_run_ns"):
        s["spawn_to_first_kvm_run_us"] = (r["lapis"]["first_kvm_run_ns"] - r["spawn_ns"]) / 1000.0
    if not r["valid"]:
        s["stderr_tail"] = r.get("stderr_tail")
    return s


# ---- reporting -------------------------------------------------------------------------


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float) and abs(v) >= 1000:
        return "%.0f" % v
    return ("%." + str(digits) + "f") % v


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "n/a"
    return ("%." + str(digits) + "f") % (a / b)


def table(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).rjust(wd) if i else str(x).ljust(wd)
                              for i, (x, wd) in enumerate(zip(r, widths)))  # fmt: skip
    return "\n".join([line(header), "  ".join("-" * wd for wd in widths)] + [line(r) for r in rows])


def report(result):
    out = []
    ws = result["workloads"]
    cfg = result["config"]
    m = result["machine"]
    out.append("lapis benchmarks: %s, %d CPUs, %s, kernel %s" % (
        result["date"], m["nproc"], m["model"], m["kernel"]))  # fmt: skip
    out.append("host: %s" % m.get("host", "not recorded"))
    out.append("n=%d vs n=%d, %d repetitions, medians; per op = (big - small) / (n_big - n_small)"
               % (cfg["n_big"], cfg["n_small"], cfg["reps"]))  # fmt: skip
    out.append("QEMU: %s" % (cfg["qemu_version"] or "not run"))
    out.append("")

    def g(w, vmm, k):
        s = ws[w].get(vmm)
        return s.get(k) if s else None

    rows = []
    for name, w in ws.items():
        fl = w["floor"]
        rows.append([name,
                     fmt(g(name, "lapis", "exit.total")), fmt(g(name, "qemu", "exit.total")),
                     "%d" % fl["exit.total"],
                     ratio(g(name, "lapis", "exit.total"), g(name, "qemu", "exit.total")),
                     ratio(g(name, "lapis", "exit.total"), fl["exit.total"], 3),
                     fmt(g(name, "lapis", "ioctl.total")), fmt(g(name, "qemu", "ioctl.total")),
                     "%d" % fl["ioctl.total"],
                     ratio(g(name, "lapis", "ioctl.total"), g(name, "qemu", "ioctl.total")),
                     ratio(g(name, "lapis", "ioctl.total"), fl["ioctl.total"], 3),
                     fmt(g(name, "lapis", "syscall.total"), 2),
                     fmt(g(name, "qemu", "syscall.total"), 2),
                     ratio(g(name, "lapis", "syscall.total"), fl["syscall.total"])])  # fmt: skip
    out.append("Exits, ioctls and syscalls per operation (floor: the minimum the guest's operation needs)")
    out.append(table(rows, ["workload", "exits:lapis", "QEMU", "floor", "l/Q", "l/floor",
                            "ioctls:lapis", "QEMU", "floor", "l/Q", "l/floor",
                            "syscalls:lapis", "QEMU", "l/floor"]))  # fmt: skip
    out.append("")

    rows = []
    for name in ws:
        rows.append([name,
                     fmt(g(name, "lapis", "loop_user_us")), fmt(g(name, "qemu", "loop_user_us")),
                     ratio(g(name, "lapis", "loop_user_us"), g(name, "qemu", "loop_user_us")),
                     "%s..%s" % (fmt(g(name, "lapis", "loop_user_us_min"), 2),
                                 fmt(g(name, "lapis", "loop_user_us_max"), 2)),
                     "%s..%s" % (fmt(g(name, "qemu", "loop_user_us_min"), 2),
                                 fmt(g(name, "qemu", "loop_user_us_max"), 2)),
                     fmt(g(name, "lapis", "user_us")), fmt(g(name, "qemu", "user_us")),
                     ratio(g(name, "lapis", "user_us"), g(name, "qemu", "user_us")),
                     fmt(g(name, "lapis", "loop_wall_us"), 1), fmt(g(name, "qemu", "loop_wall_us"), 1),
                     ratio(g(name, "lapis", "loop_wall_us"), g(name, "qemu", "loop_wall_us")),
                     fmt(g(name, "lapis", "wall_us"), 1), fmt(g(name, "qemu", "wall_us"), 1)])  # fmt: skip
    out.append("VMM user CPU and wall time per operation, microseconds. user: sampled in the loop "
               "(syscall-return samples excluded); rusage: wait4, (big - small) / dn")
    out.append(table(rows, ["workload", "user:lapis", "QEMU", "l/Q", "lapis range", "QEMU range",
                            "rusage:lapis", "QEMU", "l/Q", "wall:lapis", "QEMU", "l/Q",
                            "wall(b-s):lapis", "QEMU"]))  # fmt: skip
    out.append("")

    rows = []
    for name, w in ws.items():
        fl = w["floor"]
        for vmm in ("lapis", "qemu"):
            s = w.get(vmm)
            if not s and vmm + "_why" not in w:
                continue
            if not s:
                rows.append([name, vmm, "n/a: " + w[vmm + "_why"]] + [""] * 9)
                continue
            rows.append([name, vmm] + ["%s/%s" % (fmt(s.get("exit." + k), 3), fl.get("exit." + k, 0))
                                       for k in ("io", "mmio", "ioapic_eoi")] +
                        [fmt(s.get("exit.interrupted"), 4)] +
                        ["%s/%s" % (fmt(s.get("ioctl." + k), 3), fl.get("ioctl." + k, 0))
                         for k in ("KVM_RUN", "irq", "KVM_SET_GSI_ROUTING", "lapic")] +
                        [fmt(s.get("ioctl.mp_state"), 4), fmt(s.get("syscall.futex"), 3),
                         fmt(s.get("extra_deliveries"), 0)])  # fmt: skip
    out.append("By kind, per operation (measured/floor); 'kicked': KVM_RUN returns with EINTR")
    out.append(table(rows, ["workload", "vmm", "io", "mmio", "eoi", "kicked", "KVM_RUN", "irq",
                            "GSI_ROUTING", "LAPIC", "MP_STATE", "futex", "extra irqs"]))  # fmt: skip
    out.append("")

    rows = []
    for name in ws:
        lr, qr = g(name, "lapis", "rss_overhead_kb"), g(name, "qemu", "rss_overhead_kb")
        rows.append([name, fmt(g(name, "lapis", "maxrss_kb"), 0), fmt(g(name, "lapis", "guest_ram_rss_kb"), 0),
                     fmt(lr, 0), fmt(g(name, "qemu", "maxrss_kb"), 0),
                     fmt(g(name, "qemu", "guest_ram_rss_kb"), 0), fmt(qr, 0), ratio(lr, qr, 3)])  # fmt: skip
    out.append("Peak RSS (kB): VMM total, guest RAM resident, overhead = total - guest RAM")
    out.append(table(rows, ["workload", "lapis", "guest", "overhead", "QEMU", "guest", "overhead",
                            "l/Q overhead"]))  # fmt: skip
    out.append("")

    st = startup(result)
    out.append("lapis start-up, execve to first KVM_RUN: median %s ms (min %s, max %s, %d runs, no "
               "counters); from its first constructor: %s ms; from the harness's fork: %s ms" % (
                   fmt(st["spawn_median_ms"], 2), fmt(st["spawn_min_ms"], 2),
                   fmt(st["spawn_max_ms"], 2), st["runs"], fmt(st["self_median_ms"], 2),
                   fmt(st["fork_median_ms"], 2)))  # fmt: skip
    for k, v in sorted((result.get("strace_check") or {}).items()):
        if "error" in v:
            out.append("strace check %s: %s" % (k, v["error"]))
            continue
        line = "strace check %s (n=%d vs %d): ioctls/op %s, syscalls/op %s" % (
            k, v["n_big"], v["n_small"], fmt(v["ioctls_per_op"]), fmt(v.get("syscalls_per_op")))
        if "lapis_own_ioctls_per_op" in v:
            line += ", lapis's own count %s/op (KVM ioctl totals %s)" % (
                fmt(v["lapis_own_ioctls_per_op"]),
                "identical" if v["lapis_own_matches_strace"] else "DIFFER")
        line += "; " + ", ".join("%s %s" % (n, fmt(x)) for n, x in sorted(v["ioctl_per_op"].items()))
        out.append(line)
    out.append("")
    out.append("targets:")
    for t in targets(result):
        out.append("  [%s] %s" % ("met" if t["met"] else ("n/a" if t["met"] is None else "MISSED"),
                                  t["text"]))  # fmt: skip
    return "\n".join(out)


def startup(result):
    spawn = [r["exec_ms"] for r in result.get("startup_runs", [])]
    own = [r["self_ms"] for r in result.get("startup_runs", [])]
    fork = [r["fork_ms"] for r in result.get("startup_runs", [])]
    return {"runs": len(spawn), "spawn_median_ms": median(spawn),
            "spawn_min_ms": min(spawn) if spawn else None,
            "spawn_max_ms": max(spawn) if spawn else None, "self_median_ms": median(own),
            "fork_median_ms": median(fork)}  # fmt: skip


def targets(result):
    ws = result["workloads"]
    ts = []
    exact = [n for n, w in ws.items() if w.get("lapis") and not w["lapis"]["floor_exact"]]
    ts.append({"text": "lapis uses exactly the floor of exits and hot-path ioctls per operation"
               + (" (not: %s)" % ", ".join(exact) if exact else ""),
               "met": not exact and all(w.get("lapis") for w in ws.values())})  # fmt: skip
    for name, w in ws.items():
        if not w["interrupt"]:
            continue
        l, q = (w.get(v) or {} for v in ("lapis", "qemu"))
        key = "loop_user_us" if l.get("loop_user_us") is not None else "user_us"
        r = l[key] / q[key] if l.get(key) is not None and q.get(key) else None
        rr = l["user_us"] / q["user_us"] if l.get("user_us") is not None and q.get("user_us") else None
        ts.append({"text": "%s: lapis user CPU per interrupt <= 1/5 of QEMU's (%s%s)" % (
            name, "sampled ratio %.3f" % r if r is not None else "no QEMU figure",
            ", rusage ratio %.3f" % rr if rr is not None else ""),
            "met": None if r is None else r <= 0.2})  # fmt: skip
    lo = [w["lapis"]["rss_overhead_kb"] for w in ws.values() if w.get("lapis")]
    qo = [w["qemu"]["rss_overhead_kb"] for w in ws.values() if w.get("qemu")]
    r = median(lo) / median(qo) if lo and qo else None
    ts.append({"text": "peak RSS overhead <= 1/10 of QEMU's (%s)" % (
        "ratio %.3f" % r if r is not None else "no QEMU figure"),
        "met": None if r is None else r <= 0.1})  # fmt: skip
    st = startup(result)
    ts.append({"text": "start to first KVM_RUN < 5 ms (median %s ms from execve)" % fmt(st["spawn_median_ms"], 2),
               "met": None if st["spawn_median_ms"] is None else st["spawn_median_ms"] < 5})  # fmt: skip
    return ts


def plot(result, path):
    """User CPU per operation by workload, lapis vs QEMU (gnuplot, PNG)."""
    gp = shutil.which("gnuplot")
    if not gp:
        log("bench: gnuplot not found (apt-get install -y gnuplot-nox): no plot")
        return None
    data = path + ".dat"
    with open(data, "w") as f:
        for name, w in result["workloads"].items():
            l = (w.get("lapis") or {}).get("loop_user_us")
            q = (w.get("qemu") or {}).get("loop_user_us")
            f.write("%s %.4f %.4f\n" % (name, l or 0.0, q or 0.0))  # 0: not measured
    script = """
set terminal pngcairo size 800,450 font ",10"
set output '%s'
set title "VMM user CPU per operation (sampled in the guest's loop, median of %d; %s)"
set ylabel "microseconds per operation"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
set yrange [0:*]
set xtics noenhanced
plot '%s' using 2:xtic(1) title 'lapis' lc rgb '#2a7ab0', '' using 3 title 'QEMU 7.2' lc rgb '#c0504d'
""" % (path, result["config"]["reps"], result["machine"]["model"] or "", data)
    r = subprocess.run([gp], input=script, capture_output=True, text=True)
    os.unlink(data)
    if r.returncode != 0:
        log("bench: gnuplot failed: %s" % r.stderr.strip())
        return None
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("LAPIS_BUILD", "build"))
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--n", type=int, default=10000, help="operations in the big run (default 10000)")
    ap.add_argument("--n-small", type=int, default=10, help="operations in the baseline run (default 10)")
    ap.add_argument("--small-every-rep", action="store_true",
                    help="a new baseline run in every repetition (default: once per workload)")
    ap.add_argument("--workloads", default="", help="comma-separated subset")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--lapis-args", default="", help="extra options for lapis run, e.g. "
                    "'--eoi-suppression quirk'")
    ap.add_argument("--no-qemu", action="store_true", help="lapis only")
    ap.add_argument("--no-events", action="store_true", help="no kernel tracepoint counts")
    ap.add_argument("--strace", default="level_broadcast",
                    help="workloads to check once under strace -f (default level_broadcast; '' none)")
    ap.add_argument("--strace-n", type=int, default=1000, help="big n of the strace check")
    ap.add_argument("--timeout", type=float, default=120, help="per run, seconds")
    ap.add_argument("--nice", type=int, default=0, help="run the VMMs at this nice level (root)")
    ap.add_argument("--sample-us", type=int, default=100,
                    help="user-mode sampling period in microseconds of CPU time (0: off)")
    ap.add_argument("--startup-runs", type=int, default=10, help="lapis runs timing start-up")
    ap.add_argument("--vmrun", default=None)
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--plot", default=None, help="PNG path (default OUT_DIR/user_cpu_per_op.png)")
    ap.add_argument("--quiet", action="store_true", help="no table on stdout")
    ap.add_argument("--replot", metavar="JSON", help="print the table and draw the plot of a "
                    "recorded run, run nothing")
    args = ap.parse_args()
    if args.replot:
        with open(args.replot) as f:
            result = json.load(f)
        print(report(result))
        out = plot(result, args.plot or os.path.join(args.out_dir, "user_cpu_per_op.png"))
        print("plot: %s" % out)
        return
    args.reproduce = "python3 bench/bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if os.environ.get("BENCH_REPRODUCE"):
        args.reproduce = os.environ["BENCH_REPRODUCE"]
    if args.n <= args.n_small:
        sys.exit("bench: --n must be larger than --n-small")

    result = run_all(args)
    os.makedirs(args.out_dir, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(args.out_dir, "bench-%s.json" % stamp)
    result["table"] = report(result)
    result["plot"] = plot(result, args.plot or os.path.join(args.out_dir, "user_cpu_per_op.png"))
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    shutil.copyfile(path, os.path.join(args.out_dir, "latest.json"))
    if not args.quiet:
        print(result["table"])
        print("")
        print("JSON: %s%s" % (os.path.relpath(path, ROOT),
                              ", plot: " + os.path.relpath(result["plot"], ROOT) if result["plot"] else ""))
        print("reproduce: %s  (took %.0f s)" % (args.reproduce, result["elapsed_s"]))


if __name__ == "__main__":
    main()
