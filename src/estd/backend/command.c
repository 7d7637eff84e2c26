/*
 * backend/command.c - backend = command: the request on the program's stdin,
 * its context in ESTD_* variables, its exit status and stdout the answer
 * (contract in command_out.h). Runs on a job-pool thread, at most
 * command_concurrency programs of a label at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <estkit/pki.h>

#include "backend/ca.h"
#include "backend/command.h"
#include "backend/command_out.h"
#include "backend/command_run.h"
#include "util.h"

/* See command.h. */
char **estd_command_env(const struct estd_cmd_ctx *ctx)
{
	const struct {
		const char *name;
		const char *value;
	} vars[] = {
		{ "ESTD_OP", ctx->op },
		{ "ESTD_LABEL", ctx->label },
		{ "ESTD_USER", ctx->user },
		{ "ESTD_IDENTITY", ctx->identity },
		{ "ESTD_CLIENT_CERT", ctx->client_cert },
		{ "ESTD_CLIENT_SUBJECT", ctx->client_subject },
		{ "ESTD_CHANNEL_BINDING", ctx->binding },
		{ "ESTD_PEER", ctx->peer },
		{ "ESTD_CSR_SUBJECT", ctx->csr_subject },
		{ "ESTD_CSR_SANS", ctx->csr_sans },
	};
	size_t n = sizeof(vars) / sizeof(vars[0]), i;
	char **env = calloc(n + 2, sizeof(*env));

	if (env == NULL)
		return NULL;
	/* a clean environment: nothing of estd's own leaks to the program */
	env[0] = estd_strdup("PATH=/usr/bin:/bin");
	if (env[0] == NULL)
		goto err;
	for (i = 0; i < n; i++) {
		env[i + 1] = estd_strfmt("%s=%s", vars[i].name,
					 vars[i].value != NULL ? vars[i].value : "");
		if (env[i + 1] == NULL)
			goto err;
	}
	return env;
err:
	estd_ext_argv_free(env);
	return NULL;
}

/* PEM of cert (malloc'd), or NULL. */
static char *cert_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long n;

	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
		n = BIO_get_mem_data(bio, &data);
		if (n > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
			memcpy(pem, data, (size_t)n);
			pem[n] = '\0';
		}
	}
	BIO_free(bio);
	return pem;
}

/* The strings of the request the environment is made of. */
struct ctx_bufs {
	char *client_cert, *client_subject, *csr_subject, *csr_sans;
};

static void bufs_clear(struct ctx_bufs *b)
{
	free(b->client_cert);
	estkit_free(b->client_subject);
	estkit_free(b->csr_subject);
	estkit_free(b->csr_sans);
}

static char **request_env(struct estkit_request *req, X509_REQ *csr)
{
	struct estd_cmd_ctx c;
	struct ctx_bufs b = { NULL, NULL, NULL, NULL };
	X509 *peer = estkit_request_peer_cert(req);
	char **env = NULL;

	memset(&c, 0, sizeof(c));
	if (peer != NULL && ((b.client_cert = cert_pem(peer)) == NULL ||
			     estkit_name_oneline(X509_get_subject_name(peer), &b.client_subject) !=
				     ESTKIT_OK))
		goto out;
	if (estkit_name_oneline(X509_REQ_get_subject_name(csr), &b.csr_subject) != ESTKIT_OK ||
	    estkit_csr_sans(csr, &b.csr_sans) != ESTKIT_OK)
		goto out;
	c.op = estkit_op_name(estkit_request_op(req));
	c.label = estkit_request_label(req);
	c.user = estkit_request_user(req);
	c.identity = estkit_request_identity(req);
	c.client_cert = b.client_cert;
	c.client_subject = b.client_subject;
	c.binding = estkit_request_channel_binding(req);
	c.peer = estkit_request_peer_addr(req);
	c.csr_subject = b.csr_subject;
	c.csr_sans = b.csr_sans;
	env = estd_command_env(&c);
out:
	ERR_clear_error();
	bufs_clear(&b);
	return env;
}

/* stdin: the DER request, or its base64 with a final newline (command_input). */
static enum estkit_status request_input(X509_REQ *csr, int der, unsigned char **in,
					size_t *inlen)
{
	unsigned char *d = NULL;
	char *b64 = NULL;
	size_t dlen = 0, blen = 0;
	enum estkit_status rc;

	*in = NULL;
	rc = estkit_csr_encode(csr, &d, &dlen);
	if (rc != ESTKIT_OK || der) {
		*in = d;
		*inlen = dlen;
		return rc;
	}
	rc = estkit_b64_encode(d, dlen, &b64, &blen);
	estkit_free(d);
	if (rc != ESTKIT_OK)
		return rc;
	*in = OPENSSL_malloc(blen + 1);
	if (*in == NULL) {
		estkit_free(b64);
		return ESTKIT_ENOMEM;
	}
	memcpy(*in, b64, blen);
	(*in)[blen] = '\n';
	*inlen = blen + 1;
	estkit_free(b64);
	return ESTKIT_OK;
}

/* Runs the program and maps its end; v filled. */
static enum estkit_status run_program(struct estd_ext *x, const struct estd_label *lab,
				      struct estkit_request *req, X509_REQ *csr,
				      struct estd_cmd_verdict *v)
{
	const struct estd_ext_conf *c = lab->ext;
	struct estd_cmd_result res;
	struct estd_cmd_spec spec;
	unsigned char *in = NULL;
	char **env = NULL;
	char msg[256];
	enum estkit_status rc;

	memset(&res, 0, sizeof(res));
	rc = request_input(csr, c->command_der, &in, &spec.inlen);
	if (rc == ESTKIT_OK && (env = request_env(req, csr)) == NULL)
		rc = ESTKIT_ENOMEM;
	if (rc != ESTKIT_OK) {
		estkit_request_fail(req, 500, "out of memory");
		goto out;
	}
	spec.argv = c->argv;
	spec.envp = env;
	spec.input = in;
	spec.timeout_ms = (long)c->command_timeout * 1000;
	spec.max_output = c->command_max_output;
	rc = estd_command_exec(&spec, &res, msg, sizeof(msg));
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR, "label '%s': %s", lab->name,
				    rc == ESTKIT_ENOMEM ? "out of memory" : msg);
		estkit_request_fail(req, 500, "the signing program could not be started");
		goto out;
	}
	estd_cmd_verdict(&res, X509_REQ_get0_pubkey(csr), (unsigned)lab->retry_after, v);
	if (v->log[0] != '\0')
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR, "label '%s': %s: %s",
				    lab->name, c->argv[0], v->log);
out:
	estd_cmd_result_clear(&res);
	estd_ext_argv_free(env);
	estkit_free(in);
	return rc;
}

/* See command.h. */
enum estkit_status estd_command_enroll(struct estd_ext *x, const struct estd_label *lab,
				       struct estkit_request *req, X509_REQ *csr,
				       STACK_OF(X509) **out)
{
	const struct estd_ext_conf *c = lab->ext;
	int limit = c->command_concurrency > 0 ? c->command_concurrency : estd_ext_job_threads(x);
	struct estd_cmd_verdict v;
	enum estkit_status rc;

	*out = NULL;
	memset(&v, 0, sizeof(v));
	/* waiting for a slot counts against the same budget as the program itself */
	if (estd_ext_slot_get(x, lab->name, limit, (long)c->command_timeout * 1000) != 0) {
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_WARN,
				    "label '%s': all %d command slots busy", lab->name, limit);
		estkit_request_set_retry_after(req, (unsigned)lab->retry_after);
		estkit_request_fail(req, 503, "the signing program is busy, retry later");
		return ESTKIT_EBUSY;
	}
	rc = run_program(x, lab, req, csr, &v);
	estd_ext_slot_put(x, lab->name);
	if (rc != ESTKIT_OK)
		return rc;
	if (v.status == ESTKIT_OK) {
		rc = estd_ext_record(x, req, csr, sk_X509_value(v.certs, 0), "command");
		if (rc == ESTKIT_OK) {
			*out = v.certs;
			return ESTKIT_OK;
		}
		OSSL_STACK_OF_X509_free(v.certs);
		return rc;
	}
	if (v.status == ESTKIT_EPENDING || v.status == ESTKIT_EBUSY)
		estkit_request_set_retry_after(req, v.retry_after);
	if (v.status != ESTKIT_EPENDING)
		estkit_request_fail(req, v.http, "%s", v.reason);
	return v.status;
}
