/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The corpus walker behind the config and rules corpus tests (corpus.h):
 * one place that reads "# expect:" lines and compares errors.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

/* Does one line of cause start with prefix and contain text? */
int
corpus_has_error(const char *cause, const char *prefix, const char *text)
{
	const char	*line = cause, *end;
	char		*copy;
	int		 found = 0;

	while (!found && line != NULL && *line != '\0') {
		end = strchr(line, '\n');
		copy = strndup(line, end != NULL ? (size_t)(end - line) :
		    strlen(line));
		found = strncmp(copy, prefix, strlen(prefix)) == 0 &&
		    strstr(copy, text) != NULL;
		free(copy);
		line = end != NULL ? end + 1 : NULL;
	}
	return found;
}

/* The number of lines of s. */
size_t
corpus_count_lines(const char *s)
{
	size_t	 n = 1;

	for (; *s != '\0'; s++)
		n += (*s == '\n');
	return n;
}

/* Assert text is refused with an error "name:where: ...msg...". */
void
corpus_expect_refused(corpus_text_fn load, const char *name,
    const char *text, const char *where, const char *msg)
{
	char	*cause = NULL, prefix[128];

	ck_assert_msg(load(name, text, &cause) == -1, "accepted: %s", text);
	ck_assert_ptr_nonnull(cause);
	snprintf(prefix, sizeof prefix, "%s:%s: ", name, where);
	ck_assert_msg(corpus_has_error(cause, prefix, msg),
	    "wanted \"%s%s\" in:\n%s", prefix, msg, cause);
	free(cause);
}

/* A good file must load; 0, or 1 with the reason on stderr. */
static int
corpus_good(const char *path, corpus_load_fn load)
{
	char	*cause = NULL;

	if (load(path, &cause) == 0)
		return 0;
	fprintf(stderr, "%s refused:\n%s\n", path, cause);
	free(cause);
	return 1;
}

/* A bad file must fail with the error its first line names. */
static int
corpus_bad(const char *path, corpus_load_fn load)
{
	FILE		*f;
	char		 line[512], prefix[1024], *nl, *cause = NULL;
	unsigned	 l, c;
	int		 off = 0, ok;

	if ((f = fopen(path, "r")) == NULL ||
	    fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	if (f != NULL)
		fclose(f);
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if (sscanf(line, "# expect: %u:%u: %n", &l, &c, &off) != 2 ||
	    off == 0 || line[off] == '\0') {
		fprintf(stderr, "%s: no '# expect: L:C: text' line\n", path);
		return 1;
	}
	if (load(path, &cause) == 0) {
		fprintf(stderr, "%s accepted\n", path);
		return 1;
	}
	snprintf(prefix, sizeof prefix, "%s:%u:%u: ", path, l, c);
	if (!(ok = corpus_has_error(cause, prefix, line + off)))
		fprintf(stderr, "%s: wanted \"%s%s\" in:\n%s\n", path,
		    prefix, line + off, cause);
	free(cause);
	return !ok;
}

/* Check every *.yaml file of dir, in name order. */
size_t
corpus_check(const char *dir, int good, corpus_load_fn load, size_t *bad)
{
	struct dirent	**list;
	char		 *path;
	size_t		  len, count = 0;
	int		  i, n;

	n = scandir(dir, &list, NULL, alphasort);
	ck_assert_msg(n >= 0, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		len = strlen(list[i]->d_name);
		if (len > 5 &&
		    strcmp(list[i]->d_name + len - 5, ".yaml") == 0) {
			ck_assert_int_ne(asprintf(&path, "%s/%s", dir,
			    list[i]->d_name), -1);
			*bad += (good ? corpus_good(path, load) :
			    corpus_bad(path, load)) != 0;
			free(path);
			count++;
		}
		free(list[i]);
	}
	free(list);
	return count;
}
