/* camstreamd: runs the streams of a configuration file (docs/CONFIG.md). This first version
 * validates configurations (--check) and prints their pipelines; running them comes next. */
#include "config.h"

#include "cs_config.h"

#include <stdio.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: camstreamd [--check] FILE\n"
            "       camstreamd --keys | --help | --version\n"
            "\n"
            "Builds one GStreamer pipeline per [stream NAME] of FILE, supervises them and\n"
            "publishes protobuf messages over ZeroMQ (docs/CONFIG.md, docs/PROTOCOL.md).\n"
            "\n"
            "  --check FILE  validate FILE (keys, files, models, endpoints), print a summary and\n"
            "                each stream's pipeline; exit 0 when valid, else one line\n"
            "                'FILE:LINE: [group] key: reason' on stderr and exit 1\n"
            "  --keys        print every configuration key as Markdown tables (docs/CONFIG.md)\n"
            "  --help        this text\n"
            "  --version     the version\n"
            "\n"
            "Running the streams (camstreamd FILE) is not implemented yet: it exits with 2.\n");
}

static void summary(const csd_config *c)
{
    printf("%s: valid\n", c->path);
    printf("daemon: publish %s, control %s, log_level %s, threads %d%s\n", c->publish, c->control,
           csd_log_level_name(c->log_level), c->threads,
           c->allow_remote ? ", remote endpoints allowed" : "");
    printf("models: %d\n", c->n_models);
    for (int i = 0; i < c->n_models; i++) {
        const csd_model *m = &c->models[i];
        printf("  %s: %s (model %s%s%s)\n", m->name, m->description, m->desc->model_file,
               m->desc->explain_layer ? ", layer " : "",
               m->desc->explain_layer ? m->desc->explain_layer : "");
    }
    printf("streams: %d\n", c->n_streams);
    for (int i = 0; i < c->n_streams; i++) {
        const csd_stream *s = &c->streams[i];
        printf("  %s: %s source %s, model %s, sink %s%s%s, publish %s%s\n", s->name,
               csd_source_kind_name(s->kind), s->source, s->model ? s->model->name : "none",
               csd_sink_kind_name(s->sink), s->sink_arg ? " " : "", s->sink_arg ? s->sink_arg : "",
               s->publish, s->enabled ? "" : " (disabled)");
        char *launch = csd_stream_launch(c, s);
        printf("    %s\n", launch);
        g_free(launch);
    }
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("camstreamd %s\n", CS_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--keys") == 0) {
            char *md = csd_config_keys_markdown();
            fputs(md, stdout);
            g_free(md);
            return EXIT_OK;
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "camstreamd: unknown option '%s' (try --help)\n", a);
            return EXIT_USAGE;
        } else if (file) {
            fprintf(stderr, "camstreamd: one configuration file only ('%s' and '%s')\n", file, a);
            return EXIT_USAGE;
        } else {
            file = a;
        }
    }
    if (!file) {
        usage(stderr);
        return EXIT_USAGE;
    }
    csd_error err;
    csd_config *c = csd_config_load(file, CSD_LOAD_MODELS, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_INVALID;
    }
    int rc = EXIT_OK;
    if (check) {
        summary(c);
    } else {
        fprintf(stderr,
                "camstreamd: %s is valid, but running streams is not implemented yet "
                "(use --check)\n",
                file);
        rc = EXIT_USAGE;
    }
    csd_config_destroy(&c);
    return rc;
}
