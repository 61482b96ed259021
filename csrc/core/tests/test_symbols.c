/* SPDX-License-Identifier: MIT */
/*
 * The core links next to code that defines QEMU's own helper names.  A
 * program built from QEMU's sources has its own qemu_event_*() (util/
 * qemu-thread-posix.c); the core used to define the same names, and linking
 * both failed with "multiple definition".  Here this file defines them (with
 * a layout of its own), links the core statically, and checks that both
 * work: RCU through the core, the events through these definitions.
 */
#include "testutil.h"

#include <stdbool.h>

/* On QEMU's own core these names are QEMU's (the shims' thread.h), which is
 * the situation this program builds by hand for qemu-rcu's core. */
#if TU_QEMU_RCU

typedef struct QemuEvent {
    int value;
    bool initialized;
} QemuEvent;

void qemu_event_init(QemuEvent *ev, bool init);
void qemu_event_set(QemuEvent *ev);
void qemu_event_reset(QemuEvent *ev);
void qemu_event_wait(QemuEvent *ev);
void qemu_event_destroy(QemuEvent *ev);

static int calls;

void qemu_event_init(QemuEvent *ev, bool init)
{
    ev->value = init;
    ev->initialized = true;
    calls++;
}

void qemu_event_set(QemuEvent *ev)
{
    ev->value = 1;
    calls++;
}

void qemu_event_reset(QemuEvent *ev)
{
    ev->value = 0;
    calls++;
}

void qemu_event_wait(QemuEvent *ev)
{
    (void)ev;
    calls++;
}

void qemu_event_destroy(QemuEvent *ev)
{
    ev->initialized = false;
    calls++;
}

static int ran;

static void count(struct rcu_head *head)
{
    (void)head;
    __atomic_fetch_add(&ran, 1, __ATOMIC_RELAXED);
}

static void core_and_program_keep_their_own_events(void)
{
    static struct rcu_head head;
    QemuEvent ev;

    qemu_event_init(&ev, false);
    qemu_event_set(&ev);
    qemu_event_wait(&ev);
    qemu_event_reset(&ev);
    qemu_event_destroy(&ev);
    CHECK(calls == 5);

    /* The core waits on its own events inside these. */
    rcu_read_lock();
    rcu_read_unlock();
    synchronize_rcu();
    call_rcu1(&head, count);
    drain_call_rcu();
    CHECK(__atomic_load_n(&ran, __ATOMIC_RELAXED) == 1);
    CHECK(calls == 5);          /* the core never called ours */
}
#endif

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_symbols");
#if TU_QEMU_RCU
    RUN(core_and_program_keep_their_own_events);
#else
    tu_skip("core_and_program_keep_their_own_events", "QEMU's own core is the "
            "program that defines qemu_event_*(): nothing to link next to");
#endif
    return tu_done();
}
