/*
 * fuzz_route.c - the server's request routing (lib/server/route.c): URI path
 * parsing, the Content-Type check and the Basic Authorization header parse.
 * Input: "uri\ncontent-type\nauthorization" (missing lines are NULL).
 */
#include <event2/http.h>
#include "server/server_internal.h"
#include "fuzz_common.h"

/* Splits s in place at the next '\n'; returns the rest or NULL. */
static char *next_line(char *s)
{
	char *nl = s != NULL ? strchr(s, '\n') : NULL;

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	return nl + 1;
}

static void route(const char *uri)
{
	char label[EK_LABEL_MAX + 1];
	const char *reason = NULL, *allow = NULL;
	enum estkit_op op = ESTKIT_OP_CACERTS;

	if (ek_route_parse(uri, label, &op, &reason) == 0) {
		FZ_ASSERT(strlen(label) <= EK_LABEL_MAX);
		FZ_ASSERT(strcmp(label, ".") != 0 && strcmp(label, "..") != 0);
		FZ_ASSERT(estkit_op_name(op) != NULL);
		(void)ek_route_method_ok(op, EVHTTP_REQ_POST, &allow);
		FZ_ASSERT(allow != NULL);
	} else {
		FZ_ASSERT(reason != NULL && label[0] == '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fz_strndup(data, size);
	char *ctype = next_line(buf);
	char *authz = next_line(ctype);
	char *user = NULL, *pass = NULL;

	route(buf);
	(void)ek_route_is_pkcs10(ctype);
	if (ek_route_parse_basic(authz, &user, &pass) == 0) {
		FZ_ASSERT(user != NULL && pass != NULL && user[0] != '\0');
		FZ_ASSERT(strchr(user, ':') == NULL);
		OPENSSL_free(user);
		OPENSSL_clear_free(pass, strlen(pass));
	} else {
		FZ_ASSERT(user == NULL && pass == NULL);
	}
	free(buf);
	ERR_clear_error();
	return 0;
}
