/* Training end to end on tiny synthetic tensors (no dataset files): the GAP classifier
 * reaches 100% on a trivially separable 2-class set and its loss falls; the multitask and
 * pose heads reduce their losses; the decoder trains; a NaN loss is an error that leaves
 * no model; the exported ONNX gives the trainer's own eval outputs in a plain plan;
 * checkpoints restore weights and optimizer state exactly; the same seed gives the same
 * weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"
#include "camstream/dataset.h"
#include "camstream/formats.h"
#include "camstream/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 8, S = 64, PIX = 3 * S * S };

typedef struct {
    float x[B * PIX];
    int cls[B];
    float box[B * 4];
    float kp[B * 4];
    float mask[B * 4];
} data;

/* A bright square anywhere: red for class 0, green for class 1 (separable after GAP). The
 * box is the square; two "keypoints" are its top-left and bottom-right corners. */
static void make(data *d, cs_rng *r, cs_batch *b)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < B; i++) {
        int c = i % 2, side = 12 + (int)cs_rng_below(r, 8);
        int x0 = 2 + (int)cs_rng_below(r, S - side - 4);
        int y0 = 2 + (int)cs_rng_below(r, S - side - 4);
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    int in = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
                    float v = in && ch != 2 - c ? 1.f : -0.5f;
                    d->x[i * PIX + (ch * S + y) * S + x] =
                        v + 0.2f * (float)(cs_rng_uniform(r) - 0.5);
                }
        d->cls[i] = c;
        float *bx = d->box + 4 * i;
        bx[0] = (x0 + side / 2.f) / S, bx[1] = (y0 + side / 2.f) / S;
        bx[2] = bx[3] = (float)side / S;
        float *k = d->kp + 4 * i;
        k[0] = (float)x0 / S, k[1] = (float)y0 / S, k[2] = (float)(x0 + side) / S,
        k[3] = (float)(y0 + side) / S;
        for (int j = 0; j < 4; j++) d->mask[4 * i + j] = 1;
    }
    *b = (cs_batch){.n = B,
                    .x = d->x,
                    .cls = d->cls,
                    .box = d->box,
                    .kp = d->kp,
                    .kp_mask = d->mask,
                    .image = d->x};
}

static cs_trainer *trainer(cs_arch_kind kind, cs_arch **a, float lr)
{
    cs_error err = {0};
    cs_arch_cfg ac = cs_arch_cfg_default(kind);
    ac.n_classes = 2;
    ac.n_keypoints = 2;
    ac.width_mult = 4;
    ac.seed = 3;
    *a = cs_arch_build(&ac, &err);
    if (!*a) fail_msg("%s", err.msg);
    cs_trainer_cfg tc = {.optim = cs_optim_cfg_default(CS_OPTIM_ADAM),
                         .batch = B,
                         .alpha = 1,
                         .beta = 1,
                         .threads = 2};
    tc.optim.lr = lr;
    cs_trainer *t = cs_trainer_new(*a, &tc, &err);
    if (!t) fail_msg("%s", err.msg);
    return t;
}

static void test_gap_separable(void **state)
{
    (void)state;
    cs_arch *a;
    cs_trainer *t = trainer(CS_ARCH_GAP, &a, 1e-2f);
    static data d, v;
    cs_batch b, vb;
    cs_rng r;
    cs_rng_seed(&r, 11);
    make(&v, &r, &vb);
    cs_error err = {0};
    double first = 0, last = 0;
    for (int step = 0; step < 40; step++) {
        make(&d, &r, &b);
        cs_losses l;
        if (cs_trainer_step(t, &b, &l, &err) != CS_OK) fail_msg("%s", err.msg);
        if (step < 3) first += l.total / 3;
        if (step >= 37) last += l.total / 3;
    }
    print_message("gap: loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.5 * first);
    cs_metrics m = {0};
    assert_int_equal(cs_trainer_eval(t, &vb, &m, &err), CS_OK);
    assert_int_equal(m.n, B);
    assert_int_equal(m.correct, B);

    /* export: a plain plan of the exported model gives the eval outputs */
    float want[B * 2];
    memcpy(want, cs_plan_tensor(cs_trainer_plan(t), "logits", NULL)->data, sizeof want);
    char path[4096];
    const char *bd = getenv("CS_BUILD_DIR");
    snprintf(path, sizeof path, "%s/test_train_gap.onnx", bd ? bd : ".");
    assert_int_equal(cs_trainer_export(t, path, &err), CS_OK);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    cs_model *m2 = cs_model_load_file(path, &err);
    if (!m2) fail_msg("%s", err.msg);
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 2;
    o.batch = B;
    cs_plan *p2 = cs_plan_new(m2, &o, &err); /* BatchNorm folded, as in any inference plan */
    if (!p2) fail_msg("%s", err.msg);
    memcpy(cs_plan_input(p2, 0)->data, vb.x, sizeof(float) * B * PIX);
    assert_int_equal(cs_plan_run(p2, &err), CS_OK);
    const float *y = cs_plan_output(p2, 0)->data;
    for (int i = 0; i < B * 2; i++)
        if (fabsf(y[i] - want[i]) > 1e-4f + 1e-4f * fabsf(want[i]))
            fail_msg("exported logit %d: %g, trainer %g", i, (double)y[i], (double)want[i]);
    cs_plan_destroy(&p2);
    cs_model_destroy(&m2);
    remove(path);
    cs_trainer_destroy(&t);
    cs_trainer_destroy(&t);
    cs_arch_destroy(&a);
}

static double train_steps(cs_arch_kind kind, int steps, double *first)
{
    cs_arch *a;
    cs_trainer *t = trainer(kind, &a, 3e-3f);
    static data d;
    cs_batch b;
    cs_rng r;
    cs_rng_seed(&r, 5);
    make(&d, &r, &b);
    cs_error err = {0};
    double last = 0;
    for (int s = 0; s < steps; s++) {
        cs_losses l;
        if (cs_trainer_step(t, &b, &l, &err) != CS_OK) fail_msg("%s", err.msg);
        if (s == 0) *first = l.total;
        last = l.total;
    }
    cs_trainer_destroy(&t);
    cs_arch_destroy(&a);
    return last;
}

static void test_heads_learn(void **state)
{
    (void)state;
    cs_arch_kind kinds[] = {CS_ARCH_MULTITASK, CS_ARCH_POSE, CS_ARCH_DECODER};
    for (int i = 0; i < 3; i++) {
        double first, last = train_steps(kinds[i], 15, &first);
        print_message("%s: loss %.4f -> %.4f\n", cs_arch_name(kinds[i]), first, last);
        assert_true(isfinite(last));
        assert_true(last < 0.8 * first);
    }
}

static void test_decoder_input(void **state)
{
    (void)state;
    cs_error err = {0};
    cs_arch_cfg ac = cs_arch_cfg_default(CS_ARCH_DECODER);
    ac.width_mult = 4;
    cs_arch *a = cs_arch_build(&ac, &err);
    assert_non_null(a);
    assert_string_equal(a->input, "features");
    assert_int_equal(a->feat_c, 16);
    cs_arch_destroy(&a);
    ac = cs_arch_cfg_default(CS_ARCH_GAP);
    ac.width = 32;
    assert_null(cs_arch_build(&ac, &err));
    assert_non_null(strstr(err.msg, "64x64"));
    ac = cs_arch_cfg_default(CS_ARCH_POSE);
    assert_null(cs_arch_build(&ac, &err));
    assert_non_null(strstr(err.msg, "keypoints"));
}

static void test_nan_loss(void **state)
{
    (void)state;
    cs_arch *a;
    cs_trainer *t = trainer(CS_ARCH_GAP, &a, 1e-2f);
    static data d;
    cs_batch b;
    cs_rng r;
    cs_rng_seed(&r, 5);
    make(&d, &r, &b);
    d.x[17] = NAN;
    cs_error err = {0};
    cs_losses l;
    assert_int_equal(cs_trainer_step(t, &b, &l, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "diverged"));
    b.n = B - 1;
    assert_int_equal(cs_trainer_step(t, &b, &l, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "batch"));
    cs_trainer_destroy(&t);
    cs_arch_destroy(&a);
}

/* Same seed, same steps: bit-identical weights. Checkpoint after 3 steps, 3 more steps;
 * a new trainer loading the checkpoint and doing the same 3 steps ends bit-identical. */
static void test_checkpoint_determinism(void **state)
{
    (void)state;
    char path[4096];
    const char *bd = getenv("CS_BUILD_DIR");
    snprintf(path, sizeof path, "%s/test_train.ckpt", bd ? bd : ".");
    static data d;
    cs_batch b;
    cs_error err = {0};
    float *w[2] = {NULL, NULL};
    int64_t n = 0;
    for (int run = 0; run < 2; run++) {
        cs_arch *a;
        cs_trainer *t = trainer(CS_ARCH_MULTITASK, &a, 1e-2f);
        cs_rng r;
        cs_rng_seed(&r, 9);
        cs_losses l;
        int epoch = 0;
        if (run == 0) {
            for (int s = 0; s < 3; s++) {
                make(&d, &r, &b);
                assert_int_equal(cs_trainer_step(t, &b, &l, &err), CS_OK);
            }
            assert_int_equal(cs_trainer_save(t, path, 3, &r, &err), CS_OK);
        } else {
            if (cs_trainer_load(t, path, &epoch, &r, &err) != CS_OK) fail_msg("%s", err.msg);
            assert_int_equal(epoch, 3);
        }
        for (int s = 0; s < 3; s++) {
            make(&d, &r, &b);
            assert_int_equal(cs_trainer_step(t, &b, &l, &err), CS_OK);
        }
        cs_plan *p = cs_trainer_plan(t);
        n = 0;
        for (int i = 0; i < cs_plan_n_params(p); i++) n += cs_plan_param(p, i)->numel;
        w[run] = malloc(sizeof(float) * (size_t)n);
        for (int i = 0, off = 0; i < cs_plan_n_params(p); i++) {
            memcpy(w[run] + off, cs_plan_param(p, i)->data, cs_tensor_bytes(cs_plan_param(p, i)));
            off += (int)cs_plan_param(p, i)->numel;
        }
        cs_trainer_destroy(&t);
        cs_arch_destroy(&a);
    }
    assert_memory_equal(w[0], w[1], sizeof(float) * (size_t)n);
    free(w[0]);
    free(w[1]);
    /* a checkpoint of another architecture is refused with a reason */
    cs_arch *a;
    cs_trainer *t = trainer(CS_ARCH_GAP, &a, 1e-2f);
    int epoch;
    cs_rng r;
    assert_int_not_equal(cs_trainer_load(t, path, &epoch, &r, &err), CS_OK);
    assert_non_null(strstr(err.msg, path));
    cs_trainer_destroy(&t);
    cs_arch_destroy(&a);
    remove(path);
}

/* The architectures' weight gradients (both multitask heads at once, BatchNorm in training
 * mode) against central differences of L = <seed_logits, logits> + <seed_box, box>. */
static void test_arch_gradients(void **state)
{
    (void)state;
    cs_error err = {0};
    cs_arch_kind kinds[] = {CS_ARCH_MULTITASK, CS_ARCH_POSE, CS_ARCH_DECODER};
    for (int ki = 0; ki < 3; ki++) {
        cs_arch_cfg ac = cs_arch_cfg_default(kinds[ki]);
        ac.n_classes = 3;
        ac.n_keypoints = 2;
        ac.width_mult = 4;
        cs_arch *a = cs_arch_build(&ac, &err);
        assert_non_null(a);
        size_t len;
        uint8_t *buf = cs_arch_pack(a, &len);
        cs_model *m = cs_model_load_memory(buf, len, "arch", &err);
        free(buf);
        assert_non_null(m);
        cs_plan_opts o = cs_plan_opts_default();
        o.threads = 2;
        o.batch = 4;
        o.trainable = 1;
        cs_plan *p = cs_plan_new(m, &o, &err);
        if (!p) fail_msg("%s", err.msg);
        assert_int_equal(cs_plan_set_training(p, 1, &err), CS_OK);
        const char *heads[2];
        int nh = 0;
        if (a->logits) heads[nh++] = a->logits;
        if (a->box) heads[nh++] = a->box;
        if (a->pose) heads[nh++] = a->pose;
        if (a->image) heads[nh++] = a->image;
        cs_grad *g = cs_grad_new_multi(p, heads, nh, (const char *const *)a->trainable,
                                       a->n_trainable, &err);
        if (!g) fail_msg("%s", err.msg);
        cs_rng r;
        cs_rng_seed(&r, 77);
        cs_tensor *x = cs_plan_input(p, 0);
        for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = (float)cs_rng_normal(&r);
        for (int h = 0; h < nh; h++) {
            cs_tensor *sd = cs_grad_seed_at(g, h);
            for (int64_t i = 0; i < sd->numel; i++)
                ((float *)sd->data)[i] = (float)cs_rng_normal(&r);
        }
        assert_int_equal(cs_plan_run(p, &err), CS_OK);
        assert_int_equal(cs_grad_run(g, &err), CS_OK);
        int checked = 0, bad = 0;
        for (int w = 0; w < a->n_trainable; w++) {
            cs_tensor *wt = cs_plan_param_named(p, a->trainable[w]);
            float *wd = wt->data;
            const float *gw = cs_grad_wrt(g, w)->data;
            for (int rep = 0; rep < 3; rep++) {
                int64_t k = cs_rng_below(&r, (uint32_t)wt->numel);
                float keep = wd[k];
                double l[3];
                for (int sgn = 0; sgn < 3; sgn++) {
                    wd[k] = keep + (sgn == 0 ? 3e-3f : sgn == 1 ? -3e-3f : 0.f);
                    cs_plan_run(p, &err);
                    double sum = 0;
                    for (int h = 0; h < nh; h++) {
                        const cs_tensor *y = cs_plan_tensor(p, heads[h], NULL);
                        const float *sd = cs_grad_seed_at(g, h)->data;
                        for (int64_t i = 0; i < y->numel; i++)
                            sum += (double)sd[i] * ((float *)y->data)[i];
                    }
                    l[sgn] = sum;
                }
                wd[k] = keep;
                double fd = (l[0] - l[1]) / 6e-3;
                if (fabs((l[0] - l[2]) - (l[2] - l[1])) > 2e-2 * (fabs(l[0] - l[1]) + 1e-3))
                    continue; /* a ReLU kink inside the step */
                checked++;
                if (fabs(fd - gw[k]) > 1e-2 + 5e-2 * fabs(fd)) {
                    print_message("%s %s[%lld]: fd %.6g backward %.6g\n", cs_arch_name(kinds[ki]),
                                  a->trainable[w], (long long)k, fd, (double)gw[k]);
                    bad++;
                }
            }
        }
        print_message("%s: %d weight gradients checked\n", cs_arch_name(kinds[ki]), checked);
        assert_true(checked > a->n_trainable);
        assert_int_equal(bad, 0);
        cs_grad_destroy(&g);
        cs_plan_destroy(&p);
        cs_model_destroy(&m);
        cs_arch_destroy(&a);
    }
}

/* Augmentation moves labels with the pixels: one bright pixel, its box and three joints
 * (l_hand, r_hand, head) through flips and translations. */
static void test_augment(void **state)
{
    (void)state;
    char *names[3] = {"l_hand", "r_hand", "head"};
    cs_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.keypoint_names = names;
    ds.n_keypoints = 3;
    int perm[3];
    cs_keypoint_flip_perm(&ds, perm);
    assert_int_equal(perm[0], 1);
    assert_int_equal(perm[1], 0);
    assert_int_equal(perm[2], 2);

    static float img[PIX];
    int cls = 1;
    float box[4] = {10.5f / S, 20.5f / S, 4.f / S, 6.f / S};
    float kp[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, mask[6] = {1, 1, 1, 1, 1, 1};
    for (int c = 0; c < 3; c++) img[(c * S + 20) * S + 10] = 1.f;
    cs_train_set set = {.n = 1,
                        .c = 3,
                        .h = S,
                        .w = S,
                        .n_kp = 3,
                        .img = img,
                        .cls = &cls,
                        .box = box,
                        .kp = kp,
                        .kp_mask = mask};
    cs_batch b;
    cs_error err = {0};
    assert_int_equal(cs_batch_alloc(&b, &set, 1, &err), CS_OK);
    cs_rng r;
    cs_rng_seed(&r, 1);
    int idx = 0, flips = 0, moves = 0;
    for (int trial = 0; trial < 40; trial++) {
        cs_train_set_fill(&set, &idx, 1, CS_AUG_FLIP | CS_AUG_TRANSLATE, perm, &r, &b);
        int px = -1, py = -1;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                if (b.x[(0 * S + y) * S + x] == 1.f) px = x, py = y;
        assert_true(px >= 0);
        int flip = px > S / 2; /* unflipped: 10 ± 4; flipped: 53 ± 4 */
        int dx = flip ? px - (S - 1 - 10) : px - 10, dy = py - 20;
        assert_true(abs(dx) <= 4 && abs(dy) <= 4);
        flips += flip;
        moves += dx != 0 || dy != 0;
        /* the box centre is the pixel centre, in 0-1 of the image */
        assert_true(fabsf(b.box[0] - (px + 0.5f) / S) < 1e-6f);
        assert_true(fabsf(b.box[1] - (py + 0.5f) / S) < 1e-6f);
        assert_true(b.box[2] == box[2] && b.box[3] == box[3]);
        /* joints: mirrored and swapped left/right on a flip, shifted with the image */
        for (int j = 0; j < 3; j++) {
            int src = flip ? perm[j] : j;
            float ex = (flip ? 1.f - kp[2 * src] : kp[2 * src]) + (float)dx / S;
            float ey = kp[2 * src + 1] + (float)dy / S;
            assert_true(fabsf(b.kp[2 * j] - ex) < 1e-6f && fabsf(b.kp[2 * j + 1] - ey) < 1e-6f);
            assert_true(b.kp_mask[2 * j] == 1.f);
        }
        assert_int_equal(b.cls[0], 1);
    }
    assert_true(flips > 5 && flips < 35);
    assert_true(moves > 20);
    cs_batch_free(&b);
}

/* cs_model_desc_write (the trainer's descriptions) read back by the one parser. */
static void test_desc_roundtrip(void **state)
{
    (void)state;
    char *labels[] = {"circle", "square"}, *joints[] = {"head", "l_hand", "r_hand"};
    int skel[2][2] = {{0, 1}, {0, 2}};
    cs_model_desc d;
    memset(&d, 0, sizeof d);
    d.model_file = "m.onnx";
    d.name = "multitask";
    d.input = "input";
    d.pp.scale = CS_SCALE_01;
    d.pp.resize = CS_RESIZE_STRETCH;
    float mean[3] = {0.25f, 0.5f, 0.75f}, std[3] = {0.125f, 0.25f, 0.5f};
    memcpy(d.pp.mean, mean, sizeof mean);
    memcpy(d.pp.std, std, sizeof std);
    d.labels = labels;
    d.n_labels = 2;
    d.classes = "logits";
    d.boxes = "box";
    d.box_format = CS_BOX_CXCYWH;
    d.box_coords = CS_COORDS_NORMALIZED;
    d.keypoints = "pose";
    d.keypoint_coords = CS_KP_IMAGE;
    d.keypoint_names = joints;
    d.n_keypoint_names = 3;
    d.skeleton = skel;
    d.n_skeleton = 2;
    d.explain_layer = "features";
    d.explain_method = "gradcam";
    char path[4096];
    const char *bd = getenv("CS_BUILD_DIR");
    snprintf(path, sizeof path, "%s/test_train_desc.model", bd ? bd : ".");
    cs_error err = {0};
    assert_int_equal(cs_model_desc_write(path, &d, &err), CS_OK);
    cs_model_desc *r = cs_model_desc_load(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_non_null(strstr(r->model_file, "m.onnx"));
    assert_string_equal(r->name, "multitask");
    assert_string_equal(r->input, "input");
    for (int c = 0; c < 3; c++) {
        assert_true(r->pp.mean[c] == mean[c]);
        assert_true(r->pp.std[c] == std[c]);
    }
    assert_int_equal(r->n_labels, 2);
    assert_string_equal(r->labels[1], "square");
    assert_string_equal(r->classes, "logits");
    assert_int_equal(r->classes_activation, CS_CLASSES_SOFTMAX);
    assert_string_equal(r->boxes, "box");
    assert_int_equal(r->box_format, CS_BOX_CXCYWH);
    assert_int_equal(r->box_coords, CS_COORDS_NORMALIZED);
    assert_string_equal(r->keypoints, "pose");
    assert_int_equal(r->keypoint_coords, CS_KP_IMAGE);
    assert_int_equal(r->n_keypoint_names, 3);
    assert_string_equal(r->keypoint_names[2], "r_hand");
    assert_int_equal(r->n_skeleton, 2);
    assert_int_equal(r->skeleton[1][1], 2);
    assert_string_equal(r->explain_layer, "features");
    assert_string_equal(r->explain_method, "gradcam");
    cs_model_desc_destroy(&r);
    /* a label the format cannot hold is refused, and nothing is written */
    remove(path);
    labels[0] = "a;b";
    assert_int_equal(cs_model_desc_write(path, &d, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "label 1"));
    assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_separable),
        cmocka_unit_test(test_heads_learn),
        cmocka_unit_test(test_decoder_input),
        cmocka_unit_test(test_nan_loss),
        cmocka_unit_test(test_checkpoint_determinism),
        cmocka_unit_test(test_arch_gradients),
        cmocka_unit_test(test_augment),
        cmocka_unit_test(test_desc_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
