/*
 * backend/ca.h - the built-in CA as an estkit_backend: labels and users from
 * estd.conf, issuance through src/estd/ca, every certificate recorded in the
 * store before it is handed to the server.
 *
 * Configuration that can change at run time (labels, profiles, users,
 * log_level) lives in a reference-counted snapshot: each callback takes the
 * current snapshot once and uses it to the end, so a reload (SIGHUP) never
 * changes the view of a request in flight.
 */
#ifndef ESTD_BACKEND_CA_H
#define ESTD_BACKEND_CA_H

#include <estkit/error.h>
#include <estkit/server.h>

#include "ca/issue.h"
#include "config.h"
#include "store/store.h"
#include "users.h"

struct estd_backend_ca;

/*
 * Creates the backend. On success it owns cfg and users; store and ca are
 * borrowed and must outlive it. Fails (ESTKIT_EINVAL, *err says why; caller
 * frees with estkit_free()) when a profile does not parse or the [ca] chain
 * file cannot be read.
 */
enum estkit_status estd_backend_ca_new(struct estd_config *cfg, struct estd_users *users,
				       struct estd_store *store, struct estd_ca *ca,
				       struct estd_backend_ca **out, char **err);

/* Frees the backend (after the server using it has stopped). NULL is a no-op. */
void estd_backend_ca_free(struct estd_backend_ca *b);

/* Fills vt with the callbacks; vt->ctx is b. */
void estd_backend_ca_vtable(struct estd_backend_ca *b, struct estkit_backend *vt);

/*
 * Re-reads estd.conf and the users file and swaps them in. A configuration
 * that does not load is logged and the old one kept (ESTKIT_EINVAL).
 * Settings that only take effect on restart are logged when they changed.
 */
enum estkit_status estd_backend_ca_reload(struct estd_backend_ca *b);

/*
 * The new root of the CA rollover in the current configuration (a new
 * reference, caller frees), or NULL when there is none. run.c adds it to
 * the TLS client-certificate trust store, so certificates of both CAs
 * authenticate (RFC 7030 4.1.3).
 */
X509 *estd_backend_ca_next_root(struct estd_backend_ca *b);

/*
 * Writes "2026-11-23T11:30:00Z estd[PID]: LINE" to stderr when level is
 * within the configured log_level. Thread-safe. b may be NULL (level info).
 */
void estd_backend_ca_log(struct estd_backend_ca *b, enum estkit_log_level level,
			 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The configuration snapshot requests see now, with a reference the caller
 * drops with estd_snapshot_release().
 */
struct estd_snapshot *estd_backend_ca_snapshot(struct estd_backend_ca *b);

/* log_level name ("error", "warn", "info", "debug") to a level; info when unknown. */
enum estkit_log_level estd_log_level_parse(const char *name);

#endif /* ESTD_BACKEND_CA_H */
