/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The in-target restorer's area, resident: its code and a table, in a
 * sealed memfd (`rewindd-restorer`) that stays mapped in the target from
 * the checkpoint on, read-only and executable to it, writable to rewindd
 * only (the mapping it made before the seal). A rewind then runs batches and
 * copies with no mapping injected around them and no write through
 * /proc/PID/mem (remote_use_area). Excluded like the store's mapping: in
 * no image, never armed, dropped from observed layouts when intact, mapped
 * again after the layout step when the function changed it.
 */
#ifndef RW_RESTORER_AREA_H
#define RW_RESTORER_AREA_H

#include <stdint.h>
#include <sys/types.h>

/* A mapping of ours in a target (the page store's, the restorer's area), by identity. */
struct rw_tmap {
	uint64_t addr, len;
	dev_t dev;
	ino_t ino;
	int prot;
};

struct rw_restorer_area {
	uint8_t *local;		/* our writable mapping; NULL: none (fd unused) */
	int fd;			/* the sealed memfd */
	struct rw_tmap at;	/* the target's mapping; addr 0: not mapped there */
};

/*
 * Make the memfd, write the code, seal it. 0 or -errno (logged at debug:
 * without it, each rewind maps a batch area of its own).
 */
int restorer_area_create(struct rw_restorer_area *a);
/* Our mapping and the memfd; the target's mapping stays (image.h: stale_area). */
void restorer_area_free(struct rw_restorer_area *a);

#endif /* RW_RESTORER_AREA_H */
