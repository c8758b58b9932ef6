/* Loaded models shared by every element of the process: N csinfer instances (one pipeline per
 * stream in camstreamd) on the same ONNX file load its weights once.
 *
 * A cs_model is immutable once loaded and may back any number of plans (camstream/core.h), so
 * sharing it is safe; plans, which hold per-instance buffers (and their own folded and
 * prepacked weights), stay per element. An entry is keyed by the file's canonical path, size
 * and modification time: a file that was replaced or rewritten is loaded again for the
 * elements that start afterwards, while the elements already running keep the copy they
 * have. An entry is freed when its last user releases it. All functions are thread-safe; a
 * load runs under the cache's lock, so two elements starting together on the same file wait
 * for one load instead of making two. */
#ifndef CS_MODEL_CACHE_H
#define CS_MODEL_CACHE_H

#include "camstream/core.h"

/* The model in the ONNX file at path, loaded or shared; NULL with err filled (I/O or parse
 * error, as cs_model_load_file's). Give it back with cs_model_cache_release. */
cs_model *cs_model_cache_acquire(const char *path, cs_error *err);
/* Drops one use of a model from cs_model_cache_acquire and sets *m to NULL (NULL is fine;
 * a model that did not come from the cache is destroyed). */
void cs_model_cache_release(cs_model **m);
/* How many acquisitions of this model are held now (0 for a model not from the cache). */
unsigned cs_model_cache_users(const cs_model *m);
/* Models loaded from files since the process started (for tests and debugging). */
unsigned long cs_model_cache_loads(void);

#endif
