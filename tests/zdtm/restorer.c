// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-target restorer's source: rewindd maps the checkpoint image
 * read-only into the function (/memfd:rewindd-image) and, for a rewind of
 * many pages, has the function's own thread copy from it, with code and a
 * table of rewindd's that stay mapped read-only and executable in it
 * (/memfd:rewindd-restorer). Each invocation writes every page of a region
 * (enough for the restorer; two adjacent mappings, so its pages are one run
 * of the image across a mapping's end), then, on both mappings:
 *   restorer_attack      tries to write them (mprotect, /proc/self/mem,
 *                        process_vm_writev, a writable map_files mapping,
 *                        write(), a hole punched): "done" names any that worked;
 *   restorer_munmap      unmaps them;
 *   restorer_mremap      moves them elsewhere;
 *   restorer_mmap_over   maps a look-alike (a memfd of garbage, read-only,
 *                        shared, same size and name) over each;
 *   restorer_mprotect    makes them PROT_NONE.
 *   restorer_partial     also writes a page that is read-only at the
 *                        checkpoint and again at the rewind (made writable
 *                        for the write): the restorer copies only into
 *                        writable memory, so that page comes back another way.
 *   restorer_measured    restorer_partial on a region of 256 pages: a copy
 *                        below the size where rewindd copies beside the
 *                        restorer, so each way is measured and chosen.
 * A written image would come back as the region's content: the check sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zdtm.h"

static unsigned long region_pages = 1024;
static char *region;

static void region_setup(void)
{
	region = map_anon(region_pages * PAGE);
	madvise(region, region_pages * PAGE, MADV_NOHUGEPAGE);
	/* Another flag on the second half: two vmas, one run of written pages. */
	if (madvise(region + region_pages / 2 * PAGE, region_pages / 2 * PAGE, MADV_DONTDUMP))
		die("madvise(MADV_DONTDUMP)");
	fill(region, region_pages * PAGE, 41);
}

static void region_write(void)
{
	for (size_t p = 0; p < region_pages; p++)
		region[p * PAGE + p % 97] ^= 0x5a;
}

static void region_check(void)
{
	check_fill("region", region, region_pages * PAGE, 41);
}

/* rewindd's two mappings in the function, by their memfds' names. */
static const char *const ours[] = { "rewindd-image", "rewindd-restorer" };

/* The mapping of memfd name, from /proc/self/maps: 0 if there is none. */
static int find_mapping(const char *name, unsigned long *start, unsigned long *end)
{
	static char maps[256 * 1024];
	char *line, want[64];

	/* A memfd's mapping reads "/memfd:NAME (deleted)". */
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	if (read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		die("/proc/self/maps");
	for (line = strtok(maps, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, want) && sscanf(line, "%lx-%lx", start, end) == 2)
			return 1;
	return 0;
}

/* Both of ours, or "no image mapping" said (not under rewindd: the twin without rewind). */
static int find_ours(unsigned long s[2], unsigned long e[2])
{
	for (int k = 0; k < 2; k++)
		if (!find_mapping(ours[k], &s[k], &e[k])) {
			done("no %s mapping", ours[k]);
			return 0;
		}
	return 1;
}

static char won[256];

static void attack_won(const char *what)
{
	size_t n = strlen(won);

	snprintf(won + n, sizeof(won) - n, "%s%s", n ? "," : "", what);
}

/* Each way to write the mapping [s, e) of ours[k]: those that worked join won. */
static void attack_one(int k, unsigned long s, unsigned long e)
{
	char junk[PAGE], path[96], what[64];
	int fd;

#define WON(how) (snprintf(what, sizeof(what), "%s:%s", ours[k], how), attack_won(what))
	memset(junk, 0xee, sizeof(junk));
	if (!mprotect((void *)s, e - s, PROT_READ | PROT_WRITE)) {
		WON("mprotect");
		memset((void *)s, 0xee, e - s);
	}
	fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0) {
		if (pwrite(fd, junk, PAGE, (off_t)s) == PAGE) {
			WON("proc-mem");
			for (unsigned long a = s; a < e; a += PAGE)
				pwrite(fd, junk, PAGE, (off_t)a);
		}
		close(fd);
	}
	{
		struct iovec l = { junk, PAGE }, r = { (void *)s, PAGE };

		if (process_vm_writev(getpid(), &l, 1, &r, 1, 0) == PAGE)
			WON("process_vm_writev");
	}
	if (!madvise((void *)s, e - s, MADV_REMOVE))
		WON("madvise-remove");
	/* map_files needs CAP_SYS_ADMIN: as root, the memfd itself can be opened. */
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", s, e);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fd = open(path, O_RDONLY);
	if (fd >= 0) {
		void *w = mmap(NULL, e - s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (w != MAP_FAILED) {
			WON("map_files-mmap");
			memset(w, 0xee, e - s);
			munmap(w, e - s);
		}
		if (pwrite(fd, junk, PAGE, 0) == PAGE)
			WON("map_files-write");
		if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, e - s))
			WON("map_files-punch");
		if (!ftruncate(fd, 0))
			WON("map_files-truncate");
		close(fd);
	}
#undef WON
}

static void attack_go(void)
{
	unsigned long s[2], e[2];

	region_write();
	won[0] = '\0';
	if (!find_ours(s, e))
		return;
	for (int k = 0; k < 2; k++)
		attack_one(k, s[k], e[k]);
	done("%s", won[0] ? won : "refused");
}

static void munmap_go(void)
{
	unsigned long s[2], e[2];

	region_write();
	if (!find_ours(s, e))
		return;
	for (int k = 0; k < 2; k++)
		if (munmap((void *)s[k], e[k] - s[k]))
			die(ours[k]);
	done("unmapped %lx %lx", s[0], s[1]);
}

static void mremap_go(void)
{
	unsigned long s[2], e[2];
	void *to;

	region_write();
	if (!find_ours(s, e))
		return;
	for (int k = 0; k < 2; k++) {
		/* Into a reservation of our own: nothing else is replaced. */
		to = mmap(NULL, e[k] - s[k], PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (to == MAP_FAILED)
			die("mmap");
		to = mremap((void *)s[k], e[k] - s[k], e[k] - s[k], MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (to == MAP_FAILED)
			die(ours[k]);
	}
	done("moved %lx %lx", s[0], s[1]);
}

/* Over each: a memfd of the same name and size, of garbage (int3s), read-only and shared. */
static void mmap_over_go(void)
{
	unsigned long s[2], e[2];
	char junk[PAGE];
	int fd;

	region_write();
	if (!find_ours(s, e))
		return;
	memset(junk, 0xcc, sizeof(junk));
	for (int k = 0; k < 2; k++) {
		fd = memfd_create(ours[k], 0);
		if (fd < 0 || ftruncate(fd, e[k] - s[k]))
			die("memfd");
		for (unsigned long off = 0; off < e[k] - s[k]; off += PAGE)
			if (pwrite(fd, junk, PAGE, off) != PAGE)
				die("pwrite");
		if (mmap((void *)s[k], e[k] - s[k], PROT_READ | (k ? PROT_EXEC : 0),
			 MAP_SHARED | MAP_FIXED, fd, 0) != (void *)s[k])
			die(ours[k]);
		close(fd);
	}
	done("replaced %lx %lx", s[0], s[1]);
}

static void mprotect_go(void)
{
	unsigned long s[2], e[2];

	region_write();
	if (!find_ours(s, e))
		return;
	for (int k = 0; k < 2; k++)
		if (mprotect((void *)s[k], e[k] - s[k], PROT_NONE))
			die(ours[k]);
	done("protected %lx %lx", s[0], s[1]);
}
static char *ro_page;

static void partial_setup(void)
{
	region_setup();
	ro_page = map_anon(PAGE);
	fill(ro_page, PAGE, 43);
	if (mprotect(ro_page, PAGE, PROT_READ))
		die("mprotect");
}

static void measured_setup(void)
{
	region_pages = 256;
	partial_setup();
}

static void partial_go(void)
{
	region_write();
	if (mprotect(ro_page, PAGE, PROT_READ | PROT_WRITE))
		die("mprotect");
	ro_page[7] ^= 0x5a;
	if (mprotect(ro_page, PAGE, PROT_READ))
		die("mprotect");
	done("");
}

static void partial_check(void)
{
	region_check();
	check_fill("read-only page", ro_page, PAGE, 43);
}

ZDTM_SCENARIO(restorer_attack, region_setup, attack_go, region_check);
ZDTM_SCENARIO(restorer_munmap, region_setup, munmap_go, region_check);
ZDTM_SCENARIO(restorer_mremap, region_setup, mremap_go, region_check);
ZDTM_SCENARIO(restorer_mmap_over, region_setup, mmap_over_go, region_check);
ZDTM_SCENARIO(restorer_mprotect, region_setup, mprotect_go, region_check);
ZDTM_SCENARIO(restorer_partial, partial_setup, partial_go, partial_check);
ZDTM_SCENARIO(restorer_measured, measured_setup, partial_go, partial_check);
