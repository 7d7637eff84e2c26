/*
 * store_testutil.h - what the store unit tests (test_store.c,
 * test_store_engines.c, test_approval.c) share: opening a store that must
 * open, and a certificate record with fixed contents.
 */
#ifndef STORE_TESTUTIL_H
#define STORE_TESTUTIL_H

#include <string.h>

#include "store/store.h"

/* The DER bytes tu_cert_rec() stores: not real, only to be given back unchanged. */
static unsigned char tu_csr_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x00};
static unsigned char tu_cert_bytes[] = {0x30, 0x82, 0x00, 0x00, 0xff, 0x00, 0x01};

/* estd_store_open(spec) that fails the test with the store's message. */
static inline struct estd_store *tu_store_open(const char *spec)
{
	struct estd_store *st = NULL;
	char *err = NULL;

	if (estd_store_open(spec, &st, &err) != ESTKIT_OK)
		fail_msg("open %s: %s", spec, err ? err : "(no message)");
	assert_null(err);
	return st;
}

/* A record with serial and issued_at; the rest fixed. */
static inline struct estd_cert_record tu_cert_rec(const char *serial, long long issued_at)
{
	struct estd_cert_record r;

	memset(&r, 0, sizeof(r));
	r.serial = (char *)serial;
	r.subject = "CN=device 1,O=Example";
	r.issuer = "CN=Test CA";
	r.sans = "DNS:a.example, IP:192.0.2.1";
	r.not_before = 1700000000;
	r.not_after = 1800000000;
	r.issued_at = issued_at;
	r.requester = "user:alice";
	r.label = "routers";
	r.op = "simpleenroll";
	r.csr_der = tu_csr_bytes;
	r.csr_len = sizeof(tu_csr_bytes);
	r.cert_der = tu_cert_bytes;
	r.cert_len = sizeof(tu_cert_bytes);
	return r;
}

#endif /* STORE_TESTUTIL_H */
