/*
 * signer_pkcs11.c - CA keys on PKCS#11 tokens through OpenSSL's pkcs11
 * engine (libp11, Debian's libengine-pkcs11-openssl).
 *
 * A deliberate departure: OpenSSL 3.0 deprecates the ENGINE API and the
 * rest of estkit builds with OPENSSL_NO_DEPRECATED, but Debian 12 ships no
 * pkcs11 provider, so this one file is compiled with the deprecated API
 * visible (CMakeLists.txt: set_source_files_properties). Keep every ENGINE
 * call in here. See docs/design.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>

#include "ca/signer_pkcs11.h"
#include "util.h"

#define PIN_MAX 256

/*
 * One engine per process: a structural reference kept for the life of the
 * process (loaded), initialised (engine, the functional reference keys
 * refer to) once and again after a failed attempt. Keeping the structural
 * reference keeps libp11 loaded: unloading it at exit after a failed
 * attempt would leak what it allocated.
 */
static pthread_mutex_t engine_mu = PTHREAD_MUTEX_INITIALIZER;
static ENGINE *loaded;
static ENGINE *engine;

int estd_signer_is_pkcs11(const char *s)
{
	return s != NULL && strncmp(s, "pkcs11:", 7) == 0;
}

/* The first line of path into pin (NUL-terminated); 0 on success. */
static int read_pin(const char *path, char pin[PIN_MAX])
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return -1;
	if (fgets(pin, PIN_MAX, f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = strcspn(pin, "\r\n");
	pin[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The pkcs11 engine, loaded (ENGINE_by_id finds engines-3/pkcs11.so) and initialised. */
static ENGINE *get_engine(const char *module, char **err)
{
	if (engine != NULL)
		return engine;
	if (loaded == NULL) {
		ENGINE_load_builtin_engines();
		loaded = ENGINE_by_id("pkcs11");
		if (loaded == NULL) {
			*err = estd_strfmt("the OpenSSL pkcs11 engine is not installed "
					   "(Debian: libengine-pkcs11-openssl)");
			return NULL;
		}
		if (module != NULL &&
		    ENGINE_ctrl_cmd_string(loaded, "MODULE_PATH", module, 0) != 1) {
			*err = estd_strfmt("pkcs11 engine: cannot use module %s", module);
			ENGINE_free(loaded);
			loaded = NULL;
			return NULL;
		}
	}
	if (ENGINE_init(loaded) != 1) {
		*err = estd_strfmt("pkcs11 engine: initialisation failed (module %s)",
				   module != NULL ? module : "default");
		return NULL;
	}
	engine = loaded;
	return engine;
}

/* Opens uri for role ("CA", "TLS"); see signer_pkcs11.h. */
static enum estkit_status load_key(const char *role, const char *uri, const char *module,
				   const char *pin_file, EVP_PKEY **out, char **err)
{
	char pin[PIN_MAX];
	ENGINE *e = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	*out = NULL;
	*err = NULL;
	memset(pin, 0, sizeof(pin));
	if (!estd_signer_is_pkcs11(uri))
		return ESTKIT_EINVAL;
	if (pin_file != NULL && read_pin(pin_file, pin) != 0) {
		*err = estd_strfmt("cannot read a PIN from %s", pin_file);
		return ESTKIT_EIO;
	}
	pthread_mutex_lock(&engine_mu);
	e = get_engine(module, err);
	if (e == NULL)
		goto out;
	if (pin[0] != '\0' && ENGINE_ctrl_cmd_string(e, "PIN", pin, 0) != 1) {
		*err = estd_strfmt("pkcs11 engine: cannot set the PIN");
		goto out;
	}
	*out = ENGINE_load_private_key(e, uri, NULL, NULL);
	if (*out == NULL) {
		*err = estd_strfmt("cannot open the %s key %s on its token (wrong URI, token or PIN?)",
				   role, uri);
		/* start the next attempt from a fresh module session (keys hold their own reference) */
		ENGINE_finish(engine);
		engine = NULL;
		goto out;
	}
	rc = ESTKIT_OK;
out:
	pthread_mutex_unlock(&engine_mu);
	OPENSSL_cleanse(pin, sizeof(pin));
	ERR_clear_error();
	return rc;
}

enum estkit_status estd_signer_pkcs11_load(const char *uri, const char *module,
					   const char *pin_file, EVP_PKEY **out, char **err)
{
	return load_key("CA", uri, module, pin_file, out, err);
}

enum estkit_status estd_signer_pkcs11_load_tls(const char *uri, const char *module,
					       const char *pin_file, EVP_PKEY **out, char **err)
{
	return load_key("TLS", uri, module, pin_file, out, err);
}
