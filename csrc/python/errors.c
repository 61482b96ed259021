/* SPDX-License-Identifier: MIT */
/* The exception classes, defined in Python (qemu_rcu/errors.py). */
#include "module.h"

PyObject *qemu_rcu_py_error_class(const char *name)
{
    PyObject *errors = PyImport_ImportModule("qemu_rcu.errors");
    PyObject *cls = errors ? PyObject_GetAttrString(errors, name) : NULL;

    Py_XDECREF(errors);
    if (cls != NULL && !PyExceptionClass_Check(cls)) {
        PyErr_Format(PyExc_TypeError,
                     "qemu_rcu.errors.%s is not an exception class", name);
        Py_CLEAR(cls);
    }
    return cls;
}
