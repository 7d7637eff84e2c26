/*
 * main.c - `est`, the EST (RFC 7030) client: dispatch to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "common.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: est <command> [options]\n"
	           "\n"
	           "commands:\n"
	           "  cacerts    fetch the CA certificates (/cacerts)\n"
	           "  enroll     request a new certificate (/simpleenroll)\n"
	           "  reenroll   renew a certificate (/simplereenroll)\n"
	           "  csrattrs   show the CSR attributes the server asks for (/csrattrs)\n"
	           "  fullcmc    request a certificate with Full CMC (/fullcmc)\n"
	           "  revoke     revoke a certificate (CMC revokeRequest over /fullcmc)\n"
	           "  serverkeygen  key and certificate made by the server (/serverkeygen)\n"
	           "  agent      keep certificates renewed and trust anchors current\n"
	           "  bench      put a server under load: requests/s, latency, errors\n"
	           "  help [command]\n"
	           "\n"
	           "options: --version, --help; 'est <command> --help' for a command's options.\n"
	           "exit codes: 0 success, 1 failure, 2 usage error, 75 request pending.\n");
}

static int help(const char *cmd)
{
	if (cmd == NULL) {
		usage(stdout);
	} else if (strcmp(cmd, "cacerts") == 0) {
		est_usage_cacerts(stdout);
	} else if (strcmp(cmd, "enroll") == 0) {
		est_usage_enroll(stdout);
	} else if (strcmp(cmd, "reenroll") == 0) {
		est_usage_reenroll(stdout);
	} else if (strcmp(cmd, "csrattrs") == 0) {
		est_usage_csrattrs(stdout);
	} else if (strcmp(cmd, "fullcmc") == 0) {
		est_usage_fullcmc(stdout);
	} else if (strcmp(cmd, "revoke") == 0) {
		est_usage_revoke(stdout);
	} else if (strcmp(cmd, "serverkeygen") == 0) {
		est_usage_serverkeygen(stdout);
	} else if (strcmp(cmd, "agent") == 0) {
		est_usage_agent(stdout);
	} else if (strcmp(cmd, "bench") == 0) {
		est_usage_bench(stdout);
	} else {
		fprintf(stderr, "est: help: unknown command \"%s\"\n", cmd);
		return EST_EXIT_USAGE;
	}
	return EST_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return EST_EXIT_USAGE;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 ||
	    strcmp(cmd, "version") == 0) {
		printf("est (estkit) %s\n", ESTKIT_VERSION_STRING);
		return EST_EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return help(argc > 2 ? argv[2] : NULL);
	/* Subcommands see argv[0] = their name, as getopt_long expects. */
	if (strcmp(cmd, "cacerts") == 0)
		return est_cmd_cacerts(argc - 1, argv + 1);
	if (strcmp(cmd, "enroll") == 0)
		return est_cmd_enroll(argc - 1, argv + 1);
	if (strcmp(cmd, "reenroll") == 0)
		return est_cmd_reenroll(argc - 1, argv + 1);
	if (strcmp(cmd, "csrattrs") == 0)
		return est_cmd_csrattrs(argc - 1, argv + 1);
	if (strcmp(cmd, "fullcmc") == 0)
		return est_cmd_fullcmc(argc - 1, argv + 1);
	if (strcmp(cmd, "revoke") == 0)
		return est_cmd_revoke(argc - 1, argv + 1);
	if (strcmp(cmd, "serverkeygen") == 0)
		return est_cmd_serverkeygen(argc - 1, argv + 1);
	if (strcmp(cmd, "agent") == 0)
		return est_cmd_agent(argc - 1, argv + 1);
	if (strcmp(cmd, "bench") == 0)
		return est_cmd_bench(argc - 1, argv + 1);
	fprintf(stderr, "est: unknown command \"%s\" (see 'est help')\n", cmd);
	return EST_EXIT_USAGE;
}
