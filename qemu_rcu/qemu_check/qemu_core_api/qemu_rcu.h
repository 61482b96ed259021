/* SPDX-License-Identifier: MIT */
/*
 * qemu_rcu.h for code of this package compiled against QEMU's own
 * util/rcu.c instead of the qemu-rcu core: QEMU's qemu/rcu.h (found ahead
 * of the shims on the include path) and the shim osdep.h it expects to be
 * included first.  Written for qemu-rcu.
 *
 * It defines no QEMU_RCU_API_VERSION: code that also uses qemu-rcu's own
 * additions (synchronize_rcu_expedited, free_rcu, rcu_get_stats, ...) tests
 * for that macro and leaves them out here.  This folder must not be the
 * shims folder, whose qemu/rcu.h includes the core's qemu_rcu.h by name.
 */
#ifndef QEMU_RCU_QEMU_CORE_API_H
#define QEMU_RCU_QEMU_CORE_API_H

#include "qemu/osdep.h"
#include "qemu/rcu.h"

#endif /* QEMU_RCU_QEMU_CORE_API_H */
