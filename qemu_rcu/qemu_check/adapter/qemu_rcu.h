/* SPDX-License-Identifier: MIT */
/*
 * qemu_rcu.h for this package's C tests built against QEMU's own RCU core
 * (qemu-check, "our tests on QEMU's core"): QEMU's qemu/osdep.h (a shim) and
 * QEMU's real qemu/rcu.h, and nothing of qemu-rcu's.  It leaves
 * QEMU_RCU_API_VERSION undefined, which is how the tests know they run on
 * QEMU's core (testutil.h).  Written for qemu-rcu.
 *
 * This folder comes first on the include path, so it must not hold anything
 * else: the shims' qemu/rcu.h would find qemu-rcu's header here otherwise.
 */
#ifndef QEMU_RCU_CHECK_ADAPTER_H
#define QEMU_RCU_CHECK_ADAPTER_H

#include "qemu/osdep.h"
#include "qemu/rcu.h"

#endif /* QEMU_RCU_CHECK_ADAPTER_H */
