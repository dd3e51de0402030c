// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes into write-protected memory that raise no page fault (the kernel
 * writes through get_user_pages, not through the task's page tables): the
 * fault log cannot vouch for them, so the rewind must scan for written pages
 * when the log saw a call that can make them.
 *
 * gup_odirect_read: pread(2) from an O_DIRECT file into a buffer.
 * gup_vm_writev: process_vm_writev(2) into itself.
 * gup_iouring_odirect: an io_uring READ (raw syscalls) from an O_DIRECT file.
 * gup_outside (helper): the test script writes its buffer from outside
 *   (/proc/PID/mem, process_vm_writev); go only names the buffer.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "zdtm.h"

#define GUP_PAGES 8
#define GUP_LEN (GUP_PAGES * PAGE)

static char *gup_buf;
static int gup_fd = -1;

/* The buffer (seed 40) and, for the readers, an unlinked O_DIRECT file of seed 41. */
static void gup_setup_buf(void)
{
	gup_buf = map_anon(GUP_LEN);
	fill(gup_buf, GUP_LEN, 40);
}

static void gup_setup_file(void)
{
	char path[64], *src = map_anon(GUP_LEN);
	int fd;

	gup_setup_buf();
	snprintf(path, sizeof(path), "/var/tmp/rw-zdtm-gup-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fill(src, GUP_LEN, 41);
	if (fd < 0 || pwrite(fd, src, GUP_LEN, 0) != (ssize_t)GUP_LEN || fsync(fd))
		die("writing the O_DIRECT file");
	close(fd);
	munmap(src, GUP_LEN);
	gup_fd = open(path, O_RDONLY | O_DIRECT);
	if (gup_fd < 0)
		die("open(O_DIRECT)");
	unlink(path);
}

static void gup_check(void)
{
	check_fill("buffer written through GUP", gup_buf, GUP_LEN, 40);
}

static void odirect_go(void)
{
	if (pread(gup_fd, gup_buf, GUP_LEN, 0) != (ssize_t)GUP_LEN)
		die("pread(O_DIRECT)");
	done("");
}

ZDTM_SCENARIO(gup_odirect_read, gup_setup_file, odirect_go, gup_check);

static void vm_writev_go(void)
{
	static char src[3 * PAGE];
	struct iovec local = { src, sizeof(src) }, remote = { gup_buf + PAGE, sizeof(src) };

	memset(src, 'V', sizeof(src));
	if (syscall(SYS_process_vm_writev, getpid(), &local, 1, &remote, 1, 0) !=
	    (long)sizeof(src))
		die("process_vm_writev");
	done("");
}

ZDTM_SCENARIO(gup_vm_writev, gup_setup_buf, vm_writev_go, gup_check);

/* io_uring without liburing: one READ, waited for in io_uring_enter. */
static void iouring_go(void)
{
	struct io_uring_params p = { 0 };
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	char *sq, *cq;
	int ring;

	ring = syscall(__NR_io_uring_setup, 4, &p);
	if (ring < 0)
		die("io_uring_setup");
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		die("mapping the io_uring");
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_READ;
	sqes[0].fd = gup_fd;
	sqes[0].addr = (unsigned long)gup_buf;
	sqes[0].len = GUP_LEN;
	sq_array[*sq_tail & mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1)
		die("io_uring_enter");
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head ||
	    cqes[*cq_head & *(unsigned *)(cq + p.cq_off.ring_mask)].res != (int)GUP_LEN)
		die("io_uring READ");
	/* The ring goes with the invocation: the checkpoint had none. */
	munmap(sqes, p.sq_entries * sizeof(*sqes));
	munmap(cq, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe));
	munmap(sq, p.sq_off.array + p.sq_entries * sizeof(unsigned));
	close(ring);
	done("");
}

ZDTM_SCENARIO(gup_iouring_odirect, gup_setup_file, iouring_go, gup_check);

/* The script writes the buffer from another process between go and the rewind. */
static void outside_go(void)
{
	done("%lx %lu", (unsigned long)gup_buf, GUP_LEN);
}

ZDTM_HELPER(gup_outside, gup_setup_buf, outside_go, gup_check);
