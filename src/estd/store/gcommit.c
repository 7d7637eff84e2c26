/*
 * gcommit.c - group commit (gcommit.h): a leader commits everything queued
 * while the previous batch was being synced.
 */
#include "store/gcommit.h"

#include <string.h>

int estd_gcommit_init(struct estd_gcommit *g)
{
	memset(g, 0, sizeof(*g));
	g->tail = &g->head;
	if (pthread_mutex_init(&g->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&g->done, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		return -1;
	}
	return 0;
}

void estd_gcommit_destroy(struct estd_gcommit *g)
{
	if (g == NULL || g->tail == NULL)
		return;
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->lock);
	g->tail = NULL;
}

/* Takes the queue as one batch; the caller holds g->lock. */
static struct estd_gcommit_item *take_batch(struct estd_gcommit *g)
{
	struct estd_gcommit_item *batch = g->head;

	g->head = NULL;
	g->tail = &g->head;
	return batch;
}

/* Marks batch done and wakes its callers; the caller holds g->lock. */
static void finish_batch(struct estd_gcommit *g, struct estd_gcommit_item *batch)
{
	struct estd_gcommit_item *it, *next;

	g->batches++;
	for (it = batch; it != NULL; it = next) {
		/* an item may be gone as soon as the lock is released: read next first */
		next = it->next;
		it->done = 1;
		g->items++;
	}
	g->leading = 0;
	pthread_cond_broadcast(&g->done);
}

enum estkit_status estd_gcommit_submit(struct estd_gcommit *g, struct estd_gcommit_item *item,
				       estd_gcommit_batch_fn fn, void *ctx)
{
	struct estd_gcommit_item *batch = NULL;
	enum estkit_status rc;

	if (g == NULL || item == NULL || fn == NULL)
		return ESTKIT_EINVAL;
	item->rc = ESTKIT_EINTERNAL;
	item->msg[0] = '\0';
	item->done = 0;
	item->next = NULL;
	pthread_mutex_lock(&g->lock);
	*g->tail = item;
	g->tail = &item->next;
	while (!item->done) {
		if (g->leading) {
			pthread_cond_wait(&g->done, &g->lock);
			continue;
		}
		/* lead: commit everything queued, our item included unless a leader took it */
		g->leading = 1;
		batch = take_batch(g);
		pthread_mutex_unlock(&g->lock);
		if (batch != NULL)
			fn(ctx, batch);
		pthread_mutex_lock(&g->lock);
		finish_batch(g, batch);
	}
	rc = item->rc;
	pthread_mutex_unlock(&g->lock);
	return rc;
}
