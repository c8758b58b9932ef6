/* camstreamd's publish sockets. Streams share publish endpoints, so cspublish elements cannot
 * each bind them: for every distinct endpoint the daemon binds one XPUB socket there and one
 * XSUB socket on inproc://camstream-publish-N, and a thread forwards messages (XSUB → XPUB) and
 * subscriptions (XPUB → XSUB). Each stream's cspublish connects to the inproc endpoint
 * (connect=true, context=the daemon's). The XPUB does not drop silently (ZMQ_XPUB_NODROP): a
 * message a slow subscriber cannot take is counted against its stream, from its topic
 * (`frame.NAME`, `status.NAME`). Status messages go through a PUB of the daemon's own, connected
 * to the same XSUB.
 *
 * With CURVE server keys every XPUB is a CURVE server (the daemon's ZAP handler, curve_keys.h,
 * decides which clients may connect); the inproc sockets stay plain.
 *
 * Functions other than csd_publisher_dropped run on one thread (the main loop's). */
#ifndef CAMSTREAM_PIPELINE_PUBLISHER_H
#define CAMSTREAM_PIPELINE_PUBLISHER_H

#include "curve_keys.h"

#include <stddef.h>
#include <stdint.h>

typedef struct csd_publisher csd_publisher;

/* curve: the server keys for every XPUB (copied), NULL for plain TCP. */
csd_publisher *csd_publisher_new(void *zmq_ctx, const csd_curve_keys *curve);
/* Stops the forwarding threads and closes every socket (cspublish elements must be stopped
 * first). Safe twice. */
void csd_publisher_free(csd_publisher **p);

/* The inproc endpoint that cspublish connects to for publish endpoint ep, binding ep on first
 * use. NULL with a reason in why when ep cannot be bound (a later call tries again). */
const char *csd_publisher_open(csd_publisher *p, const char *ep, char *why, size_t len);

/* Sends a two-frame message (topic, payload) on ep (opened before) without blocking. 0, or -1
 * when ZeroMQ refused it. */
int csd_publisher_send(csd_publisher *p, const char *ep, const char *topic, const void *data,
                       size_t len);

/* Messages of stream name dropped at the XPUB sockets so far (any thread). */
uint64_t csd_publisher_dropped(csd_publisher *p, const char *name);

/* The endpoint ep (opened before) is bound to: ep itself, or with the port ZeroMQ chose for
 * tcp://HOST:* (ZMQ_LAST_ENDPOINT). NULL when ep is not open. */
const char *csd_publisher_bound(csd_publisher *p, const char *ep);

#endif
