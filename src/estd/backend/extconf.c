/*
 * backend/extconf.c - the backend = proxy | command keys of estd.conf
 * (format in extconf.h and docs/estd.conf.5).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/extconf.h"
#include "util.h"

enum etype { E_KIND, E_URL, E_PATH, E_STR, E_INT, E_SIZE, E_ARGV, E_INPUT };

struct ekey {
	const char *name;
	enum etype type;
	size_t off;
	long long min, max;
};

#define EXT(f) offsetof(struct estd_ext_conf, f)

static const struct ekey ext_keys[] = {
	{ "backend", E_KIND, EXT(kind), 0, 0 },
	{ "upstream_url", E_URL, EXT(upstream_url), 0, 0 },
	{ "upstream_trust", E_PATH, EXT(upstream_trust), 0, 0 },
	{ "upstream_cert", E_PATH, EXT(upstream_cert), 0, 0 },
	{ "upstream_key", E_PATH, EXT(upstream_key), 0, 0 },
	{ "upstream_user", E_STR, EXT(upstream_user), 0, 0 },
	{ "upstream_password_file", E_PATH, EXT(upstream_password_file), 0, 0 },
	{ "upstream_timeout", E_INT, EXT(upstream_timeout), 1, 600 },
	{ "upstream_cacerts_ttl", E_INT, EXT(upstream_cacerts_ttl), 0, 86400 },
	{ "upstream_retry_after", E_INT, EXT(upstream_retry_after), 1, 86400 },
	{ "upstream_keepalive", E_INT, EXT(upstream_keepalive), 0, 3600 },
	{ "command", E_ARGV, EXT(argv), 0, 0 },
	{ "command_input", E_INPUT, EXT(command_der), 0, 0 },
	{ "command_timeout", E_INT, EXT(command_timeout), 1, 3600 },
	{ "command_max_output", E_SIZE, EXT(command_max_output), 1024, 64 * 1024 * 1024 },
	{ "command_concurrency", E_INT, EXT(command_concurrency), 0, 1024 },
	{ "command_cacerts", E_PATH, EXT(command_cacerts), 0, 0 },
};

#define NKEYS (sizeof(ext_keys) / sizeof(ext_keys[0]))

static const struct ekey *find_key(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NKEYS; i++)
		if (strcmp(ext_keys[i].name, name) == 0)
			return &ext_keys[i];
	return NULL;
}

/* See extconf.h. */
int estd_ext_conf_is_key(const char *name)
{
	return find_key(name) != NULL;
}

static struct estd_ext_conf *conf_new(void)
{
	struct estd_ext_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->kind = ESTD_EXT_CA;
	c->upstream_timeout = 20;
	c->upstream_cacerts_ttl = 300;
	c->upstream_retry_after = 30;
	c->upstream_keepalive = 15;
	c->command_timeout = 30;
	c->command_max_output = 1024 * 1024;
	return c;
}

/* See extconf.h. */
void estd_ext_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* One word of line starting at *pp into buf; 0, or -1 with msg. */
static int next_word(const char **pp, char *buf, size_t cap, size_t *len, char *msg,
		     size_t msglen)
{
	const char *p = *pp;
	char quote = 0;

	*len = 0;
	for (; *p != '\0' && (quote != 0 || (*p != ' ' && *p != '\t')); p++) {
		char ch = *p;

		if (quote == 0 && (ch == '\'' || ch == '"')) {
			quote = ch;
			continue;
		}
		if (quote != 0 && ch == quote) {
			quote = 0;
			continue;
		}
		if (ch == '\\' && quote != '\'' && p[1] != '\0' &&
		    (quote == 0 || p[1] == '"' || p[1] == '\\'))
			ch = *++p;
		if (*len + 1 >= cap) {
			snprintf(msg, msglen, "a word is longer than %d characters", ESTD_EXT_MAX_ARG);
			return -1;
		}
		buf[(*len)++] = ch;
	}
	if (quote != 0) {
		snprintf(msg, msglen, "unterminated %c quote", quote);
		return -1;
	}
	buf[*len] = '\0';
	*pp = p;
	return 0;
}

/* See extconf.h. */
int estd_ext_argv_split(const char *line, char ***argv, char *msg, size_t msglen)
{
	char **v = calloc(ESTD_EXT_MAX_ARGS + 1, sizeof(*v));
	char *buf = malloc(ESTD_EXT_MAX_ARG + 1);
	const char *p = line;
	size_t n = 0, len = 0;
	int rc = -1;

	*argv = NULL;
	if (v == NULL || buf == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (n == ESTD_EXT_MAX_ARGS) {
			snprintf(msg, msglen, "more than %d words", ESTD_EXT_MAX_ARGS);
			goto out;
		}
		if (next_word(&p, buf, ESTD_EXT_MAX_ARG + 1, &len, msg, msglen) != 0)
			goto out;
		if ((v[n++] = estd_strdup(buf)) == NULL) {
			snprintf(msg, msglen, "out of memory");
			goto out;
		}
	}
	if (n == 0 || v[0][0] == '\0') {
		snprintf(msg, msglen, "a program is required");
		goto out;
	}
	*argv = v;
	v = NULL;
	rc = (int)n;
out:
	estd_ext_argv_free(v);
	free(buf);
	return rc;
}

/* command = ...: argv split, argv[0] resolved against dir. */
static int set_argv(struct estd_ext_conf *c, const char *value, const char *dir, char *msg,
		    size_t msglen)
{
	char **argv = NULL, *abs = NULL;
	int n = estd_ext_argv_split(value, &argv, msg, msglen);

	if (n < 0)
		return 0;
	abs = estd_path_join(dir, argv[0]);
	if (abs == NULL) {
		estd_ext_argv_free(argv);
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	free(argv[0]);
	argv[0] = abs;
	estd_ext_argv_free(c->argv);
	c->argv = argv;
	c->argc = (size_t)n;
	return 1;
}

static int set_text(char **slot, const char *v, const char *dir, char *msg, size_t msglen)
{
	char *s = dir != NULL ? estd_path_join(dir, v) : estd_strdup(v);

	if (s == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	free(*slot);
	*slot = s;
	return 1;
}

static int set_kind(struct estd_ext_conf *c, const char *v, char *msg, size_t msglen)
{
	if (strcmp(v, "ca") == 0)
		c->kind = ESTD_EXT_CA;
	else if (strcmp(v, "proxy") == 0)
		c->kind = ESTD_EXT_PROXY;
	else if (strcmp(v, "command") == 0)
		c->kind = ESTD_EXT_COMMAND;
	else {
		snprintf(msg, msglen, "'%s' is not ca, proxy or command", v);
		return 0;
	}
	return 1;
}

static int set_one(struct estd_ext_conf *c, const struct ekey *k, const char *v,
		   const char *dir, char *msg, size_t msglen)
{
	void *slot = (char *)c + k->off;
	long long n;

	if (*v == '\0') {
		snprintf(msg, msglen, "a value is required");
		return 0;
	}
	switch (k->type) {
	case E_KIND: return set_kind(c, v, msg, msglen);
	case E_ARGV: return set_argv(c, v, dir, msg, msglen);
	case E_PATH: return set_text(slot, v, dir, msg, msglen);
	case E_STR:
		if (strpbrk(v, ":\r\n") != NULL || strlen(v) > 256) {
			snprintf(msg, msglen, "a user name without ':' (at most 256 characters)");
			return 0;
		}
		return set_text(slot, v, NULL, msg, msglen);
	case E_URL:
		if (strncmp(v, "https://", 8) != 0 || strlen(v) > 2048 ||
		    strpbrk(v, " \t\r\n") != NULL) {
			snprintf(msg, msglen, "'%s' is not an https:// URL", v);
			return 0;
		}
		return set_text(slot, v, NULL, msg, msglen);
	case E_INPUT:
		if (strcmp(v, "base64") != 0 && strcmp(v, "der") != 0) {
			snprintf(msg, msglen, "'%s' is not base64 or der", v);
			return 0;
		}
		*(int *)slot = strcmp(v, "der") == 0;
		return 1;
	case E_INT:
	case E_SIZE:
		if (estd_parse_ll(v, k->min, k->max, &n) != 0) {
			snprintf(msg, msglen, "'%s' is not a whole number in %lld..%lld", v, k->min,
				 k->max);
			return 0;
		}
		if (k->type == E_SIZE)
			*(size_t *)slot = (size_t)n;
		else
			*(int *)slot = (int)n;
		return 1;
	}
	return 0;
}

/* See extconf.h. */
int estd_ext_conf_set(struct estd_ext_conf **slot, const char *name, const char *value,
		      const char *dir, char *msg, size_t msglen)
{
	const struct ekey *k = find_key(name);
	uint32_t bit;

	if (k == NULL) {
		snprintf(msg, msglen, "unknown key");
		return 0;
	}
	bit = UINT32_C(1) << (size_t)(k - ext_keys);
	if (*slot == NULL && (*slot = conf_new()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	if ((*slot)->set & bit) {
		snprintf(msg, msglen, "duplicate key");
		return 0;
	}
	if (!set_one(*slot, k, value, dir, msg, msglen))
		return 0;
	(*slot)->set |= bit;
	return 1;
}

static char **argv_dup(char **argv)
{
	char **v = NULL;
	size_t n = 0, i;

	while (argv[n] != NULL)
		n++;
	v = calloc(n + 1, sizeof(*v));
	for (i = 0; v != NULL && i < n; i++) {
		if ((v[i] = estd_strdup(argv[i])) == NULL) {
			estd_ext_argv_free(v);
			return NULL;
		}
	}
	return v;
}

/* Copies the keys set in g but not in c from g. 0 when memory ran out. */
static int inherit(struct estd_ext_conf *c, const struct estd_ext_conf *g)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct ekey *k = &ext_keys[i];
		void *dst = (char *)c + k->off;
		const void *src = (const char *)g + k->off;

		if ((c->set & (UINT32_C(1) << i)) || !(g->set & (UINT32_C(1) << i)))
			continue;
		if (k->type == E_ARGV) {
			if ((c->argv = argv_dup(g->argv)) == NULL)
				return 0;
			c->argc = g->argc;
		} else if (k->type == E_PATH || k->type == E_STR || k->type == E_URL) {
			if ((*(char **)dst = estd_strdup(*(char *const *)src)) == NULL)
				return 0;
		} else if (k->type == E_SIZE) {
			*(size_t *)dst = *(const size_t *)src;
		} else if (k->type == E_KIND) {
			c->kind = g->kind;
		} else {
			*(int *)dst = *(const int *)src;
		}
		c->set |= UINT32_C(1) << i;
	}
	return 1;
}

/* Whole-section rules of a proxy or command label. */
static int check(const struct estd_ext_conf *c, char *msg, size_t msglen)
{
	const char *bad = NULL;

	if (c->kind == ESTD_EXT_PROXY) {
		if (c->upstream_url == NULL)
			bad = "backend = proxy needs upstream_url";
		else if (c->upstream_trust == NULL)
			bad = "backend = proxy needs upstream_trust (the upstream's CA)";
		else if ((c->upstream_cert == NULL) != (c->upstream_key == NULL))
			bad = "upstream_cert and upstream_key go together";
		else if ((c->upstream_user == NULL) != (c->upstream_password_file == NULL))
			bad = "upstream_user and upstream_password_file go together";
	} else if (c->kind == ESTD_EXT_COMMAND && c->argv == NULL) {
		bad = "backend = command needs command";
	}
	if (bad != NULL)
		snprintf(msg, msglen, "%s", bad);
	return bad == NULL;
}

/* See extconf.h. */
int estd_ext_conf_finish(struct estd_ext_conf **slot, const struct estd_ext_conf *global,
			 char *msg, size_t msglen)
{
	if (*slot == NULL && global == NULL)
		return 1;
	if (*slot == NULL && (*slot = conf_new()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	if (global != NULL && !inherit(*slot, global)) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	if (!check(*slot, msg, msglen))
		return 0;
	if ((*slot)->kind == ESTD_EXT_CA) {
		estd_ext_conf_free(*slot);
		*slot = NULL;
	}
	return 1;
}

/* See extconf.h. */
void estd_ext_conf_free(struct estd_ext_conf *c)
{
	if (c == NULL)
		return;
	free(c->upstream_url);
	free(c->upstream_trust);
	free(c->upstream_cert);
	free(c->upstream_key);
	free(c->upstream_user);
	free(c->upstream_password_file);
	estd_ext_argv_free(c->argv);
	free(c->command_cacerts);
	free(c);
}
