/*
 * fuzz_config.c - estd_config_load() (estd.conf, ini syntax with sections,
 * profiles and labels) on a private temporary file holding the input.
 */
#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct estd_config *cfg = NULL;
	char *err = NULL;
	const char *path = fz_tmpfile(data, size, "config");

	if (!registered) {
		atexit(fz_tmpfile_cleanup);
		registered = 1;
	}
	if (estd_config_load(path, &cfg, &err) == ESTKIT_OK) {
		FZ_ASSERT(cfg != NULL && err == NULL);
		(void)estd_config_label(cfg, "");
		(void)estd_config_profile(cfg, "default");
		estd_config_free(cfg);
	} else {
		FZ_ASSERT(cfg == NULL);
	}
	free(err);
	ERR_clear_error();
	return 0;
}
