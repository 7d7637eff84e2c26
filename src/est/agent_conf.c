/*
 * agent_conf.c - the `est agent` configuration file: INI (inih), one
 * [agent] section of global settings and one [cert NAME] section per
 * certificate. Every key is checked as it is read; unknown sections and keys
 * are errors, so a typo never passes silently. See docs/est.1.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "agent.h"
#include "common.h"

#define DEFAULT_STATE_DIR "/var/lib/est-agent"
#define TEN_YEARS         (10L * 365 * 86400)

struct parser {
	/* the text inih reads, line by line, through read_line() */
	const char *text;
	size_t len, pos;
	int lineno;
	struct agent_conf *c;
	struct agent_cert *cur; /* the [cert NAME] being read, NULL in [agent] */
	int in_agent;
	int lineno_err;
	char *err;
	size_t errlen;
	int failed;
};

static int conf_fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conf_fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	p->failed = 1;
	return 0; /* inih: an error on this line */
}

int agent_parse_duration(const char *s, long *out)
{
	char *end = NULL;
	long mult = 1;
	long v = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v <= 0 || v > TEN_YEARS / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* "66%" or "66", 10..95. */
static int parse_pct(const char *v, int *out)
{
	char buf[8];
	size_t n = strlen(v);
	long pct = 0;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n + 1);
	if (buf[n - 1] == '%')
		buf[n - 1] = '\0';
	if (est_parse_long(buf, 10, 95, &pct) != 0)
		return -1;
	*out = (int)pct;
	return 0;
}

static int parse_mode(const char *v, unsigned *out)
{
	char *end = NULL;
	unsigned long m = 0;

	if (*v != '0')
		return -1; /* octal, written as such: 0600 */
	errno = 0;
	m = strtoul(v, &end, 8);
	if (errno != 0 || *end != '\0' || m > 0777)
		return -1;
	*out = (unsigned)m;
	return 0;
}

/* A user or group name, or a number. */
static int parse_id(const char *v, int group, long *out)
{
	long id = 0;
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (est_parse_long(v, 0, INT_MAX, &id) == 0) {
		*out = id;
		return 0;
	}
	if (group && (gr = getgrnam(v)) != NULL)
		*out = (long)gr->gr_gid;
	else if (!group && (pw = getpwnam(v)) != NULL)
		*out = (long)pw->pw_uid;
	else
		return -1;
	return 0;
}

/* Sets *slot to a copy of v, refusing a second value for the key. */
static int set_str(struct parser *p, const char *key, char **slot, const char *v)
{
	if (*slot != NULL)
		return conf_fail(p, "%s given twice in [cert %s]", key, p->cur->name);
	if (*v == '\0')
		return conf_fail(p, "%s: empty value in [cert %s]", key, p->cur->name);
	if ((*slot = strdup(v)) == NULL)
		return conf_fail(p, "out of memory");
	return 1;
}

/* san = DNS:a, DNS:b (repeatable). */
static int add_sans(struct parser *p, const char *v)
{
	char buf[1024];
	char *s = buf;
	char *comma = NULL;
	size_t n = strlen(v);

	if (n >= sizeof(buf))
		return conf_fail(p, "san: value too long in [cert %s]", p->cur->name);
	memcpy(buf, v, n + 1);
	for (; s != NULL; s = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(s, ',');
		if (comma != NULL)
			*comma = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		for (n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
			s[n - 1] = '\0';
		if (*s == '\0')
			return conf_fail(p, "san: empty entry in [cert %s]", p->cur->name);
		if (strchr(s, ':') == NULL)
			return conf_fail(p, "san: '%s' wants TYPE:value (DNS:, IP:, URI:, email:)", s);
		if (p->cur->nsans == AGENT_MAX_SANS)
			return conf_fail(p, "san: at most %d in [cert %s]", AGENT_MAX_SANS, p->cur->name);
		if ((p->cur->sans[p->cur->nsans] = strdup(s)) == NULL)
			return conf_fail(p, "out of memory");
		p->cur->nsans++;
	}
	return 1;
}

static int agent_key(struct parser *p, const char *k, const char *v)
{
	struct agent_conf *c = p->c;
	long *slot = NULL;

	if (strcmp(k, "state_dir") == 0) {
		if (v[0] != '/')
			return conf_fail(p, "state_dir: '%s' is not an absolute path", v);
		free(c->state_dir);
		return (c->state_dir = strdup(v)) != NULL ? 1 : conf_fail(p, "out of memory");
	}
	if (strcmp(k, "check_interval") == 0)
		slot = &c->check_interval;
	else if (strcmp(k, "retry_min") == 0)
		slot = &c->retry_min;
	else if (strcmp(k, "retry_max") == 0)
		slot = &c->retry_max;
	else if (strcmp(k, "cacerts_interval") == 0)
		slot = &c->cacerts_interval;
	else if (strcmp(k, "timeout") == 0)
		slot = &c->timeout;
	else if (strcmp(k, "hook_timeout") == 0)
		slot = &c->hook_timeout;
	else
		return conf_fail(p, "unknown key '%s' in [agent]", k);
	if (strcmp(k, "cacerts_interval") == 0 && strcmp(v, "0") == 0) {
		*slot = 0; /* never */
		return 1;
	}
	if (agent_parse_duration(v, slot) != 0)
		return conf_fail(p, "%s: '%s' is not a duration (e.g. 30, 90s, 15m, 12h, 7d)", k, v);
	return 1;
}

static int cert_flag(struct parser *p, const char *k, const char *v, int *slot)
{
	if (parse_bool(v, slot) != 0)
		return conf_fail(p, "%s: '%s' is not yes or no", k, v);
	return 1;
}

/* Keys whose value is kept as a string. */
static char **cert_str_slot(struct agent_cert *a, const char *k)
{
	static const char *const names[] = {
	    "server", "trust", "user", "password_file", "otp_file", "auth",
	    "bootstrap_cert", "bootstrap_key", "key_type", "subject", "cert", "key",
	    "chain", "fullchain", "post_renew_command", "srp_user", "srp_password_file",
	};
	char **slots[] = {
	    &a->server, &a->trust, &a->user, &a->password_file, &a->otp_file, &a->auth,
	    &a->bootstrap_cert, &a->bootstrap_key, &a->key_type, &a->subject, &a->cert_path,
	    &a->key_path, &a->chain_path, &a->fullchain_path, &a->hook, &a->srp_user,
	    &a->srp_password_file,
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(k, names[i]) == 0)
			return slots[i];
	return NULL;
}

static int cert_schedule_key(struct parser *p, const char *k, const char *v)
{
	struct agent_cert *a = p->cur;

	if (strcmp(k, "renew_at") == 0) {
		if (a->renew_before != 0 || a->renew_pct != 0)
			return conf_fail(p, "renew_at and renew_before exclude each other [cert %s]",
			            a->name);
		if (parse_pct(v, &a->renew_pct) != 0)
			return conf_fail(p, "renew_at: '%s' is not a percentage 10%%..95%%", v);
		return 1;
	}
	if (a->renew_before != 0 || a->renew_pct != 0)
		return conf_fail(p, "renew_at and renew_before exclude each other [cert %s]", a->name);
	if (agent_parse_duration(v, &a->renew_before) != 0)
		return conf_fail(p, "renew_before: '%s' is not a duration (e.g. 7d, 12h)", v);
	return 1;
}

static int cert_key(struct parser *p, const char *k, const char *v)
{
	struct agent_cert *a = p->cur;
	char **s = cert_str_slot(a, k);

	if (s != NULL)
		return set_str(p, k, s, v);
	if (strcmp(k, "san") == 0)
		return add_sans(p, v);
	if (strcmp(k, "renew_at") == 0 || strcmp(k, "renew_before") == 0)
		return cert_schedule_key(p, k, v);
	if (strcmp(k, "update_trust") == 0)
		return cert_flag(p, k, v, &a->update_trust);
	if (strcmp(k, "csrattrs") == 0)
		return cert_flag(p, k, v, &a->use_csrattrs);
	if (strcmp(k, "regenerate_key") == 0)
		return cert_flag(p, k, v, &a->regenerate_key);
	if (strcmp(k, "enroll_if_missing") == 0)
		return cert_flag(p, k, v, &a->enroll_if_missing);
	if (strcmp(k, "reenroll_with") == 0) {
		if (strcmp(v, "cert") != 0 && strcmp(v, "enroll") != 0)
			return conf_fail(p, "reenroll_with: '%s' is not cert or enroll", v);
		a->reenroll_with_enroll = strcmp(v, "enroll") == 0;
		return 1;
	}
	if (strcmp(k, "owner") == 0 || strcmp(k, "group") == 0) {
		if (parse_id(v, k[0] == 'g', k[0] == 'g' ? &a->group : &a->owner) != 0)
			return conf_fail(p, "%s: no such %s '%s'", k, k[0] == 'g' ? "group" : "user", v);
		return 1;
	}
	if (strcmp(k, "key_mode") == 0 || strcmp(k, "cert_mode") == 0) {
		if (parse_mode(v, k[0] == 'k' ? &a->key_mode : &a->cert_mode) != 0)
			return conf_fail(p, "%s: '%s' is not an octal mode like 0640", k, v);
		/* a private key for other users is a key for everyone on the host */
		if (k[0] == 'k' && (a->key_mode & 0007) != 0)
			return conf_fail(p, "key_mode: '%s' gives other users access to the "
			                    "private key (use owner/group and 0640 at most)", v);
		return 1;
	}
	return conf_fail(p, "unknown key '%s' in [cert %s]", k, a->name);
}

static int valid_name(const char *n)
{
	size_t i;
	size_t len = strlen(n);

	if (len == 0 || len > AGENT_NAME_MAX || n[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' || n[i] == '_' || n[i] == '-'))
			return 0;
	return 1;
}

static int new_cert(struct parser *p, const char *name)
{
	struct agent_conf *c = p->c;
	struct agent_cert *a = NULL;
	size_t i;

	if (!valid_name(name))
		return conf_fail(p, "[cert %s]: a name is 1-64 of A-Z a-z 0-9 . _ - (not first '.')",
		            name);
	for (i = 0; i < c->ncerts; i++)
		if (strcmp(c->certs[i].name, name) == 0)
			return conf_fail(p, "[cert %s] appears twice", name);
	if (c->ncerts == AGENT_MAX_CERTS)
		return conf_fail(p, "at most %d [cert] sections", AGENT_MAX_CERTS);
	a = &c->certs[c->ncerts];
	memset(a, 0, sizeof(*a));
	a->update_trust = a->use_csrattrs = a->regenerate_key = a->enroll_if_missing = 1;
	a->owner = a->group = -1;
	a->key_mode = 0600;
	a->cert_mode = 0644;
	if ((a->name = strdup(name)) == NULL)
		return conf_fail(p, "out of memory");
	c->ncerts++;
	p->cur = a;
	return 1;
}

/* Switches section when it changes: "agent" or "cert NAME". */
static int enter_section(struct parser *p, const char *section)
{
	if (strcmp(section, "agent") == 0) {
		p->cur = NULL;
		p->in_agent = 1;
		return 1;
	}
	p->in_agent = 0;
	if (strncmp(section, "cert ", 5) != 0)
		return conf_fail(p, "unknown section [%s] (want [agent] or [cert NAME])", section);
	section += 5;
	while (*section == ' ')
		section++;
	if (p->cur != NULL && strcmp(p->cur->name, section) == 0)
		return 1;
	return new_cert(p, section);
}

static int on_key(void *arg, const char *section, const char *name, const char *value)
{
	struct parser *p = arg;
	int sect_same = (p->in_agent && strcmp(section, "agent") == 0) ||
	                (p->cur != NULL && strncmp(section, "cert ", 5) == 0 &&
	                 strcmp(section + 5 + strspn(section + 5, " "), p->cur->name) == 0);

	if (p->failed)
		return 0;
	if (section[0] == '\0')
		return conf_fail(p, "key '%s' outside a section", name);
	if (!sect_same && !enter_section(p, section))
		return 0;
	return p->in_agent ? agent_key(p, name, value) : cert_key(p, name, value);
}

/* TLS-SRP enrollment: the user with a password file, and no other credentials. */
static int check_srp(const struct agent_cert *a, char *err, size_t len)
{
	if ((a->srp_user == NULL) != (a->srp_password_file == NULL)) {
		snprintf(err, len, "[cert %s]: srp_user and srp_password_file go together", a->name);
		return -1;
	}
	if (a->srp_user != NULL && (a->user != NULL || a->bootstrap_cert != NULL)) {
		snprintf(err, len, "[cert %s]: srp_user excludes user and bootstrap_cert", a->name);
		return -1;
	}
	return 0;
}

static int check_cert(const struct agent_conf *c, struct agent_cert *a, char *err, size_t len)
{
	int n = 0;

	if (a->server == NULL || a->trust == NULL || a->cert_path == NULL || a->key_path == NULL) {
		snprintf(err, len, "[cert %s]: server, trust, cert and key are required", a->name);
		return -1;
	}
	if ((a->password_file != NULL || a->otp_file != NULL) && a->user == NULL) {
		snprintf(err, len, "[cert %s]: password_file/otp_file need user", a->name);
		return -1;
	}
	if (a->password_file != NULL && a->otp_file != NULL) {
		snprintf(err, len, "[cert %s]: password_file and otp_file exclude each other", a->name);
		return -1;
	}
	if (a->user != NULL && a->password_file == NULL && a->otp_file == NULL) {
		snprintf(err, len, "[cert %s]: user needs password_file or otp_file", a->name);
		return -1;
	}
	if ((a->bootstrap_cert == NULL) != (a->bootstrap_key == NULL)) {
		snprintf(err, len, "[cert %s]: bootstrap_cert and bootstrap_key go together", a->name);
		return -1;
	}
	if (a->auth != NULL && (a->user == NULL || (strcmp(a->auth, "basic") != 0 &&
	                                           strcmp(a->auth, "digest") != 0 &&
	                                           strcmp(a->auth, "any") != 0))) {
		snprintf(err, len, "[cert %s]: auth wants basic, digest or any (with user)", a->name);
		return -1;
	}
	if (check_srp(a, err, len) != 0)
		return -1;
	if (a->reenroll_with_enroll && a->user == NULL && a->bootstrap_cert == NULL &&
	    a->srp_user == NULL) {
		snprintf(err, len, "[cert %s]: reenroll_with = enroll needs enrollment credentials",
		         a->name);
		return -1;
	}
	if (a->renew_pct == 0 && a->renew_before == 0)
		a->renew_pct = 66;
	n = snprintf(NULL, 0, "%s/%s", c->state_dir, a->name);
	if (n <= 0 || n >= PATH_MAX - 64 || (a->store = malloc((size_t)n + 1)) == NULL) {
		snprintf(err, len, "[cert %s]: state directory path too long", a->name);
		return -1;
	}
	snprintf(a->store, (size_t)n + 1, "%s/%s", c->state_dir, a->name);
	return 0;
}

static int check_hook(const struct agent_cert *a, char *err, size_t len)
{
	char buf[4096];
	char *argv[AGENT_HOOK_ARGS + 1];

	if (a->hook == NULL || agent_hook_split(a->hook, buf, sizeof(buf), argv) > 0)
		return 0;
	snprintf(err, len,
	         "[cert %s]: post_renew_command: want an absolute program path and at most %d "
	         "words, quotes closed",
	         a->name, AGENT_HOOK_ARGS);
	return -1;
}

static int finish(struct agent_conf *c, char *err, size_t len)
{
	size_t i;

	if (c->state_dir == NULL && (c->state_dir = strdup(DEFAULT_STATE_DIR)) == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	if (c->retry_min > c->retry_max) {
		snprintf(err, len, "[agent]: retry_min is above retry_max");
		return -1;
	}
	if (c->ncerts == 0) {
		snprintf(err, len, "no [cert NAME] section");
		return -1;
	}
	for (i = 0; i < c->ncerts; i++)
		if (check_cert(c, &c->certs[i], err, len) != 0 || check_hook(&c->certs[i], err, len))
			return -1;
	return 0;
}

/*
 * inih's reader over p->text: one line per call. inih (as packaged) holds a
 * line in a 200-byte buffer and would cut a longer one, or call what is left
 * a syntax error; a long post_renew_command must get a clear message
 * instead. A NUL byte is refused too.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *start = p->text + p->pos;
	const char *nl = NULL;
	size_t len = 0, used = 0;

	if (p->pos >= p->len)
		return NULL;
	nl = memchr(start, '\n', p->len - p->pos);
	len = nl != NULL ? (size_t)(nl - start) : p->len - p->pos;
	used = nl != NULL ? len + 1 : len;
	p->pos += used;
	p->lineno++;
	if (memchr(start, '\0', len) != NULL) {
		conf_fail(p, "line %d: NUL byte in the line", p->lineno);
		len = 0;
	}
	while (len > 0 && start[len - 1] == '\r')
		len--;
	/* inih wants room for "\n\0" after the text */
	if (len + 2 > (size_t)num) {
		conf_fail(p, "line %d: too long (at most %d characters)", p->lineno, num - 2);
		len = 0;
	}
	memcpy(str, start, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static void defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->check_interval = 3600;
	c->retry_min = 60;
	c->retry_max = 3600;
	c->cacerts_interval = 86400;
	c->timeout = 60;
	c->hook_timeout = 300;
}

static int parse_common(const char *path, const char *text, struct agent_conf *out, char *err,
                        size_t errlen)
{
	struct parser p;
	unsigned char *buf = NULL;
	size_t buflen = 0;
	enum estkit_status rc = ESTKIT_OK;
	int r = 0;

	defaults(out);
	memset(&p, 0, sizeof(p));
	p.c = out;
	p.err = err;
	p.errlen = errlen;
	err[0] = '\0';
	if ((out->certs = calloc(AGENT_MAX_CERTS, sizeof(*out->certs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (path != NULL && (rc = estkit_file_read(path, &buf, &buflen)) != ESTKIT_OK) {
		snprintf(err, errlen, "cannot read %s: %s", path, estkit_strerror(rc));
		goto fail;
	}
	p.text = path != NULL ? (const char *)buf : text;
	p.len = path != NULL ? buflen : strlen(text);
	r = ini_parse_stream(read_line, &p, on_key, &p);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
	} else if (r > 0 && !p.failed) {
		snprintf(err, errlen, "line %d: syntax error", r);
	} else if (r > 0 && strncmp(err, "line ", 5) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "line %d: %s", r, why);
	} else if (!p.failed && finish(out, err, errlen) == 0) {
		estkit_free(buf);
		return 0;
	}
fail:
	estkit_free(buf);
	agent_conf_free(out);
	return -1;
}

int agent_conf_load(const char *path, struct agent_conf *out, char *err, size_t errlen)
{
	return parse_common(path, NULL, out, err, errlen);
}

int agent_conf_parse(const char *text, struct agent_conf *out, char *err, size_t errlen)
{
	return parse_common(NULL, text, out, err, errlen);
}

static void cert_free(struct agent_cert *a)
{
	char **strs[] = {
	    &a->name, &a->server, &a->trust, &a->user, &a->password_file, &a->otp_file,
	    &a->auth, &a->bootstrap_cert, &a->bootstrap_key, &a->key_type, &a->subject,
	    &a->cert_path, &a->key_path, &a->chain_path, &a->fullchain_path, &a->store, &a->hook,
	    &a->srp_user, &a->srp_password_file,
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (i = 0; i < a->nsans; i++)
		free(a->sans[i]);
	a->nsans = 0;
}

void agent_conf_free(struct agent_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; c->certs != NULL && i < c->ncerts; i++)
		cert_free(&c->certs[i]);
	free(c->certs);
	free(c->state_dir);
	memset(c, 0, sizeof(*c));
}
