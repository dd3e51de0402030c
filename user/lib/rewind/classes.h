/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The isolation contract: every class of state an invocation can change,
 * how rewindd reads it, which logged calls make a rewind read it again, and
 * what a rewind does about it. `rewindctl classes` prints it; the tables in
 * README.md and docs/ARCHITECTURE.md are generated from it (make docs) and a
 * test fails when they differ.
 */
#ifndef RW_CLASSES_H
#define RW_CLASSES_H

#include <stddef.h>

enum rw_class_outcome {
	RW_RESTORED,		/* put back to its checkpoint value */
	RW_FAILS_CLOSED,	/* a change is detected and the rewind fails, naming it */
	RW_RESTORED_OR_FAILS,	/* put back where possible, otherwise fails closed */
	RW_LEFT_ALONE,		/* not this process's state: the row says whose it is */
};

struct rw_state_class {
	const char *id;		/* short and stable: reports name a changed class by it */
	const char *name;
	const char *scope;	/* per thread, per process, ... */
	enum rw_class_outcome outcome;
	const char *read;	/* how it is read (at the checkpoint, and when a rewind must) */
	const char *logged;	/* calls in the BPF log that make a rewind read it; NULL: always */
	const char *rewind;	/* what a rewind does, or why it fails closed */
};

extern const struct rw_state_class rw_state_classes[];
extern const size_t rw_nstate_classes;

const char *rw_class_outcome_name(enum rw_class_outcome o);
/* The class with this id, or NULL. */
const struct rw_state_class *rw_state_class_find(const char *id);

#endif /* RW_CLASSES_H */
