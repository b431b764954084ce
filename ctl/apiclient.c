/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl's HTTP/1.1 client for the daemon's API (docs/api.md).
 *
 * Why not libevent's evhttp client, which misperd already links: in
 * libevent 2.1.12 an evhttp_connection can only reach a host and port.
 * evhttp_connection_base_bufferevent_new() accepts a bufferevent, but
 * evhttp_make_request() on a connection in state EVCON_DISCONNECTED (the
 * state it is created in, and there is no public way out of it) calls
 * evhttp_connection_connect_(), which resets the bufferevent (shutdown
 * and close of the fd we connected to the AF_UNIX socket) and connects
 * anew with bufferevent_socket_connect_hostname() to the host and port
 * given.  Tried: the Unix peer sees EOF and the request goes to TCP.  The
 * Unix-socket constructor (evhttp_connection_base_bufferevent_unix_new)
 * only came with libevent 2.2.  misperctl talks over the Unix socket by
 * default, so it has this small client instead, used for TCP too so there
 * is one code path; over TLS it reads and writes through io.c.
 *
 * It is deliberately strict and small: one request per connection
 * ("Connection: close"), a blocking socket driven by poll() against one
 * deadline, the status line and headers checked (no obsolete line
 * folding, one Content-Length, "chunked" the only transfer coding), the
 * body read by Content-Length, chunked coding or to the close, and every
 * size bounded (CTL_API_MAX_HEADERS, CTL_API_MAX_BODY).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "ctlapi.h"
#include "ctltable.h"
#include "timeutil.h"
#include "xmalloc.h"

enum ctl_body_mode {
	CTL_BODY_NONE,		/* 204, 304: no body */
	CTL_BODY_LENGTH,	/* Content-Length */
	CTL_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	CTL_BODY_CLOSE		/* until the server closes */
};

/* The answer as it is read and parsed. */
struct ctl_http {
	char		*buf;		/* raw bytes read */
	size_t		 len, cap;
	size_t		 start;		/* where the current response begins */
	size_t		 hdr_end;	/* 0: headers not complete yet */
	int		 status;
	enum ctl_body_mode mode;
	uint64_t	 length;	/* CTL_BODY_LENGTH */
	size_t		 pos;		/* CTL_BODY_CHUNKED: next chunk header */
	char		*body;		/* decoded chunked body */
	size_t		 blen, bcap;
	const char	*error;		/* why the answer is refused */
};

/* Milliseconds left before deadline (monotonic us), at least 0. */
static int
ctl_left_ms(int64_t deadline)
{
	int64_t	 left = (deadline - time_mono_us()) / 1000;

	return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

/* Write all of buf before deadline; 0, or -1 with errno. */
static int
ctl_write_all(struct ctl_io *io, const char *buf, size_t len,
    int64_t deadline)
{
	struct pollfd	 pfd = { io->fd, POLLOUT, 0 };
	ssize_t		 n;
	int		 rc;

	while (len > 0) {
		/* TLS may want to read to write; either wakes us */
		pfd.events = POLLOUT | (io->ssl != NULL ? POLLIN : 0);
		rc = poll(&pfd, 1, ctl_left_ms(deadline));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return -1;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = ctl_io_write(io, buf, len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is s[0..len) a token (RFC 9110 tchar)? */
static int
ctl_is_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return 0;
	return 1;
}

/* One header line (without CRLF); 0 or -1 with h->error. */
static int
ctl_http_header(struct ctl_http *h, const char *line, size_t len,
    int *chunked, int *have_length)
{
	const char	*colon = memchr(line, ':', len), *v, *end = line + len;
	char		*value, *ep;
	uint64_t	 n;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		h->error = "folded header line";
		return -1;
	}
	if (colon == NULL || !ctl_is_token(line, colon - line)) {
		h->error = "malformed header line";
		return -1;
	}
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	value = xstrndup(v, end - v);
	if ((size_t)(colon - line) == 14 &&
	    strncasecmp(line, "Content-Length", 14) == 0) {
		errno = 0;
		n = strtoull(value, &ep, 10);
		if (value[0] < '0' || value[0] > '9' || *ep != '\0' ||
		    errno != 0 || (*have_length && n != h->length)) {
			free(value);
			h->error = "bad Content-Length";
			return -1;
		}
		h->length = n;
		*have_length = 1;
	} else if ((size_t)(colon - line) == 17 &&
	    strncasecmp(line, "Transfer-Encoding", 17) == 0) {
		if (strcasecmp(value, "chunked") != 0) {
			free(value);
			h->error = "a transfer coding other than chunked";
			return -1;
		}
		*chunked = 1;
	}
	free(value);
	return 0;
}

/* The status line "HTTP/1.x NNN reason"; 0 or -1 with h->error. */
static int
ctl_http_status(struct ctl_http *h, const char *line, size_t len)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (len > 12 && line[12] != ' ')) {
		h->error = "not an HTTP/1.x status line";
		return -1;
	}
	h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (h->status < 100) {
		h->error = "a status code under 100";
		return -1;
	}
	return 0;
}

/*
 * Parse the header section that ends at h->hdr_end.  1xx answers are
 * skipped (h->hdr_end is reset).  0 or -1 with h->error.
 */
static int
ctl_http_headers(struct ctl_http *h)
{
	const char	*p = h->buf + h->start, *end = h->buf + h->hdr_end - 2;
	const char	*eol;
	int		 first = 1, chunked = 0, have_length = 0;

	while (p < end) {
		if ((eol = memchr(p, '\r', end - p)) == NULL || eol[1] != '\n') {
			h->error = "a header line not ended by CRLF";
			return -1;
		}
		if (memchr(p, '\n', eol - p) != NULL) {
			h->error = "a bare LF in the headers";
			return -1;
		}
		if (first && ctl_http_status(h, p, eol - p) == -1)
			return -1;
		if (!first && ctl_http_header(h, p, eol - p, &chunked,
		    &have_length) == -1)
			return -1;
		first = 0;
		p = eol + 2;
	}
	if (h->status < 200) {		/* 1xx: the real answer follows */
		h->start = h->hdr_end;
		h->hdr_end = 0;
		return 0;
	}
	if (h->status == 204 || h->status == 304)
		h->mode = CTL_BODY_NONE;
	else if (chunked)
		h->mode = CTL_BODY_CHUNKED;
	else if (have_length)
		h->mode = CTL_BODY_LENGTH;
	else
		h->mode = CTL_BODY_CLOSE;
	if (h->mode == CTL_BODY_LENGTH && h->length > CTL_API_MAX_BODY) {
		h->error = "an answer larger than misperctl reads";
		return -1;
	}
	h->pos = h->hdr_end;
	return 0;
}

/* Decode the chunks available; 1 when the last one is in, 0, or -1. */
static int
ctl_http_chunks(struct ctl_http *h)
{
	const char	*p, *end = h->buf + h->len, *eol;
	char		*ep;
	unsigned long long n;

	for (;;) {
		p = h->buf + h->pos;
		if ((eol = memchr(p, '\n', end - p)) == NULL) {
			if (end - p > 1024) {
				h->error = "a chunk size line too long";
				return -1;
			}
			return 0;
		}
		if (eol == p || eol[-1] != '\r' ||
		    !isxdigit((unsigned char)*p)) {
			h->error = "a malformed chunk size line";
			return -1;
		}
		errno = 0;
		n = strtoull(p, &ep, 16);
		if (errno != 0 || (ep != eol - 1 && *ep != ';') ||
		    n > CTL_API_MAX_BODY - h->blen) {
			h->error = "a malformed or too large chunk";
			return -1;
		}
		if (n == 0) {
			/* trailers, then an empty line: skip to it */
			p = eol + 1;
			while ((eol = memchr(p, '\n', end - p)) != NULL) {
				if (eol == p + 1 && *p == '\r')
					return 1;
				p = eol + 1;
			}
			return 0;
		}
		if ((size_t)(end - (eol + 1)) < n + 2)
			return 0;
		if (eol[1 + n] != '\r' || eol[2 + n] != '\n') {
			h->error = "a chunk not ended by CRLF";
			return -1;
		}
		if (h->blen + n + 1 > h->bcap) {
			h->bcap = h->blen + n + 1;
			h->body = xreallocarray(h->body, 1, h->bcap);
		}
		memcpy(h->body + h->blen, eol + 1, n);
		h->blen += n;
		h->pos = (eol + 3 + n) - h->buf;
	}
}

/* After more bytes (or eof): 1 complete, 0 more needed, -1 refused. */
static int
ctl_http_progress(struct ctl_http *h, int eof)
{
	char	*e;

	while (h->hdr_end == 0) {
		e = memmem(h->buf + h->start, h->len - h->start, "\r\n\r\n", 4);
		if (e == NULL) {
			if (h->len - h->start > CTL_API_MAX_HEADERS) {
				h->error = "headers longer than misperctl reads";
				return -1;
			}
			if (eof)
				h->error = "the connection closed before the "
				    "answer's headers were complete";
			return eof ? -1 : 0;
		}
		h->hdr_end = (e + 4) - h->buf;
		if (ctl_http_headers(h) == -1)
			return -1;
	}
	switch (h->mode) {
	case CTL_BODY_NONE:
		return 1;
	case CTL_BODY_LENGTH:
		if (h->len - h->hdr_end >= h->length)
			return 1;
		break;
	case CTL_BODY_CHUNKED:
		switch (ctl_http_chunks(h)) {
		case 1:
			return 1;
		case -1:
			return -1;
		}
		break;
	case CTL_BODY_CLOSE:
		if (h->len - h->hdr_end > CTL_API_MAX_BODY) {
			h->error = "an answer larger than misperctl reads";
			return -1;
		}
		if (eof)
			return 1;
		break;
	}
	if (eof)
		h->error = "the connection closed before the answer was "
		    "complete";
	return eof ? -1 : 0;
}

/* Move the body of a complete answer into ans. */
static void
ctl_http_take(struct ctl_http *h, struct ctl_answer *ans)
{
	size_t	 len = 0;

	ans->status = h->status;
	switch (h->mode) {
	case CTL_BODY_NONE:
		break;
	case CTL_BODY_LENGTH:
		len = h->length;
		break;
	case CTL_BODY_CLOSE:
		len = h->len - h->hdr_end;
		break;
	case CTL_BODY_CHUNKED:
		ans->body = h->body != NULL ? h->body : xstrdup("");
		ans->body[h->blen] = '\0';
		ans->len = h->blen;
		h->body = NULL;
		return;
	}
	ans->body = xmalloc(len + 1);
	memcpy(ans->body, h->buf + h->hdr_end, len);
	ans->body[len] = '\0';
	ans->len = len;
}

/* Read the answer on io before deadline: 0, or -1 with a message said. */
static int
ctl_http_read(struct ctl_io *io, int64_t deadline, struct ctl_answer *ans,
    const char *desc)
{
	struct ctl_http	 h;
	struct pollfd	 pfd = { io->fd, POLLIN, 0 };
	ssize_t		 n;
	int		 rc, done = 0;

	memset(&h, 0, sizeof h);
	while (!done) {
		/* bytes TLS has decrypted already make no poll() event */
		rc = ctl_io_pending(io) > 0 ? 1 :
		    poll(&pfd, 1, ctl_left_ms(deadline));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0) {
			ctl_warnx("no complete answer from %s within the "
			    "timeout (-t)", desc);
			goto fail;
		}
		if (h.cap - h.len < 65536) {
			h.cap = h.cap == 0 ? 65536 * 2 : h.cap * 2;
			h.buf = xreallocarray(h.buf, 1, h.cap);
		}
		n = ctl_io_read(io, h.buf + h.len, h.cap - h.len - 1);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1 && errno != ECONNRESET) {
			ctl_warnx("reading from %s: %s", desc, strerror(errno));
			goto fail;
		}
		if (n > 0)
			h.len += (size_t)n;
		if (h.len > CTL_API_MAX_HEADERS + 2 * (size_t)CTL_API_MAX_BODY) {
			ctl_warnx("bad answer from %s: larger than misperctl "
			    "reads", desc);
			goto fail;
		}
		switch (ctl_http_progress(&h, n <= 0)) {
		case -1:
			ctl_warnx("bad answer from %s: %s", desc, h.error);
			goto fail;
		case 1:
			done = 1;
			break;
		}
	}
	ctl_http_take(&h, ans);
	free(h.buf);
	free(h.body);
	return 0;
fail:
	free(h.buf);
	free(h.body);
	return -1;
}

char *
ctl_api_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char		*out = xmalloc(strlen(s) * 3 + 1), *o = out;
	unsigned char	 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~:", c) != NULL)
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void
ctl_answer_clear(struct ctl_answer *ans)
{
	free(ans->body);
	if (ans->json != NULL)
		json_decref(ans->json);
	memset(ans, 0, sizeof *ans);
}

int
ctl_api_request(struct ctl *ctl, const char *method, const char *path,
    json_t *body, struct ctl_answer *ans)
{
	struct ctl_io	 io;
	char	*req = NULL, *text = NULL, desc[256];
	size_t	 len = 0;
	FILE	*f;
	int	 rc = -1;
	int64_t	 deadline = time_mono_us() + ctl->timeout_ms * 1000;

	memset(ans, 0, sizeof *ans);
	ctl_addr_describe(&ctl->api, desc, sizeof desc);
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		fatalx("ctl", "json_dumps failed");
	if ((f = open_memstream(&req, &len)) == NULL)
		fatal("ctl", "open_memstream");
	fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: misperctl/%s\r\nAccept: application/json\r\n"
	    "Connection: close\r\n", method, path,
	    ctl->api.tcp != NULL ? ctl->api.tcp : "localhost",
	    PACKAGE_VERSION);
	if (ctl->token != NULL)
		fprintf(f, "Authorization: Bearer %s\r\n", ctl->token);
	if (text != NULL)
		fprintf(f, "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(text), text);
	else if (strcmp(method, "POST") == 0)
		fprintf(f, "Content-Length: 0\r\n\r\n");
	else
		fprintf(f, "\r\n");
	fclose(f);
	free(text);

	if (ctl_io_open(ctl, &ctl->api, &io) == -1)
		goto out;
	if (ctl_write_all(&io, req, len, deadline) == -1) {
		/* the daemon may have answered (and closed) already */
		if (errno == ETIMEDOUT) {
			ctl_warnx("%s did not take the request within the "
			    "timeout (-t)", desc);
			goto out_close;
		}
	}
	if (ctl_http_read(&io, deadline, ans, desc) == -1)
		goto out_close;
	ans->json = json_loadb(ans->body, ans->len, JSON_REJECT_DUPLICATES,
	    NULL);
	rc = 0;
out_close:
	ctl_io_close(&io);
out:
	if (req != NULL)
		explicit_bzero(req, len);	/* it may hold the token */
	free(req);
	return rc;
}

/* Print the API's error in ans for a person; returns the exit code. */
static int
ctl_api_error(struct ctl *ctl, const char *path, struct ctl_answer *ans)
{
	const json_t	*err = ctl_json_get(ans->json, "error");
	const json_t	*msg = ctl_json_get(ans->json, "message");
	const json_t	*errors = ctl_json_get(ans->json, "errors"), *e;
	size_t		 i;
	char		*m;

	if (ctl->json)
		printf("%s%s", ans->body, ans->len > 0 &&
		    ans->body[ans->len - 1] == '\n' ? "" : "\n");
	if (json_is_string(err) && json_is_string(msg)) {
		xasprintf(&m, "%s (%s)", json_string_value(msg),
		    json_string_value(err));
		fputs("misperctl: ", stderr);
		ctl_puts_clean(stderr, m);
		fputc('\n', stderr);
		free(m);
		json_array_foreach(errors, i, e) {
			if (!json_is_string(e))
				continue;
			ctl_puts_clean(stderr, json_string_value(e));
			fputc('\n', stderr);
		}
	} else if (ans->status == 404)
		ctl_warnx("the daemon does not serve %s (HTTP 404): is it older "
		    "than misperctl %s?", path, PACKAGE_VERSION);
	else
		ctl_warnx("the daemon answered HTTP %d to %s", ans->status,
		    path);
	return ans->status == 503 ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_PROBLEM;
}

int
ctl_api_call(struct ctl *ctl, const char *method, const char *path,
    json_t *body, struct ctl_answer *ans)
{
	int	 rc;

	if (ctl_api_request(ctl, method, path, body, ans) == -1)
		return CTL_EXIT_UNAVAILABLE;
	if (ans->status < 200 || ans->status > 299) {
		rc = ctl_api_error(ctl, path, ans);
		ctl_answer_clear(ans);
		return rc;
	}
	if (!json_is_object(ans->json)) {
		ctl_warnx("the daemon's answer to %s is not a JSON object",
		    path);
		ctl_answer_clear(ans);
		return CTL_EXIT_UNAVAILABLE;
	}
	if (ctl->json)
		printf("%s%s", ans->body, ans->len > 0 &&
		    ans->body[ans->len - 1] == '\n' ? "" : "\n");
	return CTL_EXIT_OK;
}
