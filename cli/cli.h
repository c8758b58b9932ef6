/* camstream command-line tool: one file per subcommand, and a few shared helpers. */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdio.h>

int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_explain(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_visualize(int argc, char **argv);
int cmd_sub(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Exit codes of every subcommand. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Whole-string numbers within [lo, hi]; on a bad value they print one line
 * "camstream CMD: OPT expects ..., got 'S'" on stderr and return -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
                    float *out);
/* After getopt_long(argc, argv, ":h", ...) returned ':' (missing value) or
 * anything unknown: print "camstream CMD: OPT needs a value" or
 * "camstream CMD: unknown option 'OPT' (see --help)" and return CLI_USAGE. */
int cli_getopt_fail(const char *cmd, int c, char **argv);
/* 0 when getopt_long consumed every argument; else print
 * "camstream CMD: unexpected argument 'ARG' (see --help)" and return CLI_USAGE. */
int cli_no_extra_args(const char *cmd, int argc, char **argv);
/* 0 when given; else print "camstream CMD: OPT is required" and return CLI_USAGE. */
int cli_require(const char *cmd, const char *opt, int given);
/* CLOCK_MONOTONIC in milliseconds. */
double cli_now_ms(void);
/* s as a JSON string literal (quoted, escaped); NULL as null. */
void cli_json_string(FILE *f, const char *s);
/* A float as a JSON number (non-finite values as null). */
void cli_json_float(FILE *f, double v);

#ifdef CS_HAVE_GST
#include <gst/gst.h>
/* Ends a GStreamer run of CMD on WHAT: when msg is an error, prints "camstream CMD: WHAT:
 * message" and returns CLI_FAIL (else rc); then unrefs msg (may be NULL) and bus, stops pipe
 * and unrefs src, sink and pipe. */
int cli_gst_close(const char *cmd, const char *what, int rc, GstMessage *msg, GstBus *bus,
                  GstElement *pipe, GstElement *src, GstElement *sink);
#endif

#endif
