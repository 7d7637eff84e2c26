/*
 * backend/ca_cmc.c - what /fullcmc (backend/cmc.c) asks of the built-in CA:
 * issue under the label's policy and profile, the [auth] revokers list, the
 * label's identity proof settings, signing the PKIResponse with the old or
 * the new CA; and the new root of a CA rollover. Each takes the current
 * configuration snapshot once (backend/ca.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "backend/ca.h"
#include "backend/ca_issue.h"
#include "backend/cmc.h"
#include "backend/ext.h"
#include "backend/snapshot.h"
#include "policy.h"

/* See backend/cmc.h. */
enum estkit_status estd_backend_ca_cmc_issue(struct estd_backend_ca *b,
					     struct estkit_request *req, X509_REQ *csr,
					     const struct estd_raw_req *raw, X509 **cert,
					     char *reason, size_t rlen)
{
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	const struct estd_ca_profile *prof = estd_snapshot_profile(s, estkit_request_label(req));
	const struct estd_label *lab = estd_config_label(s->cfg, estkit_request_label(req));
	struct estd_policy_who who = {estkit_request_user(req), estkit_request_peer_cert(req), 0,
				      0};
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	*cert = NULL;
	snprintf(reason, rlen, "unknown label");
	if (prof == NULL || lab == NULL)
		goto out;
	/* labels whose certificates come from elsewhere never issue with the local CA */
	rc = ESTKIT_EPOLICY;
	snprintf(reason, rlen, "this label's certificates come from %s; use /simpleenroll",
		 estd_ext_kind(lab) == ESTD_EXT_PROXY ? "an upstream CA" : "a signing program");
	if (estd_ext_kind(lab) != ESTD_EXT_CA)
		goto out;
	/* never a way around the label's policy: CMC carries no channel binding here,
	 * and held requests are answered through /simpleenroll */
	rc = ESTKIT_EPOLICY;
	snprintf(reason, rlen, "this label %s; use /simpleenroll",
		 lab->approval_manual ? "holds requests for manual approval"
				      : "requires TLS channel binding");
	if (lab->approval_manual || lab->require_channel_binding)
		goto out;
	/* the label's enrollment policy, as the authorize stage applies it to /simpleenroll */
	if (estd_policy_check(lab->policy, &who, csr, reason, rlen) != 0) {
		estd_backend_ca_log(b, ESTKIT_LOG_WARN,
				    "authorization refused identity=%s label=%s peer=%s reason=%s",
				    estkit_request_identity(req),
				    lab->name[0] != '\0' ? lab->name : "-",
				    estkit_request_peer_addr(req), reason);
		goto out;
	}
	rc = estd_profile_check_key(prof, X509_REQ_get0_pubkey(csr), reason, rlen);
	if (rc != ESTKIT_OK)
		goto out;
	/* RFC 7030 4.1.3: after [ca] switch_at the new CA issues, as for /simpleenroll */
	reason[0] = '\0';
	rc = estd_backend_ca_issue_record(b, estd_rollover_switched(s->rollover, time(NULL))
						      ? estd_rollover_next_ca(s->rollover)
						      : estd_backend_ca_ca(b),
					  prof, req, csr, csr, raw, cert, reason, rlen);
	/* a refusal of the request says why (the profile's names, keys ...) */
	if (rc != ESTKIT_OK && reason[0] == '\0')
		snprintf(reason, rlen, "certificate not issued: %s", estkit_strerror(rc));
out:
	estd_snapshot_release(s);
	return rc;
}

/* See backend/cmc.h. */
int estd_backend_ca_is_revoker(struct estd_backend_ca *b, const char *identity)
{
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	const char *p = s->cfg->revokers;
	size_t n = identity != NULL ? strlen(identity) : 0;
	int found = 0;

	/* comma-separated; blanks around entries ignored; exact, case-sensitive match */
	while (p != NULL && *p != '\0' && n > 0 && !found) {
		size_t len;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		found = len == n && memcmp(p, identity, n) == 0;
		p += strcspn(p, ",");
	}
	estd_snapshot_release(s);
	return found;
}

/* See backend/cmc.h. */
enum estkit_status estd_backend_ca_cmc_idproof(struct estd_backend_ca *b, const char *label,
					       int *required, char **secret_file)
{
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	const struct estd_label *lab = estd_config_label(s->cfg, label);
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	*required = 0;
	*secret_file = NULL;
	if (lab != NULL) {
		*required = lab->cmc_require_identity_proof;
		rc = ESTKIT_OK;
		if (lab->cmc_identity_secret_file != NULL &&
		    (*secret_file = strdup(lab->cmc_identity_secret_file)) == NULL)
			rc = ESTKIT_ENOMEM;
	}
	estd_snapshot_release(s);
	return rc;
}

/* See backend/cmc.h. */
enum estkit_status estd_backend_ca_cmc_sign(struct estd_backend_ca *b, X509 *issued,
					    const unsigned char *der, size_t len,
					    STACK_OF(X509) *extra, unsigned char **out,
					    size_t *outlen)
{
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	struct estd_ca *next = s->rollover != NULL ? estd_rollover_next_ca(s->rollover) : NULL;
	struct estd_ca *ca = estd_backend_ca_ca(b);
	enum estkit_status rc;

	if (next != NULL &&
	    (issued != NULL ? X509_check_issued(estd_ca_cert(next), issued) == X509_V_OK &&
				  X509_verify(issued, X509_get0_pubkey(estd_ca_cert(next))) == 1
			    : estd_rollover_switched(s->rollover, time(NULL))))
		ca = next;
	ERR_clear_error();
	rc = estd_signer_sign_cms(estd_ca_signer(ca), estd_ca_cert(ca), der, len, extra, out,
				  outlen);
	estd_snapshot_release(s);
	return rc;
}

/* See backend/ca.h. */
X509 *estd_backend_ca_next_root(struct estd_backend_ca *b)
{
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	X509 *x = NULL;

	if (s->rollover != NULL) {
		x = estd_ca_cert(estd_rollover_next_ca(s->rollover));
		if (!X509_up_ref(x))
			x = NULL;
	}
	estd_snapshot_release(s);
	return x;
}
