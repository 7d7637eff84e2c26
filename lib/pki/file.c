/*
 * file.c - reading whole files and replacing files atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Reads all of fd into buf (capacity cap); ETOOBIG when more than max bytes. */
static enum estkit_status read_all(int fd, unsigned char **buf, size_t *cap, size_t *len)
{
	for (;;) {
		ssize_t n;

		if (*len == *cap) {
			size_t ncap = *cap * 2;
			unsigned char *nbuf;

			if (*cap > ESTKIT_MAX_DECODE)
				return ESTKIT_ETOOBIG;
			if (ncap > ESTKIT_MAX_DECODE + 2u)
				ncap = ESTKIT_MAX_DECODE + 2u;
			if ((nbuf = OPENSSL_clear_realloc(*buf, *cap, ncap)) == NULL)
				return ESTKIT_ENOMEM;
			*buf = nbuf;
			*cap = ncap;
		}
		n = read(fd, *buf + *len, *cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ESTKIT_EIO;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return *len > ESTKIT_MAX_DECODE ? ESTKIT_ETOOBIG : ESTKIT_OK;
}

/*
 * See estkit/pki.h. The buffer is NUL-terminated one past *outlen so text
 * files can be used as strings. A missing file is ESTKIT_ENOTFOUND.
 */
enum estkit_status estkit_file_read(const char *path, unsigned char **out, size_t *outlen)
{
	enum estkit_status rc = ESTKIT_EIO;
	unsigned char *buf = NULL;
	size_t cap = 4096, len = 0;
	int fd = -1;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (path == NULL || out == NULL || outlen == NULL)
		return ESTKIT_EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rc = errno == ENOENT ? ESTKIT_ENOTFOUND : ESTKIT_EIO;
		goto out;
	}
	if ((buf = OPENSSL_malloc(cap)) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	if ((rc = read_all(fd, &buf, &cap, &len)) != ESTKIT_OK)
		goto out;
	if (len == cap) {
		unsigned char *nbuf = OPENSSL_clear_realloc(buf, cap, cap + 1);

		if (nbuf == NULL) {
			rc = ESTKIT_ENOMEM;
			goto out;
		}
		buf = nbuf;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = ESTKIT_OK;
out:
	if (fd >= 0)
		close(fd);
	/* The file may have been a key: wipe what was read. */
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* Creates "<path>.tmp.<random>" with O_EXCL so no other file is ever clobbered. */
static int create_temp(const char *path, mode_t mode, char *tmp, size_t tmpsize)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned char rnd[6];
		int n, fd;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		n = snprintf(tmp, tmpsize, "%s.tmp.%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1],
			     rnd[2], rnd[3], rnd[4], rnd[5]);
		if (n < 0 || (size_t)n >= tmpsize)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* fsyncs the directory holding path so the rename itself is durable. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ok;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return 0;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* See estkit/pki.h. */
enum estkit_status estkit_file_write_atomic(const char *path, const void *data, size_t len,
					    mode_t mode)
{
	enum estkit_status rc = ESTKIT_EIO;
	char tmp[PATH_MAX];
	int fd = -1, created = 0;

	if (path == NULL || *path == '\0' || (data == NULL && len > 0))
		return ESTKIT_EINVAL;
	if (strlen(path) + 32 >= sizeof(tmp))
		return ESTKIT_EINVAL;
	if ((fd = create_temp(path, mode, tmp, sizeof(tmp))) < 0)
		goto out;
	created = 1;
	/* The umask may have narrowed mode; the caller asked for exactly mode. */
	if (fchmod(fd, mode) != 0 || !write_all(fd, data, len) || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	created = 0;
	if (!sync_dir(path))
		goto out;
	rc = ESTKIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	return rc;
}
