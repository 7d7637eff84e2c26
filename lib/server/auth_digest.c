/*
 * auth_digest.c - HTTP Digest access authentication (RFC 7616), the password
 * method RFC 7030 3.2.3 names besides Basic: SHA-256 and MD5, qop=auth.
 *
 * Nonces are stateless, so that every estd node holding the same secret
 * accepts them:  nonce = base64(ts || salt || HMAC-SHA256(secret, ts || salt || realm)),
 * ts the 8-byte big-endian issue time (wall clock: nodes share it), salt 8
 * random bytes so that two challenges in the same second never share a
 * nonce (and so a nonce-count sequence).
 *
 * Replay (RFC 7616 3.4, 5.x): the highest nonce-count seen for each nonce is
 * kept in a bounded table of `digest_nonce_table` entries, hashed by nonce
 * into buckets of NC_WAYS slots. When a bucket is full its oldest entry is
 * dropped and the bucket's floor raised to that entry's issue time: a nonce
 * not in the table and not newer than the floor may have been seen, so it is
 * answered with stale=true (the client retries with a fresh nonce) rather
 * than trusted. The table is per server process; servers sharing the secret
 * can share the counts instead through backend->digest_nc (estd does with a
 * PostgreSQL store), so that a replay is refused whichever node it reaches.
 * The check runs on the job pool (pipeline.c authenticates there), so the
 * store round trip never blocks an event loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "server/server_internal.h"

#define NC_WAYS     8
#define TS_LEN      8
#define SALT_LEN    8
#define MSG_LEN     (TS_LEN + SALT_LEN)
#define MAC_LEN     32
#define NONCE_RAW   (MSG_LEN + MAC_LEN)
#define NONCE_B64   64   /* base64 of 48 bytes, no padding */
#define CLOCK_SKEW  60   /* a nonce from up to this far in the future is still ours */
#define SECRET_MAX  1024

struct nc_slot {
	unsigned char key[16]; /* first bytes of the nonce's MAC */
	int64_t ts;            /* issue time of the nonce */
	uint32_t nc;           /* highest nonce-count accepted */
	int used;
};

struct ek_digest {
	unsigned char secret[SECRET_MAX];
	size_t secret_len;
	int lifetime;
	size_t nbuckets;
	struct nc_slot *slots;  /* [mu] nbuckets * NC_WAYS */
	int64_t *floor;         /* [mu] per bucket */
	pthread_mutex_t mu;
};

/* See server_internal.h. */
struct ek_digest *ek_digest_new(const unsigned char *secret, size_t len, int lifetime,
				int table)
{
	struct ek_digest *d = NULL;

	if ((secret != NULL && (len < 16 || len > SECRET_MAX)) || lifetime <= 0 || table <= 0)
		return NULL;
	d = OPENSSL_zalloc(sizeof(*d));
	if (d == NULL)
		return NULL;
	d->lifetime = lifetime;
	d->nbuckets = ((size_t)table + NC_WAYS - 1) / NC_WAYS;
	d->slots = OPENSSL_zalloc(d->nbuckets * NC_WAYS * sizeof(*d->slots));
	d->floor = OPENSSL_zalloc(d->nbuckets * sizeof(*d->floor));
	if (secret != NULL) {
		memcpy(d->secret, secret, len);
		d->secret_len = len;
	} else if (RAND_bytes(d->secret, 32) == 1) {
		d->secret_len = 32;
	}
	if (d->slots == NULL || d->floor == NULL || d->secret_len == 0) {
		ek_digest_free(d);
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	return d;
}

/* See server_internal.h. */
void ek_digest_free(struct ek_digest *d)
{
	if (d == NULL)
		return;
	if (d->slots != NULL && d->floor != NULL)
		pthread_mutex_destroy(&d->mu);
	OPENSSL_free(d->slots);
	OPENSSL_free(d->floor);
	OPENSSL_clear_free(d, sizeof(*d));
}

/* HMAC-SHA256(secret, ts || salt || realm) into mac. */
static int nonce_mac(const struct ek_digest *d, const unsigned char *ts_salt, const char *realm,
		     unsigned char *mac)
{
	unsigned char msg[MSG_LEN + 256];
	unsigned int maclen = 0;
	size_t rlen = strlen(realm);

	if (rlen > sizeof(msg) - MSG_LEN)
		return -1;
	memcpy(msg, ts_salt, MSG_LEN);
	memcpy(msg + MSG_LEN, realm, rlen);
	if (HMAC(EVP_sha256(), d->secret, (int)d->secret_len, msg, MSG_LEN + rlen, mac,
		 &maclen) == NULL || maclen != MAC_LEN)
		return -1;
	return 0;
}

/* See server_internal.h. */
int ek_digest_nonce(const struct ek_digest *d, const char *realm, time_t now, char *out,
		    size_t outsz)
{
	unsigned char raw[NONCE_RAW];
	uint64_t t = (uint64_t)now;
	int i;

	if (outsz < NONCE_B64 + 1)
		return -1;
	for (i = TS_LEN - 1; i >= 0; i--, t >>= 8)
		raw[i] = (unsigned char)(t & 0xff);
	if (RAND_bytes(raw + TS_LEN, SALT_LEN) != 1 || nonce_mac(d, raw, realm, raw + MSG_LEN) != 0)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, raw, NONCE_RAW) == NONCE_B64 ? 0 : -1;
}

/* See server_internal.h. */
enum ek_nonce_state ek_digest_nonce_check(const struct ek_digest *d, const char *realm,
					  const char *nonce, time_t now, int64_t *ts,
					  unsigned char key[16])
{
	unsigned char raw[NONCE_RAW], mac[MAC_LEN];
	char again[NONCE_B64 + 1];
	uint64_t t = 0;
	int i;

	if (nonce == NULL || strlen(nonce) != NONCE_B64 ||
	    EVP_DecodeBlock(raw, (const unsigned char *)nonce, NONCE_B64) != NONCE_RAW)
		return EK_NONCE_BAD;
	/* only the canonical encoding: re-encode and compare */
	if (EVP_EncodeBlock((unsigned char *)again, raw, NONCE_RAW) != NONCE_B64 ||
	    memcmp(again, nonce, NONCE_B64) != 0)
		return EK_NONCE_BAD;
	if (nonce_mac(d, raw, realm, mac) != 0 || CRYPTO_memcmp(mac, raw + MSG_LEN, MAC_LEN) != 0)
		return EK_NONCE_BAD;
	for (i = 0; i < TS_LEN; i++)
		t = (t << 8) | raw[i];
	*ts = (int64_t)t;
	memcpy(key, raw + MSG_LEN, 16);
	if (*ts > (int64_t)now + CLOCK_SKEW)
		return EK_NONCE_BAD;
	return (int64_t)now - *ts > d->lifetime ? EK_NONCE_STALE : EK_NONCE_OK;
}

/* The slot to reuse in a full bucket: a free one, else the oldest (raising the floor). */
static struct nc_slot *victim(struct ek_digest *d, size_t b)
{
	struct nc_slot *s = &d->slots[b * NC_WAYS], *old = s;
	int i;

	for (i = 0; i < NC_WAYS; i++) {
		if (!s[i].used)
			return &s[i];
		if (s[i].ts < old->ts)
			old = &s[i];
	}
	if (old->ts > d->floor[b])
		d->floor[b] = old->ts;
	return old;
}

/* See server_internal.h. */
enum ek_nc_state ek_digest_nc_accept(struct ek_digest *d, const unsigned char key[16],
				     int64_t ts, uint32_t nc)
{
	size_t b = ((size_t)key[0] << 24 | (size_t)key[1] << 16 | (size_t)key[2] << 8 | key[3]) %
		   d->nbuckets;
	struct nc_slot *s = &d->slots[b * NC_WAYS];
	enum ek_nc_state st = EK_NC_OK;
	int i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < NC_WAYS; i++)
		if (s[i].used && memcmp(s[i].key, key, 16) == 0)
			break;
	if (i < NC_WAYS) {
		/* RFC 7616 3.4: the count only goes up; an equal or lower one is a replay */
		if (nc <= s[i].nc)
			st = EK_NC_REPLAY;
		else
			s[i].nc = nc;
	} else if (ts <= d->floor[b]) {
		st = EK_NC_FORGOTTEN;
	} else {
		struct nc_slot *v = victim(d, b);
		memcpy(v->key, key, 16);
		v->ts = ts;
		v->nc = nc;
		v->used = 1;
	}
	pthread_mutex_unlock(&d->mu);
	return st;
}

static const EVP_MD *digest_md(const char *alg)
{
	if (alg == NULL || strcasecmp(alg, "MD5") == 0) /* RFC 7616 3.3: absent means MD5 */
		return EVP_md5();
	if (strcasecmp(alg, "SHA-256") == 0)
		return EVP_sha256();
	return NULL;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* hex(H(parts[0] ":" parts[1] ":" ...)) into out (2 * EVP_MAX_MD_SIZE + 1 bytes). */
static int hash_hex(const EVP_MD *md, const char *const *parts, size_t n, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	size_t i;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
		     EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, h, &hlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		to_hex(h, hlen, out);
	OPENSSL_cleanse(h, sizeof(h));
	return ok ? 0 : -1;
}

/* See server_internal.h. RFC 7616 3.4.1, qop=auth. */
int ek_digest_response(const char *alg, const unsigned char *ha1, size_t ha1_len,
		       const struct ek_digest_params *p, const char *method, char *out)
{
	const EVP_MD *md = digest_md(alg);
	char ha1hex[2 * EVP_MAX_MD_SIZE + 1], ha2hex[2 * EVP_MAX_MD_SIZE + 1];
	const char *a2[2], *kd[6];
	int rc = -1;

	if (md == NULL || ha1_len != (size_t)EVP_MD_get_size(md) || p->nonce == NULL ||
	    p->nc == NULL || p->cnonce == NULL || p->qop == NULL || p->uri == NULL)
		return -1;
	to_hex(ha1, ha1_len, ha1hex);
	a2[0] = method;
	a2[1] = p->uri;
	if (hash_hex(md, a2, 2, ha2hex) != 0)
		goto out;
	kd[0] = ha1hex;
	kd[1] = p->nonce;
	kd[2] = p->nc;
	kd[3] = p->cnonce;
	kd[4] = p->qop;
	kd[5] = ha2hex;
	rc = hash_hex(md, kd, 6, out);
out:
	OPENSSL_cleanse(ha1hex, sizeof(ha1hex));
	return rc;
}

/* See server_internal.h. RFC 7616 3.3. */
int ek_digest_challenge(struct estkit_server *srv, const char *alg, int stale, char *out,
			size_t outsz)
{
	char nonce[NONCE_B64 + 1];
	int n;

	if (srv->digest == NULL || ek_digest_nonce(srv->digest, srv->realm, time(NULL), nonce,
						   sizeof(nonce)) != 0)
		return -1;
	n = snprintf(out, outsz, "Digest realm=\"%s\", qop=\"auth\", algorithm=%s, nonce=\"%s\"%s",
		     srv->realm, alg, nonce, stale ? ", stale=true" : "");
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* Printable copy of an untrusted user name for the log. */
static void log_name(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] > ' ' && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/* The request-independent checks of RFC 7616 3.4; NULL when fine, else why not. */
static const char *params_problem(const struct estkit_request *r,
				  const struct ek_digest_params *p)
{
	size_t i;

	if (p->username == NULL || p->username[0] == '\0')
		return "no username (username* and userhash are not supported)";
	if (p->userhash != NULL && strcasecmp(p->userhash, "false") != 0)
		return "userhash is not supported";
	if (p->realm == NULL || strcmp(p->realm, r->srv->realm) != 0)
		return "wrong realm";
	if (digest_md(p->algorithm) == NULL)
		return "unsupported algorithm";
	if (p->qop == NULL || strcmp(p->qop, "auth") != 0)
		return "qop must be auth";
	if (p->cnonce == NULL || p->cnonce[0] == '\0')
		return "no cnonce";
	if (p->uri == NULL || r->target == NULL || strcmp(p->uri, r->target) != 0)
		return "uri does not match the request target";
	if (p->nc == NULL || strlen(p->nc) != 8 || strspn(p->nc, "0123456789abcdefABCDEF") != 8)
		return "nc must be 8 hex digits";
	if (p->response == NULL || strlen(p->response) != 2 * (size_t)EVP_MD_get_size(
							    digest_md(p->algorithm)))
		return "malformed response";
	for (i = 0; p->response[i] != '\0'; i++)
		if (!((p->response[i] >= '0' && p->response[i] <= '9') ||
		      (p->response[i] >= 'a' && p->response[i] <= 'f')))
			return "malformed response";
	return NULL;
}

/* 1 when p->response is right for the user's HA1. Costs the same for unknown users. */
static int response_ok(struct estkit_request *r, const struct ek_digest_params *p)
{
	const struct estkit_backend *be = &r->srv->backend;
	const char *alg = p->algorithm != NULL ? p->algorithm : "MD5";
	unsigned char ha1[EVP_MAX_MD_SIZE];
	char want[2 * EVP_MAX_MD_SIZE + 1];
	size_t len = sizeof(ha1), mdlen = (size_t)EVP_MD_get_size(digest_md(alg));
	int found, ok = 0;

	found = be->digest_ha1(be->ctx, r->label, p->username,
			       strcasecmp(alg, "SHA-256") == 0 ? "SHA-256" : "MD5", ha1, &len) == 1;
	if (!found || len != mdlen) {
		/* no such user or no HA1: still compute a response, against random bytes */
		found = 0;
		len = mdlen;
		if (RAND_bytes(ha1, (int)len) != 1)
			memset(ha1, 0, len);
	}
	if (ek_digest_response(alg, ha1, len, p, r->method_name, want) == 0 &&
	    CRYPTO_memcmp(want, p->response, 2 * mdlen) == 0)
		ok = found;
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* After the response proved the password: freshness and replay of the nonce. */
static const char *nonce_problem(struct estkit_request *r, const struct ek_digest_params *p,
				 enum ek_nonce_state ns, int64_t ts, const unsigned char *key)
{
	unsigned long nc = strtoul(p->nc, NULL, 16);

	if (ns == EK_NONCE_STALE) {
		r->digest_stale = 1;
		return "nonce expired";
	}
	if (r->srv->backend.digest_nc != NULL) {
		/* several servers share the counts (estd with a PostgreSQL store) */
		switch (r->srv->backend.digest_nc(r->srv->backend.ctx, key, ts, (uint32_t)nc)) {
		case 1: return NULL;
		case 0: return "nonce count replayed";
		default:
			r->auth_unavailable = 1;
			return "nonce-count store unavailable";
		}
	}
	switch (ek_digest_nc_accept(r->srv->digest, key, ts, (uint32_t)nc)) {
	case EK_NC_OK: return NULL;
	case EK_NC_REPLAY: return "nonce count replayed";
	default:
		r->digest_stale = 1;
		return "nonce no longer tracked";
	}
}

/* See server_internal.h. */
int ek_digest_authenticate(struct estkit_request *r, char **user)
{
	struct ek_digest_params *p = OPENSSL_malloc(sizeof(*p));
	enum ek_nonce_state ns = EK_NONCE_BAD;
	unsigned char key[16];
	int64_t ts = 0;
	const char *why = NULL;
	char who[80];

	*user = NULL;
	if (p == NULL)
		return -1;
	if (ek_digest_parse(r->authz, p) != 0)
		why = "malformed Authorization header";
	else if ((why = params_problem(r, p)) == NULL &&
		 (ns = ek_digest_nonce_check(r->srv->digest, r->srv->realm, p->nonce, time(NULL),
					     &ts, key)) == EK_NONCE_BAD)
		why = "forged or foreign nonce";
	if (why == NULL && !response_ok(r, p))
		why = "wrong user or password";
	if (why == NULL)
		why = nonce_problem(r, p, ns, ts, key);
	if (why == NULL && (*user = OPENSSL_strdup(p->username)) == NULL)
		why = "out of memory";
	log_name(who, sizeof(who), p->username);
	if (why != NULL)
		ek_server_log(r->srv, ESTKIT_LOG_INFO, "digest: refused user=%s peer=%s: %s",
			      who[0] != '\0' ? who : "-", r->peer, why);
	OPENSSL_clear_free(p, sizeof(*p));
	return why == NULL ? 0 : -1;
}
