/*
 * backend/upool.h - kept-alive upstream connections of backend = proxy:
 * estkit clients (each holding its libcurl handle and so its TLS
 * connection) that finished a request wait here, idle, for the next request
 * with the same settings instead of being freed. Bounded in number and in
 * idle time; a reload drops every idle one. A client is used by one thread
 * at a time: taken out while in use, given back after.
 */
#ifndef ESTD_BACKEND_UPOOL_H
#define ESTD_BACKEND_UPOOL_H

#include <stddef.h>

#include <estkit/client.h>

struct estd_upool;

/* A pool keeping at most max_idle idle clients. NULL when memory ran out. */
struct estd_upool *estd_upool_new(size_t max_idle);

/* Frees the pool and every idle client in it. NULL is a no-op. */
void estd_upool_free(struct estd_upool *p);

/*
 * The most recently given back idle client for key whose secret (NULL for
 * none) is the same, removed from the pool, or NULL. Clients idle longer
 * than their idle_ms are freed on the way. The caller owns the result.
 */
struct estkit_client *estd_upool_take(struct estd_upool *p, const char *key,
				      const char *secret);

/*
 * Gives cl (ownership passes) back to wait for the next request with key and
 * secret, at most idle_ms milliseconds; when the pool is full the least
 * recently given back one is freed to make room. cl is freed instead when
 * idle_ms is 0, the pool was flushed since gen was read (a reload) or memory
 * ran out.
 */
void estd_upool_give(struct estd_upool *p, const char *key, const char *secret,
		     unsigned gen, long idle_ms, struct estkit_client *cl);

/* The current generation, to pass to estd_upool_give() for a client taken or made now. */
unsigned estd_upool_gen(struct estd_upool *p);

/* Frees every idle client and starts a new generation (configuration reload). */
void estd_upool_flush(struct estd_upool *p);

/* Idle clients in the pool now. */
size_t estd_upool_idle(struct estd_upool *p);

#endif /* ESTD_BACKEND_UPOOL_H */
