// SPDX-License-Identifier: GPL-2.0-only
/*
 * Binary actions arrive as base64 text of a zip (OpenWhisk's "binary": true).
 * The archive comes from the caller, so every entry name is checked before
 * anything is created: files land below the work dir or nowhere.
 */
#define LOG_PREFIX "rewind-proxy: "

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "log.h"
#include "zipcode.h"

/* A zip bomb must not fill the disk of the host. */
#define ZIP_MAX_TOTAL	(1ULL << 30)
#define ZIP_MAX_ENTRIES	100000

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		  char *err, size_t errlen)
{
	unsigned char *buf = malloc(len / 4 * 3 + 3);
	unsigned acc = 0, nbits = 0, npad = 0;
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			npad++;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || npad) {
			snprintf(err, errlen, "illegal base64 data at input byte %zu", i);
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			buf[n++] = (acc >> nbits) & 0xff;
		}
	}
	/* 6 leftover bits cannot come from whole bytes: the text was cut. */
	if (nbits >= 6 || npad > 2) {
		snprintf(err, errlen, "illegal base64 data: truncated input");
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* A relative path without "." or ".." components, empty ones or a NUL. */
static bool safe_name(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = end - p;

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (n == 0 && *end)	/* "a//b" */
			return false;
		p = *end ? end + 1 : end;
	}
	return true;
}

/* mkdir -p of rel below dir (rel's components were checked by safe_name). */
static int make_parents(const char *dir, const char *rel, bool last_too)
{
	char path[PATH_MAX];
	size_t base = strlen(dir);
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + base + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (last_too && path[n - 1] != '/' && mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int extract_file(zip_t *za, zip_uint64_t idx, const char *dir, const char *name,
			mode_t mode, unsigned long long *total, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[65536];
	zip_file_t *zf;
	zip_int64_t r;
	int fd, ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "zip entry %s: path too long", name);
		return -ENAMETOOLONG;
	}
	ret = make_parents(dir, name, false);
	if (ret) {
		snprintf(err, errlen, "zip entry %s: cannot create its directory: %s", name,
			 strerror(-ret));
		return ret;
	}
	zf = zip_fopen_index(za, idx, 0);
	if (!zf) {
		snprintf(err, errlen, "zip entry %s: %s", name, zip_strerror(za));
		return -EINVAL;
	}
	/* O_EXCL|O_NOFOLLOW: a duplicate entry never writes through anything. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "zip entry %s: %s", name, strerror(errno));
		zip_fclose(zf);
		return ret;
	}
	while ((r = zip_fread(zf, buf, sizeof(buf))) > 0) {
		*total += r;
		if (*total > ZIP_MAX_TOTAL) {
			snprintf(err, errlen, "zip contents larger than %llu bytes", ZIP_MAX_TOTAL);
			ret = -EFBIG;
			break;
		}
		for (zip_int64_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, r - off);

			if (w < 0) {
				ret = -errno;
				snprintf(err, errlen, "zip entry %s: write: %s", name, strerror(errno));
				goto out;
			}
			off += w;
		}
	}
	if (r < 0 && !ret) {
		snprintf(err, errlen, "zip entry %s: %s", name, zip_file_strerror(zf));
		ret = -EINVAL;
	}
out:
	close(fd);
	zip_fclose(zf);
	return ret;
}

int zip_extract(const void *data, size_t len, const char *dir, char *err, size_t errlen)
{
	unsigned long long total = 0;
	zip_error_t zerr;
	zip_source_t *src;
	zip_int64_t n;
	zip_t *za;
	int ret = 0;

	zip_error_init(&zerr);
	src = zip_source_buffer_create(data, len, 0, &zerr);
	if (!src) {
		snprintf(err, errlen, "cannot read the zip: %s", zip_error_strerror(&zerr));
		zip_error_fini(&zerr);
		return -ENOMEM;
	}
	za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (!za) {
		snprintf(err, errlen, "not a valid zip file: %s", zip_error_strerror(&zerr));
		zip_source_free(src);
		zip_error_fini(&zerr);
		return -EINVAL;
	}
	zip_error_fini(&zerr);
	n = zip_get_num_entries(za, 0);
	if (n > ZIP_MAX_ENTRIES) {
		snprintf(err, errlen, "zip has %lld entries, more than %d", (long long)n, ZIP_MAX_ENTRIES);
		ret = -EFBIG;
	}
	for (zip_int64_t i = 0; !ret && i < n; i++) {
		const char *name = zip_get_name(za, i, ZIP_FL_ENC_GUESS);
		zip_uint8_t opsys;
		zip_uint32_t attr;
		mode_t mode = 0644;
		size_t nlen;

		if (!name || !safe_name(name)) {
			snprintf(err, errlen, "zip entry %s: refused (absolute, \"..\" or empty path)",
				 name ? name : "(unnamed)");
			ret = -EINVAL;
			break;
		}
		nlen = strlen(name);
		if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) == 0 &&
		    opsys == ZIP_OPSYS_UNIX && (attr >> 16)) {
			mode_t m = attr >> 16;

			/*
			 * Permissions without a file type (Python's zipfile.writestr,
			 * Java's ZipOutputStream): a file, or a dir by its trailing
			 * slash, as the actionloop proxy takes them.
			 */
			if (!(m & S_IFMT))
				m |= S_IFREG;
			if (!S_ISREG(m) && !S_ISDIR(m)) {
				snprintf(err, errlen, "zip entry %s: only files and directories are supported",
					 name);
				ret = -EINVAL;
				break;
			}
			if (m & 0111)
				mode = 0755;
		}
		if (name[nlen - 1] == '/') {
			ret = make_parents(dir, name, true);
			if (ret)
				snprintf(err, errlen, "zip entry %s: %s", name, strerror(-ret));
			continue;
		}
		ret = extract_file(za, i, dir, name, mode, &total, err, errlen);
	}
	zip_discard(za);	/* read-only: nothing to write back */
	return ret;
}
