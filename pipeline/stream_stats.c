/* Per-stream counters and latency percentiles (stream_stats.h). */
#include "stream_stats.h"

#include <stdlib.h>
#include <string.h>

void csd_stats_init(csd_stats *s, uint64_t now_ns)
{
    memset(s, 0, sizeof *s);
    g_mutex_init(&s->lock);
    s->tick_ns = now_ns;
    csd_stats_reset_ring(s);
}

void csd_stats_clear(csd_stats *s)
{
    g_mutex_clear(&s->lock);
}

void csd_stats_reset_ring(csd_stats *s)
{
    g_mutex_lock(&s->lock);
    for (unsigned i = 0; i < CSD_STATS_RING; i++) s->ring[i].pts = CSD_PTS_NONE;
    s->ring_pos = 0;
    g_mutex_unlock(&s->lock);
}

void csd_stats_frame_in(csd_stats *s, uint64_t pts, uint64_t now_ns)
{
    atomic_fetch_add(&s->frames_in, 1);
    if (pts == CSD_PTS_NONE) return;
    g_mutex_lock(&s->lock);
    s->ring[s->ring_pos].pts = pts;
    s->ring[s->ring_pos].t_ns = now_ns;
    s->ring_pos = (s->ring_pos + 1) % CSD_STATS_RING;
    g_mutex_unlock(&s->lock);
}

void csd_stats_frame_out(csd_stats *s, uint64_t pts, uint64_t now_ns)
{
    atomic_fetch_add(&s->frames_out, 1);
    if (pts == CSD_PTS_NONE) return;
    g_mutex_lock(&s->lock);
    /* newest first: a PTS seen twice (a loop, a restart) matches its latest entry */
    for (unsigned k = 1; k <= CSD_STATS_RING; k++) {
        unsigned i = (s->ring_pos + CSD_STATS_RING - k) % CSD_STATS_RING;
        if (s->ring[i].pts != pts) continue;
        if (now_ns >= s->ring[i].t_ns && s->n_samples < CSD_STATS_MAX_SAMPLES)
            s->samples[s->n_samples++] = now_ns - s->ring[i].t_ns;
        s->ring[i].pts = CSD_PTS_NONE;
        break;
    }
    g_mutex_unlock(&s->lock);
}

void csd_stats_dropped(csd_stats *s, uint64_t n)
{
    atomic_fetch_add(&s->frames_dropped, n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
static uint64_t percentile(const uint64_t *v, unsigned n, unsigned p)
{
    if (n == 0) return 0;
    unsigned rank = (p * n + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

void csd_stats_tick(csd_stats *s, uint64_t now_ns)
{
    uint64_t out = atomic_load(&s->frames_out);
    uint64_t dt = now_ns > s->tick_ns ? now_ns - s->tick_ns : 0;
    s->fps = dt ? (double)(out - s->tick_frames_out) * 1e9 / (double)dt : 0.0;
    s->tick_ns = now_ns;
    s->tick_frames_out = out;
    g_mutex_lock(&s->lock);
    unsigned n = s->n_samples;
    uint64_t *v = g_memdup2(s->samples, n * sizeof *v);
    s->n_samples = 0;
    g_mutex_unlock(&s->lock);
    if (n) qsort(v, n, sizeof *v, cmp_u64);
    s->p50_ns = percentile(v, n, 50);
    s->p90_ns = percentile(v, n, 90);
    s->p99_ns = percentile(v, n, 99);
    g_free(v);
}
