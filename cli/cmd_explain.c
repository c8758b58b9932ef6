/* camstream explain: why a model decided what it decided, for one image.
 *
 *     camstream explain --model M.onnx --image cat.jpg --method gradcam \
 *         --out-heatmap heat.png --out-overlay overlay.png --json result.json
 *
 * Reads a PNG or JPEG (or an already preprocessed input as an ONNX TensorProto), runs one
 * explanation (camstream/explain.h) and writes what was asked: a colormapped heatmap and an
 * overlay at the image's size, a JSON summary (classes, scores, boxes, timing) and the raw
 * map as a TensorProto. --model also takes a model description (camstream/formats.h,
 * docs/FORMATS.md): its model, preprocessing (statistics included), labels, class head and
 * [explain] defaults apply unless an option overrides them. Preprocessing is core's
 * (camstream/preprocess.h). Errors are one line on stderr; exit 0 ok, 1 failure, 2 usage. */
#include "cli.h"
#include "image_io.h"
#include "preprocess.h"

#include "camstream/colormap.h"
#include "camstream/core.h"
#include "camstream/explain.h"
#include "camstream/formats.h"
#include "camstream/preprocess.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "explain"
#define MAX_BOXES 16

typedef struct {
    const char *model, *image, *in_pb, *method, *layer, *score, *decoder;
    const char *out_heatmap, *out_overlay, *json, *raw_out;
    pp_cli_args pp;
    int cls, top, threads;
    cs_colormap cmap;
    float alpha, overlay_threshold, box_threshold;
    /* Method parameters: -1 (or NAN) keeps the library's default. */
    int batch, samples, rise_masks, rise_grid;
    float sigma, rise_p;
    long long seed;
    int quiet;
    const char *save_input;
} explain_args;

static void explain_usage(FILE *f)
{
    fprintf(
        f, "usage: camstream explain --model M.onnx (--image FILE | --in INPUT.pb) --method NAME\n"
           "                         [options]\n"
           "\n"
           "Explains one prediction of an image classifier. --model also takes a model\n"
           "description (docs/FORMATS.md): its preprocessing, labels, class head, layer and\n"
           "method are the defaults of the options below.\n"
           "\n"
           "input:\n"
           "  --image FILE         a PNG or JPEG image (recognized by content)\n"
           "  --preset NAME        preprocessing: imagenet (default), caffe, tf, none\n"
           "  --mean a,b,c         per-channel mean, model channel order (overrides the preset)\n"
           "  --std a,b,c          per-channel std (overrides the preset)\n"
           "  --scale 01|11|255    pixel scale before mean/std: [0,1], [-1,1] or 0-255\n"
           "  --bgr                feed channels in BGR order\n"
           "  --resize MODE        stretch (default), crop (centre) or letterbox\n"
           "  --in INPUT.pb        an already preprocessed 1xCxHxW input (ONNX TensorProto)\n"
           "\n"
           "explanation:\n"
           "  --method NAME        cam, gradcam, gradcampp, smooth_gradcampp, scorecam, layercam,\n"
           "                       xgradcam, saliency, smoothgrad, rise, augmented_gradcam, pv\n"
           "  --layer TENSOR       target feature map (default: the last 4-D map before pooling)\n"
           "  --score TENSOR       class scores before softmax (default: found from the graph)\n"
           "  --class N            class to explain (default: the top-1 class)\n"
           "  --top K              classes listed in the JSON (default 5)\n"
           "  --threads N          threads (default: all cores)\n"
           "  --batch N, --samples N, --sigma F, --rise-masks N, --rise-grid N, --rise-p F,\n"
           "  --seed N             parameters of the perturbation methods (library defaults)\n"
           "  --decoder M.onnx     the feature decoder of --method pv\n"
           "\n"
           "output:\n"
           "  --out-heatmap PNG    the normalized map, colormapped, at the image's size (black\n"
           "                       where --resize crop cut the image off)\n"
           "  --out-overlay PNG    the map blended onto the image (--in: the de-normalized input;\n"
           "                       pv: the decoder's reconstruction shown through the map)\n"
           "  --colormap NAME      jet (default), turbo, inferno, viridis\n"
           "  --alpha A            overlay opacity (default 0.5)\n"
           "  --overlay-threshold F  normalized map values below F show the image (default 0)\n"
           "  --json FILE          summary as JSON ('-': stdout)\n"
           "  --raw-out FILE.pb    the raw map (layer or input resolution) as a TensorProto\n"
           "  --box-threshold F    boxes where the normalized map >= F (default 0.2)\n"
           "  --save-input FILE.pb the preprocessed input as a TensorProto (for --in)\n"
           "  --quiet              no summary line on stdout\n");
}

enum {
    O_MODEL = 256,
    O_IMAGE,
    O_IN,
    O_METHOD,
    O_LAYER,
    O_SCORE,
    O_CLASS,
    O_TOP,
    O_THREADS,
    O_HEATMAP,
    O_OVERLAY,
    O_COLORMAP,
    O_ALPHA,
    O_OVTHRESH,
    O_JSON,
    O_RAW,
    O_BOXTHRESH,
    O_BATCH,
    O_SAMPLES,
    O_SIGMA,
    O_RMASKS,
    O_RGRID,
    O_RP,
    O_SEED,
    O_DECODER,
    O_QUIET,
    O_SAVE_INPUT,
};

/* Returns 0 to go on, 1 when help was printed, 2 on a usage error (already reported). */
static int parse_args(int argc, char **argv, explain_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"image", required_argument, NULL, O_IMAGE},
        {"in", required_argument, NULL, O_IN},
        PP_CLI_LONG_OPTIONS,
        {"method", required_argument, NULL, O_METHOD},
        {"layer", required_argument, NULL, O_LAYER},
        {"score", required_argument, NULL, O_SCORE},
        {"class", required_argument, NULL, O_CLASS},
        {"top", required_argument, NULL, O_TOP},
        {"threads", required_argument, NULL, O_THREADS},
        {"out-heatmap", required_argument, NULL, O_HEATMAP},
        {"out-overlay", required_argument, NULL, O_OVERLAY},
        {"colormap", required_argument, NULL, O_COLORMAP},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"overlay-threshold", required_argument, NULL, O_OVTHRESH},
        {"json", required_argument, NULL, O_JSON},
        {"raw-out", required_argument, NULL, O_RAW},
        {"box-threshold", required_argument, NULL, O_BOXTHRESH},
        {"batch", required_argument, NULL, O_BATCH},
        {"samples", required_argument, NULL, O_SAMPLES},
        {"sigma", required_argument, NULL, O_SIGMA},
        {"rise-masks", required_argument, NULL, O_RMASKS},
        {"rise-grid", required_argument, NULL, O_RGRID},
        {"rise-p", required_argument, NULL, O_RP},
        {"seed", required_argument, NULL, O_SEED},
        {"decoder", required_argument, NULL, O_DECODER},
        {"quiet", no_argument, NULL, O_QUIET},
        {"save-input", required_argument, NULL, O_SAVE_INPUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->cls = -1;
    a->top = 5;
    a->cmap = CS_COLORMAP_JET;
    a->alpha = 0.5f;
    a->box_threshold = 0.2f;
    a->batch = a->samples = a->rise_masks = a->rise_grid = -1;
    a->sigma = a->rise_p = NAN;
    a->seed = -1;
    int c, seed = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_MODEL:
            a->model = optarg;
            break;
        case O_IMAGE:
            a->image = optarg;
            break;
        case O_IN:
            a->in_pb = optarg;
            break;
        case O_METHOD:
            a->method = optarg;
            break;
        case O_LAYER:
            a->layer = optarg;
            break;
        case O_SCORE:
            a->score = optarg;
            break;
        case O_CLASS:
            bad = cli_parse_int(CMD, "--class", optarg, 0, 1 << 30, &a->cls);
            break;
        case O_TOP:
            bad = cli_parse_int(CMD, "--top", optarg, 1, 1 << 20, &a->top);
            break;
        case O_THREADS:
            bad = cli_parse_int(CMD, "--threads", optarg, 1, 256, &a->threads);
            break;
        case O_HEATMAP:
            a->out_heatmap = optarg;
            break;
        case O_OVERLAY:
            a->out_overlay = optarg;
            break;
        case O_COLORMAP:
            a->cmap = cs_colormap_from_name(optarg);
            if (a->cmap == CS_COLORMAP_COUNT) {
                fprintf(stderr,
                        "camstream " CMD
                        ": --colormap: unknown colormap '%s' (known: jet, turbo, inferno, "
                        "viridis)\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_ALPHA:
            bad = cli_parse_float(CMD, "--alpha", optarg, 0, 1, &a->alpha);
            break;
        case O_OVTHRESH:
            bad = cli_parse_float(CMD, "--overlay-threshold", optarg, 0, 1, &a->overlay_threshold);
            break;
        case O_JSON:
            a->json = optarg;
            break;
        case O_RAW:
            a->raw_out = optarg;
            break;
        case O_BOXTHRESH:
            bad = cli_parse_float(CMD, "--box-threshold", optarg, 0, 1, &a->box_threshold);
            break;
        case O_BATCH:
            bad = cli_parse_int(CMD, "--batch", optarg, 1, 4096, &a->batch);
            break;
        case O_SAMPLES:
            bad = cli_parse_int(CMD, "--samples", optarg, 1, 1 << 20, &a->samples);
            break;
        case O_SIGMA:
            bad = cli_parse_float(CMD, "--sigma", optarg, 0, 1e3, &a->sigma);
            break;
        case O_RMASKS:
            bad = cli_parse_int(CMD, "--rise-masks", optarg, 1, 1 << 20, &a->rise_masks);
            break;
        case O_RGRID:
            bad = cli_parse_int(CMD, "--rise-grid", optarg, 1, 4096, &a->rise_grid);
            break;
        case O_RP:
            bad = cli_parse_float(CMD, "--rise-p", optarg, 0, 1, &a->rise_p);
            break;
        case O_SEED:
            bad = cli_parse_int(CMD, "--seed", optarg, 0, 2147483647, &seed);
            a->seed = seed;
            break;
        case O_DECODER:
            a->decoder = optarg;
            break;
        case O_QUIET:
            a->quiet = 1;
            break;
        case O_SAVE_INPUT:
            a->save_input = optarg;
            break;
        case 'h':
            explain_usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            if (c != ':' && pp_cli_option(&a->pp, c, optarg)) break;
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    if (!a->model) {
        fprintf(stderr, "camstream " CMD ": --model M.onnx is required (see --help)\n");
        return 2;
    }
    if (!a->image == !a->in_pb) {
        fprintf(stderr, "camstream " CMD ": give exactly one of --image FILE and --in INPUT.pb\n");
        return 2;
    }
    if (a->in_pb && a->pp.resize) {
        fprintf(stderr, "camstream " CMD ": --resize applies to --image, not to --in\n");
        return 2;
    }
    return 0;
}

/* Library messages start with "explain: "; ours already say "camstream explain: ". */
static const char *lib_msg(const cs_error *err)
{
    const char *m = err->msg;
    if (strncmp(m, "explain: ", 9) == 0) m += 9;
    return *m ? m : "unknown error";
}

typedef struct {
    int idx;
    float score;
} ranked;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->idx - b->idx;
}

typedef struct {
    double x0, y0, x1, y1;
    float score;
    int area;
} out_box;

typedef struct {
    double load, setup, preprocess, explain, outputs, total;
} timing;

static int write_json(FILE *f, const explain_args *a, const cs_explainer *e,
                      const cs_explanation *r, const ranked *rank, const double *prob, int k, int C,
                      int H, int W, const cli_image *img, const cs_pp_opts *pp,
                      const cs_model_desc *desc, const cs_statistics *stats, int map_h, int map_w,
                      float map_min, float map_max, const out_box *boxes, int n_boxes,
                      const timing *t)
{
    fprintf(f, "{\n  \"model\": ");
    cli_json_string(f, a->model);
    if (desc->path) {
        fprintf(f, ",\n  \"model_file\": ");
        cli_json_string(f, desc->model_file);
        fprintf(f, ",\n  \"model_name\": ");
        cli_json_string(f, desc->name);
    }
    fprintf(f, ",\n  \"method\": ");
    cli_json_string(f, cs_method_name(cs_method_from_name(a->method)));
    fprintf(f, ",\n  \"layer\": ");
    cli_json_string(f, cs_explainer_layer(e));
    fprintf(f, ",\n  \"score_tensor\": ");
    cli_json_string(f, cs_explainer_score(e));
    fprintf(f, ",\n  \"input\": {");
    if (img) {
        fprintf(f, "\"image\": ");
        cli_json_string(f, a->image);
        fprintf(f, ", \"width\": %d, \"height\": %d, \"resize\": \"%s\", \"scale\": \"%s\", ",
                img->w, img->h, cs_pp_resize_name(pp->resize), cs_pp_scale_name(pp->scale));
        fprintf(f, "\"mean\": [%.7g, %.7g, %.7g], \"std\": [%.7g, %.7g, %.7g], \"bgr\": %s, ",
                pp->mean[0], pp->mean[1], pp->mean[2], pp->std[0], pp->std[1], pp->std[2],
                pp->bgr ? "true" : "false");
        if (stats) {
            fprintf(f, "\"statistics\": ");
            cli_json_string(f, stats->path);
            fprintf(f, ", \"statistics_kind\": \"%s\", ", cs_stats_kind_name(stats->kind));
        }
    } else {
        fprintf(f, "\"tensor\": ");
        cli_json_string(f, a->in_pb);
        fprintf(f, ", ");
    }
    fprintf(f, "\"shape\": [1, %d, %d, %d]},\n", C, H, W);
    fprintf(f, "  \"class\": %d,\n", r->cls);
    if (r->cls < desc->n_labels) {
        fprintf(f, "  \"label\": ");
        cli_json_string(f, desc->labels[r->cls]);
        fprintf(f, ",\n");
    }
    fprintf(f, "  \"score\": ");
    cli_json_float(f, r->score);
    fprintf(f, ",\n  \"probability\": ");
    cli_json_float(f, prob[r->cls]);
    fprintf(f, ",\n  \"top\": [");
    for (int i = 0; i < k; i++) {
        fprintf(f, "%s\n    {\"class\": %d, ", i ? "," : "", rank[i].idx);
        if (rank[i].idx < desc->n_labels) {
            fprintf(f, "\"label\": ");
            cli_json_string(f, desc->labels[rank[i].idx]);
            fprintf(f, ", ");
        }
        fprintf(f, "\"score\": ");
        cli_json_float(f, rank[i].score);
        fprintf(f, ", \"probability\": ");
        cli_json_float(f, prob[rank[i].idx]);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"map\": {\"height\": %d, \"width\": %d, \"min\": ", map_h, map_w);
    cli_json_float(f, map_min);
    fprintf(f, ", \"max\": ");
    cli_json_float(f, map_max);
    fprintf(f, "},\n  \"box_threshold\": ");
    cli_json_float(f, a->box_threshold);
    fprintf(f, ",\n  \"boxes_in\": \"%s\",\n  \"boxes\": [", img ? "image" : "input");
    for (int i = 0; i < n_boxes; i++) {
        fprintf(f, "%s\n    {\"x0\": %.2f, \"y0\": %.2f, \"x1\": %.2f, \"y1\": %.2f, \"score\": ",
                i ? "," : "", boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1);
        cli_json_float(f, boxes[i].score);
        fprintf(f, ", \"area_input_px\": %d}", boxes[i].area);
    }
    fprintf(f, "%s],\n", n_boxes ? "\n  " : "");
    fprintf(f,
            "  \"timing_ms\": {\"load\": %.3f, \"setup\": %.3f, \"preprocess\": %.3f, "
            "\"explain\": %.3f, \"outputs\": %.3f, \"total\": %.3f}\n}\n",
            t->load, t->setup, t->preprocess, t->explain, t->outputs, t->total);
    return ferror(f) ? -1 : 0;
}

int cmd_explain(int argc, char **argv)
{
    double t0 = cli_now_ms();
    explain_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? CLI_OK : CLI_USAGE;

    char msg[1024];
    cs_error err = {0};
    /* The model, or a model description whose settings are the defaults. */
    cs_model_desc *desc = cs_model_desc_open(a.model, &err);
    if (!desc) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        return CLI_FAIL;
    }
    if (!a.method) a.method = desc->explain_method;
    if (!a.layer) a.layer = desc->explain_layer;
    if (!a.score) a.score = desc->classes;
    if (!a.method) {
        fprintf(stderr, "camstream " CMD ": --method NAME is required (see --help)\n");
        cs_model_desc_destroy(&desc);
        return CLI_USAGE;
    }
    cs_pp_opts pp;
    int pp_given = 0;
    int resolved = desc->path
                       ? pp_cli_resolve_over(&a.pp, &desc->pp, &pp, &pp_given, msg, sizeof msg)
                       : pp_cli_resolve(&a.pp, "imagenet", &pp, &pp_given, msg, sizeof msg);
    if (resolved) {
        fprintf(stderr, "camstream " CMD ": %s\n", msg);
        cs_model_desc_destroy(&desc);
        return CLI_USAGE;
    }
    /* A description's statistics apply unless the command line sets the normalization. */
    const cs_statistics *stats = desc->statistics && !pp_given ? desc->statistics : NULL;
    if (desc->path) pp_given = 1;
    /* Inverting the normalization for display: exact without statistics or with per-channel
     * ones; a mean image or whitening is shown min-max scaled. */
    if (stats && stats->kind == CS_STATS_MEAN_STD) {
        pp.scale = stats->scale;
        pp.bgr = stats->bgr;
        for (int c = 0; c < stats->channels; c++)
            pp.mean[c] = stats->mean[c], pp.std[c] = stats->std[c];
    }
    int invertible = !stats || stats->kind == CS_STATS_MEAN_STD;
    cs_method method = cs_method_from_name(a.method);
    if (method == CS_METHOD_COUNT) {
        fprintf(stderr, "camstream " CMD ": --method: unknown method '%s' (known:", a.method);
        for (int i = 0; i < CS_METHOD_COUNT; i++)
            fprintf(stderr, "%s %s", i ? "," : "", cs_method_name((cs_method)i));
        fprintf(stderr, ")\n");
        cs_model_desc_destroy(&desc);
        return CLI_USAGE;
    }

    int rc = CLI_FAIL;
    timing t = {0};
    cs_model *m = NULL, *decoder = NULL;
    cs_explainer *e = NULL;
    cs_tensor *in_t = NULL;
    cli_image img = {0};
    float *map = NULL, *map_in = NULL, *map_img = NULL;
    uint8_t *rgb = NULL, *base = NULL;
    ranked *rank = NULL;
    double *prob = NULL;

    double tl = cli_now_ms();
    m = cs_model_load_file(desc->model_file, &err);
    if (!m) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto done;
    }
    if (a.decoder && !(decoder = cs_model_load_file(a.decoder, &err))) {
        fprintf(stderr, "camstream " CMD ": decoder: %s\n", err.msg);
        goto done;
    }
    t.load = cli_now_ms() - tl;

    double ts = cli_now_ms();
    cs_explain_opts eo = cs_explain_opts_default(method);
    eo.layer = a.layer;
    eo.score = a.score;
    eo.threads = a.threads;
    eo.decoder = decoder;
    if (a.batch > 0) eo.batch = a.batch;
    if (a.samples > 0) eo.n_samples = a.samples;
    if (!isnan(a.sigma)) eo.sigma = a.sigma;
    if (a.rise_masks > 0) eo.rise_masks = a.rise_masks;
    if (a.rise_grid > 0) eo.rise_grid = a.rise_grid;
    if (!isnan(a.rise_p)) eo.rise_p = a.rise_p;
    if (a.seed >= 0) eo.seed = (uint32_t)a.seed;
    e = cs_explainer_new(m, &eo, &err);
    if (!e) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.model, lib_msg(&err));
        goto done;
    }
    t.setup = cli_now_ms() - ts;

    cs_tensor *x = cs_explainer_input(e);
    char shape[128], shape2[128];
    if (!x || x->ndim != 4 || x->dims[0] != 1) {
        fprintf(stderr, "camstream " CMD ": %s: the explainer's input is %s, not 1xCxHxW\n",
                a.model, x ? cs_shape_str(x, shape, sizeof shape) : "missing");
        goto done;
    }
    int C = (int)x->dims[1], H = (int)x->dims[2], W = (int)x->dims[3];

    /* The class, when given, against the declared scores (the library checks again). */
    const char *score_name = cs_explainer_score(e);
    for (int i = 0; a.cls >= 0 && score_name && i < cs_model_n_outputs(m); i++) {
        const cs_tensor *o = cs_model_output(m, i);
        if (!o->name || strcmp(o->name, score_name) != 0 || o->ndim < 1) continue;
        int64_t k = o->dims[o->ndim - 1];
        if (k > 0 && a.cls >= k) {
            fprintf(stderr,
                    "camstream " CMD ": --class %d is out of range: %s scores %lld classes "
                    "(0..%lld) in '%s'\n",
                    a.cls, a.model, (long long)k, (long long)k - 1, score_name);
            goto done;
        }
    }

    double tp = cli_now_ms();
    cs_pp_geom g;
    if (a.image) {
        if (cli_image_read(a.image, &img, msg, sizeof msg)) {
            fprintf(stderr, "camstream " CMD ": %s\n", msg);
            goto done;
        }
        if (pp_image_to_tensor_st(&img, &pp, stats, C, H, W, x->data, &g, msg, sizeof msg)) {
            fprintf(stderr, "camstream " CMD ": %s: %s\n", a.image, msg);
            goto done;
        }
    } else {
        in_t = cs_tensorproto_read_file(a.in_pb, &err);
        if (!in_t) {
            fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
            goto done;
        }
        int fits =
            in_t->type == CS_F32 && in_t->numel == x->numel &&
            ((in_t->ndim == 4 && in_t->dims[0] == 1 && in_t->dims[1] == C && in_t->dims[2] == H &&
              in_t->dims[3] == W) ||
             (in_t->ndim == 3 && in_t->dims[0] == C && in_t->dims[1] == H && in_t->dims[2] == W));
        if (!fits) {
            fprintf(stderr, "camstream " CMD ": %s: %s tensor %s does not fit the input %s of %s\n",
                    a.in_pb, in_t->type == CS_F32 ? "float" : "int64",
                    cs_shape_str(in_t, shape, sizeof shape), cs_shape_str(x, shape2, sizeof shape2),
                    a.model);
            goto done;
        }
        memcpy(x->data, in_t->data, cs_tensor_bytes(x));
        cs_pp_geometry(W, H, W, H, CS_RESIZE_STRETCH, &g);
    }
    t.preprocess = cli_now_ms() - tp;
    if (a.save_input) {
        cs_tensor saved = *x;
        saved.name = "input";
        if (cs_tensorproto_write_file(a.save_input, &saved, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": --save-input: %s\n", err.msg);
            goto done;
        }
    }

    double te = cli_now_ms();
    cs_explanation r;
    if (cs_explain_run(e, a.cls, &r, &err) != CS_OK) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.model, lib_msg(&err));
        goto done;
    }
    t.explain = cli_now_ms() - te;

    double to = cli_now_ms();
    if (!r.map || r.map->ndim < 2 || r.map->type != CS_F32) {
        fprintf(stderr, "camstream " CMD ": %s: method %s returned no 2-D map\n", a.model,
                cs_method_name(method));
        goto done;
    }
    int mh = (int)r.map->dims[r.map->ndim - 2], mw = (int)r.map->dims[r.map->ndim - 1];
    if ((int64_t)mh * mw != r.map->numel || mh < 1 || mw < 1) {
        fprintf(stderr, "camstream " CMD ": %s: map of shape %s is not one h x w map\n", a.model,
                cs_shape_str(r.map, shape, sizeof shape));
        goto done;
    }

    /* Ranking and softmax over every class score. */
    const cs_tensor *sc = r.scores;
    int ncls = sc ? (int)sc->numel : 0;
    if (ncls < 1 || r.cls < 0 || r.cls >= ncls) {
        fprintf(stderr, "camstream " CMD ": %s: class %d outside the %d scores returned\n", a.model,
                r.cls, ncls);
        goto done;
    }
    rank = malloc(sizeof *rank * (size_t)ncls);
    prob = malloc(sizeof *prob * (size_t)ncls);
    if (!rank || !prob) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    const float *s = sc->data;
    double smax = -INFINITY, ssum = 0;
    for (int i = 0; i < ncls; i++) smax = s[i] > smax ? s[i] : smax;
    for (int i = 0; i < ncls; i++) ssum += (prob[i] = exp(s[i] - smax));
    for (int i = 0; i < ncls; i++) {
        prob[i] /= ssum;
        rank[i].idx = i;
        rank[i].score = s[i];
    }
    qsort(rank, (size_t)ncls, sizeof *rank, ranked_cmp);
    int k = a.top < ncls ? a.top : ncls;

    /* The normalized map at the map's, the input's and the image's resolution. */
    int64_t n = (int64_t)mh * mw;
    map = malloc(sizeof(float) * (size_t)n);
    map_in = malloc(sizeof(float) * (size_t)H * W);
    if (!map || !map_in) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    memcpy(map, r.map->data, sizeof(float) * (size_t)n);
    float mmin = INFINITY, mmax = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (map[i] < mmin) mmin = map[i];
        if (map[i] > mmax) mmax = map[i];
    }
    cs_map_normalize(map, n);
    cs_map_resize(map, mh, mw, map_in, H, W);

    cs_box cb[MAX_BOXES];
    out_box boxes[MAX_BOXES];
    int min_area = H * W / 100 > 1 ? H * W / 100 : 1;
    int nb = cs_map_boxes(map_in, H, W, a.box_threshold, 1, min_area, cb, MAX_BOXES);
    for (int i = 0; i < nb; i++) {
        double rect[4];
        cs_pp_rect_to_image(&g, cb[i].x0, cb[i].y0, cb[i].x1, cb[i].y1, rect);
        boxes[i] = (out_box){rect[0], rect[1], rect[2], rect[3], cb[i].score, cb[i].area};
    }

    int ow = a.image ? img.w : W, oh = a.image ? img.h : H;
    if (a.out_heatmap || a.out_overlay) {
        map_img = malloc(sizeof(float) * (size_t)ow * oh);
        rgb = malloc((size_t)ow * oh * 3);
        if (!map_img || !rgb || cs_pp_map_to_image(map, mh, mw, &g, map_img)) {
            fprintf(stderr, "camstream " CMD ": out of memory\n");
            goto done;
        }
    }
    int out_fail = 0;
    if (a.out_heatmap) {
        cs_colormap_apply(a.cmap, map_img, (int64_t)ow * oh, rgb);
        if (cli_image_write_png(a.out_heatmap, rgb, ow, oh, msg, sizeof msg)) {
            fprintf(stderr, "camstream " CMD ": --out-heatmap: %s\n", msg);
            out_fail = 1;
        }
    }
    if (!out_fail && a.out_overlay) {
        const uint8_t *under = img.rgb;
        if (r.image && r.image->ndim == 4 && r.image->dims[2] == H && r.image->dims[3] == W) {
            /* Perception visualization: the reconstruction seen through the map. */
            base = malloc((size_t)H * W * 3);
            if (!base) {
                out_fail = 1;
                fprintf(stderr, "camstream " CMD ": out of memory\n");
            } else {
                cs_pp_tensor_to_rgb(r.image->data, (int)r.image->dims[1], H, W,
                                    (pp_given || a.image) && invertible ? &pp : NULL, base);
                for (int64_t i = 0; i < (int64_t)H * W; i++)
                    for (int c = 0; c < 3; c++)
                        base[3 * i + c] = (uint8_t)(base[3 * i + c] * map_in[i] + 0.5f);
                ow = W, oh = H;
                free(rgb);
                rgb = base;
                base = NULL;
            }
        } else {
            if (!under) {
                base = malloc((size_t)H * W * 3);
                if (base)
                    cs_pp_tensor_to_rgb(x->data, C, H, W, pp_given && invertible ? &pp : NULL,
                                        base);
                under = base;
            }
            if (!under) {
                out_fail = 1;
                fprintf(stderr, "camstream " CMD ": out of memory\n");
            } else {
                cs_colormap_overlay(a.cmap, map_img, under, (int64_t)ow * oh, a.alpha,
                                    a.overlay_threshold, rgb);
            }
        }
        if (!out_fail && cli_image_write_png(a.out_overlay, rgb, ow, oh, msg, sizeof msg)) {
            fprintf(stderr, "camstream " CMD ": --out-overlay: %s\n", msg);
            out_fail = 1;
        }
    }
    if (!out_fail && a.raw_out) {
        cs_tensor raw = *r.map;
        raw.name = "map";
        if (cs_tensorproto_write_file(a.raw_out, &raw, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": --raw-out: %s\n", err.msg);
            out_fail = 1;
        }
    }
    t.outputs = cli_now_ms() - to;
    t.total = cli_now_ms() - t0;
    if (!out_fail && a.json) {
        int to_stdout = strcmp(a.json, "-") == 0;
        FILE *jf = to_stdout ? stdout : fopen(a.json, "w");
        if (!jf) {
            fprintf(stderr, "camstream " CMD ": --json: %s: %s\n", a.json, strerror(errno));
            out_fail = 1;
        } else {
            int bad = write_json(jf, &a, e, &r, rank, prob, k, C, H, W, a.image ? &img : NULL, &pp,
                                 desc, stats, mh, mw, mmin, mmax, boxes, nb, &t);
            if (!to_stdout && fclose(jf) != 0) bad = 1;
            if (to_stdout && fflush(stdout) != 0) bad = 1;
            if (bad) {
                fprintf(stderr, "camstream " CMD ": --json: %s: write error\n", a.json);
                out_fail = 1;
            }
        }
    }
    if (!out_fail && !a.quiet && !(a.json && strcmp(a.json, "-") == 0)) {
        const char *layer = cs_explainer_layer(e);
        printf("%s: class %d, score %.4g, p %.3f; map %dx%d%s%s%s, %d box(es); explain %.1f ms\n",
               cs_method_name(method), r.cls, r.score, prob[r.cls], mh, mw, layer ? " at '" : "",
               layer ? layer : "", layer ? "'" : "", nb, t.explain);
    }
    rc = out_fail ? CLI_FAIL : CLI_OK;
done:
    free(rank);
    free(prob);
    free(map);
    free(map_in);
    free(map_img);
    free(rgb);
    free(base);
    cli_image_free(&img);
    cs_tensor_free(&in_t);
    cs_explainer_destroy(&e);
    cs_model_destroy(&decoder);
    cs_model_destroy(&m);
    cs_model_desc_destroy(&desc);
    return rc;
}
