/*
 * bench_stats.c - what `est bench` counts: latencies of successful requests
 * (percentiles by the nearest-rank method), failures by kind, and the
 * report (text or JSON).
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int est_bench_stats_ok(struct est_bench_stats *s, uint64_t us)
{
	uint64_t *nl = NULL;
	size_t cap = 0;

	if (s->nlat == s->caplat) {
		cap = s->caplat == 0 ? 1024 : s->caplat * 2;
		if (cap > SIZE_MAX / sizeof(*nl) || (nl = realloc(s->lat_us, cap * sizeof(*nl))) == NULL)
			return -1;
		s->lat_us = nl;
		s->caplat = cap;
	}
	s->lat_us[s->nlat++] = us;
	s->ok++;
	return 0;
}

/* The slot of kind in s: found, new, or the last one ("other") when full. */
static struct est_bench_kind *kind_slot(struct est_bench_stats *s, const char *kind)
{
	struct est_bench_kind *k = NULL;
	size_t i;

	for (i = 0; i < s->nkinds; i++)
		if (strncmp(s->kinds[i].name, kind, EST_BENCH_KIND_LEN - 1) == 0)
			return &s->kinds[i];
	if (s->nkinds == EST_BENCH_KIND_MAX)
		kind = "other";
	for (i = 0; i < s->nkinds; i++)
		if (strcmp(s->kinds[i].name, kind) == 0)
			return &s->kinds[i];
	if (s->nkinds == EST_BENCH_KIND_MAX)
		return &s->kinds[EST_BENCH_KIND_MAX - 1]; /* full, and no "other" yet: lump */
	k = &s->kinds[s->nkinds++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", kind);
	return k;
}

void est_bench_stats_fail(struct est_bench_stats *s, const char *kind, const char *msg)
{
	struct est_bench_kind *k = kind_slot(s, kind != NULL && kind[0] != '\0' ? kind : "other");

	if (k->count == 0 && msg != NULL)
		snprintf(k->first, sizeof(k->first), "%s", msg);
	k->count++;
	s->failed++;
}

int est_bench_stats_merge(struct est_bench_stats *to, const struct est_bench_stats *from)
{
	size_t i;

	for (i = 0; i < from->nlat; i++) {
		if (est_bench_stats_ok(to, from->lat_us[i]) != 0)
			return -1;
		to->ok--; /* counted below */
	}
	to->ok += from->ok;
	for (i = 0; i < from->nkinds; i++) {
		struct est_bench_kind *k = kind_slot(to, from->kinds[i].name);

		if (k->count == 0)
			memcpy(k->first, from->kinds[i].first, sizeof(k->first));
		k->count += from->kinds[i].count;
	}
	to->failed += from->failed;
	return 0;
}

void est_bench_stats_clear(struct est_bench_stats *s)
{
	free(s->lat_us);
	memset(s, 0, sizeof(*s));
}

uint64_t est_bench_percentile(const uint64_t *sorted, size_t n, double p)
{
	double rank = 0;
	size_t r = 0;

	if (n == 0 || sorted == NULL || !(p > 0))
		return 0;
	if (p >= 100)
		return sorted[n - 1];
	rank = p / 100.0 * (double)n;
	/* ceil(), where a rank a rounding error above an integer is that integer */
	r = (size_t)(rank + 0.5);
	if ((double)r - rank > 1e-9 * rank || rank - (double)r > 1e-9 * rank)
		r = (size_t)rank + 1;
	if (r < 1)
		r = 1;
	return sorted[(r > n ? n : r) - 1];
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void est_bench_stats_sort(struct est_bench_stats *s)
{
	if (s->nlat > 1)
		qsort(s->lat_us, s->nlat, sizeof(*s->lat_us), cmp_u64);
}

void est_bench_error_kind(enum estkit_status rc, long http_status, char out[EST_BENCH_KIND_LEN])
{
	const char *k = "other";

	if (http_status > 0 && http_status != 200) {
		snprintf(out, EST_BENCH_KIND_LEN, "http_%d",
		         http_status < 1000 ? (int)http_status : 999);
		return;
	}
	switch (rc) {
	case ESTKIT_ETLS:
	case ESTKIT_EUNTRUSTED: k = "tls"; break;
	case ESTKIT_ETIMEOUT: k = "timeout"; break;
	case ESTKIT_ENET: k = "network"; break;
	case ESTKIT_EPROTO:
	case ESTKIT_EPARSE: k = "bad_response"; break;
	default: break;
	}
	snprintf(out, EST_BENCH_KIND_LEN, "%s", k);
}

/* Writes s as a JSON string (quotes included); our strings are ASCII. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static double mean_ms(const struct est_bench_stats *s)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < s->nlat; i++)
		sum += (double)s->lat_us[i];
	return s->nlat == 0 ? 0 : sum / (double)s->nlat / 1000.0;
}

static void report_json(FILE *f, const struct est_bench_opts *o, const struct est_bench_run *r,
                        const struct est_bench_stats *s)
{
	const uint64_t *l = s->lat_us;
	size_t i;

	fprintf(f, "{\"op\": \"%s\", \"server\": ", est_bench_op_name(o->op));
	json_string(f, o->conn.server);
	fprintf(f, ", \"concurrency\": %ld, \"keepalive\": %s, \"tls\": \"%s\", ", o->concurrency,
	        o->keepalive ? "true" : "false", r->tls);
	fprintf(f, "\"distinct_keys\": %ld, \"setup_s\": %.3f, \"duration_s\": %.3f, ",
	        r->distinct_keys, r->setup_s, r->wall_s);
	fprintf(f, "\"requests\": %llu, \"ok\": %llu, \"errors\": %llu, \"rps\": %.2f, ",
	        (unsigned long long)(s->ok + s->failed), (unsigned long long)s->ok,
	        (unsigned long long)s->failed, r->wall_s > 0 ? (double)s->ok / r->wall_s : 0);
	fprintf(f,
	        "\"latency_ms\": {\"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
	        "\"max\": %.3f}, ",
	        mean_ms(s), ms(est_bench_percentile(l, s->nlat, 50)),
	        ms(est_bench_percentile(l, s->nlat, 90)), ms(est_bench_percentile(l, s->nlat, 99)),
	        ms(est_bench_percentile(l, s->nlat, 100)));
	fprintf(f, "\"client_cpu\": {\"seconds\": %.3f, \"cores_used\": %.3f}, ", r->cpu_s,
	        r->wall_s > 0 ? r->cpu_s / r->wall_s : 0);
	fputs("\"errors_by_kind\": {", f);
	for (i = 0; i < s->nkinds; i++) {
		fputs(i == 0 ? "" : ", ", f);
		json_string(f, s->kinds[i].name);
		fprintf(f, ": {\"count\": %llu, \"first\": ", (unsigned long long)s->kinds[i].count);
		json_string(f, s->kinds[i].first);
		fputc('}', f);
	}
	fputs("}}\n", f);
}

static void report_text(FILE *f, const struct est_bench_opts *o, const struct est_bench_run *r,
                        const struct est_bench_stats *s)
{
	const uint64_t *l = s->lat_us;
	size_t i;

	fprintf(f, "est bench: %s, %ld worker%s, %s, TLS %s, %ld distinct key%s\n",
	        est_bench_op_name(o->op), o->concurrency, o->concurrency == 1 ? "" : "s",
	        o->keepalive ? "keep-alive" : "new TLS connection per request", r->tls,
	        r->distinct_keys, r->distinct_keys == 1 ? "" : "s");
	fprintf(f, "  setup (untimed)  %.2f s\n", r->setup_s);
	fprintf(f, "  requests         %llu in %.2f s: %llu ok, %llu failed\n",
	        (unsigned long long)(s->ok + s->failed), r->wall_s, (unsigned long long)s->ok,
	        (unsigned long long)s->failed);
	fprintf(f, "  throughput       %.1f requests/s\n",
	        r->wall_s > 0 ? (double)s->ok / r->wall_s : 0);
	fprintf(f, "  latency (ms)     mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	        mean_ms(s), ms(est_bench_percentile(l, s->nlat, 50)),
	        ms(est_bench_percentile(l, s->nlat, 90)), ms(est_bench_percentile(l, s->nlat, 99)),
	        ms(est_bench_percentile(l, s->nlat, 100)));
	fprintf(f, "  client CPU       %.2f s (%.2f cores)\n", r->cpu_s,
	        r->wall_s > 0 ? r->cpu_s / r->wall_s : 0);
	for (i = 0; i < s->nkinds; i++)
		fprintf(f, "  error %-10s %llu (first: %s)\n", s->kinds[i].name,
		        (unsigned long long)s->kinds[i].count, s->kinds[i].first);
}

void est_bench_report(FILE *f, const struct est_bench_opts *o, const struct est_bench_run *r,
                      const struct est_bench_stats *s)
{
	if (o->json)
		report_json(f, o, r, s);
	else
		report_text(f, o, r, s);
}
