/* The text files danescan reads at run time (schema/migrations/NNN_*.sql,
 * reports/NAME.sql): where their folder is, and reading one whole. They are
 * read at run time so a researcher and the binary read the same text. The
 * same binary finds them installed (cmake --install, the Debian package:
 * <prefix>/share/danescan/...) and in the source tree it was built from. */
#ifndef DANESCAN_UTIL_DATA_FILES_H
#define DANESCAN_UTIL_DATA_FILES_H

#include <stddef.h>

/* Where one kind of data file lives. */
struct data_dir_spec {
  const char *env_var;    /* overrides all when set and not empty (may be NULL) */
  const char *source_dir; /* in the source tree, e.g. "schema/migrations" */
  const char *share_dir;  /* under share/danescan when installed, e.g. "migrations" */
};

/* Finds a data folder and writes its path to out. Tries, in order:
 *  1. $env_var (when set and not empty it alone decides);
 *  2. <folder of the executable>/../share/danescan/share_dir: an installed
 *     binary, wherever its prefix was moved to;
 *  3. <source tree>/source_dir, from this file's absolute __FILE__: a binary
 *     run from the CMake build of that tree;
 *  4. <folder of the executable>/../../source_dir: a build folder inside the
 *     source tree when __FILE__ was made relative (-ffile-prefix-map);
 *  5. DANESCAN_DATADIR/share_dir, the install prefix compiled in: a binary
 *     copied out of its prefix.
 * An installed binary thus reads its installed files even on a machine that
 * also holds the source tree it was built from, and a build reads its tree.
 * Returns 0, or -1 when none is a folder (out then holds the last path
 * tried). */
int data_dir_find(const struct data_dir_spec *spec, char *out, size_t out_len);

/* Reads the whole file at path into a NUL-terminated buffer the caller
 * frees. Returns NULL with why ("PATH: reason") when it cannot be opened or
 * read, or holds more than max_bytes. */
char *data_file_read(const char *path, size_t max_bytes, char *why, size_t why_len);

#endif
