/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The event decoder: one NDJSON line in, a validated struct mevent out, or
 * the error code, dotted field path and sentence of contract section 3.
 * jansson does the parsing (and the UTF-8, NUL, depth and duplicate-key
 * checks); this file checks shapes and values against contract section 2.
 *
 * Choices the contract leaves open:
 * - Event ids, episode ids and child ids are 1-128 bytes of printable ASCII
 *   (0x20-0x7e) with no space at either end.
 * - Names (source, area, reason, flags, found.with entries) are 1-128 bytes
 *   of UTF-8 without control characters and with no space at either end.
 * - Indicator ids are 1-128 ASCII letters, digits, '_', '-' or '.'.
 * - note and outcome are free text of at most 4096 bytes.
 * - A null is a wrong type, never "absent": an optional field is left out.
 * - A uprn is a string of 1-12 digits (a JSON number is refused); the key
 *   drops leading zeros.  Postcode and address alone are each enough.
 * - Arrays (indicators, flags, with) hold at most 64 entries.
 * - Fields that a type does not read are ignored, like unknown ones.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decode.h"
#include "event.h"
#include "timeutil.h"
#include "utf8.h"
#include "xmalloc.h"

#define NAME_MAX_LEN	128
#define TEXT_MAX_LEN	4096
#define ADDRESS_MAX_LEN	512
#define POSTCODE_MAX_LEN 16
#define UPRN_MAX_LEN	12
#define ARRAY_MAX	64
#define ECHO_MAX	64		/* bytes of a sent value to repeat */
#define DOB_SLACK_MS	(14LL * 3600 * 1000)	/* the widest UTC offset */
#define PATH_MAX_LEN	96

/* What a string field may hold. */
enum str_kind {
	STR_ID,			/* printable ASCII, no space at either end */
	STR_NAME,		/* UTF-8 without controls, trimmed */
	STR_TEXT,		/* free text */
	STR_INDICATOR		/* letters, digits, '_', '-', '.' */
};

/* The fields a type reads; the order here is the order they are checked. */
#define F_EPISODE	0x0001u
#define F_CHILD		0x0002u
#define F_CATEGORY	0x0004u
#define F_RISK		0x0008u
#define F_LAST_SEEN	0x0010u
#define F_FOUND		0x0020u
#define F_LOCATION	0x0040u
#define F_INDICATORS	0x0080u
#define F_INDICATOR	0x0100u
#define F_KIND		0x0200u
#define F_PLAN		0x0400u
#define F_REASON	0x0800u
#define F_NOTE		0x1000u
#define F_OUTCOME	0x2000u

static const struct type_spec {
	const char	*name;
	unsigned int	 reads;
	unsigned int	 needs;
} type_specs[EVT__COUNT] = {
	{ "episode.reported",
	    F_EPISODE | F_CHILD | F_CATEGORY | F_RISK | F_LAST_SEEN |
	    F_INDICATORS, F_EPISODE | F_CHILD | F_CATEGORY },
	{ "episode.updated",
	    F_EPISODE | F_CHILD | F_CATEGORY | F_RISK | F_INDICATORS | F_NOTE,
	    F_EPISODE },
	{ "episode.found", F_EPISODE | F_CHILD | F_FOUND | F_INDICATORS,
	    F_EPISODE | F_FOUND },
	{ "episode.closed", F_EPISODE | F_CHILD | F_OUTCOME, F_EPISODE },
	{ "interview.completed", F_EPISODE | F_CHILD | F_KIND | F_INDICATORS,
	    F_KIND },
	{ "indicator.recorded", F_EPISODE | F_CHILD | F_INDICATOR | F_NOTE,
	    F_CHILD | F_INDICATOR },
	{ "plan.recorded", F_EPISODE | F_CHILD | F_PLAN, F_CHILD | F_PLAN },
	{ "location.flagged", F_LOCATION | F_REASON, F_LOCATION | F_REASON },
	{ "location.cleared", F_LOCATION | F_REASON, F_LOCATION | F_REASON }
};

static const char *const category_names[] = { "missing", "absent" };
static const char *const risk_names[] = {
	"no_apparent_risk", "low", "medium", "high"
};
static const char *const kind_names[] = { "return_home", "prevention" };
static const char *const plan_names[] = {
	"trigger_plan", "strategy_discussion", "safety_plan"
};
static const char *const error_names[EVERR__COUNT] = {
	"none", "bad_json", "line_too_long", "missing_field", "bad_field",
	"unknown_type", "unknown_episode", "unknown_indicator", "conflict",
	"unavailable"
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* One decode in progress. */
struct dctx {
	struct mevent		 *ev;
	struct ev_err		 *err;
	const struct decode_opts *opts;
};

/* Copy sent text into buf for an error message: printable ASCII, capped. */
static const char *
echo(const char *s, char *buf, size_t sz)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < sz; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	if (s[i] != '\0' && sz > 4)
		memcpy(buf + sz - 4, "...", 4);
	return buf;
}

/* Join a parent path and a key: "child" + "dob" is "child.dob". */
static const char *
path_join(char *buf, const char *parent, const char *key)
{
	if (parent == NULL)
		snprintf(buf, PATH_MAX_LEN, "%s", key);
	else
		snprintf(buf, PATH_MAX_LEN, "%s.%s", parent, key);
	return buf;
}

/* Is c an ASCII letter or digit? */
static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* Does the string s of len bytes fit kind? */
static int
str_ok(const char *s, size_t len, enum str_kind kind)
{
	size_t		 i;
	unsigned char	 c;

	if (kind == STR_TEXT)
		return len <= TEXT_MAX_LEN;
	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	if (kind != STR_INDICATOR && (s[0] == ' ' || s[len - 1] == ' '))
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (kind == STR_ID && c > 0x7f)
			return 0;
		if (kind == STR_INDICATOR && !is_alnum(c) && c != '_' &&
		    c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/* What a string of kind must be, for error messages. */
static const char *
str_want(enum str_kind kind)
{
	switch (kind) {
	case STR_ID:
		return "a string of 1 to 128 printable ASCII characters "
		    "with no space at either end";
	case STR_NAME:
		return "a string of 1 to 128 bytes without control characters "
		    "and with no space at either end";
	case STR_TEXT:
		return "a string of at most 4096 bytes";
	case STR_INDICATOR:
		return "an indicator id: 1 to 128 ASCII letters, digits, "
		    "'_', '-' or '.'";
	}
	return "a string";
}

/* Report a required field that is absent. */
static int
missing(struct dctx *d, const char *path, const char *parent)
{
	if (parent != NULL)
		ev_err_set(d->err, EVERR_MISSING_FIELD, path,
		    "%s is missing; a %s needs it", path, parent);
	else
		ev_err_set(d->err, EVERR_MISSING_FIELD, path,
		    "%s is missing; %s events need it", path,
		    event_type_name(d->ev->type));
	return -1;
}

/* Report a value of the wrong JSON type or shape. */
static int
bad_value(struct dctx *d, const char *path, const json_t *v,
    const char *want)
{
	if (json_is_null(v))
		ev_err_set(d->err, EVERR_BAD_FIELD, path,
		    "%s must be %s, not null", path, want);
	else
		ev_err_set(d->err, EVERR_BAD_FIELD, path, "%s must be %s",
		    path, want);
	return -1;
}

/*
 * Look up key in obj: 1 and *out when present, 0 when absent and optional,
 * -1 (error set) when absent and required.
 */
static int
lookup(struct dctx *d, json_t *obj, const char *parent, const char *key,
    int required, json_t **out)
{
	char	 path[PATH_MAX_LEN];

	if ((*out = json_object_get(obj, key)) != NULL)
		return 1;
	if (required)
		return missing(d, path_join(path, parent, key), parent);
	return 0;
}

/* Read an optional or required string field of kind into *out. */
static int
get_str(struct dctx *d, json_t *obj, const char *parent, const char *key,
    enum str_kind kind, int required, const char **out)
{
	char	 path[PATH_MAX_LEN];
	json_t	*v;
	int	 r;

	if ((r = lookup(d, obj, parent, key, required, &v)) <= 0)
		return r;
	path_join(path, parent, key);
	if (!json_is_string(v) ||
	    !str_ok(json_string_value(v), json_string_length(v), kind))
		return bad_value(d, path, v, str_want(kind));
	*out = json_string_value(v);
	return 0;
}

/* Read an optional boolean into *out (0 or 1). */
static int
get_bool(struct dctx *d, json_t *obj, const char *parent, const char *key,
    int *out)
{
	char	 path[PATH_MAX_LEN];
	json_t	*v;

	if (lookup(d, obj, parent, key, 0, &v) == 0)
		return 0;
	if (!json_is_boolean(v))
		return bad_value(d, path_join(path, parent, key), v,
		    "true or false");
	*out = json_is_true(v);
	return 0;
}

/* Write "one of a, b, c" for names[0..n-1] into buf. */
static const char *
enum_want(const char *const *names, size_t n, char *buf, size_t sz)
{
	size_t	 i, len;

	len = (size_t)snprintf(buf, sz, "one of");
	for (i = 0; i < n && len < sz; i++)
		len += (size_t)snprintf(buf + len, sz - len, "%s %s",
		    i == 0 ? "" : ",", names[i]);
	return buf;
}

/* Read a string that must be one of names[0..n-1]; *out is its index. */
static int
get_enum(struct dctx *d, json_t *obj, const char *key,
    const char *const *names, size_t n, int required, int *out)
{
	char		 want[160];
	const char	*s;
	json_t		*v;
	size_t		 i;
	int		 r;

	if ((r = lookup(d, obj, NULL, key, required, &v)) <= 0)
		return r;
	s = json_is_string(v) ? json_string_value(v) : "";
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return bad_value(d, key, v, enum_want(names, n, want, sizeof want));
}

/*
 * Read an optional or required array of strings of kind.  The array is
 * allocated straight into *out so mevent_free() releases it on any error.
 * Returns 1 when present, 0 when absent, -1 on error.
 */
static int
get_strarr(struct dctx *d, json_t *obj, const char *parent, const char *key,
    enum str_kind kind, const char ***out, size_t *n)
{
	char	 path[PATH_MAX_LEN], epath[PATH_MAX_LEN + 24], want[200];
	json_t	*v, *e;
	size_t	 i, size;

	if (lookup(d, obj, parent, key, 0, &v) == 0)
		return 0;
	path_join(path, parent, key);
	snprintf(want, sizeof want, "an array of at most %d strings",
	    ARRAY_MAX);
	if (!json_is_array(v) || (size = json_array_size(v)) > ARRAY_MAX)
		return bad_value(d, path, v, want);
	if (size == 0)
		return 1;
	*out = xcalloc(size, sizeof(**out));
	json_array_foreach(v, i, e) {
		snprintf(epath, sizeof epath, "%s[%zu]", path, i);
		if (!json_is_string(e) ||
		    !str_ok(json_string_value(e), json_string_length(e), kind))
			return bad_value(d, epath, e, str_want(kind));
		(*out)[(*n)++] = json_string_value(e);
	}
	return 1;
}

/* Check an indicator id against the loaded catalogue. */
static int
check_indicator(struct dctx *d, const char *id, const char *path)
{
	const struct decode_opts *o = d->opts;

	if (o == NULL || o->indicator_known == NULL ||
	    o->indicator_known(id, o->arg))
		return 0;
	ev_err_set(d->err, EVERR_UNKNOWN_INDICATOR, path,
	    "indicator \"%s\" is not defined by the loaded rules; check its "
	    "spelling against the indicator catalogue", id);
	return -1;
}

/* Read the "indicators" array: well-formed ids the rules define. */
static int
decode_indicators(struct dctx *d, json_t *root)
{
	struct mevent	*ev = d->ev;
	char		 path[48];
	size_t		 i;

	if (get_strarr(d, root, NULL, "indicators", STR_INDICATOR,
	    &ev->indicators, &ev->nindicators) == -1)
		return -1;
	for (i = 0; i < ev->nindicators; i++) {
		snprintf(path, sizeof path, "indicators[%zu]", i);
		if (check_indicator(d, ev->indicators[i], path) == -1)
			return -1;
	}
	return 0;
}

/* Read indicator.recorded's single "indicator" as a one-entry array. */
static int
decode_indicator(struct dctx *d, json_t *root)
{
	struct mevent	*ev = d->ev;
	const char	*id = NULL;

	if (get_str(d, root, NULL, "indicator", STR_INDICATOR, 1, &id) == -1)
		return -1;
	ev->indicators = xcalloc(1, sizeof(*ev->indicators));
	ev->indicators[0] = id;
	ev->nindicators = 1;
	return check_indicator(d, id, "indicator");
}

/* Read child.dob: a real date, not after the event. */
static int
decode_dob(struct dctx *d, json_t *child)
{
	struct ev_child	*c = &d->ev->child;
	json_t		*v;

	if ((v = json_object_get(child, "dob")) == NULL)
		return 0;
	if (!json_is_string(v))
		return bad_value(d, "child.dob", v,
		    "a date written YYYY-MM-DD, e.g. \"2011-03-02\"");
	if (time_parse_date(json_string_value(v), &c->dob_days) == -1)
		return bad_value(d, "child.dob", v,
		    "a real date written YYYY-MM-DD, e.g. \"2011-03-02\"");
	if ((int64_t)c->dob_days * 86400000 > d->ev->at_ms + DOB_SLACK_MS) {
		ev_err_set(d->err, EVERR_BAD_FIELD, "child.dob",
		    "child.dob is after the event time in at; check the date "
		    "of birth");
		return -1;
	}
	c->dob = json_string_value(v);
	return 0;
}

/* Read the "child" object. */
static int
decode_child(struct dctx *d, json_t *root, int required)
{
	struct ev_child	*c = &d->ev->child;
	json_t		*v;
	int		 r;

	if ((r = lookup(d, root, NULL, "child", required, &v)) <= 0)
		return r;
	if (!json_is_object(v))
		return bad_value(d, "child", v,
		    "an object with at least an id, "
		    "e.g. {\"id\": \"C-481516\"}");
	if (get_str(d, v, "child", "id", STR_ID, 1, &c->id) == -1 ||
	    decode_dob(d, v) == -1 ||
	    get_bool(d, v, "child", "looked_after", &c->looked_after) == -1 ||
	    get_bool(d, v, "child", "cp_plan", &c->cp_plan) == -1 ||
	    get_str(d, v, "child", "area", STR_NAME, 0, &c->area) == -1)
		return -1;
	if ((r = get_strarr(d, v, "child", "flags", STR_NAME, &c->flags,
	    &c->nflags)) == -1)
		return -1;
	c->has_flags = r;
	return 0;
}

/* Is s a uprn: 1-12 ASCII digits? */
static int
uprn_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > UPRN_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Is s a plausible postcode: 1-16 bytes of letters, digits and spaces? */
static int
postcode_ok(const char *s, size_t len)
{
	size_t	 i, alnum = 0;

	if (len > POSTCODE_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (is_alnum((unsigned char)s[i]))
			alnum++;
		else if (s[i] != ' ')
			return 0;
	}
	return alnum > 0;
}

/* Is s an address: 1-512 bytes, no control characters but whitespace? */
static int
address_ok(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0 || len > ADDRESS_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * Fold an address for the location key into out (strlen(s) + 1 bytes):
 * ASCII lower case; apostrophes (', `, U+2018, U+2019) dropped so "John's"
 * and "Johns" agree; other ASCII punctuation and whitespace become a
 * separator, so "1,12 High St." is "1 12 high st"; runs of separators
 * collapse to one space, none at either end.  Other UTF-8 is kept as is.
 */
static void
fold_address(const char *s, char *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*o = out;
	int			 gap = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\'' || *p == '`')
			continue;
		if (p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0x98 || p[2] == 0x99)) {
			p += 2;
			continue;
		}
		if (*p < 0x80 && !is_alnum(*p)) {
			gap = o != out;
			continue;
		}
		if (gap)
			*o++ = ' ';
		gap = 0;
		*o++ = (*p >= 'A' && *p <= 'Z') ? *p + ('a' - 'A') : *p;
	}
	*o = '\0';
}

/* Fold a postcode for the location key: no spaces, upper case. */
static void
fold_postcode(const char *s, char *out)
{
	for (; *s != '\0'; s++)
		if (*s != ' ')
			*out++ = (*s >= 'a' && *s <= 'z') ? *s - ('a' - 'A') :
			    *s;
	*out = '\0';
}

/* Read a location's uprn, postcode and address, checking their form. */
static int
location_parts(struct dctx *d, json_t *obj, const char *name,
    struct ev_location *loc)
{
	char	 path[PATH_MAX_LEN];
	json_t	*v;

	if ((v = json_object_get(obj, "uprn")) != NULL) {
		if (!json_is_string(v) ||
		    !uprn_ok(json_string_value(v), json_string_length(v)))
			return bad_value(d, path_join(path, name, "uprn"), v,
			    "a string of 1 to 12 digits (a string, not a "
			    "number)");
		loc->uprn = json_string_value(v);
	}
	if ((v = json_object_get(obj, "postcode")) != NULL) {
		if (!json_is_string(v) || !postcode_ok(json_string_value(v),
		    json_string_length(v)))
			return bad_value(d, path_join(path, name, "postcode"),
			    v, "a postcode such as \"CR0 1AA\"");
		loc->postcode = json_string_value(v);
	}
	if ((v = json_object_get(obj, "address")) != NULL) {
		if (!json_is_string(v) ||
		    !address_ok(json_string_value(v), json_string_length(v)))
			return bad_value(d, path_join(path, name, "address"),
			    v, "a string of 1 to 512 bytes without control "
			    "characters, such as \"12 High St\"");
		loc->address = json_string_value(v);
	}
	return 0;
}

/* Build the location key: "uprn:<digits>" or "addr:<postcode>|<address>". */
static int
location_key(struct dctx *d, const char *name, struct ev_location *loc)
{
	const char	*u;
	char		*pc, *addr, path[PATH_MAX_LEN];

	if (loc->uprn != NULL) {
		for (u = loc->uprn; u[0] == '0' && u[1] != '\0'; u++)
			;
		xasprintf(&loc->key, "uprn:%s", u);
		return 0;
	}
	if (loc->postcode == NULL && loc->address == NULL) {
		ev_err_set(d->err, EVERR_BAD_FIELD, name, "a location needs a "
		    "uprn, or a postcode and/or an address");
		return -1;
	}
	pc = xstrdup(loc->postcode != NULL ? loc->postcode : "");
	addr = xstrdup(loc->address != NULL ? loc->address : "");
	fold_postcode(pc, pc);
	fold_address(addr, addr);
	if (loc->address != NULL && addr[0] == '\0') {
		free(pc);
		free(addr);
		path_join(path, name, "address");
		ev_err_set(d->err, EVERR_BAD_FIELD, path, "%s must contain "
		    "letters or digits, such as \"12 High St\"", path);
		return -1;
	}
	xasprintf(&loc->key, "addr:%s|%s", pc, addr);
	free(pc);
	free(addr);
	return 0;
}

/* Read the location object called name; *out is the object when present. */
static int
decode_location(struct dctx *d, json_t *root, const char *name,
    int required, struct ev_location *loc, json_t **out)
{
	json_t	*v;
	int	 r;

	if ((r = lookup(d, root, NULL, name, required, &v)) <= 0)
		return r;
	if (!json_is_object(v))
		return bad_value(d, name, v, "an object with a uprn, or a "
		    "postcode and/or an address");
	if (location_parts(d, v, name, loc) == -1 ||
	    get_str(d, v, name, "area", STR_NAME, 0, &loc->area) == -1 ||
	    location_key(d, name, loc) == -1)
		return -1;
	if (out != NULL)
		*out = v;
	return 1;
}

/* Read episode.found's "found": a location plus "with" and "out_of_area". */
static int
decode_found(struct dctx *d, json_t *root)
{
	struct mevent	*ev = d->ev;
	json_t		*f = NULL;

	if (decode_location(d, root, "found", 1, &ev->found, &f) == -1)
		return -1;
	if (get_strarr(d, f, "found", "with", STR_NAME, &ev->with,
	    &ev->nwith) == -1 ||
	    get_bool(d, f, "found", "out_of_area", &ev->out_of_area) == -1)
		return -1;
	return 0;
}

/* Read "id" first, so that every later error can carry it. */
static int
decode_id(struct dctx *d, json_t *root)
{
	json_t	*v;

	if ((v = json_object_get(root, "id")) == NULL) {
		ev_err_set(d->err, EVERR_MISSING_FIELD, "id", "id is missing; "
		    "every event needs a unique id, which makes resends safe");
		return -1;
	}
	if (!json_is_string(v) ||
	    !str_ok(json_string_value(v), json_string_length(v), STR_ID))
		return bad_value(d, "id", v, str_want(STR_ID));
	d->ev->id = json_string_value(v);
	d->err->has_id = 1;
	memcpy(d->err->id, d->ev->id, json_string_length(v) + 1);
	return 0;
}

/* Read "type" and look it up. */
static int
decode_type(struct dctx *d, json_t *root)
{
	char		 buf[ECHO_MAX];
	const char	*s;
	json_t		*v;
	size_t		 i;

	if ((v = json_object_get(root, "type")) == NULL) {
		ev_err_set(d->err, EVERR_MISSING_FIELD, "type", "type is "
		    "missing; give the event type, e.g. \"episode.reported\"");
		return -1;
	}
	if (!json_is_string(v))
		return bad_value(d, "type", v,
		    "a string such as \"episode.reported\"");
	s = json_string_value(v);
	for (i = 0; i < EVT__COUNT; i++) {
		if (strcmp(s, type_specs[i].name) == 0) {
			d->ev->type = (enum event_type)i;
			return 0;
		}
	}
	ev_err_set(d->err, EVERR_UNKNOWN_TYPE, "type", "unknown event type "
	    "\"%s\"; use episode.reported, episode.updated, episode.found, "
	    "episode.closed, interview.completed, indicator.recorded, "
	    "plan.recorded, location.flagged or location.cleared",
	    echo(s, buf, sizeof buf));
	return -1;
}

/* Read the envelope: id, v, type, at and source. */
static int
decode_envelope(struct dctx *d, json_t *root)
{
	struct mevent	*ev = d->ev;
	json_t		*v;

	if (decode_id(d, root) == -1)
		return -1;
	if ((v = json_object_get(root, "v")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) != 1)) {
		ev_err_set(d->err, EVERR_BAD_FIELD, "v", "this daemon speaks "
		    "contract version 1; send \"v\": 1 or leave v out");
		return -1;
	}
	if (decode_type(d, root) == -1)
		return -1;
	if ((v = json_object_get(root, "at")) == NULL) {
		ev_err_set(d->err, EVERR_MISSING_FIELD, "at", "at is missing; "
		    "give the time of the event, "
		    "e.g. \"2026-11-21T22:10:00Z\"");
		return -1;
	}
	if (!json_is_string(v) ||
	    time_parse_rfc3339(json_string_value(v), &ev->at_ms) == -1)
		return bad_value(d, "at", v, "an RFC 3339 time with an offset, "
		    "e.g. \"2026-11-21T22:10:00Z\" or "
		    "\"2026-11-21T23:10:00+01:00\"");
	ev->at = json_string_value(v);
	return get_str(d, root, NULL, "source", STR_NAME, 0, &ev->source);
}

/* Read the enumerated fields the type uses. */
static int
decode_enums(struct dctx *d, json_t *root, const struct type_spec *t)
{
	struct mevent	*ev = d->ev;
	int		 i;

	if (t->reads & F_CATEGORY) {
		i = CAT_UNSET;
		if (get_enum(d, root, "category", category_names,
		    NELEM(category_names), t->needs & F_CATEGORY, &i) == -1)
			return -1;
		ev->category = (enum category)i;
	}
	if (t->reads & F_RISK) {
		i = RISK_UNSET;
		if (get_enum(d, root, "risk", risk_names, NELEM(risk_names), 0,
		    &i) == -1)
			return -1;
		ev->risk = (enum risk)i;
	}
	if (t->reads & F_KIND) {
		i = INTERVIEW_UNSET;
		if (get_enum(d, root, "kind", kind_names, NELEM(kind_names), 1,
		    &i) == -1)
			return -1;
		ev->kind = (enum interview_kind)i;
	}
	if (t->reads & F_PLAN) {
		i = PLAN_UNSET;
		if (get_enum(d, root, "plan", plan_names, NELEM(plan_names), 1,
		    &i) == -1)
			return -1;
		ev->plan = (enum plan_kind)i;
	}
	return 0;
}

/* Read the places the type uses: last_seen, found, location. */
static int
decode_places(struct dctx *d, json_t *root, const struct type_spec *t)
{
	struct mevent	*ev = d->ev;

	if ((t->reads & F_LAST_SEEN) && decode_location(d, root, "last_seen",
	    0, &ev->last_seen, NULL) == -1)
		return -1;
	if ((t->reads & F_FOUND) && decode_found(d, root) == -1)
		return -1;
	if ((t->reads & F_LOCATION) && decode_location(d, root, "location",
	    1, &ev->location, NULL) == -1)
		return -1;
	return 0;
}

/* Read the fields of the event's type (contract section 2's table). */
static int
decode_body(struct dctx *d, json_t *root)
{
	const struct type_spec	*t = &type_specs[d->ev->type];
	struct mevent		*ev = d->ev;

	if ((t->reads & F_EPISODE) && get_str(d, root, NULL, "episode",
	    STR_ID, t->needs & F_EPISODE, &ev->episode) == -1)
		return -1;
	if ((t->reads & F_CHILD) &&
	    decode_child(d, root, t->needs & F_CHILD) == -1)
		return -1;
	if (ev->type == EVT_INTERVIEW_COMPLETED && ev->episode == NULL &&
	    ev->child.id == NULL) {
		ev_err_set(d->err, EVERR_MISSING_FIELD, "child",
		    "give the child, or the episode it followed");
		return -1;
	}
	if (decode_enums(d, root, t) == -1 || decode_places(d, root, t) == -1)
		return -1;
	if ((t->reads & F_INDICATORS) && decode_indicators(d, root) == -1)
		return -1;
	if ((t->reads & F_INDICATOR) && decode_indicator(d, root) == -1)
		return -1;
	if ((t->reads & F_REASON) && get_str(d, root, NULL, "reason",
	    STR_NAME, 1, &ev->reason) == -1)
		return -1;
	if ((t->reads & F_NOTE) && get_str(d, root, NULL, "note", STR_TEXT,
	    0, &ev->note) == -1)
		return -1;
	if ((t->reads & F_OUTCOME) && get_str(d, root, NULL, "outcome",
	    STR_TEXT, 0, &ev->outcome) == -1)
		return -1;
	return 0;
}

/*
 * The line as received, stored as the event's body.  Resends are compared
 * on what it means (store.c), not on its text, so it need not be
 * re-serialised here: a sorted dump cost a twentieth of an event.
 */
static char *
body_text(const char *line, size_t len)
{
	char	*s;

	s = xmalloc(len + 1);
	memcpy(s, line, len);
	s[len] = '\0';
	return s;
}

/* Parse the line with jansson; NULL with bad_json set on failure. */
static json_t *
parse_line(const char *line, size_t len, struct ev_err *err)
{
	json_error_t	 jerr;
	json_t		*root;
	char		 buf[160];

	if (len == 0) {
		ev_err_set(err, EVERR_BAD_JSON, "", "the line is empty; send "
		    "one JSON object per line");
		return NULL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (root == NULL) {
		ev_err_set(err, EVERR_BAD_JSON, "", "not valid JSON at column "
		    "%d: %s; send one JSON object per line", jerr.column,
		    echo(jerr.text, buf, sizeof buf));
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ev_err_set(err, EVERR_BAD_JSON, "",
		    "an event must be a JSON object");
		return NULL;
	}
	return root;
}

/* A fresh event owning root, every optional field "not given". */
static struct mevent *
event_new(json_t *root)
{
	struct mevent	*ev;

	ev = xcalloc(1, sizeof(*ev));
	ev->root = root;
	ev->v = 1;
	ev->child.looked_after = TRI_UNSET;
	ev->child.cp_plan = TRI_UNSET;
	ev->category = CAT_UNSET;
	ev->risk = RISK_UNSET;
	ev->out_of_area = TRI_UNSET;
	ev->kind = INTERVIEW_UNSET;
	ev->plan = PLAN_UNSET;
	return ev;
}

/* Name of an item of names[n], or NULL when unset or out of range. */
static const char *
name_of(const char *const *names, size_t n, int i)
{
	if (i < 0 || (size_t)i >= n)
		return NULL;
	return names[i];
}

/* The wire name of an event type. */
const char *
event_type_name(enum event_type t)
{
	if ((int)t < 0 || t >= EVT__COUNT)
		return "unknown";
	return type_specs[t].name;
}

/* The wire names of the enumerations; NULL when unset. */
const char *
category_name(enum category c)
{
	return name_of(category_names, NELEM(category_names), c);
}

const char *
risk_name(enum risk r)
{
	return name_of(risk_names, NELEM(risk_names), r);
}

const char *
interview_kind_name(enum interview_kind k)
{
	return name_of(kind_names, NELEM(kind_names), k);
}

const char *
plan_kind_name(enum plan_kind p)
{
	return name_of(plan_names, NELEM(plan_names), p);
}

/* The wire name of an error code: "none" for EVERR_NONE. */
const char *
ev_error_name(enum ev_error e)
{
	if ((int)e < 0 || e >= EVERR__COUNT)
		return "unknown";
	return error_names[e];
}

/*
 * Set the code, field and message of err (has_id and id are left alone).
 * A message cut short by the buffer never ends in half a UTF-8 character.
 */
void
ev_err_set(struct ev_err *err, enum ev_error code, const char *field,
    const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	err->code = code;
	snprintf(err->field, sizeof err->field, "%s",
	    field != NULL ? field : "");
	err->message[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	utf8_trim(err->field);
	utf8_trim(err->message);
}

/* Free an event and everything it owns; NULL is fine. */
void
mevent_free(struct mevent *ev)
{
	if (ev == NULL)
		return;
	free(ev->child.flags);
	free(ev->with);
	free(ev->indicators);
	free(ev->last_seen.key);
	free(ev->found.key);
	free(ev->location.key);
	free(ev->body);
	json_decref(ev->root);
	free(ev);
}

/* Decode and validate one line (see decode.h). */
struct mevent *
decode_event(const char *line, size_t len, const struct decode_opts *opts,
    struct ev_err *err)
{
	struct ev_err	 scratch;
	struct dctx	 d;
	json_t		*root;

	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (line == NULL)
		len = 0;
	if ((root = parse_line(line, len, err)) == NULL)
		return NULL;
	d.ev = event_new(root);
	d.err = err;
	d.opts = opts;
	if (decode_envelope(&d, root) == -1 || decode_body(&d, root) == -1) {
		mevent_free(d.ev);
		return NULL;
	}
	d.ev->body = body_text(line, len);
	return d.ev;
}
