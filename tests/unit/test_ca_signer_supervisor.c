/*
 * test_ca_signer_supervisor.c - the network side of the signer process
 * against a stand-in supervisor that misbehaves: malformed control messages
 * (too short, a worker index without its socket or with several) and a
 * supervisor that never exits. None may hang this process or leak a
 * descriptor; a real supervisor (this program, exec'd as estd would be)
 * replaces the broken one when a configuration file is known.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include <estkit/pki.h>

#include "ca/signer_proc.h"
#include "ca/signer_wire.h"
#include "ca_testutil.h"

enum fake_act {
	FAKE_SHORT,      /* 3 bytes on ctl: shorter than a header */
	FAKE_NO_SOCKET,  /* a worker index without its socket */
	FAKE_TWO_FDS,    /* a worker index with two sockets attached */
	FAKE_THREE_FDS,  /* three: more than the receiver has room for (MSG_CTRUNC) */
	FAKE_EOF,        /* exits: the supervisor died */
	FAKE_SILENT,     /* nothing more, and no exit on EOF */
};

/* One worker socket as the supervisor sends it (signer_child.c), with nfd copies of fd. */
static void fake_send_worker(int ctl, int idx, int fd, int nfd)
{
	int32_t body[2] = { idx, (int32_t)getpid() };
	int fds[3] = { fd, fd, fd };
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = { body, sizeof(body) };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	if (sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0)
		_exit(3);
}

/*
 * Forks a supervisor stand-in: it hands out nworkers worker sockets whose
 * far ends it closes at once (the first request on one fails with EPIPE,
 * so the network side reads ctl for a replacement), then does act and
 * stays alive, whatever arrives on ctl, until it is killed.
 */
static pid_t fake_supervisor(int nworkers, enum fake_act act, int *ctl)
{
	int sv[2], sp[2], i;
	int32_t hdr[2] = { 0, 1 };
	pid_t pid, parent = getpid();

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* never outlive a failed test */
		if (getppid() != parent)
			_exit(1);
		close(sv[0]);
		for (i = 0; i < nworkers; i++) {
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
				_exit(2);
			fake_send_worker(sv[1], i, sp[0], 1);
			close(sp[0]);
			close(sp[1]);
		}
		if (act == FAKE_EOF)
			_exit(0);
		if (act == FAKE_SHORT && send(sv[1], "abc", 3, MSG_NOSIGNAL) != 3)
			_exit(4);
		if (act == FAKE_NO_SOCKET && send(sv[1], hdr, sizeof(hdr), MSG_NOSIGNAL) < 0)
			_exit(4);
		if (act == FAKE_TWO_FDS || act == FAKE_THREE_FDS) {
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
				_exit(2);
			fake_send_worker(sv[1], 0, sp[0], act == FAKE_TWO_FDS ? 2 : 3);
		}
		for (;;)
			pause();
	}
	close(sv[1]);
	*ctl = sv[0];
	return pid;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Descriptors open in this process. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* 1 when pid is no longer our child (it was reaped by the code under test). */
static int reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/*
 * A stand-in that sends a malformed control message and stays alive must
 * not hang the network side (it used to block in waitpid for ever): it is
 * killed and reaped, and with a configuration file a real supervisor
 * replaces it and signs. Without one, signing fails fast. alarm(): a
 * regression fails the test instead of hanging the suite.
 */
static void test_proc_misbehaving_supervisor_does_not_hang(void **state)
{
	static const struct {
		enum fake_act act;
		int with_config;
		enum estkit_status want;
	} t[] = {
		{ FAKE_SHORT, 1, ESTKIT_OK },
		{ FAKE_NO_SOCKET, 1, ESTKIT_OK },
		{ FAKE_TWO_FDS, 1, ESTKIT_OK },
		{ FAKE_THREE_FDS, 1, ESTKIT_OK },
		{ FAKE_EOF, 1, ESTKIT_OK },
		{ FAKE_SHORT, 0, ESTKIT_ECRYPTO },
		{ FAKE_NO_SOCKET, 0, ESTKIT_ECRYPTO },
		{ FAKE_TWO_FDS, 0, ESTKIT_ECRYPTO },
		{ FAKE_EOF, 0, ESTKIT_ECRYPTO },
	};
	char dir[] = "signerXXXXXX", key[64], cert[64], conf[64], abs[4096];
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509 *ca = tu_ca_cert(k, "Test CA", 30, 1);
	struct estd_config cfg;
	struct estd_signer_proc *p = NULL;
	struct estd_signer_msg req, rsp;
	char *err = NULL;
	size_t i;
	pid_t fake;
	int ctl;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(conf, sizeof(conf), "%s/estd.conf", dir);
	assert_int_equal(estkit_key_save(key, k), ESTKIT_OK);
	fp = fopen(cert, "w");
	PEM_write_X509(fp, ca);
	fclose(fp);
	fp = fopen(conf, "w");
	fprintf(fp, "[server]\ntls_cert = tls.pem\ntls_key = tls.key\n"
		    "[ca]\ncert = ca.pem\nkey = ca.key\nsigner_workers = 2\n");
	fclose(fp);
	assert_non_null(realpath(conf, abs));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long t0 = now_ms();
		int fds = open_fds();

		memset(&cfg, 0, sizeof(cfg));
		cfg.ca_key = key;
		cfg.ca_cert = cert;
		cfg.ca_signer_workers = 2;
		cfg.ca_signer_timeout = 5;
		cfg.path = t[i].with_config ? abs : NULL;
		alarm(60);
		fake = fake_supervisor(2, t[i].act, &ctl);
		assert_int_equal(estd_signer_proc_attach(&cfg, ctl, fake, &p, &err), ESTKIT_OK);
		memset(&req, 0, sizeof(req));
		req.op = ESTD_SIGNER_OP_PUBKEY;
		assert_int_equal(estd_signer_proc_call(p, &req, &rsp), t[i].want);
		if (t[i].want == ESTKIT_OK) {
			/* the replacement is a real supervisor with the CA key */
			assert_int_equal(rsp.status, ESTKIT_OK);
			assert_true(rsp.len > 0);
			assert_true(estd_signer_proc_pid(p) > 0 && estd_signer_proc_pid(p) != fake);
		}
		estd_signer_msg_clear(&rsp);
		assert_true(reaped(fake));
		assert_true(now_ms() - t0 < 15000);
		estd_signer_proc_free(p);
		p = NULL;
		assert_int_equal(open_fds(), fds); /* nothing received was leaked */
		alarm(0);
	}
	unlink(conf);
	unlink(key);
	unlink(cert);
	rmdir(dir);
	X509_free(ca);
	EVP_PKEY_free(k);
}

/* A supervisor that does not exit when its control socket closes is killed, not waited for. */
static void test_proc_free_does_not_wait_for_ever(void **state)
{
	struct estd_config cfg;
	struct estd_signer_proc *p = NULL;
	char *err = NULL;
	long long t0;
	pid_t fake;
	int ctl;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_key = (char *)"unused.key";
	cfg.ca_signer_workers = 2;
	cfg.ca_signer_timeout = 5;
	alarm(60);
	fake = fake_supervisor(2, FAKE_SILENT, &ctl);
	assert_int_equal(estd_signer_proc_attach(&cfg, ctl, fake, &p, &err), ESTKIT_OK);
	t0 = now_ms();
	estd_signer_proc_free(p);
	assert_true(now_ms() - t0 < 10000);
	assert_true(reaped(fake));
	alarm(0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_misbehaving_supervisor_does_not_hang),
		cmocka_unit_test(test_proc_free_does_not_wait_for_ever),
	};

	/* a replacement supervisor is exec'd as /proc/self/exe: this program, as in estd */
	if (argc > 1 && strcmp(argv[1], ESTD_SIGNER_SUPERVISOR_CMD) == 0)
		return estd_signer_supervisor_main(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
