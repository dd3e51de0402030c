// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "rewindd: "

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "log.h"
#include "pidfd.h"
#include "proc.h"
#include "protocol.h"
#include "recovery.h"
#include "session_state.h"

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

/* Send sig to the process (through pidfd, which pins it) and to its descendants. */
static void signal_tree(int pidfd, pid_t pid, int sig)
{
	pid_t *tree = NULL;
	size_t n = 0;

	/* The deepest first: a parent killed first would hand its children to another reaper. */
	if (!proc_list_descendants(pid, &tree, &n))
		for (size_t i = n; i-- > 0;)
			kill(tree[i], sig);
	sys_pidfd_send_signal(pidfd, sig, NULL, 0);
	free(tree);
}

/* One recorded process of a dead rewindd's session: the policy applied, said. */
static void recover_process(struct rw_sessions *S, const char *dead, uint32_t id, bool rewind_mode,
			    const char *state, bool stop, pid_t pid, uint64_t start)
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
		signal_tree(pidfd, pid, stop ? SIGSTOP : SIGKILL);
		what = stop ? "its checkpoint died with that rewindd: stopped, with its descendants "
			      "(--on-failure stop)" :
			      "its checkpoint died with that rewindd: killed, with its descendants";
	}
	note(S, "recovered from %s: session %u, pid %d %s", dead, id, pid, what);
	close(pidfd);
}

static void recover_record(struct rw_sessions *S, const char *dead, const char *path)
{
	json_object *o = NULL, *v, *targets;
	const char *state, *mode;
	char *text = NULL;
	uint32_t id;
	bool stop;

	if (read_whole_file(AT_FDCWD, path, RECORD_MAX, &text, NULL) ||
	    !(o = json_tokener_parse(text)) ||
	    !json_object_object_get_ex(o, "session", &v) || !(id = json_object_get_int(v)) ||
	    !json_object_object_get_ex(o, "state", &v) || !(state = json_object_get_string(v)) ||
	    !json_object_object_get_ex(o, "mode", &v) || !(mode = json_object_get_string(v)) ||
	    !json_object_object_get_ex(o, "on_failure", &v) ||
	    !json_object_object_get_ex(o, "targets", &targets) ||
	    !json_object_is_type(targets, json_type_array)) {
		note(S, "recovered from %s: %s is unreadable or malformed: its processes, if any, "
		     "are left as they are", dead, path);
		goto out;
	}
	stop = !strcmp(json_object_get_string(v), protocol_on_failure_name(RW_ON_FAILURE_STOP));
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i), *p, *st;

		if (json_object_object_get_ex(t, "pid", &p) && json_object_object_get_ex(t, "start", &st))
			recover_process(S, dead, id, !strcmp(mode, "rewind"), state, stop,
					json_object_get_int(p), json_object_get_uint64(st));
	}
out:
	json_object_put(o);
	free(text);
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
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	d = same_boot ? opendir(path) : NULL;
	while (d && (de = readdir(d))) {
		char rec[PATH_MAX];
		uint32_t id;
		char tail;

		if (sscanf(de->d_name, "session-%u.jso%c", &id, &tail) != 2 || tail != 'n')
			continue;
		if (snprintf(rec, sizeof(rec), "%s/%s", path, de->d_name) < (int)sizeof(rec))
			recover_record(S, name, rec);
	}
	if (d)
		closedir(d);
	if (remove_tree(path, false))
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
	return o;
}

void recovery_record(struct rw_sessions *S, const struct rw_session *s, const char *state)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_object *o;

	if (!S->instance[0])
		return;
	snprintf(path, sizeof(path), "%s/session-%u.json", S->instance_dir, s->id);
	snprintf(tmp, sizeof(tmp), "%s/.session-%u.json.new", S->instance_dir, s->id);
	o = record_json(s, state);
	/* Renamed into place: a crash leaves the old record or the new one, never half of one. */
	if (!o || json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) || rename(tmp, path))
		pr_warn("session %u: cannot write its record %s (%s): a rewindd restarted after a "
			"crash will not know its processes\n", s->id, path, strerror(errno));
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
