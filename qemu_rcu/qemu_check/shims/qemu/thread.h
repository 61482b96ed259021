/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/thread.h: QemuMutex, QemuCond, QemuSemaphore,
 * QemuEvent and QemuThread over POSIX threads, header-only.  Written for
 * qemu-rcu; only names and behaviour follow QEMU.  Failures abort, as
 * QEMU's do.
 */
#ifndef QEMU_THREAD_H
#define QEMU_THREAD_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_THREAD_JOINABLE 0
#define QEMU_THREAD_DETACHED 1

typedef struct QemuMutex {
    pthread_mutex_t lock;
    bool initialized;
} QemuMutex;

typedef struct QemuRecMutex {
    pthread_mutex_t lock;
    bool initialized;
} QemuRecMutex;

typedef struct QemuCond {
    pthread_cond_t cond;
    bool initialized;
} QemuCond;

typedef struct QemuSemaphore {
    QemuMutex mutex;
    QemuCond cond;
    unsigned int count;
} QemuSemaphore;

/* A manual-reset event: set() wakes every waiter and stays set until
 * reset(); wait() returns at once while it is set. */
typedef struct QemuEvent {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool set;
    bool initialized;
} QemuEvent;

typedef struct QemuThread {
    pthread_t thread;
} QemuThread;

static inline void qemu_shim_check(int err, const char *what)
{
    if (err) {
        fprintf(stderr, "qemu shim: %s: %s\n", what, strerror(err));
        abort();
    }
}

static inline void qemu_mutex_init(QemuMutex *m)
{
    qemu_shim_check(pthread_mutex_init(&m->lock, NULL), "mutex init");
    m->initialized = true;
}
static inline void qemu_mutex_destroy(QemuMutex *m)
{
    m->initialized = false;
    qemu_shim_check(pthread_mutex_destroy(&m->lock), "mutex destroy");
}
static inline void qemu_mutex_lock(QemuMutex *m)
{
    qemu_shim_check(pthread_mutex_lock(&m->lock), "mutex lock");
}
static inline int qemu_mutex_trylock(QemuMutex *m)
{
    return pthread_mutex_trylock(&m->lock) == 0 ? 0 : -EBUSY;
}
static inline void qemu_mutex_unlock(QemuMutex *m)
{
    qemu_shim_check(pthread_mutex_unlock(&m->lock), "mutex unlock");
}

static inline void qemu_rec_mutex_init(QemuRecMutex *m)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    qemu_shim_check(pthread_mutex_init(&m->lock, &attr), "rec mutex init");
    pthread_mutexattr_destroy(&attr);
    m->initialized = true;
}
static inline void qemu_rec_mutex_destroy(QemuRecMutex *m)
{
    m->initialized = false;
    pthread_mutex_destroy(&m->lock);
}
static inline void qemu_rec_mutex_lock(QemuRecMutex *m)
{
    qemu_shim_check(pthread_mutex_lock(&m->lock), "rec mutex lock");
}
static inline void qemu_rec_mutex_unlock(QemuRecMutex *m)
{
    qemu_shim_check(pthread_mutex_unlock(&m->lock), "rec mutex unlock");
}

static inline void qemu_cond_init(QemuCond *c)
{
    qemu_shim_check(pthread_cond_init(&c->cond, NULL), "cond init");
    c->initialized = true;
}
static inline void qemu_cond_destroy(QemuCond *c)
{
    c->initialized = false;
    pthread_cond_destroy(&c->cond);
}
static inline void qemu_cond_signal(QemuCond *c)
{
    pthread_cond_signal(&c->cond);
}
static inline void qemu_cond_broadcast(QemuCond *c)
{
    pthread_cond_broadcast(&c->cond);
}
static inline void qemu_cond_wait(QemuCond *c, QemuMutex *m)
{
    qemu_shim_check(pthread_cond_wait(&c->cond, &m->lock), "cond wait");
}

static inline void qemu_sem_init(QemuSemaphore *s, int init)
{
    qemu_mutex_init(&s->mutex);
    qemu_cond_init(&s->cond);
    s->count = (unsigned int)init;
}
static inline void qemu_sem_destroy(QemuSemaphore *s)
{
    qemu_cond_destroy(&s->cond);
    qemu_mutex_destroy(&s->mutex);
}
static inline void qemu_sem_post(QemuSemaphore *s)
{
    qemu_mutex_lock(&s->mutex);
    s->count++;
    qemu_cond_signal(&s->cond);
    qemu_mutex_unlock(&s->mutex);
}
static inline void qemu_sem_wait(QemuSemaphore *s)
{
    qemu_mutex_lock(&s->mutex);
    while (s->count == 0) {
        qemu_cond_wait(&s->cond, &s->mutex);
    }
    s->count--;
    qemu_mutex_unlock(&s->mutex);
}

static inline void qemu_event_init(QemuEvent *ev, bool init)
{
    qemu_shim_check(pthread_mutex_init(&ev->lock, NULL), "event init");
    qemu_shim_check(pthread_cond_init(&ev->cond, NULL), "event init");
    ev->set = init;
    ev->initialized = true;
}
static inline void qemu_event_destroy(QemuEvent *ev)
{
    ev->initialized = false;
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
}
static inline void qemu_event_set(QemuEvent *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->set = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}
static inline void qemu_event_reset(QemuEvent *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->set = false;
    pthread_mutex_unlock(&ev->lock);
}
static inline void qemu_event_wait(QemuEvent *ev)
{
    pthread_mutex_lock(&ev->lock);
    while (!ev->set) {
        pthread_cond_wait(&ev->cond, &ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
}

static inline void qemu_thread_create(QemuThread *thread, const char *name,
                                      void *(*start_routine)(void *),
                                      void *arg, int mode)
{
    pthread_attr_t attr;

    (void)name;
    pthread_attr_init(&attr);
    if (mode == QEMU_THREAD_DETACHED) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    }
    qemu_shim_check(pthread_create(&thread->thread, &attr, start_routine, arg),
                    "thread create");
    pthread_attr_destroy(&attr);
}
static inline void *qemu_thread_join(QemuThread *thread)
{
    void *ret = NULL;

    qemu_shim_check(pthread_join(thread->thread, &ret), "thread join");
    return ret;
}
static inline void qemu_thread_get_self(QemuThread *thread)
{
    thread->thread = pthread_self();
}
static inline bool qemu_thread_is_self(QemuThread *thread)
{
    return pthread_equal(pthread_self(), thread->thread);
}
static inline void qemu_thread_exit(void *retval)
{
    pthread_exit(retval);
}

#endif /* QEMU_THREAD_H */
