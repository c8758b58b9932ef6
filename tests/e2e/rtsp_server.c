/* rtsp_server: a tiny RTSP server for the daemon's end-to-end test (tests/e2e/daemon_e2e.py).
 *
 *     rtsp_server --port P [--path /test] [--size 160x120] [--fps 15] [--pattern ball]
 *
 * Serves a live videotestsrc as Motion JPEG over RTP (jpegenc ! rtpjpegpay: plugins-good and
 * -base only), bound to 127.0.0.1, shared between clients. Prints "ready rtsp://127.0.0.1:P/PATH"
 * on stdout once the port is listening, and exits 0 on SIGTERM or SIGINT. Exit 1 when the port
 * cannot be bound, 2 on a usage error. */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <glib-unix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean on_signal(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static GstRTSPFilterResult remove_client(GstRTSPServer *server, GstRTSPClient *client,
                                         gpointer data)
{
    return GST_RTSP_FILTER_REMOVE;
}

static int usage(const char *msg)
{
    fprintf(stderr, "rtsp_server: %s\n", msg);
    fprintf(stderr, "usage: rtsp_server --port P [--path /test] [--size WxH] [--fps N] "
                    "[--pattern NAME]\n");
    return 2;
}

/* A whole decimal number in [lo, hi], or -1. */
static long parse_long(const char *s, long lo, long hi)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) return -1;
    return v;
}

int main(int argc, char **argv)
{
    long port = -1, width = 160, height = 120, fps = 15;
    const char *path = "/test";
    const char *pattern = "ball";

    gst_init(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return usage("an option is missing its value");
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            if ((port = parse_long(v, 1, 65535)) < 0) return usage("--port: expected 1-65535");
        } else if (strcmp(a, "--path") == 0) {
            if (v[0] != '/' || strchr(v, ' '))
                return usage("--path: expected /NAME without blanks");
            path = v;
        } else if (strcmp(a, "--size") == 0) {
            char *x = strchr(v, 'x');
            if (!x) return usage("--size: expected WxH");
            *x = '\0';
            width = parse_long(v, 16, 4096);
            height = parse_long(x + 1, 16, 4096);
            if (width < 0 || height < 0) return usage("--size: expected WxH, 16-4096 each");
        } else if (strcmp(a, "--fps") == 0) {
            if ((fps = parse_long(v, 1, 120)) < 0) return usage("--fps: expected 1-120");
        } else if (strcmp(a, "--pattern") == 0) {
            pattern = v; /* videotestsrc rejects unknown names when the media is built */
        } else {
            return usage("unknown option");
        }
    }
    if (port < 0) return usage("--port is required");

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer *server = gst_rtsp_server_new();
    char service[8];
    snprintf(service, sizeof service, "%ld", port);
    gst_rtsp_server_set_address(server, "127.0.0.1");
    gst_rtsp_server_set_service(server, service);

    /* I420: rtpjpegpay accepts only 4:2:0 / 4:2:2 JPEG ("Invalid component" otherwise). */
    char *launch = g_strdup_printf("( videotestsrc is-live=true pattern=%s "
                                   "! video/x-raw,format=I420,width=%ld,height=%ld,framerate=%ld/1 "
                                   "! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )",
                                   pattern, width, height, fps);
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, launch);
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    gst_rtsp_mount_points_add_factory(mounts, path, factory); /* takes factory */
    g_object_unref(mounts);
    g_free(launch);

    /* Bind now (not lazily in attach) so a busy port is an error before "ready". */
    GError *error = NULL;
    GSource *source = gst_rtsp_server_create_source(server, NULL, &error);
    if (!source) {
        fprintf(stderr, "rtsp_server: cannot listen on 127.0.0.1:%ld: %s\n", port,
                error ? error->message : "unknown error");
        g_clear_error(&error);
        g_object_unref(server);
        g_main_loop_unref(loop);
        return 1;
    }
    g_source_attach(source, NULL);

    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_unix_signal_add(SIGINT, on_signal, loop);
    printf("ready rtsp://127.0.0.1:%ld%s\n", port, path);
    fflush(stdout);

    g_main_loop_run(loop);

    /* Close the client connections (their media stop), then leave: no gst_deinit(), which
     * would wait for the streaming threads of media still being torn down. */
    gst_rtsp_server_client_filter(server, remove_client, NULL);
    g_source_destroy(source);
    g_source_unref(source);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
