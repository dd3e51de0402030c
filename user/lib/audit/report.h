/* SPDX-License-Identifier: GPL-2.0-only */
/* Human-readable rendering of the daemon's JSON answers (rewindctl's side). */
#ifndef RW_REPORT_H
#define RW_REPORT_H

#include <stdio.h>

#include <json-c/json.h>

/* One invocation object, as `report` and `mark` return it, as a text block. */
void report_print_invocation(FILE *f, json_object *inv);
/* One line: "invocation 3: 37 pages written in 2 mappings, ..." */
void report_print_summary(FILE *f, json_object *inv);
/* The `checkpoint` and `rewind` answers' bodies as one or two lines. */
void report_print_checkpoint(FILE *f, unsigned int session, json_object *ckpt);
void report_print_rewind(FILE *f, unsigned int session, json_object *rw);
/* The `status` answer as a table. */
void report_print_status(FILE *f, json_object *resp);
/* Where a canary string was found (report --canary). */
void report_print_canary(FILE *f, json_object *canary);

#endif /* RW_REPORT_H */
