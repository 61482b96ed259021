# SPDX-License-Identifier: MIT
"""Where this package's C tests fail on QEMU's own RCU core on purpose.

qemu-rcu keeps QEMU's algorithm and API but changes what QEMU leaves to the
caller or turns into a hang (README, "How qemu-rcu differs from QEMU's
RCU").  A test of such a change fails on QEMU's core, and ``qemu-check``
reports it as "differs as documented" only if it is listed here, with the
outcome QEMU's core shows.  Anything else that does not pass there fails the
run.  A row is a difference made on purpose, never a way to make a run pass.

The README shows this table between the markers below; ``python -m
qemu_rcu.qemu_check.differences`` prints it, and a test checks that the two
agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# QEMU's util/rcu.c as QEMU builds it by default (a fence in every reader),
# and as configured with --enable-membarrier.
BUILDS = ("fences", "membarrier")
# A row's outcome word -> the run status it stands for.
OUTCOMES: Dict[str, str] = {"fails": "fail", "hangs": "hang", "crashes": "crash"}

README_BEGIN = "<!-- differences: begin (python -m qemu_rcu.qemu_check.differences) -->"
README_END = "<!-- differences: end -->"

_AUTO_REGISTER = ("QEMU does not register a thread on its first rcu_read_lock(): a writer "
                  "does not see the section of a thread that is not registered, and does "
                  "not wait for it")
_THREAD_EXIT = ("a registered thread that exits stays in QEMU's registry, and the next "
                "grace period reads its freed record")
_WAITS_FOR_ITSELF = ("QEMU waits for the caller's own section forever, with no message "
                     "(the child's watchdog ends it)")
_NO_CHECK = "QEMU lets it happen with no message and no abort"
_FORK_QUEUE = ("QEMU forks with the big QEMU lock held and expects no thread to be "
               "queuing callbacks: a child forked while another thread was half-way "
               "through call_rcu1() inherits a queue whose last link is never written, "
               "and its drain_call_rcu() waits forever")
_FORK_WAITS = ("QEMU's fork handler takes the lock that a running synchronize_rcu() holds "
               "while it waits for the forking thread's own section: fork never returns")
_COUNTER = ("QEMU's rcu_read_lock() copies the grace-period counter through a 32-bit "
            "local, so above 2^32 a reader's snapshot never equals the counter")


@dataclass(frozen=True)
class Difference:
    program: str
    subtest: str
    outcome: str                        # on QEMU's core: fails, hangs, crashes ("fails or hangs")
    why: str
    builds: Tuple[str, ...] = BUILDS    # the QEMU builds it shows in

    @property
    def statuses(self) -> Tuple[str, ...]:
        """The run statuses this row accepts (fail, hang, crash)."""
        return tuple(OUTCOMES[word] for word in self.outcome.split(" or "))


DIFFERENCES: Tuple[Difference, ...] = (
    Difference("test_registration", "first_lock_registers", "fails", _AUTO_REGISTER),
    Difference("test_registration", "lock_after_unregister_registers_again", "fails",
               _AUTO_REGISTER),
    Difference("test_registration", "exit_unregisters_outside_section", "crashes",
               _THREAD_EXIT),
    Difference("test_registration", "exit_unregisters_inside_section", "crashes",
               _THREAD_EXIT),
    Difference("test_registration", "exit_inside_section_wakes_writer", "fails",
               "a thread that exits inside its section stays in QEMU's registry, so the "
               "writer waits for it forever (the test stops after 2 s)"),
    Difference("test_registration", "register_twice", "crashes",
               "registering twice links the thread into QEMU's registry twice, and "
               "unregistering twice unlinks it twice"),
    Difference("test_registration", "registration_churn", "crashes",
               "QEMU's rcu_unregister_thread() unlinks a thread that is not registered"),
    Difference("test_misuse", "synchronize_inside_section", "fails", _WAITS_FOR_ITSELF),
    Difference("test_misuse", "drain_inside_section", "fails", _WAITS_FOR_ITSELF),
    Difference("test_misuse", "drain_from_callback", "fails",
               "QEMU's drain_call_rcu() in a callback waits for the callback thread, "
               "itself, forever (the child's watchdog ends it)"),
    Difference("test_misuse", "misuse_on_other_thread", "fails",
               "the thread never registered (qemu-rcu registers it on its first lock), so "
               "QEMU's synchronize_rcu() inside its section neither waits for it nor says "
               "anything"),
    Difference("test_misuse", "unregister_inside_section", "fails", _NO_CHECK),
    Difference("test_misuse", "callback_leaves_section_open", "fails",
               "QEMU does not check callbacks: the next grace period of its callback "
               "thread waits for that thread itself"),
    Difference("test_counter", "snapshot_is_full_width", "fails", _COUNTER),
    Difference("test_counter", "new_reader_not_waited_for", "hangs",
               _COUNTER + ": a writer also waits for a reader that began after it, "
               "which the test keeps inside until that writer returns"),
    Difference("test_counter", "grace_periods_with_busy_reader", "fails or hangs",
               _COUNTER + ": the reader's snapshots are cut short, and a writer can "
               "only end a grace period between two of its sections"),
    Difference("test_fork", "fork_inside_section", "fails",
               "QEMU's child registers the forking thread again, which asserts that it "
               "is outside a section: the child aborts"),
    Difference("test_fork", "fork_while_callbacks_run", "fails or hangs", _FORK_QUEUE),
    Difference("test_fork", "fork_while_enqueuing", "fails or hangs", _FORK_QUEUE),
    Difference("test_fork", "fork_inside_section_while_writer_waits", "hangs", _FORK_WAITS),
    Difference("test_fork", "fork_during_grace_periods", "hangs", _FORK_WAITS),
    Difference("test_grace", "notifiers_fire_during_drain", "fails",
               "QEMU looks for a waiting drain_call_rcu() only when it scans its readers "
               "again, after one of them leaves: a drain that begins once the callback "
               "thread's grace period waits fires no force-RCU notifier (qemu-rcu forces "
               "at once when a drain waits)"),
)


def lookup(program: str, subtest: str, build: str) -> Optional[Difference]:
    """The row for this subtest on this QEMU build, if there is one."""
    for row in DIFFERENCES:
        if row.program == program and row.subtest == subtest and build in row.builds:
            return row
    return None


def markdown_table() -> str:
    """The table as the README shows it."""
    lines = ["| test | subtest | QEMU's core | why |", "|---|---|---|---|"]
    for row in DIFFERENCES:
        where = "" if row.builds == BUILDS else f" ({', '.join(row.builds)} build)"
        lines.append(f"| {row.program} | `{row.subtest}` | {row.outcome}{where} | {row.why} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
