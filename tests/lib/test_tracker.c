// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF tracker on its own (needs root): load and attach the skeleton,
 * track one child process, have it do known things, drain the ring buffer
 * and check the exact records each produced, field by field: layout calls,
 * user and kernel write faults, file mutations with their paths, fd,
 * signal and cwd state calls, thread creation and exits. Calls the tracker
 * must not record (failed ones, reads, fcntl F_GETFL, anonymous mmaps as
 * file writes) are checked to be absent.
 *
 * No waiting on timing: a syscall's record is submitted at its exit, in
 * the child, before the child answers on the reply pipe; a fault's before
 * the faulting write completes; a process exit's before waitpid() returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <cmocka.h>

#include "child.h"
#include "rewind/events.h"
#include "rewind/syscalls.h"
#include "tracker.h"

#define SESSION		7
#define CHILD_COMM	"rw-trk-child"
#define PAGE		4096UL
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

static struct rw_tracker *tracker;
static char tmpdir[] = "/tmp/rw-test-tracker.XXXXXX";
static char file_path[64];

/* Every record drained so far, copied. */
static struct {
	void **rec;
	size_t *size;
	size_t n, cap;
} got;

static int on_record(void *ctx, const void *data, size_t size)
{
	(void)ctx;
	if (got.n == got.cap) {
		got.cap = got.cap ? got.cap * 2 : 256;
		got.rec = realloc(got.rec, got.cap * sizeof(*got.rec));
		got.size = realloc(got.size, got.cap * sizeof(*got.size));
		if (!got.rec || !got.size)
			return -ENOMEM;
	}
	got.rec[got.n] = malloc(size);
	if (!got.rec[got.n])
		return -ENOMEM;
	memcpy(got.rec[got.n], data, size);
	got.size[got.n++] = size;
	return 0;
}

static void forget_records(void)
{
	for (size_t i = 0; i < got.n; i++)
		free(got.rec[i]);
	got.n = 0;
}

static void drain(void)
{
	assert_true(tracker_drain(tracker) >= 0);
	assert_int_equal(tracker_dropped(tracker, SESSION), 0);
}

/* ---- the child ----------------------------------------------------------------- */

static pid_t thread_tid;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	return NULL;
}

static void sigusr1(int sig)
{
	(void)sig;
}

/* Each command does its calls and answers with up to four numbers. */
static void child_command(char c, uint64_t out[4])
{
	struct sigaction sa = { .sa_handler = sigusr1 };
	volatile char *p;
	pthread_t t;
	void *m;
	int fd;

	switch (c) {
	case 'L':	/* layout: mmap, mprotect, a failing munmap, munmap */
		m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		out[0] = (uintptr_t)m;
		out[1] = mprotect(m, PAGE, PROT_READ);
		out[2] = munmap((char *)m + 1, PAGE);	/* EINVAL: not recorded */
		out[3] = munmap(m, 3 * PAGE);
		break;
	case 'U':	/* a read fault on one fresh page, a write fault on another */
		p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		out[0] = (uintptr_t)p;
		out[1] = p[PAGE];
		p[100] = 1;
		break;
	case 'K':	/* the kernel writes a fresh page for us: read(2) into it */
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		out[0] = (uintptr_t)p;
		if (io_full(child_reply, out, 4 * sizeof(*out), true) ||
		    io_full(child_cmd, (char *)p + 64, 8, false))
			_exit(2);
		out[1] = p[64];
		break;
	case 'F':	/* a file: create and write; reopen, map shared writable; reopen read-only */
		fd = openat(AT_FDCWD, file_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		out[0] = fd;
		out[1] = write(fd, "hello", 5);
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);	/* O_WRONLY: EACCES */
		out[2] = m == MAP_FAILED;
		close(fd);
		fd = open(file_path, O_RDWR | O_CLOEXEC);
		m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		out[3] = (uintptr_t)m;
		munmap(m, PAGE);
		close(fd);
		fd = open(file_path, O_RDONLY | O_CLOEXEC);	/* read-only: not a mutation */
		close(fd);
		break;
	case 'S':	/* state: fds, a signal disposition, the umask, the cwd */
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		out[0] = fd;
		out[1] = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		fcntl(fd, F_GETFL);			/* changes nothing: not recorded */
		fcntl(fd, F_SETFD, 0);
		close(out[1]);
		close(fd);
		close(fd);				/* EBADF: not recorded */
		sigaction(SIGUSR1, &sa, NULL);
		out[2] = umask(077);
		umask(out[2]);
		out[3] = chdir(tmpdir);
		break;
	case 'T':	/* a thread, started and joined */
		if (pthread_create(&t, NULL, thread_main, NULL) || pthread_join(t, NULL))
			_exit(2);
		out[0] = thread_tid;
		break;
	case 'q':
		_exit(0);
	}
}

static void child_main(void)
{
	char c;

	prctl(PR_SET_NAME, CHILD_COMM);
	umask(022);
	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	while (io_full(child_cmd, &c, 1, false) == 0) {
		uint64_t out[4] = { 0 };

		child_command(c, out);
		if (io_full(child_reply, out, sizeof(out), true))
			_exit(2);
	}
	_exit(0);
}

/* A tracked child (its fork and ready handshake are not in the log). */
struct child {
	pid_t pid;
	int cmd, reply;
};

static void start(struct child *c)
{
	drain();
	forget_records();
	c->pid = child_spawn(child_main, &c->cmd, &c->reply);
	assert_int_equal(tracker_track_tgid(tracker, c->pid, SESSION), 0);
}

static void command(struct child *c, char cmd, uint64_t out[4])
{
	assert_int_equal(io_full(c->cmd, &cmd, 1, true), 0);
	assert_int_equal(io_full(c->reply, out, 4 * sizeof(*out), false), 0);
	drain();
}

/* Tell it to exit, reap it: its exit records are in the ring by then. */
static void finish(struct child *c)
{
	char q = 'q';
	int status;

	assert_int_equal(io_full(c->cmd, &q, 1, true), 0);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	drain();
	close(c->cmd);
	close(c->reply);
	assert_int_equal(tracker_untrack_tgid(tracker, c->pid), 0);
}

/* ---- finding records ----------------------------------------------------------- */

static void check_hdr(const struct rw_event_hdr *h, uint32_t kind, pid_t pid, pid_t tid)
{
	assert_int_equal(h->kind, kind);
	assert_int_equal(h->session, SESSION);
	assert_int_equal(h->tgid, pid);
	assert_int_equal(h->tid, tid);
}

/* The syscall records of nr with arguments args[0..nargs) and result ret. */
static size_t count_syscall(uint32_t nr, const uint64_t *args, int nargs, int64_t ret)
{
	size_t n = 0;

	for (size_t i = 0; i < got.n; i++) {
		const struct rw_syscall_event *e = got.rec[i];

		if (e->hdr.kind != RW_EV_SYSCALL || e->nr != nr || e->ret != ret ||
		    memcmp(e->args, args, nargs * sizeof(*args)))
			continue;
		assert_int_equal(got.size[i], sizeof(*e));
		n++;
	}
	return n;
}

static const struct rw_syscall_event *find_syscall(pid_t pid, uint32_t nr, const uint64_t *args,
						   int nargs, int64_t ret)
{
	for (size_t i = 0; i < got.n; i++) {
		const struct rw_syscall_event *e = got.rec[i];

		if (e->hdr.kind == RW_EV_SYSCALL && e->nr == nr && e->ret == ret &&
		    !memcmp(e->args, args, nargs * sizeof(*args))) {
			check_hdr(&e->hdr, RW_EV_SYSCALL, pid, pid);
			assert_int_equal(count_syscall(nr, args, nargs, ret), 1);
			return e;
		}
	}
	fail_msg("no record of syscall %u (arg0 %#llx, result %lld)", nr,
		 nargs ? (unsigned long long)args[0] : 0ULL, (long long)ret);
	return NULL;
}

static size_t count_nr(uint32_t kind, uint32_t nr)
{
	size_t n = 0;

	for (size_t i = 0; i < got.n; i++) {
		const struct rw_event_hdr *h = got.rec[i];

		if (h->kind == kind && kind == RW_EV_SYSCALL &&
		    ((const struct rw_syscall_event *)h)->nr == nr)
			n++;
		if (h->kind == kind && kind == RW_EV_FILE && ((const struct rw_file_event *)h)->nr == nr)
			n++;
	}
	return n;
}

/* The fault records on the page of addr. */
static size_t page_faults(uint64_t addr, const struct rw_fault_event **last)
{
	size_t n = 0;

	for (size_t i = 0; i < got.n; i++) {
		const struct rw_fault_event *e = got.rec[i];

		if (e->hdr.kind == RW_EV_FAULT && (e->addr & ~(PAGE - 1)) == (addr & ~(PAGE - 1))) {
			assert_int_equal(got.size[i], sizeof(*e));
			*last = e;
			n++;
		}
	}
	return n;
}

/* The number of file records of op; the first one in *first. */
static size_t file_records(uint32_t op, const struct rw_file_event **first)
{
	size_t n = 0;

	for (size_t i = 0; i < got.n; i++) {
		const struct rw_file_event *e = got.rec[i];

		if (e->hdr.kind == RW_EV_FILE && e->op == op) {
			assert_int_equal(got.size[i], sizeof(*e));
			if (!n)
				*first = e;
			n++;
		}
	}
	return n;
}

/* The k-th (from 0) file record of op. */
static const struct rw_file_event *nth_file_record(uint32_t op, size_t k)
{
	for (size_t i = 0; i < got.n; i++) {
		const struct rw_file_event *e = got.rec[i];

		if (e->hdr.kind == RW_EV_FILE && e->op == op && !k--)
			return e;
	}
	fail_msg("no file record %u number %zu", op, k);
	return NULL;
}

static const struct rw_task_event *find_task(uint32_t op, pid_t tid)
{
	for (size_t i = 0; i < got.n; i++) {
		const struct rw_task_event *e = got.rec[i];

		if (e->hdr.kind == RW_EV_TASK && e->op == op && (pid_t)e->pid == tid) {
			assert_int_equal(got.size[i], sizeof(*e));
			return e;
		}
	}
	fail_msg("no task record %u of %d", op, tid);
	return NULL;
}

/* ---- tests ----------------------------------------------------------------------- */

static void layout_calls(void **state)
{
	struct child c;
	uint64_t out[4];

	(void)state;
	start(&c);
	command(&c, 'L', out);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], (uint64_t)-1);
	assert_int_equal(out[3], 0);

	/* mmap(NULL, 3 pages, rw, private anonymous, -1, 0) = out[0] */
	const uint64_t mm[] = { 0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS };
	const struct rw_syscall_event *e = find_syscall(c.pid, RW_NR_mmap, mm, 4, out[0]);

	assert_int_equal((int)e->args[4], -1);
	assert_int_equal(e->args[5], 0);
	assert_int_equal(e->__pad, 0);
	find_syscall(c.pid, RW_NR_mprotect, (uint64_t[]){ out[0], PAGE, PROT_READ }, 3, 0);
	find_syscall(c.pid, RW_NR_munmap, (uint64_t[]){ out[0], 3 * PAGE }, 2, 0);
	/* The failed munmap: no record (nor one for anything at addr + 1). */
	assert_int_equal(count_syscall(RW_NR_munmap, (uint64_t[]){ out[0] + 1 }, 1, -EINVAL), 0);
	assert_int_equal(count_syscall(RW_NR_munmap, (uint64_t[]){ out[0] + 1 }, 1, 0), 0);
	/* An anonymous mapping writes no file. */
	assert_int_equal(count_nr(RW_EV_FILE, RW_NR_mmap), 0);
	finish(&c);
}

static void write_faults(void **state)
{
	const struct rw_fault_event *f = NULL;
	struct child c;
	uint64_t out[4], done[4];
	char data[8] = "abcdefg";

	(void)state;
	start(&c);
	command(&c, 'U', out);
	/* The write fault is recorded, at its exact address; the read fault is not. */
	assert_int_equal(page_faults(out[0] + PAGE, &f), 0);
	assert_int_equal(page_faults(out[0], &f), 1);
	check_hdr(&f->hdr, RW_EV_FAULT, c.pid, c.pid);
	assert_int_equal(f->addr, out[0] + 100);
	assert_int_equal(f->flags, 0);
	assert_int_equal(f->__pad, 0);

	/* read(2) into a fresh page: the kernel's write, flagged as such. */
	assert_int_equal(io_full(c.cmd, (char[]){ 'K' }, 1, true), 0);
	assert_int_equal(io_full(c.reply, out, sizeof(out), false), 0);
	assert_int_equal(io_full(c.cmd, data, sizeof(data), true), 0);
	assert_int_equal(io_full(c.reply, done, sizeof(done), false), 0);
	assert_int_equal(done[1], 'a');
	drain();
	assert_int_equal(page_faults(out[0], &f), 1);
	check_hdr(&f->hdr, RW_EV_FAULT, c.pid, c.pid);
	assert_int_equal(f->addr & ~(PAGE - 1), out[0]);
	assert_int_equal(f->flags, RW_FAULT_KERNEL);
	finish(&c);
}

/* `dir` of a record must be path's components, leaf first. */
static void check_leaf_first(const struct rw_file_event *e, const char *path)
{
	char want[RW_DIR_BUF], *copy = strdup(path), *slash;
	size_t len = 0;

	assert_non_null(copy);
	while ((slash = strrchr(copy, '/'))) {
		if (slash[1]) {
			assert_true(len + strlen(slash + 1) + 1 <= sizeof(want));
			memcpy(want + len, slash + 1, strlen(slash + 1) + 1);
			len += strlen(slash + 1) + 1;
		}
		*slash = '\0';
	}
	free(copy);
	assert_int_equal(e->dir_len, len);
	assert_memory_equal(e->dir, want, len);
}

static void file_calls(void **state)
{
	const struct rw_file_event *f = NULL;
	struct stat st;
	struct child c;
	uint64_t out[4], kdev;
	char *real;

	(void)state;
	start(&c);
	command(&c, 'F', out);
	assert_true((int)out[0] >= 0);
	assert_int_equal(out[1], 5);
	assert_int_equal(out[2], 1);
	assert_int_not_equal(out[3], (uintptr_t)MAP_FAILED);
	assert_int_equal(stat(file_path, &st), 0);
	real = realpath(file_path, NULL);
	assert_non_null(real);
	kdev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);	/* the kernel's dev_t */

	/* The two opens with write intent (the read-only one is not a mutation); first: */
	assert_int_equal(file_records(RW_FOP_OPEN, &f), 2);
	/* openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC) */
	check_hdr(&f->hdr, RW_EV_FILE, c.pid, c.pid);
	assert_int_equal(f->nr, RW_NR_openat);
	assert_int_equal(f->ret, (int)out[0]);
	assert_int_equal(f->flags, RW_F_CREATED | RW_F_TRUNC | RW_F_DIR_IS_FILE);
	assert_int_equal(f->ino, st.st_ino);
	assert_int_equal(f->dev, kdev);
	assert_string_equal(f->name, file_path);
	assert_int_equal(f->dir2_len, 0);
	check_leaf_first(f, real);
	/* then open(path, O_RDWR): neither created nor truncated */
	f = nth_file_record(RW_FOP_OPEN, 1);
	check_hdr(&f->hdr, RW_EV_FILE, c.pid, c.pid);
	assert_int_equal(f->nr, RW_NR_openat);
	assert_int_equal(f->flags, RW_F_DIR_IS_FILE);
	assert_int_equal(f->ino, st.st_ino);
	check_leaf_first(f, real);

	assert_int_equal(file_records(RW_FOP_WRITE, &f), 1);
	check_hdr(&f->hdr, RW_EV_FILE, c.pid, c.pid);
	assert_int_equal(f->nr, RW_NR_write);
	assert_int_equal(f->ret, 5);
	assert_int_equal(f->bytes, 5);
	assert_int_equal(f->flags, RW_F_DIR_IS_FILE);
	assert_int_equal(f->ino, st.st_ino);
	assert_string_equal(f->name, "");
	check_leaf_first(f, real);

	/* The shared writable mapping: a layout record and a file record. */
	assert_int_equal(file_records(RW_FOP_MMAP_WRITE, &f), 1);
	check_hdr(&f->hdr, RW_EV_FILE, c.pid, c.pid);
	assert_int_equal(f->nr, RW_NR_mmap);
	assert_int_equal(f->ret, out[3]);
	assert_int_equal(f->ino, st.st_ino);
	check_leaf_first(f, real);
	find_syscall(c.pid, RW_NR_mmap, (uint64_t[]){ 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED },
		     4, out[3]);
	/* The failed mmap is in neither. */
	assert_int_equal(count_nr(RW_EV_FILE, RW_NR_mmap), 1);
	assert_int_equal(count_syscall(RW_NR_mmap, (uint64_t[]){ 0, PAGE, PROT_READ, MAP_SHARED },
				       4, -EACCES), 0);

	/* Three closes, each an fd record (each open took the same lowest free fd). */
	assert_int_equal(count_syscall(RW_NR_close, (uint64_t[]){ out[0] }, 1, 0), 3);
	free(real);
	finish(&c);
}

static void state_calls(void **state)
{
	struct child c;
	uint64_t out[4];

	(void)state;
	start(&c);
	command(&c, 'S', out);
	assert_true((int)out[0] >= 0);
	assert_true((int)out[1] >= 100);
	assert_int_equal(out[3], 0);

	find_syscall(c.pid, RW_NR_fcntl, (uint64_t[]){ out[0], F_DUPFD_CLOEXEC, 100 }, 3, out[1]);
	find_syscall(c.pid, RW_NR_fcntl, (uint64_t[]){ out[0], F_SETFD, 0 }, 3, 0);
	assert_int_equal(count_nr(RW_EV_SYSCALL, RW_NR_fcntl), 2);	/* not F_GETFL */
	find_syscall(c.pid, RW_NR_close, (uint64_t[]){ out[1] }, 1, 0);
	find_syscall(c.pid, RW_NR_close, (uint64_t[]){ out[0] }, 1, 0);	/* once: EBADF is not */
	find_syscall(c.pid, RW_NR_rt_sigaction, (uint64_t[]){ SIGUSR1 }, 1, 0);
	assert_int_equal(out[2], 022);
	find_syscall(c.pid, RW_NR_umask, (uint64_t[]){ 077 }, 1, 022);
	find_syscall(c.pid, RW_NR_umask, (uint64_t[]){ 022 }, 1, 077);
	assert_int_equal(count_nr(RW_EV_SYSCALL, RW_NR_chdir), 1);
	/* Opening /dev/null read-only mutates nothing. */
	assert_int_equal(count_nr(RW_EV_FILE, RW_NR_openat), 0);
	finish(&c);
}

static void threads(void **state)
{
	struct pollfd pfd = { .events = POLLIN };
	const struct rw_task_event *t;
	struct child c;
	uint64_t out[4];

	(void)state;
	start(&c);
	command(&c, 'T', out);
	t = find_task(RW_TASK_NEW_THREAD, out[0]);
	check_hdr(&t->hdr, RW_EV_TASK, c.pid, c.pid);	/* reported by its creator */
	assert_int_equal(t->tgid, c.pid);
	assert_int_equal(t->parent, c.pid);
	assert_string_equal(t->comm, CHILD_COMM);

	/*
	 * Joined is not yet gone: the exit record may come after the join's
	 * wakeup. A thread pidfd polls readable once the thread has exited.
	 */
	pfd.fd = syscall(SYS_pidfd_open, (pid_t)out[0], PIDFD_THREAD);
	if (pfd.fd >= 0) {
		assert_int_equal(poll(&pfd, 1, -1), 1);
		close(pfd.fd);
	} else {
		assert_int_equal(errno, ESRCH);	/* already reaped */
	}
	finish(&c);
	t = find_task(RW_TASK_EXIT_THREAD, out[0]);
	check_hdr(&t->hdr, RW_EV_TASK, c.pid, out[0]);
	assert_int_equal(t->tgid, c.pid);
	t = find_task(RW_TASK_EXIT_PROCESS, c.pid);
	check_hdr(&t->hdr, RW_EV_TASK, c.pid, c.pid);
	assert_int_equal(t->tgid, c.pid);
	assert_string_equal(t->comm, CHILD_COMM);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(file_path, sizeof(file_path), "%s/f", tmpdir);
	return tracker_open(&tracker, &(struct rw_tracker_opts){ .ringbuf_bytes = 1 << 20 },
			    on_record, NULL);
}

static int teardown(void **state)
{
	(void)state;
	tracker_close(tracker);
	forget_records();
	free(got.rec);
	free(got.size);
	unlink(file_path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_calls),
		cmocka_unit_test(write_faults),
		cmocka_unit_test(file_calls),
		cmocka_unit_test(state_calls),
		cmocka_unit_test(threads),
	};

	if (geteuid() != 0) {
		printf("1..1\nok 1 # SKIP test_tracker: needs root (BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
