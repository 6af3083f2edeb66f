#include "pb_nesting.h"

#include "ringd_assert.h"
#include "ringd_limits.h"

enum {
    PB_WIRE_VARINT = 0,
    PB_WIRE_FIXED64 = 1,
    PB_WIRE_BYTES = 2,
    PB_WIRE_FIXED32 = 5,
};

/* Reads a varint at *pos (before end); false when it is cut or longer than 10 bytes. */
static bool pb_varint(const uint8_t *data, size_t end, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *pos < end; shift += 7) {
        uint8_t b = data[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

struct pb_frame {
    const ProtobufCMessageDescriptor *d;
    size_t end;
};

/* Skips one field's value; false for bytes that are not protobuf. For a sub-message, *child
 * gets its descriptor and *child_end its end, and the position stays at its first byte. */
static bool pb_skip(const struct pb_frame *f, uint64_t key, const uint8_t *data, size_t *pos,
                    const ProtobufCMessageDescriptor **child, size_t *child_end)
{
    uint64_t n;
    *child = NULL;
    switch (key & 7) {
    case PB_WIRE_VARINT:
        return pb_varint(data, f->end, pos, &n);
    case PB_WIRE_FIXED64:
        *pos += 8;
        return *pos <= f->end;
    case PB_WIRE_FIXED32:
        *pos += 4;
        return *pos <= f->end;
    case PB_WIRE_BYTES:
        if (!pb_varint(data, f->end, pos, &n) || n > f->end - *pos)
            return false;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(f->d, (unsigned)(key >> 3));
        if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            *child = fd->descriptor;
            *child_end = *pos + n;
        } else {
            *pos += n;
        }
        return true;
    default:
        return false; /* groups and reserved wire types: not in our protos */
    }
}

bool pb_nesting_within(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                       unsigned max_depth)
{
    ASSERT(d != NULL && max_depth <= GRPC_DECODE_DEPTH_MAX);
    struct pb_frame stack[GRPC_DECODE_DEPTH_MAX + 1];
    unsigned depth = 0;
    stack[depth++] = (struct pb_frame){.d = d, .end = len};
    size_t pos = 0;
    while (depth > 0) { /* every pass consumes bytes or closes a frame */
        struct pb_frame *f = &stack[depth - 1];
        if (pos >= f->end) {
            depth--;
            continue;
        }
        uint64_t key;
        const ProtobufCMessageDescriptor *child;
        size_t child_end = 0;
        if (!pb_varint(data, f->end, &pos, &key) ||
            !pb_skip(f, key, data, &pos, &child, &child_end))
            return true; /* not protobuf: decoding says so */
        if (child == NULL)
            continue;
        if (depth > max_depth)
            return false;
        stack[depth++] = (struct pb_frame){.d = child, .end = child_end};
    }
    return true;
}
