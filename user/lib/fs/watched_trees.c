// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "watch: "
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "fileio.h"
#include "invocation.h"
#include "log.h"
#include "watched_trees.h"

static bool under(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path[0] == '/';
	return !strncmp(root, path, n) && (path[n] == '\0' || path[n] == '/');
}

/* The state dir exists, is a directory and only root can reach it. */
static int private_dir(const char *dir, char *why, size_t whylen)
{
	int err = make_private_dir(dir);

	return err ? rw_why(why, whylen, err, "state directory %s", dir) : 0;
}

static const char *view_name(const struct rw_nsroot *r, char *buf, size_t len)
{
	snprintf(buf, len, "mnt:[%u]%s%s", r->mnt_ns, r->prefix[0] ? " root " : "", r->prefix);
	return buf;
}

/* The view of pids: all must share it. A process gone meanwhile is no vote. */
static int common_view(struct rw_nsroot *ns, const pid_t *pids, size_t npids, char *why,
		       size_t whylen)
{
	char a[PATH_MAX + 32], b[PATH_MAX + 32];
	int err = -ESRCH;

	ns->fd = -1;
	for (size_t i = 0; i < npids; i++) {
		bool first = ns->fd < 0;
		struct rw_nsroot o;

		err = nsroot_of_pid(pids[i], first ? ns : &o, why, whylen);
		if (err == -ENOENT || err == -ESRCH)
			continue;
		if (err) {
			nsroot_close(ns);
			return err;
		}
		if (first)
			continue;
		nsroot_close(&o);
		if (!nsroot_same(ns, &o)) {
			err = rw_why(why, whylen, -EINVAL, "--watch is ambiguous: pid %d sees %s and "
				     "pid %d sees %s (another mount namespace or root); attach "
				     "processes that share one", ns->pid, view_name(ns, a, sizeof(a)),
				     o.pid, view_name(&o, b, sizeof(b)));
			nsroot_close(ns);
			return err;
		}
	}
	if (ns->fd >= 0)
		return 0;
	return err == -ESRCH || err == -ENOENT ?
	       rw_why(why, whylen, -ESRCH, "--watch: no process left to resolve it in") : err;
}

int watches_check_view(const struct rw_watches *w, const pid_t *pids, size_t npids, char *why,
		       size_t whylen)
{
	char a[PATH_MAX + 32], b[PATH_MAX + 32];

	for (size_t i = 0; w->n && i < npids; i++) {
		struct rw_nsroot o;
		int err = nsroot_of_pid(pids[i], &o, why, whylen);

		if (err == -ENOENT || err == -ESRCH)
			continue;
		if (err)
			return err;
		nsroot_close(&o);
		if (!nsroot_same(&w->ns, &o))
			return rw_why(why, whylen, -EXDEV, "--watch %s was resolved in %s%s, but pid "
				      "%d sees %s: its writes there could not be matched",
				      w->t[0].root, view_name(&w->ns, a, sizeof(a)),
				      w->ns_assumed ? " (rewindd's own: the cgroup was empty)" : "",
				      pids[i], view_name(&o, b, sizeof(b)));
	}
	return 0;
}

int watches_init(struct rw_watches *w, const char (*dirs)[4096], size_t n, uid_t uid,
		 const pid_t *pids, size_t npids, const char *state_dir, uint32_t session,
		 char *why, size_t whylen)
{
	char state[PATH_MAX], view[PATH_MAX + 32];
	struct stat sst;
	int err, statefd = -1;
	pid_t self = getpid();

	memset(w, 0, sizeof(*w));
	w->ns.fd = -1;
	if (!n)
		return 0;
	err = private_dir(state_dir, why, whylen);
	if (err)
		return err;
	if (!realpath(state_dir, state))
		return rw_why(why, whylen, -errno, "state directory %s", state_dir);
	statefd = open(state, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (statefd < 0 || fstat(statefd, &sst)) {
		err = rw_why(why, whylen, -errno, "state directory %s", state);
		goto fail;
	}
	w->ns_assumed = !npids;
	err = common_view(&w->ns, npids ? pids : &self, npids ? npids : 1, why, whylen);
	if (err)
		goto fail;
	w->t = calloc(n, sizeof(*w->t));
	if (!w->t) {
		err = rw_why(why, whylen, -ENOMEM, "watched trees");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_watch_tree *t = &w->t[i];
		struct stat st;

		/* Symlinks are followed as the target would, scoped to its root. */
		t->fd = nsroot_open(&w->ns, dirs[i], O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
		if (t->fd < 0) {
			err = rw_why(why, whylen, t->fd, "--watch %s (as pid %d sees it, in %s)",
				     dirs[i], w->ns.pid, view_name(&w->ns, view, sizeof(view)));
			goto fail;
		}
		w->n++;
		if (fstat(t->fd, &st)) {
			err = rw_why(why, whylen, -errno, "--watch %s", dirs[i]);
			goto fail;
		}
		t->dev = st.st_dev;
		t->ino = st.st_ino;
		err = nsroot_fd_path(t->fd, t->root, sizeof(t->root));
		if (err) {
			err = rw_why(why, whylen, err, "--watch %s: naming it", dirs[i]);
			goto fail;
		}
		if (uid != 0 && st.st_uid != uid) {
			err = rw_why(why, whylen, -EPERM, "--watch %s: only root may watch a directory "
				     "it does not own (rewindd restores it as root)", dirs[i]);
			goto fail;
		}
		if ((err = nsroot_fd_within(t->fd, sst.st_dev, sst.st_ino)) ||
		    (err = nsroot_fd_within(statefd, t->dev, t->ino))) {
			err = rw_why(why, whylen, err < 0 ? err : -EINVAL, "--watch %s: the state "
				     "directory %s would be inside the tree it restores, or the tree "
				     "inside it", dirs[i], state);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if ((err = nsroot_fd_within(t->fd, w->t[k].dev, w->t[k].ino)) ||
			    (err = nsroot_fd_within(w->t[k].fd, t->dev, t->ino))) {
				err = rw_why(why, whylen, err < 0 ? err : -EINVAL,
					     "--watch %s overlaps --watch %s", t->root, w->t[k].root);
				goto fail;
			}
	}
	if (snprintf(w->store, sizeof(w->store), "%.4000s/session-%u", state, session) >=
	    (int)sizeof(w->store)) {
		err = rw_why(why, whylen, -ENAMETOOLONG, "state directory %s", state);
		goto fail;
	}
	close(statefd);
	return 0;
fail:
	if (statefd >= 0)
		close(statefd);
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].fd >= 0)
			close(w->t[i].fd);
	free(w->t);
	nsroot_close(&w->ns);
	memset(w, 0, sizeof(*w));
	w->ns.fd = -1;
	return err;
}

static void free_mapped(struct rw_watches *w)
{
	for (size_t i = 0; i < w->nmapped; i++)
		free(w->mapped[i]);
	free(w->mapped);
	w->mapped = NULL;
	w->nmapped = 0;
}

void watches_drop_checkpoint(struct rw_watches *w)
{
	for (size_t i = 0; i < w->n; i++) {
		char store[PATH_MAX + 32], manifest[PATH_MAX + 64];

		watches_tree_store(w, i, store, sizeof(store), manifest, sizeof(manifest));
		unlink(manifest);
		fsimage_free(w->t[i].img);
		w->t[i].img = NULL;
	}
}

void watches_fini(struct rw_watches *w)
{
	watches_drop_checkpoint(w);
	for (size_t i = 0; i < w->n; i++)
		close(w->t[i].fd);
	if (w->t)	/* a session without trees never opened one */
		nsroot_close(&w->ns);
	if (w->n)
		rmdir(w->store);	/* its trees' stores are gone with their images */
	free(w->t);
	free_mapped(w);
	memset(w, 0, sizeof(*w));
	w->ns.fd = -1;
}

bool watches_cover(const struct rw_watches *w, const char *path)
{
	for (size_t i = 0; i < w->n; i++)
		if (under(w->t[i].root, path))
			return true;
	return false;
}

void watches_tree_store(const struct rw_watches *w, size_t tree, char *store, size_t slen,
			char *manifest, size_t mlen)
{
	snprintf(store, slen, "%s/tree-%zu", w->store, tree);
	if (manifest)
		snprintf(manifest, mlen, "%s/tree-%zu.manifest", w->store, tree);
}

int watches_checkpoint(struct rw_watches *w, char *const *mapped, size_t nmapped,
		       struct rw_fs_stats *st, char *why, size_t whylen)
{
	int err;

	if (!w->n)
		return 0;
	err = private_dir(w->store, why, whylen);
	if (err)
		return err;
	free_mapped(w);
	for (size_t i = 0; i < nmapped; i++) {
		char **more;

		if (!watches_cover(w, mapped[i]))
			continue;
		more = realloc(w->mapped, (w->nmapped + 1) * sizeof(*more));
		if (!more || !(more[w->nmapped] = strdup(mapped[i]))) {
			if (more)
				w->mapped = more;
			return rw_why(why, whylen, -ENOMEM, "checkpointing watched trees");
		}
		w->mapped = more;
		w->nmapped++;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct rw_watch_tree *t = &w->t[i];
		struct rw_fs_stats one = { 0 };
		char store[PATH_MAX + 32], manifest[PATH_MAX + 64];

		watches_tree_store(w, i, store, sizeof(store), manifest, sizeof(manifest));
		/* First: a crash while the store is refilled must not pair it with the old manifest. */
		if (unlink(manifest) && errno != ENOENT)
			return rw_why(why, whylen, -errno, "removing %s", manifest);
		fsimage_free(t->img);
		t->img = NULL;
		err = fsimage_capture_at(t->fd, t->root, store, &t->img, &one, why, whylen);
		/* On disk, so that a rewindd started after a crash can finish a rollback. */
		if (!err)
			err = fsimage_save(t->img, manifest, why, whylen);
		if (err)
			return err;
		t->untrusted = false;
		t->untrusted_why[0] = '\0';
		if (st) {
			st->entries += one.entries;
			st->bytes_cloned += one.bytes_cloned;
			st->bytes_copied += one.bytes_copied;
			st->ns += one.ns;
		}
	}
	return 0;
}

void watches_distrust(struct rw_watches *w, size_t tree, const char *fmt, ...)
{
	struct rw_watch_tree *t;
	va_list ap;

	if (tree >= w->n || w->t[tree].untrusted)
		return;
	t = &w->t[tree];
	t->untrusted = true;
	va_start(ap, fmt);
	vsnprintf(t->untrusted_why, sizeof(t->untrusted_why), fmt, ap);
	va_end(ap);
}

static void note(struct rw_watch_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct rw_watch_result *res, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (res->nnotes == RW_MAX_WATCH_NOTES)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0)
		res->notes[res->nnotes++] = s;
	va_end(ap);
}

static void add_stats(struct rw_fs_stats *to, const struct rw_fs_stats *from)
{
	to->entries += from->entries;
	to->files_restored += from->files_restored;
	to->entries_removed += from->entries_removed;
	to->entries_recreated += from->entries_recreated;
	to->metadata_restored += from->metadata_restored;
	to->bytes_cloned += from->bytes_cloned;
	to->bytes_copied += from->bytes_copied;
	to->ns += from->ns;
}

/* "." or ".." components: the log kept a relative name as the task wrote it. */
static bool vague(const char *path)
{
	return strstr(path, "/./") || strstr(path, "/../") || !strcmp(path + strlen(path) -
		(strlen(path) >= 2 ? 2 : 0), "/.") || !strcmp(path + strlen(path) -
		(strlen(path) >= 3 ? 3 : 0), "/..");
}

/*
 * Every path of the invocation's file records inside root: both ends of
 * renames and links. -EDOM: one of them cannot be taken literally.
 */
static int touched_in(const struct rw_watches *w, const char *root,
		      const struct rw_invocation *inv, const char ***out, size_t *n)
{
	size_t cap = inv->nfiles * 3 + w->nmapped + 1;
	const char **v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	*n = 0;
	for (size_t i = 0; i < inv->nfiles; i++) {
		const struct rw_file_touch *f = &inv->files[i];
		const char *p[] = { f->path, f->renamed_to, f->renamed_from };

		/* A rename across the tree's edge: what left or arrived is only half in the log. */
		if ((f->renamed_to && under(root, f->path) != under(root, f->renamed_to)) ||
		    (f->renamed_from && under(root, f->path) != under(root, f->renamed_from))) {
			free(v);
			return -EXDEV;
		}
		for (size_t k = 0; k < 3; k++) {
			if (p[k] && vague(p[k])) {
				free(v);
				return -EDOM;
			}
			if (p[k] && under(root, p[k]))
				v[(*n)++] = p[k];
		}
	}
	for (size_t i = 0; i < w->nmapped; i++)
		if (under(root, w->mapped[i]))
			v[(*n)++] = w->mapped[i];
	*out = v;
	return 0;
}

/*
 * A file record of a writer in another mount namespace (or of two writers
 * in different ones on one path): its path is in a view whose names need
 * not mean the tree's entries, so it cannot be matched by path. Returns
 * the record, or NULL when every writer saw the trees' namespace.
 */
static const struct rw_file_touch *foreign_touch(const struct rw_watches *w,
						 const struct rw_invocation *inv)
{
	for (size_t i = 0; i < inv->nfiles; i++)
		if (inv->files[i].mnt_ns != w->ns.mnt_ns)
			return &inv->files[i];
	return NULL;
}

/* The tree's name still reaches the held directory, as the target sees it. */
static int check_root(const struct rw_watches *w, const struct rw_watch_tree *t, char *why,
		      size_t whylen)
{
	int fd = nsroot_open(&w->ns, t->root, O_PATH | O_DIRECTORY | O_NOFOLLOW,
			     RESOLVE_NO_SYMLINKS);
	struct stat st;
	int err = 0;

	if (fd < 0 || fstat(fd, &st))
		err = fd < 0 ? fd : -errno;
	else if ((uint64_t)st.st_dev != t->dev || (uint64_t)st.st_ino != t->ino)
		err = -ESTALE;
	if (fd >= 0)
		close(fd);
	return err ? rw_why(why, whylen, -ESTALE, "%s is no longer the captured directory in "
			    "the target's view (%s)", t->root, strerror(-err)) : 0;
}

bool watches_checkpointed(const struct rw_watches *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].img)
			return true;
	return false;
}

/* Restore img whole and verify it: -EIO with the first difference left, named after root. */
static int restore_verified(struct rw_fsimage *img, const char *root, struct rw_fs_stats *st,
			    char *why, size_t whylen)
{
	struct rw_fs_diffs d = { 0 };
	int err = fsimage_restore_all(img, st, why, whylen);

	if (!err)
		err = fsimage_verify(img, &d, why, whylen);
	if (!err && d.count)
		err = rw_why(why, whylen, -EIO, "%s: %llu difference(s) left after restoring it, "
			     "the first: %s", root, (unsigned long long)d.count,
			     d.nlisted ? d.listed[0] : "?");
	fsimage_diffs_free(&d);
	return err;
}

int watches_restore_whole(struct rw_watches *w, char *why, size_t whylen)
{
	int err = 0;

	/* Through the held directory: the view may have gone with the processes. */
	for (size_t i = 0; i < w->n && !err; i++)
		if (w->t[i].img)
			err = restore_verified(w->t[i].img, w->t[i].root, NULL, why, whylen);
	return err;
}

int watches_rewind(struct rw_watches *w, const struct rw_invocation *inv, bool log_incomplete,
		   struct rw_watch_result *res, char *why, size_t whylen)
{
	const struct rw_file_touch *foreign = foreign_touch(w, inv);
	int err = 0;

	for (size_t i = 0; i < w->n && !err; i++) {
		struct rw_watch_tree *t = &w->t[i];
		struct rw_fs_stats one = { 0 };
		const char **paths = NULL;
		size_t n = 0;

		if (!t->img)
			continue;
		err = check_root(w, t, why, whylen);
		if (err)
			break;
		if (foreign && !(log_incomplete || t->untrusted || t->blind ||
				 inv->file_paths_truncated)) {
			note(res, "%s: compared whole against the checkpoint: %s was written from "
			     "%s (its tree is in mnt:[%u]); that path names the writer's view, "
			     "not necessarily this tree", t->root, foreign->path,
			     foreign->mnt_ns ? "another mount namespace" :
			     "two mount namespaces, or an unknown one", w->ns.mnt_ns);
			res->full++;
			err = fsimage_restore_all(t->img, &one, why, whylen);
		} else if (log_incomplete || t->untrusted || t->blind || inv->file_paths_truncated) {
			note(res, "%s: compared whole against the checkpoint: %s", t->root,
			     t->untrusted ? t->untrusted_why : t->blind ? t->blind_why :
			     log_incomplete ? "events were lost" : "a path in the log was truncated");
			res->full++;
			err = fsimage_restore_all(t->img, &one, why, whylen);
		} else if ((err = touched_in(w, t->root, inv, &paths, &n)) == -EDOM ||
			   err == -EXDEV) {
			note(res, "%s: compared whole against the checkpoint: %s", t->root,
			     err == -EXDEV ? "an entry was renamed into or out of it" :
			     "the log names a path with \".\" or \"..\"");
			res->full++;
			err = fsimage_restore_all(t->img, &one, why, whylen);
		} else {
			if (err)
				err = rw_why(why, whylen, err, "%s: listing touched entries", t->root);
			else if (n)
				err = fsimage_restore_paths(t->img, paths, n, &one, why, whylen);
			res->touched += n;
			free(paths);
		}
		add_stats(&res->fs, &one);
		if (!err) {
			t->untrusted = false;
			t->untrusted_why[0] = '\0';
		}
	}
	return err;
}

void watch_result_free(struct rw_watch_result *res)
{
	for (size_t i = 0; i < res->nnotes; i++)
		free(res->notes[i]);
	memset(res, 0, sizeof(*res));
}

int watches_verify(const struct rw_watches *w, struct rw_fs_diffs *diffs, char *why,
		   size_t whylen)
{
	for (size_t i = 0; i < w->n; i++) {
		struct rw_fs_diffs one = { 0 };
		int err;

		if (!w->t[i].img)
			continue;
		err = check_root(w, &w->t[i], why, whylen);
		if (err)
			return err;
		err = fsimage_verify(w->t[i].img, &one, why, whylen);
		if (err)
			return err;
		diffs->count += one.count;
		for (size_t k = 0; k < one.nlisted; k++) {
			if (diffs->nlisted < sizeof(diffs->listed) / sizeof(diffs->listed[0])) {
				diffs->listed[diffs->nlisted++] = one.listed[k];
				one.listed[k] = NULL;
			}
		}
		fsimage_diffs_free(&one);
	}
	return 0;
}

uint64_t watches_store_bytes(const struct rw_watches *w)
{
	uint64_t b = 0;

	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].img)
			b += fsimage_store_bytes(w->t[i].img);
	return b;
}

json_object *watch_result_json(const struct rw_watch_result *res)
{
	json_object *o = json_object_new_object(), *notes = json_object_new_array();

	json_object_object_add(o, "touched", json_object_new_int64(res->touched));
	json_object_object_add(o, "entries_examined", json_object_new_int64(res->fs.entries));
	json_object_object_add(o, "files_restored", json_object_new_int64(res->fs.files_restored));
	json_object_object_add(o, "entries_removed", json_object_new_int64(res->fs.entries_removed));
	json_object_object_add(o, "entries_recreated",
			       json_object_new_int64(res->fs.entries_recreated));
	json_object_object_add(o, "metadata_restored",
			       json_object_new_int64(res->fs.metadata_restored));
	json_object_object_add(o, "bytes_cloned", json_object_new_int64(res->fs.bytes_cloned));
	json_object_object_add(o, "bytes_copied", json_object_new_int64(res->fs.bytes_copied));
	json_object_object_add(o, "full_comparisons", json_object_new_int64(res->full));
	for (size_t i = 0; i < res->nnotes; i++)
		json_object_array_add(notes, json_object_new_string(res->notes[i]));
	json_object_object_add(o, "notes", notes);
	return o;
}

int watches_open_saved(const struct rw_nsroot *view, const char *root)
{
	/* The root's name is canonical: no symlink is followed to reach it. */
	return nsroot_open(view, root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
}

int watches_restore_saved(int treefd, const char *manifest, const char *store,
			  struct rw_fs_stats *st, char *why, size_t whylen)
{
	struct rw_fsimage *img = NULL;
	int err = fsimage_load(manifest, treefd, store, &img, why, whylen);

	if (!err)
		err = restore_verified(img, fsimage_root(img), st, why, whylen);
	fsimage_free(img);
	return err;
}
