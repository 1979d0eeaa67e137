// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * coherence-test: memory coherence checks for a guest whose CPUs may sit on different
 * nodes of a distributed hypervisor. One thread is pinned to each online CPU and they
 * run three checks that fail if a write is lost or seen out of order:
 *   - an atomic counter incremented by every thread ends at the exact total;
 *   - a counter protected by a pthread mutex ends at the exact total;
 *   - message passing: a producer writes a payload then a flag (release), a consumer
 *     that sees the flag (acquire) must see the whole payload.
 * Prints "coherence: PASS ..." or "coherence: FAIL ..." and exits 0 or 1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MP_WORDS 512 /* a payload that spans a page, so it may cross nodes */

static long iterations = 20000;
static int nthreads;
static atomic_long atomic_counter;
static long mutex_counter;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_barrier;

/* One message-passing slot per producer; the next thread in the ring consumes it. */
struct mp_slot {
	long payload[MP_WORDS];
	atomic_long seq;   /* round whose payload is published */
	atomic_long acked; /* round the consumer has checked */
} __attribute__((aligned(4096)));
static struct mp_slot *slots;
static atomic_long mp_violations;

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("coherence: sched_setaffinity");
		exit(2);
	}
}

static void message_passing(int self, long rounds)
{
	struct mp_slot *out = &slots[self];
	struct mp_slot *in = &slots[(self + nthreads - 1) % nthreads];

	for (long r = 1; r <= rounds; r++) {
		/* Produce round r once the consumer has checked round r - 1. */
		while (atomic_load_explicit(&out->acked, memory_order_acquire) != r - 1)
			sched_yield();
		for (int i = 0; i < MP_WORDS; i++)
			out->payload[i] = r * 1000003 + i;
		atomic_store_explicit(&out->seq, r, memory_order_release);

		/* Consume the neighbour's round r. */
		while (atomic_load_explicit(&in->seq, memory_order_acquire) != r)
			sched_yield();
		for (int i = 0; i < MP_WORDS; i++) {
			if (in->payload[i] != r * 1000003 + i) {
				atomic_fetch_add(&mp_violations, 1);
				break;
			}
		}
		atomic_store_explicit(&in->acked, r, memory_order_release);
	}
}

static void *worker(void *arg)
{
	int self = (int)(long)arg;

	pin_to_cpu(self);
	pthread_barrier_wait(&start_barrier);
	for (long i = 0; i < iterations; i++) {
		atomic_fetch_add(&atomic_counter, 1);
		pthread_mutex_lock(&counter_lock);
		mutex_counter++;
		pthread_mutex_unlock(&counter_lock);
	}
	message_passing(self, iterations / 20 + 1);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		iterations = strtol(argv[1], NULL, 0);
	if (iterations <= 0) {
		fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
		return 2;
	}
	nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads < 1)
		nthreads = 1;
	slots = aligned_alloc(4096, sizeof(*slots) * nthreads);
	if (!slots) {
		perror("coherence: aligned_alloc");
		return 2;
	}
	memset(slots, 0, sizeof(*slots) * nthreads);
	pthread_barrier_init(&start_barrier, NULL, nthreads);

	pthread_t tid[nthreads];
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)(long)t)) {
			perror("coherence: pthread_create");
			return 2;
		}
	for (int t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);

	long want = iterations * nthreads;
	long got_atomic = atomic_load(&atomic_counter);
	long violations = atomic_load(&mp_violations);
	int ok = got_atomic == want && mutex_counter == want && violations == 0;

	printf("coherence: %s cpus=%d atomic=%ld/%ld mutex=%ld/%ld mp_violations=%ld\n",
	       ok ? "PASS" : "FAIL", nthreads, got_atomic, want, mutex_counter, want, violations);
	return ok ? 0 : 1;
}
