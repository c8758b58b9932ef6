/* camstream bench: latency and throughput of one ONNX model.
 *
 *     camstream bench MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--json]
 *
 * MODEL: an ONNX file or a model description (its model file is benchmarked).
 *
 * Loads the model, plans it once for the given threads (the one knob for every thread the
 * engine runs, see core/src/threads.h) and batch, fills the inputs with
 * deterministic pseudo-random values, runs W warm-up passes, then times R passes of
 * cs_plan_run alone with CLOCK_MONOTONIC. Reports the median, minimum and 90th percentile
 * latency and images per second (batch / median). */
#include "cli.h"

#include "camstream/core.h"
#include "camstream/formats.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BENCH_MAX_RUNS 1000000

typedef struct {
    const char *model;
    int threads;
    int batch;
    int runs;   /* -1: default */
    int warmup; /* -1: default */
    int json;
    int no_fuse;
} bench_args;

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: camstream bench MODEL [options]\n"
               "\n"
               "Measures the latency and throughput of one ONNX model on random inputs.\n"
               "MODEL: an ONNX file, or a model description (docs/FORMATS.md) naming one.\n"
               "\n"
               "options:\n"
               "  --threads N   threads of the engine, every kernel's (default 0 = all cores)\n"
               "  --batch B     value of the model's symbolic batch dimension (default 1)\n"
               "  --runs R      timed runs (default 30 for batch 1, 10 for larger batches)\n"
               "  --warmup W    untimed runs first (default 5 for batch 1, 2 for larger batches)\n"
               "  --no-fuse     plan without BatchNorm folding and activation fusion\n"
               "  --json        print one JSON line instead of the text report\n"
               "  -h, --help    this help\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Parses a whole decimal int in [lo, hi]; returns 0 on success. */
static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "camstream bench: %s expects an integer in [%d, %d], got '%s'\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Returns 0 to go on, 1 when help was printed, 2 on a usage error. */
static int parse_args(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof *a);
    a->runs = -1;
    a->warmup = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            bench_usage(stdout);
            return 1;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = 1;
        } else if (strcmp(arg, "--no-fuse") == 0) {
            a->no_fuse = 1;
        } else if (strcmp(arg, "--threads") == 0 || strcmp(arg, "--batch") == 0 ||
                   strcmp(arg, "--runs") == 0 || strcmp(arg, "--warmup") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "camstream bench: %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            int rc;
            if (strcmp(arg, "--threads") == 0)
                rc = parse_int(arg, v, 0, 1024, &a->threads);
            else if (strcmp(arg, "--batch") == 0)
                rc = parse_int(arg, v, 1, 1 << 20, &a->batch);
            else if (strcmp(arg, "--runs") == 0)
                rc = parse_int(arg, v, 1, BENCH_MAX_RUNS, &a->runs);
            else
                rc = parse_int(arg, v, 0, BENCH_MAX_RUNS, &a->warmup);
            if (rc) return 2;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "camstream bench: unknown option '%s'\n", arg);
            return 2;
        } else if (a->model) {
            fprintf(stderr, "camstream bench: one model at a time ('%s' and '%s')\n", a->model,
                    arg);
            return 2;
        } else {
            a->model = arg;
        }
    }
    if (!a->model) {
        fprintf(stderr, "camstream bench: no model given\n");
        bench_usage(stderr);
        return 2;
    }
    if (a->batch == 0) a->batch = 1;
    if (a->runs < 0) a->runs = a->batch == 1 ? 30 : 10;
    if (a->warmup < 0) a->warmup = a->batch == 1 ? 5 : 2;
    return 0;
}

/* xorshift64*: the same values on every machine and every run. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void fill_input(cs_tensor *t, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    if (t->type == CS_F32) {
        float *x = t->data;
        /* Uniform in [-2, 2): the spread of a normalized image. */
        for (int64_t i = 0; i < t->numel; i++)
            x[i] = (float)((double)(rng_next(&s) >> 11) * 0x1.0p-53 * 4.0 - 2.0);
    } else {
        memset(t->data, 0, cs_tensor_bytes(t));
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cmd_bench(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) return 0;
    if (rc) return rc;

    struct stat st;
    if (stat(a.model, &st) != 0) {
        fprintf(stderr, "camstream bench: cannot open model '%s': %s\n", a.model, strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "camstream bench: '%s' is a directory, not an ONNX model file\n", a.model);
        return 1;
    }

    cs_error err;
    memset(&err, 0, sizeof err);
    cs_model *m = NULL;
    cs_plan *p = NULL;
    double *times = NULL;
    int status = 1;

    double t0 = now_ms();
    cs_model_desc *desc = cs_model_desc_open(a.model, &err);
    if (desc) m = cs_model_load_file(desc->model_file, &err);
    cs_model_desc_destroy(&desc);
    double load_ms = now_ms() - t0;
    if (!m) {
        fprintf(stderr, "camstream bench: %s\n", err.msg);
        goto out;
    }

    cs_plan_opts o = cs_plan_opts_default();
    o.threads = a.threads;
    o.batch = a.batch;
    o.no_fuse = a.no_fuse;
    t0 = now_ms();
    p = cs_plan_new(m, &o, &err);
    double plan_ms = now_ms() - t0;
    if (!p) {
        fprintf(stderr, "camstream bench: %s\n", err.msg);
        goto out;
    }
    if (cs_plan_n_inputs(p) < 1) {
        fprintf(stderr, "camstream bench: model '%s' has no inputs\n", a.model);
        goto out;
    }
    cs_tensor *in0 = cs_plan_input(p, 0);
    if (in0->ndim < 1 || in0->dims[0] != a.batch) {
        char sh[128];
        fprintf(stderr,
                "camstream bench: input '%s' of '%s' is planned as %s: its first dimension is "
                "not a batch of %d (--batch needs a symbolic first dimension)\n",
                in0->name ? in0->name : "?", a.model, cs_shape_str(in0, sh, sizeof sh), a.batch);
        goto out;
    }
    for (int i = 0; i < cs_plan_n_inputs(p); i++) fill_input(cs_plan_input(p, i), (uint64_t)i);

    for (int i = 0; i < a.warmup; i++) {
        if (cs_plan_run(p, &err) != CS_OK) {
            fprintf(stderr, "camstream bench: warm-up run failed: %s\n", err.msg);
            goto out;
        }
    }
    times = malloc((size_t)a.runs * sizeof *times);
    if (!times) {
        fprintf(stderr, "camstream bench: out of memory\n");
        goto out;
    }
    for (int i = 0; i < a.runs; i++) {
        t0 = now_ms();
        cs_status s = cs_plan_run(p, &err);
        times[i] = now_ms() - t0;
        if (s != CS_OK) {
            fprintf(stderr, "camstream bench: run %d failed: %s\n", i + 1, err.msg);
            goto out;
        }
    }

    double sum = 0;
    for (int i = 0; i < a.runs; i++) sum += times[i];
    qsort(times, (size_t)a.runs, sizeof *times, cmp_double);
    int n = a.runs;
    double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    double mn = times[0];
    double p90 = times[(int)ceil(0.9 * n) - 1]; /* nearest rank */
    double mean = sum / n;
    double ips = median > 0 ? a.batch * 1000.0 / median : 0;
    char shape[128];
    cs_shape_str(in0, shape, sizeof shape);

    if (a.json) {
        printf("{\"model\":");
        json_string(stdout, a.model);
        printf(",\"input\":");
        json_string(stdout, shape);
        printf(",\"threads\":%d,\"batch\":%d,\"runs\":%d,\"warmup\":%d,\"fuse\":%s,"
               "\"median_ms\":%.4f,\"min_ms\":%.4f,\"p90_ms\":%.4f,\"mean_ms\":%.4f,"
               "\"images_per_s\":%.3f,\"load_ms\":%.3f,\"plan_ms\":%.3f,\"arena_bytes\":%zu,"
               "\"steps\":%d,\"nodes\":%d}\n",
               a.threads, a.batch, a.runs, a.warmup, a.no_fuse ? "false" : "true", median, mn, p90,
               mean, ips, load_ms, plan_ms, cs_plan_arena_bytes(p), cs_plan_n_steps(p),
               cs_model_n_nodes(m));
    } else {
        printf("model       %s (opset %d, %d nodes, %d steps planned)\n", a.model,
               cs_model_opset(m), cs_model_n_nodes(m), cs_plan_n_steps(p));
        printf("input       %s %s\n", in0->name ? in0->name : "?", shape);
        printf("threads     %d%s   batch %d   warm-up %d   runs %d%s\n", a.threads,
               a.threads == 0 ? " (all cores)" : "", a.batch, a.warmup, a.runs,
               a.no_fuse ? "   (no fusion)" : "");
        printf("load        %.1f ms   plan %.1f ms   arena %.2f MiB\n", load_ms, plan_ms,
               (double)cs_plan_arena_bytes(p) / (1024.0 * 1024.0));
        printf("latency     median %.3f ms   min %.3f ms   p90 %.3f ms   mean %.3f ms\n", median,
               mn, p90, mean);
        printf("throughput  %.1f images/s\n", ips);
    }
    status = 0;
out:
    free(times);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return status;
}
