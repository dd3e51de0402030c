// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "ident: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "ident.h"
#include "log.h"

const char *const rw_ns_names[RW_NS__COUNT] = {
	[RW_NS_MNT] = "mnt", [RW_NS_PID_FOR_CHILDREN] = "pid_for_children", [RW_NS_NET] = "net",
	[RW_NS_UTS] = "uts", [RW_NS_IPC] = "ipc", [RW_NS_USER] = "user",
	[RW_NS_CGROUP] = "cgroup", [RW_NS_TIME] = "time",
	[RW_NS_TIME_FOR_CHILDREN] = "time_for_children",
};

/* Up to max unsigned numbers in base on [p, end); their count in *n, or -EINVAL. */
static int parse_nums(const char *p, const char *end, int base, uint64_t *v, size_t max, size_t *n)
{
	*n = 0;
	while (p < end) {
		char *e;

		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		if (*n == max)
			return -EINVAL;
		errno = 0;
		v[*n] = strtoull(p, &e, base);
		if (errno || e == p || e > end)
			return -EINVAL;
		(*n)++;
		p = e;
	}
	return 0;
}

enum { SEEN_UID = 1, SEEN_GID = 2, SEEN_GROUPS = 4, SEEN_CAPS = 8 * 31 };

int ident_parse_creds(const char *text, struct rw_creds *out)
{
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	uint64_t *capv[] = { &out->cap_inh, &out->cap_prm, &out->cap_eff, &out->cap_bnd,
			     &out->cap_amb };
	const char *line = text;
	int seen = 0;

	memset(out, 0, sizeof(*out));
	out->groups_hash = 0xcbf29ce484222325ULL;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *colon = memchr(line, ':', end - line);
		size_t klen = colon ? (size_t)(colon - line) : 0;
		uint64_t v[4];
		size_t n;

#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(line, k, klen))
		if (colon && (KEY("Uid") || KEY("Gid"))) {
			uint32_t *dst = KEY("Uid") ? out->uid : out->gid;

			if (parse_nums(colon + 1, end, 10, v, 4, &n) || n != 4)
				return -EINVAL;
			for (int i = 0; i < 4; i++)
				dst[i] = v[i];
			seen |= KEY("Uid") ? SEEN_UID : SEEN_GID;
		} else if (colon && KEY("Groups")) {
			const char *p = colon + 1;

			/* Any number of groups: counted and hashed, not stored. */
			while (p < end) {
				char *e;

				if (*p == ' ' || *p == '\t') {
					p++;
					continue;
				}
				errno = 0;
				v[0] = strtoull(p, &e, 10);
				if (errno || e == p || e > end)
					return -EINVAL;
				for (int b = 0; b < 4; b++) {
					out->groups_hash ^= (v[0] >> (8 * b)) & 0xff;
					out->groups_hash *= 0x100000001b3ULL;
				}
				out->ngroups++;
				p = e;
			}
			seen |= SEEN_GROUPS;
		} else if (colon && (KEY("Seccomp") || KEY("Seccomp_filters") || KEY("NoNewPrivs"))) {
			/* Absent without CONFIG_SECCOMP: then nothing can change them either. */
			if (parse_nums(colon + 1, end, 10, v, 1, &n) || n != 1)
				return -EINVAL;
			*(KEY("Seccomp") ? &out->seccomp_mode : KEY("NoNewPrivs") ? &out->no_new_privs :
			  &out->seccomp_filters) = v[0];
		} else if (colon) {
			for (int i = 0; i < 5; i++) {
				if (klen != strlen(caps[i]) || memcmp(line, caps[i], klen))
					continue;
				if (parse_nums(colon + 1, end, 16, v, 1, &n) || n != 1)
					return -EINVAL;
				*capv[i] = v[0];
				seen |= 8 << i;
			}
		}
#undef KEY
		line = *end ? end + 1 : end;
	}
	return seen == (SEEN_UID | SEEN_GID | SEEN_GROUPS | SEEN_CAPS) ? 0 : -EINVAL;
}

int ident_read(pid_t tgid, pid_t tid, struct rw_ident *out)
{
	char path[96], *text;
	int err;

	memset(out, 0, sizeof(*out));
	out->tid = tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tgid, tid);
	err = read_whole_file(AT_FDCWD, path, 1 << 20, &text, NULL);
	if (err) {
		if (err != -ENOENT)
			pr_err("reading %s: %s\n", path, strerror(-err));
		return err == -ENOENT ? -ESRCH : err;
	}
	err = ident_parse_creds(text, &out->creds);
	free(text);
	if (err) {
		pr_err("parsing the credentials in %s: %s\n", path, strerror(-err));
		return err;
	}
	for (int i = 0; i < RW_NS__COUNT; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/%s", tgid, tid, rw_ns_names[i]);
		if (!stat(path, &st)) {
			out->ns[i] = st.st_ino;
			continue;
		}
		err = -errno;
		if (err == -ENOENT) {
			/* A kind this kernel lacks is absent for every thread alike. */
			snprintf(path, sizeof(path), "/proc/%d/task/%d", tgid, tid);
			if (!stat(path, &st))
				continue;
			return -ESRCH;
		}
		pr_err("stat %s: %s\n", path, strerror(-err));
		return err;
	}
	return 0;
}

int ident_compare_creds(const struct rw_ident *was, const struct rw_ident *now, char *buf, size_t len)
{
	static const char *const idn[4] = { "", "e", "s", "fs" };
	const struct rw_creds *a = &was->creds, *b = &now->creds;

	for (int i = 0; i < 4; i++) {
		if (a->uid[i] != b->uid[i]) {
			snprintf(buf, len, "credentials changed since the checkpoint (%suid %u → %u)",
				 idn[i], a->uid[i], b->uid[i]);
			return 1;
		}
		if (a->gid[i] != b->gid[i]) {
			snprintf(buf, len, "credentials changed since the checkpoint (%sgid %u → %u)",
				 idn[i], a->gid[i], b->gid[i]);
			return 1;
		}
	}
	if (a->ngroups != b->ngroups || a->groups_hash != b->groups_hash) {
		snprintf(buf, len, "credentials changed since the checkpoint (supplementary groups: "
			 "%u → %u, or other members)", a->ngroups, b->ngroups);
		return 1;
	}
#define CAP(f, name)									\
	if (a->f != b->f) {								\
		snprintf(buf, len, "credentials changed since the checkpoint (" name	\
			 " %#llx → %#llx)", (unsigned long long)a->f, (unsigned long long)b->f); \
		return 1;								\
	}
	CAP(cap_inh, "CapInh") CAP(cap_prm, "CapPrm") CAP(cap_eff, "CapEff")
	CAP(cap_bnd, "CapBnd") CAP(cap_amb, "CapAmb")
#undef CAP
	if (a->seccomp_mode != b->seccomp_mode || a->seccomp_filters != b->seccomp_filters) {
		snprintf(buf, len, "seccomp changed since the checkpoint (mode %u → %u, %u → %u "
			 "filter(s))", a->seccomp_mode, b->seccomp_mode,
			 a->seccomp_filters, b->seccomp_filters);
		return 1;
	}
	if (a->no_new_privs != b->no_new_privs) {
		snprintf(buf, len, "no_new_privs set since the checkpoint");
		return 1;
	}
	return 0;
}

int ident_compare(const struct rw_ident *was, const struct rw_ident *now, char *buf, size_t len)
{
	if (ident_compare_creds(was, now, buf, len))
		return 1;
	for (int i = 0; i < RW_NS__COUNT; i++) {
		if (was->ns[i] != now->ns[i]) {
			snprintf(buf, len, "unshared or setns'd its %s namespace since the checkpoint "
				 "(inode %llu → %llu)", rw_ns_names[i], (unsigned long long)was->ns[i],
				 (unsigned long long)now->ns[i]);
			return 1;
		}
	}
	return 0;
}

int ident_ns_setns_type(int kind)
{
	switch (kind) {
	case RW_NS_MNT:			return CLONE_NEWNS;
	case RW_NS_PID_FOR_CHILDREN:	return CLONE_NEWPID;
	case RW_NS_NET:			return CLONE_NEWNET;
	case RW_NS_UTS:			return CLONE_NEWUTS;
	case RW_NS_IPC:			return CLONE_NEWIPC;
	case RW_NS_CGROUP:		return CLONE_NEWCGROUP;
	}
	return 0;
}
