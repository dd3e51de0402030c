/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel objects behind the fds a session holds at the checkpoint:
 * what is queued in pipes and unix sockets whose every end the session's
 * processes hold, eventfd counters, timerfd settings, inotify watch sets,
 * epoll interest lists and the file locks taken through an fd.
 *
 * Captured per process while it is frozen (image.c), classified across
 * the session once every process is captured (a pipe or socket is
 * "internal" when all its ends are held by session processes and by no
 * other process), restored after the fd table is (the fd numbers then
 * name the checkpoint's descriptions again), and compared by --verify.
 * The comparison of a checkpoint object with the object now (fdobj_plan)
 * is pure and unit-tested.
 */
#ifndef RW_FDOBJ_H
#define RW_FDOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

enum rw_fdobj_kind {
	RW_FDOBJ_PIPE = 1,	/* recorded on a read end */
	RW_FDOBJ_SOCKET,	/* AF_UNIX; its receive queue */
	RW_FDOBJ_EVENTFD,
	RW_FDOBJ_TIMERFD,
	RW_FDOBJ_INOTIFY,
	RW_FDOBJ_EPOLL,
	RW_FDOBJ_LOCKS,		/* a regular file: the locks taken through this fd */
};

struct rw_inotify_watch {
	int wd;
	uint64_t ino;
	uint32_t sdev, mask, ignored_mask;
};

struct rw_epoll_item {
	int tfd;
	uint32_t events;
	uint64_t data;
	uint64_t ino;
};

enum rw_lock_type { RW_LOCK_FLOCK = 1, RW_LOCK_POSIX, RW_LOCK_OFD };

struct rw_file_lock {
	enum rw_lock_type type;
	bool write;
	uint64_t start, end;	/* end UINT64_MAX: to EOF */
};

struct rw_timerfd {
	int clockid;
	uint64_t ticks;
	int flags;		/* settime flags (TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET) */
	struct timespec value;	/* remaining at the checkpoint; zero: disarmed */
	struct timespec interval;
};

/* The state of one object, at the checkpoint or now. */
struct rw_fdobj {
	int fd;
	enum rw_fdobj_kind kind;
	uint64_t ino;
	/*
	 * The image's own reference to the same description, borrowed (never
	 * closed here), or -1: a rewind reads and restores the object through it.
	 */
	int held;
	/* PIPE, SOCKET */
	bool internal;		/* every end held inside the session: its queue is restored */
	pid_t peer_pid;		/* PIPE: a holder of a write end; SOCKET: of the peer */
	int peer_fd;
	uint64_t peer_ino;	/* SOCKET: the peer's inode (unix_diag), 0 if unknown */
	int sotype;		/* SOCKET: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint8_t *data;		/* queued bytes */
	size_t len;
	size_t *msgs;		/* SOCKET dgram/seqpacket: message lengths, in order */
	size_t nmsgs;
	bool rights;		/* SOCKET: file descriptors in flight (SCM_RIGHTS) */
	int pipe_size;		/* PIPE: F_GETPIPE_SZ */
	/* EVENTFD */
	uint64_t count;
	bool semaphore;
	/* TIMERFD */
	struct rw_timerfd timer;
	struct timespec abs_deadline;	/* TFD_TIMER_ABSTIME: the deadline on its clock */
	/* INOTIFY */
	struct rw_inotify_watch *watches;
	size_t nwatches;
	int queued;		/* FIONREAD: bytes of events queued */
	/* EPOLL */
	struct rw_epoll_item *items;
	size_t nitems;
	/* LOCKS */
	struct rw_file_lock *locks;
	size_t nlocks;
};

struct rw_fdobjs {
	struct rw_fdobj *v;	/* ascending fd */
	size_t n;
	/*
	 * Per object, fdobj_rewind's: the target's /proc/TGID/fdinfo/FD kept
	 * open and read again from offset 0 at every rewind (the kernel makes
	 * the text anew then, for whatever FD is at that moment, and the file
	 * follows the process, not its number); -1 until the first. NULL: none.
	 */
	int *fdinfo;
	/*
	 * fdobj_rewind's pipe for reading a pipe's queue with tee (made at
	 * the first rewind that needs it and kept: ~2/3 of a queue's cost was
	 * making, sizing and closing one). Valid once fdinfo is allocated.
	 */
	struct rw_scratch_pipe {
		int rd, wr;	/* -1: none yet */
		int size;	/* its capacity */
	} scratch;
};

enum rw_fdobj_step_kind {
	RW_FDSTEP_REFILL,	/* PIPE/SOCKET: drain, pipe size, queue the checkpoint's bytes */
	RW_FDSTEP_EVENTFD,	/* set the counter */
	RW_FDSTEP_TIMERFD,	/* drain ticks, re-arm as at the checkpoint */
	RW_FDSTEP_INOTIFY_RM,	/* arg: wd */
	RW_FDSTEP_INOTIFY_DRAIN,
	RW_FDSTEP_EPOLL_DEL,	/* item */
	RW_FDSTEP_EPOLL_ADD,
	RW_FDSTEP_EPOLL_MOD,
	RW_FDSTEP_UNLOCK,	/* lock */
	RW_FDSTEP_LOCK,
};

struct rw_fdobj_step {
	enum rw_fdobj_step_kind kind;
	int fd;
	int wd;
	struct rw_epoll_item item;
	struct rw_file_lock lock;
};

struct rw_fdobj_plan {
	struct rw_fdobj_step *steps;
	size_t n;
	char **failures;	/* "fd 5: inotify watch 1 (ino 3c51a) removed since the checkpoint: ..." */
	size_t nfailures;
};

/* Parse /proc/PID/fdinfo/FD text into o (kind set by the caller). 0 or -EINVAL. */
int fdobj_parse_fdinfo(const char *text, struct rw_fdobj *o);
/* The object kind of a /proc/PID/fd link ("pipe:[12]", "anon_inode:[eventfd]"...), or 0. */
enum rw_fdobj_kind fdobj_kind_of(const char *link, bool regular);
const char *fdobj_kind_name(enum rw_fdobj_kind kind);

/*
 * What brings now back to want (same fd, same kind): steps appended to p,
 * failures when it cannot be. Pure. 0 or -ENOMEM.
 */
int fdobj_plan(const struct rw_fdobj *want, const struct rw_fdobj *now, struct rw_fdobj_plan *p);
void fdobj_plan_free(struct rw_fdobj_plan *p);
/* Differences of now from want, each as a line into lines (at most max). Pure. */
size_t fdobj_compare(const struct rw_fdobj *want, const struct rw_fdobj *now, char **lines,
		     size_t max);

/*
 * The objects behind fds of a frozen process (fds: its fd numbers and
 * their /proc links). Queued bytes of pipes and sockets are read without
 * consuming them. 0 or -errno.
 */
int fdobj_capture(pid_t tgid, const int *fds, const char (*links)[256], const bool *regular,
		  size_t n, struct rw_fdobjs *out);
/*
 * Across the session's processes (their pids and objects): mark the pipes
 * and sockets every end of which they hold, and that no other process
 * holds, internal; name a write end / the peer of each. 0 or -errno.
 */
int fdobj_classify(const pid_t *pids, struct rw_fdobjs *const *objs, size_t n);
/* Whether a rewind has anything to do for these objects (none: it reads nothing). */
bool fdobj_any(const struct rw_fdobjs *objs);
void fdobj_free(struct rw_fdobj *o);
void fdobjs_free(struct rw_fdobjs *objs);

/*
 * Observe the objects of frozen process tgid now, plan, and apply the
 * plan (remote: an injector for the calls that must run inside it, may be
 * NULL when none are needed); locks: re-read the locks (the log saw a
 * lock call, or records were lost). Failures fail the rewind: -ENOTRECOVERABLE
 * with why naming the fd and class.
 */
struct rw_remote;
int fdobj_rewind(pid_t tgid, struct rw_fdobjs *objs, bool locks, struct rw_remote *r,
		 uint64_t *nsteps, char *why, size_t whylen);
/* --verify: every object of objs compared now, differences as lines (caller frees). */
int fdobj_verify(pid_t tgid, const struct rw_fdobjs *objs, char **lines, size_t max,
		 size_t *nlines, uint64_t *differences);

#endif /* RW_FDOBJ_H */
