/* SPDX-License-Identifier: MIT */
/*
 * bench_harness.c: synchronize() latency with helper threads around it,
 * shared by every RCU flavour the benchmark compares.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#define IDLE_THREADS 4

struct helpers {
    const struct bench_flavor *f;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready;                /* helpers registered so far */
    bool stop;
};

/* Something for the reader's sections to read, so they are not empty. */
static int shared_value;
static int *volatile shared_ptr = &shared_value;

static void helper_ready(struct helpers *h)
{
    pthread_mutex_lock(&h->lock);
    h->ready++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* Registered, then asleep on the condition variable, outside any section:
 * the writer has to look at it but never wait for it. */
static void *idle_main(void *arg)
{
    struct helpers *h = arg;

    h->f->register_thread();
    helper_ready(h);
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        pthread_cond_wait(&h->cond, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    h->f->unregister_thread();
    return NULL;
}

/* Back-to-back short sections, as a busy reader does: the writer usually
 * finds it inside one, begun before or after the counter moved. */
static void *reader_main(void *arg)
{
    struct helpers *h = arg;
    unsigned sink = 0;

    h->f->register_thread();
    helper_ready(h);
    while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
        for (int i = 0; i < 64; i++) {
            h->f->read_lock();
            sink += (unsigned)*shared_ptr;
            h->f->read_unlock();
        }
    }
    h->f->unregister_thread();
    return (void *)(uintptr_t)sink;
}

/*
 * The reader must really run beside the writer: on a busy machine the
 * scheduler may otherwise put both on one CPU, and then the writer never
 * meets the reader inside a section (nor pays membarrier's IPI to it).  Pin
 * the writer and the reader to two different CPUs it may use; returns false
 * (and pins nothing) if it has fewer than two.  *saved gets the caller's
 * mask, to put back afterwards.
 */
static bool pin_apart(pthread_t reader, cpu_set_t *saved)
{
    cpu_set_t one;
    int cpus[2], found = 0;

    if (pthread_getaffinity_np(pthread_self(), sizeof(*saved), saved) != 0) {
        return false;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
        if (CPU_ISSET(cpu, saved)) {
            cpus[found++] = cpu;
        }
    }
    if (found < 2) {
        return false;
    }
    CPU_ZERO(&one);
    CPU_SET(cpus[1], &one);
    if (pthread_setaffinity_np(reader, sizeof(one), &one) != 0) {
        return false;
    }
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
}

int bench_sync_latency(const struct bench_flavor *f, int mode, int n,
                       uint64_t *out_ns)
{
    struct helpers h = { .f = f };
    pthread_t threads[IDLE_THREADS];
    int want = mode == BENCH_SYNC_IDLE4 ? IDLE_THREADS
             : mode == BENCH_SYNC_READER ? 1 : 0;
    int started = 0, rc = 0;
    cpu_set_t saved;
    bool pinned = false;

    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.cond, NULL);
    for (; started < want; started++) {
        void *(*body)(void *) = mode == BENCH_SYNC_IDLE4 ? idle_main : reader_main;
        if (pthread_create(&threads[started], NULL, body, &h) != 0) {
            rc = -1;
            break;
        }
    }
    pthread_mutex_lock(&h.lock);
    while (h.ready < started) {
        pthread_cond_wait(&h.cond, &h.lock);
    }
    pthread_mutex_unlock(&h.lock);
    if (mode == BENCH_SYNC_READER && started == 1) {
        pinned = pin_apart(threads[0], &saved);
    }

    for (int i = 0; rc == 0 && i < n; i++) {
        uint64_t t0 = bench_now_ns();
        f->synchronize();
        out_ns[i] = bench_now_ns() - t0;
    }

    pthread_mutex_lock(&h.lock);
    __atomic_store_n(&h.stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    if (pinned) {
        pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    }
    pthread_cond_destroy(&h.cond);
    pthread_mutex_destroy(&h.lock);
    return rc;
}
