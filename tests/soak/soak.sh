#!/usr/bin/env bash
# Soak (`make soak`, not part of `make test`): the coherence checks and mem-soak in turn
# on 2 and then 3 nodes x 1 vCPU, SOAK_SECONDS of guest workload each (default 600), with
# 0 errors allowed. mem-soak moves a SOAK_MIB buffer (default 32) between every CPU each
# round and checks it word by word and by a whole-buffer sum, so its pages migrate
# between the nodes thousands of times; the DSM's page transfers are printed to show it.
. tests/lib.sh
SECONDS_EACH=${SOAK_SECONDS:-600}
MIB=${SOAK_MIB:-32}
NODE_COUNTS=${SOAK_NODES:-2 3}
case $SECONDS_EACH in ''|*[!0-9]*) fail "SOAK_SECONDS must be a number of seconds" ;; esac
case $MIB in ''|*[!0-9]*|0) fail "SOAK_MIB must be a positive number of MiB" ;; esac

t0=$SECONDS
for nodes in $NODE_COUNTS; do
    echo "==> soak: $nodes nodes x 1 vCPU, ${SECONDS_EACH} s of coherence + mem-soak ($MIB MiB)" \
         "(run directory build/test-runs/soak-$nodes)"
    # Boot takes up to a few minutes per node count on a loaded 2-core machine.
    launch "soak-$nodes" --nodes "$nodes" --variant tuned --workload soak \
        --args "$SECONDS_EACH,$MIB,5000" --timeout $((SECONDS_EACH + 900)) \
        || { console | grep -E '^(soak|coherence|mem-soak):' || true; fail "launcher failed on $nodes nodes"; }
    console | grep -E '^(soak|coherence|mem-soak):' > "$RUN/checks.log" || true
    pass_c=$(grep -c '^coherence: PASS' "$RUN/checks.log" || true)
    pass_m=$(grep -c '^mem-soak: PASS' "$RUN/checks.log" || true)
    grep -q '^soak: PASS' "$RUN/checks.log" || { tail -n 5 "$RUN/checks.log"; fail "soak did not pass on $nodes nodes"; }
    ! grep -q 'FAIL' "$RUN/checks.log" || fail "a check failed on $nodes nodes"
    [ "$pass_c" -ge 1 ] && [ "$pass_m" -ge 1 ] || fail "no complete round on $nodes nodes"
    rounds=$(awk '/^mem-soak: PASS/ { for (i = 1; i <= NF; i++) if ($i ~ /^rounds=/) { sub("rounds=", "", $i); s += $i } } END { print s + 0 }' "$RUN/checks.log")
    pages=$(awk '/^mem-soak: PASS/ { for (i = 1; i <= NF; i++) if ($i ~ /^pages_checked=/) { sub("pages_checked=", "", $i); s += $i } } END { print s + 0 }' "$RUN/checks.log")
    echo "soak: $nodes nodes PASS: $pass_c coherence runs, $pass_m mem-soak runs ($rounds rounds," \
         "$pages pages checked), 0 errors; DSM faults $(summary .dsm_faults_total)" \
         "(remote $(summary .dsm_faults_remote_total)), guest run $(summary .total_time_s) s"
done
echo "soak: all passed in $((SECONDS - t0)) s"
