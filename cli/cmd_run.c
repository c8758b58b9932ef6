/* camstream run: one model, inputs and outputs as ONNX TensorProto files (the layout of the
 * ONNX backend tests: input_0.pb ... -> output_0.pb ...). */
#include "cli.h"

#include "camstream/core.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUTS 64

static void run_usage(FILE *f)
{
    fprintf(f, "usage: camstream run MODEL.onnx --in input_0.pb [--in input_1.pb ...]\n"
               "                     [--out-dir DIR] [--threads N] [--print] [--list]\n\n"
               "  --in FILE      an input as an ONNX TensorProto, in graph-input order\n"
               "  --out-dir DIR  write output_0.pb ... there (created if missing)\n"
               "  --threads N    threads for every kernel, OpenBLAS's included (default: cores)\n"
               "  --print        print each output's shape and top values\n"
               "  --list         print every tensor of the planned graph with its shape\n");
}

static void print_top(const cs_tensor *t)
{
    char shape[128];
    printf("%s: %s %s", t->name, t->type == CS_F32 ? "float" : "int64",
           cs_shape_str(t, shape, sizeof shape));
    if (t->type == CS_I64) {
        const int64_t *d = t->data;
        printf(" [");
        for (int64_t i = 0; i < t->numel && i < 8; i++)
            printf(i ? ", %lld" : "%lld", (long long)d[i]);
        printf("%s]\n", t->numel > 8 ? ", ..." : "");
        return;
    }
    /* Top 5 over the whole tensor: for a classifier batch of 1, the top classes. */
    enum { K = 5 };
    int64_t idx[K];
    int k = 0;
    const float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        int pos = k < K ? k++ : K;
        if (pos == K && d[i] <= d[idx[K - 1]]) continue;
        if (pos == K) pos = K - 1;
        while (pos > 0 && d[idx[pos - 1]] < d[i]) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = i;
    }
    printf("  top:");
    for (int i = 0; i < k; i++) printf(" [%lld]=%.6g", (long long)idx[i], d[idx[i]]);
    printf("\n");
}

static void list_tensors(const cs_plan *p)
{
    char shape[128];
    printf("%d steps after folding and fusion, activation arena %zu bytes\n", cs_plan_n_steps(p),
           cs_plan_arena_bytes(p));
    for (int i = 0; i < cs_plan_n_tensors(p); i++) {
        int readable = 0;
        const cs_tensor *t = cs_plan_tensor_at(p, i, &readable);
        if (t->ndim < 0) {
            printf("  %-40s (fused away)\n", t->name);
            continue;
        }
        printf("  %-40s %-6s %-20s %s\n", t->name, t->type == CS_F32 ? "float" : "int64",
               cs_shape_str(t, shape, sizeof shape), readable ? "readable" : "reused");
    }
}

int cmd_run(int argc, char **argv)
{
    const char *inputs[MAX_INPUTS];
    int n_in = 0, threads = 0, do_print = 0, do_list = 0;
    const char *out_dir = NULL;
    static const struct option opts[] = {{"in", required_argument, NULL, 'i'},
                                         {"out-dir", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"print", no_argument, NULL, 'p'},
                                         {"list", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:t:plh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (n_in == MAX_INPUTS) {
                fprintf(stderr, "camstream run: at most %d inputs\n", MAX_INPUTS);
                return 2;
            }
            inputs[n_in++] = optarg;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "camstream run: --threads: '%s' is not a count from 1 to 256\n",
                        optarg);
                return 2;
            }
            threads = (int)v;
            break;
        }
        case 'p':
            do_print = 1;
            break;
        case 'l':
            do_list = 1;
            break;
        case 'h':
            run_usage(stdout);
            return 0;
        default:
            run_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "camstream run: give exactly one MODEL.onnx\n");
        run_usage(stderr);
        return 2;
    }
    const char *model_path = argv[optind];
    cs_error err = {0};
    int rc = 1;
    cs_tensor *in_t[MAX_INPUTS] = {0};
    cs_tensor shapes[MAX_INPUTS];
    cs_plan *p = NULL;
    cs_model *m = cs_model_load_file(model_path, &err);
    if (!m) {
        fprintf(stderr, "camstream run: %s\n", err.msg);
        return 1;
    }
    if (n_in != cs_model_n_inputs(m) && !(do_list && n_in == 0)) {
        fprintf(stderr, "camstream run: %s has %d input(s), %d given with --in\n", model_path,
                cs_model_n_inputs(m), n_in);
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        in_t[i] = cs_tensorproto_read_file(inputs[i], &err);
        if (!in_t[i]) {
            fprintf(stderr, "camstream run: %s\n", err.msg);
            goto done;
        }
        shapes[i] = *in_t[i];
    }
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = threads;
    o.input_shapes = n_in ? shapes : NULL;
    o.n_input_shapes = n_in;
    p = cs_plan_new_binding(m, &o, &err);
    if (!p) {
        fprintf(stderr, "camstream run: %s\n", err.msg);
        goto done;
    }
    if (do_list) list_tensors(p);
    if (n_in != cs_model_n_inputs(m)) { /* --list alone */
        rc = 0;
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (o.const_inputs >> i & 1) continue; /* bound at plan time */
        cs_tensor *x = cs_plan_input(p, i);
        memcpy(x->data, in_t[i]->data, cs_tensor_bytes(x));
    }
    if (cs_plan_run(p, &err) != CS_OK) {
        fprintf(stderr, "camstream run: %s\n", err.msg);
        goto done;
    }
    if (out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "camstream run: %s: %s\n", out_dir, strerror(errno));
        goto done;
    }
    for (int i = 0; i < cs_plan_n_outputs(p); i++) {
        const cs_tensor *y = cs_plan_output(p, i);
        if (do_print) print_top(y);
        if (!out_dir) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/output_%d.pb", out_dir, i);
        if (cs_tensorproto_write_file(path, y, &err) != CS_OK) {
            fprintf(stderr, "camstream run: %s\n", err.msg);
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < n_in; i++) cs_tensor_free(&in_t[i]);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return rc;
}
