/* token_open.c - a token key opened under a lock, with a few tries (token_open.h). */
#include "ca/token_open.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "util.h"

#define MAX_ATTEMPTS 1000
#define MAX_PAUSE_US 1000000u

enum estkit_status estd_token_open_locked(const char *lock_path, int attempts,
					  unsigned pause_us, estd_token_try_fn try_open,
					  void *arg, const char *what, char **err)
{
	int attempt, lk = -1;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (err == NULL)
		return ESTKIT_EINVAL;
	if (try_open == NULL || attempts < 1 || attempts > MAX_ATTEMPTS ||
	    pause_us > MAX_PAUSE_US) {
		free(*err);
		*err = estd_strfmt("token open: attempts must be 1..%d and the pause at most "
				   "%u us", MAX_ATTEMPTS, MAX_PAUSE_US);
		return ESTKIT_EINVAL;
	}
	lk = lock_path != NULL ? open(lock_path, O_RDONLY | O_CLOEXEC) : -1;
	if (lk >= 0)
		flock(lk, LOCK_EX);
	for (attempt = 0; attempt < attempts; attempt++) {
		if (attempt > 0)
			usleep(pause_us);
		free(*err);
		*err = NULL;
		rc = try_open(arg, err);
		if (rc == ESTKIT_OK || rc == ESTKIT_EIO)
			break;
	}
	if (lk >= 0)
		close(lk); /* releases the lock */
	if (rc != ESTKIT_OK && *err == NULL && what != NULL)
		*err = estd_strfmt("cannot open %s", what);
	return rc;
}
