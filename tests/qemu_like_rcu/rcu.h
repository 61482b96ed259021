/* SPDX-License-Identifier: MIT */
/*
 * A small RCU with QEMU's API and QEMU's rules, written for qemu-rcu's tests
 * of `qemu-check` (tests/test_qemu_check.py puts it in a QEMU-shaped tree as
 * include/qemu/rcu.h, next to util/rcu.c).  Nothing here comes from QEMU.
 *
 * As in QEMU: a thread reads only after rcu_register_thread() and must
 * unregister before it exits; misuse is not detected; a child of fork() gets
 * a fresh registry holding only the forking thread.  Simpler than QEMU: a
 * writer polls the registry instead of sleeping on an event, and callbacks
 * are queued under a mutex.
 */
#ifndef QEMU_RCU_H
#define QEMU_RCU_H

#include "qemu/thread.h"
#include "qemu/queue.h"
#include "qemu/atomic.h"
#include "qemu/notify.h"
#include "qemu/coroutine-tls.h"

/* Bit 0 set: a reader's snapshot is never 0, which means "outside". */
extern unsigned long rcu_gp_ctr;

struct rcu_reader_data {
    unsigned long ctr;          /* 0 outside a section, else a snapshot */
    bool waiting;               /* unused here; QEMU's readers have it */
    unsigned depth;
    QLIST_ENTRY(rcu_reader_data) node;      /* the registry */
    NotifierList force_rcu;
};

QEMU_DECLARE_CO_TLS(struct rcu_reader_data, rcu_reader)

static inline void rcu_read_lock(void)
{
    struct rcu_reader_data *r = get_ptr_rcu_reader();

    if (r->depth++ > 0) {
        return;
    }
    qatomic_set(&r->ctr, qatomic_read(&rcu_gp_ctr));
    /* The snapshot is visible before the section reads anything. */
    smp_mb();
}

static inline void rcu_read_unlock(void)
{
    struct rcu_reader_data *r = get_ptr_rcu_reader();

    assert(r->depth != 0);
    if (--r->depth > 0) {
        return;
    }
    qatomic_store_release(&r->ctr, 0);
}

void synchronize_rcu(void);
void rcu_register_thread(void);
void rcu_unregister_thread(void);
void rcu_enable_atfork(void);
void rcu_disable_atfork(void);

struct rcu_head;
typedef void RCUCBFunc(struct rcu_head *head);

struct rcu_head {
    struct rcu_head *next;
    RCUCBFunc *func;
};

void call_rcu1(struct rcu_head *head, RCUCBFunc *func);
void drain_call_rcu(void);

#define call_rcu(obj, func, field) \
    call_rcu1(&(obj)->field, (RCUCBFunc *)(func))
/* The rcu_head must be first: g_free gets its address. */
#define g_free_rcu(obj, field) \
    call_rcu1(&(obj)->field, (RCUCBFunc *)g_free)

typedef void RCUReadAuto;

static inline RCUReadAuto *rcu_read_auto_lock(void)
{
    rcu_read_lock();
    return (RCUReadAuto *)(uintptr_t)1;
}

static inline void rcu_read_auto_unlock(RCUReadAuto *token)
{
    (void)token;
    rcu_read_unlock();
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(RCUReadAuto, rcu_read_auto_unlock)

#define WITH_RCU_READ_LOCK_GUARD() \
    WITH_RCU_READ_LOCK_GUARD_(glue(fixture_rcu_auto_, __COUNTER__))
#define WITH_RCU_READ_LOCK_GUARD_(var) \
    for (g_autoptr(RCUReadAuto) var = rcu_read_auto_lock(); \
         (var); rcu_read_auto_unlock(var), (var) = NULL)
/* One fixed name, as in QEMU: one guard per scope. */
#define RCU_READ_LOCK_GUARD() \
    g_autoptr(RCUReadAuto) fixture_rcu_auto __attribute__((unused)) = \
        rcu_read_auto_lock()

void rcu_add_force_rcu_notifier(Notifier *n);
void rcu_remove_force_rcu_notifier(Notifier *n);

#endif /* QEMU_RCU_H */
