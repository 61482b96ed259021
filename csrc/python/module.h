/* SPDX-License-Identifier: MIT */
/* The Python binding's own C helpers (compiled into the extension only). */
#ifndef QEMU_RCU_PY_GLUE_H
#define QEMU_RCU_PY_GLUE_H

#include <stdbool.h>
#include <stdint.h>

/* Publish the capsule and the native types on the cffi module.  Returns 0,
 * or -1 with the reason in qemu_rcu_py_setup_error(). */
int qemu_rcu_py_setup(void);
const char *qemu_rcu_py_setup_error(void);

/* Queue a marker that runs Python callbacks up to seq after a grace
 * period.  Returns -1 if out of memory. */
int qemu_rcu_py_enqueue(uint64_t seq);
/* The same in two steps, so that only the first can fail: a marker from
 * malloc (NULL if out of memory; free() it if unused), then queue it. */
struct py_marker;
struct py_marker *qemu_rcu_py_marker_new(void);
void qemu_rcu_py_marker_queue(struct py_marker *m, uint64_t seq);

/* Stop calling into Python, waiting up to timeout_ns for a call in progress
 * to return.  False if it is still running: that thread is then left to the
 * interpreter's finalization, like a daemon thread, and a new callback
 * thread runs the C callbacks. */
bool qemu_rcu_py_shutdown(int64_t timeout_ns);
/* In a forked child: forget calls that were in flight in the parent. */
void qemu_rcu_py_after_fork_child(void);
/* False once qemu_rcu_py_shutdown() has begun. */
bool qemu_rcu_py_alive(void);

/* py_types.c: add RcuGuard, RcuRef and RcuCellBase to the module (0, or -1
 * with an exception set); qemu_rcu.errors.<name> (a new reference, or NULL
 * with an exception); in a forked child, note which threads stayed in the
 * parent. */
#ifdef Py_PYTHON_H
int qemu_rcu_py_types_init(PyObject *module);
PyObject *qemu_rcu_py_error_class(const char *name);
#endif
void qemu_rcu_py_types_fork_child(void);

/* py_call_rcu.c: add call_rcu and _bind_callbacks to the module. */
#ifdef Py_PYTHON_H
int qemu_rcu_py_call_rcu_init(PyObject *module);
#endif
/* False if every callback numbered up to seq has been taken already (most
 * markers find their callbacks run by an earlier one). */
bool qemu_rcu_py_callbacks_due(uint64_t seq);
/* Take the GIL and run the queued callbacks numbered up to seq. */
void qemu_rcu_py_run_callbacks(uint64_t seq);

#endif
