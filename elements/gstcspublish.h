/* cspublish: publishes each buffer's camstream metas as protobuf messages on a ZeroMQ PUB socket.
 * See gstcspublish.c and docs/PROTOCOL.md. */
#ifndef GST_CS_PUBLISH_H
#define GST_CS_PUBLISH_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_CS_PUBLISH (gst_cs_publish_get_type())
G_DECLARE_FINAL_TYPE(GstCsPublish, gst_cs_publish, GST, CS_PUBLISH, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(cspublish);

G_END_DECLS

#endif /* GST_CS_PUBLISH_H */
