/* protobuf-c message → JSON through descriptors (pb_json.h). */
#include "pb_json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void pb_json_string(GString *out, const char *s, gssize len)
{
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    const char *end = s + n;
    g_string_append_c(out, '"');
    while (s < end) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            /* Copy a whole valid UTF-8 sequence; an invalid byte becomes U+FFFD. */
            const gchar *next = NULL;
            gunichar u = g_utf8_get_char_validated(s, end - s);
            if (u == (gunichar)-1 || u == (gunichar)-2) {
                g_string_append(out, "\\ufffd");
                s++;
                continue;
            }
            next = g_utf8_next_char(s);
            g_string_append_len(out, s, next - s);
            s = next;
            continue;
        }
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        default:
            if (c < 0x20)
                g_string_append_printf(out, "\\u%04x", c);
            else
                g_string_append_c(out, (char)c);
        }
        s++;
    }
    g_string_append_c(out, '"');
}

static void put_double(GString *out, double v, int digits)
{
    if (isnan(v))
        g_string_append(out, "\"NaN\"");
    else if (isinf(v))
        g_string_append(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        g_string_append_printf(out, "%.*g", digits, v);
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4; /* int32, sint32, sfixed32, uint32, fixed32, float */
    }
}

static void put_value(GString *out, const ProtobufCFieldDescriptor *f, const void *p,
                      const pb_json_options *o)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        g_string_append_printf(out, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        g_string_append_printf(out, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        g_string_append_printf(out, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        g_string_append_printf(out, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        put_double(out, *(const float *)p, 9);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_double(out, *(const double *)p, 17);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        g_string_append(out, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev)
            pb_json_string(out, ev->name, -1);
        else
            g_string_append_printf(out, "%d", v); /* a value added after this schema */
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        pb_json_string(out, s ? s : "", -1);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (o->bytes == PB_JSON_BYTES_SIZE) {
            g_string_append_printf(out, "%zu", b->len);
        } else {
            char *enc = g_base64_encode(b->data, b->len);
            g_string_append_c(out, '"');
            g_string_append(out, enc);
            g_string_append_c(out, '"');
            g_free(enc);
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        pb_json_message(out, *(ProtobufCMessage *const *)p, o);
        break;
    }
}

void pb_json_message(GString *out, const ProtobufCMessage *m, const pb_json_options *opts)
{
    static const pb_json_options defaults = {PB_JSON_BYTES_BASE64, NULL};
    const pb_json_options *o = opts ? opts : &defaults;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    int first = 1;
    g_string_append_c(out, '{');
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && o->omit_type &&
            strcmp(((const ProtobufCMessageDescriptor *)f->descriptor)->name, o->omit_type) == 0)
            continue;
        size_t n = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) continue;
        }
        if (f->label != PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
            !*(void *const *)p)
            continue; /* an unset sub-message */
        if (!first) g_string_append_c(out, ',');
        first = 0;
        if (f->type == PROTOBUF_C_TYPE_BYTES && o->bytes == PB_JSON_BYTES_SIZE) {
            char *key = g_strconcat(f->name, "_size", NULL);
            pb_json_string(out, key, -1);
            g_free(key);
        } else {
            pb_json_string(out, f->name, -1);
        }
        g_string_append_c(out, ':');
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            const char *arr = *(const char *const *)p;
            size_t sz = elem_size(f->type);
            g_string_append_c(out, '[');
            for (size_t k = 0; k < n; k++) {
                if (k) g_string_append_c(out, ',');
                put_value(out, f, arr + k * sz, o);
            }
            g_string_append_c(out, ']');
        } else {
            put_value(out, f, p, o);
        }
    }
    g_string_append_c(out, '}');
}
