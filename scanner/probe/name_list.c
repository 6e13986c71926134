/* The opt-out names of a blocklist (see name_list.h): a sorted array of
 * lower-case names, searched for each parent domain of a name in turn. */
#include "probe/name_list.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct name_list {
  char **names;
  size_t count, capacity;
  bool sorted;
};

struct name_list *name_list_new(void) {
  return calloc(1, sizeof(struct name_list));
}

void name_list_free(struct name_list *list) {
  if (list == NULL) return;
  for (size_t i = 0; i < list->count; i++) free(list->names[i]);
  free(list->names);
  free(list);
}

size_t name_list_count(const struct name_list *list) {
  return list->count;
}

bool name_list_is_name(const char *text) {
  size_t len = strlen(text);
  if (len > 0 && text[len - 1] == '.') len--;
  if (len == 0 || len > NAME_LIST_MAX_NAME_BYTES || text[0] == '.') return false;
  bool letter = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (isalpha(c)) letter = true;
    else if (c == '.' && text[i + 1] == '.') return false;
    else if (!isdigit(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return letter;
}

static void lower_copy(char *out, const char *name, size_t len) {
  for (size_t i = 0; i < len; i++) out[i] = (char)tolower((unsigned char)name[i]);
  out[len] = '\0';
}

int name_list_add(struct name_list *list, const char *name) {
  if (!name_list_is_name(name)) return -1;
  size_t len = strlen(name);
  if (name[len - 1] == '.') len--;
  if (list->count == list->capacity) {
    size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
    char **names = realloc(list->names, capacity * sizeof *names);
    if (names == NULL) return -1;
    list->names = names;
    list->capacity = capacity;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) return -1;
  lower_copy(copy, name, len);
  list->names[list->count++] = copy;
  list->sorted = false;
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *name_list_covering(struct name_list *list, const char *name) {
  if (list->count == 0) return NULL;
  if (!list->sorted) {
    qsort(list->names, list->count, sizeof *list->names, compare_names);
    list->sorted = true;
  }
  size_t len = strlen(name);
  if (len > 0 && name[len - 1] == '.') len--;
  if (len == 0 || len > NAME_LIST_MAX_NAME_BYTES) return NULL;
  char lower[NAME_LIST_MAX_NAME_BYTES + 1];
  lower_copy(lower, name, len);
  for (const char *suffix = lower; suffix != NULL;) {
    char **found = bsearch(&suffix, list->names, list->count, sizeof *list->names, compare_names);
    if (found != NULL) return *found;
    suffix = strchr(suffix, '.');
    if (suffix != NULL) suffix++;
  }
  return NULL;
}
