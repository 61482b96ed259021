/* SPDX-License-Identifier: MIT */
/*
 * rcu_routes: a C extension that keeps an IPv4 routing table under RCU.
 *
 * Python publishes tables; C reader threads (and Python, through lookup())
 * look addresses up without any lock.  A table never changes once it is
 * published: publish() builds a new one, swaps it in with qatomic_rcu_set()
 * and retires the old one with free_rcu(), which frees it after a grace
 * period, once no reader can still be walking it.
 *
 * The module includes only qemu_rcu.h and calls import_qemu_rcu() at
 * import: its sections and grace periods are those of the qemu_rcu package
 * (one RCU domain per process), so a Python RcuGuard is a read-side
 * section here too, and Python's drain_call_rcu() also waits for this
 * module's free_rcu() callbacks.
 *
 * Python API (all integers are IPv4 addresses in host order):
 *   publish(routes, version)   routes: [(prefix, length, nexthop), ...]
 *   lookup(addr) -> nexthop or None
 *   clear()                    unpublish the table, wait for a grace period
 *                              (synchronize_rcu()), then free it
 *   start_readers(count), stop_readers() -> dict of counters
 *   lock_held() -> bool        this thread is in a read-side section
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "qemu_rcu.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define TABLE_MAGIC 0x526f7574u     /* "Rout" */
#define MAX_READERS 64

struct route {
    uint32_t prefix;                /* network address, host byte order */
    uint32_t mask;
    uint32_t nexthop;
    int len;                        /* prefix length, 0..32 */
};

struct route_table {
    struct rcu_head rcu;            /* first: free_rcu() needs it there */
    uint32_t magic;
    uint32_t checksum;              /* of the fields below; readers verify it */
    uint64_t version;
    size_t count;
    struct route routes[];          /* longest prefix first */
};

/* The published table.  Readers load it with qatomic_rcu_read() inside a
 * read-side section; publish() replaces it with qatomic_rcu_set().
 * Writers are serialised by the GIL: publish() holds it throughout. */
static struct route_table *current_table;

/* ---- The table ----------------------------------------------------------- */

static uint32_t mix(uint32_t h, uint64_t v)
{
    h ^= (uint32_t)v ^ (uint32_t)(v >> 32);
    return h * 16777619u;           /* FNV-1a's prime */
}

static uint32_t table_checksum(const struct route_table *t)
{
    uint32_t h = mix(2166136261u, t->version);

    h = mix(h, t->count);
    for (size_t i = 0; i < t->count; i++) {
        const struct route *r = &t->routes[i];
        h = mix(mix(mix(h, r->prefix), r->nexthop), (uint64_t)r->len);
    }
    return h;
}

/* A reader that saw anything but a complete, intact table would mean the
 * table was freed (or published half-built) under its feet. */
static bool table_ok(const struct route_table *t)
{
    return t->magic == TABLE_MAGIC && t->checksum == table_checksum(t);
}

/* Longest-prefix match: routes are sorted longest first. */
static const struct route *table_lookup(const struct route_table *t,
                                        uint32_t addr)
{
    for (size_t i = 0; i < t->count; i++) {
        if ((addr & t->routes[i].mask) == t->routes[i].prefix) {
            return &t->routes[i];
        }
    }
    return NULL;
}

static int by_length_desc(const void *a, const void *b)
{
    return ((const struct route *)b)->len - ((const struct route *)a)->len;
}

/* ---- Reader threads ------------------------------------------------------ */

struct reader {
    pthread_t thread;
    uint32_t seed;
    /* Written by the reader, read by stop_readers() after the join. */
    uint64_t lookups, matched, bad_tables, newest_version;
};

static struct reader readers[MAX_READERS];
static int nreaders;
static int stop_flag;

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint32_t x = r->seed;

    /* At least one lookup, even if stop_readers() comes before this thread
     * first runs (a loaded machine): every reader's count means something. */
    do {
        x ^= x << 13;               /* xorshift32: a random address */
        x ^= x >> 17;
        x ^= x << 5;
        WITH_RCU_READ_LOCK_GUARD() {
            const struct route_table *t = qatomic_rcu_read(&current_table);

            /* Everything t points to stays valid until the guard ends. */
            if (t != NULL) {
                if (!table_ok(t)) {
                    r->bad_tables++;
                } else if (table_lookup(t, x) != NULL) {
                    r->matched++;
                }
                if (t->version > r->newest_version) {
                    r->newest_version = t->version;
                }
            }
        }
        r->lookups++;
    } while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE));
    return NULL;
}

static PyObject *start_readers(PyObject *self, PyObject *arg)
{
    long count = PyLong_AsLong(arg);
    sigset_t all, old;

    (void)self;
    if (count == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (count < 1 || count > MAX_READERS) {
        return PyErr_Format(PyExc_ValueError, "count must be 1..%d", MAX_READERS);
    }
    if (nreaders > 0) {
        return PyErr_Format(PyExc_RuntimeError, "readers are already running");
    }
    __atomic_store_n(&stop_flag, 0, __ATOMIC_RELEASE);
    /* Signals stay with Python's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < count; i++) {
        readers[i] = (struct reader){ .seed = 2463534242u + (uint32_t)i * 7919u };
        if (pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) != 0) {
            break;
        }
        nreaders++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (nreaders < count) {
        PyObject *ignored = PyObject_CallMethod(self, "stop_readers", NULL);
        Py_XDECREF(ignored);
        return PyErr_Format(PyExc_RuntimeError, "cannot start reader threads");
    }
    Py_RETURN_NONE;
}

static PyObject *stop_readers(PyObject *self, PyObject *unused)
{
    uint64_t lookups = 0, matched = 0, bad = 0, newest = 0;

    (void)self;
    (void)unused;
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < nreaders; i++) {
        pthread_join(readers[i].thread, NULL);
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < nreaders; i++) {
        lookups += readers[i].lookups;
        matched += readers[i].matched;
        bad += readers[i].bad_tables;
        if (readers[i].newest_version > newest) {
            newest = readers[i].newest_version;
        }
    }
    nreaders = 0;
    return Py_BuildValue("{sKsKsKsK}", "lookups", (unsigned long long)lookups,
                         "matched", (unsigned long long)matched,
                         "bad_tables", (unsigned long long)bad,
                         "newest_version", (unsigned long long)newest);
}

/* ---- Writer and Python-side reader ----------------------------------------- */

/* publish(routes, version): build a table from [(prefix, length, nexthop)],
 * publish it, and retire the previous one. */
static PyObject *publish(PyObject *self, PyObject *args)
{
    PyObject *seq, *fast;
    unsigned long long version;
    struct route_table *t, *old;
    Py_ssize_t n;

    (void)self;
    if (!PyArg_ParseTuple(args, "OK:publish", &seq, &version)) {
        return NULL;
    }
    fast = PySequence_Fast(seq, "routes must be a sequence");
    if (fast == NULL) {
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(fast);
    t = malloc(sizeof(*t) + (size_t)n * sizeof(t->routes[0]));
    if (t == NULL) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned int prefix, nexthop;
        int len;
        struct route *r = &t->routes[i];

        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "IiI;a route is "
                              "(prefix, length, nexthop)", &prefix, &len, &nexthop)) {
            goto fail;
        }
        if (len < 0 || len > 32) {
            PyErr_Format(PyExc_ValueError, "prefix length %d is not 0..32", len);
            goto fail;
        }
        r->len = len;
        r->mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
        r->prefix = prefix & r->mask;
        r->nexthop = nexthop;
    }
    Py_DECREF(fast);
    qsort(t->routes, (size_t)n, sizeof(t->routes[0]), by_length_desc);
    t->count = (size_t)n;
    t->version = version;
    t->magic = TABLE_MAGIC;
    t->checksum = table_checksum(t);

    /* Fully built before it is published: qatomic_rcu_set() is a release
     * store, so a reader that finds t sees all of the above. */
    old = current_table;
    qatomic_rcu_set(&current_table, t);
    if (old != NULL) {
        /* Readers may still be inside old: free it after a grace period.
         * Never blocks, so it is fine while holding the GIL. */
        free_rcu(old, rcu);
    }
    Py_RETURN_NONE;

fail:
    Py_DECREF(fast);
    free(t);
    return NULL;
}

/* lookup(addr) -> nexthop or None, from the calling (Python) thread. */
static PyObject *lookup(PyObject *self, PyObject *arg)
{
    unsigned long addr = PyLong_AsUnsignedLong(arg);
    const struct route_table *t;
    const struct route *r;

    (void)self;
    if (addr == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (addr > 0xffffffffUL) {
        return PyErr_Format(PyExc_ValueError, "not an IPv4 address: %lu", addr);
    }
    RCU_READ_LOCK_GUARD();          /* until this function returns */
    t = qatomic_rcu_read(&current_table);
    r = t ? table_lookup(t, (uint32_t)addr) : NULL;
    if (r == NULL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(r->nexthop);
}

/* clear(): unpublish the table and free it once no reader can still be in
 * it.  The synchronous way, where publish() uses free_rcu(): it blocks, so
 * it refuses to run inside the caller's own read-side section (the wait
 * would never end) and releases the GIL while it waits (a Python reader
 * may need the GIL to leave its section). */
static PyObject *clear(PyObject *self, PyObject *unused)
{
    struct route_table *old;

    (void)self;
    (void)unused;
    if (rcu_read_lock_held()) {
        return PyErr_Format(PyExc_RuntimeError, "clear() inside a read-side "
                            "section would wait for that section to end");
    }
    old = current_table;
    qatomic_rcu_set(&current_table, NULL);
    Py_BEGIN_ALLOW_THREADS
    synchronize_rcu();              /* every reader that could see old is gone */
    Py_END_ALLOW_THREADS
    free(old);
    Py_RETURN_NONE;
}

static PyObject *lock_held(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(rcu_read_lock_held());
}

static PyMethodDef methods[] = {
    {"publish", publish, METH_VARARGS,
     "publish(routes, version): publish a new table; the old one is freed "
     "after a grace period."},
    {"lookup", lookup, METH_O, "lookup(addr): the next hop for addr, or None."},
    {"start_readers", start_readers, METH_O,
     "start_readers(count): start C threads that look up random addresses."},
    {"stop_readers", stop_readers, METH_NOARGS,
     "stop_readers(): stop them and return their counters."},
    {"clear", clear, METH_NOARGS,
     "clear(): unpublish the table and free it after a grace period."},
    {"lock_held", lock_held, METH_NOARGS,
     "lock_held(): True inside a read-side section of this thread."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "rcu_routes", "IPv4 routes under RCU, shared "
    "with qemu_rcu's RCU domain.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_rcu_routes(void)
{
    /* Reach the qemu_rcu package's RCU core (imports qemu_rcu if needed). */
    if (import_qemu_rcu() < 0) {
        return NULL;
    }
    return PyModule_Create(&moduledef);
}
