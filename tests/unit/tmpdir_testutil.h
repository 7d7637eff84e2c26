/*
 * tmpdir_testutil.h - the throw-away directory of a unit test: made under
 * $TMPDIR (else P_tmpdir), removed with everything below it. Shared by the
 * store, users, approval, CA and CMC backend tests.
 */
#ifndef TMPDIR_TESTUTIL_H
#define TMPDIR_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Makes a new directory $TMPDIR/PREFIX-XXXXXX; its path in dir. 0, or -1 (also: too long). */
static inline int tu_mkdtemp(char *dir, size_t len, const char *prefix)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(dir, len, "%s/%s-XXXXXX", base != NULL ? base : P_tmpdir, prefix);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int tu_rmtree_one(const char *path, const struct stat *sb, int flag,
				struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it (links are not followed); a missing dir is 0. */
static inline int tu_rmtree(const char *dir)
{
	if (nftw(dir, tu_rmtree_one, 16, FTW_DEPTH | FTW_PHYS) == 0)
		return 0;
	return errno == ENOENT ? 0 : -1;
}

#endif /* TMPDIR_TESTUTIL_H */
