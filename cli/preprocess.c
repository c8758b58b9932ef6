/* Command-line preprocessing options and images through core's preprocessing (preprocess.h). */
#include "preprocess.h"

#include <stdio.h>
#include <string.h>

int pp_image_to_tensor_st(const cli_image *img, const cs_pp_opts *o, const cs_statistics *st, int C,
                          int H, int W, float *out, cs_pp_geom *g, char *err, size_t errlen)
{
    cs_error e = {0};
    cs_pp *pp = cs_pp_new(o, st, C, H, W, &e);
    cs_frame f = {.format = CS_PIX_RGB,
                  .width = img->w,
                  .height = img->h,
                  .data = {img->rgb},
                  .stride = {img->w * 3}};
    if (!pp || cs_pp_run(pp, &f, out, g, &e) != CS_OK) {
        snprintf(err, errlen, "%s", e.msg);
        cs_pp_destroy(&pp);
        return -1;
    }
    cs_pp_destroy(&pp);
    return 0;
}

int pp_image_to_tensor(const cli_image *img, const cs_pp_opts *o, int C, int H, int W, float *out,
                       cs_pp_geom *g, char *err, size_t errlen)
{
    return pp_image_to_tensor_st(img, o, NULL, C, H, W, out, g, err, errlen);
}

static int resolve(const pp_cli_args *a, const char *dflt, const cs_pp_opts *base, cs_pp_opts *o,
                   int *given, char *err, size_t errlen)
{
    int custom = a->mean || a->std || a->scale || a->bgr;
    if (given) *given = custom || a->preset;
    cs_resize_mode resize = base ? base->resize : CS_RESIZE_STRETCH;
    memset(o, 0, sizeof *o);
    if (a->resize && cs_pp_parse_resize(a->resize, &resize)) {
        snprintf(err, errlen, "--resize: '%s' is not stretch, crop or letterbox", a->resize);
        return -1;
    }
    o->resize = resize;
    if (base && !a->preset) {
        *o = *base;
        o->resize = resize;
    } else {
        const char *preset = a->preset ? a->preset : custom ? "none" : dflt;
        if (cs_pp_preset(preset, o)) {
            snprintf(err, errlen, "--preset: unknown preset '%s' (known: %s)", preset,
                     CS_PP_PRESET_NAMES);
            return -1;
        }
    }
    if (a->scale && cs_pp_parse_scale(a->scale, &o->scale)) {
        snprintf(err, errlen, "--scale: '%s' is not 01, 11 or 255", a->scale);
        return -1;
    }
    if (a->mean && cs_pp_parse_triplet(a->mean, o->mean)) {
        snprintf(err, errlen, "--mean: '%s' is not three comma-separated numbers", a->mean);
        return -1;
    }
    if (a->std && cs_pp_parse_triplet(a->std, o->std)) {
        snprintf(err, errlen, "--std: '%s' is not three comma-separated numbers", a->std);
        return -1;
    }
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] != 0.0f)) {
            snprintf(err, errlen, "--std: channel %d is zero", c);
            return -1;
        }
    if (a->bgr) o->bgr = 1;
    return 0;
}

int pp_cli_resolve(const pp_cli_args *a, const char *dflt, cs_pp_opts *o, int *given, char *err,
                   size_t errlen)
{
    return resolve(a, dflt, NULL, o, given, err, errlen);
}

int pp_cli_resolve_over(const pp_cli_args *a, const cs_pp_opts *base, cs_pp_opts *o, int *given,
                        char *err, size_t errlen)
{
    return resolve(a, "imagenet", base, o, given, err, errlen);
}

int pp_cli_option(pp_cli_args *a, int code, const char *arg)
{
    switch (code) {
    case PP_OPT_PRESET:
        a->preset = arg;
        return 1;
    case PP_OPT_MEAN:
        a->mean = arg;
        return 1;
    case PP_OPT_STD:
        a->std = arg;
        return 1;
    case PP_OPT_SCALE:
        a->scale = arg;
        return 1;
    case PP_OPT_BGR:
        a->bgr = 1;
        return 1;
    case PP_OPT_RESIZE:
        a->resize = arg;
        return 1;
    default:
        return 0;
    }
}
