#!/usr/bin/env python3
# time-limit: 420: a QEMU stopped at -S and one 2-node boot (launcher --timeout 300)
"""Paths with commas and spaces, watched pages and workload arguments reach QEMU and the
guest unchanged.

1. Without booting (QEMU stopped with -S on a one-node cluster, no kernel): the node
   object's cluster, stats-file and watch-gpns, the disk, serial and QMP paths read back
   over QMP exactly as given; the same object given as JSON is accepted too.
2. One boot on 2 nodes with the run directory, kernel, initramfs and disk all under names
   with ", " in them, and workload arguments with a comma, a space and a '%'."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "host", "launcher"))
import dsmvm_cluster as dc  # noqa: E402

BUILD = os.path.join(ROOT, "build")
QEMU = os.path.join(BUILD, "qemu", "qemu-system-x86_64")
KERNEL = os.path.join(BUILD, "guest", "stock", "bzImage")
INITRD = os.path.join(BUILD, "initramfs.cpio.gz")
signal.alarm(600)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


if not os.path.exists(QEMU):
    print(f"SKIP: {QEMU} is missing (run make qemu)")
    sys.exit(77)


def qmp(path, deadline):
    """A connected QMP session (capabilities negotiated) as (socket file, command function)."""
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                fail(f"no QMP socket at {path}")
            time.sleep(0.1)
    f = s.makefile("rw")
    json.loads(f.readline())

    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r or "error" in r:
                return r
    cmd("qmp_capabilities")
    return s, cmd


top = os.path.join(BUILD, "test-runs", "quoting, a b")
shutil.rmtree(top, ignore_errors=True)
os.makedirs(top)

# 1. No boot.
cluster = os.path.join(top, "one node, x.conf")
dc.Cluster(nodes=[dc.Node("127.0.0.1:7391", [0])], secret="quoting-test-secret",
           connect_timeout=5).write(cluster)
disk = os.path.join(top, "disk, 1 x.img")
with open(disk, "wb") as f:
    f.truncate(1 << 20)
gpns = [10, 20, 30, 40, 50]
for form in ("keyval", "json"):
    qsock = os.path.join(top, f"q,{form[0]}.sock")
    stats = os.path.join(top, f"stats, {form}.json")
    serial = os.path.join(top, f"serial, {form}.log")
    node = dc.NodeObject(node=0, cluster=cluster, stats_file=stats, watch_gpns=gpns,
                         guest_features=3)
    cmd = dc.qemu_command(dc.QemuConfig(qemu=QEMU, kernel=KERNEL, initrd=INITRD, append="x",
                                        smp=1, mem_mib=64, qmp_socket=qsock, disk=disk,
                                        serial=f"file:{serial}", node=node))
    for opt in ("-kernel", "-initrd", "-append"):     # nothing boots: no kernel needed
        i = cmd.index(opt)
        del cmd[i:i + 2]
    if form == "json":
        i = cmd.index("-object") + 1
        cmd[i] = json.dumps({"qom-type": "dsmvm-node", "id": "dsmvm", "node": 0,
                             "cluster": cluster, "stats-file": stats, "watch-gpns": gpns})
    log = open(os.path.join(top, f"qemu-{form}.log"), "w")
    p = subprocess.Popen(cmd + ["-S"], stdout=log, stderr=subprocess.STDOUT)
    try:
        s, q = qmp(qsock, time.monotonic() + 60)
        got = {k: q("qom-get", path="/objects/dsmvm", property=k).get("return")
               for k in ("watch-gpns", "cluster", "stats-file")}
        blocks = q("query-block")["return"]
        files = [b["inserted"]["file"] for b in blocks if "inserted" in b]
        q("quit")
        s.close()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
    print(f"{form}: {got}, disk {files}")
    if got != {"watch-gpns": gpns, "cluster": cluster, "stats-file": stats}:
        fail(f"{form}: the node object read back as {got}; log: "
             + open(os.path.join(top, f"qemu-{form}.log")).read())
    if files != [disk]:
        fail(f"{form}: the disk is {files}, not {disk}")
    if not os.path.exists(serial):
        fail(f"{form}: no serial log at {serial}")
    with open(stats) as f:
        watched = [w["gpn"] for w in json.load(f)["watched_pages"]]
    if watched != gpns:
        fail(f"{form}: the stats file reports pages {watched}, not {gpns}")

# 2. One boot: everything under awkward names.
for f in (KERNEL, INITRD):
    if not os.path.exists(f):
        print(f"the no-boot part passed; SKIP: {f} is missing (run make)")
        sys.exit(77)
kdir = os.path.join(top, "kernel, k 1")
os.makedirs(kdir)
for src in (KERNEL, os.path.join(os.path.dirname(KERNEL), "System.map"), INITRD):
    shutil.copy(src, kdir)
run = os.path.join(top, "run, r 1")
args = ["1", "2", "c,d", "e f", "50%"]
launch = [os.path.join(ROOT, "host", "launcher", "dsmvm-launch"), "--quiet", "--run-dir", run,
          "--nodes", "2", "--kernel", os.path.join(kdir, "bzImage"),
          "--initrd", os.path.join(kdir, "initramfs.cpio.gz"), "--disk", disk,
          "--workload", "echo-args", "--args", "1,2", "--arg", "c,d", "--arg", "e f",
          "--arg", "50%", "--timeout", "300"]
r = subprocess.run(launch, capture_output=True, text=True, timeout=400)
print(r.stderr.strip())
console = open(os.path.join(run, "serial0.log"), errors="replace").read() \
    if os.path.exists(os.path.join(run, "serial0.log")) else ""
want = f"echo-args: {len(args)} " + " ".join(f"[{a}]" for a in args)
print("\n".join(line for line in console.splitlines() if "echo-args" in line))
if r.returncode != 0:
    fail(f"the launcher exited {r.returncode}")
if want not in console:
    fail(f"the guest did not print '{want}'")
with open(os.path.join(run, "summary.json")) as f:
    summary = json.load(f)
if summary["status"] != "ok" or len(summary["nodes"]) != 2:
    fail(f"summary: {summary['status']}, {len(summary['nodes'])} nodes")
print(f"boot ok: userspace after {summary['time_to_userspace_s']} s, total {summary['total_time_s']} s")
shutil.rmtree(kdir)
