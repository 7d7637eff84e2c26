/*
 * backend/command_run.h - running one external program without a shell:
 * posix_spawn in its own process group, the request written to its stdin
 * while stdout and stderr are read (poll, bounded buffers, so neither side
 * can block the other), a hard deadline after which the whole process group
 * gets SIGTERM and, a second later, SIGKILL.
 */
#ifndef ESTD_BACKEND_COMMAND_RUN_H
#define ESTD_BACKEND_COMMAND_RUN_H

#include <stddef.h>
#include <estkit/error.h>

struct estd_cmd_spec {
	char *const *argv;              /* argv[0]: absolute path; borrowed */
	char *const *envp;              /* the whole environment; borrowed */
	const unsigned char *input;     /* written to stdin, then stdin is closed */
	size_t inlen;
	long timeout_ms;                /* from the spawn to the end of the program */
	size_t max_output;              /* bytes kept of stdout and of stderr each */
};

struct estd_cmd_result {
	int exited;                     /* 1: exit_code is valid */
	int exit_code;
	int signo;                      /* the signal that ended it, 0 if none */
	int timed_out;                  /* 1: killed at the deadline */
	int too_big;                    /* 1: killed because stdout or stderr passed max_output */
	unsigned char *out;             /* stdout, NUL-terminated (not counted in outlen) */
	size_t outlen;
	char *err;                      /* stderr, NUL-terminated */
	size_t errlen;
};

/*
 * Runs the program of spec and fills res (cleared first; release with
 * estd_cmd_result_clear()). ESTKIT_OK whenever the program ran, however it
 * ended; ESTKIT_EIO when it could not be started (msg says why),
 * ESTKIT_ENOMEM. Blocks the calling (job-pool) thread until the program has
 * ended and been reaped: never longer than timeout_ms plus about a second.
 */
enum estkit_status estd_command_exec(const struct estd_cmd_spec *spec, struct estd_cmd_result *res,
				char *msg, size_t msglen);

/* Frees the buffers of res and zeroes it. */
void estd_cmd_result_clear(struct estd_cmd_result *res);

#endif /* ESTD_BACKEND_COMMAND_RUN_H */
