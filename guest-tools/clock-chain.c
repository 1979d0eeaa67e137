// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * clock-chain: CLOCK_MONOTONIC must never go back when a message passes from one CPU to
 * another, wherever the CPUs run. One thread is pinned to each online CPU; a token goes
 * round the ring CPU 0 -> 1 -> ... -> 0. The holder reads the clock, checks that it is not
 * below the reading the previous holder published with the token (release/acquire), and
 * passes the token on with its own reading. CLOCK_MONOTONIC_RAW and CLOCK_BOOTTIME are
 * checked the same way. Prints "clock-chain: PASS ..." or "clock-chain: FAIL ..." and exits
 * 0 or 1 (2 on a setup error).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME };
static const char *const clock_names[] = { "MONOTONIC", "MONOTONIC_RAW", "BOOTTIME" };
#define NCLOCKS (sizeof(clocks) / sizeof(clocks[0]))

static int nthreads;
static long hops;
static int *cpu_of;

/* The token: whose turn it is, and the readings of the thread that passed it. */
static struct {
	atomic_long turn;
	int64_t ns[NCLOCKS];
} token __attribute__((aligned(4096)));

static struct {
	long backwards;
	int64_t worst_ns;
	int from, to;
	const char *clock;
} result;

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts)) {
		perror("clock-chain: clock_gettime");
		exit(2);
	}
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *ring_member(void *arg)
{
	int self = (int)(intptr_t)arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu_of[self], &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("clock-chain: sched_setaffinity");
		exit(2);
	}
	/* Hop h is made by thread h % nthreads; hop 0 starts the chain. */
	for (long h = self; h < hops; h += nthreads) {
		while (atomic_load_explicit(&token.turn, memory_order_acquire) != h)
			sched_yield();
		for (size_t c = 0; c < NCLOCKS; c++) {
			int64_t t = now_ns(clocks[c]);

			if (h > 0 && t < token.ns[c]) {
				result.backwards++;
				if (token.ns[c] - t > result.worst_ns) {
					result.worst_ns = token.ns[c] - t;
					result.from = cpu_of[(self + nthreads - 1) % nthreads];
					result.to = cpu_of[self];
					result.clock = clock_names[c];
				}
			}
			token.ns[c] = t;
		}
		atomic_store_explicit(&token.turn, h + 1, memory_order_release);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 2000;
	pthread_t *threads;
	cpu_set_t online;

	if (rounds <= 0) {
		fprintf(stderr, "usage: clock-chain [rounds]\n");
		return 2;
	}
	if (sched_getaffinity(0, sizeof(online), &online)) {
		perror("clock-chain: sched_getaffinity");
		return 2;
	}
	nthreads = CPU_COUNT(&online);
	cpu_of = calloc(nthreads, sizeof(*cpu_of));
	threads = calloc(nthreads, sizeof(*threads));
	if (!cpu_of || !threads)
		return 2;
	for (int cpu = 0, i = 0; i < nthreads; cpu++)
		if (CPU_ISSET(cpu, &online))
			cpu_of[i++] = cpu;
	hops = rounds * nthreads;

	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, ring_member, (void *)(intptr_t)i)) {
			fprintf(stderr, "clock-chain: pthread_create failed\n");
			return 2;
		}
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);

	if (atomic_load(&token.turn) != hops) {
		printf("clock-chain: FAIL the token made %ld of %ld hops\n",
		       atomic_load(&token.turn), hops);
		return 1;
	}
	if (result.backwards) {
		printf("clock-chain: FAIL %ld backward steps over %ld hops on %d CPUs; worst %lld ns "
		       "(%s, cpu %d -> cpu %d)\n", result.backwards, hops, nthreads,
		       (long long)result.worst_ns, result.clock, result.from, result.to);
		return 1;
	}
	printf("clock-chain: PASS %ld hops on %d CPUs, no clock went back\n", hops, nthreads);
	return 0;
}
