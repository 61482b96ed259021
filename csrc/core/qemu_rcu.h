/* SPDX-License-Identifier: MIT */
/*
 * qemu_rcu.h: userspace read-copy-update with QEMU's C API.
 *
 * Readers bracket their use of shared data with rcu_read_lock() and
 * rcu_read_unlock(); they never block and never wait for writers.  A writer
 * publishes a new version with qatomic_rcu_set() and frees the old one only
 * after a grace period, either by waiting in synchronize_rcu() or by handing
 * it to call_rcu1(), whose callback runs on a single background thread once
 * every reader that could still see the old version has left its section.
 *
 * Two ways to use this header:
 *
 *  - Inside the package, or in a program linked against the core, define
 *    QEMU_RCU_CORE before including it; every function is a direct call.
 *  - In any other C extension, include it as is, call import_qemu_rcu() once
 *    before any other RCU call (from the module's init function, or any
 *    thread: it takes the GIL itself) and use the same names: they reach
 *    the one RCU domain of the process through the capsule
 *    "qemu_rcu._native._C_API".  Every translation unit that uses RCU calls
 *    import_qemu_rcu() once, or shares one pointer (QEMU_RCU_API_EXTERN).
 *
 * Differences from QEMU, all deliberate (docs/design.md, "Differences from
 * QEMU"): a thread is registered on its first rcu_read_lock() and
 * unregistered when it exits; registering twice or unregistering twice is
 * harmless; synchronize_rcu(), drain_call_rcu() or rcu_unregister_thread()
 * inside the caller's own read-side section, drain_call_rcu() from a
 * callback, a callback that returns inside a section it opened, and an
 * unbalanced rcu_read_unlock() print what went wrong and abort instead of
 * hanging or corrupting state; the grace-period counter is snapshotted at
 * full width; a process forked inside a read-side section stays inside it
 * in the child and keeps working.
 */
#ifndef QEMU_RCU_H
#define QEMU_RCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * QEMU's own headers, where the includer can reach them: code that uses both
 * QEMU's headers and this one then gets QEMU's definitions of the names the
 * two share (qatomic_rcu_read/set, Notifier), whatever the order of the
 * includes.  Define QEMU_RCU_NO_QEMU_HEADERS to keep them out.
 */
#if !defined(QEMU_RCU_NO_QEMU_HEADERS) && defined(__has_include)
#if !defined(qatomic_rcu_read) && __has_include(<qemu/atomic.h>)
#include <qemu/atomic.h>
#endif
#if !defined(QEMU_NOTIFY_H) && __has_include(<qemu/notify.h>)
#include <qemu/notify.h>
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when struct qemu_rcu_api or the inline read path changes
 * incompatibly. */
#define QEMU_RCU_API_VERSION 1

/* ---- Types shared by both modes ---------------------------------------- */

struct rcu_head;
typedef void RCUCBFunc(struct rcu_head *head);

/* The link a callback needs; embed it (at offset 0 for call_rcu/free_rcu). */
struct rcu_head {
    struct rcu_head *next;
    RCUCBFunc *func;
};

/* A force-RCU notifier: notify(n, NULL) asks its reader to leave its section
 * soon.  It runs on the writer's thread with the registry lock held, so it
 * must only kick the reader (set a flag, send a wake-up), never block.  With
 * QEMU's qemu/notify.h, Notifier is QEMU's type: the core uses its notify
 * member and the pointer after it, where QEMU's list entry begins. */
#ifdef QEMU_NOTIFY_H
#ifdef __cplusplus
static_assert(offsetof(Notifier, notify) == 0 && sizeof(Notifier) >= 2 * sizeof(void *),
              "QEMU's Notifier must start with notify and a pointer");
#else
_Static_assert(offsetof(Notifier, notify) == 0 && sizeof(Notifier) >= 2 * sizeof(void *),
               "QEMU's Notifier must start with notify and a pointer");
#endif
#else
typedef struct Notifier Notifier;
struct Notifier {
    void (*notify)(Notifier *notifier, void *data);
    Notifier *next_;                       /* private */
};
#endif

/* depth of a thread that is not in the reader registry (it has not locked
 * yet, or has unregistered): its next rcu_read_lock() registers it. */
#define QEMU_RCU_DEPTH_UNREGISTERED (~0U)

/* One per thread.  The first three fields (ctr, waiting, depth) are read by
 * the inline fast path; the rest belongs to the core. */
struct rcu_reader_data {
    unsigned long ctr;      /* 0 outside a section, else the counter snapshot */
    bool waiting;           /* a writer wants to hear about the next unlock */
    /* Nesting depth, or QEMU_RCU_DEPTH_UNREGISTERED; only the owner touches
     * it.  One field for both, so that the outermost lock tests one word. */
    unsigned depth;
    struct rcu_reader_data *next_, **pprev_;
    Notifier *force_rcu_;
    bool queuing_thread_;   /* has queued callbacks: on the list fork checks */
    bool mid_enqueue_;      /* between taking the queue's tail and linking */
    struct rcu_reader_data *next_queuing_thread_;
};

/* Counters from rcu_get_stats(); each is a snapshot, not a consistent set. */
struct rcu_stats {
    uint64_t grace_periods;       /* grace periods completed */
    uint64_t callbacks_queued;    /* call_rcu1() calls so far */
    uint64_t callbacks_invoked;   /* callbacks that have returned */
    uint64_t callbacks_pending;   /* queued and not yet started */
    unsigned registered_threads;  /* threads in the reader registry */
    bool membarrier;              /* readers pay only a compiler barrier */
};

/* What the capsule "qemu_rcu._native._C_API" points to (see
 * import_qemu_rcu()). */
struct qemu_rcu_api {
    unsigned int version;                 /* QEMU_RCU_API_VERSION */
    unsigned int size;                    /* sizeof(struct qemu_rcu_api) */
    unsigned long *gp_ctr;
    const bool *membarrier_active;
    struct rcu_reader_data *(*get_ptr_rcu_reader)(void);
    void (*reader_first_lock)(struct rcu_reader_data *r);
    void (*reader_wake_writer)(struct rcu_reader_data *r);
    void (*unbalanced_unlock)(void);
    void (*rcu_register_thread)(void);
    void (*rcu_unregister_thread)(void);
    void (*synchronize_rcu)(void);
    void (*synchronize_rcu_expedited)(void);
    unsigned long (*get_state_synchronize_rcu)(void);
    bool (*poll_state_synchronize_rcu)(unsigned long cookie);
    void (*call_rcu1)(struct rcu_head *head, RCUCBFunc *func);
    void (*drain_call_rcu)(void);
    void (*rcu_add_force_rcu_notifier)(Notifier *n);
    void (*rcu_remove_force_rcu_notifier)(Notifier *n);
    void (*rcu_enable_atfork)(void);
    void (*rcu_disable_atfork)(void);
    void (*rcu_get_stats)(struct rcu_stats *out);
    void (*free_head)(struct rcu_head *head);
    void (*read_lock)(void);              /* out-of-line rcu_read_lock() */
    void (*read_unlock)(void);            /* out-of-line rcu_read_unlock() */
};

/* Thread-local data on the read path uses the initial-exec model: a plain
 * %fs-relative access instead of a __tls_get_addr() call, which would more
 * than double the cost of a lock/unlock pair in a shared object.  It takes a
 * few bytes of the static TLS that the C library reserves for such objects. */
#ifndef QEMU_RCU_TLS
#define QEMU_RCU_TLS __thread __attribute__((tls_model("initial-exec")))
#endif

/* The counter's bit 0 is always set, so a snapshot is never 0 ("idle"). */
#define RCU_GP_LOCKED 1UL
#define RCU_GP_CTR    2UL

#ifdef QEMU_RCU_CORE
/* ---- Direct mode: the core is linked into this binary ------------------ */

#ifndef QEMU_RCU_EXPORT
#define QEMU_RCU_EXPORT __attribute__((visibility("hidden")))
#endif

QEMU_RCU_EXPORT extern unsigned long rcu_gp_ctr;
/* Flags read on every lock and every call_rcu1(), alone on a cache line so
 * that writers' stores elsewhere never evict them from readers' caches. */
struct qemu_rcu_read_mostly {
    bool membarrier;        /* readers skip their fence (membarrier in use) */
    bool forking;           /* a fork waits for enqueues to finish */
} __attribute__((aligned(64)));
QEMU_RCU_EXPORT extern struct qemu_rcu_read_mostly qemu_rcu_read_mostly;
/* Whether readers skip their fence, read-only (a const lvalue, as in capsule
 * mode: its address fits the capsule's table).  Only the core writes the
 * flag, as qemu_rcu_read_mostly.membarrier. */
#define rcu_membarrier_active \
    (*(const bool *)&qemu_rcu_read_mostly.membarrier)
QEMU_RCU_EXPORT extern QEMU_RCU_TLS struct rcu_reader_data rcu_reader;

/* This thread's reader record (QEMU's accessor name). */
static inline struct rcu_reader_data *get_ptr_rcu_reader(void)
{
    return &rcu_reader;
}

/* Register the calling thread as a reader; idempotent.  Optional: the first
 * rcu_read_lock() does it, and a thread is unregistered when it exits. */
QEMU_RCU_EXPORT void rcu_register_thread(void);
/* Remove the calling thread from the registry; idempotent.  Aborts with a
 * message if called inside a read-side section. */
QEMU_RCU_EXPORT void rcu_unregister_thread(void);

/* Wait until every read-side section that began before the call has ended.
 * Aborts with a message if called inside the caller's own section. */
QEMU_RCU_EXPORT void synchronize_rcu(void);
/* synchronize_rcu() that forces the grace period at once: readers' force-RCU
 * notifiers fire and the writer sleeps on an event instead of polling. */
QEMU_RCU_EXPORT void synchronize_rcu_expedited(void);
/* A cookie for poll_state_synchronize_rcu(): true once a full grace period
 * has passed since get_state_synchronize_rcu() returned it. */
QEMU_RCU_EXPORT unsigned long get_state_synchronize_rcu(void);
QEMU_RCU_EXPORT bool poll_state_synchronize_rcu(unsigned long cookie);

/* Run func(head) once on the callback thread after a grace period.  Never
 * waits for readers or a grace period; legal inside sections and callbacks,
 * but not in a signal handler (it is not async-signal-safe).  head must stay
 * untouched until func runs.  Callbacks run in the order enqueued. */
QEMU_RCU_EXPORT void call_rcu1(struct rcu_head *head, RCUCBFunc *func);
/* Wait until every callback this thread enqueued earlier has returned.
 * Aborts with a message inside a read-side section or from a callback. */
QEMU_RCU_EXPORT void drain_call_rcu(void);

/* Ask writers to kick this thread through n while it is in a section. */
QEMU_RCU_EXPORT void rcu_add_force_rcu_notifier(Notifier *n);
QEMU_RCU_EXPORT void rcu_remove_force_rcu_notifier(Notifier *n);

/* Fork handling is on by default: the child gets a working RCU with the
 * forking thread as its only reader.  Disable it only before an exec. */
QEMU_RCU_EXPORT void rcu_enable_atfork(void);
QEMU_RCU_EXPORT void rcu_disable_atfork(void);

/* True inside a read-side section of the calling thread. */
static inline bool rcu_read_lock_held(void)
{
    unsigned depth = get_ptr_rcu_reader()->depth;

    return depth != 0 && depth != QEMU_RCU_DEPTH_UNREGISTERED;
}

QEMU_RCU_EXPORT void rcu_get_stats(struct rcu_stats *out);

/* Out-of-line lock/unlock for bindings that cannot inline (QEMU's Rust uses
 * the same idea under the names rust_rcu_read_lock/unlock). */
QEMU_RCU_EXPORT void qemu_rcu_read_lock(void);
QEMU_RCU_EXPORT void qemu_rcu_read_unlock(void);

/* free() obj's memory after a grace period; used by free_rcu(). */
QEMU_RCU_EXPORT void qemu_rcu_free_head(struct rcu_head *head);

/* Slow paths of the inline lock/unlock; not for direct use. */
QEMU_RCU_EXPORT void qemu_rcu_reader_first_lock(struct rcu_reader_data *r);
QEMU_RCU_EXPORT void qemu_rcu_reader_wake_writer(struct rcu_reader_data *r);
QEMU_RCU_EXPORT void qemu_rcu_unbalanced_unlock(void) __attribute__((noreturn));

#else
/* ---- Capsule mode: another extension module owns the core -------------- */

/* Python.h should come first in the including file; this is a fallback. */
#include <Python.h>

/* One table pointer per translation unit.  To share a single pointer across
 * files, define QEMU_RCU_API_EXTERN before the include in every file, and
 * QEMU_RCU_API_DEFINE as well in the one file that calls import_qemu_rcu(). */
#if defined(QEMU_RCU_API_DEFINE)
const struct qemu_rcu_api *qemu_rcu_api;
#elif defined(QEMU_RCU_API_EXTERN)
extern const struct qemu_rcu_api *qemu_rcu_api;
#else
static const struct qemu_rcu_api *qemu_rcu_api;
#endif
static QEMU_RCU_TLS struct rcu_reader_data *qemu_rcu_reader_cache;

/*
 * Import the RCU domain from the qemu_rcu package; call it once before any
 * other RCU call (from the module's init function, for example).  Returns 0,
 * or -1 on failure.  Safe from any thread of an initialised interpreter,
 * holding the GIL or not (a cffi or ctypes function, a C thread): it takes
 * the GIL itself.  On failure, a caller that held the GIL finds the Python
 * exception set; one that did not finds it printed on stderr instead, since
 * no Python code could see it.
 */
static inline int import_qemu_rcu(void)
{
    const struct qemu_rcu_api *api;
    PyGILState_STATE gil;
    int had_gil, rc = -1;

    if (!Py_IsInitialized()) {
        fputs("qemu-rcu: import_qemu_rcu() called before the Python interpreter "
              "was initialised\n", stderr);
        return -1;
    }
    /* "Locked" means this thread held the GIL already.  (PyGILState_Check
     * would say so too, but is not in the limited API, which cffi uses.) */
    gil = PyGILState_Ensure();
    had_gil = gil == PyGILState_LOCKED;
    api = (const struct qemu_rcu_api *)PyCapsule_Import("qemu_rcu._native._C_API", 0);
    if (api != NULL) {
        if (api->version != QEMU_RCU_API_VERSION ||
            api->size < sizeof(struct qemu_rcu_api)) {
            PyErr_Format(PyExc_ImportError,
                         "qemu_rcu C API version %u, this module was built "
                         "for version %u", api->version, QEMU_RCU_API_VERSION);
        } else {
            qemu_rcu_api = api;
            rc = 0;
        }
    }
    if (rc < 0 && !had_gil) {
        fputs("qemu-rcu: import_qemu_rcu() failed:\n", stderr);
        PyErr_Print();          /* prints and clears the exception */
    }
    PyGILState_Release(gil);
    return rc;
}

/* The imported table.  Without one, stop with a message that says what to
 * do, rather than follow a null pointer. */
static inline const struct qemu_rcu_api *qemu_rcu_imported(void)
{
    if (__builtin_expect(qemu_rcu_api == NULL, 0)) {
        fputs("qemu-rcu: fatal: an RCU function was called before "
              "import_qemu_rcu() succeeded in this file; call import_qemu_rcu() "
              "once (e.g. in the module's init function) before any other RCU "
              "call\n", stderr);
        abort();
    }
    return qemu_rcu_api;
}

static inline struct rcu_reader_data *get_ptr_rcu_reader(void)
{
    struct rcu_reader_data *r = qemu_rcu_reader_cache;
    if (__builtin_expect(r == NULL, 0)) {
        r = qemu_rcu_reader_cache = qemu_rcu_imported()->get_ptr_rcu_reader();
    }
    return r;
}

/* The read path reaches these two only after get_ptr_rcu_reader() has
 * checked the import once per thread, so they skip the check. */
#define rcu_gp_ctr                        (*qemu_rcu_api->gp_ctr)
#define rcu_membarrier_active             (*qemu_rcu_api->membarrier_active)
#define rcu_register_thread()             (qemu_rcu_imported()->rcu_register_thread())
#define rcu_unregister_thread()           (qemu_rcu_imported()->rcu_unregister_thread())
#define synchronize_rcu()                 (qemu_rcu_imported()->synchronize_rcu())
#define synchronize_rcu_expedited()       (qemu_rcu_imported()->synchronize_rcu_expedited())
#define get_state_synchronize_rcu()       (qemu_rcu_imported()->get_state_synchronize_rcu())
#define poll_state_synchronize_rcu(c)     (qemu_rcu_imported()->poll_state_synchronize_rcu(c))
#define call_rcu1(head, func)             (qemu_rcu_imported()->call_rcu1((head), (func)))
#define drain_call_rcu()                  (qemu_rcu_imported()->drain_call_rcu())
#define rcu_add_force_rcu_notifier(n)     (qemu_rcu_imported()->rcu_add_force_rcu_notifier(n))
#define rcu_remove_force_rcu_notifier(n)  \
    (qemu_rcu_imported()->rcu_remove_force_rcu_notifier(n))
#define rcu_enable_atfork()               (qemu_rcu_imported()->rcu_enable_atfork())
#define rcu_disable_atfork()              (qemu_rcu_imported()->rcu_disable_atfork())
#define rcu_get_stats(out)                (qemu_rcu_imported()->rcu_get_stats(out))
#define qemu_rcu_free_head                (qemu_rcu_imported()->free_head)
#define qemu_rcu_reader_first_lock(r)     (qemu_rcu_api->reader_first_lock(r))
#define qemu_rcu_reader_wake_writer(r)    (qemu_rcu_api->reader_wake_writer(r))
#define qemu_rcu_unbalanced_unlock()      (qemu_rcu_api->unbalanced_unlock())
#define qemu_rcu_read_lock()              (qemu_rcu_imported()->read_lock())
#define qemu_rcu_read_unlock()            (qemu_rcu_imported()->read_unlock())

static inline bool rcu_read_lock_held(void)
{
    unsigned depth = get_ptr_rcu_reader()->depth;

    return depth != 0 && depth != QEMU_RCU_DEPTH_UNREGISTERED;
}

#endif /* QEMU_RCU_CORE */

/* ---- The read side, inline in both modes -------------------------------- */

/* A full memory barrier (a locked instruction on x86, never mfence). */
static inline void qemu_rcu_smp_mb(void)
{
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer does not model fences; a seq_cst RMW it understands
     * orders the same way. */
    static unsigned long qemu_rcu_tsan_fence;
    __atomic_fetch_add(&qemu_rcu_tsan_fence, 0, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* A full barrier on the reader's side unless writers use membarrier, in
 * which case the writer's process-wide barrier stands in for it. */
static inline void qemu_rcu_reader_barrier(void)
{
    if (!rcu_membarrier_active) {
        qemu_rcu_smp_mb();
    }
    __asm__ __volatile__("" ::: "memory");
}

/* Enter a read-side section.  Sections nest; wait-free, no system call
 * (except the first one on a thread, which registers it).
 *
 * The outermost lock and unlock store constants into depth rather than
 * depth + 1 and depth - 1: the loads then only feed branches, so a
 * lock/unlock pair is not one long chain of load -> add -> store through the
 * store buffer.  Only nested sections count.  A thread that is not
 * registered has a non-zero depth too, so the common case tests one word. */
static inline void rcu_read_lock(void)
{
    struct rcu_reader_data *r = get_ptr_rcu_reader();
    unsigned depth = r->depth;

    if (__builtin_expect(depth != 0, 0)) {
        if (depth < QEMU_RCU_DEPTH_UNREGISTERED - 1) {
            r->depth = depth + 1;
            return;
        }
        /* Registers the thread (depth becomes 0), or aborts: the sections
         * nest too deeply to count. */
        qemu_rcu_reader_first_lock(r);
    }
    r->depth = 1;
    __atomic_store_n(&r->ctr, __atomic_load_n(&rcu_gp_ctr, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    /* The snapshot must be visible before this section loads any pointer. */
    qemu_rcu_reader_barrier();
}

/* Leave a read-side section; only the outermost unlock ends it.  Aborts
 * with a message if the thread is not in a section. */
static inline void rcu_read_unlock(void)
{
    struct rcu_reader_data *r = get_ptr_rcu_reader();
    unsigned depth = r->depth;

    if (__builtin_expect(depth != 1, 0)) {
        if (depth == 0 || depth == QEMU_RCU_DEPTH_UNREGISTERED) {
            qemu_rcu_unbalanced_unlock();
        }
        r->depth = depth - 1;
        return;
    }
    r->depth = 0;
    /* Everything the section read happens before the "idle" mark... */
    __atomic_store_n(&r->ctr, 0, __ATOMIC_RELEASE);
    /* ...and the mark is visible before we look for a waiting writer. */
    qemu_rcu_reader_barrier();
    if (__builtin_expect(__atomic_load_n(&r->waiting, __ATOMIC_RELAXED), 0)) {
        qemu_rcu_reader_wake_writer(r);
    }
}

/* ---- Publication --------------------------------------------------------- */

/* Load an RCU-protected pointer (pass the pointer's address, as in QEMU).
 * Builtins rather than statement expressions, so that the header compiles
 * under -Wpedantic and as C++; QEMU's own, if its atomic.h is in use (see
 * the top of this file). */
#ifndef qatomic_rcu_read
#define qatomic_rcu_read(ptr)     __atomic_load_n((ptr), __ATOMIC_CONSUME)
#endif

/* Publish a fully initialised object to readers. */
#ifndef qatomic_rcu_set
#define qatomic_rcu_set(ptr, val) __atomic_store_n((ptr), (val), __ATOMIC_RELEASE)
#endif

/* ---- Typed callbacks ------------------------------------------------------ */

/* Compile-time checks of call_rcu's and free_rcu's arguments, as
 * expressions of type void.  In C a static assertion can live in a struct
 * inside sizeof (ISO C11, no statement expression); in C++, in a lambda. */
#ifdef __cplusplus
#define QEMU_RCU_HEAD_FIRST(obj, field, what)                                 \
    ([] {                                                                     \
        static_assert(offsetof(__typeof__(*(obj)), field) == 0,               \
                      what ": the rcu_head must be the first member");        \
    }())
#define QEMU_RCU_TAKES_OBJ(obj, fn)                                           \
    ((void)static_cast<void (*)(__typeof__(obj))>(fn))
#else
#define QEMU_RCU_HEAD_FIRST(obj, field, what)                                 \
    ((void)sizeof(struct {                                                    \
        _Static_assert(offsetof(__typeof__(*(obj)), field) == 0,              \
                       what ": the rcu_head must be the first member");       \
        int qemu_rcu_unused_;                                                 \
    }))
#define QEMU_RCU_TAKES_OBJ(obj, fn)                                           \
    ((void)sizeof(struct {                                                    \
        _Static_assert(__builtin_types_compatible_p(__typeof__(&*(fn)),       \
                                                    void (*)(__typeof__(obj))), \
                       "call_rcu: fn must take a pointer to the object");     \
        int qemu_rcu_unused_;                                                 \
    }))
#endif

/* call_rcu(obj, fn, field): run fn(obj) after a grace period; field is the
 * struct rcu_head in *obj and must be its first member.  An expression, as
 * in QEMU. */
#define call_rcu(obj, fn, field)                                              \
    (QEMU_RCU_HEAD_FIRST(obj, field, "call_rcu"),                             \
     QEMU_RCU_TAKES_OBJ(obj, fn),                                             \
     call_rcu1(&(obj)->field, (RCUCBFunc *)(void (*)(void))(fn)))

/* free_rcu(obj, field): free(obj) after a grace period (QEMU: g_free_rcu). */
#define free_rcu(obj, field)                                                  \
    (QEMU_RCU_HEAD_FIRST(obj, field, "free_rcu"),                             \
     call_rcu1(&(obj)->field, qemu_rcu_free_head))
#define g_free_rcu(obj, field) free_rcu(obj, field)

/* ---- Scoped guards ------------------------------------------------------- */

/* QEMU's names and signatures: rcu_read_auto_lock() enters a section and
 * returns a token; rcu_read_auto_unlock(token) leaves it. */
typedef void RCUReadAuto;

static inline RCUReadAuto *rcu_read_auto_lock(void)
{
    rcu_read_lock();
    return (RCUReadAuto *)(uintptr_t)1;    /* any non-NULL token */
}

static inline void rcu_read_auto_unlock(RCUReadAuto *token)
{
    (void)token;
    rcu_read_unlock();
}

/* g_autoptr(RCUReadAuto), as in QEMU, when glib's headers came first (as
 * QEMU's osdep.h includes them). */
#ifdef G_DEFINE_AUTOPTR_CLEANUP_FUNC
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RCUReadAuto, rcu_read_auto_unlock)
#endif

/* The guards' cleanup: a token cleared by the loop below was unlocked. */
static inline void qemu_rcu_auto_cleanup(RCUReadAuto **token)
{
    if (*token) {
        rcu_read_auto_unlock(*token);
    }
}

#define QEMU_RCU_GLUE_(a, b) a##b
#define QEMU_RCU_GLUE(a, b) QEMU_RCU_GLUE_(a, b)

/* Hold the read lock until the enclosing scope ends, by any route. */
#define RCU_READ_LOCK_GUARD()                                               \
    RCUReadAuto *QEMU_RCU_GLUE(qemu_rcu_guard_, __COUNTER__)                \
        __attribute__((cleanup(qemu_rcu_auto_cleanup), unused)) =           \
        rcu_read_auto_lock()

/* WITH_RCU_READ_LOCK_GUARD() { ... }: the block runs once under the lock;
 * leaving it by break, return or goto unlocks exactly once as well. */
#define WITH_RCU_READ_LOCK_GUARD()                                          \
    WITH_RCU_READ_LOCK_GUARD_(QEMU_RCU_GLUE(qemu_rcu_guard_, __COUNTER__))
#define WITH_RCU_READ_LOCK_GUARD_(var)                                      \
    for (RCUReadAuto *var __attribute__((cleanup(qemu_rcu_auto_cleanup))) = \
             rcu_read_auto_lock();                                          \
         var; qemu_rcu_auto_cleanup(&var), var = NULL)

#ifdef __cplusplus
}
#endif

#endif /* QEMU_RCU_H */
