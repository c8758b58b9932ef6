/* camstreamd's log: one line per event on stderr, Redis-like:
 *
 *     camstreamd[4242] 2026-11-25 10:00:00.123 I stream cam0: running (320x240 @ 15/1)
 *
 * Levels E (error), W (warning), I (info), D (debug); lines below the threshold are dropped.
 * Thread-safe (one fprintf per line). */
#ifndef CAMSTREAM_PIPELINE_LOG_H
#define CAMSTREAM_PIPELINE_LOG_H

#include "config.h"

void csd_log_set_level(csd_log_level l);
/* The configuration's log_level: ignored after csd_log_override (the command line's wins). */
void csd_log_set_config_level(csd_log_level l);
void csd_log_override(csd_log_level l);
csd_log_level csd_log_get_level(void);
void csd_log(csd_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define csd_error_log(...) csd_log(CSD_LOG_ERROR, __VA_ARGS__)
#define csd_warn(...) csd_log(CSD_LOG_WARNING, __VA_ARGS__)
#define csd_info(...) csd_log(CSD_LOG_INFO, __VA_ARGS__)
#define csd_debug(...) csd_log(CSD_LOG_DEBUG, __VA_ARGS__)

#endif
