// SPDX-License-Identifier: GPL-2.0-only
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "report.h"

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static int64_t num(json_object *o, const char *key)
{
	return json_object_get_int64(get(o, key));
}

static const char *str(json_object *o, const char *key)
{
	const char *s = json_object_get_string(get(o, key));

	return s ? s : "";
}

static size_t len(json_object *o, const char *key)
{
	json_object *a = get(o, key);

	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* o's process: "1234", or "1234 (pid 7 in its namespace)" when ns_key says another number. */
static const char *pid_text(json_object *o, const char *key, const char *ns_key, char *buf,
			    size_t size)
{
	if (get(o, ns_key) && num(o, ns_key) != num(o, key))
		snprintf(buf, size, "%" PRId64 " (pid %" PRId64 " in its namespace)", num(o, key),
			 num(o, ns_key));
	else
		snprintf(buf, size, "%" PRId64, num(o, key));
	return buf;
}

static void prot_text(int64_t prot, char buf[4])
{
	buf[0] = prot & PROT_READ ? 'r' : '-';
	buf[1] = prot & PROT_WRITE ? 'w' : '-';
	buf[2] = prot & PROT_EXEC ? 'x' : '-';
	buf[3] = '\0';
}

void report_print_summary(FILE *f, json_object *inv)
{
	fprintf(f, "invocation %" PRId64 ": %" PRId64 " pages written in %zu mappings, "
		"%zu layout changes, %zu files, %zu tasks, %" PRId64 " dropped\n",
		num(inv, "invocation"), num(inv, "pages_written"), len(inv, "mappings"),
		len(inv, "layout"), len(inv, "files"), len(inv, "tasks"), num(inv, "dropped"));
}

static void print_layout(FILE *f, json_object *l)
{
	const char *op = str(l, "op");
	char prot[4];

	fprintf(f, "    %-13s addr=0x%" PRIx64, op, num(l, "addr"));
	if (strcmp(op, "brk"))
		fprintf(f, " len=%" PRId64, num(l, "len"));
	if (get(l, "prot")) {
		prot_text(num(l, "prot"), prot);
		fprintf(f, " prot=%s", prot);
	}
	if (get(l, "new_len"))
		fprintf(f, " new_len=%" PRId64, num(l, "new_len"));
	if (get(l, "flags"))
		fprintf(f, " flags=0x%" PRIx64, num(l, "flags"));
	if (get(l, "advice"))
		fprintf(f, " advice=%" PRId64, num(l, "advice"));
	if (!strcmp(op, "mmap") || !strcmp(op, "mremap") || !strcmp(op, "brk"))
		fprintf(f, " -> 0x%" PRIx64 "\n", num(l, "result"));
	else
		fprintf(f, " -> %" PRId64 "\n", num(l, "result"));
}

static void print_file(FILE *f, json_object *fo)
{
	json_object *ops = get(fo, "ops");

	fprintf(f, "    %s  [", str(fo, "path"));
	for (size_t i = 0; i < len(fo, "ops"); i++)
		fprintf(f, "%s%s", i ? "," : "", json_object_get_string(json_object_array_get_idx(ops, i)));
	fprintf(f, "]");
	if (num(fo, "bytes_written"))
		fprintf(f, " %" PRId64 " bytes written", num(fo, "bytes_written"));
	if (json_object_get_boolean(get(fo, "created")))
		fprintf(f, " created");
	if (json_object_get_boolean(get(fo, "deleted")))
		fprintf(f, " deleted");
	if (get(fo, "renamed_to"))
		fprintf(f, " renamed to %s", str(fo, "renamed_to"));
	if (get(fo, "renamed_from"))
		fprintf(f, " renamed from %s", str(fo, "renamed_from"));
	if (get(fo, "link_target"))
		fprintf(f, " -> %s", str(fo, "link_target"));
	fprintf(f, "\n");
}

void report_print_invocation(FILE *f, json_object *inv)
{
	json_object *a;

	fprintf(f, "invocation %" PRId64 "  duration %.3f ms  pages written %" PRId64
		"  dropped %" PRId64 "%s\n",
		num(inv, "invocation"), num(inv, "duration_ns") / 1e6, num(inv, "pages_written"),
		num(inv, "dropped"), json_object_get_boolean(get(inv, "complete")) ? "" : "  INCOMPLETE");

	a = get(inv, "mappings");
	if (len(inv, "mappings")) {
		int64_t said = 0;

		fprintf(f, "  pages written per mapping:\n");
		/* The table keeps host pids; a process its namespace numbers otherwise is named once. */
		for (size_t i = 0; i < len(inv, "mappings"); i++) {
			json_object *m = json_object_array_get_idx(a, i);
			char who[96];

			if (!get(m, "ns_pid") || num(m, "ns_pid") == num(m, "pid") ||
			    num(m, "pid") == said)
				continue;
			said = num(m, "pid");
			fprintf(f, "    pid %s\n", pid_text(m, "pid", "ns_pid", who, sizeof(who)));
		}
		fprintf(f, "    %-7s %-14s %-14s %-5s %8s  %s\n", "PID", "START", "END", "PERMS",
			"PAGES", "NAME");
		for (size_t i = 0; i < len(inv, "mappings"); i++) {
			json_object *m = json_object_array_get_idx(a, i);

			fprintf(f, "    %-7" PRId64 " %-14" PRIx64 " %-14" PRIx64 " %-5s %8" PRId64
				"  %s\n", num(m, "pid"), num(m, "start"), num(m, "end"), str(m, "perms"),
				num(m, "pages_written"), str(m, "name"));
		}
	}
	a = get(inv, "layout");
	if (len(inv, "layout")) {
		fprintf(f, "  layout changes:\n");
		for (size_t i = 0; i < len(inv, "layout"); i++)
			print_layout(f, json_object_array_get_idx(a, i));
	}
	a = get(inv, "files");
	if (len(inv, "files")) {
		fprintf(f, "  files:\n");
		for (size_t i = 0; i < len(inv, "files"); i++)
			print_file(f, json_object_array_get_idx(a, i));
	}
	a = get(inv, "files_persisting");
	if (len(inv, "files_persisting")) {
		fprintf(f, "  files that persist after it:\n");
		for (size_t i = 0; i < len(inv, "files_persisting"); i++) {
			json_object *p = json_object_array_get_idx(a, i);

			fprintf(f, "    %-8s %10" PRId64 " bytes  %s\n", str(p, "change"),
				num(p, "size"), str(p, "path"));
		}
	}
	a = get(inv, "tasks");
	if (len(inv, "tasks")) {
		fprintf(f, "  tasks:\n");
		for (size_t i = 0; i < len(inv, "tasks"); i++) {
			json_object *t = json_object_array_get_idx(a, i);
			char tid[96], tgid[96];

			fprintf(f, "    %-13s pid=%s tgid=%s comm=%s\n", str(t, "op"),
				pid_text(t, "pid", "ns_pid", tid, sizeof(tid)),
				pid_text(t, "tgid", "ns_tgid", tgid, sizeof(tgid)), str(t, "comm"));
		}
	}
	a = get(inv, "process_state");
	if (len(inv, "process_state")) {
		fprintf(f, "  process state (fds, signals, timers, cwd):\n");
		for (size_t i = 0; i < len(inv, "process_state"); i++) {
			json_object *s = json_object_array_get_idx(a, i), *args = get(s, "args");

			fprintf(f, "    %s(", str(s, "op"));
			for (size_t k = 0; k < len(s, "args"); k++)
				fprintf(f, "%s%" PRId64, k ? ", " : "",
					json_object_get_int64(json_object_array_get_idx(args, k)));
			fprintf(f, ") = %" PRId64 "\n", num(s, "result"));
		}
	}
	a = get(inv, "state_changes");
	if (len(inv, "state_changes")) {
		fprintf(f, "  state changed (what a rewind would put back, or refuse):\n");
		for (size_t i = 0; i < len(inv, "state_changes"); i++) {
			json_object *c = json_object_array_get_idx(a, i);
			char pid[96];

			fprintf(f, "    pid %s: %s: %s\n", pid_text(c, "pid", "ns_pid", pid, sizeof(pid)),
				str(c, "class"), str(c, "what"));
		}
	}
	a = get(inv, "notes");
	for (size_t i = 0; i < len(inv, "notes"); i++)
		fprintf(f, "  note: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
}

/* The page store of every checkpoint image (root's answers only). */
static void print_image_store(FILE *f, json_object *st)
{
	if (!st)
		return;
	fprintf(f, "image store: %.1f MiB held for %.1f MiB of images, %.1f MiB of it shared",
		num(st, "bytes") / 1048576.0, num(st, "logical_bytes") / 1048576.0,
		num(st, "shared_bytes") / 1048576.0);
	if (num(st, "packed_pages"))
		fprintf(f, ", %lld pages (%.1f MiB) packed in %.1f MiB",
			(long long)num(st, "packed_pages"), num(st, "packed_pages") * 4096 / 1048576.0,
			num(st, "packed_bytes") / 1048576.0);
	if (num(st, "superseded_bytes"))
		fprintf(f, ", %.1f MiB of stores packed since, mapped until their next rewind",
			num(st, "superseded_bytes") / 1048576.0);
	if (num(st, "limit_bytes"))
		fprintf(f, ", limit %.1f MiB", num(st, "limit_bytes") / 1048576.0);
	fprintf(f, "%s\n", json_object_get_boolean(get(st, "sharing")) ? "" :
		" (sharing off)");
}

void report_print_status(FILE *f, json_object *resp)
{
	json_object *a = get(resp, "sessions");

	fprintf(f, "%-8s %-7s %-7s %-10s %-10s %-8s %s\n", "SESSION", "MODE", "STATE", "INVOCATION",
		"TARGETS", "DROPPED", "TARGET");
	for (size_t i = 0; i < len(resp, "sessions"); i++) {
		json_object *s = json_object_array_get_idx(a, i);
		char target[300];

		if (get(s, "cgroup"))
			snprintf(target, sizeof(target), "cgroup %s", str(s, "cgroup"));
		else if (get(s, "ns_pid") && num(s, "ns_pid") != num(s, "pid"))
			snprintf(target, sizeof(target), "pid %" PRId64 " (pid %" PRId64
				 " in its namespace)", num(s, "pid"), num(s, "ns_pid"));
		else
			snprintf(target, sizeof(target), "pid %" PRId64, num(s, "pid"));
		fprintf(f, "%-8" PRId64 " %-7s %-7s %-10" PRId64 " %-10zu %-8" PRId64 " %s\n",
			num(s, "session"), str(s, "mode"), str(s, "state"), num(s, "invocation"),
			len(s, "targets"), num(s, "dropped"), target);
		if (get(s, "reason"))
			fprintf(f, "         reason: %s\n", str(s, "reason"));
		if (len(s, "watch"))
			fprintf(f, "         watching %zu tree(s), content store %.1f MiB\n",
				len(s, "watch"), num(s, "store_bytes") / 1048576.0);
		if (get(s, "checkpointed") && json_object_get_boolean(get(s, "checkpointed")))
			fprintf(f, "         image %.1f MiB, %.1f MiB of it its own (no other image "
				"shares it)\n",
				num(s, "image_bytes") / 1048576.0,
				num(s, "image_unique_bytes") / 1048576.0);
	}
	print_image_store(f, get(resp, "image_store"));
	a = get(resp, "recovered");
	if (len(resp, "recovered"))
		fprintf(f, "found at start, left by a rewindd that is gone:\n");
	for (size_t i = 0; i < len(resp, "recovered"); i++)
		fprintf(f, "  %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
}

static int64_t timing(json_object *o, const char *key)
{
	json_object *t = NULL;

	json_object_object_get_ex(o, "timing_ns", &t);
	return t ? num(t, key) : 0;
}

void report_print_checkpoint(FILE *f, unsigned int session, json_object *c)
{
	fprintf(f, "checkpoint of session %u: %lld process(es), %lld thread(s), %lld pages stored "
		"(%.1f MiB of %.1f MiB private writable present), %lld zero pages, in %.2f ms\n",
		session, (long long)num(c, "processes"), (long long)num(c, "threads"),
		(long long)num(c, "pages_stored"), num(c, "image_bytes") / 1048576.0,
		num(c, "private_writable_bytes") / 1048576.0, (long long)num(c, "pages_zero"),
		timing(c, "total") / 1e6);
	fprintf(f, "  image: %.1f MiB of it its own (no other image shares it)\n",
		num(c, "image_unique_bytes") / 1048576.0);
	print_image_store(f, get(c, "image_store"));
	if (get(c, "files"))
		fprintf(f, "  watched trees: %lld entries, content store %.1f MiB (%.1f MiB cloned, "
			"%.1f MiB copied)\n", (long long)num(get(c, "files"), "entries"),
			num(get(c, "files"), "store_bytes") / 1048576.0,
			num(get(c, "files"), "bytes_cloned") / 1048576.0,
			num(get(c, "files"), "bytes_copied") / 1048576.0);
}

void report_print_rewind(FILE *f, unsigned int session, json_object *r)
{
	int verified = json_object_get_boolean(get(r, "verified"));

	fprintf(f, "rewound session %u: %lld pages copied back, %lld dropped (%lld restored whole), "
		"%lld process(es) killed, %lld thread(s) exited, in %.1f us%s\n", session,
		(long long)num(r, "pages_copied"), (long long)num(r, "pages_dropped"),
		(long long)num(r, "pages_wholesale"), (long long)num(r, "processes_killed"),
		(long long)num(r, "threads_exited"), timing(r, "total") / 1e3,
		verified ? "; verified byte for byte" : "");
	/* Which process is which in the function's own pid namespace. */
	for (size_t i = 0; i < len(r, "plan"); i++) {
		json_object *p = json_object_array_get_idx(get(r, "plan"), i);
		char who[96];

		if (get(p, "ns_pid") && num(p, "ns_pid") != num(p, "pid"))
			fprintf(f, "  pid %s: %lld pages copied back, %lld dropped\n",
				pid_text(p, "pid", "ns_pid", who, sizeof(who)),
				(long long)num(p, "pages_copied"), (long long)num(p, "pages_dropped"));
	}
	if (get(r, "files")) {
		json_object *fo = get(r, "files"), *notes = get(fo, "notes");

		fprintf(f, "  files: %lld touched in watched trees: %lld restored, %lld removed, %lld "
			"recreated, %lld metadata only%s\n", (long long)num(fo, "touched"),
			(long long)num(fo, "files_restored"), (long long)num(fo, "entries_removed"),
			(long long)num(fo, "entries_recreated"), (long long)num(fo, "metadata_restored"),
			num(fo, "full_comparisons") ? "; some trees compared whole (see notes)" : "");
		for (size_t i = 0; i < len(fo, "notes"); i++)
			fprintf(f, "  note: %s\n",
				json_object_get_string(json_object_array_get_idx(notes, i)));
	}
}

void report_print_canary(FILE *f, json_object *c)
{
	json_object *mem = get(c, "memory"), *files = get(c, "files");

	fprintf(f, "canary \"%s\" after invocation %" PRId64 ": %" PRId64 " place(s) in memory, "
		"%" PRId64 " in files\n", str(c, "canary"), num(c, "after_invocation"),
		num(c, "memory_total"), num(c, "files_total"));
	for (size_t i = 0; i < len(c, "memory"); i++) {
		json_object *h = json_object_array_get_idx(mem, i);
		char who[96];

		fprintf(f, "  memory  pid %-7s %s  %-5s %s+0x%" PRIx64 "\n",
			pid_text(h, "pid", "ns_pid", who, sizeof(who)), str(h, "address"),
			str(h, "perms"), str(h, "mapping"), num(h, "offset"));
	}
	for (size_t i = 0; i < len(c, "files"); i++) {
		json_object *h = json_object_array_get_idx(files, i);

		fprintf(f, "  file    %s offset %" PRId64 "\n", str(h, "path"), num(h, "offset"));
	}
	for (size_t i = 0; i < len(c, "notes"); i++)
		fprintf(f, "  note: %s\n",
			json_object_get_string(json_object_array_get_idx(get(c, "notes"), i)));
}
