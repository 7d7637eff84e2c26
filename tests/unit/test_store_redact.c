/*
 * test_store_redact.c - estd_store_redact(), which every message naming the
 * store goes through: a PostgreSQL URI's password (in the user info or a
 * password= / sslpassword= parameter) never comes out, however the URI is
 * malformed; other specs come back unchanged. And estd_store_open()'s
 * messages for malformed URIs (libpq's parser) do not carry the password.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static void test_redact_table(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		/* not PostgreSQL, or nothing to hide: unchanged */
		{"estd.db", "estd.db"},
		{"sqlite:/var/lib/estd/estd.db", "sqlite:/var/lib/estd/estd.db"},
		{"sqlite:user:pw@x", "sqlite:user:pw@x"},
		{"", ""},
		{"postgresql://", "postgresql://"},
		{"postgresql://db.example/estd", "postgresql://db.example/estd"},
		{"postgresql://estd@db.example:5433/estd", "postgresql://estd@db.example:5433/estd"},
		{"postgresql://[::1]:5432/estd", "postgresql://[::1]:5432/estd"},
		{"postgresql://estd@h/estd?sslmode=verify-full",
		 "postgresql://estd@h/estd?sslmode=verify-full"},
		/* the user info's password */
		{"postgresql://estd:s3cret@h/estd", "postgresql://estd:***@h/estd"},
		{"postgres://estd:s3cret@h", "postgres://estd:***@h"},
		{"postgresql://estd:@h/estd", "postgresql://estd:***@h/estd"},
		{"postgresql://:s3cret@h/estd", "postgresql://:***@h/estd"},
		{"postgresql://estd:s3cret@[::1]:5432/estd", "postgresql://estd:***@[::1]:5432/estd"},
		{"postgresql://estd:s3%40cret@h/estd", "postgresql://estd:***@h/estd"},
		/* characters a careless password holds unencoded: all of it is hidden */
		{"postgresql://estd:s3@cret@h/estd", "postgresql://estd:***@h/estd"},
		{"postgresql://estd:s3/cret@h/estd", "postgresql://estd:***@h/estd"},
		{"postgresql://estd:s3?cret@h/estd", "postgresql://estd:***@h/estd"},
		{"postgresql://estd:s3#cret@h/estd", "postgresql://estd:***@h/estd"},
		{"postgresql://estd:s3:cret@h/estd", "postgresql://estd:***@h/estd"},
		/* password parameters, every one of them, whatever the case */
		{"postgresql://h/estd?password=s3cret", "postgresql://h/estd?password=***"},
		{"postgresql://h/estd?password=s3cret&sslmode=require",
		 "postgresql://h/estd?password=***&sslmode=require"},
		{"postgresql://h/estd?password=a1&password=b2", "postgresql://h/estd?password=***&password=***"},
		{"postgresql://h/estd?sslpassword=s3cret", "postgresql://h/estd?sslpassword=***"},
		{"postgresql://h/estd?PASSWORD=s3cret", "postgresql://h/estd?PASSWORD=***"},
		{"postgresql://h/estd?password=", "postgresql://h/estd?password=***"},
		{"postgresql://h/estd?password=s3cret#frag", "postgresql://h/estd?password=***#frag"},
		{"postgresql://u:p1@h/estd?password=p2", "postgresql://u:***@h/estd?password=***"},
		/* PostgreSQL without "//": not a URI libpq reads, only the scheme is shown */
		{"postgresql:estd:s3cret@h/estd", "postgresql:***"},
		{"postgres:", "postgres:***"},
		{"postgresql:/", "postgresql:***"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = estd_store_redact(t[i].in);

		if (out == NULL || strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: '%s' -> '%s', want '%s'", i, t[i].in,
				 out != NULL ? out : "(null)", t[i].want);
		free(out);
	}
	{
		char *out = estd_store_redact(NULL);

		assert_non_null(out);
		assert_string_equal(out, "(null)");
		free(out);
	}
}

/* libpq's own parse errors quote the URI: the message must still not hold the password. */
static void test_open_messages_never_hold_the_password(void **state)
{
	static const char *const specs[] = {
		"postgresql://estd:s3cret@127.0.0.1:notaport/estd",
		"postgresql://estd:s3cret@[::1/estd",
		"postgresql://estd:s3cret%zz@127.0.0.1:1/estd",
		"postgresql://estd:s3cret@127.0.0.1:1/estd?bogus=1",
		"postgresql://127.0.0.1:1/estd?password=s3cret%zz",
		"postgresql://127.0.0.1:1/estd?password=s3cret&bogus",
		"postgresql://estd:s3/cret@127.0.0.1:1/estd",
		"postgresql://estd:s3cret@127.0.0.1:1/estd?connect_timeout=2",
		"postgresql://127.0.0.1:1/estd?password=s3cret&connect_timeout=2",
		"postgresql://estd:s3cret@127.0.0.1:1/estd?password=s3cret&port=x",
	};
	char user[600], longspec[700];
	size_t i, cut = 0;

	(void)state;
	/*
	 * A parse error quoting a URI so long that the message buffer (512
	 * bytes) ends inside the password, for some user name lengths here.
	 */
	for (i = 380; i < 440; i++) {
		struct estd_store *st = NULL;
		char *err = NULL;

		memset(user, 'u', i);
		user[i] = '\0';
		snprintf(longspec, sizeof(longspec), "postgresql://%s:s3cret@[::1/estd", user);
		assert_int_not_equal(estd_store_open(longspec, &st, &err), ESTKIT_OK);
		assert_non_null(err);
		if (strstr(err, "s3") != NULL || strstr(err, ":s") != NULL)
			fail_msg("user of %zu bytes: message '%s'", i, err);
		cut += strlen(err) > 3 && strcmp(err + strlen(err) - 4, ":***") == 0;
		free(err);
	}
	assert_true(cut > 0); /* the cut-off case did happen */
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct estd_store *st = NULL;
		char *err = NULL;

		assert_int_not_equal(estd_store_open(specs[i], &st, &err), ESTKIT_OK);
		assert_null(st);
		assert_non_null(err);
		if (strstr(err, "s3") != NULL || strstr(err, "cret") != NULL)
			fail_msg("case %zu: '%s' -> message '%s'", i, specs[i], err);
		free(err);
	}
}

static void test_scrub_table(void **state)
{
	static const struct {
		const char *msg, *spec, *want;
	} t[] = {
		{"bad: postgresql://u:s3cret@h/x", "postgresql://u:s3cret@h/x",
		 "bad: postgresql://u:***@h/x"},
		{"s3cret and s3cret", "postgresql://u:s3cret@h/x", "*** and ***"},
		/* cut short inside the password (a full message buffer) */
		{"uri \"postgresql://u:s3c", "postgresql://u:s3cret@h/x", "uri \"postgresql://u:***"},
		/* a quoted piece of a password, of the user info or a parameter */
		{"invalid value \"s3\" for \"port\"", "postgresql://u:s3/cret@h/x",
		 "invalid value \"***\" for \"port\""},
		{"token \"cr\"", "postgresql://h/x?password=s3cret", "token \"***\""},
		/* nothing secret: unchanged */
		{"invalid value \"h\" for \"port\"", "postgresql://u@h/x",
		 "invalid value \"h\" for \"port\""},
		{"no quote end \"s3", "postgresql://h/x", "no quote end \"s3"},
		{"", "postgresql://u:s3cret@h/x", ""},
		{"sqlite says s3cret", "/var/lib/s3cret.db", "sqlite says s3cret"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = estd_store_scrub(t[i].msg, t[i].spec);

		if (out == NULL || strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: '%s' -> '%s', want '%s'", i, t[i].msg,
				 out != NULL ? out : "(null)", t[i].want);
		free(out);
	}
	{
		char *out = estd_store_scrub("text", NULL);

		assert_string_equal(out, "text");
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_scrub_table),
		cmocka_unit_test(test_open_messages_never_hold_the_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
