# SPDX-License-Identifier: MIT
"""The cffi builder of rcu_config: one configuration, published under RCU.

Out-of-line API mode: cffi writes a C file holding the source below, and
setuptools (setup.py's cffi_modules) compiles it into the rcu_config
extension against the installed qemu_rcu.h.  Run alone, it builds the module
in the current folder: python build_rcu_config.py.

cffi releases the GIL around every call into C, so config_init() calls
import_qemu_rcu() without holding the GIL; that is allowed (it takes the GIL
itself), and on failure the Python exception is printed on stderr, since no
Python code could see it, and -1 is returned.
"""

from cffi import FFI

import qemu_rcu

CDEF = """
    int config_init(void);
    int config_publish(long version, long limit);
    long config_read(long *version);
    bool config_in_section(void);
    int config_drain(void);
    long config_reclaimed(void);
"""

SOURCE = r"""
#include "qemu_rcu.h"          /* capsule mode: QEMU_RCU_CORE is not defined */

#include <pthread.h>
#include <stdlib.h>

struct config {
    struct rcu_head rcu;        /* first: call_rcu() needs it there */
    long version;
    long limit;
};

static struct config *current;  /* read under RCU, replaced by writers */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static long reclaimed;          /* configs freed by config_reclaim() */

/* Once, before any other RCU call.  Called without the GIL (cffi released it). */
int config_init(void)
{
    return import_qemu_rcu();
}

/* The RCU callback: runs on qemu_rcu's callback thread after a grace period,
 * once no reader can still hold old. */
static void config_reclaim(struct config *old)
{
    __atomic_fetch_add(&reclaimed, 1, __ATOMIC_RELAXED);
    free(old);
}

/* Publish a new configuration; retire the old one with call_rcu().  cffi
 * calls come without the GIL, so writers take their own lock; readers never
 * take it. */
int config_publish(long version, long limit)
{
    struct config *c = malloc(sizeof(*c)), *old;

    if (c == NULL) {
        return -1;
    }
    c->version = version;
    c->limit = limit;
    pthread_mutex_lock(&writer_lock);
    old = current;
    qatomic_rcu_set(&current, c);   /* c is complete before readers see it */
    pthread_mutex_unlock(&writer_lock);
    if (old != NULL) {
        call_rcu(old, config_reclaim, rcu);     /* never blocks */
    }
    return 0;
}

/* The current limit and its version, or -1 before the first publish. */
long config_read(long *version)
{
    long limit = -1;

    WITH_RCU_READ_LOCK_GUARD() {
        const struct config *c = qatomic_rcu_read(&current);

        if (c != NULL) {    /* *c stays valid until the section ends */
            *version = c->version;
            limit = c->limit;
        }
    }
    return limit;
}

bool config_in_section(void)
{
    return rcu_read_lock_held();
}

/* Wait until every callback this thread queued has run.  Inside the
 * caller's own read-side section that would never end (the core aborts),
 * so refuse with -1. */
int config_drain(void)
{
    if (rcu_read_lock_held()) {
        return -1;
    }
    drain_call_rcu();
    return 0;
}

long config_reclaimed(void)
{
    return __atomic_load_n(&reclaimed, __ATOMIC_RELAXED);
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "rcu_config", SOURCE,
    include_dirs=[qemu_rcu.get_include()],
    extra_compile_args=["-std=gnu11", "-pthread", "-Wall", "-Wextra"],
    extra_link_args=["-pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
