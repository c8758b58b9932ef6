/* Any protobuf-c message as one line of JSON, written from its descriptors (no per-message
 * code): used by `camstream sub` and `camstreamctl --json` (docs/PROTOCOL.md).
 *
 * The mapping is proto3's canonical JSON mapping with the .proto field names: every field is
 * written, defaults included (except unset sub-messages and the unset members of a oneof);
 * 64-bit integers as JSON strings (they do not fit a double), other integers and floats as
 * numbers (NaN and infinities as "NaN", "Infinity", "-Infinity"), bools as true/false, enums by
 * value name (a number when the value is unknown to this schema), bytes as base64, repeated
 * fields as arrays. Python's json_format.MessageToDict(m, preserving_proto_field_name=True,
 * including_default_value_fields=True) gives the same object.
 *
 * Strings are escaped for JSON (quote, backslash, control characters); UTF-8 is kept and an
 * invalid byte becomes U+FFFD.
 */
#ifndef CAMSTREAM_PROTO_PB_JSON_H
#define CAMSTREAM_PROTO_PB_JSON_H

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

typedef enum {
    PB_JSON_BYTES_BASE64, /* "data": "AAEC..." */
    PB_JSON_BYTES_SIZE,   /* "data_size": 1234 instead of the bytes */
} pb_json_bytes;

typedef struct pb_json_options {
    pb_json_bytes bytes;
    /* Fields whose message type has this full name ("camstream.v1.Heatmap") are left out;
     * NULL: none. */
    const char *omit_type;
} pb_json_options;

/* Appends m as a JSON object ("{...}", no newline) to out. opts NULL: defaults. */
void pb_json_message(GString *out, const ProtobufCMessage *m, const pb_json_options *opts);
/* Appends s as a JSON string literal (len bytes; -1: NUL-terminated). */
void pb_json_string(GString *out, const char *s, gssize len);

#endif
