/* Whole-graph gradients: cs_grad on the committed small models against central finite
 * differences of the class score, the early stop of a layer gradient, fused vs unfused plans,
 * batch independence, and the errors of bad requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *models[] = {"gap_cnn_op13", "mobile_tiny_op13", "resnet_tiny_op13",
                               "gap_cnn_op9",  "mobile_tiny_op9",  "resnet_tiny_op11"};

static cs_model *load(const char *name, cs_tensor **input)
{
    char path[4096];
    const char *src = getenv("CS_SOURCE_DIR");
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/tests/models/%s/model.onnx", src ? src : ".", name);
    cs_model *m = cs_model_load_file(path, &err);
    if (!m) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/tests/models/%s/test_data_set_0/input_0.pb", src ? src : ".",
             name);
    *input = cs_tensorproto_read_file(path, &err);
    if (!*input) fail_msg("%s", err.msg);
    return m;
}

static cs_plan *plan(const cs_model *m, int no_fuse, int batch, const char *const *keep, int n_keep)
{
    cs_error err = {0};
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    o.gradients = 1;
    o.no_fuse = no_fuse;
    o.batch = batch;
    o.keep = keep;
    o.n_keep = n_keep;
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) fail_msg("%s", err.msg);
    return p;
}

static int argmax(const cs_tensor *t)
{
    const float *d = t->data;
    int best = 0;
    for (int i = 1; i < t->numel; i++)
        if (d[i] > d[best]) best = i;
    return best;
}

static float score(cs_plan *p, int c)
{
    cs_error err = {0};
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    return ((const float *)cs_plan_output(p, 0)->data)[c];
}

/* ∂y_c/∂x from cs_grad against central differences at 96 random input elements. */
static void input_gradient_matches_fd(void **state)
{
    (void)state;
    for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
        cs_tensor *x = NULL;
        cs_model *m = load(models[mi], &x);
        cs_plan *p = plan(m, 0, 1, NULL, 0);
        cs_error err = {0};
        float *in = cs_plan_input(p, 0)->data;
        memcpy(in, x->data, cs_tensor_bytes(x));
        int c = argmax(cs_plan_output(p, 0));
        (void)score(p, 0);
        c = argmax(cs_plan_output(p, 0));
        const char *wrt[] = {cs_model_input(m, 0)->name};
        cs_grad *g = cs_grad_new(p, cs_model_output(m, 0)->name, wrt, 1, &err);
        if (!g) fail_msg("%s: %s", models[mi], err.msg);
        cs_tensor *seed = cs_grad_seed(g);
        ((float *)seed->data)[c] = 1.f;
        assert_int_equal(cs_grad_run(g, &err), CS_OK);
        const float *gx = cs_grad_wrt(g, 0)->data;
        int64_t n = cs_grad_wrt(g, 0)->numel;
        float gmax = 0;
        for (int64_t i = 0; i < n; i++) gmax = fmaxf(gmax, fabsf(gx[i]));
        assert_true(gmax > 0);
        uint32_t rng = 2463534242u;
        int bad = 0, checked = 96;
        double worst = 0;
        for (int t = 0; t < checked; t++) {
            rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
            int64_t k = rng % (uint32_t)n;
            const float eps = 3e-3f, x0 = in[k];
            in[k] = x0 + eps;
            double fp = score(p, c);
            in[k] = x0 - eps;
            double fm = score(p, c);
            in[k] = x0;
            double fd = (fp - fm) / (2 * eps), e = fabs(fd - gx[k]);
            if (e > 0.02 * gmax + 0.05 * fabs(fd)) bad++;
            if (e > worst) worst = e;
        }
        (void)score(p, c); /* restore the plan's values */
        printf(
            "%-18s class %d: %d/%d elements off (kinks), worst |fd-grad| %.3g, max |grad| %.3g\n",
            models[mi], c, bad, checked, worst, gmax);
        /* ReLU/Clip kinks and max-pool ties can flip under ±eps for a few elements only. */
        assert_true(bad <= checked / 20);
        cs_grad_destroy(&g);
        cs_grad_destroy(&g);
        cs_plan_destroy(&p);
        cs_model_destroy(&m);
        cs_tensor_free(&x);
    }
}

/* The gradient at the last feature map runs only the head; fused and unfused plans agree. */
static void layer_gradient_stops_early_and_fusion_agrees(void **state)
{
    (void)state;
    cs_tensor *x = NULL;
    cs_model *m = load("gap_cnn_op13", &x);
    /* The last feature map: the input of GlobalAveragePool. */
    cs_plan *probe = plan(m, 1, 1, NULL, 0);
    const char *layer = NULL;
    for (int i = 0; i < cs_plan_n_tensors(probe); i++) {
        const cs_tensor *t = cs_plan_tensor_at(probe, i, NULL);
        if (t->ndim == 4 && t->dims[2] > 1) layer = t->name; /* last 4-D map in value order */
    }
    assert_non_null(layer);
    const char *keep[] = {layer};
    cs_plan *pf = plan(m, 0, 1, keep, 1), *pu = plan(m, 1, 1, keep, 1);
    cs_error err = {0};
    const char *out = cs_model_output(m, 0)->name;
    cs_grad *gf = cs_grad_new(pf, out, keep, 1, &err);
    if (!gf) fail_msg("%s", err.msg);
    cs_grad *gu = cs_grad_new(pu, out, keep, 1, &err);
    if (!gu) fail_msg("%s", err.msg);
    const char *wrt_in[] = {cs_model_input(m, 0)->name};
    cs_grad *gi = cs_grad_new(pf, out, wrt_in, 1, &err);
    if (!gi) fail_msg("%s", err.msg);
    printf("backward steps: to '%s' %d, to the input %d\n", layer, cs_grad_n_steps(gf),
           cs_grad_n_steps(gi));
    assert_true(cs_grad_n_steps(gf) <= 4); /* GlobalAveragePool, Flatten, Gemm */
    assert_true(cs_grad_n_steps(gf) < cs_grad_n_steps(gi));
    memcpy(cs_plan_input(pf, 0)->data, x->data, cs_tensor_bytes(x));
    memcpy(cs_plan_input(pu, 0)->data, x->data, cs_tensor_bytes(x));
    assert_int_equal(cs_plan_run(pf, &err), CS_OK);
    assert_int_equal(cs_plan_run(pu, &err), CS_OK);
    int c = argmax(cs_plan_output(pf, 0));
    ((float *)cs_grad_seed(gf)->data)[c] = 1.f;
    ((float *)cs_grad_seed(gu)->data)[c] = 1.f;
    assert_int_equal(cs_grad_run(gf, &err), CS_OK);
    assert_int_equal(cs_grad_run(gu, &err), CS_OK);
    const cs_tensor *a = cs_grad_wrt(gf, 0), *b = cs_grad_wrt(gu, 0);
    assert_int_equal(a->numel, b->numel);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < a->numel; i++) {
        worst = fmax(worst, fabs(((float *)a->data)[i] - ((float *)b->data)[i]));
        scale = fmax(scale, fabs(((float *)b->data)[i]));
    }
    assert_true(scale > 0);
    assert_true(worst <= 1e-5 * scale + 1e-7);
    cs_grad_destroy(&gf);
    cs_grad_destroy(&gu);
    cs_grad_destroy(&gi);
    cs_plan_destroy(&pf);
    cs_plan_destroy(&pu);
    cs_plan_destroy(&probe);
    cs_model_destroy(&m);
    cs_tensor_free(&x);
}

/* With batch 2, a seed on image 1 leaves image 0's input gradient at zero. */
static void batch_elements_are_independent(void **state)
{
    (void)state;
    cs_tensor *x = NULL;
    cs_model *m = load("resnet_tiny_op13", &x);
    cs_plan *p = plan(m, 0, 2, NULL, 0);
    cs_error err = {0};
    cs_tensor *in = cs_plan_input(p, 0);
    assert_int_equal(in->dims[0], 2);
    memcpy(in->data, x->data, cs_tensor_bytes(x));
    memcpy((char *)in->data + cs_tensor_bytes(x), x->data, cs_tensor_bytes(x));
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const char *wrt[] = {cs_model_input(m, 0)->name};
    cs_grad *g = cs_grad_new(p, cs_model_output(m, 0)->name, wrt, 1, &err);
    if (!g) fail_msg("%s", err.msg);
    cs_tensor *seed = cs_grad_seed(g);
    ((float *)seed->data)[seed->dims[1] + 3] = 1.f; /* image 1, class 3 */
    assert_int_equal(cs_grad_run(g, &err), CS_OK);
    const float *gx = cs_grad_wrt(g, 0)->data;
    int64_t half = x->numel;
    double a = 0, b = 0;
    for (int64_t i = 0; i < half; i++) {
        a += fabs(gx[i]);
        b += fabs(gx[half + i]);
    }
    assert_true(a == 0.0);
    assert_true(b > 0.0);
    cs_grad_destroy(&g);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    cs_tensor_free(&x);
}

/* grad_from: only the values downstream of the layer stay readable (a smaller arena, the
 * forward reuses buffers), the layer gradient is unchanged, the input is refused. */
static void grad_from_limits_what_is_kept(void **state)
{
    (void)state;
    cs_tensor *x = NULL;
    cs_model *m = load("resnet_tiny_op13", &x);
    cs_plan *probe = plan(m, 1, 1, NULL, 0);
    const char *layer = NULL;
    for (int i = 0; i < cs_plan_n_tensors(probe); i++) {
        const cs_tensor *t = cs_plan_tensor_at(probe, i, NULL);
        if (t->ndim == 4 && t->dims[2] > 1) layer = t->name;
    }
    assert_non_null(layer);
    const char *keep[] = {layer};
    cs_error err = {0};
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    o.gradients = 1;
    o.keep = keep;
    o.n_keep = 1;
    cs_plan *all = cs_plan_new(m, &o, &err);
    if (!all) fail_msg("%s", err.msg);
    o.grad_from = keep;
    o.n_grad_from = 1;
    cs_plan *lim = cs_plan_new(m, &o, &err);
    if (!lim) fail_msg("%s", err.msg);
    printf("arena: every value kept %zu bytes, grad_from '%s' %zu bytes\n",
           cs_plan_arena_bytes(all), layer, cs_plan_arena_bytes(lim));
    assert_true(cs_plan_arena_bytes(lim) < cs_plan_arena_bytes(all));
    const char *out = cs_model_output(m, 0)->name;
    const char *wrt_in[] = {cs_model_input(m, 0)->name};
    assert_null(cs_grad_new(lim, out, wrt_in, 1, &err));
    assert_non_null(strstr(err.msg, "grad_from"));
    cs_grad *ga = cs_grad_new(all, out, keep, 1, &err), *gl = cs_grad_new(lim, out, keep, 1, &err);
    assert_non_null(ga);
    assert_non_null(gl);
    memcpy(cs_plan_input(all, 0)->data, x->data, cs_tensor_bytes(x));
    memcpy(cs_plan_input(lim, 0)->data, x->data, cs_tensor_bytes(x));
    assert_int_equal(cs_plan_run(all, &err), CS_OK);
    assert_int_equal(cs_plan_run(lim, &err), CS_OK);
    ((float *)cs_grad_seed(ga)->data)[2] = 1.f;
    ((float *)cs_grad_seed(gl)->data)[2] = 1.f;
    assert_int_equal(cs_grad_run(ga, &err), CS_OK);
    assert_int_equal(cs_grad_run(gl, &err), CS_OK);
    const cs_tensor *a = cs_grad_wrt(ga, 0), *b = cs_grad_wrt(gl, 0);
    assert_int_equal(a->numel, b->numel);
    assert_memory_equal(a->data, b->data, cs_tensor_bytes(a));
    cs_grad_destroy(&ga);
    cs_grad_destroy(&gl);
    cs_plan_destroy(&all);
    cs_plan_destroy(&lim);
    cs_plan_destroy(&probe);
    cs_model_destroy(&m);
    cs_tensor_free(&x);
}

static void bad_requests(void **state)
{
    (void)state;
    cs_tensor *x = NULL;
    cs_model *m = load("gap_cnn_op13", &x);
    cs_error err = {0};
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    assert_non_null(p);
    const char *wrt[] = {cs_model_input(m, 0)->name};
    const char *out = cs_model_output(m, 0)->name;
    assert_null(cs_grad_new(p, out, wrt, 1, &err));
    assert_non_null(strstr(err.msg, "opts.gradients"));
    cs_plan_destroy(&p);
    p = plan(m, 0, 1, NULL, 0);
    const char *nope[] = {"no_such_tensor"};
    assert_null(cs_grad_new(p, out, nope, 1, &err));
    assert_non_null(strstr(err.msg, "no_such_tensor"));
    assert_null(cs_grad_new(p, "nothing_here", wrt, 1, &err));
    assert_non_null(strstr(err.msg, "nothing_here"));
    assert_null(cs_grad_new(p, out, wrt, 0, &err));
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    cs_tensor_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(input_gradient_matches_fd),
        cmocka_unit_test(layer_gradient_stops_early_and_fusion_agrees),
        cmocka_unit_test(batch_elements_are_independent),
        cmocka_unit_test(grad_from_limits_what_is_kept),
        cmocka_unit_test(bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
