/* libFuzzer target: bytes -> cs_model_load_memory; a model that loads is planned (1 thread)
 * and run once, then everything is destroyed. Any crash, sanitizer report, leak or hang is a
 * bug; a refusal must come with a status and a one-line message.
 *
 * Inputs whose declared shapes hold more than FUZZ_MAX_INPUT elements are not planned: a
 * model may legitimately ask for any input size, and allocating it is not what we test.
 * Likewise a plan whose activations need more than FUZZ_MAX_ARENA bytes is destroyed without
 * running (a small ConvTranspose can legitimately produce hundreds of MB and take seconds). */
#include "camstream/core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 1000000     /* elements over all inputs */
#define FUZZ_MAX_ARENA (64u << 20) /* bytes of activations worth running */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const cs_error *err, const char *what)
{
    /* A failure must come with a status and a message. (Not checked: that the message is one
     * line. Messages quote names from the model verbatim, and those may hold newlines.) */
    if (err->status == CS_OK || err->msg[0] == 0 || memchr(err->msg, 0, sizeof err->msg) == NULL) {
        fprintf(stderr, "fuzz_loader: %s failed without a proper error (status %d, '%s')\n", what,
                (int)err->status, err->msg);
        abort();
    }
}

/* Number of input elements with the planner's defaults (symbolic batch = 1); -1 when some
 * input cannot be planned without explicit shapes or is too large. */
static int64_t input_elements(const cs_model *m)
{
    int64_t total = 0;
    for (int i = 0; i < cs_model_n_inputs(m); i++) {
        const cs_tensor *t = cs_model_input(m, i);
        if (t->ndim < 0) return -1;
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            int64_t v = t->dims[d];
            if (v < 0 && d == 0) v = 1;
            if (v < 0) return -1;
            if (v > 0 && n > FUZZ_MAX_INPUT / v) return -1;
            n *= v;
        }
        total += n;
        if (total > FUZZ_MAX_INPUT) return -1;
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_error err;
    memset(&err, 0, sizeof err);
    cs_model *m = cs_model_load_memory(data, size, "fuzz.onnx", &err);
    if (!m) {
        check_error(&err, "load");
        return 0;
    }
    if (input_elements(m) < 0) {
        cs_model_destroy(&m);
        return 0;
    }
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    memset(&err, 0, sizeof err);
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) {
        check_error(&err, "plan");
        cs_model_destroy(&m);
        return 0;
    }
    if (cs_plan_arena_bytes(p) > FUZZ_MAX_ARENA) {
        cs_plan_destroy(&p);
        cs_model_destroy(&m);
        return 0;
    }
    for (int i = 0; i < cs_plan_n_inputs(p); i++) {
        cs_tensor *x = cs_plan_input(p, i);
        if (x->type == CS_F32) {
            float *f = x->data;
            for (int64_t k = 0; k < x->numel; k++) f[k] = (float)((k * 7919) % 17) * 0.25f - 2.f;
        } else {
            memset(x->data, 0, cs_tensor_bytes(x)); /* int64: valid indices and shapes */
        }
    }
    memset(&err, 0, sizeof err);
    if (cs_plan_run(p, &err) != CS_OK) check_error(&err, "run");
    /* Every output and every readable tensor must be addressable. */
    for (int i = 0; i < cs_plan_n_outputs(p); i++) {
        const cs_tensor *y = cs_plan_output(p, i);
        if (!y || (y->numel > 0 && !y->data)) abort();
    }
    cs_plan_destroy(&p);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return 0;
}
