// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procmap.h"

/*
 * The kernel's ABI (include/uapi/linux/fs.h since 6.11), written out here:
 * the build host's headers may predate it. `size` versions the struct.
 */
struct rw_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start, vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};

#define RW_PROCMAP_QUERY		_IOWR('f', 17, struct rw_procmap_query)
#define RW_PROCMAP_READABLE		(1 << 0)
#define RW_PROCMAP_WRITABLE		(1 << 1)
#define RW_PROCMAP_EXECUTABLE		(1 << 2)
#define RW_PROCMAP_SHARED		(1 << 3)
#define RW_PROCMAP_COVERING_OR_NEXT	(1 << 4)

int procmap_query(int fd, uint64_t addr, bool next, struct rw_vma *out)
{
	/* A path can be longer than out->name holds: the kernel refuses a short buffer. */
	char name[PATH_MAX];
	struct rw_procmap_query q = {
		.size = sizeof(q),
		.query_flags = next ? RW_PROCMAP_COVERING_OR_NEXT : 0,
		.query_addr = addr,
		.vma_name_size = sizeof(name),
		.vma_name_addr = (uintptr_t)name,
	};
	size_t n;

	if (ioctl(fd, RW_PROCMAP_QUERY, &q))
		return -errno;
	memset(out, 0, sizeof(*out));
	out->start = q.vma_start;
	out->end = q.vma_end;
	out->prot = (q.vma_flags & RW_PROCMAP_READABLE ? PROT_READ : 0) |
		    (q.vma_flags & RW_PROCMAP_WRITABLE ? PROT_WRITE : 0) |
		    (q.vma_flags & RW_PROCMAP_EXECUTABLE ? PROT_EXEC : 0);
	out->shared = q.vma_flags & RW_PROCMAP_SHARED;
	out->offset = q.vma_offset;
	out->dev_major = q.dev_major;
	out->dev_minor = q.dev_minor;
	out->inode = q.inode;
	/* vma_name_size: the name's length with its NUL, 0 for a vma without one. */
	n = q.vma_name_size ? q.vma_name_size - 1 : 0;
	if (n >= sizeof(out->name))
		n = sizeof(out->name) - 1;
	memcpy(out->name, name, n);
	out->name[n] = '\0';
	return 0;
}

int procmap_open(pid_t pid)
{
	char path[64];
	struct rw_vma v;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	err = procmap_query(fd, 0, true, &v);
	if (!err || err == -ENOENT)
		return fd;
	close(fd);
	return err == -ENOTTY || err == -EINVAL ? -EOPNOTSUPP : err;
}
