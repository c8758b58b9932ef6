/* ONNX conformance runner: every case of the ONNX backend test data whose operators camstream
 * claims is loaded, run on each test_data_set_N and compared output by output the way the
 * ONNX backend tests do (|ours - expected| <= atol + rtol * |expected|).
 *
 * usage: conformance DATA_DIR [--known FILE] [--suite NAME]... [--case NAME] [--verbose]
 *
 * A case is "unsupported" when its model uses an operator outside camstream's table; every
 * other case must pass unless FILE lists it with a reason. A listed case that passes is an
 * error too, so the list cannot go stale. */
#include "camstream/core.h"
#include "graph.h"
#include "onnx.pb-c.h"
#include "onnx_tensor.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 16

typedef struct {
    char name[128];
    char reason[256];
    int seen;
} known_entry;

static known_entry *known;
static int n_known;
static double rel_tol = 1e-3, abs_tol = 1e-7;

static int load_known(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "conformance: cannot open %s\n", path);
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || !*s) continue;
        known = realloc(known, sizeof *known * (size_t)(n_known + 1));
        known_entry *k = &known[n_known];
        memset(k, 0, sizeof *k);
        if (sscanf(s, "%127s %255[^\n]", k->name, k->reason) != 2) {
            fprintf(stderr, "%s:%d: expected 'case_name reason'\n", path, lineno);
            fclose(f);
            return -1;
        }
        n_known++;
    }
    fclose(f);
    return 0;
}

static known_entry *find_known(const char *name)
{
    for (int i = 0; i < n_known; i++)
        if (strcmp(known[i].name, name) == 0) return &known[i];
    return NULL;
}

/* NULL when every op is in camstream's table, else the first op that is not. */
static const char *unsupported_op(const char *model_path, char *buf, size_t len)
{
    cs_error err;
    size_t n = 0;
    void *data = cs_read_file(model_path, &n, &err);
    if (!data) return NULL; /* let the loader report it */
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, n, data);
    free(data);
    if (!mp) return NULL;
    const char *res = NULL;
    for (size_t i = 0; mp->graph && i < mp->graph->n_node && !res; i++) {
        const Onnx__NodeProto *np = mp->graph->node[i];
        bool other_domain = np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0;
        if (other_domain || cs_op_lookup(np->op_type) == CS_OP_COUNT) {
            snprintf(buf, len, "%s", np->op_type);
            res = buf;
        }
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return res;
}

static int compare(const cs_tensor *got, const cs_tensor *want, char *why, size_t len)
{
    char a[96], b[96];
    if (got->ndim != want->ndim || got->numel != want->numel) {
        snprintf(why, len, "shape %s, expected %s", cs_shape_str(got, a, sizeof a),
                 cs_shape_str(want, b, sizeof b));
        return -1;
    }
    for (int i = 0; i < got->ndim; i++)
        if (got->dims[i] != want->dims[i]) {
            snprintf(why, len, "shape %s, expected %s", cs_shape_str(got, a, sizeof a),
                     cs_shape_str(want, b, sizeof b));
            return -1;
        }
    if (got->type != want->type) {
        snprintf(why, len, "type %d, expected %d", got->type, want->type);
        return -1;
    }
    for (int64_t i = 0; i < got->numel; i++) {
        double g, w;
        if (got->type == CS_F32) {
            g = ((const float *)got->data)[i];
            w = ((const float *)want->data)[i];
        } else {
            g = (double)((const int64_t *)got->data)[i];
            w = (double)((const int64_t *)want->data)[i];
        }
        bool ok = fabs(g - w) <= abs_tol + rel_tol * fabs(w) || (isnan(g) && isnan(w)) ||
                  (isinf(g) && g == w);
        if (!ok) {
            snprintf(why, len, "element %lld: %.9g, expected %.9g", (long long)i, g, w);
            return -1;
        }
    }
    return 0;
}

/* Runs one test_data_set directory. 0 pass, -1 fail (why filled). */
static int run_set(const cs_model *m, const char *dir, char *why, size_t len)
{
    cs_error err = {0};
    cs_tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0};
    cs_tensor shapes[MAX_IO];
    int n_in = cs_model_n_inputs(m), n_out = cs_model_n_outputs(m), rc = -1;
    char path[4096];
    cs_plan *p = NULL;
    if (n_in > MAX_IO || n_out > MAX_IO) {
        snprintf(why, len, "too many inputs or outputs");
        return -1;
    }
    for (int i = 0; i < n_in; i++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
        if (!(in[i] = cs_tensorproto_read_file(path, &err))) goto out;
        shapes[i] = *in[i];
    }
    for (int i = 0; i < n_out; i++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
        if (!(want[i] = cs_tensorproto_read_file(path, &err))) goto out;
    }
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 2; /* exercise the threaded paths */
    o.input_shapes = shapes;
    o.n_input_shapes = n_in;
    /* Inputs that define shapes (Reshape's shape, Resize's sizes...) must be known when
     * planning: they are bound as constants, as a deployment would. */
    p = cs_plan_new_binding(m, &o, &err);
    if (!p) goto out;
    for (int i = 0; i < n_in; i++)
        if (!(o.const_inputs >> i & 1))
            memcpy(cs_plan_input(p, i)->data, in[i]->data, cs_tensor_bytes(in[i]));
    if (cs_plan_run(p, &err) != CS_OK) goto out;
    rc = 0;
    for (int i = 0; i < n_out && rc == 0; i++) {
        char w[256];
        if (compare(cs_plan_output(p, i), want[i], w, sizeof w) != 0) {
            snprintf(why, len, "output %d: %s", i, w);
            rc = -1;
        }
    }
out:
    if (rc != 0 && err.msg[0]) snprintf(why, len, "%s", err.msg);
    cs_plan_destroy(&p);
    for (int i = 0; i < MAX_IO; i++) {
        cs_tensor_free(&in[i]);
        cs_tensor_free(&want[i]);
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    int pass, fail, unsupported, expected, stale;
} counts;

static void run_case(const char *suite_dir, const char *name, bool verbose, counts *c)
{
    char model[4096], why[512] = "", op[128];
    snprintf(model, sizeof model, "%s/%s/model.onnx", suite_dir, name);
    const char *uop = unsupported_op(model, op, sizeof op);
    if (uop) {
        c->unsupported++;
        if (verbose) printf("UNSUPPORTED %s (operator %s)\n", name, uop);
        return;
    }
    cs_error err = {0};
    cs_model *m = cs_model_load_file(model, &err);
    int rc = 0, sets = 0;
    if (!m) {
        snprintf(why, sizeof why, "%s", err.msg);
        rc = -1;
    }
    for (int s = 0; m && rc == 0; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s/test_data_set_%d", suite_dir, name, s);
        DIR *d = opendir(dir);
        if (!d) break;
        closedir(d);
        rc = run_set(m, dir, why, sizeof why);
        sets++;
    }
    cs_model_destroy(&m);
    known_entry *k = find_known(name);
    if (k) k->seen = 1;
    if (rc == 0 && sets > 0) {
        if (k) {
            c->stale++;
            printf("STALE %s passes but is listed as a known failure (%s)\n", name, k->reason);
        } else {
            c->pass++;
            if (verbose) printf("PASS %s\n", name);
        }
    } else if (k) {
        c->expected++;
        if (verbose) printf("KNOWN %s: %s [listed: %s]\n", name, why, k->reason);
    } else {
        c->fail++;
        printf("FAIL %s: %s\n", name, sets == 0 && rc == 0 ? "no test data" : why);
    }
}

int main(int argc, char **argv)
{
    const char *root = NULL, *only = NULL;
    const char *suites[8];
    int n_suites = 0;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--known") == 0 && i + 1 < argc) {
            if (load_known(argv[++i]) != 0) return 2;
        } else if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc && n_suites < 8) {
            suites[n_suites++] = argv[++i];
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (argv[i][0] != '-' && !root) {
            root = argv[i];
        } else {
            fprintf(stderr, "usage: conformance DATA_DIR [--known FILE] [--suite NAME]... "
                            "[--case NAME] [--verbose]\n");
            return 2;
        }
    }
    if (!root) {
        fprintf(stderr, "conformance: give the ONNX test data directory\n");
        return 2;
    }
    if (n_suites == 0) {
        suites[n_suites++] = "node";
        suites[n_suites++] = "pytorch-converted";
        suites[n_suites++] = "pytorch-operator";
        suites[n_suites++] = "simple";
    }
    counts c = {0};
    for (int s = 0; s < n_suites; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, suites[s]);
        DIR *d = opendir(dir);
        if (!d) {
            fprintf(stderr, "conformance: cannot open %s (install libonnx-testdata)\n", dir);
            return 2;
        }
        char **names = NULL;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "test_", 5) != 0) continue;
            if (only && strcmp(only, e->d_name) != 0) continue;
            names = realloc(names, sizeof *names * (size_t)(n + 1));
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int i = 0; i < n; i++) {
            run_case(dir, names[i], verbose, &c);
            free(names[i]);
        }
        free(names);
    }
    for (int i = 0; i < n_known && !only && n_suites == 4; i++)
        if (!known[i].seen) {
            printf("STALE %s is listed but no such case exists\n", known[i].name);
            c.stale++;
        }
    free(known);
    printf("conformance: %d passed, %d failed, %d unsupported (operator not claimed), %d known "
           "failures (listed with reasons), %d stale list entries\n",
           c.pass, c.fail, c.unsupported, c.expected, c.stale);
    printf("%d passed, %d failed\n", c.pass, c.fail + c.stale);
    return c.fail || c.stale ? 1 : 0;
}
