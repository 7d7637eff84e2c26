/*
 * gcommit.h - group commit: callers that want their write durable at the
 * same time share one transaction and one sync (BENCHMARKS.md finding 2).
 *
 * A caller submits an item and blocks. If no batch is being committed, it
 * becomes the leader: it takes every item queued so far (its own included)
 * and runs the batch function on them, outside the queue's lock. Items
 * submitted meanwhile queue up and form the next batch, which one of their
 * callers commits when the leader is done. Every caller returns only after
 * the batch function has set its item's result: never before its data is
 * durable (or its failure known). The batch function decides per item; a
 * failed commit must fail every item that it would otherwise have reported
 * as written.
 */
#ifndef ESTD_STORE_GCOMMIT_H
#define ESTD_STORE_GCOMMIT_H

#include <pthread.h>
#include <estkit/error.h>

struct estd_gcommit_item {
	const void *arg;              /* the caller's data; borrowed until submit returns */
	enum estkit_status rc;        /* set by the batch function */
	char msg[256];                /* the store's message when rc != ESTKIT_OK */
	int done;                     /* under the queue's lock */
	struct estd_gcommit_item *next;
};

/* Writes and commits batch (a list through next) and sets every item's rc and msg. */
typedef void (*estd_gcommit_batch_fn)(void *ctx, struct estd_gcommit_item *batch);

struct estd_gcommit {
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct estd_gcommit_item *head, **tail; /* the next batch */
	int leading;                            /* a batch is being committed */
	unsigned long batches, items;           /* committed so far (for tests, statistics) */
};

/* 0 on success, -1 when the mutex or condition cannot be made. */
int estd_gcommit_init(struct estd_gcommit *g);

/* No caller may be inside estd_gcommit_submit(). */
void estd_gcommit_destroy(struct estd_gcommit *g);

/*
 * Queues item (its arg set by the caller), commits it with others through
 * fn(ctx, batch) and returns its rc once its batch is done. Blocks; fn runs
 * on the thread of one of the callers of the batch.
 */
enum estkit_status estd_gcommit_submit(struct estd_gcommit *g, struct estd_gcommit_item *item,
				       estd_gcommit_batch_fn fn, void *ctx);

#endif /* ESTD_STORE_GCOMMIT_H */
