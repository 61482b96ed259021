/* SPDX-License-Identifier: MIT */
/*
 * Waits Python can interrupt.  synchronize_rcu() and drain_call_rcu() in
 * Python wait for a core completion in short slices with the GIL released,
 * and look at signals (Ctrl-C) and their timeout in between; see
 * callbacks.py.
 */
#include "module.h"

#include "rcu_internal.h"

typedef struct {
    PyObject_HEAD
    struct rcu_completion *completion;      /* NULL once closed */
} WaitObject;

static PyObject *wait_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"drain", NULL};
    int drain;
    WaitObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "p:_Wait", kwlist, &drain)) {
        return NULL;
    }
    self = (WaitObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->completion = qemu_rcu_completion_new(drain);
    if (self->completion == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void wait_close_completion(WaitObject *self)
{
    if (self->completion != NULL) {
        qemu_rcu_completion_free(self->completion);
        self->completion = NULL;
    }
}

static void wait_dealloc(PyObject *op)
{
    wait_close_completion((WaitObject *)op);
    Py_TYPE(op)->tp_free(op);
}

static PyObject *wait_wait(PyObject *op, PyObject *arg)
{
    WaitObject *self = (WaitObject *)op;
    long long timeout_ns = PyLong_AsLongLong(arg);
    struct rcu_completion *completion = self->completion;
    bool done;

    if (timeout_ns == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (completion == NULL) {
        PyErr_SetString(PyExc_ValueError, "wait on a closed _Wait");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    done = qemu_rcu_completion_wait(completion, timeout_ns);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(done);
}

static PyObject *wait_close(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    wait_close_completion((WaitObject *)op);
    Py_RETURN_NONE;
}

static PyMethodDef wait_methods[] = {
    {"wait", wait_wait, METH_O,
     "wait(timeout_ns)\n--\n\n"
     "Wait at most timeout_ns (negative: as long as it takes) with the GIL\n"
     "released; True once the grace period or drain is done."},
    {"close", wait_close, METH_NOARGS, "Let go of the wait; it cannot be used again."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Wait_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "qemu_rcu._native._Wait",
    .tp_basicsize = sizeof(WaitObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "_Wait(drain)\n--\n\n"
              "A grace period that starts after the call (drain=False), or every\n"
              "callback this thread queued before it (drain=True), to wait for.",
    .tp_new = wait_new,
    .tp_dealloc = wait_dealloc,
    .tp_methods = wait_methods,
};

static PyObject *on_callback_thread(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyBool_FromLong(qemu_rcu_on_callback_thread());
}

static PyMethodDef functions[] = {
    {"_on_callback_thread", on_callback_thread, METH_NOARGS,
     "True on the thread that runs RCU callbacks."},
    {NULL, NULL, 0, NULL},
};

int qemu_rcu_py_waits_init(PyObject *module)
{
    if (PyType_Ready(&Wait_Type) < 0) {
        return -1;
    }
    Py_INCREF(&Wait_Type);
    if (PyModule_AddObject(module, "_Wait", (PyObject *)&Wait_Type) < 0) {
        Py_DECREF(&Wait_Type);
        return -1;
    }
    return PyModule_AddFunctions(module, functions);
}
