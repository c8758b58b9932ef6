/* camstream synth: labelled synthetic datasets and videos (docs/DATASETS.md).
 *
 *     camstream synth images  --out DIR --count N [--size 64] [--classes 6] [--seed S]
 *                             [--split 0.8,0.1,0.1] [--difficulty high|medium|low]
 *     camstream synth figures --out DIR --count N [--size 64] [--seed S] [--split ...]
 *     camstream synth video   --out FILE.mkv --frames N [--size 320x240] [--fps 15]
 *                             [--objects 3] [--classes 6] [--figure] [--seed S] [--labels CSV]
 *
 * Everything is deterministic from --seed. Errors are one line on stderr; exit 0 ok,
 * 1 failure, 2 usage. */
#include "cli.h"

#include "camstream/dataset.h"
#include "camstream/synth.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CS_HAVE_GST
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#endif

#define CMD "synth"

typedef struct {
    const char *mode, *out, *labels;
    int count, size, width, height, classes, frames, fps, objects, figure;
    cs_synth_level level;
    uint64_t seed;
    double split[3];
} synth_args;

static void synth_usage(FILE *f)
{
    fprintf(f,
            "usage: camstream synth images  --out DIR --count N [options]\n"
            "       camstream synth figures --out DIR --count N [options]\n"
            "       camstream synth video   --out FILE.mkv --frames N [options]\n"
            "\n"
            "images: one shape per image (circle, square, triangle, star, ring, cross) with\n"
            "textures, on clutter, partly occluded; figures: stick figures with 14 keypoints.\n"
            "Both write DIR/dataset.csv, DIR/labels.txt and DIR/images/*.png (docs/DATASETS.md).\n"
            "  --size N           image side in pixels (default 64)\n"
            "  --classes K        shape classes 1..6 (default 6)\n"
            "  --split A,B,C      train,val,test fractions (default 0.8,0.1,0.1)\n"
            "  --seed S           64-bit seed (default 1): the same seed gives the same files\n"
            "  --difficulty D     high (default), medium or low: object sizes and occluders\n"
            "                     (video: medium and low draw larger shapes)\n"
            "video: moving shapes (and with --figure a stick figure) over clutter, MJPEG in\n"
            "Matroska through GStreamer, per-frame labels in a CSV beside it.\n"
            "  --size WxH         frame size (default 320x240)\n"
            "  --fps F            frame rate (default 15)\n"
            "  --objects N        moving shapes 0..16 (default 3)\n"
            "  --figure           add a stick figure (class K, after the shapes)\n"
            "  --labels FILE      the CSV (default: --out with .csv instead of its extension)\n");
}

enum {
    O_OUT = 256,
    O_COUNT,
    O_SIZE,
    O_CLASSES,
    O_SEED,
    O_SPLIT,
    O_FRAMES,
    O_FPS,
    O_OBJECTS,
    O_FIGURE,
    O_LABELS,
    O_DIFFICULTY
};

static int parse_split(const char *s, double out[3])
{
    char *end = NULL;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        out[i] = strtod(p, &end);
        if (end == p || errno || !(out[i] >= 0 && out[i] <= 1) || (i < 2 && *end != ',') ||
            (i == 2 && *end))
            goto bad;
        p = end + 1;
    }
    double t = out[0] + out[1] + out[2];
    if (t > 0.999 && t < 1.001) return 0;
bad:
    fprintf(stderr,
            "camstream " CMD ": --split expects three fractions train,val,test summing to 1, "
            "got '%s'\n",
            s);
    return -1;
}

static int parse_args(int argc, char **argv, synth_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, O_OUT},
        {"count", required_argument, NULL, O_COUNT},
        {"size", required_argument, NULL, O_SIZE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"seed", required_argument, NULL, O_SEED},
        {"split", required_argument, NULL, O_SPLIT},
        {"frames", required_argument, NULL, O_FRAMES},
        {"fps", required_argument, NULL, O_FPS},
        {"objects", required_argument, NULL, O_OBJECTS},
        {"figure", no_argument, NULL, O_FIGURE},
        {"labels", required_argument, NULL, O_LABELS},
        {"difficulty", required_argument, NULL, O_DIFFICULTY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->classes = 6, a->seed = 1, a->fps = 15, a->objects = 3;
    a->split[0] = 0.8, a->split[1] = 0.1, a->split[2] = 0.1;
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            synth_usage(stdout);
            return 1;
        }
        fprintf(stderr, "camstream " CMD ": which: images, figures or video? (see --help)\n");
        return 2;
    }
    a->mode = argv[1];
    int is_video = !strcmp(a->mode, "video");
    if (!is_video && strcmp(a->mode, "images") && strcmp(a->mode, "figures")) {
        fprintf(stderr, "camstream " CMD ": unknown mode '%s' (images, figures, video)\n", a->mode);
        return 2;
    }
    const char *size = NULL;
    int c;
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_OUT:
            a->out = optarg;
            break;
        case O_COUNT:
            bad = cli_parse_int(CMD, "--count", optarg, 1, 10000000, &a->count);
            break;
        case O_SIZE:
            size = optarg;
            break;
        case O_CLASSES:
            bad = cli_parse_int(CMD, "--classes", optarg, 1, CS_SHAPE_COUNT, &a->classes);
            break;
        case O_SEED: {
            char *end = NULL;
            errno = 0;
            a->seed = strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno || optarg[0] == '-') {
                fprintf(stderr,
                        "camstream " CMD ": --seed expects an unsigned 64-bit integer, "
                        "got '%s'\n",
                        optarg);
                bad = 1;
            }
            break;
        }
        case O_SPLIT:
            bad = parse_split(optarg, a->split);
            break;
        case O_FRAMES:
            bad = cli_parse_int(CMD, "--frames", optarg, 1, 10000000, &a->frames);
            break;
        case O_FPS:
            bad = cli_parse_int(CMD, "--fps", optarg, 1, 240, &a->fps);
            break;
        case O_OBJECTS:
            bad = cli_parse_int(CMD, "--objects", optarg, 0, 16, &a->objects);
            break;
        case O_FIGURE:
            a->figure = 1;
            break;
        case O_LABELS:
            a->labels = optarg;
            break;
        case O_DIFFICULTY:
            if (cs_synth_level_parse(optarg, &a->level)) {
                fprintf(stderr,
                        "camstream " CMD ": --difficulty expects high, medium or low, got '%s'\n",
                        optarg);
                bad = 1;
            }
            break;
        case 'h':
            synth_usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    if (cli_require(CMD, "--out", a->out != NULL)) return 2;
    if (is_video) {
        a->width = 320, a->height = 240;
        int used = 0;
        if (size && (sscanf(size, "%dx%d%n", &a->width, &a->height, &used) != 2 || size[used] ||
                     a->width < 16 || a->height < 16 || a->width > 4096 || a->height > 4096 ||
                     a->width % 2 || a->height % 2)) {
            fprintf(stderr, "camstream " CMD ": --size expects WxH (even, 16 to 4096), got '%s'\n",
                    size);
            return 2;
        }
        if (cli_require(CMD, "--frames", a->frames != 0)) return 2;
        if (a->objects == 0 && !a->figure) {
            fprintf(stderr, "camstream " CMD ": nothing to show (--objects 0 without --figure)\n");
            return 2;
        }
    } else {
        a->size = 64;
        if (size && cli_parse_int(CMD, "--size", size, 16, 4096, &a->size)) return 2;
        if (cli_require(CMD, "--count", a->count != 0)) return 2;
    }
    return 0;
}

static int synth_dataset(const synth_args *a)
{
    int figures = !strcmp(a->mode, "figures");
    cs_error err;
    double t0 = cli_now_ms();
    cs_synth_opts opts = CS_SYNTH_OPTS_DEFAULT;
    opts.level = a->level;
    if (cs_synth_dataset_opts(a->out, figures ? CS_SYNTH_FIGURES : CS_SYNTH_SHAPES, a->count,
                              a->size, a->classes, a->seed, a->split, &opts, &err) != CS_OK) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        return CLI_FAIL;
    }
    double ms = cli_now_ms() - t0;
    int per[CS_SPLIT_COUNT];
    cs_synth_split_counts(a->count, a->split, per);
    printf("wrote %d %dx%d %s to %s (train %d, val %d, test %d) in %.0f ms (%.0f images/s)\n",
           a->count, a->size, a->size, figures ? "figures" : "images", a->out, per[0], per[1],
           per[2], ms, ms > 0 ? a->count * 1000.0 / ms : 0.0);
    return CLI_OK;
}

/* ---- video ------------------------------------------------------------------------------ */

static char *labels_path(const synth_args *a)
{
    if (a->labels) return strdup(a->labels);
    const char *slash = strrchr(a->out, '/'), *dot = strrchr(a->out, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - a->out) : strlen(a->out);
    char *p = malloc(stem + 5);
    if (!p) return NULL;
    memcpy(p, a->out, stem);
    memcpy(p + stem, ".csv", 5);
    return p;
}

static void write_label_header(FILE *f, const synth_args *a)
{
    fprintf(f, "# camstream synth video 1\n# size: %dx%d\n# fps: %d\n# frames: %d\n# labels: ",
            a->width, a->height, a->fps, a->frames);
    for (int k = 0; k < a->classes; k++) fprintf(f, "%s%s", k ? ";" : "", cs_shape_name(k));
    if (a->figure) fprintf(f, ";person");
    fprintf(f, "\n");
    if (a->figure) {
        fprintf(f, "# keypoints: ");
        for (int j = 0; j < CS_FIGURE_JOINTS; j++)
            fprintf(f, "%s%s", j ? ";" : "", cs_figure_joint_names[j]);
        fprintf(f, "\n# skeleton: ");
        for (int e = 0; e < CS_FIGURE_EDGES; e++)
            fprintf(f, "%s%d-%d", e ? "," : "", cs_figure_skeleton[e][0], cs_figure_skeleton[e][1]);
        fprintf(f, "\n");
    }
    fprintf(f, "# columns: frame,id,class,x,y,w,h");
    for (int j = 0; a->figure && j < CS_FIGURE_JOINTS; j++) fprintf(f, ",k%dx,k%dy,k%dv", j, j, j);
    fprintf(f, "\n");
}

static void write_label_rows(FILE *f, const synth_args *a, int t, const cs_synth_label *l, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d,%d,%d,%g,%g,%g,%g", t, l[i].id, l[i].cls, (double)l[i].box[0],
                (double)l[i].box[1], (double)l[i].box[2], (double)l[i].box[3]);
        for (int j = 0; a->figure && j < CS_FIGURE_JOINTS; j++) {
            if (l[i].n_kp)
                fprintf(f, ",%.2f,%.2f,%d", (double)l[i].kp[j].x, (double)l[i].kp[j].y,
                        l[i].kp[j].v);
            else
                fprintf(f, ",0,0,0");
        }
        fprintf(f, "\n");
    }
}

#ifdef CS_HAVE_GST
static int synth_video(const synth_args *a)
{
    cs_synth_scene *sc = cs_synth_scene_new_level(a->width, a->height, a->objects, a->classes,
                                                  a->figure, a->seed, a->level);
    char *lpath = labels_path(a);
    FILE *lf = lpath ? fopen(lpath, "w") : NULL;
    if (!sc || !lf) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", lpath ? lpath : a->out,
                !sc ? "cannot set up the scene" : strerror(errno));
        if (lf) fclose(lf);
        free(lpath);
        cs_synth_scene_destroy(&sc);
        return CLI_FAIL;
    }
    write_label_header(lf, a);
    gst_init(NULL, NULL);
    GError *ge = NULL;
    GstElement *pipe = gst_parse_launch("appsrc name=src format=time ! videoconvert ! "
                                        "jpegenc quality=90 ! matroskamux ! filesink name=sink",
                                        &ge);
    int rc = CLI_OK;
    if (!pipe) {
        fprintf(stderr, "camstream " CMD ": GStreamer: %s (are gst-plugins-good installed?)\n",
                ge ? ge->message : "cannot build the pipeline");
        g_clear_error(&ge);
        fclose(lf);
        free(lpath);
        cs_synth_scene_destroy(&sc);
        return CLI_FAIL;
    }
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipe), "src");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
    g_object_set(sink, "location", a->out, NULL);
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width",
                                        G_TYPE_INT, a->width, "height", G_TYPE_INT, a->height,
                                        "framerate", GST_TYPE_FRACTION, a->fps, 1, NULL);
    g_object_set(src, "caps", caps, "block", TRUE, "max-bytes", (guint64)(8u << 20), NULL);
    gst_caps_unref(caps);
    gst_element_set_state(pipe, GST_STATE_PLAYING);
    size_t fsize = (size_t)a->width * a->height * 3;
    cs_synth_label labels[20];
    double t0 = cli_now_ms();
    for (int t = 0; t < a->frames && rc == CLI_OK; t++) {
        GstBuffer *buf = gst_buffer_new_allocate(NULL, fsize, NULL);
        GstMapInfo map;
        gst_buffer_map(buf, &map, GST_MAP_WRITE);
        int n = cs_synth_scene_render(sc, t, map.data, labels, 20);
        gst_buffer_unmap(buf, &map);
        GST_BUFFER_PTS(buf) = gst_util_uint64_scale(t, GST_SECOND, a->fps);
        GST_BUFFER_DURATION(buf) = gst_util_uint64_scale(1, GST_SECOND, a->fps);
        write_label_rows(lf, a, t, labels, n);
        if (gst_app_src_push_buffer(GST_APP_SRC(src), buf) != GST_FLOW_OK) rc = CLI_FAIL;
    }
    gst_app_src_end_of_stream(GST_APP_SRC(src));
    GstBus *bus = gst_element_get_bus(pipe);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    rc = cli_gst_close(CMD, a->out, rc, msg, bus, pipe, src, sink);
    if (ferror(lf) | fclose(lf)) {
        fprintf(stderr, "camstream " CMD ": %s: write error\n", lpath);
        rc = CLI_FAIL;
    }
    double ms = cli_now_ms() - t0;
    if (rc == CLI_OK)
        printf("wrote %d frames %dx%d at %d fps to %s, labels to %s (%.0f frames/s)\n", a->frames,
               a->width, a->height, a->fps, a->out, lpath, ms > 0 ? a->frames * 1000.0 / ms : 0.0);
    free(lpath);
    cs_synth_scene_destroy(&sc);
    return rc;
}
#else
static int synth_video(const synth_args *a)
{
    (void)write_label_header;
    (void)write_label_rows;
    (void)labels_path;
    fprintf(stderr, "camstream " CMD ": video needs GStreamer (this build has none; install "
                    "libgstreamer-plugins-base1.0-dev and rebuild)\n");
    return CLI_FAIL;
}
#endif

int cmd_synth(int argc, char **argv)
{
    synth_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? CLI_OK : CLI_USAGE;
    return strcmp(a.mode, "video") == 0 ? synth_video(&a) : synth_dataset(&a);
}
