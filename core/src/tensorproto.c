/* ONNX TensorProto <-> cs_tensor: initializers, attribute tensors and .pb test files. */
#include "onnx_tensor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Refuse absurd sizes before allocating: 2^31 elements (8 GiB of float) is far past any CNN. */
#define CS_MAX_NUMEL (INT64_C(1) << 31)

const char *cs_onnx_type_name(int32_t t)
{
    static const char *names[] = {"UNDEFINED",  "FLOAT",   "UINT8",  "INT8",   "UINT16",
                                  "INT16",      "INT32",   "INT64",  "STRING", "BOOL",
                                  "FLOAT16",    "DOUBLE",  "UINT32", "UINT64", "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16"};
    if (t >= 0 && t < (int32_t)(sizeof names / sizeof names[0])) return names[t];
    return "UNKNOWN";
}

cs_tensor *cs_tensor_from_proto(const Onnx__TensorProto *tp, const char *what, cs_error *err)
{
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        cs_fail(err, CS_ERR_UNSUPPORTED,
                "%s: weights stored as external data are not supported; save the model with "
                "its weights inside the .onnx file",
                what);
        return NULL;
    }
    if (tp->segment) {
        cs_fail(err, CS_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
        return NULL;
    }
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    if (dt != CS_F32 && dt != CS_I64) {
        cs_fail(err, CS_ERR_UNSUPPORTED,
                "%s: data type %s is not supported (float32 and int64 only)", what,
                cs_onnx_type_name(dt));
        return NULL;
    }
    if (tp->n_dims > CS_MAX_DIMS) {
        cs_fail(err, CS_ERR_UNSUPPORTED, "%s: %zu dimensions, at most %d are supported", what,
                tp->n_dims, CS_MAX_DIMS);
        return NULL;
    }
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0) {
            cs_fail(err, CS_ERR_PARSE, "%s: negative dimension %lld", what, (long long)tp->dims[i]);
            return NULL;
        }
        if (tp->dims[i] > 0 && numel > CS_MAX_NUMEL / tp->dims[i]) {
            cs_fail(err, CS_ERR_PARSE, "%s: more than 2^31 elements", what);
            return NULL;
        }
        numel *= tp->dims[i];
    }
    size_t esize = dt == CS_F32 ? 4 : 8;
    const void *src = NULL;
    size_t have = 0;
    if (tp->has_raw_data) {
        src = tp->raw_data.data;
        have = tp->raw_data.len / esize;
        if (tp->raw_data.len % esize) have = (size_t)-1;
    } else if (dt == CS_F32) {
        src = tp->float_data;
        have = tp->n_float_data;
    } else {
        src = tp->int64_data;
        have = tp->n_int64_data;
    }
    if (have != (size_t)numel) {
        cs_fail(err, CS_ERR_PARSE, "%s: holds %s data for %lld elements, its shape needs %lld",
                what, tp->has_raw_data ? "raw" : "typed",
                have == (size_t)-1 ? -1LL : (long long)have, (long long)numel);
        return NULL;
    }
    cs_tensor *t = cs_tensor_new((cs_dtype)dt, (int)tp->n_dims, tp->dims, tp->name);
    if (!t) {
        cs_fail(err, CS_ERR_NOMEM, "%s: out of memory for %lld elements", what, (long long)numel);
        return NULL;
    }
    /* raw_data is little-endian, as is every machine camstream runs on. */
    if (numel) memcpy(t->data, src, (size_t)numel * esize);
    return t;
}

static void *read_all(const char *path, size_t *len, cs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cs_fail(err, CS_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        cs_fail(err, CS_ERR_IO, "%s: read error", path);
        return NULL;
    }
    *len = n;
    return buf;
}

void *cs_read_file(const char *path, size_t *len, cs_error *err)
{
    return read_all(path, len, err);
}

cs_tensor *cs_tensorproto_read_memory(const void *buf, size_t len, const char *what, cs_error *err)
{
    if (len == 0) {
        cs_fail(err, CS_ERR_PARSE, "%s: empty file, not a TensorProto", what);
        return NULL;
    }
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp) {
        cs_fail(err, CS_ERR_PARSE, "%s: not a valid ONNX TensorProto", what);
        return NULL;
    }
    cs_tensor *t = cs_tensor_from_proto(tp, what, err);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return t;
}

cs_tensor *cs_tensorproto_read_file(const char *path, cs_error *err)
{
    size_t len = 0;
    void *buf = read_all(path, &len, err);
    if (!buf) return NULL;
    cs_tensor *t = cs_tensorproto_read_memory(buf, len, path, err);
    free(buf);
    return t;
}

cs_status cs_tensorproto_write_file(const char *path, const cs_tensor *t, cs_error *err)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = (size_t)t->ndim;
    tp.dims = (int64_t *)t->dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)t->type;
    tp.name = (char *)(t->name ? t->name : "");
    tp.has_raw_data = 1;
    tp.raw_data.len = cs_tensor_bytes(t);
    tp.raw_data.data = t->data;
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", path);
    size_t packed = onnx__tensor_proto__pack(&tp, buf);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return cs_fail(err, CS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t w = fwrite(buf, 1, packed, f);
    int bad = fclose(f) != 0 || w != packed || packed != n;
    free(buf);
    if (bad) return cs_fail(err, CS_ERR_IO, "%s: write error", path);
    return CS_OK;
}
