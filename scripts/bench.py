#!/usr/bin/env python3
"""Drivers and report tables for scripts/bench.sh (B1-B5). Each subcommand prints one markdown
section on stdout; progress goes to stderr. Timings are wall clock (time.perf_counter) around
whole processes; nothing here asserts on a timing."""

import argparse
import fcntl
import json
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def op_requests(op_log, start_line=0):
    """Counts of discovery and JWKS GETs in the test OP's request log (op.mjs logs
    `op: GET /path -> status (n ms)`), from line `start_line` on."""
    lines = Path(op_log).read_text(errors="replace").splitlines()[start_line:]
    disc = sum(1 for l in lines if re.search(r"GET /\.well-known/openid-configuration ->", l))
    jwks = sum(1 for l in lines if re.search(r"GET /jwks ->", l))
    return disc, jwks


def line_count(path, pattern=None):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return 0
    return len(lines) if pattern is None else sum(1 for l in lines if pattern in l)


# ---------------------------------------------------------------------------------------- B1


def b1(args):
    res = json.load(open(args.hyperfine_json))["results"]
    m = lambda r: r["median"] * 1000
    floor, nsfloor, warm, cold, ref = (m(r) for r in res)
    out = ["| command | median ms | mean ± σ ms | min ms | max ms | runs | median − its floor ms |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r, f in zip(res, [None, None, floor, floor, nsfloor]):
        extra = "" if f is None else f"{m(r) - f:.2f}"
        out.append(f"| {r['command']} | {m(r):.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | "
                   f"{r['min']*1000:.2f} | {r['max']*1000:.2f} | {len(r['times'])} | {extra} |")
    out += ["", "| ratio (medians) | value | target |", "|---|---:|---|"]
    for name, v, target in [
        ("opk warm − floor (ms)", warm - floor, "≤ 1 ms"),
        ("opkssh / opk warm (both whole processes; opkssh incl. its wrapper)", ref / warm, "≥ 30×"),
        ("(opkssh − ns floor) / (opk warm − floor): each verifier's own work", (ref - nsfloor) / (warm - floor), ""),
        ("opkssh / opk cold (both fetch discovery + JWKS every time)", ref / cold, ""),
        ("opk cold / opk warm", cold / warm, ""),
        ("ns floor / floor (wrapper overhead)", nsfloor / floor, ""),
    ]:
        unit = "" if "(ms)" in name else "×"
        out.append(f"| {name} | {v:.2f}{unit} | {target} |")
    print("\n".join(out))


# ---------------------------------------------------------------------------------------- B2


def b2(args):
    """Interleaved whole SSH logins (`ssh host true`) against three sshds that differ only in how
    they authorize the key. Each round runs the three in a fresh random order."""
    variants = json.loads(args.variants)  # [{name, cmd: [...], log?: path}]
    for v in variants:  # warm-up and sanity: each must log in
        r = subprocess.run(v["cmd"], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            sys.exit(f"B2: {v['name']} cannot log in: {r.stderr.strip()}")
    # opk's log has one "opk verify:" line per run of the command, then its decision.
    runs = lambda v: line_count(v["log"], "opk verify: principal=")
    counts_before = {v["name"]: runs(v) for v in variants if v.get("log")}
    times = {v["name"]: [] for v in variants}
    rng = random.Random(args.seed)
    for i in range(args.rounds):
        order = variants[:]
        rng.shuffle(order)
        for v in order:
            t0 = time.perf_counter()
            r = subprocess.run(v["cmd"], capture_output=True, timeout=60)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit(f"B2: {v['name']} failed in round {i}: {r.stderr.decode(errors='replace').strip()}")
            times[v["name"]].append(dt)
    names = [v["name"] for v in variants]
    base = names[1]
    out = [f"{args.rounds} rounds, each running the three logins in a fresh random order (seed {args.seed}).", "",
           "| login | median ms | min ms | max ms | p90 ms | median / plain key |",
           "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        t = times[n]
        out.append(f"| {n} | {ms(statistics.median(t))} | {ms(min(t))} | {ms(max(t))} | {ms(pct(t, 90))} | "
                   f"{statistics.median(t) / statistics.median(times[base]):.3f}× |")
    paired = [a / b for a, b in zip(times[names[0]], times[base])]
    out += ["", f"Per-round ratio {names[0]} / {base}: median {statistics.median(paired):.3f}×, "
            f"min {min(paired):.3f}×, max {max(paired):.3f}× (target ≤ 1.05×)."]
    for v in variants:
        if v.get("log"):
            calls = runs(v) - counts_before[v["name"]]
            lines = Path(v["log"]).read_text(errors="replace").splitlines()
            new = [l for l in lines if "opk verify: principal=" in l][counts_before[v["name"]]:]
            kinds = {}
            for l in new:
                k = re.search(r'key_type="([^"]*)"', l)
                kinds[k.group(1) if k else "?"] = kinds.get(k.group(1) if k else "?", 0) + 1
            per = ", ".join(f"{n / args.rounds:.2f} for `{k}`" for k, n in sorted(kinds.items()))
            out.append(f"`{v['name']}`: sshd ran the AuthorizedKeysCommand {calls} times for {args.rounds} logins "
                       f"({calls / args.rounds:.2f} per login: {per}).")
    print("\n".join(out))


# ---------------------------------------------------------------------------------------- B3


def login_url(line):
    m = re.search(r"Open your browser to:\s*(\S+)", line)
    if m:
        return m.group(1).strip('"')
    line = line.strip()
    return line if line.startswith(("http://", "https://")) else None


def one_login(client, issuer, workdir, browser_args):
    home = Path(tempfile.mkdtemp(dir=workdir, prefix="b3-home-"))
    (home / ".ssh").mkdir(mode=0o700)
    stamp = home / "callback-ms"
    env = dict(os.environ, HOME=str(home))
    t_spawn = time.time()
    proc = subprocess.Popen([client, "login", "--disable-browser-open", "--provider", f"{issuer},opk-rs256"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url_box = []
    got_url = threading.Event()

    def reader(stream):
        for line in stream:
            u = login_url(line)
            if u and not url_box:
                url_box.append(u)
                got_url.set()

    exited = []

    def waiter():  # the client's own exit time, not the browser's shutdown
        proc.wait()
        exited.append(time.time())

    threads = [threading.Thread(target=reader, args=(s,), daemon=True) for s in (proc.stdout, proc.stderr)]
    threads.append(threading.Thread(target=waiter, daemon=True))
    for t in threads:
        t.start()
    if not got_url.wait(60):
        proc.kill()
        sys.exit(f"B3: {client} printed no login URL")
    b = subprocess.run(["node", str(Path(__file__).resolve().parent.parent / "testing/op/login.mjs"), url_box[0],
                        "--callback-time", str(stamp), *browser_args], capture_output=True, text=True, timeout=120)
    if b.returncode != 0:
        proc.kill()
        sys.exit(f"B3: browser failed for {client}: {b.stderr.strip()}")
    rc = proc.wait(60)
    threads[-1].join(5)
    t_exit = exited[0]
    if rc != 0:
        sys.exit(f"B3: {client} login exited {rc}")
    files = [home / ".ssh/id_ecdsa", home / ".ssh/id_ecdsa-cert.pub"]
    written = max(f.stat().st_mtime_ns for f in files) / 1e9
    callback = float(stamp.read_text()) / 1000
    return written - callback, t_exit - callback


def b3(args):
    clients = [("opk", args.opk, ["--ca", args.ca]), (f"opkssh {args.opkssh_version}", args.opkssh, ["--ignore-https-errors"])]
    res = {n: [] for n, _, _ in clients}
    # The redirect ports are machine-wide: the same lock as the e2e tests.
    with open(os.path.join(tempfile.gettempdir(), "opk-e2e-login-ports.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for i in range(args.rounds):
            order = clients if i % 2 == 0 else clients[::-1]
            for name, binary, bargs in order:
                eprint(f"B3 round {i + 1}/{args.rounds}: {name}")
                res[name].append(one_login(binary, args.issuer, args.workdir, bargs))
    out = [f"{args.rounds} logins each, alternating which client goes first. From the browser's request to the "
           "loopback `/login-callback` (the start time in the browser's own resource timing) to the later mtime of the key and "
           "certificate files, and to the client's exit.", "",
           "| client | callback → files written, median ms | min | max | callback → exit, median ms |",
           "|---|---:|---:|---:|---:|"]
    for name, _, _ in clients:
        w = [a for a, _ in res[name]]
        x = [b for _, b in res[name]]
        out.append(f"| {name} | {ms(statistics.median(w))} | {ms(min(w))} | {ms(max(w))} | {ms(statistics.median(x))} |")
    ratio = statistics.median([a for a, _ in res["opk"]]) / statistics.median([a for a, _ in res[clients[1][0]]])
    out += ["", f"opk / opkssh (callback → files, medians): {ratio:.3f}× (target ≤ 0.5×)."]
    print("\n".join(out))


# ---------------------------------------------------------------------------------------- B4


def burst(cmds, parallel_start=True):
    """Starts every command at once, then waits for all: per-process latency and exit codes."""
    procs = []
    for c in cmds:
        t0 = time.perf_counter()
        procs.append((t0, subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)))
    lat, fails, outs = [], 0, set()
    # Reap in completion order so each latency ends when its process ends.
    pending = {p.pid: (t0, p) for t0, p in procs}
    while pending:
        pid, status = os.wait()
        if pid not in pending:
            continue
        t0, p = pending.pop(pid)
        lat.append(time.perf_counter() - t0)
        code = os.waitstatus_to_exitcode(status)
        out = p.stdout.read()
        p.stdout.close()
        p.returncode = code
        if code != 0 or not out.strip():
            fails += 1
        else:
            outs.add(out)
    return lat, fails, len(outs)


def b4(args):
    phases = json.loads(args.phases)  # [{name, cmd, n, op_log, before?: shell}]
    out = [f"Each phase starts {phases[0]['n']} verifier processes at once (Popen in a loop, then reaped as they "
           "exit); latency is each process's start → exit. OP requests are counted in the test OP's request log.", "",
           "| phase | processes | failures | distinct stdout lines | discovery GETs | JWKS GETs | p50 ms | p99 ms | max ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for ph in phases:
        if ph.get("before"):
            subprocess.run(ph["before"], shell=True, check=True)
        start = line_count(ph["op_log"])
        eprint(f"B4: {ph['name']}")
        lat, fails, distinct = burst([ph["cmd"]] * ph["n"])
        time.sleep(0.5)  # the OP logs a request when its response finishes
        disc, jwks = op_requests(ph["op_log"], start)
        out.append(f"| {ph['name']} | {ph['n']} | {fails} | {distinct} | {disc} | {jwks} | {ms(pct(lat, 50))} | "
                   f"{ms(pct(lat, 99))} | {ms(max(lat))} |")
    print("\n".join(out))


# ---------------------------------------------------------------------------------------- B5


def strace_totals(text):
    """(total calls, distinct syscalls) from `strace -c` output: the rows between the two dashed
    rules, and the `total` row (pct, seconds, usecs/call, calls, [errors], total)."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith("------"):
            inside = not inside
            continue
        if inside:
            rows.append(line)
        elif line.rstrip().endswith(" total"):
            total = int(line.split()[3])
    return total, len(rows)


def b5(args):
    rows = json.loads(args.rows)  # [{name, time_v, strace, binary}]
    out = ["| verifier | peak RSS (MB) | binary, stripped (MB) | syscalls (strace -c -f, total) | distinct syscalls |",
           "|---|---:|---:|---:|---:|"]
    vals = {}
    for r in rows:
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(r["time_v"]).read_text()).group(1))
        calls, distinct = strace_totals(Path(r["strace"]).read_text())
        size = os.path.getsize(r["binary"]) / 1e6
        vals[r["name"]] = (rss_kb / 1024, size, calls)
        out.append(f"| {r['name']} | {rss_kb / 1024:.1f} | {size:.1f} | {calls} | {distinct} |")
    (a, b) = list(vals.values())[:2]
    out += ["", f"opkssh / opk: peak RSS {b[0] / a[0]:.1f}×, stripped binary {b[1] / a[1]:.1f}×, syscalls "
            f"{b[2] / max(a[2], 1):.1f}× (target: opk peak RSS ≤ 10 MB)."]
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("b1"); p.add_argument("hyperfine_json"); p.set_defaults(f=b1)
    p = sub.add_parser("b2"); p.add_argument("--variants", required=True); p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--seed", type=int, default=1); p.set_defaults(f=b2)
    p = sub.add_parser("b3")
    for a in ("--opk", "--opkssh", "--opkssh-version", "--issuer", "--ca", "--workdir"):
        p.add_argument(a, required=True)
    p.add_argument("--rounds", type=int, default=5); p.set_defaults(f=b3)
    p = sub.add_parser("b4"); p.add_argument("--phases", required=True); p.set_defaults(f=b4)
    p = sub.add_parser("b5"); p.add_argument("--rows", required=True); p.set_defaults(f=b5)
    a = ap.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
