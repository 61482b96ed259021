/*
 * rcutorture.c: a stress test in the spirit of the classic user-level
 * rcutorture (facts 4.2), written from scratch for this project.
 *
 * Usage: rcutorture [seconds [readers]]     (defaults: 2 s, 3 readers)
 *
 * Two things are published to the readers:
 *
 *  - "cur", one of PIPE_LEN static objects.  The main updater moves cur to
 *    the next object of the ring (re-initialising it first), ages every
 *    other object by one, then waits with synchronize_rcu() and poisons the
 *    object it just replaced: no reader can hold it any more.  A reader
 *    therefore sees age 0 (current) or 1 (replaced, grace period not over
 *    yet); age >= 2, a poisoned object, or an object re-initialised under
 *    its feet (generation changed) means a grace period ended too early.
 *  - "heap_cur", a malloc'ed object replaced by a second updater that hands
 *    the old one to call_rcu1(); the callback poisons it and frees it.  A
 *    reader that sees the poison, or (under ASan) touches freed memory,
 *    caught a callback running too early.  These fields are plain
 *    variables, so under ThreadSanitizer every reclaim must also be ordered
 *    after the readers' accesses by the core's own synchronisation.
 *
 * mbtest is cleared while an object is being re-initialised and set before
 * it is published: a reader that sees 0 saw an unpublished object (a
 * publication/ordering error).  More updaters call synchronize_rcu() and
 * synchronize_rcu_expedited() in loops, so grace periods overlap.
 *
 * Prints "reads: N updates: N mberrors: N poisoned: N", more counts and the
 * age histogram; exits 1 on any error.
 */
#include "testutil.h"

#define PIPE_LEN 10
#define MAX_READERS 64
#define AGE_BUCKETS (PIPE_LEN + 1)

struct torture_obj {
    struct rcu_head rcu;    /* first: used only for the heap objects */
    int age;
    int mbtest;
    int generation;
    int poison;
};

/* The ring of static objects.  age, mbtest, generation and poison of these
 * are written while readers may look (that is the point), so every access
 * to them is atomic (relaxed): only the logic is under test here. */
static struct torture_obj pipe_objs[PIPE_LEN];
static struct torture_obj *cur;
static struct torture_obj *heap_cur;

static int stop;

/* Totals, added by each thread at its end. */
static long n_reads, n_heap_reads, n_updates, n_heap_updates, n_reclaimed;
static long n_mberrors, n_poisoned, n_reused;
static long age_hist[AGE_BUCKETS];
static long n_sync_loops;
static int64_t longest_gp_ns;     /* the main updater's slowest grace period */
static pthread_mutex_t totals_lock = PTHREAD_MUTEX_INITIALIZER;

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* ---- readers ---- */

static void *reader_main(void *arg)
{
    long reads = 0, heap_reads = 0, mberrors = 0, poisoned = 0, reused = 0;
    long hist[AGE_BUCKETS] = { 0 };
    int id = (int)(intptr_t)arg;

    if (id == 0) {
        rcu_register_thread();    /* the others register on first lock */
    }
    while (!tu_load(&stop)) {
        struct torture_obj *p, *h;
        int gen, hgen, age;

        rcu_read_lock();
        p = qatomic_rcu_read(&cur);
        if (!LD(&p->mbtest)) {
            mberrors++;
        }
        gen = LD(&p->generation);
        h = qatomic_rcu_read(&heap_cur);
        if (!h->mbtest) {
            mberrors++;
        }
        hgen = h->generation;

        /* A nested section around some work, as in real code. */
        rcu_read_lock();
        for (int i = 0; i < 100; i++) {
            __asm__ __volatile__("" ::: "memory");
        }
        rcu_read_unlock();
        if (id % 2) {
            /* Stay longer now and then, so writers do catch us inside. */
            if ((reads & 63) == 0) {
                tu_spin_us(50);
            }
        }

        /* Checked at the end of the section, after the widest window. */
        age = LD(&p->age);
        if (LD(&p->poison)) {
            poisoned++;
        }
        if (LD(&p->generation) != gen) {
            reused++;
        }
        if (h->poison) {
            poisoned++;
        }
        if (h->generation != hgen || !h->mbtest) {
            reused++;
        }
        rcu_read_unlock();

        hist[age < 0 ? 0 : age > PIPE_LEN ? PIPE_LEN : age]++;
        reads++;
        heap_reads++;
    }

    pthread_mutex_lock(&totals_lock);
    n_reads += reads;
    n_heap_reads += heap_reads;
    n_mberrors += mberrors;
    n_poisoned += poisoned;
    n_reused += reused;
    for (int i = 0; i < AGE_BUCKETS; i++) {
        age_hist[i] += hist[i];
    }
    pthread_mutex_unlock(&totals_lock);
    return NULL;
}

/* ---- the main updater: the static ring ---- */

static void *updater_main(void *arg)
{
    long updates = 0;
    int idx = 0, generation = 1;
    int64_t t0, max_gp_ns = 0;

    (void)arg;
    rcu_register_thread();
    while (!tu_load(&stop)) {
        struct torture_obj *old = cur;   /* only this thread writes cur */
        struct torture_obj *p;

        idx = (idx + 1) % PIPE_LEN;
        p = &pipe_objs[idx];
        if (p == old) {
            abort();                     /* ring logic error, not RCU's */
        }
        /* p was poisoned PIPE_LEN - 1 grace periods ago: nobody holds it,
         * and nobody sees it again before the release store below. */
        ST(&p->mbtest, 0);
        ST(&p->age, 0);
        ST(&p->generation, ++generation);
        ST(&p->poison, 0);
        ST(&p->mbtest, 1);
        qatomic_rcu_set(&cur, p);

        for (int i = 0; i < PIPE_LEN; i++) {
            if (i != idx) {
                ST(&pipe_objs[i].age, LD(&pipe_objs[i].age) + 1);
            }
        }
        t0 = tu_now_ns();
        synchronize_rcu();
        t0 = tu_now_ns() - t0;
        if (t0 > max_gp_ns) {
            max_gp_ns = t0;
        }
        /* Every section that could see "old" has ended. */
        ST(&old->poison, 1);
        updates++;
    }
    pthread_mutex_lock(&totals_lock);
    n_updates += updates;
    longest_gp_ns = max_gp_ns;
    pthread_mutex_unlock(&totals_lock);
    return NULL;
}

/* ---- the heap updater: reclaim through call_rcu1 ---- */

static long reclaimed_by_cb;     /* callback thread only; read after drain */

static struct torture_obj *heap_obj_new(int generation)
{
    struct torture_obj *h = calloc(1, sizeof(*h));

    if (!h) {
        abort();
    }
    h->generation = generation;
    h->mbtest = 1;
    return h;
}

static void heap_reclaim(struct rcu_head *head)
{
    struct torture_obj *h = container_of(head, struct torture_obj, rcu);

    /* Poison first: a reader that still looks at it (a too-early
     * callback) sees the poison, or ASan sees the use after free. */
    h->poison = 1;
    h->mbtest = 0;
    free(h);
    reclaimed_by_cb++;
}

static void *heap_updater_main(void *arg)
{
    long updates = 0;
    int generation = 1, since_drain = 0;

    (void)arg;
    /* Deliberately never registered: writers need no registration. */
    while (!tu_load(&stop)) {
        struct torture_obj *old = heap_cur;
        struct torture_obj *h = heap_obj_new(++generation);

        qatomic_rcu_set(&heap_cur, h);
        call_rcu1(&old->rcu, heap_reclaim);
        updates++;
        /* Bound the backlog (and exercise drain under load). */
        if (++since_drain == 2000) {
            drain_call_rcu();
            since_drain = 0;
        }
        if ((updates & 15) == 0) {
            tu_spin_us(20);
        }
    }
    drain_call_rcu();
    pthread_mutex_lock(&totals_lock);
    n_heap_updates += updates;
    n_reclaimed += reclaimed_by_cb;
    pthread_mutex_unlock(&totals_lock);
    return NULL;
}

/* ---- extra updaters: overlapping grace periods ---- */

static void *sync_loop_main(void *arg)
{
    bool expedited = arg != NULL;
    long loops = 0;

    while (!tu_load(&stop)) {
        if (expedited) {
            synchronize_rcu_expedited();
        } else {
            synchronize_rcu();
        }
        loops++;
        tu_sleep_us(500);
    }
    pthread_mutex_lock(&totals_lock);
    n_sync_loops += loops;
    pthread_mutex_unlock(&totals_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int nreaders = argc > 2 ? atoi(argv[2]) : 3;
    pthread_t readers[MAX_READERS], updater, heap_updater, sync_loops[2];
    struct rcu_stats st0, st1;
    bool ok;

    if (seconds <= 0 || nreaders < 1 || nreaders > MAX_READERS) {
        fprintf(stderr, "usage: %s [seconds [readers (1-%d)]]\n", argv[0],
                MAX_READERS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The watchdog: the run plus a generous margin for joins. */
    alarm((unsigned)seconds + 30);

    ST(&pipe_objs[0].mbtest, 1);
    ST(&pipe_objs[0].generation, 1);
    cur = &pipe_objs[0];
    heap_cur = heap_obj_new(1);
    rcu_get_stats(&st0);

    for (int i = 0; i < nreaders; i++) {
        tu_thread_start(&readers[i], reader_main, (void *)(intptr_t)i);
    }
    tu_thread_start(&updater, updater_main, NULL);
    tu_thread_start(&heap_updater, heap_updater_main, NULL);
    tu_thread_start(&sync_loops[0], sync_loop_main, NULL);
    tu_thread_start(&sync_loops[1], sync_loop_main, (void *)1);

    tu_sleep_us((long)(seconds * 1e6));    /* the run's duration */
    tu_store(&stop, 1);

    for (int i = 0; i < nreaders; i++) {
        pthread_join(readers[i], NULL);
    }
    pthread_join(updater, NULL);
    pthread_join(heap_updater, NULL);
    pthread_join(sync_loops[0], NULL);
    pthread_join(sync_loops[1], NULL);
    free(heap_cur);      /* the last one: no reader left */
    rcu_get_stats(&st1);

    printf("rcutorture: %.1f s, %d readers, membarrier %d\n", seconds,
           nreaders, (int)rcu_membarrier_active);
    printf("reads: %ld updates: %ld mberrors: %ld poisoned: %ld\n",
           n_reads, n_updates, n_mberrors, n_poisoned);
    printf("reused: %ld heap_reads: %ld heap_updates: %ld reclaimed: %ld "
           "extra_grace_periods: %ld\n", n_reused, n_heap_reads,
           n_heap_updates, n_reclaimed, n_sync_loops);
    /* Informational only: performance is never asserted here. */
    printf("longest grace period (main updater): %.1f ms\n",
           (double)longest_gp_ns / 1e6);
    printf("age histogram:");
    for (int i = 0; i < AGE_BUCKETS; i++) {
        printf(" %ld", age_hist[i]);
    }
    printf("\n");
    printf("core stats: grace_periods +%llu callbacks_invoked +%llu "
           "registered_threads %u\n",
           (unsigned long long)(st1.grace_periods - st0.grace_periods),
           (unsigned long long)(st1.callbacks_invoked -
                                st0.callbacks_invoked),
           st1.registered_threads);

    ok = n_mberrors == 0 && n_poisoned == 0 && n_reused == 0 &&
         n_reads > 0 && n_updates > 0 && n_heap_updates > 0 &&
         n_reclaimed == n_heap_updates;
    for (int i = 2; i < AGE_BUCKETS; i++) {
        if (age_hist[i]) {
            ok = false;
        }
    }
    printf("%s\n", ok ? "rcutorture: PASS" : "rcutorture: FAIL");
    return ok ? 0 : 1;
}
