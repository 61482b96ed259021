/* SPDX-License-Identifier: MIT */
/*
 * rcu_counter: one number published under RCU, and a writer that waits.
 *
 *   get() -> int or None       read it in a read-side section
 *   set(n)                     publish n; free the old one with free_rcu()
 *   set_sync(n) -> old         publish n, wait with synchronize_rcu() until
 *                              no reader can still see the old one, free it
 *                              and return its value
 *   in_section() -> bool       this thread is in a read-side section
 *
 * Writers are serialised by the GIL, held whenever they touch `current`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "qemu_rcu.h"

#include <stdlib.h>

struct counter {
    struct rcu_head rcu;        /* first: free_rcu() needs it there */
    long long value;
};

static struct counter *current;

static struct counter *new_counter(PyObject *arg)
{
    long long value = PyLong_AsLongLong(arg);
    struct counter *c;

    if (value == -1 && PyErr_Occurred()) {
        return NULL;
    }
    c = malloc(sizeof(*c));
    if (c == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    c->value = value;
    return c;
}

static PyObject *get(PyObject *self, PyObject *unused)
{
    const struct counter *c;

    (void)self;
    (void)unused;
    RCU_READ_LOCK_GUARD();              /* until the function returns */
    c = qatomic_rcu_read(&current);
    if (c == NULL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(c->value);  /* a copy: c is not used after */
}

static PyObject *set(PyObject *self, PyObject *arg)
{
    struct counter *c = new_counter(arg), *old = current;

    (void)self;
    if (c == NULL) {
        return NULL;
    }
    qatomic_rcu_set(&current, c);
    if (old != NULL) {
        free_rcu(old, rcu);             /* after a grace period; never blocks */
    }
    Py_RETURN_NONE;
}

static PyObject *set_sync(PyObject *self, PyObject *arg)
{
    struct counter *c, *old;
    PyObject *result;

    (void)self;
    if (rcu_read_lock_held()) {         /* the wait would never end */
        return PyErr_Format(PyExc_RuntimeError, "set_sync() inside a read-side "
                            "section would wait for that section to end");
    }
    c = new_counter(arg);
    if (c == NULL) {
        return NULL;
    }
    old = current;
    qatomic_rcu_set(&current, c);
    /* Release the GIL while waiting: a Python reader may need it to leave
     * its section. */
    Py_BEGIN_ALLOW_THREADS
    synchronize_rcu();
    Py_END_ALLOW_THREADS
    if (old == NULL) {
        Py_RETURN_NONE;
    }
    result = PyLong_FromLongLong(old->value);
    free(old);                          /* no reader can see it any more */
    return result;
}

static PyObject *in_section(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(rcu_read_lock_held());
}

static PyMethodDef methods[] = {
    {"get", get, METH_NOARGS, "get(): the published number, or None."},
    {"set", set, METH_O, "set(n): publish n; the old one is freed after a grace period."},
    {"set_sync", set_sync, METH_O,
     "set_sync(n): publish n, wait for a grace period, return the old number."},
    {"in_section", in_section, METH_NOARGS,
     "in_section(): True inside a read-side section of this thread."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "rcu_counter", "A number published under RCU.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_rcu_counter(void)
{
    if (import_qemu_rcu() < 0) {        /* the exception is set: fail the import */
        return NULL;
    }
    return PyModule_Create(&moduledef);
}
