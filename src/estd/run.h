/*
 * run.h - `estd run -c FILE [--pidfile FILE]`: the server in the foreground.
 */
#ifndef ESTD_RUN_H
#define ESTD_RUN_H

/*
 * Runs estd with the configuration file given by -c until SIGTERM or SIGINT;
 * SIGHUP reloads estd.conf and the users file. argv[0] is the command name.
 * Returns the process exit status: 0 after a clean shutdown, 1 when startup
 * failed (one line on stderr says why), 2 for a usage error.
 */
int estd_cmd_run(int argc, char **argv);

#endif /* ESTD_RUN_H */
