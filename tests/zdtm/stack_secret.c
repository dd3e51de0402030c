// SPDX-License-Identifier: GPL-2.0-only
/* stack_secret: a secret in a deep stack frame. */
#include <stdlib.h>
#include <string.h>

#include "zdtm.h"

static const char stack_secret[] = "zdtm-stack-secret-4f1c9a";

static void __attribute__((noinline)) stack_deep(void)
{
	char buf[16384];

	for (size_t off = 0; off + sizeof(stack_secret) <= sizeof(buf); off += sizeof(stack_secret))
		memcpy(buf + off, stack_secret, sizeof(stack_secret));
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static void stack_go(void)
{
	stack_deep();
	done("");
}

/* Finds the secret anywhere in [stack] (the needle itself lives in .rodata). */
static void stack_check(void)
{
	unsigned long lo = 0, hi = 0;
	const char *line = maps_now, *p;
	size_t len = sizeof(stack_secret) - 1;

	for (; *line; line = strchrnul(line, '\n') + 1) {
		const char *eol = strchrnul(line, '\n');

		if (eol - line > 7 && !memcmp(eol - 7, "[stack]", 7)) {
			lo = strtoul(line, NULL, 16);
			hi = strtoul(strchr(line, '-') + 1, NULL, 16);
			break;
		}
		if (!*eol)
			break;
	}
	if (!lo) {
		differ("no [stack] in /proc/self/maps");
		return;
	}
	for (p = (const char *)lo; p + len <= (const char *)hi; p++) {
		size_t i = 0;

		while (i < len && p[i] == stack_secret[i])
			i++;
		if (i == len) {
			differ("stack secret found at %p", (void *)p);
			return;
		}
	}
}

ZDTM_SCENARIO(stack_secret, NULL, stack_go, stack_check);
