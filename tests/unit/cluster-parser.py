#!/usr/bin/env python3
# time-limit: 60: parses small files
"""The cluster-file parser (host/launcher/dsmvm_cluster.py): good files parse to what they
say, written files parse back to the same cluster, bad files are refused with a message that
says what is wrong (the same reasons QEMU's reader gives; see cluster-config-errors.sh)."""
import os
import re
import signal
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "host", "launcher"))
import dsmvm_cluster as dc  # noqa: E402

signal.alarm(60)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def refused(text, want, **kw):
    try:
        c = dc.parse_cluster(text, "t.conf", **kw)
    except dc.ClusterError as e:
        ok = re.search(want, str(e)) is not None
        check(ok, f"expected /{want}/, got '{e}' for {text!r}")
        if ok:
            print(f"refused as expected: {e}")
        return
    check(False, f"accepted ({len(c.nodes)} nodes): {text!r}")


GOOD = "[node0]\naddress = 127.0.0.1:7370\ncpus = 0\n[node1]\naddress = 127.0.0.1:7371\ncpus = 1\n"
S = "[cluster]\nsecret = 12345678\n"

# Good files.
c = dc.parse_cluster(S + GOOD)
check(len(c.nodes) == 2 and c.num_cpus == 2 and c.transport == "tcp" and c.device_node == 0
      and c.connect_timeout == 30 and c.nodes[1].address == "127.0.0.1:7371",
      f"two-node file parsed as {c}")
c = dc.parse_cluster("# comment\n  # indented comment\n[cluster]\n  transport=shm\nshm-name = g1\n"
                     "secret = a\\sb\\tc\\\\d12\nconnect-timeout = 5 \ndevice-node = 1\n"
                     "[node0]\ncpus = 1-3, 5\n[node1]\ncpus = 0,4\n[cluster]\nsecret = later-wins\n")
check(c.transport == "shm" and c.shm_name == "g1" and c.connect_timeout == 5 and c.device_node == 1
      and c.nodes[0].cpus == [1, 2, 3, 5] and c.nodes[1].cpus == [0, 4] and c.nodes[0].address is None,
      f"shm file with comments, ranges and escapes parsed as {c}")
check(c.secret == "later-wins", f"a repeated key: the last one wins (got {c.secret!r})")
c = dc.parse_cluster(S + "vcpu-nice = 0\nread-ahead = 4\n" + GOOD)
check(c.vcpu_nice == 0 and c.read_ahead == 4, f"vcpu-nice and read-ahead parsed as {c}")
c = dc.parse_cluster(S + "exclusive-reads = 0\n" + GOOD)
check(c.exclusive_reads == 0 and "exclusive-reads = 0" in c.format(), f"exclusive-reads parsed as {c}")
try:
    dc.parse_cluster(S + "exclusive-reads = 2\n" + GOOD)
    check(False, "exclusive-reads = 2 accepted")
except dc.ClusterError as e:
    check("exclusive-reads must be 0 (off) or 1 (on)" in str(e), f"exclusive-reads = 2: {e}")
check(dc.parse_cluster(S + GOOD).vcpu_nice is None, "vcpu-nice absent: QEMU's default")
c = dc.parse_cluster("[cluster]\nsecret = a\\sb\\tc\\\\d12\n" + GOOD)
check(c.secret == "a b\tc\\d12", f"escapes in a value: {c.secret!r}")
# A value runs to the end of its line, as in QEMU's reader: '#' inside it is not a comment.
c = dc.parse_cluster("[cluster]\nsecret = 12345678 # not a comment\n" + GOOD)
check(c.secret == "12345678 # not a comment", f"inline '#': {c.secret!r}")

c = dc.parse_cluster("[cluster]\ntransport = rdma\nsecret = 0123456789\n"
                     "[node0]\naddress = 10.0.2.15:7471\ncpus = 0\n"
                     "[node1]\naddress = 10.0.2.16:7471\ncpus = 1\n")
check(c.transport == "rdma" and c.nodes[1].address == "10.0.2.16:7471",
      f"rdma file parsed as {c}")
rdma_refusal = None
try:
    dc.parse_cluster("[cluster]\ntransport = rdma\nsecret = 0123456789\n[node0]\ncpus = 0\n")
except dc.ClusterError as e:
    rdma_refusal = str(e)
check(rdma_refusal is not None and rdma_refusal.endswith("[node0] needs address = HOST:PORT"),
      f"rdma without an address: {rdma_refusal}")

with tempfile.TemporaryDirectory() as d:
    # Written files parse back to the same cluster; the secret file is read.
    secret = os.path.join(d, "a dir, with comma", "secret")
    os.makedirs(os.path.dirname(secret))
    with open(secret, "w") as f:
        f.write("0123456789abcdef\n")
    for cpus, transport in (([1, 1], "tcp"), ([2, 1, 3], "tcp"), ([1] * 64, "shm")):
        nodes, first = [], 0
        for i, n in enumerate(cpus):
            nodes.append(dc.Node(address=f"10.0.0.{i + 1}:7100", cpus=list(range(first, first + n))))
            first += n
        want = dc.Cluster(nodes=nodes, transport=transport, secret_file=secret,
                          shm_name="dsmvm-x" if transport == "shm" else None,
                          vcpu_nice=len(cpus) % 20)
        path = os.path.join(d, "c.conf")
        want.write(path, "written by the test")
        got = dc.load_cluster(path)
        check(got == want, f"round trip of {cpus}/{transport}: {got} != {want}")
    refused_load = None
    try:
        dc.load_cluster(os.path.join(d, "missing.conf"))
    except dc.ClusterError as e:
        refused_load = str(e)
    check(refused_load and "No such file" in refused_load, f"missing file: {refused_load}")
    with open(path, "wb") as f:
        f.write(b"[cluster]\nsecret = \xff\xfe12345678\n")
    try:
        dc.load_cluster(path)
        check(False, "a file that is not UTF-8 was accepted")
    except dc.ClusterError as e:
        check("not UTF-8" in str(e), f"not UTF-8: {e}")
    refused(f"[cluster]\nsecret-file = {d}/nope\n" + GOOD, "secret-file: No such file")

# Writing refuses what the parser would refuse.
try:
    dc.Cluster(nodes=[dc.Node("h:1", [1])], secret="12345678").format()
    check(False, "a cluster whose vCPU 0 is nowhere was written")
except dc.ClusterError as e:
    print(f"refused to write: {e}")

# The README's example parses (its secret file lives on the hosts, not here).
readme = open(os.path.join(ROOT, "README.md")).read()
ini = re.search(r"```ini\n(.*?)```", readme, re.S)
check(ini is not None, "README has an ini block")
if ini:
    c = dc.parse_cluster(ini.group(1), "README.md", read_secret_file=False)
    check(len(c.nodes) == 2 and c.num_cpus == 4 and c.secret_file == "/etc/dsmvm/secret",
          f"README cluster: {c}")

# Bad files: the reasons of QEMU's reader (cluster-config-errors.sh), then syntax.
refused("[cluster]\n" + GOOD, "secret of at least 8")
refused("[cluster]\nsecret = 1234567\n" + GOOD, "secret of at least 8")
refused(S + "[node0]\naddress = 127.0.0.1:1\ncpus = 0-1\n[node1]\naddress = 127.0.0.1:2\ncpus = 1\n",
        "vCPU 1 is claimed by node0 and node1")
refused(S + "[node0]\naddress = nowhere\ncpus = 0\n", r"\[node0\] needs address = HOST:PORT")
refused(S + "[node0]\naddress = h:0\ncpus = 0\n", r"needs address = HOST:PORT")
refused(S + "[node0]\naddress = h:65536\ncpus = 0\n", r"needs address = HOST:PORT")
refused(S + "[node0]\naddress = :80\ncpus = 0\n", r"needs address = HOST:PORT")
refused(S + "[node0]\naddress = 127.0.0.1:1\ncpus = 0,2\n", "vCPU 1 is not run by any node")
refused(S + "[node0]\naddress = 127.0.0.1:1\ncpus = 0\n[node2]\naddress = 127.0.0.1:2\ncpus = 1\n",
        "no gap")
refused(S + "transport = udp\n" + GOOD, "transport must be tcp, shm or rdma, not 'udp'")
refused(S + "[node0]\naddress = 127.0.0.1:1\ncpus = 1\n[node1]\naddress = 127.0.0.1:2\ncpus = 0\n",
        r"vCPU 0 \(the boot CPU\) must run on the device node")
refused("", r"no \[cluster\] section")
refused(S, r"no \[node0\] section")
refused(S + "[node0]\naddress = h:1\n", r"\[node0\] needs cpus = LIST")
refused(S + "[node0]\naddress = h:1\ncpus = 0-\n", "bad cpus item '0-'")
refused(S + "[node0]\naddress = h:1\ncpus = 3-1\n", "bad cpus item '3-1'")
refused(S + "[node0]\naddress = h:1\ncpus = 0-1024\n", "bad cpus item")
refused(S + "[node0]\naddress = h:1\ncpus = x\n", "bad cpus item 'x'")
refused(S + "secret-file = /x\n" + GOOD, "either secret or secret-file")
refused(S + "device-node = 2\n" + GOOD, "device-node 2 is not one of the 2 nodes")
refused(S + "device-node = 0x1\n" + GOOD, "device-node must be an integer")
refused(S + "connect-timeout = 0\n" + GOOD, "connect-timeout must be a positive")
refused(S + "transport = shm\n" + GOOD, "shm transport needs shm-name")
refused(S + "vcpu-nice = 20\n" + GOOD, "vcpu-nice must be a number from 0 to 19")
refused(S + "vcpu-nice = -1\n" + GOOD, "vcpu-nice must be a number from 0 to 19")
refused(S + "transport = shm\nshm-name = a/b\n" + GOOD, "shm transport needs shm-name")
refused(S + "adress = 127.0.0.1:1\n" + GOOD, r"t.conf:3: unknown key 'adress' in \[cluster\]")
refused(S + "[node0]\naddress = h:1\ncpus = 0\nport = 1\n", r"unknown key 'port' in \[node0\]")
refused("secret = 12345678\n" + S + GOOD, "t.conf:1: 'secret' comes before the first")
refused(S + "just words\n" + GOOD, "t.conf:3: 'just words' is neither")
refused(S + "= value\n" + GOOD, "t.conf:3: '= value' is neither")
refused(S + "[node0\n", r"t.conf:3: bad section header '\[node0'")
refused(S + "[a]b]\n", "bad section header")
refused(S + "[]\n", "bad section header")
refused("[cluster]\nsecret = ab\\qcdefgh\n" + GOOD, r"t.conf:2: invalid escape '\\q'")
refused(S + GOOD + "[extra]\n", "found 4 sections for 2 nodes")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
