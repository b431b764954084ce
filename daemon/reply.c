/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reply lines (contract section 3), built as jansson objects and dumped
 * compact, so every reply is valid JSON whatever the id or message holds.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reply.h"
#include "xmalloc.h"

/* Dump obj compactly and release it; out of memory is fatal. */
static char *
reply_dump(json_t *obj)
{
	char	*s;

	if (obj == NULL)
		fatalx("reply", "out of memory building a reply");
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (s == NULL)
		fatalx("reply", "out of memory dumping a reply");
	return s;
}

/* {"ok": true, "id": ..., "seq": ..., "alerts": [...], ...} */
char *
reply_ok(const char *id, int64_t seq, int duplicate, json_t *alerts,
    json_t *brief)
{
	json_t	*o;

	o = json_object();
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "seq", json_integer(seq));
	if (alerts != NULL)
		json_object_set(o, "alerts", alerts);
	else
		json_object_set_new(o, "alerts", json_array());
	if (duplicate)
		json_object_set_new(o, "duplicate", json_true());
	if (brief != NULL)
		json_object_set(o, "brief", brief);
	return reply_dump(o);
}

/* {"ok": false, "id": ..., "error": ..., "field": ..., "message": ...} */
char *
reply_error(const struct ev_err *err)
{
	json_t	*o;

	o = json_object();
	json_object_set_new(o, "ok", json_false());
	if (err->has_id)
		json_object_set_new(o, "id", json_stringn(err->id,
		    strnlen(err->id, sizeof err->id)));
	else
		json_object_set_new(o, "id", json_null());
	json_object_set_new(o, "error",
	    json_string(ev_error_name(err->code)));
	if (err->field[0] != '\0')
		json_object_set_new(o, "field", json_string(err->field));
	json_object_set_new(o, "message", json_string(err->message));
	return reply_dump(o);
}
