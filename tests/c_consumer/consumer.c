/* SPDX-License-Identifier: MIT */
/*
 * A C extension written the way QEMU code uses qemu/rcu.h, but including
 * only qemu_rcu.h: it shares the qemu_rcu package's RCU domain through the
 * capsule.  A reader thread walks an RCU-protected configuration; Python
 * drives it to show that a C reader holds up a Python synchronize_rcu().
 */
#include <Python.h>
#include "qemu_rcu.h"

#include <pthread.h>
#include <stdlib.h>

struct config {
    struct rcu_head rcu;      /* first, for call_rcu/free_rcu */
    int value;
};

static struct config *current_config;
static int reader_inside, reader_release, reclaimed;
static pthread_t reader_thread;

static void *reader_main(void *arg)
{
    (void)arg;
    WITH_RCU_READ_LOCK_GUARD() {
        struct config *c = qatomic_rcu_read(&current_config);
        (void)c;
        __atomic_store_n(&reader_inside, 1, __ATOMIC_SEQ_CST);
        while (!__atomic_load_n(&reader_release, __ATOMIC_SEQ_CST)) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static PyObject *start_reader(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    reader_inside = reader_release = 0;
    if (pthread_create(&reader_thread, NULL, reader_main, NULL) != 0) {
        return PyErr_NoMemory();
    }
    while (!__atomic_load_n(&reader_inside, __ATOMIC_SEQ_CST)) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *stop_reader(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    __atomic_store_n(&reader_release, 1, __ATOMIC_SEQ_CST);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(reader_thread, NULL);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static void config_reclaim(struct config *c)
{
    __atomic_fetch_add(&reclaimed, 1, __ATOMIC_SEQ_CST);
    free(c);
}

/* publish(value, use_free_rcu): swap in a new config and retire the old. */
static PyObject *publish(PyObject *self, PyObject *args)
{
    int value, use_free_rcu;
    struct config *c, *old;

    (void)self;
    if (!PyArg_ParseTuple(args, "ip", &value, &use_free_rcu)) {
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return PyErr_NoMemory();
    }
    c->value = value;
    old = current_config;
    qatomic_rcu_set(&current_config, c);
    if (old && use_free_rcu) {
        free_rcu(old, rcu);
    } else if (old) {
        call_rcu(old, config_reclaim, rcu);
    }
    Py_RETURN_NONE;
}

static PyObject *read_value(PyObject *self, PyObject *unused)
{
    int value = -1;

    (void)self; (void)unused;
    RCU_READ_LOCK_GUARD();
    struct config *c = qatomic_rcu_read(&current_config);
    if (c) {
        value = c->value;
    }
    return PyLong_FromLong(value);
}

static PyObject *drain(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    Py_BEGIN_ALLOW_THREADS
    drain_call_rcu();
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(__atomic_load_n(&reclaimed, __ATOMIC_SEQ_CST));
}

static PyObject *lock_held(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return PyBool_FromLong(rcu_read_lock_held());
}

static PyObject *lock(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    rcu_read_lock();
    Py_RETURN_NONE;
}

static PyObject *unlock(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    rcu_read_unlock();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"start_reader", start_reader, METH_NOARGS, NULL},
    {"stop_reader", stop_reader, METH_NOARGS, NULL},
    {"publish", publish, METH_VARARGS, NULL},
    {"read_value", read_value, METH_NOARGS, NULL},
    {"drain", drain, METH_NOARGS, NULL},
    {"lock_held", lock_held, METH_NOARGS, NULL},
    {"lock", lock, METH_NOARGS, NULL},
    {"unlock", unlock, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "rcu_consumer", NULL, -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_rcu_consumer(void)
{
    if (import_qemu_rcu() < 0) {
        return NULL;
    }
    return PyModule_Create(&moduledef);
}
