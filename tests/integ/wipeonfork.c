// SPDX-License-Identifier: GPL-2.0-only
/*
 * A random number generator whose state lives in one page of its own, as
 * BoringSSL and LibreSSL's arc4random keep theirs. Usage: wipeonfork wf|plain.
 * With "wf" the page is marked MADV_WIPEONFORK: a fork (and, with rewindd, a
 * rewind) hands the program that page zeroed, and the generator, finding its
 * "seeded" word 0, reseeds from getrandom(2) before its next draw. With
 * "plain" it is ordinary memory: a rewind brings the old state back and the
 * same numbers are drawn again.
 *
 * Lines (see handshake.h): "go" draws one 64-bit number and answers
 * "done HEX RESEEDED" (RESEEDED 1 when the state had to be seeded first);
 * "keep" and "wipe" madvise the page MADV_KEEPONFORK / MADV_WIPEONFORK,
 * then draw like "go"; "flag" answers "wf 1" or "wf 0", the page's VmFlags
 * in /proc/self/smaps; "exit" ends it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "handshake.h"

#define PAGE	4096UL

struct rng {
	uint64_t seeded;	/* 0 after a wipe: reseed before drawing */
	uint64_t s[4];		/* xoshiro256** */
};

static struct rng *rng;

static void seed(void)
{
	if (getrandom(rng->s, sizeof(rng->s), 0) != sizeof(rng->s)) {
		say("error getrandom %d", errno);
		exit(2);
	}
	rng->seeded = 1;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t draw(void)
{
	uint64_t *s = rng->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void go(void)
{
	int reseeded = !rng->seeded;
	uint64_t v;

	if (reseeded)
		seed();
	v = draw();
	say("done %016" PRIx64 " %d", v, reseeded);
}

/* Whether the VmFlags of the vma holding rng carry "wf": 1, 0, or -1 if not found. */
static int wf_flag(void)
{
	static char buf[1 << 20];
	uint64_t at = (uintptr_t)rng, start, end;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC), in = 0;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	for (char *p = buf; *p;) {
		char *eol = strchrnul(p, '\n');
		char c;

		/* A vma's header line is "start-end perms ...", its fields "Name: ...". */
		if (sscanf(p, "%" SCNx64 "-%" SCNx64 "%c", &start, &end, &c) == 3 && c == ' ')
			in = start <= at && at < end;
		else if (in && !strncmp(p, "VmFlags:", 8))
			return memmem(p, eol - p, " wf", 3) != NULL;
		p = *eol ? eol + 1 : eol;
	}
	return -1;
}

static void advise(int advice)
{
	if (madvise(rng, PAGE, advice)) {
		say("error madvise %d", errno);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char line[16];
	int wf;

	if (argc != 2 || (strcmp(argv[1], "wf") && strcmp(argv[1], "plain"))) {
		say("error usage: wipeonfork wf|plain");
		return 2;
	}
	wf = !strcmp(argv[1], "wf");
	rng = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rng == MAP_FAILED) {
		say("error mmap %d", errno);
		return 2;
	}
	if (wf)
		advise(MADV_WIPEONFORK);
	seed();
	say("ready %lx %d", (unsigned long)rng, wf_flag());
	for (;;) {
		if (hs_read_line(0, line, sizeof(line)))
			return 0;
		if (!strcmp(line, "go")) {
			go();
		} else if (!strcmp(line, "keep")) {
			advise(MADV_KEEPONFORK);
			go();
		} else if (!strcmp(line, "wipe")) {
			advise(MADV_WIPEONFORK);
			go();
		} else if (!strcmp(line, "flag")) {
			say("wf %d", wf_flag());
		} else if (!strcmp(line, "exit")) {
			return 0;
		} else {
			say("error unknown command '%s'", line);
			return 2;
		}
	}
}
