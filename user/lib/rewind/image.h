/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The checkpoint image of one process, held in rewindd's memory: layout,
 * the contents of its present private writable anonymous pages, every
 * thread's state, and the process-wide state an invocation can change (brk,
 * fds, cwd, umask, signal dispositions, timers, rlimits and the per-thread
 * attributes of attrs.h), and the contents of the shared memory objects it
 * maps or holds (shmem.h).
 *
 * Pages are stored only where they are anonymous, present and not the zero
 * page; every other page of a private writable mapping reads, at
 * checkpoint, as zero (anonymous) or as the file (file-backed), which is
 * what MADV_DONTNEED brings back. Mappings marked MADV_WIPEONFORK (VmFlags
 * "wf") are not stored at all: every rewind wipes them, as a fork would.
 */
#ifndef RW_IMAGE_H
#define RW_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "attrs.h"
#include "fdobj.h"
#include "freeze.h"
#include "ident.h"
#include "restorer_area.h"
#include "proc.h"
#include "pstate.h"
#include "ranges.h"
#include "remote.h"
#include "shmem.h"
#include "threadstate.h"

struct rw_pagestore;
struct rw_pageseg;

/*
 * Stored pages [start, start + npages * 4 KiB) at byte offset off of the
 * image's own store (seg NULL) or of a segment of the shared page store
 * (pagestore.h) holding the same content for another image.
 */
struct rw_page_run {
	uint64_t start;
	uint64_t npages;
	uint64_t off;
	struct rw_pageseg *seg;
};

struct rw_fd_image {
	int fd;
	int held;		/* our reference to the same open file description, or -1
				 * (sockets and pipe write ends are not held) */
	bool cloexec;
	int status_flags;	/* F_GETFL of the description */
	int64_t pos;		/* -1 where seeking makes no sense */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	char path[256];		/* as /proc/PID/fd shows it, for messages */
	uint64_t file;		/* held: its struct file's address (observe_iter.h); 0 unknown */
};

/* A file some mapping maps, held so the mapping can be brought back if unmapped. */
struct rw_map_file {
	dev_t dev;
	ino_t ino;
	int fd;			/* or -1 */
	bool rw;		/* opened O_RDWR: some mapping of it is shared writable */
	/* At the checkpoint: what its private mappings' unwritten pages read come from. */
	off_t size;
	struct timespec mtime, ctime;
};

struct rw_posix_timer {
	int id;
	struct itimerspec spec;
};

/* The mappings of ours in a target, by identity (image_is_tmap): the store's, the restorer area's. */
struct rw_tmaps {
	struct rw_tmap store, area;
};

struct rw_proc_image {
	pid_t tgid;
	struct rw_maps maps;
	struct rw_thread_state *threads;	/* ascending tid */
	size_t nthreads;

	/*
	 * Page contents: a memfd sealed against every write once filled
	 * (F_SEAL_WRITE), mapped read-only here and, at tmap, in the target
	 * for the in-target restorer (restore.c). store_fd -1: none.
	 */
	const uint8_t *store;
	size_t store_len;
	int store_fd;
	uint64_t tmap;			/* the target's read-only mapping of it; 0: none */
	/* Its /proc/PID/maps, open for procmap_query (observe_layout.h); -1: none. */
	int maps_fd;
	/* The restorer's code and tables, resident in the target (restorer_area.h). */
	struct rw_restorer_area area;
	/*
	 * Set by the caller before image_capture: the previous checkpoint's
	 * mappings in the target, unmapped before the capture (they would pin
	 * the old store and enter the new layout).
	 */
	struct rw_tmaps stale;
	/*
	 * What a page cost to copy back each way, in ps, per size class of a
	 * copy (64-255, 256-1023, 1024-4095, 4096+ pages; EWMA, 0: not
	 * measured yet): restore.c.
	 */
	struct rw_copy_costs {
		uint64_t restorer_ps[4], writev_ps[4];
		unsigned int rewinds[4];
	} copy_costs;
	dev_t store_dev;		/* the memfd's identity, as /proc/PID/maps shows it */
	ino_t store_ino;
	/*
	 * Set by the caller before image_capture: the store shared with the
	 * other images (NULL: every page its own) and the domain it shares in
	 * (the session owner's uid: no one learns from the store whether
	 * another user's process holds a page). own: its segment there.
	 */
	struct rw_pagestore *pagestore;
	uint32_t share_domain;
	struct rw_pageseg *own;
	struct rw_page_run *runs;	/* ascending, disjoint */
	size_t nruns;
	uint64_t pages_stored, pages_zero;
	uint64_t store_holes;		/* of pages_stored, those in another's segment, twice, or packed */
	bool store_sealed;		/* image_seal_store: only then mapped into the target */
	/*
	 * What the target maps at tmap: the store, or one that
	 * image_replace_store superseded (the same contents), which the
	 * mapping keeps alive until the next rewind maps the store instead.
	 */
	dev_t tmap_dev;
	ino_t tmap_ino;
	bool tmap_superseded;
	uint64_t private_writable_present;	/* bytes, anonymous or file-backed */

	struct rw_map_file *mapfiles;
	size_t nmapfiles;
	uint64_t brk;
	struct rw_fd_image *fds;	/* ascending fd */
	size_t nfds;
	char cwd[PATH_MAX];
	dev_t cwd_dev;
	ino_t cwd_ino;
	int umask;
	pid_t pgid, sid;		/* process group and session */
	uint64_t sig_ignored, sig_caught;
	uint64_t sig_pending_shared;
	int seccomp, seccomp_filters;	/* irreversible from outside: a change fails the rewind */
	bool no_new_privs;
	struct rw_ident *idents;	/* per thread, ascending tid: irreversible too */
	size_t nidents;
	/* An fd to each namespace of the checkpoint a thread can be put back into. */
	struct rw_ns_ref {
		int kind;		/* RW_NS_* */
		uint64_t ino;
		int fd;
	} *nsrefs;
	size_t nnsrefs;
	struct rw_ksigaction sigactions[RW_NSIG + 1];	/* [sig], 9 and 19 unused */
	struct itimerval itimers[3];
	struct rw_posix_timer *timers;
	size_t ntimers;
	struct rw_attrs attrs;		/* rlimits; nice, scheduling, affinity, ioprio per thread */
	char *cgroups;			/* /proc/PID/cgroup at the checkpoint */
	struct rw_fdobjs fdobjs;	/* the objects behind its fds (fdobj.h) */
	struct rw_pstate pstate;	/* personality, prctl state, sigaltstack, keyrings */
	struct rw_shm_image *shms;	/* shared memory objects it maps or holds (shmem.h) */
	size_t nshms;
	pid_t *children;		/* its children at the checkpoint, live or zombie */
	size_t nchildren;
	/* Where the checkpoint's injections found a syscall instruction: good
	 * again while the log shows no layout call over it. 0 if none ran. */
	uint64_t syscall_ip;
	/*
	 * No thread had an io_uring context at the checkpoint (the task
	 * iterator read it): a worker thread can then appear only after a
	 * logged io_uring call. False when unknown.
	 */
	bool no_io_uring;
};

/*
 * Capture the image of a frozen process. r injects through one of its
 * threads (its scratch page must be closed before capturing the layout:
 * done here). 0 or -errno with the cause logged; img is freed on failure.
 */
int image_capture(struct rw_proc_image *img, struct rw_frozen *f, struct rw_remote *r);
void image_free(struct rw_proc_image *img);
/*
 * Map the page store read-only (MAP_SHARED, from an O_RDONLY reopen of the
 * sealed memfd) into the stopped target at addr, or anywhere if 0, and
 * fault its page tables in; sets img->tmap. 0 or -errno (logged at debug:
 * the caller falls back to copying from here).
 */
int image_map_into(struct rw_proc_image *img, struct rw_remote *r, uint64_t addr);
/*
 * Map the restorer's area (made on first use) into the stopped target at
 * addr, or anywhere if 0; sets img->area.at.addr. 0 or -errno (logged at
 * debug: each rewind then maps a batch area of its own).
 */
int image_map_area(struct rw_proc_image *img, struct rw_remote *r, uint64_t addr);
/* The target's mappings of ours, by identity; addr 0 where none. */
struct rw_tmaps image_tmaps(const struct rw_proc_image *img);
/* Whether v is exactly that mapping, untouched. */
bool image_is_tmap(const struct rw_tmap *t, const struct rw_vma *v);
/*
 * Drop the store's mapping, or the restorer area's, from a layout read of
 * the target (it is ours, not the function's): true if it was there intact.
 * A changed or moved one stays, for the layout step to remove like any
 * mapping made since.
 */
bool image_hide_tmap(const struct rw_proc_image *img, struct rw_maps *maps);
bool image_hide_area(const struct rw_proc_image *img, struct rw_maps *maps);

/*
 * The stored contents of n bytes of run r from off: where the store holds
 * them, or, where some are packed (pagestore.h), unpacked into scratch (n
 * bytes) and there. NULL: a packed page that does not unpack.
 */
const uint8_t *image_run_bytes(const struct rw_proc_image *img, const struct rw_page_run *r,
			       uint64_t off, size_t n, uint8_t *scratch);
/* Whether a run's pages are in the image's own store (which the target maps). */
static inline bool image_run_own(const struct rw_page_run *r)
{
	return !r->seg;
}
/* Where the checkpoint's heap starts (its break, page aligned, without a heap). */
uint64_t image_heap_base(const struct rw_proc_image *img);
/* Seal the filled store: no one writes it but through our mapping. 0 or -errno. */
int image_seal_store(struct rw_proc_image *img);
/*
 * Seal fd (mapped writable at map), a store of the same length and pages
 * (those held packed as holes), and make it the image's store; the old
 * one goes but for the target's mapping of it (tmap_superseded). 0 or
 * -errno (nothing changed).
 */
int image_replace_store(struct rw_proc_image *img, int fd, const uint8_t *map);
/*
 * Checkpoint contents of the page at addr (page aligned), or NULL when not
 * stored. A packed page's bytes are there only after image_need_pages.
 */
const uint8_t *image_page(const struct rw_proc_image *img, uint64_t addr);
/*
 * A rewind uses the pages of the n ranges (page aligned, best sorted: one
 * walk): the packed ones (pagestore.h) are unpacked for good, those being
 * packed marked to stay whole. 0, or -EIO naming none.
 */
int image_need_pages(const struct rw_proc_image *img, const struct rw_range *r, size_t n);
/* The stored runs overlapping [start, end): index of the first, count in *n. */
size_t image_runs_in(const struct rw_proc_image *img, uint64_t start, uint64_t end, size_t *n);
const struct rw_thread_state *image_thread(const struct rw_proc_image *img, pid_t tid);
/* The checkpoint's thread ids, in a new array (never empty-sized); NULL: out of memory. */
pid_t *image_tids(const struct rw_proc_image *img);
/* The held fd to the checkpoint's namespace of that kind and inode, or -1. */
int image_ns_fd(const struct rw_proc_image *img, int kind, uint64_t ino);
const struct rw_map_file *image_map_file(const struct rw_proc_image *img, dev_t dev, ino_t ino);
/*
 * Whether the file a private mapping of [start, end) maps is as at the
 * checkpoint (size, mtime, ctime): its unwritten pages read the file, so
 * dropping a copy of one, or mapping it again, gives the checkpoint's bytes
 * only then. 0, or -ESTALE / -ENOENT with why (the rewind fails closed).
 */
int image_map_files_unchanged(const struct rw_proc_image *img, uint64_t start, uint64_t end,
			      char *why, size_t whylen);
const struct rw_fd_image *image_fd(const struct rw_proc_image *img, int fd);
/* Signals whose disposition can be read and set: 1..64 but SIGKILL, SIGSTOP. */
bool image_sig_settable(int sig);

#endif /* RW_IMAGE_H */
