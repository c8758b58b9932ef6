/* camstream sub: subscribes to a camstream publisher (cspublish or camstreamd) and prints every
 * message as one line of JSON (docs/PROTOCOL.md "camstream sub"). The JSON comes from the
 * protobuf-c descriptors (pb_json.h), so new schema fields appear without code here. */
#include "cli.h"

#include "camstream.pb-c.h"
#include "curve_keys.h"
#include "pb_json.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define MAX_STREAMS 64

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void sub_usage(FILE *f)
{
    fprintf(
        f,
        "usage: camstream sub [ENDPOINT] [--stream NAME]... [--topic frame|status]\n"
        "                     [--count N] [--timeout SECONDS] [--heatmaps none|size|data]\n"
        "                     [--server-key FILE [--client-key FILE]]\n\n"
        "Prints every message of a camstream publisher (default tcp://127.0.0.1:5555) as one\n"
        "JSON object per line: \"topic\", then the FrameResult or StreamStatus fields (proto3\n"
        "JSON mapping with the .proto field names; 64-bit integers as strings, enums by name).\n"
        "A payload that does not decode prints {\"topic\": ..., \"error\": ...} on stdout.\n\n"
        "  --stream NAME      only this stream (repeatable; exact names, default: every stream)\n"
        "  --topic KIND       only frame (FrameResult) or status (StreamStatus) messages\n"
        "  --count N          exit after N messages\n"
        "  --timeout SECONDS  exit with status 1 when no message came for that long\n"
        "  --heatmaps MODE    none: leave heatmaps out; size (default): their data as\n"
        "                     \"data_size\"; data: the bytes in base64\n"
        "  --server-key FILE  CURVE: the publisher's public key (its .pub or .key file)\n"
        "  --client-key FILE  CURVE: this client's key pair (.key; default: a fresh pair,\n"
        "                     accepted when the publisher has no authorized-keys list)\n");
}

typedef struct sub_opts {
    const char *endpoint;
    const char *streams[MAX_STREAMS];
    int n_streams;
    int frame, status;
    int count, timeout_s;
    pb_json_options json;
    const char *server_key, *client_key;
} sub_opts;

/* The topic is one we asked for, compared exactly (subscriptions match prefixes). */
static int wanted(const sub_opts *o, const char *topic, size_t len, int *is_frame)
{
    const char *stream;
    if (len > 6 && memcmp(topic, "frame.", 6) == 0 && o->frame) {
        *is_frame = 1;
        stream = topic + 6;
    } else if (len > 7 && memcmp(topic, "status.", 7) == 0 && o->status) {
        *is_frame = 0;
        stream = topic + 7;
    } else {
        return 0;
    }
    if (o->n_streams == 0) return 1;
    size_t n = len - (size_t)(stream - topic);
    for (int i = 0; i < o->n_streams; i++)
        if (strlen(o->streams[i]) == n && memcmp(o->streams[i], stream, n) == 0) return 1;
    return 0;
}

/* Prints one message (frames[0] topic, frames[1] payload) as a JSON line. */
static void print_message(const sub_opts *o, zmq_msg_t *frames, int n, int is_frame)
{
    GString *line = g_string_new("{\"topic\":");
    pb_json_string(line, zmq_msg_data(&frames[0]), (gssize)zmq_msg_size(&frames[0]));
    ProtobufCMessage *m = NULL;
    if (n != 2) {
        g_string_append_printf(line,
                               ",\"error\":\"a message has 2 frames (topic, payload), this "
                               "one has %d\"}",
                               n);
    } else {
        size_t len = zmq_msg_size(&frames[1]);
        const uint8_t *data = zmq_msg_data(&frames[1]);
        m = is_frame ? (ProtobufCMessage *)camstream__v1__frame_result__unpack(NULL, len, data)
                     : (ProtobufCMessage *)camstream__v1__stream_status__unpack(NULL, len, data);
        if (!m) {
            g_string_append_printf(line, ",\"error\":\"the %zu-byte payload is not a valid %s\"}",
                                   len, is_frame ? "FrameResult" : "StreamStatus");
        } else {
            GString *body = g_string_new(NULL);
            pb_json_message(body, m, &o->json);
            if (body->len > 2) g_string_append_c(line, ',');
            g_string_append_len(line, body->str + 1, (gssize)body->len - 1);
            g_string_free(body, TRUE);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    g_string_append_c(line, '\n');
    fwrite(line->str, 1, line->len, stdout);
    fflush(stdout);
    g_string_free(line, TRUE);
}

/* Receives every frame of one message (at most 4 kept). Returns the count, or -1. */
static int recv_message(void *s, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n && i < max; i++) zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            frames[n] = m;
        else
            zmq_msg_close(&m);
        n++;
    }
    return n;
}

static int setup_socket(void *sock, const sub_opts *o)
{
    csd_error err;
    if (o->server_key) {
        csd_curve_keys server, client;
        if (csd_curve_keys_load(o->server_key, 0, &server, &err) ||
            (o->client_key && csd_curve_keys_load(o->client_key, 1, &client, &err)) ||
            csd_curve_client_apply(sock, server.public_key, o->client_key ? &client : NULL, &err)) {
            fprintf(stderr, "camstream sub: %s\n", err.msg);
            return -1;
        }
    }
    static const char *const kinds[2] = {"frame.", "status."};
    for (int k = 0; k < 2; k++) {
        if (!(k == 0 ? o->frame : o->status)) continue;
        for (int i = 0; i < (o->n_streams ? o->n_streams : 1); i++) {
            char *t = g_strconcat(kinds[k], o->n_streams ? o->streams[i] : "", NULL);
            zmq_setsockopt(sock, ZMQ_SUBSCRIBE, t, strlen(t));
            g_free(t);
        }
    }
    if (zmq_connect(sock, o->endpoint)) {
        fprintf(stderr, "camstream sub: cannot connect to '%s': %s\n", o->endpoint,
                zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, sub_opts *o)
{
    memset(o, 0, sizeof *o);
    o->endpoint = "tcp://127.0.0.1:5555";
    o->frame = o->status = 1;
    o->json.bytes = PB_JSON_BYTES_SIZE;
    int have_endpoint = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--stream") == 0 || strcmp(a, "--topic") == 0 ||
                    strcmp(a, "--count") == 0 || strcmp(a, "--timeout") == 0 ||
                    strcmp(a, "--heatmaps") == 0 || strcmp(a, "--server-key") == 0 ||
                    strcmp(a, "--client-key") == 0;
        if (takes && !v) {
            fprintf(stderr, "camstream sub: %s needs a value\n", a);
            return CLI_USAGE;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            sub_usage(stdout);
            return -1;
        } else if (strcmp(a, "--stream") == 0) {
            if (o->n_streams == MAX_STREAMS) {
                fprintf(stderr, "camstream sub: at most %d --stream options\n", MAX_STREAMS);
                return CLI_USAGE;
            }
            if (!*v) {
                fprintf(stderr, "camstream sub: --stream expects a stream name, got ''\n");
                return CLI_USAGE;
            }
            o->streams[o->n_streams++] = v;
        } else if (strcmp(a, "--topic") == 0) {
            o->frame = strcmp(v, "frame") == 0;
            o->status = strcmp(v, "status") == 0;
            if (!o->frame && !o->status) {
                fprintf(stderr, "camstream sub: --topic expects frame or status, got '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (strcmp(a, "--count") == 0) {
            if (cli_parse_int("sub", a, v, 1, 1000000000, &o->count)) return CLI_USAGE;
        } else if (strcmp(a, "--timeout") == 0) {
            if (cli_parse_int("sub", a, v, 1, 86400, &o->timeout_s)) return CLI_USAGE;
        } else if (strcmp(a, "--heatmaps") == 0) {
            if (strcmp(v, "none") == 0) {
                o->json.omit_type = "camstream.v1.Heatmap";
            } else if (strcmp(v, "data") == 0) {
                o->json.bytes = PB_JSON_BYTES_BASE64;
            } else if (strcmp(v, "size") != 0) {
                fprintf(stderr, "camstream sub: --heatmaps expects none, size or data, got '%s'\n",
                        v);
                return CLI_USAGE;
            }
        } else if (strcmp(a, "--server-key") == 0) {
            o->server_key = v;
        } else if (strcmp(a, "--client-key") == 0) {
            o->client_key = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "camstream sub: unknown option '%s'\n", a);
            sub_usage(stderr);
            return CLI_USAGE;
        } else if (have_endpoint) {
            fprintf(stderr, "camstream sub: one ENDPOINT only ('%s' and '%s')\n", o->endpoint, a);
            return CLI_USAGE;
        } else {
            o->endpoint = a;
            have_endpoint = 1;
            continue;
        }
        if (takes) i++;
    }
    if (o->client_key && !o->server_key) {
        fprintf(stderr, "camstream sub: --client-key needs --server-key (the publisher's key)\n");
        return CLI_USAGE;
    }
    return 0;
}

int cmd_sub(int argc, char **argv)
{
    sub_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    rc = CLI_OK;
    if (setup_socket(sock, &o)) {
        rc = CLI_FAIL;
        goto out;
    }
    int received = 0;
    double last = cli_now_ms();
    while (!interrupted && (!o.count || received < o.count)) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(&item, 1, 200);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "camstream sub: %s\n", zmq_strerror(errno));
            rc = CLI_FAIL;
            break;
        }
        if (r == 0) {
            if (o.timeout_s && cli_now_ms() - last > o.timeout_s * 1e3) {
                fprintf(stderr, "camstream sub: no message from %s within %d s\n", o.endpoint,
                        o.timeout_s);
                rc = CLI_FAIL;
                break;
            }
            continue;
        }
        zmq_msg_t frames[4];
        int n = recv_message(sock, frames, 4);
        if (n < 0) continue;
        int is_frame = 0;
        size_t tlen = zmq_msg_size(&frames[0]);
        if (wanted(&o, zmq_msg_data(&frames[0]), tlen, &is_frame)) {
            print_message(&o, frames, n, is_frame);
            received++;
            last = cli_now_ms();
        }
        for (int i = 0; i < n && i < 4; i++) zmq_msg_close(&frames[i]);
    }
out:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
