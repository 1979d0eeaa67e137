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

# wu_page_quiet LABEL [SYMBOL]: on every node of the last 2-node launch, the watched page
# holding SYMBOL (default: the first watched page), a write-update page, took at most 4
# faults and 4 invalidations. Nothing stores into the tuned tick page after boot (guest
# patches 0005, 0006, 0010, 0011): the tick, the other writers of the timekeeper and each
# CPU's switch to one-shot mode publish it, and a run shows 0 faults. One plain store would
# cost a fault per store while a reader on the other node spins on the sequence count (16 to
# 95 in the runs before 0010). The stock jiffies page takes thousands.
wu_page_quiet() {
    local label=$1 sym=${2:-} i f inv page
    for i in 0 1; do
        if [ -n "$sym" ]; then
            page="[.nodes[$i].watched_pages[] | select(.symbols | index(\"$sym\"))][0]"
        else
            page=".nodes[$i].watched_pages[0]"
        fi
        [ "$(summary "$page.gpn")" != null ] || fail "no watched page holds ${sym:-anything} on node$i"
        f=$(summary "$page.faults")
        inv=$(summary "$page.invalidations")
        echo "tuned node$i: $label $(summary "$page.gpn"): $f faults, $inv invalidations; wu_fallbacks $(summary ".nodes[$i].wu_fallbacks")"
        [ "$inv" -le 4 ] || fail "tuned: the $label was invalidated $inv times on node$i"
        [ "$f" -le 4 ] || fail "tuned: the $label faulted $f times on node$i"
    done
}
