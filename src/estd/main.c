/*
 * main.c - estd, the EST server: dispatches to its commands.
 *
 *   estd init --dir DIR ...     create a server directory (CA, TLS, config)
 *   estd run -c FILE            serve (also: estd -c FILE)
 *   estd user ...               HTTP Basic users
 *   estd certs ...              issued certificates
 *   estd requests ...           requests held for manual approval
 *   estd ca rollover ...        root CA key update (RFC 7030 4.1.3)
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <estkit/estkit.h>

#include "ca/signer_proc.h"
#include "admin/admin.h"
#include "admin/init.h"
#include "run.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: estd <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  init --dir DIR [...]   create a server directory: CA, TLS certificate,\n"
		   "                         estd.conf, users file and store\n"
		   "  run -c FILE            run the server (same as: estd -c FILE)\n"
		   "  user add|del|list      manage HTTP Basic users\n"
		   "  certs list|show|revoke list, show and revoke issued certificates\n"
		   "  requests list|show|approve|reject\n"
		   "                         requests held for manual approval\n"
		   "  ca rollover            new CA key, root and link certificates\n"
		   "  crl [--out F] [--days N] write a CRL signed by the CA\n"
		   "  help                   this text\n"
		   "  --version              version of estd and OpenSSL\n"
		   "\n"
		   "`estd COMMAND --help` describes a command; estd(8) has the details.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return 2;
	}
	/* `estd -c FILE`: the classic daemon form, argv passed whole (getopt starts at 1). */
	if (strcmp(cmd, "-c") == 0 || strncmp(cmd, "--config", 8) == 0 ||
	    (strncmp(cmd, "-c", 2) == 0 && cmd[2] != '\0'))
		return estd_cmd_run(argc, argv);
	if (strcmp(cmd, "init") == 0)
		return estd_cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return estd_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return estd_cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "certs") == 0)
		return estd_cmd_certs(argc - 1, argv + 1);
	if (strcmp(cmd, "requests") == 0)
		return estd_cmd_requests(argc - 1, argv + 1);
	if (strcmp(cmd, "ca") == 0)
		return estd_cmd_ca(argc - 1, argv + 1);
	if (strcmp(cmd, "crl") == 0)
		return estd_cmd_crl(argc - 1, argv + 1);
	/* internal: a replacement signer supervisor, exec'd by a running estd (signer_proc.c) */
	if (strcmp(cmd, ESTD_SIGNER_SUPERVISOR_CMD) == 0)
		return estd_signer_supervisor_main(argc - 1, argv + 1);
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("estd %s (%s)\n", ESTKIT_VERSION_STRING, OpenSSL_version(OPENSSL_VERSION));
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "estd: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
