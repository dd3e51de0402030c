/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who may touch which process. rewindd reads and writes other processes'
 * memory: a client may reach only processes it could ptrace itself.
 */
#ifndef RW_AUTH_H
#define RW_AUTH_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The credentials of the peer of a connected unix socket (SO_PEERCRED); 0 or -errno. */
int auth_peer_cred(int sockfd, struct ucred *cred);

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
