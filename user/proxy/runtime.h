/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What differs between runtimes: the interpreter, our launcher for it, the
 * file plain source is written to, and the entry file of a zip.
 */
#ifndef RP_RUNTIME_H
#define RP_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy.h"

/* --runtime NAME; -EINVAL for an unknown one. */
int runtime_parse(const char *name, enum proxy_runtime *rt);

/* The file plain source code is written to, relative to the function's dir. */
const char *runtime_source_file(enum proxy_runtime rt);

/*
 * The entry file of an unpacked zip in dir (python: __main__.py, else
 * main.py; node: the module a dotted main names, else package.json's
 * "main", else index.js), as an absolute path. 0, or -ENOENT with
 * OpenWhisk's message in err.
 */
int runtime_zip_entry(enum proxy_runtime rt, const char *dir, const char *main_name, char *entry,
		      size_t len, char *err, size_t errlen);

/*
 * Whether name can be the function's name in this runtime: an identifier;
 * for a node zip, "module.path.to.fn" (runtime_main_path), as Node's
 * runtime takes it.
 */
bool runtime_valid_main(enum proxy_runtime rt, const char *name, bool binary);

/* What the launcher looks up in the entry's exports: a node main without its module part. */
const char *runtime_main_path(enum proxy_runtime rt, const char *main_name);

/*
 * The answer to an /init that failed for detail (already in the function's
 * log), in the words of the runtime's reference implementation.
 */
void runtime_init_error(enum proxy_runtime rt, const char *detail, char *out, size_t len);

/*
 * The launcher's argv: interpreter, options (shared: those for
 * --shared-images), extra (NULL-terminated, up to RUNTIME_EXTRA_MAX; may
 * be NULL), launcher script, entry file, main name.
 * Strings point into the arguments and static storage; argv has room for
 * RUNTIME_ARGV_MAX entries including the terminating NULL.
 */
#define RUNTIME_EXTRA_MAX 3
#define RUNTIME_ARGV_MAX (8 + RUNTIME_EXTRA_MAX)
void runtime_argv(enum proxy_runtime rt, const char *launcher_dir, char *launcher_path,
		  size_t pathlen, bool shared, const char *const *extra, const char *entry,
		  const char *main_name, const char *argv[RUNTIME_ARGV_MAX]);

/*
 * Where the launchers are, in this order: override (--launchers) if given;
 * EXE_DIR/../user/proxy/launchers (a build in the source tree);
 * EXE_DIR/../lib/rewindd/launchers (installed next to sbin/);
 * PROXY_LAUNCHER_DIR, the path `make install` used. The first directory that
 * holds the launcher of runtime rt wins. exe is the binary's path
 * (/proc/self/exe). 0, or -ENOENT with the places tried in err.
 */
int runtime_find_launchers(enum proxy_runtime rt, const char *override, const char *exe,
			   char *out, size_t len, char *err, size_t errlen);

#endif /* RP_RUNTIME_H */
