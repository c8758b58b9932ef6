/* camstreamd: runs the streams of a configuration file (docs/CONFIG.md): one GStreamer pipeline
 * per stream, supervised (supervisor.h), publishing through the daemon's sockets (publisher.h);
 * SIGHUP reloads the file, SIGTERM/SIGINT stop gracefully. --check validates a file. */
#include "config.h"
#include "curve_keys.h"
#include "log.h"
#include "supervisor.h"
#ifdef CSD_HAVE_CONTROL
#include "control.h"
#endif

#include "cs_config.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

enum { EXIT_OK = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: camstreamd [--log-level LEVEL] [--pidfile FILE] FILE\n"
            "       camstreamd --check FILE\n"
            "       camstreamd --keys | --help | --version\n"
            "\n"
            "Builds one GStreamer pipeline per [stream NAME] of FILE, supervises them and\n"
            "publishes protobuf messages over ZeroMQ (docs/CONFIG.md, docs/PROTOCOL.md).\n"
            "Runs in the foreground, logging on stderr. SIGHUP re-reads FILE and applies the\n"
            "difference; SIGTERM or SIGINT end every stream (recordings are finalized) and\n"
            "exit 0; a second one exits at once with 1.\n"
            "\n"
            "  --check FILE       validate FILE (keys, files, models, endpoints), print a summary\n"
            "                     and each stream's pipeline; exit 0 when valid, else one line\n"
            "                     'FILE:LINE: [group] key: reason' on stderr and exit 1\n"
            "  --log-level LEVEL  error, warning, info or debug, over [daemon] log_level\n"
            "  --pidfile FILE     write the process id to FILE (removed at exit)\n"
            "  --keys             print every configuration key as Markdown tables\n"
            "  --help             this text\n"
            "  --version          the version\n"
            "\n"
            "Exit status: 0 after a clean stop, 1 when FILE is invalid or no stream can run,\n"
            "2 for usage errors.\n");
}

static void summary(const csd_config *c)
{
    printf("%s: valid\n", c->path);
    printf("daemon: publish %s, control %s, log_level %s, threads %d%s\n", c->publish, c->control,
           csd_log_level_name(c->log_level), c->threads,
           c->allow_remote ? ", remote endpoints allowed" : "");
    if (c->curve)
        printf("curve: server key %s (public %s), clients: %s%s\n", c->curve_key,
               c->curve->public_key, c->authorized ? "those of " : "any key",
               c->authorized ? c->curve_authorized : "");
    else
        printf("curve: off (plain TCP)\n");
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

/* ---- running ---------------------------------------------------------------------------- */

typedef struct daemon_state {
    GMainLoop *loop;
    csd_supervisor *sup;
    int signals;
} daemon_state;

static void stopped(void *data)
{
    daemon_state *d = data;
    g_main_loop_quit(d->loop);
}

static gboolean on_stop_signal(gpointer data)
{
    daemon_state *d = data;
    if (d->signals++ > 0) {
        csd_warn("second signal: exiting now (recordings may be unfinished)");
        fflush(stderr);
        _exit(EXIT_INVALID);
    }
    csd_info("stopping: end of stream to every pipeline (up to %d ms)",
             csd_supervisor_config(d->sup)->shutdown_timeout_ms);
    csd_supervisor_stop(d->sup, stopped, d);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer data)
{
    daemon_state *d = data;
    if (d->signals) return G_SOURCE_CONTINUE;
    char summary[4096];
    csd_error err;
    csd_info("reloading %s", csd_supervisor_config(d->sup)->path);
    if (csd_supervisor_reload(d->sup, summary, sizeof summary, &err) == 0)
        csd_info("reload: %s", summary);
    else
        csd_error_log("reload failed, keeping the running configuration: %s", err.msg);
    return G_SOURCE_CONTINUE;
}

/* The camstream plugin: GST_PLUGIN_PATH when set, else the build tree's when camstreamd runs
 * from it, else the installed one. */
static void find_plugin(void)
{
    if (g_getenv("GST_PLUGIN_PATH")) return;
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    char *dir = exe ? g_path_get_dirname(exe) : NULL;
    const char *plugins =
        dir && strcmp(dir, CSD_BUILD_DIR) == 0 ? CSD_BUILD_PLUGIN_DIR : CSD_INSTALL_PLUGIN_DIR;
    if (g_file_test(plugins, G_FILE_TEST_IS_DIR))
        gst_registry_scan_path(gst_registry_get(), plugins);
    g_free(dir);
    g_free(exe);
}

static char *endpoints(const csd_config *c)
{
    GString *g = g_string_new(c->publish);
    for (int i = 0; i < c->n_streams; i++)
        if (!strstr(g->str, c->streams[i].publish))
            g_string_append_printf(g, ", %s", c->streams[i].publish);
    return g_string_free(g, FALSE);
}

static int run(const char *file, int log_override, csd_log_level level, const char *pidfile)
{
    csd_error err;
    csd_config *c = csd_config_load(file, CSD_LOAD_MODELS, &err);
    if (log_override) csd_log_override(level);
    if (!c) {
        csd_error_log("%s", err.msg);
        return EXIT_INVALID;
    }
    csd_log_set_config_level(c->log_level);
#ifdef __SANITIZE_ADDRESS__
    /* the plugin scanner helper is not instrumented and cannot load an ASan-built plugin */
    gst_registry_fork_set_enabled(FALSE);
#endif
    gst_init(NULL, NULL);
    find_plugin();
    GstElementFactory *f = gst_element_factory_find("cspublish");
    if (!f) {
        csd_error_log("the camstream GStreamer plugin (cspublish) was not found: looked in %s; "
                      "set GST_PLUGIN_PATH to the directory of libgstcamstream.so",
                      g_getenv("GST_PLUGIN_PATH") ? g_getenv("GST_PLUGIN_PATH")
                                                  : CSD_INSTALL_PLUGIN_DIR " or the build tree");
        csd_config_destroy(&c);
        return EXIT_INVALID;
    }
    gst_object_unref(f);
    if (pidfile) {
        char pid[32];
        snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        GError *e = NULL;
        if (!g_file_set_contents(pidfile, pid, -1, &e)) {
            csd_error_log("--pidfile: %s", e->message);
            g_error_free(e);
            csd_config_destroy(&c);
            return EXIT_INVALID;
        }
    }
    char *eps = endpoints(c);
    csd_info("camstreamd %s starting: config %s, %d stream%s, publish %s, control %s, log_level %s",
             CS_VERSION, file, c->n_streams, c->n_streams == 1 ? "" : "s", eps, c->control,
             csd_log_level_name(csd_log_get_level()));
    g_free(eps);

    void *zctx = zmq_ctx_new();
    daemon_state d = {g_main_loop_new(NULL, FALSE), NULL, 0};
    int rc = EXIT_OK;
    /* CURVE: the ZAP handler runs before any server socket binds; the publisher and the control
     * server take the keys loaded with the configuration (a copy: the supervisor owns c) */
    csd_zap *zap = NULL;
    csd_curve_keys server = {{0}, {0}};
    int curve = c->curve != NULL;
    if (curve) {
        server = *c->curve;
        csd_curve_authorized *auth = csd_config_curve_authorized_copy(c);
        int listed = auth != NULL;
        if (!(zap = csd_zap_start(zctx, auth, &err))) /* takes auth */
            csd_error_log("CURVE authentication (ZAP): %s", err.msg);
        else
            csd_info("CURVE on: server public key %s, %s%s", server.public_key,
                     listed ? "clients of " : "any client key", listed ? c->curve_authorized : "");
        if (!zap) {
            csd_config_destroy(&c);
            rc = EXIT_INVALID;
        }
    }
    if (rc == EXIT_OK) d.sup = csd_supervisor_new(c, zctx, &err);
    if (rc == EXIT_OK && !d.sup) {
        csd_error_log("%s", err.msg);
        rc = EXIT_INVALID;
    }
#ifdef CSD_HAVE_CONTROL
    csd_control *ctl = NULL;
    if (d.sup) {
        const csd_config *cc = csd_supervisor_config(d.sup);
        ctl = csd_control_new(zctx, cc->control, curve ? &server : NULL,
                              csd_control_supervisor_ops(), d.sup, &err);
        if (!ctl) {
            csd_error_log("%s", err.msg);
            rc = EXIT_INVALID;
        } else {
            csd_info("control on %s", csd_control_endpoint(ctl));
        }
    }
#endif
    if (rc == EXIT_OK) {
        guint sigs[3] = {g_unix_signal_add(SIGTERM, on_stop_signal, &d),
                         g_unix_signal_add(SIGINT, on_stop_signal, &d),
                         g_unix_signal_add(SIGHUP, on_hup, &d)};
        csd_info("ready: %d stream%s", csd_supervisor_n_streams(d.sup),
                 csd_supervisor_n_streams(d.sup) == 1 ? "" : "s");
        g_main_loop_run(d.loop);
        for (int i = 0; i < 3; i++) g_source_remove(sigs[i]);
    }
#ifdef CSD_HAVE_CONTROL
    csd_control_free(&ctl);
#endif
    csd_supervisor_free(&d.sup);
    if (zap)
        csd_info("CURVE: %u client%s refused", csd_zap_refused(zap),
                 csd_zap_refused(zap) == 1 ? "" : "s");
    csd_zap_stop(&zap); /* before zmq_ctx_term, which waits for every socket */
    memset(&server, 0, sizeof server);
    zmq_ctx_term(zctx);
    g_main_loop_unref(d.loop);
    if (pidfile) g_unlink(pidfile);
    csd_info("exiting (%d)", rc);
    gst_deinit();
    return rc;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *pidfile = NULL;
    int check = 0, log_override = 0;
    csd_log_level level = CSD_LOG_INFO;
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
        } else if (strcmp(a, "--log-level") == 0 || strcmp(a, "--pidfile") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "camstreamd: %s needs a value (try --help)\n", a);
                return EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (a[2] == 'p') {
                pidfile = v;
                continue;
            }
            int found = 0;
            for (int l = CSD_LOG_ERROR; l <= CSD_LOG_DEBUG; l++)
                if (strcmp(v, csd_log_level_name((csd_log_level)l)) == 0) {
                    level = (csd_log_level)l;
                    found = 1;
                }
            if (!found) {
                fprintf(stderr,
                        "camstreamd: --log-level: '%s' is not a level (allowed: error, warning, "
                        "info, debug)\n",
                        v);
                return EXIT_USAGE;
            }
            log_override = 1;
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
    if (!check) return run(file, log_override, level, pidfile);
    csd_error err;
    csd_config *c = csd_config_load(file, CSD_LOAD_MODELS, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_INVALID;
    }
    summary(c);
    csd_config_destroy(&c);
    return EXIT_OK;
}
