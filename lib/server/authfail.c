/*
 * authfail.c - brute-force protection: failed authentications counted per
 * peer address, slowing and then refusing an address that keeps failing.
 *
 * An address is an IPv4 address or the /64 prefix of an IPv6 address (one
 * IPv6 host usually holds a whole /64). Each failure inside `window` seconds
 * of the address's first failure counts; a failure after the window starts a
 * new one. The n-th counted failure is answered after (n - 1) * delay_ms
 * (at most EK_AUTHFAIL_DELAY_MAX ms, on a timer: the event loop never
 * sleeps), and the `limit`-th locks the address out for `lockout` seconds:
 * its requests are refused (429 + Retry-After) without being looked at.
 * A success does not reset anything - neither the address's own count (an
 * attacker holding one valid credential could otherwise interleave it to
 * brute-force another account) nor any other address's.
 *
 * The table is a fixed array of `table` entries (memory bounded whatever the
 * number of addresses), hashed by address with PROBES linear probes. The
 * hash is keyed with a random secret of the tracker (addrkey.c): a peer
 * choosing its addresses (an IPv6 peer has plenty) cannot aim them at the
 * probe window of an address it wants evicted. A new
 * address takes a free or expired slot among them, else evicts the least
 * recently failed unlocked one (or, all being locked, the one whose lockout
 * ends first). One mutex guards it: every I/O loop and job thread of the
 * server shares one view of an address, whichever SO_REUSEPORT socket its
 * connections land on.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "server/server_internal.h"

#define PROBES 8

struct af_slot {
	unsigned char addr[16]; /* IPv4-mapped IPv6, or the /64 prefix */
	int used;
	unsigned count;         /* failures in the current window */
	int64_t first;          /* start of the window */
	int64_t last;           /* last failure, for eviction */
	int64_t locked_until;   /* 0: not locked */
};

struct ek_authfail {
	struct ek_authfail_conf conf;
	struct ek_addrhash key; /* the secret of the slot hash */
	size_t n;
	struct af_slot *slots; /* [mu] */
	pthread_mutex_t mu;
};

/* See server_internal.h. */
struct ek_authfail *ek_authfail_new(const struct ek_authfail_conf *conf)
{
	struct ek_authfail *af = NULL;

	if (conf == NULL || conf->limit <= 0 || conf->window <= 0 || conf->lockout <= 0 ||
	    conf->table <= 0 || conf->delay_ms < 0)
		return NULL;
	af = calloc(1, sizeof(*af));
	if (af == NULL)
		return NULL;
	af->conf = *conf;
	af->n = (size_t)conf->table;
	af->slots = calloc(af->n, sizeof(*af->slots));
	if (af->slots == NULL || ek_addrhash_init(&af->key) != 0 ||
	    pthread_mutex_init(&af->mu, NULL) != 0) {
		free(af->slots);
		free(af);
		return NULL;
	}
	return af;
}

/* See server_internal.h. */
void ek_authfail_free(struct ek_authfail *af)
{
	if (af == NULL)
		return;
	pthread_mutex_destroy(&af->mu);
	free(af->slots);
	free(af);
}

/* A slot that holds nothing worth keeping at now. */
static int slot_idle(const struct ek_authfail *af, const struct af_slot *s, int64_t now)
{
	return !s->used ||
	       (s->locked_until <= now && now - s->first >= af->conf.window);
}

/* The slot of addr, or (create) a slot for it; NULL when absent and !create. [mu] */
static struct af_slot *find(struct ek_authfail *af, const unsigned char addr[16], int64_t now,
			    int create)
{
	size_t h = (size_t)(ek_addrhash(&af->key, addr) % af->n), i;
	struct af_slot *victim = NULL, *s = NULL;

	for (i = 0; i < PROBES && i < af->n; i++) {
		s = &af->slots[(h + i) % af->n];
		if (s->used && memcmp(s->addr, addr, 16) == 0)
			return s;
	}
	if (!create)
		return NULL;
	for (i = 0; i < PROBES && i < af->n; i++) {
		s = &af->slots[(h + i) % af->n];
		if (slot_idle(af, s, now)) {
			victim = s;
			break;
		}
		/* prefer the unlocked slot failed longest ago, then the soonest unlocked */
		if (victim == NULL ||
		    (victim->locked_until > now &&
		     (s->locked_until <= now || s->locked_until < victim->locked_until)) ||
		    (victim->locked_until <= now && s->locked_until <= now && s->last < victim->last))
			victim = s;
	}
	if (victim == NULL)
		return NULL; /* an empty table: cannot happen (table > 0) */
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, addr, 16);
	victim->used = 1;
	victim->first = now;
	return victim;
}

/* See server_internal.h. */
unsigned ek_authfail_locked(struct ek_authfail *af, const char *peer, int64_t now)
{
	unsigned char addr[EK_ADDRKEY_LEN];

	if (ek_addrkey_text(peer, addr) != 0)
		return 0;
	return ek_authfail_locked_key(af, addr, now);
}

/* See server_internal.h. */
unsigned ek_authfail_locked_key(struct ek_authfail *af, const unsigned char addr[16],
				int64_t now)
{
	struct af_slot *s = NULL;
	unsigned left = 0;

	if (af == NULL)
		return 0;
	pthread_mutex_lock(&af->mu);
	s = find(af, addr, now, 0);
	if (s != NULL && s->locked_until > now)
		left = (unsigned)(s->locked_until - now);
	pthread_mutex_unlock(&af->mu);
	return left;
}

/* See server_internal.h. */
unsigned ek_authfail_record(struct ek_authfail *af, const char *peer, int64_t now,
			    int *locked_now)
{
	unsigned char addr[EK_ADDRKEY_LEN];

	if (locked_now != NULL)
		*locked_now = 0;
	if (ek_addrkey_text(peer, addr) != 0)
		return 0;
	return ek_authfail_record_key(af, addr, now, locked_now);
}

/* See server_internal.h. */
unsigned ek_authfail_record_key(struct ek_authfail *af, const unsigned char addr[16],
				int64_t now, int *locked_now)
{
	struct af_slot *s = NULL;
	unsigned delay = 0;
	uint64_t d;

	if (locked_now != NULL)
		*locked_now = 0;
	if (af == NULL)
		return 0;
	pthread_mutex_lock(&af->mu);
	s = find(af, addr, now, 1);
	if (s == NULL) {
		pthread_mutex_unlock(&af->mu);
		return 0;
	}
	if (s->locked_until != 0 && s->locked_until <= now) {
		s->locked_until = 0; /* the lockout is over: a fresh start */
		s->count = 0;
	}
	if (s->count == 0 || now - s->first >= af->conf.window) {
		s->first = now;
		s->count = 0;
	}
	s->last = now;
	if (s->count < UINT32_MAX)
		s->count++;
	if (s->locked_until == 0 && s->count >= (unsigned)af->conf.limit) {
		s->locked_until = now + af->conf.lockout;
		if (locked_now != NULL)
			*locked_now = 1;
	}
	d = (uint64_t)(s->count - 1) * (uint64_t)af->conf.delay_ms;
	delay = d > EK_AUTHFAIL_DELAY_MAX ? EK_AUTHFAIL_DELAY_MAX : (unsigned)d;
	pthread_mutex_unlock(&af->mu);
	return delay;
}

/* See server_internal.h. */
int64_t ek_authfail_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* See server_internal.h. Job thread. */
void ek_authfail_reject(struct estkit_request *r)
{
	struct estkit_server *srv = r->srv;
	int locked = 0;

	r->want_auth = 1;
	ek_request_set(r, 401, "authentication required");
	/* no credentials yet, or a stale Digest nonce: the normal challenge, not a failure */
	if (r->authz == NULL || r->digest_stale)
		return;
	r->delay_ms = ek_authfail_record(srv->authfail, r->peer, ek_authfail_now(), &locked);
	if (locked)
		ek_server_log(srv, ESTKIT_LOG_WARN,
			      "auth lockout peer=%s failures=%d window=%ds lockout=%ds", r->peer,
			      srv->cfg.auth_fail_limit, srv->cfg.auth_fail_window,
			      srv->cfg.auth_fail_lockout);
}

/* See server_internal.h. Loop thread. */
int ek_authfail_refused(struct estkit_request *r)
{
	unsigned left;

	/* the CA certificates are public (RFC 7030 4.1.1): always served */
	if (r->srv->authfail == NULL || r->op == ESTKIT_OP_CACERTS)
		return 0;
	left = ek_authfail_locked(r->srv->authfail, r->peer, ek_authfail_now());
	if (left == 0)
		return 0;
	ek_request_set(r, 429, "too many failed authentications, retry later");
	r->retry_after = left;
	return 1;
}

/* See server_internal.h. Any thread (TLS verification, SRP handshakes). */
void ek_authfail_tls(struct estkit_server *srv, int fd, const char *what)
{
	char host[INET6_ADDRSTRLEN + 2] = "";
	unsigned char addr[EK_ADDRKEY_LEN];
	int locked = 0;

	if (srv->authfail == NULL || ek_addrkey_fd(fd, addr, host, sizeof(host)) != 0)
		return;
	(void)ek_authfail_record_key(srv->authfail, addr, ek_authfail_now(), &locked);
	if (locked)
		ek_server_log(srv, ESTKIT_LOG_WARN,
			      "auth lockout peer=%s failures=%d window=%ds lockout=%ds "
			      "(%s)",
			      host, srv->cfg.auth_fail_limit, srv->cfg.auth_fail_window,
			      srv->cfg.auth_fail_lockout, what);
}
