// SPDX-License-Identifier: GPL-2.0-only
/* A thread's credentials from status text, and what a comparison names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ident.h"

static const char status[] =
	"Name:\tzdtm\n"
	"Umask:\t0022\n"
	"Uid:\t0\t65534\t0\t65534\n"
	"Gid:\t0\t0\t0\t0\n"
	"FDSize:\t64\n"
	"Groups:\t0 4 27 \n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t000001ffffffffff\n"
	"CapEff:\t0000000000000000\n"
	"CapBnd:\t000001ffffffffff\n"
	"CapAmb:\t0000000000000000\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t2\n"
	"Seccomp_filters:\t3\n";

static void parses(void **state)
{
	struct rw_creds c;

	(void)state;
	assert_int_equal(ident_parse_creds(status, &c), 0);
	assert_int_equal(c.uid[0], 0);
	assert_int_equal(c.uid[1], 65534);
	assert_int_equal(c.uid[3], 65534);
	assert_int_equal(c.ngroups, 3);
	assert_true(c.cap_prm == 0x1ffffffffffULL);
	assert_true(c.cap_bnd == 0x1ffffffffffULL);
	assert_true(c.cap_eff == 0);
	assert_int_equal(c.seccomp_mode, 2);
	assert_int_equal(c.seccomp_filters, 3);
	assert_int_equal(c.no_new_privs, 1);
}

/* Every credential line is required: a missing one is not "no change". */
static void rejects(void **state)
{
	static const char *const drop[] = { "Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
					    "CapEff:", "CapBnd:", "CapAmb:" };
	struct rw_creds c;

	(void)state;
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		char buf[sizeof(status)];
		char *p, *nl;

		memcpy(buf, status, sizeof(status));
		p = strstr(buf, drop[i]);
		nl = strchr(p, '\n');
		memmove(p, nl + 1, strlen(nl + 1) + 1);
		assert_int_equal(ident_parse_creds(buf, &c), -EINVAL);
	}
	assert_int_equal(ident_parse_creds("Uid:\t0 0 0\nGid:\t0 0 0 0\nGroups:\n", &c), -EINVAL);
}

/* No groups at all parses (Groups: empty); a different member set compares unequal. */
static void groups(void **state)
{
	char buf[sizeof(status) + 8];
	struct rw_ident a = { .tid = 5 }, b = { .tid = 5 };
	char what[160];

	(void)state;
	assert_int_equal(ident_parse_creds(status, &a.creds), 0);
	strcpy(buf, status);
	memcpy(strstr(buf, "Groups:\t0 4 27"), "Groups:\t0 4 28", 14);
	assert_int_equal(ident_parse_creds(buf, &b.creds), 0);
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_non_null(strstr(what, "supplementary groups"));
	strcpy(buf, status);
	memcpy(strstr(buf, "Groups:\t0 4 27 "), "Groups:\t       ", 15);
	assert_int_equal(ident_parse_creds(buf, &b.creds), 0);
	assert_int_equal(b.creds.ngroups, 0);
}

static void compares(void **state)
{
	struct rw_ident a = { .tid = 5 }, b;
	char what[160];

	(void)state;
	assert_int_equal(ident_parse_creds(status, &a.creds), 0);
	for (int i = 0; i < RW_NS__COUNT; i++)
		a.ns[i] = 4026531830 + i;
	b = a;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 0);
	b.creds.uid[2] = 1000;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_string_equal(what, "credentials changed since the checkpoint (suid 0 → 1000)");
	b = a;
	b.creds.gid[3] = 7;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_string_equal(what, "credentials changed since the checkpoint (fsgid 0 → 7)");
	b = a;
	b.creds.cap_bnd &= ~(1ULL << 21);
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_non_null(strstr(what, "CapBnd 0x1ffffffffff → 0x1ffffdfffff"));
	b = a;
	b.creds.seccomp_filters++;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_string_equal(what, "seccomp changed since the checkpoint (mode 2 → 2, 3 → 4 filter(s))");
	b = a;
	b.creds.no_new_privs = 0;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_string_equal(what, "no_new_privs set since the checkpoint");
	b = a;
	b.ns[RW_NS_UTS]++;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_non_null(strstr(what, "unshared or setns'd its uts namespace"));
	b = a;
	b.ns[RW_NS_TIME_FOR_CHILDREN]++;
	assert_int_equal(ident_compare(&a, &b, what, sizeof(what)), 1);
	assert_non_null(strstr(what, "its time_for_children namespace"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses),
		cmocka_unit_test(rejects),
		cmocka_unit_test(groups),
		cmocka_unit_test(compares),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
