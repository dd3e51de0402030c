// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared memory an invocation writes: a shared anonymous mapping, a memfd
 * mapped shared, a memfd and an O_TMPFILE file held only as fds (written
 * with write() and made bigger with ftruncate), a /dev/shm file mapped
 * shared (shm_open) and an attached SysV segment. Each holds a pattern in
 * some pages and nothing in the others at the checkpoint; the invocation
 * plants a secret in both kinds of page. After a rewind the pattern, the
 * empty pages and the size must be the checkpoint's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "zdtm.h"

#define SHM_PAGES	64	/* the object */
#define SHM_FILLED	8	/* pages with the pattern; the rest never touched */
#define SECRET		"zdtm-shared-secret"

static char *shm;		/* the mapping, if any */
static int shm_fd = -1;		/* the object's fd, if held */
static off_t size_want, pos_want;

/* Pattern in the first pages, nothing in the others. */
static void shm_fill(void)
{
	fill(shm, SHM_FILLED * PAGE, 9);
}

/* The secret into a filled page and into one that was empty. */
static void shm_go(void)
{
	memcpy(shm + 3 * PAGE + 17, SECRET, sizeof(SECRET));
	memcpy(shm + 40 * PAGE, SECRET, sizeof(SECRET));
	done("");
}

static void shm_check(void)
{
	check_fill("shared memory", shm, SHM_FILLED * PAGE, 9);
	for (size_t i = SHM_FILLED * PAGE; !failed && i < SHM_PAGES * PAGE; i++)
		if (shm[i])
			differ("shared memory: byte %#zx (page %zu) holds %#x, want 0", i, i / PAGE,
			       (unsigned char)shm[i]);
	if (shm_fd >= 0) {
		struct stat st;

		if (fstat(shm_fd, &st))
			die("fstat");
		if (st.st_size != size_want)
			differ("shared memory: size %lld, want %lld", (long long)st.st_size,
			       (long long)size_want);
	}
}

static char *map_shared(int fd)
{
	char *p = mmap(NULL, SHM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);

	if (p == MAP_FAILED)
		die("mmap shared");
	return p;
}

/* ---- shared anonymous mapping ---- */

static void shared_anon_setup(void)
{
	shm = map_shared(-1);
	shm_fill();
}

ZDTM_SCENARIO(shared_anon, shared_anon_setup, shm_go, shm_check);

/* ---- memfd mapped shared; the invocation also makes it bigger ---- */

static void shared_memfd_setup(void)
{
	shm_fd = memfd_create("zdtm-shared", MFD_CLOEXEC);
	if (shm_fd < 0 || ftruncate(shm_fd, SHM_PAGES * PAGE))
		die("memfd_create");
	size_want = SHM_PAGES * PAGE;
	shm = map_shared(shm_fd);
	shm_fill();
}

static void shared_memfd_go(void)
{
	if (ftruncate(shm_fd, 4 * SHM_PAGES * PAGE))
		die("ftruncate");
	shm_go();
}

ZDTM_SCENARIO(shared_memfd, shared_memfd_setup, shared_memfd_go, shm_check);

/* ---- /dev/shm file mapped shared (shm_open) ---- */

static char shm_name[64];

static void shm_unlink_at_exit(void)
{
	shm_unlink(shm_name);
}

static void shared_posix_shm_setup(void)
{
	snprintf(shm_name, sizeof(shm_name), "/zdtm-shared-%d", getpid());
	shm_fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (shm_fd < 0)
		die("shm_open");
	atexit(shm_unlink_at_exit);
	if (ftruncate(shm_fd, SHM_PAGES * PAGE))
		die("ftruncate");
	size_want = SHM_PAGES * PAGE;
	shm = map_shared(shm_fd);
	shm_fill();
}

ZDTM_SCENARIO(shared_posix_shm, shared_posix_shm_setup, shm_go, shm_check);

/* ---- SysV segment, attached (removed at once: it goes when the process does) ---- */

static void shared_sysv_setup(void)
{
	int id = shmget(IPC_PRIVATE, SHM_PAGES * PAGE, IPC_CREAT | 0600);

	if (id < 0)
		die("shmget");
	shm = shmat(id, NULL, 0);
	if (shm == (void *)-1)
		die("shmat");
	if (shmctl(id, IPC_RMID, NULL))
		die("shmctl IPC_RMID");
	shm_fill();
}

ZDTM_SCENARIO(shared_sysv, shared_sysv_setup, shm_go, shm_check);

/* ---- files held only as fds: written with write(), made bigger ---- */

#define FD_SIZE		(3 * PAGE + 100)	/* not page aligned: the last page is partial */

static void fd_fill(int fd)
{
	char *buf = malloc(FD_SIZE);

	if (!buf)
		die("malloc");
	fill(buf, FD_SIZE, 11);
	if (pwrite(fd, buf, FD_SIZE, 0) != FD_SIZE)
		die("pwrite");
	free(buf);
	/* A position of its own: the invocation's write() moves it. */
	pos_want = lseek(fd, 1000, SEEK_SET);
	size_want = FD_SIZE;
	shm_fd = fd;
}

static void fd_go(void)
{
	if (write(shm_fd, SECRET, sizeof(SECRET)) != sizeof(SECRET) ||
	    pwrite(shm_fd, SECRET, sizeof(SECRET), FD_SIZE - 5) != sizeof(SECRET) ||
	    ftruncate(shm_fd, 1 << 20) ||
	    pwrite(shm_fd, SECRET, sizeof(SECRET), 200 * PAGE) != sizeof(SECRET))
		die("write");
	done("");
}

static void fd_check(void)
{
	char *buf = malloc(FD_SIZE + PAGE);
	struct stat st;
	ssize_t got;

	if (!buf)
		die("malloc");
	if (fstat(shm_fd, &st))
		die("fstat");
	if (st.st_size != size_want)
		differ("file: size %lld, want %lld", (long long)st.st_size, (long long)size_want);
	got = pread(shm_fd, buf, FD_SIZE + PAGE, 0);
	if (got < 0)
		die("pread");
	if (got != FD_SIZE && !failed)
		differ("file: read %zd bytes, want %d", got, (int)FD_SIZE);
	if (!failed)
		check_fill("file", buf, FD_SIZE, 11);
	if (!failed && lseek(shm_fd, 0, SEEK_CUR) != pos_want)
		differ("file: at offset %lld, want %lld", (long long)lseek(shm_fd, 0, SEEK_CUR),
		       (long long)pos_want);
	free(buf);
}

static void shared_memfd_fd_setup(void)
{
	int fd = memfd_create("zdtm-held", MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create");
	fd_fill(fd);
}

ZDTM_SCENARIO(shared_memfd_fd, shared_memfd_fd_setup, fd_go, fd_check);

static void shared_tmpfile_setup(void)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		die("open O_TMPFILE in /tmp");
	fd_fill(fd);
}

ZDTM_SCENARIO(shared_tmpfile, shared_tmpfile_setup, fd_go, fd_check);
