/* camstream eval: how well a trained model classifies and localizes on a held-out split, and
 * how well its explanations point at the object (docs/QUALITY.md).
 *
 *     camstream eval --model models/shapes.model --data data/shapes --split test \
 *         --methods cam,gradcam --json q.json --markdown q.md
 *
 * Reads the model description (preprocessing, statistics, heads, explain layer), the dataset
 * (camstream/dataset.h) and, for the baselines, its training split. The metrics live in
 * train/ (camstream/eval.h); this file loads, loops and reports. Errors are one line on
 * stderr; exit 0 ok, 1 failure, 2 usage. */
#include "cli.h"
#include "eval_report.h"

#include "camstream/core.h"
#include "camstream/dataset.h"
#include "camstream/eval.h"
#include "camstream/explain.h"
#include "camstream/formats.h"
#include "camstream/preprocess.h"
#include "camstream/train.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMD "eval"
#define DEFAULT_METHODS "cam,gradcam,gradcampp,scorecam,rise,augmented_gradcam"

typedef struct {
    const char *model, *data, *methods, *json, *markdown, *dump, *target;
    cs_split split;
    int count, threads, batch, step, curves, rise_masks, aug_count, quiet;
    float threshold, tol, alpha;
    int seed;
} eval_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: camstream eval --model M.model --data DIR [options]\n"
               "\n"
               "Evaluates a trained model on a held-out split of a camstream dataset: top-1\n"
               "accuracy, boxes from explanation maps (IoU, localization accuracy, pointing game,\n"
               "deletion/insertion AUC), the box head, keypoint PCK, and baselines from the\n"
               "training split (docs/QUALITY.md).\n"
               "\n"
               "  --split NAME          test (default), val or train\n"
               "  --count N             the first N images of the split (default: all)\n"
               "  --methods LIST        explanation methods, comma-separated, or 'none'\n"
               "                        (default " DEFAULT_METHODS ";\n"
               "                        gradcam++ and augmented-gradcam are accepted)\n"
               "  --target truth|predicted  class explained (default truth: the labelled class)\n"
               "  --threshold F         map box: largest component >= F x max (default 0.15)\n"
               "  --pointing-tolerance PX  pointing game tolerance (default 15/224 of the\n"
               "                        image's larger side, as Zhang et al.'s 15 px at 224)\n"
               "  --step PX             deletion/insertion pixels per step (default: input width)\n"
               "  --no-curves           skip deletion/insertion (the slow part)\n"
               "  --pck-alpha F         PCK threshold factor (default 0.2)\n"
               "  --rise-masks N, --aug-count N, --batch N, --seed N, --threads N\n"
               "  --json FILE           every figure as JSON ('-': stdout)\n"
               "  --markdown FILE       the tables of docs/QUALITY.md\n"
               "  --dump DIR            per-image maps, boxes, curves, keypoints (for\n"
               "                        tools/eval_reference.py)\n"
               "  --quiet               no summary on stdout\n");
}

enum {
    O_MODEL = 256,
    O_DATA,
    O_SPLIT,
    O_COUNT,
    O_METHODS,
    O_TARGET,
    O_THRESH,
    O_TOL,
    O_STEP,
    O_NOCURVES,
    O_ALPHA,
    O_RMASKS,
    O_AUG,
    O_BATCH,
    O_SEED,
    O_THREADS,
    O_JSON,
    O_MD,
    O_DUMP,
    O_QUIET,
};

static int parse_args(int argc, char **argv, eval_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"count", required_argument, NULL, O_COUNT},
        {"methods", required_argument, NULL, O_METHODS},
        {"target", required_argument, NULL, O_TARGET},
        {"threshold", required_argument, NULL, O_THRESH},
        {"pointing-tolerance", required_argument, NULL, O_TOL},
        {"step", required_argument, NULL, O_STEP},
        {"no-curves", no_argument, NULL, O_NOCURVES},
        {"pck-alpha", required_argument, NULL, O_ALPHA},
        {"rise-masks", required_argument, NULL, O_RMASKS},
        {"aug-count", required_argument, NULL, O_AUG},
        {"batch", required_argument, NULL, O_BATCH},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"json", required_argument, NULL, O_JSON},
        {"markdown", required_argument, NULL, O_MD},
        {"dump", required_argument, NULL, O_DUMP},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->split = CS_SPLIT_TEST;
    a->methods = DEFAULT_METHODS;
    a->target = "truth";
    a->threshold = 0.15f;
    a->tol = -1;
    a->alpha = 0.2f;
    a->curves = 1;
    a->batch = 16;
    a->seed = 1;
    a->rise_masks = a->aug_count = -1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_MODEL:
            a->model = optarg;
            break;
        case O_DATA:
            a->data = optarg;
            break;
        case O_SPLIT:
            if (cs_split_parse(optarg, &a->split)) {
                fprintf(stderr, "camstream " CMD ": --split: '%s' is not one of train, val, test\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_COUNT:
            bad = cli_parse_int(CMD, "--count", optarg, 1, 1 << 30, &a->count);
            break;
        case O_METHODS:
            a->methods = optarg;
            break;
        case O_TARGET:
            a->target = optarg;
            if (strcmp(optarg, "truth") && strcmp(optarg, "predicted")) {
                fprintf(stderr,
                        "camstream " CMD ": --target: '%s' is not one of truth, predicted\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_THRESH:
            bad = cli_parse_float(CMD, "--threshold", optarg, 1e-6, 1, &a->threshold);
            break;
        case O_TOL:
            bad = cli_parse_float(CMD, "--pointing-tolerance", optarg, 0, 1e6, &a->tol);
            break;
        case O_STEP:
            bad = cli_parse_int(CMD, "--step", optarg, 1, 1 << 24, &a->step);
            break;
        case O_NOCURVES:
            a->curves = 0;
            break;
        case O_ALPHA:
            bad = cli_parse_float(CMD, "--pck-alpha", optarg, 1e-6, 100, &a->alpha);
            break;
        case O_RMASKS:
            bad = cli_parse_int(CMD, "--rise-masks", optarg, 1, 1 << 20, &a->rise_masks);
            break;
        case O_AUG:
            bad = cli_parse_int(CMD, "--aug-count", optarg, 1, 1 << 16, &a->aug_count);
            break;
        case O_BATCH:
            bad = cli_parse_int(CMD, "--batch", optarg, 1, 4096, &a->batch);
            break;
        case O_SEED:
            bad = cli_parse_int(CMD, "--seed", optarg, 0, 2147483647, &a->seed);
            break;
        case O_THREADS:
            bad = cli_parse_int(CMD, "--threads", optarg, 1, 256, &a->threads);
            break;
        case O_JSON:
            a->json = optarg;
            break;
        case O_MD:
            a->markdown = optarg;
            break;
        case O_DUMP:
            a->dump = optarg;
            break;
        case O_QUIET:
            a->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    if (!a->model || !a->data) {
        fprintf(stderr,
                "camstream " CMD ": --model M.model and --data DIR are required (see --help)\n");
        return 2;
    }
    return 0;
}

/* "gradcam++" -> gradcampp, "augmented-gradcam" -> augmented_gradcam. */
static cs_method method_lookup(const char *tok)
{
    char buf[64];
    size_t j = 0;
    for (size_t i = 0; tok[i] && j + 3 < sizeof buf; i++) {
        if (tok[i] == '+')
            buf[j++] = 'p';
        else
            buf[j++] = tok[i] == '-' ? '_' : tok[i];
    }
    buf[j] = 0;
    return cs_method_from_name(buf);
}

/* Parses the list into methods[]; returns the count or -1 (reported). */
static int parse_methods(const char *list, cs_method *out, int max)
{
    if (!strcmp(list, "none")) return 0;
    char *copy = strdup(list);
    if (!copy) return -1;
    int n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cs_method m = method_lookup(t);
        if (m == CS_METHOD_COUNT || m == CS_METHOD_PV) {
            fprintf(stderr, "camstream " CMD ": --methods: unknown method '%s' (known:", t);
            for (int i = 0; i < CS_METHOD_COUNT; i++)
                if (i != CS_METHOD_PV) fprintf(stderr, "%s %s", i ? "," : "", cs_method_name(i));
            fprintf(stderr, ")\n");
            free(copy);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (out[i] == m) m = CS_METHOD_COUNT;
        if (m != CS_METHOD_COUNT && n < max) out[n++] = m;
    }
    free(copy);
    return n;
}

/* The output tensor `name` of plan p, checked to hold at least `numel` floats. */
static const cs_tensor *head(cs_plan *p, const char *name, int64_t numel, const char *what)
{
    cs_error err = {0};
    const cs_tensor *t = cs_plan_tensor(p, name, &err);
    if (!t || t->type != CS_F32 || t->numel < numel) {
        fprintf(stderr, "camstream " CMD ": %s head '%s': %s\n", what, name,
                t ? "not a float tensor of the expected size" : err.msg);
        return NULL;
    }
    return t;
}

/* Fills a row from one image's box and point (image pixels); box NULL: no box. */
static void score_loc(ev_row *w, const double *box, const double gt[4], int correct, int hasp,
                      double px, double py, double tol)
{
    w->n++;
    if (box) {
        double iou = cs_eval_iou(box, gt);
        w->has_box = 1;
        w->iou_sum += iou;
        w->loc += iou >= 0.5;
        w->loc_cls += iou >= 0.5 && correct;
    }
    if (hasp) {
        double d = cs_eval_point_box_distance(px, py, gt);
        w->has_point = 1;
        w->point_n++;
        w->point += d == 0.0;
        w->point_tol += d <= tol;
    }
}

static FILE *dump_open(const char *dir, const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f) fprintf(stderr, "camstream " CMD ": --dump: %s: %s\n", path, strerror(errno));
    return f;
}

typedef struct {
    cs_explainer *e;
    cs_method m;
    ev_row *row;
    FILE *maps, *rows;
} method_state;

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? CLI_OK : CLI_USAGE;
    cs_method methods[CS_METHOD_COUNT];
    int n_methods = parse_methods(a.methods, methods, CS_METHOD_COUNT);
    if (n_methods < 0) return CLI_USAGE;

    int rc = CLI_FAIL;
    cs_error err = {0};
    cs_model_desc *desc = NULL;
    cs_model *m = NULL;
    cs_dataset *ds = NULL;
    cs_plan *plan = NULL;
    cs_pp *pp = NULL;
    cs_eval_scorer *scorer = NULL;
    method_state ms[CS_METHOD_COUNT] = {0};
    float *x = NULL, *map_in = NULL, *rnd = NULL, *mean_kp = NULL, *pred_kp = NULL;
    uint8_t *rgb = NULL;
    double *del = NULL, *ins = NULL;
    int *pck = NULL;
    FILE *dump_rows = NULL, *dump_kp = NULL, *dump_curves = NULL;
    ev_results R;
    memset(&R, 0, sizeof R);

    if (!(desc = cs_model_desc_open(a.model, &err)) ||
        !(m = cs_model_load_file(desc->model_file, &err)) ||
        cs_model_desc_check(desc, m, &err) != CS_OK) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto done;
    }
    if (!(ds = cs_dataset_load(a.data, &err))) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto done;
    }
    const cs_tensor *in = cs_model_desc_input(desc, m, &err);
    if (!in) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.model, err.msg);
        goto done;
    }
    int C = (int)in->dims[1], H = (int)in->dims[2], W = (int)in->dims[3];
    int n = cs_dataset_count(ds, a.split);
    if (a.count > 0 && a.count < n) n = a.count;
    if (n < 1) {
        fprintf(stderr, "camstream " CMD ": %s has no %s images\n", a.data, cs_split_name(a.split));
        goto done;
    }
    const char *heads[3];
    int n_heads = 0;
    if (desc->classes) heads[n_heads++] = desc->classes;
    if (desc->boxes) heads[n_heads++] = desc->boxes;
    if (desc->keypoints) heads[n_heads++] = desc->keypoints;
    if (!n_heads) {
        fprintf(stderr, "camstream " CMD ": %s declares no classes, boxes or keypoints head\n",
                a.model);
        goto done;
    }
    if (desc->keypoint_heatmaps && !desc->keypoints) {
        fprintf(stderr, "camstream " CMD ": %s: keypoint heatmaps are not evaluated yet\n",
                a.model);
        goto done;
    }
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = a.threads;
    po.keep = heads;
    po.n_keep = n_heads;
    if (!(plan = cs_plan_new(m, &po, &err)) ||
        !(pp = cs_pp_new(&desc->pp, desc->statistics, C, H, W, &err))) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.model, err.msg);
        goto done;
    }
    cs_tensor *px = cs_plan_input(plan, 0);
    const cs_tensor *t_cls = NULL, *t_box = NULL, *t_kp = NULL;
    int K = 0, J = 0;
    if (desc->classes) {
        if (!(t_cls = head(plan, desc->classes, 1, "classes"))) goto done;
        K = (int)t_cls->numel;
        if (K != ds->n_classes) {
            fprintf(stderr,
                    "camstream " CMD ": %s scores %d classes, %s has %d (labels.txt): not the "
                    "model's dataset\n",
                    a.model, K, a.data, ds->n_classes);
            goto done;
        }
    }
    if (desc->boxes && !(t_box = head(plan, desc->boxes, 4, "boxes"))) goto done;
    if (desc->keypoints) {
        if (!(t_kp = head(plan, desc->keypoints, 2, "keypoints"))) goto done;
        J = (int)(t_kp->numel / 2);
        if (J != ds->n_keypoints || J > EV_MAX_JOINTS) {
            fprintf(stderr, "camstream " CMD ": %s predicts %d joints, %s labels %d\n", a.model, J,
                    a.data, ds->n_keypoints);
            goto done;
        }
        if (desc->keypoint_coords == CS_KP_BOX && !t_box) {
            fprintf(stderr, "camstream " CMD ": %s: keypoint_coords = box needs a boxes head\n",
                    a.model);
            goto done;
        }
    }
    if (!t_cls) n_methods = 0; /* explanations need class scores */

    /* Baselines from the training split only (no peeking at the evaluated split). */
    int ntr = cs_dataset_count(ds, CS_SPLIT_TRAIN);
    long *cls_count = calloc((size_t)(ds->n_classes > 0 ? ds->n_classes : 1), sizeof(long));
    mean_kp = calloc((size_t)(2 * (J > 0 ? J : 1)), sizeof(float));
    long kp_n[EV_MAX_JOINTS] = {0};
    double kp_sum[2 * EV_MAX_JOINTS] = {0}, sw = 0, sh = 0;
    if (!cls_count || !mean_kp) {
        free(cls_count);
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    for (int i = 0; i < ntr; i++) {
        const cs_sample *s = cs_dataset_get(ds, CS_SPLIT_TRAIN, i);
        cls_count[s->cls]++;
        sw += s->box[2] / ds->width;
        sh += s->box[3] / ds->height;
        for (int j = 0; j < J && s->kp; j++)
            if (s->kp[j].v > 0) {
                kp_sum[2 * j] += s->kp[j].x, kp_sum[2 * j + 1] += s->kp[j].y;
                kp_n[j]++;
            }
    }
    R.majority = 0;
    for (int k = 1; k < ds->n_classes; k++)
        if (cls_count[k] > cls_count[R.majority]) R.majority = k;
    free(cls_count);
    R.n_train = ntr;
    R.mean_w = ntr ? sw / ntr : NAN;
    R.mean_h = ntr ? sh / ntr : NAN;
    for (int j = 0; j < J; j++) {
        mean_kp[2 * j] = kp_n[j] ? (float)(kp_sum[2 * j] / kp_n[j]) : ds->width * 0.5f;
        mean_kp[2 * j + 1] = kp_n[j] ? (float)(kp_sum[2 * j + 1] / kp_n[j]) : ds->height * 0.5f;
    }

    R.model = a.model;
    R.data = a.data;
    R.split = cs_split_name(a.split);
    R.target = a.target;
    R.n = n;
    R.K = K;
    R.H = H;
    R.W = W;
    R.has_cls = t_cls != NULL;
    R.threshold = a.threshold;
    int side = ds->width > ds->height ? ds->width : ds->height;
    R.tol = a.tol >= 0 ? a.tol : 15.0 * side / 224.0;
    R.alpha = a.alpha;
    R.step = a.step > 0 ? a.step : W;
    R.curves = a.curves && n_methods > 0;
    R.J = J;
    R.joints = ds->keypoint_names;
    R.torso_a = R.torso_b = -1;
    for (int j = 0; j < J; j++) {
        if (!strcmp(ds->keypoint_names[j], "l_shoulder")) R.torso_a = j;
        if (!strcmp(ds->keypoint_names[j], "r_hip")) R.torso_b = j;
    }

    if (a.dump) {
        mkdir(a.dump, 0777); /* an existing directory is fine; fopen reports the rest */
        if (!(dump_rows = dump_open(a.dump, "boxes.csv", "w"))) goto done;
        fprintf(dump_rows, "# image,row,gt_x0,gt_y0,gt_x1,gt_y1,box_x0,box_y0,box_x1,box_y1,iou,"
                           "point_x,point_y,hit,hit_tol,auc_del,auc_ins\n");
        if (R.curves && !(dump_curves = dump_open(a.dump, "curves.csv", "w"))) goto done;
        if (J && !(dump_kp = dump_open(a.dump, "keypoints.csv", "w"))) goto done;
        FILE *meta = dump_open(a.dump, "settings.txt", "w");
        if (!meta) goto done;
        fprintf(meta, "height %d\nwidth %d\nthreshold %.9g\ntolerance %.9g\nalpha %.9g\n", H, W,
                R.threshold, R.tol, R.alpha);
        fclose(meta);
    }

    /* Rows: the methods, then the baselines and heads. */
    for (int i = 0; i < n_methods; i++) {
        cs_explain_opts eo = cs_explain_opts_default(methods[i]);
        eo.layer = desc->explain_layer;
        eo.score = desc->classes;
        eo.threads = a.threads;
        eo.batch = a.batch;
        eo.seed = (uint32_t)a.seed;
        if (a.rise_masks > 0) eo.rise_masks = a.rise_masks;
        if (a.aug_count > 0) eo.aug_count = a.aug_count;
        ms[i].m = methods[i];
        if (!(ms[i].e = cs_explainer_new(m, &eo, &err))) {
            fprintf(stderr, "camstream " CMD ": %s: %s: %s\n", a.model, cs_method_name(methods[i]),
                    err.msg);
            goto done;
        }
        ms[i].row = &R.rows[R.n_rows++];
        snprintf(ms[i].row->name, sizeof ms[i].row->name, "%s", cs_method_name(methods[i]));
        if (a.dump) {
            char name[96];
            snprintf(name, sizeof name, "map_%s.f32", cs_method_name(methods[i]));
            if (!(ms[i].maps = dump_open(a.dump, name, "wb"))) goto done;
        }
    }
    /* The centre baselines compare with boxes and points: not for a pose-only model. */
    ev_row *r_centre = NULL, *r_random = NULL, *r_head = NULL;
    if (t_cls || t_box) {
        r_centre = &R.rows[R.n_rows++];
        snprintf(r_centre->name, sizeof r_centre->name, "baseline: centre");
    }
    if (R.curves) {
        r_random = &R.rows[R.n_rows++];
        snprintf(r_random->name, sizeof r_random->name, "baseline: random map");
    }
    if (t_box) {
        r_head = &R.rows[R.n_rows++];
        snprintf(r_head->name, sizeof r_head->name, "box head (%s)", desc->boxes);
    }
    if (R.curves && !(scorer = cs_eval_scorer_new(m, desc->classes, desc->classes_activation,
                                                  a.batch, a.threads, &err))) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.model, err.msg);
        goto done;
    }
    int npts = cs_eval_curve_points(H * W, R.step);
    x = malloc(sizeof(float) * (size_t)C * H * W);
    map_in = malloc(sizeof(float) * (size_t)H * W);
    rnd = malloc(sizeof(float) * (size_t)H * W);
    rgb = malloc((size_t)ds->width * ds->height * 3);
    del = malloc(sizeof(double) * (size_t)npts);
    ins = malloc(sizeof(double) * (size_t)npts);
    pck = malloc(sizeof(int) * (size_t)(J + 1));
    pred_kp = malloc(sizeof(float) * (size_t)(2 * J + 2));
    if (!x || !map_in || !rnd || !rgb || !del || !ins || !pck || !pred_kp) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    cs_rng rng;
    cs_rng_seed(&rng, (uint64_t)a.seed);
    int truth = !strcmp(a.target, "truth");

    for (int i = 0; i < n; i++) {
        const cs_sample *s = cs_dataset_get(ds, a.split, i);
        cs_pp_geom g;
        cs_frame f = {.format = CS_PIX_RGB,
                      .width = ds->width,
                      .height = ds->height,
                      .data = {rgb},
                      .stride = {ds->width * 3}};
        if (cs_dataset_image_u8(ds, s, rgb, &err) != CS_OK ||
            cs_pp_run(pp, &f, x, &g, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
            goto done;
        }
        memcpy(px->data, x, sizeof(float) * (size_t)C * H * W);
        if (cs_plan_run(plan, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": %s: %s: %s\n", a.model, s->file, err.msg);
            goto done;
        }
        double gt[4];
        cs_eval_xywh_to_xyxy(s->box, gt);
        int pred = -1;
        if (t_cls) {
            const float *sc = t_cls->data;
            pred = 0;
            for (int k = 1; k < K; k++)
                if (sc[k] > sc[pred]) pred = k;
            R.correct += pred == s->cls;
            R.majority_correct += R.majority == s->cls;
        }
        int correct = pred == s->cls;
        if (t_box) {
            double b[4], bi[4];
            cs_eval_decode_box(t_box->data, desc->box_format, desc->box_coords, W, H, b);
            cs_pp_rect_to_image(&g, b[0], b[1], b[2], b[3], bi);
            score_loc(r_head, bi, gt, correct, 0, 0, 0, R.tol);
        }
        if (t_kp) {
            const float *kp = t_kp->data;
            double bb[4] = {0, 0, W, H};
            if (desc->keypoint_coords == CS_KP_BOX)
                cs_eval_decode_box(t_box->data, desc->box_format, desc->box_coords, W, H, bb);
            float gtk[3 * EV_MAX_JOINTS];
            for (int j = 0; j < J; j++) {
                double u = bb[0] + kp[2 * j] * (bb[2] - bb[0]),
                       v = bb[1] + kp[2 * j + 1] * (bb[3] - bb[1]);
                double ix, iy;
                cs_pp_point_to_image(&g, u, v, &ix, &iy);
                pred_kp[2 * j] = (float)ix, pred_kp[2 * j + 1] = (float)iy;
                gtk[3 * j] = s->kp[j].x, gtk[3 * j + 1] = s->kp[j].y,
                        gtk[3 * j + 2] = (float)s->kp[j].v;
            }
            double norm = s->box[2] > s->box[3] ? s->box[2] : s->box[3];
            cs_eval_pck(pred_kp, gtk, J, R.alpha, norm, pck);
            for (int j = 0; j < J; j++)
                if (pck[j] >= 0) R.pck_n[j]++, R.pck_ok[j] += pck[j];
            if (dump_kp) {
                fprintf(dump_kp, "%d,%.9g", i, norm);
                for (int j = 0; j < J; j++)
                    fprintf(dump_kp, ",%.9g,%.9g,%.9g,%.9g,%g,%d", pred_kp[2 * j],
                            pred_kp[2 * j + 1], gtk[3 * j], gtk[3 * j + 1], gtk[3 * j + 2], pck[j]);
                fputc('\n', dump_kp);
            }
            cs_eval_pck(mean_kp, gtk, J, R.alpha, norm, pck);
            for (int j = 0; j < J; j++)
                if (pck[j] >= 0) R.pck_base_ok[j] += pck[j];
            double torso = cs_eval_torso(gtk, R.torso_a, R.torso_b);
            if (torso > 0) { /* counted over the labelled joints of these images */
                R.torso_ok += cs_eval_pck(pred_kp, gtk, J, R.alpha, torso, pck);
                R.torso_base_ok += cs_eval_pck(mean_kp, gtk, J, R.alpha, torso, pck);
                for (int j = 0; j < J; j++) R.torso_n += pck[j] >= 0;
            }
        }
        /* Baselines: a centred box of the training split's mean size, the centre point. */
        double cw = R.mean_w * ds->width, ch = R.mean_h * ds->height;
        double cb[4] = {0.5 * (ds->width - cw), 0.5 * (ds->height - ch), 0.5 * (ds->width + cw),
                        0.5 * (ds->height + ch)};
        if (r_centre)
            score_loc(r_centre, ntr ? cb : NULL, gt, correct, 1, 0.5 * ds->width, 0.5 * ds->height,
                      R.tol);
        if (r_random) {
            for (int k = 0; k < H * W; k++) rnd[k] = (float)cs_rng_uniform(&rng);
            int cls = truth ? s->cls : pred;
            int np = cs_eval_curves(scorer, x, rnd, cls, R.step, del, ins, &err);
            if (np < 0) {
                fprintf(stderr, "camstream " CMD ": %s: %s\n", s->file, err.msg);
                goto done;
            }
            r_random->n++;
            r_random->n_curves++;
            r_random->del_sum += cs_eval_auc(del, np);
            r_random->ins_sum += cs_eval_auc(ins, np);
        }
        for (int k = 0; k < n_methods; k++) {
            method_state *st = &ms[k];
            memcpy(cs_explainer_input(st->e)->data, x, sizeof(float) * (size_t)C * H * W);
            cs_explanation ex;
            double t0 = cli_now_ms();
            if (cs_explain_run(st->e, truth ? s->cls : -1, &ex, &err) != CS_OK) {
                fprintf(stderr, "camstream " CMD ": %s: %s: %s\n", s->file, cs_method_name(st->m),
                        err.msg);
                goto done;
            }
            st->row->ms_sum += cli_now_ms() - t0;
            const cs_tensor *mp = ex.map;
            int mh = (int)mp->dims[mp->ndim - 2], mw = (int)mp->dims[mp->ndim - 1];
            float *tmp = malloc(sizeof(float) * (size_t)mh * mw);
            if (!tmp) {
                fprintf(stderr, "camstream " CMD ": out of memory\n");
                goto done;
            }
            memcpy(tmp, mp->data, sizeof(float) * (size_t)mh * mw);
            cs_map_normalize(tmp, (int64_t)mh * mw);
            cs_map_resize(tmp, mh, mw, map_in, H, W);
            free(tmp);
            cs_box b;
            double bi[4] = {0, 0, 0, 0}, pxy[2];
            int nb = cs_map_boxes(map_in, H, W, R.threshold, 0, 1, &b, 1);
            if (nb == 1) cs_pp_rect_to_image(&g, b.x0, b.y0, b.x1, b.y1, bi);
            int64_t am = cs_eval_argmax(map_in, (int64_t)H * W);
            if (am < 0) am = 0;
            cs_pp_point_to_image(&g, (double)(am % W) + 0.5, (double)(am / W) + 0.5, &pxy[0],
                                 &pxy[1]);
            score_loc(st->row, bi, gt, correct, 1, pxy[0], pxy[1], R.tol);
            double ad = NAN, ai = NAN;
            if (R.curves) {
                int np = cs_eval_curves(scorer, x, map_in, ex.cls, R.step, del, ins, &err);
                if (np < 0) {
                    fprintf(stderr, "camstream " CMD ": %s: %s\n", s->file, err.msg);
                    goto done;
                }
                ad = cs_eval_auc(del, np), ai = cs_eval_auc(ins, np);
                st->row->n_curves++;
                st->row->del_sum += ad;
                st->row->ins_sum += ai;
                if (dump_curves) {
                    fprintf(dump_curves, "%d,%s,del", i, cs_method_name(st->m));
                    for (int p = 0; p < np; p++) fprintf(dump_curves, ",%.9g", del[p]);
                    fprintf(dump_curves, "\n%d,%s,ins", i, cs_method_name(st->m));
                    for (int p = 0; p < np; p++) fprintf(dump_curves, ",%.9g", ins[p]);
                    fputc('\n', dump_curves);
                }
            }
            if (dump_rows) {
                double d = cs_eval_point_box_distance(pxy[0], pxy[1], gt);
                fprintf(dump_rows,
                        "%d,%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d,%.9g,%."
                        "9g\n",
                        i, cs_method_name(st->m), gt[0], gt[1], gt[2], gt[3], bi[0], bi[1], bi[2],
                        bi[3], cs_eval_iou(bi, gt), pxy[0], pxy[1], d == 0.0, d <= R.tol, ad, ai);
                if (fwrite(map_in, sizeof(float), (size_t)H * W, st->maps) != (size_t)H * W) {
                    fprintf(stderr, "camstream " CMD ": --dump: write error\n");
                    goto done;
                }
            }
        }
    }

    if (!a.quiet && !(a.json && !strcmp(a.json, "-"))) ev_print_text(stdout, &R);
    rc = CLI_OK;
    if (a.json) {
        int out = !strcmp(a.json, "-");
        FILE *jf = out ? stdout : fopen(a.json, "w");
        if (!jf || ev_write_json(jf, &R) || (!out && fclose(jf))) {
            fprintf(stderr, "camstream " CMD ": --json: %s: write error\n", a.json);
            rc = CLI_FAIL;
        }
    }
    if (a.markdown) {
        FILE *mf = fopen(a.markdown, "w");
        if (!mf || ev_write_markdown(mf, &R) || fclose(mf)) {
            fprintf(stderr, "camstream " CMD ": --markdown: %s: write error\n", a.markdown);
            rc = CLI_FAIL;
        }
    }
done:
    for (int i = 0; i < CS_METHOD_COUNT; i++) {
        cs_explainer_destroy(&ms[i].e);
        if (ms[i].maps && fclose(ms[i].maps)) rc = CLI_FAIL;
    }
    if (dump_rows && fclose(dump_rows)) rc = CLI_FAIL;
    if (dump_curves && fclose(dump_curves)) rc = CLI_FAIL;
    if (dump_kp && fclose(dump_kp)) rc = CLI_FAIL;
    free(x);
    free(map_in);
    free(rnd);
    free(rgb);
    free(del);
    free(ins);
    free(pck);
    free(pred_kp);
    free(mean_kp);
    cs_eval_scorer_destroy(&scorer);
    cs_pp_destroy(&pp);
    cs_plan_destroy(&plan);
    cs_dataset_destroy(&ds);
    cs_model_destroy(&m);
    cs_model_desc_destroy(&desc);
    return rc;
}
