/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Regression replay for the libFuzzer targets, without libFuzzer: linked
 * with one target's LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize when
 * it has one), it runs the target once on every regular file of its
 * corpus, tests/fuzz/corpus/<target>/ (REPLAY_CORPUS_DIR and
 * REPLAY_TARGET, set by Makefile.am), or on the files and directories
 * named as arguments.  So every seed and every crash kept in a corpus is
 * run by "make check" in the normal build and under ASan in the
 * sanitizer build; a crash fails the test as the crash it is.
 *
 *     tests/fuzz/replay_http                     # the whole corpus
 *     tests/fuzz/replay_http crash-<sha1>        # one input
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Read path whole; NULL on error (said). */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	FILE	*f;
	uint8_t	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	/* an exact-size copy, so ASan sees a read past the input's end */
	if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Run the target on one file.  0, or -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	uint8_t	*buf;
	size_t	 len;

	if ((buf = replay_read(path, &len)) == NULL)
		return -1;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* qsort: names in byte order, so runs are in a stable order. */
static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the target on every regular file of dir.  Files run, or -1. */
static int
replay_dir(const char *dir)
{
	DIR		*dp;
	struct dirent	*de;
	struct stat	 sb;
	char		**names = NULL, path[4096];
	size_t		 n = 0, i;
	int		 done = 0;

	if ((dp = opendir(dir)) == NULL) {
		perror(dir);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (names = realloc(names, (n + 1) * sizeof *names)) == NULL ||
		    (names[n] = strdup(de->d_name)) == NULL)
			continue;
		n++;
	}
	closedir(dp);
	qsort(names, n, sizeof *names, replay_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (replay_file(path) == -1)
				done = -1;
			else if (done >= 0)
				done++;
		}
		free(names[i]);
	}
	free(names);
	return done;
}

/* Run the target on a file, or on the files of a directory. */
static int
replay_path(const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1) {
		perror(path);
		return -1;
	}
	return S_ISDIR(sb.st_mode) ? replay_dir(path) :
	    (replay_file(path) == 0 ? 1 : -1);
}

int
main(int argc, char **argv)
{
	const char	*dflt = REPLAY_CORPUS_DIR "/" REPLAY_TARGET;
	int		 i, n, total = 0, failed = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		if ((total = replay_path(dflt)) <= 0) {
			fprintf(stderr, "replay %s: no input in %s\n",
			    REPLAY_TARGET, dflt);
			return 1;
		}
	}
	for (i = 1; i < argc; i++) {
		if ((n = replay_path(argv[i])) < 0)
			failed = 1;
		else
			total += n;
	}
	printf("replay %s: %d input%s, no crash\n", REPLAY_TARGET, total,
	    total == 1 ? "" : "s");
	return failed;
}
