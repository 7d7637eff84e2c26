/*
 * test_agent_hook.c - agent_hook_run() of `est agent` (src/est/agent_hook.c,
 * compiled in here): a hook that outlives hook_timeout is killed with the
 * processes it started, a failing or missing program is reported, the words
 * reach the program as written; and the configuration reader's refusal of a
 * line too long for inih or holding a NUL byte (src/est/agent_conf.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common.c"
#include "agent_conf.c"
#include "agent_hook.c"

void agent_log(const char *name, const char *fmt, ...)
{
	(void)name;
	(void)fmt;
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_agent_hook.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	char p[256];
	FILE *f = NULL;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static char *read_file(const char *name)
{
	static char buf[4096];
	char p[256];
	FILE *f = NULL;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The process exists and is not a zombie. */
static int alive(long pid)
{
	char p[64], buf[512];
	FILE *f = NULL;
	char *rp = NULL;
	size_t n = 0;

	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z';
}

static struct agent_cert hook_cert(char *cmd)
{
	struct agent_cert ac;

	memset(&ac, 0, sizeof(ac));
	ac.name = (char *)"web";
	ac.cert_path = (char *)"/etc/web.crt";
	ac.key_path = (char *)"/etc/web.key";
	ac.hook = cmd;
	return ac;
}

static void test_hook_results_table(void **state)
{
	static const struct {
		int in_dir; /* cmd names a file of the scratch directory */
		const char *cmd;
		int want;
	} cases[] = {
	    {0, "/bin/sh -c 'exit 0'", 0},
	    {0, "/bin/sh -c 'exit 3'", -1},
	    {0, "/bin/sh -c 'kill -TERM $$'", -1},
	    {1, "no-such-program", -1},            /* exec fails: 127 */
	    {1, "not-executable", -1},             /* exec refused */
	    {0, "relative/program", -1},           /* refused before fork */
	    {0, "/bin/sh -c 'unterminated", -1},   /* cannot split */
	    {0, "/bin/sh -c 'read x; exit 0'", 0}, /* stdin is /dev/null: no wait */
	};
	char cmd[512];
	size_t i;

	(void)state;
	write_file("not-executable", "#!/bin/sh\nexit 0\n", 17, 0644);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_cert ac;

		if (cases[i].in_dir)
			snprintf(cmd, sizeof(cmd), "%s/%s", dir, cases[i].cmd);
		else
			snprintf(cmd, sizeof(cmd), "%s", cases[i].cmd);
		ac = hook_cert(cmd);
		if (agent_hook_run(&ac, 10) != cases[i].want)
			fail_msg("case %zu (%s): want %d", i, cmd, cases[i].want);
	}
	/* no hook: nothing to do */
	{
		struct agent_cert ac = hook_cert(NULL);

		assert_int_equal(agent_hook_run(&ac, 1), 0);
	}
}

static void test_hook_timeout_kills_the_group(void **state)
{
	char script[512], cmd[256];
	struct agent_cert ac;
	long pids[2] = {0, 0};
	double t0 = 0, took = 0;
	char *text = NULL;

	(void)state;
	/* the shell waits on a child of its own, which would outlive a kill of the shell */
	snprintf(script, sizeof(script),
	         "#!/bin/sh\necho $$ > %s/pids\nsleep 600 &\necho $! >> %s/pids\nwait\n", dir, dir);
	write_file("hang.sh", script, strlen(script), 0755);
	snprintf(cmd, sizeof(cmd), "%s/hang.sh", dir);
	ac = hook_cert(cmd);
	t0 = now_s();
	assert_int_equal(agent_hook_run(&ac, 1), -1);
	took = now_s() - t0;
	assert_true(took >= 1.0 && took < 5.0);
	text = read_file("pids");
	assert_non_null(text);
	assert_int_equal(sscanf(text, "%ld %ld", &pids[0], &pids[1]), 2);
	/* the orphaned sleep is reaped by init, which may take a moment */
	for (int i = 0; i < 100 && (alive(pids[0]) || alive(pids[1])); i++)
		usleep(20 * 1000);
	assert_false(alive(pids[0]));
	assert_false(alive(pids[1]));
}

static void test_hook_words_and_environment(void **state)
{
	static const char script[] = "#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done "
	                             "> \"$(dirname \"$0\")/args\"\n"
	                             "printf '%s %s %s' \"$EST_AGENT_NAME\" \"$EST_AGENT_CERT\" "
	                             "\"$EST_AGENT_KEY\" > \"$(dirname \"$0\")/env\"\n";
	char cmd[512];
	struct agent_cert ac;

	(void)state;
	write_file("args.sh", script, sizeof(script) - 1, 0755);
	snprintf(cmd, sizeof(cmd), "%s/args.sh '$(id)' \"a b\" ';' `x` \\$HOME", dir);
	ac = hook_cert(cmd);
	assert_int_equal(agent_hook_run(&ac, 10), 0);
	assert_string_equal(read_file("args"), "$(id)|a b|;|`x`|$HOME|");
	assert_string_equal(read_file("env"), "web /etc/web.crt /etc/web.key");
}

#define CONF_CERT "[cert a]\nserver = https://x\ntrust = /t\ncert = /c\nkey = /k\n"

static void test_conf_line_limits(void **state)
{
	struct agent_conf c;
	char err[512];
	char text[1024];
	char path[256];
	int n = 0;

	(void)state;
	/* the longest line inih takes, and one more character */
	n = snprintf(text, sizeof(text), "%spost_renew_command = /bin/echo ", CONF_CERT);
	memset(text + n, 'x', 198 - 31);
	memcpy(text + n + 198 - 31, "\n", 2);
	assert_int_equal(agent_conf_parse(text, &c, err, sizeof(err)), 0);
	agent_conf_free(&c);
	memset(text + n, 'x', 199 - 31);
	memcpy(text + n + 199 - 31, "\n", 2);
	assert_int_equal(agent_conf_parse(text, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "line 6: too long (at most 198 characters)");
	/* CRLF line ends are fine; no final newline is fine */
	assert_int_equal(agent_conf_parse("[cert a]\r\nserver = https://x\r\ntrust = /t\r\n"
	                                  "cert = /c\r\nkey = /k",
	                                  &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.certs[0].key_path, "/k");
	agent_conf_free(&c);
	/* a NUL byte in a file */
	write_file("nul.conf", CONF_CERT "hook\0x = 1\n", sizeof(CONF_CERT "hook\0x = 1\n") - 1,
	           0644);
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	assert_int_equal(agent_conf_load(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "line 6: NUL byte in the line");
	/* a file that is not there */
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(agent_conf_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read"));
	/* a syntax error still names its line */
	assert_int_equal(agent_conf_parse(CONF_CERT "no equals sign\n", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "line 6: syntax error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hook_results_table),
	    cmocka_unit_test(test_hook_timeout_kills_the_group),
	    cmocka_unit_test(test_hook_words_and_environment),
	    cmocka_unit_test(test_conf_line_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
