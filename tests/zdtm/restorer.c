// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-target restorer's source: rewindd maps the checkpoint image
 * read-only into the function (/memfd:rewindd-image) and, for a rewind of
 * many pages, has the function's own thread copy from it. Each invocation
 * writes every page of a region (enough for the restorer), then:
 *   restorer_attack      tries to write the image (mprotect, /proc/self/mem,
 *                        process_vm_writev, a writable map_files mapping,
 *                        write(), a hole punched): "done" names any that worked;
 *   restorer_munmap      unmaps the image's mapping;
 *   restorer_mremap      moves it elsewhere;
 *   restorer_mmap_over   maps a look-alike (a memfd of garbage, read-only,
 *                        shared, same size) over it;
 *   restorer_mprotect    makes it PROT_NONE.
 *   restorer_partial     also writes a page that is read-only at the
 *                        checkpoint and again at the rewind (made writable
 *                        for the write): the restorer copies only into
 *                        writable memory, so that page comes back another way.
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

#define REGION_PAGES 1024UL
static char *region;

static void region_setup(void)
{
	region = map_anon(REGION_PAGES * PAGE);
	madvise(region, REGION_PAGES * PAGE, MADV_NOHUGEPAGE);
	fill(region, REGION_PAGES * PAGE, 41);
}

static void region_write(void)
{
	for (size_t p = 0; p < REGION_PAGES; p++)
		region[p * PAGE + p % 97] ^= 0x5a;
}

static void region_check(void)
{
	check_fill("region", region, REGION_PAGES * PAGE, 41);
}

/* The image's mapping, from /proc/self/maps: 0 if there is none. */
static int find_image(unsigned long *start, unsigned long *end)
{
	static char maps[256 * 1024];
	char *line;

	if (read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		die("/proc/self/maps");
	for (line = strtok(maps, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "/memfd:rewindd-image") &&
		    sscanf(line, "%lx-%lx", start, end) == 2)
			return 1;
	return 0;
}

static char won[256];

static void attack_won(const char *what)
{
	size_t n = strlen(won);

	snprintf(won + n, sizeof(won) - n, "%s%s", n ? "," : "", what);
}

static void attack_go(void)
{
	unsigned long s, e;
	char junk[PAGE], path[96];
	int fd;

	region_write();
	won[0] = '\0';
	memset(junk, 0xee, sizeof(junk));
	if (!find_image(&s, &e)) {
		done("no image mapping");
		return;
	}
	if (!mprotect((void *)s, e - s, PROT_READ | PROT_WRITE)) {
		attack_won("mprotect");
		memset((void *)s, 0xee, e - s);
	}
	fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0) {
		if (pwrite(fd, junk, PAGE, (off_t)s) == PAGE) {
			attack_won("proc-mem");
			for (unsigned long a = s; a < e; a += PAGE)
				pwrite(fd, junk, PAGE, (off_t)a);
		}
		close(fd);
	}
	{
		struct iovec l = { junk, PAGE }, r = { (void *)s, PAGE };

		if (process_vm_writev(getpid(), &l, 1, &r, 1, 0) == PAGE)
			attack_won("process_vm_writev");
	}
	if (!madvise((void *)s, e - s, MADV_REMOVE))
		attack_won("madvise-remove");
	/* map_files needs CAP_SYS_ADMIN: as root, the memfd itself can be opened. */
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", s, e);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fd = open(path, O_RDONLY);
	if (fd >= 0) {
		void *w = mmap(NULL, e - s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (w != MAP_FAILED) {
			attack_won("map_files-mmap");
			memset(w, 0xee, e - s);
			munmap(w, e - s);
		}
		if (pwrite(fd, junk, PAGE, 0) == PAGE)
			attack_won("map_files-write");
		if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, e - s))
			attack_won("map_files-punch");
		if (!ftruncate(fd, 0))
			attack_won("map_files-truncate");
		close(fd);
	}
	done("%s", won[0] ? won : "refused");
}

static void munmap_go(void)
{
	unsigned long s, e;

	region_write();
	if (!find_image(&s, &e)) {
		done("no image mapping");	/* not under rewindd: the twin without rewind */
		return;
	}
	if (munmap((void *)s, e - s))
		die("munmap of the image's mapping");
	done("unmapped %lx", s);
}

static void mremap_go(void)
{
	unsigned long s, e;
	void *to;

	region_write();
	if (!find_image(&s, &e)) {
		done("no image mapping");
		return;
	}
	/* Into a reservation of our own: nothing else is replaced. */
	to = mmap(NULL, e - s, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED)
		die("mmap");
	to = mremap((void *)s, e - s, e - s, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (to == MAP_FAILED)
		die("mremap of the image's mapping");
	done("moved %lx to %p", s, to);
}

static void mmap_over_go(void)
{
	unsigned long s, e;
	char junk[PAGE];
	int fd;

	region_write();
	if (!find_image(&s, &e)) {
		done("no image mapping");
		return;
	}
	memset(junk, 0xee, sizeof(junk));
	fd = memfd_create("rewindd-image", 0);
	if (fd < 0 || ftruncate(fd, e - s))
		die("memfd");
	for (unsigned long off = 0; off < e - s; off += PAGE)
		if (pwrite(fd, junk, PAGE, off) != PAGE)
			die("pwrite");
	if (mmap((void *)s, e - s, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) != (void *)s)
		die("mmap over the image's mapping");
	close(fd);
	done("replaced %lx", s);
}

static void mprotect_go(void)
{
	unsigned long s, e;

	region_write();
	if (!find_image(&s, &e)) {
		done("no image mapping");
		return;
	}
	if (mprotect((void *)s, e - s, PROT_NONE))
		die("mprotect of the image's mapping");
	done("protected %lx", s);
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
