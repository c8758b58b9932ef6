/* camstreamd's log lines (log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile int threshold = CSD_LOG_INFO;

void csd_log_set_level(csd_log_level l)
{
    threshold = (int)l;
}

static volatile int overridden;

void csd_log_set_config_level(csd_log_level l)
{
    if (!overridden) threshold = (int)l;
}

void csd_log_override(csd_log_level l)
{
    overridden = 1;
    threshold = (int)l;
}

csd_log_level csd_log_get_level(void)
{
    return (csd_log_level)threshold;
}

void csd_log(csd_log_level l, const char *fmt, ...)
{
    if ((int)l > threshold) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char when[32], msg[2048];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static const char letters[] = "EWID";
    /* one call: lines from several threads never interleave */
    fprintf(stderr, "camstreamd[%ld] %s.%03ld %c %s\n", (long)getpid(), when, ts.tv_nsec / 1000000,
            letters[l], msg);
}
