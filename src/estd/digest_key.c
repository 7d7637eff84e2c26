/*
 * digest_key.c - the HTTP Digest nonce key file (digest_key.h).
 */
#include "digest_key.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads exactly ESTD_DIGEST_KEY_LEN bytes from an existing key file. */
static enum estkit_status read_key(const char *path, unsigned char *key, char **err)
{
	unsigned char buf[ESTD_DIGEST_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	enum estkit_status rc = ESTKIT_EIO;

	if (fd < 0) {
		*err = estd_strfmt("%s: %s", path, strerror(errno));
		return errno == ENOENT ? ESTKIT_ENOTFOUND : ESTKIT_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		*err = estd_strfmt("%s: not a regular file of mode 0600", path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n != ESTD_DIGEST_KEY_LEN) {
		*err = estd_strfmt("%s: must hold exactly %d bytes", path, ESTD_DIGEST_KEY_LEN);
		goto out;
	}
	memcpy(key, buf, ESTD_DIGEST_KEY_LEN);
	rc = ESTKIT_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* Writes a fresh key to a private temporary file and links it in place (never replaces). */
static enum estkit_status create_key(const char *path, char **err)
{
	unsigned char key[ESTD_DIGEST_KEY_LEN];
	char *tmp = estd_strfmt("%s.tmp.%ld", path, (long)getpid());
	int fd = -1, ok = 0;
	enum estkit_status rc = ESTKIT_EIO;

	if (tmp == NULL)
		return ESTKIT_ENOMEM;
	if (RAND_bytes(key, sizeof(key)) != 1) {
		*err = estd_strfmt("no randomness for %s", path);
		rc = ESTKIT_ECRYPTO;
		goto out;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ok = fd >= 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	/* link() fails with EEXIST when another estd created the file first: use that one */
	if (ok && link(tmp, path) != 0 && errno != EEXIST)
		ok = 0;
	if (!ok)
		*err = estd_strfmt("cannot create %s: %s", path, strerror(errno));
	else
		rc = ESTKIT_OK;
	unlink(tmp);
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(tmp);
	return rc;
}

/* See digest_key.h. */
enum estkit_status estd_digest_key_load(const char *path, unsigned char *key, char **err)
{
	enum estkit_status rc;

	*err = NULL;
	rc = read_key(path, key, err);
	if (rc != ESTKIT_ENOTFOUND)
		return rc;
	free(*err);
	*err = NULL;
	rc = create_key(path, err);
	return rc == ESTKIT_OK ? read_key(path, key, err) : rc;
}
