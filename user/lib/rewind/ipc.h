/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SysV IPC (shared memory segments, semaphore sets, message queues) and
 * POSIX message queues: state of an IPC namespace, not of a process. A
 * snapshot is read by a helper process forked from rewindd that enters the
 * namespace (setns) and, for the mqueue names, mounts the namespace's
 * mqueue fs in a private mount namespace of its own. SysV message queues
 * are read with MSG_COPY (non-destructive); POSIX queues cannot be read
 * without receiving: the helper receives every message and sends them back
 * in the same order with their priorities.
 *
 * The plan (pure, unit-tested) compares two snapshots: objects created since
 * are removed, contents and owner/mode of the checkpoint's objects are put
 * back, an object removed since (its id cannot be recreated) fails closed.
 */
#ifndef RW_IPC_H
#define RW_IPC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "invocation.h"
#include "proc.h"

enum rw_ipc_kind { RW_IPC_SHM, RW_IPC_SEM, RW_IPC_MSG, RW_IPC_MQ };

struct rw_ipc_obj {
	int kind;		/* enum rw_ipc_kind */
	int id;			/* SysV id; -1 for a POSIX queue */
	int key;
	char name[NAME_MAX + 1];	/* POSIX queue: its name without the '/' */
	uint64_t ino;		/* POSIX queue: its inode in the mqueue fs */
	uint32_t uid, gid, mode;	/* mode: permission bits (SysV shm: also SHM_DEST) */
	uint64_t size;		/* shm: bytes; sem: nsems; msg: qbytes; mq: msgsize */
	uint64_t maxmsg;	/* mq */
	uint64_t nattch;	/* shm */
	int32_t notify_pid;	/* mq: a registered mq_notify (as rewindd's pid namespace sees it) */
	uint64_t nmsgs;		/* msg, mq */
	/* shm: its bytes; sem: the values (unsigned short each); msg, mq: per message
	 * an int64 type (msg) or priority (mq), a uint64 length and the bytes. */
	size_t len;
	unsigned char *data;
};

struct rw_ipc_snap {
	struct rw_ipc_obj *v;
	size_t n;
};

/* Which objects of the namespace are the session's to restore. */
struct rw_ipc_scope {
	bool all;		/* the namespace is not rewindd's own: every object */
	const int *ids;		/* otherwise: the SysV ids the session's calls named or it maps */
	size_t nids;
	bool mq_called;		/* otherwise: a POSIX queue call was logged */
};

enum rw_ipc_op_kind { RW_IPC_REMOVE, RW_IPC_CONTENTS, RW_IPC_PERMS };

struct rw_ipc_op {
	int op;			/* enum rw_ipc_op_kind */
	int kind;		/* enum rw_ipc_kind */
	int id;
	int key;
	char name[NAME_MAX + 1];
	size_t ckpt;		/* CONTENTS, PERMS: the index in the checkpoint's snapshot */
};

struct rw_ipc_plan {
	struct rw_ipc_op *ops;
	size_t nops;
	char **failures;	/* non-empty: apply nothing */
	size_t nfailures;
};

/* "SysV shared memory segment", ... */
const char *ipc_kind_name(int kind);
/* Inode of /proc/PID/ns/ipc, or -errno. */
int64_t ipc_ns_of(pid_t pid);

/* Read every object of the namespace nsfd is open on. 0 or -errno with why. */
int ipc_snapshot(int nsfd, struct rw_ipc_snap *out, char *why, size_t whylen);
void ipc_snap_free(struct rw_ipc_snap *s);

/* ckpt against now, within scope. 0 or -ENOMEM; failures are in p. */
int ipc_plan(const struct rw_ipc_snap *ckpt, const struct rw_ipc_snap *now,
	     const struct rw_ipc_scope *scope, struct rw_ipc_plan *p);
void ipc_plan_free(struct rw_ipc_plan *p);
/* One line for an op: "remove SysV semaphore set id 3 (key 0x0), created since the checkpoint". */
void ipc_op_describe(const struct rw_ipc_op *op, char *buf, size_t len);
/* Carry out p in the namespace. 0 or -errno with why. */
int ipc_apply(int nsfd, const struct rw_ipc_snap *ckpt, const struct rw_ipc_plan *p, char *why,
	      size_t whylen);

/* One IPC namespace of a session's checkpoint. */
struct rw_ipc_ns {
	int nsfd;		/* /proc/PID/ns/ipc, held open: it is re-entered at rewind */
	uint64_t ino;
	bool shared;		/* rewindd's own (the host's): only the session's objects count */
	int *mapped;		/* SysV shm ids mapped by the session's processes at the checkpoint */
	size_t nmapped;
	bool attached;		/* a segment in scope was attached: its stores need no syscall */
	struct rw_ipc_snap ckpt;
};

struct rw_ipcs {
	struct rw_ipc_ns *v;
	size_t n;
};

struct rw_ipc_stats {
	uint64_t namespaces_read, ops;
};

/* Snapshot the IPC namespace of each process (pids[i], maps[i]). 0 or -errno with why. */
int ipcs_checkpoint(struct rw_ipcs *I, const pid_t *pids, const struct rw_maps *const *maps,
		    size_t n, char *why, size_t whylen);
/*
 * Put every namespace back when the log holds an IPC call, records were
 * dropped (incomplete) or a segment was attached at the checkpoint; else
 * nothing is read. Failures (an object removed since, ...) are -ENOTRECOVERABLE
 * with why naming the class. Steps go to note(ctx, line).
 */
int ipcs_rewind(struct rw_ipcs *I, const struct rw_invocation *inv, bool incomplete,
		void (*note)(void *ctx, const char *line), void *ctx, struct rw_ipc_stats *st,
		char *why, size_t whylen);
/* Read every namespace afresh and compare: the number of differences (listed in why), or -errno. */
int ipcs_verify(struct rw_ipcs *I, const struct rw_invocation *inv, char *why, size_t whylen);
void ipcs_free(struct rw_ipcs *I);

#endif /* RW_IPC_H */
