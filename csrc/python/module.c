/* SPDX-License-Identifier: MIT */
/*
 * qemu_rcu._native: the extension module that owns the process's RCU
 * domain.  The core is linked into it (and nowhere else); its init function
 * exports the core's API table as the capsule qemu_rcu._native._C_API, which
 * every other C user reaches it through (qemu_rcu.lib, the cffi module,
 * among them), and adds the Python layer's types and functions.
 */
#include "module.h"

#include <pthread.h>

#include "rcu_internal.h"

/* ---- The capsule ------------------------------------------------------- */

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


/* ---- The module ------------------------------------------------------- */

static void fork_prepare(void)
{
    qemu_rcu_py_callbacks_fork_prepare();
}

static void fork_parent(void)
{
    qemu_rcu_py_callbacks_fork_parent();
}

static void fork_child(void)
{
    qemu_rcu_py_types_fork_child();
    qemu_rcu_py_callbacks_fork_child();
}

static PyMethodDef module_functions[] = {
    {"_write_unraisable", write_unraisable, METH_VARARGS,
     "Report an exception through sys.unraisablehook."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "qemu_rcu._native",
    .m_doc = "The RCU domain of the process, and the Python layer's native parts.",
    .m_size = -1,               /* one domain per process: no re-import */
    .m_methods = module_functions,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *module = PyModule_Create(&native_module);
    PyObject *capsule;

    if (module == NULL) {
        return NULL;
    }
    capsule = PyCapsule_New((void *)&api_table, "qemu_rcu._native._C_API", NULL);
    if (capsule == NULL || PyModule_AddObject(module, "_C_API", capsule) < 0) {
        Py_XDECREF(capsule);
        goto fail;
    }
    if (qemu_rcu_py_types_init(module) < 0 || qemu_rcu_py_callbacks_init(module) < 0 ||
        qemu_rcu_py_waits_init(module) < 0) {
        goto fail;
    }
    /* Registered after the core's handlers (at load time): ours prepare
     * first, and run last in the child, after its new callback thread has
     * started. */
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) {
        PyErr_SetString(PyExc_OSError, "qemu_rcu: pthread_atfork failed");
        goto fail;
    }
    return module;

fail:
    Py_DECREF(module);
    return NULL;
}
