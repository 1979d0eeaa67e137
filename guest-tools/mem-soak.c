// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mem-soak: moves a large buffer between the CPUs of a guest again and again and checks
 * every byte of it, so that on a distributed hypervisor its pages migrate between nodes
 * many times. One thread is pinned to each online CPU. In round r, thread t writes the
 * pages p with (p + r) % nthreads == t, each word a function of (round, page, word); after
 * a barrier every thread checks the pages its right-hand neighbour wrote, and thread 0
 * sums the whole buffer and compares the sum with the one computed from the generator.
 * A lost or stale write shows as a bad word or a wrong sum.
 *
 * usage: mem-soak [MiB [seconds]]   (defaults: 64 MiB, 30 s; at least one round)
 * Prints "mem-soak: PASS ..." or "mem-soak: FAIL ..." and exits 0 or 1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096
#define PAGE_WORDS (PAGE_BYTES / sizeof(uint64_t))

static uint64_t *buffer;
static long npages;
static int nthreads;
static double deadline;
static pthread_barrier_t round_barrier;
static atomic_long bad_words;
static atomic_long pages_checked;
static atomic_int stop_after_round; /* set by thread 0: the round that is the last */
static long rounds_done;
static long sum_mismatches;
static long skip_page = -1; /* MEM_SOAK_SKIP_PAGE: a lost write, to show the checks catch it */

/* The word a writer puts at (round, page, word): cheap, and differs between rounds. */
static uint64_t pattern(long round, long page, long word)
{
	uint64_t x = (uint64_t)round * 0x9e3779b97f4a7c15ull ^ (uint64_t)page << 20 ^ (uint64_t)word;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("mem-soak: sched_setaffinity");
		exit(2);
	}
}

static int writer_of(long page, long round)
{
	return (int)((page + round) % nthreads);
}

static void write_pages(int self, long round)
{
	for (long p = 0; p < npages; p++) {
		if (writer_of(p, round) != self || (p == skip_page && round == 2))
			continue;
		uint64_t *w = buffer + p * PAGE_WORDS;
		for (long i = 0; i < (long)PAGE_WORDS; i++)
			w[i] = pattern(round, p, i);
	}
}

static void check_pages(int self, long round)
{
	int neighbour = (self + 1) % nthreads;
	long checked = 0;

	for (long p = 0; p < npages; p++) {
		if (writer_of(p, round) != neighbour)
			continue;
		const uint64_t *w = buffer + p * PAGE_WORDS;
		for (long i = 0; i < (long)PAGE_WORDS; i++) {
			if (w[i] != pattern(round, p, i)) {
				if (atomic_fetch_add(&bad_words, 1) < 5)
					fprintf(stderr, "mem-soak: round %ld page %ld word %ld: %#llx, want %#llx\n",
						round, p, i, (unsigned long long)w[i],
						(unsigned long long)pattern(round, p, i));
			}
		}
		checked++;
	}
	atomic_fetch_add(&pages_checked, checked);
}

/* Thread 0's whole-buffer sum, against the generator's. */
static void check_sum(long round)
{
	uint64_t got = 0, want = 0;

	for (long p = 0; p < npages; p++)
		for (long i = 0; i < (long)PAGE_WORDS; i++) {
			got += buffer[p * PAGE_WORDS + i] * (uint64_t)(i | 1);
			want += pattern(round, p, i) * (uint64_t)(i | 1);
		}
	if (got != want) {
		sum_mismatches++;
		fprintf(stderr, "mem-soak: round %ld: buffer sum %#llx, want %#llx\n", round,
			(unsigned long long)got, (unsigned long long)want);
	}
}

static void *worker(void *arg)
{
	int self = (int)(long)arg;

	pin_to_cpu(self);
	for (long round = 1;; round++) {
		write_pages(self, round);
		pthread_barrier_wait(&round_barrier);
		check_pages(self, round);
		if (self == 0) {
			check_sum(round);
			rounds_done = round;
			if (now() >= deadline)
				atomic_store(&stop_after_round, 1);
		}
		/* Everyone reads the stop flag only after thread 0 has set it for this round. */
		pthread_barrier_wait(&round_barrier);
		if (atomic_load(&stop_after_round))
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 0) : 64;
	long seconds = argc > 2 ? strtol(argv[2], NULL, 0) : 30;

	if (argc > 3 || mib <= 0 || mib > 65536 || seconds < 0) {
		fprintf(stderr, "usage: %s [MiB > 0 [seconds >= 0]]\n", argv[0]);
		return 2;
	}
	if (getenv("MEM_SOAK_SKIP_PAGE"))
		skip_page = strtol(getenv("MEM_SOAK_SKIP_PAGE"), NULL, 0);
	nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads < 1)
		nthreads = 1;
	npages = mib * (1024 * 1024 / PAGE_BYTES);
	buffer = aligned_alloc(PAGE_BYTES, (size_t)npages * PAGE_BYTES);
	if (!buffer) {
		perror("mem-soak: aligned_alloc");
		return 2;
	}
	pthread_barrier_init(&round_barrier, NULL, nthreads);
	double start = now();
	deadline = start + seconds;

	pthread_t tid[nthreads];
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)(long)t)) {
			perror("mem-soak: pthread_create");
			return 2;
		}
	for (int t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);

	long bad = atomic_load(&bad_words);
	int ok = bad == 0 && sum_mismatches == 0;
	printf("mem-soak: %s cpus=%d mib=%ld rounds=%ld pages_checked=%ld bad_words=%ld "
	       "sum_mismatches=%ld seconds=%.0f\n",
	       ok ? "PASS" : "FAIL", nthreads, mib, rounds_done, atomic_load(&pages_checked), bad,
	       sum_mismatches, now() - start);
	return ok ? 0 : 1;
}
