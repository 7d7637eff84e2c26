/*
 * backend/ext.h - labels whose certificates come from elsewhere: an upstream
 * EST server (backend = proxy, RFC 7030 3.7) or a program (backend =
 * command). backend/ca.c hands such a label's requests here; they run on the
 * job pool like every backend callback. The shared state (concurrency slots
 * of the programs, the upstream /cacerts cache) lives in struct estd_ext and
 * survives configuration reloads.
 */
#ifndef ESTD_BACKEND_EXT_H
#define ESTD_BACKEND_EXT_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "backend/extconf.h"
#include "config.h"
#include "store/store.h"

struct estd_backend_ca;
struct estd_ext;

/*
 * The shared state. log is where lines go (estd_backend_ca_log), store where
 * issued certificates are recorded (both borrowed); job_threads is the
 * configured [server] job_threads (0 = 2 x cores), the default of
 * command_concurrency.
 */
enum estkit_status estd_ext_new(struct estd_backend_ca *log, struct estd_store *store,
				int job_threads, struct estd_ext **out);

/*
 * Checks what a proxy label reads per request and what cannot wait for the
 * first request to fail: each upstream_password_file exists, is private
 * (mode 0600) and holds a password (estd_proxy_password_read). Run at start
 * and reload. ESTKIT_OK, or an error with *err (caller frees) naming the
 * label and the file.
 */
enum estkit_status estd_ext_check(const struct estd_config *cfg, char **err);

/*
 * The configuration was reloaded: kept-alive upstream connections (made
 * with the old files and settings) are closed; those in use are closed when
 * their request ends. NULL is a no-op.
 */
void estd_ext_reloaded(struct estd_ext *x);

/* Frees the state (after the server stopped). NULL is a no-op. */
void estd_ext_free(struct estd_ext *x);

/* The label's backend kind (ESTD_EXT_CA when it has no proxy/command settings). */
enum estd_ext_kind estd_ext_kind(const struct estd_label *lab);

/*
 * /cacerts of a proxy label (the upstream's, cached upstream_cacerts_ttl
 * seconds) or of a command label (command_cacerts, else local, borrowed).
 * *out is the server's.
 */
enum estkit_status estd_ext_cacerts(struct estd_ext *x, const struct estd_label *lab,
				    struct estkit_request *req, STACK_OF(X509) *local,
				    STACK_OF(X509) **out);

/* /simpleenroll and /simplereenroll, as the estkit_backend enroll callback. */
enum estkit_status estd_ext_enroll(struct estd_ext *x, const struct estd_label *lab,
				   struct estkit_request *req, X509_REQ *csr,
				   STACK_OF(X509) **out);

/* /csrattrs of a proxy label: the upstream's (RFC 7030 4.5). */
enum estkit_status estd_ext_csrattrs(struct estd_ext *x, const struct estd_label *lab,
				     struct estkit_request *req, unsigned char **der,
				     size_t *len);

/* /serverkeygen of a proxy label (the upstream generates); 501 on command labels. */
enum estkit_status estd_ext_serverkeygen(struct estd_ext *x, const struct estd_label *lab,
					 struct estkit_request *req, X509_REQ *csr,
					 EVP_PKEY **key_out, STACK_OF(X509) **out);

/*
 * RFC 7030 3.7: 1 when cert (the verified TLS client certificate, borrowed;
 * NULL: 0) carries id-kp-cmcRA and list ([auth] ra_certs) is "any" or names
 * "cert:SUBJECT" with its RFC 2253 one-line subject. list NULL: 0.
 */
int estd_ext_is_ra(const char *list, X509 *cert);

/* ---- for command.c and proxy.c ----------------------------------------------- */

/* The log sink. */
struct estd_backend_ca *estd_ext_log(struct estd_ext *x);

/*
 * Records a certificate issued elsewhere for req in the store, op
 * "<op> via <how>". A certificate already recorded (the same one collected
 * twice) is not an error. Fails the request (500) otherwise.
 */
enum estkit_status estd_ext_record(struct estd_ext *x, struct estkit_request *req,
				   X509_REQ *csr, X509 *cert, const char *how);

/*
 * Takes one of the label's command_concurrency slots, waiting at most
 * wait_ms; 0, or -1 when none came free. A request waits only while at least
 * one job thread is neither running a program nor waiting for a slot (so a
 * saturated label cannot starve /cacerts and the other labels); otherwise -1
 * at once. Release with estd_ext_slot_put().
 */
int estd_ext_slot_get(struct estd_ext *x, const char *label, int limit, long wait_ms);
void estd_ext_slot_put(struct estd_ext *x, const char *label);

/* The kept-alive upstream connections of proxy labels (backend/upool.h). */
struct estd_upool *estd_ext_upool(struct estd_ext *x);

/* The default command_concurrency (job threads). */
int estd_ext_job_threads(const struct estd_ext *x);

/*
 * Cached upstream /cacerts of a label: a new stack with new references, or
 * NULL when none is cached for url or it expired.
 */
STACK_OF(X509) *estd_ext_cache_get(struct estd_ext *x, const char *label, const char *url);
/* Stores certs (references taken) for ttl seconds. */
void estd_ext_cache_put(struct estd_ext *x, const char *label, const char *url,
			STACK_OF(X509) *certs, int ttl);

/* A new stack holding new references to the certificates of src, or NULL. */
STACK_OF(X509) *estd_ext_certs_dup(STACK_OF(X509) *src);

#endif /* ESTD_BACKEND_EXT_H */
