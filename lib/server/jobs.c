/*
 * jobs.c - the bounded job pool: a FIFO of requests and a fixed set of
 * threads running their pipelines. Event loops submit; a full queue is
 * refused at once so the loop can answer 503 (back-pressure, DESIGN.md 4).
 * Each finished request is handed back to its loop (ek_handler_complete).
 */
#include <stdlib.h>
#include "server/server_internal.h"

struct ek_jobs {
	struct estkit_server *srv;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct estkit_request *head, *tail; /* [mu] */
	int queued;                         /* [mu] */
	int queue_max;
	int stop;                           /* [mu] */
	int nthreads;
	int nstarted;
	pthread_t *threads;
};

static void *job_main(void *arg)
{
	struct ek_jobs *jobs = arg;
	struct estkit_request *r = NULL;

	for (;;) {
		pthread_mutex_lock(&jobs->mu);
		while (jobs->head == NULL && !jobs->stop)
			pthread_cond_wait(&jobs->cond, &jobs->mu);
		if (jobs->head == NULL) {
			pthread_mutex_unlock(&jobs->mu);
			return NULL;
		}
		r = jobs->head;
		jobs->head = r->next;
		if (jobs->head == NULL)
			jobs->tail = NULL;
		jobs->queued--;
		pthread_mutex_unlock(&jobs->mu);
		r->next = NULL;
		ek_pipeline_run(r);
		ek_handler_complete(r);
	}
}

/* See server_internal.h. */
struct ek_jobs *ek_jobs_new(struct estkit_server *srv, int nthreads, int queue_max)
{
	struct ek_jobs *jobs = calloc(1, sizeof(*jobs));

	if (jobs == NULL)
		return NULL;
	jobs->threads = calloc((size_t)nthreads, sizeof(pthread_t));
	if (jobs->threads == NULL) {
		free(jobs);
		return NULL;
	}
	jobs->srv = srv;
	jobs->nthreads = nthreads;
	jobs->queue_max = queue_max;
	pthread_mutex_init(&jobs->mu, NULL);
	pthread_cond_init(&jobs->cond, NULL);
	return jobs;
}

/* See server_internal.h. */
enum estkit_status ek_jobs_start(struct ek_jobs *jobs)
{
	for (; jobs->nstarted < jobs->nthreads; jobs->nstarted++) {
		if (pthread_create(&jobs->threads[jobs->nstarted], NULL, job_main, jobs) != 0)
			return ESTKIT_EINTERNAL;
	}
	return ESTKIT_OK;
}

/* See server_internal.h. */
enum estkit_status ek_jobs_submit(struct ek_jobs *jobs, struct estkit_request *r)
{
	enum estkit_status rc = ESTKIT_EBUSY;

	pthread_mutex_lock(&jobs->mu);
	if (!jobs->stop && jobs->queued < jobs->queue_max) {
		r->next = NULL;
		if (jobs->tail != NULL)
			jobs->tail->next = r;
		else
			jobs->head = r;
		jobs->tail = r;
		jobs->queued++;
		pthread_cond_signal(&jobs->cond);
		rc = ESTKIT_OK;
	}
	pthread_mutex_unlock(&jobs->mu);
	return rc;
}

/* See server_internal.h. */
void ek_jobs_stop(struct ek_jobs *jobs)
{
	struct estkit_request *r = NULL, *next = NULL;
	int i;

	if (jobs == NULL)
		return;
	pthread_mutex_lock(&jobs->mu);
	jobs->stop = 1;
	/* what the grace period did not reach is answered "unavailable" */
	r = jobs->head;
	jobs->head = jobs->tail = NULL;
	jobs->queued = 0;
	pthread_cond_broadcast(&jobs->cond);
	pthread_mutex_unlock(&jobs->mu);
	for (; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		ek_request_set(r, 503, "server shutting down");
		r->retry_after = EK_RETRY_BUSY;
		ek_handler_complete(r);
	}
	for (i = 0; i < jobs->nstarted; i++)
		pthread_join(jobs->threads[i], NULL);
	jobs->nstarted = 0;
}

/* See server_internal.h. */
void ek_jobs_free(struct ek_jobs *jobs)
{
	if (jobs == NULL)
		return;
	ek_jobs_stop(jobs);
	pthread_mutex_destroy(&jobs->mu);
	pthread_cond_destroy(&jobs->cond);
	free(jobs->threads);
	free(jobs);
}
