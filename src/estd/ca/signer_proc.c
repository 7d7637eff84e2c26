/*
 * signer_proc.c - the network process's side of the signer process: start
 * the supervisor, keep one socket per worker, and do round trips on them
 * (signer_proc.h). Each worker is single-threaded and serves one request at
 * a time, so each socket has its own mutex and a caller takes the first
 * free one: N workers sign N requests at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <estkit/server.h>

#include "ca/signer_proc.h"
#include "util.h"

#define MAX_WORKERS 64
#define AUTO_WORKERS_MAX 8
#define START_WAIT_MS 10000  /* the first sockets: forking is quick */
#define REPLACE_WAIT_MS 5000 /* a replacement worker's socket (or a new supervisor's) */
#define RESPAWN_MIN_MS 1000  /* between two supervisor restarts */
#define REAP_WAIT_MS 3000    /* for a supervisor told to stop (EOF on ctl), then SIGKILL */

extern char **environ;

struct worker {
	pthread_mutex_t mu;
	int fd;    /* -1: dead, waiting for a replacement */
	pid_t pid; /* the worker (a child of the supervisor) */
};

struct estd_signer_proc {
	pid_t pid;             /* the supervisor */
	int ctl;               /* SOCK_SEQPACKET to the supervisor: new worker sockets */
	int nworkers;
	struct worker *w;
	pthread_mutex_t ctl_mu; /* guards ctl, pending*, ctl_dead; taken after a worker's mu */
	int *pending_fd;        /* a replacement received for worker i, not yet installed */
	pid_t *pending_pid;
	int ctl_dead;
	char *paths[ESTD_SIGNER_MAX_KEYS];
	char *config_path;      /* for a replacement supervisor; NULL: none (tests) */
	long long last_respawn; /* CLOCK_MONOTONIC ms */
	int timeout_ms;
	atomic_uint next_id;
	atomic_uint rr;
	estd_signer_log_fn log;
	void *log_ctx;
};

static struct estd_signer_proc *installed;

static void plog(struct estd_signer_proc *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void plog(struct estd_signer_proc *p, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (p->log != NULL)
		p->log(p->log_ctx, level, buf);
	else
		fprintf(stderr, "estd: %s\n", buf);
}

/*
 * The one descriptor a control message carries: -1 for none, -2 when it
 * is malformed (truncated, or anything but one SCM_RIGHTS descriptor);
 * every descriptor received is closed then, none is leaked.
 */
static int ctl_fd(struct msghdr *mh)
{
	struct cmsghdr *c;
	int fd = -1, n = 0, bad = (mh->msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0, one;
	size_t k, nfd;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			bad = 1;
			continue;
		}
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nfd; k++, n++) {
			memcpy(&one, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (n == 0)
				fd = one;
			else
				close(one);
		}
	}
	if (n > 1 || (bad && n > 0)) {
		close(fd);
		return -2;
	}
	return bad ? -2 : fd;
}

/*
 * One control message: worker index and pid (2 x int32) with its socket
 * (SCM_RIGHTS), or a status (index < 0, *fd -1, text into msg). 1 on a
 * message; 0 on EOF (supervisor gone); -1 on a malformed one.
 */
static int recv_ctl(int ctl, int *idx, pid_t *pid, int *fd, char *msg, size_t mlen)
{
	char body[ESTD_SIGNER_CTL_MAX];
	int32_t hdr[2];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { body, sizeof(body) };
	struct msghdr mh;
	ssize_t n;
	size_t t;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	*fd = -1;
	do
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return -1;
	*fd = ctl_fd(&mh);
	if (*fd == -2 || n < (ssize_t)sizeof(hdr)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -1;
	}
	memcpy(hdr, body, sizeof(hdr));
	*idx = hdr[0];
	*pid = hdr[1];
	if (*idx >= 0)
		return *fd >= 0 ? 1 : -1;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	t = (size_t)n - sizeof(hdr);
	if (msg != NULL && mlen > 0) {
		if (t >= mlen)
			t = mlen - 1;
		memcpy(msg, body + sizeof(hdr), t);
		msg[t] = '\0';
	}
	return 1;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Descriptor 3 of the new supervisor is sv; never 3 itself (dup2(3, 3) keeps close-on-exec). */
static int spawn_supervisor(struct estd_signer_proc *p, int sv, pid_t *pid)
{
	char workers[16], ppid[16];
	char *argv[] = { (char *)"estd", (char *)ESTD_SIGNER_SUPERVISOR_CMD, p->config_path,
			 workers, ppid, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int rc;

	snprintf(workers, sizeof(workers), "%d", p->nworkers);
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, sv, 3);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/*
 * Reaps the supervisor without ever waiting for it unboundedly: one that
 * sent a malformed control message (kill_now) is alive and would never
 * exit on its own, so it is killed first; one that should be exiting (EOF
 * on ctl, or ctl closed by us) gets wait_ms, then SIGKILL. ctl_mu held or
 * no other thread left. p->pid is -1 afterwards.
 */
static void reap_supervisor(struct estd_signer_proc *p, int kill_now, int wait_ms)
{
	int waited = 0;
	pid_t r;

	if (p->pid <= 0)
		return;
	if (kill_now)
		kill(p->pid, SIGKILL);
	while ((r = waitpid(p->pid, NULL, WNOHANG)) == 0 && waited < wait_ms) {
		usleep(10000);
		waited += 10;
	}
	if (r == 0) {
		plog(p, ESTKIT_LOG_ERROR, "the signer supervisor (pid %ld) did not exit within %d ms; "
					  "killed it", (long)p->pid, wait_ms);
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
}

/*
 * The supervisor died (killed from outside: it has no input to crash on).
 * This process has threads now, so a new one is exec'd, reading estd.conf
 * and the key files again; at most once a second. The old one is reaped
 * already (reap_supervisor). ctl_mu held. 0 on success.
 */
static int respawn(struct estd_signer_proc *p)
{
	int sv[2] = { -1, -1 }, tmp;
	pid_t pid = -1;
	long long now = mono_ms();

	if (p->config_path == NULL || (p->last_respawn != 0 && now - p->last_respawn < RESPAWN_MIN_MS))
		return -1;
	p->last_respawn = now;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if (sv[1] == 3) {
		tmp = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
		close(sv[1]);
		sv[1] = tmp;
	}
	if (sv[1] < 0 || spawn_supervisor(p, sv[1], &pid) != 0) {
		close(sv[0]);
		if (sv[1] >= 0)
			close(sv[1]);
		return -1;
	}
	close(sv[1]);
	close(p->ctl);
	p->ctl = sv[0];
	p->pid = pid;
	plog(p, ESTKIT_LOG_WARN, "the signer supervisor died; started another (pid %ld), which "
				 "reads the CA key files again", (long)pid);
	return 0;
}

/*
 * Receives one message within wait_ms: a worker socket goes to pending_*;
 * a status is returned in *status (else left alone). ctl_mu held.
 */
static void drain_ctl(struct estd_signer_proc *p, int wait_ms, int *status, char *msg,
		      size_t mlen)
{
	struct pollfd pfd = { p->ctl, POLLIN, 0 };
	int idx = 0, fd = -1, r;
	pid_t pid = 0;

	while (!p->ctl_dead) {
		pfd.revents = 0;
		r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		r = recv_ctl(p->ctl, &idx, &pid, &fd, msg, mlen);
		if (r < 0)
			plog(p, ESTKIT_LOG_ERROR, "the signer supervisor (pid %ld) sent a malformed "
						  "control message; stopping it", (long)p->pid);
		/* EOF: it has exited (or is exiting); a protocol error: it is alive, kill it */
		if (r <= 0)
			reap_supervisor(p, r < 0, REAP_WAIT_MS);
		if (r <= 0 && respawn(p) == 0)
			continue;
		if (r <= 0) {
			p->ctl_dead = 1;
			plog(p, ESTKIT_LOG_ERROR, "the signer supervisor is gone: CA signing is "
						  "unavailable until estd is restarted");
			return;
		}
		if (idx < 0) {
			if (status != NULL)
				*status = idx;
			return;
		}
		if (idx >= p->nworkers) {
			close(fd);
			continue;
		}
		if (p->pending_fd[idx] >= 0)
			close(p->pending_fd[idx]);
		p->pending_fd[idx] = fd;
		p->pending_pid[idx] = pid;
		return;
	}
}

/* Installs worker i's replacement, waiting up to wait_ms; w->mu held. 1 when w->fd is usable. */
static int replace(struct estd_signer_proc *p, int i, int wait_ms)
{
	struct worker *w = &p->w[i];

	pthread_mutex_lock(&p->ctl_mu);
	if (p->pending_fd[i] < 0)
		drain_ctl(p, 0, NULL, NULL, 0);
	/* others' sockets may arrive first: keep reading until ours does or time runs out */
	while (p->pending_fd[i] < 0 && !p->ctl_dead && wait_ms > 0) {
		drain_ctl(p, wait_ms > 100 ? 100 : wait_ms, NULL, NULL, 0);
		wait_ms -= 100;
	}
	if (p->pending_fd[i] >= 0) {
		if (w->fd >= 0)
			close(w->fd);
		w->fd = p->pending_fd[i];
		w->pid = p->pending_pid[i];
		p->pending_fd[i] = -1;
	}
	pthread_mutex_unlock(&p->ctl_mu);
	return w->fd >= 0;
}

/* The worker at i is dead or stuck: drop its socket (and the process, if stuck). */
static void drop(struct estd_signer_proc *p, int i, int kill_it)
{
	struct worker *w = &p->w[i];

	if (kill_it && w->pid > 0)
		kill(w->pid, SIGKILL);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* Locks a free worker if there is one, else waits for the next in turn. */
static int take_worker(struct estd_signer_proc *p)
{
	unsigned start = atomic_fetch_add(&p->rr, 1);
	int i, k;

	for (k = 0; k < p->nworkers; k++) {
		i = (int)((start + (unsigned)k) % (unsigned)p->nworkers);
		if (pthread_mutex_trylock(&p->w[i].mu) == 0)
			return i;
	}
	i = (int)(start % (unsigned)p->nworkers);
	pthread_mutex_lock(&p->w[i].mu);
	return i;
}

/* Sends frame on worker i and reads the answer; w->mu held. */
static enum estkit_status round_trip(struct estd_signer_proc *p, int i, const unsigned char *frame,
				     size_t flen, uint32_t id, struct estd_signer_msg *rsp)
{
	unsigned char *body = NULL;
	size_t blen = 0;
	enum estkit_status rc = ESTKIT_ENET;
	int attempt;

	for (attempt = 0; attempt < 2 && rc == ESTKIT_ENET; attempt++) {
		if (p->w[i].fd < 0 && !replace(p, i, REPLACE_WAIT_MS))
			return ESTKIT_ECRYPTO;
		/* EPIPE on send: the worker died while idle, nothing is in flight: retry once */
		rc = estd_signer_frame_write(p->w[i].fd, frame, flen);
		if (rc != ESTKIT_OK) {
			plog(p, ESTKIT_LOG_WARN, "signer worker %d (pid %ld) is gone; using its "
						 "replacement", i, (long)p->w[i].pid);
			drop(p, i, 0);
		}
	}
	if (rc != ESTKIT_OK)
		return ESTKIT_ECRYPTO;
	rc = estd_signer_frame_read(p->w[i].fd, p->timeout_ms, &body, &blen);
	if (rc == ESTKIT_OK)
		rc = estd_signer_msg_decode(body, blen, 1, rsp);
	if (rc == ESTKIT_OK && rsp->id != id) {
		estd_signer_msg_clear(rsp);
		rc = ESTKIT_EPROTO;
	}
	free(body);
	if (rc != ESTKIT_OK) {
		plog(p, ESTKIT_LOG_ERROR, "signer worker %d (pid %ld): %s; replacing it", i,
		     (long)p->w[i].pid, rc == ESTKIT_ETIMEOUT ? "no answer in time"
				       : rc == ESTKIT_ENET ? "died during a request"
							     : "bad answer");
		drop(p, i, 1);
		return ESTKIT_ECRYPTO;
	}
	return ESTKIT_OK;
}

enum estkit_status estd_signer_proc_call(struct estd_signer_proc *p, struct estd_signer_msg *req,
					 struct estd_signer_msg *rsp)
{
	unsigned char *frame = NULL;
	size_t flen = 0;
	enum estkit_status rc;
	int i;

	if (rsp != NULL)
		memset(rsp, 0, sizeof(*rsp));
	if (p == NULL || req == NULL || rsp == NULL)
		return ESTKIT_EINVAL;
	req->id = atomic_fetch_add(&p->next_id, 1);
	rc = estd_signer_msg_encode(req, 0, &frame, &flen);
	if (rc != ESTKIT_OK)
		return rc;
	i = take_worker(p);
	rc = round_trip(p, i, frame, flen, req->id, rsp);
	pthread_mutex_unlock(&p->w[i].mu);
	if (rc == ESTKIT_OK && rsp->status != ESTKIT_OK && req->op != ESTD_SIGNER_OP_PUBKEY)
		plog(p, ESTKIT_LOG_ERROR, "the signer refused a request: %s",
		     rsp->reason != NULL ? rsp->reason : "no reason");
	free(frame);
	return rc;
}

static int workers_for(const struct estd_config *cfg)
{
	long n;

	if (cfg->ca_signer_workers > 0)
		return cfg->ca_signer_workers > MAX_WORKERS ? MAX_WORKERS : cfg->ca_signer_workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > AUTO_WORKERS_MAX ? AUTO_WORKERS_MAX : (int)n;
}

static struct estd_signer_proc *proc_new(const struct estd_config *cfg)
{
	struct estd_signer_proc *p = calloc(1, sizeof(*p));
	int i;

	if (p == NULL)
		return NULL;
	p->pid = -1;
	p->ctl = -1;
	p->nworkers = workers_for(cfg);
	p->timeout_ms = cfg->ca_signer_timeout * 1000;
	pthread_mutex_init(&p->ctl_mu, NULL);
	p->w = calloc((size_t)p->nworkers, sizeof(*p->w));
	p->pending_fd = calloc((size_t)p->nworkers, sizeof(int));
	p->pending_pid = calloc((size_t)p->nworkers, sizeof(pid_t));
	p->paths[0] = estd_strdup(cfg->ca_key);
	if (cfg->path != NULL)
		p->config_path = estd_strdup(cfg->path);
	if (cfg->ca_next_key != NULL)
		p->paths[1] = estd_strdup(cfg->ca_next_key);
	if (p->w == NULL || p->pending_fd == NULL || p->pending_pid == NULL || p->paths[0] == NULL ||
	    (cfg->ca_next_key != NULL && p->paths[1] == NULL)) {
		estd_signer_proc_free(p);
		return NULL;
	}
	for (i = 0; i < p->nworkers; i++) {
		pthread_mutex_init(&p->w[i].mu, NULL);
		p->w[i].fd = -1;
		p->pending_fd[i] = -1;
	}
	return p;
}

/* Waits for every worker's first socket. */
static enum estkit_status first_sockets(struct estd_signer_proc *p, char **err)
{
	int i;

	for (i = 0; i < p->nworkers; i++) {
		if (!replace(p, i, START_WAIT_MS)) {
			*err = estd_strfmt("the signer process did not start (worker %d)", i);
			return ESTKIT_EINTERNAL;
		}
	}
	return ESTKIT_OK;
}

enum estkit_status estd_signer_proc_attach(const struct estd_config *cfg, int ctl, pid_t pid,
					   struct estd_signer_proc **out, char **err)
{
	struct estd_signer_proc *p = NULL;

	*out = NULL;
	*err = NULL;
	if ((p = proc_new(cfg)) == NULL) {
		close(ctl);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		*err = estd_strfmt("out of memory");
		return ESTKIT_ENOMEM;
	}
	p->ctl = ctl;
	p->pid = pid;
	if (first_sockets(p, err) != ESTKIT_OK) {
		estd_signer_proc_free(p);
		return ESTKIT_EINTERNAL;
	}
	*out = p;
	return ESTKIT_OK;
}

enum estkit_status estd_signer_proc_start(const struct estd_config *cfg,
					  struct estd_signer_proc **out, char **err)
{
	int sv[2] = { -1, -1 };
	pid_t parent = getpid(), pid;

	*out = NULL;
	*err = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		*err = estd_strfmt("socketpair: %s", strerror(errno));
		return ESTKIT_EINTERNAL;
	}
	fflush(NULL); /* the child must not write our buffered output again */
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		estd_signer_supervise(sv[1], cfg, workers_for(cfg), (int)parent);
	}
	close(sv[1]);
	if (pid < 0) {
		*err = estd_strfmt("fork: %s", strerror(errno));
		close(sv[0]);
		return ESTKIT_EINTERNAL;
	}
	/* no core dumps or ptrace reads of the network process either (docs/security.md) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return estd_signer_proc_attach(cfg, sv[0], pid, out, err);
}

/* New key paths from cfg; 0 when memory ran out. */
static int set_paths(struct estd_signer_proc *p, const struct estd_config *cfg)
{
	char *next = cfg->ca_next_key != NULL ? estd_strdup(cfg->ca_next_key) : NULL;

	if (cfg->ca_next_key != NULL && next == NULL)
		return 0;
	free(p->paths[1]);
	p->paths[1] = next;
	return 1;
}

enum estkit_status estd_signer_proc_reload(struct estd_signer_proc *p,
					   const struct estd_config *cfg, char **err)
{
	int32_t hdr[2] = { ESTD_SIGNER_CTL_RELOAD, 0 };
	char msg[ESTD_SIGNER_CTL_MAX] = "";
	int status = 0, waited, i;

	*err = NULL;
	pthread_mutex_lock(&p->ctl_mu);
	if (p->ctl_dead || send(p->ctl, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr))
		status = ESTD_SIGNER_CTL_ERR;
	/* the new workers' sockets come first, then the status */
	for (waited = 0; status == 0 && !p->ctl_dead && waited < START_WAIT_MS; waited += 100)
		drain_ctl(p, 100, &status, msg, sizeof(msg));
	pthread_mutex_unlock(&p->ctl_mu);
	if (status != ESTD_SIGNER_CTL_OK) {
		*err = estd_strfmt("the signer process could not reload: %s",
				   msg[0] != '\0' ? msg : "no answer");
		return ESTKIT_EINTERNAL;
	}
	for (i = 0; i < p->nworkers; i++) {
		pthread_mutex_lock(&p->w[i].mu);
		replace(p, i, START_WAIT_MS); /* closes the old worker's socket: it exits */
		pthread_mutex_unlock(&p->w[i].mu);
	}
	if (!set_paths(p, cfg)) {
		*err = estd_strfmt("out of memory");
		return ESTKIT_ENOMEM;
	}
	return ESTKIT_OK;
}

void estd_signer_proc_free(struct estd_signer_proc *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; p->w != NULL && p->pending_fd != NULL && i < p->nworkers; i++) {
		if (p->w[i].fd >= 0)
			close(p->w[i].fd);
		if (p->pending_fd[i] >= 0)
			close(p->pending_fd[i]);
		pthread_mutex_destroy(&p->w[i].mu);
	}
	/* EOF on ctl tells the supervisor to stop its workers and exit */
	if (p->ctl >= 0)
		close(p->ctl);
	reap_supervisor(p, 0, REAP_WAIT_MS);
	pthread_mutex_destroy(&p->ctl_mu);
	for (i = 0; i < ESTD_SIGNER_MAX_KEYS; i++)
		free(p->paths[i]);
	free(p->config_path);
	free(p->w);
	free(p->pending_fd);
	free(p->pending_pid);
	free(p);
}

void estd_signer_proc_set_log(struct estd_signer_proc *p, estd_signer_log_fn fn, void *ctx)
{
	p->log = fn;
	p->log_ctx = ctx;
}

int estd_signer_proc_slot(const struct estd_signer_proc *p, const char *path)
{
	int i;

	for (i = 0; p != NULL && path != NULL && i < ESTD_SIGNER_MAX_KEYS; i++)
		if (p->paths[i] != NULL && strcmp(p->paths[i], path) == 0)
			return i;
	return -1;
}

pid_t estd_signer_proc_pid(const struct estd_signer_proc *p)
{
	return p != NULL ? p->pid : -1;
}

void estd_signer_proc_install(struct estd_signer_proc *p)
{
	installed = p;
}

struct estd_signer_proc *estd_signer_proc_installed(void)
{
	return installed;
}
