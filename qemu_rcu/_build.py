# SPDX-License-Identifier: MIT
"""cffi generator for ``qemu_rcu.lib`` (API mode).

meson runs this script at build time (``python _build.py OUTPUT.c``); it only
emits C, which meson compiles together with the torture engine.  It is not
part of the installed package.

The module links no RCU core: it includes ``qemu_rcu.h`` in capsule mode, so
each function below reaches the one core in ``qemu_rcu._native``, as any C
extension would.  ``tests/test_cdef.py`` checks that these declarations
agree with the header.
"""

import sys

import cffi

CDEF = """
struct rcu_head;
typedef void RCUCBFunc(struct rcu_head *head);
struct rcu_head { struct rcu_head *next; RCUCBFunc *func; };

#define QEMU_RCU_DEPTH_UNREGISTERED ...
struct rcu_reader_data { unsigned long ctr; bool waiting; unsigned depth; ...; };

struct rcu_stats {
    uint64_t grace_periods;
    uint64_t callbacks_queued;
    uint64_t callbacks_invoked;
    uint64_t callbacks_pending;
    unsigned registered_threads;
    bool membarrier;
};

extern unsigned long rcu_gp_ctr;

struct rcu_reader_data *get_ptr_rcu_reader(void);
void rcu_register_thread(void);
void rcu_unregister_thread(void);
void rcu_read_lock(void);
void rcu_read_unlock(void);
bool rcu_read_lock_held(void);
void qemu_rcu_read_lock(void);
void qemu_rcu_read_unlock(void);
void synchronize_rcu(void);
void synchronize_rcu_expedited(void);
unsigned long get_state_synchronize_rcu(void);
bool poll_state_synchronize_rcu(unsigned long cookie);
void call_rcu1(struct rcu_head *head, RCUCBFunc *func);
void drain_call_rcu(void);
void rcu_enable_atfork(void);
void rcu_disable_atfork(void);
void rcu_get_stats(struct rcu_stats *out);

int qemu_rcu_lib_import(void);

#define QEMU_RCU_TORTURE_AGES ...
#define QEMU_RCU_TORTURE_MAX_READERS ...
#define QEMU_RCU_TORTURE_MAX_UPDATERS ...
struct qemu_rcu_torture;
struct qemu_rcu_torture_counts {
    uint64_t reads;
    uint64_t updates;
    uint64_t heap_updates;
    uint64_t reclaimed;
    uint64_t sync_loops;
    uint64_t mberrors;
    uint64_t poisoned;
    uint64_t recycled;
    uint64_t age[...];
    uint64_t longest_gp_ns;
};
struct qemu_rcu_torture *qemu_rcu_torture_start(int readers, int updaters);
void qemu_rcu_torture_snapshot(struct qemu_rcu_torture *t,
                               struct qemu_rcu_torture_counts *out);
void qemu_rcu_torture_stop(struct qemu_rcu_torture *t,
                           struct qemu_rcu_torture_counts *final);
uint64_t qemu_rcu_torture_errors(const struct qemu_rcu_torture_counts *c);
"""

PREAMBLE = """
#define QEMU_RCU_API_DEFINE
#include "qemu_rcu.h"
#include "torture.h"

/* Called once by qemu_rcu._binding, after qemu_rcu._native is imported. */
static int qemu_rcu_lib_import(void)
{
    return import_qemu_rcu();
}
"""

ffibuilder = cffi.FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "qemu_rcu._qemu_rcu_cffi",
    PREAMBLE,
)

if __name__ == "__main__":
    ffibuilder.emit_c_code(sys.argv[1])
