/*
 * agent_hook.c - the post_renew_command of `est agent`: split into words as
 * written (no shell is involved unless the command itself is /bin/sh -c
 * '...'), run with the certificate's paths in the environment, bounded in
 * time.
 *
 * The hook runs in a process group of its own. When it outlives
 * hook_timeout the whole group is killed, not just the program named: a
 * shell script waiting for a stuck child would otherwise leave that child
 * behind, holding the agent's standard error open (a pipe to the journal, or
 * to whoever ran `est agent --once`) long after the agent moved on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define HOOK_BUF 4096

/* Appends c to the word being built; -1 when buf is full. */
static int put(char *buf, size_t bufsz, size_t *n, char c)
{
	if (*n + 1 >= bufsz)
		return -1;
	buf[(*n)++] = c;
	return 0;
}

int agent_hook_split(const char *cmd, char *buf, size_t bufsz, char *argv[AGENT_HOOK_ARGS + 1])
{
	size_t n = 0;
	int argc = 0;
	char quote = 0;
	int inword = 0;

	for (const char *s = cmd;; s++) {
		char c = *s;

		if (c == '\0' && quote != 0)
			return -1; /* unterminated quote */
		if (quote == 0 && (c == '\0' || c == ' ' || c == '\t')) {
			if (inword && put(buf, bufsz, &n, '\0') != 0)
				return -1;
			inword = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (!inword) {
			if (argc == AGENT_HOOK_ARGS)
				return -1;
			argv[argc++] = buf + n;
			inword = 1;
		}
		if (quote == 0 && (c == '"' || c == '\'')) {
			quote = c;
		} else if (c == quote) {
			quote = 0;
		} else if (c == '\\' && quote != '\'' && s[1] != '\0') {
			if (put(buf, bufsz, &n, *++s) != 0)
				return -1;
		} else if (put(buf, bufsz, &n, c) != 0) {
			return -1;
		}
	}
	argv[argc] = NULL;
	if (argc == 0 || argv[0][0] != '/')
		return -1;
	return argc;
}

/* In the child: own process group, stdin from /dev/null, environment, then
 * exec (no PATH search: argv[0] is absolute). */
static void child(const struct agent_cert *ac, char **argv)
{
	sigset_t none;
	int fd = -1;

	/* the daemon blocks its signals to wait for them; the hook must not inherit that */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	if (setpgid(0, 0) != 0)
		_exit(127);
	/* a hook that reads its input must not wait on the agent's terminal or pipe */
	if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, STDIN_FILENO) < 0)
		_exit(127);
	if (fd != STDIN_FILENO)
		close(fd);
	if (setenv("EST_AGENT_NAME", ac->name, 1) != 0 ||
	    setenv("EST_AGENT_CERT", ac->cert_path, 1) != 0 ||
	    setenv("EST_AGENT_KEY", ac->key_path, 1) != 0 ||
	    (ac->chain_path != NULL && setenv("EST_AGENT_CHAIN", ac->chain_path, 1) != 0) ||
	    (ac->fullchain_path != NULL && setenv("EST_AGENT_FULLCHAIN", ac->fullchain_path, 1) != 0))
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

/* Seconds on the monotonic clock (a clock step must not stretch or cut the timeout). */
static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Waits for pid, the leader of its own process group, at most timeout
 * seconds; then kills the group (the program and everything it started
 * that stayed in it) and reaps pid. Returns the wait status, or -1 when
 * it was killed or cannot be waited for.
 */
static int wait_bounded(pid_t pid, long timeout)
{
	struct timespec tick = {0, 50 * 1000 * 1000};
	double deadline = mono_now() + (double)timeout;
	int status = 0;
	pid_t r = 0;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (mono_now() >= deadline) {
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL); /* should setpgid have failed in the child */
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		(void)nanosleep(&tick, NULL);
	}
}

int agent_hook_run(const struct agent_cert *ac, long timeout)
{
	char buf[HOOK_BUF];
	char *argv[AGENT_HOOK_ARGS + 1];
	pid_t pid = 0;
	int status = 0;

	if (ac->hook == NULL)
		return 0;
	if (agent_hook_split(ac->hook, buf, sizeof(buf), argv) <= 0) {
		agent_log(ac->name, "post_renew_command: cannot split \"%s\"", ac->hook);
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		agent_log(ac->name, "post_renew_command: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(ac, argv);
	/* also here, so that the group exists before a kill can target it */
	(void)setpgid(pid, pid);
	status = wait_bounded(pid, timeout);
	if (status == -1) {
		agent_log(ac->name,
		          "post_renew_command %s: killed after %ld s (hook_timeout), "
		          "with the processes it started",
		          argv[0], timeout);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		agent_log(ac->name, "post_renew_command %s: %s %d", argv[0],
		          WIFEXITED(status) ? "exit status" : "killed by signal",
		          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	agent_log(ac->name, "post_renew_command %s: done", argv[0]);
	return 0;
}
