/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a rewindd leaves on disk so that the next one can clean up after it:
 * below the state directory, one directory per running rewindd (its
 * instance, named by boot, pid and start time, so that daemons sharing a
 * state directory never meet) holding its sessions' tree stores and one
 * record per session (the processes, by pid and start time, the mode, the
 * --on-failure policy, the state). A rewindd that starts finds the
 * directories of rewindds that are gone, applies each recorded session's
 * policy to the processes still there (their checkpoint died with the
 * daemon: nothing can rewind them any more), and removes the directories.
 *
 * A crash in the middle of a checkpoint or a rewind needs none of this: the
 * tracees carry PTRACE_O_EXITKILL, so the kernel kills them with rewindd.
 */
#ifndef RW_RECOVERY_H
#define RW_RECOVERY_H

#include <stdint.h>

struct rw_sessions;
struct rw_session;

/* Session record states. */
#define RW_RECORD_ATTACHED	"attached"	/* no checkpoint yet */
#define RW_RECORD_CHECKPOINTED	"checkpointed"
#define RW_RECORD_FAILED	"failed"	/* fail_closed ran: killed or left stopped */

/*
 * At start, with S->state_dir set: make this instance's directory, recover
 * after every dead one. Says what it did in the log and in S->recovered
 * (status). A state directory that cannot be used is only warned about:
 * sessions that need it fail at attach, naming it.
 */
void recovery_start(struct rw_sessions *S);

/* Write (or rewrite) the record of s in state. Failure is logged: recovery is then blind to s. */
void recovery_record(struct rw_sessions *S, const struct rw_session *s, const char *state);

/* The record of session id goes (detach). */
void recovery_forget(struct rw_sessions *S, uint32_t id);

/* At a clean exit, after every session: this instance's directory goes. */
void recovery_stop(struct rw_sessions *S);

#endif /* RW_RECOVERY_H */
