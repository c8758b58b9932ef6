/* Localization and keypoint metrics (camstream/eval.h): boxes, pointing game, curve areas,
 * saliency order, the insertion substrate, PCK. */
#include "camstream/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double cs_eval_iou(const double a[4], const double b[4])
{
    double aw = a[2] - a[0], ah = a[3] - a[1], bw = b[2] - b[0], bh = b[3] - b[1];
    if (!(aw > 0 && ah > 0 && bw > 0 && bh > 0)) return 0.0;
    double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]);
    double ih = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (!(iw > 0 && ih > 0)) return 0.0;
    double inter = iw * ih;
    return inter / (aw * ah + bw * bh - inter);
}

void cs_eval_xywh_to_xyxy(const float xywh[4], double out[4])
{
    out[0] = xywh[0];
    out[1] = xywh[1];
    out[2] = (double)xywh[0] + xywh[2];
    out[3] = (double)xywh[1] + xywh[3];
}

void cs_eval_decode_box(const float v[4], cs_box_format f, cs_box_coords c, int W, int H,
                        double out[4])
{
    double sx = c == CS_COORDS_NORMALIZED ? W : 1.0, sy = c == CS_COORDS_NORMALIZED ? H : 1.0;
    if (f == CS_BOX_CXCYWH) {
        out[0] = (v[0] - 0.5 * v[2]) * sx;
        out[1] = (v[1] - 0.5 * v[3]) * sy;
        out[2] = (v[0] + 0.5 * v[2]) * sx;
        out[3] = (v[1] + 0.5 * v[3]) * sy;
    } else {
        out[0] = v[0] * sx;
        out[1] = v[1] * sy;
        out[2] = v[2] * sx;
        out[3] = v[3] * sy;
    }
}

double cs_eval_point_box_distance(double x, double y, const double box[4])
{
    double dx = x < box[0] ? box[0] - x : (x > box[2] ? x - box[2] : 0.0);
    double dy = y < box[1] ? box[1] - y : (y > box[3] ? y - box[3] : 0.0);
    return sqrt(dx * dx + dy * dy);
}

int64_t cs_eval_argmax(const float *map, int64_t n)
{
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(map[i]) && (best < 0 || map[i] > map[best])) best = i;
    return best;
}

int cs_eval_pointing(const float *map, int h, int w, const double box[4], double tol)
{
    int64_t i = cs_eval_argmax(map, (int64_t)h * w);
    if (i < 0) return -1;
    double x = (double)(i % w) + 0.5, y = (double)(i / w) + 0.5;
    return cs_eval_point_box_distance(x, y, box) <= tol;
}

double cs_eval_auc(const double *y, int n)
{
    if (n < 2) return 0.0;
    double s = 0.5 * (y[0] + y[n - 1]);
    for (int i = 1; i < n - 1; i++) s += y[i];
    return s / (n - 1);
}

typedef struct {
    float v;
    int i;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->i - b->i;
}

void cs_eval_order(const float *map, int n, int *order)
{
    keyed *k = malloc(sizeof *k * (size_t)(n > 0 ? n : 1));
    if (!k) { /* keep a valid permutation even without memory */
        for (int i = 0; i < n; i++) order[i] = i;
        return;
    }
    for (int i = 0; i < n; i++) k[i] = (keyed){isnan(map[i]) ? -INFINITY : map[i], i};
    qsort(k, (size_t)n, sizeof *k, keyed_cmp);
    for (int i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
}

void cs_eval_blur(const float *x, int C, int H, int W, int klen, float sigma, float *out)
{
    int r = klen / 2;
    double g[129], sum = 0;
    if (r > 64) r = 64;
    for (int i = -r; i <= r; i++) sum += g[i + r] = exp(-0.5 * i * i / ((double)sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) g[i] /= sum;
    float *tmp = malloc(sizeof(float) * (size_t)H * W);
    if (!tmp) {
        memcpy(out, x, sizeof(float) * (size_t)C * H * W);
        return;
    }
    /* Separable with zero padding: equals the 2-D zero-padded convolution. */
    for (int c = 0; c < C; c++) {
        const float *p = x + (size_t)c * H * W;
        float *o = out + (size_t)c * H * W;
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                double s = 0;
                for (int k = -r; k <= r; k++)
                    if (xx + k >= 0 && xx + k < W) s += g[k + r] * p[y * W + xx + k];
                tmp[y * W + xx] = (float)s;
            }
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                double s = 0;
                for (int k = -r; k <= r; k++)
                    if (y + k >= 0 && y + k < H) s += g[k + r] * tmp[(y + k) * W + xx];
                o[y * W + xx] = (float)s;
            }
    }
    free(tmp);
}

int cs_eval_curve_points(int hw, int step)
{
    if (hw < 1 || step < 1) return 0;
    return (hw + step - 1) / step + 1;
}

int cs_eval_pck(const float *pred, const float *gt, int J, double alpha, double norm, int *correct)
{
    int n = 0;
    for (int j = 0; j < J; j++) {
        if (gt[3 * j + 2] <= 0 || !(norm > 0)) {
            correct[j] = -1;
            continue;
        }
        double dx = (double)pred[2 * j] - gt[3 * j], dy = (double)pred[2 * j + 1] - gt[3 * j + 1];
        correct[j] = sqrt(dx * dx + dy * dy) <= alpha * norm;
        n += correct[j];
    }
    return n;
}

double cs_eval_torso(const float *gt, int a, int b)
{
    if (a < 0 || b < 0 || gt[3 * a + 2] <= 0 || gt[3 * b + 2] <= 0) return -1;
    double dx = (double)gt[3 * a] - gt[3 * b], dy = (double)gt[3 * a + 1] - gt[3 * b + 1];
    return sqrt(dx * dx + dy * dy);
}
