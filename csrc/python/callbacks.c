/* SPDX-License-Identifier: MIT */
/*
 * Python callbacks: call_rcu(fn, /, *args, **kwargs), the queue they wait
 * in, and when the RCU callback thread may enter Python to run them.  This
 * file is the queue's only owner; callbacks.py reads it through the
 * accessors at the end, and decides the exit policy with them.
 *
 * call_rcu numbers each callback and appends it to the queue, then passes a
 * small C callback carrying the same number (its grace-period head) to the
 * core's call_rcu1.  When a head runs, a grace period has passed for every
 * callback numbered up to its own, so the callback thread takes the GIL and
 * runs those, in order.  Heads come in runs, one per call_rcu: only the last
 * of a run takes the GIL.  docs/design.md, "A callback's life", has the
 * whole story, and "Fork and exit" the states below.
 */
#define PY_SSIZE_T_CLEAN
#include "module.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "rcu_internal.h"

/* ---- The queue (GIL held for every access) ------------------------------- */

struct py_callback {
    struct py_callback *next;
    uint64_t number;
    PyObject *fn, *args, *kwargs;
};

/* Sorted by number: numbering and appending happen together, with the GIL
 * held and no Python code in between. */
static struct py_callback *queue_first, *queue_last;
static Py_ssize_t queue_length;
/* The number given to the latest callback queued. */
static uint64_t last_queued;
/* The number of the latest callback taken off the queue to run.  Written
 * with the GIL held; the callback thread reads it without. */
static uint64_t last_started;
/* The callback running now, for exit's report of what stalled. */
static PyObject *running_fn;

static PyObject *RcuError;

static struct py_callback *queue_pop(void)
{
    struct py_callback *cb = queue_first;

    queue_first = cb->next;
    if (queue_first == NULL) {
        queue_last = NULL;
    }
    queue_length--;
    return cb;
}

static void py_callback_free(struct py_callback *cb)
{
    Py_DECREF(cb->fn);
    Py_DECREF(cb->args);
    Py_DECREF(cb->kwargs);
    free(cb);
}

/* ---- When the callback thread may enter Python --------------------------- */

/* Exit: open until the exit handler closes it.  calls_in_python counts the
 * callback thread's calls under way, so that closing can wait them out. */
static bool python_open = true;
static int calls_in_python;

/*
 * Around fork the callback thread must not take the GIL: in the parent the
 * forking thread holds it, and in the child Python is not usable until it
 * has re-initialised itself (callbacks.py's after-fork hook calls
 * _after_fork_in_child).  A child forked outside Python never gets there;
 * its heads are dropped, and its C callbacks still run.
 */
enum python_state { PY_READY, PY_FORKING, PY_CHILD_NOT_READY };
static int python_state = PY_READY;
static int state_before_fork;
static QemuRcuEvent python_state_changed;

/* True once Python may be entered; false if this head must be dropped. */
static bool wait_for_python(void)
{
    for (;;) {
        qemu_rcu_event_reset(&python_state_changed);
        switch (__atomic_load_n(&python_state, __ATOMIC_SEQ_CST)) {
        case PY_READY:
            return true;
        case PY_CHILD_NOT_READY:
            return false;
        default:
            qemu_rcu_event_wait(&python_state_changed);
        }
    }
}

static void set_python_state(int state)
{
    __atomic_store_n(&python_state, state, __ATOMIC_SEQ_CST);
    qemu_rcu_event_set(&python_state_changed);
}

void qemu_rcu_py_callbacks_fork_prepare(void)
{
    state_before_fork = __atomic_load_n(&python_state, __ATOMIC_SEQ_CST);
    set_python_state(PY_FORKING);
}

/* A child forked outside Python that forks again stays "not ready". */
void qemu_rcu_py_callbacks_fork_parent(void)
{
    set_python_state(state_before_fork);
}

/* The core's new callback thread may already wait in wait_for_python():
 * wake it to drop heads. */
void qemu_rcu_py_callbacks_fork_child(void)
{
    set_python_state(PY_CHILD_NOT_READY);
}

/* ---- Running callbacks (the callback thread) ----------------------------- */

/* Run the callbacks numbered up to upto.  GIL held.  Stops early once exit
 * has closed the way into Python, so that the exit handler waits for one
 * callback at most. */
static void run_due(uint64_t upto)
{
    while (__atomic_load_n(&python_open, __ATOMIC_SEQ_CST) &&
           queue_first != NULL && queue_first->number <= upto) {
        struct py_callback *cb = queue_pop();
        PyObject *res;

        __atomic_store_n(&last_started, cb->number, __ATOMIC_RELEASE);
        running_fn = cb->fn;
        res = PyObject_Call(cb->fn, cb->args, cb->kwargs);
        running_fn = NULL;
        if (res == NULL) {
            PyErr_WriteUnraisable(cb->fn);     /* nobody else can catch it */
        }
        Py_XDECREF(res);
        if (rcu_read_lock_held()) {
            /* The core aborts when this head returns; say which callback. */
            PyErr_SetString(RcuError,
                            "RCU callback returned inside a read-side section it "
                            "opened (an RcuGuard it kept); the process cannot run "
                            "grace periods any more");
            PyErr_WriteUnraisable(cb->fn);
        }
        py_callback_free(cb);
    }
}

/* The callback thread stays a Python thread between batches: creating and
 * deleting a thread state each time would cost more than the callbacks.
 * A thread started in a forked child begins again with none. */
static __thread PyThreadState *kept_tstate;

static void run_due_with_gil(uint64_t upto)
{
    if (kept_tstate == NULL) {
        (void)PyGILState_Ensure();      /* never released: the state stays */
        kept_tstate = PyThreadState_Get();
    } else {
        PyEval_RestoreThread(kept_tstate);
    }
    run_due(upto);
    PyEval_SaveThread();
}

struct grace_period_head {
    struct rcu_head rcu;        /* first, for the cast in head_run */
    uint64_t number;
};

/* The highest number a head has brought so far.  Callback thread only. */
static uint64_t last_due;

static void ended_in_python(void *arg)
{
    (void)arg;
    qemu_rcu_callbacks_replace_thread();
}

static void head_run(struct rcu_head *rcu)
{
    struct grace_period_head *head = (struct grace_period_head *)rcu;

    if (head->number > last_due) {
        last_due = head->number;
    }
    free(head);
    /* Most heads find their callback run already, by an earlier head. */
    if (qemu_rcu_next_callback_is(head_run) ||
        last_due <= __atomic_load_n(&last_started, __ATOMIC_ACQUIRE) ||
        !wait_for_python()) {
        return;
    }
    __atomic_fetch_add(&calls_in_python, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&python_open, __ATOMIC_SEQ_CST)) {
        /* Exit may give up on us in here (qemu_rcu_callbacks_replace_thread),
         * and the interpreter's finalization may end this thread. */
        qemu_rcu_callback_may_hang_begin();
        pthread_cleanup_push(ended_in_python, NULL);
        run_due_with_gil(last_due);
        pthread_cleanup_pop(0);
        if (!qemu_rcu_callback_may_hang_end()) {
            return;         /* replaced: closing no longer counts on us */
        }
    }
    __atomic_fetch_sub(&calls_in_python, 1, __ATOMIC_SEQ_CST);
}

/* Queue a head covering every callback numbered up to number. */
static void head_queue(struct grace_period_head *head, uint64_t number)
{
    head->number = number;
    call_rcu1(&head->rcu, head_run);
}

/* ---- call_rcu -------------------------------------------------------------- */

/* fn, and call_rcu's other arguments as a tuple and a dict of their own (new
 * references), or -1 with an exception set. */
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
    Py_INCREF(*fn);
    return 0;
}

/* Everything that may run Python code (and so the garbage collector, a
 * __del__ that queues callbacks of its own, or another thread) happens
 * before the exit check; from there to call_rcu1 nothing does, so the queue
 * stays sorted and exit cannot close the way into Python behind our back. */
static PyObject *py_call_rcu(PyObject *self, PyObject *args, PyObject *kwargs)
{
    struct py_callback *cb;
    struct grace_period_head *head;

    (void)self;
    cb = malloc(sizeof(*cb));
    head = malloc(sizeof(*head));
    if (cb == NULL || head == NULL) {
        free(cb);
        free(head);
        return PyErr_NoMemory();
    }
    if (parse_call(args, kwargs, &cb->fn, &cb->args, &cb->kwargs) < 0) {
        free(cb);
        free(head);
        return NULL;
    }
    if (!__atomic_load_n(&python_open, __ATOMIC_SEQ_CST)) {
        py_callback_free(cb);
        free(head);
        PyErr_SetString(RcuError,
                        "call_rcu() called after the interpreter began exiting; "
                        "queued callbacks no longer run.  Call it before exit, "
                        "or from an atexit handler registered after importing "
                        "qemu_rcu");
        return NULL;
    }
    cb->next = NULL;
    cb->number = ++last_queued;
    if (queue_last != NULL) {
        queue_last->next = cb;
    } else {
        queue_first = cb;
    }
    queue_last = cb;
    queue_length++;
    head_queue(head, cb->number);
    Py_RETURN_NONE;
}

/* ---- Accessors for callbacks.py ---------------------------------------- */

static PyObject *queued_count(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromSsize_t(queue_length);
}

static PyObject *first_queued(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromUnsignedLongLong(queue_first ? queue_first->number : 0);
}

static PyObject *last_queued_number(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromUnsignedLongLong(last_queued);
}

static PyObject *last_started_number(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromUnsignedLongLong(
        __atomic_load_n(&last_started, __ATOMIC_ACQUIRE));
}

static PyObject *running_callback(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    if (running_fn == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(running_fn);
    return running_fn;
}

static PyObject *accepting_callbacks(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyBool_FromLong(__atomic_load_n(&python_open, __ATOMIC_SEQ_CST));
}

/* _close_python(timeout_ns): see the method table. */
static PyObject *close_python(PyObject *self, PyObject *arg)
{
    long long timeout_ns = PyLong_AsLongLong(arg);
    int64_t deadline;
    bool done = true;

    (void)self;
    if (timeout_ns == -1 && PyErr_Occurred()) {
        return NULL;
    }
    __atomic_store_n(&python_open, false, __ATOMIC_SEQ_CST);
    deadline = qemu_rcu_clock_ns() + timeout_ns;
    /* A call under way may be waiting for the GIL. */
    Py_BEGIN_ALLOW_THREADS
    while (__atomic_load_n(&calls_in_python, __ATOMIC_SEQ_CST) > 0) {
        struct timespec nap = { 0, 100000 };

        if (qemu_rcu_clock_ns() >= deadline) {
            /* Left to the interpreter, which ends or parks threads that
             * want the GIL during finalization: C callbacks go on without
             * it. */
            qemu_rcu_callbacks_replace_thread();
            done = false;
            break;
        }
        nanosleep(&nap, NULL);
    }
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(done);
}

static PyObject *after_fork_in_child(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    struct grace_period_head *head = NULL;

    (void)self;
    if (queue_last != NULL) {
        head = malloc(sizeof(*head));
        if (head == NULL) {
            return PyErr_NoMemory();
        }
    }
    /* Forked from a Python callback, this thread's own call is under way. */
    if (!qemu_rcu_on_callback_thread()) {
        __atomic_store_n(&calls_in_python, 0, __ATOMIC_SEQ_CST);
    }
    set_python_state(PY_READY);
    /* Heads that came up before Python was ready were dropped, and the one
     * the parent's callback thread was running is gone: cover whatever is
     * still queued with a fresh one. */
    if (head != NULL) {
        head_queue(head, queue_last->number);
    }
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
    {"_queued_count", queued_count, METH_NOARGS,
     "How many Python callbacks wait in the queue."},
    {"_first_queued", first_queued, METH_NOARGS,
     "The number of the oldest callback in the queue, or 0 if it is empty."},
    {"_last_queued", last_queued_number, METH_NOARGS,
     "The number given to the latest callback queued (0: none yet)."},
    {"_last_started", last_started_number, METH_NOARGS,
     "The number of the latest callback the callback thread started."},
    {"_running_callback", running_callback, METH_NOARGS,
     "The Python callback the callback thread is running, or None."},
    {"_accepting_callbacks", accepting_callbacks, METH_NOARGS,
     "False once _close_python has been called (at exit)."},
    {"_close_python", close_python, METH_O,
     "_close_python(timeout_ns)\n--\n\n"
     "Stop running Python callbacks and refuse new ones, then wait up to\n"
     "timeout_ns for a callback under way.  False if it is still running:\n"
     "that thread is left to the interpreter's finalization, like a daemon\n"
     "thread, and a new callback thread runs the C callbacks."},
    {"_after_fork_in_child", after_fork_in_child, METH_NOARGS,
     "In a forked child, once Python is usable: let callbacks run again."},
    {NULL, NULL, 0, NULL},
};

int qemu_rcu_py_callbacks_init(PyObject *module)
{
    PyObject *error = qemu_rcu_py_error_class("RcuError");

    if (error == NULL) {
        return -1;
    }
    Py_XSETREF(RcuError, error);
    qemu_rcu_event_init(&python_state_changed, false);
    return PyModule_AddFunctions(module, methods);
}
