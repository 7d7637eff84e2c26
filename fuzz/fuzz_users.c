/*
 * fuzz_users.c - estd_users_load() (the Basic users file, "name:crypt-hash"
 * lines) on a private temporary file holding the input.
 */
#include "users.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct estd_users *u = NULL;
	char *err = NULL;
	const char *path = fz_tmpfile(data, size, "users");

	if (!registered) {
		atexit(fz_tmpfile_cleanup);
		registered = 1;
	}
	if (estd_users_load(path, &u, &err) == ESTKIT_OK) {
		FZ_ASSERT(u != NULL);
		for (size_t i = 0; i < estd_users_count(u); i++)
			FZ_ASSERT(estd_users_name(u, i) != NULL);
		estd_users_free(u);
	}
	free(err);
	ERR_clear_error();
	return 0;
}
