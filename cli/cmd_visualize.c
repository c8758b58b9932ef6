/* camstream visualize: what a model's units respond to, as PNG images.
 *
 *     camstream visualize --model M.onnx --actmax --target output --unit 3 --out am.png
 *     camstream visualize --model M.onnx --patches --layer L --unit 5 --images DIR --out p.png
 *     camstream visualize --model M.onnx --filters --out filters.png
 *
 * Activation maximization (the input that maximizes a class score or a channel, shown
 * de-normalized), the top-activating patches of a channel over a set of images (each cropped
 * from its original image to the unit's receptive field and tiled), and the first
 * convolution's filters. Errors are one line on stderr; exit 0 ok, 1 failure, 2 usage. */
#include "cli.h"
#include "image_io.h"
#include "preprocess.h"

#include "camstream/core.h"
#include "camstream/explain.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMD "visualize"
#define MAX_IMAGE_ARGS 256
#define GAP 2
#define BACKGROUND 40

typedef enum { MODE_NONE, MODE_ACTMAX, MODE_PATCHES, MODE_FILTERS } vis_mode;

typedef struct {
    const char *model, *out, *target, *layer;
    const char *images[MAX_IMAGE_ARGS];
    int n_images;
    vis_mode mode;
    int modes_given;
    int unit, top, tile, zoom, threads;
    pp_cli_args pp;
    /* actmax: -1 / NAN keep the library's defaults */
    int steps, jitter;
    long long seed;
    float lr, l2, tv;
} vis_args;

static void vis_usage(FILE *f)
{
    fprintf(f, "usage: camstream visualize --model M.onnx MODE --out PNG [options]\n"
               "\n"
               "modes:\n"
               "  --actmax             activation maximization: gradient ascent on the input\n"
               "    --target T         tensor to maximize: class scores or a feature map\n"
               "    --unit N           class index or channel\n"
               "    --steps N --lr F --l2 F --tv F --jitter N --seed N   (library defaults)\n"
               "  --patches            the top-activating patches of one channel over images\n"
               "    --layer L          a feature map\n"
               "    --unit N           its channel\n"
               "    --images PATH      a PNG/JPEG file or a directory of them (repeatable)\n"
               "    --top K            patches shown (default 16)\n"
               "    --tile N           tile size in pixels (default 64)\n"
               "  --filters            the first convolution's kernels\n"
               "\n"
               "options:\n"
               "  --out PNG            the image to write (required)\n"
               "  --zoom N             magnification of actmax and filter images (default: actmax\n"
               "                       to at least 128 pixels, filters 8)\n"
               "  --preset NAME, --mean a,b,c, --std a,b,c, --scale 01|11|255, --bgr,\n"
               "  --resize stretch|crop|letterbox   the model's preprocessing (default imagenet)\n"
               "  --threads N          threads (default: all cores)\n");
}

enum {
    O_MODEL = 256,
    O_OUT,
    O_ACTMAX,
    O_PATCHES,
    O_FILTERS,
    O_TARGET,
    O_UNIT,
    O_LAYER,
    O_IMAGES,
    O_TOP,
    O_TILE,
    O_ZOOM,
    O_THREADS,
    O_STEPS,
    O_LR,
    O_L2,
    O_TV,
    O_JITTER,
    O_SEED,
};

static int parse_args(int argc, char **argv, vis_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"out", required_argument, NULL, O_OUT},
        {"actmax", no_argument, NULL, O_ACTMAX},
        {"patches", no_argument, NULL, O_PATCHES},
        {"filters", no_argument, NULL, O_FILTERS},
        {"target", required_argument, NULL, O_TARGET},
        {"unit", required_argument, NULL, O_UNIT},
        {"layer", required_argument, NULL, O_LAYER},
        {"images", required_argument, NULL, O_IMAGES},
        {"top", required_argument, NULL, O_TOP},
        {"tile", required_argument, NULL, O_TILE},
        {"zoom", required_argument, NULL, O_ZOOM},
        {"threads", required_argument, NULL, O_THREADS},
        {"steps", required_argument, NULL, O_STEPS},
        {"lr", required_argument, NULL, O_LR},
        {"l2", required_argument, NULL, O_L2},
        {"tv", required_argument, NULL, O_TV},
        {"jitter", required_argument, NULL, O_JITTER},
        {"seed", required_argument, NULL, O_SEED},
        PP_CLI_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->unit = -1;
    a->top = 16;
    a->tile = 64;
    a->steps = a->jitter = -1;
    a->seed = -1;
    a->lr = a->l2 = a->tv = NAN;
    int c, seed = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_MODEL:
            a->model = optarg;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        case O_ACTMAX:
        case O_PATCHES:
        case O_FILTERS:
            a->mode = c == O_ACTMAX ? MODE_ACTMAX : c == O_PATCHES ? MODE_PATCHES : MODE_FILTERS;
            a->modes_given++;
            break;
        case O_TARGET:
            a->target = optarg;
            break;
        case O_UNIT:
            bad = cli_parse_int(CMD, "--unit", optarg, 0, 1 << 30, &a->unit);
            break;
        case O_LAYER:
            a->layer = optarg;
            break;
        case O_IMAGES:
            if (a->n_images == MAX_IMAGE_ARGS) {
                fprintf(stderr, "camstream " CMD ": at most %d --images\n", MAX_IMAGE_ARGS);
                return 2;
            }
            a->images[a->n_images++] = optarg;
            break;
        case O_TOP:
            bad = cli_parse_int(CMD, "--top", optarg, 1, 1024, &a->top);
            break;
        case O_TILE:
            bad = cli_parse_int(CMD, "--tile", optarg, 4, 1024, &a->tile);
            break;
        case O_ZOOM:
            bad = cli_parse_int(CMD, "--zoom", optarg, 1, 64, &a->zoom);
            break;
        case O_THREADS:
            bad = cli_parse_int(CMD, "--threads", optarg, 1, 256, &a->threads);
            break;
        case O_STEPS:
            bad = cli_parse_int(CMD, "--steps", optarg, 1, 1000000, &a->steps);
            break;
        case O_LR:
            bad = cli_parse_float(CMD, "--lr", optarg, 0, 1e6, &a->lr);
            break;
        case O_L2:
            bad = cli_parse_float(CMD, "--l2", optarg, 0, 1e6, &a->l2);
            break;
        case O_TV:
            bad = cli_parse_float(CMD, "--tv", optarg, 0, 1e6, &a->tv);
            break;
        case O_JITTER:
            bad = cli_parse_int(CMD, "--jitter", optarg, 0, 1024, &a->jitter);
            break;
        case O_SEED:
            bad = cli_parse_int(CMD, "--seed", optarg, 0, 2147483647, &seed);
            a->seed = seed;
            break;
        case 'h':
            vis_usage(stdout);
            return 1;
        default: /* ':' (missing value) or '?' (unknown option) */
            if (c != ':' && pp_cli_option(&a->pp, c, optarg)) break;
            return cli_getopt_fail(CMD, c, argv);
        }
        if (bad) return 2;
    }
    if (cli_no_extra_args(CMD, argc, argv)) return 2;
    const char *missing = !a->model             ? "--model M.onnx"
                          : !a->out             ? "--out PNG"
                          : a->modes_given != 1 ? "exactly one of --actmax, --patches and --filters"
                          : a->mode == MODE_ACTMAX && !a->target   ? "--target T with --actmax"
                          : a->mode == MODE_ACTMAX && a->unit < 0  ? "--unit N with --actmax"
                          : a->mode == MODE_PATCHES && !a->layer   ? "--layer L with --patches"
                          : a->mode == MODE_PATCHES && a->unit < 0 ? "--unit N with --patches"
                          : a->mode == MODE_PATCHES && !a->n_images
                              ? "--images DIR_OR_FILE with --patches"
                              : NULL;
    if (missing) {
        fprintf(stderr, "camstream " CMD ": give %s (see --help)\n", missing);
        return 2;
    }
    return 0;
}

/* Nearest-neighbour magnification. */
static uint8_t *zoom_rgb(const uint8_t *src, int w, int h, int z)
{
    uint8_t *dst = malloc((size_t)w * z * h * z * 3);
    if (!dst) return NULL;
    for (int y = 0; y < h * z; y++)
        for (int x = 0; x < w * z; x++)
            memcpy(dst + ((size_t)y * w * z + x) * 3, src + ((size_t)(y / z) * w + x / z) * 3, 3);
    return dst;
}

static int write_zoomed(const char *path, const uint8_t *rgb, int w, int h, int z)
{
    char msg[1024];
    uint8_t *big = z > 1 ? zoom_rgb(rgb, w, h, z) : NULL;
    if (z > 1 && !big) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        return -1;
    }
    int rc = cli_image_write_png(path, big ? big : rgb, w * z, h * z, msg, sizeof msg);
    free(big);
    if (rc) fprintf(stderr, "camstream " CMD ": --out: %s\n", msg);
    return rc;
}

static int do_actmax(const vis_args *a, const cs_model *m, const pp_opts *pp)
{
    cs_actmax_opts o = cs_actmax_opts_default();
    o.target = a->target;
    o.unit = a->unit;
    o.threads = a->threads;
    if (a->steps > 0) o.steps = a->steps;
    if (!isnan(a->lr)) o.lr = a->lr;
    if (!isnan(a->l2)) o.l2 = a->l2;
    if (!isnan(a->tv)) o.tv = a->tv;
    if (a->jitter >= 0) o.jitter = a->jitter;
    if (a->seed >= 0) o.seed = (uint32_t)a->seed;
    /* The valid input range: what pixels 0 and 255 become, over every channel. */
    float lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < 3; c++) {
        for (int p = 0; p <= 255; p += 255) {
            float s = pp->scale == PP_SCALE_01   ? p / 255.0f
                      : pp->scale == PP_SCALE_11 ? p / 127.5f - 1.0f
                                                 : (float)p;
            float v = (s - pp->mean[c]) / pp->std[c];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    o.lo = lo;
    o.hi = hi;
    float *trace = malloc(sizeof(float) * (size_t)o.steps);
    cs_error err = {0};
    cs_tensor *img = trace ? cs_activation_maximize(m, &o, trace, &err) : NULL;
    if (!img) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a->model, trace ? err.msg : "out of memory");
        free(trace);
        return -1;
    }
    int rc = -1;
    char shape[128];
    uint8_t *rgb = NULL;
    if (img->ndim != 4 || img->dims[0] != 1) {
        fprintf(stderr, "camstream " CMD ": %s: activation maximization returned %s, not 1xCxHxW\n",
                a->model, cs_shape_str(img, shape, sizeof shape));
        goto done;
    }
    int C = (int)img->dims[1], H = (int)img->dims[2], W = (int)img->dims[3];
    rgb = malloc((size_t)H * W * 3);
    if (!rgb) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    pp_tensor_to_rgb(img->data, C, H, W, pp, rgb);
    int z = a->zoom;
    if (!z) {
        int side = H < W ? H : W;
        z = side >= 128 ? 1 : (128 + side - 1) / side;
    }
    if (write_zoomed(a->out, rgb, W, H, z)) goto done;
    printf("actmax: '%s' unit %d: %.6g -> %.6g in %d steps; %dx%d image (x%d) to %s\n", a->target,
           a->unit, trace[0], trace[o.steps - 1], o.steps, W, H, z, a->out);
    rc = 0;
done:
    free(rgb);
    free(trace);
    cs_tensor_free(&img);
    return rc;
}

static int do_filters(const vis_args *a, const cs_model *m)
{
    cs_error err = {0};
    int z = a->zoom ? a->zoom : 8;
    cs_tensor *g = cs_filter_grid(m, z, &err);
    if (!g) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a->model, err.msg);
        return -1;
    }
    char shape[128];
    int ok = g->ndim >= 3 && g->dims[g->ndim - 3] == 3;
    for (int i = 0; ok && i < g->ndim - 3; i++) ok = g->dims[i] == 1;
    if (!ok) {
        fprintf(stderr, "camstream " CMD ": %s: filter grid of shape %s is not 3xHxW\n", a->model,
                cs_shape_str(g, shape, sizeof shape));
        cs_tensor_free(&g);
        return -1;
    }
    int H = (int)g->dims[g->ndim - 2], W = (int)g->dims[g->ndim - 1];
    uint8_t *rgb = malloc((size_t)H * W * 3);
    int rc = -1;
    if (!rgb) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
    } else {
        pp_opts unit = {.scale = PP_SCALE_01, .mean = {0, 0, 0}, .std = {1, 1, 1}};
        pp_tensor_to_rgb(g->data, 3, H, W, &unit, rgb);
        rc = write_zoomed(a->out, rgb, W, H, 1);
        if (!rc) printf("filters: %dx%d grid to %s\n", W, H, a->out);
    }
    free(rgb);
    cs_tensor_free(&g);
    return rc;
}

/* ---- patches -------------------------------------------------------------------------------- */

typedef struct {
    char **paths;
    int n, cap;
} path_list;

static int path_add(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **np = realloc(l->paths, sizeof(char *) * (size_t)cap);
        if (!np) return -1;
        l->paths = np;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(p))) return -1;
    l->n++;
    return 0;
}

static void path_free(path_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
}

static int name_cmp(const void *pa, const void *pb)
{
    return strcmp(*(char *const *)pa, *(char *const *)pb);
}

/* A file as given (decoded later, errors then), or a directory's PNG/JPEG files by name. */
static int collect_images(const char *arg, path_list *l)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        fprintf(stderr, "camstream " CMD ": --images: %s: %s\n", arg, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (!path_add(l, arg)) return 0;
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        return -1;
    }
    DIR *d = opendir(arg);
    if (!d) {
        fprintf(stderr, "camstream " CMD ": --images: %s: %s\n", arg, strerror(errno));
        return -1;
    }
    int first = l->n, rc = 0;
    struct dirent *ent;
    char path[4096];
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", arg, ent->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !cli_image_file_is_supported(path))
            continue;
        if (path_add(l, path)) {
            fprintf(stderr, "camstream " CMD ": out of memory\n");
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (!rc && l->n == first) {
        fprintf(stderr, "camstream " CMD ": --images: %s: no PNG or JPEG files in the directory\n",
                arg);
        rc = -1;
    }
    if (l->n > first) qsort(l->paths + first, (size_t)(l->n - first), sizeof(char *), name_cmp);
    return rc;
}

static int do_patches(const vis_args *a, const cs_model *m, const pp_opts *pp)
{
    char msg[1024];
    if (cs_model_n_inputs(m) != 1) {
        fprintf(stderr, "camstream " CMD ": %s has %d inputs; patches need one image input\n",
                a->model, cs_model_n_inputs(m));
        return -1;
    }
    const cs_tensor *in = cs_model_input(m, 0);
    if (in->ndim != 4 || in->dims[1] <= 0 || in->dims[2] <= 0 || in->dims[3] <= 0) {
        char shape[128];
        fprintf(stderr,
                "camstream " CMD ": %s: input '%s' is %s; patches need a fixed 1xCxHxW input\n",
                a->model, in->name ? in->name : "?", cs_shape_str(in, shape, sizeof shape));
        return -1;
    }
    int C = (int)in->dims[1], H = (int)in->dims[2], W = (int)in->dims[3];
    path_list files = {0};
    for (int i = 0; i < a->n_images; i++)
        if (collect_images(a->images[i], &files)) {
            path_free(&files);
            return -1;
        }
    int n = files.n, rc = -1, k = a->top;
    size_t per = (size_t)C * H * W;
    float *x = malloc(sizeof(float) * per * (size_t)n);
    cli_image *imgs = calloc((size_t)n, sizeof *imgs);
    pp_geom *geo = calloc((size_t)n, sizeof *geo);
    cs_patch *patches = calloc((size_t)k, sizeof *patches);
    uint8_t *grid = NULL, *tile = NULL;
    if (!x || !imgs || !geo || !patches) {
        fprintf(stderr, "camstream " CMD ": out of memory for %d images\n", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (cli_image_read(files.paths[i], &imgs[i], msg, sizeof msg) ||
            pp_image_to_tensor(&imgs[i], pp, C, H, W, x + per * i, &geo[i], msg, sizeof msg)) {
            fprintf(stderr, "camstream " CMD ": %s\n", msg);
            goto done;
        }
    }
    cs_error err = {0};
    int got = cs_top_patches(m, a->layer, a->unit, x, n, k, patches, &err);
    if (got < 0 || (got == 0 && err.status != CS_OK)) {
        fprintf(stderr, "camstream " CMD ": %s: %s\n", a->model, err.msg);
        goto done;
    }
    if (got == 0) {
        fprintf(stderr, "camstream " CMD ": %s: no patches for unit %d of '%s'\n", a->model,
                a->unit, a->layer);
        goto done;
    }
    int T = a->tile, cols = (int)ceil(sqrt((double)got)), rows = (got + cols - 1) / cols;
    int gw = cols * T + (cols + 1) * GAP, gh = rows * T + (rows + 1) * GAP;
    grid = malloc((size_t)gw * gh * 3);
    tile = malloc((size_t)T * T * 3);
    if (!grid || !tile) {
        fprintf(stderr, "camstream " CMD ": out of memory\n");
        goto done;
    }
    memset(grid, BACKGROUND, (size_t)gw * gh * 3);
    for (int i = 0; i < got; i++) {
        const cs_patch *p = &patches[i];
        if (p->image < 0 || p->image >= n) continue;
        const cli_image *im = &imgs[p->image];
        double r[4];
        pp_rect_to_image(&geo[p->image], p->x0, p->y0, p->x1, p->y1, r);
        double rw = r[2] - r[0], rh = r[3] - r[1];
        if (!(rw > 0 && rh > 0)) continue;
        /* Keep the patch's aspect inside the square tile. */
        int tw = rw >= rh ? T : (int)lround(T * rw / rh),
            th = rh >= rw ? T : (int)lround(T * rh / rw);
        tw = tw < 1 ? 1 : tw;
        th = th < 1 ? 1 : th;
        if (pp_resample_rgb8(im->rgb, im->w, im->h, r[0], r[1], r[2], r[3], tile, tw, th,
                             BACKGROUND)) {
            fprintf(stderr, "camstream " CMD ": out of memory\n");
            goto done;
        }
        int gx = GAP + (i % cols) * (T + GAP) + (T - tw) / 2;
        int gy = GAP + (i / cols) * (T + GAP) + (T - th) / 2;
        for (int y = 0; y < th; y++)
            memcpy(grid + ((size_t)(gy + y) * gw + gx) * 3, tile + (size_t)y * tw * 3,
                   (size_t)tw * 3);
        printf("patch %d: %s at (%d,%d) value %.6g, input pixels [%d,%d)x[%d,%d)\n", i,
               files.paths[p->image], p->y, p->x, p->value, p->x0, p->x1, p->y0, p->y1);
    }
    if (cli_image_write_png(a->out, grid, gw, gh, msg, sizeof msg)) {
        fprintf(stderr, "camstream " CMD ": --out: %s\n", msg);
        goto done;
    }
    printf("patches: %d of %d image(s), %dx%d grid to %s\n", got, n, gw, gh, a->out);
    rc = 0;
done:
    for (int i = 0; imgs && i < n; i++) cli_image_free(&imgs[i]);
    free(imgs);
    free(geo);
    free(x);
    free(patches);
    free(grid);
    free(tile);
    path_free(&files);
    return rc;
}

int cmd_visualize(int argc, char **argv)
{
    vis_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? CLI_OK : CLI_USAGE;
    char msg[1024];
    pp_opts pp;
    if (pp_cli_resolve(&a.pp, "imagenet", &pp, NULL, msg, sizeof msg)) {
        fprintf(stderr, "camstream " CMD ": %s\n", msg);
        return CLI_USAGE;
    }
    cs_error err = {0};
    cs_model *m = cs_model_load_file(a.model, &err);
    if (!m) {
        fprintf(stderr, "camstream " CMD ": %s\n", err.msg);
        return CLI_FAIL;
    }
    int rc = a.mode == MODE_ACTMAX    ? do_actmax(&a, m, &pp)
             : a.mode == MODE_PATCHES ? do_patches(&a, m, &pp)
                                      : do_filters(&a, m);
    cs_model_destroy(&m);
    return rc ? CLI_FAIL : CLI_OK;
}
