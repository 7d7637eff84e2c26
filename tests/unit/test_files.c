/*
 * test_files.c - whole-file reads, atomic writes, key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <estkit/pki.h>

struct tmpdir {
	char dir[64];
};

static int setup_dir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/estkit-test-files-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	*state = t;
	return 0;
}

/* Removes the files a test left (flat directory) and the directory. */
static int teardown_dir(void **state)
{
	struct tmpdir *t = *state;
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char path[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void test_write_atomic_sets_exact_mode_and_leaves_no_temp_file(void **state)
{
	struct tmpdir *t = *state;
	static const mode_t modes[] = {0600, 0644, 0640, 0400};
	char path[512];
	mode_t old = umask(077); /* a strict umask must not narrow 0644 */

	snprintf(path, sizeof(path), "%s/out", t->dir);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		unsigned char *back = NULL;
		size_t len = 0;
		struct stat st;
		char data[32];

		unlink(path);
		snprintf(data, sizeof(data), "content %zu", i);
		assert_int_equal(estkit_file_write_atomic(path, data, strlen(data), modes[i]),
				 ESTKIT_OK);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, modes[i]);
		assert_int_equal(count_entries(t->dir), 1);
		assert_int_equal(estkit_file_read(path, &back, &len), ESTKIT_OK);
		assert_int_equal(len, strlen(data));
		assert_memory_equal(back, data, len);
		assert_int_equal(back[len], '\0'); /* NUL-terminated for text use */
		estkit_free(back);
	}
	umask(old);
}

static void test_write_atomic_replaces_existing_file(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	unsigned char *back = NULL;
	size_t len = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/replace", t->dir);
	assert_int_equal(estkit_file_write_atomic(path, "old old old", 11, 0644), ESTKIT_OK);
	assert_int_equal(estkit_file_write_atomic(path, "new", 3, 0600), ESTKIT_OK);
	assert_int_equal(estkit_file_read(path, &back, &len), ESTKIT_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(back, "new", 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(t->dir), 1);
	estkit_free(back);

	/* Empty content is a valid (empty) file. */
	assert_int_equal(estkit_file_write_atomic(path, NULL, 0, 0644), ESTKIT_OK);
	assert_int_equal(estkit_file_read(path, &back, &len), ESTKIT_OK);
	assert_int_equal(len, 0);
	estkit_free(back);
}

static void test_write_atomic_fails_cleanly(void **state)
{
	struct tmpdir *t = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/missing-dir/file", t->dir);
	assert_int_equal(estkit_file_write_atomic(path, "x", 1, 0600), ESTKIT_EIO);
	/* Renaming over a directory fails: the temporary file must be gone again. */
	snprintf(path, sizeof(path), "%s/adir", t->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(estkit_file_write_atomic(path, "x", 1, 0600), ESTKIT_EIO);
	assert_int_equal(count_entries(t->dir), 1);
	rmdir(path);
	assert_int_equal(estkit_file_write_atomic(NULL, "x", 1, 0600), ESTKIT_EINVAL);
	assert_int_equal(estkit_file_write_atomic("", "x", 1, 0600), ESTKIT_EINVAL);
	assert_int_equal(estkit_file_write_atomic(path, NULL, 1, 0600), ESTKIT_EINVAL);
	assert_int_equal(count_entries(t->dir), 0);
}

static void test_file_read_errors(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	unsigned char *buf = (unsigned char *)1;
	size_t len = 7;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nope", t->dir);
	assert_int_equal(estkit_file_read(path, &buf, &len), ESTKIT_ENOTFOUND);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(estkit_file_read(t->dir, &buf, &len), ESTKIT_EIO); /* a directory */
	assert_int_equal(estkit_file_read(NULL, &buf, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_file_read(path, NULL, &len), ESTKIT_EINVAL);

	/* One byte over the limit is ETOOBIG (sparse file: no real disk use). */
	snprintf(path, sizeof(path), "%s/big", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)ESTKIT_MAX_DECODE, SEEK_SET), 0);
	assert_int_equal(fputc('x', f), 'x');
	fclose(f);
	assert_int_equal(estkit_file_read(path, &buf, &len), ESTKIT_ETOOBIG);
	assert_null(buf);
	assert_int_equal(truncate(path, (off_t)ESTKIT_MAX_DECODE), 0);
	assert_int_equal(estkit_file_read(path, &buf, &len), ESTKIT_OK);
	assert_int_equal(len, ESTKIT_MAX_DECODE);
	estkit_free(buf);
	unlink(path);
}

static void test_key_save_is_0600_pkcs8_and_loads_back(void **state)
{
	static const char *const specs[] = {"ec:P-256", "rsa:2048", "ed25519"};
	struct tmpdir *t = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/key.pem", t->dir);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		EVP_PKEY *key = NULL, *back = NULL;
		unsigned char *pem = NULL;
		size_t len = 0;
		struct stat st;

		assert_int_equal(estkit_key_generate(specs[i], &key), ESTKIT_OK);
		assert_int_equal(estkit_key_save(path, key), ESTKIT_OK);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(estkit_file_read(path, &pem, &len), ESTKIT_OK);
		assert_non_null(strstr((char *)pem, "-----BEGIN PRIVATE KEY-----"));
		estkit_free_secret(pem, len);
		assert_int_equal(estkit_key_load(path, &back), ESTKIT_OK);
		assert_int_equal(EVP_PKEY_eq(key, back), 1);
		assert_int_equal(count_entries(t->dir), 1);
		EVP_PKEY_free(back);
		EVP_PKEY_free(key);
	}
}

/* Writes key in a given encoding to path. */
static void write_key(const char *path, EVP_PKEY *key, const char *how)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	int ok = 0;

	if (strcmp(how, "traditional") == 0)
		ok = PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
	else if (strcmp(how, "der") == 0)
		ok = i2d_PKCS8PrivateKey_bio(bio, key, NULL, NULL, 0, NULL, NULL);
	else if (strcmp(how, "encrypted") == 0)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), NULL, 0, NULL,
						   (void *)"secret");
	assert_int_equal(ok, 1);
	BIO_get_mem_ptr(bio, &mem);
	assert_int_equal(estkit_file_write_atomic(path, mem->data, mem->length, 0600), ESTKIT_OK);
	BIO_free(bio);
}

static void test_key_load_formats_and_failures(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	EVP_PKEY *key = NULL, *back = NULL;

	snprintf(path, sizeof(path), "%s/k", t->dir);
	assert_int_equal(estkit_key_generate("ec:P-384", &key), ESTKIT_OK);
	write_key(path, key, "traditional");
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(back);
	write_key(path, key, "der");
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(back);

	/* Encrypted: fails, and never prompts (the test would hang if it did). */
	write_key(path, key, "encrypted");
	back = (EVP_PKEY *)1;
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_EPARSE);
	assert_null(back);
	assert_int_equal(estkit_file_write_atomic(path, "-----BEGIN PRIVATE KEY-----\nMAA=\n"
						  "-----END PRIVATE KEY-----\n", 59, 0600),
			 ESTKIT_OK);
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_EPARSE);
	assert_int_equal(estkit_file_write_atomic(path, "", 0, 0600), ESTKIT_OK);
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_EPARSE);
	unlink(path);
	assert_int_equal(estkit_key_load(path, &back), ESTKIT_ENOTFOUND);
	assert_null(back);
	ERR_clear_error();
	EVP_PKEY_free(key);
}

/* Server-keygen bodies: base64 PKCS#8 (RFC 7030 A.4) and libEST's base64 PKCS#1. */
static void test_key_load_base64_server_keygen_bodies(void **state)
{
	static const struct {
		const char *file;
		int bits;
	} keys[] = {{"rfc7030/A.4-serverkeygen-response-pkcs8-key.b64", 2048},
		    {"libest/US4880__tc2-new-key.keyb64", 4096}};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char path[512];
		EVP_PKEY *key = NULL;
		const char *type = NULL, *curve = NULL;
		int bits = 0;

		snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, keys[i].file);
		if (estkit_key_load(path, &key) != ESTKIT_OK)
			fail_msg("%s did not load", keys[i].file);
		assert_int_equal(estkit_key_describe(key, &type, &bits, &curve), ESTKIT_OK);
		assert_string_equal(type, "RSA");
		assert_int_equal(bits, keys[i].bits);
		assert_null(curve);
		EVP_PKEY_free(key);
	}
}

static void test_certs_save_then_load_round_trip(void **state)
{
	struct tmpdir *t = *state;
	char path[512], vec[512];
	STACK_OF(X509) *certs = NULL, *back = NULL;
	X509 *one = NULL;
	struct stat st;

	snprintf(vec, sizeof(vec), "%s/rfc7030/A.1-cacerts-response.b64", ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_certs_load(vec, &certs), ESTKIT_OK);
	snprintf(path, sizeof(path), "%s/ca.pem", t->dir);
	assert_int_equal(estkit_certs_save(path, certs), ESTKIT_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(estkit_certs_load(path, &back), ESTKIT_OK);
	assert_int_equal(sk_X509_num(back), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(X509_cmp(sk_X509_value(back, i), sk_X509_value(certs, i)), 0);
	assert_int_equal(estkit_cert_save(path, sk_X509_value(certs, 3)), ESTKIT_OK);
	assert_int_equal(estkit_cert_load(path, &one), ESTKIT_OK);
	assert_int_equal(X509_cmp(one, sk_X509_value(certs, 3)), 0);
	X509_free(one);
	OSSL_STACK_OF_X509_free(back);

	STACK_OF(X509) *empty = sk_X509_new_null();
	assert_int_equal(estkit_certs_save(path, empty), ESTKIT_EINVAL);
	sk_X509_free(empty);
	assert_int_equal(estkit_cert_save(path, NULL), ESTKIT_EINVAL);
	OSSL_STACK_OF_X509_free(certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_write_atomic_sets_exact_mode_and_leaves_no_temp_file, setup_dir,
			teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_atomic_replaces_existing_file,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_atomic_fails_cleanly, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_read_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_save_is_0600_pkcs8_and_loads_back,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_load_formats_and_failures, setup_dir,
						teardown_dir),
		cmocka_unit_test(test_key_load_base64_server_keygen_bodies),
		cmocka_unit_test_setup_teardown(test_certs_save_then_load_round_trip, setup_dir,
						teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
