/* SPDX-License-Identifier: MIT */
/*
 * test_callbacks.c: call_rcu1 and drain_call_rcu (docs/design.md,
 * "A callback's life").  call_rcu1 never waits for a grace period; a
 * callback never runs before a section that was open when it was queued
 * has ended; callbacks run in the order each thread queued them; they run on
 * one thread that is not the caller's, may read-lock and may queue more
 * callbacks; drain_call_rcu waits for the caller's earlier callbacks; the
 * typed call_rcu and free_rcu macros.
 *
 * Variables written only by callbacks are plain on purpose: the test then
 * relies on (and ThreadSanitizer checks) the ordering the core promises
 * between a callback and the return of drain_call_rcu().
 */
#include "testutil.h"

/* Every callback in this file calls note_cb_thread(): all of them must run
 * on one and the same thread, which is not one that queued them. */
static pthread_t cb_thread;
static bool cb_thread_known;
static int cb_thread_mismatch;

static void note_cb_thread(void)
{
    if (!cb_thread_known) {
        cb_thread = pthread_self();
        cb_thread_known = true;
    } else if (!pthread_equal(cb_thread, pthread_self())) {
        cb_thread_mismatch++;
    }
}

struct counted {
    struct rcu_head head;
    int seq;
    int producer;
};

static int count_ran;

static void count_cb(struct rcu_head *head)
{
    (void)head;
    note_cb_thread();
    tu_inc(&count_ran);
}

/* call_rcu1 returns at once even inside a section that is blocking a grace
 * period, and the callbacks wait for that section. */
#define NB_CALLBACKS 10000

static void never_blocks_inside_section(void)
{
    struct counted *nodes = calloc(NB_CALLBACKS, sizeof(*nodes));
    struct tu_async w;
    int64_t t0;
    double ms;

    count_ran = 0;
    rcu_read_lock();
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_sleep_ms(TU_BLOCKED_MS);
    CHECK(!tu_async_done(&w));   /* our own section blocks the writer */
    t0 = tu_now_ns();
    for (int i = 0; i < NB_CALLBACKS; i++) {
        call_rcu1(&nodes[i].head, count_cb);
    }
    ms = tu_elapsed_ms(t0);
    /* How long is the bench's business: a call_rcu1 that waited for this
     * section would never return, and the watchdog fails the program. */
    NOTE("%d call_rcu1 inside a section: %.2f ms", NB_CALLBACKS, ms);
    tu_sleep_ms(50);
    CHECKF(tu_load(&count_ran) == 0, "%d callbacks ran while a section "
           "older than them was open", tu_load(&count_ran));
    CHECK(!tu_async_done(&w));
    rcu_read_unlock();
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu");
    drain_call_rcu();
    CHECK(tu_load(&count_ran) == NB_CALLBACKS);
    free(nodes);
}

/* A callback does not run while a section that was open when it was
 * queued, here on another thread, is still open. */
static struct holder *timing_holder;
static int timing_saw_unlocking = -1;

static void timing_cb(struct rcu_head *head)
{
    (void)head;
    note_cb_thread();
    timing_saw_unlocking = tu_load(&timing_holder->unlocking);
}

static void waits_for_older_section(void)
{
    struct holder h = { 0 };
    struct rcu_head head;

    timing_holder = &h;
    holder_start(&h);
    call_rcu1(&head, timing_cb);
    tu_sleep_ms(TU_BLOCKED_MS);
    /* Not yet run (-1), or, if this thread slept so long that the holder
     * left on its own deadline, run after it began to unlock (1); never run
     * while it was inside (0).  Read through an atomic because here, unlike
     * after a drain, nothing orders us after the callback. */
    CHECKF(__atomic_load_n(&timing_saw_unlocking, __ATOMIC_RELAXED) != 0,
           "the callback ran while an older section was open");
    holder_stop(&h);
    drain_call_rcu();
    CHECK(timing_saw_unlocking == 1);
}

/* One thread's callbacks run in the order it queued them. */
#define FIFO_N 100000

static int fifo_next;
static int fifo_errors;

static void fifo_cb(struct rcu_head *head)
{
    struct counted *c = container_of(head, struct counted, head);

    note_cb_thread();
    if (c->seq != fifo_next) {
        fifo_errors++;
    }
    fifo_next = c->seq + 1;
}

static void fifo_one_producer(void)
{
    struct counted *nodes = calloc(FIFO_N, sizeof(*nodes));

    for (int i = 0; i < FIFO_N; i++) {
        nodes[i].seq = i;
        call_rcu1(&nodes[i].head, fifo_cb);
    }
    drain_call_rcu();
    CHECKF(fifo_errors == 0, "%d callbacks out of order", fifo_errors);
    CHECK(fifo_next == FIFO_N);
    free(nodes);
}

/* Several producers: each one's callbacks in its own program order. */
#define MP_PRODUCERS 4
#define MP_N 25000

static int mp_next[MP_PRODUCERS];
static int mp_errors[MP_PRODUCERS];

static void mp_cb(struct rcu_head *head)
{
    struct counted *c = container_of(head, struct counted, head);

    note_cb_thread();
    if (c->seq != mp_next[c->producer]) {
        mp_errors[c->producer]++;
    }
    mp_next[c->producer] = c->seq + 1;
}

static void *mp_producer(void *arg)
{
    struct counted *nodes = arg;

    for (int i = 0; i < MP_N; i++) {
        call_rcu1(&nodes[i].head, mp_cb);
    }
    /* Orders this producer's callbacks (and their writes) before join. */
    drain_call_rcu();
    return NULL;
}

static void fifo_many_producers(void)
{
    struct counted *nodes = calloc((size_t)MP_PRODUCERS * MP_N,
                                   sizeof(*nodes));
    pthread_t t[MP_PRODUCERS];

    for (int p = 0; p < MP_PRODUCERS; p++) {
        for (int i = 0; i < MP_N; i++) {
            nodes[p * MP_N + i].producer = p;
            nodes[p * MP_N + i].seq = i;
        }
    }
    for (int p = 0; p < MP_PRODUCERS; p++) {
        tu_thread_start(&t[p], mp_producer, &nodes[p * MP_N]);
    }
    for (int p = 0; p < MP_PRODUCERS; p++) {
        pthread_join(t[p], NULL);
    }
    for (int p = 0; p < MP_PRODUCERS; p++) {
        CHECKF(mp_errors[p] == 0 && mp_next[p] == MP_N,
               "producer %d: %d out of order, %d ran", p, mp_errors[p],
               mp_next[p]);
    }
    free(nodes);
}

/* A callback may queue another; that one runs later.  Each
 * drain queues its marker behind whatever is queued, so one more link of
 * the chain completes per drain. */
#define CHAIN_LEN 5

static int chain_done;
static int chain_order[CHAIN_LEN];
static struct counted chain_nodes[CHAIN_LEN];

static void chain_cb(struct rcu_head *head)
{
    struct counted *c = container_of(head, struct counted, head);

    note_cb_thread();
    /* Atomic: the test polls these between drains, while later links of
     * the chain may be running. */
    __atomic_store_n(&chain_order[c->seq],
                     __atomic_add_fetch(&chain_done, 1, __ATOMIC_RELEASE),
                     __ATOMIC_RELEASE);
    if (c->seq + 1 < CHAIN_LEN) {
        call_rcu1(&chain_nodes[c->seq + 1].head, chain_cb);
    }
}

static void callbacks_requeue(void)
{
    int drains = 0;

    for (int i = 0; i < CHAIN_LEN; i++) {
        chain_nodes[i].seq = i;
    }
    call_rcu1(&chain_nodes[0].head, chain_cb);
    /* Bounded: the chain needs CHAIN_LEN drains at most. */
    while (drains < CHAIN_LEN + 2) {
        drain_call_rcu();
        drains++;
        /* Links queued by the callback thread are not ordered by our
         * drain, so chain_done is read atomically. */
        if (__atomic_load_n(&chain_done, __ATOMIC_ACQUIRE) == CHAIN_LEN) {
            break;
        }
    }
    CHECKF(__atomic_load_n(&chain_done, __ATOMIC_ACQUIRE) == CHAIN_LEN,
           "chain stopped at %d after %d drains",
           __atomic_load_n(&chain_done, __ATOMIC_ACQUIRE), drains);
    for (int i = 0; i < CHAIN_LEN; i++) {
        CHECK(__atomic_load_n(&chain_order[i], __ATOMIC_ACQUIRE) == i + 1);
    }
    NOTE("chain of %d callbacks completed after %d drains", CHAIN_LEN,
         drains);
}

/* drain_call_rcu waits until the caller's earlier callbacks have
 * returned, slow ones included. */
static int slow_done;

static void slow_cb(struct rcu_head *head)
{
    (void)head;
    note_cb_thread();
    tu_sleep_ms(2);
    slow_done++;
}

static void drain_waits_for_slow_callbacks(void)
{
    struct rcu_head heads[50];

    for (int i = 0; i < 50; i++) {
        call_rcu1(&heads[i], slow_cb);
    }
    drain_call_rcu();
    CHECK(slow_done == 50);
    /* A drain with nothing queued also returns. */
    drain_call_rcu();
    drain_call_rcu();
}

/* The callback thread is registered, so a callback may read. */
static int rl_held, rl_released;

static void read_lock_cb(struct rcu_head *head)
{
    (void)head;
    note_cb_thread();
    rcu_read_lock();
    rl_held = rcu_read_lock_held();
    rcu_read_unlock();
    rl_released = !rcu_read_lock_held();
}

static void callback_may_read_lock(void)
{
    struct rcu_head head;

    call_rcu1(&head, read_lock_cb);
    drain_call_rcu();
    CHECK(rl_held == 1);
    CHECK(rl_released == 1);
}

/* The typed macros: call_rcu(obj, fn, field) and free_rcu(obj, field).
 * ASan checks that free_rcu frees exactly what it should, and only once. */
struct foo {
    struct rcu_head rcu;
    int magic;
    char payload[48];
};

static int foo_reclaimed;

static void foo_reclaim(struct foo *f)
{
    note_cb_thread();
    if (f->magic == 0x5eed) {
        foo_reclaimed++;
    }
    free(f);
}

static void typed_macros(void)
{
#if TU_QEMU_RCU
    struct rcu_stats s0, s1;

    rcu_get_stats(&s0);
#endif
    for (int i = 0; i < 100; i++) {
        struct foo *f = calloc(1, sizeof(*f));
        struct foo *g = calloc(1, sizeof(*g));
        f->magic = 0x5eed;
        memset(g->payload, 'x', sizeof(g->payload));
        call_rcu(f, foo_reclaim, rcu);
        free_rcu(g, rcu);
    }
    drain_call_rcu();
    CHECK(foo_reclaimed == 100);
#if TU_QEMU_RCU
    rcu_get_stats(&s1);
    CHECKF(s1.callbacks_invoked - s0.callbacks_invoked >= 200,
           "invoked +%llu", (unsigned long long)(s1.callbacks_invoked -
                                                 s0.callbacks_invoked));
#endif
}

/* free_rcu() really frees, also in the plain build where no leak checker
 * runs: objects above glibc's largest mmap threshold are each mapped on
 * their own, and glibc counts mapped bytes for the whole process (the
 * sanitizers bring allocators of their own, and ASan's leak check covers
 * this there). */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#include <malloc.h>

#define BIG_N 4

struct big {
    struct rcu_head rcu;
    char payload[(32 << 20) + 4096];    /* never touched: costs no memory */
};

static void free_rcu_frees(void)
{
    size_t before, queued, after;

    drain_call_rcu();
    before = mallinfo2().hblkhd;
    /* Our section keeps the callbacks from running until we have looked. */
    rcu_read_lock();
    for (int i = 0; i < BIG_N; i++) {
        struct big *b = malloc(sizeof(*b));
        if (b == NULL) {
            FATAL("malloc of %zu bytes failed", sizeof(*b));
        }
        free_rcu(b, rcu);
    }
    queued = mallinfo2().hblkhd;
    rcu_read_unlock();
    drain_call_rcu();
    after = mallinfo2().hblkhd;
    NOTE("mapped bytes: %zu before, %zu queued, %zu after", before, queued,
         after);
    /* The measure works: the objects are counted while they wait. */
    CHECKF(queued >= before + BIG_N * sizeof(struct big),
           "mallinfo2() does not count the objects (%zu, then %zu)", before,
           queued);
    CHECKF(after < before + sizeof(struct big), "free_rcu() freed nothing: "
           "%zu bytes still mapped after the drain", after - before);
}
#endif

/* Checked last: every callback above ran on one thread, not ours.  Run
 * alone (the program's argument), it checks callbacks of its own. */
static void one_callback_thread(void)
{
    struct rcu_head heads[3];

    for (int i = 0; i < 3; i++) {
        call_rcu1(&heads[i], count_cb);
    }
    drain_call_rcu();
    CHECK(cb_thread_known);
    CHECKF(cb_thread_mismatch == 0, "%d callbacks ran on another thread",
           cb_thread_mismatch);
    CHECK(!pthread_equal(cb_thread, pthread_self()));
}

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_callbacks");
    RUN(never_blocks_inside_section);
    RUN(waits_for_older_section);
    RUN(fifo_one_producer);
    RUN(fifo_many_producers);
    RUN(callbacks_requeue);
    RUN(drain_waits_for_slow_callbacks);
    RUN(callback_may_read_lock);
    RUN(typed_macros);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
    RUN(free_rcu_frees);
#else
    tu_skip("free_rcu_frees", "a sanitizer's allocator (ASan's leak check "
            "covers it)");
#endif
    RUN(one_callback_thread);
    return tu_done();
}
