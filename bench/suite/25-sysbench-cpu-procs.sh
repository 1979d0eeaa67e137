title="sysbench cpu, one single-threaded process per CPU, events/s (no shared user memory)"
quick=1
workload=sysbench-procs args=cpu,10
quick_args=cpu,5
timeout=400
baseline=1x2
# sysbench's threads keep their timers, counters and latency histogram side by side in shared
# pages, which on 2 nodes move between the nodes at every event (sysbench-cpu above): separate
# processes share only what the kernel shares, which is what the DSM and the tuned guest handle.
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
probe=workload
metrics="sysbench_events_per_s dsm_faults_remote remote_faults_per_event workload_remote_faults"
