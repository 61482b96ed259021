/* SPDX-License-Identifier: MIT */
/*
 * A consumer that must compile warning-free as ISO C11 with -Wpedantic and
 * as C++17, using every macro of qemu_rcu.h, and that imports the C API the
 * ways a cffi or ctypes module would: without the GIL, or from a C thread.
 * Nothing here calls import_qemu_rcu() at module init; each test says when.
 */
#include <Python.h>
#include "qemu_rcu.h"

#include <pthread.h>
#include <stdlib.h>

struct node {
    struct rcu_head rcu;        /* first, for call_rcu/free_rcu */
    int value;
};

static struct node *shared;
static int reclaimed;

static void reclaim(struct node *n)
{
    __atomic_fetch_add(&reclaimed, 1, __ATOMIC_SEQ_CST);
    free(n);
}

static struct node *new_node(int value)
{
    struct node *n = (struct node *)calloc(1, sizeof(*n));
    if (n != NULL) {
        n->value = value;
    }
    return n;
}

static int read_value(void)
{
    RCU_READ_LOCK_GUARD();
    struct node *n = qatomic_rcu_read(&shared);
    return n ? n->value : -1;
}

/* exercise(): publish, read under both guards, retire through call_rcu and
 * free_rcu, wait; returns how many call_rcu callbacks ran. */
static PyObject *exercise(PyObject *self, PyObject *args)
{
    int seen = 0, value;
    struct node *old, *next;

    (void)self;
    (void)args;
    next = new_node(1);
    if (next == NULL) {
        return PyErr_NoMemory();
    }
    qatomic_rcu_set(&shared, next);
    WITH_RCU_READ_LOCK_GUARD() {
        seen = qatomic_rcu_read(&shared)->value;
    }
    value = read_value();
    for (int i = 2; i <= 3; i++) {
        next = new_node(i);
        if (next == NULL) {
            return PyErr_NoMemory();
        }
        old = qatomic_rcu_read(&shared);
        qatomic_rcu_set(&shared, next);
        /* Expressions, as QEMU's are: usable in a conditional. */
        i == 2 ? call_rcu(old, reclaim, rcu) : free_rcu(old, rcu);
    }
    /* Python callbacks may be queued too: they need the GIL to run. */
    Py_BEGIN_ALLOW_THREADS
    synchronize_rcu();
    drain_call_rcu();
    Py_END_ALLOW_THREADS
    return Py_BuildValue("iiii", seen, value, read_value(),
                         __atomic_load_n(&reclaimed, __ATOMIC_SEQ_CST));
}

/* import_without_gil(): as a cffi function would call it. */
static PyObject *import_without_gil(PyObject *self, PyObject *args)
{
    int rc;

    (void)self;
    (void)args;
    Py_BEGIN_ALLOW_THREADS
    rc = import_qemu_rcu();
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static int thread_rc;

static void *import_thread(void *arg)
{
    (void)arg;
    thread_rc = import_qemu_rcu();
    return NULL;
}

/* import_from_c_thread(): from a thread Python has never seen. */
static PyObject *import_from_c_thread(PyObject *self, PyObject *args)
{
    pthread_t t;

    (void)self;
    (void)args;
    if (pthread_create(&t, NULL, import_thread, NULL) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(t, NULL);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(thread_rc);
}

/* import_with_gil(): the usual way; -1 leaves the exception set. */
static PyObject *import_with_gil(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    if (import_qemu_rcu() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* lock_before_import(): the mistake the header must name, not crash on. */
static PyObject *lock_before_import(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    rcu_read_lock();
    rcu_read_unlock();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"exercise", exercise, METH_NOARGS, NULL},
    {"import_without_gil", import_without_gil, METH_NOARGS, NULL},
    {"import_from_c_thread", import_from_c_thread, METH_NOARGS, NULL},
    {"import_with_gil", import_with_gil, METH_NOARGS, NULL},
    {"lock_before_import", lock_before_import, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rcu_strict", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_rcu_strict(void)
{
    return PyModule_Create(&module);
}
