/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * A thin SQLite VFS over the default one that gathers the writes of a
 * commit to the write-ahead log into one pwrite().  SQLite writes each WAL
 * frame as two calls (its 24-byte header, then the page), so a commit of
 * 20 pages costs 40 system calls; here it costs one, issued when SQLite
 * syncs the WAL at the end of the commit.  What reaches the disk, and
 * when it is synced, is unchanged.
 */
#ifndef MISPER_WALBUF_H
#define MISPER_WALBUF_H

/* The VFS's name, for sqlite3_open_v2(). */
#define WALBUF_VFS	"misperd-walbuf"

/*
 * Register the VFS (not as the default) over SQLite's default VFS.  Safe
 * to call more than once.  0, or an SQLite error code.
 */
int	 walbuf_register(void);

#endif
