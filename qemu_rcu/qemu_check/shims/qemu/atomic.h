/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/atomic.h: QEMU's qatomic_* and smp_* names over
 * the compiler's __atomic builtins.  Written for qemu-rcu; only names and
 * behaviour follow QEMU.  qemu_rcu.h includes this file itself when it is on
 * the include path and then uses its qatomic_rcu_read/set.
 */
#ifndef QEMU_ATOMIC_H
#define QEMU_ATOMIC_H

#include "qemu/compiler.h"

#define barrier()         __asm__ __volatile__("" ::: "memory")
#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer does not model fences (GCC warns with -Wtsan); a
 * read-modify-write on a shared dummy orders the same way and is seen. */
static unsigned long qemu_shim_tsan_fence __attribute__((unused));
#define smp_mb()         ((void)__atomic_fetch_add(&qemu_shim_tsan_fence, 0, __ATOMIC_SEQ_CST))
#define smp_mb_acquire() ((void)__atomic_fetch_add(&qemu_shim_tsan_fence, 0, __ATOMIC_ACQUIRE))
#define smp_mb_release() ((void)__atomic_fetch_add(&qemu_shim_tsan_fence, 0, __ATOMIC_RELEASE))
#else
#define smp_mb()          __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_mb_acquire()  __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_mb_release()  __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#define smp_rmb()         smp_mb_acquire()
#define smp_wmb()         smp_mb_release()
#define smp_read_barrier_depends() barrier()
#define signal_barrier()  __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Relaxed accesses, never torn. */
#define qatomic_read(ptr)       __atomic_load_n((ptr), __ATOMIC_RELAXED)
#define qatomic_set(ptr, val)   __atomic_store_n((ptr), (val), __ATOMIC_RELAXED)
#define qatomic_load_acquire(ptr)       __atomic_load_n((ptr), __ATOMIC_ACQUIRE)
#define qatomic_store_release(ptr, val) __atomic_store_n((ptr), (val), __ATOMIC_RELEASE)

/* RCU publication: acquire on the load (QEMU uses consume where it can,
 * which compilers promote to acquire), release on the store. */
#define qatomic_rcu_read(ptr)      __atomic_load_n((ptr), __ATOMIC_ACQUIRE)
#define qatomic_rcu_read__nocheck(ptr, valptr) \
    __atomic_load((ptr), (valptr), __ATOMIC_ACQUIRE)
#define qatomic_rcu_set(ptr, val)  __atomic_store_n((ptr), (val), __ATOMIC_RELEASE)

/* Read-modify-write operations, all sequentially consistent. */
#define qatomic_xchg(ptr, val)   __atomic_exchange_n((ptr), (val), __ATOMIC_SEQ_CST)
#define qatomic_xchg__nocheck(ptr, val) qatomic_xchg(ptr, val)
#define qatomic_cmpxchg(ptr, old, new) ({                                   \
    typeof_strip_qual(*(ptr)) qatomic_shim_old_ = (old);                    \
    (void)__atomic_compare_exchange_n((ptr), &qatomic_shim_old_, (new),     \
                                      false, __ATOMIC_SEQ_CST,              \
                                      __ATOMIC_SEQ_CST);                    \
    qatomic_shim_old_; })
#define qatomic_cmpxchg__nocheck(ptr, old, new) qatomic_cmpxchg(ptr, old, new)

#define qatomic_fetch_inc(ptr)      __atomic_fetch_add((ptr), 1, __ATOMIC_SEQ_CST)
#define qatomic_fetch_dec(ptr)      __atomic_fetch_sub((ptr), 1, __ATOMIC_SEQ_CST)
#define qatomic_fetch_add(ptr, n)   __atomic_fetch_add((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_fetch_sub(ptr, n)   __atomic_fetch_sub((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_fetch_and(ptr, n)   __atomic_fetch_and((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_fetch_or(ptr, n)    __atomic_fetch_or((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_fetch_xor(ptr, n)   __atomic_fetch_xor((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_inc_fetch(ptr)      __atomic_add_fetch((ptr), 1, __ATOMIC_SEQ_CST)
#define qatomic_dec_fetch(ptr)      __atomic_sub_fetch((ptr), 1, __ATOMIC_SEQ_CST)
#define qatomic_add_fetch(ptr, n)   __atomic_add_fetch((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_sub_fetch(ptr, n)   __atomic_sub_fetch((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_and_fetch(ptr, n)   __atomic_and_fetch((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_or_fetch(ptr, n)    __atomic_or_fetch((ptr), (n), __ATOMIC_SEQ_CST)
#define qatomic_xor_fetch(ptr, n)   __atomic_xor_fetch((ptr), (n), __ATOMIC_SEQ_CST)

#define qatomic_inc(ptr)      ((void)qatomic_fetch_inc(ptr))
#define qatomic_dec(ptr)      ((void)qatomic_fetch_dec(ptr))
#define qatomic_add(ptr, n)   ((void)qatomic_fetch_add((ptr), (n)))
#define qatomic_sub(ptr, n)   ((void)qatomic_fetch_sub((ptr), (n)))
#define qatomic_and(ptr, n)   ((void)qatomic_fetch_and((ptr), (n)))
#define qatomic_or(ptr, n)    ((void)qatomic_fetch_or((ptr), (n)))
#define qatomic_xor(ptr, n)   ((void)qatomic_fetch_xor((ptr), (n)))

#define qatomic_mb_read(ptr)      __atomic_load_n((ptr), __ATOMIC_SEQ_CST)
#define qatomic_mb_set(ptr, val)  __atomic_store_n((ptr), (val), __ATOMIC_SEQ_CST)

/* 64-bit accesses: plain builtins on hosts with 64-bit atomics (QEMU falls
 * back to a lock elsewhere; this shim supports only such hosts). */
#define qatomic_read_i64(ptr)       __atomic_load_n((ptr), __ATOMIC_RELAXED)
#define qatomic_read_u64(ptr)       __atomic_load_n((ptr), __ATOMIC_RELAXED)
#define qatomic_set_i64(ptr, val)   __atomic_store_n((ptr), (val), __ATOMIC_RELAXED)
#define qatomic_set_u64(ptr, val)   __atomic_store_n((ptr), (val), __ATOMIC_RELAXED)
#define qatomic64_init()            ((void)0)

#endif /* QEMU_ATOMIC_H */
