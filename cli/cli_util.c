/* Helpers shared by the subcommands (cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "camstream %s: %s expects an integer from %ld to %ld, got '%s'\n", cmd, opt,
                lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
                    float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "camstream %s: %s expects a number from %g to %g, got '%s'\n", cmd, opt, lo,
                hi, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_getopt_fail(const char *cmd, int c, char **argv)
{
    if (c == ':')
        fprintf(stderr, "camstream %s: %s needs a value\n", cmd, argv[optind - 1]);
    else
        fprintf(stderr, "camstream %s: unknown option '%s' (see --help)\n", cmd, argv[optind - 1]);
    return CLI_USAGE;
}

int cli_no_extra_args(const char *cmd, int argc, char **argv)
{
    if (optind >= argc) return 0;
    fprintf(stderr, "camstream %s: unexpected argument '%s' (see --help)\n", cmd, argv[optind]);
    return CLI_USAGE;
}

int cli_require(const char *cmd, const char *opt, int given)
{
    if (given) return 0;
    fprintf(stderr, "camstream %s: %s is required\n", cmd, opt);
    return CLI_USAGE;
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void cli_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_json_float(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.7g", v);
    else
        fputs("null", f);
}

#ifdef CS_HAVE_GST
int cli_gst_close(const char *cmd, const char *what, int rc, GstMessage *msg, GstBus *bus,
                  GstElement *pipe, GstElement *src, GstElement *sink)
{
    if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *ge = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(msg, &ge, &dbg);
        fprintf(stderr, "camstream %s: %s: %s\n", cmd, what, ge->message);
        g_clear_error(&ge);
        g_free(dbg);
        rc = CLI_FAIL;
    }
    if (msg) gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(sink);
    gst_object_unref(pipe);
    return rc;
}
#endif
