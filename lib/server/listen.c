/*
 * listen.c - binding the listening sockets: one per event loop, all on the
 * same address with SO_REUSEPORT so the kernel spreads connections across
 * loops (DESIGN.md 4) without a shared accept lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "server/server_internal.h"

#define LISTEN_BACKLOG 1024

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int split_hostport(const char *spec, char *host, size_t hostsz, char *port,
			  size_t portsz)
{
	const char *colon = NULL, *h = spec;
	size_t hlen = 0;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		h = spec + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			return -1;
		hlen = (size_t)(colon - spec);
	}
	if (hlen == 0 || hlen >= hostsz || strlen(colon + 1) == 0 || strlen(colon + 1) >= portsz)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, portsz, "%s", colon + 1);
	for (const char *p = port; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return strtol(port, NULL, 10) <= 65535 ? 0 : -1;
}

static int bind_one(struct estkit_server *srv, const struct addrinfo *ai, int port)
{
	struct sockaddr_storage ss;
	int fd = -1, one = 1;

	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	/*
	 * Accepted sockets inherit it: a response goes out as several TLS
	 * records (headers, body), and with Nagle the last waits for the
	 * client's delayed ACK - 40 ms on every request (BENCHMARKS.md).
	 */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		goto fail;
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	ek_server_err(srv, 0, "listen %s: %s", srv->listen, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* See server_internal.h. */
enum estkit_status ek_listen_bind(struct estkit_server *srv, const char *spec, int n, int *fds,
				  int *port)
{
	struct addrinfo hints, *res = NULL;
	char host[256], portstr[8];
	enum estkit_status rc = ESTKIT_EINVAL;
	int i, p = 0, gai;

	for (i = 0; i < n; i++)
		fds[i] = -1;
	if (split_hostport(spec, host, sizeof(host), portstr, sizeof(portstr)) != 0) {
		ek_server_err(srv, 0, "listen %s: expected HOST:PORT or [IPV6]:PORT", spec);
		return ESTKIT_EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	gai = getaddrinfo(host, NULL, &hints, &res);
	if (gai != 0 || res == NULL) {
		ek_server_err(srv, 0, "listen %s: %s", spec, gai_strerror(gai));
		rc = ESTKIT_ENET;
		goto out;
	}
	p = (int)strtol(portstr, NULL, 10);
	for (i = 0; i < n; i++) {
		fds[i] = bind_one(srv, res, p);
		if (fds[i] < 0) {
			rc = ESTKIT_ENET;
			goto out;
		}
		/* port 0: the first socket picks the port, the others share it */
		if (i == 0)
			p = bound_port(fds[0]);
	}
	*port = p;
	rc = ESTKIT_OK;
out:
	if (rc != ESTKIT_OK) {
		for (i = 0; i < n; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
	}
	if (res != NULL)
		freeaddrinfo(res);
	return rc;
}
