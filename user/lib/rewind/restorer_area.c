// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "restorer area: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "remote.h"
#include "restorer_area.h"

/* An executable memfd where vm.memfd_noexec would default to not (linux 6.3+). */
#ifndef MFD_EXEC
#define MFD_EXEC	0x0010U
#endif

static int area_memfd(void)
{
	const unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int fd = memfd_create("rewindd-restorer", flags | MFD_EXEC);

	/* A kernel before MFD_EXEC refuses the flag: its memfds are executable. */
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("rewindd-restorer", flags);
	return fd;
}

int restorer_area_create(struct rw_restorer_area *a)
{
	/*
	 * The seals of the page store (image.c): our mapping, made before,
	 * stays writable; the function's can never be (mprotect, a writable
	 * shared mapping, write(), fallocate, a change of size).
	 */
	const int seals = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	const size_t len = RW_REMOTE_BATCH_AREA;
	struct stat st;
	void *m = MAP_FAILED;
	int fd, err;

	memset(a, 0, sizeof(*a));
	fd = area_memfd();
	if (fd < 0 || ftruncate(fd, len))
		goto fail;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	remote_area_code(m);
	if (fcntl(fd, F_ADD_SEALS, seals) || fstat(fd, &st))
		goto fail;
	a->local = m;
	a->fd = fd;
	a->at = (struct rw_tmap){ 0, len, st.st_dev, st.st_ino, PROT_READ | PROT_EXEC };
	return 0;
fail:
	err = -errno;
	pr_debug("a sealed memfd for the restorer's code and tables: %s\n", strerror(-err));
	if (m != MAP_FAILED)
		munmap(m, len);
	if (fd >= 0)
		close(fd);
	return err;
}

void restorer_area_free(struct rw_restorer_area *a)
{
	if (a->local) {
		munmap(a->local, a->at.len);
		close(a->fd);
	}
	memset(a, 0, sizeof(*a));
}
