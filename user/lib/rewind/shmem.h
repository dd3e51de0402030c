/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared memory objects of a process: what its shared mappings of shmem
 * (shared anonymous memory, memfds, /dev/shm and other tmpfs files, SysV
 * segments) and of unlinked files map, and the unlinked regular files it
 * holds as fds (memfds, O_TMPFILE files). Their contents and size belong
 * to the object, not to the process's pages: a store through a shared
 * mapping raises no fault the write protection sees (shared mappings are
 * not armed) and no syscall the log records, so every rewind reads them
 * and compares with the checkpoint (shm_diff), and the plan writes back
 * what differs through rewindd's own reference to the object.
 */
#ifndef RW_SHMEM_H
#define RW_SHMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "ranges.h"

/*
 * Total checkpoint size of a process's objects past which its checkpoint
 * fails closed: each rewind reads up to that much (the compare is
 * proportional to the size, not to what was written).
 */
#define RW_SHM_MAX_BYTES	(256ULL << 20)

/* Stored pages [start, start + npages * 4 KiB) of an object at byte offset off of its store. */
struct rw_shm_run {
	uint64_t start;
	uint64_t npages;
	uint64_t off;
};

struct rw_shm_image {
	dev_t dev;
	ino_t ino;
	int fd;			/* ours, O_RDWR where it could be opened so */
	bool writable;
	uint64_t size;
	struct rw_shm_run *runs;	/* ascending offsets; pages that read non-zero */
	size_t nruns;
	uint8_t *store;
	uint64_t pages_stored;
	char what[200];		/* "mapping 0x...-0x... NAME" or "fd N (PATH)", for messages */
};

/* An object as a rewind found it. */
struct rw_shm_now {
	uint64_t size;
	struct rw_range *diff;	/* pages (offsets) of [0, checkpoint size) that differ, sorted */
	size_t ndiff;
	uint64_t first_byte;	/* first differing byte, when ndiff */
};

/* One fd of the process at the checkpoint: its number and path, for shm_capture. */
struct rw_shm_fd {
	int fd;
	const char *path;
};

/*
 * The objects of process tgid: every shared mapping of maps backed by tmpfs
 * or by an unlinked file, and every unlinked regular file among fds.
 * Contents read through a reference of ours. 0, or -errno with why set
 * (an object that cannot be held or read, hugetlbfs, over the cap):
 * the checkpoint fails closed.
 */
int shm_capture(pid_t tgid, const struct rw_maps *maps, const struct rw_shm_fd *fds, size_t nfds,
		struct rw_shm_image **out, size_t *n, char *why, size_t whylen);
void shm_free(struct rw_shm_image *s, size_t n);
/* Checkpoint contents of the page at off (page aligned), or NULL when not stored (zero). */
const uint8_t *shm_page(const struct rw_shm_image *s, uint64_t off);
/* The stored runs overlapping [start, end): index of the first, count in *n. */
size_t shm_runs_in(const struct rw_shm_image *s, uint64_t start, uint64_t end, size_t *n);
/* Read the object now and list what differs from the checkpoint. 0 or -errno. */
int shm_diff(const struct rw_shm_image *s, struct rw_shm_now *now);
void shm_now_free(struct rw_shm_now *now);

#endif /* RW_SHMEM_H */
