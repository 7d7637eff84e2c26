/*
 * backend/snapshot.c - reference-counted configuration snapshots.
 */
#include <stdlib.h>
#include <string.h>

#include "backend/snapshot.h"
#include "util.h"

enum estkit_status estd_snapshot_new(struct estd_config *cfg, struct estd_users *users,
				     struct estd_snapshot **out, char **err)
{
	struct estd_snapshot *s = NULL;
	char msg[512];
	size_t i;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (err != NULL)
		*err = NULL;
	if (out == NULL || cfg == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	s->profiles = calloc(cfg->nprofiles + 1, sizeof(*s->profiles));
	if (s->profiles == NULL)
		goto out;
	s->cfg = cfg;
	for (i = 0; i < cfg->nprofiles; i++) {
		rc = estd_profile_parse(&cfg->profiles[i], &s->profiles[i], msg, sizeof(msg));
		if (rc != ESTKIT_OK) {
			if (err != NULL)
				*err = estd_strfmt("%s: %s", cfg->path ? cfg->path : "config", msg);
			goto out;
		}
		/* [ca] max_sans / max_subject bound every profile's requests */
		if (cfg->max_sans > 0)
			s->profiles[i]->max_sans = cfg->max_sans;
		if (cfg->max_subject > 0)
			s->profiles[i]->max_subject = (size_t)cfg->max_subject;
	}
	s->users = users;
	s->refs = 1;
	*out = s;
	s = NULL;
	rc = ESTKIT_OK;
out:
	if (s != NULL) {
		/* Not owned yet: cfg and users stay the caller's. Parsed profiles are contiguous. */
		for (i = 0; s->profiles != NULL && s->profiles[i] != NULL; i++)
			estd_profile_free(s->profiles[i]);
		free(s->profiles);
		free(s);
	}
	return rc;
}

void estd_snapshot_retain(struct estd_snapshot *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void estd_snapshot_release(struct estd_snapshot *s)
{
	size_t i;

	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; s->profiles != NULL && i < s->cfg->nprofiles; i++)
		estd_profile_free(s->profiles[i]);
	free(s->profiles);
	estd_rollover_free(s->rollover);
	estd_config_free(s->cfg);
	estd_users_free(s->users);
	free(s);
}

const struct estd_ca_profile *estd_snapshot_profile(const struct estd_snapshot *s,
						    const char *label)
{
	const struct estd_label *l;
	size_t i;

	if (s == NULL)
		return NULL;
	l = estd_config_label(s->cfg, label != NULL ? label : "");
	if (l == NULL || l->profile == NULL)
		return NULL;
	for (i = 0; i < s->cfg->nprofiles; i++)
		if (s->profiles[i] != NULL && strcmp(s->profiles[i]->name, l->profile) == 0)
			return s->profiles[i];
	return NULL;
}
