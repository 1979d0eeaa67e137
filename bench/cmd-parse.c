/* cmd-parse.c - `dsmvm-bench parse RUN_DIR`: the run's metrics on stdout (metrics.txt form). */
#include <stdio.h>

#include "bench.h"
#include "parse.h"

int cmd_parse(int argc, char **argv)
{
    struct metrics m;

    if (argc != 2) {
        fprintf(stderr, "usage: dsmvm-bench parse RUN_DIR\n");
        return 2;
    }
    int rc = parse_run_dir(argv[1], &m);
    metrics_write(&m, stdout);
    return rc < 0 ? 1 : 0;
}
