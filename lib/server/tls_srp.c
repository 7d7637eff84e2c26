/*
 * tls_srp.c - TLS-SRP (RFC 5054) on the server: certificate-less mutual
 * authentication (RFC 7030 3.3.3). The verifier file, the lookup during a
 * handshake, the user name of an SRP connection.
 *
 * A deliberate departure: OpenSSL 3.0 deprecates its SRP API and offers no
 * replacement (no provider implements TLS-SRP), while the rest of estkit
 * builds with OPENSSL_NO_DEPRECATED. So this one file is compiled with the
 * deprecated declarations visible and silenced (CMakeLists.txt,
 * docs/design.md "TLS-SRP through the deprecated API"); every SRP call of the
 * server is here. The client needs none: libcurl does its side.
 *
 * RFC 5054 2.5.1.3: a name that is not in the file must not be told apart
 * from a wrong password. SRP_VBASE_get1_by_user() simulates such a user with
 * a salt derived from a seed key and the name (the same salt every time) and
 * a random verifier, in the group of the file's users; the handshake then
 * fails exactly where a wrong password fails, at the client's Finished.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/srp.h>
#include <openssl/ssl.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

#define SRP_FILE_FIELDS 6
#define SRP_NAME_MAX    255
#define SRP_SEED_LEN    32
#define SRP_LINE_MAX    8192 /* an 8192-bit verifier is ~1400 base64 bytes */

struct ek_srp {
	pthread_mutex_t mu;
	SRP_VBASE *vb;   /* [mu] replaced by a reload */
	char *file;
	char seed[2 * 1024 + 1]; /* hex of the seed key: SRP_VBASE_new() wants a string */
};

static pthread_once_t srp_once = PTHREAD_ONCE_INIT;
static int tried_exidx = -1; /* non-NULL once the username callback ran for an SSL */

static void srp_exidx_init(void)
{
	tried_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The SRP base64 alphabet of `openssl srp` (t_tob64): digits, letters, '.', '/'. */
static int srp_b64_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' || s[i] == '/'))
			return 0;
	return 1;
}

/* A user name we log and match in policy: printable ASCII, no space, 1..255 bytes. */
static int srp_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > SRP_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* Splits line (no newline) at tabs into f[]/len[]; the number of fields. */
static int split_fields(const char *line, size_t n, const char *f[SRP_FILE_FIELDS + 1],
			size_t len[SRP_FILE_FIELDS + 1])
{
	const char *p = line, *end = line + n, *tab = NULL;
	int k = 0;

	for (;;) {
		tab = memchr(p, '\t', (size_t)(end - p));
		if (k <= SRP_FILE_FIELDS) {
			f[k] = p;
			len[k] = (size_t)((tab != NULL ? tab : end) - p);
		}
		k++;
		if (tab == NULL)
			return k;
		p = tab + 1;
	}
}

/* The group id of a line names a standard RFC 5054 group of 2048 bits or more. */
static int group_known(const char *id, size_t n)
{
	char name[16];

	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, id, n);
	name[n] = '\0';
	return SRP_get_default_gN(name) != NULL && strcmp(name, "1024") != 0 &&
	       strcmp(name, "1536") != 0;
}

/* One line of the file; 0 or -1 with msg. */
static int check_line(const char *line, size_t n, int *nusers, char *msg, size_t msglen)
{
	const char *f[SRP_FILE_FIELDS + 1];
	size_t fl[SRP_FILE_FIELDS + 1];
	int k;

	if (n > SRP_LINE_MAX)
		return snprintf(msg, msglen, "longer than %d bytes", SRP_LINE_MAX), -1;
	k = split_fields(line, n, f, fl);
	if (k != SRP_FILE_FIELDS)
		return snprintf(msg, msglen, "%d tab-separated fields, want %d", k,
				SRP_FILE_FIELDS), -1;
	/*
	 * 'I' lines bring groups of their own: unchecked sizes, and OpenSSL 3.0
	 * leaks them on every load. The RFC 5054 groups are what `openssl srp`
	 * uses by default.
	 */
	if (fl[0] == 1 && f[0][0] == DB_SRP_INDEX)
		return snprintf(msg, msglen, "custom groups (I lines) are not supported: use a "
				"standard one (-gn 2048, 3072, 4096, 6144 or 8192)"), -1;
	if (fl[0] != 1 || strchr("VRv", f[0][0]) == NULL)
		return snprintf(msg, msglen, "type is not V, R or v"), -1;
	if (!srp_b64_ok(f[1], fl[1]) || !srp_b64_ok(f[2], fl[2]))
		return snprintf(msg, msglen, "verifier or salt is not SRP base64"), -1;
	if (!srp_name_ok(f[3], fl[3]))
		return snprintf(msg, msglen, "user name is empty, too long or not printable ASCII"),
		       -1;
	if (f[0][0] != DB_SRP_VALID)
		return 0; /* revoked and pending users do not authenticate */
	if (!group_known(f[4], fl[4]))
		return snprintf(msg, msglen, "user %.*s: group '%.*s' is unknown or smaller than "
				"2048 bits", (int)fl[3], f[3], (int)(fl[4] > 16 ? 16 : fl[4]),
				f[4]), -1;
	(*nusers)++;
	return 0;
}

/* See server_internal.h. */
int ek_srp_check_file(const unsigned char *buf, size_t len, int *nusers, char *msg,
		      size_t msglen)
{
	const char *line = (const char *)buf, *end = (const char *)buf + len, *nl = NULL;
	char why[160];
	int lineno = 0;

	*nusers = 0;
	if (memchr(buf, '\0', len) != NULL)
		return snprintf(msg, msglen, "contains a NUL byte"), -1;
	for (; line < end; line = nl + 1) {
		lineno++;
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		if (check_line(line, (size_t)(nl - line), nusers, why, sizeof(why)) != 0)
			return snprintf(msg, msglen, "line %d: %s", lineno, why), -1;
	}
	return 0;
}

/*
 * The group simulated users get: the first user's, so that an unknown name
 * looks like the known ones (OpenSSL would take its largest group, or the
 * file's last index line). A file without users keeps OpenSSL's choice.
 */
static void default_group(SRP_VBASE *vb)
{
	const SRP_user_pwd *u = NULL;
	const SRP_gN *gn = NULL;

	if (sk_SRP_user_pwd_num(vb->users_pwd) > 0) {
		u = sk_SRP_user_pwd_value(vb->users_pwd, 0);
		vb->default_g = u->g;
		vb->default_N = u->N;
	} else if (vb->default_N == NULL && (gn = SRP_get_default_gN("3072")) != NULL) {
		vb->default_g = gn->g;
		vb->default_N = gn->N;
	}
}

/* See server_internal.h. */
enum estkit_status ek_srp_load(const char *file, const char *seed, SRP_VBASE **out, int *nusers,
			       char *msg, size_t msglen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	SRP_VBASE *vb = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	char why[200];

	*out = NULL;
	rc = estkit_file_read(file, &buf, &len);
	if (rc != ESTKIT_OK) {
		snprintf(msg, msglen, "SRP verifier file %s: %s", file, estkit_strerror(rc));
		rc = rc == ESTKIT_ETOOBIG ? ESTKIT_EINVAL : ESTKIT_EIO;
		goto out;
	}
	rc = ESTKIT_EINVAL;
	if (ek_srp_check_file(buf, len, nusers, why, sizeof(why)) != 0) {
		snprintf(msg, msglen, "SRP verifier file %s: %s", file, why);
		goto out;
	}
	rc = ESTKIT_ENOMEM;
	if ((vb = SRP_VBASE_new((char *)seed)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	rc = ESTKIT_EINVAL;
	/* the file may have changed since it was checked: compare the count too */
	if (SRP_VBASE_init(vb, (char *)file) != SRP_NO_ERROR ||
	    sk_SRP_user_pwd_num(vb->users_pwd) != *nusers) {
		snprintf(msg, msglen, "SRP verifier file %s: OpenSSL cannot load it", file);
		goto out;
	}
	default_group(vb);
	*out = vb;
	vb = NULL;
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	SRP_VBASE_free(vb);
	estkit_free_secret(buf, len); /* verifiers allow an offline dictionary attack */
	return rc;
}

/* See server_internal.h. */
void ek_srp_vbase_free(struct SRP_VBASE_st *vb)
{
	SRP_VBASE_free(vb);
}

/* See server_internal.h. */
int ek_srp_vbase_lookup(struct SRP_VBASE_st *vb, const char *name, unsigned char *salt,
			size_t *saltlen, int *group_bits)
{
	SRP_user_pwd *u = SRP_VBASE_get1_by_user(vb, (char *)name);
	int rc = -1;

	if (u == NULL || u->s == NULL || u->N == NULL || BN_num_bytes(u->s) > (int)*saltlen)
		goto out;
	*saltlen = (size_t)BN_bn2bin(u->s, salt);
	*group_bits = BN_num_bits(u->N);
	rc = 0;
out:
	SRP_user_pwd_free(u);
	return rc;
}

/*
 * During the handshake, once the client's user name is known and an SRP
 * suite chosen: the user's verifier, or a simulated one (never "unknown").
 * A locked-out address (brute-force protection) gets no more guesses.
 */
static int username_cb(SSL *ssl, int *ad, void *arg)
{
	struct estkit_server *srv = arg;
	struct ek_srp *srp = srv->srp;
	char *name = SSL_get_srp_username(ssl);
	SRP_user_pwd *u = NULL;
	unsigned char addr[EK_ADDRKEY_LEN];
	int ok = 0;

	*ad = SSL_AD_INTERNAL_ERROR;
	if (ek_addrkey_fd(SSL_get_fd(ssl), addr, NULL, 0) == 0 &&
	    ek_authfail_locked_key(srv->authfail, addr, ek_authfail_now()) > 0) {
		*ad = SSL_AD_ACCESS_DENIED;
		return SSL3_AL_FATAL; /* refused, not a guess: not counted again */
	}
	SSL_set_ex_data(ssl, tried_exidx, srv);
	if (name == NULL)
		return SSL3_AL_FATAL;
	pthread_mutex_lock(&srp->mu);
	u = SRP_VBASE_get1_by_user(srp->vb, name);
	pthread_mutex_unlock(&srp->mu);
	if (u != NULL)
		ok = SSL_set_srp_server_param(ssl, u->N, u->g, u->s, u->v, NULL) > 0;
	SRP_user_pwd_free(u);
	return ok ? SSL_ERROR_NONE : SSL3_AL_FATAL;
}

/* The seed key as hex: given (copied) or random. 0 or -1. */
static int seed_hex(const struct estkit_server_config *cfg, char *out, size_t outsz)
{
	unsigned char rnd[SRP_SEED_LEN];
	const unsigned char *k = cfg->srp_seed;
	size_t n = cfg->srp_seed_len, i;

	if (k == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		k = rnd;
		n = sizeof(rnd);
	}
	if (n < 16 || 2 * n + 1 > outsz)
		return -1;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", k[i]);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}

/* The file allows offline guessing of every password in it: say so when others can read it. */
static void warn_mode(struct estkit_server *srv, const char *file)
{
	struct stat st;

	if (stat(file, &st) == 0 && (st.st_mode & 077) != 0)
		ek_server_log(srv, ESTKIT_LOG_WARN,
			      "TLS-SRP: %s is readable by group or others (mode %04o); its "
			      "verifiers allow offline password guessing: chmod 0600",
			      file, (unsigned)(st.st_mode & 07777));
}

/* See server_internal.h. */
int ek_srp_setup(struct estkit_server *srv)
{
	struct ek_srp *srp = NULL;
	char msg[400];
	int n = 0;

	if (srv->cfg.srp_verifier_file == NULL)
		return 0;
	if (pthread_once(&srp_once, srp_exidx_init) != 0 || tried_exidx < 0 ||
	    (srp = OPENSSL_zalloc(sizeof(*srp))) == NULL) {
		ek_server_err(srv, 0, "out of memory");
		return -1;
	}
	pthread_mutex_init(&srp->mu, NULL);
	srv->srp = srp;
	if ((srp->file = OPENSSL_strdup(srv->cfg.srp_verifier_file)) == NULL ||
	    seed_hex(&srv->cfg, srp->seed, sizeof(srp->seed)) != 0) {
		ek_server_err(srv, 0, "srp_seed: 16..1024 bytes");
		return -1;
	}
	srv->cfg.srp_verifier_file = srp->file;
	srv->cfg.srp_seed = NULL; /* copied into srp->seed, never kept */
	if (ek_srp_load(srp->file, srp->seed, &srp->vb, &n, msg, sizeof(msg)) != ESTKIT_OK) {
		ek_server_err(srv, 0, "%s", msg);
		return -1;
	}
	SSL_CTX_set_srp_cb_arg(srv->ssl_ctx, srv);
	if (SSL_CTX_set_srp_username_callback(srv->ssl_ctx, username_cb) != 1) {
		ek_server_err(srv, 1, "TLS-SRP");
		return -1;
	}
	ek_server_log(srv, ESTKIT_LOG_INFO, "TLS-SRP: %d user%s from %s", n, n == 1 ? "" : "s",
		      srp->file);
	warn_mode(srv, srp->file);
	return 0;
}

/* See server_internal.h. */
void ek_srp_free(struct ek_srp *srp)
{
	if (srp == NULL)
		return;
	SRP_VBASE_free(srp->vb);
	OPENSSL_free(srp->file);
	OPENSSL_cleanse(srp->seed, sizeof(srp->seed));
	pthread_mutex_destroy(&srp->mu);
	OPENSSL_free(srp);
}

/* See estkit/server.h. */
enum estkit_status estkit_server_srp_reload(struct estkit_server *srv)
{
	SRP_VBASE *vb = NULL, *old = NULL;
	char msg[400];
	enum estkit_status rc;
	int n = 0;

	if (srv == NULL || srv->srp == NULL) {
		if (srv != NULL)
			ek_server_err(srv, 0, "no srp_verifier_file configured");
		return ESTKIT_EINVAL;
	}
	rc = ek_srp_load(srv->srp->file, srv->srp->seed, &vb, &n, msg, sizeof(msg));
	if (rc != ESTKIT_OK) {
		ek_server_err(srv, 0, "%s (the verifiers loaded before stay in use)", msg);
		return rc;
	}
	pthread_mutex_lock(&srv->srp->mu);
	old = srv->srp->vb;
	srv->srp->vb = vb;
	pthread_mutex_unlock(&srv->srp->mu);
	SRP_VBASE_free(old);
	ek_server_log(srv, ESTKIT_LOG_INFO, "TLS-SRP: reloaded %d user%s from %s", n,
		      n == 1 ? "" : "s", srv->srp->file);
	warn_mode(srv, srv->srp->file);
	return ESTKIT_OK;
}

/* See server_internal.h. */
int ek_srp_tried(const SSL *ssl)
{
	return tried_exidx >= 0 && SSL_get_ex_data(ssl, tried_exidx) != NULL;
}

/* See server_internal.h. */
char *ek_tls_srp_user(SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const char *name = NULL;

	/*
	 * Only a finished full handshake with an SRP key exchange proved the
	 * password of the name it looked up. A resumed session (none should be:
	 * tls.c makes SRP sessions not resumable) proves nothing about the name
	 * its ClientHello carries.
	 */
	if (c == NULL || SSL_CIPHER_get_kx_nid(c) != NID_kx_srp || !SSL_is_init_finished(ssl) ||
	    SSL_session_reused(ssl) || !ek_srp_tried(ssl) ||
	    (name = SSL_get_srp_username(ssl)) == NULL)
		return NULL;
	return OPENSSL_strdup(name);
}
