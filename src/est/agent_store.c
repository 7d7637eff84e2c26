/*
 * agent_store.c - the files of `est agent`: how a new key and certificate
 * replace the old ones so that a crash at any instant leaves either the old
 * pair or the new pair, never a mix.
 *
 * Two files cannot be renamed together atomically, so the pair is never
 * renamed at all. Each issued pair lives in its own generation directory
 * STORE/g-SERIAL/ (key.pem, cert.pem, chain.pem, fullchain.pem), written in
 * full and fsync'ed (files, then the directory) before anything points at
 * it. STORE/current is a symbolic link to the generation in use; replacing
 * it (symlink to current.tmp, then rename(2) over current) is the one atomic
 * commit. The configured output paths (cert = ..., key = ...) are symbolic
 * links to STORE/current/cert.pem and STORE/current/key.pem, so they switch
 * together with that single rename. STORE/prev names the generation before
 * (the "previous pair"; CERT.prev and KEY.prev link to it).
 *
 * A crash before the rename leaves current on the old generation and a
 * stray directory, removed by agent_store_prepare() at the next start; a
 * crash after it leaves current on the new, complete generation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "common.h"


static int path_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int agent_store_path(const struct agent_cert *ac, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/current/%s", ac->store, file);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* mkdir -p with mode for the directories it creates. */
static int mkdirs(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	size_t i;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static int mkparent(const char *path)
{
	char buf[PATH_MAX];
	char *slash = NULL;
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	if ((slash = strrchr(buf, '/')) == NULL || slash == buf)
		return 0;
	*slash = '\0';
	return mkdirs(buf, 0755);
}

/* Points link at target atomically (a temporary link renamed over it). */
static int set_link(const char *target, const char *link)
{
	char tmp[PATH_MAX];
	char cur[PATH_MAX];
	ssize_t n = readlink(link, cur, sizeof(cur) - 1);

	if (n >= 0) {
		cur[n] = '\0';
		if (strcmp(cur, target) == 0)
			return 0;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-agent", link) >= (int)sizeof(tmp))
		return -1;
	(void)unlink(tmp);
	if (symlink(target, tmp) != 0)
		return -1;
	if (rename(tmp, link) != 0) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* The generation name STORE/LINK points at ("" when none). */
static void link_target(const char *store, const char *name, char *out, size_t len)
{
	char p[PATH_MAX];
	ssize_t n = -1;

	out[0] = '\0';
	if (path_join(p, sizeof(p), store, name) != 0)
		return;
	n = readlink(p, out, len - 1);
	out[n >= 0 ? n : 0] = '\0';
}

/* PEM text of what write_pem is given into a new memory BIO. */
static BIO *pem_of(X509 *cert, STACK_OF(X509) *certs, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b != NULL;
	int i;

	if (ok && key != NULL)
		ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (ok && cert != NULL)
		ok = PEM_write_bio_X509(b, cert) == 1;
	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(certs, i)) == 1;
	if (!ok) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

/*
 * Creates dir/name exclusively (owner-only while written), writes the PEM,
 * gives it owner/group/mode, fsyncs. Key bytes are wiped from memory.
 */
static int write_file(const struct agent_cert *ac, const char *dir, const char *name,
                      mode_t mode, X509 *cert, STACK_OF(X509) *certs, EVP_PKEY *key)
{
	char path[PATH_MAX];
	BIO *b = pem_of(cert, certs, key);
	char *data = NULL;
	long len = b != NULL ? BIO_get_mem_data(b, &data) : 0;
	int fd = -1;
	int rc = -1;

	path[0] = '\0'; /* named in the failure message even when pem_of() failed */
	if (b == NULL || path_join(path, sizeof(path), dir, name) != 0)
		goto out;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto out;
	if (len > 0 && write(fd, data, (size_t)len) != (ssize_t)len)
		goto out;
	if ((ac->owner >= 0 || ac->group >= 0) &&
	    fchown(fd, (uid_t)ac->owner, (gid_t)ac->group) != 0)
		goto out;
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		agent_log(ac->name, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (key != NULL && data != NULL && len > 0)
		OPENSSL_cleanse(data, (size_t)len);
	BIO_free(b);
	return rc;
}

/* A new, empty generation directory named after the serial. */
static int new_generation(const struct agent_cert *ac, X509 *leaf, char *name, size_t len,
                          char *dir, size_t dirlen)
{
	char *serial = NULL;
	int i;

	if (estkit_cert_serial_hex(leaf, &serial) != ESTKIT_OK)
		return -1;
	for (i = 0; i < 100; i++) {
		if (snprintf(name, len, i == 0 ? "g-%.40s" : "g-%.40s-%d", serial, i) >= (int)len ||
		    path_join(dir, dirlen, ac->store, name) != 0)
			break;
		if (mkdir(dir, 0755) == 0) {
			estkit_free(serial);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	estkit_free(serial);
	return -1;
}

/* The chain file's content: the given chain, else the leaf's issuer among the trust anchors. */
static STACK_OF(X509) *chain_for(const struct agent_cert *ac, X509 *leaf, STACK_OF(X509) *chain)
{
	STACK_OF(X509) *cas = NULL;
	STACK_OF(X509) *out = NULL;
	int i;

	if (chain != NULL && sk_X509_num(chain) > 0)
		return X509_chain_up_ref(chain);
	if ((out = sk_X509_new_null()) == NULL)
		return NULL;
	if (estkit_certs_load(ac->trust, &cas) != ESTKIT_OK) {
		ERR_clear_error();
		return out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		X509 *ca = sk_X509_value(cas, i);

		if (X509_check_issued(ca, leaf) == X509_V_OK && X509_up_ref(ca)) {
			if (!sk_X509_push(out, ca))
				X509_free(ca);
			break;
		}
	}
	est_certs_free(cas);
	return out;
}

static int write_generation(const struct agent_cert *ac, const char *dir, X509 *leaf,
                            STACK_OF(X509) *chain, EVP_PKEY *key)
{
	STACK_OF(X509) *ch = chain_for(ac, leaf, chain);
	int rc = -1;

	if (ch == NULL)
		return -1;
	if (write_file(ac, dir, "key.pem", ac->key_mode, NULL, NULL, key) == 0 &&
	    write_file(ac, dir, "cert.pem", ac->cert_mode, leaf, NULL, NULL) == 0 &&
	    write_file(ac, dir, "chain.pem", ac->cert_mode, NULL, ch, NULL) == 0 &&
	    write_file(ac, dir, "fullchain.pem", ac->cert_mode, leaf, ch, NULL) == 0)
		rc = 0;
	est_certs_free(ch);
	if (rc == 0)
		sync_dir(dir);
	return rc;
}

/* Removes a generation directory (flat: files only). */
static void remove_generation(const char *store, const char *name)
{
	char dir[PATH_MAX];
	char p[PATH_MAX];
	DIR *d = NULL;
	struct dirent *e = NULL;

	if (path_join(dir, sizeof(dir), store, name) != 0 || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && path_join(p, sizeof(p), dir, e->d_name) == 0)
			(void)unlink(p);
	closedir(d);
	(void)rmdir(dir);
}

/* Removes every generation that neither current nor prev names, and stray temporaries. */
static void collect_garbage(const struct agent_cert *ac)
{
	char cur[PATH_MAX], prev[PATH_MAX], p[PATH_MAX];
	DIR *d = opendir(ac->store);
	struct dirent *e = NULL;

	if (d == NULL)
		return;
	link_target(ac->store, "current", cur, sizeof(cur));
	link_target(ac->store, "prev", prev, sizeof(prev));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "g-", 2) == 0 && strcmp(e->d_name, cur) != 0 &&
		    strcmp(e->d_name, prev) != 0)
			remove_generation(ac->store, e->d_name);
		else if (strstr(e->d_name, ".tmp-agent") != NULL &&
		         path_join(p, sizeof(p), ac->store, e->d_name) == 0)
			(void)unlink(p);
	}
	closedir(d);
}

/* Output links: cert/key/chain/fullchain -> STORE/current/..., CERT.prev -> STORE/prev/... */
static int set_output_links(const struct agent_cert *ac)
{
	const char *paths[] = {ac->cert_path, ac->key_path, ac->chain_path, ac->fullchain_path};
	const char *files[] = {"cert.pem", "key.pem", "chain.pem", "fullchain.pem"};
	char target[PATH_MAX], prevlink[PATH_MAX], prev[PATH_MAX];
	size_t i;

	link_target(ac->store, "prev", prev, sizeof(prev));
	for (i = 0; i < 4; i++) {
		if (paths[i] == NULL)
			continue;
		if (agent_store_path(ac, files[i], target, sizeof(target)) != 0 ||
		    mkparent(paths[i]) != 0 || set_link(target, paths[i]) != 0) {
			agent_log(ac->name, "cannot link %s to %s: %s", paths[i], target,
			          strerror(errno));
			return -1;
		}
		if (i >= 2 || prev[0] == '\0')
			continue;
		if (snprintf(prevlink, sizeof(prevlink), "%s.prev", paths[i]) >= (int)sizeof(prevlink) ||
		    snprintf(target, sizeof(target), "%s/prev/%s", ac->store, files[i]) >=
		        (int)sizeof(target) ||
		    set_link(target, prevlink) != 0)
			agent_log(ac->name, "warning: cannot link %s.prev", paths[i]);
	}
	return 0;
}

int agent_store_install(const struct agent_cert *ac, X509 *leaf, STACK_OF(X509) *chain,
                        EVP_PKEY *key)
{
	char name[128], dir[PATH_MAX], cur[PATH_MAX], link[PATH_MAX];

	if (mkdirs(ac->store, 0755) != 0 ||
	    new_generation(ac, leaf, name, sizeof(name), dir, sizeof(dir)) != 0) {
		agent_log(ac->name, "cannot create a directory in %s: %s", ac->store,
		          strerror(errno));
		return -1;
	}
	if (write_generation(ac, dir, leaf, chain, key) != 0) {
		remove_generation(ac->store, name);
		return -1;
	}
	link_target(ac->store, "current", cur, sizeof(cur));
	if (cur[0] != '\0' && (path_join(link, sizeof(link), ac->store, "prev") != 0 ||
	                       set_link(cur, link) != 0))
		agent_log(ac->name, "warning: cannot keep the previous pair: %s", strerror(errno));
	/* The commit: one rename switches key and certificate together. */
	if (path_join(link, sizeof(link), ac->store, "current") != 0 || set_link(name, link) != 0) {
		agent_log(ac->name, "cannot switch %s to %s: %s", link, name, strerror(errno));
		remove_generation(ac->store, name);
		return -1;
	}
	sync_dir(ac->store);
	collect_garbage(ac);
	return set_output_links(ac);
}

enum estkit_status agent_store_current(const struct agent_cert *ac, X509 **cert, EVP_PKEY **key)
{
	char cp[PATH_MAX], kp[PATH_MAX];
	struct stat st;
	enum estkit_status rc = ESTKIT_EINTERNAL;

	*cert = NULL;
	*key = NULL;
	if (agent_store_path(ac, "cert.pem", cp, sizeof(cp)) != 0 ||
	    agent_store_path(ac, "key.pem", kp, sizeof(kp)) != 0)
		return ESTKIT_EINVAL;
	if (stat(cp, &st) != 0 && errno == ENOENT)
		return ESTKIT_ENOTFOUND;
	if ((rc = estkit_cert_load(cp, cert)) != ESTKIT_OK ||
	    (rc = estkit_key_load(kp, key)) != ESTKIT_OK) {
		X509_free(*cert);
		*cert = NULL;
		ERR_clear_error();
		return rc;
	}
	return ESTKIT_OK;
}

/* First run on files the user already has (e.g. from `est enroll`): adopt them. */
static int import_existing(const struct agent_cert *ac)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	struct stat st;
	int rc = 0;

	if (lstat(ac->cert_path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    lstat(ac->key_path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0; /* nothing to import */
	if (estkit_cert_load(ac->cert_path, &cert) != ESTKIT_OK ||
	    estkit_key_load(ac->key_path, &key) != ESTKIT_OK || !X509_check_private_key(cert, key)) {
		agent_log(ac->name, "not importing %s and %s: not a matching certificate and key",
		          ac->cert_path, ac->key_path);
		goto out;
	}
	if (ac->chain_path != NULL && lstat(ac->chain_path, &st) == 0 && S_ISREG(st.st_mode) &&
	    estkit_certs_load(ac->chain_path, &chain) != ESTKIT_OK)
		chain = NULL;
	agent_log(ac->name, "importing the existing %s and %s", ac->cert_path, ac->key_path);
	rc = agent_store_install(ac, cert, chain, key);
out:
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	est_certs_free(chain);
	return rc;
}

int agent_store_prepare(const struct agent_cert *ac)
{
	char cur[PATH_MAX];

	if (mkdirs(ac->store, 0755) != 0) {
		agent_log(ac->name, "cannot create %s: %s", ac->store, strerror(errno));
		return -1;
	}
	link_target(ac->store, "current", cur, sizeof(cur));
	if (cur[0] == '\0')
		return import_existing(ac);
	collect_garbage(ac);
	return set_output_links(ac);
}

int agent_store_lock(const struct agent_cert *ac)
{
	char p[PATH_MAX];
	int fd = -1;

	if (mkdirs(ac->store, 0755) != 0 || path_join(p, sizeof(p), ac->store, "lock") != 0) {
		agent_log(ac->name, "cannot create %s: %s", ac->store, strerror(errno));
		return -1;
	}
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		agent_log(ac->name, "cannot open %s: %s", p, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		agent_log(ac->name, "another est agent is working on it (%s is locked)", p);
		close(fd);
		return -1;
	}
	return fd;
}
