/* The text files danescan reads at run time (schema/migrations/NNN_*.sql,
 * reports/NAME.sql): where their folder is, and reading one whole. They are
 * read at run time so a researcher and the binary read the same text. */
#ifndef DANESCAN_UTIL_DATA_FILES_H
#define DANESCAN_UTIL_DATA_FILES_H

#include <stddef.h>

/* Finds a data folder and writes its path to out. Tries, in order: the
 * environment variable env_var (when set and not empty: it alone decides),
 * <source tree>/source_dir (a CMake build run from its tree), then each
 * <folder of the executable>/exe_dirs[i]. Returns 0, or -1 when none is a
 * folder. */
int data_dir_find(const char *env_var, const char *source_dir, const char *const *exe_dirs, size_t exe_dir_count,
                  char *out, size_t out_len);

/* Reads the whole file at path into a NUL-terminated buffer the caller
 * frees. Returns NULL with why ("PATH: reason") when it cannot be opened or
 * read, or holds more than max_bytes. */
char *data_file_read(const char *path, size_t max_bytes, char *why, size_t why_len);

#endif
