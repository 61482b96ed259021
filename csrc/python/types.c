/* SPDX-License-Identifier: MIT */
/*
 * The Python read path (RcuGuard, RcuRef, RcuCellBase) written
 * directly against the CPython C API.
 *
 * A guard written in Python that makes cffi calls costs 200-350 ns per
 * section; these types keep `with RcuGuard() as g: cell.get(g).value` close to
 * the cost of `with lock: obj.value`.  They are compiled into the same
 * extension module as the core, so there is one RCU domain per process.
 *
 * Every function here runs with the GIL held, and the GIL is what keeps these
 * objects consistent.  The RCU depth counter is per thread and is only ever
 * touched by its own thread, so it needs no further locking.
 */
#ifdef Py_LIMITED_API
#error "types.c needs the full CPython API: build it without Py_LIMITED_API"
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "qemu_rcu.h"
#include "module.h"

#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COLD __attribute__((cold, noinline))

/* ---- Which thread is this? ---------------------------------------------- */

/*
 * Thread idents (pthread_t values) are reused as soon as a thread exits.  A
 * guard abandoned by a dead thread and then ended by a newcomer with the same
 * ident would decrement the newcomer's depth counter and unbalance it, so a
 * guard records a serial number that is never handed out twice.  The ident is
 * kept as well, for messages only.  After fork() the child's only thread keeps
 * its parent's tag, which is right: it also keeps its read-side sections.
 */
struct thread_tag {
    uint64_t serial;          /* 0 until this thread first needs one */
    unsigned long ident;
};

static QEMU_RCU_TLS struct thread_tag this_thread;
static uint64_t last_serial;

static inline uint64_t thread_serial(void)
{
    if (UNLIKELY(this_thread.serial == 0)) {
        this_thread.ident = PyThread_get_thread_ident();
        this_thread.serial =
            __atomic_add_fetch(&last_serial, 1, __ATOMIC_RELAXED);
    }
    return this_thread.serial;
}

/* In a forked child, threads numbered up to last_fork_serial other than the
 * forking thread stayed in the parent, and their sections with them. */
static uint64_t last_fork_serial;
static uint64_t forking_serial;

void qemu_rcu_py_types_fork_child(void)
{
    last_fork_serial = __atomic_load_n(&last_serial, __ATOMIC_RELAXED);
    forking_serial = this_thread.serial;
}

static bool stayed_in_parent(uint64_t serial)
{
    return serial <= last_fork_serial && serial != forking_serial;
}

/* ---- Guard state and errors ------------------------------------------------ */

/* Strong references to qemu_rcu.errors.RcuGuardExpired / RcuThreadError. */
static PyObject *GuardExpired;
static PyObject *ThreadError;

typedef struct {
    PyObject_HEAD
    uint64_t owner;           /* thread_serial() of the creating thread */
    unsigned long owner_ident;
    bool active;              /* still holds its rcu_read_lock() */
    bool warned;              /* told the user it was never ended */
} RcuGuardObject;

static COLD PyObject *wrong_thread(const RcuGuardObject *g)
{
    thread_serial();
    if (stayed_in_parent(g->owner)) {
        PyErr_Format(ThreadError,
                     "RcuGuard belongs to thread %lu of the parent process; "
                     "this process is a fork() child and does not hold its "
                     "section", g->owner_ident);
    } else if (g->owner_ident == this_thread.ident) {
        /* Two live threads never share an ident, so the owner is gone. */
        PyErr_Format(ThreadError,
                     "RcuGuard belongs to thread %lu, which has exited; this "
                     "thread reuses its id but does not own the guard",
                     g->owner_ident);
    } else {
        PyErr_Format(ThreadError,
                     "RcuGuard belongs to thread %lu, not this thread %lu; a "
                     "guard and the references taken under it can only be "
                     "used on the thread that created the guard",
                     g->owner_ident, this_thread.ident);
    }
    return NULL;
}

static COLD PyObject *guard_expired(void)
{
    PyErr_SetString(GuardExpired,
                    "RcuGuard was used after it ended; create a new guard");
    return NULL;
}

static COLD PyObject *ref_expired(void)
{
    PyErr_SetString(GuardExpired,
                    "RcuRef was used after its RcuGuard ended; take a new "
                    "reference under a live guard (cell.get(guard))");
    return NULL;
}

/* Messages name types as users write them: "RcuCell", not a dotted path. */
static const char *short_name(PyTypeObject *type)
{
    const char *dot = strrchr(type->tp_name, '.');
    return dot ? dot + 1 : type->tp_name;
}

/* Raising form of the two usual checks; thread first, because touching a
 * guard from a foreign thread is the more serious mistake. */
static inline int guard_check(const RcuGuardObject *g)
{
    if (UNLIKELY(g->owner != thread_serial())) {
        wrong_thread(g);
        return -1;
    }
    if (UNLIKELY(!g->active)) {
        guard_expired();
        return -1;
    }
    return 0;
}

/* Saving the pending exception around code that may raise (finalizers run
 * while one can be in flight); PyErr_Fetch is deprecated from 3.12 on. */
#if PY_VERSION_HEX >= 0x030C0000
typedef struct { PyObject *exc; } saved_exc;
static inline saved_exc exc_save(void)
{
    saved_exc s = { PyErr_GetRaisedException() };
    return s;
}
static inline void exc_restore(saved_exc s)
{
    PyErr_SetRaisedException(s.exc);
}
#else
typedef struct { PyObject *type, *value, *tb; } saved_exc;
static inline saved_exc exc_save(void)
{
    saved_exc s;
    PyErr_Fetch(&s.type, &s.value, &s.tb);
    return s;
}
static inline void exc_restore(saved_exc s)
{
    PyErr_Restore(s.type, s.value, s.tb);
}
#endif

/* ---- RcuGuard ------------------------------------------------------------ */

static PyTypeObject RcuGuard_Type;

static PyObject *guard_create(void)
{
    RcuGuardObject *g = PyObject_New(RcuGuardObject, &RcuGuard_Type);
    if (g == NULL) {
        return NULL;
    }
    g->owner = thread_serial();
    g->owner_ident = this_thread.ident;
    g->active = true;
    g->warned = false;
    rcu_read_lock();
    return (PyObject *)g;
}

/* Each guard owns exactly one lock/unlock pair of the thread's depth counter,
 * which is why guards may end in any order. */
static inline void guard_end(RcuGuardObject *g)
{
    g->active = false;
    rcu_read_unlock();
}

static PyObject *guard_new(PyTypeObject *Py_UNUSED(type), PyObject *args,
                           PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "RcuGuard() takes no arguments");
        return NULL;
    }
    return guard_create();
}

/* RcuGuard() without building an argument tuple or going through tp_init. */
static PyObject *guard_vectorcall(PyObject *Py_UNUSED(type),
                                  PyObject *const *Py_UNUSED(args),
                                  size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 0 ||
        (kwnames && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "RcuGuard() takes no arguments");
        return NULL;
    }
    return guard_create();
}

static PyObject *guard_enter(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    if (guard_check((RcuGuardObject *)self) < 0) {
        return NULL;
    }
    Py_INCREF(self);
    return self;
}

/* unlock() and __exit__(): end the section unless already ended. */
static PyObject *guard_unlock(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    RcuGuardObject *g = (RcuGuardObject *)self;

    if (UNLIKELY(g->owner != thread_serial())) {
        return wrong_thread(g);
    }
    if (g->active) {
        guard_end(g);
    }
    Py_RETURN_NONE;
}

/* __exit__(*exc_info): returns None, so exceptions always propagate. */
static PyObject *guard_exit(PyObject *self, PyObject *const *Py_UNUSED(args),
                            Py_ssize_t Py_UNUSED(nargs))
{
    return guard_unlock(self, NULL);
}

/* A guard is one section on one thread; a copy would be a second owner of
 * the same unlock. */
static PyObject *no_copy(PyObject *self, PyObject *Py_UNUSED(args))
{
    PyErr_Format(PyExc_TypeError,
                 "%s objects cannot be copied or pickled: they are bound to "
                 "one read-side section on one thread",
                 short_name(Py_TYPE(self)));
    return NULL;
}

static PyObject *guard_get_active(PyObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(((RcuGuardObject *)self)->active);
}

static PyObject *guard_repr(PyObject *self)
{
    RcuGuardObject *g = (RcuGuardObject *)self;
    return PyUnicode_FromFormat("<RcuGuard %s, owner thread %lu>",
                                g->active ? "active" : "ended",
                                g->owner_ident);
}

/* Runs only for a guard that was never ended (see guard_dealloc), and again
 * each time the guard dies after the warning, its source, resurrected it. */
static void guard_finalize(PyObject *self)
{
    RcuGuardObject *g = (RcuGuardObject *)self;
    bool mine;
    saved_exc saved;
    int rc;

    if (!g->active) {
        return;
    }
    mine = g->owner == thread_serial();
    if (!mine && stayed_in_parent(g->owner)) {
        /* A copy made by fork: its section was never open in this process
         * (the parent's own copy reports the leak there). */
        return;
    }
    if (mine) {
        /* Unlock first: the warning may run arbitrary Python code, and that
         * code should not find itself inside a leaked section. */
        guard_end(g);
    }
    if (g->warned) {
        return;
    }
    g->warned = true;
    saved = exc_save();
    if (mine) {
        rc = PyErr_ResourceWarning(
            self, 1,
            "RcuGuard of thread %lu was never ended; it was unlocked when it "
            "was collected. Use 'with RcuGuard() as g:' or call g.unlock()",
            g->owner_ident);
    } else {
        rc = PyErr_ResourceWarning(
            self, 1,
            "RcuGuard of thread %lu was never ended and was collected on "
            "thread %lu, which cannot unlock it: the read-side section stays "
            "open, delaying every grace period, until thread %lu exits. Use "
            "'with RcuGuard() as g:' or call g.unlock() on the owner thread",
            g->owner_ident, this_thread.ident, g->owner_ident);
    }
    if (rc < 0) {
        PyErr_WriteUnraisable(self);
    }
    exc_restore(saved);
}

static void guard_dealloc(PyObject *self)
{
    /* The warning may keep the guard alive (it is the warning's source). */
    if (((RcuGuardObject *)self)->active &&
        PyObject_CallFinalizerFromDealloc(self) < 0) {
        return;
    }
    PyObject_Free(self);
}

static PyMethodDef guard_methods[] = {
    {"__enter__", guard_enter, METH_NOARGS,
     PyDoc_STR("__enter__($self, /)\n--\n\nReturn the guard itself.  "
               "Raises RcuGuardExpired if the guard has ended, RcuThreadError "
               "on a thread other than its owner.")},
    {"__exit__", (PyCFunction)(void (*)(void))guard_exit, METH_FASTCALL,
     PyDoc_STR("__exit__($self, *exc_info)\n--\n\n"
               "End the read-side section unless unlock() already did; "
               "exceptions propagate.")},
    {"unlock", guard_unlock, METH_NOARGS,
     PyDoc_STR("unlock($self, /)\n--\n\n"
               "End the read-side section now; later calls do nothing. "
               "Raises RcuThreadError on a thread other than the owner.")},
    {"__reduce__", no_copy, METH_VARARGS, NULL},
    {"__reduce_ex__", no_copy, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef guard_getset[] = {
    {"active", guard_get_active, NULL,
     PyDoc_STR("True until the guard is ended by unlock() or __exit__()."),
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RcuGuard_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "qemu_rcu.RcuGuard",
    .tp_basicsize = sizeof(RcuGuardObject),
    .tp_dealloc = guard_dealloc,
    .tp_repr = guard_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR(
        "RcuGuard()\n--\n\n"
        "A read-side section on the calling thread, entered on creation.\n\n"
        "Use it as a context manager, or end it with unlock().  Guards nest "
        "and may end in any order; the thread leaves its read-side section "
        "when its last guard ends.  A guard belongs to the thread that "
        "created it."),
    .tp_methods = guard_methods,
    .tp_getset = guard_getset,
    .tp_new = guard_new,
    .tp_finalize = guard_finalize,
    .tp_vectorcall = guard_vectorcall,
};

/* ---- RcuRef -------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    RcuGuardObject *guard;    /* NULL only after tp_clear */
    PyObject *value;          /* never NULL while guard is set */
} RcuRefObject;

static PyTypeObject RcuRef_Type;

static PyObject *ref_create(RcuGuardObject *g, PyObject *value)
{
    RcuRefObject *r = PyObject_GC_New(RcuRefObject, &RcuRef_Type);
    if (r == NULL) {
        return NULL;
    }
    Py_INCREF(g);
    r->guard = g;
    Py_INCREF(value);
    r->value = value;
    PyObject_GC_Track(r);
    return (PyObject *)r;
}

static PyObject *ref_get_value(PyObject *self, void *Py_UNUSED(closure))
{
    RcuRefObject *r = (RcuRefObject *)self;
    RcuGuardObject *g = r->guard;

    if (UNLIKELY(g == NULL)) {
        return ref_expired();
    }
    if (UNLIKELY(g->owner != thread_serial())) {
        return wrong_thread(g);
    }
    if (UNLIKELY(!g->active)) {
        return ref_expired();
    }
    Py_INCREF(r->value);
    return r->value;
}

static PyObject *ref_get_active(PyObject *self, void *Py_UNUSED(closure))
{
    RcuGuardObject *g = ((RcuRefObject *)self)->guard;
    return PyBool_FromLong(g != NULL && g->active);
}

static PyObject *ref_repr(PyObject *self)
{
    RcuRefObject *r = (RcuRefObject *)self;

    if (r->guard == NULL) {
        return PyUnicode_FromString("<RcuRef cleared>");
    }
    /* The value's own repr could be long, recursive or thread-bound; its
     * type is enough to tell refs apart while debugging. */
    return PyUnicode_FromFormat("<RcuRef to %s, %s, owner thread %lu>",
                                Py_TYPE(r->value)->tp_name,
                                r->guard->active ? "active" : "expired",
                                r->guard->owner_ident);
}

static int ref_traverse(PyObject *self, visitproc visit, void *arg)
{
    RcuRefObject *r = (RcuRefObject *)self;
    Py_VISIT(r->guard);
    Py_VISIT(r->value);
    return 0;
}

static int ref_clear(PyObject *self)
{
    RcuRefObject *r = (RcuRefObject *)self;
    Py_CLEAR(r->guard);
    Py_CLEAR(r->value);
    return 0;
}

static void ref_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    ref_clear(self);
    PyObject_GC_Del(self);
}

static PyMethodDef ref_methods[] = {
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     PyDoc_STR("RcuRef[T], for type annotations.")},
    {"__reduce__", no_copy, METH_VARARGS, NULL},
    {"__reduce_ex__", no_copy, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ref_getset[] = {
    {"value", ref_get_value, NULL,
     PyDoc_STR("The referenced value.  Raises RcuGuardExpired once the guard "
               "has ended, RcuThreadError on a thread other than the "
               "guard's owner."),
     NULL},
    {"active", ref_get_active, NULL,
     PyDoc_STR("True while the guard this reference was taken under is "
               "active: until then, value may be read."),
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RcuRef_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "qemu_rcu.RcuRef",
    .tp_basicsize = sizeof(RcuRefObject),
    .tp_dealloc = ref_dealloc,
    .tp_repr = ref_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "A value read from an RcuCell under an RcuGuard.\n\n"
        "Created by RcuCell.get(guard); .value works only while the guard is "
        "active and only on the guard's thread."),
    .tp_traverse = ref_traverse,
    .tp_clear = ref_clear,
    .tp_methods = ref_methods,
    .tp_getset = ref_getset,
    /* no tp_new: only RcuCell.get() makes references */
};

/* ---- RcuCellBase --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *value;          /* NULL when empty; None is stored as NULL */
    bool initialised;         /* __init__ has run: it may not run again */
} RcuCellObject;

static int cell_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *value = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:RcuCell", kwlist,
                                     &value)) {
        return -1;
    }
    /* A second __init__ would swap the value with no grace period: readers
     * could still be using the old one. */
    if (((RcuCellObject *)self)->initialised) {
        PyObject *error = qemu_rcu_py_error_class("RcuError");
        if (error != NULL) {
            PyErr_Format(error, "%.200s.__init__() called on a cell that is already "
                         "initialised; publish a new value with set() or update()",
                         short_name(Py_TYPE(self)));
            Py_DECREF(error);
        }
        return -1;
    }
    if (value == Py_None) {
        value = NULL;
    }
    Py_XINCREF(value);
    ((RcuCellObject *)self)->value = value;
    ((RcuCellObject *)self)->initialised = true;
    return 0;
}

static PyObject *cell_get(PyObject *self, PyObject *guard)
{
    PyObject *value;

    if (UNLIKELY(!Py_IS_TYPE(guard, &RcuGuard_Type))) {
        PyErr_Format(PyExc_TypeError,
                     "%.200s.get() needs an RcuGuard, not %.200s",
                     short_name(Py_TYPE(self)), short_name(Py_TYPE(guard)));
        return NULL;
    }
    if (guard_check((RcuGuardObject *)guard) < 0) {
        return NULL;
    }
    value = ((RcuCellObject *)self)->value;
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    return ref_create((RcuGuardObject *)guard, value);
}

static PyObject *cell_raw_get(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *value = ((RcuCellObject *)self)->value;
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(value);
    return value;
}

/* The caller receives the previous value's reference: the writer side keeps
 * it alive until a grace period has passed. */
static PyObject *cell_exchange(PyObject *self, PyObject *new_value)
{
    RcuCellObject *c = (RcuCellObject *)self;
    PyObject *old = c->value;

    if (new_value == Py_None) {
        c->value = NULL;
    } else {
        Py_INCREF(new_value);
        c->value = new_value;
    }
    if (old == NULL) {
        Py_RETURN_NONE;
    }
    return old;
}

static int cell_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((RcuCellObject *)self)->value);
    return 0;
}

static int cell_clear(PyObject *self)
{
    Py_CLEAR(((RcuCellObject *)self)->value);
    return 0;
}

static void cell_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    cell_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef cell_methods[] = {
    {"get", cell_get, METH_O,
     PyDoc_STR("get($self, guard, /)\n--\n\n"
               "A reference to the current value, valid while guard is "
               "active; None when the cell is empty.  Raises TypeError if "
               "guard is not an RcuGuard, RcuGuardExpired if it has ended, "
               "RcuThreadError if it belongs to another thread.")},
    {"raw_get", cell_raw_get, METH_NOARGS,
     PyDoc_STR("raw_get($self, /)\n--\n\n"
               "The current value, without a guard or any check.")},
    {"_exchange", cell_exchange, METH_O,
     PyDoc_STR("_exchange($self, new, /)\n--\n\n"
               "Store new (None empties the cell) and hand the previous "
               "value to the caller, who must keep it alive until a grace "
               "period has passed.  For the writer side only.")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RcuCellBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "qemu_rcu.RcuCellBase",
    .tp_basicsize = sizeof(RcuCellObject),
    .tp_dealloc = cell_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "RcuCellBase(value=None)\n--\n\n"
        "Storage and read path of RcuCell: one reference, None meaning "
        "empty."),
    .tp_traverse = cell_traverse,
    .tp_clear = cell_clear,
    .tp_methods = cell_methods,
    .tp_init = cell_init,
    .tp_new = PyType_GenericNew,
    .tp_free = PyObject_GC_Del,
};

/* ---- Module-level functions and setup ------------------------------------ */

static PyObject *py_read_lock(PyObject *Py_UNUSED(module),
                              PyObject *Py_UNUSED(ignored))
{
    return guard_create();
}

static PyObject *py_read_lock_held(PyObject *Py_UNUSED(module),
                                   PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(rcu_read_lock_held());
}

static PyMethodDef module_functions[] = {
    {"read_lock", py_read_lock, METH_NOARGS,
     PyDoc_STR("read_lock($module, /)\n--\n\nThe same as RcuGuard().")},
    {"read_lock_held", py_read_lock_held, METH_NOARGS,
     PyDoc_STR("read_lock_held($module, /)\n--\n\n"
               "True inside a read-side section of the calling thread.")},
    {NULL, NULL, 0, NULL},
};

static int add_type(PyObject *module, const char *name, PyTypeObject *type)
{
    if (PyType_Ready(type) < 0) {
        return -1;
    }
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

int qemu_rcu_py_types_init(PyObject *module)
{
    PyObject *expired = qemu_rcu_py_error_class("RcuGuardExpired");
    PyObject *thread_error = expired ? qemu_rcu_py_error_class("RcuThreadError") : NULL;

    if (thread_error == NULL) {
        Py_XDECREF(expired);
        return -1;
    }
    Py_XSETREF(GuardExpired, expired);
    Py_XSETREF(ThreadError, thread_error);

    if (add_type(module, "RcuGuard", &RcuGuard_Type) < 0 ||
        add_type(module, "RcuRef", &RcuRef_Type) < 0 ||
        add_type(module, "RcuCellBase", &RcuCellBase_Type) < 0 ||
        PyModule_AddFunctions(module, module_functions) < 0) {
        return -1;
    }
    return 0;
}
