/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/notify.h: Notifier (a callback followed by a
 * QLIST entry, the layout qemu_rcu.h checks for) and NotifierList, with
 * the list operations inline.  Written for qemu-rcu; only names and
 * behaviour follow QEMU.  qemu_rcu.h includes this file itself when it is
 * on the include path, and then uses this Notifier.
 */
#ifndef QEMU_NOTIFY_H
#define QEMU_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include "qemu/queue.h"

typedef struct Notifier Notifier;

struct Notifier {
    void (*notify)(Notifier *notifier, void *data);
    QLIST_ENTRY(Notifier) node;
};

typedef struct NotifierList {
    QLIST_HEAD(, Notifier) notifiers;
} NotifierList;

#define NOTIFIER_LIST_INITIALIZER(head) \
    { QLIST_HEAD_INITIALIZER((head).notifiers) }

static inline void notifier_list_init(NotifierList *list)
{
    QLIST_INIT(&list->notifiers);
}

static inline void notifier_list_add(NotifierList *list, Notifier *notifier)
{
    QLIST_INSERT_HEAD(&list->notifiers, notifier, node);
}

static inline void notifier_remove(Notifier *notifier)
{
    QLIST_REMOVE(notifier, node);
}

static inline void notifier_list_notify(NotifierList *list, void *data)
{
    Notifier *n, *next;

    QLIST_FOREACH_SAFE(n, &list->notifiers, node, next) {
        n->notify(n, data);
    }
}

static inline bool notifier_list_empty(NotifierList *list)
{
    return QLIST_EMPTY(&list->notifiers);
}

#endif /* QEMU_NOTIFY_H */
