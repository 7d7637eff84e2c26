/*
 * backend/command_run.c - one external program, no shell, bounded in time
 * and output (see command_run.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/command_run.h"

/* Seconds between SIGTERM and SIGKILL for a program past its deadline. */
#define KILL_GRACE_MS 1000
/* Longest single poll(): how often the program's exit is looked for. */
#define POLL_TICK_MS 50

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct run {
	pid_t pid;
	int in, out, err;           /* parent ends; -1 when closed */
	size_t inoff;
	struct buf bout, berr;
	long long deadline;         /* monotonic ms */
	int exited;                 /* the program itself has ended (not reaped yet) */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Appends n bytes; -1 when max would be passed or memory ran out. */
static int buf_add(struct buf *b, const unsigned char *d, size_t n, size_t max)
{
	unsigned char *np = NULL;
	size_t cap;

	if (n > max - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 4096 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Reads what is there; closes fd at EOF. -1 when the output is too big. */
static int drain(int *fd, struct buf *b, size_t max)
{
	unsigned char chunk[16384];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, chunk, sizeof(chunk));
		if (n > 0) {
			if (buf_add(b, chunk, (size_t)n, max) != 0)
				return -1;
		} else if (n == 0) {
			close_fd(fd);
		} else if (errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				close_fd(fd);
			break;
		}
	}
	return 0;
}

/* Writes what the pipe takes; closes stdin when all is written or the reader is gone. */
static void feed(struct run *r, const struct estd_cmd_spec *spec)
{
	while (r->in >= 0 && r->inoff < spec->inlen) {
		ssize_t n = write(r->in, spec->input + r->inoff, spec->inlen - r->inoff);

		if (n > 0) {
			r->inoff += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				close_fd(&r->in); /* EPIPE: the program does not want it all */
			return;
		}
	}
	if (r->inoff >= spec->inlen)
		close_fd(&r->in);
}

/* 1 when the program has ended; it stays a zombie (WNOWAIT) so its group id stays ours. */
static int has_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/* Exchanges data until both outputs are closed, the program ended, or the deadline. */
static int pump(struct run *r, const struct estd_cmd_spec *spec, struct estd_cmd_result *res)
{
	struct pollfd pf[3];
	long long left;
	nfds_t n;

	feed(r, spec);
	while (r->out >= 0 || r->err >= 0) {
		left = r->deadline - now_ms();
		if (left <= 0) {
			res->timed_out = 1;
			return -1;
		}
		n = 0;
		if (r->in >= 0)
			pf[n++] = (struct pollfd){ .fd = r->in, .events = POLLOUT };
		if (r->out >= 0)
			pf[n++] = (struct pollfd){ .fd = r->out, .events = POLLIN };
		if (r->err >= 0)
			pf[n++] = (struct pollfd){ .fd = r->err, .events = POLLIN };
		if (poll(pf, n, (int)(left < POLL_TICK_MS ? left : POLL_TICK_MS)) < 0 && errno != EINTR)
			return -1;
		feed(r, spec);
		if (drain(&r->out, &r->bout, spec->max_output) != 0 ||
		    drain(&r->err, &r->berr, spec->max_output) != 0) {
			res->too_big = 1;
			return -1;
		}
		if (!r->exited && has_exited(r->pid)) {
			/* what it wrote is in the pipes; a leftover child may hold them open */
			r->exited = 1;
			if (drain(&r->out, &r->bout, spec->max_output) != 0 ||
			    drain(&r->err, &r->berr, spec->max_output) != 0) {
				res->too_big = 1;
				return -1;
			}
			break;
		}
	}
	return 0;
}

/* Waits (WNOWAIT) until the program ended or until deadline; 1 when it ended. */
static int wait_exit(pid_t pid, long long deadline)
{
	while (!has_exited(pid)) {
		if (now_ms() >= deadline)
			return 0;
		usleep(10000);
	}
	return 1;
}

/* The end: a program past its deadline gets SIGTERM then SIGKILL, its group too; reaped. */
static void finish(struct run *r, struct estd_cmd_result *res, int kill_it)
{
	int status = 0;

	if (!kill_it && !wait_exit(r->pid, r->deadline)) {
		res->timed_out = 1;
		kill_it = 1;
	}
	if (kill_it) {
		kill(-r->pid, SIGTERM);
		if (!wait_exit(r->pid, now_ms() + KILL_GRACE_MS))
			kill(-r->pid, SIGKILL);
	}
	/* whatever it left behind in its process group goes with it */
	kill(-r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signo = WTERMSIG(status);
	}
}

/* posix_spawn with the three pipes as 0, 1, 2, nothing else open, its own group. */
static int spawn(struct run *r, const struct estd_cmd_spec *spec, int fds[6], char *msg,
		 size_t msglen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	static const int reset[] = { SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD,
				     SIGUSR1, SIGUSR2, SIGALRM };
	size_t i;
	int e;

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		sigaddset(&dfl, reset[i]);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_adddup2(&fa, fds[3], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[5], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* estd blocks and ignores signals the program must get as usual */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	e = posix_spawn(&r->pid, spec->argv[0], &fa, &at, spec->argv, spec->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e != 0)
		snprintf(msg, msglen, "cannot run %s: %s", spec->argv[0], strerror(e));
	return e == 0 ? 0 : -1;
}

/* Three pipes (close-on-exec); parent ends non-blocking. */
static int make_pipes(int fds[6])
{
	int i;

	for (i = 0; i < 3; i++)
		if (pipe2(fds + 2 * i, O_CLOEXEC) != 0)
			return -1;
	return fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[2], F_SETFL, O_NONBLOCK) == 0 &&
			       fcntl(fds[4], F_SETFL, O_NONBLOCK) == 0
		       ? 0
		       : -1;
}

/* See command_run.h. */
enum estkit_status estd_command_exec(const struct estd_cmd_spec *spec, struct estd_cmd_result *res,
				char *msg, size_t msglen)
{
	struct run r;
	int fds[6] = { -1, -1, -1, -1, -1, -1 };
	enum estkit_status rc = ESTKIT_EIO;
	int i, broke;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.in = r.out = r.err = -1;
	if (make_pipes(fds) != 0) {
		snprintf(msg, msglen, "cannot create pipes: %s", strerror(errno));
		goto out;
	}
	r.deadline = now_ms() + spec->timeout_ms;
	if (spawn(&r, spec, fds, msg, msglen) != 0)
		goto out;
	/* the child's ends now belong to the child only */
	close_fd(&fds[0]);
	close_fd(&fds[3]);
	close_fd(&fds[5]);
	r.in = fds[1], r.out = fds[2], r.err = fds[4];
	fds[1] = fds[2] = fds[4] = -1;
	broke = pump(&r, spec, res) != 0;
	close_fd(&r.in);
	close_fd(&r.out);
	close_fd(&r.err);
	finish(&r, res, broke);
	res->out = r.bout.p, res->outlen = r.bout.len;
	res->err = (char *)r.berr.p, res->errlen = r.berr.len;
	r.bout.p = r.berr.p = NULL;
	rc = ESTKIT_OK;
out:
	for (i = 0; i < 6; i++)
		close_fd(&fds[i]);
	free(r.bout.p);
	free(r.berr.p);
	return rc;
}

/* See command_run.h. */
void estd_cmd_result_clear(struct estd_cmd_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}
