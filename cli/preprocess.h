/* Preprocessing for the camstream tool: command-line options resolved to core options, and
 * decoded images handed to core's preprocessing (camstream/preprocess.h, where the resizing,
 * normalization and the mapping back to the image live).
 *
 * The pp_* names below are kept for the commands that predate core's API; they are thin
 * aliases of the cs_pp_* functions, not a second implementation. */
#ifndef CS_CLI_PREPROCESS_H
#define CS_CLI_PREPROCESS_H

#include "image_io.h"

#include "camstream/formats.h"
#include "camstream/preprocess.h"

#include <stddef.h>
#include <stdint.h>

/* ---- aliases of core's names ---------------------------------------------------------- */
typedef cs_pp_opts pp_opts;
typedef cs_pp_geom pp_geom;
typedef cs_resize_mode pp_resize_mode;
typedef cs_scale pp_scale;
#define PP_STRETCH CS_RESIZE_STRETCH
#define PP_CROP CS_RESIZE_CROP
#define PP_LETTERBOX CS_RESIZE_LETTERBOX
#define PP_SCALE_01 CS_SCALE_01
#define PP_SCALE_11 CS_SCALE_11
#define PP_SCALE_255 CS_SCALE_255
#define PP_PRESET_NAMES CS_PP_PRESET_NAMES
#define pp_preset cs_pp_preset
#define pp_resize_name cs_pp_resize_name
#define pp_scale_name cs_pp_scale_name
#define pp_geometry cs_pp_geometry
#define pp_rect_to_image cs_pp_rect_to_image
#define pp_tensor_to_rgb cs_pp_tensor_to_rgb
#define pp_map_to_image cs_pp_map_to_image
#define pp_resample_rgb8 cs_pp_resample_rgb8

/* img (RGB8) -> C×H×W floats at out through core's preprocessing; st (may be NULL) a
 * statistics file's content. Fills g (may be NULL). Returns 0 or -1 (err). */
int pp_image_to_tensor_st(const cli_image *img, const cs_pp_opts *o, const cs_statistics *st, int C,
                          int H, int W, float *out, cs_pp_geom *g, char *err, size_t errlen);
int pp_image_to_tensor(const cli_image *img, const cs_pp_opts *o, int C, int H, int W, float *out,
                       cs_pp_geom *g, char *err, size_t errlen);

/* Command-line preprocessing options as given (NULL / 0 when absent). */
typedef struct pp_cli_args {
    const char *preset, *mean, *std, *scale, *resize;
    int bgr;
} pp_cli_args;

/* The preprocessing options shared by `explain` and `visualize`: option codes above any
 * command's own (which start at 256), the getopt_long entries, and their handler. */
enum { PP_OPT_PRESET = 0x1000, PP_OPT_MEAN, PP_OPT_STD, PP_OPT_SCALE, PP_OPT_BGR, PP_OPT_RESIZE };
#define PP_CLI_LONG_OPTIONS                                                                        \
    {"preset", required_argument, NULL, PP_OPT_PRESET},                                            \
        {"mean", required_argument, NULL, PP_OPT_MEAN},                                            \
        {"std", required_argument, NULL, PP_OPT_STD},                                              \
        {"scale", required_argument, NULL, PP_OPT_SCALE}, {"bgr", no_argument, NULL, PP_OPT_BGR},  \
    {                                                                                              \
        "resize", required_argument, NULL, PP_OPT_RESIZE                                           \
    }
/* Stores option `code` (argument arg) in a; returns 1 when code is a preprocessing option. */
int pp_cli_option(pp_cli_args *a, int code, const char *arg);

/* Resolves the options: a preset (default `dflt`, when neither a preset nor any of mean, std,
 * scale, bgr is given; `none` under explicit mean/std/scale/bgr) then the explicit values over
 * it. *given says whether anything but --resize was given. Returns 0 or -1 with err naming the
 * bad option. */
int pp_cli_resolve(const pp_cli_args *a, const char *dflt, cs_pp_opts *o, int *given, char *err,
                   size_t errlen);
/* The same over a model description's options: without --preset the description's values are
 * the base and each explicit option replaces one of them. */
int pp_cli_resolve_over(const pp_cli_args *a, const cs_pp_opts *base, cs_pp_opts *o, int *given,
                        char *err, size_t errlen);

#endif
