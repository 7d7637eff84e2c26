/*
 * agent_trust.c - trust maintenance by `est agent`: the trust anchor file
 * follows a CA rollover (RFC 7030 4.1.3) without trusting anything the old
 * anchors do not vouch for. What /cacerts returns is filtered by
 * estkit_rollover_filter(): a new root is kept only through a NewWithOld
 * link certificate signed by a root already trusted; the file's own
 * certificates always stay. The file is rewritten atomically, and only when
 * something new is accepted.
 */
#include <string.h>

#include <openssl/err.h>

#include "agent.h"
#include "common.h"

/* Appends to trusted what kept holds and trusted lacks; returns how many. -1 on error. */
static int merge(STACK_OF(X509) *trusted, STACK_OF(X509) *kept)
{
	int i, added = 0;

	for (i = 0; i < sk_X509_num(kept); i++) {
		X509 *x = sk_X509_value(kept, i);

		if (est_certs_hold(trusted, x))
			continue;
		if (!X509_up_ref(x))
			return -1;
		if (!sk_X509_push(trusted, x)) {
			X509_free(x);
			return -1;
		}
		added++;
	}
	return added;
}

int agent_trust_refresh(const struct agent_conf *conf, const struct agent_cert *ac)
{
	struct estkit_client *c = NULL;
	STACK_OF(X509) *certs = NULL, *trusted = NULL, *kept = NULL;
	struct est_conn o;
	char cmd[AGENT_NAME_MAX + 16];
	enum estkit_status rc;
	int known = 0, rejected = 0, added = 0, ex = 0, ret = -1;

	memset(&o, 0, sizeof(o));
	o.server = ac->server;
	o.cacert = ac->trust;
	o.timeout = conf->timeout;
	o.verbose = conf->verbose;
	snprintf(cmd, sizeof(cmd), "agent: %s", ac->name);
	if ((c = est_client_open(cmd, &o, &ex)) == NULL)
		goto out;
	if ((rc = estkit_client_cacerts(c, &certs)) != ESTKIT_OK) {
		agent_log(ac->name, "/cacerts: %s", estkit_client_errmsg(c));
		goto out;
	}
	if (estkit_certs_load(ac->trust, &trusted) != ESTKIT_OK ||
	    estkit_rollover_filter(certs, trusted, &kept, &known, &rejected) != ESTKIT_OK) {
		agent_log(ac->name, "cannot check /cacerts against %s", ac->trust);
		goto out;
	}
	if (rejected > 0)
		agent_log(ac->name, "/cacerts: %d root(s) without a link certificate from a trusted "
		                    "root: not trusted (RFC 7030 4.1.3)", rejected);
	if ((added = merge(trusted, kept)) < 0)
		goto out;
	if (added > 0) {
		if (estkit_certs_save(ac->trust, trusted) != ESTKIT_OK) {
			agent_log(ac->name, "cannot rewrite %s", ac->trust);
			goto out;
		}
		agent_log(ac->name, "trust anchors: %d certificate(s) added to %s", added, ac->trust);
	}
	ret = 0;
out:
	ERR_clear_error();
	est_certs_free(certs);
	est_certs_free(trusted);
	est_certs_free(kept);
	estkit_client_free(c);
	return ret;
}
