// SPDX-License-Identifier: GPL-2.0-only
/* Per-runtime facts, and where our launchers live. */
#define LOG_PREFIX "rewind-proxy: "

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "runtime.h"

#ifndef PROXY_LAUNCHER_DIR
#define PROXY_LAUNCHER_DIR "/usr/local/lib/rewindd/launchers"
#endif

struct runtime_info {
	const char *name;
	const char *interpreter;
	const char *opts[3];		/* NULL-terminated */
	const char *shared_opts[4];	/* instead, for --shared-images */
	const char *launcher;
	const char *source_file;
};

static const struct runtime_info runtimes[] = {
	/*
	 * -I: no PYTHON* variables, user site or script dir on sys.path (the
	 * launcher adds the function's dir); -B: no .pyc written into the
	 * watched work dir by lazy imports.
	 */
	/*
	 * --shared-images: -I without -E (it would ignore PYTHONHASHSEED): the
	 * proxy passes no other PYTHON* variable (function.c).
	 */
	[RUNTIME_PYTHON] = { "python", "/usr/bin/python3", { "-I", "-B", NULL },
			     { "-P", "-s", "-B", NULL }, "launcher.py", "__main__.py" },
	[RUNTIME_NODE] = { "node", "/usr/bin/node", { NULL }, { NULL }, "launcher.js", "index.js" },
};

int runtime_parse(const char *name, enum proxy_runtime *rt)
{
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		if (!strcmp(name, runtimes[i].name)) {
			*rt = i;
			return 0;
		}
	}
	/* OpenWhisk kinds name them so too. */
	if (!strcmp(name, "python3")) {
		*rt = RUNTIME_PYTHON;
		return 0;
	}
	if (!strcmp(name, "nodejs")) {
		*rt = RUNTIME_NODE;
		return 0;
	}
	return -EINVAL;
}

const char *proxy_runtime_name(enum proxy_runtime r)
{
	return runtimes[r].name;
}

const char *runtime_source_file(enum proxy_runtime rt)
{
	return runtimes[rt].source_file;
}

static bool exists_in(const char *dir, const char *file, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", dir, file);

	return n > 0 && (size_t)n < len && access(out, F_OK) == 0;
}

/* package.json's "main", if it names a file inside dir. */
static bool package_main(const char *dir, char *entry, size_t len)
{
	char path[PATH_MAX];
	json_object *pkg, *m;
	bool found = false;

	if (!exists_in(dir, "package.json", path, sizeof(path)))
		return false;
	pkg = json_object_from_file(path);
	if (pkg && json_object_object_get_ex(pkg, "main", &m) && json_object_is_type(m, json_type_string)) {
		const char *rel = json_object_get_string(m);

		/* The launcher require()s it: it must stay inside the dir. */
		if (*rel != '/' && !strstr(rel, "..")) {
			found = exists_in(dir, rel, entry, len);
			/* "main": "lib/app" means lib/app.js, as require() would. */
			if (!found) {
				char withjs[PATH_MAX];

				snprintf(withjs, sizeof(withjs), "%s.js", rel);
				found = exists_in(dir, withjs, entry, len);
			}
		}
	}
	json_object_put(pkg);
	return found;
}

/* Node's "module.path" main: the module's file in dir (module.js, else module). */
static bool module_file(const char *dir, const char *main_name, char *entry, size_t len)
{
	const char *dot = strchr(main_name, '.');
	char name[PATH_MAX];

	if (!dot)
		return false;
	snprintf(name, sizeof(name), "%.*s.js", (int)(dot - main_name), main_name);
	if (exists_in(dir, name, entry, len))
		return true;
	name[dot - main_name] = '\0';
	return exists_in(dir, name, entry, len);
}

int runtime_zip_entry(enum proxy_runtime rt, const char *dir, const char *main_name, char *entry,
		      size_t len, char *err, size_t errlen)
{
	switch (rt) {
	case RUNTIME_PYTHON:
		if (exists_in(dir, "__main__.py", entry, len) || exists_in(dir, "main.py", entry, len))
			return 0;
		snprintf(err, errlen, "Zip file does not include __main__.py or main.py.");
		return -ENOENT;
	case RUNTIME_NODE:
		/* Node's runtime: a dotted main names its module, before package.json's. */
		if (strchr(main_name, '.')) {
			if (module_file(dir, main_name, entry, len))
				return 0;
			snprintf(err, errlen, "Zipped action has no module for main '%s'.", main_name);
			return -ENOENT;
		}
		if (package_main(dir, entry, len) || exists_in(dir, "index.js", entry, len))
			return 0;
		snprintf(err, errlen, "Zipped actions must contain either package.json or index.js at the root.");
		return -ENOENT;
	}
	return -EINVAL;
}

bool runtime_valid_main(enum proxy_runtime rt, const char *name, bool binary)
{
	/* Node's zips: "module.path.to.fn", each part an identifier. */
	bool dots = rt == RUNTIME_NODE && binary;
	const char *part = name;

	if (strlen(name) > 255)
		return false;
	for (const char *p = name;; p++) {
		if (p == part && (!*p || (*p >= '0' && *p <= '9') || *p == '.'))
			return false;
		if (!*p)
			return true;
		if (*p == '.' && dots) {
			part = p + 1;
			continue;
		}
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || (*p == '$' && rt == RUNTIME_NODE))
			continue;
		return false;
	}
}

const char *runtime_main_path(enum proxy_runtime rt, const char *main_name)
{
	const char *dot = rt == RUNTIME_NODE ? strchr(main_name, '.') : NULL;

	return dot ? dot + 1 : main_name;
}

void runtime_init_error(enum proxy_runtime rt, const char *detail, char *out, size_t len)
{
	if (rt == RUNTIME_PYTHON)
		/* openwhisk-runtime-go initHandler.go, with OW_LOG_INIT_ERROR as its images set it */
		snprintf(out, len, "Cannot start action. Check logs for details.");
	else
		/* Node's service.js */
		snprintf(out, len, "Initialization has failed due to: %s", detail);
}

void runtime_argv(enum proxy_runtime rt, const char *launcher_dir, char *launcher_path,
		  size_t pathlen, bool shared, const char *const *extra, const char *entry,
		  const char *main_name, const char *argv[RUNTIME_ARGV_MAX])
{
	const struct runtime_info *ri = &runtimes[rt];
	const char *const *opts = shared ? ri->shared_opts : ri->opts;
	size_t n = 0;

	snprintf(launcher_path, pathlen, "%s/%s", launcher_dir, ri->launcher);
	argv[n++] = ri->interpreter;
	for (size_t i = 0; opts[i]; i++)
		argv[n++] = opts[i];
	for (size_t i = 0; extra && extra[i] && i < RUNTIME_EXTRA_MAX; i++)
		argv[n++] = extra[i];
	argv[n++] = launcher_path;
	argv[n++] = entry;
	argv[n++] = main_name;
	argv[n] = NULL;
}

int runtime_find_launchers(enum proxy_runtime rt, const char *override, const char *exe,
			   char *out, size_t len, char *err, size_t errlen)
{
	const char *launcher = runtimes[rt].launcher;
	char exe_copy[PATH_MAX], cand[2][PATH_MAX], file[PATH_MAX];
	const char *tries[4];
	size_t n = 0, used = 0;

	if (override) {
		tries[n++] = override;
	} else {
		char *dir;

		snprintf(exe_copy, sizeof(exe_copy), "%s", exe);
		dir = dirname(exe_copy);
		snprintf(cand[0], sizeof(cand[0]), "%s/../user/proxy/launchers", dir);
		snprintf(cand[1], sizeof(cand[1]), "%s/../lib/rewindd/launchers", dir);
		tries[n++] = cand[0];
		tries[n++] = cand[1];
		tries[n++] = PROXY_LAUNCHER_DIR;
	}
	err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (exists_in(tries[i], launcher, file, sizeof(file))) {
			char *real = realpath(tries[i], NULL);

			if (!real || strlen(real) >= len) {
				free(real);
				continue;
			}
			strcpy(out, real);
			free(real);
			return 0;
		}
		if (used < errlen)
			used += snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", file);
	}
	return -ENOENT;
}
