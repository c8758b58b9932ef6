/* camstream training: losses, optimizers, architectures and the trainer, on core's plans
 * (opts.trainable) and gradients (cs_grad). docs/TRAINING.md describes the whole.
 *
 *     cs_arch_cfg ac = cs_arch_cfg_default(CS_ARCH_GAP);
 *     ac.n_classes = 5;
 *     cs_arch *a = cs_arch_build(&ac, &err);               // an ONNX graph, initial weights
 *     cs_trainer *t = cs_trainer_new(a, &tc, &err);        // trainable plan + backward + optim
 *     cs_trainer_step(t, x, &targets, &losses, &err);      // one batch: forward, loss,
 *                                                          // backward, optimizer step
 *     cs_trainer_export(t, "model.onnx", &err);            // BN in inference form
 *
 * Nothing here prints or exits; failures fill cs_error.
 */
#ifndef CAMSTREAM_TRAIN_H
#define CAMSTREAM_TRAIN_H

#include "camstream/core.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deterministic random numbers (train/rng.c): xoshiro256** seeded by splitmix64 -------
 * The one generator of train/: the trainer's weights, shuffles and augmentations, and camstream
 * synth's images depend on these exact semantics. */

typedef struct cs_rng {
    uint64_t s[4];
} cs_rng;

void cs_rng_seed(cs_rng *r, uint64_t seed);
uint64_t cs_rng_next(cs_rng *r);
/* Uniform in [0, 1), uniform integer in [0, n), standard normal (Box-Muller). */
double cs_rng_uniform(cs_rng *r);
uint32_t cs_rng_below(cs_rng *r, uint32_t n);
double cs_rng_normal(cs_rng *r);

/* ---- losses (train/loss.c) ---------------------------------------------------------------
 * Each returns the loss, averaged as PyTorch's default reduction ("mean"), and, when grad is
 * not NULL, writes grad = scale · ∂loss/∂input (so a weighted term of a multitask loss
 * seeds its head directly). */

/* Softmax cross-entropy of n rows of k logits against class indices (mean over rows). */
double cs_loss_softmax_ce(const float *logits, const int *labels, int n, int k, float scale,
                          float *grad);
/* Binary cross-entropy on logits (mean over all n elements), targets in [0, 1]. */
double cs_loss_bce_logits(const float *x, const float *target, int64_t n, float scale, float *grad);
/* Mean squared error, mean absolute error (subgradient 0 at 0, as PyTorch) and smooth L1
 * (Huber with PyTorch's beta: 0.5 d²/beta below beta, |d| - beta/2 above). `mask` (may be
 * NULL) weights elements 0/1 (unlabelled keypoints); the mean is over all n either way. */
double cs_loss_mse(const float *y, const float *target, const float *mask, int64_t n, float scale,
                   float *grad);
double cs_loss_l1(const float *y, const float *target, const float *mask, int64_t n, float scale,
                  float *grad);
double cs_loss_smooth_l1(const float *y, const float *target, const float *mask, int64_t n,
                         float beta, float scale, float *grad);

/* ---- optimizers (train/optim.c): torch.optim semantics ----------------------------------- */

typedef enum { CS_OPTIM_SGD, CS_OPTIM_ADAM } cs_optim_kind;

typedef struct cs_optim_cfg {
    cs_optim_kind kind;
    float lr;
    float momentum;          /* SGD (0: plain SGD); dampening 0, no Nesterov */
    float weight_decay;      /* L2 added to the gradient (both, as torch.optim) */
    float beta1, beta2, eps; /* Adam (0.9, 0.999, 1e-8) */
} cs_optim_cfg;

cs_optim_cfg cs_optim_cfg_default(cs_optim_kind kind);
/* "sgd" / "adam" -> kind; -1 when neither. */
int cs_optim_parse(const char *name, cs_optim_kind *kind);

typedef struct cs_optim cs_optim;

/* An optimizer for n parameter tensors of numel[i] floats each. */
cs_optim *cs_optim_new(const cs_optim_cfg *cfg, int n, const int64_t *numel, cs_error *err);
void cs_optim_destroy(cs_optim **o);
/* One step: params[i] -= update(grads[i]) for every tensor. */
void cs_optim_step(cs_optim *o, float *const *params, const float *const *grads);
/* The state (momentum buffers / Adam moments), for checkpoints: *n floats at the returned
 * pointer, and the number of steps taken. */
float *cs_optim_state(cs_optim *o, int64_t *n);
int64_t *cs_optim_steps(cs_optim *o);

/* ---- architectures (train/arch.c) --------------------------------------------------------- */

typedef enum { CS_ARCH_GAP, CS_ARCH_MULTITASK, CS_ARCH_POSE, CS_ARCH_DECODER } cs_arch_kind;

typedef struct cs_arch_cfg {
    cs_arch_kind kind;
    int width, height; /* input size (64 × 64) */
    int channels;      /* image channels (3) */
    int n_classes;     /* gap, multitask */
    int n_keypoints;   /* pose */
    int width_mult;    /* base channel count of the backbone (16) */
    uint64_t seed;     /* initial weights */
} cs_arch_cfg;

cs_arch_cfg cs_arch_cfg_default(cs_arch_kind kind);
/* "gap", "multitask", "pose", "decoder" -> kind; -1 when none. */
int cs_arch_parse(const char *name, cs_arch_kind *kind);
const char *cs_arch_name(cs_arch_kind kind);

typedef struct cs_arch {
    cs_arch_cfg cfg;
    struct mb_model *graph;     /* the ONNX model (BatchNorm in inference form) */
    const char *input;          /* "input" */
    const char *logits;         /* output names, NULL when the architecture has none */
    const char *box;            /* 4 sigmoid outputs: cx, cy, w, h (0-1 of the image) */
    const char *pose;           /* 2·J sigmoid outputs: x, y per joint (0-1 of the image) */
    const char *image;          /* decoder: the reconstructed (normalized) image */
    const char *target_layer;   /* the last conv features (CAM / Grad-CAM layer); NULL for
                                 * the decoder, whose input they are */
    int feat_c, feat_h, feat_w; /* shape of target_layer for one image */
    int n_trainable;
    char **trainable; /* parameters the optimizer updates (not BN running statistics) */
} cs_arch;

cs_arch *cs_arch_build(const cs_arch_cfg *cfg, cs_error *err);
void cs_arch_destroy(cs_arch **a);
/* The serialized model with the current weights (malloc'd). */
uint8_t *cs_arch_pack(cs_arch *a, size_t *len);
/* Replaces the initializer `name` (same number of floats). CS_ERR_INVALID when unknown. */
cs_status cs_arch_set_weight(cs_arch *a, const char *name, const float *data, int64_t numel,
                             cs_error *err);

/* ---- the trainer (train/trainer.c) -------------------------------------------------------- */

/* One batch, inputs already normalized. Targets the architecture does not use may be NULL. */
typedef struct cs_batch {
    int n;          /* images (the trainer's batch size for training steps) */
    float *x;       /* n × C×H×W (decoder: n × features) */
    int *cls;       /* n class indices */
    float *box;     /* n × 4: cx, cy, w, h, 0-1 of the image */
    float *kp;      /* n × 2J: x, y per joint, 0-1 of the image */
    float *kp_mask; /* n × 2J: 1 where the joint is labelled */
    float *image;   /* decoder target: n × C×H×W */
} cs_batch;

typedef struct cs_losses {
    double total; /* cls + alpha·box + beta·pose + rec */
    double cls, box, pose, rec;
} cs_losses;

typedef struct cs_metrics {
    int n;          /* images evaluated */
    int correct;    /* argmax(logits) == cls */
    double iou;     /* sum of box IoUs */
    double kp_err;  /* sum over labelled joints of the distance (0-1 of the image) */
    int kp_n;       /* labelled joints */
    cs_losses loss; /* summed over batches (divide by the batch count) */
} cs_metrics;

typedef struct cs_trainer_cfg {
    cs_optim_cfg optim;
    int batch;
    float alpha; /* weight of the box loss (L1) */
    float beta;  /* weight of the pose loss (masked MSE) */
    int threads; /* 0: every core */
} cs_trainer_cfg;

typedef struct cs_trainer cs_trainer;

/* Plans the architecture's graph for training (a trainable plan with backward passes from
 * its heads to every trainable weight) and makes the optimizer. The trainer keeps a. */
cs_trainer *cs_trainer_new(cs_arch *a, const cs_trainer_cfg *cfg, cs_error *err);
void cs_trainer_destroy(cs_trainer **t);
/* Forward in training mode, losses, backward, one optimizer step. b->n must equal the batch
 * size. A loss that is not finite is an error (CS_ERR_INVALID) and leaves the weights as
 * they were before the step's update. */
cs_status cs_trainer_step(cs_trainer *t, const cs_batch *b, cs_losses *l, cs_error *err);
/* Forward in inference mode (running statistics) on b->n <= batch images, adding to m. */
cs_status cs_trainer_eval(cs_trainer *t, const cs_batch *b, cs_metrics *m, cs_error *err);
/* The plan (its outputs after the last step or eval; its parameters). */
cs_plan *cs_trainer_plan(cs_trainer *t);
/* Copies the current weights (BN running statistics included) into the architecture's graph
 * and writes it as ONNX: to PATH.tmp, renamed to PATH only when complete. */
cs_status cs_trainer_export(cs_trainer *t, const char *path, cs_error *err);
/* Checkpoints: the weights, the optimizer state and the caller's counters (epoch, random
 * generator) in one file (docs/TRAINING.md); load needs a trainer for the same
 * architecture and settings. */
cs_status cs_trainer_save(cs_trainer *t, const char *path, int epoch, const cs_rng *rng,
                          cs_error *err);
cs_status cs_trainer_load(cs_trainer *t, const char *path, int *epoch, cs_rng *rng, cs_error *err);

/* ---- datasets in memory (train/data.c) ---------------------------------------------------- */

struct cs_dataset;

/* One split of a dataset (camstream/dataset.h) as tensors: images normalized per channel
 * with the given mean/std (fitted on the training split), targets in the trainer's units. */
typedef struct cs_train_set {
    int n, c, h, w, n_kp;
    float *img;     /* n × C×H×W */
    int *cls;       /* n */
    float *box;     /* n × 4: cx, cy, w, h, 0-1 of the image */
    float *kp;      /* n × 2J: 0-1 of the image */
    float *kp_mask; /* n × 2J: 1 where labelled */
    float *feat;    /* decoder: n × feat_per backbone features (the inputs), else NULL */
    int64_t feat_per;
} cs_train_set;

cs_train_set *cs_train_set_load(const struct cs_dataset *ds, int split, const float *mean,
                                const float *std, cs_error *err);
void cs_train_set_destroy(cs_train_set **s);
/* For every joint, its mirror image: l_X / left_X <-> r_X / right_X by name, else itself. */
void cs_keypoint_flip_perm(const struct cs_dataset *ds, int *perm);

#define CS_AUG_FLIP 1u      /* horizontal flip, p = 0.5: boxes and joints mirrored, l/r swapped */
#define CS_AUG_TRANSLATE 2u /* shift by up to ±W/16, ±H/16 pixels, zeros (the mean) shown */

/* Batch buffers for n images of set s (freed with cs_batch_free). */
cs_status cs_batch_alloc(cs_batch *b, const cs_train_set *s, int n, cs_error *err);
void cs_batch_free(cs_batch *b);
/* Copies samples idx[0..n) into b (n <= its size), augmented as asked (not the decoder). */
void cs_train_set_fill(const cs_train_set *s, const int *idx, int n, unsigned aug, const int *perm,
                       cs_rng *r, cs_batch *b);

/* Box IoU of two cx, cy, w, h boxes. */
double cs_box_iou(const float *a, const float *b);

#ifdef __cplusplus
}
#endif

#endif
