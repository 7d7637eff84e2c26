/*
 * connlim.c - the per-address connection limit: how many connections each
 * peer address holds, shared by every I/O loop of a server.
 *
 * An address is an IPv4 address or the /64 prefix of an IPv6 address (as in
 * authfail.c: one IPv6 host usually holds a whole /64). A connection takes a
 * slot when it is accepted and gives it back when its SSL is freed, which
 * can happen on another thread than the one that accepted it (teardown), so
 * one mutex guards the table. Address keys and their keyed hash are
 * addrkey.c's, as for the brute-force tracker.
 *
 * The table is a fixed pool of entries, one per address holding at least one
 * connection, chained in hash buckets; the hash is keyed with a random
 * per-table secret so that a peer cannot aim its addresses at one bucket.
 * An entry's index never changes while it is in use: a connection keeps it
 * (in its SSL's ex_data) to give its slot back without a lookup. The server
 * sizes the pool to its connection limit, so every counted connection's
 * address finds an entry; should the pool ever be full all the same, a new
 * address is refused (EK_CONNLIM_FULL, fail closed) rather than let through
 * uncounted.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "server/server_internal.h"

struct cl_entry {
	unsigned char addr[16]; /* IPv4-mapped IPv6, or the /64 prefix */
	unsigned count;         /* connections held; 0: the entry is free */
	int next;               /* next in the bucket chain or the free list; -1: end */
};

struct ek_connlim {
	unsigned limit;
	int nentries;
	size_t nbuckets;          /* a power of two */
	struct cl_entry *entries; /* [mu] */
	int *buckets;             /* [mu] first entry of each chain, -1: empty */
	int free_head;            /* [mu] */
	struct ek_addrhash key;   /* the secret of the bucket hash */
	struct ek_connlim_stats st; /* [mu] */
	uint64_t unreported;      /* [mu] refusals since the last report */
	int64_t last_report;      /* [mu] monotonic seconds; INT64_MIN: never */
	pthread_mutex_t mu;
};

/* See server_internal.h. */
struct ek_connlim *ek_connlim_new(int limit, int entries)
{
	struct ek_connlim *cl = NULL;
	int i;

	if (limit <= 0 || entries <= 0 || entries > (1 << 26))
		return NULL;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return NULL;
	cl->limit = (unsigned)limit;
	cl->nentries = entries;
	for (cl->nbuckets = 16; cl->nbuckets < (size_t)entries; cl->nbuckets *= 2)
		;
	cl->entries = calloc((size_t)entries, sizeof(*cl->entries));
	cl->buckets = malloc(cl->nbuckets * sizeof(*cl->buckets));
	if (cl->entries == NULL || cl->buckets == NULL || ek_addrhash_init(&cl->key) != 0 ||
	    pthread_mutex_init(&cl->mu, NULL) != 0) {
		free(cl->entries);
		free(cl->buckets);
		free(cl);
		return NULL;
	}
	for (i = 0; i < entries; i++)
		cl->entries[i].next = i + 1 < entries ? i + 1 : -1;
	cl->free_head = 0;
	for (size_t b = 0; b < cl->nbuckets; b++)
		cl->buckets[b] = -1;
	cl->last_report = INT64_MIN;
	return cl;
}

/* See server_internal.h. */
void ek_connlim_free(struct ek_connlim *cl)
{
	if (cl == NULL)
		return;
	pthread_mutex_destroy(&cl->mu);
	free(cl->entries);
	free(cl->buckets);
	free(cl);
}

static size_t bucket_of(const struct ek_connlim *cl, const unsigned char key[16])
{
	return (size_t)(ek_addrhash(&cl->key, key) & (cl->nbuckets - 1));
}

/* The entry of key in bucket b, or -1. [mu] */
static int lookup(const struct ek_connlim *cl, size_t b, const unsigned char key[16])
{
	int i;

	for (i = cl->buckets[b]; i >= 0; i = cl->entries[i].next)
		if (memcmp(cl->entries[i].addr, key, 16) == 0)
			return i;
	return -1;
}

/* See server_internal.h. */
enum ek_connlim_verdict ek_connlim_acquire(struct ek_connlim *cl, const unsigned char key[16],
					   int *slot)
{
	enum ek_connlim_verdict v = EK_CONNLIM_OK;
	size_t b;
	int i;

	*slot = -1;
	pthread_mutex_lock(&cl->mu);
	b = bucket_of(cl, key);
	i = lookup(cl, b, key);
	if (i < 0 && cl->free_head < 0) {
		v = EK_CONNLIM_FULL;
		cl->st.refused_full++;
	} else if (i >= 0 && cl->entries[i].count >= cl->limit) {
		v = EK_CONNLIM_OVER;
	} else {
		if (i < 0) {
			i = cl->free_head;
			cl->free_head = cl->entries[i].next;
			memcpy(cl->entries[i].addr, key, 16);
			cl->entries[i].count = 0;
			cl->entries[i].next = cl->buckets[b];
			cl->buckets[b] = i;
			cl->st.addresses++;
		}
		cl->entries[i].count++;
		cl->st.connections++;
		*slot = i;
	}
	if (v != EK_CONNLIM_OK) {
		cl->st.refused++;
		cl->unreported++;
	}
	pthread_mutex_unlock(&cl->mu);
	return v;
}

/* Unlinks entry i (count 0) from its chain onto the free list. [mu] */
static void unlink_entry(struct ek_connlim *cl, int i)
{
	size_t b = bucket_of(cl, cl->entries[i].addr);
	int *p = &cl->buckets[b];

	while (*p >= 0 && *p != i)
		p = &cl->entries[*p].next;
	if (*p == i)
		*p = cl->entries[i].next;
	cl->entries[i].next = cl->free_head;
	cl->free_head = i;
	cl->st.addresses--;
}

/* See server_internal.h. */
void ek_connlim_release(struct ek_connlim *cl, int slot)
{
	if (cl == NULL || slot < 0 || slot >= cl->nentries)
		return;
	pthread_mutex_lock(&cl->mu);
	if (cl->entries[slot].count > 0) {
		cl->st.connections--;
		if (--cl->entries[slot].count == 0)
			unlink_entry(cl, slot);
	}
	pthread_mutex_unlock(&cl->mu);
}

/* See server_internal.h. */
unsigned ek_connlim_held(struct ek_connlim *cl, const unsigned char key[16])
{
	unsigned n = 0;
	int i;

	pthread_mutex_lock(&cl->mu);
	i = lookup(cl, bucket_of(cl, key), key);
	if (i >= 0)
		n = cl->entries[i].count;
	pthread_mutex_unlock(&cl->mu);
	return n;
}

/* See server_internal.h. */
void ek_connlim_stats(struct ek_connlim *cl, struct ek_connlim_stats *st)
{
	pthread_mutex_lock(&cl->mu);
	*st = cl->st;
	pthread_mutex_unlock(&cl->mu);
}

/* See server_internal.h. */
int ek_connlim_report_due(struct ek_connlim *cl, int64_t now, uint64_t *unreported)
{
	int due = 0;

	*unreported = 0;
	pthread_mutex_lock(&cl->mu);
	if (cl->unreported > 0 &&
	    (cl->last_report == INT64_MIN || now - cl->last_report >= EK_CONNLIM_REPORT_EVERY)) {
		due = 1;
		*unreported = cl->unreported;
		cl->unreported = 0;
		cl->last_report = now;
	}
	pthread_mutex_unlock(&cl->mu);
	return due;
}
