// SPDX-License-Identifier: GPL-2.0-only
/*
 * More writes that raise no write fault in the written task (see gup.c): the
 * rewind must not trust the fault log after them.
 *
 * unseen_vmsplice: a pipe's bytes vmspliced into the buffer. On 6.18 the
 *   kernel copies them with copy_to_user, a logged fault: this one passes
 *   even with the counter ignored; vmsplice stays counted (older kernels,
 *   and the pages a gift leaves shared).
 * unseen_mlock: mlock populates the buffer for write (its pages lose their
 *   write protection without a write), then plain stores fault no more.
 * unseen_vfork: a CLONE_VM child (another tgid on the same mm) writes it.
 * unseen_uring_fixed: an io_uring READ_FIXED into a buffer registered at
 *   setup (pinned before the checkpoint): the kernel writes the pinned page
 *   through its own mapping, no page-table entry changes.
 * unseen_uring_worker (helper): the same read forced to an io-wq worker
 *   (IOSQE_ASYNC): an iou-wrk thread of the process exists at the rewind,
 *   which cannot be rewound (test_rewind.sh fail_iouring_worker).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "zdtm.h"

#define UN_PAGES 8
#define UN_LEN (UN_PAGES * PAGE)

static char *un_buf;

static void un_setup(void)
{
	un_buf = map_anon(UN_LEN);
	fill(un_buf, UN_LEN, 50);
}

static void un_check(void)
{
	check_fill("buffer written without a fault", un_buf, UN_LEN, 50);
}

static void vmsplice_go(void)
{
	static char src[2 * PAGE];
	struct iovec iov = { un_buf + 3 * PAGE, sizeof(src) };
	int pfd[2];

	memset(src, 'S', sizeof(src));
	if (pipe(pfd) || write(pfd[1], src, sizeof(src)) != (ssize_t)sizeof(src))
		die("pipe");
	/* vmsplice from a pipe's read end copies its bytes into the iovec. */
	if (vmsplice(pfd[0], &iov, 1, 0) != (ssize_t)sizeof(src))
		die("vmsplice");
	close(pfd[0]);
	close(pfd[1]);
	done("");
}

ZDTM_SCENARIO(unseen_vmsplice, un_setup, vmsplice_go, un_check);

static void mlock_go(void)
{
	if (mlock(un_buf, UN_LEN))
		die("mlock");
	memset(un_buf + 2 * PAGE, 'L', 3 * PAGE);
	if (munlock(un_buf, UN_LEN))
		die("munlock");
	done("");
}

ZDTM_SCENARIO(unseen_mlock, un_setup, mlock_go, un_check);

static int vfork_child(void *arg)
{
	(void)arg;
	memset(un_buf + 5 * PAGE, 'K', 2 * PAGE);
	return 0;
}

static void vfork_go(void)
{
	size_t len = 64 * 1024;
	char *stack = map_anon(len);
	int status;
	pid_t pid;

	pid = clone(vfork_child, stack + len, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		die("clone(CLONE_VM)");
	munmap(stack, len);
	done("");
}

ZDTM_SCENARIO(unseen_vfork, un_setup, vfork_go, un_check);

/* A raw io_uring with the buffer registered: set up before the checkpoint. */
static struct {
	int fd, file;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, sq_mask, cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
} ur = { .fd = -1, .file = -1 };

static void uring_setup(void)
{
	struct io_uring_params p = { 0 };
	struct iovec iov;
	char path[64], *src;
	char *sq, *cq;

	un_setup();
	iov = (struct iovec){ un_buf, UN_LEN };
	ur.fd = syscall(__NR_io_uring_setup, 4, &p);
	if (ur.fd < 0)
		die("io_uring_setup");
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_CQ_RING);
	ur.sqes = mmap(NULL, p.sq_entries * sizeof(*ur.sqes), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || ur.sqes == MAP_FAILED)
		die("mapping the io_uring");
	ur.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ur.sq_array = (unsigned *)(sq + p.sq_off.array);
	ur.sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	ur.cq_head = (unsigned *)(cq + p.cq_off.head);
	ur.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ur.cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
	ur.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	if (syscall(__NR_io_uring_register, ur.fd, IORING_REGISTER_BUFFERS, &iov, 1))
		die("IORING_REGISTER_BUFFERS");
	/* An unlinked file of other bytes to read from (page cache, no O_DIRECT). */
	snprintf(path, sizeof(path), "/var/tmp/rw-zdtm-uring-%d", (int)getpid());
	ur.file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	src = map_anon(UN_LEN);
	fill(src, UN_LEN, 51);
	if (ur.file < 0 || pwrite(ur.file, src, UN_LEN, 0) != (ssize_t)UN_LEN)
		die("writing the file to read");
	munmap(src, UN_LEN);
	unlink(path);
}

static void uring_read_fixed(unsigned char sqe_flags)
{
	struct io_uring_sqe *e = &ur.sqes[0];
	unsigned head;

	memset(e, 0, sizeof(*e));
	e->opcode = IORING_OP_READ_FIXED;
	e->flags = sqe_flags;
	e->fd = ur.file;
	e->addr = (unsigned long)un_buf + PAGE;
	e->len = 4 * PAGE;
	e->off = PAGE;
	e->buf_index = 0;
	ur.sq_array[*ur.sq_tail & ur.sq_mask] = 0;
	__atomic_store_n(ur.sq_tail, *ur.sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ur.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1)
		die("io_uring_enter");
	head = *ur.cq_head;
	if (__atomic_load_n(ur.cq_tail, __ATOMIC_ACQUIRE) == head ||
	    ur.cqes[head & ur.cq_mask].res != (int)(4 * PAGE))
		die("io_uring READ_FIXED");
	__atomic_store_n(ur.cq_head, head + 1, __ATOMIC_RELEASE);
}

static void uring_fixed_go(void)
{
	uring_read_fixed(0);
	done("");
}

ZDTM_SCENARIO(unseen_uring_fixed, uring_setup, uring_fixed_go, un_check);

static void uring_worker_go(void)
{
	uring_read_fixed(IOSQE_ASYNC);
	done("");
}

ZDTM_HELPER(unseen_uring_worker, uring_setup, uring_worker_go, un_check);
