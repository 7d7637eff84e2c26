/* estkit/estkit.h - umbrella header for libestkit (EST, RFC 7030). */
#ifndef ESTKIT_H
#define ESTKIT_H

#include <estkit/error.h>
#include <estkit/pki.h>
#include <estkit/csrattrs.h>
#include <estkit/client.h>
#include <estkit/server.h>
#include <estkit/multipart.h>
#include <estkit/serverkeygen.h>
#include <estkit/chanbind.h>
#include <estkit/rollover.h>
#include <estkit/cmc.h>

#define ESTKIT_VERSION_STRING "0.1.0"

#endif /* ESTKIT_H */
