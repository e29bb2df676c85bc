"""The service's system calls, CPU by thread and wake-ups per stored message (issue #24).

Runs ``bench/api.py c`` (simulator → ``dylive serve`` → long-pollers) and, ``--after`` seconds
into its window, observes the service for ``--sample`` seconds in one of three ways:

- ``stat``: utime/stime of every thread (``/proc/PID/task/*/stat``) and its voluntary /
  nonvoluntary context switches (``.../status``) before and after, nothing attached;
- ``strace``: one ``strace -c -p TID`` per thread (counts per thread; strace slows the
  threads, so its times are not the service's);
- ``perf``: ``perf record -e cpu-clock -g -p PID``; the samples are split by thread and, in
  the kernel, by the system call (``__x64_sys_*`` frame) they were taken under.

Every figure is per stored message: rows appended to ``events`` over the sample (``max(seq)``
before and after; every stored message is delivered once, to its room's poller). The loop thread
is the process's main thread; the writer is the busiest other thread (the SQLite writer).

Usage: ``python bench/syscalls.py stat|strace|perf [--rooms 200] [--seconds 20] [--after 4]
[--sample 10]`` (with ``PYTHONPATH=<tree>/src`` to measure another tree).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[int, tuple[int, int, int, int]]:
    """tid → (utime, stime, voluntary, nonvoluntary switches) of every thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
            vol = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M)[1])  # type: ignore[index]
            non = int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", status, re.M)[1])  # type: ignore[index]
            out[int(tid)] = (int(fields[11]), int(fields[12]), vol, non)
    return out


def served(pid: int) -> tuple[float, float]:
    """(chat requests answered, messages delivered) so far, from the service's /metrics."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    port = int(argv[argv.index(b"--port") + 1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    requests = delivered = 0.0
    for line in text.splitlines():
        if line.startswith("dylive_http_requests_total{") and 'endpoint="chat"' in line:
            requests += float(line.rsplit(" ", 1)[1])
        elif line.startswith("dylive_messages_delivered_total "):
            delivered = float(line.rsplit(" ", 1)[1])
    return requests, delivered


def stored(db: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])


def roles(pid: int, before: dict, after: dict) -> dict[int, str]:
    """loop (the main thread), writer (the busiest other), other."""
    busy = sorted(
        (sum(after[t][:2]) - sum(before.get(t, (0, 0))[:2]), t) for t in after if t != pid
    )
    writer = busy[-1][1] if busy else -1
    return {t: "loop" if t == pid else "writer" if t == writer else "other" for t in after}


def observe_stat(pid: int, sample: float) -> None:
    before = threads(pid)
    n0 = stored(DB)
    time.sleep(sample)
    after = threads(pid)
    role = roles(pid, before, after)
    rows = stored(DB) - n0
    agg: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    for tid, now in after.items():
        was = before.get(tid, (0, 0, 0, 0))
        for i in range(4):
            agg[role[tid]][i] += now[i] - was[i]
    print(
        f"stat: {rows} rows stored in {sample:g} s ({rows / sample:,.0f}/s), {len(after)} threads"
    )
    print(
        "thread | user µs/msg | system µs/msg | system share | voluntary cs/msg | nonvoluntary cs/msg"
    )
    total = [0.0, 0.0, 0.0, 0.0]
    for name in ("loop", "writer", "other"):
        u, s, v, n = agg[name]
        total = [a + b for a, b in zip(total, (u, s, v, n), strict=True)]
        show(name, u, s, v, n, rows)
    show("all", *total, rows)


def show(name: str, u: float, s: float, v: float, n: float, rows: int) -> None:
    us = 1e6 / TICK / max(1, rows)
    print(
        f"{name} | {u * us:.1f} | {s * us:.1f} | {100 * s / max(1, u + s):.0f} %"
        f" | {v / max(1, rows):.2f} | {n / max(1, rows):.2f}"
    )


LINE = re.compile(r"^\s*([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def observe_strace(pid: int, sample: float, out: Path) -> None:
    before = threads(pid)
    procs = {
        tid: subprocess.Popen(
            ["strace", "-c", "-p", str(tid), "-o", str(out / f"strace.{tid}")],
            stderr=subprocess.DEVNULL,
        )
        for tid in before
    }
    time.sleep(0.5)  # attached
    n0 = stored(DB)
    time.sleep(sample)
    rows = stored(DB) - n0
    after = threads(pid)
    for proc in procs.values():
        proc.send_signal(signal.SIGINT)
    for proc in procs.values():
        proc.wait(timeout=30)
    role = roles(pid, before, after)
    calls: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for tid in procs:
        for line in (out / f"strace.{tid}").read_text().splitlines():
            m = LINE.match(line)
            if m and m[6] != "total":
                calls[role.get(tid, "other")][m[6]] += int(m[4])
    print(f"strace: {rows} rows stored in {sample:g} s ({rows / sample:,.0f}/s) under strace")
    names = sorted(
        {n for c in calls.values() for n in c}, key=lambda n: -sum(c[n] for c in calls.values())
    )
    print("syscall | loop /msg | writer /msg | other /msg | all /msg")
    for n in names:
        per_role = [calls[r][n] / max(1, rows) for r in ("loop", "writer", "other")]
        print(f"{n} | " + " | ".join(f"{x:.3f}" for x in per_role) + f" | {sum(per_role):.3f}")
    tot = [sum(calls[r].values()) / max(1, rows) for r in ("loop", "writer", "other")]
    print("total | " + " | ".join(f"{x:.2f}" for x in tot) + f" | {sum(tot):.2f}")


WRAPPERS = {  # libc wrapper → the system call it makes
    "sys GI___lll_lock_wake": "sys futex",
    "sys pthread_cond_signal": "sys futex",
    "sys sem_post": "sys futex",
    "sys futex_abstimed_wait_common": "sys futex",
    "sys libc_pwrite": "sys pwrite64",
    "sys libc_pread": "sys pread64",
}

# system calls counted by ``count`` (tracepoints, in the kernel: no slowdown like strace's)
COUNTED = [
    "getpid",
    "futex",
    "read",
    "write",
    "writev",
    "sendto",
    "sendmsg",
    "recvfrom",
    "recvmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "pread64",
    "pwrite64",
    "fdatasync",
    "fsync",
    "getrandom",
    "fcntl",
    "madvise",
    "brk",
    "mmap",
    "munmap",
    "eventfd2",
    "accept4",
    "close",
    "setsockopt",
    "getsockopt",
    "newfstatat",
    "lseek",
    "clock_gettime",
]


def observe_count(pid: int, sample: float, out: Path) -> None:
    """``perf stat --per-thread`` of the tracepoints of ``COUNTED`` and ``raw_syscalls``."""
    events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{n}" for n in COUNTED]
    before = threads(pid)
    n0, (q0, d0) = stored(DB), served(pid)
    got = subprocess.run(
        ["perf", "stat", "--per-thread", "-x", ",", "-e", ",".join(events), "-p", str(pid),
         "--", "sleep", str(sample)],
        check=True, capture_output=True, text=True,
    ).stderr  # fmt: skip
    rows = stored(DB) - n0
    q1, d1 = served(pid)
    (out / "perf-stat.csv").write_text(got)
    role = roles(pid, before, threads(pid))
    calls: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in got.splitlines():
        parts = line.split(",")  # comm-tid,count,unit,event,...
        if len(parts) < 4 or not parts[1].strip().isdigit():
            continue
        tid = int(parts[0].rsplit("-", 1)[1])
        name = parts[3].split(":")[-1].replace("sys_enter_", "").replace("sys_enter", "ALL")
        calls[role.get(tid, "other")][name] += int(parts[1])
    print(
        f"count: {rows} rows stored in {sample:g} s ({rows / sample:,.0f}/s); {d1 - d0:.0f}"
        f" messages delivered in {q1 - q0:.0f} chat requests ({(d1 - d0) / max(1, q1 - q0):.2f}"
        " a request); below: per stored row, and per request for the loop"
    )
    print("syscall | loop /msg | writer /msg | other /msg | all /msg | loop /request")
    names = sorted(
        {n for c in calls.values() for n in c}, key=lambda n: -sum(c[n] for c in calls.values())
    )
    for n in names:
        per_role = [calls[r][n] / max(1, rows) for r in ("loop", "writer", "other")]
        if sum(per_role) >= 0.0005:
            print(
                f"{n} | " + " | ".join(f"{x:.3f}" for x in per_role) + f" | {sum(per_role):.3f}"
                f" | {calls['loop'][n] / max(1, q1 - q0):.2f}"
            )


def observe_perf(pid: int, sample: float, out: Path) -> None:
    data = out / "perf.data"
    n0 = stored(DB)
    subprocess.run(
        ["perf", "record", "-q", "-e", "cpu-clock", "-c", "250000", "-g", "-p", str(pid),
         "-o", str(data), "--", "sleep", str(sample)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows = stored(DB) - n0
    print(f"perf: {rows} rows stored in {sample:g} s")
    analyse(data, rows)


def analyse(data: Path, rows: int) -> None:
    """The samples by thread (loop: the main thread; writer: the busiest other), user or kernel,
    and in the kernel by system call (its ``__x64_sys_*`` frame) or interrupt / page fault."""
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "pid,tid,ip,sym"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # a sample: a "pid/tid" line, then its call chain (leaf first), then a blank line
    samples: collections.Counter[tuple[int, str, str]] = collections.Counter()
    main_pid = 0
    for block in script.split("\n\n"):
        lines = [x.strip() for x in block.strip().splitlines()]
        if not lines:
            continue
        main_pid, tid = (int(x) for x in lines[0].split()[0].split("/"))
        chain = [x.split(None, 1)[1] if " " in x else "" for x in lines[1:]]
        kernel = any(int(x.split()[0], 16) >= 0xFFFF800000000000 for x in lines[1:2] if x)
        where = "user"
        if kernel:
            sys_frames = [f for f in chain if "__x64_sys_" in f or "__do_sys_" in f]
            entry = [i for i, f in enumerate(chain) if f.startswith("entry_SYSCALL_64")]
            if sys_frames:
                where = "sys " + re.sub(r"\+0x.*|__x64_sys_|__do_sys_", "", sys_frames[-1])
            elif entry and entry[-1] + 1 < len(chain):  # ksys_read/ksys_write: the libc caller
                where = "sys " + re.sub(r"^__GI___libc_|^__|@.*", "", chain[entry[-1] + 1])
            elif any("exc_page_fault" in f for f in chain):
                where = "page fault"
            elif any("asm_" in f or "irqentry" in f for f in chain):
                where = "interrupt / preemption"  # incl. the time of being switched out
            else:
                where = "kernel, other"
            where = WRAPPERS.get(where, where)
        samples[(tid, "kernel" if kernel else "user", where)] += 1
    per_tid = collections.Counter()
    for (tid, _, _), c in samples.items():
        per_tid[tid] += c
    others = [t for t, _ in per_tid.most_common() if t != main_pid]
    role = {t: "other" for t in per_tid} | {main_pid: "loop"}
    if others:
        role[others[0]] = "writer"
    grouped: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for (tid, k, w), c in samples.items():
        grouped[(role[tid], k, w)] += c
    by_role = collections.Counter()
    for (r, k, _), c in grouped.items():
        by_role[(r, k)] += c
    # one sample every 250 µs of a thread's CPU (-c 250000 ns of cpu-clock)
    print(f"{sum(per_tid.values())} samples; µs per stored message = samples × 250 µs / {rows}")
    for r in ("loop", "writer", "other"):
        k, u = by_role[(r, "kernel")], by_role[(r, "user")]
        print(
            f"{r}: user {250 * u / max(1, rows):.1f} µs/msg, kernel {250 * k / max(1, rows):.1f}"
            f" ({100 * k / max(1, k + u):.0f} %)"
        )
    print("thread | kernel, where | share of the thread's samples | µs/msg")
    for (r, k, w), c in sorted(grouped.items(), key=lambda kv: (kv[0][0], -kv[1])):
        if k == "kernel" and c >= 5:
            share = 100 * c / max(1, by_role[(r, "kernel")] + by_role[(r, "user")])
            print(f"{r} | {w} | {share:.1f} % | {250 * c / max(1, rows):.2f}")


DB = ""  # the service's database, from the window file (set once by main)


def main() -> None:
    global DB
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["stat", "count", "strace", "perf"])
    parser.add_argument("--rooms", default="200")
    parser.add_argument("--seconds", default="20")
    parser.add_argument("--after", type=float, default=4.0)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--keep", default="", help="directory to keep the raw outputs in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        mark = out / "window"
        mark.unlink(missing_ok=True)
        bench = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "api.py"), "c", "--rooms", args.rooms,
             "--seconds", args.seconds, "--window-file", str(mark)],
            stdout=open(out / "api.txt", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )  # fmt: skip
        while not mark.exists() or not mark.read_text().endswith("\n"):
            if bench.poll() is not None:
                raise SystemExit("bench/api.py ended before its window: see api.txt")
            time.sleep(0.1)
        pid_s, _start, _until, DB = mark.read_text().split()
        pid = int(pid_s)
        time.sleep(args.after)
        print(
            time.strftime("sample at %H:%M:%S UTC", time.gmtime()), f"load {os.getloadavg()[0]:.2f}"
        )
        if args.mode == "stat":
            observe_stat(pid, args.sample)
        elif args.mode == "count":
            observe_count(pid, args.sample, out)
        elif args.mode == "strace":
            observe_strace(pid, args.sample, out)
        else:
            observe_perf(pid, args.sample, out)
        bench.wait()
        for line in (out / "api.txt").read_text().splitlines():
            if line.startswith("(c)"):
                print(line[:400])


if __name__ == "__main__":
    main()
