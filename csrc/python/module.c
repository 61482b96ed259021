/* SPDX-License-Identifier: MIT */
/*
 * The binding's C side: the capsule other extensions import, the markers
 * that run Python callbacks on the RCU thread, and the gate that keeps that
 * thread out of a finalizing interpreter.
 */
#include <Python.h>

#include "py_glue.h"
#include "rcu_internal.h"

#include <pthread.h>
#include <time.h>
#include <stdlib.h>

/* ---- The capsule ------------------------------------------------------ */

static struct rcu_reader_data *reader_ptr(void)
{
    return get_ptr_rcu_reader();
}

static const struct qemu_rcu_api api_table = {
    .version = QEMU_RCU_API_VERSION,
    .size = sizeof(struct qemu_rcu_api),
    .gp_ctr = &rcu_gp_ctr,
    .membarrier_active = &rcu_membarrier_active,
    .get_ptr_rcu_reader = reader_ptr,
    .reader_first_lock = qemu_rcu_reader_first_lock,
    .reader_wake_writer = qemu_rcu_reader_wake_writer,
    .unbalanced_unlock = qemu_rcu_unbalanced_unlock,
    .rcu_register_thread = rcu_register_thread,
    .rcu_unregister_thread = rcu_unregister_thread,
    .synchronize_rcu = synchronize_rcu,
    .synchronize_rcu_expedited = synchronize_rcu_expedited,
    .get_state_synchronize_rcu = get_state_synchronize_rcu,
    .poll_state_synchronize_rcu = poll_state_synchronize_rcu,
    .call_rcu1 = call_rcu1,
    .drain_call_rcu = drain_call_rcu,
    .rcu_add_force_rcu_notifier = rcu_add_force_rcu_notifier,
    .rcu_remove_force_rcu_notifier = rcu_remove_force_rcu_notifier,
    .rcu_enable_atfork = rcu_enable_atfork,
    .rcu_disable_atfork = rcu_disable_atfork,
    .rcu_get_stats = rcu_get_stats,
    .free_head = qemu_rcu_free_head,
    .read_lock = qemu_rcu_read_lock,
    .read_unlock = qemu_rcu_read_unlock,
};

/* _write_unraisable(exc, obj): report exc through sys.unraisablehook, the
 * way CPython reports errors nobody can catch. */
static PyObject *write_unraisable(PyObject *self, PyObject *args)
{
    PyObject *exc, *obj;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:_write_unraisable", &exc, &obj)) {
        return NULL;
    }
    if (!PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "exc must be an exception instance");
        return NULL;
    }
    Py_INCREF(Py_TYPE(exc));
    Py_INCREF(exc);
    PyErr_Restore((PyObject *)Py_TYPE(exc), exc, PyException_GetTraceback(exc));
    PyErr_WriteUnraisable(obj);
    Py_RETURN_NONE;
}

static PyMethodDef write_unraisable_def = {
    "_write_unraisable", write_unraisable, METH_VARARGS,
    "Report an exception through sys.unraisablehook.",
};

static char setup_error[256];

const char *qemu_rcu_py_setup_error(void)
{
    return setup_error;
}

static int setup_module(PyObject *mod)
{
    PyObject *cap, *fn;
    int rc;

    cap = PyCapsule_New((void *)&api_table, "qemu_rcu._C_API", NULL);
    if (cap == NULL) {
        return -1;
    }
    rc = PyObject_SetAttrString(mod, "_C_API", cap);
    Py_DECREF(cap);
    if (rc < 0) {
        return -1;
    }
    fn = PyCFunction_NewEx(&write_unraisable_def, NULL, NULL);
    if (fn == NULL) {
        return -1;
    }
    rc = PyObject_SetAttrString(mod, "_write_unraisable", fn);
    Py_DECREF(fn);
    if (rc < 0) {
        return -1;
    }
    if (qemu_rcu_py_call_rcu_init(mod) < 0) {
        return -1;
    }
    return qemu_rcu_py_types_init(mod);
}

/* ---- Python callbacks -------------------------------------------------- */

struct py_marker {
    struct rcu_head head;     /* first, for the cast in py_marker_run */
    uint64_t seq;
};

/* The interpreter may be entered while alive; in_python counts the callback
 * thread's calls under way, so shutdown can wait them out. */
static int python_alive = 1;
static int in_python;

/*
 * Around fork the callback thread must not take the GIL: in the parent the
 * forking thread holds it, and in the child Python is not usable until it
 * has re-initialised itself (its after-fork hook says so, and queues a
 * marker covering every pending callback).  A child forked outside Python
 * never says so; its markers are dropped and its C callbacks still run.
 */
enum { PY_READY, PY_FORKING, PY_CHILD_NOT_READY };
static int python_state = PY_READY;
static QemuEvent python_state_changed;

/* True once Python may be entered; false if this marker must be dropped. */
static bool wait_for_python(void)
{
    for (;;) {
        qemu_event_reset(&python_state_changed);
        switch (__atomic_load_n(&python_state, __ATOMIC_SEQ_CST)) {
        case PY_READY:
            return true;
        case PY_CHILD_NOT_READY:
            return false;
        default:
            qemu_event_wait(&python_state_changed);
        }
    }
}

static void set_python_state(int state)
{
    __atomic_store_n(&python_state, state, __ATOMIC_SEQ_CST);
    qemu_event_set(&python_state_changed);
}

static void ended_in_python(void *arg)
{
    (void)arg;
    rcu_callbacks_take_over();
}

/* The highest number among markers run so far whose callbacks may not have
 * run yet.  Callback thread only. */
static uint64_t due_upto;

static void py_marker_run(struct rcu_head *head)
{
    struct py_marker *m = (struct py_marker *)head;

    if (m->seq > due_upto) {
        due_upto = m->seq;
    }
    free(m);
    /* Markers come in runs (one per call_rcu): let the last of a run take
     * the GIL once for all of them. */
    if (rcu_next_callback_is(py_marker_run) ||
        !qemu_rcu_py_callbacks_due(due_upto) || !wait_for_python()) {
        return;
    }
    __atomic_fetch_add(&in_python, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&python_alive, __ATOMIC_SEQ_CST)) {
        /* Exit may give up on us in here (rcu_callbacks_take_over), and the
         * interpreter's finalization may end this thread (pthread_exit). */
        rcu_callbacks_begin_unbounded();
        pthread_cleanup_push(ended_in_python, NULL);
        qemu_rcu_py_run_callbacks(due_upto);
        pthread_cleanup_pop(0);
        if (!rcu_callbacks_end_unbounded()) {
            return;         /* replaced: shutdown no longer counts on us */
        }
    }
    __atomic_fetch_sub(&in_python, 1, __ATOMIC_SEQ_CST);
}

/* The state to return to in the parent: a child forked outside Python that
 * forks again must stay "not ready". */
static int state_before_fork;

static void fork_prepare(void)
{
    state_before_fork = __atomic_load_n(&python_state, __ATOMIC_SEQ_CST);
    set_python_state(PY_FORKING);
}

static void fork_parent(void)
{
    set_python_state(state_before_fork);
}

/* Runs after the core's child handler has started the new callback thread,
 * which may already wait in wait_for_python(): wake it to drop markers. */
static void fork_child(void)
{
    qemu_rcu_py_types_fork_child();
    set_python_state(PY_CHILD_NOT_READY);
}

struct py_marker *qemu_rcu_py_marker_new(void)
{
    return malloc(sizeof(struct py_marker));
}

void qemu_rcu_py_marker_queue(struct py_marker *m, uint64_t seq)
{
    m->seq = seq;
    call_rcu1(&m->head, py_marker_run);
}

int qemu_rcu_py_enqueue(uint64_t seq)
{
    struct py_marker *m = qemu_rcu_py_marker_new();

    if (m == NULL) {
        return -1;
    }
    qemu_rcu_py_marker_queue(m, seq);
    return 0;
}

bool qemu_rcu_py_alive(void)
{
    return __atomic_load_n(&python_alive, __ATOMIC_SEQ_CST);
}

bool qemu_rcu_py_shutdown(int64_t timeout_ns)
{
    int64_t deadline = qemu_rcu_clock_ns() + timeout_ns;

    __atomic_store_n(&python_alive, 0, __ATOMIC_SEQ_CST);
    /* A call under way may be waiting for the GIL, which our caller gave up
     * for the duration of this function. */
    while (__atomic_load_n(&in_python, __ATOMIC_SEQ_CST) > 0) {
        struct timespec nap = { 0, 100000 };

        if (qemu_rcu_clock_ns() >= deadline) {
            /* Left to the interpreter, which ends or parks threads that
             * want the GIL during finalization: C callbacks go on without
             * it. */
            rcu_callbacks_take_over();
            return false;
        }
        nanosleep(&nap, NULL);
    }
    return true;
}

void qemu_rcu_py_after_fork_child(void)
{
    /* Forked from a Python callback, this thread's own call is under way. */
    if (!rcu_on_callback_thread()) {
        __atomic_store_n(&in_python, 0, __ATOMIC_SEQ_CST);
    }
    set_python_state(PY_READY);
}

/* ---- Set-up ------------------------------------------------------------ */

int qemu_rcu_py_setup(void)
{
    /* cffi released the GIL for this call; the C API needs it back. */
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *mod = PyImport_ImportModule("qemu_rcu._qemu_rcu_cffi");
    int rc = mod ? setup_module(mod) : -1;

    Py_XDECREF(mod);
    if (rc == 0) {
        /* Registered after the core's handlers: ours prepare first and run
         * last in the child, after its new callback thread has started. */
        qemu_event_init(&python_state_changed, false);
        if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) {
            PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
            rc = -1;
        }
    }
    if (rc < 0) {
        PyObject *type, *value, *tb, *text;
        PyErr_Fetch(&type, &value, &tb);
        text = value ? PyObject_Str(value) : NULL;
        snprintf(setup_error, sizeof(setup_error), "%s",
                 text && PyUnicode_Check(text) ? PyUnicode_AsUTF8(text) : "unknown error");
        Py_XDECREF(text);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    return rc;
}
