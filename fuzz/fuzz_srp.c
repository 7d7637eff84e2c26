/*
 * fuzz_srp.c - the TLS-SRP verifier file ([auth] srp_verifier_file): the
 * line check ek_srp_check_file() on the bytes, then, on a private temporary
 * file holding them, ek_srp_load() (the check again plus OpenSSL's parser)
 * and a lookup of a known and an unknown name.
 */
#include "server/server_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct SRP_VBASE_st *vb = NULL;
	unsigned char salt[1100];
	size_t saltlen = sizeof(salt);
	char msg[400];
	int n = -1, m = -1, bits = 0, checked;
	const char *path = fz_tmpfile(data, size, "srpv");

	if (!registered) {
		atexit(fz_tmpfile_cleanup);
		registered = 1;
	}
	checked = ek_srp_check_file(data, size, &n, msg, sizeof(msg));
	FZ_ASSERT(checked == 0 || checked == -1);
	if (ek_srp_load(path, "00112233445566778899aabbccddeeff", &vb, &m, msg, sizeof(msg)) ==
	    ESTKIT_OK) {
		FZ_ASSERT(checked == 0 && m == n && vb != NULL);
		(void)ek_srp_vbase_lookup(vb, "alice", salt, &saltlen, &bits);
		saltlen = sizeof(salt);
		(void)ek_srp_vbase_lookup(vb, "no such user", salt, &saltlen, &bits);
		ek_srp_vbase_free(vb);
	}
	ERR_clear_error();
	return 0;
}
