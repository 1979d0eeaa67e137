/* bench.h - the subcommands of dsmvm-bench. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

int cmd_parse(int argc, char **argv);
int cmd_summarize(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_qmp_watch(int argc, char **argv);

#endif
