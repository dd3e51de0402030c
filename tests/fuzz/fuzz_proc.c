// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /proc parsers (maps, smaps, status, stat, a pidfd's fdinfo, the
 * fdinfo of fd objects, credentials, POSIX timers, a mountinfo line), fed
 * any text: the first byte picks the parser, the rest is the file. What
 * they accept must hold together (vmas sorted, non-empty, non-overlapping;
 * timer ids ascending; a mount point absolute and within its buffer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdobj.h"
#include "ident.h"
#include "proc.h"

static void check_maps(const struct rw_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].start >= m->v[i].end || (i && m->v[i - 1].end > m->v[i].start))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_maps maps = { 0 };
	struct rw_proc_status st;
	struct rw_fdobj o;
	struct rw_creds c;
	uint64_t ticks, dev;
	char *text, mnt[64];
	int *ids;
	size_t n;
	pid_t pid;

	if (!size)
		return 0;
	/* The files are text: a NUL ends them where a reader would see their end. */
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 9) {
	case 0:
		if (!proc_parse_maps(text, &maps))
			check_maps(&maps);
		proc_maps_free(&maps);
		break;
	case 1:
		if (!proc_parse_smaps(text, &maps))
			check_maps(&maps);
		proc_maps_free(&maps);
		break;
	case 2:
		proc_parse_status(text, &st);
		break;
	case 3:
		proc_parse_stat_start(text, &ticks);
		break;
	case 4:
		proc_parse_pidfd_fdinfo(text, &pid);
		break;
	case 5:
		for (int kind = RW_FDOBJ_PIPE; kind <= RW_FDOBJ_LOCKS; kind++) {
			memset(&o, 0, sizeof(o));
			o.kind = kind;
			o.fd = -1;
			o.held = -1;
			fdobj_parse_fdinfo(text, &o);
			fdobj_free(&o);
		}
		break;
	case 6:
		ident_parse_creds(text, &c);
		break;
	case 7:
		if (!proc_parse_posix_timers(text, &ids, &n))
			for (size_t i = 1; i < n; i++)
				if (ids[i - 1] > ids[i])
					abort();
		free(ids);
		break;
	case 8:
		if (!proc_parse_mountinfo_line(text, &dev, mnt, sizeof(mnt)) &&
		    (mnt[0] != '/' || strlen(mnt) >= sizeof(mnt)))
			abort();
		break;
	}
	free(text);
	return 0;
}
