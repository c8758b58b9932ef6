/* Fitting normalization and whitening statistics (stats_fit.h): one pass over 8-bit images,
 * double accumulators, LAPACK dsyev for the eigen-decomposition. */
#include "camstream/stats_fit.h"

#include <cblas.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (in Debian's libopenblas): symmetric eigen-decomposition, column-major. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

static const char *const kind_names[CS_FIT_KIND_COUNT] = {"mean-image", "channel-mean",
                                                          "channel-mean-std", "pca", "zca"};

const char *cs_fit_kind_name(cs_fit_kind k)
{
    return (unsigned)k < CS_FIT_KIND_COUNT ? kind_names[k] : "?";
}

int cs_fit_kind_parse(const char *s, cs_fit_kind *out)
{
    for (int i = 0; s && i < CS_FIT_KIND_COUNT; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (cs_fit_kind)i;
            return 0;
        }
    return -1;
}

static cs_status fail(cs_error *err, cs_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

struct cs_fit {
    cs_fit_opts o;
    int D;            /* vector length */
    int w, h;         /* mean-image: the size of the first image */
    long long images; /* images added */
    long long n;      /* vectors added */
    int shifted;      /* shift holds the first vector */
    double *shift;    /* D */
    double *sum;      /* D (mean-image: 3·h·w) sums of x − shift */
    double *sq;       /* channel-mean-std: D sums of squares; pca/zca: D×D (upper) */
    double *batch;    /* vectors of one image, minus the shift */
    size_t batch_cap;
};

void cs_fit_destroy(cs_fit **pf)
{
    if (!pf || !*pf) return;
    cs_fit *f = *pf;
    free(f->shift);
    free(f->sum);
    free(f->sq);
    free(f->batch);
    free(f);
    *pf = NULL;
}

cs_fit *cs_fit_new(const cs_fit_opts *o, cs_error *err)
{
    int pca = o->kind == CS_FIT_PCA || o->kind == CS_FIT_ZCA;
    if ((unsigned)o->kind >= CS_FIT_KIND_COUNT || o->patch < 0 || o->patch > 16 ||
        (o->patch && !pca) || !(o->epsilon >= 0) || (unsigned)o->scale > CS_SCALE_255) {
        fail(err, CS_ERR_INVALID,
             "fit: invalid options (patch 1..16 for pca/zca only, epsilon >= 0)");
        return NULL;
    }
    cs_fit *f = calloc(1, sizeof *f);
    if (!f) goto nomem;
    f->o = *o;
    int p = o->patch ? o->patch : 1;
    f->D = 3 * p * p;
    f->shift = calloc((size_t)f->D, sizeof(double));
    if (o->kind != CS_FIT_MEAN_IMAGE) f->sum = calloc((size_t)f->D, sizeof(double));
    if (o->kind == CS_FIT_CHANNEL_MEAN_STD) f->sq = calloc((size_t)f->D, sizeof(double));
    if (pca) f->sq = calloc((size_t)f->D * f->D, sizeof(double));
    if (!f->shift || (o->kind != CS_FIT_MEAN_IMAGE && !f->sum) ||
        ((pca || o->kind == CS_FIT_CHANNEL_MEAN_STD) && !f->sq))
        goto nomem;
    return f;
nomem:
    cs_fit_destroy(&f);
    fail(err, CS_ERR_NOMEM, "fit: out of memory");
    return NULL;
}

static double scaled(const cs_fit *f, uint8_t v)
{
    switch (f->o.scale) {
    case CS_SCALE_11:
        return v / 127.5 - 1.0;
    case CS_SCALE_255:
        return (double)v;
    default:
        return v / 255.0;
    }
}

cs_status cs_fit_add(cs_fit *f, const uint8_t *rgb, int w, int h, cs_error *err)
{
    if (w < 1 || h < 1) return fail(err, CS_ERR_INVALID, "fit: empty image");
    size_t hw = (size_t)w * h;
    if (f->o.kind == CS_FIT_MEAN_IMAGE) {
        if (!f->sum) {
            f->w = w, f->h = h;
            if (!(f->sum = calloc(3 * hw, sizeof(double))))
                return fail(err, CS_ERR_NOMEM, "fit: out of memory");
        } else if (w != f->w || h != f->h) {
            return fail(err, CS_ERR_INVALID,
                        "fit: mean-image needs images of one size: %dx%d after %dx%d", w, h, f->w,
                        f->h);
        }
        for (size_t i = 0; i < hw; i++)
            for (int c = 0; c < 3; c++) f->sum[c * hw + i] += scaled(f, rgb[i * 3 + c]);
        f->images++;
        f->n++;
        return CS_OK;
    }
    int p = f->o.patch ? f->o.patch : 1, D = f->D;
    size_t nv = (size_t)(w / p) * (size_t)(h / p);
    if (nv == 0)
        return fail(err, CS_ERR_INVALID, "fit: a %dx%d image has no %dx%d patch", w, h, p, p);
    if (nv * D > f->batch_cap) {
        free(f->batch);
        f->batch_cap = nv * D;
        if (!(f->batch = malloc(f->batch_cap * sizeof(double))))
            return fail(err, CS_ERR_NOMEM, "fit: out of memory");
    }
    /* Vectors: channel-major within a patch (c·p² + y·p + x), as formats.h defines. */
    size_t v = 0;
    for (int py = 0; py + p <= h; py += p)
        for (int px = 0; px + p <= w; px += p, v++) {
            double *x = f->batch + v * D;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < p; y++)
                    for (int xx = 0; xx < p; xx++)
                        x[c * p * p + y * p + xx] =
                            scaled(f, rgb[((size_t)(py + y) * w + px + xx) * 3 + c]);
            if (!f->shifted) {
                memcpy(f->shift, x, sizeof(double) * D);
                f->shifted = 1;
            }
            for (int d = 0; d < D; d++) {
                x[d] -= f->shift[d];
                f->sum[d] += x[d];
                if (f->o.kind == CS_FIT_CHANNEL_MEAN_STD) f->sq[d] += x[d] * x[d];
            }
        }
    if (f->o.kind == CS_FIT_PCA || f->o.kind == CS_FIT_ZCA)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, (int)nv, 1.0, f->batch, D, 1.0, f->sq,
                    D);
    f->n += (long long)nv;
    f->images++;
    return CS_OK;
}

/* Eigen-decomposition of the covariance; fills W (PCA: S^-1/2 Uᵀ, ZCA: U S^-1/2 Uᵀ). */
static cs_status whiten(cs_fit *f, const double *mean_shifted, float *W, cs_error *err)
{
    int D = f->D, info = 0, lwork = -1;
    double *A = malloc(sizeof(double) * D * D), *ev = malloc(sizeof(double) * D), q = 0;
    double *vec = malloc(sizeof(double) * D * D), *s = malloc(sizeof(double) * D);
    cs_status rc = CS_OK;
    if (!A || !ev || !vec || !s) {
        rc = fail(err, CS_ERR_NOMEM, "fit: out of memory");
        goto out;
    }
    /* Σ = S/N − m mᵀ (m: the mean minus the shift); full symmetric matrix. */
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            double c = f->sq[i * D + j] / (double)f->n - mean_shifted[i] * mean_shifted[j];
            A[i * D + j] = A[j * D + i] = c;
        }
    dsyev_("V", "U", &D, A, &D, ev, &q, &lwork, &info);
    lwork = (int)q;
    double *work = info == 0 ? malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1)) : NULL;
    if (work) dsyev_("V", "U", &D, A, &D, ev, work, &lwork, &info);
    free(work);
    if (info != 0 || !work) {
        rc = fail(err, CS_ERR_INVALID, "fit: the eigen-decomposition failed (dsyev info %d)", info);
        goto out;
    }
    /* Column k of A (column-major) is the eigenvector of ev[k], ascending: reverse, fix signs. */
    for (int k = 0; k < D; k++) {
        int src = D - 1 - k, big = 0;
        for (int i = 0; i < D; i++) {
            vec[k * D + i] = A[src * D + i];
            if (fabs(vec[k * D + i]) > fabs(vec[k * D + big]) + 1e-12) big = i;
        }
        if (vec[k * D + big] < 0)
            for (int i = 0; i < D; i++) vec[k * D + i] = -vec[k * D + i];
        double lam = ev[src] > 0 ? ev[src] : 0;
        if (lam + f->o.epsilon <= 0) {
            rc = fail(err, CS_ERR_INVALID,
                      "fit: the covariance is singular (a direction without variance); give "
                      "--epsilon > 0");
            goto out;
        }
        s[k] = 1.0 / sqrt(lam + f->o.epsilon);
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double v = 0;
            if (f->o.kind == CS_FIT_PCA)
                v = s[i] * vec[i * D + j];
            else
                for (int k = 0; k < D; k++) v += vec[k * D + i] * s[k] * vec[k * D + j];
            W[i * D + j] = (float)v;
        }
out:
    free(A);
    free(ev);
    free(vec);
    free(s);
    return rc;
}

cs_statistics *cs_fit_finish(cs_fit *f, const char *fitted_on, cs_error *err)
{
    if (f->images == 0) {
        fail(err, CS_ERR_INVALID, "fit: no images");
        return NULL;
    }
    cs_fit_kind k = f->o.kind;
    cs_stats_kind sk = k == CS_FIT_MEAN_IMAGE ? CS_STATS_MEAN_IMAGE
                       : k == CS_FIT_PCA      ? CS_STATS_PCA
                       : k == CS_FIT_ZCA      ? CS_STATS_ZCA
                                              : CS_STATS_MEAN_STD;
    cs_statistics *st = cs_statistics_new(sk, 3, f->o.patch, f->w, f->h);
    double *m = calloc((size_t)f->D, sizeof(double));
    if (!st || !m) {
        free(m);
        cs_statistics_destroy(&st);
        fail(err, CS_ERR_NOMEM, "fit: out of memory");
        return NULL;
    }
    st->scale = f->o.scale;
    st->samples = f->images;
    st->fitted_on = fitted_on ? g_strdup(fitted_on) : NULL;
    if (k == CS_FIT_MEAN_IMAGE) {
        size_t n = (size_t)3 * f->w * f->h;
        for (size_t i = 0; i < n; i++) st->mean_image[i] = (float)(f->sum[i] / (double)f->n);
        free(st->std); /* optional for a mean image: not fitted */
        st->std = NULL;
    } else {
        for (int d = 0; d < f->D; d++) {
            m[d] = f->sum[d] / (double)f->n;
            st->mean[d] = (float)(m[d] + f->shift[d]);
        }
        if (k == CS_FIT_CHANNEL_MEAN_STD)
            for (int c = 0; c < 3; c++) {
                double var = f->sq[c] / (double)f->n - m[c] * m[c];
                st->std[c] = (float)sqrt(var > 0 ? var : 0);
                if (!(st->std[c] > 0)) {
                    free(m);
                    cs_statistics_destroy(&st);
                    fail(err, CS_ERR_INVALID, "fit: channel %d has no variance (std 0)", c);
                    return NULL;
                }
            }
        if (k == CS_FIT_PCA || k == CS_FIT_ZCA) {
            st->epsilon = (float)f->o.epsilon;
            if (whiten(f, m, st->matrix, err) != CS_OK) cs_statistics_destroy(&st);
        }
    }
    free(m);
    return st;
}

cs_statistics *cs_fit_dataset(const cs_dataset *ds, cs_split split, const cs_fit_opts *o,
                              cs_error *err)
{
    int n = cs_dataset_count(ds, split);
    if (n == 0) {
        fail(err, CS_ERR_INVALID, "%s: split %s has no images", ds->csv_path, cs_split_name(split));
        return NULL;
    }
    cs_fit *f = cs_fit_new(o, err);
    uint8_t *rgb = malloc((size_t)ds->width * ds->height * 3);
    cs_statistics *st = NULL;
    if (!f || !rgb) {
        if (f) fail(err, CS_ERR_NOMEM, "fit: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const cs_sample *s = cs_dataset_get(ds, split, i);
        if (cs_dataset_image_u8(ds, s, rgb, err) != CS_OK ||
            cs_fit_add(f, rgb, ds->width, ds->height, err) != CS_OK)
            goto out;
    }
    char *base = g_path_get_basename(ds->dir);
    char *on = g_strdup_printf("%s/%s", base, cs_split_name(split));
    st = cs_fit_finish(f, on, err);
    g_free(on);
    g_free(base);
out:
    free(rgb);
    cs_fit_destroy(&f);
    return st;
}
