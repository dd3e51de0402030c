// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "rewindd: "

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "nsroot.h"
#include "log.h"
#include "pidfd.h"
#include "proc.h"
#include "protocol.h"
#include "recovery.h"
#include "session_state.h"
#include "signalled.h"
#include "watched_trees.h"

#define BOOT_ID_LEN	8	/* of /proc/sys/kernel/random/boot_id: enough to tell boots apart */
#define RECORD_MAX	(1 << 20)

static void boot_id(char out[BOOT_ID_LEN + 1])
{
	char *text = NULL;

	snprintf(out, BOOT_ID_LEN + 1, "00000000");
	if (!read_whole_file(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &text, NULL) &&
	    strlen(text) >= BOOT_ID_LEN)
		snprintf(out, BOOT_ID_LEN + 1, "%.*s", BOOT_ID_LEN, text);
	free(text);
}

/* This rewindd's name and directory: rewindd-BOOT-PID-START below the state directory. */
static void name_instance(struct rw_sessions *S)
{
	char boot[BOOT_ID_LEN + 1];
	uint64_t start = 0;

	boot_id(boot);
	proc_start_time(getpid(), &start);
	snprintf(S->instance, sizeof(S->instance), "rewindd-%s-%d-%" PRIu64, boot, getpid(), start);
	snprintf(S->instance_dir, sizeof(S->instance_dir), "%s/%s", S->state_dir, S->instance);
}

static void note(struct rw_sessions *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct rw_sessions *S, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pr_info("%s\n", line);
	if (!S->recovered)
		S->recovered = json_object_new_array();
	if (S->recovered)
		json_object_array_add(S->recovered, json_object_new_string(line));
}

/*
 * pid names the process the listing saw: one started since is another that
 * took its number (one reparented since the listing is still ours).
 */
static bool started_by(pid_t pid, uint64_t listed_at)
{
	uint64_t start;

	return !proc_start_time(pid, &start) && start <= listed_at;
}

/* Send sig to the process (through pidfd, which pins it) and to its descendants; hold them. */
static void signal_tree(struct rw_signalled *h, int pidfd, pid_t pid, int sig)
{
	uint64_t listed_at = proc_boot_ticks();
	pid_t *tree = NULL;
	size_t n = 0;

	/* The deepest first: a parent killed first would hand its children to another reaper. */
	if (!proc_list_descendants(pid, &tree, &n))
		for (size_t i = n; i-- > 0;) {
			int fd = sys_pidfd_open(tree[i], 0);

			/* Opened, then checked: the pid may name another process since the listing. */
			if (fd >= 0 && started_by(tree[i], listed_at) &&
			    signalled_send(h, fd, sig))
				sys_pidfd_send_signal(fd, sig, NULL, 0);	/* not held: no memory */
			if (fd >= 0)
				close(fd);
		}
	if (signalled_send(h, pidfd, sig))
		sys_pidfd_send_signal(pidfd, sig, NULL, 0);
	free(tree);
}

/* How long recovery waits for the processes it signalled before it restores their trees. */
#define RECOVERY_WAIT_MS	5000

/* One recorded process of a dead rewindd's session: the policy applied, said. */
static void recover_process(struct rw_sessions *S, const char *dead, uint32_t id, bool rewind_mode,
			    const char *state, bool stop, pid_t pid, uint64_t start,
			    struct rw_signalled *h)
{
	const char *what;
	uint64_t now;
	int pidfd = sys_pidfd_open(pid, 0);

	if (pidfd < 0)
		return;		/* gone: nothing left of it */
	/* Opened first, checked after: the pidfd holds the process the start time names. */
	if (proc_start_time(pid, &now) || now != start) {
		close(pidfd);
		return;		/* the pid is another process's now */
	}
	if (!rewind_mode) {
		what = "was audited (report mode): left running, no longer audited";
	} else if (!strcmp(state, RW_RECORD_ATTACHED)) {
		what = "had no checkpoint yet: left running";
	} else if (!strcmp(state, RW_RECORD_FAILED) && stop) {
		what = "was left stopped by a failed rewind: left stopped";
	} else {
		/* Checkpointed: the checkpoint died with the daemon, nothing can rewind it. */
		signal_tree(h, pidfd, pid, stop ? SIGSTOP : SIGKILL);
		what = stop ? "its checkpoint died with that rewindd: stopped, with its descendants "
			      "(--on-failure stop)" :
			      "its checkpoint died with that rewindd: killed, with its descendants";
	}
	note(S, "recovered from %s: session %u, pid %d %s", dead, id, pid, what);
	close(pidfd);
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

static uint64_t u64_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* fd is the recorded tree's directory (a record without its identity: taken as it). */
static bool is_tree(json_object *t, int fd)
{
	struct stat st;

	if (!json_object_object_get_ex(t, "ino", NULL))
		return true;
	return !fstat(fd, &st) && (uint64_t)st.st_dev == u64_of(t, "dev") &&
	       (uint64_t)st.st_ino == u64_of(t, "ino");
}

/*
 * A tree whose view no process has any more, through another mount of its
 * filesystem (a host directory bind-mounted into a dead container's
 * namespace). -ESRCH: a tmpfs (or ramfs) that no namespace mounts any more,
 * gone with its content; -ENXIO: not found, though its filesystem may hold
 * it still (an overlay's upper directory, a disk mounted later).
 */
static int open_tree_elsewhere(json_object *t)
{
	union {
		struct file_handle h;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} fh;
	const char *hex = str_of(t, "handle");
	json_object *type;
	uint64_t fs = u64_of(t, "fs_type");
	size_t len = hex ? strlen(hex) : 0;
	int fd = -ENXIO;

	if (hex && len % 2 == 0 && len / 2 <= MAX_HANDLE_SZ &&
	    json_object_object_get_ex(t, "handle_type", &type)) {
		fh.h.handle_bytes = len / 2;
		fh.h.handle_type = json_object_get_int(type);
		for (size_t i = 0; i < len / 2; i++) {
			unsigned byte;

			if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
				return -ENXIO;
			fh.h.f_handle[i] = byte;
		}
		fd = nsroot_find_by_handle(u64_of(t, "dev"), u64_of(t, "ino"), &fh.h);
	}
	if (fd >= 0)
		return fd;
	return fs == TMPFS_MAGIC || fs == RAMFS_MAGIC ? -ESRCH : -ENXIO;
}

/*
 * The watched trees of a rewind session, opened while a process still has
 * their view: their own processes are about to be killed, and a tree on a
 * mount of their namespace stays reachable through the fd only. When no
 * process has the view any more, through another mount of the tree's
 * filesystem (open_tree_elsewhere). fds[i]: the tree's fd, or -errno as
 * open_tree_elsewhere says, or another. 0, or -ENOMEM.
 */
static int open_trees(json_object *rec, int **fds, size_t *n)
{
	struct rw_nsroot view = { .fd = -1 };
	json_object *trees, *v;
	int err;

	*fds = NULL;
	*n = 0;
	if (!json_object_object_get_ex(rec, "trees", &trees) ||
	    !json_object_is_type(trees, json_type_array) || !json_object_array_length(trees))
		return 0;
	*fds = calloc(json_object_array_length(trees), sizeof(**fds));
	if (!*fds)
		return -ENOMEM;
	*n = json_object_array_length(trees);
	err = json_object_object_get_ex(rec, "view", &v) ?
	      nsroot_find(u64_of(v, "mnt_ns"), u64_of(v, "mnt_ns_id"), u64_of(v, "dev"),
			  u64_of(v, "ino"), &view) : -EINVAL;
	for (size_t i = 0; i < *n; i++) {
		json_object *t = json_object_array_get_idx(trees, i);
		const char *root = str_of(t, "root");
		int fd;

		if (!root) {
			(*fds)[i] = -EINVAL;
			continue;
		}
		if (err) {
			(*fds)[i] = err == -ESRCH ? open_tree_elsewhere(t) : err;
			continue;
		}
		fd = watches_open_saved(&view, root);
		if (fd == -ESRCH || fd == -ENXIO)
			fd = -ENOENT;	/* those two say what open_tree_elsewhere found */
		if (fd >= 0 && !is_tree(t, fd)) {
			close(fd);
			fd = -ESTALE;	/* replaced since */
		}
		/*
		 * Without the namespace's id (an older kernel) the view may be a
		 * later namespace that got the same inode number: look further,
		 * but what is not found there keeps its error (never "gone").
		 */
		if (fd < 0 && !view.mnt_ns_id) {
			int other = open_tree_elsewhere(t);

			if (other >= 0)
				fd = other;
		}
		(*fds)[i] = fd;
	}
	nsroot_close(&view);
	return 0;
}

/*
 * Roll each recorded tree back to the dead rewindd's checkpoint: the
 * invocation it was serving (or rewinding) may have left files there.
 * Returns false when a tree could not be restored and its checkpoint should
 * be kept for the next start (or the operator).
 */
static bool recover_trees(struct rw_sessions *S, const char *dead, uint32_t id, json_object *rec,
			  const int *fds, size_t n)
{
	json_object *trees;
	bool done = true;

	json_object_object_get_ex(rec, "trees", &trees);
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(trees, i);
		const char *root = str_of(t, "root"), *manifest = str_of(t, "manifest");
		const char *store = str_of(t, "store");
		struct rw_fs_stats st = { 0 };
		char why[512], restored[PATH_MAX + 16];
		int err;

		if (!root || !manifest || !store) {
			note(S, "recovered from %s: session %u: tree %zu is malformed in its record: "
			     "not restored", dead, id, i);
			done = false;
		} else if (fds[i] == -ESRCH) {
			note(S, "recovered from %s: session %u: tree %s: no process is left in its "
			     "mount namespace and it was a tmpfs no namespace mounts any more: gone "
			     "with its content, nothing to restore", dead, id, root);
		} else if (fds[i] == -ENXIO) {
			note(S, "recovered from %s: session %u: tree %s: no process is left in its "
			     "mount namespace and no mount of its filesystem shows it: not restored",
			     dead, id, root);
			done = false;
		} else if (fds[i] < 0) {
			note(S, "recovered from %s: session %u: tree %s cannot be opened (%s): not "
			     "restored", dead, id, root, strerror(-fds[i]));
			done = false;
		} else if (snprintf(restored, sizeof(restored), "%s.restored", manifest),
			   !access(restored, F_OK)) {
			note(S, "recovered from %s: session %u: tree %s was restored at an earlier "
			     "start", dead, id, root);
		} else if (access(manifest, F_OK) && errno == ENOENT) {
			note(S, "recovered from %s: session %u: tree %s was being checkpointed again "
			     "when that rewindd died: left as it is", dead, id, root);
		} else if ((err = watches_restore_saved(fds[i], manifest, store, &st, why,
							sizeof(why)))) {
			note(S, "recovered from %s: session %u: tree %s could not be restored to its "
			     "checkpoint: %s", dead, id, root, why);
			done = false;
		} else {
			/*
			 * Marked, so that a later start that retries the rest of the
			 * session does not roll it back again under its new user.
			 */
			if (rename(manifest, restored))
				pr_warn("%s: marking it restored: %s\n", manifest, strerror(errno));
			note(S, "recovered from %s: session %u: tree %s restored to its checkpoint "
			     "and verified (%" PRIu64 " files refilled, %" PRIu64 " entries removed, "
			     "%" PRIu64 " recreated, %" PRIu64 " with metadata restored)", dead, id,
			     root, st.files_restored, st.entries_removed, st.entries_recreated,
			     st.metadata_restored);
		}
	}
	return done;
}

/* false: something of the record must be kept (a tree not restored). */
static bool recover_record(struct rw_sessions *S, const char *dead, const char *path)
{
	json_object *o = NULL, *v, *targets;
	struct rw_signalled held = { 0 };
	const char *state, *mode;
	bool stop, rewound, done = true;
	char *text = NULL;
	int *trees = NULL;
	size_t ntrees = 0, late;
	uint32_t id;

	if (read_whole_file(AT_FDCWD, path, RECORD_MAX, &text, NULL) ||
	    !(o = json_tokener_parse(text)) ||
	    !json_object_object_get_ex(o, "session", &v) || !(id = json_object_get_int(v)) ||
	    !(state = str_of(o, "state")) || !(mode = str_of(o, "mode")) ||
	    !json_object_object_get_ex(o, "on_failure", &v) ||
	    !json_object_object_get_ex(o, "targets", &targets) ||
	    !json_object_is_type(targets, json_type_array)) {
		note(S, "recovered from %s: %s is unreadable or malformed: its processes, if any, "
		     "are left as they are", dead, path);
		goto out;
	}
	stop = !strcmp(json_object_get_string(v), protocol_on_failure_name(RW_ON_FAILURE_STOP));
	/* Trees are rolled back after a checkpoint only, and never for report mode. */
	rewound = !strcmp(mode, "rewind") && strcmp(state, RW_RECORD_ATTACHED);
	if (rewound && open_trees(o, &trees, &ntrees)) {
		note(S, "recovered from %s: session %u: out of memory opening its watched trees: "
		     "not restored", dead, id);
		done = false;
	}
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i), *p, *st;

		if (json_object_object_get_ex(t, "pid", &p) && json_object_object_get_ex(t, "start", &st))
			recover_process(S, dead, id, !strcmp(mode, "rewind"), state, stop,
					json_object_get_int(p), json_object_get_uint64(st), &held);
	}
	late = held.n ? signalled_wait(&held, RECOVERY_WAIT_MS) : 0;
	if (late) {
		/* One may still write: a rollback now could be undone behind it. */
		note(S, "recovered from %s: session %u: %zu process(es) had not %s after %d ms: its "
		     "watched trees are not restored", dead, id, late, stop ? "stopped" : "exited",
		     RECOVERY_WAIT_MS);
		if (ntrees)
			done = false;
	} else if (ntrees) {
		done = recover_trees(S, dead, id, o, trees, ntrees);
	}
	for (size_t i = 0; i < ntrees; i++)
		if (trees[i] >= 0)
			close(trees[i]);
	free(trees);
out:
	json_object_put(o);
	free(text);
	return done;
}

/* Whether the instance named name (rewindd-BOOT-PID-START) is a rewindd running now. */
static bool instance_alive(const char *name, const char *boot, bool *same_boot)
{
	char b[BOOT_ID_LEN + 1];
	int pid;
	uint64_t start, now;

	*same_boot = false;
	if (sscanf(name, "rewindd-%8[0-9a-f]-%d-%" SCNu64, b, &pid, &start) != 3)
		return true;	/* not one of ours: never touched */
	*same_boot = !strcmp(b, boot);
	return *same_boot && !proc_start_time(pid, &now) && now == start;
}

static void recover_instance(struct rw_sessions *S, const char *dir, const char *name,
			     bool same_boot)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool keep = false;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	d = same_boot ? opendir(path) : NULL;
	while (d && (de = readdir(d))) {
		char rec[PATH_MAX];
		uint32_t id;
		int end = 0;

		/* Exactly session-N.json: not a record being written (".new"). */
		if (sscanf(de->d_name, "session-%u.json%n", &id, &end) != 1 || !end ||
		    de->d_name[end])
			continue;
		if (snprintf(rec, sizeof(rec), "%s/%s", path, de->d_name) < (int)sizeof(rec))
			keep |= !recover_record(S, name, rec);
	}
	if (d)
		closedir(d);
	if (keep)
		note(S, "recovered from %s: its directory %s is kept, with the checkpoints of the "
		     "trees not restored; the next start tries again", name, path);
	else if (remove_tree(path, false))
		note(S, "recovered from %s: its directory %s could not be removed whole", name, path);
	else
		note(S, "recovered from %s (%s): its state directory removed", name,
		     same_boot ? "it is gone" : "an earlier boot");
}

void recovery_start(struct rw_sessions *S)
{
	char boot[BOOT_ID_LEN + 1];
	struct dirent *de;
	DIR *d;
	int err;

	name_instance(S);
	err = make_private_dir(S->state_dir);
	if (!err)
		err = make_private_dir(S->instance_dir);
	if (err) {
		pr_warn("state directory %s: %s: sessions that watch trees will be refused, and "
			"a restarted rewindd cannot recover after this one\n", S->state_dir,
			strerror(-err));
		return;
	}
	boot_id(boot);
	d = opendir(S->state_dir);
	while (d && (de = readdir(d))) {
		bool same_boot;

		if (strncmp(de->d_name, "rewindd-", 8) || !strcmp(de->d_name, S->instance) ||
		    instance_alive(de->d_name, boot, &same_boot))
			continue;
		recover_instance(S, S->state_dir, de->d_name, same_boot);
	}
	if (d)
		closedir(d);
}

/*
 * How to find a tree whose view is gone: its directory's identity, its
 * file handle (to be opened through another mount of its filesystem) and
 * its filesystem's type (a tmpfs mounted nowhere is gone with its content).
 */
static void record_tree_identity(json_object *t, const struct rw_watch_tree *tree)
{
	union {
		struct file_handle h;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} fh = { .h.handle_bytes = MAX_HANDLE_SZ };
	char hex[2 * MAX_HANDLE_SZ + 1];
	struct statfs sf;
	int mnt_id;

	json_object_object_add(t, "dev", json_object_new_uint64(tree->dev));
	json_object_object_add(t, "ino", json_object_new_uint64(tree->ino));
	if (!fstatfs(tree->fd, &sf))
		json_object_object_add(t, "fs_type", json_object_new_uint64(sf.f_type));
	if (name_to_handle_at(tree->fd, "", &fh.h, &mnt_id, AT_EMPTY_PATH))
		return;		/* a filesystem without handles: found through its view only */
	for (unsigned i = 0; i < fh.h.handle_bytes; i++)
		snprintf(hex + 2 * i, 3, "%02x", fh.h.f_handle[i]);
	json_object_object_add(t, "handle_type", json_object_new_int(fh.h.handle_type));
	json_object_object_add(t, "handle", json_object_new_string(hex));
}

/* The checkpointed trees: their view and, per tree, its name there, manifest and store. */
static void record_trees(json_object *o, const struct rw_watches *w)
{
	json_object *view, *arr = NULL;

	for (size_t i = 0; i < w->n; i++) {
		char store[PATH_MAX + 32], manifest[PATH_MAX + 64];
		json_object *t;

		if (!w->t[i].img)
			continue;
		if (!arr)
			arr = json_object_new_array();
		watches_tree_store(w, i, store, sizeof(store), manifest, sizeof(manifest));
		t = json_object_new_object();
		json_object_object_add(t, "root", json_object_new_string(w->t[i].root));
		json_object_object_add(t, "manifest", json_object_new_string(manifest));
		json_object_object_add(t, "store", json_object_new_string(store));
		record_tree_identity(t, &w->t[i]);
		json_object_array_add(arr, t);
	}
	if (!arr)
		return;
	view = json_object_new_object();
	json_object_object_add(view, "mnt_ns", json_object_new_uint64(w->ns.mnt_ns));
	json_object_object_add(view, "mnt_ns_id", json_object_new_uint64(w->ns.mnt_ns_id));
	json_object_object_add(view, "dev", json_object_new_uint64(w->ns.dev));
	json_object_object_add(view, "ino", json_object_new_uint64(w->ns.ino));
	json_object_object_add(o, "view", view);
	json_object_object_add(o, "trees", arr);
}

static json_object *record_json(const struct rw_session *s, const char *state)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "session", json_object_new_int(s->id));
	json_object_object_add(o, "owner", json_object_new_int64(s->owner));
	json_object_object_add(o, "mode", json_object_new_string(s->rewind_mode ? "rewind" : "report"));
	json_object_object_add(o, "on_failure",
			       json_object_new_string(protocol_on_failure_name(s->on_failure)));
	json_object_object_add(o, "state", json_object_new_string(state));
	if (s->cgid)
		json_object_object_add(o, "cgroup", json_object_new_string(s->cgroup));
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct rw_target *t = &s->targets[i];
		json_object *j;
		uint64_t start;

		if (!t->alive || t->excluded || proc_start_time(t->tgid, &start))
			continue;
		j = json_object_new_object();
		json_object_object_add(j, "pid", json_object_new_int(t->tgid));
		json_object_object_add(j, "start", json_object_new_uint64(start));
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "targets", arr);
	record_trees(o, &s->watches);
	return o;
}

void recovery_record(struct rw_sessions *S, const struct rw_session *s, const char *state)
{
	char path[PATH_MAX];
	const char *text;
	json_object *o;
	int err;

	if (!S->instance[0])
		return;
	snprintf(path, sizeof(path), "%s/session-%u.json", S->instance_dir, s->id);
	o = record_json(s, state);
	text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	/* A crash leaves the old record or the new one, never half of one. */
	err = text ? write_file_atomically(path, text, strlen(text), 0600) : -ENOMEM;
	if (err)
		pr_warn("session %u: cannot write its record %s (%s): a rewindd restarted after a "
			"crash will not know its processes\n", s->id, path, strerror(-err));
	json_object_put(o);
}

void recovery_forget(struct rw_sessions *S, uint32_t id)
{
	char path[PATH_MAX];

	if (!S->instance[0])
		return;
	snprintf(path, sizeof(path), "%s/session-%u.json", S->instance_dir, id);
	if (unlink(path) && errno != ENOENT)
		pr_warn("session %u: removing %s: %s\n", id, path, strerror(errno));
}

void recovery_stop(struct rw_sessions *S)
{
	if (S->instance[0] && remove_tree(S->instance_dir, false))
		pr_warn("removing %s: not everything could be removed\n", S->instance_dir);
	json_object_put(S->recovered);
	S->recovered = NULL;
}
