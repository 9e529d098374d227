#!/usr/bin/env python3
"""Same-run, interleaved before/after figures of one system of the side-by-side report.

Build `compare` at the old commit (a git worktree) and at HEAD, then:
  BEFORE=/path/old/sessiondb-compare AFTER=/path/new/sessiondb-compare S=sessiondb-encrypted \\
    W=lookup_id,update_1 python3 compare/before_after.py ROUNDS
Each (workload, build) runs in a fresh process and directory, the two builds alternating
first; prints medians (min-max) and the ratio after / before.
"""
import subprocess, shutil, statistics, re, sys, datetime, os
bins = {"before": os.environ["BEFORE"], "after": os.environ["AFTER"]}
workloads = os.environ.get("W", "ingest_durable,ingest_checkpoint,lookup_id,lookup_username,self_user,update_1,update_64,ingest_default").split(",")
system = os.environ.get("S", "sessiondb-encrypted")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
res = {}
for r in range(rounds):
    for w in workloads:
        order = list(bins.items())
        if r % 2: order.reverse()
        for name, b in order:
            d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "before-after-dir")
            shutil.rmtree(d, ignore_errors=True)
            out = subprocess.run([b, system, w, d, "200000"], capture_output=True, text=True).stdout
            m = re.search(r"value=([0-9.]+) unit=(\S+)", out)
            if m:
                res.setdefault((w, name), []).append((float(m.group(1)), m.group(2)))
print(f"{system}: {datetime.datetime.utcnow():%a %b %d %H:%M UTC %Y}; {rounds} rounds, 200000 peers, interleaved (order alternating); medians (min-max)\n")
print("| workload | before | after | after / before |")
print("|---|---|---|---|")
for w in workloads:
    a = res.get((w, "before"), []); b = res.get((w, "after"), [])
    if not a or not b: continue
    unit = a[0][1]
    ma = statistics.median(x for x, _ in a); mb = statistics.median(x for x, _ in b)
    fmt = lambda v: f"{statistics.median(x for x,_ in v):.2f} {unit} ({min(x for x,_ in v):.2f}-{max(x for x,_ in v):.2f})"
    print(f"| {w} | {fmt(a)} | {fmt(b)} | {mb/ma:.3f} |")
