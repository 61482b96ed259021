/* SPDX-License-Identifier: MIT */
/*
 * What the files of qemu_rcu._native share.  module.c creates the module
 * and calls each file's init, which adds that file's types and functions;
 * module.c also registers the fork handlers, in the order below.  The files
 * call only downward: module.c into the others, all of them into errors.c
 * and the core.
 */
#ifndef QEMU_RCU_PYTHON_MODULE_H
#define QEMU_RCU_PYTHON_MODULE_H

#include <Python.h>

/* errors.c: qemu_rcu.errors.<name>, a new reference (NULL with an exception
 * set if it cannot be imported). */
PyObject *qemu_rcu_py_error_class(const char *name);

/* types.c: RcuGuard, RcuRef, RcuCellBase, read_lock, read_lock_held.  In a
 * forked child, types_fork_child notes which threads stayed in the parent. */
int qemu_rcu_py_types_init(PyObject *module);
void qemu_rcu_py_types_fork_child(void);

/* callbacks.c: call_rcu, the Python callback queue and its accessors, and
 * the state that keeps the callback thread out of Python across fork and
 * after exit.  Its fork handlers run prepare first, and child last (after
 * the core's child handler has started a new callback thread). */
int qemu_rcu_py_callbacks_init(PyObject *module);
void qemu_rcu_py_callbacks_fork_prepare(void);
void qemu_rcu_py_callbacks_fork_parent(void);
void qemu_rcu_py_callbacks_fork_child(void);

/* waits.c: _Wait, a grace period or a drain waited for in slices with the
 * GIL released, and _on_callback_thread. */
int qemu_rcu_py_waits_init(PyObject *module);

#endif
