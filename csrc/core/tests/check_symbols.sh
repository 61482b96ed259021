#!/bin/sh
# SPDX-License-Identifier: MIT
# Every global symbol the core defines is either a name of the C API
# (QEMU's, or one of ours documented in qemu_rcu.h) or starts with
# qemu_rcu_, so the core can be linked next to QEMU's own code without a
# "multiple definition".  Usage: check_symbols.sh NM LIBRARY
set -eu
nm=$1
lib=$2
api='call_rcu1 drain_call_rcu synchronize_rcu synchronize_rcu_expedited
get_state_synchronize_rcu poll_state_synchronize_rcu rcu_register_thread
rcu_unregister_thread rcu_add_force_rcu_notifier rcu_remove_force_rcu_notifier
rcu_enable_atfork rcu_disable_atfork rcu_get_stats rcu_gp_ctr rcu_reader'
api=" $(echo $api) "
bad=0
for sym in $("$nm" -g --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u); do
    case $api in
        *" $sym "*) continue ;;
    esac
    case $sym in
        qemu_rcu_*) continue ;;
        __*) continue ;;        # the compiler's and sanitizers' own (__odr_asan...)
    esac
    echo "not in the C API and not prefixed qemu_rcu_: $sym"
    bad=1
done
[ "$bad" -eq 0 ] && echo "ok: every symbol of $(basename "$lib") is API or qemu_rcu_"
exit "$bad"
