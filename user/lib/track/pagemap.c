// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pagemap: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "pagemap.h"

const uint8_t rw_zero_page[RW_PAGE_SIZE] __attribute__((aligned(4096)));

_Static_assert(sizeof(struct pm_scan_arg) == 96, "pm_scan_arg is 96 bytes in the UAPI");

#define SCAN_VEC_LEN	512

int pagemap_open(pid_t pid, pid_t tid)
{
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/pagemap", pid, tid > 0 ? tid : pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = errno == ENOENT ? -ESRCH : -errno;
	if (err != -ESRCH)
		pr_perror("open %s", path);
	return err;
}

int pagemap_scan(int fd, uint64_t start, uint64_t end, const struct pagemap_query *q,
		 pagemap_region_fn fn, void *arg)
{
	struct page_region vec[SCAN_VEC_LEN];

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = q->flags,
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC_LEN,
			.category_inverted = q->inverted,
			.category_mask = q->mask,
			.category_anyof_mask = q->anyof,
			.return_mask = q->ret | q->mask | q->anyof,
		};
		int n, err;

		n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			err = -errno;
			if (err != -ESRCH)
				pr_perror("PAGEMAP_SCAN %#llx-%#llx", (unsigned long long)start,
					  (unsigned long long)end);
			return err;
		}
		for (int i = 0; i < n; i++) {
			err = fn(arg, vec[i].start, vec[i].end, vec[i].categories);
			if (err)
				return err;
		}
		if (a.walk_end <= start || a.walk_end > end) {
			pr_err("PAGEMAP_SCAN from %#llx stopped at %#llx\n",
			       (unsigned long long)start, (unsigned long long)a.walk_end);
			return -EIO;
		}
		start = a.walk_end;
	}
	return 0;
}
