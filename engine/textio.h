/* textio.h -- textFile input splitting and line reading, saveAsTextFile part
 * files: plain, gzip (.gz) and zstd (.zst).
 *
 * Ownership: eng_text_splits() hands back an owned array (and owned paths in
 *   it), freed with eng_text_splits_free(). A line reader and a text writer
 *   are owned by their caller until eng_line_reader_close() or
 *   eng_text_writer_close(), which free them. The line views a reader returns
 *   live in the reader's buffer and stay valid only until the next call.
 * Thread-safety: the functions keep no shared state; a reader or a writer
 *   belongs to one thread at a time. eng__textio_set_buffer_size() is a test
 *   hook and must not race with open calls.
 * Errors: functions return 0 (or a count) on success and ENG_EIO with an
 *   "IOError: ..." message naming the path on any file system, read, write or
 *   decompression failure; ENG_ENOMEM with "MemoryError: ..." when memory
 *   runs out. A reader or writer that failed keeps failing with the same
 *   error.
 *
 * Splitting and reading follow Hadoop's FileInputFormat.getSplits and
 * LineRecordReader (the old mapred API that Spark's textFile uses), so that
 * each line of a file is read by exactly one split, and so that partition
 * counts match Spark's for the same inputs and minPartitions.
 */
#ifndef ENG_TEXTIO_H
#define ENG_TEXTIO_H

#include <stddef.h>
#include <stdint.h>
#include "eng_types.h"

typedef enum { ENG_CODEC_NONE = 0, ENG_CODEC_GZIP = 1, ENG_CODEC_ZSTD = 2 } eng_codec;

typedef struct eng_text_split {
  char *path;      /* owned */
  int64_t start;   /* byte offset of the split in the file */
  int64_t len;     /* bytes; for compressed files the whole file, start 0 */
  int64_t file_size;
  eng_codec codec; /* from the file name suffix */
} eng_text_split;

/* Expands `spec` into input splits, Spark/Hadoop style.
 *
 * `spec` is a comma-separated list of paths (a comma inside {...} belongs to
 * a glob pattern, as in Hadoop). Each element is a file, a directory (its
 * regular files, not recursive; subdirectories are skipped), or a glob(3)
 * pattern with GLOB_BRACE, whose matching directories expand to their files.
 * Names starting with '_' or '.' are skipped in directories and in pattern
 * matches (Hadoop's hidden-file filter); a file named literally is taken as
 * is. A "file:" URI prefix is accepted. Files are ordered by path within each
 * element; elements keep the order given.
 *
 * Compressed files (.gz, .zst) get one split each. Plain files are split as
 * Hadoop does: goalSize = (sum of plain file sizes) / max(min_partitions, 1),
 * splitSize = max(1, min(goalSize, 32 MiB)); per file, splits of splitSize
 * while the remainder is more than 1.1 splitSizes, then one for the rest. An
 * empty file gives one empty split.
 *
 * Errors: "IOError: Input path does not exist: <path>" when an element names
 * nothing; "IOError: cannot read <path>: <reason>" for an unreadable file or
 * directory. On error *out is NULL and *out_n 0. */
ENG_API int eng_text_splits(const char *spec, int min_partitions, eng_text_split **out,
                            int *out_n, eng_err *err);
/* NULL-safe. */
ENG_API void eng_text_splits_free(eng_text_split *splits, int n);

/* Reads the lines a split owns, with Hadoop LineRecordReader semantics: a
 * split with start > 0 first skips everything through the first line
 * terminator at or after `start`; then it returns every line that starts at
 * an offset <= start + len. Terminators are "\n", "\r\n" and a lone "\r"; they
 * are not part of the line. A last line without a terminator is returned; a
 * file ending in a terminator has no trailing empty line. A UTF-8 byte order
 * mark at the start of a file is dropped (Hadoop does this too).
 *
 * Compressed splits are read whole, with streaming decompression; gzip files
 * may hold several members and zstd files several frames. */
typedef struct eng_line_reader eng_line_reader;

/* Opens the split's file and positions it on the first line the split owns.
 * Returns NULL and fills err on failure. */
ENG_API eng_line_reader *eng_line_reader_open(const eng_text_split *split, eng_err *err);
/* Returns 1 and a view of the next line (valid until the next call), 0 at the
 * end of the split, or ENG_EIO / ENG_ENOMEM with err. Lines of any length are
 * supported; the view is not NUL-terminated. */
ENG_API int eng_line_reader_next(eng_line_reader *r, const char **out_line, long *out_len,
                                 eng_err *err);
/* NULL-safe. */
ENG_API void eng_line_reader_close(eng_line_reader *r);

/* Writes one part file: exactly `path`, created or truncated, through the
 * codec (gzip level 6, zstd level 3 with a content checksum). The caller runs
 * the commit protocol (temporary names, renames). */
typedef struct eng_text_writer eng_text_writer;

/* Returns NULL and fills err when the file cannot be created. */
ENG_API eng_text_writer *eng_text_writer_open(const char *path, eng_codec codec, eng_err *err);
/* Appends raw bytes (the caller writes the "\n" terminators). */
ENG_API int eng_text_writer_write(eng_text_writer *w, const char *p, size_t n, eng_err *err);
/* Flushes, finishes the compressed stream and closes the file. Frees w even
 * on error. NULL-safe (returns 0). */
ENG_API int eng_text_writer_close(eng_text_writer *w, eng_err *err);

/* The codec for a name given by a user: NULL, "" or "none" -> NONE; "gzip" or
 * "gz" -> GZIP; "zstd" or "zst" -> ZSTD; anything else -> -1. */
ENG_API int eng_codec_parse(const char *name);
/* The file name suffix of a codec: ".gz", ".zst" or "". */
ENG_API const char *eng_codec_suffix(eng_codec c);

/* Test hook: the initial line buffer size (and compressed input buffer size)
 * of readers opened from now on; 0 restores the default (1 MiB). Tiny sizes
 * exercise the refill paths. */
void eng__textio_set_buffer_size(size_t n);

#endif
