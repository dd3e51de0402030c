// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "invocation: "
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <linux/types.h>

#include "invocation.h"
#include "log.h"
#include "pageset.h"
#include "paths.h"
#include "rewind/events.h"
#include "rewind/syscalls.h"
#include "sysnames.h"

#define PAGE_MASK_4K (~(uint64_t)4095)

/*
 * Append a zeroed element to a growable array whose capacity is implied by
 * its length: it doubles whenever the length reaches a power of two.
 */
static void *push(void *base_ptr, size_t *n, size_t elem)
{
	void **base = base_ptr;

	if (*n == 0 || (*n >= 8 && !(*n & (*n - 1)))) {
		size_t cap = *n ? *n * 2 : 8;
		void *p = realloc(*base, cap * elem);

		if (!p)
			return NULL;
		*base = p;
	}
	memset((char *)*base + *n * elem, 0, elem);
	return (char *)*base + (*n)++ * elem;
}

struct rw_invocation *invocation_new(uint32_t number, uint64_t start_ns)
{
	struct rw_invocation *inv = calloc(1, sizeof(*inv));

	if (!inv)
		return NULL;
	inv->number = number;
	inv->start_ns = start_ns;
	return inv;
}

void invocation_free(struct rw_invocation *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->nprocs; i++) {
		pageset_free(inv->procs[i].faulted);
		ranges_free(&inv->procs[i].written);
	}
	for (size_t i = 0; i < inv->nfiles; i++) {
		struct rw_file_touch *f = &inv->files[i];

		free(f->path);
		free(f->renamed_to);
		free(f->renamed_from);
		free(f->link_target);
	}
	for (size_t i = 0; i < inv->npersist; i++)
		free(inv->persist[i].path);
	free(inv->persist);
	for (size_t i = 0; i < inv->nchanges; i++)
		free(inv->changes[i].what);
	free(inv->changes);
	for (size_t i = 0; i < inv->nnotes; i++)
		free(inv->notes[i]);
	free(inv->notes);
	free(inv->procs);
	free(inv->writers);
	free(inv->layout);
	free(inv->state);
	free(inv->tasks);
	free(inv->files);
	free(inv->mappings);
	free(inv);
}

int invocation_add_state_change(struct rw_invocation *inv, pid_t tgid, const char *class,
				const char *what)
{
	struct rw_state_change *c = push(&inv->changes, &inv->nchanges, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->tgid = tgid;
	snprintf(c->class, sizeof(c->class), "%s", class);
	c->what = strdup(what);
	if (!c->what) {
		inv->nchanges--;
		return -ENOMEM;
	}
	return 0;
}

int invocation_note(struct rw_invocation *inv, const char *fmt, ...)
{
	char **slot;
	va_list ap;
	int n;

	slot = push(&inv->notes, &inv->nnotes, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	va_start(ap, fmt);
	n = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (n < 0) {
		inv->nnotes--;
		return -ENOMEM;
	}
	return 0;
}

static struct rw_proc_pages *proc_pages(struct rw_invocation *inv, pid_t tgid)
{
	struct rw_proc_pages *p;

	for (size_t i = 0; i < inv->nprocs; i++)
		if (inv->procs[i].tgid == tgid)
			return &inv->procs[i];
	p = push(&inv->procs, &inv->nprocs, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->faulted = pageset_new();
	p->written = (struct rw_ranges){ 0 };
	if (!p->faulted) {
		inv->nprocs--;
		return NULL;
	}
	return p;
}

static int add_fault(struct rw_invocation *inv, const struct rw_fault_event *e)
{
	struct rw_proc_pages *p = proc_pages(inv, e->hdr.tgid);
	struct rw_writer *w = NULL;

	if (!p)
		return -ENOMEM;
	inv->fault_records++;
	if (e->flags & RW_FAULT_KERNEL)
		inv->kernel_fault_records++;
	for (size_t i = 0; i < inv->nwriters; i++)
		if (inv->writers[i].tid == (pid_t)e->hdr.tid)
			w = &inv->writers[i];
	if (!w) {
		w = push(&inv->writers, &inv->nwriters, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->tid = e->hdr.tid;
	}
	w->faults++;
	return pageset_add(p->faulted, e->addr & PAGE_MASK_4K) < 0 ? -ENOMEM : 0;
}

static int add_syscall(struct rw_invocation *inv, const struct rw_syscall_event *e)
{
	struct rw_sys_record *r;

	if (syscall_is_layout(e->nr))
		r = push(&inv->layout, &inv->nlayout, sizeof(*r));
	else
		r = push(&inv->state, &inv->nstate, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->tgid = e->hdr.tgid;
	r->tid = e->hdr.tid;
	r->nr = e->nr;
	memcpy(r->args, e->args, sizeof(r->args));
	r->ret = e->ret;
	return 0;
}

static int add_task(struct rw_invocation *inv, const struct rw_task_event *e)
{
	struct rw_task_record *r = push(&inv->tasks, &inv->ntasks, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->op = e->op;
	r->pid = e->pid;
	r->tgid = e->tgid;
	r->parent = e->parent;
	memcpy(r->comm, e->comm, sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	return 0;
}

bool invocation_threads_changed(const struct rw_invocation *inv, pid_t tgid)
{
	for (size_t i = 0; i < inv->ntasks; i++) {
		const struct rw_task_record *r = &inv->tasks[i];

		if (r->tgid == tgid && r->op != RW_TASK_NEW_PROCESS && r->op != RW_TASK_CGROUP)
			return true;
	}
	return false;
}

static struct rw_file_touch *file_touch(struct rw_invocation *inv, const char *path,
				       uint32_t mnt_ns)
{
	struct rw_file_touch *f;

	/* Invocations touch few files; a linear search keeps this simple. */
	for (size_t i = 0; i < inv->nfiles; i++)
		if (!strcmp(inv->files[i].path, path)) {
			/* One name in two views: which file it was is unknown. */
			if (inv->files[i].mnt_ns != mnt_ns)
				inv->files[i].mnt_ns = 0;
			return &inv->files[i];
		}
	f = push(&inv->files, &inv->nfiles, sizeof(*f));
	if (!f)
		return NULL;
	f->path = strdup(path);
	if (!f->path) {
		inv->nfiles--;
		return NULL;
	}
	f->mnt_ns = mnt_ns;
	return f;
}

/* The absolute path a record names: its resolved dir, joined with name when given. */
static int record_path(const char *comp, uint16_t comp_len, const char *name, char *out,
		       size_t outlen)
{
	char dir[PATH_MAX];
	int n;

	n = path_from_components(comp, comp_len > RW_DIR_BUF ? RW_DIR_BUF : comp_len, dir,
				 sizeof(dir));
	if (n < 0)
		return n;
	if (!name[0]) {
		snprintf(out, outlen, "%s", dir);
		return 0;
	}
	return path_join(dir, name, out, outlen) < 0 ? -ENAMETOOLONG : 0;
}

static int set_str(char **dst, const char *s)
{
	char *c = strdup(s);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int add_file(struct rw_invocation *inv, const struct rw_file_event *e)
{
	char name[RW_NAME_MAX], name2[RW_NAME_MAX];
	char path[PATH_MAX], path2[PATH_MAX];
	struct rw_file_touch *f, *g;
	bool two = e->op == RW_FOP_RENAME || e->op == RW_FOP_LINK || e->op == RW_FOP_SYMLINK;

	if (e->op == 0 || e->op >= RW_FOP__COUNT)
		return -EINVAL;
	if (e->flags & RW_F_TRUNCATED)
		inv->file_paths_truncated++;
	memcpy(name, e->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	memcpy(name2, e->name2, sizeof(name2));
	name2[sizeof(name2) - 1] = '\0';

	/* An fd-based record's dir is the file itself: name is not joined to it. */
	if (record_path(e->dir, e->dir_len, (e->flags & RW_F_DIR_IS_FILE) ? "" : name,
			path, sizeof(path)))
		return -EINVAL;
	if (two && record_path(e->dir2, e->dir2_len, name2, path2, sizeof(path2)))
		return -EINVAL;

	/* symlink(target, linkpath): only linkpath is an entry of the tree. */
	f = file_touch(inv, e->op == RW_FOP_SYMLINK ? path2 : path, e->mnt_ns);
	if (!f)
		return -ENOMEM;
	f->ops |= 1u << e->op;
	switch (e->op) {
	case RW_FOP_WRITE:
	case RW_FOP_COPY:
		f->bytes += e->bytes;
		break;
	case RW_FOP_OPEN:
		if (e->flags & RW_F_CREATED)
			f->created = true, f->deleted = false;
		if (e->flags & RW_F_TRUNC)
			f->ops |= 1u << RW_FOP_TRUNCATE;
		break;
	case RW_FOP_MKDIR:
	case RW_FOP_MKNOD:
		f->created = true;
		f->deleted = false;
		break;
	case RW_FOP_UNLINK:
	case RW_FOP_RMDIR:
		f->deleted = true;
		break;
	case RW_FOP_SYMLINK:
		f->created = true;
		f->deleted = false;
		return set_str(&f->link_target, name);
	case RW_FOP_RENAME:
	case RW_FOP_LINK:
		if (e->op == RW_FOP_RENAME) {
			f->deleted = true;
			if (set_str(&f->renamed_to, path2))
				return -ENOMEM;
		}
		g = file_touch(inv, path2, e->mnt_ns);
		if (!g)
			return -ENOMEM;
		/* file_touch may have moved the array: find the source again. */
		f = file_touch(inv, path, e->mnt_ns);
		if (!f)
			return -ENOMEM;
		g->ops |= 1u << e->op;
		g->created = true;
		g->deleted = false;
		if (e->op == RW_FOP_RENAME)
			return set_str(&g->renamed_from, path);
		return set_str(&g->link_target, path);
	}
	return 0;
}

int invocation_add_record(struct rw_invocation *inv, const void *data, size_t size)
{
	const struct rw_event_hdr *h = data;

	if (size < sizeof(*h))
		return -EINVAL;
	switch (h->kind) {
	case RW_EV_FAULT:
		return size < sizeof(struct rw_fault_event) ? -EINVAL : add_fault(inv, data);
	case RW_EV_SYSCALL:
		return size < sizeof(struct rw_syscall_event) ? -EINVAL : add_syscall(inv, data);
	case RW_EV_TASK:
		return size < sizeof(struct rw_task_event) ? -EINVAL : add_task(inv, data);
	case RW_EV_FILE:
		return size < sizeof(struct rw_file_event) ? -EINVAL : add_file(inv, data);
	}
	return -EINVAL;
}

int invocation_add_written(struct rw_invocation *inv, pid_t tgid, uint64_t start, uint64_t end)
{
	struct rw_proc_pages *p = proc_pages(inv, tgid);

	if (!p)
		return -ENOMEM;
	return ranges_add(&p->written, start & PAGE_MASK_4K, end);
}

int invocation_add_written_ranges(struct rw_invocation *inv, pid_t tgid, const struct rw_ranges *w)
{
	int err = 0;

	for (size_t i = 0; i < w->n && !err; i++)
		err = invocation_add_written(inv, tgid, w->r[i].start, w->r[i].end);
	return err;
}

/*
 * Count the pages of w (sorted, disjoint) per vma of maps; pages outside
 * every vma go to one "(unmapped)" row.
 */
static int attribute(struct rw_invocation *inv, pid_t tgid, const struct rw_ranges *w,
		     const struct rw_maps *maps)
{
	static const struct rw_maps none = { 0 };
	struct rw_mapping_pages *row = NULL;
	uint64_t unmapped = 0;
	size_t cur = SIZE_MAX;

	maps = maps ? maps : &none;
	for (size_t i = 0; i < w->n; i++) {
		for (uint64_t a = w->r[i].start, e; a < w->r[i].end; a = e) {
			size_t v = proc_maps_from(maps, a);
			const struct rw_vma *vma = v < maps->n ? &maps->v[v] : NULL;

			e = w->r[i].end;
			if (!vma || vma->start > a) {
				/* Up to the next vma: in none. */
				e = vma && vma->start < e ? vma->start : e;
				unmapped += (e - a) / 4096;
				continue;
			}
			e = vma->end < e ? vma->end : e;
			if (v != cur) {
				row = push(&inv->mappings, &inv->nmappings, sizeof(*row));
				if (!row)
					return -ENOMEM;
				row->tgid = tgid;
				row->start = vma->start;
				row->end = vma->end;
				prot_string(vma->prot, vma->shared, row->perms);
				snprintf(row->name, sizeof(row->name), "%s", vma->name);
				cur = v;
			}
			row->pages += (e - a) / 4096;
		}
	}
	if (unmapped) {
		row = push(&inv->mappings, &inv->nmappings, sizeof(*row));
		if (!row)
			return -ENOMEM;
		row->tgid = tgid;
		row->pages = unmapped;
		snprintf(row->perms, sizeof(row->perms), "----");
		snprintf(row->name, sizeof(row->name), "(unmapped)");
	}
	return 0;
}

/*
 * Did tgid discard memory holding page during this invocation (munmap,
 * mremap's old range, madvise DONTNEED/FREE/REMOVE)? A page written, then
 * discarded, has no written bit left for the scan to find: its fault record
 * is the only witness.
 */
static bool discarded(const struct rw_invocation *inv, pid_t tgid, uint64_t page)
{
	for (size_t i = 0; i < inv->nlayout; i++) {
		const struct rw_sys_record *r = &inv->layout[i];
		uint64_t start = r->args[0], len = r->args[1];

		if (r->tgid != tgid)
			continue;
		switch (r->nr) {
		case RW_NR_madvise:
			if (r->args[2] != MADV_DONTNEED && r->args[2] != MADV_FREE &&
			    r->args[2] != MADV_REMOVE)
				continue;
			break;
		case RW_NR_munmap:
		case RW_NR_mremap:
			break;
		default:
			continue;
		}
		if (page + 4096 > start && page < start + len)
			return true;
	}
	return false;
}

int invocation_close(struct rw_invocation *inv, uint64_t end_ns, rw_covered_fn covered,
		     rw_maps_fn maps_of, void *ctx)
{
	int err = 0;

	inv->end_ns = end_ns;
	inv->closed = true;
	inv->pages_written = 0;
	for (size_t i = 0; i < inv->nprocs && !err; i++) {
		struct rw_proc_pages *p = &inv->procs[i];
		uint64_t *pages = NULL;
		size_t n = 0;

		/*
		 * Where the scan covers a page it is the authority; elsewhere
		 * trust the faults. In order: neighbours join one range.
		 */
		err = pageset_sorted(p->faulted, &pages, &n);
		for (size_t k = 0; k < n && !err; k++)
			if (!covered || !covered(ctx, p->tgid, pages[k]) ||
			    discarded(inv, p->tgid, pages[k]))
				err = ranges_add(&p->written, pages[k], pages[k] + 4096);
		free(pages);
		if (err)
			break;
		ranges_normalize(&p->written);
		err = attribute(inv, p->tgid, &p->written, maps_of ? maps_of(ctx, p->tgid) : NULL);
		inv->pages_written += ranges_pages(&p->written);
	}
	return err;
}

static json_object *sys_record_json(const struct rw_sys_record *r)
{
	json_object *o = json_object_new_object();
	const char *name = syscall_name(r->nr);
	json_object *args;

	json_object_object_add(o, "op", json_object_new_string(name ? name : "?"));
	json_object_object_add(o, "tid", json_object_new_int(r->tid));
	if (syscall_is_layout(r->nr)) {
		json_object_object_add(o, "addr", json_object_new_int64(r->args[0]));
		json_object_object_add(o, "len", json_object_new_int64(r->nr == RW_NR_brk ? 0 : r->args[1]));
		switch (r->nr) {
		case RW_NR_mmap:
			json_object_object_add(o, "prot", json_object_new_int64(r->args[2]));
			json_object_object_add(o, "flags", json_object_new_int64(r->args[3]));
			json_object_object_add(o, "fd", json_object_new_int((int)r->args[4]));
			break;
		case RW_NR_mprotect:
		case RW_NR_pkey_mprotect:
			json_object_object_add(o, "prot", json_object_new_int64(r->args[2]));
			break;
		case RW_NR_mremap:
			json_object_object_add(o, "new_len", json_object_new_int64(r->args[2]));
			json_object_object_add(o, "flags", json_object_new_int64(r->args[3]));
			break;
		case RW_NR_madvise:
			json_object_object_add(o, "advice", json_object_new_int64(r->args[2]));
			break;
		}
	} else {
		args = json_object_new_array();
		for (int i = 0; i < syscall_report_args(r->nr); i++)
			json_object_array_add(args, json_object_new_int64(r->args[i]));
		json_object_object_add(o, "args", args);
	}
	json_object_object_add(o, "result", json_object_new_int64(r->ret));
	return o;
}

static json_object *file_json(const struct rw_file_touch *f)
{
	json_object *o = json_object_new_object(), *ops = json_object_new_array();

	json_object_object_add(o, "path", json_object_new_string(f->path));
	for (uint32_t op = 1; op < RW_FOP__COUNT; op++)
		if (f->ops & (1u << op))
			json_object_array_add(ops, json_object_new_string(file_op_name(op)));
	json_object_object_add(o, "ops", ops);
	json_object_object_add(o, "bytes_written", json_object_new_int64(f->bytes));
	json_object_object_add(o, "created", json_object_new_boolean(f->created));
	json_object_object_add(o, "deleted", json_object_new_boolean(f->deleted));
	if (f->renamed_to)
		json_object_object_add(o, "renamed_to", json_object_new_string(f->renamed_to));
	if (f->renamed_from)
		json_object_object_add(o, "renamed_from", json_object_new_string(f->renamed_from));
	if (f->link_target)
		json_object_object_add(o, "link_target", json_object_new_string(f->link_target));
	return o;
}

/* The keys the full report and the summary share. */
static json_object *report_head(const struct rw_invocation *inv)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "invocation", json_object_new_int64(inv->number));
	json_object_object_add(o, "duration_ns",
			       json_object_new_int64(inv->end_ns > inv->start_ns ?
						     inv->end_ns - inv->start_ns : 0));
	json_object_object_add(o, "pages_written", json_object_new_int64(inv->pages_written));
	return o;
}

json_object *invocation_to_json(const struct rw_invocation *inv)
{
	json_object *o = report_head(inv);
	json_object *arr;

	json_object_object_add(o, "fault_records", json_object_new_int64(inv->fault_records));
	json_object_object_add(o, "kernel_write_faults",
			       json_object_new_int64(inv->kernel_fault_records));

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nmappings; i++) {
		const struct rw_mapping_pages *m = &inv->mappings[i];
		json_object *mo = json_object_new_object();

		json_object_object_add(mo, "pid", json_object_new_int(m->tgid));
		json_object_object_add(mo, "start", json_object_new_int64(m->start));
		json_object_object_add(mo, "end", json_object_new_int64(m->end));
		json_object_object_add(mo, "perms", json_object_new_string(m->perms));
		json_object_object_add(mo, "name", json_object_new_string(m->name));
		json_object_object_add(mo, "pages_written", json_object_new_int64(m->pages));
		json_object_array_add(arr, mo);
	}
	json_object_object_add(o, "mappings", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nwriters; i++) {
		json_object *w = json_object_new_object();

		json_object_object_add(w, "tid", json_object_new_int(inv->writers[i].tid));
		json_object_object_add(w, "faults", json_object_new_int64(inv->writers[i].faults));
		json_object_array_add(arr, w);
	}
	json_object_object_add(o, "writers", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nlayout; i++)
		json_object_array_add(arr, sys_record_json(&inv->layout[i]));
	json_object_object_add(o, "layout", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nfiles; i++)
		json_object_array_add(arr, file_json(&inv->files[i]));
	json_object_object_add(o, "files", arr);
	if (inv->persist_known) {
		arr = json_object_new_array();
		for (size_t i = 0; i < inv->npersist; i++) {
			json_object *po = json_object_new_object();

			json_object_object_add(po, "path", json_object_new_string(inv->persist[i].path));
			json_object_object_add(po, "size", json_object_new_int64(inv->persist[i].size));
			json_object_object_add(po, "change", json_object_new_string(
						       inv->persist[i].created ? "created" : "modified"));
			json_object_array_add(arr, po);
		}
		json_object_object_add(o, "files_persisting", arr);
	}

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->ntasks; i++) {
		const struct rw_task_record *t = &inv->tasks[i];
		json_object *to = json_object_new_object();

		json_object_object_add(to, "op", json_object_new_string(task_op_name(t->op)));
		json_object_object_add(to, "pid", json_object_new_int(t->pid));
		json_object_object_add(to, "tgid", json_object_new_int(t->tgid));
		json_object_object_add(to, "comm", json_object_new_string(t->comm));
		json_object_array_add(arr, to);
	}
	json_object_object_add(o, "tasks", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nstate; i++)
		json_object_array_add(arr, sys_record_json(&inv->state[i]));
	json_object_object_add(o, "process_state", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nchanges; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "pid", json_object_new_int(inv->changes[i].tgid));
		json_object_object_add(c, "class", json_object_new_string(inv->changes[i].class));
		json_object_object_add(c, "what", json_object_new_string(inv->changes[i].what));
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "state_changes", arr);

	json_object_object_add(o, "dropped", json_object_new_int64(inv->dropped));
	json_object_object_add(o, "complete", json_object_new_boolean(inv->dropped == 0));
	arr = json_object_new_array();
	for (size_t i = 0; i < inv->nnotes; i++)
		json_object_array_add(arr, json_object_new_string(inv->notes[i]));
	json_object_object_add(o, "notes", arr);
	return o;
}

int invocation_find_persisting(struct rw_invocation *inv, bool (*skip)(void *ctx, const char *path),
			       void *ctx)
{
	for (size_t i = 0; i < inv->nfiles; i++) {
		const struct rw_file_touch *f = &inv->files[i];
		struct rw_file_persist *p;
		struct stat st;

		/* Only what changed contents or came into being: a chmod leaves no data behind. */
		if (!(f->ops & ((1u << RW_FOP_WRITE) | (1u << RW_FOP_COPY) | (1u << RW_FOP_TRUNCATE) |
				(1u << RW_FOP_FALLOCATE) | (1u << RW_FOP_MMAP_WRITE))) &&
		    !f->created)
			continue;
		if (lstat(f->path, &st) || !S_ISREG(st.st_mode) || (skip && skip(ctx, f->path)))
			continue;
		p = push(&inv->persist, &inv->npersist, sizeof(*p));
		if (!p || !(p->path = strdup(f->path))) {
			if (p)
				inv->npersist--;
			return -ENOMEM;
		}
		p->size = st.st_size;
		p->created = f->created;
	}
	inv->persist_known = true;
	return 0;
}

json_object *invocation_summary_json(const struct rw_invocation *inv)
{
	json_object *o = report_head(inv);

	json_object_object_add(o, "layout_changes", json_object_new_int64(inv->nlayout));
	json_object_object_add(o, "files", json_object_new_int64(inv->nfiles));
	json_object_object_add(o, "tasks", json_object_new_int64(inv->ntasks));
	json_object_object_add(o, "dropped", json_object_new_int64(inv->dropped));
	json_object_object_add(o, "complete", json_object_new_boolean(!inv->dropped));
	return o;
}
