/* SPDX-License-Identifier: MIT */
/*
 * Code written for QEMU's qemu/rcu.h builds warning-free (-Werror) against
 * qemu_rcu.h with QEMU-like headers (tests/qemu_like: qemu/atomic.h and
 * qemu/notify.h) on the include path, included before qemu_rcu.h or after
 * it (QEMU_HEADERS_FIRST), with glib too where it is installed; and it runs.
 */
#define _GNU_SOURCE             /* testutil.h's strcasestr */
#ifdef QEMU_HEADERS_FIRST
#ifdef HAVE_GLIB
#include <glib.h>
#endif
#include <qemu/atomic.h>
#include <qemu/notify.h>
#include "qemu_rcu.h"
#else
#include "qemu_rcu.h"
#include <qemu/atomic.h>
#include <qemu/notify.h>
#endif
#include "testutil.h"

#ifndef QEMU_NOTIFY_H
#error "qemu/notify.h was not used"
#endif

struct config {
    int value;
};

static struct config *current;

/* QEMU's publication macros, from QEMU's header whatever the order. */
static void qatomic_rcu_publish_and_read(void)
{
    static struct config one = { 1 }, two = { 2 };
    struct config *seen;

    qatomic_rcu_set(&current, &one);
    rcu_read_lock();
    seen = qatomic_rcu_read(&current);
    CHECK(seen->value == 1);
    rcu_read_unlock();
    qatomic_rcu_set(&current, &two);
    synchronize_rcu();
    CHECK(qatomic_read(&current)->value == 2);
}

#if TU_QEMU_RCU
/* QEMU's Notifier type kicks a reader, as the core's own type would. */
static void qemu_notifier_kicks_a_reader(void)
{
    struct holder h = { .notifier = true, .leave_on_kick = true };

    holder_start(&h);
    synchronize_rcu_expedited();
    CHECKF(tu_load(&h.kicks) >= 1, "QEMU's Notifier was never called");
    CHECK(!tu_load(&h.timed_out));
    holder_stop(&h);
}
#endif

/* QEMU's signature: rcu_read_auto_unlock takes the token itself.  Run, not
 * just compiled: with a pointer-to-token signature this crashed. */
static void auto_lock_and_unlock_as_qemu_calls_them(void)
{
    RCUReadAuto *token = rcu_read_auto_lock();

    CHECK(rcu_read_lock_held());
    rcu_read_auto_unlock(token);
    CHECK(!rcu_read_lock_held());
    {
        RCU_READ_LOCK_GUARD();
        CHECK(rcu_read_lock_held());
    }
    CHECK(!rcu_read_lock_held());
    WITH_RCU_READ_LOCK_GUARD() {
        CHECK(rcu_read_lock_held());
        break;
    }
    CHECK(!rcu_read_lock_held());
}

#if defined(HAVE_GLIB) && defined(QEMU_HEADERS_FIRST)
/* g_autoptr(RCUReadAuto), as QEMU's guard macros use it. */
static void glib_autoptr(void)
{
    {
        g_autoptr(RCUReadAuto) guard = rcu_read_auto_lock();
        CHECK(guard != NULL && rcu_read_lock_held());
    }
    CHECK(!rcu_read_lock_held());
}
#endif

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_qemu_headers");
    RUN(qatomic_rcu_publish_and_read);
    RUN_NEEDS(qemu_notifier_kicks_a_reader, "synchronize_rcu_expedited()");
    RUN(auto_lock_and_unlock_as_qemu_calls_them);
#if defined(HAVE_GLIB) && defined(QEMU_HEADERS_FIRST)
    RUN(glib_autoptr);
#elif defined(QEMU_HEADERS_FIRST)
    tu_skip("glib_autoptr", "glib's development files are not installed");
#endif
    return tu_done();
}
