/*
 * fuzz_common.h - shared by the libFuzzer targets in fuzz/: the entry point's
 * prototype and small helpers. Each target is one fuzz_<name>.c file.
 */
#ifndef ESTKIT_FUZZ_COMMON_H
#define ESTKIT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

/* libFuzzer calls this once per input; 0 always (a crash is the finding). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (embedded NULs stay: C parsers stop there). */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A crash, with a reason, when a property the target checks does not hold. */
#define FZ_ASSERT(cond)                                                           \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                               \
			abort();                                                  \
		}                                                                 \
	} while (0)

/*
 * Writes data to a private temporary file created once per process (for
 * parsers that only read files) and returns its path (static buffer).
 */
static inline const char *fz_tmpfile(const uint8_t *data, size_t size, const char *tag)
{
	static char path[256];
	FILE *fp = NULL;

	if (path[0] == '\0') {
		const char *dir = getenv("TMPDIR");
		int fd;
		snprintf(path, sizeof(path), "%s/estkit-fuzz-%s-XXXXXX", dir ? dir : "/tmp", tag);
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	fp = fopen(path, "we");
	if (fp == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
	return path;
}

/* Removes the temporary file at exit. */
static inline void fz_tmpfile_cleanup(void)
{
	const char *p = fz_tmpfile(NULL, 0, "x");
	unlink(p);
}

#endif /* ESTKIT_FUZZ_COMMON_H */
