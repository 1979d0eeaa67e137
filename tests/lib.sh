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

# summary JQ-EXPR: a value from the last launch's summary.
summary() { jq -r "$1" "$RUN/summary.json"; }
console() { cat "$RUN/serial0.log"; }
