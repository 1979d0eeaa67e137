/* dsmvm-bench - the C side of `make bench`: parse runs, summarize benchmarks, report.
 * bench/run.sh runs the guests and calls these; see README.md ("Benchmarks"). */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} commands[] = {
    { "parse", cmd_parse, "RUN_DIR: metrics of one run (summary, console, perf files)" },
    { "summarize", cmd_summarize, "one benchmark's runs -> median, spread, ratio (JSON)" },
    { "report", cmd_report, "table on the terminal, combined JSON, gnuplot data" },
    { "qmp-watch", cmd_qmp_watch, "DSM counters of every node at two console markers" },
};

int main(int argc, char **argv)
{
    for (size_t i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "usage: dsmvm-bench COMMAND ...\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(stderr, "  %-10s %s\n", commands[i].name, commands[i].what);
    }
    return 2;
}
