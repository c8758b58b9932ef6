/* Table-driven key-file reading shared by the model description and statistics parsers:
 * GKeyFile parses values; a line scan of our own remembers where each group and key sits so
 * that every error reads `FILE:LINE: key: reason`. */
#ifndef CS_FORMATS_KEYFILE_H
#define CS_FORMATS_KEYFILE_H

#include "camstream/core.h"

#include <glib.h>

/* Allowed keys of one group, NULL-terminated. */
typedef struct kf_group {
    const char *name;
    const char *const *keys;
} kf_group;

typedef struct kf_entry {
    char *group, *key; /* key NULL for a group header */
    int line;
} kf_entry;

typedef struct kf_file {
    const char *what; /* the path (or "memory") for messages */
    char *dir;        /* directory of the file, for relative names; NULL for memory */
    GKeyFile *kf;
    kf_entry *ent;
    int n_ent;
} kf_file;

/* Parses text, checks groups and keys against the table (unknown, duplicate and missing
 * required groups are errors; `required` is a NULL-terminated list of group names, may be
 * NULL). Returns 0 or -1 with err filled. kf_close is safe after a failure. */
int kf_open(kf_file *f, const char *text, size_t len, const char *path, const kf_group *groups,
            const char *const *required, cs_error *err);
void kf_close(kf_file *f);

/* The line of group/key (key NULL: the group header), or 0. */
int kf_line(const kf_file *f, const char *group, const char *key);
int kf_has(const kf_file *f, const char *group, const char *key);
/* "FILE:LINE: key: reason" (LINE omitted when 0). Returns -1. */
int kf_fail(const kf_file *f, cs_error *err, cs_status st, const char *group, const char *key,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Getters: return 1 when the key is present and valid (value stored), 0 when absent (value
 * untouched), -1 on an invalid value (err filled). */
int kf_string(const kf_file *f, const char *group, const char *key, char **out, cs_error *err);
/* A path relative to the file's directory, resolved. */
int kf_path(const kf_file *f, const char *group, const char *key, char **out, cs_error *err);
/* One of names (NULL-terminated); *out = its index. */
int kf_enum(const kf_file *f, const char *group, const char *key, const char *const *names,
            int *out, cs_error *err);
int kf_int(const kf_file *f, const char *group, const char *key, long long lo, long long hi,
           long long *out, cs_error *err);
int kf_float(const kf_file *f, const char *group, const char *key, double *out, cs_error *err);
/* Numbers separated by commas, semicolons or blanks: exactly n (n > 0) or any count (n = 0,
 * *count set); *out is g_malloc'ed. */
int kf_floats(const kf_file *f, const char *group, const char *key, int n, float **out, int *count,
              cs_error *err);
/* A ';'-separated list of non-empty strings (g_strfreev). */
int kf_strings(const kf_file *f, const char *group, const char *key, char ***out, int *count,
               cs_error *err);

/* "a, b, c" from names into buf. */
const char *kf_join(const char *const *names, char *buf, size_t len);
/* Resolves name against dir (NULL: as given). g_free the result. */
char *kf_resolve(const char *dir, const char *name);
/* Reads a whole file for kf_open (g_free the result); NULL with err naming the path. */
char *kf_read_file(const char *path, size_t *len, cs_error *err);

#endif
