/* Derived weights shared read-only between plans of one model: BatchNorm-folded weights and
 * prepacked panels. Process-wide, keyed by (model, key words), refcounted: the first plan to
 * need an entry computes and inserts it, the last plan to release it frees it. This is the
 * one mutable state behind a cs_model, which is otherwise immutable; every function here is
 * thread-safe (one mutex), so plans of one model may be made and destroyed on any threads.
 * Entries are gone once every plan of a model is destroyed, so a later model at the same
 * address never sees them. */
#ifndef CS_WCACHE_H
#define CS_WCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_wcache_entry cs_wcache_entry;

/* The entry for (model, key[0..n)) with one more reference and its data in *data, or NULL. */
cs_wcache_entry *cs_wcache_get(const void *model, const int64_t *key, int n, void **data);
/* Inserts *data (the cache then owns it and frees it with free_fn). When another plan
 * inserted the same key first, frees *data, points *data at that entry's (identical) data and
 * returns that entry. NULL when out of memory (*data stays the caller's). */
cs_wcache_entry *cs_wcache_put(const void *model, const int64_t *key, int n, void **data,
                               void (*free_fn)(void *));
void cs_wcache_release(cs_wcache_entry *e);
/* Live entries in the process (for tests). */
int cs_wcache_count(void);

#endif
