/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/sys_membarrier.h.  Only QEMU's own util/rcu.c and
 * rcu.h use these names; qemu_rcu.h has its own membarrier logic in the
 * core.  Written for qemu-rcu; only names and behaviour follow QEMU.
 *
 * Without CONFIG_MEMBARRIER (QEMU's default build), readers and writers both
 * pay a full fence.  With it, as QEMU configured with --enable-membarrier,
 * readers pay only a compiler barrier and the writer's smp_mb_global() is
 * the membarrier(MEMBARRIER_CMD_SHARED) system call; smp_mb_global_init()
 * ends the program with exit status 1 if the kernel lacks that command.
 */
#ifndef QEMU_SYS_MEMBARRIER_H
#define QEMU_SYS_MEMBARRIER_H

#include "qemu/atomic.h"

#ifdef CONFIG_MEMBARRIER
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define smp_mb_placeholder()  barrier()

static inline void smp_mb_global(void)
{
    syscall(__NR_membarrier, MEMBARRIER_CMD_SHARED, 0);
}

static inline void smp_mb_global_init(void)
{
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);

    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_SHARED)) {
        fputs("qemu shim: this kernel lacks membarrier(MEMBARRIER_CMD_SHARED), "
              "which a QEMU built with CONFIG_MEMBARRIER requires\n", stderr);
        exit(1);
    }
}
#else
#define smp_mb_placeholder()  smp_mb()
#define smp_mb_global()       smp_mb()
#define smp_mb_global_init()  ((void)0)
#endif

#endif /* QEMU_SYS_MEMBARRIER_H */
