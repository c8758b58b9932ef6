/* CURVE key files and ZeroMQ CURVE security for camstream's sockets (docs/PROTOCOL.md "CURVE").
 * libzmq does all the cryptography (zmq_curve_keypair, zmq_curve_public, zmq_z85_*); this file
 * only reads, writes and applies keys. Shared by camstreamd, camstreamctl and `camstream
 * sub/keygen`; GLib + libzmq, no GStreamer.
 *
 * Key file (`camstream keygen PREFIX` writes PREFIX.key, mode 0600, and PREFIX.pub):
 *
 *     # camstream CURVE key pair (camstream keygen)
 *     [curve]
 *     public-key = <40 Z85 characters>
 *     secret-key = <40 Z85 characters>      (absent in a .pub file)
 *
 * Authorized-keys file (the server's list of client keys): one Z85 public key per line (the
 * public-key value of a client's .pub file); blank lines and lines starting with '#' are
 * ignored. Without a list, CURVE still encrypts and authenticates the server, but any client
 * key is accepted.
 *
 *     csd_curve_keys server;
 *     if (csd_curve_keys_load("server.key", 1, &server, &err)) ...   // "server.key:4: ..."
 *     csd_zap *zap = csd_zap_start(ctx, authorized, &err);          // before binding
 *     csd_curve_server_apply(pub_socket, &server, &err);            // before zmq_bind
 *     ...
 *     csd_zap_stop(&zap);                                           // before zmq_ctx_term
 */
#ifndef CAMSTREAM_PIPELINE_CURVE_KEYS_H
#define CAMSTREAM_PIPELINE_CURVE_KEYS_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#define CSD_Z85_KEY_LEN 40

typedef struct csd_curve_keys {
    char public_key[CSD_Z85_KEY_LEN + 1];
    char secret_key[CSD_Z85_KEY_LEN + 1]; /* "" when the file held only the public key */
} csd_curve_keys;

/* libzmq was built with CURVE (zmq_has("curve")): 1 or 0. */
int csd_curve_available(void);

/* A new key pair (zmq_curve_keypair). 0 or -1 + err. */
int csd_curve_keys_generate(csd_curve_keys *k, csd_error *err);

/* Reads a key file (need_secret: the secret key must be there). Errors name FILE:LINE and the
 * problem: unreadable file, unknown group or key, missing public key, a key that is not 40 Z85
 * characters, a secret key that does not belong to the public key. 0 or -1 + err. */
int csd_curve_keys_load(const char *path, int need_secret, csd_curve_keys *k, csd_error *err);
/* The same from text (path only names it in messages; NULL: "memory"). */
int csd_curve_keys_parse(const char *text, size_t len, const char *path, int need_secret,
                         csd_curve_keys *k, csd_error *err);
/* Writes a key file: with the secret key (mode 0600) when with_secret, else the public key only
 * (mode 0644). Refuses to write a secret it does not have. 0 or -1 + err. */
int csd_curve_keys_save(const char *path, const csd_curve_keys *k, int with_secret, csd_error *err);

/* Checks one Z85 public or secret key text: 40 characters of the Z85 alphabet. 0 or -1 with a
 * reason in why. */
int csd_curve_key_check(const char *z85, char *why, size_t len);

/* The authorized client keys, decoded (32 bytes each). */
typedef struct csd_curve_authorized {
    uint8_t (*keys)[32];
    int n;
} csd_curve_authorized;

/* Reads an authorized-keys file (format above): NULL + err ("FILE:LINE: ...") on a bad line or
 * an unreadable file; an empty list is an error too (nobody could connect). */
csd_curve_authorized *csd_curve_authorized_load(const char *path, csd_error *err);
csd_curve_authorized *csd_curve_authorized_parse(const char *text, size_t len, const char *path,
                                                 csd_error *err);
void csd_curve_authorized_free(csd_curve_authorized **a);
int csd_curve_authorized_contains(const csd_curve_authorized *a, const uint8_t key[32]);

/* Makes socket a CURVE server with these keys (the secret key is needed). Call before bind. */
int csd_curve_server_apply(void *socket, const csd_curve_keys *server, csd_error *err);
/* Makes socket a CURVE client of the server whose public key is server_public (Z85). client NULL:
 * a fresh key pair for this connection (fine when the server accepts any client). Call before
 * connect. */
int csd_curve_client_apply(void *socket, const char *server_public, const csd_curve_keys *client,
                           csd_error *err);

/* A ZAP handler (RFC 27) for every CURVE server socket of ctx: a thread answering on
 * inproc://zeromq.zap.01. It accepts CURVE clients whose key is in authorized (NULL: any key);
 * sockets of other mechanisms are not its business (accepted). Takes ownership of authorized
 * (also on failure). Start it before the server sockets bind; only one per context. */
typedef struct csd_zap csd_zap;
csd_zap *csd_zap_start(void *ctx, csd_curve_authorized *authorized, csd_error *err);
/* Clients refused so far (for logs and tests). */
unsigned csd_zap_refused(const csd_zap *z);
/* Stops and joins the thread; safe twice and on NULL. */
void csd_zap_stop(csd_zap **z);

#endif
