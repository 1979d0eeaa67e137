#!/usr/bin/env bash
# Run every test under tests/unit and tests/integration (or those named on the command
# line). A test is an executable: exit 0 passes, 77 is a skip (printed with its reason,
# never counted as a pass), anything else fails. Output of each test goes to
# build/test-logs/<name>.log and is shown when it fails.
#
# Every test states its time limit and why, in a comment line of its own:
#   # time-limit: SECONDS: reason
# A test that runs past it is stopped (its whole process group) and fails; a test
# without the line fails at once, so none can hang the suite.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGS=$ROOT/build/test-logs
mkdir -p "$LOGS"

if [ $# -gt 0 ]; then
    tests=("$@")
else
    mapfile -t tests < <(find "$ROOT/tests/unit" "$ROOT/tests/integration" -maxdepth 1 -type f -perm -u+x | LC_ALL=C sort)
fi

passed=0 failed=0 skipped=0 failed_names=()
for t in "${tests[@]}"; do
    name=$(basename "$(dirname "$t")")/$(basename "$t")
    log=$LOGS/${name//\//_}.log
    printf '%-50s ' "$name"
    limit=$(sed -n 's/^# time-limit: \([0-9][0-9]*\):.*/\1/p' "$t" | head -n 1)
    t0=$SECONDS
    if [ -z "$limit" ]; then
        echo "$name has no '# time-limit: SECONDS: reason' line" > "$log"
        rc=2
    else
        # timeout signals its whole process group: the test and what it started.
        (cd "$ROOT" && timeout -k 15 "$limit" "$t") > "$log" 2>&1
        rc=$?
        [ $rc -eq 124 ] && echo "stopped: over its time limit of $limit s" >> "$log"
    fi
    dt=$((SECONDS - t0))
    case $rc in
        0) passed=$((passed + 1)); printf 'PASS  (%d s)\n' "$dt" ;;
        77) skipped=$((skipped + 1)); printf 'SKIP  (%s)\n' "$(tail -n 1 "$log")" ;;
        *) failed=$((failed + 1)); failed_names+=("$name"); printf 'FAIL  (exit %d, %d s)\n' "$rc" "$dt"
           # the first failure lines of a long log first, then its end
           grep -n -m 3 -A 15 -E '^(FAIL|not ok)' "$log" | sed 's/^/    ! /'
           sed 's/^/    | /' "$log" | tail -n 40 ;;
    esac
done
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]} (logs in build/test-logs/)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
