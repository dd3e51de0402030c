// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo's "serverless function": each invocation reads one request line
 * "USER SECRET" and, like careless real functions, caches the secret in a
 * global, in the heap, in an environment variable and in a file under /tmp.
 * It answers with what it found left over from earlier invocations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char last_secret[64];	/* a "warm cache" */

int main(void)
{
	char user[32], secret[64], seen[128];
	char *heap_copy = NULL;

	mkdir("/tmp/rewindd-demo", 0700);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (scanf("%31s %63s", user, secret) == 2) {
		const char *env = getenv("LAST_SECRET");
		char path[128];
		FILE *f;

		snprintf(seen, sizeof(seen), "%s", last_secret[0] ? last_secret : "nothing");
		printf("hello %s; left over from before: global=%s env=%s\n", user, seen,
		       env ? env : "nothing");
		snprintf(last_secret, sizeof(last_secret), "%s", secret);
		free(heap_copy);
		heap_copy = strdup(secret);
		setenv("LAST_SECRET", secret, 1);
		snprintf(path, sizeof(path), "/tmp/rewindd-demo/%s.txt", user);
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "%s\n", secret);
			fclose(f);
		}
	}
	free(heap_copy);
	return 0;
}
