/* SPDX-License-Identifier: MIT */
/*
 * qemu/rcu.h for QEMU code built against the qemu-rcu core: the headers
 * QEMU's rcu.h pulls in (so that code relying on them still finds them),
 * then qemu_rcu.h, whose inline read path and struct rcu_reader_data are
 * the core's.  Written for qemu-rcu.
 *
 * The guard is not QEMU_RCU_H: that is qemu_rcu.h's own guard.
 */
#ifndef QEMU_RCU_SHIM_RCU_H
#define QEMU_RCU_SHIM_RCU_H

/* QEMU code links the core directly: no Python capsule. */
#ifndef QEMU_RCU_CORE
#define QEMU_RCU_CORE 1
#endif

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/queue.h"
#include "qemu/atomic.h"
#include "qemu/notify.h"
#include "qemu/sys_membarrier.h"
#include "qemu/coroutine-tls.h"

#include "qemu_rcu.h"

#ifndef rcu_assert
#ifdef DEBUG_RCU
#define rcu_assert(...) assert(__VA_ARGS__)
#else
#define rcu_assert(...) ((void)0)
#endif
#endif

#endif /* QEMU_RCU_SHIM_RCU_H */
