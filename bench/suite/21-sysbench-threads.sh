title="sysbench threads, events/s (scheduler, shared mutexes)"
workload=sysbench-test args=threads,10
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
probe=workload
metrics="sysbench_events_per_s sysbench_events dsm_faults_remote remote_faults_per_event workload_remote_faults"
