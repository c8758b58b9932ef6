/* Fitting preprocessing statistics (REFERENCE §1) on a training split: mean image, per-channel
 * mean (and std), PCA and ZCA whitening over per-pixel channel vectors or p×p patches. The
 * result is a cs_statistics (formats.h) ready for cs_statistics_write; `camstream fit` is the
 * command-line front end (docs/DATASETS.md).
 *
 *     cs_fit_opts o = CS_FIT_OPTS_DEFAULT;   // zca, channel, scale 01, epsilon 1e-5
 *     cs_fit *f = cs_fit_new(&o, &err);
 *     for each training image: cs_fit_add(f, rgb, w, h, &err);   // 8-bit RGB, H×W×3
 *     cs_statistics *st = cs_fit_finish(f, "shapes/train", &err);
 *     cs_statistics_write("shapes.stats", st, &err);
 *     cs_fit_destroy(&f);
 *
 * One pass, in double precision (sums shifted by the first vector). The covariance is
 * Σ = XᵀX/N of the centred vectors (N: vectors, not images), eigen-decomposed with LAPACK
 * dsyev; eigenvalues below zero (rounding) count as 0, and ε is added to all of them.
 * Eigenvectors are ordered by decreasing eigenvalue, each with its largest-magnitude entry
 * positive (so PCA rows are reproducible). Standard deviations are population ones (÷N). */
#ifndef CAMSTREAM_STATS_FIT_H
#define CAMSTREAM_STATS_FIT_H

#include "camstream/dataset.h"
#include "camstream/formats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CS_FIT_MEAN_IMAGE,
    CS_FIT_CHANNEL_MEAN,     /* mean-std with std = 1 */
    CS_FIT_CHANNEL_MEAN_STD, /* mean-std */
    CS_FIT_PCA,
    CS_FIT_ZCA,
    CS_FIT_KIND_COUNT
} cs_fit_kind;
#define CS_FIT_KIND_NAMES "mean-image, channel-mean, channel-mean-std, pca, zca"
const char *cs_fit_kind_name(cs_fit_kind k);
int cs_fit_kind_parse(const char *s, cs_fit_kind *out); /* 0 or -1 */

typedef struct cs_fit_opts {
    cs_fit_kind kind;
    int patch;      /* pca/zca: 0 = per-pixel channel vectors, p = non-overlapping p×p patches */
    cs_scale scale; /* how 8-bit values are scaled first */
    double epsilon; /* pca/zca, added to the eigenvalues */
} cs_fit_opts;
#define CS_FIT_OPTS_DEFAULT                                                                        \
    {                                                                                              \
        CS_FIT_ZCA, 0, CS_SCALE_01, 1e-5                                                           \
    }

typedef struct cs_fit cs_fit;

cs_fit *cs_fit_new(const cs_fit_opts *o, cs_error *err);
/* Adds one image. All images must have the same size for mean-image; patches use the
 * ⌊H/p⌋×⌊W/p⌋ non-overlapping patches from the top-left corner. */
cs_status cs_fit_add(cs_fit *f, const uint8_t *rgb, int w, int h, cs_error *err);
/* The statistics of everything added (fitted_on recorded as given, may be NULL). */
cs_statistics *cs_fit_finish(cs_fit *f, const char *fitted_on, cs_error *err);
void cs_fit_destroy(cs_fit **f);

/* Fits on every sample of one split of a dataset; fitted_on = "<dir base name>/<split>". */
cs_statistics *cs_fit_dataset(const cs_dataset *ds, cs_split split, const cs_fit_opts *o,
                              cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
