/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Access control: reading access.clients from yamlload's node tree, and
 * the questions the listeners ask (who is this certificate, this token,
 * this local peer; may it do this).  A token is never kept: the file
 * holds its SHA-256 (misperctl hash-token prints it), and a presented
 * token is hashed and compared with every client's hash with
 * CRYPTO_memcmp, so neither the comparison nor the search reveals how
 * close a guess came or which client it nearly was.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access.h"
#include "log.h"
#include "xmalloc.h"
#include "yamlload.h"

#define ACCESS_CLIENTS_MAX	1000
#define ACCESS_ID_MAX		255	/* longest cert_cn or cert_san */
#define ACCESS_ROUTE_MAX	64
#define NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*name;
	unsigned	 bit;
} access_roles[] = {
	{ "read", ACCESS_READ },
	{ "ack", ACCESS_ACK },
	{ "admin", ACCESS_ADMIN },
	{ "send", ACCESS_SEND },
	{ "subscribe", ACCESS_SUBSCRIBE }
};

/* Names access.local gives a meaning of its own. */
static const char *const access_reserved[] = {
	ACCESS_LOCAL_NAME, "all", "none"
};

/* A client name: letters, digits, '_', '-', '.', '@', starting alnum. */
static int
access_name_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > ACCESS_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_-.@", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* A certificate name: printable ASCII, no space at either end. */
static int
access_id_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > ACCESS_ID_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* yl_names check: a role name.  NULL or why not. */
static char *
access_check_role(const char *name, const void *arg)
{
	char	*why;
	size_t	 i;

	(void)arg;
	for (i = 0; i < NITEMS(access_roles); i++) {
		if (strcmp(name, access_roles[i].name) == 0)
			return NULL;
	}
	xasprintf(&why, "unknown role '%.*s%s'; the roles are read, ack, "
	    "admin, send and subscribe", YL_SHOW(name));
	return why;
}

/* yl_names check: a route name, or "*" for every route. */
static char *
access_check_route(const char *name, const void *arg)
{
	char	*why;
	size_t	 i, n = strlen(name);

	(void)arg;
	if (strcmp(name, "*") == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("_-.", name[i]) == NULL)
			break;
	}
	if (i == n && n <= ACCESS_ROUTE_MAX && isalnum((unsigned char)name[0]))
		return NULL;
	xasprintf(&why, "'%.*s%s' is not a route name; use letters, digits, "
	    "'_', '-' or '.', or \"*\" for every route", YL_SHOW(name));
	return why;
}

/* Parse 64 hex digits into out.  0 or -1. */
static int
access_parse_hex(const char *s, unsigned char *out)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(s) != 2 * ACCESS_TOKEN_LEN)
		return -1;
	for (i = 0; i < ACCESS_TOKEN_LEN; i++) {
		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]))
			return -1;
		hi = isdigit((unsigned char)s[2 * i]) ? s[2 * i] - '0' :
		    tolower((unsigned char)s[2 * i]) - 'a' + 10;
		lo = isdigit((unsigned char)s[2 * i + 1]) ? s[2 * i + 1] - '0' :
		    tolower((unsigned char)s[2 * i + 1]) - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* SHA-256 of buf[0..len) into out. */
static void
access_sha256(const char *buf, size_t len, unsigned char *out)
{
	unsigned int	 n = ACCESS_TOKEN_LEN;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != ACCESS_TOKEN_LEN)
		fatalx("access", "SHA-256 failed");
}

/* A cert_cn or cert_san value into *out.  0 or -1 (reported). */
static int
access_read_id(struct yl_errors *errs, const struct yl_node *v,
    const char *key, char **out)
{
	const char	*text;

	if ((text = yl_scalar(errs, v, key)) == NULL)
		return -1;
	if (!access_id_ok(text)) {
		yl_error(errs, &v->mark, "%s '%.*s%s' must be 1-%d printable "
		    "ASCII characters with no space at either end, as the "
		    "certificate has it", key, YL_SHOW(text), ACCESS_ID_MAX);
		return -1;
	}
	*out = xstrdup(text);
	return 0;
}

/* token_sha256 into c.  The value is never quoted: it may be the token. */
static int
access_read_token(struct yl_errors *errs, const struct yl_node *v,
    struct access_client *c)
{
	const char	*text;

	if ((text = yl_scalar(errs, v, "token_sha256")) == NULL)
		return -1;
	if (access_parse_hex(text, c->token) == -1) {
		yl_error(errs, &v->mark, "token_sha256 must be the 64 hex "
		    "digits of the token's SHA-256, as misperctl hash-token "
		    "prints it; never write the token itself in the file");
		return -1;
	}
	c->has_token = 1;
	return 0;
}

/* roles: [...] into c->roles.  0 or -1 (reported). */
static int
access_read_roles(struct yl_errors *errs, const struct yl_node *v,
    struct access_client *c)
{
	char	**names;
	size_t	  n, i, j;

	if (yl_names(errs, v, "roles", 0, access_check_role, NULL, &names,
	    &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < NITEMS(access_roles); j++) {
			if (strcmp(names[i], access_roles[j].name) == 0)
				c->roles |= access_roles[j].bit;
		}
	}
	yl_strs_free(names, n);
	return 0;
}

/* routes: [...] into c.  0 or -1 (reported). */
static int
access_read_routes(struct yl_errors *errs, const struct yl_node *v,
    struct access_client *c)
{
	size_t	 i;

	if (yl_names(errs, v, "routes", 0, access_check_route, NULL,
	    &c->routes, &c->nroutes) == -1)
		return -1;
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i], "*") == 0)
			c->any_route = 1;
	}
	return 0;
}

/* Free what c owns (not c). */
static void
access_client_clear(struct access_client *c)
{
	free(c->name);
	free(c->cert_cn);
	free(c->cert_san);
	yl_strs_free(c->routes, c->nroutes);
	explicit_bzero(c, sizeof *c);
}

/* Refuse every key of client v that is not one a client has. */
static void
access_keys(struct yl_errors *errs, const struct yl_node *v)
{
	static const char *const keys[] = {
		"name", "cert_cn", "cert_san", "token_sha256", "roles", "routes"
	};
	size_t	 i, j;

	for (i = 0; i < v->n; i++) {
		for (j = 0; j < NITEMS(keys); j++) {
			if (strcmp(v->pairs[i].key, keys[j]) == 0)
				break;
		}
		if (j == NITEMS(keys))
			yl_unknown(errs, &v->pairs[i].mark, "key",
			    v->pairs[i].key, "a client", keys, NITEMS(keys));
	}
}

/* The client's name; 0 or -1 (reported). */
static int
access_read_name(struct yl_errors *errs, const struct yl_node *v,
    const struct access *acc, struct access_client *c)
{
	const struct yl_node	*n;
	const char		*text;
	size_t			 i;

	if ((n = yl_get(v, "name")) == NULL) {
		yl_error(errs, &v->mark, "a client needs a name, as in {name: "
		    "control-room, cert_cn: cad.example.police.uk, roles: "
		    "[send]}");
		return -1;
	}
	if ((text = yl_scalar(errs, n, "name")) == NULL)
		return -1;
	if (!access_name_ok(text)) {
		yl_error(errs, &n->mark, "client name '%.*s%s' must be 1-%d "
		    "letters, digits, '_', '-', '.' or '@', starting with a "
		    "letter or digit", YL_SHOW(text), ACCESS_NAME_MAX);
		return -1;
	}
	for (i = 0; i < NITEMS(access_reserved); i++) {
		if (strcmp(text, access_reserved[i]) == 0) {
			yl_error(errs, &n->mark, "client name '%s' is "
			    "reserved (access.local uses it); choose another",
			    text);
			return -1;
		}
	}
	if (access_find(acc, text) != NULL) {
		yl_error(errs, &n->mark, "client name '%.*s%s' is used twice",
		    YL_SHOW(text));
		return -1;
	}
	c->name = xstrdup(text);
	return 0;
}

/* Is another client recognised by the same token? */
static int
access_token_taken(const struct access *acc, const struct access_client *c)
{
	size_t	 i;

	for (i = 0; i < acc->nclients; i++) {
		if (acc->clients[i].has_token &&
		    CRYPTO_memcmp(acc->clients[i].token, c->token,
		    ACCESS_TOKEN_LEN) == 0)
			return 1;
	}
	return 0;
}

/* The recognisers, roles and routes of c; 0 or -1 (reported). */
static int
access_read_rights(struct yl_errors *errs, const struct yl_node *v,
    const struct access *acc, struct access_client *c)
{
	const struct yl_node	*w;
	int			 bad = 0;

	if ((w = yl_get(v, "cert_cn")) != NULL &&
	    access_read_id(errs, w, "cert_cn", &c->cert_cn) == -1)
		bad = 1;
	if ((w = yl_get(v, "cert_san")) != NULL &&
	    access_read_id(errs, w, "cert_san", &c->cert_san) == -1)
		bad = 1;
	if ((w = yl_get(v, "token_sha256")) != NULL &&
	    access_read_token(errs, w, c) == -1)
		bad = 1;
	if (!bad && c->has_token && access_token_taken(acc, c)) {
		yl_error(errs, &w->mark, "client %s has the same "
		    "token_sha256 as another client; give each its own token",
		    c->name);
		bad = 1;
	}
	if (!bad && c->cert_cn == NULL && c->cert_san == NULL &&
	    !c->has_token) {
		yl_error(errs, &v->mark, "client %s cannot be recognised: give "
		    "cert_cn, cert_san or token_sha256", c->name);
		bad = 1;
	}
	if ((w = yl_get(v, "roles")) == NULL) {
		yl_error(errs, &v->mark, "client %s needs roles: a list of "
		    "read, ack, admin, send and subscribe", c->name);
		bad = 1;
	} else if (access_read_roles(errs, w, c) == -1)
		bad = 1;
	w = yl_get(v, "routes");
	if (w != NULL && !(c->roles & ACCESS_SUBSCRIBE)) {
		yl_error(errs, &w->mark, "client %s has routes but not the "
		    "subscribe role; add subscribe to its roles or remove "
		    "routes", c->name);
		bad = 1;
	} else if (w == NULL && (c->roles & ACCESS_SUBSCRIBE)) {
		yl_error(errs, &v->mark, "client %s has the subscribe role: "
		    "list the routes it may subscribe to under routes (\"*\" "
		    "for every route)", c->name);
		bad = 1;
	} else if (w != NULL && access_read_routes(errs, w, c) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

/* One client of the list into acc (kept only if wholly valid). */
static void
access_read_client(struct yl_errors *errs, const struct yl_node *v,
    struct access *acc)
{
	struct access_client	*c = &acc->clients[acc->nclients];

	memset(c, 0, sizeof *c);
	if (v->type != YL_MAP) {
		yl_error(errs, &v->mark, "each client must be a mapping, as in "
		    "{name: control-room, cert_cn: cad.example.police.uk, "
		    "roles: [send]}, not %s", yl_node_kind(v));
		return;
	}
	access_keys(errs, v);
	if (access_read_name(errs, v, acc, c) == -1 ||
	    access_read_rights(errs, v, acc, c) == -1) {
		access_client_clear(c);
		return;
	}
	acc->nclients++;
}

/* Does name match the certificate's subject CN? */
static int
access_cn_matches(X509 *cert, const char *want)
{
	X509_NAME	*subj = X509_get_subject_name(cert);
	char		 cn[ACCESS_ID_MAX + 2];
	int		 len;

	if (subj == NULL)
		return 0;
	len = X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn);
	/* a CN with a NUL or longer than any configured one matches none */
	return len > 0 && (size_t)len == strlen(cn) && strcmp(cn, want) == 0;
}

/* Does want match one of the DNS, email or URI subjectAltNames? */
static int
access_san_matches(X509 *cert, const char *want)
{
	GENERAL_NAMES		*sans;
	const GENERAL_NAME	*gn;
	const unsigned char	*p;
	int			 i, len, yes = 0;

	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; !yes && i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS && gn->type != GEN_EMAIL &&
		    gn->type != GEN_URI)
			continue;
		p = ASN1_STRING_get0_data(gn->d.ia5);
		len = ASN1_STRING_length(gn->d.ia5);
		if (len < 0 || (size_t)len != strlen(want) ||
		    memchr(p, '\0', (size_t)len) != NULL)
			continue;
		/* DNS names are case-insensitive; the others are not */
		yes = gn->type == GEN_DNS ?
		    strncasecmp((const char *)p, want, (size_t)len) == 0 :
		    memcmp(p, want, (size_t)len) == 0;
	}
	GENERAL_NAMES_free(sans);
	return yes;
}

/* No clients; local peers hold every role. */
struct access *
access_new(void)
{
	struct access	*acc;

	acc = xcalloc(1, sizeof *acc);
	acc->all.name = xstrdup(ACCESS_LOCAL_NAME);
	acc->all.roles = ACCESS_ALL;
	acc->all.any_route = 1;
	return acc;
}

/* Read access.clients. */
struct access *
access_parse(struct yl_errors *errs, const struct yl_node *node)
{
	struct access	*acc;
	size_t		 i;

	acc = access_new();
	if (node == NULL || yl_is_null(node))
		return acc;
	if (node->type != YL_LIST) {
		yl_error(errs, &node->mark, "clients must be a list of "
		    "clients, as in [{name: control-room, cert_cn: "
		    "cad.example.police.uk, roles: [send]}], not %s",
		    yl_node_kind(node));
		return acc;
	}
	if (node->n > ACCESS_CLIENTS_MAX) {
		yl_error(errs, &node->mark, "at most %d clients",
		    ACCESS_CLIENTS_MAX);
		return acc;
	}
	if (node->n == 0)
		return acc;
	acc->clients = xcalloc(node->n, sizeof *acc->clients);
	for (i = 0; i < node->n; i++)
		access_read_client(errs, node->items[i], acc);
	return acc;
}

/* Free acc.  Accepts NULL. */
void
access_free(struct access *acc)
{
	size_t	 i;

	if (acc == NULL)
		return;
	for (i = 0; i < acc->nclients; i++)
		access_client_clear(&acc->clients[i]);
	free(acc->clients);
	access_client_clear(&acc->all);
	free(acc);
}

/* The client called name, or NULL. */
const struct access_client *
access_find(const struct access *acc, const char *name)
{
	size_t	 i;

	for (i = 0; acc != NULL && i < acc->nclients; i++) {
		if (strcmp(acc->clients[i].name, name) == 0)
			return &acc->clients[i];
	}
	return NULL;
}

/* Who local peers are. */
const struct access_client *
access_local(const struct access *acc, const char *local)
{
	if (acc == NULL)
		return NULL;
	if (local == NULL || strcmp(local, "all") == 0)
		return &acc->all;
	if (strcmp(local, "none") == 0)
		return NULL;
	return access_find(acc, local);
}

/* The first client the certificate identifies, or NULL. */
const struct access_client *
access_by_cert(const struct access *acc, X509 *cert)
{
	const struct access_client	*c;
	size_t				 i;

	if (acc == NULL || cert == NULL)
		return NULL;
	for (i = 0; i < acc->nclients; i++) {
		c = &acc->clients[i];
		if (c->cert_cn == NULL && c->cert_san == NULL)
			continue;	/* a token-only client */
		if (c->cert_cn != NULL && !access_cn_matches(cert, c->cert_cn))
			continue;
		if (c->cert_san != NULL &&
		    !access_san_matches(cert, c->cert_san))
			continue;
		return c;
	}
	return NULL;
}

/* The client whose token hash matches; constant time over the clients. */
const struct access_client *
access_by_token(const struct access *acc, const char *token, size_t len)
{
	const struct access_client	*found = NULL;
	unsigned char			 h[ACCESS_TOKEN_LEN];
	size_t				 i;

	if (acc == NULL || len == 0 || len > ACCESS_TOKEN_MAX)
		return NULL;
	access_sha256(token, len, h);
	for (i = 0; i < acc->nclients; i++) {
		if (acc->clients[i].has_token &&
		    CRYPTO_memcmp(acc->clients[i].token, h,
		    ACCESS_TOKEN_LEN) == 0)
			found = &acc->clients[i];
	}
	explicit_bzero(h, sizeof h);
	return found;
}

/* Does c hold every role in roles? */
int
access_has(const struct access_client *c, unsigned roles)
{
	return c != NULL && (c->roles & roles) == roles;
}

/* May c subscribe to route? */
int
access_route_ok(const struct access_client *c, const char *route)
{
	size_t	 i;

	if (!access_has(c, ACCESS_SUBSCRIBE))
		return 0;
	if (c->any_route)
		return 1;
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i], route) == 0)
			return 1;
	}
	return 0;
}

/* The name of one role bit. */
const char *
access_role_name(unsigned role)
{
	size_t	 i;

	for (i = 0; i < NITEMS(access_roles); i++) {
		if (access_roles[i].bit == role)
			return access_roles[i].name;
	}
	return "?";
}

/* "read, ack": the roles in roles. */
char *
access_roles_text(unsigned roles)
{
	char	*text = xstrdup(""), *next;
	size_t	 i;

	for (i = 0; i < NITEMS(access_roles); i++) {
		if (!(roles & access_roles[i].bit))
			continue;
		xasprintf(&next, "%s%s%s", text, *text != '\0' ? ", " : "",
		    access_roles[i].name);
		free(text);
		text = next;
	}
	if (*text == '\0') {
		free(text);
		text = xstrdup("none");
	}
	return text;
}

/* "CN=x, SAN=y" for logs, printable ASCII only. */
void
access_cert_describe(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES		*sans;
	const GENERAL_NAME	*gn;
	X509_NAME		*subj;
	char			 cn[ACCESS_ID_MAX + 2], san[ACCESS_ID_MAX + 2];
	size_t			 i;
	int			 n, k;

	snprintf(buf, len, "no certificate");
	if (cert == NULL)
		return;
	cn[0] = san[0] = '\0';
	if ((subj = X509_get_subject_name(cert)) != NULL &&
	    X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn) < 0)
		cn[0] = '\0';
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (k = 0; san[0] == '\0' && k < sk_GENERAL_NAME_num(sans); k++) {
		gn = sk_GENERAL_NAME_value(sans, k);
		if (gn->type != GEN_DNS && gn->type != GEN_EMAIL &&
		    gn->type != GEN_URI)
			continue;
		n = ASN1_STRING_length(gn->d.ia5);
		if (n > 0 && (size_t)n < sizeof san) {
			memcpy(san, ASN1_STRING_get0_data(gn->d.ia5),
			    (size_t)n);
			san[n] = '\0';
		}
	}
	GENERAL_NAMES_free(sans);
	for (i = 0; cn[i] != '\0'; i++)
		if ((unsigned char)cn[i] < 0x20 || (unsigned char)cn[i] > 0x7e)
			cn[i] = '?';
	for (i = 0; san[i] != '\0'; i++)
		if ((unsigned char)san[i] < 0x20 ||
		    (unsigned char)san[i] > 0x7e)
			san[i] = '?';
	snprintf(buf, len, "CN=%s%s%s", cn[0] != '\0' ? cn : "(none)",
	    san[0] != '\0' ? ", SAN=" : "", san);
}

/* The hex SHA-256 of a token. */
void
access_token_hash_hex(const char *token, size_t len,
    char hex[2 * ACCESS_TOKEN_LEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 h[ACCESS_TOKEN_LEN];
	size_t			 i;

	access_sha256(token, len, h);
	for (i = 0; i < ACCESS_TOKEN_LEN; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 15];
	}
	hex[2 * ACCESS_TOKEN_LEN] = '\0';
	explicit_bzero(h, sizeof h);
}
