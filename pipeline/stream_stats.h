/* Per-stream counters and latency of camstreamd (StreamStatus, docs/PROTOCOL.md): frames in
 * (at the ingress queue), out (at cspublish) and dropped, and the wall-clock time each frame
 * took from ingress to cspublish, matched by PTS through a small ring. Counters are updated from
 * streaming threads; csd_stats_tick (main loop) turns the interval's samples into fps and
 * latency percentiles. No GStreamer here: PTS are plain ns, CSD_PTS_NONE when unknown. */
#ifndef CAMSTREAM_PIPELINE_STREAM_STATS_H
#define CAMSTREAM_PIPELINE_STREAM_STATS_H

#include <glib.h>
#include <stdatomic.h>
#include <stdint.h>

#define CSD_PTS_NONE UINT64_MAX
#define CSD_STATS_RING 64
#define CSD_STATS_MAX_SAMPLES 8192

typedef struct csd_stats {
    atomic_uint_fast64_t frames_in, frames_out, frames_dropped;
    GMutex lock; /* the ring and the samples */
    struct {
        uint64_t pts, t_ns;
    } ring[CSD_STATS_RING];
    unsigned ring_pos;
    uint64_t samples[CSD_STATS_MAX_SAMPLES]; /* latencies of the interval, ns */
    unsigned n_samples;
    /* the last interval (main loop only) */
    uint64_t tick_ns, tick_frames_out;
    double fps;
    uint64_t p50_ns, p90_ns, p99_ns;
} csd_stats;

void csd_stats_init(csd_stats *s, uint64_t now_ns);
void csd_stats_clear(csd_stats *s);
/* A new pipeline: PTS start over, forget the frames in flight. */
void csd_stats_reset_ring(csd_stats *s);
void csd_stats_frame_in(csd_stats *s, uint64_t pts, uint64_t now_ns);
void csd_stats_frame_out(csd_stats *s, uint64_t pts, uint64_t now_ns);
void csd_stats_dropped(csd_stats *s, uint64_t n);
/* Ends an interval: fps (frames out / elapsed) and p50/p90/p99 (nearest rank) of its samples. */
void csd_stats_tick(csd_stats *s, uint64_t now_ns);

#endif
