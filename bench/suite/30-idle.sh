title="idle guest for 30 s after 10 s of settling, DSM faults/s between the idle markers"
workload=idle args=30,10
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
probe=idle
metrics="idle_faults_per_s idle_median_faults_per_s idle_remote_faults_per_s idle_window_s"
