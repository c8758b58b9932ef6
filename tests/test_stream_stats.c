/* camstreamd's per-stream statistics (pipeline/stream_stats.h): frames matched by PTS between
 * ingress and publish, nearest-rank percentiles, fps over an interval, counters. Times are
 * given explicitly: nothing here depends on the clock. */
#include "stream_stats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define MS 1000000ull

static void test_latency_and_fps(void **state)
{
    csd_stats *s = g_new(csd_stats, 1);
    csd_stats_init(s, 0);
    /* 100 frames: frame i enters at i ms and leaves (i + 1) ms later: latencies 1..100 ms */
    for (uint64_t i = 0; i < 100; i++) {
        csd_stats_frame_in(s, i * 40 * MS, i * MS);
        if (i >= 10) /* ten frames in flight */
            csd_stats_frame_out(s, (i - 10) * 40 * MS, (i - 10) * MS + (i - 9) * MS);
    }
    for (uint64_t i = 90; i < 100; i++) csd_stats_frame_out(s, i * 40 * MS, i * MS + (i + 1) * MS);
    csd_stats_tick(s, 2000 * MS); /* 100 frames out over 2 s */
    assert_true(s->fps > 49.99 && s->fps < 50.01);
    assert_int_equal(s->p50_ns, 50 * MS);
    assert_int_equal(s->p90_ns, 90 * MS);
    assert_int_equal(s->p99_ns, 99 * MS);
    assert_int_equal(atomic_load(&s->frames_in), 100);
    assert_int_equal(atomic_load(&s->frames_out), 100);
    /* an empty interval: no samples, no frames */
    csd_stats_tick(s, 3000 * MS);
    assert_true(s->fps == 0.0);
    assert_int_equal(s->p50_ns, 0);
    csd_stats_clear(s);
    g_free(s);
}

static void test_unmatched_and_drops(void **state)
{
    csd_stats *s = g_new(csd_stats, 1);
    csd_stats_init(s, 0);
    /* more frames in flight than the ring holds: the oldest are forgotten, not mismatched */
    for (uint64_t i = 0; i < CSD_STATS_RING + 10; i++) csd_stats_frame_in(s, i, 0);
    csd_stats_frame_out(s, 0, 5 * MS);                  /* forgotten: counted, no sample */
    csd_stats_frame_out(s, CSD_STATS_RING + 9, 7 * MS); /* the newest: 7 ms */
    csd_stats_frame_out(s, CSD_PTS_NONE, 9 * MS);       /* no PTS: counted only */
    csd_stats_frame_out(s, CSD_STATS_RING + 9, 8 * MS); /* matched once only */
    csd_stats_dropped(s, 3);
    csd_stats_tick(s, 1000 * MS);
    assert_int_equal(s->p50_ns, 7 * MS);
    assert_int_equal(s->p99_ns, 7 * MS);
    assert_int_equal(atomic_load(&s->frames_out), 4);
    assert_int_equal(atomic_load(&s->frames_dropped), 3);
    /* a new pipeline starts its PTS over: old entries must not match */
    csd_stats_frame_in(s, 5, 100 * MS);
    csd_stats_reset_ring(s);
    csd_stats_frame_out(s, 5, 101 * MS);
    csd_stats_tick(s, 2000 * MS);
    assert_int_equal(s->p50_ns, 0);
    csd_stats_clear(s);
    g_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_and_fps),
        cmocka_unit_test(test_unmatched_and_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
