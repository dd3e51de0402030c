/* SPDX-License-Identifier: GPL-2.0-only */
/* Names for the numbers in tracker records, for reports. */
#ifndef RW_SYSNAMES_H
#define RW_SYSNAMES_H

#include <stdint.h>

/* Name of a tracked x86_64 syscall, or NULL if the tracker does not record it. */
const char *syscall_name(uint32_t nr);
/* "write", "open", ... for enum rw_file_op; "?" if unknown. */
const char *file_op_name(uint32_t op);
/* "new_thread", "new_process", "exit_thread", "exit_process", "exec"; "?" if unknown. */
const char *task_op_name(uint32_t op);
/* True for the layout calls (RW_SC_LAYOUT in rewind/syscalls.h). */
int syscall_is_layout(uint32_t nr);
/* How many leading arguments of a process-state syscall mean something in a report (not pointers). */
int syscall_report_args(uint32_t nr);
/* "rw-p"-style protection string into buf[5]. */
void prot_string(uint32_t prot, int shared, char buf[5]);

#endif /* RW_SYSNAMES_H */
