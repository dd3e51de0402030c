// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo's "serverless function": each invocation reads one request line
 * "USER SECRET" and, like careless real functions, caches the secret in a
 * global, in the heap, in an environment variable and in a file under its
 * work directory (argv[1]). It answers with what it found left over from
 * earlier invocations.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char last_secret[64];	/* a "warm cache" */

/* The files earlier invocations left in dir, as "a.txt,b.txt" or "nothing". */
static void leftover_files(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	out[0] = '\0';
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && n < len)
			n += snprintf(out + n, len - n, "%s%s", n ? "," : "", e->d_name);
	if (d)
		closedir(d);
	if (!out[0])
		snprintf(out, len, "nothing");
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/rewindd-demo";
	char user[32], secret[64], seen[128], files[256];
	char *heap_copy = NULL;

	mkdir(dir, 0700);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (scanf("%31s %63s", user, secret) == 2) {
		const char *env = getenv("LAST_SECRET");
		char path[4200];
		FILE *f;

		snprintf(seen, sizeof(seen), "%s", last_secret[0] ? last_secret : "nothing");
		leftover_files(dir, files, sizeof(files));
		printf("hello %s; left over from before: global=%s env=%s files=%s\n", user, seen,
		       env ? env : "nothing", files);
		snprintf(last_secret, sizeof(last_secret), "%s", secret);
		free(heap_copy);
		heap_copy = strdup(secret);
		setenv("LAST_SECRET", secret, 1);
		snprintf(path, sizeof(path), "%s/%s.txt", dir, user);
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "%s\n", secret);
			fclose(f);
		}
	}
	free(heap_copy);
	return 0;
}
