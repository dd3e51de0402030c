// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "wp: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#include "inject.h"
#include "log.h"
#include "wp.h"

/* UAPI newer than Debian 12's 6.1 headers (include/uapi/linux/fs.h, userfaultfd.h). */
#ifndef PAGEMAP_SCAN
struct page_region {
	__u64 start, end, categories;
};

struct pm_scan_arg {
	__u64 size, flags, start, end, walk_end, vec, vec_len, max_pages;
	__u64 category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif

#define USER_SPACE_END	0x00007ffffffff000ULL
#define SCAN_BATCH	512

struct range {
	uint64_t start, end;
};

struct rw_wp {
	pid_t pid;
	int uffd;
	int pagemap;
	struct range *armed;	/* sorted, from the last refresh */
	size_t narmed, cap;
};

/* Open a userfaultfd in the target and bring it over here. */
static int steal_uffd(pid_t pid, int *out)
{
	struct rw_inject ij;
	long args[6] = { O_CLOEXEC | O_NONBLOCK };
	long fd = -1, ret;
	int pidfd, err;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	err = inject_seize(&ij, pid);
	if (err) {
		pr_err("cannot stop %d to create its userfaultfd: %s\n", pid, strerror(-err));
		close(pidfd);
		return err;
	}
	err = inject_syscall(&ij, SYS_userfaultfd, args, &fd);
	if (!err && fd == -EPERM) {
		/* vm.unprivileged_userfaultfd=0: user-mode-only is enough for async WP. */
		args[0] |= UFFD_USER_MODE_ONLY;
		err = inject_syscall(&ij, SYS_userfaultfd, args, &fd);
	}
	if (!err && fd < 0) {
		err = fd;
		pr_err("userfaultfd() in %d failed: %s\n", pid, strerror(-err));
	}
	if (!err) {
		*out = syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
		if (*out < 0) {
			err = -errno;
			pr_perror("pidfd_getfd of %d's userfaultfd", pid);
		}
		args[0] = fd;
		if (inject_syscall(&ij, SYS_close, args, &ret) || ret)
			pr_warn("could not close the userfaultfd copy in %d\n", pid);
	}
	inject_release(&ij);
	close(pidfd);
	return err;
}

int wp_open(struct rw_wp **out, pid_t pid)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct rw_wp *wp;
	char path[64];
	int err;

	wp = calloc(1, sizeof(*wp));
	if (!wp)
		return -ENOMEM;
	wp->pid = pid;
	wp->uffd = wp->pagemap = -1;
	err = steal_uffd(pid, &wp->uffd);
	if (err)
		goto fail;
	if (ioctl(wp->uffd, UFFDIO_API, &api)) {
		err = -errno;
		pr_perror("UFFDIO_API (async write protection) for %d", pid);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	wp->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (wp->pagemap < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		pr_perror("open %s", path);
		goto fail;
	}
	*out = wp;
	return 0;
fail:
	wp_close(wp);
	return err;
}

void wp_close(struct rw_wp *wp)
{
	if (!wp)
		return;
	/* Closing the uffd unregisters its ranges: the target runs on unprotected. */
	if (wp->uffd >= 0)
		close(wp->uffd);
	if (wp->pagemap >= 0)
		close(wp->pagemap);
	free(wp->armed);
	free(wp);
}

static int scan(struct rw_wp *wp, struct pm_scan_arg *arg)
{
	long n = ioctl(wp->pagemap, PAGEMAP_SCAN, arg);

	if (n < 0)
		return errno == ESRCH || errno == ENOENT ? -ESRCH : -errno;
	return n;
}

/* Is all of [start, end) in a mapping armed with async write protection? */
static int vma_armed(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg), .start = start, .end = end,
		.vec = (uintptr_t)&r, .vec_len = 1, .max_pages = 1,
		/* ask for pages whose mapping is NOT armed; the kernel decides per vma */
		.category_inverted = PAGE_IS_WPALLOWED, .category_mask = PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WPALLOWED,
	};
	int n = scan(wp, &arg);

	return n < 0 ? n : n == 0;
}

static bool armable(const struct rw_vma *v)
{
	return rw_vma_private_writable(v) && strcmp(v->name, "[vsyscall]");
}

static int push_range(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	if (wp->narmed && wp->armed[wp->narmed - 1].end == start) {
		wp->armed[wp->narmed - 1].end = end;
		return 0;
	}
	if (wp->narmed == wp->cap) {
		size_t cap = wp->cap ? wp->cap * 2 : 64;
		struct range *r = realloc(wp->armed, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		wp->armed = r;
		wp->cap = cap;
	}
	wp->armed[wp->narmed++] = (struct range){ start, end };
	return 0;
}

static int arm(struct rw_wp *wp, const struct rw_vma *v)
{
	struct uffdio_register reg = {
		.range = { .start = v->start, .len = v->end - v->start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect prot = {
		.range = { .start = v->start, .len = v->end - v->start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (ioctl(wp->uffd, UFFDIO_REGISTER, &reg) || ioctl(wp->uffd, UFFDIO_WRITEPROTECT, &prot)) {
		int err = -errno;

		pr_warn("cannot arm %d's %#llx-%#llx %s: %s\n", wp->pid,
			(unsigned long long)v->start, (unsigned long long)v->end, v->name,
			strerror(-err));
		return err;
	}
	return 0;
}

static int refresh(struct rw_wp *wp, const struct rw_maps *maps, bool arm_missing)
{
	int armed = 0, err;

	wp->narmed = 0;
	for (size_t i = 0; i < maps->n; i++) {
		const struct rw_vma *v = &maps->v[i];

		if (!armable(v))
			continue;
		err = vma_armed(wp, v->start, v->end);
		if (err < 0)
			return err;
		if (!err && arm_missing) {
			if (arm(wp, v))
				continue;	/* not coverable: its pages come from faults */
			armed++;
			err = 1;
		}
		if (err == 1 && push_range(wp, v->start, v->end))
			return -ENOMEM;
	}
	return armed;
}

int wp_refresh(struct rw_wp *wp, const struct rw_maps *maps)
{
	int err = refresh(wp, maps, false);

	return err < 0 ? err : 0;
}

int wp_sync(struct rw_wp *wp, const struct rw_maps *maps)
{
	return refresh(wp, maps, true);
}

bool wp_covers(const struct rw_wp *wp, uint64_t addr)
{
	size_t lo = 0, hi = wp->narmed;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < wp->armed[mid].start)
			hi = mid;
		else if (addr >= wp->armed[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

long wp_scan(struct rw_wp *wp, bool rearm, wp_region_cb cb, void *ctx)
{
	struct page_region regions[SCAN_BATCH];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = rearm ? PM_SCAN_WP_MATCHING : 0,
		.start = 0, .end = USER_SPACE_END,
		.vec = (uintptr_t)regions, .vec_len = SCAN_BATCH,
		/* written pages of armed mappings only: unarmed ones look "written" too */
		.category_mask = PAGE_IS_WRITTEN | PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long pages = 0;

	/* One call fills at most SCAN_BATCH regions: go on from walk_end. */
	for (;;) {
		int n = scan(wp, &arg);

		if (n < 0) {
			pr_err("PAGEMAP_SCAN of %d: %s\n", wp->pid, strerror(-n));
			return n;
		}
		for (int i = 0; i < n; i++) {
			pages += (regions[i].end - regions[i].start) / 4096;
			if (cb)
				cb(ctx, regions[i].start, regions[i].end);
		}
		if (arg.walk_end >= arg.end)
			break;
		arg.start = arg.walk_end;
	}
	return pages;
}
