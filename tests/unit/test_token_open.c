/*
 * test_token_open.c - estd_token_open_locked() (ca/token_open.h): the tries
 * and the lock every estd process opens a PKCS#11 token key under. The tries
 * here are scripted; the real token (SoftHSM2) is driven by tests/e2e.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca/token_open.h"
#include "tmpdir_testutil.h"
#include "util.h"

/* A scripted token: try i (from 0) returns status[i] (the last one after that). */
struct script {
	enum estkit_status status[4];
	int nstatus;
	int with_msg;          /* each failed try says "try <n>" */
	const char *lock_path; /* when set, each try checks that the lock is held */
	int tries;
	int lock_held;         /* tries that found the lock held */
};

static enum estkit_status scripted_try(void *arg, char **err)
{
	struct script *s = arg;
	enum estkit_status rc;
	int fd;

	assert_non_null(err);
	assert_null(*err); /* the previous try's message was freed */
	rc = s->status[s->tries < s->nstatus ? s->tries : s->nstatus - 1];
	s->tries++;
	if (s->lock_path != NULL) {
		fd = open(s->lock_path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
			s->lock_held++;
		close(fd);
	}
	if (rc != ESTKIT_OK && s->with_msg)
		*err = estd_strfmt("try %d", s->tries);
	return rc;
}

static void test_tries_until_ok_eio_or_the_bound(void **state)
{
	static const struct {
		const char *name;
		struct script script;
		int attempts;
		const char *what;
		enum estkit_status rc;
		int tries;
		const char *err; /* NULL: no message */
	} cases[] = {
		{"first try", {{ESTKIT_OK}, 1, 1, NULL, 0, 0}, 10, "k", ESTKIT_OK, 1, NULL},
		{"third try", {{ESTKIT_ENOTFOUND, ESTKIT_ENOTFOUND, ESTKIT_OK}, 3, 1, NULL, 0, 0},
		 10, "k", ESTKIT_OK, 3, NULL},
		{"never: the bound", {{ESTKIT_ENOTFOUND}, 1, 1, NULL, 0, 0}, 4, "k",
		 ESTKIT_ENOTFOUND, 4, "try 4"},
		{"one attempt", {{ESTKIT_ECRYPTO}, 1, 1, NULL, 0, 0}, 1, "k", ESTKIT_ECRYPTO, 1,
		 "try 1"},
		{"PIN file: no retry", {{ESTKIT_ENOTFOUND, ESTKIT_EIO, ESTKIT_OK}, 3, 1, NULL, 0, 0},
		 10, "k", ESTKIT_EIO, 2, "try 2"},
		{"no message: named", {{ESTKIT_ENOTFOUND}, 1, 0, NULL, 0, 0}, 2,
		 "the TLS key pkcs11:token=t", ESTKIT_ENOTFOUND, 2,
		 "cannot open the TLS key pkcs11:token=t"},
		{"no message, no name", {{ESTKIT_ENOTFOUND}, 1, 0, NULL, 0, 0}, 2, NULL,
		 ESTKIT_ENOTFOUND, 2, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = cases[i].script;
		char *err = estd_strdup("stale"); /* freed before the first try */

		assert_int_equal(estd_token_open_locked(NULL, cases[i].attempts, 0, scripted_try,
							&s, cases[i].what, &err),
				 cases[i].rc);
		assert_int_equal(s.tries, cases[i].tries);
		if (cases[i].err == NULL)
			assert_null(err);
		else
			assert_string_equal(err, cases[i].err);
		free(err);
	}
}

static void test_bad_arguments_are_refused_before_any_try(void **state)
{
	static const struct {
		int attempts;
		unsigned pause_us;
		int with_fn;
	} cases[] = {
		{0, 0, 1}, {-1, 0, 1}, {1001, 0, 1}, {1, 1000001u, 1}, {1, 0, 0},
	};
	struct script s = {{ESTKIT_OK}, 1, 0, NULL, 0, 0};
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(estd_token_open_locked(NULL, cases[i].attempts, cases[i].pause_us,
							cases[i].with_fn ? scripted_try : NULL,
							&s, "k", &err),
				 ESTKIT_EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, "attempts must be 1..1000"));
		free(err);
		err = NULL;
	}
	assert_int_equal(s.tries, 0);
	assert_int_equal(estd_token_open_locked(NULL, 1, 0, scripted_try, &s, "k", NULL),
			 ESTKIT_EINVAL);
	assert_int_equal(s.tries, 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pause_between_tries_only(void **state)
{
	struct script s = {{ESTKIT_ENOTFOUND}, 1, 0, NULL, 0, 0};
	char *err = NULL;
	double t0 = now_s();

	(void)state;
	assert_int_equal(estd_token_open_locked(NULL, 3, 100000u, scripted_try, &s, NULL, &err),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(s.tries, 3);
	assert_true(now_s() - t0 >= 0.19); /* two pauses, none before the first try */
}

/* The lock file: held during every try, released after, never created or changed. */
static void test_lock_on_the_config_file(void **state)
{
	char dir[512], conf[600], missing[600];
	struct script s = {{ESTKIT_ENOTFOUND, ESTKIT_OK}, 2, 0, NULL, 0, 0};
	struct stat st;
	char *err = NULL;
	FILE *f = NULL;
	int fd;

	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "estkit-token"), 0);
	snprintf(conf, sizeof(conf), "%s/estd.conf", dir);
	snprintf(missing, sizeof(missing), "%s/absent.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[ca]\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(conf, 0600), 0);

	s.lock_path = conf;
	assert_int_equal(estd_token_open_locked(conf, 5, 0, scripted_try, &s, "k", &err),
			 ESTKIT_OK);
	assert_int_equal(s.tries, 2);
	assert_int_equal(s.lock_held, 2);
	fd = open(conf, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0); /* released */
	close(fd);
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 5);

	/* A lock file that cannot be opened: the tries run without a lock. */
	s.tries = 0;
	s.lock_path = NULL;
	assert_int_equal(estd_token_open_locked(missing, 5, 0, scripted_try, &s, "k", &err),
			 ESTKIT_OK);
	assert_int_equal(s.tries, 2);
	assert_int_equal(stat(missing, &st), -1);
	free(err);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* Another process holding the lock: the first try waits until it lets go. */
static void test_waits_for_another_process(void **state)
{
	char dir[512], conf[600], c;
	struct script s = {{ESTKIT_OK}, 1, 0, NULL, 0, 0};
	char *err = NULL;
	int p[2], fd, status;
	double t0;
	pid_t pid;

	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "estkit-token"), 0);
	snprintf(conf, sizeof(conf), "%s/estd.conf", dir);
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(conf, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		_exit(0); /* the lock goes with the process */
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	t0 = now_s();
	assert_int_equal(estd_token_open_locked(conf, 1, 0, scripted_try, &s, "k", &err),
			 ESTKIT_OK);
	assert_true(now_s() - t0 >= 0.2);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(err);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tries_until_ok_eio_or_the_bound),
		cmocka_unit_test(test_bad_arguments_are_refused_before_any_try),
		cmocka_unit_test(test_pause_between_tries_only),
		cmocka_unit_test(test_lock_on_the_config_file),
		cmocka_unit_test(test_waits_for_another_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
