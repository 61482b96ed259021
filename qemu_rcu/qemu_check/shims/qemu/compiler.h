/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/compiler.h: the attribute and token-pasting
 * helpers that QEMU's RCU headers and unit tests use.  Written for qemu-rcu;
 * only names and behaviour follow QEMU.
 */
#ifndef QEMU_COMPILER_H
#define QEMU_COMPILER_H

#include <stddef.h>

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Paste two tokens after expanding them (QEMU: glue/xglue). */
#define xglue(a, b) a##b
#define glue(a, b) xglue(a, b)
#define stringify(s) tostring(s)
#define tostring(s) #s

#ifndef container_of
#define container_of(ptr, type, member)                                  \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define sizeof_field(type, field) sizeof(((type *)0)->field)
#define typeof_field(type, field) __typeof__(((type *)0)->field)

/* Typeof without const/volatile, for temporaries in statement macros: a
 * comma expression is an rvalue, so its type carries no qualifiers. */
#define typeof_strip_qual(expr) __typeof__((void)0, (expr))

#define QEMU_BUILD_BUG_MSG(cond, msg) _Static_assert(!(cond), msg)
#define QEMU_BUILD_BUG_ON(cond) QEMU_BUILD_BUG_MSG(cond, "not expecting: " #cond)
#define QEMU_BUILD_BUG_ON_ZERO(cond) (sizeof(struct { int : -!!(cond); }) * 0)

#define QEMU_PACKED __attribute__((packed))
#define QEMU_ALIGNED(n) __attribute__((aligned(n)))
#define QEMU_ALWAYS_INLINE __attribute__((always_inline))
#define QEMU_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#define QEMU_SENTINEL __attribute__((sentinel))
#define QEMU_FLATTEN __attribute__((flatten))
#define QEMU_UNUSED __attribute__((unused))
#define QEMU_NORETURN __attribute__((noreturn))
#define QEMU_ERROR(msg) __attribute__((error(msg)))
#define QEMU_FALLTHROUGH __attribute__((fallthrough))
#define QEMU_NONSTRING __attribute__((nonstring))

#endif /* QEMU_COMPILER_H */
