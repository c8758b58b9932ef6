/* camstream fit: normalization / whitening statistics from a dataset's training split.
 *
 *     camstream fit --data DIR --kind mean-image|channel-mean|channel-mean-std|pca|zca
 *                   [--split train] [--feature channel|patch --patch P] [--scale 01|11|255]
 *                   [--epsilon E] [--exclude-overlap-with DIR[:SPLITS]]... --out FILE.stats
 *     camstream fit --video FILE [--frames N] --kind ... --out FILE.stats   (with GStreamer)
 *
 * The leakage rule (REFERENCE §1, docs/DATASETS.md): statistics come from the training split
 * only. fit refuses --split val/test, a training image whose bytes equal an image of the same
 * dataset's val/test splits, and one that is in another dataset's evaluation splits named
 * with --exclude-overlap-with. Exit 0 ok, 1 failure (or refusal), 2 usage. */
#include "cli.h"

#include "camstream/dataset.h"
#include "camstream/formats.h"
#include "camstream/stats_fit.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CS_HAVE_GST
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#endif

#define CMD "fit"
#define MAX_EXCLUDE 16

typedef struct {
    const char *data, *video, *out, *split, *feature;
    int frames; /* --video: at most this many frames (0: all) */
    const char *exclude[MAX_EXCLUDE];
    int n_exclude;
    cs_fit_opts o;
    int kind_given;
} fit_args;

static void fit_usage(FILE *f)
{
    fprintf(f, "usage: camstream fit --data DIR --kind KIND --out FILE.stats [options]\n"
               "       camstream fit --video FILE [--frames N] --kind KIND --out FILE.stats\n"
               "\n"
               "  --video FILE        fit on a video's frames (decoded by GStreamer) instead of\n"
               "                      a dataset: the video must hold training data only\n"
               "  --frames N          use at most the first N frames (default: all)\n"
               "  --kind K            " CS_FIT_KIND_NAMES "\n"
               "  --split S           the split to fit on: train (val and test are refused)\n"
               "  --feature F         pca/zca vectors: channel (a pixel's RGB, default) or patch\n"
               "  --patch P           patch side 1..16 (with --feature patch)\n"
               "  --scale S           01 (default), 11, 255: how 8-bit values are scaled first\n"
               "  --epsilon E         added to the eigenvalues (pca/zca; default 1e-5)\n"
               "  --exclude-overlap-with DIR[:SPLITS]\n"
               "                      refuse when a training image is in these splits of dataset\n"
               "                      DIR (SPLITS: comma-separated train/val/test or all; default\n"
               "                      val,test); repeatable\n"
               "Writes FILE.stats (docs/FORMATS.md) and, for a mean image or a matrix larger than\n"
               "3x3, sibling .pb files.\n");
}

enum {
    O_DATA = 256,
    O_VIDEO,
    O_FRAMES,
    O_SPLIT,
    O_KIND,
    O_FEATURE,
    O_PATCH,
    O_SCALE,
    O_EPS,
    O_EXCLUDE,
    O_OUT
};

static int parse_args(int argc, char **argv, fit_args *a)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"video", required_argument, NULL, O_VIDEO},
        {"frames", required_argument, NULL, O_FRAMES},
        {"split", required_argument, NULL, O_SPLIT},
        {"kind", required_argument, NULL, O_KIND},
        {"feature", required_argument, NULL, O_FEATURE},
        {"patch", required_argument, NULL, O_PATCH},
        {"scale", required_argument, NULL, O_SCALE},
        {"epsilon", required_argument, NULL, O_EPS},
        {"exclude-overlap-with", required_argument, NULL, O_EXCLUDE},
        {"out", required_argument, NULL, O_OUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const cs_fit_opts defaults = CS_FIT_OPTS_DEFAULT;
    memset(a, 0, sizeof *a);
    a->o = defaults;
    a->split = "train";
    int c, patch = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        float eps = 0;
        switch (c) {
        case O_DATA:
            a->data = optarg;
            break;
        case O_VIDEO:
            a->video = optarg;
            break;
        case O_FRAMES:
            bad = cli_parse_int(CMD, "--frames", optarg, 1, 1 << 30, &a->frames);
            break;
        case O_SPLIT:
            a->split = optarg;
            break;
        case O_KIND:
            if (cs_fit_kind_parse(optarg, &a->o.kind)) {
                fprintf(stderr,
                        "camstream " CMD ": --kind '%s' is not one of " CS_FIT_KIND_NAMES "\n",
                        optarg);
                bad = 1;
            }
            a->kind_given = 1;
            break;
        case O_FEATURE:
            a->feature = optarg;
            if (strcmp(optarg, "channel") && strcmp(optarg, "patch")) {
                fprintf(stderr, "camstream " CMD ": --feature '%s' is not channel or patch\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_PATCH:
            bad = cli_parse_int(CMD, "--patch", optarg, 1, 16, &patch);
            break;
        case O_SCALE:
            if (cs_pp_parse_scale(optarg, &a->o.scale)) {
                fprintf(stderr, "camstream " CMD ": --scale '%s' is not one of 01, 11, 255\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_EPS:
            bad = cli_parse_float(CMD, "--epsilon", optarg, 0, 1e6, &eps);
            a->o.epsilon = eps;
            break;
        case O_EXCLUDE:
            if (a->n_exclude == MAX_EXCLUDE) {
                fprintf(stderr, "camstream " CMD ": at most %d --exclude-overlap-with\n",
                        MAX_EXCLUDE);
                return 2;
            }
            a->exclude[a->n_exclude++] = optarg;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        case 'h':
            fit_usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    if (!!a->data == !!a->video || !a->out || !a->kind_given) {
        fprintf(stderr, "camstream " CMD ": --data (or --video), --kind and --out are required "
                        "(see --help)\n");
        return 2;
    }
    if (a->video && a->n_exclude) {
        fprintf(stderr, "camstream " CMD ": --exclude-overlap-with applies to --data only\n");
        return 2;
    }
    if (a->frames && !a->video) {
        fprintf(stderr, "camstream " CMD ": --frames applies to --video only\n");
        return 2;
    }
    int pca = a->o.kind == CS_FIT_PCA || a->o.kind == CS_FIT_ZCA;
    int want_patch = a->feature && !strcmp(a->feature, "patch");
    if ((a->feature || patch) && !pca) {
        fprintf(stderr, "camstream " CMD ": --feature/--patch apply to pca and zca only\n");
        return 2;
    }
    if (want_patch != (patch > 0)) {
        fprintf(stderr, "camstream " CMD ": --feature patch and --patch P go together\n");
        return 2;
    }
    a->o.patch = patch;
    return 0;
}

/* "DIR[:SPLITS]" to a directory and a split mask. */
static int parse_exclude(const char *s, char **dir, unsigned *mask)
{
    const char *colon = strrchr(s, ':');
    *mask = (1u << CS_SPLIT_VAL) | (1u << CS_SPLIT_TEST);
    if (!colon) {
        *dir = strdup(s);
        return 0;
    }
    *dir = strndup(s, (size_t)(colon - s));
    *mask = 0;
    char *list = strdup(colon + 1), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cs_split sp;
        if (!strcmp(t, "all"))
            *mask |= 7u;
        else if (cs_split_parse(t, &sp) == 0)
            *mask |= 1u << sp;
        else
            rc = -1;
    }
    free(list);
    if (rc || !*mask) {
        fprintf(stderr,
                "camstream " CMD ": --exclude-overlap-with '%s': splits must be train, val, "
                "test or all\n",
                s);
        free(*dir);
        *dir = NULL;
        return -1;
    }
    return 0;
}

/* The leakage checks; 0 when the training images are clean. */
static int check_leakage(const fit_args *a, const cs_dataset *ds, cs_split split)
{
    cs_error err;
    unsigned train = 1u << split, eval = 7u & ~train;
    int r = cs_dataset_overlap(ds, train, ds, eval, &err);
    if (r) {
        fprintf(stderr, "camstream " CMD ": %s%s\n", err.msg,
                r > 0 ? ": the training split overlaps the evaluation splits (leakage rule)" : "");
        return -1;
    }
    for (int i = 0; i < a->n_exclude; i++) {
        char *dir = NULL;
        unsigned mask;
        if (parse_exclude(a->exclude[i], &dir, &mask)) return -1;
        cs_dataset *other = cs_dataset_load(dir, &err);
        free(dir);
        if (!other) {
            fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
            return -1;
        }
        r = cs_dataset_overlap(ds, train, other, mask, &err);
        cs_dataset_destroy(&other);
        if (r) {
            fprintf(stderr, "camstream " CMD ": %s%s\n", err.msg,
                    r > 0 ? ": the training split overlaps an excluded evaluation split "
                            "(leakage rule)"
                          : "");
            return -1;
        }
    }
    return 0;
}

#ifdef CS_HAVE_GST
/* Decodes the video to RGB frames (appsink) and adds each to the fit. */
static int fit_video(const fit_args *a)
{
    gst_init(NULL, NULL);
    GError *ge = NULL;
    GstElement *pipe = gst_parse_launch("filesrc name=src ! decodebin ! videoconvert ! "
                                        "video/x-raw,format=RGB ! appsink name=sink sync=false",
                                        &ge);
    if (!pipe) {
        fprintf(stderr, "camstream " CMD ": GStreamer: %s\n", ge ? ge->message : "no pipeline");
        g_clear_error(&ge);
        return CLI_FAIL;
    }
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipe), "src");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
    g_object_set(src, "location", a->video, NULL);
    cs_error err;
    cs_fit *f = cs_fit_new(&a->o, &err);
    int rc = f ? CLI_OK : CLI_FAIL, n = 0;
    if (!f) fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
    GstBus *bus = gst_element_get_bus(pipe);
    GstMessage *msg = NULL;
    gst_element_set_state(pipe, GST_STATE_PLAYING);
    while (rc == CLI_OK && (!a->frames || n < a->frames)) {
        /* Poll, so that an error (which brings no end of stream) is noticed. */
        GstSample *smp = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), GST_SECOND / 10);
        if (!smp) {
            if (gst_app_sink_is_eos(GST_APP_SINK(sink))) break;
            if ((msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR))) break;
            continue;
        }
        GstVideoInfo info;
        GstBuffer *buf = gst_sample_get_buffer(smp);
        GstMapInfo map;
        if (!gst_video_info_from_caps(&info, gst_sample_get_caps(smp)) ||
            !gst_buffer_map(buf, &map, GST_MAP_READ)) {
            gst_sample_unref(smp);
            fprintf(stderr, "camstream " CMD ": %s: frame %d cannot be read\n", a->video, n);
            rc = CLI_FAIL;
            break;
        }
        int w = GST_VIDEO_INFO_WIDTH(&info), h = GST_VIDEO_INFO_HEIGHT(&info);
        size_t stride = (size_t)GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
        uint8_t *rgb = malloc((size_t)w * h * 3);
        for (int y = 0; rgb && y < h; y++)
            memcpy(rgb + (size_t)y * w * 3, map.data + y * stride, (size_t)w * 3);
        if (!rgb || cs_fit_add(f, rgb, w, h, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": %s: frame %d: %s\n", a->video, n,
                    rgb ? err.msg : "out of memory");
            rc = CLI_FAIL;
        }
        free(rgb);
        gst_buffer_unmap(buf, &map);
        gst_sample_unref(smp);
        n++;
    }
    if (!msg) msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (msg && rc != CLI_OK) g_clear_pointer(&msg, gst_message_unref); /* already reported */
    rc = cli_gst_close(CMD, a->video, rc, msg, bus, pipe, src, sink);
    cs_statistics *st = NULL;
    if (rc == CLI_OK) {
        char *base = g_path_get_basename(a->video);
        st = cs_fit_finish(f, base, &err);
        g_free(base);
        if (!st || cs_statistics_write(a->out, st, &err) != CS_OK) {
            fprintf(stderr, "camstream " CMD ": %s: %s\n", a->video, err.msg);
            rc = CLI_FAIL;
        } else {
            printf("fitted %s (D = %d) on %s: %lld frames -> %s\n", cs_fit_kind_name(a->o.kind),
                   st->dim, st->fitted_on, st->samples, a->out);
        }
    }
    cs_statistics_destroy(&st);
    cs_fit_destroy(&f);
    return rc;
}
#else
static int fit_video(const fit_args *a)
{
    (void)a;
    fprintf(stderr, "camstream " CMD ": --video needs GStreamer (this build has none)\n");
    return CLI_FAIL;
}
#endif

int cmd_fit(int argc, char **argv)
{
    fit_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? CLI_OK : CLI_USAGE;
    if (a.video) return fit_video(&a);
    cs_split split;
    if (cs_split_parse(a.split, &split)) {
        fprintf(stderr, "camstream " CMD ": --split '%s' is not one of train, val, test\n",
                a.split);
        return CLI_USAGE;
    }
    if (split != CS_SPLIT_TRAIN) {
        fprintf(stderr,
                "camstream " CMD ": refusing to fit on split '%s': statistics come from the "
                "training split only and are applied unchanged to val/test (leakage rule, "
                "docs/DATASETS.md)\n",
                a.split);
        return CLI_FAIL;
    }
    cs_error err;
    cs_dataset *ds = cs_dataset_load(a.data, &err);
    if (!ds) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        return CLI_FAIL;
    }
    rc = CLI_FAIL;
    cs_statistics *st = NULL;
    if (check_leakage(&a, ds, split)) goto out;
    double t0 = cli_now_ms();
    st = cs_fit_dataset(ds, split, &a.o, &err);
    if (!st || cs_statistics_write(a.out, st, &err) != CS_OK) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        goto out;
    }
    printf("fitted %s (D = %d) on %s: %lld images, %.0f ms -> %s\n", cs_fit_kind_name(a.o.kind),
           st->dim, st->fitted_on, st->samples, cli_now_ms() - t0, a.out);
    rc = CLI_OK;
out:
    cs_statistics_destroy(&st);
    cs_dataset_destroy(&ds);
    return rc;
}
