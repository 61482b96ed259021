/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/lockable.h, for QemuMutex and QemuRecMutex:
 * QEMU_LOCK_GUARD(lock) holds the lock to the end of the scope, and
 * WITH_QEMU_LOCK_GUARD(lock) { ... } holds it for the block.  Written for
 * qemu-rcu; only names and behaviour follow QEMU.
 */
#ifndef QEMU_LOCKABLE_H
#define QEMU_LOCKABLE_H

#include "qemu/compiler.h"
#include "qemu/thread.h"

typedef struct QemuLockable {
    void *object;
    void (*lock)(void *object);
    void (*unlock)(void *object);
} QemuLockable;

static inline void qemu_shim_lock_mutex(void *m)   { qemu_mutex_lock(m); }
static inline void qemu_shim_unlock_mutex(void *m) { qemu_mutex_unlock(m); }
static inline void qemu_shim_lock_rec(void *m)     { qemu_rec_mutex_lock(m); }
static inline void qemu_shim_unlock_rec(void *m)   { qemu_rec_mutex_unlock(m); }

#define QEMU_MAKE_LOCKABLE(x) ((QemuLockable) {                              \
    .object = (x),                                                           \
    .lock = _Generic((x), QemuMutex *: qemu_shim_lock_mutex,                 \
                          QemuRecMutex *: qemu_shim_lock_rec),               \
    .unlock = _Generic((x), QemuMutex *: qemu_shim_unlock_mutex,             \
                            QemuRecMutex *: qemu_shim_unlock_rec) })

static inline void qemu_lockable_lock(QemuLockable *l)   { l->lock(l->object); }
static inline void qemu_lockable_unlock(QemuLockable *l) { l->unlock(l->object); }

/* Cleanup for the guards: unlock if still held (object not cleared). */
static inline void qemu_shim_lockable_release(QemuLockable *l)
{
    if (l->object) {
        l->unlock(l->object);
    }
}

static inline QemuLockable qemu_shim_lockable_take(QemuLockable l)
{
    l.lock(l.object);
    return l;
}

#define QEMU_LOCK_GUARD(x)                                                   \
    QemuLockable glue(qemu_lockable_auto, __COUNTER__)                       \
        __attribute__((cleanup(qemu_shim_lockable_release), unused)) =       \
        qemu_shim_lockable_take(QEMU_MAKE_LOCKABLE(x))

#define WITH_QEMU_LOCK_GUARD(x)                                              \
    WITH_QEMU_LOCK_GUARD_((x), glue(qemu_lockable_auto, __COUNTER__))
#define WITH_QEMU_LOCK_GUARD_(x, var)                                        \
    for (QemuLockable var __attribute__((cleanup(qemu_shim_lockable_release))) = \
             qemu_shim_lockable_take(QEMU_MAKE_LOCKABLE(x));                 \
         var.object;                                                         \
         qemu_shim_lockable_release(&var), var.object = NULL)

#endif /* QEMU_LOCKABLE_H */
