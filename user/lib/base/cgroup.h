/* SPDX-License-Identifier: GPL-2.0-only */
/* cgroup v2 helpers: where the hierarchy is mounted, ids, paths, members. */
#ifndef RW_CGROUP_H
#define RW_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The cgroup2 mount point from /proc/mounts (/sys/fs/cgroup/unified in the
 * hybrid layout, /sys/fs/cgroup in the unified one). The first cgroup2 mount
 * wins. 0, -ENOENT if there is none, -ENAMETOOLONG, or -errno reading.
 */
int cgroup2_mount_point(char *buf, size_t len);
/* The same from the text of a mounts file (octal escapes such as \040 decoded); for tests. */
int cgroup2_parse_mount_point(const char *mounts_text, char *buf, size_t len);

/*
 * The id bpf_get_current_cgroup_id() reports for the cgroup at path: the
 * inode number of its directory. -ENOENT: no such path; -ENOTDIR: not a
 * directory; -EINVAL: a directory but not on a cgroup2 filesystem; other
 * -errno from open/fstat/fstatfs.
 */
int cgroup_id_of_path(const char *path, uint64_t *id);

/* The directory under the cgroup2 mount whose id is id; 0, -ENOENT, -ENAMETOOLONG. */
int cgroup_path_of_id(uint64_t id, char *buf, size_t len);

/*
 * The processes directly in the cgroup at path (its cgroup.procs, not its
 * descendants'). *pids is malloc'd (non-NULL on success, even when *n is 0).
 */
int cgroup_list_procs(const char *path, pid_t **pids, size_t *n);
/*
 * The cgroup.procs of the cgroup2 directory at path, open for
 * cgroup_read_procs(), if that directory is the cgroup id (else -ESTALE):
 * the session lists that cgroup (not a later one made under its name) and
 * walks no path to do it. An fd, or -errno.
 */
int cgroup_open_procs(const char *path, uint64_t id);
/* cgroup_list_procs() through an fd of cgroup_open_procs(). */
int cgroup_read_procs(int fd, pid_t **pids, size_t *n);

/*
 * The cgroup2 directory of process pid: its "0::/path" line of
 * /proc/PID/cgroup joined to the mount point. -ESRCH if there is no such
 * process, -ENOENT if it has no cgroup2 line or cgroup2 is not mounted.
 * (For tests: the daemon follows cgroups by id.)
 */
int cgroup_of_pid(pid_t pid, char *buf, size_t len);

#endif /* RW_CGROUP_H */
