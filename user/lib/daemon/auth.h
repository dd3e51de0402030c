/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who may touch which process. rewindd reads and writes other processes'
 * memory: a client may reach only processes it could ptrace itself.
 */
#ifndef RW_AUTH_H
#define RW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The credentials of the peer of a connected unix socket (SO_PEERCRED); 0 or -errno. */
int auth_peer_cred(int sockfd, struct ucred *cred);

/* A client as ptrace would see it. */
struct rw_auth_client {
	uid_t uid;		/* its effective uid in rewindd's user namespace (SO_PEERCRED) */
	uint64_t cap_eff;	/* its effective capabilities, in its own user namespace */
	uint64_t userns;	/* inode of its user namespace; 0: unknown */
};

/* What the decision looks at of a target (auth_may_attach_pid_as reads it from /proc). */
struct rw_auth_target {
	uid_t uid[3];		/* real, effective, saved, in rewindd's user namespace */
	gid_t gid[3];
	uint64_t cap_prm;	/* permitted capabilities, in its own user namespace */
	uint64_t userns;	/* inode of its user namespace */
	bool userns_owned;	/* that namespace is below the client's and owned by the client's uid */
	uid_t mem_uid;		/* owner of /proc/PID/mem: root's if it is not dumpable */
};

/*
 * The decision alone, pure for the unit tests. A client with CAP_SYS_PTRACE in
 * rewindd's user namespace (self_userns) may attach to anything. Anyone else
 * needs, as ptrace(2) would: the target's real, effective and saved uids all
 * equal to its uid, the target dumpable, and the target's permitted
 * capabilities a subset of the client's effective ones in the same user
 * namespace, or the target in a user namespace the client owns (it holds
 * every capability there). Stricter than ptrace (the client's gid is not
 * known): the target's gids equal to each other. 0 or -EPERM with the reason
 * in err, which names the target "pid PID" (a label: proc_pid_label).
 */
int auth_decide(const struct rw_auth_client *c, uint64_t self_userns, const char *pid,
		const struct rw_auth_target *t, char *err, size_t errlen);

/*
 * The client whose process has /proc directory procdir (pinned by the
 * caller) and SO_PEERCRED uid: its CapEff and user namespace. 0, -ESRCH if
 * the process is gone, or -errno.
 */
int auth_client_of_proc(int procdir, uid_t uid, struct rw_auth_client *c);

/* auth_decide() for the live process pid: -ESRCH if there is none, other -errno if /proc fails. */
int auth_may_attach_pid_as(const struct rw_auth_client *c, pid_t pid, char *err, size_t errlen);
int auth_may_attach_cgroup_as(const struct rw_auth_client *c, const char *cgroup_path, char *err,
			      size_t errlen);

/*
 * As the _as functions for a client known only by uid: in rewindd's user
 * namespace, uid 0 with every capability, any other uid with none.
 */
/*
 * May a client with uid attach to process pid? Root may attach to anything.
 * Anyone else needs, as ptrace(2) would: the process's real, effective and
 * saved uids all equal to uid, and the process dumpable. More strictly than
 * ptrace (the client's gid is not known here): its real, effective and saved
 * gids equal to each other and no permitted capabilities.
 * 0 if allowed; -EPERM if not, with the reason in err ("uid 1000 may not
 * attach to pid 42 (owned by uid 0)"); -ESRCH if there is no such process;
 * other -errno if /proc cannot be read.
 */
int auth_may_attach_pid(uid_t uid, pid_t pid, char *err, size_t errlen);

/*
 * Cgroup mode: every process in the cgroup must pass auth_may_attach_pid().
 * For non-root clients the cgroup directory must be owned by uid and its
 * cgroup.procs writable by nobody but uid and root, or processes joining
 * later could be foreign. 0, -EPERM (reason in err), or -errno (-ENOENT: no
 * such cgroup).
 */
int auth_may_attach_cgroup(uid_t uid, const char *cgroup_path, char *err, size_t errlen);

#endif /* RW_AUTH_H */
