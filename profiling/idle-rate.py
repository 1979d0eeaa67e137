#!/usr/bin/env python3
"""DSM faults per second of an idle guest, measured between two console markers.

Usage: profiling/idle-rate.py RUN_DIR [launcher arguments...]

Starts host/launcher/dsmvm-launch with the `idle` workload (its arguments are passed on; add
`--args SECONDS`), reads every node's DSM counters over QMP when the guest prints
"idle: start" and again at "idle: end", and prints one JSON line: the host seconds between
the markers, the faults per node in that interval and the faults per second.
"""
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def qmp_stats(path):
    """The dsmvm-node statistics of one node, over its QMP socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        f = s.makefile("rw")
        json.loads(f.readline())                       # greeting
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "qom-get",
                     "arguments": {"path": "/objects/dsmvm", "property": "stats"}}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    break
        if "error" in reply:
            sys.exit(f"idle-rate: QMP error on {path}: {reply['error']}")
        st = reply["return"]
        return json.loads(st) if isinstance(st, str) else st


def faults(st):
    return st.get("read_faults", 0) + st.get("write_faults", 0)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    run_dir, extra = sys.argv[1], sys.argv[2:]
    launcher = subprocess.Popen([os.path.join(ROOT, "host/launcher/dsmvm-launch"), "--quiet",
                                 "--run-dir", run_dir, "--workload", "idle"] + extra,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serial = os.path.join(run_dir, "serial0.log")
    snaps = {}
    try:
        while launcher.poll() is None and len(snaps) < 2:
            text = open(serial, errors="replace").read() if os.path.exists(serial) else ""
            for marker in ("idle: start", "idle: end"):
                if marker not in snaps and marker in text:
                    now = time.monotonic()
                    socks = sorted(p for p in os.listdir(run_dir) if p.startswith("qmp"))
                    snaps[marker] = (now, [faults(qmp_stats(os.path.join(run_dir, p)))
                                           for p in socks])
            time.sleep(0.05)
    finally:
        rc = launcher.wait(timeout=600)
    if len(snaps) < 2:
        sys.exit(f"idle-rate: markers not both seen (launcher status {rc})")
    (t0, f0), (t1, f1) = snaps["idle: start"], snaps["idle: end"]
    per_node = [b - a for a, b in zip(f0, f1)]
    print(json.dumps({"seconds": round(t1 - t0, 2), "faults_per_node": per_node,
                      "faults_per_s": round(sum(per_node) / (t1 - t0), 2)}))


if __name__ == "__main__":
    main()
