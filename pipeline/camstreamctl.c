/* camstreamctl: talks to a running camstreamd over its control endpoint (proto/control.proto,
 * docs/PROTOCOL.md "Control"): list, status, add, remove, reload. */
#include "camstream.pb-c.h"
#include "control.pb-c.h"
#include "cs_config.h"
#include "curve_keys.h"
#include "pb_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: camstreamctl [-e ENDPOINT] [-t SECONDS] [--json]\n"
            "                    [--server-key FILE [--client-key FILE]] COMMAND\n\n"
            "commands:\n"
            "  list             the streams: state, origin (file or control), model, source\n"
            "  status [STREAM]  status of one stream or of every stream (fps, latency, counters)\n"
            "  add FILE|-       add and start the [stream NAME] groups of FILE (or stdin), in\n"
            "                   docs/CONFIG.md syntax, using the daemon's models\n"
            "  remove STREAM    stop and forget a stream\n"
            "  reload           re-read the daemon's configuration file, apply the changes\n\n"
            "options:\n"
            "  -e, --endpoint ENDPOINT  the daemon's [daemon] control (default "
            "tcp://127.0.0.1:5556)\n"
            "  -t, --timeout SECONDS    wait at most this long for the reply (default 5)\n"
            "  --json                   print the reply as one JSON object (proto field names)\n"
            "  --server-key FILE        CURVE: the daemon's public key (.pub or .key file)\n"
            "  --client-key FILE        CURVE: this client's key pair (.key; default: a fresh "
            "pair)\n\n"
            "Exit status: 0 done, 1 the daemon refused the request or did not answer, 2 usage.\n");
}

/* The whole of path ("-": stdin) as a NUL-terminated string, or NULL with a message. */
static char *read_text(const char *path)
{
    if (strcmp(path, "-") != 0) {
        char *text = NULL;
        GError *ge = NULL;
        if (!g_file_get_contents(path, &text, NULL, &ge)) {
            fprintf(stderr, "camstreamctl: %s\n", ge->message);
            g_error_free(ge);
            return NULL;
        }
        return text;
    }
    GString *s = g_string_new(NULL);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) g_string_append_len(s, buf, (gssize)n);
    return g_string_free(s, FALSE);
}

static const char *state_name(int state)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&camstream__v1__stream_state__descriptor, state);
    if (!v) return "?";
    return v->name + strlen("STREAM_STATE_");
}

static void print_streams(const Camstream__V1__ControlReply *r)
{
    if (r->n_streams == 0) {
        printf("no streams\n");
        return;
    }
    printf("%-16s %-12s %-8s %-12s %s\n", "STREAM", "STATE", "ORIGIN", "MODEL", "SOURCE");
    for (size_t i = 0; i < r->n_streams; i++) {
        const Camstream__V1__StreamInfo *s = r->streams[i];
        printf("%-16s %-12s %-8s %-12s %s\n", s->stream_id, state_name(s->state), s->origin,
               s->model[0] ? s->model : "-", s->source);
    }
}

static void print_statuses(const Camstream__V1__ControlReply *r)
{
    if (r->n_statuses == 0) {
        printf("no streams\n");
        return;
    }
    printf("%-16s %-12s %7s %9s %9s %9s %9s %8s %8s %8s %9s  %s\n", "STREAM", "STATE", "FPS",
           "P50_MS", "P99_MS", "IN", "OUT", "DROPPED", "MSGDROP", "RESTARTS", "UPTIME_S",
           "LAST_ERROR");
    for (size_t i = 0; i < r->n_statuses; i++) {
        const Camstream__V1__StreamStatus *s = r->statuses[i];
        printf("%-16s %-12s %7.1f %9.1f %9.1f %9llu %9llu %8llu %8llu %8u %9.0f  %s\n",
               s->stream_id, state_name(s->state), s->fps, s->latency_p50_ns / 1e6,
               s->latency_p99_ns / 1e6, (unsigned long long)s->frames_in,
               (unsigned long long)s->frames_out, (unsigned long long)s->frames_dropped,
               (unsigned long long)s->messages_dropped, s->restarts, s->uptime_ns / 1e9,
               s->last_error[0] ? s->last_error : "-");
    }
}

typedef struct ctl_opts {
    const char *endpoint, *server_key, *client_key;
    int timeout_s, json;
} ctl_opts;

/* Sends req, waits for the reply. NULL (message printed) when none came. */
static Camstream__V1__ControlReply *exchange(const ctl_opts *o,
                                             const Camstream__V1__ControlRequest *req)
{
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0, ms = o->timeout_s * 1000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &ms, sizeof ms);
    Camstream__V1__ControlReply *reply = NULL;
    csd_error err;
    if (o->server_key) {
        csd_curve_keys server, client;
        if (csd_curve_keys_load(o->server_key, 0, &server, &err) ||
            (o->client_key && csd_curve_keys_load(o->client_key, 1, &client, &err)) ||
            csd_curve_client_apply(sock, server.public_key, o->client_key ? &client : NULL, &err)) {
            fprintf(stderr, "camstreamctl: %s\n", err.msg);
            goto out;
        }
    }
    if (zmq_connect(sock, o->endpoint)) {
        fprintf(stderr, "camstreamctl: cannot connect to '%s': %s\n", o->endpoint,
                zmq_strerror(errno));
        goto out;
    }
    size_t n = camstream__v1__control_request__get_packed_size(req);
    uint8_t *buf = g_malloc(n ? n : 1);
    camstream__v1__control_request__pack(req, buf);
    int sent = zmq_send(sock, buf, n, 0);
    g_free(buf);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (sent < 0 || zmq_msg_recv(&m, sock, 0) < 0) {
        if (errno == EAGAIN)
            fprintf(stderr,
                    "camstreamctl: no reply from %s within %d s: is camstreamd running?%s\n",
                    o->endpoint, o->timeout_s,
                    o->server_key ? " (or the CURVE keys do not match)" : "");
        else
            fprintf(stderr, "camstreamctl: %s: %s\n", o->endpoint, zmq_strerror(errno));
    } else {
        reply = camstream__v1__control_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        if (!reply)
            fprintf(stderr, "camstreamctl: %s answered %zu bytes that are not a ControlReply\n",
                    o->endpoint, zmq_msg_size(&m));
    }
    zmq_msg_close(&m);
out:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return reply;
}

static int parse_timeout(const char *v, int *out)
{
    char *end = NULL;
    errno = 0;
    long t = strtol(v, &end, 10);
    if (errno || !*v || *end || t < 1 || t > 3600) {
        fprintf(stderr, "camstreamctl: --timeout expects whole seconds in [1, 3600], got '%s'\n",
                v);
        return -1;
    }
    *out = (int)t;
    return 0;
}

int main(int argc, char **argv)
{
    ctl_opts o = {"tcp://127.0.0.1:5556", NULL, NULL, 5, 0};
    const char *args[3];
    int n_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = strcmp(a, "-e") == 0 || strcmp(a, "--endpoint") == 0 || strcmp(a, "-t") == 0 ||
                    strcmp(a, "--timeout") == 0 || strcmp(a, "--server-key") == 0 ||
                    strcmp(a, "--client-key") == 0;
        if (takes && i + 1 >= argc) {
            fprintf(stderr, "camstreamctl: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        const char *v = takes ? argv[++i] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("camstreamctl %s\n", CS_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "--endpoint") == 0) {
            o.endpoint = v;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) {
            if (parse_timeout(v, &o.timeout_s)) return EXIT_USAGE;
        } else if (strcmp(a, "--server-key") == 0) {
            o.server_key = v;
        } else if (strcmp(a, "--client-key") == 0) {
            o.client_key = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "camstreamctl: unknown option '%s' (try --help)\n", a);
            return EXIT_USAGE;
        } else if (n_args == 3) {
            fprintf(stderr, "camstreamctl: too many arguments ('%s')\n", a);
            return EXIT_USAGE;
        } else {
            args[n_args++] = a;
        }
    }
    if (o.client_key && !o.server_key) {
        fprintf(stderr, "camstreamctl: --client-key needs --server-key (the daemon's key)\n");
        return EXIT_USAGE;
    }
    if (n_args == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = args[0];
    Camstream__V1__ControlRequest req = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__ListRequest list = CAMSTREAM__V1__LIST_REQUEST__INIT;
    Camstream__V1__StatusRequest status = CAMSTREAM__V1__STATUS_REQUEST__INIT;
    Camstream__V1__AddRequest add = CAMSTREAM__V1__ADD_REQUEST__INIT;
    Camstream__V1__RemoveRequest remove_ = CAMSTREAM__V1__REMOVE_REQUEST__INIT;
    Camstream__V1__ReloadRequest reload = CAMSTREAM__V1__RELOAD_REQUEST__INIT;
    char *text = NULL;
    int want = 1; /* arguments after the command */
    if (strcmp(cmd, "list") == 0) {
        req.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST;
        req.list = &list;
    } else if (strcmp(cmd, "status") == 0) {
        req.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_STATUS;
        req.status = &status;
        if (n_args == 2) status.stream_id = (char *)args[1];
        want = n_args == 2 ? 2 : 1;
    } else if (strcmp(cmd, "add") == 0) {
        want = 2;
        if (n_args != 2) {
            fprintf(stderr, "camstreamctl: add expects a FILE (or - for stdin)\n");
            return EXIT_USAGE;
        }
        if (!(text = read_text(args[1]))) return EXIT_FAIL;
        req.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_ADD;
        add.config = text;
        req.add = &add;
    } else if (strcmp(cmd, "remove") == 0) {
        want = 2;
        if (n_args != 2) {
            fprintf(stderr, "camstreamctl: remove expects a STREAM\n");
            return EXIT_USAGE;
        }
        req.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_REMOVE;
        remove_.stream_id = (char *)args[1];
        req.remove = &remove_;
    } else if (strcmp(cmd, "reload") == 0) {
        req.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_RELOAD;
        req.reload = &reload;
    } else {
        fprintf(stderr, "camstreamctl: unknown command '%s' (list, status, add, remove, reload)\n",
                cmd);
        return EXIT_USAGE;
    }
    if (n_args != want) {
        fprintf(stderr, "camstreamctl: too many arguments for %s ('%s')\n", cmd, args[want]);
        g_free(text);
        return EXIT_USAGE;
    }
    Camstream__V1__ControlReply *r = exchange(&o, &req);
    g_free(text);
    if (!r) return EXIT_FAIL;
    int rc = r->ok ? EXIT_OK : EXIT_FAIL;
    if (o.json) {
        GString *s = g_string_new(NULL);
        pb_json_message(s, &r->base, NULL);
        printf("%s\n", s->str);
        g_string_free(s, TRUE);
    } else if (r->ok) {
        if (req.request_case == CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST)
            print_streams(r);
        else if (req.request_case == CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_STATUS)
            print_statuses(r);
        else if (req.request_case == CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_ADD) {
            printf("%s\n", r->message);
            print_streams(r);
        } else
            printf("%s\n", r->message);
    }
    if (!r->ok) fprintf(stderr, "camstreamctl: %s\n", r->error[0] ? r->error : "request refused");
    camstream__v1__control_reply__free_unpacked(r, NULL);
    return rc;
}
