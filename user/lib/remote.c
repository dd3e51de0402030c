// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "remote: "
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "remote.h"

#define SCRATCH_LEN	4096
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif

void remote_init(struct rw_remote *r, struct rw_inject *ij, pid_t pid)
{
	memset(r, 0, sizeof(*r));
	r->ij = ij;
	r->pid = pid;
}

int remote_call(struct rw_remote *r, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, long *res)
{
	long args[6] = { a0, a1, a2, a3, a4, a5 };
	int err;

	if (!r->ij || r->broken)
		return -ESRCH;
	err = inject_syscall(r->ij, nr, args, res);
	if (err) {
		r->broken = true;
		if (err != -ESRCH)
			pr_err("pid %d: injecting syscall %ld: %s\n", r->pid, nr, strerror(-err));
	}
	return err;
}

/* A syscall whose result is 0 or -errno. */
static int call0(struct rw_remote *r, long nr, long a0, long a1, long a2, long a3, long a4,
		 long a5)
{
	long res;
	int err = remote_call(r, nr, a0, a1, a2, a3, a4, a5, &res);

	if (err)
		return err;
	return res < 0 ? (int)res : 0;
}

static int scratch(struct rw_remote *r)
{
	long res;
	int err;

	if (r->scratch)
		return 0;
	err = remote_call(r, SYS_mmap, 0, SCRATCH_LEN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &res);
	if (err)
		return err;
	if (res < 0 && res > -4096) {
		pr_err("pid %d: mmap of a scratch page in the target: %s\n", r->pid,
		       strerror((int)-res));
		return (int)res;
	}
	r->scratch = res;
	r->scratch_len = SCRATCH_LEN;
	return 0;
}

int remote_close(struct rw_remote *r)
{
	int err;

	if (!r->scratch || !r->ij)
		return 0;
	err = call0(r, SYS_munmap, r->scratch, r->scratch_len, 0, 0, 0, 0);
	if (err && err != -ESRCH)
		pr_err("pid %d: unmapping our scratch page: %s\n", r->pid, strerror(-err));
	r->scratch = 0;
	return err;
}

static int poke(struct rw_remote *r, size_t off, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)(r->scratch + off), len };

	if (off + len > r->scratch_len)
		return -E2BIG;
	if (process_vm_writev(r->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		r->broken = errno == ESRCH;
		return errno ? -errno : -EIO;
	}
	return 0;
}

static int peek(struct rw_remote *r, size_t off, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)(r->scratch + off), len };

	if (off + len > r->scratch_len)
		return -E2BIG;
	if (process_vm_readv(r->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		r->broken = errno == ESRCH;
		return errno ? -errno : -EIO;
	}
	return 0;
}

#define ADDR(off)	((long)(r->scratch + (off)))

int remote_mmap(struct rw_remote *r, uint64_t addr, uint64_t len, int prot, int flags, int fd,
		uint64_t off, uint64_t *mapped)
{
	long res;
	int err = remote_call(r, SYS_mmap, addr, len, prot, flags, fd, off, &res);

	if (err)
		return err;
	if (res < 0 && res > -4096)
		return (int)res;
	*mapped = res;
	return 0;
}

int remote_munmap(struct rw_remote *r, uint64_t addr, uint64_t len)
{
	return call0(r, SYS_munmap, addr, len, 0, 0, 0, 0);
}

int remote_mprotect(struct rw_remote *r, uint64_t addr, uint64_t len, int prot)
{
	return call0(r, SYS_mprotect, addr, len, prot, 0, 0, 0);
}

int remote_madvise(struct rw_remote *r, uint64_t addr, uint64_t len, int advice)
{
	return call0(r, SYS_madvise, addr, len, advice, 0, 0, 0);
}

int remote_brk(struct rw_remote *r, uint64_t addr, uint64_t *now)
{
	long res;
	int err = remote_call(r, SYS_brk, addr, 0, 0, 0, 0, 0, &res);

	if (!err)
		*now = res;	/* brk returns the break, never an error */
	return err;
}

int remote_sigaction_get(struct rw_remote *r, int sig, struct rw_ksigaction *out)
{
	int err = scratch(r);

	if (!err)
		err = call0(r, SYS_rt_sigaction, sig, 0, ADDR(0), 8, 0, 0);
	if (!err)
		err = peek(r, 0, out, sizeof(*out));
	return err;
}

int remote_sigaction_set(struct rw_remote *r, int sig, const struct rw_ksigaction *act)
{
	int err = scratch(r);

	if (!err)
		err = poke(r, 0, act, sizeof(*act));
	if (!err)
		err = call0(r, SYS_rt_sigaction, sig, ADDR(0), 0, 8, 0, 0);
	return err;
}

int remote_itimer_get(struct rw_remote *r, int which, struct itimerval *out)
{
	int err = scratch(r);

	if (!err)
		err = call0(r, SYS_getitimer, which, ADDR(0), 0, 0, 0, 0);
	if (!err)
		err = peek(r, 0, out, sizeof(*out));
	return err;
}

int remote_itimer_set(struct rw_remote *r, int which, const struct itimerval *val)
{
	int err = scratch(r);

	if (!err)
		err = poke(r, 0, val, sizeof(*val));
	if (!err)
		err = call0(r, SYS_setitimer, which, ADDR(0), 0, 0, 0, 0);
	return err;
}

int remote_timer_gettime(struct rw_remote *r, int id, struct itimerspec *out)
{
	int err = scratch(r);

	if (!err)
		err = call0(r, SYS_timer_gettime, id, ADDR(0), 0, 0, 0, 0);
	if (!err)
		err = peek(r, 0, out, sizeof(*out));
	return err;
}

int remote_timer_settime(struct rw_remote *r, int id, const struct itimerspec *val)
{
	int err = scratch(r);

	if (!err)
		err = poke(r, 0, val, sizeof(*val));
	if (!err)
		err = call0(r, SYS_timer_settime, id, 0, ADDR(0), 0, 0, 0);
	return err;
}

int remote_timer_delete(struct rw_remote *r, int id)
{
	return call0(r, SYS_timer_delete, id, 0, 0, 0, 0, 0);
}

int remote_umask(struct rw_remote *r, mode_t mask, mode_t *old)
{
	long res;
	int err = remote_call(r, SYS_umask, mask, 0, 0, 0, 0, 0, &res);

	if (!err)
		*old = res;
	return err;
}

int remote_chdir(struct rw_remote *r, const char *path)
{
	size_t len = strlen(path) + 1;
	int err;

	if (len > SCRATCH_LEN)
		return -ENAMETOOLONG;
	err = scratch(r);
	if (!err)
		err = poke(r, 0, path, len);
	if (!err)
		err = call0(r, SYS_chdir, ADDR(0), 0, 0, 0, 0, 0);
	return err;
}

int remote_close_fd(struct rw_remote *r, int fd)
{
	return call0(r, SYS_close, fd, 0, 0, 0, 0, 0);
}

int remote_set_fd_flags(struct rw_remote *r, int fd, int fd_flags)
{
	return call0(r, SYS_fcntl, fd, F_SETFD, fd_flags, 0, 0, 0);
}

int remote_set_comm(struct rw_remote *r, const char *comm)
{
	char buf[16] = { 0 };
	int err;

	strncpy(buf, comm, sizeof(buf) - 1);
	err = scratch(r);
	if (!err)
		err = poke(r, 0, buf, sizeof(buf));
	if (!err)
		err = call0(r, SYS_prctl, PR_SET_NAME, ADDR(0), 0, 0, 0, 0);
	return err;
}

int remote_wait4(struct rw_remote *r, pid_t pid, int options, pid_t *reaped)
{
	long res;
	int err = remote_call(r, SYS_wait4, pid, 0, options | __WALL, 0, 0, 0, &res);

	if (err)
		return err;
	if (res < 0)
		return (int)res;
	*reaped = res;
	return 0;
}

int remote_drain_signals(struct rw_remote *r, uint64_t set)
{
	struct timespec zero = { 0, 0 };
	int err = scratch(r);

	if (!err)
		err = poke(r, 0, &set, sizeof(set));
	if (!err)
		err = poke(r, 64, &zero, sizeof(zero));
	for (int i = 0; !err && i < 64; i++) {
		long res;

		err = remote_call(r, SYS_rt_sigtimedwait, ADDR(0), 0, ADDR(64), 8, 0, 0, &res);
		if (!err && res < 0)
			return res == -EAGAIN ? 0 : (int)res;
	}
	return err;
}

/* Our end of a socketpair made in the target, through its pidfd. */
static int take_fd(pid_t pid, int tfd)
{
	int pidfd = syscall(__NR_pidfd_open, pid, 0), fd;

	if (pidfd < 0)
		return -errno;
	fd = syscall(__NR_pidfd_getfd, pidfd, tfd, 0);
	if (fd < 0)
		fd = -errno;
	close(pidfd);
	return fd;
}

int remote_install_fd(struct rw_remote *r, int local_fd, int target_fd, bool cloexec)
{
	struct {
		int sv[2];
		int pad[2];
		struct msghdr msg;
		struct iovec iov;
		char data[8];
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} cmsg;
	} t;		/* laid out in the scratch page with target addresses */
	char byte = 'f';
	struct iovec liov = { &byte, 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} lc;
	struct msghdr lmsg = { .msg_iov = &liov, .msg_iovlen = 1, .msg_control = lc.buf,
			       .msg_controllen = sizeof(lc.buf) };
	struct cmsghdr *cm;
	int ours = -1, got = -1, err;
	long res;

	err = scratch(r);
	if (err)
		return err;
	err = call0(r, SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ADDR(0), 0, 0);
	if (!err)
		err = peek(r, 0, t.sv, sizeof(t.sv));
	if (err) {
		pr_err("pid %d: socketpair in the target: %s\n", r->pid, strerror(-err));
		return err;
	}
	ours = take_fd(r->pid, t.sv[0]);
	if (ours < 0) {
		err = ours;
		pr_err("pid %d: taking our end of its socketpair: %s\n", r->pid, strerror(-err));
		goto out;
	}
	/* Send the fd, then receive it in the target. */
	memset(&lc, 0, sizeof(lc));
	cm = CMSG_FIRSTHDR(&lmsg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &local_fd, sizeof(int));
	if (sendmsg(ours, &lmsg, 0) != 1) {
		err = -errno;
		pr_err("pid %d: passing fd %d: %s\n", r->pid, local_fd, strerror(errno));
		goto out;
	}
	memset(&t.msg, 0, sizeof(t.msg));
	memset(&t.cmsg, 0, sizeof(t.cmsg));
	t.iov.iov_base = (void *)ADDR(offsetof(typeof(t), data));
	t.iov.iov_len = sizeof(t.data);
	t.msg.msg_iov = (void *)ADDR(offsetof(typeof(t), iov));
	t.msg.msg_iovlen = 1;
	t.msg.msg_control = (void *)ADDR(offsetof(typeof(t), cmsg));
	t.msg.msg_controllen = sizeof(t.cmsg.buf);
	err = poke(r, 0, &t, sizeof(t));
	if (!err)
		err = remote_call(r, SYS_recvmsg, t.sv[1], ADDR(offsetof(typeof(t), msg)),
				  MSG_CMSG_CLOEXEC, 0, 0, 0, &res);
	if (!err && res < 0)
		err = (int)res;
	if (!err)
		err = peek(r, 0, &t, sizeof(t));
	if (err) {
		pr_err("pid %d: receiving the fd in the target: %s\n", r->pid, strerror(-err));
		goto out;
	}
	{
		/* The control message now holds the target's new fd number. */
		struct msghdr view = { .msg_control = t.cmsg.buf, .msg_controllen = sizeof(t.cmsg.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&view);

		if (!c || c->cmsg_type != SCM_RIGHTS) {
			err = -EIO;
			goto out;
		}
		memcpy(&got, CMSG_DATA(c), sizeof(int));
	}
	if (got == target_fd)
		err = call0(r, SYS_fcntl, got, F_SETFD, cloexec ? FD_CLOEXEC : 0, 0, 0, 0);
	else
		err = call0(r, SYS_dup3, got, target_fd, cloexec ? O_CLOEXEC : 0, 0, 0, 0);
	if (err)
		pr_err("pid %d: placing the fd at %d: %s\n", r->pid, target_fd, strerror(-err));
out:
	if (got >= 0 && got != target_fd)
		call0(r, SYS_close, got, 0, 0, 0, 0, 0);
	call0(r, SYS_close, t.sv[0], 0, 0, 0, 0, 0);
	call0(r, SYS_close, t.sv[1], 0, 0, 0, 0, 0);
	if (ours >= 0)
		close(ours);
	return err;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int proc_list_posix_timers(pid_t pid, int **ids, size_t *n)
{
	char path[64], *text, *p;
	size_t len, cap = 0;
	int err;

	*ids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	err = read_whole_file(AT_FDCWD, path, 16 << 20, &text, &len);
	if (err == -ENOENT)
		return -ESRCH;
	if (err)
		return err;
	for (p = text; (p = strstr(p, "ID: ")); p += 4) {
		if (p != text && p[-1] != '\n')
			continue;
		if (*n == cap) {
			int *more = realloc(*ids, (cap = cap ? 2 * cap : 8) * sizeof(int));

			if (!more) {
				free(*ids);
				*ids = NULL;
				free(text);
				return -ENOMEM;
			}
			*ids = more;
		}
		(*ids)[(*n)++] = atoi(p + 4);
	}
	free(text);
	qsort(*ids, *n, sizeof(int), cmp_int);
	return 0;
}
