"""Recording for dsmvm-prof: perf around each node's QEMU, into RUN_DIR/profile/.

Used by host/launcher/dsmvm-launch --profile:
    rec = record.Recorder(run_dir, qemu, system_map, accel, mem_mib)
    cmd = rec.wrap(i, cmd)          # before starting node i
    rec.finish(nodes)               # after every node exited

Per node i it leaves nodeI.perf.data (perf record), nodeI.script (perf script
text, read by dsmvm-prof) and, under TCG, nodeI.perfmap (QEMU's -perfmap:
host address of translated code -> guest PC). meta.json holds what
the report needs to interpret the data (node count, RAM layout, accelerator,
the System.map checksum).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

# Only the probes that name a page are recorded, and of a fault only its end, which names
# the faulting thread and byte too: a uprobe costs a trap on each hit.  page_sent,
# page_received and write_update fire on every transfer; the report takes their per-node
# totals from the nodes' statistics files instead.
DSM_PROBES = ["fault_end", "invalidation"]
# Each fault's data address and code address (host IP: translated code or a QEMU helper).
# DWARF call chains let a fault inside a QEMU helper reach the translated code that called it.
# Each sample copies stack-size bytes of the faulting thread's stack, and QEMU takes a page
# fault for every DSM fault and more: 1 KiB halves the data a boot records (about 80 MB per
# node instead of 150). On one tuned boot each, 34 % of the faults ended in a QEMU function
# with 2 KiB and 40 % with 1 KiB, within a boot's noise; 512 bytes lost the callers of memcpy.
TCG_EVENTS = ["-e", "page-faults/call-graph=dwarf,stack-size=1024/", "-c", "1", "-d"]
KVM_EVENTS = ["-e", "kvm:kvm_page_fault"]
SCRIPT_FIELDS = "pid,tid,time,event,ip,sym,addr,trace"    # as in src/load.c
SCRIPT_TRAILER = "# dsmvm-prof end"


def say(msg):
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_probes(qemu):
    """perf probe -x QEMU sdt_dsm:NAME for each probe; a clear error when missing.

    Always made afresh: a uprobe follows the inode it was made for, and a rebuilt QEMU
    is a new file at the same path."""
    if not os.listdir("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                       capture_output=True)
    # Old events may name another QEMU binary (another checkout) with the same probes.
    subprocess.run(["perf", "probe", "-q", "-d", "sdt_dsm:*"], capture_output=True)
    # perf looks up SDT notes in its build-id cache. A new binary is not in it yet, and
    # perf record may have put one there without its notes: add it afresh.
    for op in ("--remove", "--add"):
        subprocess.run(["perf", "buildid-cache", op, os.path.realpath(qemu)],
                       capture_output=True)
    for p in DSM_PROBES:
        r = subprocess.run(["perf", "probe", "-q", "-x", os.path.realpath(qemu), f"sdt_dsm:{p}"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"perf probe sdt_dsm:{p} in {qemu} failed: {r.stderr.strip()} "
                               "(QEMU built without the DSM's USDT probes?)")


class Recorder:
    def __init__(self, run_dir, qemu, system_map, accel, mem_mib, region_mib=None):
        self.dir = os.path.join(run_dir, "profile")
        os.makedirs(self.dir, exist_ok=True)
        self.accel = accel
        if os.geteuid() != 0:
            raise RuntimeError("--profile needs root (perf probes and tracepoints)")
        if shutil.which("perf") is None:
            raise RuntimeError("--profile needs perf (make deps installs linux-perf)")
        ensure_probes(qemu)
        # The DSM's RAM regions in guest-physical order (one per guest NUMA node): the
        # probes name a page by region and offset.
        meta = {"format": 1, "accelerator": accel, "mem_mib": mem_mib,
                "region_mib": " ".join(str(m) for m in (region_mib or [mem_mib])), "nodes": None,
                "qemu": os.path.realpath(qemu), "system_map_sha256": None}
        if os.path.exists(system_map):
            shutil.copy(system_map, os.path.join(self.dir, "System.map"))
            meta["system_map_sha256"] = sha256_of(system_map)
        self.meta = meta

    def wrap(self, i, cmd):
        """Node i's QEMU command line, run under perf record."""
        events = []
        for p in DSM_PROBES:
            events += ["-e", f"sdt_dsm:{p}"]
        events += KVM_EVENTS if self.accel == "kvm" else TCG_EVENTS
        qemu_extra = [] if self.accel == "kvm" else ["-perfmap"]
        perf = ["perf", "record", "-q", "--mmap-pages", "4096", "-o",
                os.path.join(self.dir, f"node{i}.perf.data")]
        if self.accel == "kvm":
            perf.append("-a")   # KVM's tracepoint fires in the host kernel, in any context
        return perf + events + ["--"] + cmd + qemu_extra

    def finish(self, nodes):
        """perf script for each node (while QEMU's perf map is still in /tmp), then keep the map."""
        self.meta["nodes"] = nodes
        with open(os.path.join(self.dir, "meta.json"), "w") as f:
            json.dump(self.meta, f, indent=2)
        for i in range(nodes):
            data = os.path.join(self.dir, f"node{i}.perf.data")
            if not os.path.exists(data):
                say(f"profile: node {i} left no perf data")
                continue
            say(f"profile: perf script for node {i} ...")
            with open(os.path.join(self.dir, f"node{i}.script"), "w") as out:
                r = subprocess.run(["perf", "script", "-i", data, "--ns", "-F", SCRIPT_FIELDS],
                                   stdout=out, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                say(f"profile: perf script for node {i} failed: {r.stderr.strip()[-300:]}")
                continue
            with open(os.path.join(self.dir, f"node{i}.script"), "a") as out:
                out.write(SCRIPT_TRAILER + "\n")     # dsmvm-prof refuses text without it
            # perf record ran QEMU itself: the samples' pid is QEMU's.
            with open(os.path.join(self.dir, f"node{i}.script")) as f:
                first = f.readline().split()
            perfmap = f"/tmp/perf-{first[0].split('/')[0]}.map" if first else ""
            if perfmap and os.path.exists(perfmap):
                shutil.move(perfmap, os.path.join(self.dir, f"node{i}.perfmap"))
        # The probes are global uprobe events naming this QEMU binary: leave none behind
        # (perf script has read their formats from perf.data already).
        subprocess.run(["perf", "probe", "-q", "-d", "sdt_dsm:*"], capture_output=True)
        say(f"profile: recorded in {self.dir}; report: profiling/dsmvm-prof report "
            f"{os.path.dirname(self.dir)}")
