title="idle guest for 30 s (after 10 s of settling) on 2 nodes x 1 vCPU, DSM faults/s: tuned guest against stock"
workload=idle args=30,10
timeout=400
baseline=stock
configs=("stock|--nodes 2 --variant stock"
         "tuned|--nodes 2 --variant tuned")
probe=idle
metrics="idle_faults_per_s idle_median_faults_per_s idle_remote_faults_per_s idle_window_s"
