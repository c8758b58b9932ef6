/* Training against PyTorch (tools/train_oracle.py wrote tests/data/train/): weight and input
 * gradients of a Conv-BN-ReLU-GAP-Gemm net in training mode (backward through the batch
 * statistics) and in eval mode, BatchNorm's running statistics after one training step,
 * the losses with their gradients, and 5 steps of torch.optim SGD and Adam. Also central
 * finite differences of the weights in training mode (our own check of the same code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"
#include "camstream/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cs_tensor *rd(const char *name)
{
    char path[4096];
    const char *src = getenv("CS_SOURCE_DIR");
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/tests/data/train/%s.pb", src ? src : ".", name);
    cs_tensor *t = cs_tensorproto_read_file(path, &err);
    if (!t) fail_msg("%s", err.msg);
    return t;
}

/* |a - b| <= atol + rtol |b| everywhere; prints the worst element. */
static void expect_close(const char *what, const float *a, const float *b, int64_t n, double atol,
                         double rtol)
{
    double worst = 0;
    int64_t wi = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) - rtol * fabs((double)b[i]);
        if (e > worst) worst = e, wi = i;
    }
    if (worst > atol)
        fail_msg("%s: element %lld is %.8g, PyTorch %.8g", what, (long long)wi, (double)a[wi],
                 (double)b[wi]);
}

static const char *const weights[] = {"conv.w", "conv.b", "bn.scale", "bn.bias", "fc.w", "fc.b"};
enum { N_W = 6 };

typedef struct {
    cs_model *m;
    cs_plan *p;
    cs_grad *g;
} net;

static net net_open(int training)
{
    char path[4096];
    const char *src = getenv("CS_SOURCE_DIR");
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/tests/data/train/net.onnx", src ? src : ".");
    net n = {0};
    n.m = cs_model_load_file(path, &err);
    if (!n.m) fail_msg("%s", err.msg);
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 2;
    o.trainable = 1;
    n.p = cs_plan_new(n.m, &o, &err);
    if (!n.p) fail_msg("%s", err.msg);
    assert_int_equal(cs_plan_set_training(n.p, training, &err), CS_OK);
    const char *wrt[N_W + 1];
    wrt[0] = "x";
    for (int i = 0; i < N_W; i++) wrt[i + 1] = weights[i];
    n.g = cs_grad_new(n.p, "y", wrt, N_W + 1, &err);
    if (!n.g) fail_msg("%s", err.msg);
    cs_tensor *x = rd("net_x"), *seed = rd("net_seed");
    memcpy(cs_plan_input(n.p, 0)->data, x->data, cs_tensor_bytes(x));
    memcpy(cs_grad_seed(n.g)->data, seed->data, cs_tensor_bytes(seed));
    cs_tensor_free(&x);
    cs_tensor_free(&seed);
    return n;
}

static void net_close(net *n)
{
    cs_grad_destroy(&n->g);
    cs_plan_destroy(&n->p);
    cs_model_destroy(&n->m);
}

static void check_mode(const char *mode)
{
    net n = net_open(!strcmp(mode, "train"));
    cs_error err = {0};
    assert_int_equal(cs_plan_run(n.p, &err), CS_OK);
    assert_int_equal(cs_grad_run(n.g, &err), CS_OK);
    char name[128];
    snprintf(name, sizeof name, "net_%s_y", mode);
    cs_tensor *y = rd(name);
    expect_close(name, cs_plan_output(n.p, 0)->data, y->data, y->numel, 1e-5, 1e-4);
    cs_tensor_free(&y);
    snprintf(name, sizeof name, "net_%s_dx", mode);
    cs_tensor *dx = rd(name);
    expect_close(name, cs_grad_wrt(n.g, 0)->data, dx->data, dx->numel, 1e-5, 1e-4);
    cs_tensor_free(&dx);
    for (int i = 0; i < N_W; i++) {
        snprintf(name, sizeof name, "net_%s_d_%s", mode, weights[i]);
        cs_tensor *d = rd(name);
        assert_int_equal(cs_grad_wrt(n.g, i + 1)->numel, d->numel);
        expect_close(name, cs_grad_wrt(n.g, i + 1)->data, d->data, d->numel, 1e-5, 1e-4);
        cs_tensor_free(&d);
    }
    if (!strcmp(mode, "train")) {
        cs_tensor *mean = rd("net_train_mean"), *var = rd("net_train_var");
        expect_close("running mean", cs_plan_param_named(n.p, "bn.mean")->data, mean->data,
                     mean->numel, 1e-6, 1e-5);
        expect_close("running var", cs_plan_param_named(n.p, "bn.var")->data, var->data, var->numel,
                     1e-6, 1e-5);
        cs_tensor_free(&mean);
        cs_tensor_free(&var);
    }
    net_close(&n);
}

static void test_net_train(void **state)
{
    (void)state;
    check_mode("train");
}

static void test_net_eval(void **state)
{
    (void)state;
    check_mode("eval");
}

/* L = <seed, y(w)>: central differences of every weight (a subset of conv.w) in training
 * mode, through the batch statistics; steps across a ReLU kink are skipped. */
static void test_net_finite_differences(void **state)
{
    (void)state;
    net n = net_open(1);
    cs_error err = {0};
    assert_int_equal(cs_plan_run(n.p, &err), CS_OK);
    assert_int_equal(cs_grad_run(n.g, &err), CS_OK);
    const float *seed = cs_grad_seed(n.g)->data;
    const cs_tensor *y = cs_plan_output(n.p, 0);
    int bad = 0, checked = 0;
    for (int i = 0; i < N_W; i++) {
        cs_tensor *w = cs_plan_param_named(n.p, weights[i]);
        const float *gw = cs_grad_wrt(n.g, i + 1)->data;
        float *wd = w->data;
        for (int64_t k = 0; k<w->numel; k += w->numel> 40 ? 7 : 1) {
            double l[3];
            float keep = wd[k];
            for (int s = 0; s < 3; s++) {
                wd[k] = keep + (s == 0 ? 2e-3f : s == 1 ? -2e-3f : 0.f);
                cs_plan_run(n.p, &err);
                double sum = 0;
                for (int64_t j = 0; j < y->numel; j++)
                    sum += (double)seed[j] * ((float *)y->data)[j];
                l[s] = sum;
            }
            wd[k] = keep;
            double fd = (l[0] - l[1]) / 4e-3;
            /* a ReLU kink inside the step: the one-sided differences disagree; skip it */
            if (fabs((l[0] - l[2]) - (l[2] - l[1])) > 1e-2 * (fabs(l[0] - l[1]) + 1e-4)) continue;
            checked++;
            if (fabs(fd - gw[k]) > 2e-3 + 2e-2 * fabs(fd)) {
                print_message("%s[%lld]: fd %.6g backward %.6g\n", weights[i], (long long)k, fd,
                              (double)gw[k]);
                bad++;
            }
        }
    }
    assert_true(checked > 20);
    assert_int_equal(bad, 0);
    net_close(&n);
}

static void test_losses(void **state)
{
    (void)state;
    cs_tensor *z = rd("loss_logits"), *lab = rd("loss_labels"), *l = rd("loss_ce"),
              *g = rd("loss_ce_grad");
    int n = (int)z->dims[0], k = (int)z->dims[1];
    int labels[64];
    for (int i = 0; i < n; i++) labels[i] = (int)((int64_t *)lab->data)[i];
    float grad[256];
    double v = cs_loss_softmax_ce(z->data, labels, n, k, 1.f, grad);
    assert_true(fabs(v - ((float *)l->data)[0]) < 1e-6);
    expect_close("cross-entropy grad", grad, g->data, g->numel, 1e-7, 1e-5);
    /* scale multiplies the gradient only */
    float grad2[256];
    assert_true(fabs(cs_loss_softmax_ce(z->data, labels, n, k, 0.5f, grad2) - v) < 1e-12);
    for (int i = 0; i < n * k; i++) assert_true(fabs(grad2[i] - 0.5f * grad[i]) < 1e-7);
    cs_tensor_free(&z);
    cs_tensor_free(&lab);
    cs_tensor_free(&l);
    cs_tensor_free(&g);

    cs_tensor *pred = rd("loss_pred"), *tgt = rd("loss_target");
    const char *names[] = {"bce", "mse", "l1", "smoothl1"};
    for (int i = 0; i < 4; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "loss_%s", names[i]);
        l = rd(nm);
        snprintf(nm, sizeof nm, "loss_%s_grad", names[i]);
        g = rd(nm);
        const float *p = pred->data, *t = tgt->data;
        int64_t m = pred->numel;
        double val = i == 0   ? cs_loss_bce_logits(p, t, m, 1.f, grad)
                     : i == 1 ? cs_loss_mse(p, t, NULL, m, 1.f, grad)
                     : i == 2 ? cs_loss_l1(p, t, NULL, m, 1.f, grad)
                              : cs_loss_smooth_l1(p, t, NULL, m, 1.f, 1.f, grad);
        if (fabs(val - ((float *)l->data)[0]) > 1e-6)
            fail_msg("%s: %.9g, PyTorch %.9g", names[i], val, (double)((float *)l->data)[0]);
        expect_close(nm, grad, g->data, g->numel, 1e-7, 1e-5);
        cs_tensor_free(&l);
        cs_tensor_free(&g);
    }
    cs_tensor_free(&pred);
    cs_tensor_free(&tgt);
}

static void check_optim(const char *name, cs_optim_cfg cfg)
{
    cs_tensor *p0 = rd("opt_p0"), *grads = rd("opt_grads");
    char nm[64];
    snprintf(nm, sizeof nm, "opt_%s", name);
    cs_tensor *want = rd(nm);
    cs_error err = {0};
    int64_t numel[2] = {4, p0->numel - 4}; /* two tensors: state offsets must line up */
    cs_optim *o = cs_optim_new(&cfg, 2, numel, &err);
    assert_non_null(o);
    float p[64];
    memcpy(p, p0->data, cs_tensor_bytes(p0));
    for (int s = 0; s < (int)grads->dims[0]; s++) {
        const float *g = (const float *)grads->data + s * p0->numel;
        float *ps[2] = {p, p + 4};
        const float *gs[2] = {g, g + 4};
        cs_optim_step(o, ps, gs);
        snprintf(nm, sizeof nm, "%s step %d", name, s + 1);
        expect_close(nm, p, (const float *)want->data + s * p0->numel, p0->numel, 1e-6, 1e-6);
    }
    cs_optim_destroy(&o);
    cs_optim_destroy(&o);
    cs_tensor_free(&p0);
    cs_tensor_free(&grads);
    cs_tensor_free(&want);
}

static void test_optimizers(void **state)
{
    (void)state;
    cs_optim_cfg sgd = cs_optim_cfg_default(CS_OPTIM_SGD);
    sgd.lr = 0.1f;
    sgd.momentum = 0.9f;
    sgd.weight_decay = 1e-3f;
    check_optim("sgd", sgd);
    cs_optim_cfg adam = cs_optim_cfg_default(CS_OPTIM_ADAM);
    adam.lr = 0.01f;
    adam.weight_decay = 1e-3f;
    check_optim("adam", adam);
}

/* Plans without opts.trainable cannot enter training mode; trainable ones own their weights
 * (the model stays unchanged for other plans). */
static void test_trainable_plan(void **state)
{
    (void)state;
    net n = net_open(0);
    cs_error err = {0};
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *plain = cs_plan_new(n.m, &o, &err);
    assert_non_null(plain);
    assert_int_equal(cs_plan_n_params(plain), 0);
    assert_null(cs_plan_param(plain, 0));
    assert_int_equal(cs_plan_set_training(plain, 1, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "trainable"));
    assert_int_equal(cs_plan_n_params(n.p), 8);
    /* changing a parameter changes this plan's output, not the other plan's */
    memcpy(cs_plan_input(plain, 0)->data, cs_plan_input(n.p, 0)->data,
           cs_tensor_bytes(cs_plan_input(n.p, 0)));
    cs_plan_run(plain, &err);
    cs_plan_run(n.p, &err);
    float before = ((float *)cs_plan_output(n.p, 0)->data)[0];
    assert_true(fabs(before - ((float *)cs_plan_output(plain, 0)->data)[0]) < 1e-5);
    ((float *)cs_plan_param_named(n.p, "fc.b")->data)[0] += 1.f;
    cs_plan_run(plain, &err);
    cs_plan_run(n.p, &err);
    assert_true(fabs(((float *)cs_plan_output(n.p, 0)->data)[0] - before - 1.f) < 1e-5);
    assert_true(fabs(((float *)cs_plan_output(plain, 0)->data)[0] - before) < 1e-5);
    cs_plan_destroy(&plain);
    net_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_train),
        cmocka_unit_test(test_net_eval),
        cmocka_unit_test(test_net_finite_differences),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_trainable_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
