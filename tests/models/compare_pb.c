/* compare_pb: compares an output TensorProto of camstream with a reference one.
 *
 *     compare_pb OURS.pb REFERENCE.pb [--rtol R]
 *
 * Passes when the shapes match, OURS holds no NaN or infinity, and
 * max |ours - ref| <= R * (max(ref) - min(ref)), R = 1e-4 by default. Prints the max absolute
 * difference, the reference's range and their ratio. Exit status: 0 pass, 1 fail (including
 * unreadable files), 2 usage. */
#include "camstream/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: compare_pb OURS.pb REFERENCE.pb [--rtol R]\n");
    return 2;
}

static int same_shape(const cs_tensor *a, const cs_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

int main(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL};
    int n_paths = 0;
    double rtol = 1e-4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) {
            char *end;
            rtol = strtod(argv[++i], &end);
            if (*end || !(rtol > 0)) return usage();
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage();
        } else if (n_paths < 2) {
            paths[n_paths++] = argv[i];
        } else {
            return usage();
        }
    }
    if (n_paths != 2) return usage();

    cs_error err;
    cs_tensor *t[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        t[i] = cs_tensorproto_read_file(paths[i], &err);
        if (!t[i]) {
            fprintf(stderr, "compare_pb: %s\n", err.msg);
            cs_tensor_free(&t[0]);
            return 1;
        }
    }
    int rc = 1;
    char sa[128], sb[128];
    if (t[0]->type != CS_F32 || t[1]->type != CS_F32) {
        fprintf(stderr, "compare_pb: expected float tensors (types %d and %d)\n", (int)t[0]->type,
                (int)t[1]->type);
        goto done;
    }
    if (!same_shape(t[0], t[1])) {
        fprintf(stderr, "compare_pb: shape %s of %s differs from %s of %s\n",
                cs_shape_str(t[0], sa, sizeof sa), paths[0], cs_shape_str(t[1], sb, sizeof sb),
                paths[1]);
        goto done;
    }
    const float *ours = t[0]->data, *ref = t[1]->data;
    double lo = INFINITY, hi = -INFINITY, maxdiff = 0;
    int64_t worst = 0, n_bad_values = 0;
    for (int64_t i = 0; i < t[1]->numel; i++) {
        if (ref[i] < lo) lo = ref[i];
        if (ref[i] > hi) hi = ref[i];
        if (!isfinite(ours[i])) {
            n_bad_values++;
            continue;
        }
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (d > maxdiff) {
            maxdiff = d;
            worst = i;
        }
    }
    double range = t[1]->numel ? hi - lo : 0;
    /* A constant reference has no range: fall back to an absolute tolerance of rtol. */
    double tol = rtol * (range > 0 ? range : 1.0);
    double ratio = range > 0 ? maxdiff / range : maxdiff;
    printf("shape %s  max|diff| %.6g (at %lld: ours %.9g ref %.9g)  range %.6g  ratio %.3g  "
           "limit %.3g\n",
           cs_shape_str(t[1], sa, sizeof sa), maxdiff, (long long)worst,
           t[1]->numel ? (double)ours[worst] : 0.0, t[1]->numel ? (double)ref[worst] : 0.0, range,
           ratio, rtol);
    if (n_bad_values) {
        printf("FAIL: %lld NaN or infinite values in %s\n", (long long)n_bad_values, paths[0]);
    } else if (maxdiff > tol) {
        printf("FAIL: max|diff| %.6g > %.6g\n", maxdiff, tol);
    } else {
        printf("PASS\n");
        rc = 0;
    }
done:
    cs_tensor_free(&t[0]);
    cs_tensor_free(&t[1]);
    return rc;
}
