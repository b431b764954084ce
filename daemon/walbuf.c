/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The write-ahead log, written a commit at a time (include/walbuf.h).
 *
 * A file opened as a WAL keeps the writes SQLite makes to it, while each
 * one continues the last, in a buffer; anything else first writes the
 * buffer out at the offset it was meant for: a sync (the end of every
 * commit under synchronous=FULL, before SQLite publishes the commit in
 * the wal-index, so no other connection can see a frame that is still
 * here), a read, a size, a truncation, a file control, a close, a write
 * elsewhere in the file, or a full buffer.
 *
 * A write-out that fails keeps the buffer: the call that caused it
 * returns the error, and every later call tries the write-out again
 * first, so no sync can succeed while bytes SQLite was told are written
 * are not.  (Dropping them would be wrong: a failed write-out inside a
 * read, say a spilled page read back in a large transaction, fails only
 * that statement, and the transaction could then commit over the hole.)
 * Rewriting frames of a transaction rolled back meanwhile is harmless:
 * they lie past the WAL's last valid frame.  Only a close gives up.
 *
 * Only while the WAL file reports powersafe overwrite, the default: with
 * it off, SQLite pads each commit to a sector boundary and writes the end
 * of the padding after its sync, which this buffer would then hold past
 * the commit's publication.  Such a file is written straight through.
 * (SQLite decides on padding from the database file's characteristics;
 * both come from the same VFS, and misperd never sets psow=0 or
 * SQLITE_FCNTL_POWERSAFE_OVERWRITE on a database.)
 *
 * Under synchronous=OFF (store_set_scratch(): the HTTP fuzz target)
 * commits do not sync, so the buffer may outlive a commit's publication;
 * store_set_scratch() stops the checkpointer, so that only the connection
 * that wrote the frames reads the WAL, and its reads write the buffer out
 * first.  Replay's database has no WAL (store_set_replay()).
 *
 * Every other file (the database, temporary files) and every other call
 * goes straight to the default VFS.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "walbuf.h"

/*
 * Write the buffer out when the next frame would not fit: 31 frames of
 * 4 KiB pages, most commits of a paced load.  The default VFS takes at
 * most 128 KiB a write (its seekAndWriteFd() keeps the low 17 bits of
 * the length): a longer one would be cut short.
 */
#define WALBUF_SIZE	(31 * (4096 + 24))
_Static_assert(WALBUF_SIZE <= 0x1ffff, "the default VFS writes < 128 KiB");

struct walbuf_file {
	sqlite3_file	 base;		/* our methods */
	sqlite3_file	*real;		/* the default VFS's file, below */
	int		 wal;		/* opened as a WAL: buffer its writes */
	unsigned char	*buf;
	int		 len;
	sqlite3_int64	 off;		/* where buf[0] goes in the file */
};

static sqlite3_vfs	*walbuf_root;	/* the default VFS, set once */

/* Write the buffer out; kept on failure, whose error is the caller's. */
static int
walbuf_flush(struct walbuf_file *f)
{
	int	 rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->off);
	if (rc == SQLITE_OK)
		f->len = 0;
	return rc;
}

static int
walbuf_close(sqlite3_file *file)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc, rc2;

	rc = walbuf_flush(f);	/* once: SQLite ignores a close's error */
	rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
walbuf_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 off)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, p, amt, off);
}

static int
walbuf_write(sqlite3_file *file, const void *p, int amt, sqlite3_int64 off)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if (!f->wal || amt > WALBUF_SIZE)
		goto direct;
	if (f->len > 0 && (off != f->off + f->len ||
	    f->len + amt > WALBUF_SIZE)) {
		if ((rc = walbuf_flush(f)) != SQLITE_OK)
			return rc;
	}
	if (f->buf == NULL && (f->buf = malloc(WALBUF_SIZE)) == NULL)
		goto direct;
	if (f->len == 0)
		f->off = off;
	memcpy(f->buf + f->len, p, (size_t)amt);
	f->len += amt;
	return SQLITE_OK;
direct:
	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xWrite(f->real, p, amt, off);
}

static int
walbuf_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
walbuf_sync(sqlite3_file *file, int flags)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int
walbuf_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
walbuf_file_control(sqlite3_file *file, int op, void *arg)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

/* The rest pass through. */

static int
walbuf_lock(sqlite3_file *file, int lock)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int
walbuf_unlock(sqlite3_file *file, int lock)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int
walbuf_check_reserved(sqlite3_file *file, int *out)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
walbuf_sector_size(sqlite3_file *file)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
walbuf_device(sqlite3_file *file)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
walbuf_shm_map(sqlite3_file *file, int pg, int pgsz, int extend,
    void volatile **pp)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int
walbuf_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
walbuf_shm_barrier(sqlite3_file *file)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	f->real->pMethods->xShmBarrier(f->real);
}

static int
walbuf_shm_unmap(sqlite3_file *file, int del)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int
walbuf_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **pp)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFetch(f->real, off, amt, pp);
}

static int
walbuf_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

/* One table per version of sqlite3_io_methods: the real file's decides. */
#define WALBUF_METHODS(v) {						\
	v,								\
	walbuf_close, walbuf_read, walbuf_write, walbuf_truncate,	\
	walbuf_sync, walbuf_file_size, walbuf_lock, walbuf_unlock,	\
	walbuf_check_reserved, walbuf_file_control, walbuf_sector_size,	\
	walbuf_device,							\
	walbuf_shm_map, walbuf_shm_lock, walbuf_shm_barrier,		\
	walbuf_shm_unmap,						\
	walbuf_fetch, walbuf_unfetch,					\
}
static const sqlite3_io_methods walbuf_methods[] = {
	WALBUF_METHODS(1), WALBUF_METHODS(2), WALBUF_METHODS(3)
};

/* The VFS: open wraps, the rest is the default VFS's. */

static int
walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
    int flags, int *out)
{
	struct walbuf_file	*f = (struct walbuf_file *)file;
	int			 rc, v;

	(void)vfs;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	rc = walbuf_root->xOpen(walbuf_root, name, f->real, flags, out);
	if (f->real->pMethods == NULL)
		return rc;	/* nothing open: SQLite calls no method */
	/* the real file's version: SQLite calls no xShm* or xFetch it lacks */
	v = f->real->pMethods->iVersion;
	f->base.pMethods = &walbuf_methods[v < 1 ? 0 : v > 3 ? 2 : v - 1];
	f->wal = (flags & SQLITE_OPEN_WAL) != 0 &&
	    (f->real->pMethods->xDeviceCharacteristics(f->real) &
	    SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
	return rc;
}

static int
walbuf_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return walbuf_root->xDelete(walbuf_root, name, sync);
}

static int
walbuf_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return walbuf_root->xAccess(walbuf_root, name, flags, out);
}

static int
walbuf_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return walbuf_root->xFullPathname(walbuf_root, name, n, out);
}

static void *
walbuf_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return walbuf_root->xDlOpen(walbuf_root, name);
}

static void
walbuf_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	walbuf_root->xDlError(walbuf_root, n, msg);
}

static void (*walbuf_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return walbuf_root->xDlSym(walbuf_root, h, sym);
}

static void
walbuf_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	walbuf_root->xDlClose(walbuf_root, h);
}

static int
walbuf_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return walbuf_root->xRandomness(walbuf_root, n, out);
}

static int
walbuf_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return walbuf_root->xSleep(walbuf_root, us);
}

static int
walbuf_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return walbuf_root->xCurrentTime(walbuf_root, out);
}

static int
walbuf_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return walbuf_root->xGetLastError(walbuf_root, n, out);
}

static int
walbuf_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return walbuf_root->xCurrentTimeInt64(walbuf_root, out);
}

static sqlite3_vfs	 walbuf_vfs;	/* SQLite keeps a pointer to it */
static int		 walbuf_rc = SQLITE_ERROR;

static void
walbuf_register_once(void)
{
	sqlite3_vfs	*root, *vfs = &walbuf_vfs;

	if ((root = sqlite3_vfs_find(NULL)) == NULL || root->iVersion < 2)
		return;
	walbuf_root = root;
	vfs->iVersion = 2;
	vfs->szOsFile = (int)sizeof(struct walbuf_file) + root->szOsFile;
	vfs->mxPathname = root->mxPathname;
	vfs->zName = WALBUF_VFS;
	vfs->xOpen = walbuf_open;
	vfs->xDelete = walbuf_delete;
	vfs->xAccess = walbuf_access;
	vfs->xFullPathname = walbuf_full_pathname;
	vfs->xDlOpen = walbuf_dlopen;
	vfs->xDlError = walbuf_dlerror;
	vfs->xDlSym = walbuf_dlsym;
	vfs->xDlClose = walbuf_dlclose;
	vfs->xRandomness = walbuf_randomness;
	vfs->xSleep = walbuf_sleep;
	vfs->xCurrentTime = walbuf_current_time;
	vfs->xGetLastError = walbuf_last_error;
	vfs->xCurrentTimeInt64 = walbuf_current_time64;
	walbuf_rc = sqlite3_vfs_register(vfs, 0);
}

/* Public functions. */

int
walbuf_register(void)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;

	pthread_once(&once, walbuf_register_once);
	return walbuf_rc;
}
