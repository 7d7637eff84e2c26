/* test_users.c - the Basic-auth users file: set/check/del, bad lines, names, file mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "users.h"
#include "tmpdir_testutil.h"

static char tmpdir[1024];
static char upath[1100];

/* A real SHA-512 crypt hash of "secret" (users.h accepts "$6$" too). */
#define SHA512_SECRET                                                                           \
	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN." \
	"Pq.H91p5hVO1"

static int setup(void **state)
{
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-users") != 0)
		return -1;
	snprintf(upath, sizeof(upath), "%s/users", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	return tu_rmtree(tmpdir);
}

static void write_file(const char *text)
{
	FILE *fp = fopen(upath, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static char *read_file(void)
{
	static char buf[8192];
	FILE *fp = fopen(upath, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static struct estd_users *load_ok(void)
{
	struct estd_users *u = NULL;
	char *err = NULL;

	if (estd_users_load(upath, &u, &err) != ESTKIT_OK)
		fail_msg("load: %s", err ? err : "(no message)");
	return u;
}

static void set_ok(const char *user, const char *password)
{
	char *err = NULL;

	if (estd_users_set(upath, user, password, &err) != ESTKIT_OK)
		fail_msg("set %s: %s", user, err ? err : "(no message)");
}

static void test_set_then_check_accepts_only_the_right_password(void **state)
{
	struct estd_users *u;
	struct stat sb;

	set_ok("alice", "correct horse");
	set_ok("bob@example.org", "hunter2");
	assert_int_equal(stat(upath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(strstr(read_file(), "alice:$y$"));
	u = load_ok();
	assert_int_equal(estd_users_count(u), 2);
	assert_string_equal(estd_users_name(u, 0), "alice");
	assert_string_equal(estd_users_name(u, 1), "bob@example.org");
	assert_null(estd_users_name(u, 2));
	assert_int_equal(estd_users_check(u, "alice", "correct horse"), 1);
	assert_int_equal(estd_users_check(u, "bob@example.org", "hunter2"), 1);
	/* wrong passwords, prefixes, other users' passwords, unknown users */
	assert_int_equal(estd_users_check(u, "alice", "correct hors"), 0);
	assert_int_equal(estd_users_check(u, "alice", "correct horse "), 0);
	assert_int_equal(estd_users_check(u, "alice", ""), 0);
	assert_int_equal(estd_users_check(u, "alice", NULL), 0);
	assert_int_equal(estd_users_check(u, "alice", "hunter2"), 0);
	assert_int_equal(estd_users_check(u, "Alice", "correct horse"), 0);
	assert_int_equal(estd_users_check(u, "mallory", "correct horse"), 0);
	assert_int_equal(estd_users_check(u, NULL, "x"), 0);
	assert_int_equal(estd_users_check(NULL, "alice", "correct horse"), 0);
	estd_users_free(u);
}

static void test_set_replaces_and_del_removes_keeping_comments(void **state)
{
	struct estd_users *u;
	char *err = NULL;

	write_file("# estd users\n\nalice:" SHA512_SECRET "\n");
	u = load_ok();
	assert_int_equal(estd_users_check(u, "alice", "secret"), 1);
	estd_users_free(u);

	set_ok("alice", "new password");
	set_ok("carol", "pw");
	assert_non_null(strstr(read_file(), "# estd users\n\nalice:$y$"));
	u = load_ok();
	assert_int_equal(estd_users_count(u), 2);
	assert_int_equal(estd_users_check(u, "alice", "secret"), 0);
	assert_int_equal(estd_users_check(u, "alice", "new password"), 1);
	estd_users_free(u);

	assert_int_equal(estd_users_del(upath, "alice", &err), ESTKIT_OK);
	assert_int_equal(estd_users_del(upath, "alice", &err), ESTKIT_ENOTFOUND);
	assert_non_null(err);
	assert_non_null(strstr(err, "no user 'alice'"));
	free(err);
	u = load_ok();
	assert_int_equal(estd_users_count(u), 1);
	assert_int_equal(estd_users_check(u, "alice", "new password"), 0);
	assert_int_equal(estd_users_check(u, "carol", "pw"), 1);
	estd_users_free(u);
	assert_non_null(strstr(read_file(), "# estd users\n"));
}

static void test_missing_file_is_an_empty_list(void **state)
{
	struct estd_users *u = load_ok();

	assert_int_equal(estd_users_count(u), 0);
	assert_int_equal(estd_users_check(u, "alice", "x"), 0);
	estd_users_free(u);
	estd_users_free(NULL);
}

static void test_malformed_lines_refuse_the_whole_file(void **state)
{
	static const struct {
		const char *why;
		const char *text;
		const char *msg;
	} cases[] = {
		{"no colon", "alice\n", ":1: malformed line"},
		{"empty name", ":" SHA512_SECRET "\n", ":1: malformed line"},
		{"empty hash", "# c\nalice:\n", ":2: malformed line"},
		{"plain-text password", "alice:secret\n", ":1: malformed line"},
		{"unsupported md5 hash", "alice:$1$abc$def\n", ":1: malformed line"},
		{"blank in the hash", "alice:$y$j9T$a b\n", ":1: malformed line"},
		{"name with a blank", "al ice:" SHA512_SECRET "\n", ":1: malformed line"},
		{"indented entry", " alice:" SHA512_SECRET "\n", ":1: malformed line"},
		{"name of 65 characters",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:" SHA512_SECRET
		 "\n",
		 ":1: malformed line"},
		{"duplicate user", "bob:" SHA512_SECRET "\nbob:" SHA512_SECRET "\n",
		 ":2: duplicate user 'bob'"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_users *u = NULL;
		char *err = NULL;

		write_file(cases[i].text);
		if (estd_users_load(upath, &u, &err) != ESTKIT_EPARSE || err == NULL ||
		    strstr(err, cases[i].msg) == NULL)
			fail_msg("case '%s': err '%s'", cases[i].why, err ? err : "(null)");
		assert_null(u);
		free(err);
		/* a change is refused too, and the file is left as it was */
		err = NULL;
		assert_int_equal(estd_users_set(upath, "zed", "pw", &err), ESTKIT_EPARSE);
		free(err);
		assert_string_equal(read_file(), cases[i].text);
	}
}

static void test_oversized_line_is_refused(void **state)
{
	char text[6000];
	struct estd_users *u = NULL;
	char *err = NULL;

	memcpy(text, "alice:$6$", 9);
	memset(text + 9, 'a', 5000);
	memcpy(text + 5009, "\n", 2);
	write_file(text);
	assert_int_equal(estd_users_load(upath, &u, &err), ESTKIT_EPARSE);
	assert_non_null(err);
	assert_non_null(strstr(err, ":1: line too long"));
	free(err);
}

static void test_bad_names_and_passwords_are_refused(void **state)
{
	static const struct {
		const char *why;
		const char *user;
		const char *password;
		enum estkit_status rc;
	} cases[] = {
		{"name with a colon", "ali:ce", "pw", ESTKIT_EINVAL},
		{"empty name", "", "pw", ESTKIT_EINVAL},
		{"name with a newline", "alice\nbob", "pw", ESTKIT_EINVAL},
		{"name with a slash", "a/b", "pw", ESTKIT_EINVAL},
		{"NULL name", NULL, "pw", ESTKIT_EINVAL},
		{"empty password", "alice", "", ESTKIT_EINVAL},
		{"NULL password", "alice", NULL, ESTKIT_EINVAL},
	};
	char longpw[1100];
	size_t i;
	char *err = NULL;
	struct stat sb;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (estd_users_set(upath, cases[i].user, cases[i].password, &err) != cases[i].rc ||
		    err == NULL)
			fail_msg("case '%s' not refused", cases[i].why);
		free(err);
	}
	memset(longpw, 'p', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(estd_users_set(upath, "alice", longpw, &err), ESTKIT_ETOOBIG);
	free(err);
	assert_int_equal(estd_users_del(upath, "a:b", &err), ESTKIT_EINVAL);
	free(err);
	/* nothing was written by any of them */
	assert_int_not_equal(stat(upath, &sb), 0);
}

static double seconds_of_check(const struct estd_users *u, const char *user)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(estd_users_check(u, user, "wrong password"), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void test_unknown_user_costs_a_hash_too(void **state)
{
	struct estd_users *u;
	double known, unknown;

	set_ok("alice", "pw");
	u = load_ok();
	known = seconds_of_check(u, "alice");
	unknown = seconds_of_check(u, "nobody");
	/* loose bound: a skipped hash would be thousands of times faster */
	if (unknown < known / 10)
		fail_msg("unknown user checked in %.6fs, known in %.6fs", unknown, known);
	estd_users_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_then_check_accepts_only_the_right_password,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_replaces_and_del_removes_keeping_comments,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_an_empty_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines_refuse_the_whole_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_oversized_line_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names_and_passwords_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_user_costs_a_hash_too, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
