/* SPDX-License-Identifier: MIT */
/*
 * rcutorture.c: runs the stress engine of ../torture.c (the one behind
 * `python -m qemu_rcu torture`; torture.h describes its threads) from a
 * plain C program, so `meson test` stresses the core plain and under the
 * sanitizers with no Python around.
 *
 * Usage: rcutorture [seconds [readers]]     (defaults: 2 s, 3 readers)
 *
 * Four updaters: the pipeline, the heap reclaimer (call_rcu1), a
 * synchronize_rcu() loop and a synchronize_rcu_expedited() loop.  Prints
 * "reads: N updates: N mberrors: N poisoned: N", more counts, the age
 * histogram and the core's statistics; exits 1 on any error the engine
 * counts, on a retired heap object left unreclaimed after stop, or if
 * nothing was read or updated.
 */
#include "testutil.h"
#include "torture.h"

#define UPDATERS 4

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [seconds [readers (1-%d)]]\n", prog,
            QEMU_RCU_TORTURE_MAX_READERS);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int nreaders = argc > 2 ? atoi(argv[2]) : 3;
    struct qemu_rcu_torture *t;
    struct qemu_rcu_torture_counts c;
#if TU_QEMU_RCU
    struct rcu_stats st0, st1;
#endif
    unsigned long long errors;
    bool ok;

    if (!(seconds > 0) || nreaders < 1 ||
        nreaders > QEMU_RCU_TORTURE_MAX_READERS) {
        usage(argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The watchdog: the run plus a generous margin for the joins.  The
     * engine's threads block signals, so SIGALRM hits this thread. */
    alarm((unsigned)seconds + 30);

#if TU_QEMU_RCU
    rcu_get_stats(&st0);
#endif
    t = qemu_rcu_torture_start(nreaders, UPDATERS);
    if (t == NULL) {
        fprintf(stderr, "rcutorture: cannot start the torture threads\n");
        return 1;
    }
    tu_sleep_us((long)(seconds * 1e6));    /* the run's duration */
    /* Under heavy load the threads may not have got going yet; a run that
     * tested nothing would fail for the wrong reason.  The watchdog still
     * bounds this wait. */
    for (;;) {
        qemu_rcu_torture_snapshot(t, &c);
        if (c.reads > 0 && c.updates > 0 && c.heap_updates > 0) {
            break;
        }
        tu_sleep_us(10000);
    }
    qemu_rcu_torture_stop(t, &c);
    errors = qemu_rcu_torture_errors(&c);

#if TU_QEMU_RCU
    printf("rcutorture: %.1f s, %d readers, %d updaters, membarrier %d\n",
           seconds, nreaders, UPDATERS, (int)rcu_membarrier_active);
#else
    printf("rcutorture: %.1f s, %d readers, %d updaters, QEMU's RCU core\n",
           seconds, nreaders, UPDATERS);
#endif
    printf("reads: %llu updates: %llu mberrors: %llu poisoned: %llu\n",
           (unsigned long long)c.reads, (unsigned long long)c.updates,
           (unsigned long long)c.mberrors, (unsigned long long)c.poisoned);
    /* "reused:" is the engine's recycled count: the name the CI logs use. */
    printf("reused: %llu heap_updates: %llu reclaimed: %llu "
           "extra_grace_periods: %llu errors: %llu\n",
           (unsigned long long)c.recycled, (unsigned long long)c.heap_updates,
           (unsigned long long)c.reclaimed, (unsigned long long)c.sync_loops,
           errors);
    /* Informational only: performance is never asserted here. */
    printf("longest grace period (pipeline updater): %.1f ms\n",
           (double)c.longest_gp_ns / 1e6);
    printf("age histogram:");
    for (int i = 0; i < QEMU_RCU_TORTURE_AGES; i++) {
        printf(" %llu", (unsigned long long)c.age[i]);
    }
    printf("\n");
#if TU_QEMU_RCU
    rcu_get_stats(&st1);
    printf("core stats: grace_periods +%llu callbacks_invoked +%llu "
           "registered_threads %u\n",
           (unsigned long long)(st1.grace_periods - st0.grace_periods),
           (unsigned long long)(st1.callbacks_invoked -
                                st0.callbacks_invoked),
           st1.registered_threads);
#endif

    ok = errors == 0 && c.reclaimed == c.heap_updates &&
         c.reads > 0 && c.updates > 0 && c.heap_updates > 0;
    printf("rcutorture: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
