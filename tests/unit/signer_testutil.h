/*
 * signer_testutil.h - a CA whose key lives in a real forked signer process
 * (ca/signer_proc.h), and a parsed profile: what test_ca_signer_proc.c and
 * test_ca_keyless.c share. The CA key and certificate are written to a
 * throw-away directory below the working directory; the key file is removed
 * once the signer has read it.
 */
#ifndef SIGNER_TESTUTIL_H
#define SIGNER_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <estkit/pki.h>

#include "ca/issue.h"
#include "ca/profile.h"
#include "ca/signer.h"
#include "ca/signer_proc.h"
#include "ca_testutil.h"

struct tu_signer_fixture {
	char dir[64];
	char keyfile[96], certfile[96];
	struct estd_config cfg;
	struct estd_signer_proc *proc; /* NULL: the CA signs inline */
	struct estd_ca *ca;
	X509 *cacert;
};

/*
 * A P-256 "Test CA" valid 30 days whose key is held by a signer process
 * with `workers` workers, installed for this process. dir_template is a
 * mkdtemp() template ("nameXXXXXX"). Fails the test on any error.
 */
static inline struct tu_signer_fixture *tu_signer_fixture_new(const char *dir_template,
							      int workers)
{
	struct tu_signer_fixture *f = calloc(1, sizeof(*f));
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	struct estd_signer *s = NULL;
	char *err = NULL;
	FILE *fp = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s", dir_template);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/ca.key", f->dir);
	snprintf(f->certfile, sizeof(f->certfile), "%s/ca.pem", f->dir);
	f->cacert = tu_ca_cert(key, "Test CA", 30, 1);
	assert_int_equal(estkit_key_save(f->keyfile, key), ESTKIT_OK);
	fp = fopen(f->certfile, "w");
	assert_non_null(fp);
	PEM_write_X509(fp, f->cacert);
	fclose(fp);
	EVP_PKEY_free(key);
	f->cfg.ca_key = f->keyfile;
	f->cfg.ca_cert = f->certfile;
	f->cfg.ca_signer_workers = workers;
	f->cfg.ca_signer_timeout = 5;
	assert_int_equal(estd_signer_proc_start(&f->cfg, &f->proc, &err), ESTKIT_OK);
	estd_signer_proc_install(f->proc);
	assert_int_equal(estd_signer_load_cfg(f->keyfile, &f->cfg, &s, &err), ESTKIT_OK);
	assert_int_equal(estd_ca_new(f->cacert, s, &f->ca), ESTKIT_OK);
	unlink(f->keyfile); /* the signer has it; this process must not need it again */
	return f;
}

/* Stops the signer (when there is one), removes the directory, frees f. */
static inline void tu_signer_fixture_free(struct tu_signer_fixture *f)
{
	estd_ca_free(f->ca);
	if (f->proc != NULL) {
		estd_signer_proc_install(NULL);
		estd_signer_proc_free(f->proc);
		unlink(f->certfile);
		rmdir(f->dir);
	}
	X509_free(f->cacert);
	free(f);
}

/* Profile "default": 30 days, digitalSignature, clientAuth, the keys allowed. */
static inline struct estd_ca_profile *tu_profile(const char *allowed_keys)
{
	struct estd_profile src = { (char *)"default", 30, (char *)"digitalSignature",
				    (char *)"clientAuth", (char *)allowed_keys, 1, NULL, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	char err[256];

	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), ESTKIT_OK);
	return p;
}

#endif /* SIGNER_TESTUTIL_H */
