/*
 * test_csrattrs.c - CsrAttrs (RFC 7030 4.5, RFC 9908): decoding every vector we
 * have (RFC 7030 A.2 and 4.5.2, the RFC 9908 examples, libEST's bodies),
 * the semantic check, the printer, building from configuration words and
 * what a client makes of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include <estkit/csrattrs.h>

#define VDIR ESTKIT_VECTORS_DIR "/csrattrs/"

static unsigned char *slurp(const char *name, size_t *len)
{
	char path[512];
	unsigned char *buf = malloc(70000);
	FILE *f = NULL;

	snprintf(path, sizeof(path), VDIR "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 70000, f);
	fclose(f);
	return buf;
}

/* Decodes a vector (base64 when its name ends in .b64). */
static enum estkit_status load(const char *name, struct estkit_csrattrs **out)
{
	size_t len = 0, dlen = 0;
	unsigned char *buf = slurp(name, &len), *der = NULL;
	enum estkit_status rc;

	*out = NULL;
	if (strstr(name, ".b64") != NULL) {
		rc = estkit_b64_decode((const char *)buf, len, &der, &dlen);
		free(buf);
		if (rc != ESTKIT_OK)
			return rc;
		rc = estkit_csrattrs_decode(der, dlen, out);
		estkit_free(der);
		return rc;
	}
	rc = estkit_csrattrs_decode(buf, len, out);
	free(buf);
	return rc;
}

struct vec_case {
	const char *file;
	enum estkit_status decode; /* base64 + DER */
	enum estkit_status check;  /* RFC 9908 semantics, when decoded */
	int count;                 /* items, -1: do not check */
	const char *print[4];      /* substrings of the printed text */
};

static const struct vec_case vectors[] = {
	{"A.2-csrattrs-response.b64", ESTKIT_OK, ESTKIT_OK, 6,
	 {"macAddress\n", "2.999.1: \"Parse SET as 2.999.1 data\"\n", "brainpoolP384r1\n", "sha384\n"}},
	/* RFC 9908 3.2: the 4.5.2 example's extensionRequest is NOT CORRECT */
	{"4.5.2-csrattrs-example.b64", ESTKIT_OK, ESTKIT_EPARSE, 4,
	 {"challengePassword\n", "ecPublicKey (secp384r1)\n", "extensionRequest: MALFORMED",
	  "ecdsa-with-SHA384\n"}},
	{"rfc9908-harkins01.der", ESTKIT_OK, ESTKIT_OK, 3,
	 {"challengePassword\n", "rsaEncryption (4096 bits)\n", "sha256WithRSAEncryption\n"}},
	{"rfc9908-harkins02.der", ESTKIT_OK, ESTKIT_OK, 4,
	 {"ecPublicKey (secp384r1)\n", "serialNumber\n", "ecdsa-with-SHA384\n"}},
	{"rfc9908-harkins03.der", ESTKIT_OK, ESTKIT_OK, 6,
	 {"ecPublicKey (secp521r1)\n", "friendlyName\n", "favouriteDrink\n",
	  "ecdsa-with-SHA512\n"}},
	{"rfc9908-potato-example.der", ESTKIT_OK, ESTKIT_OK, 6, {"ecdsa-with-SHA512\n"}},
	{"rfc9908-potato-example.0e3380e-wellformed-san.der", ESTKIT_OK, ESTKIT_OK, 4,
	 {"extensionRequest: subjectAltName", "ecPublicKey (secp384r1)\n"}},
	{"rfc9908-potato-example.8d088eb-MALFORMED-extreq.der", ESTKIT_OK, ESTKIT_EPARSE, 4,
	 {"extensionRequest: MALFORMED"}},
	{"rfc9908-realistic-acp.der", ESTKIT_OK, ESTKIT_OK, 1,
	 {"extensionRequest: subjectAltName (critical)"}},
	{"rfc9908-rfc7030-example01.der", ESTKIT_OK, ESTKIT_OK, 4,
	 {"macAddress\n", "ecPublicKey (secp384r1)\n"}},
	{"rfc9908-CSR-template.der", ESTKIT_OK, ESTKIT_OK, 1,
	 {"certificationRequestInfoTemplate:\n    subject: CN=?, OU=\"myDept\", OU=\"myGroup\"",
	  "\n    key: ecPublicKey (prime256v1)",
	  "extensionReqTemplate: subjectAltName DNS:www.myServer.com",
	  "extendedKeyUsage (value left to the client)"}},
	/* libEST (see its README): which parse and which must fail */
	{"libest-US895__TEST_ATTR2.b64", ESTKIT_OK, ESTKIT_OK, 0, {NULL}},
	{"libest-US895__TEST_ATTR7.b64", ESTKIT_EPARSE, ESTKIT_OK, -1, {NULL}},
	{"libest-US895__TEST_ATTR8.b64", ESTKIT_EPARSE, ESTKIT_OK, -1, {NULL}},
	{"libest-US896__TEST_CORRUPT_ATTR1.b64", ESTKIT_EPARSE, ESTKIT_OK, -1, {NULL}},
	{"libest-US896__TEST_CORRUPT_ATTR2.b64", ESTKIT_EPARSE, ESTKIT_OK, -1, {NULL}},
	/* asn1parse takes it, but its last element is a bare BOOLEAN: not an AttrOrOID */
	{"libest-US895__TEST_ALL_ATTR.b64", ESTKIT_EPARSE, ESTKIT_OK, -1, {NULL}},
	{"libest-US895__TEST_ATTR_POP.b64", ESTKIT_OK, ESTKIT_OK, 1, {"challengePassword\n"}},
	{"libest-US895__TEST_ATTR2_POP.b64", ESTKIT_OK, ESTKIT_OK, 1, {"challengePassword\n"}},
	{"libest-US1159__US1159_ATTR_POP_ONLY.b64", ESTKIT_OK, ESTKIT_OK, 1, {NULL}},
	{"libest-US1159__US1159_ATTR_CN_ONLY.b64", ESTKIT_OK, ESTKIT_OK, 1, {"commonName\n"}},
	{"libest-US895__TEST_ATTR1.b64", ESTKIT_OK, ESTKIT_OK, 4, {"secp384r1\n", "sha384\n"}},
	{"libest-US895__TEST_ATTR_NOPOP.b64", ESTKIT_OK, ESTKIT_OK, 5, {NULL}},
	{"libest-US895__TEST_ATTR_NOPOPPOP.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR_POPADDED.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR3.b64", ESTKIT_OK, ESTKIT_OK, 4, {NULL}},
	{"libest-US895__TEST_ATTR4_122.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR4_122POP.b64", ESTKIT_OK, ESTKIT_OK, 7, {NULL}},
	{"libest-US895__TEST_ATTR5_117.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR5_117POP.b64", ESTKIT_OK, ESTKIT_OK, 7, {NULL}},
	{"libest-US895__TEST_ATTR6_116.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR_244.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR_245.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR_250.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US895__TEST_ATTR_250POP.b64", ESTKIT_OK, ESTKIT_OK, 7, {NULL}},
	{"libest-US895__TEST_1024_NOPOP.b64", ESTKIT_OK, ESTKIT_OK, -1, {NULL}},
	{"libest-US895__TEST_1025_NOPOP.b64", ESTKIT_OK, ESTKIT_OK, -1, {NULL}},
	{"libest-US895__TEST_1024_POP.b64", ESTKIT_OK, ESTKIT_OK, -1, {NULL}},
	{"libest-US895__TEST_LONG_ATTR.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
	{"libest-US1159__US1159_ATTR_TEST.b64", ESTKIT_OK, ESTKIT_OK, 6, {NULL}},
};

static void test_vectors_decode_check_and_print_as_documented(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec_case *c = &vectors[i];
		struct estkit_csrattrs *a = NULL;
		unsigned char *der = NULL;
		size_t len = 0;
		char why[256], *text = NULL;
		enum estkit_status rc = load(c->file, &a);

		print_message("%s\n", c->file);
		assert_int_equal(rc, c->decode);
		if (rc != ESTKIT_OK) {
			assert_null(a);
			continue;
		}
		if (c->count >= 0)
			assert_int_equal(estkit_csrattrs_count(a), c->count);
		assert_int_equal(estkit_csrattrs_check(a, why, sizeof(why)), c->check);
		if (c->check != ESTKIT_OK)
			assert_non_null(strstr(why, "RFC 9908"));
		assert_int_equal(estkit_csrattrs_print(a, &text), ESTKIT_OK);
		for (int j = 0; j < 4 && c->print[j] != NULL; j++) {
			if (strstr(text, c->print[j]) == NULL)
				print_message("missing \"%s\" in:\n%s", c->print[j], text);
			assert_non_null(strstr(text, c->print[j]));
		}
		/* what we decoded encodes back to the same DER */
		assert_int_equal(estkit_csrattrs_encode(a, &der, &len), ESTKIT_OK);
		assert_true(len > 0);
		estkit_free(der);
		estkit_free(text);
		estkit_csrattrs_free(a);
	}
}

static void test_every_truncation_and_trailing_garbage_is_refused(void **state)
{
	size_t len = 0;
	unsigned char *der = slurp("rfc9908-CSR-template.der", &len);
	struct estkit_csrattrs *a = NULL;

	for (size_t n = 0; n < len; n++) {
		assert_int_not_equal(estkit_csrattrs_decode(der, n, &a), ESTKIT_OK);
		assert_null(a);
	}
	der[len] = 0x00;
	assert_int_equal(estkit_csrattrs_decode(der, len + 1, &a), ESTKIT_EPARSE);
	assert_int_equal(estkit_csrattrs_decode(der, len, &a), ESTKIT_OK);
	estkit_csrattrs_free(a);
	free(der);
}

static void test_oversized_inputs_are_refused(void **state)
{
	size_t n = 257, len = 4 + n * 5;
	unsigned char *der = calloc(1, ESTKIT_CSRATTRS_MAX_DER + 1);
	struct estkit_csrattrs *a = NULL;

	assert_non_null(der);
	/* too many bytes, whatever they hold */
	assert_int_equal(estkit_csrattrs_decode(der, ESTKIT_CSRATTRS_MAX_DER + 1, &a),
			 ESTKIT_ETOOBIG);
	/* 257 commonName OIDs: well-formed, but over the item limit */
	der[0] = 0x30;
	der[1] = 0x82;
	der[2] = (unsigned char)((len - 4) >> 8);
	der[3] = (unsigned char)((len - 4) & 0xff);
	for (size_t i = 0; i < n; i++)
		memcpy(der + 4 + i * 5, "\x06\x03\x55\x04\x03", 5);
	assert_int_equal(estkit_csrattrs_decode(der, len, &a), ESTKIT_ETOOBIG);
	assert_null(a);
	/* one fewer fits */
	der[3] = (unsigned char)((len - 9) & 0xff);
	der[2] = (unsigned char)((len - 9) >> 8);
	assert_int_equal(estkit_csrattrs_decode(der, len - 5, &a), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_count(a), 256);
	assert_int_equal(estkit_csrattrs_add_spec(a, "challengePassword"), ESTKIT_ETOOBIG);
	estkit_csrattrs_free(a);
	assert_int_equal(estkit_csrattrs_decode(NULL, 0, &a), ESTKIT_EINVAL);
	free(der);
}

/*
 * Attribute values with UNIVERSAL tag 0 (end-of-contents, X.690 8.1.5) are
 * refused: OpenSSL's ANY took "20 00" and wrote it back as "00 00", DER that
 * does not decode (a fuzzing find, fuzz/corpus/csrattrs/eoc-value.der).
 */
static void test_end_of_contents_values_are_refused(void **state)
{
	static const struct {
		const char *what;
		unsigned char der[32];
		size_t len;
		enum estkit_status want;
	} cases[] = {
		/* SEQUENCE { SEQUENCE { OID 2.5.4.3, SET { value } } } */
		{ "constructed tag 0", { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03,
					 0x31, 0x02, 0x20, 0x00 }, 13, ESTKIT_EPARSE },
		{ "primitive tag 0", { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03,
				       0x31, 0x02, 0x00, 0x00 }, 13, ESTKIT_EPARSE },
		{ "tag 0 after a good value", { 0x30, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04,
						0x03, 0x31, 0x04, 0x05, 0x00, 0x20, 0x00 },
		  15, ESTKIT_EPARSE },
		{ "NULL value (control)", { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03,
					    0x31, 0x02, 0x05, 0x00 }, 13, ESTKIT_OK },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estkit_csrattrs *a = NULL;
		print_message("case: %s\n", cases[i].what);
		assert_int_equal(estkit_csrattrs_decode(cases[i].der, cases[i].len, &a),
				 cases[i].want);
		assert_true((a != NULL) == (cases[i].want == ESTKIT_OK));
		estkit_csrattrs_free(a);
	}
}

struct build_case {
	const char *specs[5];
	const char *file; /* the RFC 9908 example the words must encode to */
};

static const struct build_case builds[] = {
	{{"challengePassword", "rsaEncryption:4096", "sha256WithRSAEncryption"},
	 "rfc9908-harkins01.der"},
	{{"challengePassword", "ecPublicKey:secp384r1", "serialNumber", "ecdsa-with-SHA384"},
	 "rfc9908-harkins02.der"},
	{{"challengePassword", "ecPublicKey:secp384r1", "macAddress", "ecdsa-with-SHA384"},
	 "rfc9908-rfc7030-example01.der"},
};

static void test_config_words_build_the_rfc9908_examples_byte_for_byte(void **state)
{
	for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		struct estkit_csrattrs *a = estkit_csrattrs_new();
		unsigned char *der = NULL, *want = NULL;
		size_t len = 0, wlen = 0;

		assert_non_null(a);
		for (int j = 0; j < 5 && builds[i].specs[j] != NULL; j++)
			assert_int_equal(estkit_csrattrs_add_spec(a, builds[i].specs[j]), ESTKIT_OK);
		assert_int_equal(estkit_csrattrs_encode(a, &der, &len), ESTKIT_OK);
		want = slurp(builds[i].file, &wlen);
		assert_int_equal(len, wlen);
		assert_memory_equal(der, want, len);
		free(want);
		estkit_free(der);
		estkit_csrattrs_free(a);
	}
}

static void test_bad_config_words_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "noSuchAttribute", "ecPublicKey:", "ecPublicKey:noSuchCurve",
		"ecPublicKey:sha256", "rsaEncryption:12x", "rsaEncryption:512",
		"rsaEncryption:99999999999999999999", "challengePassword:1", "1.2.3.",
		"x:y:z",
	};
	struct estkit_csrattrs *a = estkit_csrattrs_new();
	char longword[300];

	memset(longword, 'a', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(estkit_csrattrs_add_spec(a, bad[i]), ESTKIT_EINVAL);
	}
	assert_int_equal(estkit_csrattrs_add_spec(a, longword), ESTKIT_EINVAL);
	assert_int_equal(estkit_csrattrs_add_spec(a, "1.2.3.4"), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_count(a), 1);
	assert_int_equal(estkit_csrattrs_add_san_request(a, (const char *[]){"nope"}, 1),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_csrattrs_add_template(a, NULL, NULL, NULL, 0), ESTKIT_EINVAL);
	assert_int_equal(estkit_csrattrs_add_template(a, NULL, "ecPublicKey:nope", NULL, 0),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_csrattrs_count(a), 1);
	estkit_csrattrs_free(a);
}

struct wants_case {
	const char *file;
	int key_nid, curve_nid, rsa_bits, md_nid, cp, unknown;
	const char *san; /* first subjectAltName DNS name, or NULL */
	const char *subject; /* estkit_name_oneline of the subject, or NULL */
};

static const struct wants_case wants[] = {
	{"A.2-csrattrs-response.b64", NID_X9_62_id_ecPublicKey, NID_brainpoolP384r1, 0,
	 NID_sha384, 1, 3, NULL, NULL},
	{"4.5.2-csrattrs-example.b64", NID_X9_62_id_ecPublicKey, NID_secp384r1, 0, NID_sha384, 1,
	 1, NULL, NULL},
	{"rfc9908-harkins01.der", NID_rsaEncryption, 0, 4096, NID_sha256, 1, 0, NULL, NULL},
	{"rfc9908-harkins02.der", NID_X9_62_id_ecPublicKey, NID_secp384r1, 0, NID_sha384, 1, 1,
	 NULL, NULL},
	{"rfc9908-potato-example.8d088eb-MALFORMED-extreq.der", NID_X9_62_id_ecPublicKey,
	 NID_secp384r1, 0, NID_sha384, 1, 1, NULL, NULL},
	{"rfc9908-CSR-template.der", NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1, 0, 0, 0, 1,
	 "www.myServer.com", "OU=myGroup,OU=myDept"},
	{"libest-US895__TEST_ATTR2.b64", 0, 0, 0, 0, 0, 0, NULL, NULL},
};

static void test_client_reads_key_hash_password_and_names(void **state)
{
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		const struct wants_case *c = &wants[i];
		struct estkit_csrattrs *a = NULL;
		struct estkit_csrattrs_wants w;
		char *subj = NULL;

		print_message("%s\n", c->file);
		assert_int_equal(load(c->file, &a), ESTKIT_OK);
		assert_int_equal(estkit_csrattrs_wants(a, &w), ESTKIT_OK);
		assert_int_equal(w.key_nid, c->key_nid);
		assert_int_equal(w.curve_nid, c->curve_nid);
		assert_int_equal(w.rsa_bits, c->rsa_bits);
		assert_int_equal(w.md_nid, c->md_nid);
		assert_int_equal(w.challenge_password, c->cp);
		assert_int_equal(w.unknown, c->unknown);
		if (c->san != NULL) {
			int type = 0;
			const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(w.sans, 0),
								       &type);
			assert_int_equal(sk_GENERAL_NAME_num(w.sans), 1); /* the empty IP is skipped */
			assert_int_equal(type, GEN_DNS);
			assert_memory_equal(ASN1_STRING_get0_data(s), c->san, strlen(c->san));
		} else {
			assert_null(w.sans);
		}
		if (c->subject != NULL) {
			assert_int_equal(estkit_name_oneline(w.subject, &subj), ESTKIT_OK);
			assert_string_equal(subj, c->subject);
			estkit_free(subj);
		}
		estkit_csrattrs_wants_clear(&w);
		assert_null(w.subject);
		estkit_csrattrs_free(a);
	}
}

static void test_built_san_request_and_template_round_trip(void **state)
{
	static const char *const sans[] = {"DNS:*.example.com", "IP:192.0.2.7"};
	struct estkit_csrattrs *a = estkit_csrattrs_new(), *b = NULL;
	struct estkit_csrattrs_wants w;
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	char *text = NULL;

	assert_int_equal(estkit_csrattrs_add_spec(a, "ecdsa-with-SHA384"), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_add_san_request(a, sans, 2), ESTKIT_OK);
	assert_int_equal(estkit_name_parse("CN=router,O=Example", &name), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_add_template(a, name, "ecPublicKey:secp384r1", sans, 1),
			 ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_encode(a, &der, &len), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_decode(der, len, &b), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_check(b, NULL, 0), ESTKIT_OK);
	assert_int_equal(estkit_csrattrs_print(b, &text), ESTKIT_OK);
	assert_non_null(strstr(text, "ecdsa-with-SHA384\n"
				     "extensionRequest: subjectAltName DNS:*.example.com, "
				     "IP:192.0.2.7\n"));
	if (strstr(text, "subject: O=\"Example\", CN=\"router\"") == NULL)
		print_message("%s", text);
	assert_non_null(strstr(text, "subject: O=\"Example\", CN=\"router\""));
	assert_non_null(strstr(text, "key: ecPublicKey (secp384r1)"));
	/* RFC 9908 5: with a template present, the template alone counts */
	assert_int_equal(estkit_csrattrs_wants(b, &w), ESTKIT_OK);
	assert_int_equal(w.curve_nid, NID_secp384r1);
	assert_int_equal(w.md_nid, 0);
	assert_int_equal(sk_GENERAL_NAME_num(w.sans), 1);
	assert_int_equal(X509_NAME_entry_count(w.subject), 2);
	assert_int_equal(estkit_csrattrs_understood(b, 0), 0);
	assert_int_equal(estkit_csrattrs_understood(b, 2), 1);
	estkit_csrattrs_wants_clear(&w);
	estkit_free(text);
	estkit_free(der);
	X509_NAME_free(name);
	estkit_csrattrs_free(a);
	estkit_csrattrs_free(b);
}

/* The RFC 9908 OIDs (IANA, S/MIME attributes .2.61 and .2.62) pinned by their DER. */
static void test_rfc9908_oids_encode_as_assigned(void **state)
{
	static const struct {
		const char *txt;
		unsigned char der[13];
	} cases[] = {
		{ESTKIT_OID_CRI_TEMPLATE,
		 {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x3d}},
		{ESTKIT_OID_EXT_REQ_TEMPLATE,
		 {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x3e}},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(cases[i].txt, 1);
		unsigned char *der = NULL;
		int n = o != NULL ? i2d_ASN1_OBJECT(o, &der) : -1;

		assert_int_equal(n, (int)sizeof(cases[i].der));
		assert_memory_equal(der, cases[i].der, sizeof(cases[i].der));
		OPENSSL_free(der);
		ASN1_OBJECT_free(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_decode_check_and_print_as_documented),
		cmocka_unit_test(test_rfc9908_oids_encode_as_assigned),
		cmocka_unit_test(test_every_truncation_and_trailing_garbage_is_refused),
		cmocka_unit_test(test_oversized_inputs_are_refused),
		cmocka_unit_test(test_end_of_contents_values_are_refused),
		cmocka_unit_test(test_config_words_build_the_rfc9908_examples_byte_for_byte),
		cmocka_unit_test(test_bad_config_words_are_refused),
		cmocka_unit_test(test_client_reads_key_hash_password_and_names),
		cmocka_unit_test(test_built_san_request_and_template_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
