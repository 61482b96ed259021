/* SPDX-License-Identifier: MIT */
/*
 * bench_c.c: the C side of `python -m qemu_rcu bench`, built at bench time
 * as the extension module _qemu_rcu_bench_c.
 *
 * It is a C extension like any user's: it includes qemu_rcu.h without
 * QEMU_RCU_CORE and reaches the package's RCU domain through the capsule
 * (import_qemu_rcu()).  liburcu lives in bench_urcu.c, a separate
 * translation unit, because both headers define the same names.  Every timed
 * loop runs with the GIL released, so nothing Python does can get in.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "qemu_rcu.h"
#include "bench_harness.h"
#include "bench_call_rcu.h"

#include <stdlib.h>
#include <string.h>

/* ---- Our core, through the capsule --------------------------------------- */

static void ours_register(void) { rcu_register_thread(); }
static void ours_unregister(void) { rcu_unregister_thread(); }
static void ours_lock(void) { qemu_rcu_read_lock(); }
static void ours_unlock(void) { qemu_rcu_read_unlock(); }
static void ours_synchronize(void) { synchronize_rcu(); }

static const struct bench_flavor ours = {
    ours_register, ours_unregister, ours_lock, ours_unlock, ours_synchronize,
};

/* The exported functions: what a binding that cannot inline pays. */
static uint64_t ours_exported_pairs(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        qemu_rcu_read_lock();
        qemu_rcu_read_unlock();
    }
    return bench_now_ns() - t0;
}

/* The header's inline fast path: what C code using qemu_rcu.h pays. */
static uint64_t ours_inline_pairs(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        rcu_read_lock();
        rcu_read_unlock();
    }
    return bench_now_ns() - t0;
}

/* Floors, to read the others against: the loop itself... */
static uint64_t empty_pairs(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        __asm__ __volatile__("" ::: "memory");
    }
    return bench_now_ns() - t0;
}

/* ...and one full fence, what a reader pays per barrier without membarrier. */
static uint64_t fence_pairs(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return bench_now_ns() - t0;
}

static int ours_setup(void)
{
    static struct rcu_head warmup;

    rcu_register_thread();
    call_rcu1(&warmup, bench_count_callback);
    drain_call_rcu();
    return 0;
}

/* ---- Dispatch by name ------------------------------------------------------ */

struct impl {
    const char *name;
    int (*setup)(void);
    uint64_t (*read_pairs)(long n);
    int (*sync_latency)(int mode, int n, uint64_t *out_ns);
    /* not "call_rcu": the header defines that as a macro */
    long (*callbacks)(long n, uint64_t *enqueue_ns, uint64_t *total_ns);
};

static int ours_sync_latency(int mode, int n, uint64_t *out_ns)
{
    return bench_sync_latency(&ours, mode, n, out_ns);
}

static const struct impl impls[] = {
    { "empty", NULL, empty_pairs, NULL, NULL },
    { "fence", NULL, fence_pairs, NULL, NULL },
    { "ours_exported", ours_setup, ours_exported_pairs, ours_sync_latency,
      bench_call_rcu },
    { "ours_inline", ours_setup, ours_inline_pairs, NULL, NULL },
#ifdef BENCH_HAVE_LIBURCU
    { "urcu_memb", bench_memb_setup, bench_memb_read_pairs,
      bench_memb_sync_latency, bench_memb_call_rcu },
    { "urcu_mb", bench_mb_setup, bench_mb_read_pairs,
      bench_mb_sync_latency, bench_mb_call_rcu },
#endif
};

static const struct impl *find_impl(const char *name)
{
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
        if (strcmp(impls[i].name, name) == 0) {
            return &impls[i];
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown implementation %s", name);
    return NULL;
}

/* ---- Python functions ------------------------------------------------------ */

static PyObject *py_implementations(PyObject *self, PyObject *unused)
{
    PyObject *names = PyList_New(0);

    (void)self; (void)unused;
    for (size_t i = 0; names && i < sizeof(impls) / sizeof(impls[0]); i++) {
        PyObject *s = PyUnicode_FromString(impls[i].name);
        if (s == NULL || PyList_Append(names, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(names);
            break;
        }
        Py_DECREF(s);
    }
    return names;
}

static PyObject *py_membarrier_active(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return PyBool_FromLong(rcu_membarrier_active);
}

/* setup(name): register this thread, start the flavour's callback thread. */
static PyObject *py_setup(PyObject *self, PyObject *args)
{
    const struct impl *impl;
    const char *name;
    int rc = 0;

    (void)self;
    if (!PyArg_ParseTuple(args, "s", &name) || !(impl = find_impl(name))) {
        return NULL;
    }
    if (impl->setup) {
        Py_BEGIN_ALLOW_THREADS
        rc = impl->setup();
        Py_END_ALLOW_THREADS
    }
    if (rc != 0) {
        PyErr_Format(PyExc_RuntimeError, "%s: setup failed", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* read_pairs(name, n) -> ns for n lock+unlock pairs. */
static PyObject *py_read_pairs(PyObject *self, PyObject *args)
{
    const struct impl *impl;
    const char *name;
    long n;
    uint64_t ns;

    (void)self;
    if (!PyArg_ParseTuple(args, "sl", &name, &n) || !(impl = find_impl(name))) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    ns = impl->read_pairs(n);
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLongLong(ns);
}

/* sync_latency(name, mode, n) -> list of n synchronize_rcu() times in ns. */
static PyObject *py_sync_latency(PyObject *self, PyObject *args)
{
    const struct impl *impl;
    const char *name;
    int mode, n, rc;
    uint64_t *out;
    PyObject *list;

    (void)self;
    if (!PyArg_ParseTuple(args, "sii", &name, &mode, &n) ||
        !(impl = find_impl(name))) {
        return NULL;
    }
    if (impl->sync_latency == NULL || n <= 0) {
        PyErr_Format(PyExc_ValueError, "%s: no grace periods to time", name);
        return NULL;
    }
    out = calloc((size_t)n, sizeof(*out));
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    rc = impl->sync_latency(mode, n, out);
    Py_END_ALLOW_THREADS
    if (rc != 0) {
        free(out);
        PyErr_SetString(PyExc_RuntimeError, "cannot start helper threads");
        return NULL;
    }
    list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(out[i]);
        if (v == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, v);
    }
    free(out);
    return list;
}

/* call_rcu(name, n) -> (callbacks run, enqueue ns, enqueue+drain ns). */
static PyObject *py_call_rcu(PyObject *self, PyObject *args)
{
    const struct impl *impl;
    const char *name;
    long n, ran;
    uint64_t enqueue_ns = 0, total_ns = 0;

    (void)self;
    if (!PyArg_ParseTuple(args, "sl", &name, &n) || !(impl = find_impl(name))) {
        return NULL;
    }
    if (impl->callbacks == NULL) {
        PyErr_Format(PyExc_ValueError, "%s has no callbacks", name);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    ran = impl->callbacks(n, &enqueue_ns, &total_ns);
    Py_END_ALLOW_THREADS
    if (ran < 0) {
        return PyErr_NoMemory();
    }
    return Py_BuildValue("lKK", ran, (unsigned long long)enqueue_ns,
                         (unsigned long long)total_ns);
}

static PyMethodDef methods[] = {
    { "implementations", py_implementations, METH_NOARGS,
      "Names of the implementations compiled in." },
    { "membarrier_active", py_membarrier_active, METH_NOARGS,
      "True if our core's readers rely on membarrier." },
    { "setup", py_setup, METH_VARARGS, "Prepare an implementation." },
    { "read_pairs", py_read_pairs, METH_VARARGS,
      "read_pairs(name, n): ns for n read-side lock+unlock pairs." },
    { "sync_latency", py_sync_latency, METH_VARARGS,
      "sync_latency(name, mode, n): ns of each of n synchronize_rcu()." },
    { "call_rcu", py_call_rcu, METH_VARARGS,
      "call_rcu(name, n): (ran, enqueue ns, total ns) for n callbacks." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_qemu_rcu_bench_c",
    "qemu-rcu benchmark loops, next to liburcu's.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__qemu_rcu_bench_c(void)
{
    if (import_qemu_rcu() < 0) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
