/* camstream bench-explain: what an explanation costs beyond the forward pass.
 *
 *     camstream bench-explain MODEL [--methods a,b,...] [--threads N] [--runs R]
 *                                   [--warmup W] [--batch B] [--layer NAME] [--json]
 *
 * MODEL: an ONNX file or a model description (its model file, and its [explain] layer as the
 * default --layer).
 *
 * Loads the model once and plans a plain forward pass (batch 1, fused, the given threads).
 * Then, for each method in turn: builds a cs_explainer once with the method's default options
 * (cs_explain_opts_default; only threads, batch and layer come from the command line), times
 * the plain forward pass (W warm-up runs, then the median of R runs of cs_plan_run), then
 * times cs_explain_run(e, -1, ...) (top-1 class) the same way, and destroys the explainer.
 * The forward pass is measured again right before each method, in the same process, so both
 * medians are taken under the same conditions. Reported per method: the median total time,
 * the time added beyond one forward pass (total − forward, in ms and in % of the forward)
 * and, for the methods that run batches of perturbed or noisy copies, the copies per second
 * (copies / total time). The input is one image of deterministic pseudo-random values
 * uniform in [-2, 2), as in `camstream bench`. */
#include "cli.h"

#include "camstream/core.h"
#include "camstream/explain.h"
#include "camstream/formats.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMD "bench-explain"
#define BX_MAX_RUNS 100000

/* The default method list: every method that needs nothing but the model (pv needs a
 * decoder), the single-pass ones first. */
static const cs_method default_methods[] = {
    CS_METHOD_CAM,      CS_METHOD_GRADCAM,           CS_METHOD_GRADCAMPP,
    CS_METHOD_LAYERCAM, CS_METHOD_XGRADCAM,          CS_METHOD_SALIENCY,
    CS_METHOD_SCORECAM, CS_METHOD_SMOOTH_GRADCAMPP,  CS_METHOD_SMOOTHGRAD,
    CS_METHOD_RISE,     CS_METHOD_AUGMENTED_GRADCAM,
};
#define N_DEFAULT_METHODS ((int)(sizeof default_methods / sizeof default_methods[0]))

typedef struct {
    const char *model;
    const char *layer;
    cs_method methods[CS_METHOD_COUNT];
    int n_methods;
    int threads;
    int batch;  /* 0: the method's default */
    int runs;   /* -1: default per method */
    int warmup; /* -1: default per method */
    int json;
} bx_args;

static void bx_usage(FILE *f)
{
    fprintf(f,
            "usage: camstream bench-explain MODEL [options]\n"
            "\n"
            "MODEL: an ONNX file, or a model description (docs/FORMATS.md): its model, and\n"
            "its [explain] layer unless --layer is given.\n"
            "Measures what each explanation method costs beyond one forward pass, on one\n"
            "pseudo-random 1xCxHxW image, with each method's default options.\n"
            "\n"
            "options:\n"
            "  --methods LIST  comma-separated methods (default: cam,gradcam,gradcampp,layercam,\n"
            "                  xgradcam,saliency,scorecam,smooth_gradcampp,smoothgrad,rise,\n"
            "                  augmented_gradcam)\n"
            "  --threads N     threads for the engine and OpenBLAS (default 0 = all cores)\n"
            "  --runs R        timed runs per method and for the forward pass (default: 30 for\n"
            "                  the forward pass and the single-pass methods, 3 for the batched\n"
            "                  methods scorecam, rise, smooth_gradcampp, smoothgrad,\n"
            "                  augmented_gradcam)\n"
            "  --warmup W      untimed runs first (default 5, and 1 for the batched methods)\n"
            "  --batch B       batch of the perturbation passes (default 16, the library's)\n"
            "  --layer NAME    target layer (default: the last feature map before pooling)\n"
            "  --json          one JSON line per method instead of the table\n"
            "  -h, --help      this help\n"
            "\n"
            "Defaults of the methods (cs_explain_opts_default): smooth_gradcampp 25 noisy\n"
            "copies, smoothgrad 50, sigma 0.15 of the input range; rise 1000 masks of a 7x7\n"
            "grid, p = 0.5; scorecam one masked copy per channel of the layer;\n"
            "augmented_gradcam 100 warped copies and 200 solver iterations; seed 1.\n");
}

static bool is_batched(cs_method m)
{
    return m == CS_METHOD_SCORECAM || m == CS_METHOD_RISE || m == CS_METHOD_SMOOTH_GRADCAMPP ||
           m == CS_METHOD_SMOOTHGRAD || m == CS_METHOD_AUGMENTED_GRADCAM;
}

static int parse_methods(const char *list, bx_args *a)
{
    a->n_methods = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        if (len == 0 || len >= sizeof name) {
            fprintf(stderr, "camstream " CMD ": --methods: bad list '%s'\n", list);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        cs_method m = cs_method_from_name(name);
        if (m == CS_METHOD_COUNT || m == CS_METHOD_PV) {
            fprintf(stderr,
                    "camstream " CMD ": --methods: unknown method '%s' (have: cam, gradcam, "
                    "gradcampp, layercam, xgradcam, saliency, scorecam, smooth_gradcampp, "
                    "smoothgrad, rise, augmented_gradcam)\n",
                    name);
            return -1;
        }
        for (int i = 0; i < a->n_methods; i++)
            if (a->methods[i] == m) {
                fprintf(stderr, "camstream " CMD ": --methods: '%s' given twice\n", name);
                return -1;
            }
        a->methods[a->n_methods++] = m;
        p += len;
        if (*p == ',') p++;
    }
    if (a->n_methods == 0) {
        fprintf(stderr, "camstream " CMD ": --methods: no method given\n");
        return -1;
    }
    return 0;
}

/* Returns 0 to go on, 1 when help was printed, 2 on a usage error. */
static int parse_args(int argc, char **argv, bx_args *a)
{
    memset(a, 0, sizeof *a);
    a->runs = -1;
    a->warmup = -1;
    const char *methods = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            bx_usage(stdout);
            return 1;
        } else if (!strcmp(arg, "--json")) {
            a->json = 1;
        } else if (!strcmp(arg, "--threads") || !strcmp(arg, "--batch") || !strcmp(arg, "--runs") ||
                   !strcmp(arg, "--warmup") || !strcmp(arg, "--methods") ||
                   !strcmp(arg, "--layer")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "camstream " CMD ": %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            int rc = 0;
            if (!strcmp(arg, "--threads"))
                rc = cli_parse_int(CMD, arg, v, 0, 1024, &a->threads);
            else if (!strcmp(arg, "--batch"))
                rc = cli_parse_int(CMD, arg, v, 1, 4096, &a->batch);
            else if (!strcmp(arg, "--runs"))
                rc = cli_parse_int(CMD, arg, v, 1, BX_MAX_RUNS, &a->runs);
            else if (!strcmp(arg, "--warmup"))
                rc = cli_parse_int(CMD, arg, v, 0, BX_MAX_RUNS, &a->warmup);
            else if (!strcmp(arg, "--methods"))
                methods = v;
            else
                a->layer = v;
            if (rc) return 2;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "camstream " CMD ": unknown option '%s'\n", arg);
            return 2;
        } else if (a->model) {
            fprintf(stderr, "camstream " CMD ": one model at a time ('%s' and '%s')\n", a->model,
                    arg);
            return 2;
        } else {
            a->model = arg;
        }
    }
    if (!a->model) {
        fprintf(stderr, "camstream " CMD ": no model given\n");
        bx_usage(stderr);
        return 2;
    }
    if (methods) {
        if (parse_methods(methods, a)) return 2;
    } else {
        memcpy(a->methods, default_methods, sizeof default_methods);
        a->n_methods = N_DEFAULT_METHODS;
    }
    return 0;
}

/* xorshift64*, as in `camstream bench`: the same image on every machine. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void fill_image(float *x, int64_t n)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((double)(rng_next(&s) >> 11) * 0x1.0p-53 * 4.0 - 2.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Median time of `runs` plain forward passes after `warmup`; < 0 on failure. */
static double time_forward(cs_plan *p, int warmup, int runs, double *t, cs_error *err)
{
    for (int i = 0; i < warmup; i++)
        if (cs_plan_run(p, err) != CS_OK) return -1;
    for (int i = 0; i < runs; i++) {
        double t0 = cli_now_ms();
        if (cs_plan_run(p, err) != CS_OK) return -1;
        t[i] = cli_now_ms() - t0;
    }
    return median_of(t, runs);
}

/* Channels of tensor `name`, from an unfused probe plan (every tensor has its shape there). */
static int channels_of(const cs_model *m, const char *name, cs_error *err)
{
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    o.no_fuse = 1;
    cs_plan *p = cs_plan_new(m, &o, err);
    if (!p) return -1;
    int k = -1;
    for (int i = 0; i < cs_plan_n_tensors(p); i++) {
        const cs_tensor *t = cs_plan_tensor_at(p, i, NULL);
        if (t->name && !strcmp(t->name, name) && t->ndim == 4) k = (int)t->dims[1];
    }
    cs_plan_destroy(&p);
    return k;
}

/* The copies a batched method evaluates per run (with its default options). */
static int copies_of(const cs_explain_opts *o, int scorecam_k)
{
    switch (o->method) {
    case CS_METHOD_SCORECAM:
        return scorecam_k;
    case CS_METHOD_RISE:
        return o->rise_masks;
    case CS_METHOD_SMOOTH_GRADCAMPP:
    case CS_METHOD_SMOOTHGRAD:
        return o->n_samples;
    case CS_METHOD_AUGMENTED_GRADCAM:
        return o->aug_count;
    default:
        return 0;
    }
}

typedef struct {
    cs_method method;
    const char *layer;
    int runs, warmup, batch, copies, passes;
    double create_ms, forward_ms, total_ms, min_ms;
} bx_result;

static void print_json(const bx_args *a, const char *shape, const bx_result *r)
{
    double added = r->total_ms - r->forward_ms;
    printf("{\"engine\":\"camstream\",\"model\":");
    cli_json_string(stdout, a->model);
    printf(",\"input\":");
    cli_json_string(stdout, shape);
    printf(",\"method\":");
    cli_json_string(stdout, cs_method_name(r->method));
    printf(",\"layer\":");
    cli_json_string(stdout, r->layer);
    printf(",\"threads\":%d,\"runs\":%d,\"warmup\":%d,\"batch\":", a->threads, r->runs, r->warmup);
    if (r->copies)
        printf("%d", r->batch);
    else
        printf("null");
    printf(",\"forward_ms\":%.4f,\"total_ms\":%.4f,\"min_ms\":%.4f,\"added_ms\":%.4f,"
           "\"added_pct\":%.2f,\"create_ms\":%.2f,\"images\":",
           r->forward_ms, r->total_ms, r->min_ms, added, 100.0 * added / r->forward_ms,
           r->create_ms);
    if (r->copies)
        printf("%d,\"passes\":%d,\"images_per_s\":%.3f}\n", r->copies, r->passes,
               r->copies * 1000.0 / r->total_ms);
    else
        printf("null,\"passes\":null,\"images_per_s\":null}\n");
    fflush(stdout);
}

static void print_row(const bx_result *r)
{
    double added = r->total_ms - r->forward_ms;
    printf("%-18s %9.3f %9.3f %10.3f %9.1f%%", cs_method_name(r->method), r->forward_ms,
           r->total_ms, added, 100.0 * added / r->forward_ms);
    if (r->copies)
        printf("  %5d x%-3d %9.1f", r->copies, r->batch, r->copies * 1000.0 / r->total_ms);
    printf("\n");
    fflush(stdout);
}

int cmd_bench_explain(int argc, char **argv)
{
    bx_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) return CLI_OK;
    if (rc) return CLI_USAGE;

    struct stat st;
    if (stat(a.model, &st) != 0) {
        fprintf(stderr, "camstream " CMD ": cannot open model '%s': %s\n", a.model,
                strerror(errno));
        return CLI_FAIL;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "camstream " CMD ": '%s' is a directory, not an ONNX model file\n",
                a.model);
        return CLI_FAIL;
    }

    cs_error err;
    memset(&err, 0, sizeof err);
    cs_model_desc *desc = NULL;
    cs_model *m = NULL;
    cs_plan *fwd = NULL;
    cs_explainer *e = NULL;
    double *times = NULL;
    int status = CLI_FAIL;
    int scorecam_k = -1;

    if (!(desc = cs_model_desc_open(a.model, &err)) ||
        !(m = cs_model_load_file(desc->model_file, &err))) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto out;
    }
    if (!a.layer) a.layer = desc->explain_layer;
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = a.threads;
    po.batch = 1;
    if (!(fwd = cs_plan_new(m, &po, &err))) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto out;
    }
    if (cs_plan_n_inputs(fwd) != 1 || cs_plan_input(fwd, 0)->type != CS_F32 ||
        cs_plan_input(fwd, 0)->ndim != 4) {
        fprintf(stderr, "camstream " CMD ": '%s' should have one float 1xCxHxW input\n", a.model);
        goto out;
    }
    cs_tensor *xin = cs_plan_input(fwd, 0);
    fill_image(xin->data, xin->numel);
    char shape[128];
    cs_shape_str(xin, shape, sizeof shape);

    int max_runs = a.runs > 0 ? a.runs : 30;
    if (!(times = malloc(sizeof *times * (size_t)max_runs))) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto out;
    }
    int fwd_runs = a.runs > 0 ? a.runs : 30, fwd_warm = a.warmup >= 0 ? a.warmup : 5;

    if (!a.json) {
        printf("model    %s (input %s)\n", a.model, shape);
        printf("threads  %d%s   forward: median of %d runs after %d, measured again before "
               "each method\n\n",
               a.threads, a.threads == 0 ? " (all cores)" : "", fwd_runs, fwd_warm);
        printf("%-18s %9s %9s %10s %10s  %-10s %9s\n", "method", "fwd ms", "total ms", "added ms",
               "added", "copies", "images/s");
    }

    for (int mi = 0; mi < a.n_methods; mi++) {
        bx_result r;
        memset(&r, 0, sizeof r);
        r.method = a.methods[mi];
        bool batched = is_batched(r.method);
        r.runs = a.runs > 0 ? a.runs : batched ? 3 : 30;
        r.warmup = a.warmup >= 0 ? a.warmup : batched ? 1 : 5;

        cs_explain_opts eo = cs_explain_opts_default(r.method);
        eo.threads = a.threads;
        if (a.batch > 0) eo.batch = a.batch;
        if (a.layer && r.method != CS_METHOD_SALIENCY && r.method != CS_METHOD_SMOOTHGRAD &&
            r.method != CS_METHOD_RISE)
            eo.layer = a.layer;
        double t0 = cli_now_ms();
        e = cs_explainer_new(m, &eo, &err);
        r.create_ms = cli_now_ms() - t0;
        if (!e) {
            fprintf(stderr, "camstream " CMD ": %s: %s\n", cs_method_name(r.method), err.msg);
            goto out;
        }
        r.layer = cs_explainer_layer(e);
        if (r.method == CS_METHOD_SCORECAM) {
            if (scorecam_k < 0 && (scorecam_k = channels_of(m, r.layer, &err)) < 0) {
                fprintf(stderr, "camstream " CMD ": cannot find the channels of '%s'\n", r.layer);
                goto out;
            }
        }
        r.copies = copies_of(&eo, scorecam_k);
        if (r.copies) {
            r.batch = eo.batch < r.copies ? eo.batch : r.copies;
            if (cs_model_input(m, 0)->dims[0] != -1) r.batch = 1; /* as the library does */
            r.passes = (r.copies + r.batch - 1) / r.batch * r.batch;
        }
        cs_tensor *ex = cs_explainer_input(e);
        if (ex->numel != xin->numel) {
            fprintf(stderr, "camstream " CMD ": the explainer's input differs from the plan's\n");
            goto out;
        }
        memcpy(ex->data, xin->data, cs_tensor_bytes(xin));

        r.forward_ms = time_forward(fwd, fwd_warm, fwd_runs, times, &err);
        if (r.forward_ms < 0) {
            fprintf(stderr, "camstream " CMD ": forward pass failed: %s\n", err.msg);
            goto out;
        }
        cs_explanation res;
        for (int i = 0; i < r.warmup; i++)
            if (cs_explain_run(e, -1, &res, &err) != CS_OK) {
                fprintf(stderr, "camstream " CMD ": %s: %s\n", cs_method_name(r.method), err.msg);
                goto out;
            }
        for (int i = 0; i < r.runs; i++) {
            t0 = cli_now_ms();
            cs_status s = cs_explain_run(e, -1, &res, &err);
            times[i] = cli_now_ms() - t0;
            if (s != CS_OK) {
                fprintf(stderr, "camstream " CMD ": %s: %s\n", cs_method_name(r.method), err.msg);
                goto out;
            }
        }
        r.total_ms = median_of(times, r.runs);
        r.min_ms = times[0];
        if (a.json)
            print_json(&a, shape, &r);
        else
            print_row(&r);
        cs_explainer_destroy(&e);
    }
    if (!a.json)
        printf("\nadded = total - forward (median of each); images/s = copies / total time, "
               "copies run in batches of the given size\n");
    status = CLI_OK;
out:
    cs_explainer_destroy(&e);
    free(times);
    cs_plan_destroy(&fwd);
    cs_model_destroy(&m);
    cs_model_desc_destroy(&desc);
    return status;
}
