/* SPDX-License-Identifier: MIT */
/* Two files sharing one capsule pointer: this one only declares it. */
#include <Python.h>
#define QEMU_RCU_API_EXTERN
#include "qemu_rcu.h"
int other(void) { rcu_read_lock(); int held = rcu_read_lock_held(); rcu_read_unlock(); return held; }
