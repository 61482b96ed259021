/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for QEMU's qemu/notify.h, written for the tests: QEMU's
 * Notifier is a notify function followed by a list entry (two pointers).
 */
#ifndef QEMU_NOTIFY_H
#define QEMU_NOTIFY_H

typedef struct Notifier Notifier;
struct Notifier {
    void (*notify)(Notifier *notifier, void *data);
    struct {
        struct Notifier *le_next;
        struct Notifier **le_prev;
    } node;
};

#endif
