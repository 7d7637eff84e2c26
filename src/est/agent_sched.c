/*
 * agent_sched.c - when `est agent` acts: the renewal time of a certificate
 * and the backoff after failures. Pure functions of their arguments (the
 * randomness comes in as a parameter) so that they are unit tested.
 */
#include "agent.h"

#define MIN_PCT           10    /* never renew before 10% of the lifetime */
#define JITTER_PCT        5     /* spread: up to 5% of the lifetime earlier ... */
#define JITTER_MAX        3600L /* ... and at most an hour */

time_t agent_renew_time(time_t not_before, time_t not_after, int renew_pct, long renew_before,
                        double jitter)
{
	long long life = (long long)not_after - (long long)not_before;
	long long at = 0;
	long long earliest = 0;
	long long spread = 0;

	if (life <= 0)
		return not_before; /* broken validity: renew now */
	earliest = (long long)not_before + life * MIN_PCT / 100;
	if (renew_before > 0)
		at = (long long)not_after - renew_before;
	else
		at = (long long)not_before + life * (renew_pct > 0 ? renew_pct : 66) / 100;
	if (at < earliest)
		at = earliest;
	spread = life * JITTER_PCT / 100;
	if (spread > JITTER_MAX)
		spread = JITTER_MAX;
	if (jitter > 0 && jitter < 1)
		at -= (long long)((double)spread * jitter);
	if (at < earliest)
		at = earliest;
	return (time_t)at;
}

double agent_jitter(const unsigned char *data, size_t len)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < 4 && i < len; i++)
		v = (v << 8) | data[i];
	return (double)v / 4294967296.0;
}

long agent_backoff(unsigned failures, long retry_min, long retry_max, double rnd)
{
	long delay = retry_min > 0 ? retry_min : 1;
	long half = 0;
	unsigned i;

	if (retry_max < delay)
		retry_max = delay;
	for (i = 1; i < failures && delay < retry_max; i++)
		delay = delay > retry_max / 2 ? retry_max : delay * 2;
	if (rnd < 0 || rnd >= 1)
		rnd = 0;
	half = delay / 2;
	delay = half + (long)((double)(delay - half) * rnd);
	return delay < 1 ? 1 : delay;
}

long agent_pending_delay(long retry_after, long retry_min, long retry_max)
{
	long delay = retry_after > 0 ? retry_after : retry_min;

	if (delay > retry_max)
		delay = retry_max;
	return delay < 1 ? 1 : delay;
}
