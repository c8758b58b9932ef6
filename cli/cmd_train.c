/* camstream train: trains a bundled architecture on a dataset (docs/TRAINING.md).
 *
 *     camstream train --arch gap|multitask|pose|decoder --data DIR --out MODEL.onnx
 *         [--epochs E] [--batch B] [--lr LR] [--optimizer sgd|adam] [--momentum M]
 *         [--weight-decay WD] [--alpha A] [--beta B] [--seed S] [--augment flip,translate]
 *         [--val-every K] [--width W] [--threads T] [--checkpoint-every K] [--resume CKPT]
 *         [--backbone MODEL.onnx (decoder)]
 *
 * Writes MODEL.onnx (BatchNorm in inference form), MODEL.stats (per-channel mean/std fitted
 * on the training split) and MODEL.model (the description: preprocessing, labels, heads,
 * target layer), each to a temporary name renamed on success only. A loss that is not
 * finite stops training with exit 1 and no model. Exit 0 ok, 1 failure, 2 usage. */
#include "cli.h"

#include "camstream/dataset.h"
#include "camstream/formats.h"
#include "camstream/stats_fit.h"
#include "camstream/train.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train"

typedef struct {
    const char *data, *out, *resume, *backbone;
    cs_arch_kind arch;
    int arch_given;
    int epochs, batch, val_every, ckpt_every, width, threads;
    long long seed;
    unsigned augment;
    cs_trainer_cfg tc;
    int lr_given, momentum_given;
    float lr, momentum;
} train_args;

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: camstream train --arch ARCH --data DIR --out MODEL.onnx [options]\n"
            "\n"
            "  --arch A            gap (classifier, CAM-able), multitask (classes + box),\n"
            "                      pose (keypoints), decoder (features -> image; --backbone)\n"
            "  --data DIR          a dataset (docs/DATASETS.md); 64x64 images\n"
            "  --out MODEL.onnx    also writes MODEL.stats and MODEL.model beside it\n"
            "  --epochs E          default 10\n"
            "  --batch B           default 32 (the last partial batch of an epoch is skipped)\n"
            "  --optimizer O       sgd or adam (default adam)\n"
            "  --lr LR             default 1e-3 (adam), 0.01 (sgd)\n"
            "  --momentum M        sgd momentum (default 0.9)\n"
            "  --weight-decay WD   L2 added to the gradient (default 0)\n"
            "  --alpha A           weight of the box loss (default 1)\n"
            "  --beta B            weight of the keypoint loss (default 10)\n"
            "  --seed S            weights, shuffling and augmentation (default 1)\n"
            "  --augment LIST      flip,translate (default none; 'none' for none)\n"
            "  --val-every K       evaluate on the val split every K epochs (default 1)\n"
            "  --width W           backbone base channels (default 16)\n"
            "  --threads T         default: every core\n"
            "  --checkpoint-every K  write MODEL.ckpt every K epochs (default 0: never)\n"
            "  --resume CKPT       continue from a checkpoint (same settings)\n"
            "  --backbone M.onnx   decoder: the trained classifier whose 'features' it inverts\n");
}

enum {
    O_ARCH = 256,
    O_DATA,
    O_OUT,
    O_EPOCHS,
    O_BATCH,
    O_LR,
    O_OPT,
    O_MOM,
    O_WD,
    O_ALPHA,
    O_BETA,
    O_SEED,
    O_AUG,
    O_VAL,
    O_WIDTH,
    O_THREADS,
    O_CKPT,
    O_RESUME,
    O_BACKBONE
};

static int parse_augment(const char *s, unsigned *aug)
{
    *aug = 0;
    if (!strcmp(s, "none")) return 0;
    char *list = strdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "flip"))
            *aug |= CS_AUG_FLIP;
        else if (!strcmp(t, "translate"))
            *aug |= CS_AUG_TRANSLATE;
        else
            rc = -1;
    }
    free(list);
    if (rc) fprintf(stderr, "camstream " CMD ": --augment '%s': use flip, translate or none\n", s);
    return rc;
}

static int parse_args(int argc, char **argv, train_args *a)
{
    static const struct option opts[] = {
        {"arch", required_argument, NULL, O_ARCH},
        {"data", required_argument, NULL, O_DATA},
        {"out", required_argument, NULL, O_OUT},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"batch", required_argument, NULL, O_BATCH},
        {"lr", required_argument, NULL, O_LR},
        {"optimizer", required_argument, NULL, O_OPT},
        {"momentum", required_argument, NULL, O_MOM},
        {"weight-decay", required_argument, NULL, O_WD},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"beta", required_argument, NULL, O_BETA},
        {"seed", required_argument, NULL, O_SEED},
        {"augment", required_argument, NULL, O_AUG},
        {"val-every", required_argument, NULL, O_VAL},
        {"width", required_argument, NULL, O_WIDTH},
        {"threads", required_argument, NULL, O_THREADS},
        {"checkpoint-every", required_argument, NULL, O_CKPT},
        {"resume", required_argument, NULL, O_RESUME},
        {"backbone", required_argument, NULL, O_BACKBONE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->epochs = 10;
    a->batch = 32;
    a->val_every = 1;
    a->width = 16;
    a->seed = 1;
    a->tc.optim = cs_optim_cfg_default(CS_OPTIM_ADAM);
    a->tc.alpha = 1.f;
    a->tc.beta = 10.f;
    int c, seed = 1;
    float wd = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_ARCH:
            if (cs_arch_parse(optarg, &a->arch)) {
                fprintf(stderr,
                        "camstream " CMD ": --arch '%s' is not one of gap, multitask, pose, "
                        "decoder\n",
                        optarg);
                bad = 1;
            }
            a->arch_given = 1;
            break;
        case O_DATA:
            a->data = optarg;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        case O_EPOCHS:
            bad = cli_parse_int(CMD, "--epochs", optarg, 1, 100000, &a->epochs);
            break;
        case O_BATCH:
            bad = cli_parse_int(CMD, "--batch", optarg, 1, 4096, &a->batch);
            break;
        case O_LR:
            bad = cli_parse_float(CMD, "--lr", optarg, 1e-9, 10, &a->lr);
            a->lr_given = 1;
            break;
        case O_OPT:
            if (cs_optim_parse(optarg, &a->tc.optim.kind)) {
                fprintf(stderr, "camstream " CMD ": --optimizer '%s' is not sgd or adam\n", optarg);
                bad = 1;
            }
            break;
        case O_MOM:
            bad = cli_parse_float(CMD, "--momentum", optarg, 0, 0.9999, &a->momentum);
            a->momentum_given = 1;
            break;
        case O_WD:
            bad = cli_parse_float(CMD, "--weight-decay", optarg, 0, 1, &wd);
            break;
        case O_ALPHA:
            bad = cli_parse_float(CMD, "--alpha", optarg, 0, 1e4, &a->tc.alpha);
            break;
        case O_BETA:
            bad = cli_parse_float(CMD, "--beta", optarg, 0, 1e4, &a->tc.beta);
            break;
        case O_SEED:
            bad = cli_parse_int(CMD, "--seed", optarg, 0, 2147483647, &seed);
            a->seed = seed;
            break;
        case O_AUG:
            bad = parse_augment(optarg, &a->augment);
            break;
        case O_VAL:
            bad = cli_parse_int(CMD, "--val-every", optarg, 1, 100000, &a->val_every);
            break;
        case O_WIDTH:
            bad = cli_parse_int(CMD, "--width", optarg, 2, 256, &a->width);
            break;
        case O_THREADS:
            bad = cli_parse_int(CMD, "--threads", optarg, 1, 256, &a->threads);
            break;
        case O_CKPT:
            bad = cli_parse_int(CMD, "--checkpoint-every", optarg, 0, 100000, &a->ckpt_every);
            break;
        case O_RESUME:
            a->resume = optarg;
            break;
        case O_BACKBONE:
            a->backbone = optarg;
            break;
        case 'h':
            train_usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    if (!a->data || !a->out || !a->arch_given) {
        fprintf(stderr, "camstream " CMD ": --arch, --data and --out are required (see --help)\n");
        return 2;
    }
    if ((a->arch == CS_ARCH_DECODER) != (a->backbone != NULL)) {
        fprintf(stderr, "camstream " CMD ": --backbone goes with --arch decoder (and only it)\n");
        return 2;
    }
    size_t n = strlen(a->out);
    if (n < 6 || strcmp(a->out + n - 5, ".onnx")) {
        fprintf(stderr, "camstream " CMD ": --out '%s' must end in .onnx\n", a->out);
        return 2;
    }
    cs_optim_cfg *o = &a->tc.optim;
    *o = cs_optim_cfg_default(o->kind);
    if (a->lr_given) o->lr = a->lr;
    if (a->momentum_given) o->momentum = a->momentum;
    o->weight_decay = wd;
    a->tc.batch = a->batch;
    a->tc.threads = a->threads;
    return 0;
}

/* OUT with .onnx replaced by ext (malloc'd). */
static char *sibling(const char *out, const char *ext)
{
    size_t n = strlen(out) - 5;
    char *s = malloc(n + strlen(ext) + 1);
    if (!s) return NULL;
    memcpy(s, out, n);
    strcpy(s + n, ext);
    return s;
}

/* Decoder inputs: the backbone's `features` for every image of the set. */
static int backbone_features(const char *path, cs_train_set *s, int threads, const cs_arch *a)
{
    cs_error err = {0};
    cs_model *m = cs_model_load_file(path, &err);
    if (!m) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        return -1;
    }
    const char *keep[] = {"features"};
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = threads;
    o.keep = keep;
    o.n_keep = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    const cs_tensor *f = NULL;
    int rc = -1;
    if (!p) {
        fprintf(stderr, "camstream " CMD ": --backbone %s\n", err.msg);
        goto done;
    }
    if (cs_tensor_bytes(cs_plan_input(p, 0)) != sizeof(float) * (size_t)(s->c * s->h * s->w)) {
        fprintf(stderr, "camstream " CMD ": --backbone %s: its input is not 1x3x%dx%d\n", path,
                s->h, s->w);
        goto done;
    }
    s->feat_per = (int64_t)a->feat_c * a->feat_h * a->feat_w;
    s->feat = malloc(sizeof(float) * (size_t)(s->feat_per * s->n + 1));
    for (int i = 0; s->feat && i < s->n; i++) {
        memcpy(cs_plan_input(p, 0)->data, s->img + (int64_t)i * s->c * s->h * s->w,
               cs_tensor_bytes(cs_plan_input(p, 0)));
        cs_plan_run(p, &err);
        if (!(f = cs_plan_tensor(p, "features", &err)) || f->numel != s->feat_per) {
            fprintf(stderr,
                    "camstream " CMD ": --backbone %s: no 'features' tensor of %lld values (a "
                    "model from --arch gap or multitask with --width %d)\n",
                    path, (long long)s->feat_per, a->cfg.width_mult);
            goto done;
        }
        memcpy(s->feat + s->feat_per * i, f->data, sizeof(float) * (size_t)s->feat_per);
    }
    rc = s->feat ? 0 : -1;
done:
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return rc;
}

typedef struct {
    const train_args *a;
    cs_dataset *ds;
    cs_statistics *st;
    cs_arch *arch;
    cs_trainer *t;
    cs_train_set *tr, *va;
    cs_batch b;
    int *idx, *perm;
    char *stats_path, *desc_path, *ckpt_path;
} session;

static void session_free(session *s)
{
    cs_trainer_destroy(&s->t);
    cs_arch_destroy(&s->arch);
    cs_train_set_destroy(&s->tr);
    cs_train_set_destroy(&s->va);
    cs_batch_free(&s->b);
    cs_statistics_destroy(&s->st);
    cs_dataset_destroy(&s->ds);
    free(s->idx);
    free(s->perm);
    free(s->stats_path);
    free(s->desc_path);
    free(s->ckpt_path);
}

static int fail(const char *msg)
{
    fprintf(stderr, "camstream " CMD ": %s\n", msg);
    return CLI_FAIL;
}

/* Validation metrics, printed after the loss on the progress line. */
static int validate(session *s, char *line, size_t len)
{
    cs_metrics m = {0};
    cs_error err = {0};
    int B = s->a->batch, batches = 0;
    for (int i = 0; i < s->va->n; i += B) {
        int n = s->va->n - i < B ? s->va->n - i : B;
        for (int k = 0; k < n; k++) s->idx[k] = i + k;
        cs_train_set_fill(s->va, s->idx, n, 0, NULL, NULL, &s->b);
        if (cs_trainer_eval(s->t, &s->b, &m, &err) != CS_OK) return fail(err.msg);
        batches++;
    }
    const cs_arch *a = s->arch;
    size_t o = strlen(line);
    if (a->logits)
        o += (size_t)snprintf(line + o, len - o, "  val acc %.1f%%", 100.0 * m.correct / m.n);
    if (a->box) o += (size_t)snprintf(line + o, len - o, "  box IoU %.2f", m.iou / m.n);
    if (a->pose)
        o += (size_t)snprintf(line + o, len - o, "  kp err %.1f px",
                              m.kp_n ? m.kp_err / m.kp_n * s->tr->w : 0.0);
    if (a->image)
        snprintf(line + o, len - o, "  val mse %.4f", batches ? m.loss.rec / batches : 0.0);
    return CLI_OK;
}

static int write_description(session *s)
{
    const train_args *a = s->a;
    const cs_arch *arch = s->arch;
    const cs_dataset *ds = s->ds;
    cs_model_desc d;
    memset(&d, 0, sizeof d);
    const char *base = strrchr(a->out, '/') ? strrchr(a->out, '/') + 1 : a->out;
    const char *sbase =
        strrchr(s->stats_path, '/') ? strrchr(s->stats_path, '/') + 1 : s->stats_path;
    d.model_file = (char *)base;
    d.name = (char *)cs_arch_name(arch->cfg.kind);
    d.input = (char *)arch->input;
    d.preset = (char *)"none";
    d.statistics_file = (char *)sbase;
    d.pp.resize = CS_RESIZE_STRETCH;
    if (arch->logits) {
        d.labels = ds->labels;
        d.n_labels = ds->n_classes;
        d.classes = (char *)arch->logits;
        d.classes_activation = CS_CLASSES_SOFTMAX;
    }
    if (arch->box) {
        d.boxes = (char *)arch->box;
        d.box_format = CS_BOX_CXCYWH;
        d.box_coords = CS_COORDS_NORMALIZED;
    }
    if (arch->pose) {
        d.keypoints = (char *)arch->pose;
        d.keypoint_coords = CS_KP_IMAGE;
        d.keypoint_names = ds->keypoint_names;
        d.n_keypoint_names = ds->n_keypoints;
        d.skeleton = ds->skeleton;
        d.n_skeleton = ds->n_skeleton;
    }
    d.explain_layer = (char *)arch->target_layer;
    d.explain_method = arch->logits ? (char *)"gradcam" : NULL;
    cs_error err = {0};
    if (cs_model_desc_write(s->desc_path, &d, &err) != CS_OK) return fail(err.msg);
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? CLI_OK : CLI_USAGE;
    session s;
    memset(&s, 0, sizeof s);
    s.a = &a;
    cs_error err = {0};
    double t0 = cli_now_ms();
    rc = CLI_FAIL;
    if (!(s.ds = cs_dataset_load(a.data, &err))) {
        fail(err.msg);
        goto done;
    }
    if (s.ds->width != 64 || s.ds->height != 64) {
        fprintf(stderr, "camstream " CMD ": %s: images are %dx%d; the architectures take 64x64\n",
                a.data, s.ds->width, s.ds->height);
        goto done;
    }
    int n_train = cs_dataset_count(s.ds, CS_SPLIT_TRAIN),
        n_val = cs_dataset_count(s.ds, CS_SPLIT_VAL);
    if (n_train < a.batch) {
        fprintf(stderr,
                "camstream " CMD ": %s: the train split has %d images, fewer than one batch "
                "(--batch %d)\n",
                a.data, n_train, a.batch);
        goto done;
    }
    /* preprocessing statistics from the training split only (REFERENCE §1) */
    cs_fit_opts fo = {CS_FIT_CHANNEL_MEAN_STD, 0, CS_SCALE_01, 0};
    if (!(s.st = cs_fit_dataset(s.ds, CS_SPLIT_TRAIN, &fo, &err))) {
        fail(err.msg);
        goto done;
    }
    for (int c = 0; c < 3; c++)
        if (!(s.st->std[c] > 1e-6f)) s.st->std[c] = 1.f; /* a constant channel */
    cs_arch_cfg ac = cs_arch_cfg_default(a.arch);
    ac.n_classes = s.ds->n_classes;
    ac.n_keypoints = s.ds->n_keypoints;
    ac.width_mult = a.width;
    ac.seed = (uint64_t)a.seed;
    if (!(s.arch = cs_arch_build(&ac, &err))) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a.data, err.msg);
        goto done;
    }
    if (!(s.tr = cs_train_set_load(s.ds, CS_SPLIT_TRAIN, s.st->mean, s.st->std, &err)) ||
        !(s.va = cs_train_set_load(s.ds, CS_SPLIT_VAL, s.st->mean, s.st->std, &err))) {
        fail(err.msg);
        goto done;
    }
    if (a.backbone && (backbone_features(a.backbone, s.tr, a.threads, s.arch) ||
                       backbone_features(a.backbone, s.va, a.threads, s.arch)))
        goto done;
    s.idx = malloc(sizeof(int) * (size_t)(n_train > n_val ? n_train : n_val) + sizeof(int));
    s.perm = malloc(sizeof(int) * (size_t)(s.ds->n_keypoints + 1));
    if (!s.idx || !s.perm || cs_batch_alloc(&s.b, s.tr, a.batch, &err) != CS_OK) {
        fail(err.msg[0] ? err.msg : "out of memory");
        goto done;
    }
    if (s.ds->n_keypoints) cs_keypoint_flip_perm(s.ds, s.perm);
    if (!(s.t = cs_trainer_new(s.arch, &a.tc, &err))) {
        fail(err.msg);
        goto done;
    }
    s.stats_path = sibling(a.out, ".stats");
    s.desc_path = sibling(a.out, ".model");
    s.ckpt_path = sibling(a.out, ".ckpt");
    cs_rng rng;
    cs_rng_seed(&rng, (uint64_t)a.seed ^ 0x5eed5eedull);
    int start = 0;
    if (a.resume) {
        if (cs_trainer_load(s.t, a.resume, &start, &rng, &err) != CS_OK) {
            fail(err.msg);
            goto done;
        }
        printf("resumed from %s after epoch %d\n", a.resume, start);
    }
    printf("training %s on %s: %d train / %d val images, %d epochs of %d batches of %d\n",
           cs_arch_name(a.arch), a.data, n_train, n_val, a.epochs, n_train / a.batch, a.batch);
    fflush(stdout);
    for (int e = start; e < a.epochs; e++) {
        for (int i = 0; i < n_train; i++) s.idx[i] = i;
        for (int i = n_train - 1; i > 0; i--) { /* Fisher-Yates with our generator */
            int j = (int)cs_rng_below(&rng, (uint32_t)(i + 1)), t = s.idx[i];
            s.idx[i] = s.idx[j];
            s.idx[j] = t;
        }
        cs_losses sum = {0};
        int steps = n_train / a.batch;
        for (int k = 0; k < steps; k++) {
            int idx[4096];
            memcpy(idx, s.idx + k * a.batch, sizeof(int) * (size_t)a.batch);
            cs_train_set_fill(s.tr, idx, a.batch, a.augment, s.perm, &rng, &s.b);
            cs_losses l;
            if (cs_trainer_step(s.t, &s.b, &l, &err) != CS_OK) {
                fprintf(stderr, "camstream " CMD ": epoch %d, batch %d: %s; no model written\n",
                        e + 1, k + 1, err.msg);
                goto done;
            }
            sum.total += l.total, sum.cls += l.cls, sum.box += l.box, sum.pose += l.pose,
                sum.rec += l.rec;
        }
        char line[512];
        int o = snprintf(line, sizeof line, "epoch %d/%d  loss %.3f", e + 1, a.epochs,
                         sum.total / steps);
        const cs_arch *ar = s.arch;
        if (ar->box)
            o += snprintf(line + o, sizeof line - (size_t)o, " (cls %.2f box %.2f)",
                          sum.cls / steps, sum.box / steps);
        (void)o;
        if (n_val > 0 && ((e + 1) % a.val_every == 0 || e + 1 == a.epochs) &&
            validate(&s, line, sizeof line) != CLI_OK)
            goto done;
        printf("%s  %.1f s\n", line, (cli_now_ms() - t0) / 1000.0);
        fflush(stdout);
        if (a.ckpt_every && (e + 1) % a.ckpt_every == 0 &&
            cs_trainer_save(s.t, s.ckpt_path, e + 1, &rng, &err) != CS_OK) {
            fail(err.msg);
            goto done;
        }
    }
    if (cs_trainer_export(s.t, a.out, &err) != CS_OK ||
        cs_statistics_write(s.stats_path, s.st, &err) != CS_OK) {
        fail(err.msg);
        goto done;
    }
    if (write_description(&s) != CLI_OK) goto done;
    printf("wrote %s, %s, %s\n", a.out, s.stats_path, s.desc_path);
    rc = CLI_OK;
done:
    session_free(&s);
    return rc;
}
