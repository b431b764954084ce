/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The server side of TLS (tls.h).  The SSL_CTX is reference-counted by
 * OpenSSL: every SSL holds its context, so a reload swaps the pointer
 * and drops ours, and connections made before it finish on the old
 * certificates while new ones get the new.  Sessions are neither cached
 * nor ticketed, so no connection skips the client certificate check of
 * the context it arrives under.
 *
 * The private key is read through an open file whose mode is checked on
 * the descriptor (fstat), so the file checked is the file read; a key any
 * local user can read is refused, and so is an encrypted one (there is no
 * one to type a passphrase).  Why a handshake failed is logged at info
 * with the peer: the certificate verification error from the verify
 * callback, and every fatal alert sent or received from the info
 * callback, which sees the handshakes of the HTTP API too (evhttp keeps
 * its bufferevents' events to itself).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "access.h"
#include "config.h"
#include "log.h"
#include "sockets.h"
#include "tls.h"
#include "xmalloc.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define SSL_get1_peer_certificate	SSL_get_peer_certificate
#endif

#define TLS_HANDSHAKE_DEFAULT_MS	60000	/* when idle_timeout is off */
#define TLS_EXPIRY_WARN_S		(14 * 24 * 3600)
#define TLS_SUMMARY_MAX			512
#define TLS_ERR_MAX			256
#define TLS_ALERT_CERT_REQUIRED		116	/* RFC 8446 */

struct tls {
	char		*cert;		/* the paths, from the configuration */
	char		*key;
	char		*ca;
	int		 min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	SSL_CTX		*ctx;		/* for new connections */
	char		 summary[TLS_SUMMARY_MAX];
};

/* OpenSSL's queued errors, most recent last, as one line; clears them. */
static void
tls_errors(char *buf, size_t len)
{
	unsigned long	 e;
	char		 one[TLS_ERR_MAX];
	size_t		 off = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof one);
		if (off < len)
			off += snprintf(buf + off, len - off, "%s%s",
			    off > 0 ? "; " : "", one);
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "unknown error");
}

/* The peer of ssl's socket, "tcp:1.2.3.4:5678". */
static void
tls_peer(const SSL *ssl, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	int			 fd = SSL_get_fd(ssl);

	memset(&ss, 0, sizeof ss);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1)
		snprintf(buf, len, "tcp:?");
	else
		sock_describe((struct sockaddr *)&ss, buf, len);
}

/* Log why a client certificate was refused (info: the peer's doing). */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL	*ssl;
	char	 peer[80], who[TLS_ERR_MAX];
	int	 err;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	err = X509_STORE_CTX_get_error(x);
	if (ssl != NULL)
		tls_peer(ssl, peer, sizeof peer);
	else
		snprintf(peer, sizeof peer, "tcp:?");
	access_cert_describe(X509_STORE_CTX_get_current_cert(x), who,
	    sizeof who);
	log_info("tls", "%s: client certificate refused: %s (%s, depth %d)",
	    peer, X509_verify_cert_error_string(err), who,
	    X509_STORE_CTX_get_error_depth(x));
	return 0;
}

/* Log every fatal alert, sent or received, with the peer. */
static void
tls_info_cb(const SSL *ssl, int where, int ret)
{
	const char	*desc;
	char		 peer[80], name[32];

	if (!(where & SSL_CB_ALERT) ||
	    strcmp(SSL_alert_type_string(ret), "F") != 0)
		return;
	tls_peer(ssl, peer, sizeof peer);
	/* OpenSSL 3.0 has no name for TLS 1.3's certificate_required */
	desc = SSL_alert_desc_string_long(ret);
	if ((ret & 0xff) == TLS_ALERT_CERT_REQUIRED)
		desc = "certificate required";
	else if (strcmp(desc, "unknown") == 0) {
		snprintf(name, sizeof name, "number %d", ret & 0xff);
		desc = name;
	}
	if (SSL_is_init_finished(ssl))
		log_info("tls", "%s: connection ended: %s alert '%s'", peer,
		    (where & SSL_CB_READ) ? "received" : "sent", desc);
	else if (where & SSL_CB_READ)
		log_info("tls", "%s: the client ended the handshake: it sent "
		    "alert '%s'", peer, desc);
	else
		log_info("tls", "%s: handshake refused: sent alert '%s'", peer,
		    desc);
}

/* A passphrase prompt that never prompts: encrypted keys are refused. */
static int
tls_no_passphrase_cb(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

/* Read the private key at path, refusing one others may read. */
static EVP_PKEY *
tls_read_key(const char *path, char **cause)
{
	struct stat	 st;
	EVP_PKEY	*pk;
	FILE		*f;
	char		 err[TLS_ERR_MAX * 2];

	if ((f = fopen(path, "re")) == NULL) {
		xasprintf(cause, "tls.key: cannot open %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode)) {
		xasprintf(cause, "tls.key: %s is not a regular file", path);
		fclose(f);
		return NULL;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP)) {
		xasprintf(cause, "tls.key: %s is open to %s (mode %04o), and a "
		    "private key must be readable by misperd alone: chmod "
		    "0600 %s (or 0640, with misperd's group)", path,
		    (st.st_mode & S_IRWXO) ? "every local user" :
		    "writing by its group", (unsigned)(st.st_mode & 07777),
		    path);
		fclose(f);
		return NULL;
	}
	pk = PEM_read_PrivateKey(f, NULL, tls_no_passphrase_cb, NULL);
	fclose(f);
	if (pk == NULL) {
		tls_errors(err, sizeof err);
		xasprintf(cause, "tls.key: no usable private key in %s (PEM, "
		    "not encrypted): %s", path, err);
	}
	return pk;
}

/* Format the certificate's notAfter as RFC 3339 into buf. */
static void
tls_not_after(X509 *cert, char *buf, size_t len)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Describe the context's certificate; warn if it is or soon will be old. */
static void
tls_describe_ctx(struct tls *t, SSL_CTX *ctx, char *buf, size_t len)
{
	X509	*cert = SSL_CTX_get0_certificate(ctx);
	BIGNUM	*bn;
	char	*serial = NULL, who[TLS_ERR_MAX], until[40];
	time_t	 soon = time(NULL) + TLS_EXPIRY_WARN_S;

	if (cert == NULL) {
		snprintf(buf, len, "no certificate");
		return;
	}
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert),
	    NULL)) != NULL) {
		serial = BN_bn2hex(bn);
		BN_free(bn);
	}
	access_cert_describe(cert, who, sizeof who);
	tls_not_after(cert, until, sizeof until);
	snprintf(buf, len, "certificate %s, serial %s, valid until %s; "
	    "client certificates signed by %s required; TLS %s or later",
	    who, serial != NULL ? serial : "?", until, t->ca,
	    t->min_version == TLS1_3_VERSION ? "1.3" : "1.2");
	OPENSSL_free(serial);
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		log_warnx("tls", "the certificate in %s expired on %s: clients "
		    "will refuse it; replace it and send SIGHUP", t->cert,
		    until);
	else if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0)
		log_warnx("tls", "the certificate in %s expires on %s; renew "
		    "it and send SIGHUP", t->cert, until);
}

/* The settings every context gets. */
static int
tls_ctx_settings(struct tls *t, SSL_CTX *ctx)
{
	static const unsigned char	 sid[] = "misperd";

	if (SSL_CTX_set_min_proto_version(ctx, t->min_version) != 1)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/*
	 * A client that closes without close_notify has ended its input, as
	 * on a plain socket (libevent 2.1 would call OpenSSL 3's error for
	 * it a failure).  A line cut short this way is not valid JSON, so
	 * truncation cannot forge an event; replies already sent stand.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1) != 1)
		return -1;
	/* libevent writes from its evbuffers, which move */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, tls_verify_cb);
	SSL_CTX_set_info_callback(ctx, tls_info_cb);
	return 0;
}

/* Load the files into a new context.  NULL with *cause. */
static SSL_CTX *
tls_load(struct tls *t, char **cause)
{
	SSL_CTX			*ctx;
	STACK_OF(X509_NAME)	*names;
	EVP_PKEY		*pk = NULL;
	char			 err[TLS_ERR_MAX * 2];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    tls_ctx_settings(t, ctx) == -1) {
		tls_errors(err, sizeof err);
		xasprintf(cause, "tls: cannot set up TLS: %s", err);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		tls_errors(err, sizeof err);
		xasprintf(cause, "tls.cert: cannot use %s (a PEM certificate, "
		    "then its intermediates): %s", t->cert, err);
		goto fail;
	}
	if ((pk = tls_read_key(t->key, cause)) == NULL)
		goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_errors(err, sizeof err);
		xasprintf(cause, "tls.key: the key in %s does not belong to "
		    "the certificate in %s: %s", t->key, t->cert, err);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(t->ca)) == NULL) {
		tls_errors(err, sizeof err);
		xasprintf(cause, "tls.ca: cannot read CA certificates from %s "
		    "(PEM): %s", t->ca, err);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	EVP_PKEY_free(pk);
	return ctx;
fail:
	EVP_PKEY_free(pk);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* Build the context from the tls: section. */
struct tls *
tls_new(const struct config *cfg, char **cause)
{
	struct tls	*t;

	t = xcalloc(1, sizeof *t);
	t->cert = xstrdup(cfg->tls_cert);
	t->key = xstrdup(cfg->tls_key);
	t->ca = xstrdup(cfg->tls_ca);
	t->min_version = cfg->tls_min_version != NULL &&
	    strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION :
	    TLS1_2_VERSION;
	if ((t->ctx = tls_load(t, cause)) == NULL) {
		tls_free(t);
		return NULL;
	}
	tls_describe_ctx(t, t->ctx, t->summary, sizeof t->summary);
	return t;
}

/* Read the files again; the running context stays on failure. */
int
tls_reload(struct tls *t, char **cause)
{
	SSL_CTX	*ctx;

	if ((ctx = tls_load(t, cause)) == NULL)
		return -1;
	/* connections made before keep their own reference */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	tls_describe_ctx(t, t->ctx, t->summary, sizeof t->summary);
	return 0;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->cert);
	free(t->key);
	free(t->ca);
	free(t);
}

const char *
tls_summary(struct tls *t)
{
	return t->summary;
}

/* A server-side TLS bufferevent on fd. */
struct bufferevent *
tls_bufferevent(struct tls *t, struct event_base *base, evutil_socket_t fd)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(t->ctx)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* a client that closes without close_notify has still ended */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int
tls_is_tls(struct bufferevent *bev)
{
	return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

struct x509_st *
tls_peer_cert(struct bufferevent *bev)
{
	SSL	*ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return SSL_get1_peer_certificate(ssl);
}

const char *
tls_version(struct bufferevent *bev)
{
	SSL	*ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return "plain";
	return SSL_get_version(ssl);
}

/* Log the TLS errors of an error event. */
int
tls_log_errors(struct bufferevent *bev, const char *sub, const char *peer)
{
	unsigned long	 e;
	char		 one[TLS_ERR_MAX];
	int		 n = 0;

	if (!tls_is_tls(bev))
		return 0;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		/* libevent queues errno values too; the log has those */
		if (ERR_GET_LIB(e) == 0)
			continue;
		ERR_error_string_n(e, one, sizeof one);
		log_info(sub, "%s: TLS: %s", peer, one);
		n++;
	}
	return n;
}

/* Send close_notify; the socket is non-blocking, so this never waits. */
void
tls_close_notify(struct bufferevent *bev)
{
	SSL	*ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    !SSL_is_init_finished(ssl))
		return;
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
}

int64_t
tls_handshake_ms(const struct config *cfg)
{
	return cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms :
	    TLS_HANDSHAKE_DEFAULT_MS;
}
