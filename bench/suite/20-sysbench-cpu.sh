title="sysbench cpu, events/s (its threads share pages of timers, counters and the latency histogram)"
quick=1
workload=sysbench-test args=cpu,10
quick_args=cpu,5
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
probe=workload
metrics="sysbench_events_per_s sysbench_latency_avg_ms dsm_faults_remote remote_faults_per_event workload_remote_faults"
