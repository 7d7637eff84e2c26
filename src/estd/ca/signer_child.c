/*
 * signer_child.c - the signer side of the signer process (signer_proc.h):
 * the supervisor, which holds the CA keys read from files and keeps the
 * workers running, and the workers, which check and sign what the network
 * process sends. Neither ever touches the network.
 *
 * Keys in files are read once, by the supervisor, before it forks workers
 * (a worker restarted later inherits them: the file is not read again).
 * PKCS#11 keys (pkcs11: URIs) are opened by each worker after its fork,
 * since a PKCS#11 session does not survive fork().
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <estkit/cmc.h>
#include <estkit/pki.h>

#include "ca/signer.h"
#include "ca/signer_proc.h"
#include "ca/token_open.h"
#include "util.h"

#define RESPAWN_DELAY_MS 1000 /* a worker that dies within this of its start waits this long */
#define MAX_WORKERS 64

struct keys {
	struct estd_signer *s[ESTD_SIGNER_MAX_KEYS];
	X509 *cert[ESTD_SIGNER_MAX_KEYS]; /* the CA certificate of each key: issuer checks */
	char *err[ESTD_SIGNER_MAX_KEYS];  /* why a key could not be loaded */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* File keys in the supervisor (in_worker 0), token keys in each worker (1). */
static void load_keys(const struct estd_config *cfg, struct keys *k, int in_worker)
{
	const char *key[ESTD_SIGNER_MAX_KEYS] = { cfg->ca_key, cfg->ca_next_key };
	const char *cert[ESTD_SIGNER_MAX_KEYS] = { cfg->ca_cert, cfg->ca_next_cert };
	int i;

	for (i = 0; i < ESTD_SIGNER_MAX_KEYS; i++) {
		if (key[i] == NULL)
			continue;
		if (k->cert[i] == NULL && cert[i] != NULL &&
		    estkit_cert_load(cert[i], &k->cert[i]) != ESTKIT_OK)
			k->cert[i] = NULL; /* the network process reports it; we refuse to sign */
		if ((strncmp(key[i], "pkcs11:", 7) == 0) != in_worker || k->s[i] != NULL)
			continue;
		if (estd_signer_load_cfg(key[i], cfg, &k->s[i], &k->err[i]) !=
		    ESTKIT_OK && k->err[i] == NULL)
			k->err[i] = estd_strfmt("cannot load the CA key %s", key[i]);
	}
}

static void free_keys(struct keys *k)
{
	int i;

	for (i = 0; i < ESTD_SIGNER_MAX_KEYS; i++) {
		estd_signer_free(k->s[i]);
		X509_free(k->cert[i]);
		free(k->err[i]);
	}
	memset(k, 0, sizeof(*k));
}

/* Moves fd to 3 and closes every other descriptor above stderr. Returns 3. */
static int keep_only(int fd)
{
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		close(fd);
	}
	close_range(4, ~0U, 0);
	return 3;
}

/* A malloc'd copy of an OpenSSL-allocated DER into the answer. */
static enum estkit_status answer_der(struct estd_signer_msg *rsp, unsigned char *der, int n)
{
	if (n <= 0)
		return ESTKIT_ECRYPTO;
	rsp->data = malloc((size_t)n);
	if (rsp->data == NULL) {
		OPENSSL_free(der);
		return ESTKIT_ENOMEM;
	}
	memcpy(rsp->data, der, (size_t)n);
	rsp->len = (size_t)n;
	OPENSSL_free(der);
	return ESTKIT_OK;
}

static enum estkit_status do_pubkey(struct estd_signer *s, struct estd_signer_msg *rsp)
{
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL;
	enum estkit_status rc = estd_signer_public_key(s, &pub);

	if (rc == ESTKIT_OK)
		rc = answer_der(rsp, der, i2d_PUBKEY(pub, &der));
	EVP_PKEY_free(pub);
	return rc;
}

static enum estkit_status do_cert(const struct keys *k, const struct estd_signer_msg *req,
				  struct estd_signer_msg *rsp, char *why, size_t wlen)
{
	X509 *x = NULL;
	unsigned char *der = NULL;
	enum estkit_status rc;

	rc = estd_signer_check_cert(req->data, req->len,
				    X509_get_subject_name(k->cert[req->key]), &x, why, wlen);
	if (rc == ESTKIT_OK)
		rc = estd_signer_sign_cert(k->s[req->key], x);
	if (rc == ESTKIT_OK)
		rc = answer_der(rsp, der, i2d_X509(x, &der));
	X509_free(x);
	return rc;
}

static enum estkit_status do_crl(const struct keys *k, const struct estd_signer_msg *req,
				 struct estd_signer_msg *rsp, char *why, size_t wlen)
{
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	enum estkit_status rc;

	rc = estd_signer_check_crl(req->data, req->len,
				   X509_get_subject_name(k->cert[req->key]), &crl, why, wlen);
	if (rc == ESTKIT_OK)
		rc = estd_signer_sign_crl(k->s[req->key], crl);
	if (rc == ESTKIT_OK)
		rc = answer_der(rsp, der, i2d_X509_CRL(crl, &der));
	X509_CRL_free(crl);
	return rc;
}

/* RFC 5272 3.2.2: only a well-formed PKIResponse is signed as one. */
static enum estkit_status do_cms(const struct keys *k, const struct estd_signer_msg *req,
				 struct estd_signer_msg *rsp, char *why, size_t wlen)
{
	struct estkit_cmc_resp *r = NULL;
	unsigned char *out = NULL;
	size_t outlen = 0;
	enum estkit_status rc;

	rc = estkit_cmc_resp_decode(req->data, req->len, &r);
	estkit_cmc_resp_free(r);
	if (rc != ESTKIT_OK) {
		snprintf(why, wlen, "not a well-formed CMC PKIResponse");
		return ESTKIT_EPARSE;
	}
	rc = estd_signer_sign_cms(k->s[req->key], k->cert[req->key], req->data, req->len,
				  req->extra, &out, &outlen);
	if (rc == ESTKIT_OK && outlen > 0 && outlen <= ESTD_SIGNER_MAX_FRAME)
		return answer_der(rsp, out, (int)outlen);
	OPENSSL_free(out);
	return rc == ESTKIT_OK ? ESTKIT_ETOOBIG : rc;
}

/* The configuration a worker opens token keys with (set once, in the worker). */
static const struct estd_config *worker_cfg;

struct token_slot {
	struct keys *k;
	int slot;
};

/* One try: load_keys() sets the slot's message, which err points at. */
static enum estkit_status try_token_key(void *arg, char **err)
{
	const struct token_slot *t = arg;

	(void)err;
	load_keys(worker_cfg, t->k, 1);
	return t->k->s[t->slot] != NULL ? ESTKIT_OK : ESTKIT_ENOTFOUND;
}

/*
 * A token key this worker could not open (a token busy with another
 * worker's login, a token plugged in late): try again before refusing,
 * one worker at a time (ca/token_open.h).
 */
static void retry_token_key(struct keys *k, int slot)
{
	struct token_slot t = { k, slot };
	const char *key = NULL;

	if (worker_cfg != NULL)
		key = slot == 0 ? worker_cfg->ca_key : worker_cfg->ca_next_key;
	if (key == NULL || strncmp(key, "pkcs11:", 7) != 0 || k->s[slot] != NULL)
		return;
	(void)estd_token_open_locked(worker_cfg->path, ESTD_TOKEN_ATTEMPTS, ESTD_TOKEN_RETRY_US,
				     try_token_key, &t, NULL, &k->err[slot]);
}

static void handle(struct keys *k, const struct estd_signer_msg *req,
		   struct estd_signer_msg *rsp)
{
	char why[160] = "";
	enum estkit_status rc = ESTKIT_EINVAL;

	rsp->id = req->id;
	if (k->s[req->key] == NULL)
		retry_token_key(k, req->key);
	if (k->s[req->key] == NULL) {
		rsp->status = ESTKIT_ENOTFOUND;
		rsp->reason = estd_strdup(k->err[req->key] != NULL ? k->err[req->key]
								   : "no CA key in this slot");
		return;
	}
	if (req->op != ESTD_SIGNER_OP_PUBKEY && k->cert[req->key] == NULL)
		snprintf(why, sizeof(why), "no CA certificate for this key");
	else if (req->op == ESTD_SIGNER_OP_PUBKEY)
		rc = do_pubkey(k->s[req->key], rsp);
	else if (req->op == ESTD_SIGNER_OP_SIGN_CERT)
		rc = do_cert(k, req, rsp, why, sizeof(why));
	else if (req->op == ESTD_SIGNER_OP_SIGN_CRL)
		rc = do_crl(k, req, rsp, why, sizeof(why));
	else if (req->op == ESTD_SIGNER_OP_SIGN_CMS)
		rc = do_cms(k, req, rsp, why, sizeof(why));
	rsp->status = (int)rc;
	if (rc != ESTKIT_OK) {
		free(rsp->data);
		rsp->data = NULL;
		rsp->len = 0;
		rsp->reason = estd_strdup(why[0] != '\0' ? why : estkit_strerror(rc));
	}
}

/* One request in, one answer out; 0 when the connection is over. */
static int serve_one(int fd, struct keys *k)
{
	struct estd_signer_msg req, rsp;
	unsigned char *body = NULL, *frame = NULL;
	size_t blen = 0, flen = 0;
	enum estkit_status rc;

	memset(&rsp, 0, sizeof(rsp));
	rc = estd_signer_frame_read(fd, -1, &body, &blen);
	if (rc != ESTKIT_OK)
		return 0;
	rc = estd_signer_msg_decode(body, blen, 0, &req);
	free(body);
	if (rc != ESTKIT_OK) {
		/* id 0: the caller sees a mismatch and drops this worker */
		rsp.status = ESTKIT_EPARSE;
		rsp.reason = estd_strdup("malformed request");
	} else {
		handle(k, &req, &rsp);
	}
	estd_signer_msg_clear(&req);
	rc = estd_signer_msg_encode(&rsp, 1, &frame, &flen);
	estd_signer_msg_clear(&rsp);
	if (rc == ESTKIT_OK)
		rc = estd_signer_frame_write(fd, frame, flen);
	free(frame);
	return rc == ESTKIT_OK;
}

static void worker_main(int fd, const struct estd_config *cfg, struct keys *k, pid_t sup)
{
	sigset_t all;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != sup)
		_exit(1);
	prctl(PR_SET_NAME, "estd-signer-w", 0, 0, 0);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	fd = keep_only(fd);
	worker_cfg = cfg;
	retry_token_key(k, 0);
	retry_token_key(k, 1);
	while (serve_one(fd, k))
		;
	free_keys(k);
	_exit(0);
}

/* A status message on ctl (idx ESTD_SIGNER_CTL_OK / _ERR, text after the header). */
static int send_status(int ctl, int idx, const char *text)
{
	char buf[ESTD_SIGNER_CTL_MAX];
	int32_t hdr[2] = { idx, 0 };
	size_t n = text != NULL ? strlen(text) : 0;

	if (n > sizeof(buf) - sizeof(hdr))
		n = sizeof(buf) - sizeof(hdr);
	memcpy(buf, hdr, sizeof(hdr));
	if (n > 0)
		memcpy(buf + sizeof(hdr), text, n);
	return send(ctl, buf, sizeof(hdr) + n, MSG_NOSIGNAL) >= 0 ? 0 : -1;
}

/* Sends worker i's socket to the network process. */
static int send_worker(int ctl, int i, pid_t pid, int fd)
{
	int32_t body[2] = { i, (int32_t)pid };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { body, sizeof(body) };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ctl, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(body) ? 0 : -1;
}

struct sup {
	int ctl, sfd, n;
	pid_t pid[MAX_WORKERS];
	long long started[MAX_WORKERS], due[MAX_WORKERS];
	const struct estd_config *cfg;
	struct estd_config *own_cfg; /* after a reload */
	struct keys k;
};

/* Forks worker i; -1 when the network process is gone. */
static int spawn(struct sup *s, int i)
{
	int sp[2];
	pid_t pid, me = getpid();
	int r;

	s->due[i] = mono_ms() + RESPAWN_DELAY_MS; /* if anything below fails: try again later */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
		return 0;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		close(s->ctl);
		close(s->sfd);
		worker_main(sp[1], s->cfg, &s->k, me);
	}
	close(sp[1]);
	r = pid > 0 ? send_worker(s->ctl, i, pid, sp[0]) : 0;
	close(sp[0]);
	if (pid > 0) {
		s->pid[i] = pid;
		s->started[i] = mono_ms();
	}
	return r;
}

/* Reaps dead workers and schedules their replacement. */
static void reap(struct sup *s)
{
	struct signalfd_siginfo si;
	long long now = mono_ms();
	pid_t pid;
	int st = 0, i;

	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < s->n; i++) {
			if (s->pid[i] != pid)
				continue;
			fprintf(stderr, "estd: signer worker %d (pid %ld) %s %d; starting another\n", i,
				(long)pid, WIFSIGNALED(st) ? "killed by signal" : "exited with",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			s->pid[i] = 0;
			s->due[i] = now - s->started[i] < RESPAWN_DELAY_MS ? now + RESPAWN_DELAY_MS
									   : now;
		}
	}
}

/*
 * SIGHUP in the network process: re-read estd.conf ourselves (the network
 * process only says when) and take its [ca] next_key / next_cert - the
 * current key stays until a restart, as for the network process - then
 * replace every worker so they all hold the new key set.
 */
static int reload(struct sup *s)
{
	struct estd_config *cfg = NULL;
	struct keys nk;
	char *err = NULL;
	int i;

	memset(&nk, 0, sizeof(nk));
	if (estd_config_load(s->cfg->path, &cfg, &err) != ESTKIT_OK) {
		i = send_status(s->ctl, ESTD_SIGNER_CTL_ERR, err != NULL ? err : "cannot reload");
		free(err);
		return i;
	}
	nk.s[0] = s->k.s[0];
	nk.cert[0] = s->k.cert[0];
	nk.err[0] = s->k.err[0];
	s->k.s[0] = NULL;
	s->k.cert[0] = NULL;
	s->k.err[0] = NULL;
	free(cfg->ca_key);
	free(cfg->ca_cert);
	cfg->ca_key = estd_strdup(s->cfg->ca_key);
	cfg->ca_cert = estd_strdup(s->cfg->ca_cert);
	load_keys(cfg, &nk, 0);
	free_keys(&s->k);
	s->k = nk;
	if (s->own_cfg != NULL)
		estd_config_free(s->own_cfg);
	s->own_cfg = cfg;
	s->cfg = cfg;
	for (i = 0; i < s->n; i++) {
		s->pid[i] = 0; /* the old ones exit when the network process closes their socket */
		if (spawn(s, i) != 0)
			return -1;
	}
	return send_status(s->ctl, ESTD_SIGNER_CTL_OK, NULL);
}

/* A message from the network process: only "reload". 0 to go on, -1 when it is gone. */
static int on_ctl(struct sup *s)
{
	int32_t hdr[2];
	ssize_t n = recv(s->ctl, hdr, sizeof(hdr), 0);

	if (n == (ssize_t)sizeof(hdr) && hdr[0] == ESTD_SIGNER_CTL_RELOAD)
		return reload(s);
	return n > 0 ? 0 : -1;
}

/* Until the network process closes ctl: keep n workers. */
static void supervise_loop(struct sup *s)
{
	struct pollfd pfd[2];
	long long now, wait;
	int i;

	for (;;) {
		now = mono_ms();
		wait = -1;
		for (i = 0; i < s->n; i++) {
			if (s->pid[i] > 0)
				continue;
			if (s->due[i] <= now && spawn(s, i) != 0)
				return;
			if (s->pid[i] <= 0 && (wait < 0 || s->due[i] - now < wait))
				wait = s->due[i] - now > 0 ? s->due[i] - now : 1;
		}
		pfd[0] = (struct pollfd){ s->ctl, POLLIN, 0 };
		pfd[1] = (struct pollfd){ s->sfd, POLLIN, 0 };
		if (poll(pfd, 2, (int)wait) < 0 && errno != EINTR)
			return;
		if (pfd[0].revents != 0 && on_ctl(s) != 0)
			return; /* EOF or error: the network process is gone */
		if (pfd[1].revents != 0)
			reap(s);
	}
}

void estd_signer_supervise(int ctl, const struct estd_config *cfg, int nworkers, int parent_pid)
{
	static struct sup s; /* static: a worker forked from here inherits it, not a stack copy */
	struct rlimit nocore = { 0, 0 };
	sigset_t chld;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != (pid_t)parent_pid)
		_exit(1);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, "estd-signer", 0, 0, 0);
	setrlimit(RLIMIT_CORE, &nocore);
	/* a terminal's ^C or a HUP to the process group is for the network process */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.n = nworkers > MAX_WORKERS ? MAX_WORKERS : nworkers;
	s.ctl = keep_only(ctl);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	s.sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s.sfd < 0)
		_exit(1);
	load_keys(cfg, &s.k, 0);
	supervise_loop(&s);
	for (i = 0; i < s.n; i++)
		if (s.pid[i] > 0)
			kill(s.pid[i], SIGTERM);
	for (i = 0; i < s.n; i++)
		if (s.pid[i] > 0)
			waitpid(s.pid[i], NULL, 0);
	free_keys(&s.k);
	estd_config_free(s.own_cfg);
	_exit(0);
}

int estd_signer_supervisor_main(int argc, char **argv)
{
	struct estd_config *cfg = NULL;
	char *err = NULL;
	long long n = 0, ppid = 0;

	if (argc != 4 || estd_parse_ll(argv[2], 1, MAX_WORKERS, &n) != 0 ||
	    estd_parse_ll(argv[3], 1, 0x7fffffff, &ppid) != 0) {
		fprintf(stderr, "estd: %s is started by estd run, not by hand\n",
			ESTD_SIGNER_SUPERVISOR_CMD);
		return 2;
	}
	if (estd_config_load(argv[1], &cfg, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: signer: %s\n", err != NULL ? err : "cannot load the configuration");
		free(err);
		return 1;
	}
	estd_signer_supervise(3, cfg, (int)n, (int)ppid);
}
