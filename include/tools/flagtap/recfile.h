/*
 * recfile: recorded streams.  Writes and reads the `.ftrec` format that
 * `flagtap record` and `flagtap gen` write and `flagtap replay` reads, and
 * reads the line formats replay also accepts (plain text, JSON lines,
 * kcat -J envelopes).  docs/recorded-streams.md is the format's
 * specification; in short:
 *
 *   file    = file-header block* [end-block]        (blocks repeat after
 *                                                     a later append)
 *   header  = "\x89FTREC\r\n" u32le(version=1) u32le(meta_len) meta
 *             (meta: a JSON object, e.g. {"topic":"payments",...})
 *   block   = "FTRB" u32le(clen) u32le(ulen) u32le(count) u32le(crc32)
 *             zlib-stream[clen]           (crc32 of the clen bytes)
 *   end     = a block with clen = ulen = count = 0: the writer closed
 *             the file cleanly
 *   record  = zz(timestamp_ms) u8(tstype) zz(partition) zz(offset)
 *             zz(key_len) key zz(value_len) value
 *             uv(header_count) { uv(name_len) name zz(len) value }*
 *
 * uv is an unsigned LEB128 varint, zz a zigzag-encoded signed varint; a
 * length of -1 means null (no key, null value, null header value).
 *
 * Blocks are written whole with one write(2) each, so a reader that
 * follows a file being recorded sees whole blocks or a short tail it can
 * wait on.  A reader never trusts a block it cannot verify: bad magic,
 * CRC or lengths are errors naming the file and byte offset.
 *
 * Not thread-safe: one writer or reader per thread.
 */
#ifndef FLAGTAP_RECFILE_H
#define FLAGTAP_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_RECFILE_VERSION 1
/* The fixed parts: the file's magic (8 bytes), the header before meta
 * (magic, version, meta_len), a block's magic and its header. */
#define FT_RECFILE_MAGIC \
	"\x89"           \
	"FTREC\r\n"
#define FT_RECFILE_HDR_MIN 16
#define FT_RECFILE_BLOCK_MAGIC "FTRB"
#define FT_RECFILE_BLOCK_HDR 20
/* A block holds at most this many uncompressed bytes (one record may be
 * alone in a block up to this size). */
#define FT_RECFILE_BLOCK_MAX (256u << 20)

enum ft_tstype {
	FT_TS_NONE = 0,
	FT_TS_CREATE = 1,
	FT_TS_LOG_APPEND = 2,
};

struct ft_rec_header {
	const char *name;  /* NUL-terminated */
	const void *value; /* NULL: null header value */
	size_t value_len;
};

/* One record.  Pointers are borrowed (see ft_recr_next()). */
struct ft_rec {
	int64_t timestamp; /* ms since the epoch, -1 unknown */
	int tstype;	   /* enum ft_tstype */
	int32_t partition; /* source partition, -1 unknown */
	int64_t offset;	   /* source offset, -1 unknown */
	const void *key;   /* NULL: no key */
	size_t key_len;
	const void *value; /* NULL: null value */
	size_t value_len;
	const struct ft_rec_header *headers;
	size_t nheaders;
};

/* ---------------------------------------------------------------- writer */

struct ft_recw;

/*
 * Creates path (truncating it), or with append adds to an existing
 * `.ftrec` file (whose header must be valid; a missing file is created).
 * meta_json is the header's JSON object ("{}" when NULL; ignored on
 * append).  Records are buffered and written as a block when the block
 * reaches block_bytes (0: 1 MiB) or on ft_recw_flush().  Returns 0 or
 * FT_EIO/FT_EINVAL/FT_ENOMEM with the reason in errstr.
 */
int ft_recw_open(struct ft_recw **w, const char *path, const char *meta_json,
		 bool append, size_t block_bytes, char *errstr,
		 size_t errstr_size);

/* Adds one record (copied).  0, or FT_EIO/FT_ENOMEM/FT_ELIMIT. */
int ft_recw_add(struct ft_recw *w, const struct ft_rec *r);

/* Writes the buffered records as one block (none: nothing).  0 or FT_EIO. */
int ft_recw_flush(struct ft_recw *w);

/* Records and bytes (uncompressed record bytes) added so far. */
uint64_t ft_recw_count(const struct ft_recw *w);

/*
 * Flushes, writes the end block, fsyncs and closes; frees w (also on
 * error).  0 or FT_EIO with errstr.
 */
int ft_recw_close(struct ft_recw *w, char *errstr, size_t errstr_size);

/* Last I/O error of a writer (after ft_recw_add/flush failed). */
const char *ft_recw_error(const struct ft_recw *w);

/* ---------------------------------------------------------------- reader */

enum ft_rec_input {
	FT_REC_AUTO = 0, /* .ftrec by its magic, else by the first line */
	FT_REC_FTREC,
	FT_REC_TEXT, /* each line is a value */
	FT_REC_JSON, /* each line is a JSON value (checked) */
	FT_REC_KCAT, /* each line is a kcat -J envelope */
};

/* Parses "auto|ftrec|text|json|kcat"; -1 if unknown. */
int ft_rec_input_parse(const char *name);
const char *ft_rec_input_name(enum ft_rec_input in);

struct ft_recr;

/*
 * Opens path ("-": standard input) as `in`.  In AUTO, a file starting with
 * the .ftrec magic is .ftrec; otherwise the first non-empty line decides:
 * a JSON object with "payload" and "partition" members is kcat -J, any
 * other line text.  (JSON lines are replayed exactly like text lines; say
 * FT_REC_JSON to have each line checked.)  Line formats strip a trailing
 * "\n" or "\r\n"; empty lines are skipped.  follow: at the end of an
 * .ftrec file without an end block, wait for the writer (polling) instead
 * of returning the end.  Returns 0 or an FT_E* code with errstr.
 */
int ft_recr_open(struct ft_recr **r, const char *path, enum ft_rec_input in,
		 bool follow, char *errstr, size_t errstr_size);

/* What the input turned out to be (never AUTO after open). */
enum ft_rec_input ft_recr_input(const struct ft_recr *r);

/* The .ftrec header's JSON object ("{}" for line formats). */
const char *ft_recr_meta(const struct ft_recr *r);

/*
 * Reads the next record into out; its pointers stay valid until the next
 * call.  Returns 1 (a record), 0 (the end), or a negative FT_E* code with
 * errstr naming "FILE:LINE" (line formats) or "FILE: byte N" (.ftrec).
 * A line that cannot be read in its format is an error, not skipped.
 */
int ft_recr_next(struct ft_recr *r, struct ft_rec *out, char *errstr,
		 size_t errstr_size);

/* Starts again from the first record (--loop).  Fails on stdin. */
int ft_recr_rewind(struct ft_recr *r, char *errstr, size_t errstr_size);

/* Bytes of the file consumed so far and its size (0 if unknown). */
void ft_recr_progress(const struct ft_recr *r, uint64_t *done, uint64_t *total);

/*
 * Bytes of line text the JSON reader has been given so far (each pass
 * over a line counts the whole line).  Reading a line costs a constant
 * number of passes whatever it holds, so this stays within a small
 * multiple of the bytes read; tests check that.
 */
uint64_t ft_recr_work(const struct ft_recr *r);

void ft_recr_close(struct ft_recr *r);

#endif
