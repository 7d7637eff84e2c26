/*
 * backend/snapshot.h - one consistent view of the reloadable configuration:
 * estd.conf, its parsed profiles and the users file, shared by reference
 * count between the requests that use it.
 */
#ifndef ESTD_BACKEND_SNAPSHOT_H
#define ESTD_BACKEND_SNAPSHOT_H

#include <stddef.h>
#include <estkit/error.h>

#include "ca/profile.h"
#include "ca/rollover.h"
#include "config.h"
#include "users.h"

struct estd_snapshot {
	int refs;                            /* atomic; the snapshot dies at 0 */
	struct estd_config *cfg;             /* owned */
	struct estd_users *users;            /* owned */
	struct estd_ca_profile **profiles;   /* parsed cfg->profiles, same order */
	struct estd_rollover *rollover;      /* owned; NULL when no CA rollover is configured */
};

/*
 * Makes a snapshot with one reference. Takes ownership of cfg and users on
 * success only. Fails with *err (caller frees) when a profile does not parse.
 */
enum estkit_status estd_snapshot_new(struct estd_config *cfg, struct estd_users *users,
				     struct estd_snapshot **out, char **err);

/* Adds a reference. */
void estd_snapshot_retain(struct estd_snapshot *s);

/* Drops a reference, freeing the snapshot with the last one. NULL is a no-op. */
void estd_snapshot_release(struct estd_snapshot *s);

/*
 * The parsed profile of label ("" = default), or NULL when the label does
 * not exist. Borrowed from s.
 */
const struct estd_ca_profile *estd_snapshot_profile(const struct estd_snapshot *s,
						    const char *label);

#endif /* ESTD_BACKEND_SNAPSHOT_H */
