/* SPDX-License-Identifier: MIT */
/*
 * The RCU domain as a whole, on top of its layers:
 *
 *     event.c <- rcu.c <- rcu_callbacks.c <- rcu_completion.c <- domain.c
 *
 * Each file calls only those to its left (docs/design.md, "Layers").  This file owns the order of
 * start-up (grace periods, then the callback thread) and of fork (one set
 * of atfork handlers that call each layer's own), whether fork is handled
 * at all, and the statistics that span layers.
 */
#define _GNU_SOURCE
#include "rcu_internal.h"

#include <pthread.h>
#include <string.h>

static int atfork_depth = 1;
static bool fork_handled;       /* this fork's prepare handler did its work */

void rcu_enable_atfork(void)
{
    __atomic_fetch_add(&atfork_depth, 1, __ATOMIC_RELAXED);
}

void rcu_disable_atfork(void)
{
    __atomic_fetch_sub(&atfork_depth, 1, __ATOMIC_RELAXED);
}

/* Only rcu.c has work to do before fork: it holds off queuing threads. */
static void fork_prepare(void)
{
    fork_handled = __atomic_load_n(&atfork_depth, __ATOMIC_RELAXED) >= 1;
    if (fork_handled) {
        qemu_rcu_fork_prepare();
    }
}

static void fork_parent(void)
{
    if (fork_handled) {
        qemu_rcu_fork_parent();
    }
}

/* Bottom up, since each layer relies on those below it: the new callback
 * thread waits for grace periods, so their state is rebuilt first; then the
 * callbacks layer (queue, new thread, and it stops counting old drains);
 * then completions. */
static void fork_child(void)
{
    if (fork_handled) {
        qemu_rcu_fork_child();
        qemu_rcu_callbacks_fork_child();
        qemu_rcu_completions_fork_child();
    }
}

void rcu_get_stats(struct rcu_stats *out)
{
    memset(out, 0, sizeof(*out));
    qemu_rcu_grace_period_stats(out);
    qemu_rcu_callbacks_stats(out);
}

/* The thread that loads the core is registered, like the callback thread. */
__attribute__((constructor)) static void domain_start(void)
{
    qemu_rcu_start();
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) {
        qemu_rcu_fatal("cannot set up the fork handlers");
    }
    qemu_rcu_callbacks_start();
    rcu_register_thread();
}
