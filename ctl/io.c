/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl's connections: a socket, and on a TCP address that uses TLS
 * an OpenSSL client session on it, behind one small interface that reads
 * and writes like recv() and send() with MSG_DONTWAIT (EAGAIN when the
 * socket has nothing), so the poll() loops of apiclient.c and send.c
 * work on both.  TLS is 1.2 or later; the daemon's certificate is
 * verified against --cacert (else the system's CAs) and must name the
 * host or address misperctl connected to; --cert and --key give the
 * client certificate the daemon asks for.
 *
 * Two things differ from a plain socket, and the loops allow for them:
 * bytes OpenSSL has already decrypted are not seen by poll()
 * (ctl_io_pending()), and ending our side sends close_notify before the
 * TCP half-close, which misperd takes as the end of input.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "timeutil.h"
#include "xmalloc.h"

/* The last OpenSSL error as text (or the fallback), clearing the queue. */
static void
ctl_io_ssl_error(char *buf, size_t len, const char *fallback)
{
	unsigned long	 e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
}

/* The client context from --cacert, --cert and --key.  NULL: said why. */
static SSL_CTX *
ctl_io_ctx(const struct ctl *ctl)
{
	SSL_CTX	*ctx;
	char	 err[256];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ctl_io_ssl_error(err, sizeof err, "out of memory");
		ctl_warnx("cannot set up TLS: %s", err);
		SSL_CTX_free(ctx);
		return NULL;
	}
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* misperd may close after its last reply without close_notify */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ctl->cacert != NULL ?
	    SSL_CTX_load_verify_locations(ctx, ctl->cacert, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ctl_io_ssl_error(err, sizeof err, "no CA certificates");
		ctl_warnx("--cacert %s: %s", ctl->cacert != NULL ?
		    ctl->cacert : "(the system's)", err);
		goto fail;
	}
	if (ctl->cert != NULL &&
	    SSL_CTX_use_certificate_chain_file(ctx, ctl->cert) != 1) {
		ctl_io_ssl_error(err, sizeof err, "unreadable");
		ctl_warnx("--cert %s: %s", ctl->cert, err);
		goto fail;
	}
	if (ctl->key != NULL && (SSL_CTX_use_PrivateKey_file(ctx, ctl->key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
		ctl_io_ssl_error(err, sizeof err, "unreadable");
		ctl_warnx("--key %s: %s", ctl->key, err);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The host of "host:port" or "[v6]:port" into buf. */
static void
ctl_io_host(const char *spec, char *buf, size_t len)
{
	const char	*end;
	size_t		 n;

	if (spec[0] == '[' && (end = strchr(spec, ']')) != NULL) {
		spec++;
		n = (size_t)(end - spec);
	} else
		n = (end = strrchr(spec, ':')) != NULL ?
		    (size_t)(end - spec) : strlen(spec);
	if (n >= len)
		n = len - 1;
	memcpy(buf, spec, n);
	buf[n] = '\0';
}

/* Check the daemon's certificate names host; SNI for a name. */
static int
ctl_io_name(SSL *ssl, const char *host)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		return -1;
	return 0;
}

/* Run the handshake on io before the deadline.  0, or -1: said why. */
static int
ctl_io_handshake(struct ctl_io *io, const char *desc, int64_t deadline)
{
	struct pollfd	 pfd;
	char		 err[256];
	long		 vr;
	int		 rc, e;

	for (;;) {
		ERR_clear_error();
		if ((rc = SSL_connect(io->ssl)) == 1)
			return 0;
		e = SSL_get_error(io->ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		pfd.fd = io->fd;
		pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		rc = poll(&pfd, 1, (int)((deadline - time_mono_us()) / 1000));
		if (rc == 0) {
			ctl_warnx("no TLS handshake with %s within the timeout "
			    "(-t)", desc);
			return -1;
		}
		if (rc == -1 && errno != EINTR)
			break;
	}
	if ((vr = SSL_get_verify_result(io->ssl)) != X509_V_OK)
		snprintf(err, sizeof err, "its certificate was refused: %s",
		    X509_verify_cert_error_string(vr));
	else
		ctl_io_ssl_error(err, sizeof err, e == SSL_ERROR_SYSCALL ?
		    "the connection was closed" : "handshake failed");
	ctl_warnx("TLS with %s failed: %s", desc, err);
	ctl_warnx("check --cacert (the CA that signed misperd's "
	    "certificate), and --cert and --key (a client certificate that "
	    "misperd's tls.ca signed)");
	return -1;
}

/* Connect to a, with TLS when it uses it.  0, or -1 after saying why. */
int
ctl_io_open(const struct ctl *ctl, const struct ctl_addr *a,
    struct ctl_io *io)
{
	char	 host[256], desc[256];
	int64_t	 deadline = time_mono_us() + ctl->timeout_ms * 1000;
	int	 flags;

	memset(io, 0, sizeof *io);
	if ((io->fd = ctl_connect(a, ctl->timeout_ms)) == -1)
		return -1;
	if (a->tcp == NULL || !(a->tls || ctl->tls))
		return 0;
	ctl_addr_describe(a, desc, sizeof desc);
	ctl_io_host(a->tcp, host, sizeof host);
	flags = fcntl(io->fd, F_GETFL);
	if (flags == -1 || fcntl(io->fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    (io->ctx = ctl_io_ctx(ctl)) == NULL ||
	    (io->ssl = SSL_new(io->ctx)) == NULL ||
	    SSL_set_fd(io->ssl, io->fd) != 1 || ctl_io_name(io->ssl, host) ==
	    -1) {
		if (io->ctx != NULL)
			ctl_warnx("cannot set up TLS with %s", desc);
		ctl_io_close(io);
		return -1;
	}
	if (ctl_io_handshake(io, desc, deadline) == -1) {
		ctl_io_close(io);
		return -1;
	}
	return 0;
}

/* Map an SSL result to recv()/send() terms. */
static ssize_t
ctl_io_ssl_result(struct ctl_io *io, int rc)
{
	switch (SSL_get_error(io->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0)
			return 0;	/* closed without close_notify */
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

ssize_t
ctl_io_read(struct ctl_io *io, void *buf, size_t len)
{
	int	 rc;

	if (io->ssl == NULL)
		return recv(io->fd, buf, len, MSG_DONTWAIT);
	errno = 0;
	ERR_clear_error();
	if ((rc = SSL_read(io->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0)
		return rc;
	return ctl_io_ssl_result(io, rc);
}

ssize_t
ctl_io_write(struct ctl_io *io, const void *buf, size_t len)
{
	int	 rc;

	if (io->ssl == NULL)
		return send(io->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	errno = 0;
	ERR_clear_error();
	if ((rc = SSL_write(io->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0)
		return rc;
	if (ctl_io_ssl_result(io, rc) == 0)
		errno = EPIPE;
	return -1;
}

/* Bytes already decrypted, which poll() cannot see. */
size_t
ctl_io_pending(struct ctl_io *io)
{
	return io->ssl != NULL ? (size_t)SSL_pending(io->ssl) : 0;
}

/* End our side: close_notify on TLS, then the TCP half-close. */
void
ctl_io_shutdown_write(struct ctl_io *io)
{
	if (io->ssl != NULL && SSL_shutdown(io->ssl) < 0)
		ERR_clear_error();
	shutdown(io->fd, SHUT_WR);
}

void
ctl_io_close(struct ctl_io *io)
{
	SSL_free(io->ssl);
	SSL_CTX_free(io->ctx);
	if (io->fd >= 0)
		close(io->fd);
	memset(io, 0, sizeof *io);
	io->fd = -1;
}
