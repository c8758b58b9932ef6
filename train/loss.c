/* Losses with their gradients, reduced as PyTorch's defaults (mean), accumulated in double
 * so that values match PyTorch's to ~1e-6 (tests/test_train_oracle.c). */
#include "camstream/train.h"

#include <math.h>

double cs_loss_softmax_ce(const float *logits, const int *labels, int n, int k, float scale,
                          float *grad)
{
    double total = 0;
    for (int r = 0; r < n; r++) {
        const float *z = logits + (int64_t)r * k;
        double mx = z[0], sum = 0;
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < k; j++) sum += exp(z[j] - mx);
        double lse = mx + log(sum);
        total += lse - z[labels[r]];
        if (!grad) continue;
        float *g = grad + (int64_t)r * k;
        for (int j = 0; j < k; j++)
            g[j] = (float)(scale * (exp(z[j] - lse) - (j == labels[r])) / n);
    }
    return n ? total / n : 0;
}

double cs_loss_bce_logits(const float *x, const float *target, int64_t n, float scale, float *grad)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = x[i], t = target[i];
        /* log(1 + e^-|z|) + max(z, 0) - z t: stable for any z */
        total += log1p(exp(-fabs(z))) + (z > 0 ? z : 0) - z * t;
        if (grad) grad[i] = (float)(scale * (1.0 / (1.0 + exp(-z)) - t) / (double)n);
    }
    return n ? total / (double)n : 0;
}

double cs_loss_mse(const float *y, const float *target, const float *mask, int64_t n, float scale,
                   float *grad)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = mask ? mask[i] : 1.0, d = ((double)y[i] - target[i]) * m;
        total += d * d;
        if (grad) grad[i] = (float)(scale * 2.0 * d * m / (double)n);
    }
    return n ? total / (double)n : 0;
}

double cs_loss_l1(const float *y, const float *target, const float *mask, int64_t n, float scale,
                  float *grad)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = mask ? mask[i] : 1.0, d = ((double)y[i] - target[i]) * m;
        total += fabs(d);
        if (grad) grad[i] = (float)(scale * ((d > 0) - (d < 0)) * m / (double)n);
    }
    return n ? total / (double)n : 0;
}

double cs_loss_smooth_l1(const float *y, const float *target, const float *mask, int64_t n,
                         float beta, float scale, float *grad)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = mask ? mask[i] : 1.0, d = ((double)y[i] - target[i]) * m, a = fabs(d);
        total += a < beta ? 0.5 * d * d / beta : a - 0.5 * beta;
        double g = a < beta ? d / beta : (double)((d > 0) - (d < 0));
        if (grad) grad[i] = (float)(scale * g * m / (double)n);
    }
    return n ? total / (double)n : 0;
}
