/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Access control (the access: section of misperd.yaml): the clients the
 * daemon knows, each named, recognised by its TLS client certificate
 * (subject CN or a subjectAltName) and/or a bearer token (kept only as
 * its SHA-256), and the roles it holds: read, ack and admin for the HTTP
 * API, send for event intake, subscribe (to the routes it lists) for
 * alert streams.  Local peers (a Unix socket, or a TCP listener without
 * TLS) are whoever access.local says: every role ("all", the default),
 * no one ("none"), or a named client.  The listeners, the subscriber
 * streams and the HTTP API's api_authorise() all ask here, so one client
 * has the same rights on every channel.
 */
#ifndef MISPER_ACCESS_H
#define MISPER_ACCESS_H

#include <stddef.h>

struct x509_st;
struct yl_errors;
struct yl_node;

#define ACCESS_TOKEN_LEN	32	/* SHA-256 */
#define ACCESS_TOKEN_MAX	4096	/* longest bearer token taken */
#define ACCESS_NAME_MAX		64
#define ACCESS_LOCAL_NAME	"local"	/* the identity of access.local: all */

/* Roles, as bits. */
#define ACCESS_READ		0x01	/* GET the API's data */
#define ACCESS_ACK		0x02	/* acknowledge alerts */
#define ACCESS_ADMIN		0x04	/* reload the rules */
#define ACCESS_SEND		0x08	/* submit events */
#define ACCESS_SUBSCRIBE	0x10	/* alert streams, of its routes */
#define ACCESS_ALL		0x1f

/* One client: who it is and what it may do. */
struct access_client {
	char		 *name;
	char		 *cert_cn;	/* NULL: CN not checked */
	char		 *cert_san;	/* NULL: SAN not checked */
	unsigned char	  token[ACCESS_TOKEN_LEN];	/* SHA-256 */
	int		  has_token;
	unsigned	  roles;	/* ACCESS_* bits */
	char		**routes;	/* subscribe: the routes it may have */
	size_t		  nroutes;
	int		  any_route;	/* routes: ["*"] */
};

struct access {
	struct access_client	*clients;
	size_t			 nclients;
	struct access_client	 all;	/* "local", every role and route */
};

/* access.c */
/* No clients; local peers hold every role. */
struct access	*access_new(void);
/*
 * Read the access.clients list at node (NULL or null: none) into a new
 * access; errors, with their positions, go to errs.  Never NULL.
 */
struct access	*access_parse(struct yl_errors *, const struct yl_node *);
void		 access_free(struct access *);
/* The client called name, or NULL. */
const struct access_client *access_find(const struct access *,
		     const char *name);
/*
 * Who local peers are for access.local (see above): the built-in "local"
 * client for "all", NULL for "none", else the named client (NULL if
 * there is none; the configuration refuses that).
 */
const struct access_client *access_local(const struct access *,
		     const char *local);
/* The first client the certificate identifies, or NULL. */
const struct access_client *access_by_cert(const struct access *,
		     struct x509_st *);
/*
 * The client whose token_sha256 is the hash of token[0..len), or NULL.
 * Every client's hash is compared, in constant time.
 */
const struct access_client *access_by_token(const struct access *,
		     const char *token, size_t len);
/* Does client (NULL: nobody) hold every role in roles? */
int		 access_has(const struct access_client *, unsigned roles);
/* May client subscribe to route? */
int		 access_route_ok(const struct access_client *,
		     const char *route);
/* "read", "ack", ... for one role bit. */
const char	*access_role_name(unsigned role);
/* The roles of a client, "read, ack" (caller frees; "none" if none). */
char		*access_roles_text(unsigned roles);
/*
 * Describe a certificate for logs and messages: "CN=x" (and the first
 * subjectAltName).  buf gets at most len bytes.
 */
void		 access_cert_describe(struct x509_st *, char *buf, size_t len);
/* The hex SHA-256 of token[0..len) into hex (65 bytes). */
void		 access_token_hash_hex(const char *token, size_t len,
		     char hex[2 * ACCESS_TOKEN_LEN + 1]);

#endif
