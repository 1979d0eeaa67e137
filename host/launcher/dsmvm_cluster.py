"""dsmvm_cluster: the cluster description and the QEMU command line of a node.

One owner for both, used by dsmvm-launch, scripts/run-guest.sh and the tests:

  Cluster, parse_cluster(), load_cluster(), Cluster.format()   the cluster file
  QemuConfig, NodeObject, qemu_command()                       a QEMU command line
  kernel_cmdline()                                             the guest's -append

The parser follows the rules of QEMU's reader (hw/dsmvm/cluster.c, a GKeyFile):
whole-line '#' comments only, a value runs to the end of its line, the last of
repeated keys wins. It is stricter in one way: an unknown key is an error, so a
typo is caught instead of ignored.

Every value placed inside a QEMU option ("-object a=x,b=y") has its commas
doubled, QEMU's escape; a list repeats its key ("key=1,key=2"). Workload
arguments travel on the kernel command line percent-encoded, so that a comma, a
space or a quote inside one reaches the workload unchanged (the guest's /init
decodes them).

Run as a program it checks a cluster file or prints a node's command line:
  dsmvm_cluster.py check FILE
  dsmvm_cluster.py command --cluster FILE --node N [--kernel K ...]
"""
import argparse
import dataclasses
import os
import re
import shlex
import sys
from typing import List, Optional

MAX_NODES = 64          # DSMVM_MAX_NODES in hw/dsmvm/cluster.h
MAX_VCPUS = 1024        # DSMVM_MAX_VCPUS
MIN_SECRET = 8
DEFAULT_CONNECT_TIMEOUT = 30
KERNEL_CMDLINE_MAX = 2048   # COMMAND_LINE_SIZE on x86
UNIX_PATH_MAX = 107         # sun_path minus its terminating NUL

CLUSTER_KEYS = ("transport", "secret", "secret-file", "device-node", "connect-timeout",
                "read-ahead", "exclusive-reads", "shm-name", "vcpu-nice")
DEFAULT_READ_AHEAD = 8      # pages; QEMU's default too (hw/dsmvm/cluster.c)
DEFAULT_VCPU_NICE = 10      # QEMU's default too (hw/dsmvm/cluster.c)
NODE_KEYS = ("address", "cpus")


class ClusterError(ValueError):
    """A cluster description that QEMU would refuse; the message says why and where."""


@dataclasses.dataclass
class Node:
    address: Optional[str]
    cpus: List[int]

    def cpus_spec(self):
        """The cpus list written back compactly: [0, 1, 2, 5] -> "0-2,5"."""
        spans, cpus = [], sorted(self.cpus)
        start = prev = cpus[0]
        for c in cpus[1:] + [None]:
            if c is not None and c == prev + 1:
                prev = c
                continue
            spans.append(str(start) if start == prev else f"{start}-{prev}")
            if c is not None:
                start = prev = c
        return ",".join(spans)


@dataclasses.dataclass
class Cluster:
    nodes: List[Node]
    transport: str = "tcp"
    secret: Optional[str] = None
    secret_file: Optional[str] = None
    device_node: int = 0
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    read_ahead: Optional[int] = None        # None: QEMU's default
    exclusive_reads: Optional[int] = None   # 0 or 1; None: QEMU's default (1)
    shm_name: Optional[str] = None
    vcpu_nice: Optional[int] = None         # None: QEMU's default

    @property
    def num_cpus(self):
        return sum(len(n.cpus) for n in self.nodes)

    def format(self, header=None):
        """The file's text; parse_cluster(c.format()) describes the same cluster."""
        lines = [f"# {header}"] if header else []
        lines += ["[cluster]", f"transport = {self.transport}"]
        if self.secret_file is not None:
            lines.append(f"secret-file = {self.secret_file}")
        if self.secret is not None:
            lines.append(f"secret = {self.secret}")
        lines += [f"device-node = {self.device_node}",
                  f"connect-timeout = {self.connect_timeout}"]
        if self.read_ahead is not None:
            lines.append(f"read-ahead = {self.read_ahead}")
        if self.exclusive_reads is not None:
            lines.append(f"exclusive-reads = {self.exclusive_reads}")
        if self.shm_name is not None:
            lines.append(f"shm-name = {self.shm_name}")
        if self.vcpu_nice is not None:
            lines.append(f"vcpu-nice = {self.vcpu_nice}")
        for i, n in enumerate(self.nodes):
            lines += ["", f"[node{i}]"]
            if n.address is not None:
                lines.append(f"address = {n.address}")
            lines.append(f"cpus = {n.cpus_spec()}")
        text = "\n".join(lines) + "\n"
        parse_cluster(text, read_secret_file=False)     # never write what QEMU refuses
        return text

    def write(self, path, header=None):
        with open(path, "w") as f:
            f.write(self.format(header))


# --- parsing -----------------------------------------------------------------------------

_GROUP = re.compile(r"\[([^\[\]\x00-\x1f\x7f]+)\]")


def _unescape(value, where):
    """GKeyFile's escapes in string values: \\s \\n \\t \\r \\\\."""
    out, i = [], 0
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c == "\\":
            nxt = value[i + 1] if i + 1 < len(value) else ""
            if nxt not in table:
                raise ClusterError(f"{where}: invalid escape '\\{nxt}' in the value")
            out.append(table[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _read_groups(text, source):
    """[(group, {key: (value, line)})] in file order; repeated groups merge, last key wins."""
    groups, current = {}, None
    for lineno, raw in enumerate(text.split("\n"), 1):
        where = f"{source}:{lineno}"
        line = raw.rstrip("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        m = _GROUP.fullmatch(line.rstrip())
        if line.startswith("["):
            if not m:
                raise ClusterError(f"{where}: bad section header '{line}'")
            current = groups.setdefault(m.group(1), {})
            continue
        key, eq, value = line.partition("=")
        key = key.rstrip()
        if not eq or not key:
            raise ClusterError(f"{where}: '{line}' is neither 'key = value', a [section] "
                               f"nor a comment")
        if current is None:
            raise ClusterError(f"{where}: '{key}' comes before the first [section]")
        current[key] = (_unescape(value.lstrip(), where), where)
    return groups


def _integer(value, what):
    try:
        return int(value.strip(), 10)
    except ValueError:
        raise ClusterError(f"{what} must be an integer, not '{value}'") from None


def _parse_cpus(node, spec, owner):
    cpus = []
    for item in spec.split(","):
        item = item.strip()
        lo, dash, hi = item.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ClusterError(f"node{node}: bad cpus item '{item}' (expected N or N-M, "
                               f"N < {MAX_VCPUS})")
        first, last = int(lo), int(hi) if dash else int(lo)
        if first > last or last >= MAX_VCPUS:
            raise ClusterError(f"node{node}: bad cpus item '{item}' (expected N or N-M, "
                               f"N < {MAX_VCPUS})")
        for cpu in range(first, last + 1):
            if cpu in owner:
                raise ClusterError(f"vCPU {cpu} is claimed by node{owner[cpu]} and node{node}")
            owner[cpu] = node
            cpus.append(cpu)
    return cpus


def _valid_address(addr):
    host, colon, port = addr.rpartition(":")
    return bool(colon and host and port.isdigit() and 0 < int(port) < 65536)


def parse_cluster(text, source="cluster description", read_secret_file=True):
    """A Cluster from the file's text, or ClusterError with the reason QEMU would give.

    read_secret_file=False checks everything but the secret file's content (for a file
    meant for other hosts)."""
    groups = _read_groups(text, source)
    if "cluster" not in groups:
        raise ClusterError(f"{source}: no [cluster] section")

    def get(group, key):
        item = groups[group].get(key)
        return item[0] if item else None

    for name, keys in groups.items():
        known = CLUSTER_KEYS if name == "cluster" else NODE_KEYS
        for key, (_, where) in keys.items():
            if key not in known:
                raise ClusterError(f"{where}: unknown key '{key}' in [{name}] "
                                   f"(known: {', '.join(known)})")
    try:
        c = Cluster(nodes=[])
        c.transport = get("cluster", "transport") or "tcp"
        if c.transport not in ("tcp", "shm", "rdma"):
            raise ClusterError(f"transport must be tcp, shm or rdma, not '{c.transport}'")
        c.secret = get("cluster", "secret")
        c.secret_file = get("cluster", "secret-file")
        secret = c.secret
        if c.secret_file is not None:
            if c.secret is not None:
                raise ClusterError("give either secret or secret-file, not both")
            if read_secret_file:
                try:
                    with open(c.secret_file) as f:
                        secret = f.read().strip()
                except OSError as e:
                    raise ClusterError(f"secret-file: {e.strerror}: {c.secret_file}") from None
            else:
                secret = "x" * MIN_SECRET
        if secret is None or len(secret) < MIN_SECRET:
            raise ClusterError(f"a cluster secret of at least {MIN_SECRET} characters is "
                               "required (secret = ... or secret-file = ... in [cluster])")
        if get("cluster", "device-node") is not None:
            c.device_node = _integer(get("cluster", "device-node"), "device-node")
        if get("cluster", "connect-timeout") is not None:
            c.connect_timeout = _integer(get("cluster", "connect-timeout"), "connect-timeout")
        if c.connect_timeout <= 0:
            raise ClusterError("connect-timeout must be a positive number of seconds")
        if get("cluster", "read-ahead") is not None:
            c.read_ahead = _integer(get("cluster", "read-ahead"), "read-ahead")
            if not 0 <= c.read_ahead <= 64:
                raise ClusterError("read-ahead must be a number of pages from 0 to 64")
        if get("cluster", "exclusive-reads") is not None:
            c.exclusive_reads = _integer(get("cluster", "exclusive-reads"), "exclusive-reads")
            if c.exclusive_reads not in (0, 1):
                raise ClusterError("exclusive-reads must be 0 (off) or 1 (on)")
        if get("cluster", "vcpu-nice") is not None:
            c.vcpu_nice = _integer(get("cluster", "vcpu-nice"), "vcpu-nice")
            if not 0 <= c.vcpu_nice <= 19:
                raise ClusterError("vcpu-nice must be a number from 0 to 19")
        c.shm_name = get("cluster", "shm-name")
        if c.transport == "shm" and (not c.shm_name or "/" in c.shm_name):
            raise ClusterError("the shm transport needs shm-name = NAME (no '/') in [cluster]")

        owner = {}
        while len(c.nodes) < MAX_NODES and f"node{len(c.nodes)}" in groups:
            i = len(c.nodes)
            address = get(f"node{i}", "address")
            if c.transport in ("tcp", "rdma") and (address is None or
                                                   not _valid_address(address)):
                raise ClusterError(f"[node{i}] needs address = HOST:PORT")
            spec = get(f"node{i}", "cpus")
            if spec is None:
                raise ClusterError(f"[node{i}] needs cpus = LIST")
            c.nodes.append(Node(address=address, cpus=_parse_cpus(i, spec, owner)))
        if not c.nodes:
            raise ClusterError("no [node0] section")
        if len(groups) != len(c.nodes) + 1:
            raise ClusterError(f"sections must be [cluster] and [node0] .. [nodeN-1] with no "
                               f"gap; found {len(groups)} sections for {len(c.nodes)} nodes")
        if not 0 <= c.device_node < len(c.nodes):
            raise ClusterError(f"device-node {c.device_node} is not one of the "
                               f"{len(c.nodes)} nodes")
        top = max(owner) + 1 if owner else 0
        for cpu in range(top):
            if cpu not in owner:
                raise ClusterError(f"vCPU {cpu} is not run by any node (vCPUs 0..{top - 1} "
                                   "must all be listed)")
        if owner.get(0) != c.device_node:
            raise ClusterError(f"vCPU 0 (the boot CPU) must run on the device node "
                               f"(node{c.device_node})")
    except ClusterError as e:
        if str(e).startswith(source):
            raise
        raise ClusterError(f"{source}: {e}") from None
    return c


def load_cluster(path, read_secret_file=True):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ClusterError(f"cluster description {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ClusterError(f"cluster description {path}: not UTF-8 text") from None
    return parse_cluster(text, f"cluster description {path}", read_secret_file)


# --- the QEMU command line -----------------------------------------------------------------

def opt_value(value):
    """value made safe inside a QEMU "-opt key=value,key=value" string (',' -> ',,')."""
    value = str(value)
    if any(ord(c) < 0x20 for c in value):
        raise ValueError(f"control character in a QEMU option value: {value!r}")
    return value.replace(",", ",,")


def keyval(*parts, **props):
    """'part,key=value,...' for QEMU options; None is left out, a list repeats its key.

    -object without JSON goes through QemuOpts and the options visitor, which reads
    repeated keys as a list ("key.N=" is keyval syntax, refused there)."""
    items = [opt_value(p) for p in parts]
    for key, value in props.items():
        key = key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            items += [f"{key}={opt_value(v)}" for v in value]
        else:
            items.append(f"{key}={opt_value(value)}")
    return ",".join(items)


_WORKLOAD = re.compile(r"[A-Za-z0-9._+-]+")
_ARG_SAFE = re.compile(r"[A-Za-z0-9._:/=+@-]")


def encode_arg(arg):
    """One workload argument as it travels in dsmvm.args (percent-encoded UTF-8)."""
    if "\0" in arg or arg == "":
        raise ValueError("a workload argument cannot be empty or contain NUL")
    return "".join(c if _ARG_SAFE.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode())
                   for c in arg)


def kernel_params(extra):
    """Extra kernel parameters as a list of words: printable, and none the launcher sets."""
    if any(not c.isprintable() for c in extra):
        raise ValueError("kernel arguments must be printable text on one line")
    words = extra.split()
    for word in words:
        name = word.split("=", 1)[0]
        if name.startswith("dsmvm."):
            raise ValueError(f"kernel argument '{word}': the launcher sets {name} itself "
                             "(use --workload and --args)")
        if name in ("console", "panic"):
            raise ValueError(f"kernel argument '{word}': the launcher sets {name} itself")
    return words


def kernel_cmdline(workload, args=(), extra="", base="console=ttyS0 panic=-1"):
    """The guest kernel's command line running workload with args (a list of strings),
    with the extra kernel parameters before the workload's."""
    if not _WORKLOAD.fullmatch(workload or ""):
        raise ValueError(f"workload name '{workload}' may only use letters, digits and ._+-")
    base = " ".join([base] + kernel_params(extra))
    line = f"{base} dsmvm.workload={workload}"
    if args:
        line += " dsmvm.args=" + ",".join(encode_arg(a) for a in args)
    if len(line) >= KERNEL_CMDLINE_MAX:
        raise ValueError(f"the kernel command line would be {len(line)} bytes "
                         f"(limit {KERNEL_CMDLINE_MAX - 1}); use fewer or shorter arguments")
    return line


@dataclasses.dataclass
class NodeObject:
    """The dsmvm-node object: this QEMU is node `node` of the cluster in file `cluster`."""
    node: int
    cluster: str
    stats_file: Optional[str] = None
    watch_gpns: List[int] = dataclasses.field(default_factory=list)
    guest_features: Optional[int] = None

    def option(self):
        return keyval("dsmvm-node", id="dsmvm", node=self.node, cluster=self.cluster,
                      stats_file=self.stats_file, watch_gpns=self.watch_gpns or None,
                      guest_features=self.guest_features)


@dataclasses.dataclass
class QemuConfig:
    """What one QEMU process is started with; qemu_command() turns it into argv."""
    kernel: str
    initrd: str
    append: str
    smp: int
    mem_mib: int
    qemu: str = "qemu-system-x86_64"
    accel: str = "tcg"
    node: Optional[NodeObject] = None       # None: an ordinary single QEMU
    nographic: bool = False                 # -nographic (console and monitor on stdio)
    serial: str = "stdio"                   # "stdio", "null" or "file:PATH"
    qmp_socket: Optional[str] = None        # QMP on this unix socket, human monitor off
    disk: Optional[str] = None              # raw image, virtio, read-only
    extra: List[str] = dataclasses.field(default_factory=list)  # appended as given


def qemu_command(cfg):
    """argv for one QEMU process; every path and value is escaped for QEMU's parsers."""
    kvm = cfg.accel == "kvm"
    if cfg.accel not in ("tcg", "kvm"):
        raise ValueError(f"accel must be tcg or kvm, not '{cfg.accel}'")
    machine = "pc,accel=kvm" if kvm else "pc,accel=tcg"
    cpu = "host" if kvm else "max"
    if cfg.node is not None:
        # Distributed guests: in-QEMU irqchip, and no x2APIC (deliveries go through the APIC).
        machine += ",kernel-irqchip=off" if kvm else ""
        cpu += ",-x2apic"
    cmd = [cfg.qemu, "-machine", machine, "-cpu", cpu, "-smp", str(cfg.smp),
           "-m", str(cfg.mem_mib)]
    if cfg.nographic:
        cmd += ["-nographic"]
    else:
        cmd += ["-nic", "none", "-display", "none", "-vga", "none"]
    if cfg.node is None:
        # A single QEMU exits when its guest reboots. Distributed guests reset on every
        # node together (hw/dsmvm/reset.c), so a guest reboot boots the guest again.
        cmd += ["-no-reboot"]
    cmd += ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
            "-kernel", cfg.kernel, "-initrd", cfg.initrd, "-append", cfg.append]
    if cfg.qmp_socket is not None:
        if len(cfg.qmp_socket.encode()) > UNIX_PATH_MAX:
            raise ValueError(f"QMP socket path {cfg.qmp_socket} is longer than "
                             f"{UNIX_PATH_MAX} bytes (a unix socket limit); use a shorter "
                             "run directory")
        cmd += ["-monitor", "none",
                "-qmp", "unix:" + keyval(cfg.qmp_socket, server="on", wait="off")]
    if not cfg.nographic:
        if cfg.serial.startswith("file:"):
            cmd += ["-chardev", keyval("file", id="con", path=cfg.serial[5:]),
                    "-serial", "chardev:con"]
        else:
            cmd += ["-serial", cfg.serial]
    if cfg.node is not None:
        cmd += ["-object", cfg.node.option()]
    if cfg.disk is not None:
        cmd += ["-drive", keyval(file=cfg.disk, format="raw", **{"if": "virtio"}, readonly="on")]
    return cmd + list(cfg.extra)


# --- command-line use ------------------------------------------------------------------------

def _main(argv):
    p = argparse.ArgumentParser(prog="dsmvm_cluster.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    chk = sub.add_parser("check", help="check a cluster description, print what it describes")
    chk.add_argument("file")
    cmd = sub.add_parser("command", help="print the QEMU command line of one node "
                         "(or, without --cluster, of an ordinary single QEMU)")
    cmd.add_argument("--cluster", help="cluster description (its vCPUs give -smp)")
    cmd.add_argument("--node", default="N", help="node id (default: the placeholder N)")
    cmd.add_argument("--smp", type=int, help="vCPUs (default: from the cluster)")
    cmd.add_argument("--mem", type=int, default=512, help="guest RAM in MiB")
    cmd.add_argument("--kernel", default="bzImage")
    cmd.add_argument("--initrd", default="initramfs.cpio.gz")
    cmd.add_argument("--append", default="console=ttyS0", help="kernel command line")
    cmd.add_argument("--workload", help="instead of --append: the dsmvm workload to run")
    cmd.add_argument("--args", default="", help="its arguments, comma separated")
    cmd.add_argument("--accel", choices=["tcg", "kvm"], default="tcg")
    cmd.add_argument("--qemu", default="qemu-system-x86_64")
    cmd.add_argument("--stats-file", help="node statistics file (N stands for the node id)")
    cmd.add_argument("--nographic", action="store_true")
    cmd.add_argument("--null", action="store_true",
                     help="print argv NUL-separated (for scripts) instead of a shell line")
    a = p.parse_args(argv)
    try:
        if a.what == "check":
            c = load_cluster(a.file)
            print(f"{a.file}: {len(c.nodes)} nodes, {c.num_cpus} vCPUs, {c.transport}, "
                  f"device node {c.device_node}")
            return 0
        append = a.append
        if a.workload:
            append = kernel_cmdline(a.workload, [x for x in a.args.split(",") if x])
        node = smp = None
        if a.cluster:
            # The file is meant for the hosts; its secret file need not exist here.
            c = load_cluster(a.cluster, read_secret_file=False)
            smp = c.num_cpus
            stats = a.stats_file.replace("N", str(a.node)) if a.stats_file else None
            node = NodeObject(node=a.node, cluster=a.cluster, stats_file=stats)
        cfg = QemuConfig(kernel=a.kernel, initrd=a.initrd, append=append, qemu=a.qemu,
                         smp=a.smp or smp or 1, mem_mib=a.mem, accel=a.accel, node=node,
                         nographic=a.nographic)
        argv_out = qemu_command(cfg)
    except (ClusterError, ValueError) as e:
        print(f"dsmvm_cluster.py: error: {e}", file=sys.stderr)
        return 1
    if a.null:
        sys.stdout.write("".join(x + "\0" for x in argv_out))
    else:
        print(shlex.join(argv_out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
