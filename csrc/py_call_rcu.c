/*
 * call_rcu(fn, /, *args, **kwargs) for Python: the queuing half of
 * callbacks.py, in C because it is the write side's hot path.
 *
 * A callback becomes an entry (seq, fn, args, kwargs) at the end of
 * callbacks.py's _pending deque, and a marker with the same number goes
 * through call_rcu1(); the marker runs every entry numbered up to its own.
 * Numbering and appending happen with the GIL held and without running any
 * Python code in between, so the deque stays sorted without a lock.
 */
#include <Python.h>

#include "py_glue.h"
#include "qemu_rcu.h"

/* Handed over by callbacks.py when it is imported (_bind_callbacks). */
static PyObject *pending;           /* the _pending deque */
static PyObject *pending_append;    /* its bound append: calling it allocates nothing */
static PyObject *pending_popleft;
static PyObject *RcuError;          /* qemu_rcu.errors.RcuError */
static PyObject *call_after_exit;   /* _call_after_exit(fn, args, kwargs) */
static uint64_t last_seq;           /* GIL held */

static int check_bound(void)
{
    if (pending == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "qemu_rcu.callbacks is not initialised");
        return -1;
    }
    return 0;
}

/* Append (seq, fn, args, kwargs) and return it, with its number in *seq. */
static PyObject *append_entry(PyObject *fn, PyObject *args, PyObject *kwargs,
                              uint64_t *seq)
{
    /* The tuple first: allocating it may run the garbage collector, and so
     * any __del__, which may queue callbacks of its own.  From taking the
     * number to appending, nothing allocates a tracked object or runs
     * Python code, so nothing can queue in between. */
    PyObject *entry = PyTuple_New(4);
    PyObject *number, *res;

    if (entry == NULL) {
        return NULL;
    }
    number = PyLong_FromUnsignedLongLong(last_seq + 1);
    if (number == NULL) {
        Py_DECREF(entry);
        return NULL;
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
        Py_DECREF(entry);
        return NULL;
    }
    Py_DECREF(res);
    *seq = ++last_seq;
    return entry;
}

/* ---- Running callbacks ---------------------------------------------------- */

/* Every entry numbered up to this has been taken off the queue. */
static uint64_t taken_upto;

bool qemu_rcu_py_callbacks_due(uint64_t seq)
{
    return seq > __atomic_load_n(&taken_upto, __ATOMIC_ACQUIRE);
}

/* Run the entries numbered up to seq; a grace period has passed since each
 * was queued.  GIL held. */
static void run_upto(uint64_t seq)
{
    while (PySequence_Size(pending) > 0) {
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
        fn = PyTuple_GET_ITEM(entry, 1);
        res = PyObject_Call(fn, PyTuple_GET_ITEM(entry, 2), PyTuple_GET_ITEM(entry, 3));
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

/* _run_callbacks(seq): the same, on the calling thread (after exit). */
static PyObject *run_callbacks(PyObject *self, PyObject *arg)
{
    unsigned long long seq = PyLong_AsUnsignedLongLong(arg);

    (void)self;
    if (seq == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (check_bound() < 0) {
        return NULL;
    }
    run_upto(seq);
    Py_RETURN_NONE;
}

/* ---- Queuing callbacks ----------------------------------------------------- */

/* Split call_rcu's arguments into fn, a tuple and a dict of its own. */
static int parse_call(const char *name, PyObject *args, PyObject *kwargs,
                      PyObject **fn, PyObject **fn_args, PyObject **fn_kwargs)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);

    if (n < 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument 'fn'", name);
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
    /* CPython passes a new dict, or NULL for none. */
    *fn_kwargs = kwargs ? (Py_INCREF(kwargs), kwargs) : PyDict_New();
    if (*fn_kwargs == NULL) {
        Py_DECREF(*fn_args);
        return -1;
    }
    return 0;
}

static PyObject *py_call_rcu(PyObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *fn, *fn_args, *fn_kwargs, *entry, *res = NULL;
    uint64_t seq;

    (void)self;
    if (check_bound() < 0 ||
        parse_call("call_rcu", args, kwargs, &fn, &fn_args, &fn_kwargs) < 0) {
        return NULL;
    }
    if (!qemu_rcu_py_alive()) {
        /* Exit has begun: the callback thread no longer runs Python. */
        res = PyObject_CallFunctionObjArgs(call_after_exit, fn, fn_args, fn_kwargs, NULL);
    } else if ((entry = append_entry(fn, fn_args, fn_kwargs, &seq)) != NULL) {
        if (qemu_rcu_py_enqueue(seq) == 0) {
            res = Py_None;
            Py_INCREF(res);
        } else {
            /* Still the last entry: nothing has run since it was added. */
            Py_XDECREF(PyObject_CallMethod(pending, "pop", NULL));
            PyErr_SetString(PyExc_MemoryError, "call_rcu(): out of memory");
        }
        Py_DECREF(entry);
    }
    Py_DECREF(fn_args);
    Py_DECREF(fn_kwargs);
    return res;
}

/* _append_callback(fn, args, kwargs): queue an entry with no marker (the
 * after-exit path runs it itself) and return it. */
static PyObject *append_callback(PyObject *self, PyObject *args)
{
    PyObject *fn, *fn_args, *fn_kwargs;
    uint64_t seq;

    (void)self;
    if (check_bound() < 0 ||
        !PyArg_ParseTuple(args, "OO!O!:_append_callback", &fn, &PyTuple_Type, &fn_args,
                          &PyDict_Type, &fn_kwargs)) {
        return NULL;
    }
    return append_entry(fn, fn_args, fn_kwargs, &seq);
}

/* _bind_callbacks(pending, call_after_exit), once, from callbacks.py. */
static PyObject *bind_callbacks(PyObject *self, PyObject *args)
{
    PyObject *deque, *after_exit, *append, *popleft;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:_bind_callbacks", &deque, &after_exit)) {
        return NULL;
    }
    append = PyObject_GetAttrString(deque, "append");
    popleft = append ? PyObject_GetAttrString(deque, "popleft") : NULL;
    if (popleft == NULL) {
        Py_XDECREF(append);
        return NULL;
    }
    Py_INCREF(deque);
    Py_INCREF(after_exit);
    Py_XSETREF(pending, deque);
    Py_XSETREF(pending_append, append);
    Py_XSETREF(pending_popleft, popleft);
    Py_XSETREF(call_after_exit, after_exit);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"call_rcu", (PyCFunction)(void (*)(void))py_call_rcu, METH_VARARGS | METH_KEYWORDS,
     "call_rcu(fn, /, *args, **kwargs)\n--\n\n"
     "Run fn(*args, **kwargs) once, after a grace period.\n\n"
     "It runs on the RCU callback thread holding the GIL; callbacks queued by\n"
     "one thread run in the order queued.  Never blocks, even inside a\n"
     "read-side section.  An exception in fn goes to sys.unraisablehook;\n"
     "later callbacks still run.\n\n"
     "Once the interpreter has begun exiting (after qemu_rcu's atexit\n"
     "handler), the callback thread no longer enters Python: call_rcu then\n"
     "waits for the grace period itself and runs fn on the calling thread."},
    {"_append_callback", append_callback, METH_VARARGS,
     "Queue (seq, fn, args, kwargs) without a marker and return it."},
    {"_run_callbacks", run_callbacks, METH_O,
     "Run the queued callbacks numbered up to seq, on this thread."},
    {"_bind_callbacks", bind_callbacks, METH_VARARGS,
     "Hand callbacks.py's queue and after-exit path to call_rcu."},
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
