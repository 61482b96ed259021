/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for QEMU's qemu/atomic.h, written for the tests: like QEMU's,
 * it defines qatomic_rcu_read/set unconditionally, with a body that is not
 * qemu_rcu.h's, so that defining both would warn "redefined".
 */
#ifndef QEMU_ATOMIC_H
#define QEMU_ATOMIC_H

#define qatomic_read(ptr)          __atomic_load_n(ptr, __ATOMIC_RELAXED)
#define qatomic_set(ptr, i)        __atomic_store_n(ptr, i, __ATOMIC_RELAXED)
#define qatomic_rcu_read(ptr)      __atomic_load_n(ptr, __ATOMIC_ACQUIRE)
#define qatomic_rcu_set(ptr, i)    __atomic_store_n(ptr, i, __ATOMIC_RELEASE)

#endif
