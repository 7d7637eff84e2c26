/* error.c - estkit_strerror(). */
#include <estkit/error.h>

const char *estkit_strerror(enum estkit_status status)
{
	switch (status) {
	case ESTKIT_OK: return "success";
	case ESTKIT_EINVAL: return "invalid argument";
	case ESTKIT_ENOMEM: return "out of memory";
	case ESTKIT_EPARSE: return "malformed input";
	case ESTKIT_ECRYPTO: return "cryptographic operation failed";
	case ESTKIT_EIO: return "file input/output failed";
	case ESTKIT_ENET: return "network failure";
	case ESTKIT_ETLS: return "TLS failure or server not authorized";
	case ESTKIT_EAUTH: return "authentication failed";
	case ESTKIT_EFORBIDDEN: return "not allowed";
	case ESTKIT_EHTTP: return "HTTP error";
	case ESTKIT_EPROTO: return "protocol error";
	case ESTKIT_EPENDING: return "request pending, retry later";
	case ESTKIT_ETOOBIG: return "input too large";
	case ESTKIT_ENOTFOUND: return "not found";
	case ESTKIT_EPOLICY: return "refused by policy";
	case ESTKIT_EUNTRUSTED: return "not trusted";
	case ESTKIT_EEXIST: return "already exists";
	case ESTKIT_EBUSY: return "temporarily unavailable";
	case ESTKIT_ETIMEOUT: return "timed out";
	case ESTKIT_EINTERNAL: return "internal error";
	}
	return "unknown status";
}
