/*
 * signer_proc.h - the CA key out of the network process ([ca] signer =
 * process, the default; docs/design.md "The signer process").
 *
 * `estd run` calls estd_signer_proc_start() before any thread exists: it
 * forks a supervisor that reads the CA keys ([ca] key and next_key) and
 * forks N single-threaded signer workers, each reached over its own
 * socketpair; the network process never reads a key. estd_signer_load()
 * then hands out signers that forward to the workers (signer.c), so the
 * callers of signer.h do not change. A worker that dies is replaced by the
 * supervisor (which still holds the keys, so the key file is not needed
 * again) and its new socket is passed back over the control socket.
 */
#ifndef ESTD_CA_SIGNER_PROC_H
#define ESTD_CA_SIGNER_PROC_H

#include <sys/types.h>

#include <estkit/error.h>

#include "ca/signer_wire.h"
#include "config.h"

struct estd_signer_proc;

/* Control messages (int32 index, int32 pid, then text): a worker index >= 0, or these. */
#define ESTD_SIGNER_CTL_OK (-1)
#define ESTD_SIGNER_CTL_ERR (-2)
#define ESTD_SIGNER_CTL_RELOAD (-3)
#define ESTD_SIGNER_CTL_MAX 1024

/* How the process signer reports trouble (a worker died, a request timed out). */
typedef void (*estd_signer_log_fn)(void *ctx, int level, const char *msg);

/*
 * Forks the supervisor and its workers for cfg ([ca] key, next_key,
 * key_pin_file, signer_workers, signer_timeout). Must run while the caller
 * is single-threaded. Marks this process non-dumpable. On failure *err
 * (caller frees with free()) says why.
 */
enum estkit_status estd_signer_proc_start(const struct estd_config *cfg,
					  struct estd_signer_proc **out, char **err);

/*
 * The network side of a supervisor already running as pid (a child of this
 * process) on the SOCK_SEQPACKET socket ctl: what estd_signer_proc_start()
 * does after its fork (the unit tests attach a stand-in). Takes ctl and pid
 * in every case (on failure the supervisor is stopped) and waits for every
 * worker's first socket. A supervisor that sends a malformed control
 * message is killed and, with cfg->path set, replaced like a dead one.
 */
enum estkit_status estd_signer_proc_attach(const struct estd_config *cfg, int ctl, pid_t pid,
					   struct estd_signer_proc **out, char **err);

/*
 * Closes the sockets, stops the supervisor (and so the workers) and waits
 * for it, at most a few seconds before it is killed. NULL: no-op.
 */
void estd_signer_proc_free(struct estd_signer_proc *p);

/* Where messages go (default: stderr). fn NULL restores the default. */
void estd_signer_proc_set_log(struct estd_signer_proc *p, estd_signer_log_fn fn, void *ctx);

/* The key slot the supervisor loaded path into, or -1 when it did not load that key. */
int estd_signer_proc_slot(const struct estd_signer_proc *p, const char *path);

/*
 * One round trip on a free worker (thread-safe): req->id is assigned here.
 * ESTKIT_OK when *rsp holds the worker's answer (its status in rsp->status;
 * caller clears rsp); ESTKIT_ECRYPTO when no worker answered in time or the
 * worker died mid-request (the request is not retried: it may be what
 * killed it).
 */
enum estkit_status estd_signer_proc_call(struct estd_signer_proc *p, struct estd_signer_msg *req,
					 struct estd_signer_msg *rsp);

/*
 * SIGHUP: the signer re-reads estd.conf (cfg, already loaded here from the
 * same file, gives the new key paths) and takes a changed [ca] next_key /
 * next_cert; all workers are replaced. The current [ca] key needs a
 * restart. On failure *err (free()) says why and nothing changed here.
 */
enum estkit_status estd_signer_proc_reload(struct estd_signer_proc *p,
					   const struct estd_config *cfg, char **err);

/* The supervisor's process id (for the status log and tests). */
pid_t estd_signer_proc_pid(const struct estd_signer_proc *p);

/*
 * The process signer estd_signer_load() forwards to in this process; NULL
 * (the default) means keys are loaded and used inline.
 */
void estd_signer_proc_install(struct estd_signer_proc *p);
struct estd_signer_proc *estd_signer_proc_installed(void);

/* ---- the signer side (signer_child.c) ------------------------------------------ */

/*
 * The supervisor: loads the keys, keeps nworkers workers running and sends
 * each new worker's socket over ctl. Never returns (_exit).
 */
void estd_signer_supervise(int ctl, const struct estd_config *cfg, int nworkers,
			   int parent_pid) __attribute__((noreturn));

/* The hidden `estd` command a replacement supervisor is exec'd with. */
#define ESTD_SIGNER_SUPERVISOR_CMD "__signer-supervisor"

/*
 * `estd __signer-supervisor CONFIG WORKERS PARENT_PID`, exec'd by a running
 * estd whose supervisor died (a multi-threaded process cannot fork one and
 * go on without exec): reads CONFIG and supervises on descriptor 3. Reads
 * the key files again, so they must still be there. Returns only on a
 * usage or configuration error (exit status).
 */
int estd_signer_supervisor_main(int argc, char **argv);

#endif /* ESTD_CA_SIGNER_PROC_H */
