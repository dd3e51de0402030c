// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewind-proxy's /init code: base64 text, then a zip archive unpacked into
 * the function's directory. Any bytes: the first byte says whether they are
 * base64 (decoded first) or the archive itself. Nothing may be written
 * outside the directory: the harness unpacks into an empty directory
 * inside an empty parent and fails if the parent holds anything else.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "zipcode.h"

static char parent[64], dir[80];

static void teardown(void)
{
	remove_tree(parent, false);
}

static void setup(void)
{
	snprintf(parent, sizeof(parent), "/dev/shm/rewindd-fuzz-zip.XXXXXX");
	if (!mkdtemp(parent))
		abort();
	snprintf(dir, sizeof(dir), "%s/fn", parent);
	atexit(teardown);
}

/* Only "fn" in the parent: nothing escaped the function's directory. */
static void check_contained(void)
{
	DIR *d = opendir(parent);
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "fn"))
			abort();
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *zip = NULL;
	size_t len = 0;
	char err[512];

	if (!size)
		return 0;
	if (!parent[0])
		setup();
	if (data[0] & 1) {
		if (base64_decode((const char *)data + 1, size - 1, &zip, &len, err, sizeof(err)))
			return 0;
	}
	if (mkdir(dir, 0700))
		abort();
	zip_extract(zip ? zip : data + 1, zip ? len : size - 1, dir, err, sizeof(err));
	check_contained();
	if (remove_tree(dir, false))
		abort();
	free(zip);
	return 0;
}
