/* SPDX-License-Identifier: MIT */
/*
 * Python callbacks: call_rcu(fn, /, *args, **kwargs), and the loop that
 * runs them on the RCU callback thread.  In C because they are the write
 * side's hot path.
 *
 * A callback becomes an entry (seq, fn, args, kwargs) at the end of
 * callbacks.py's _pending deque, and a marker with the same number goes
 * through call_rcu1(); when a marker runs, every entry numbered up to its
 * own has waited a grace period.  Numbering and appending happen with the
 * GIL held and without running any Python code in between, so the deque
 * stays sorted without a lock.
 */
#include <Python.h>

#include <stdlib.h>

#include "py_glue.h"
#include "qemu_rcu.h"

/* Handed over by callbacks.py when it is imported (_bind_callbacks). */
static PyObject *pending;           /* the _pending deque */
static PyObject *pending_append;    /* its bound methods: calling them */
static PyObject *pending_popleft;   /* allocates nothing */
static PyObject *RcuError;          /* qemu_rcu.errors.RcuError */
static uint64_t last_seq;           /* GIL held */

static int check_bound(void)
{
    if (pending == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "qemu_rcu.callbacks is not initialised");
        return -1;
    }
    return 0;
}

/* ---- Running callbacks ---------------------------------------------------- */

/* Every entry numbered up to this has been taken off the queue. */
static uint64_t taken_upto;
/* The callback being run, for exit's report of what stalled.  GIL held. */
static PyObject *running_fn;

bool qemu_rcu_py_callbacks_due(uint64_t seq)
{
    return seq > __atomic_load_n(&taken_upto, __ATOMIC_ACQUIRE);
}

/* Run the entries numbered up to seq; a grace period has passed since each
 * was queued.  GIL held.  Stops early once exit has closed the way into
 * Python, so that the exit handler waits for one callback at most. */
static void run_upto(uint64_t seq)
{
    while (qemu_rcu_py_alive() && PySequence_Size(pending) > 0) {
        PyObject *entry = PySequence_GetItem(pending, 0);
        PyObject *fn, *res;
        uint64_t n;

        if (entry == NULL) {
            break;
        }
        n = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(entry, 0));
        if (n > seq) {
            Py_DECREF(entry);
            break;
        }
        /* The same entry: nothing ran since it was looked at. */
        Py_XDECREF(PyObject_CallNoArgs(pending_popleft));
        __atomic_store_n(&taken_upto, n, __ATOMIC_RELEASE);
        fn = running_fn = PyTuple_GET_ITEM(entry, 1);
        res = PyObject_Call(fn, PyTuple_GET_ITEM(entry, 2), PyTuple_GET_ITEM(entry, 3));
        running_fn = NULL;
        if (res == NULL) {
            PyErr_WriteUnraisable(fn);     /* nobody else can catch it */
        }
        Py_XDECREF(res);
        if (rcu_read_lock_held()) {
            /* The core aborts when this marker returns; say which callback. */
            PyErr_SetString(RcuError,
                            "RCU callback returned inside a read-side section it opened "
                            "(an RcuGuard it kept); the process cannot run grace "
                            "periods any more");
            PyErr_WriteUnraisable(fn);
        }
        Py_DECREF(entry);
    }
    PyErr_Clear();      /* from a broken queue only; nothing to report it to */
}

/* The callback thread stays a Python thread between batches: creating and
 * deleting a thread state each time would cost more than the callbacks.
 * A thread started in a forked child begins again with none. */
static __thread PyThreadState *kept_tstate;

void qemu_rcu_py_run_callbacks(uint64_t seq)
{
    if (kept_tstate == NULL) {
        (void)PyGILState_Ensure();      /* never released: the state stays */
        kept_tstate = PyThreadState_Get();
    } else {
        PyEval_RestoreThread(kept_tstate);
    }
    if (pending != NULL) {
        run_upto(seq);
    }
    PyEval_SaveThread();
}

/* ---- Queuing callbacks ----------------------------------------------------- */

/* Split call_rcu's arguments into fn, a tuple and a dict of its own. */
static int parse_call(PyObject *args, PyObject *kwargs,
                      PyObject **fn, PyObject **fn_args, PyObject **fn_kwargs)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);

    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "call_rcu() missing required argument 'fn'");
        return -1;
    }
    *fn = PyTuple_GET_ITEM(args, 0);
    if (!PyCallable_Check(*fn)) {
        PyErr_Format(PyExc_TypeError, "call_rcu() needs a callable, not %.200s",
                     Py_TYPE(*fn)->tp_name);
        return -1;
    }
    *fn_args = PyTuple_GetSlice(args, 1, n);
    if (*fn_args == NULL) {
        return -1;
    }
    /* A caller from C may pass a dict it goes on using: copy it. */
    *fn_kwargs = kwargs ? PyDict_Copy(kwargs) : PyDict_New();
    if (*fn_kwargs == NULL) {
        Py_DECREF(*fn_args);
        return -1;
    }
    return 0;
}

/* Append (seq, fn, args, kwargs) and queue marker m for it, or free m and
 * fail.  Every allocation that may run the garbage collector (and so any
 * __del__, which may queue callbacks of its own, or let another thread
 * run) comes first.  From the exit check to the marker, nothing runs Python
 * code or allocates a tracked object: the queue stays sorted, and exit
 * cannot close the way into Python behind our back. */
static int queue_entry(PyObject *fn, PyObject *args, PyObject *kwargs,
                       struct py_marker *m)
{
    PyObject *entry = PyTuple_New(4);
    PyObject *number, *res;

    if (entry == NULL) {
        goto fail;
    }
    if (!qemu_rcu_py_alive()) {
        PyErr_SetString(RcuError,
                        "call_rcu() called after the interpreter began exiting; "
                        "queued callbacks no longer run.  Call it before exit, "
                        "or from an atexit handler registered after importing "
                        "qemu_rcu");
        goto fail;
    }
    number = PyLong_FromUnsignedLongLong(last_seq + 1);
    if (number == NULL) {
        goto fail;
    }
    Py_INCREF(fn);
    Py_INCREF(args);
    Py_INCREF(kwargs);
    PyTuple_SET_ITEM(entry, 0, number);
    PyTuple_SET_ITEM(entry, 1, fn);
    PyTuple_SET_ITEM(entry, 2, args);
    PyTuple_SET_ITEM(entry, 3, kwargs);
    res = PyObject_CallOneArg(pending_append, entry);
    if (res == NULL) {
        goto fail;
    }
    Py_DECREF(res);
    Py_DECREF(entry);
    qemu_rcu_py_marker_queue(m, ++last_seq);
    return 0;

fail:
    Py_XDECREF(entry);
    free(m);
    return -1;
}

static PyObject *py_call_rcu(PyObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *fn, *fn_args, *fn_kwargs;
    struct py_marker *m;
    int rc;

    (void)self;
    if (check_bound() < 0 || parse_call(args, kwargs, &fn, &fn_args, &fn_kwargs) < 0) {
        return NULL;
    }
    m = qemu_rcu_py_marker_new();
    rc = m ? queue_entry(fn, fn_args, fn_kwargs, m) : (PyErr_NoMemory(), -1);
    Py_DECREF(fn_args);
    Py_DECREF(fn_kwargs);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _running_callback(): the Python callback being run, or None. */
static PyObject *running_callback(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    if (running_fn == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(running_fn);
    return running_fn;
}

/* _callbacks_taken(): the number of the last Python callback started. */
static PyObject *callbacks_taken(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromUnsignedLongLong(__atomic_load_n(&taken_upto, __ATOMIC_ACQUIRE));
}

/* _bind_callbacks(pending), once, from callbacks.py. */
static PyObject *bind_callbacks(PyObject *self, PyObject *deque)
{
    PyObject *append, *popleft;

    (void)self;
    append = PyObject_GetAttrString(deque, "append");
    popleft = append ? PyObject_GetAttrString(deque, "popleft") : NULL;
    if (popleft == NULL) {
        Py_XDECREF(append);
        return NULL;
    }
    Py_INCREF(deque);
    Py_XSETREF(pending, deque);
    Py_XSETREF(pending_append, append);
    Py_XSETREF(pending_popleft, popleft);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"call_rcu", (PyCFunction)(void (*)(void))py_call_rcu, METH_VARARGS | METH_KEYWORDS,
     "call_rcu(fn, /, *args, **kwargs)\n--\n\n"
     "Run fn(*args, **kwargs) once, after a grace period.\n\n"
     "It runs on the RCU callback thread holding the GIL; callbacks queued by\n"
     "one thread run in the order queued.  Never blocks, even inside a\n"
     "read-side section.  An exception in fn goes to sys.unraisablehook;\n"
     "later callbacks still run.  Raises RcuError once the interpreter has\n"
     "begun exiting (after qemu_rcu's atexit handler), when callbacks no\n"
     "longer run."},
    {"_running_callback", running_callback, METH_NOARGS,
     "The Python callback the RCU callback thread is running, or None."},
    {"_callbacks_taken", callbacks_taken, METH_NOARGS,
     "The number of the last Python callback the callback thread started."},
    {"_bind_callbacks", bind_callbacks, METH_O,
     "Hand callbacks.py's queue to call_rcu and the callback thread."},
    {NULL, NULL, 0, NULL},
};

int qemu_rcu_py_call_rcu_init(PyObject *module)
{
    PyObject *error = qemu_rcu_py_error_class("RcuError");

    if (error == NULL) {
        return -1;
    }
    Py_XSETREF(RcuError, error);
    return PyModule_AddFunctions(module, methods);
}
