#!/usr/bin/env python3
# time-limit: 180: builds command lines and runs the guest's argument decoder under busybox
"""The node command line without booting anything: every value that lands inside a QEMU
option (paths with commas and spaces, the watched pages) reads back unchanged through
QEMU's comma rules; workload arguments with commas, spaces and quotes reach the workload
unchanged through the guest's decoder (run here with busybox); the launcher refuses an
unknown --watch symbol or a bad workload by name before writing or starting anything; the
README's per-host command is what the module generates."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "host", "launcher"))
import dsmvm_cluster as dc  # noqa: E402

LAUNCH = os.path.join(ROOT, "host", "launcher", "dsmvm-launch")
ROOTFS = os.path.join(ROOT, "guest-tools", "rootfs")
signal.alarm(120)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")
    return cond


def split_opts(s):
    """QEMU's reading of "a,b=c,,d": items split at single commas, ',,' is a comma."""
    items, cur, i = [], "", 0
    while i < len(s):
        if s[i] == ",":
            if s[i + 1:i + 2] == ",":
                cur += ","
                i += 2
                continue
            items.append(cur)
            cur = ""
        else:
            cur += s[i]
        i += 1
    return items + [cur]


def opt_of(cmd, flag, n=0):
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == flag][n]


# 1. Values inside QEMU options survive QEMU's comma rules.
weird = "/tmp/a dir, with=comma,,/run 1"
cfg = dc.QemuConfig(kernel=f"{weird}/bzImage", initrd=f"{weird}/initrd", append="x", smp=3,
                    mem_mib=256, qmp_socket=f"{weird}/q.sock", serial=f"file:{weird}/serial.log",
                    disk=f"{weird}/disk.img",
                    node=dc.NodeObject(node=1, cluster=f"{weird}/cluster.conf",
                                       stats_file=f"{weird}/stats.json",
                                       watch_gpns=[6151, 6895, 6896, 7000], guest_features=3))
cmd = dc.qemu_command(cfg)
obj = split_opts(opt_of(cmd, "-object"))
check(obj[0] == "dsmvm-node", f"object type: {obj}")
pairs = [item.split("=", 1) for item in obj[1:]]
props = dict(pairs)
check(props.get("cluster") == f"{weird}/cluster.conf", f"cluster= read back as {props.get('cluster')}")
check(props.get("stats-file") == f"{weird}/stats.json", f"stats-file= read back: {props}")
check([v for k, v in pairs if k == "watch-gpns"] == ["6151", "6895", "6896", "7000"],
      f"watch-gpns as a list (the key repeated): {pairs}")
check(props.get("node") == "1" and props.get("guest-features") == "3", f"node/features: {props}")
check(split_opts(opt_of(cmd, "-chardev"))[2] == f"path={weird}/serial.log", "chardev path")
check(split_opts(opt_of(cmd, "-drive"))[0] == f"file={weird}/disk.img", "drive file")
check(split_opts(opt_of(cmd, "-qmp")) == [f"unix:{weird}/q.sock", "server=on", "wait=off"], "qmp")
# -kernel, -initrd and -append take their value whole.
check(opt_of(cmd, "-kernel") == f"{weird}/bzImage" and opt_of(cmd, "-initrd") == f"{weird}/initrd",
      "kernel and initrd paths passed whole")
check("-x2apic" in opt_of(cmd, "-cpu") and opt_of(cmd, "-smp") == "3", "node cpu/smp")
plain = dc.qemu_command(dc.QemuConfig(kernel="k", initrd="i", append="a", smp=2, mem_mib=512,
                                      nographic=True, accel="kvm"))
check(opt_of(plain, "-cpu") == "host" and "-object" not in plain and "-nographic" in plain
      and opt_of(plain, "-machine") == "pc,accel=kvm", f"plain QEMU: {plain}")
try:
    dc.qemu_command(dc.QemuConfig(kernel="k", initrd="i", append="a", smp=1, mem_mib=64,
                                  qmp_socket="/" + "d" * 120 + "/q.sock"))
    check(False, "a unix socket path over 107 bytes was accepted")
except ValueError as e:
    check("107 bytes" in str(e), f"socket path error: {e}")

# 2. Workload arguments through the kernel command line and the guest's decoder.
args = ["a,b", "c d", "50%", "x\"y'z", "é", "-n", "*", "tab\there", "back\\slash", "k=v"]
line = dc.kernel_cmdline("echo-args", args)
words = line.split(" ")
check(words[:3] == ["console=ttyS0", "panic=-1", "dsmvm.workload=echo-args"] and len(words) == 4,
      f"every argument inside one kernel parameter: {line}")
check(not re.search(r"[\"'\\ ]", words[3]), f"no quote, backslash or space left: {words[3]}")
check(dc.kernel_cmdline("hello", ["120"]).endswith("dsmvm.args=120"), "plain args unchanged")
line = dc.kernel_cmdline("hello", ["1"], "  tsc=reliable  rcutree.kthread_prio=2 ")
check(line == "console=ttyS0 panic=-1 tsc=reliable rcutree.kthread_prio=2 dsmvm.workload=hello "
      "dsmvm.args=1", f"extra kernel arguments before the workload's: {line}")
for bad_extra in ("dsmvm.workload=x", "a console=tty1", "panic=0", "a\nb"):
    try:
        dc.kernel_cmdline("hello", [], bad_extra)
        check(False, f"kernel arguments {bad_extra!r} accepted")
    except ValueError as e:
        print(f"refused as expected: {e}")
busybox = shutil.which("busybox")
if check(busybox is not None, "busybox (Debian busybox-static) is installed"):
    out = subprocess.run([busybox, "sh", f"{ROOTFS}/etc/dsmvm/with-args",
                          words[3][len("dsmvm.args="):], f"{ROOTFS}/etc/dsmvm/workloads/echo-args"],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    want = f"echo-args: {len(args)} " + " ".join(f"[{a}]" for a in args)
    check(out == want, f"decoded in the guest as\n  {out}\nwanted\n  {want}")
for bad_workload in ("a b", "x;y", "", "a/b"):
    try:
        dc.kernel_cmdline(bad_workload)
        check(False, f"workload {bad_workload!r} accepted")
    except ValueError:
        pass
for bad_args in ([""], ["a\0b"], ["x" * 2100]):
    try:
        dc.kernel_cmdline("hello", bad_args)
        check(False, f"arguments {bad_args[0][:10]!r} accepted")
    except ValueError as e:
        print(f"refused as expected: {e}")

# 3. The launcher: commands it would run, and errors before anything is written or started.
with tempfile.TemporaryDirectory() as d:
    kdir = os.path.join(d, "kernel, dir")
    os.makedirs(kdir)
    for name in ("bzImage", "initramfs.cpio.gz"):
        open(os.path.join(kdir, name), "w").close()
    with open(os.path.join(kdir, "System.map"), "w") as f:
        f.write("ffffffff81801000 D jiffies_seq\nffffffff81b1f000 d tk_core\n"
                "ffffffff81b20040 d tick_next_period\nffffffff81b20080 d last_jiffies_update\n"
                "ffffffff81c00000 d twice\nffffffff81c01000 d twice\n"
                "0000000000012340 D percpu_thing\nffffffff81801000 D jiffies_64\n")
    base = [LAUNCH, "--qemu", "/bin/true", "--accel", "tcg", "--kernel", f"{kdir}/bzImage",
            "--initrd", f"{kdir}/initramfs.cpio.gz"]

    def launch(*extra, run_dir=os.path.join(d, "run, 1 x")):
        r = subprocess.run(base + ["--run-dir", run_dir] + list(extra), capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr, os.path.exists(run_dir)

    rc, out, err, made = launch("--print-commands", "--nodes", "2", "--workload", "echo-args",
                                "--args", "1,2", "--arg", "c,d", "--arg", "e f",
                                "--kernel-args", "nokaslr", "--kernel-args", "quiet",
                                "--watch", "jiffies_seq,tk_core,tick_next_period,last_jiffies_update")
    check(rc == 0 and not made, f"--print-commands: rc {rc}, run dir made: {made}, {err}")
    cmds = [shlex.split(line) for line in out.splitlines()]
    if check(len(cmds) == 2, f"two node commands: {out}"):
        pairs = [i.split("=", 1) for i in split_opts(opt_of(cmds[1], "-object"))[1:]]
        props = dict(pairs)
        gpns = [v for k, v in pairs if k == "watch-gpns"]
        check(gpns == ["6145", "6943", "6944"], f"three pages for four symbols: {pairs}")
        check(props.get("node") == "1" and props.get("cluster") == f"{d}/run, 1 x/cluster.conf",
              f"node 1's object: {props}")
        check(opt_of(cmds[0], "-append").endswith(
            "nokaslr quiet dsmvm.workload=echo-args dsmvm.args=1,2,c%2Cd,e%20f"),
              f"append: {opt_of(cmds[0], '-append')}")
    for extra, want in ((["--watch", "jiffies_seq,no_such_symbol,other_missing"],
                         "no symbol no_such_symbol, other_missing in"),
                        (["--watch", "twice"], "twice is defined 2 times"),
                        (["--watch", "percpu_thing"], "percpu_thing .* is not in the kernel image"),
                        (["--workload", "hello world"], "workload name 'hello world'"),
                        (["--arg", ""], "cannot be empty"),
                        (["--kernel-args", "dsmvm.args=1"], "the launcher sets dsmvm.args"),
                        (["--cluster", os.path.join(d, "none.conf")], "none.conf: No such file"),
                        (["--cluster", "c.conf", "--vcpu-nice", "5"],
                         "--vcpu-nice cannot be combined with --cluster: set it in c.conf"),
                        (["--cluster", "c.conf", "--nodes", "3", "--cpus", "1,1,1", "--netns"],
                         "--nodes, --cpus, --netns cannot be combined with --cluster: set them"),
                        (["--cluster", "c.conf", "--transport", "tcp"],
                         "--transport cannot be combined"),
                        (["--nodes", "0"], "--nodes must be between")):
        rc, out, err, made = launch(*extra)
        check(rc == 2 and re.search(want, err) and not made,
              f"{extra}: rc {rc}, run dir made: {made}, stderr: {err.strip()}")
    rc, out, err, made = launch(run_dir="/tmp/" + "r" * 110)
    check(rc == 2 and "longer than 107 bytes" in err and not made, f"long run dir: {err}")

# 4. The README's per-host command is the module's.
readme = open(os.path.join(ROOT, "README.md")).read()
section = readme.split("## Running nodes on separate hosts", 1)[1].split("\n## ", 1)[0]
ini = re.search(r"```ini\n(.*?)```", section, re.S).group(1)
shown = re.search(r"```\n(qemu-system-x86_64 .*?)```", section, re.S).group(1)
shown = shlex.split(shown.replace("\\\n", " "))
cluster = dc.parse_cluster(ini, "README.md", read_secret_file=False)
mem = int(opt_of(shown, "-m"))
want = dc.qemu_command(dc.QemuConfig(
    kernel="bzImage", initrd="initramfs.cpio.gz", append="console=ttyS0", smp=cluster.num_cpus,
    mem_mib=mem, node=dc.NodeObject(node="N", cluster="/etc/dsmvm/guest.conf",
                                    stats_file="/tmp/dsmvm-N.json")))
check(shown == want, "README's command differs from the module's:\n  "
      f"README: {shlex.join(shown)}\n  module: {shlex.join(want)}")
cli = subprocess.run([sys.executable, os.path.join(ROOT, "host", "launcher", "dsmvm_cluster.py"),
                      "command", "--cluster", "/dev/stdin", "--mem", str(mem),
                      "--stats-file", "/tmp/dsmvm-N.json"], input=ini, capture_output=True,
                     text=True, timeout=30)
check(cli.returncode == 0 and shlex.split(cli.stdout)[-1].startswith("dsmvm-node,id=dsmvm,node=N,"),
      f"dsmvm_cluster.py command: {cli.stdout} {cli.stderr}")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
