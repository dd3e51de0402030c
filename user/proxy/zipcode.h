/* SPDX-License-Identifier: GPL-2.0-only */
/* Binary actions: the base64 text of a zip, unpacked into the work dir. */
#ifndef RP_ZIPCODE_H
#define RP_ZIPCODE_H

#include <stddef.h>

/*
 * Decode standard base64 (padding optional, whitespace ignored, anything
 * else refused). *out is malloc'd. 0, -EINVAL (with a reason in err), -ENOMEM.
 */
int base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		  char *err, size_t errlen);

/*
 * Unpack the zip in data into dir (which exists). Entries with absolute
 * paths, "..", symlinks or other special types are refused; the total size
 * is bounded. 0 or -errno with the reason in err.
 */
int zip_extract(const void *data, size_t len, const char *dir, char *err, size_t errlen);

#endif /* RP_ZIPCODE_H */
