/* Table-driven key-file reading (keyfile.h). */
#include "keyfile.h"

#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *kf_label(const kf_file *f)
{
    return f->what ? f->what : "memory";
}

int kf_fail(const kf_file *f, cs_error *err, cs_status st, const char *group, const char *key,
            const char *fmt, ...)
{
    char reason[CS_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    int line = group ? kf_line(f, group, key) : 0;
    char where[64] = "";
    if (line > 0) snprintf(where, sizeof where, ":%d", line);
    if (key)
        cs_fail(err, st, "%s%s: %s: %s", kf_label(f), where, key, reason);
    else if (group)
        cs_fail(err, st, "%s%s: [%s]: %s", kf_label(f), where, group, reason);
    else
        cs_fail(err, st, "%s%s: %s", kf_label(f), where, reason);
    return -1;
}

static int fail_line(const kf_file *f, cs_error *err, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_line(const kf_file *f, cs_error *err, int line, const char *fmt, ...)
{
    char reason[CS_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    cs_fail(err, CS_ERR_PARSE, "%s:%d: %s", kf_label(f), line, reason);
    return -1;
}

const char *kf_join(const char *const *names, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

char *kf_resolve(const char *dir, const char *name)
{
    if (!dir || g_path_is_absolute(name)) return g_strdup(name);
    return g_build_filename(dir, name, NULL);
}

static const kf_group *find_group(const kf_group *groups, const char *name)
{
    for (int i = 0; groups[i].name; i++)
        if (strcmp(groups[i].name, name) == 0) return &groups[i];
    return NULL;
}

static int known_key(const kf_group *g, const char *key)
{
    for (int i = 0; g->keys[i]; i++)
        if (strcmp(g->keys[i], key) == 0) return 1;
    return 0;
}

static int group_names(const kf_group *groups, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; groups[i].name && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s[%s]", i ? ", " : "", groups[i].name);
    return 0;
}

/* The line scan: groups, keys, syntax, unknown and duplicate names. */
static int scan(kf_file *f, const char *text, size_t len, const kf_group *groups, cs_error *err)
{
    int cap = 0, line = 0;
    const char *p = text, *end = text + len;
    const kf_group *cur = NULL;
    char *cur_name = NULL;
    char allowed[CS_ERROR_LEN / 2];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t')) s++;
        const char *e = le;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        p = nl ? nl + 1 : end;
        if (s == e || *s == '#') continue;
        if (memchr(s, '\0', (size_t)(e - s)))
            return fail_line(f, err, line, "a NUL byte: not a text file");
        char *group = NULL, *key = NULL;
        if (*s == '[') {
            if (e[-1] != ']' || e - s < 3)
                return fail_line(f, err, line, "'%.*s' is not a [group] header", (int)(e - s), s);
            group = g_strndup(s + 1, (size_t)(e - s - 2));
            if (!(cur = find_group(groups, group))) {
                group_names(groups, allowed, sizeof allowed);
                fail_line(f, err, line, "unknown group [%s] (allowed: %s)", group, allowed);
                g_free(group);
                return -1;
            }
            if (kf_line(f, group, NULL)) {
                fail_line(f, err, line, "[%s] appears twice (first on line %d)", group,
                          kf_line(f, group, NULL));
                g_free(group);
                return -1;
            }
            cur_name = group;
        } else {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            if (!eq)
                return fail_line(f, err, line,
                                 "'%.*s' is not key = value, a [group] or a # comment",
                                 (int)(e - s), s);
            const char *ke = eq;
            while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
            if (ke == s) return fail_line(f, err, line, "a value without a key");
            if (!cur) return fail_line(f, err, line, "a key before the first [group]");
            key = g_strndup(s, (size_t)(ke - s));
            if (!known_key(cur, key)) {
                kf_join(cur->keys, allowed, sizeof allowed);
                fail_line(f, err, line, "%s: unknown key in [%s] (allowed: %s)", key, cur->name,
                          allowed);
                g_free(key);
                return -1;
            }
            if (kf_line(f, cur_name, key)) {
                fail_line(f, err, line, "%s: given twice (first on line %d)", key,
                          kf_line(f, cur_name, key));
                g_free(key);
                return -1;
            }
            group = g_strdup(cur_name);
        }
        if (f->n_ent == cap) {
            cap = cap ? 2 * cap : 32;
            f->ent = g_renew(kf_entry, f->ent, (size_t)cap);
        }
        f->ent[f->n_ent++] = (kf_entry){group, key, line};
    }
    return 0;
}

int kf_open(kf_file *f, const char *text, size_t len, const char *path, const kf_group *groups,
            const char *const *required, cs_error *err)
{
    memset(f, 0, sizeof *f);
    f->what = path;
    if (path) f->dir = g_path_get_dirname(path);
    if (scan(f, text, len, groups, err)) return -1;
    for (int i = 0; required && required[i]; i++)
        if (!kf_line(f, required[i], NULL))
            return kf_fail(f, err, CS_ERR_PARSE, NULL, NULL, "no [%s] group", required[i]);
    f->kf = g_key_file_new();
    GError *ge = NULL;
    if (!g_key_file_load_from_data(f->kf, text, len, G_KEY_FILE_NONE, &ge)) {
        kf_fail(f, err, CS_ERR_PARSE, NULL, NULL, "%s", ge->message);
        g_error_free(ge);
        return -1;
    }
    return 0;
}

void kf_close(kf_file *f)
{
    for (int i = 0; i < f->n_ent; i++) {
        g_free(f->ent[i].group);
        g_free(f->ent[i].key);
    }
    g_free(f->ent);
    g_free(f->dir);
    if (f->kf) g_key_file_free(f->kf);
    memset(f, 0, sizeof *f);
}

int kf_line(const kf_file *f, const char *group, const char *key)
{
    for (int i = 0; i < f->n_ent; i++) {
        const kf_entry *e = &f->ent[i];
        if (strcmp(e->group, group) != 0) continue;
        if (!key ? !e->key : e->key && strcmp(e->key, key) == 0) return e->line;
    }
    return 0;
}

int kf_has(const kf_file *f, const char *group, const char *key)
{
    return kf_line(f, group, key) > 0;
}

int kf_string(const kf_file *f, const char *group, const char *key, char **out, cs_error *err)
{
    if (!kf_has(f, group, key)) return 0;
    GError *ge = NULL;
    char *v = g_key_file_get_string(f->kf, group, key, &ge);
    if (!v) {
        kf_fail(f, err, CS_ERR_PARSE, group, key, "%s", ge ? ge->message : "unreadable value");
        if (ge) g_error_free(ge);
        return -1;
    }
    g_strstrip(v);
    if (!*v) {
        g_free(v);
        return kf_fail(f, err, CS_ERR_PARSE, group, key, "empty value");
    }
    g_free(*out);
    *out = v;
    return 1;
}

int kf_path(const kf_file *f, const char *group, const char *key, char **out, cs_error *err)
{
    char *v = NULL;
    int r = kf_string(f, group, key, &v, err);
    if (r <= 0) return r;
    g_free(*out);
    *out = kf_resolve(f->dir, v);
    g_free(v);
    return 1;
}

int kf_enum(const kf_file *f, const char *group, const char *key, const char *const *names,
            int *out, cs_error *err)
{
    char *v = NULL;
    int r = kf_string(f, group, key, &v, err);
    if (r <= 0) return r;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0) {
            *out = i;
            g_free(v);
            return 1;
        }
    char allowed[CS_ERROR_LEN / 2];
    kf_fail(f, err, CS_ERR_PARSE, group, key, "'%s' is not one of %s", v,
            kf_join(names, allowed, sizeof allowed));
    g_free(v);
    return -1;
}

int kf_int(const kf_file *f, const char *group, const char *key, long long lo, long long hi,
           long long *out, cs_error *err)
{
    char *v = NULL;
    int r = kf_string(f, group, key, &v, err);
    if (r <= 0) return r;
    char *end;
    gint64 x = g_ascii_strtoll(v, &end, 10);
    if (end == v || *end || x < lo || x > hi) {
        kf_fail(f, err, CS_ERR_PARSE, group, key, "'%s' is not an integer in [%lld, %lld]", v, lo,
                hi);
        g_free(v);
        return -1;
    }
    g_free(v);
    *out = x;
    return 1;
}

int kf_float(const kf_file *f, const char *group, const char *key, double *out, cs_error *err)
{
    char *v = NULL;
    int r = kf_string(f, group, key, &v, err);
    if (r <= 0) return r;
    char *end;
    double x = g_ascii_strtod(v, &end);
    if (end == v || *end || !isfinite(x)) {
        kf_fail(f, err, CS_ERR_PARSE, group, key, "'%s' is not a finite number", v);
        g_free(v);
        return -1;
    }
    g_free(v);
    *out = x;
    return 1;
}

static int is_sep(char c)
{
    return c == ',' || c == ';' || c == ' ' || c == '\t';
}

int kf_floats(const kf_file *f, const char *group, const char *key, int n, float **out, int *count,
              cs_error *err)
{
    char *v = NULL;
    int r = kf_string(f, group, key, &v, err);
    if (r <= 0) return r;
    int cap = 16, k = 0;
    float *x = g_new(float, (size_t)cap);
    const char *p = v;
    while (*p) {
        while (is_sep(*p)) p++;
        if (!*p) break;
        char *end;
        double d = g_ascii_strtod(p, &end);
        if (end == p || !isfinite(d) || (*end && !is_sep(*end)) || fabs(d) > 3.4e38) {
            const char *e = p;
            while (*e && !is_sep(*e)) e++;
            kf_fail(f, err, CS_ERR_PARSE, group, key, "number %d ('%.*s') is not a finite number",
                    k + 1, (int)(e - p), p);
            g_free(x);
            g_free(v);
            return -1;
        }
        if (k == cap) x = g_renew(float, x, (size_t)(cap *= 2));
        x[k++] = (float)d;
        p = end;
    }
    g_free(v);
    if ((n > 0 && k != n) || k == 0) {
        if (n > 0)
            kf_fail(f, err, CS_ERR_PARSE, group, key, "%d numbers, %d expected", k, n);
        else
            kf_fail(f, err, CS_ERR_PARSE, group, key, "no numbers");
        g_free(x);
        return -1;
    }
    g_free(*out);
    *out = x;
    if (count) *count = k;
    return 1;
}

int kf_strings(const kf_file *f, const char *group, const char *key, char ***out, int *count,
               cs_error *err)
{
    if (!kf_has(f, group, key)) return 0;
    gsize n = 0;
    GError *ge = NULL;
    char **v = g_key_file_get_string_list(f->kf, group, key, &n, &ge);
    if (!v) {
        kf_fail(f, err, CS_ERR_PARSE, group, key, "%s", ge ? ge->message : "unreadable list");
        if (ge) g_error_free(ge);
        return -1;
    }
    for (gsize i = 0; i < n; i++) {
        g_strstrip(v[i]);
        if (!*v[i]) {
            kf_fail(f, err, CS_ERR_PARSE, group, key, "item %zu of the ';'-separated list is empty",
                    (size_t)i + 1);
            g_strfreev(v);
            return -1;
        }
    }
    if (n == 0) {
        g_strfreev(v);
        return kf_fail(f, err, CS_ERR_PARSE, group, key, "empty list");
    }
    g_strfreev(*out);
    *out = v;
    *count = (int)n;
    return 1;
}

char *kf_read_file(const char *path, size_t *len, cs_error *err)
{
    char *text = NULL;
    gsize n = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, &n, &ge)) {
        cs_fail(err, CS_ERR_IO, "%s: %s", path, ge->message);
        g_error_free(ge);
        return NULL;
    }
    *len = n;
    return text;
}
