// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "observe_layout.h"
#include "pagemap.h"
#include "procmap.h"

/* Move *lo down until no vma of the checkpoint's (m) or the live layout crosses it. */
static int cut_below(const struct rw_maps *m, int fd, uint64_t *lo)
{
	for (;;) {
		uint64_t was = *lo;
		ssize_t i = proc_maps_find(m, *lo);
		struct rw_vma v;
		int err;

		if (i >= 0 && m->v[i].start < *lo)
			*lo = m->v[i].start;
		err = procmap_query(fd, *lo, false, &v);
		if (err && err != -ENOENT)
			return err;
		if (!err && v.start < *lo)
			*lo = v.start;
		if (*lo == was)
			return 0;
	}
}

/* Likewise *hi up. */
static int cut_above(const struct rw_maps *m, int fd, uint64_t *hi)
{
	for (;;) {
		uint64_t was = *hi;
		ssize_t i = proc_maps_find(m, *hi - 1);
		struct rw_vma v;
		int err;

		if (i >= 0 && m->v[i].end > *hi)
			*hi = m->v[i].end;
		err = procmap_query(fd, *hi - 1, false, &v);
		if (err && err != -ENOENT)
			return err;
		if (!err && v.end > *hi)
			*hi = v.end;
		if (*hi == was)
			return 0;
	}
}

/* [lo, hi) widened to clean cuts, added to win. */
static int add_window(const struct rw_maps *m, int fd, uint64_t lo, uint64_t hi,
		      struct rw_ranges *win)
{
	int err;

	if (lo >= hi)
		return 0;
	err = cut_below(m, fd, &lo);
	if (!err)
		err = cut_above(m, fd, &hi);
	return err ? err : ranges_add(win, lo, hi);
}

/*
 * The windows: each touched range, and the span the break moved over, widened
 * to clean cuts; overlapping ones joined.
 */
static int windows_of(const struct rw_proc_image *img, int fd, const struct rw_log_facts *facts,
		      struct rw_ranges *win)
{
	const struct rw_ranges *touched = &facts->layout_touched;
	uint64_t lo, hi;
	int err = 0;

	if (facts->brk_called) {
		observe_brk_span(facts, img->brk, &lo, &hi);
		err = add_window(&img->maps, fd, lo, hi, win);
	}
	for (size_t i = 0; i < touched->n && !err; i++)
		err = add_window(&img->maps, fd, touched->r[i].start, touched->r[i].end, win);
	ranges_normalize(win);
	return err;
}

/* Every faulted page lies in a vma of the checkpoint or in a window. */
static bool faults_bounded(const struct rw_maps *m, const struct rw_ranges *win,
			   const struct rw_ranges *faulted)
{
	for (size_t i = 0; i < faulted->n; i++) {
		uint64_t x = faulted->r[i].start, e = faulted->r[i].end;

		while (x < e) {
			ssize_t k = proc_maps_find(m, x);
			size_t w = ranges_search(win, x);
			uint64_t to;

			if (k >= 0)
				to = m->v[k].end;
			else if (w < win->n && win->r[w].start <= x)
				to = win->r[w].end;
			else
				return false;
			x = to < e ? to : e;
		}
	}
	return true;
}

/* The live vmas of the windows, in order, ours left out and noted. */
static int read_windows(const struct rw_tmaps *ours, int fd, const struct rw_ranges *win,
			struct rw_maps *live, bool *store_seen, bool *area_seen)
{
	int err = 0;

	for (size_t i = 0; i < win->n && !err; i++) {
		uint64_t x = win->r[i].start;
		struct rw_vma v;

		while (x < win->r[i].end && !(err = procmap_query(fd, x, true, &v))) {
			if (v.start >= win->r[i].end)
				break;
			/* The process is stopped: a vma across a cut found by the widening is not. */
			if (v.end > win->r[i].end)
				return -EAGAIN;
			x = v.end;
			if (image_is_tmap(&ours->store, &v))
				*store_seen = true;
			else if (image_is_tmap(&ours->area, &v))
				*area_seen = true;
			else
				err = proc_maps_append(live, &v);
		}
		if (err == -ENOENT)
			err = 0;
	}
	return err;
}

static bool same_vma(const struct rw_vma *a, const struct rw_vma *b)
{
	return a->start == b->start && a->end == b->end && a->prot == b->prot &&
	       a->shared == b->shared && a->offset == b->offset && a->inode == b->inode &&
	       a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	       !strcmp(a->name, b->name);
}

/* The checkpoint's vmas within the windows are live's, one for one. */
static bool windows_unchanged(const struct rw_maps *m, const struct rw_ranges *win,
			      const struct rw_maps *live)
{
	size_t j = 0;

	for (size_t i = 0; i < win->n; i++)
		for (size_t k = proc_maps_from(m, win->r[i].start);
		     k < m->n && m->v[k].start < win->r[i].end; k++, j++)
			if (j == live->n || !same_vma(&m->v[k], &live->v[j]))
				return false;
	return j == live->n;
}

/* m outside the windows, live inside them. */
static int splice(const struct rw_maps *m, const struct rw_ranges *win, const struct rw_maps *live,
		  struct rw_maps *out)
{
	size_t k = 0, j = 0;
	int err = 0;

	for (size_t i = 0; i <= win->n && !err; i++) {
		uint64_t lo = i < win->n ? win->r[i].start : UINT64_MAX;
		uint64_t hi = i < win->n ? win->r[i].end : UINT64_MAX;

		for (; k < m->n && m->v[k].start < lo && !err; k++)
			err = proc_maps_append(out, &m->v[k]);
		for (; k < m->n && m->v[k].start < hi; k++)
			;
		for (; j < live->n && live->v[j].start < hi && !err; j++)
			err = proc_maps_append(out, &live->v[j]);
	}
	return err;
}

int observe_layout(const struct rw_proc_image *img, int maps_fd,
		   const struct rw_log_facts *facts, struct rw_layout_now *out)
{
	struct rw_ranges win = { 0 };
	struct rw_maps live = { 0 };
	struct rw_tmaps ours = image_tmaps(img);
	bool store_seen = false, area_seen = false;
	int err;

	memset(out, 0, sizeof(*out));
	/* maps_fd -1 (no PROCMAP_QUERY): -EBADF at the first query, none without a layout call. */
	if (facts->layout_touched.n > LAYOUT_WINDOWS_MAX)
		return -EAGAIN;
	err = windows_of(img, maps_fd, facts, &win);
	if (!err && !faults_bounded(&img->maps, &win, &facts->faulted))
		err = -EAGAIN;
	if (!err)
		err = read_windows(&ours, maps_fd, &win, &live, &store_seen, &area_seen);
	if (err)
		goto out;
	/* Ours are never in the checkpoint's layout: one a window holds is as mapped if it was seen. */
	out->tmap_intact = ours.store.addr &&
		(store_seen || !ranges_overlap(&win, ours.store.addr, ours.store.addr + ours.store.len));
	out->area_intact = ours.area.addr &&
		(area_seen || !ranges_overlap(&win, ours.area.addr, ours.area.addr + ours.area.len));
	out->same = windows_unchanged(&img->maps, &win, &live);
	if (!out->same)
		err = splice(&img->maps, &win, &live, &out->maps);
out:
	if (err)
		proc_maps_free(&out->maps);
	ranges_free(&win);
	proc_maps_free(&live);
	return err;
}
