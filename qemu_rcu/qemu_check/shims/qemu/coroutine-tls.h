/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/coroutine-tls.h: the QEMU_*_CO_TLS macros that
 * give a thread-local variable get_X(), set_X() and get_ptr_X() accessors.
 * QEMU makes the accessors non-inline so that a coroutine moving between
 * threads re-reads the thread pointer; plain __thread is enough here, where
 * no coroutines run.  Written for qemu-rcu; only names follow QEMU.
 */
#ifndef QEMU_COROUTINE_TLS_H
#define QEMU_COROUTINE_TLS_H

#define QEMU_DECLARE_CO_TLS(type, var)                                   \
    type get_##var(void);                                                \
    void set_##var(type v);                                              \
    type *get_ptr_##var(void);

#define QEMU_DEFINE_CO_TLS(type, var)                                    \
    static __thread type qemu_shim_co_tls_##var;                         \
    __attribute__((noinline)) type get_##var(void)                       \
    { return qemu_shim_co_tls_##var; }                                   \
    __attribute__((noinline)) void set_##var(type v)                     \
    { qemu_shim_co_tls_##var = v; }                                      \
    __attribute__((noinline)) type *get_ptr_##var(void)                  \
    { return &qemu_shim_co_tls_##var; }

#define QEMU_DEFINE_STATIC_CO_TLS(type, var)                             \
    static __thread type qemu_shim_co_tls_##var;                         \
    static __attribute__((noinline, unused)) type get_##var(void)        \
    { return qemu_shim_co_tls_##var; }                                   \
    static __attribute__((noinline, unused)) void set_##var(type v)      \
    { qemu_shim_co_tls_##var = v; }                                      \
    static __attribute__((noinline, unused)) type *get_ptr_##var(void)   \
    { return &qemu_shim_co_tls_##var; }

#endif /* QEMU_COROUTINE_TLS_H */
