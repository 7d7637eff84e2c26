/*
 * backend/upool.c - kept-alive upstream connections of backend = proxy
 * (see upool.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "backend/upool.h"
#include "util.h"

struct idle {
	char *key;
	char *secret;              /* NULL: none; wiped when freed */
	struct estkit_client *cl;
	long long expires;         /* monotonic ms */
};

struct estd_upool {
	pthread_mutex_t lock;
	struct idle *idle;         /* oldest first */
	size_t n, max;
	unsigned gen;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void secret_free(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void idle_clear(struct idle *e)
{
	estkit_client_free(e->cl);
	free(e->key);
	secret_free(e->secret);
	memset(e, 0, sizeof(*e));
}

/* See upool.h. */
struct estd_upool *estd_upool_new(size_t max_idle)
{
	struct estd_upool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->idle = calloc(max_idle > 0 ? max_idle : 1, sizeof(*p->idle));
	if (p->idle == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p->idle);
		free(p);
		return NULL;
	}
	p->max = max_idle;
	return p;
}

/* See upool.h. */
void estd_upool_free(struct estd_upool *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		idle_clear(&p->idle[i]);
	free(p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Removes entry i (kept in order), handing it to *out. Locked. */
static void remove_at(struct estd_upool *p, size_t i, struct idle *out)
{
	*out = p->idle[i];
	memmove(&p->idle[i], &p->idle[i + 1], (p->n - i - 1) * sizeof(*p->idle));
	p->n--;
}

/* Moves expired entries (at most cap) to dead[]; returns how many. Locked. */
static size_t take_expired(struct estd_upool *p, long long now, struct idle *dead, size_t cap)
{
	size_t i = 0, nd = 0;

	while (i < p->n && nd < cap) {
		if (p->idle[i].expires <= now)
			remove_at(p, i, &dead[nd++]);
		else
			i++;
	}
	return nd;
}

static int same_secret(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return a == b;
	la = strlen(a);
	lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* See upool.h. */
struct estkit_client *estd_upool_take(struct estd_upool *p, const char *key,
				      const char *secret)
{
	struct idle dead[8], got;
	struct estkit_client *cl = NULL;
	size_t nd, i;

	memset(&got, 0, sizeof(got));
	pthread_mutex_lock(&p->lock);
	nd = take_expired(p, mono_ms(), dead, sizeof(dead) / sizeof(dead[0]));
	/* the most recent first: its connection is the least likely to be closed */
	for (i = p->n; i-- > 0;) {
		if (strcmp(p->idle[i].key, key) == 0 && same_secret(p->idle[i].secret, secret)) {
			remove_at(p, i, &got);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	/* closing connections (TLS close_notify) outside the lock */
	for (i = 0; i < nd; i++)
		idle_clear(&dead[i]);
	cl = got.cl;
	got.cl = NULL;
	idle_clear(&got);
	return cl;
}

/* See upool.h. */
void estd_upool_give(struct estd_upool *p, const char *key, const char *secret,
		     unsigned gen, long idle_ms, struct estkit_client *cl)
{
	struct idle e, dead[8];
	size_t nd = 0, i;

	memset(&e, 0, sizeof(e));
	e.cl = cl;
	if (cl == NULL || idle_ms <= 0 || p->max == 0)
		goto out;
	e.key = estd_strdup(key);
	e.secret = secret != NULL ? estd_strdup(secret) : NULL;
	if (e.key == NULL || (secret != NULL && e.secret == NULL))
		goto out;
	pthread_mutex_lock(&p->lock);
	e.expires = mono_ms() + idle_ms;
	nd = take_expired(p, mono_ms(), dead, sizeof(dead) / sizeof(dead[0]) - 1);
	if (gen == p->gen) {
		/* full: the least recently used one makes room */
		if (p->n == p->max)
			remove_at(p, 0, &dead[nd++]);
		p->idle[p->n++] = e;
		memset(&e, 0, sizeof(e));
	}
	pthread_mutex_unlock(&p->lock);
out:
	for (i = 0; i < nd; i++)
		idle_clear(&dead[i]);
	idle_clear(&e);
}

/* See upool.h. */
unsigned estd_upool_gen(struct estd_upool *p)
{
	unsigned g;

	pthread_mutex_lock(&p->lock);
	g = p->gen;
	pthread_mutex_unlock(&p->lock);
	return g;
}

/* See upool.h. */
void estd_upool_flush(struct estd_upool *p)
{
	struct idle *old = NULL;
	size_t n = 0, i;

	old = calloc(p->max > 0 ? p->max : 1, sizeof(*old));
	pthread_mutex_lock(&p->lock);
	p->gen++;
	if (old != NULL) {
		memcpy(old, p->idle, p->n * sizeof(*old));
		n = p->n;
		p->n = 0;
	} else {
		/* no memory for the copy: close them under the lock */
		for (i = 0; i < p->n; i++)
			idle_clear(&p->idle[i]);
		p->n = 0;
	}
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < n; i++)
		idle_clear(&old[i]);
	free(old);
}

/* See upool.h. */
size_t estd_upool_idle(struct estd_upool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}
