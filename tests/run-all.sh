#!/usr/bin/env bash
# Run every test under tests/unit and tests/integration (or those named on the command
# line). A test is an executable: exit 0 passes, 77 is a skip (printed with its reason,
# never counted as a pass), anything else fails. Output of each test goes to
# build/test-logs/<name>.log and is shown when it fails.
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
    t0=$SECONDS
    (cd "$ROOT" && "$t") > "$log" 2>&1
    rc=$?
    dt=$((SECONDS - t0))
    case $rc in
        0) passed=$((passed + 1)); printf 'PASS  (%d s)\n' "$dt" ;;
        77) skipped=$((skipped + 1)); printf 'SKIP  (%s)\n' "$(tail -n 1 "$log")" ;;
        *) failed=$((failed + 1)); failed_names+=("$name"); printf 'FAIL  (exit %d, %d s)\n' "$rc" "$dt"
           sed 's/^/    | /' "$log" | tail -n 40 ;;
    esac
done
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]} (logs in build/test-logs/)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
