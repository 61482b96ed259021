/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/sys_membarrier.h in its portable form (QEMU built
 * without CONFIG_MEMBARRIER): readers and writers both pay a full fence.
 * Only QEMU's own util/rcu.c and rcu.h use these names; qemu_rcu.h has its
 * own membarrier logic in the core.  Written for qemu-rcu; only names and
 * behaviour follow QEMU.
 */
#ifndef QEMU_SYS_MEMBARRIER_H
#define QEMU_SYS_MEMBARRIER_H

#include "qemu/atomic.h"

#define smp_mb_placeholder()  smp_mb()
#define smp_mb_global()       smp_mb()
#define smp_mb_global_init()  ((void)0)

#endif /* QEMU_SYS_MEMBARRIER_H */
