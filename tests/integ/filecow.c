// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private file mappings written after the checkpoint (copy on write of a
 * page that was still the file's). Usage: filecow DIR; it makes DIR/filecow.dat
 * and maps it three times, MAP_PRIVATE:
 *   rw: writable; at the checkpoint pages 0-3 were read (the file's pages),
 *       page 4 was written (a private copy), pages 5-7 absent (never touched, or dropped again);
 *   ro: read-only, read at the checkpoint; an invocation makes it writable,
 *       writes and makes it read-only again;
 *   ro2: read-only, read at the checkpoint; an invocation makes it writable,
 *       writes and leaves it writable.
 * "go" writes rw pages 0, 1 (the file's), 4 (the copy), 5 (absent), ro page
 * 0 and ro2 page 2; "check" answers "pass" when every page holds what it
 * held at the checkpoint (the file's bytes, rw page 4 its private copy), or
 * "fail" and every page that differs ("rw:0 ro2:2"). The file itself is
 * never written. See handshake.h for the protocol.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include "handshake.h"

#define PAGE	4096UL
#define NPAGES	8UL
#define COPIED	4	/* the rw page written before the checkpoint */

static char file_page[NPAGES][PAGE];

static void fill(char *p, unsigned page, char tag)
{
	for (size_t i = 0; i < PAGE; i++)
		p[i] = (char)(tag + page + i % 251);
}

static char *map(int fd, int prot)
{
	char *p = mmap(NULL, NPAGES * PAGE, prot, MAP_PRIVATE, fd, 0);

	if (p == MAP_FAILED) {
		say("error mmap %d", errno);
		exit(2);
	}
	/* 4 KiB pages only: the test is about single pages. */
	madvise(p, NPAGES * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/* Appends " NAME:i" to out for every page of a mapping that differs. */
static void compare(const volatile char *m, const char *name, int copied, char *out, size_t size)
{
	static char want[PAGE];

	for (unsigned i = 0; i < NPAGES; i++) {
		if ((int)i == copied)
			fill(want, i, 'C');
		else
			memcpy(want, file_page[i], PAGE);
		if (memcmp((const char *)m + i * PAGE, want, PAGE))
			snprintf(out + strlen(out), size - strlen(out), " %s:%u", name, i);
	}
}

static void check(const volatile char *rw, const volatile char *ro, const volatile char *ro2)
{
	char out[200] = "";

	compare(rw, "rw", COPIED, out, sizeof(out));
	compare(ro, "ro", -1, out, sizeof(out));
	compare(ro2, "ro2", -1, out, sizeof(out));
	if (*out)
		say("fail%s", out);
	else
		say("pass");
}

int main(int argc, char **argv)
{
	volatile char *rw, *ro, *ro2;
	char path[4096], line[16];
	volatile char sink = 0;
	int fd;

	if (argc != 2) {
		say("error usage: filecow DIR");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/filecow.dat", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		say("error open %s: %d", path, errno);
		return 2;
	}
	for (unsigned i = 0; i < NPAGES; i++) {
		fill(file_page[i], i, 'F');
		if (pwrite(fd, file_page[i], PAGE, i * PAGE) != (ssize_t)PAGE) {
			say("error pwrite %d", errno);
			return 2;
		}
	}
	rw = map(fd, PROT_READ | PROT_WRITE);
	ro = map(fd, PROT_READ);
	ro2 = map(fd, PROT_READ);
	close(fd);
	for (unsigned i = 0; i < 4; i++)
		sink += rw[i * PAGE + 1];
	fill((char *)rw + COPIED * PAGE, COPIED, 'C');
	/* Fault-around mapped the file's pages near the ones read: 5-7 go again. */
	if (madvise((void *)(rw + (COPIED + 1) * PAGE), (NPAGES - COPIED - 1) * PAGE, MADV_DONTNEED)) {
		say("error madvise %d", errno);
		return 2;
	}
	for (unsigned i = 0; i < NPAGES; i++)
		sink += ro[i * PAGE + 1] + ro2[i * PAGE + 1];
	(void)sink;
	say("ready %lx %lx %lx", (unsigned long)rw, (unsigned long)ro, (unsigned long)ro2);
	for (;;) {
		switch (next_cmd(0, line, sizeof(line))) {
		case HS_GO:
			rw[0 * PAGE + 7] = 'x';
			rw[1 * PAGE + 4095] = 'x';
			rw[COPIED * PAGE + 9] = 'x';
			rw[5 * PAGE] = 'x';
			if (mprotect((void *)ro, NPAGES * PAGE, PROT_READ | PROT_WRITE)) {
				say("error mprotect %d", errno);
				return 2;
			}
			ro[3] = 'x';
			if (mprotect((void *)ro, NPAGES * PAGE, PROT_READ) ||
			    mprotect((void *)ro2, NPAGES * PAGE, PROT_READ | PROT_WRITE)) {
				say("error mprotect %d", errno);
				return 2;
			}
			ro2[2 * PAGE + 5] = 'x';
			say("done");
			break;
		case HS_CHECK:
			check(rw, ro, ro2);
			break;
		case HS_EXIT:
		case HS_EOF:
			return 0;
		default:
			say("error unknown command '%s'", line);
			return 2;
		}
	}
}
