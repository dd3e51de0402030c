/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A thread's identity: its credentials (uids, gids, supplementary groups,
 * capability sets, seccomp mode and filter count, no_new_privs, from
 * /proc/PID/task/TID/status) and the namespaces it
 * lives in (the inodes of /proc/PID/task/TID/ns/ *). Both are per thread in
 * Linux. Nothing outside the thread can set them back (a dropped thread may
 * no longer be allowed the setres*id that would, setns cannot re-enter every
 * namespace kind), so a change since the checkpoint fails the rewind closed.
 */
#ifndef RW_IDENT_H
#define RW_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	RW_NS_MNT, RW_NS_PID_FOR_CHILDREN, RW_NS_NET, RW_NS_UTS, RW_NS_IPC, RW_NS_USER,
	RW_NS_CGROUP, RW_NS_TIME, RW_NS_TIME_FOR_CHILDREN, RW_NS__COUNT
};

/* The name of /proc/PID/ns/<name> for RW_NS_*. */
extern const char *const rw_ns_names[RW_NS__COUNT];

struct rw_creds {
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	uint32_t ngroups;		/* supplementary groups (Groups:) */
	uint64_t groups_hash;		/* FNV-1a over them, in the kernel's (sorted) order */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	/* Per thread too: a filter installed without TSYNC binds its thread only. */
	uint32_t seccomp_mode, seccomp_filters, no_new_privs;
};

struct rw_ident {
	pid_t tid;
	struct rw_creds creds;
	uint64_t ns[RW_NS__COUNT];	/* inode; 0: the kernel has no such namespace kind */
};

/* Credentials from status text. -EINVAL if Uid, Gid, Groups or a Cap* line is missing or malformed. */
int ident_parse_creds(const char *text, struct rw_creds *out);
/* Thread tid of tgid now. -ESRCH if gone; the cause is logged otherwise. */
int ident_read(pid_t tgid, pid_t tid, struct rw_ident *out);
/*
 * 0 if was and now agree; otherwise 1 and, in buf, what changed for people:
 * "credentials changed since the checkpoint (euid 0 → 65534)" or
 * "unshared or setns'd its net namespace since the checkpoint".
 */
int ident_compare(const struct rw_ident *was, const struct rw_ident *now, char *buf, size_t len);
/* The same for everything but the namespaces. */
int ident_compare_creds(const struct rw_ident *was, const struct rw_ident *now, char *buf, size_t len);

/*
 * setns's nstype for a kind a thread can be put back into from inside, with
 * an fd to the checkpoint's namespace; 0 for the kinds it cannot: user (no
 * way back to an ancestor), time (a process's own is fixed at its birth).
 */
int ident_ns_setns_type(int kind);

#endif /* RW_IDENT_H */
