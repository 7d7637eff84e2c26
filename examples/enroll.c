/*
 * enroll.c - a minimal libestkit client: first enrollment with HTTP Basic
 * (RFC 7030 4.2.1), a new EC P-256 key, the certificate and key written to
 * PREFIX.crt and PREFIX.key.
 *
 * Build against the installed library:
 *   cc -o enroll enroll.c $(pkg-config --cflags --libs estkit)
 * Run:
 *   EST_PASSWORD=secret ./enroll https://ca.example:8443 ca.pem estuser CN=dev1 dev1
 * Exit status: 0 issued, 1 failure, 2 usage, 75 pending approval (HTTP 202).
 */
#include <stdio.h>
#include <stdlib.h>

#include <estkit/estkit.h>

int main(int argc, char **argv)
{
	struct estkit_client *c = NULL;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509 *leaf = NULL;
	const char *password = getenv("EST_PASSWORD");
	char crt[4096], keyfile[4096];
	enum estkit_status rc = ESTKIT_EINVAL;
	int ex = 1;

	if (argc != 6 || password == NULL) {
		fprintf(stderr, "usage: EST_PASSWORD=... %s URL CAFILE USER SUBJECT PREFIX\n",
		        argv[0]);
		return 2;
	}
	snprintf(crt, sizeof(crt), "%s.crt", argv[5]);
	snprintf(keyfile, sizeof(keyfile), "%s.key", argv[5]);
	if ((c = estkit_client_new(argv[1])) == NULL) {
		fprintf(stderr, "bad URL %s\n", argv[1]);
		return 2;
	}
	if ((rc = estkit_client_set_trust(c, argv[2])) != ESTKIT_OK ||
	    (rc = estkit_client_set_basic_auth(c, argv[3], password)) != ESTKIT_OK)
		goto out;
	if ((rc = estkit_key_generate("ec:P-256", &key)) != ESTKIT_OK ||
	    (rc = estkit_csr_new(key, argv[4], NULL, 0, NULL, &csr)) != ESTKIT_OK)
		goto out;
	if ((rc = estkit_client_simpleenroll(c, csr, &certs)) != ESTKIT_OK)
		goto out;
	if ((leaf = estkit_certs_find_by_key(certs, key)) == NULL) {
		rc = ESTKIT_EPROTO;
		goto out;
	}
	/* the key first: a certificate file never names a key that is not on disk */
	if ((rc = estkit_key_save(keyfile, key)) != ESTKIT_OK ||
	    (rc = estkit_cert_save(crt, leaf)) != ESTKIT_OK)
		goto out;
	printf("issued: %s and %s\n", crt, keyfile);
	ex = 0;
out:
	if (rc != ESTKIT_OK) {
		fprintf(stderr, "enroll: %s: %s\n", estkit_strerror(rc), estkit_client_errmsg(c));
		ex = rc == ESTKIT_EPENDING ? 75 : 1;
	}
	OSSL_STACK_OF_X509_free(certs);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estkit_client_free(c);
	return ex;
}
