# Helpers for integration tests: run a distributed guest and read its summary.
# shellcheck shell=bash
set -euo pipefail
LAUNCH=host/launcher/dsmvm-launch

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# launch NAME LAUNCHER-ARGS...: runs the launcher quietly into build/test-runs/NAME.
launch() {
    local name=$1; shift
    RUN=build/test-runs/$name
    rm -rf "$RUN"
    "$LAUNCH" --quiet --run-dir "$RUN" "$@"
}

# qmp SOCKET COMMAND [ARGUMENTS-JSON]: runs one QMP command, prints its "return" as JSON.
qmp() {
    python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
def cmd(name, args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "error" in r:
            sys.exit(f"QMP {name}: {r['error']}")
        if "return" in r:
            return r["return"]
cmd("qmp_capabilities", {})
print(json.dumps(cmd(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})))
PY
}

# summary JQ-EXPR: a value from the last launch's summary.
summary() { jq -r "$1" "$RUN/summary.json"; }
console() { cat "$RUN/serial0.log"; }

# wu_page_quiet LABEL: on every node of the last 2-node launch, the first watched page (a
# write-update page) took at most 20 faults and 20 invalidations. The tick and the other
# writers of the timekeeper (clock setting, adjtimex, clocksource changes) publish it and
# never fault; each CPU's switch to one-shot mode still stores into it plainly, a fault or
# a few each. The stock jiffies page takes thousands.
wu_page_quiet() {
    local label=$1 i f inv
    for i in 0 1; do
        f=$(summary ".nodes[$i].watched_pages[0].faults")
        inv=$(summary ".nodes[$i].watched_pages[0].invalidations")
        echo "tuned node$i: $label $(summary ".nodes[$i].watched_pages[0].gpn"): $f faults, $inv invalidations; wu_fallbacks $(summary ".nodes[$i].wu_fallbacks")"
        [ "$inv" -le 20 ] || fail "tuned: the $label was invalidated $inv times on node$i"
        [ "$f" -le 20 ] || fail "tuned: the $label faulted $f times on node$i"
    done
}
