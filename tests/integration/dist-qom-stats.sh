#!/usr/bin/env bash
# A node's statistics are data: on a running 2-node guest, `qom-get /objects/dsmvm stats` on
# each node returns a JSON object (QAPI's DsmvmStats) with every counter, the node's vCPUs, its
# hot pages and the watched pages, not a string. At exit each node writes the same structure to
# its stats file, from which the launcher builds its summary: the summary's nodes carry the
# same keys. Each node runs its vCPU threads 10 nice levels below its other threads
# (vcpu-nice's default).
# time-limit: 420: one 2-node boot and a 20 s idle guest, the launcher stops it at 300 s
. tests/lib.sh
mkdir -p build/test-runs
RUN=$PWD/build/test-runs/qom-stats   # absolute: the node command lines name it
rm -rf "$RUN"
"$LAUNCH" --quiet --run-dir "$RUN" --nodes 2 --variant stock --workload idle --args 20 \
    --timeout 300 > "$RUN.out" 2>&1 &
launcher=$!
# The launcher stops its nodes when it is terminated.
trap 'kill $launcher 2>/dev/null || true' EXIT

for _ in $(seq 480); do
    grep -qs 'DSMVM-IDLE: begin' "$RUN/serial0.log" && break
    kill -0 "$launcher" 2>/dev/null || fail "the launcher ended before the guest was idle: $(cat "$RUN.out")"
    sleep 0.5
done
grep -qs 'DSMVM-IDLE: begin' "$RUN/serial0.log" || fail "the guest never became idle"

want='["node", "vcpus", "device_node", "read_faults", "write_faults", "faults_remote",
       "faults_local", "pages_sent", "pages_received", "invalidations_sent",
       "invalidations_received", "zero_page_installs", "bytes_sent", "bytes_received",
       "wu_updates", "wu_fallbacks", "read_ahead_sent", "read_ahead_received",
       "exclusive_reads", "exclusive_upgrades", "migratory_cleared", "msgs_sent",
       "msgs_received", "io_forwarded", "io_served", "irqs_sent", "irqs_received",
       "eois_forwarded", "apic_updates_sent", "tb_flushes_queued", "tb_flushes_skipped",
       "hot_pages", "watched_pages", "exit_reason"]'
for i in 0 1; do
    st=$(qmp "$RUN/qmp$i.sock" qom-get '{"path": "/objects/dsmvm", "property": "stats"}')
    type=$(jq -r type <<< "$st")
    [ "$type" = object ] || fail "node$i: stats is a JSON $type, not an object: $st"
    missing=$(jq -r --argjson want "$want" '$want - keys | join(" ")' <<< "$st")
    [ -z "$missing" ] || fail "node$i: stats lack $missing: $st"
    extra=$(jq -r --argjson want "$want" 'keys - $want | join(" ")' <<< "$st")
    [ -z "$extra" ] || fail "node$i: stats have keys nobody expects ($extra): $st"
    jq -e --argjson i "$i" '.node == $i and .device_node == ($i == 0) and .exit_reason == ""
        and (.vcpus | length) == 1 and .read_faults + .write_faults > 0
        and (.hot_pages | length) > 0 and (.watched_pages | length) > 0
        and ([.hot_pages[], .watched_pages[]] | all(keys == ["faults", "gpn", "invalidations"]))
        and ([.read_faults, .io_forwarded, .hot_pages[0].gpn] | all(type == "number"))' \
        <<< "$st" > /dev/null || fail "node$i: unexpected stats: $st"
    echo "node$i: qom-get stats: an object, $(jq -r '.read_faults + .write_faults' <<< "$st")" \
         "DSM faults so far, hot page $(jq -r '.hot_pages[0].gpn' <<< "$st")"
done

# vcpu-nice: the threads QMP names as vCPUs run 10 nice levels (at most 19) below the main
# thread, every other thread of the process at the main thread's.
nice_of() { awk '{ print $19 }' "/proc/$1/stat"; }
for i in 0 1; do
    tids=$(qmp "$RUN/qmp$i.sock" query-cpus-fast | jq -r '.[]."thread-id"')
    [ "$(wc -w <<< "$tids")" -eq 2 ] || fail "node$i: query-cpus-fast names threads '$tids'"
    pid=$(awk '/^Tgid:/ { print $2 }' "/proc/$(head -1 <<< "$tids")/status")
    base=$(nice_of "$pid")
    lowered=$(( base + 10 > 19 ? 19 : base + 10 ))
    for t in /proc/"$pid"/task/*; do
        tid=${t##*/} expect=$base
        grep -qx "$tid" <<< "$tids" && expect=$lowered
        [ "$(nice_of "$tid")" -eq "$expect" ] ||
            fail "node$i: thread $tid ($(cat "$t/comm")) runs at nice $(nice_of "$tid"), not $expect"
    done
    echo "node$i: vCPU threads $(echo $tids) at nice $lowered, the other" \
         "$(($(ls /proc/"$pid"/task | wc -l) - 2)) at $base"
done

rc=0
wait "$launcher" || rc=$?
[ "$rc" -eq 0 ] || fail "the launcher exited $rc: $(cat "$RUN.out")"
[ "$(summary .status)" = ok ] || fail "summary status $(summary .status)"
for i in 0 1; do
    got=$(jq -c --argjson want "$want" \
        ".nodes[$i] | [(\$want - keys), (keys - \$want), (.exit_reason != \"\")]" "$RUN/summary.json")
    [ "$got" = '[[],[],true]' ] ||
        fail "node$i in the summary: [missing keys, extra keys, has an exit reason] = $got"
done
echo "dist-qom-stats: ok (summary: $(summary '.nodes[0].exit_reason'))"
