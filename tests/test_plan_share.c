/* Plans of one model share derived weights (BatchNorm-folded, prepacked) through the cache of
 * wcache.h: shared plans give bit-identical outputs to a plan alone, destroying them in either
 * order frees everything (ASan), trainable plans share nothing. And zero-copy inputs
 * (cs_plan_bind_input): bound, copied (misaligned) and unbound runs agree, gradients too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"
#include "model_builder.h"
#include "plan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { C = 3, H = 9, W = 8, OC = 16, K = 3 };
#define NX (C * H * W)

static void fill(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.f;
    }
}

/* x[1,3,9,8] -> Conv 3x3 (+bias) -> BN -> Relu -> Conv 1x1 -> y, and xi = Identity(x) (an
 * alias of the input). */
static cs_model *model(void)
{
    static float w[OC * C * K * K], bias[OC], g[OC], be[OC], mu[OC], var[OC], w2[OC * OC];
    fill(w, OC * C * K * K, 1);
    fill(bias, OC, 2);
    fill(g, OC, 3);
    fill(be, OC, 4);
    fill(mu, OC, 5);
    fill(var, OC, 6);
    for (int i = 0; i < OC; i++) var[i] = var[i] * var[i] + 0.1f;
    fill(w2, OC * OC, 7);
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, C, H, W}, wd[] = {OC, C, K, K}, cd[] = {OC}, w2d[] = {OC, OC, 1, 1};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, w);
    mb_init_f32(b, "bias", 1, cd, bias);
    mb_init_f32(b, "g", 1, cd, g);
    mb_init_f32(b, "be", 1, cd, be);
    mb_init_f32(b, "mu", 1, cd, mu);
    mb_init_f32(b, "var", 1, cd, var);
    mb_init_f32(b, "w2", 4, w2d, w2);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", MB_IN("x", "w", "bias"), MB_OUT("c"));
    const int64_t pads[] = {1, 1, 1, 1}, k[] = {K, K};
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_attr_ints(b, c, "kernel_shape", 2, k);
    mb_node(b, "BatchNormalization", "bn", MB_IN("c", "g", "be", "mu", "var"), MB_OUT("n"));
    mb_node(b, "Relu", "relu", MB_IN("n"), MB_OUT("r"));
    mb_node(b, "Conv", "conv2", MB_IN("r", "w2"), MB_OUT("y"));
    mb_node(b, "Identity", "id", MB_IN("x"), MB_OUT("xi"));
    mb_output(b, "y", MB_F32, -1, NULL);
    mb_output(b, "xi", MB_F32, -1, NULL);
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    cs_error err = {0};
    cs_model *m = cs_model_load_memory(buf, len, "share.onnx", &err);
    free(buf);
    mb_free(&b);
    if (!m) fail_msg("load: %s", err.msg);
    return m;
}

static cs_plan *plan(const cs_model *m, int trainable, int gradients)
{
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 2;
    o.trainable = trainable;
    o.gradients = gradients;
    cs_error err = {0};
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) fail_msg("plan: %s", err.msg);
    return p;
}

/* Runs p on the input of seed; returns a malloc'd copy of output y. */
static float *run(cs_plan *p, uint32_t seed, int64_t *n)
{
    fill(cs_plan_input(p, 0)->data, NX, seed);
    cs_error err = {0};
    if (cs_plan_run(p, &err) != CS_OK) fail_msg("run: %s", err.msg);
    const cs_tensor *y = cs_plan_output(p, 0);
    float *out = malloc(cs_tensor_bytes(y));
    assert_non_null(out);
    memcpy(out, y->data, cs_tensor_bytes(y));
    *n = y->numel;
    return out;
}

/* Step k (the model's node k). */
static cs_step *step(cs_plan *p, int k)
{
    assert_true(k < p->n_steps);
    return &p->steps[k];
}

static void shared_plans_match_alone(void **state)
{
    (void)state;
    cs_model *m = model();
    int64_t n;
    cs_plan *alone = plan(m, 0, 0);
    assert_true(cs_wcache_count() > 0);
    float *want = run(alone, 11, &n);
    cs_plan_destroy(&alone);
    assert_int_equal(cs_wcache_count(), 0);

    for (int order = 0; order < 2; order++) {
        cs_plan *a = plan(m, 0, 0), *b = plan(m, 0, 0);
        int entries = cs_wcache_count();
        assert_true(entries >= 3); /* folded conv, its packed panels, conv2's panels */
        /* One folded weight and one packed panel set for both plans. */
        assert_non_null(step(a, 0)->node.prep);
        assert_ptr_equal(step(a, 0)->node.prep, step(b, 0)->node.prep);
        assert_ptr_equal(step(a, 0)->in[1]->data, step(b, 0)->in[1]->data);
        assert_ptr_equal(step(a, 0)->in[2]->data, step(b, 0)->in[2]->data);
        assert_ptr_equal(step(a, 3)->node.prep, step(b, 3)->node.prep);
        float *ya = run(a, 11, &n), *yb = run(b, 11, &n);
        assert_memory_equal(ya, want, sizeof(float) * (size_t)n);
        assert_memory_equal(yb, want, sizeof(float) * (size_t)n);
        free(ya);
        free(yb);
        cs_plan_destroy(order ? &b : &a); /* the other keeps the shared weights alive */
        assert_int_equal(cs_wcache_count(), entries);
        cs_plan *left = order ? a : b;
        float *yl = run(left, 11, &n);
        assert_memory_equal(yl, want, sizeof(float) * (size_t)n);
        free(yl);
        cs_plan_destroy(&left);
        assert_int_equal(cs_wcache_count(), 0);
    }
    free(want);
    cs_model_destroy(&m);
}

typedef struct {
    const cs_model *m;
    float *y;
} make_job;

static void *make_and_run(void *arg)
{
    make_job *j = arg;
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(j->m, &o, NULL);
    if (!p) return NULL;
    fill(cs_plan_input(p, 0)->data, NX, 11);
    cs_plan_run(p, NULL);
    const cs_tensor *y = cs_plan_output(p, 0);
    j->y = malloc(cs_tensor_bytes(y));
    if (j->y) memcpy(j->y, y->data, cs_tensor_bytes(y));
    cs_plan_destroy(&p);
    return NULL;
}

/* Plans made and destroyed on several threads at once: the cache stays consistent. */
static void plans_on_threads(void **state)
{
    (void)state;
    cs_model *m = model();
    int64_t n;
    cs_plan *alone = plan(m, 0, 0);
    float *want = run(alone, 11, &n);
    cs_plan_destroy(&alone);
    enum { T = 4, ROUNDS = 5 };
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[T];
        make_job jobs[T];
        for (int i = 0; i < T; i++) {
            jobs[i] = (make_job){m, NULL};
            assert_int_equal(pthread_create(&th[i], NULL, make_and_run, &jobs[i]), 0);
        }
        for (int i = 0; i < T; i++) {
            pthread_join(th[i], NULL);
            assert_non_null(jobs[i].y);
            assert_memory_equal(jobs[i].y, want, sizeof(float) * (size_t)n);
            free(jobs[i].y);
        }
        assert_int_equal(cs_wcache_count(), 0);
    }
    free(want);
    cs_model_destroy(&m);
}

static void trainable_plans_share_nothing(void **state)
{
    (void)state;
    cs_model *m = model();
    int64_t n;
    cs_plan *inf = plan(m, 0, 0);
    int entries = cs_wcache_count();
    float *want = run(inf, 5, &n);
    cs_plan *tr = plan(m, 1, 0);
    assert_int_equal(cs_wcache_count(), entries);
    assert_int_equal(tr->n_held, 0);
    for (int k = 0; k < tr->n_steps; k++) assert_false(tr->steps[k].shared_prep);
    /* Its parameters are its own: changing one leaves the shared weights alone. */
    cs_tensor *w = cs_plan_param_named(tr, "w");
    assert_non_null(w);
    for (int64_t i = 0; i < w->numel; i++) ((float *)w->data)[i] *= 2.f;
    float *yt = run(tr, 5, &n);
    float *y = run(inf, 5, &n);
    assert_memory_equal(y, want, sizeof(float) * (size_t)n);
    assert_memory_not_equal(yt, want, sizeof(float) * (size_t)n);
    free(yt);
    free(y);
    free(want);
    cs_plan_destroy(&tr);
    cs_plan_destroy(&inf);
    assert_int_equal(cs_wcache_count(), 0);
    cs_model_destroy(&m);
}

/* Weights given as a constant graph input (opts.const_inputs) belong to one plan: two plans
 * with different weights must not share packed panels. */
static void const_input_weights_not_shared(void **state)
{
    (void)state;
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, C, H, W}, wd[] = {OC, C, K, K};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_input(b, "w", MB_F32, 4, wd);
    mb_node(b, "Conv", "conv", MB_IN("x", "w"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    cs_error err = {0};
    cs_model *m = cs_model_load_memory(buf, len, "constw.onnx", &err);
    free(buf);
    mb_free(&b);
    assert_non_null(m);
    static float w[2][OC * C * K * K];
    fill(w[0], OC * C * K * K, 41);
    fill(w[1], OC * C * K * K, 42);
    float *y[2][2];
    int64_t n = 0;
    for (int together = 0; together < 2; together++) {
        cs_plan *p[2] = {NULL, NULL};
        for (int i = 0; i < 2; i++) {
            cs_tensor shapes[2];
            memset(shapes, 0, sizeof shapes);
            shapes[0] = *cs_model_input(m, 0);
            shapes[1] = *cs_model_input(m, 1);
            shapes[1].data = w[i];
            cs_plan_opts o = cs_plan_opts_default();
            o.threads = 1;
            o.input_shapes = shapes;
            o.n_input_shapes = 2;
            o.const_inputs = 2;
            p[i] = cs_plan_new(m, &o, &err);
            if (!p[i]) fail_msg("plan: %s", err.msg);
            assert_false(p[i]->steps[0].shared_prep);
            y[together][i] = run(p[i], 43, &n);
            if (!together) cs_plan_destroy(&p[i]);
        }
        cs_plan_destroy(&p[0]);
        cs_plan_destroy(&p[1]);
    }
    assert_int_equal(n, OC * (H - K + 1) * (W - K + 1));
    assert_memory_not_equal(y[0][0], y[0][1], sizeof(float) * (size_t)n);
    for (int i = 0; i < 2; i++) {
        assert_memory_equal(y[0][i], y[1][i], sizeof(float) * (size_t)n);
        free(y[0][i]);
        free(y[1][i]);
    }
    assert_int_equal(cs_wcache_count(), 0);
    cs_model_destroy(&m);
}

/* Output y after a run reading x bound (in place or copied) to p's input 0. */
static void run_bound(cs_plan *p, const float *x, int want_ret, float *y)
{
    cs_error err = {0};
    assert_int_equal(cs_plan_bind_input(p, 0, x, &err), want_ret);
    if (cs_plan_run(p, &err) != CS_OK) fail_msg("run: %s", err.msg);
    const cs_tensor *t = cs_plan_output(p, 0);
    memcpy(y, t->data, cs_tensor_bytes(t));
    /* xi = Identity(x) aliases the input: it follows the binding. */
    const cs_tensor *xi = cs_plan_output(p, 1);
    assert_memory_equal(xi->data, x, sizeof(float) * NX);
    if (want_ret == 1) assert_ptr_equal(xi->data, x);
}

static void bound_input_matches_copied(void **state)
{
    (void)state;
    cs_model *m = model();
    cs_plan *p = plan(m, 0, 0);
    void *home = cs_plan_input(p, 0)->data;
    int64_t n;
    float *want = run(p, 21, &n);
    float *y = malloc(sizeof(float) * (size_t)n);
    /* In place: a float-aligned caller buffer. */
    float *x = malloc(sizeof(float) * NX);
    fill(x, NX, 21);
    run_bound(p, x, 1, y);
    assert_memory_equal(y, want, sizeof(float) * (size_t)n);
    assert_ptr_equal(cs_plan_input(p, 0)->data, x);
    /* Later runs read the caller's current data. */
    fill(x, NX, 22);
    cs_plan *q = plan(m, 0, 0);
    float *want2 = run(q, 22, &n);
    cs_plan_destroy(&q);
    run_bound(p, x, 1, y);
    assert_memory_equal(y, want2, sizeof(float) * (size_t)n);
    /* Not float-aligned: copied at every run, same result. */
    char *raw = malloc(sizeof(float) * NX + 1);
    float *mis = (float *)(raw + 1);
    memcpy(mis, x, sizeof(float) * NX);
    run_bound(p, mis, 0, y);
    assert_memory_equal(y, want2, sizeof(float) * (size_t)n);
    assert_ptr_equal(cs_plan_input(p, 0)->data, home);
    /* NULL: the plan's own buffer again. */
    cs_error err = {0};
    assert_int_equal(cs_plan_bind_input(p, 0, NULL, &err), 0);
    assert_ptr_equal(cs_plan_input(p, 0)->data, home);
    assert_ptr_equal(cs_plan_output(p, 1)->data, home);
    float *again = run(p, 21, &n);
    assert_memory_equal(again, want, sizeof(float) * (size_t)n);
    /* Bad index: an error naming it. */
    assert_int_equal(cs_plan_bind_input(p, 3, x, &err), -1);
    assert_non_null(strstr(err.msg, "no input 3"));
    free(again);
    free(raw);
    free(x);
    free(y);
    free(want);
    free(want2);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
}

static void bound_input_gradients(void **state)
{
    (void)state;
    cs_model *m = model();
    float x[NX];
    fill(x, NX, 31);
    float *g[2];
    for (int bound = 0; bound < 2; bound++) {
        cs_plan *p = plan(m, 0, 1);
        cs_error err = {0};
        if (bound)
            assert_int_equal(cs_plan_bind_input(p, 0, x, &err), 1);
        else
            memcpy(cs_plan_input(p, 0)->data, x, sizeof x);
        const char *wrt[] = {"x"};
        cs_grad *gr = cs_grad_new(p, "y", wrt, 1, &err);
        if (!gr) fail_msg("grad: %s", err.msg);
        cs_tensor *seed = cs_grad_seed(gr);
        fill(seed->data, seed->numel, 32);
        assert_int_equal(cs_plan_run(p, &err), CS_OK);
        assert_int_equal(cs_grad_run(gr, &err), CS_OK);
        const cs_tensor *gx = cs_grad_wrt(gr, 0);
        g[bound] = malloc(cs_tensor_bytes(gx));
        memcpy(g[bound], gx->data, cs_tensor_bytes(gx));
        cs_grad_destroy(&gr);
        cs_plan_destroy(&p);
    }
    assert_memory_equal(g[0], g[1], sizeof(float) * NX);
    free(g[0]);
    free(g[1]);
    cs_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_plans_match_alone),
        cmocka_unit_test(plans_on_threads),
        cmocka_unit_test(trainable_plans_share_nothing),
        cmocka_unit_test(const_input_weights_not_shared),
        cmocka_unit_test(bound_input_matches_copied),
        cmocka_unit_test(bound_input_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
