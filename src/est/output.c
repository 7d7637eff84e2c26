/*
 * output.c - writing the files of an enrollment: key.pem, cert.pem, chain.pem.
 *
 * Order matters for a crash: the key and certificate are written in full
 * under temporary names first, then key.pem is renamed into place, then
 * cert.pem. A new cert.pem therefore never appears before its key; a crash
 * between the two renames leaves the new certificate at .cert.pem.new
 * next to the new key.pem, from where it can be moved by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common.h"

struct paths {
	char key[PATH_MAX];
	char key_tmp[PATH_MAX];
	char cert[PATH_MAX];
	char cert_tmp[PATH_MAX];
	char chain[PATH_MAX];
};

static int join(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	return (n < 0 || n >= PATH_MAX) ? -1 : 0;
}

static int make_paths(const char *dir, struct paths *p)
{
	if (join(p->key, dir, "key.pem") || join(p->key_tmp, dir, ".key.pem.new") ||
	    join(p->cert, dir, "cert.pem") || join(p->cert_tmp, dir, ".cert.pem.new") ||
	    join(p->chain, dir, "chain.pem"))
		return -1;
	return 0;
}

static int ensure_dir(const char *cmd, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		est_err(cmd, "--out %s is not a directory", dir);
		return -1;
	}
	if (mkdir(dir, 0755) != 0) {
		est_err(cmd, "cannot create directory %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* The chain to store: the response's other certificates, else the leaf's issuer from cas. */
static STACK_OF(X509) * pick_chain(X509 *leaf, STACK_OF(X509) * chain, STACK_OF(X509) * cas)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	int i = 0;

	if (out == NULL)
		return NULL;
	if (chain != NULL && sk_X509_num(chain) > 0) {
		for (i = 0; i < sk_X509_num(chain); i++)
			if (!sk_X509_push(out, sk_X509_value(chain, i)))
				break;
		return out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		if (X509_check_issued(sk_X509_value(cas, i), leaf) == X509_V_OK) {
			(void)sk_X509_push(out, sk_X509_value(cas, i));
			break;
		}
	}
	return out;
}

static int write_chain(const char *cmd, const struct paths *p, X509 *leaf, STACK_OF(X509) * chain,
                       STACK_OF(X509) * cas, FILE *f)
{
	STACK_OF(X509) *use = pick_chain(leaf, chain, cas);
	enum estkit_status rc = ESTKIT_OK;

	if (use == NULL) {
		est_err(cmd, "out of memory");
		return EST_EXIT_FAIL;
	}
	if (sk_X509_num(use) > 0) {
		rc = estkit_certs_save(p->chain, use);
		if (rc == ESTKIT_OK)
			fprintf(f, "  %s\n", p->chain);
		else
			est_err(cmd, "cannot write %s: %s", p->chain, estkit_strerror(rc));
	} else {
		fprintf(f,
		        "  (no chain.pem: the server sent no chain and --cacert has no issuer)\n");
	}
	sk_X509_free(use); /* borrowed pointers */
	return rc == ESTKIT_OK ? EST_EXIT_OK : EST_EXIT_FAIL;
}

int est_write_enrollment(const char *cmd, const char *dir, X509 *leaf, STACK_OF(X509) * chain,
                         EVP_PKEY *key, STACK_OF(X509) * cas, FILE *f)
{
	struct paths p;
	enum estkit_status rc = ESTKIT_OK;

	if (ensure_dir(cmd, dir) != 0)
		return EST_EXIT_FAIL;
	if (make_paths(dir, &p) != 0) {
		est_err(cmd, "--out %s: path too long", dir);
		return EST_EXIT_FAIL;
	}
	if (key != NULL && (rc = estkit_key_save(p.key_tmp, key)) != ESTKIT_OK) {
		est_err(cmd, "cannot write %s: %s", p.key_tmp, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	if ((rc = estkit_cert_save(p.cert_tmp, leaf)) != ESTKIT_OK) {
		est_err(cmd, "cannot write %s: %s", p.cert_tmp, estkit_strerror(rc));
		goto fail;
	}
	if (key != NULL && rename(p.key_tmp, p.key) != 0) {
		est_err(cmd, "cannot rename %s to %s: %s", p.key_tmp, p.key, strerror(errno));
		goto fail;
	}
	if (rename(p.cert_tmp, p.cert) != 0) {
		est_err(cmd, "cannot rename %s to %s: %s (the new key is in %s)", p.cert_tmp,
		        p.cert, strerror(errno), p.key);
		return EST_EXIT_FAIL;
	}
	sync_dir(dir);
	fprintf(f, "Files written:\n");
	if (key != NULL)
		fprintf(f, "  %s (private key, mode 0600)\n", p.key);
	fprintf(f, "  %s\n", p.cert);
	return write_chain(cmd, &p, leaf, chain, cas, f);
fail:
	(void)unlink(p.cert_tmp);
	if (key != NULL)
		(void)unlink(p.key_tmp);
	return EST_EXIT_FAIL;
}
