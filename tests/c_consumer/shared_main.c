/* SPDX-License-Identifier: MIT */
/* Two files sharing one capsule pointer: this one defines it. */
#include <Python.h>
#define QEMU_RCU_API_EXTERN
#define QEMU_RCU_API_DEFINE
#include "qemu_rcu.h"
int other(void);
static PyObject *f(PyObject *s, PyObject *u) { (void)s; (void)u; return PyLong_FromLong(other()); }
static PyMethodDef m[] = {{"f", f, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "rcu_shared", NULL, -1, m, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_rcu_shared(void) { if (import_qemu_rcu() < 0) return NULL; return PyModule_Create(&d); }
