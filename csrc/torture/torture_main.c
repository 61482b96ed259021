/* SPDX-License-Identifier: MIT */
/*
 * torture_main.c: the torture engine as a program of its own, for cores
 * that cannot run inside the Python process (`qemu-rcu torture --qemu-source`
 * links QEMU's own util/rcu.c with it).  Written for qemu-rcu.
 *
 *   torture_main READERS UPDATERS
 *
 * starts the threads of torture.c and then answers on stdout, one line per
 * command read from stdin:
 *
 *   snapshot        ->  counts KEY=VALUE ...
 *   stop, or EOF    ->  final KEY=VALUE ...   (after the threads are joined
 *                       and every retired object reclaimed), then exit
 *
 * Before any command it prints what it runs on, one line each:
 *
 *   note TEXT       a part of the torture that differs on this core
 *   ready membarrier=0|1
 *
 * The keys are the fields of struct qemu_rcu_torture_counts; "age" is a
 * comma-separated list of QEMU_RCU_TORTURE_AGES counts.  The exit status is
 * 0 when the final counts hold no error, 1 when they do, and 2 when the
 * torture could not start.
 *
 * Ctrl-C is ignored: the parent gets it too, and stops this program by
 * writing "stop" (or by exiting, which closes stdin), so that the final
 * counts are always printed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "qemu_rcu.h"
#include "torture.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_counts(const char *what, const struct qemu_rcu_torture_counts *c)
{
    printf("%s reads=%" PRIu64 " updates=%" PRIu64 " heap_updates=%" PRIu64
           " reclaimed=%" PRIu64 " sync_loops=%" PRIu64 " mberrors=%" PRIu64
           " poisoned=%" PRIu64 " recycled=%" PRIu64 " longest_gp_ns=%" PRIu64 " age=",
           what, c->reads, c->updates, c->heap_updates, c->reclaimed, c->sync_loops,
           c->mberrors, c->poisoned, c->recycled, c->longest_gp_ns);
    for (int i = 0; i < QEMU_RCU_TORTURE_AGES; i++) {
        printf("%s%" PRIu64, i ? "," : "", c->age[i]);
    }
    printf("\n");
    fflush(stdout);
}

/* Whether readers skip the barrier because writers use membarrier. */
static int membarrier(void)
{
#ifdef QEMU_RCU_API_VERSION
    return rcu_membarrier_active != 0;
#elif defined(CONFIG_MEMBARRIER)
    return 1;
#else
    return 0;
#endif
}

static int parse(const char *text, int max)
{
    char *end;
    long value = strtol(text, &end, 10);

    return *end == '\0' && value >= 1 && value <= max ? (int)value : -1;
}

int main(int argc, char **argv)
{
    struct qemu_rcu_torture *t;
    struct qemu_rcu_torture_counts counts;
    char line[64];
    int readers, updaters;

    readers = argc == 3 ? parse(argv[1], QEMU_RCU_TORTURE_MAX_READERS) : -1;
    updaters = argc == 3 ? parse(argv[2], QEMU_RCU_TORTURE_MAX_UPDATERS) : -1;
    if (readers < 0 || updaters < 0) {
        fprintf(stderr, "usage: %s READERS (1-%d) UPDATERS (1-%d)\n", argv[0],
                QEMU_RCU_TORTURE_MAX_READERS, QEMU_RCU_TORTURE_MAX_UPDATERS);
        return 2;
    }
    signal(SIGINT, SIG_IGN);

#ifndef QEMU_RCU_API_VERSION
    /* What torture.c does differently on QEMU's API, which lacks qemu-rcu's
     * additions (its heap objects go to g_free_rcu() instead of free_rcu(),
     * which is the same thing under QEMU's name). */
    printf("note every reader registers itself (QEMU's rcu_read_lock() does not "
           "register a thread)\n");
    if (updaters > 3) {
        printf("note the grace-period updaters call synchronize_rcu() only: QEMU "
               "has no synchronize_rcu_expedited()\n");
    }
#endif
    t = qemu_rcu_torture_start(readers, updaters);
    if (t == NULL) {
        fprintf(stderr, "%s: cannot start the torture threads\n", argv[0]);
        return 2;
    }
    printf("ready membarrier=%d\n", membarrier());
    fflush(stdout);

    while (fgets(line, sizeof(line), stdin) != NULL && strcmp(line, "stop\n") != 0) {
        if (strcmp(line, "snapshot\n") == 0) {
            qemu_rcu_torture_snapshot(t, &counts);
            print_counts("counts", &counts);
        } else {
            fprintf(stderr, "%s: unknown command: %s", argv[0], line);
        }
    }
    qemu_rcu_torture_stop(t, &counts);
    print_counts("final", &counts);
    return qemu_rcu_torture_errors(&counts) ? 1 : 0;
}
