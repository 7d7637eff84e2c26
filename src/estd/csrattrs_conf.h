/*
 * csrattrs_conf.h - the /csrattrs keys of a [label] section (RFC 7030 4.5,
 * RFC 9908), checked as they are read and built into DER once at load:
 *
 *   csrattrs = challengePassword, ecPublicKey:secp384r1, ecdsa-with-SHA384
 *   csrattrs_san = DNS:*.example.com, IP:192.0.2.1   ; extensionRequest{subjectAltName}
 *   csrattrs_subject = CN=router,O=Example           ; adds an RFC 9908 template
 *   csrattrs_file = routers.csrattrs                 ; DER or base64, instead of the above
 *   csrattrs_auth = none                             ; or required
 */
#ifndef ESTD_CSRATTRS_CONF_H
#define ESTD_CSRATTRS_CONF_H

#include <stddef.h>

struct estd_label;

/* Longest csrattrs value we accept, in bytes. */
#define ESTD_CSRATTRS_VALUE_MAX 4096

/*
 * Checks and stores one csrattrs* key of label l. path is the value already
 * resolved against the config directory (csrattrs_file only). Returns 1, or
 * 0 with a message in msg.
 */
int estd_csrattrs_conf_set(struct estd_label *l, const char *key, const char *value,
			   const char *path, char *msg, size_t msglen);

/* Builds l->csrattrs_der from the keys. Returns 1, or 0 with a message. */
int estd_csrattrs_conf_build(struct estd_label *l, char *msg, size_t msglen);

/* Frees the csrattrs fields of l. */
void estd_csrattrs_conf_clear(struct estd_label *l);

#endif /* ESTD_CSRATTRS_CONF_H */
