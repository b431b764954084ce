/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for config.c: the built-in defaults, every key decoded, every
 * kind of error with its exact line:column, all errors reported at once,
 * file reading, and the corpus in tests/conf/good and tests/conf/bad (each
 * bad file names its expected error on a first line "# expect: L:C: text").
 */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access.h"
#include "config.h"
#include "corpus.h"
#include "log.h"

#define NAME	"t.yaml"

/* Parse text as a file called NAME. */
static struct config *
load(const char *text, char **cause)
{
	return config_load_buffer(NAME, text, strlen(text), cause);
}

/* corpus_text_fn for this loader. */
static int
load_text(const char *name, const char *text, char **cause)
{
	struct config	*v;

	if ((v = config_load_buffer(name, text, strlen(text), cause)) == NULL)
		return -1;
	config_free(v);
	return 0;
}

/* Assert text is refused with an error "NAME:where: ...msg...". */
static void
expect_error(const char *text, const char *where, const char *msg)
{
	corpus_expect_refused(load_text, NAME, text, where, msg);
}

/* Assert text loads, and return the config. */
static struct config *
expect_ok(const char *text)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = load(text, &cause);
	ck_assert_msg(conf != NULL, "refused: %s", cause);
	ck_assert_ptr_null(cause);
	return conf;
}

/* Assert conf holds the built-in defaults. */
static void
assert_defaults(const struct config *conf)
{
	ck_assert_str_eq(conf->unix_path, CONFIG_DEFAULT_UNIX);
	ck_assert_uint_eq(conf->unix_mode, 0660);
	ck_assert_ptr_null(conf->unix_group);
	ck_assert_uint_eq(conf->ntcp, 1);
	ck_assert_str_eq(conf->tcp[0], CONFIG_DEFAULT_TCP);
	ck_assert_str_eq(conf->database, CONFIG_DEFAULT_DB);
	ck_assert_str_eq(conf->rules, CONFIG_DEFAULT_RULES);
	ck_assert_str_eq(conf->log_level, "info");
	ck_assert_uint_eq(conf->max_line_bytes, 65536);
	ck_assert_uint_eq(conf->max_connections, 256);
	ck_assert_int_eq(conf->idle_timeout_ms, 300000);
	ck_assert_uint_eq(conf->max_output_bytes, 1048576);
	ck_assert_int_eq(conf->shutdown_grace_ms, 5000);
	ck_assert_str_eq(conf->http_unix_path, CONFIG_DEFAULT_HTTP_UNIX);
	ck_assert_str_eq(conf->http_unix_path, "misperd-api.sock");
	ck_assert_uint_eq(conf->http_unix_mode, 0660);
	ck_assert_uint_eq(conf->http_ntcp, 1);
	ck_assert_str_eq(conf->http_tcp[0], "127.0.0.1:7472");
	ck_assert_uint_eq(conf->http_max_body_bytes, 65536);
	ck_assert_uint_eq(conf->http_max_header_bytes, 16384);
	ck_assert_int_eq(conf->http_timeout_ms, 30000);
	ck_assert_int_eq(conf->tcp_tls[0], 0);
	ck_assert_int_eq(conf->http_tcp_tls[0], 0);
	ck_assert_ptr_null(conf->sub_unix_group);
	ck_assert_ptr_null(conf->http_unix_group);
	ck_assert_ptr_null(conf->tls_cert);
	ck_assert_ptr_null(conf->tls_key);
	ck_assert_ptr_null(conf->tls_ca);
	ck_assert_str_eq(conf->tls_min_version, "1.2");
	ck_assert_int_eq(conf->tls_insecure, 0);
	ck_assert_str_eq(conf->access_local, "all");
	ck_assert_ptr_nonnull(conf->access);
	ck_assert_uint_eq(conf->access->nclients, 0);
	/* local peers hold every role by default */
	ck_assert(access_has(access_local(conf->access, conf->access_local),
	    ACCESS_ALL));
	/* seven years: see config_retention in config.c */
	ck_assert_int_eq(conf->retention_period_ms, 2557LL * 86400 * 1000);
	ck_assert_str_eq(conf->retention_purge_at, "03:00");
	ck_assert_uint_eq(conf->retention_batch_rows, 1000);
}

/* Write text to a new file in a temporary directory; caller frees. */
static char *
write_temp(const char *text, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	char		*path;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	ck_assert_int_ne(asprintf(&path, "%s/check_config.XXXXXX", dir), -1);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_default)
{
	struct config	*conf = config_default();

	assert_defaults(conf);
	ck_assert_ptr_null(conf->path);
	config_free(conf);
}
END_TEST

START_TEST(test_free_null)
{
	config_free(NULL);
}
END_TEST

START_TEST(test_empty_file)
{
	struct config	*conf = expect_ok("");

	assert_defaults(conf);
	ck_assert_str_eq(conf->path, NAME);
	config_free(conf);
}
END_TEST

START_TEST(test_comments_only)
{
	struct config	*conf = expect_ok("# nothing here\n\n   # at all\n");

	assert_defaults(conf);
	config_free(conf);
}
END_TEST

START_TEST(test_empty_document)
{
	struct config	*conf;

	conf = expect_ok("---\n");
	assert_defaults(conf);
	config_free(conf);
	conf = expect_ok("--- ~\n...\n");
	assert_defaults(conf);
	config_free(conf);
}
END_TEST

START_TEST(test_null_sections)
{
	struct config	*conf = expect_ok("listen:\nlimits: ~\n");

	assert_defaults(conf);
	config_free(conf);
}
END_TEST

START_TEST(test_full)
{
	struct config	*conf;

	conf = expect_ok(
	    "listen:\n"
	    "  unix: /run/misperd/misperd.sock\n"
	    "  unix_mode: \"0640\"\n"
	    "  unix_group: misper\n"
	    "  tcp: [\"0.0.0.0:7000\", \"[::1]:7001\",\n"
	    "        \"intake.example:7002\"]\n"
	    "database: /var/lib/misperd/misperd.db\n"
	    "rules: /etc/misperd/rules.yaml\n"
	    "log_level: debug\n"
	    "limits:\n"
	    "  max_line_bytes: 128k\n"
	    "  max_connections: 1000\n"
	    "  idle_timeout: 2m\n"
	    "  max_output_bytes: 4M\n"
	    "  shutdown_grace: 1500ms\n"
	    "tls:\n"
	    "  cert: s.crt\n"
	    "  key: s.key\n"
	    "  ca: ca.crt\n");
	ck_assert_str_eq(conf->unix_path, "/run/misperd/misperd.sock");
	ck_assert_uint_eq(conf->unix_mode, 0640);
	ck_assert_str_eq(conf->unix_group, "misper");
	ck_assert_uint_eq(conf->ntcp, 3);
	ck_assert_str_eq(conf->tcp[0], "0.0.0.0:7000");
	ck_assert_str_eq(conf->tcp[1], "[::1]:7001");
	ck_assert_str_eq(conf->tcp[2], "intake.example:7002");
	/* off the loopback, TLS because it is configured; loopback plain */
	ck_assert_int_eq(conf->tcp_tls[0], 1);
	ck_assert_int_eq(conf->tcp_tls[1], 0);
	ck_assert_int_eq(conf->tcp_tls[2], 1);
	ck_assert_str_eq(conf->tls_cert, "s.crt");
	ck_assert_str_eq(conf->tls_key, "s.key");
	ck_assert_str_eq(conf->tls_ca, "ca.crt");
	ck_assert_str_eq(conf->tls_min_version, "1.2");
	ck_assert_int_eq(conf->tls_insecure, 0);
	ck_assert_str_eq(conf->database, "/var/lib/misperd/misperd.db");
	ck_assert_str_eq(conf->rules, "/etc/misperd/rules.yaml");
	ck_assert_str_eq(conf->log_level, "debug");
	ck_assert_uint_eq(conf->max_line_bytes, 128 * 1024);
	ck_assert_uint_eq(conf->max_connections, 1000);
	ck_assert_int_eq(conf->idle_timeout_ms, 120000);
	ck_assert_uint_eq(conf->max_output_bytes, 4 * 1024 * 1024);
	ck_assert_int_eq(conf->shutdown_grace_ms, 1500);
	config_free(conf);
}
END_TEST

START_TEST(test_unix_off)
{
	struct config	*conf;

	conf = expect_ok("listen:\n  unix: \"\"\n");
	ck_assert_ptr_null(conf->unix_path);
	ck_assert_uint_eq(conf->ntcp, 1);
	config_free(conf);
	conf = expect_ok("listen:\n  unix: ~\n  unix_group: \"\"\n");
	ck_assert_ptr_null(conf->unix_path);
	ck_assert_ptr_null(conf->unix_group);
	config_free(conf);
	/* a final '$' is allowed, as useradd allows it */
	conf = expect_ok("listen:\n  unix_group: misper-ops$\n");
	ck_assert_str_eq(conf->unix_group, "misper-ops$");
	config_free(conf);
}
END_TEST

START_TEST(test_tcp_forms)
{
	struct config	*conf;

	conf = expect_ok("listen:\n  tcp: localhost:7470\n");
	ck_assert_uint_eq(conf->ntcp, 1);
	ck_assert_str_eq(conf->tcp[0], "localhost:7470");
	config_free(conf);
	conf = expect_ok("listen:\n  tcp: []\n");
	ck_assert_uint_eq(conf->ntcp, 0);
	ck_assert_ptr_null(conf->tcp);
	config_free(conf);
	conf = expect_ok("listen:\n  tcp:\n    - \"[::]:1\"\n"
	    "    - 10.0.0.1:65535\n"
	    "tls: {insecure_plaintext_nonloopback: true}\n");
	ck_assert_uint_eq(conf->ntcp, 2);
	ck_assert_str_eq(conf->tcp[0], "[::]:1");
	ck_assert_str_eq(conf->tcp[1], "10.0.0.1:65535");
	ck_assert_int_eq(conf->tcp_tls[0], 0);
	ck_assert_int_eq(conf->tcp_tls[1], 0);
	ck_assert_int_eq(conf->tls_insecure, 1);
	config_free(conf);
}
END_TEST

START_TEST(test_mode_forms)
{
	struct config	*conf;

	conf = expect_ok("listen:\n  unix_mode: 0600\n");
	ck_assert_uint_eq(conf->unix_mode, 0600);
	config_free(conf);
	conf = expect_ok("listen:\n  unix_mode: 770\n");
	ck_assert_uint_eq(conf->unix_mode, 0770);
	config_free(conf);
	conf = expect_ok("listen:\n  unix_mode: '0660'\n");
	ck_assert_uint_eq(conf->unix_mode, 0660);
	config_free(conf);
}
END_TEST

START_TEST(test_size_forms)
{
	struct config	*conf;

	conf = expect_ok("limits:\n  max_line_bytes: 16m\n"
	    "  max_output_bytes: 1G\n");
	ck_assert_uint_eq(conf->max_line_bytes, 16 * 1024 * 1024);
	ck_assert_uint_eq(conf->max_output_bytes, 1024 * 1024 * 1024);
	config_free(conf);
	conf = expect_ok("limits:\n  max_line_bytes: 256\n"
	    "  max_output_bytes: 4K\n");
	ck_assert_uint_eq(conf->max_line_bytes, 256);
	ck_assert_uint_eq(conf->max_output_bytes, 4096);
	config_free(conf);
}
END_TEST

START_TEST(test_duration_forms)
{
	struct config	*conf;

	conf = expect_ok("limits:\n  idle_timeout: 0\n  shutdown_grace: 30\n");
	ck_assert_int_eq(conf->idle_timeout_ms, 0);
	ck_assert_int_eq(conf->shutdown_grace_ms, 30000);
	config_free(conf);
	conf = expect_ok("limits:\n  idle_timeout: 1w\n  shutdown_grace: 1h\n");
	ck_assert_int_eq(conf->idle_timeout_ms, 7LL * 24 * 3600 * 1000);
	ck_assert_int_eq(conf->shutdown_grace_ms, 3600 * 1000);
	config_free(conf);
}
END_TEST

START_TEST(test_flow_style)
{
	struct config	*conf;

	conf = expect_ok("{listen: {unix: a.sock, tcp: []}, "
	    "log_level: warn}\n");
	ck_assert_str_eq(conf->unix_path, "a.sock");
	ck_assert_uint_eq(conf->ntcp, 0);
	ck_assert_str_eq(conf->log_level, "warn");
	config_free(conf);
}
END_TEST

START_TEST(test_http_section)
{
	struct config	*conf;

	conf = expect_ok(
	    "http:\n"
	    "  unix: /run/misperd/api.sock\n"
	    "  unix_mode: \"0600\"\n"
	    "  tcp: [\"127.0.0.1:8080\", \"[::1]:8080\"]\n"
	    "  max_body_bytes: 1m\n"
	    "  max_header_bytes: 1k\n"
	    "  timeout: 2m\n");
	ck_assert_str_eq(conf->http_unix_path, "/run/misperd/api.sock");
	ck_assert_uint_eq(conf->http_unix_mode, 0600);
	ck_assert_uint_eq(conf->http_ntcp, 2);
	ck_assert_str_eq(conf->http_tcp[1], "[::1]:8080");
	ck_assert_uint_eq(conf->http_max_body_bytes, 1024 * 1024);
	ck_assert_uint_eq(conf->http_max_header_bytes, 1024);
	ck_assert_int_eq(conf->http_timeout_ms, 120000);
	/* the other sections keep their defaults */
	ck_assert_str_eq(conf->unix_path, CONFIG_DEFAULT_UNIX);
	ck_assert_str_eq(conf->sub_tcp[0], CONFIG_DEFAULT_SUB_TCP);
	config_free(conf);
	/* both off: no API, and that is allowed */
	conf = expect_ok("http:\n  unix: \"\"\n  tcp: []\n");
	ck_assert_ptr_null(conf->http_unix_path);
	ck_assert_uint_eq(conf->http_ntcp, 0);
	config_free(conf);
	conf = expect_ok("http:\n  unix: ~\n  tcp: \"\"\n"
	    "  max_body_bytes: 256\n  max_header_bytes: 1m\n  timeout: 1h\n");
	ck_assert_ptr_null(conf->http_unix_path);
	ck_assert_uint_eq(conf->http_ntcp, 0);
	ck_assert_uint_eq(conf->http_max_body_bytes, 256);
	ck_assert_uint_eq(conf->http_max_header_bytes, 1024 * 1024);
	ck_assert_int_eq(conf->http_timeout_ms, 3600 * 1000);
	config_free(conf);
}
END_TEST

START_TEST(test_retention_section)
{
	struct config	*conf;

	conf = expect_ok(
	    "retention:\n"
	    "  period: 365d\n"
	    "  purge_at: \"23:59\"\n"
	    "  batch_rows: 10\n");
	ck_assert_int_eq(conf->retention_period_ms, 365LL * 86400 * 1000);
	ck_assert_str_eq(conf->retention_purge_at, "23:59");
	ck_assert_uint_eq(conf->retention_batch_rows, 10);
	config_free(conf);
	conf = expect_ok("retention:\n  period: 1d\n  purge_at: \"00:00\"\n"
	    "  batch_rows: 100000\n");
	ck_assert_int_eq(conf->retention_period_ms, 86400 * 1000);
	ck_assert_str_eq(conf->retention_purge_at, "00:00");
	ck_assert_uint_eq(conf->retention_batch_rows, 100000);
	config_free(conf);
	conf = expect_ok("retention:\n  period: 5217w\n");
	ck_assert_int_eq(conf->retention_period_ms, 5217LL * 7 * 86400 * 1000);
	config_free(conf);
}
END_TEST

START_TEST(test_err_retention)
{
	expect_error("retention:\n  period: 23h\n", "2:11",
	    "period must be between 1d and 36525d");
	expect_error("retention:\n  period: 36526d\n", "2:11",
	    "period must be between 1d and 36525d");
	expect_error("retention:\n  period: 7y\n", "2:11",
	    "period '7y' is not a duration");
	expect_error("retention:\n  purge_at: \"24:00\"\n", "2:13",
	    "purge_at '24:00' is not a time of day; write HH:MM in UTC");
	expect_error("retention:\n  purge_at: 3am\n", "2:13",
	    "purge_at '3am' is not a time of day");
	expect_error("retention:\n  purge_at: \"3:00\"\n", "2:13",
	    "purge_at '3:00' is not a time of day");
	expect_error("retention:\n  batch_rows: 9\n", "2:15",
	    "batch_rows must be between 10 and 100000");
	expect_error("retention:\n  perod: 1d\n", "2:3",
	    "unknown key 'perod' under 'retention'; did you mean 'period'?");
}
END_TEST

START_TEST(test_err_http)
{
	expect_error("http:\n  unix_mode: 0666\n", "2:14",
	    "unix_mode 0666 lets every local user connect to the socket and "
	    "use the HTTP API");
	expect_error("http:\n  max_body_bytes: 255\n", "2:19",
	    "max_body_bytes must be between 256 and 16777216");
	expect_error("http:\n  max_body_bytes: 17m\n", "2:19",
	    "max_body_bytes must be between 256 and 16777216");
	expect_error("http:\n  max_header_bytes: 1023\n", "2:21",
	    "max_header_bytes must be between 1024 and 1048576");
	expect_error("http:\n  timeout: 999ms\n", "2:12",
	    "timeout must be between 1s and 1h");
	expect_error("http:\n  timeout: 0\n", "2:12",
	    "timeout must be between 1s and 1h");
	expect_error("http:\n  tcp: [\"127.0.0.1\"]\n", "2:9",
	    "tcp address '127.0.0.1' has no port");
	expect_error("http:\n  tcp: [a:1, a:1]\n", "2:14",
	    "tcp address 'a:1' is listed twice");
	expect_error("http:\n  max_body_byte: 1k\n", "2:3",
	    "unknown key 'max_body_byte' under 'http'; did you mean "
	    "'max_body_bytes'?");
	expect_error("http:\n  max_line_bytes: 1k\n", "2:3",
	    "unknown key 'max_line_bytes' under 'http'; it belongs under "
	    "'limits'");
	expect_error("http:\n  unix: \"/" 
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"\n",
	    "2:9", "the unix socket path is 118 bytes long; the system limit "
	    "is 107");
	expect_error("http: [unix]\n", "1:7",
	    "http must be a mapping of keys, not a list");
}
END_TEST

START_TEST(test_err_syntax)
{
	expect_error("listen:\n  unix: a\n tcp: b\n", "3:2",
	    "YAML syntax error: did not find expected key (while parsing a "
	    "block mapping at line 1, column 1)");
}
END_TEST

START_TEST(test_err_syntax_tab)
{
	expect_error("listen:\n\tunix: a\n", "2:1", "YAML syntax error: found "
	    "character that cannot start any token (while scanning for the "
	    "next token at line 2, column 1)");
}
END_TEST

START_TEST(test_err_reader)
{
	expect_error("database: a\nrules: \xff\n", "2:8",
	    "YAML syntax error: invalid leading UTF-8 octet (#FF)");
}
END_TEST

START_TEST(test_err_unknown_suggest)
{
	expect_error("databse: x.db\n", "1:1", "unknown key 'databse' under "
	    "the top level; did you mean 'database'?");
	expect_error("listen:\n  tpc: x:1\n", "2:3", "unknown key 'tpc' under "
	    "'listen'; did you mean 'tcp'?");
}
END_TEST

START_TEST(test_err_unknown_home)
{
	expect_error("max_connections: 5\n", "1:1", "unknown key "
	    "'max_connections' under the top level; it belongs under 'limits'");
	expect_error("limits:\n  database: x\n", "2:3", "unknown key "
	    "'database' under 'limits'; it belongs at the top level");
}
END_TEST

START_TEST(test_err_unknown_list)
{
	expect_error("colour: red\n", "1:1", "unknown key 'colour' under the "
	    "top level; the keys there are listen, database, rules, "
	    "log_level, limits");
}
END_TEST

START_TEST(test_err_wrong_type)
{
	expect_error("database:\n  a: b\n", "2:3",
	    "database must be a single value, not a mapping");
	expect_error("listen: yes\n", "1:9",
	    "listen must be a mapping of keys, not a single value");
	expect_error("rules: [a, b]\n", "1:8",
	    "rules must be a single value, not a list");
	expect_error("listen:\n  tcp: {a: b}\n", "2:8",
	    "tcp must be an address or a list of addresses, not a mapping");
	expect_error("listen:\n  tcp:\n    - [a]\n", "3:7",
	    "each tcp entry must be an address or a mapping {address, tls}, "
	    "not a list");
}
END_TEST

START_TEST(test_err_not_mapping)
{
	expect_error("- a\n- b\n", "1:1",
	    "the configuration must be a mapping of keys, not a list");
	expect_error("hello\n", "1:1",
	    "the configuration must be a mapping of keys, not a single value");
}
END_TEST

START_TEST(test_err_key_not_scalar)
{
	expect_error("? [a]\n: b\ndatabase: x\n", "1:3",
	    "a key must be a plain name, not a list");
}
END_TEST

START_TEST(test_err_range)
{
	expect_error("limits:\n  max_connections: 0\n", "2:20",
	    "max_connections must be between 1 and 65535");
	expect_error("limits:\n  max_connections: 65536\n", "2:20",
	    "max_connections must be between 1 and 65535");
	expect_error("limits:\n  max_line_bytes: 255\n", "2:19",
	    "max_line_bytes must be between 256 and 16777216");
	expect_error("limits:\n  max_output_bytes: 2g\n", "2:21",
	    "max_output_bytes must be between 4096 and 1073741824");
	expect_error("limits:\n  idle_timeout: 8d\n", "2:17",
	    "idle_timeout must be between 0s and 1w");
	expect_error("limits:\n  shutdown_grace: 61m\n", "2:19",
	    "shutdown_grace must be between 0s and 1h");
}
END_TEST

START_TEST(test_err_number)
{
	expect_error("limits:\n  max_connections: 12x\n", "2:20",
	    "max_connections '12x' is not a whole number");
	expect_error("limits:\n  max_connections: -1\n", "2:20",
	    "max_connections '-1' is not a whole number");
	expect_error("limits:\n  max_connections: +5\n", "2:20",
	    "max_connections '+5' is not a whole number");
	expect_error("limits:\n  max_connections: 99999999999999999999999\n",
	    "2:20", "is not a whole number");
	expect_error("limits:\n  max_connections: \"\"\n", "2:20",
	    "max_connections '' is not a whole number");
	expect_error("limits:\n  max_line_bytes: 64kb\n", "2:19",
	    "max_line_bytes '64kb' is not a size");
	expect_error("limits:\n  max_line_bytes: 99999999999999999999g\n",
	    "2:19", "is not a size");
}
END_TEST

START_TEST(test_err_duration)
{
	expect_error("limits:\n  idle_timeout: 5 minutes\n", "2:17",
	    "idle_timeout '5 minutes' is not a duration");
	expect_error("limits:\n  shutdown_grace: -5s\n", "2:19",
	    "shutdown_grace '-5s' is not a duration");
}
END_TEST

START_TEST(test_err_level)
{
	expect_error("log_level: verbose\n", "1:12",
	    "log_level 'verbose' is not one of error, warn, info, debug");
}
END_TEST

START_TEST(test_err_needs_value)
{
	expect_error("database:\nrules: r\n", "1:10", "database needs a value");
	expect_error("database: \"\"\n", "1:11", "database must not be empty");
}
END_TEST

START_TEST(test_err_duplicate)
{
	expect_error("database: a\nrules: r\ndatabase: b\n", "3:1",
	    "duplicate key 'database'; it was first given at line 1");
}
END_TEST

START_TEST(test_err_anchor_alias)
{
	const char	*text = "database: &d a.db\nrules: *d\n";

	expect_error(text, "1:11", "anchors (&d) are not supported");
	expect_error(text, "2:8", "aliases (*d) are not supported");
}
END_TEST

START_TEST(test_err_tag)
{
	expect_error("database: !!str x\n", "1:11",
	    "YAML tags ('!' and '!!') are not supported");
}
END_TEST

START_TEST(test_err_two_documents)
{
	expect_error("database: a\n---\nrules: b\n", "2:1",
	    "a second YAML document starts here");
}
END_TEST

START_TEST(test_err_mode)
{
	expect_error("listen:\n  unix_mode: 0666\n", "2:14",
	    "unix_mode 0666 lets every local user connect to the socket");
	expect_error("listen:\n  unix_mode: 0500\n", "2:14",
	    "unix_mode must be between 0600 and 0777");
	expect_error("listen:\n  unix_mode: 0689\n", "2:14",
	    "unix_mode '0689' is not an octal mode");
	expect_error("listen:\n  unix_mode: 10660\n", "2:14",
	    "is not an octal mode");
}
END_TEST

START_TEST(test_err_tcp)
{
	static const struct {
		const char	*addr, *msg;
	} bad[] = {
		{ "127.0.0.1", "has no port" },
		{ "[::1]", "has no port" },
		{ "127.0.0.1:65536", "needs a port number from 0 to 65535" },
		{ "host:", "needs a port number from 0 to 65535" },
		{ "host:http", "needs a port number from 0 to 65535" },
		{ ":7470", "has no host; write a loopback address, 127.0.0.1 "
		    "or [::1], before the ':'" },
		{ "::1:7470", "put it in brackets" },
		{ "[::1:7470", "has '[' but no closing ']'" },
		{ "[fe80::zz]:1", "'fe80::zz' is not an IPv6 address" },
		{ "300.1.1.1:1", "'300.1.1.1' is not an IPv4 address" },
		{ "bad_host:1", "'bad_host' is not a valid host name" },
		{ "-x.example:1", "is not a valid host name" },
	};
	char	 text[128];
	size_t	 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "listen:\n  tcp: [\"%s\"]\n",
		    bad[i].addr);
		expect_error(text, "2:9", bad[i].msg);
	}
}
END_TEST

START_TEST(test_err_tcp_entries)
{
	expect_error("listen:\n  tcp: [a:1, b:2, a:1]\n", "2:19",
	    "tcp address 'a:1' is listed twice");
	expect_error("listen:\n  tcp: [a:1, \"\"]\n", "2:14",
	    "an empty tcp entry; write tcp: [] to turn tcp off");
}
END_TEST

START_TEST(test_err_no_listener)
{
	expect_error("database: d\nlisten:\n  unix: \"\"\n  tcp: []\n", "2:1",
	    "no listener: listen.unix and listen.tcp are both turned off");
}
END_TEST

START_TEST(test_err_nul)
{
	expect_error("database: \"a\\0b\"\n", "1:11",
	    "database contains a NUL character");
}
END_TEST

START_TEST(test_err_depth)
{
	char	 text[256];

	memset(text, 0, sizeof text);
	strcpy(text, "x: ");
	memset(text + 3, '[', 40);
	expect_error(text, "1:35", "nesting is deeper than 32 levels");
}
END_TEST

START_TEST(test_err_socket_path)
{
	char	 text[512];

	snprintf(text, sizeof text, "listen:\n  unix: /%0200d\n", 0);
	expect_error(text, "2:9", "the unix socket path is 201 bytes long");
}
END_TEST

START_TEST(test_err_group)
{
	expect_error("listen:\n  unix_group: \"bad group\"\n", "2:15",
	    "unix_group 'bad group' is not a group name");
	expect_error("listen:\n  unix_group: -x\n", "2:15",
	    "unix_group '-x' is not a group name; use up to 32 letters, "
	    "digits, '.', '_' or '-', not starting with '-' (a final '$' is "
	    "allowed)");
	expect_error("listen:\n  unix_group: a$b\n", "2:15",
	    "unix_group 'a$b' is not a group name");
}
END_TEST

START_TEST(test_err_all_reported)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = load("databse: x\n"
	    "limits:\n"
	    "  max_connections: 0\n"
	    "  idle_timeout: soon\n"
	    "log_level: loud\n", &cause);
	ck_assert_ptr_null(conf);
	ck_assert_uint_eq(corpus_count_lines(cause), 4);
	ck_assert(corpus_has_error(cause, NAME ":1:1: ", "'databse'"));
	ck_assert(corpus_has_error(cause, NAME ":3:20: ", "max_connections"));
	ck_assert(corpus_has_error(cause, NAME ":4:17: ", "idle_timeout"));
	ck_assert(corpus_has_error(cause, NAME ":5:12: ", "log_level"));
	ck_assert_ptr_eq(strstr(cause, NAME ":1:1: "), cause);	/* in order */
	free(cause);
}
END_TEST

START_TEST(test_err_then_syntax)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = load("databse: x\nrules: a: b\nlog_level: loud\n", &cause);
	ck_assert_ptr_null(conf);
	ck_assert_uint_eq(corpus_count_lines(cause), 2);
	ck_assert(corpus_has_error(cause, NAME ":1:1: ", "unknown key"));
	ck_assert(corpus_has_error(cause, NAME ":2:9: ", "YAML syntax error: mapping "
	    "values are not allowed in this context"));
	free(cause);
}
END_TEST

START_TEST(test_err_cap)
{
	struct config	*conf;
	char		*cause = NULL, text[2048];
	size_t		 i, len = 0;

	for (i = 0; i < 80; i++)
		len += snprintf(text + len, sizeof text - len, "k%zu: v\n", i);
	conf = load(text, &cause);
	ck_assert_ptr_null(conf);
	ck_assert_uint_eq(corpus_count_lines(cause), 51);
	ck_assert(corpus_has_error(cause, NAME ":50:1: ", "too many errors"));
	free(cause);
}
END_TEST

START_TEST(test_err_no_cause)
{
	ck_assert_ptr_null(config_load_buffer(NAME, "x: 1", 4, NULL));
}
END_TEST

START_TEST(test_err_message_one_line)
{
	expect_error("log_level: \"a\\nb\"\n", "1:12",
	    "log_level 'a?b' is not one of");
}
END_TEST

START_TEST(test_load_file)
{
	struct config	*conf;
	const char	*text = "database: from-file.db\n";
	char		*path, *cause = NULL;

	path = write_temp(text, strlen(text));
	conf = config_load(path, &cause);
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_null(cause);
	ck_assert_str_eq(conf->path, path);
	ck_assert_str_eq(conf->database, "from-file.db");
	config_free(conf);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_error_names_file)
{
	const char	*text = "\nlimits:\n  max_connections: none\n";
	char		*path, *cause = NULL, *want;

	path = write_temp(text, strlen(text));
	ck_assert_ptr_null(config_load(path, &cause));
	ck_assert_int_ne(asprintf(&want, "%s:3:20: max_connections 'none'",
	    path), -1);
	ck_assert_ptr_eq(strstr(cause, want), cause);
	free(want);
	free(cause);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_missing)
{
	char	*cause = NULL;

	ck_assert_ptr_null(config_load("/nonexistent/misperd.yaml", &cause));
	ck_assert_str_eq(cause, "/nonexistent/misperd.yaml: cannot read: "
	    "No such file or directory");
	free(cause);
}
END_TEST

START_TEST(test_load_directory)
{
	char	*cause = NULL;

	ck_assert_ptr_null(config_load(TESTS_SRCDIR, &cause));
	ck_assert_ptr_nonnull(strstr(cause, ": cannot read: Is a directory"));
	free(cause);
}
END_TEST

START_TEST(test_load_too_big)
{
	size_t	 len = 1024 * 1024 + 1;
	char	*text, *path, *cause = NULL;

	text = malloc(len);
	ck_assert_ptr_nonnull(text);
	memset(text, '#', len);
	path = write_temp(text, len);
	ck_assert_ptr_null(config_load(path, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "the file is larger than 1048576 "
	    "bytes"));
	free(cause);
	unlink(path);
	free(path);
	free(text);
}
END_TEST

START_TEST(test_example_is_defaults)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = config_load(TESTS_SRCDIR "/../examples/misperd.yaml", &cause);
	ck_assert_msg(conf != NULL, "%s", cause);
	assert_defaults(conf);
	config_free(conf);
}
END_TEST

/* SHA-256 of "test" and of "other", as token_sha256 values. */
#define HASH_TEST \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HASH_OTHER \
	"D9298A10D1B0735837DC4BD85DAC641B0F3CEF27A47E5D53A54F2F3F5B2FCFFA"

#define TLS_FILES "tls: {cert: s.crt, key: s.key, ca: ca.crt}\n"

START_TEST(test_tls_listeners)
{
	struct config	*conf;

	/* loopback plain unless it says tls: true; non-loopback TLS */
	conf = expect_ok(TLS_FILES "listen:\n  tcp:\n    - 127.0.0.1:1\n"
	    "    - {address: \"127.0.0.1:2\", tls: true}\n"
	    "    - {address: \"[::]:3\"}\n"
	    "    - {address: \"localhost:4\", tls: false}\n"
	    "subscribers:\n  tcp: [{address: 0.0.0.0:5, tls: yes}]\n"
	    "  unix_group: mpu\n"
	    "http:\n  tcp: \"[::1]:6\"\n  unix_group: ops\n");
	ck_assert_uint_eq(conf->ntcp, 4);
	ck_assert_str_eq(conf->tcp[1], "127.0.0.1:2");
	ck_assert_int_eq(conf->tcp_tls[0], 0);
	ck_assert_int_eq(conf->tcp_tls[1], 1);
	ck_assert_int_eq(conf->tcp_tls[2], 1);
	ck_assert_int_eq(conf->tcp_tls[3], 0);
	ck_assert_int_eq(conf->sub_tcp_tls[0], 1);
	ck_assert_int_eq(conf->http_tcp_tls[0], 0);
	ck_assert_str_eq(conf->sub_unix_group, "mpu");
	ck_assert_str_eq(conf->http_unix_group, "ops");
	config_free(conf);

	/* the opt-out: plain off the loopback, even with TLS configured */
	conf = expect_ok("tls: {cert: s.crt, key: s.key, ca: ca.crt, "
	    "insecure_plaintext_nonloopback: true}\n"
	    "listen: {tcp: [{address: 10.0.0.1:1, tls: false}]}\n");
	ck_assert_int_eq(conf->tcp_tls[0], 0);
	config_free(conf);

	/* min_version */
	conf = expect_ok("tls: {min_version: \"1.3\"}\n");
	ck_assert_str_eq(conf->tls_min_version, "1.3");
	config_free(conf);

	ck_assert(config_addr_loopback("127.1.2.3:7"));
	ck_assert(config_addr_loopback("[::1]:7"));
	ck_assert(config_addr_loopback("LocalHost:7"));
	ck_assert(!config_addr_loopback("128.0.0.1:7"));
	ck_assert(!config_addr_loopback("[::]:7"));
	ck_assert(!config_addr_loopback("localhost.example:7"));
	ck_assert(!config_addr_loopback("0.0.0.0:7"));
}
END_TEST

START_TEST(test_err_tls)
{
	/* refused at validation, with the entry's position */
	expect_error("listen:\n  tcp: [\"127.0.0.1:1\", 0.0.0.0:7470]\n",
	    "2:24", "listen.tcp '0.0.0.0:7470' is not a loopback address, and "
	    "data about children must not cross a network in clear: "
	    "configure tls (cert, key and ca: mutual TLS), or, only on a "
	    "network you trust, set tls.insecure_plaintext_nonloopback: true");
	expect_error("http:\n  tcp: 192.0.2.7:80\n", "2:8",
	    "http.tcp '192.0.2.7:80' is not a loopback address");
	expect_error("subscribers:\n  tcp:\n    - {address: \"[::]:1\"}\n",
	    "3:17", "subscribers.tcp '[::]:1' is not a loopback address");
	expect_error(TLS_FILES "listen:\n  tcp:\n    - {address: a.example:1, "
	    "tls: false}\n", "4:17", "listen.tcp 'a.example:1' is not a "
	    "loopback address");
	expect_error("listen:\n  tcp:\n    - {address: 127.0.0.1:1, "
	    "tls: true}\n", "3:17", "listen.tcp '127.0.0.1:1' uses TLS, "
	    "which needs tls.cert, tls.key and tls.ca");
	expect_error("tls:\n  cert: a\n  ca: b\n", "1:1", "tls needs cert, "
	    "key and ca together (every TLS client must present a "
	    "certificate that ca signed); missing: key");
	expect_error("tls:\n  key: a\n", "1:1", "missing: cert, ca");
	expect_error("tls:\n  min_version: 1.1\n", "2:16",
	    "min_version '1.1' is not 1.2 or 1.3");
	expect_error("tls:\n  insecure_plaintext_nonloopback: maybe\n", "2:35",
	    "insecure_plaintext_nonloopback must be true or false, not "
	    "'maybe'");
	expect_error("listen:\n  tcp:\n    - {address: 127.0.0.1:1, tls: 2}\n",
	    "3:35", "tls must be true or false, not '2'");
	expect_error("listen:\n  tcp:\n    - {address: 127.0.0.1:1, tsl: 1}\n",
	    "3:30", "unknown key 'tsl' in a tcp entry; did you mean 'tls'?");
	expect_error("listen:\n  tcp:\n    - {address: 127.0.0.1}\n",
	    "3:17", "tcp address '127.0.0.1' has no port");
	expect_error("tls:\n  crt: a\n", "2:3",
	    "unknown key 'crt' under 'tls'; did you mean 'cert'?");
}
END_TEST

/* A certificate with subject CN cn and a DNS subjectAltName san. */
static X509 *
make_cert(const char *cn, const char *san)
{
	X509		*x;
	X509_EXTENSION	*ext;
	X509V3_CTX	 ctx;
	char		 value[128];

	ck_assert_ptr_nonnull(x = X509_new());
	ck_assert(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1);
	if (san != NULL) {
		snprintf(value, sizeof value, "DNS:%s", san);
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		    value);
		ck_assert_ptr_nonnull(ext);
		ck_assert(X509_add_ext(x, ext, -1) == 1);
		X509_EXTENSION_free(ext);
	}
	return x;
}

START_TEST(test_access)
{
	struct config			*conf;
	const struct access_client	*c;
	X509				*x;
	char				 hex[2 * ACCESS_TOKEN_LEN + 1];

	conf = expect_ok("access:\n  local: ops\n  clients:\n"
	    "    - {name: cad, cert_cn: cad.example, roles: [send]}\n"
	    "    - name: mpu-desk\n      cert_cn: desk\n"
	    "      cert_san: desk.example.org\n"
	    "      roles: [subscribe, ack]\n      routes: [mpu, cse_team]\n"
	    "    - {name: ops, token_sha256: " HASH_TEST ", roles: [read, "
	    "admin]}\n"
	    "    - {name: all-routes, token_sha256: " HASH_OTHER ", roles: "
	    "subscribe, routes: \"*\"}\n");
	ck_assert_uint_eq(conf->access->nclients, 4);

	/* access.local names a client */
	c = access_local(conf->access, conf->access_local);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "ops");
	ck_assert(access_has(c, ACCESS_READ | ACCESS_ADMIN));
	ck_assert(!access_has(c, ACCESS_ACK));
	ck_assert_ptr_null(access_local(conf->access, "none"));
	ck_assert_str_eq(access_local(conf->access, "all")->name, "local");

	/* tokens: by their hash, never otherwise */
	c = access_by_token(conf->access, "test", 4);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "ops");
	c = access_by_token(conf->access, "other", 5);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "all-routes");
	ck_assert_ptr_null(access_by_token(conf->access, "tes", 3));
	ck_assert_ptr_null(access_by_token(conf->access, "test ", 5));
	ck_assert_ptr_null(access_by_token(conf->access, HASH_TEST,
	    strlen(HASH_TEST)));
	access_token_hash_hex("test", 4, hex);
	ck_assert_str_eq(hex, HASH_TEST);

	/* certificates: CN, and CN with SAN both needed when both given */
	x = make_cert("cad.example", NULL);
	c = access_by_cert(conf->access, x);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "cad");
	ck_assert(access_has(c, ACCESS_SEND));
	ck_assert(!access_has(c, ACCESS_READ));
	X509_free(x);
	x = make_cert("desk", "DESK.example.org");
	c = access_by_cert(conf->access, x);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "mpu-desk");
	ck_assert(access_route_ok(c, "mpu"));
	ck_assert(access_route_ok(c, "cse_team"));
	ck_assert(!access_route_ok(c, "social_care"));
	X509_free(x);
	x = make_cert("desk", "other.example.org");
	ck_assert_ptr_null(access_by_cert(conf->access, x));
	X509_free(x);
	x = make_cert("cad.example.evil", NULL);
	ck_assert_ptr_null(access_by_cert(conf->access, x));
	X509_free(x);

	c = access_find(conf->access, "all-routes");
	ck_assert(access_route_ok(c, "anything"));
	ck_assert(!access_route_ok(access_find(conf->access, "cad"), "mpu"));
	config_free(conf);
}
END_TEST

START_TEST(test_err_access)
{
	char	*cause = NULL;

	/* the value of a bad token_sha256 is never quoted: it may be one */
	ck_assert_ptr_null(load("access:\n  clients:\n    - {name: a, "
	    "token_sha256: s3cr3t-token, roles: [read]}\n", &cause));
	ck_assert_ptr_nonnull(strstr(cause, "t.yaml:3:31: token_sha256 must be "
	    "the 64 hex digits of the token's SHA-256"));
	ck_assert_ptr_null(strstr(cause, "s3cr3t"));
	free(cause);

	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, "
	    "roles: [read, raed]}\n", "3:43", "unknown role 'raed'");
	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, "
	    "roles: [subscribe]}\n", "3:7", "client a has the subscribe "
	    "role: list the routes it may subscribe to under routes");
	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, "
	    "roles: [read], routes: [mpu]}\n", "3:52", "client a has routes "
	    "but not the subscribe role");
	expect_error("access:\n  clients:\n    - {name: a, roles: [read]}\n",
	    "3:7", "client a cannot be recognised: give cert_cn, cert_san "
	    "or token_sha256");
	expect_error("access:\n  clients:\n    - {cert_cn: x, roles: [read]}\n",
	    "3:7", "a client needs a name");
	expect_error("access:\n  clients:\n    - {name: local, cert_cn: x, "
	    "roles: [read]}\n", "3:14", "client name 'local' is reserved");
	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, "
	    "roles: [read]}\n    - {name: a, cert_cn: y, roles: [read]}\n",
	    "4:14", "client name 'a' is used twice");
	expect_error("access:\n  clients:\n    - {name: a, token_sha256: "
	    HASH_TEST ", roles: [read]}\n    - {name: b, token_sha256: "
	    HASH_TEST ", roles: [ack]}\n", "4:31", "client b has the same "
	    "token_sha256 as another client");
	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, "
	    "roles: [read], role: x}\n", "3:44", "unknown key 'role' in a "
	    "client; did you mean 'roles'?");
	expect_error("access:\n  clients:\n    - {name: a, cert_cn: x, roles: "
	    "[subscribe], routes: [\"mpu/x\"]}\n", "3:58", "'mpu/x' is not a "
	    "route name");
	expect_error("access:\n  local: bob\n", "2:3", "access.local 'bob' "
	    "is not all, none or the name of a client in access.clients");
	expect_error("access:\n  clients: {name: a}\n", "2:12",
	    "clients must be a list of clients");
	expect_error("access:\n  lokal: all\n", "2:3",
	    "unknown key 'lokal' under 'access'; did you mean 'local'?");
}
END_TEST

/* corpus_load_fn for the config loader. */
static int
load_config(const char *path, char **cause)
{
	struct config	*conf;

	if ((conf = config_load(path, cause)) == NULL)
		return -1;
	config_free(conf);
	return 0;
}

START_TEST(test_corpus_good)
{
	size_t	 bad = 0;

	ck_assert_uint_gt(corpus_check(TESTS_SRCDIR "/conf/good", 1,
	    load_config, &bad), 0);
	ck_assert_msg(bad == 0, "%zu good files refused (see stderr)", bad);
}
END_TEST

START_TEST(test_corpus_bad)
{
	size_t	 bad = 0;

	ck_assert_uint_gt(corpus_check(TESTS_SRCDIR "/conf/bad", 0,
	    load_config, &bad), 0);
	ck_assert_msg(bad == 0, "%zu bad files not refused as expected "
	    "(see stderr)", bad);
}
END_TEST

/* All the tests, by area. */
static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("values");
	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_free_null);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_comments_only);
	tcase_add_test(tc, test_empty_document);
	tcase_add_test(tc, test_null_sections);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_unix_off);
	tcase_add_test(tc, test_tcp_forms);
	tcase_add_test(tc, test_mode_forms);
	tcase_add_test(tc, test_size_forms);
	tcase_add_test(tc, test_duration_forms);
	tcase_add_test(tc, test_flow_style);
	tcase_add_test(tc, test_http_section);
	tcase_add_test(tc, test_tls_listeners);
	tcase_add_test(tc, test_access);
	tcase_add_test(tc, test_retention_section);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_err_syntax);
	tcase_add_test(tc, test_err_syntax_tab);
	tcase_add_test(tc, test_err_reader);
	tcase_add_test(tc, test_err_unknown_suggest);
	tcase_add_test(tc, test_err_unknown_home);
	tcase_add_test(tc, test_err_unknown_list);
	tcase_add_test(tc, test_err_wrong_type);
	tcase_add_test(tc, test_err_not_mapping);
	tcase_add_test(tc, test_err_key_not_scalar);
	tcase_add_test(tc, test_err_range);
	tcase_add_test(tc, test_err_number);
	tcase_add_test(tc, test_err_duration);
	tcase_add_test(tc, test_err_level);
	tcase_add_test(tc, test_err_needs_value);
	tcase_add_test(tc, test_err_duplicate);
	tcase_add_test(tc, test_err_anchor_alias);
	tcase_add_test(tc, test_err_tag);
	tcase_add_test(tc, test_err_two_documents);
	tcase_add_test(tc, test_err_mode);
	tcase_add_test(tc, test_err_http);
	tcase_add_test(tc, test_err_retention);
	tcase_add_test(tc, test_err_tcp);
	tcase_add_test(tc, test_err_tcp_entries);
	tcase_add_test(tc, test_err_no_listener);
	tcase_add_test(tc, test_err_tls);
	tcase_add_test(tc, test_err_access);
	tcase_add_test(tc, test_err_nul);
	tcase_add_test(tc, test_err_depth);
	tcase_add_test(tc, test_err_socket_path);
	tcase_add_test(tc, test_err_group);
	tcase_add_test(tc, test_err_all_reported);
	tcase_add_test(tc, test_err_then_syntax);
	tcase_add_test(tc, test_err_cap);
	tcase_add_test(tc, test_err_no_cause);
	tcase_add_test(tc, test_err_message_one_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_error_names_file);
	tcase_add_test(tc, test_load_missing);
	tcase_add_test(tc, test_load_directory);
	tcase_add_test(tc, test_load_too_big);
	tcase_add_test(tc, test_example_is_defaults);
	tcase_add_test(tc, test_corpus_good);
	tcase_add_test(tc, test_corpus_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(1, LOG_LEVEL_ERROR);
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
