/* gRPC's framing on top of HTTP/2, as pure functions the server session and the client share:
 * the 5-byte message prefix, grpc-timeout values, and the percent-encoding of grpc-message
 * (grpc's PROTOCOL-HTTP2.md; the texts and limits are grpc-go's, which etcd uses).
 *
 * Thread: any; nothing here keeps state. */
#ifndef RINGD_GRPC_FRAME_H
#define RINGD_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the prefix before every message: a flags byte, then the length, big-endian. */
#define GRPC_PREFIX_BYTES 5

/* The prefix's flags byte: 0 is a plain message, 1 a compressed one; anything else is a
 * protocol error ("grpc: received unexpected payload format %d"). */
#define GRPC_PREFIX_PLAIN      0
#define GRPC_PREFIX_COMPRESSED 1

/* What grpc-go's server accepts on top of --max-request-bytes for one message (etcd's
 * grpcOverheadBytes): a message above max_request_bytes + this gets RESOURCE_EXHAUSTED
 * "grpc: received message larger than max (%d vs. %d)". */
#define GRPC_RECV_OVERHEAD_BYTES (512u * 1024u)

static inline void grpc_prefix_write(uint8_t out[GRPC_PREFIX_BYTES], uint8_t flags, uint32_t length)
{
    out[0] = flags;
    out[1] = (uint8_t)(length >> 24);
    out[2] = (uint8_t)(length >> 16);
    out[3] = (uint8_t)(length >> 8);
    out[4] = (uint8_t)length;
}

static inline uint32_t grpc_prefix_length(const uint8_t in[GRPC_PREFIX_BYTES])
{
    return (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
}

/* Parses a grpc-timeout value ("100m", "5S": at most 8 digits, then one of H M S m u n) as
 * grpc-go does: an optional sign, hours that would overflow clamp to the largest duration, a
 * negative value is a deadline already past. Returns 0 with *timeout_ns (INT64_MAX at most;
 * negative values give 0), or -EINVAL for anything else (the server then resets the stream
 * with PROTOCOL_ERROR, as grpc-go does). */
int grpc_timeout_parse(const char *value, size_t len, uint64_t *timeout_ns);

/* Writes timeout_ms as a grpc-timeout value ("250m", or coarser units when 8 digits of
 * milliseconds do not suffice). out_bytes >= 10. Returns the length. */
size_t grpc_timeout_format(char *out, size_t out_bytes, uint64_t timeout_ms);

/* Percent-encodes a status message for the grpc-message header as grpc-go does: bytes from
 * ' ' to '~' but '%' stay, every other byte is %XX. Writes at most out_bytes - 1 characters
 * plus a NUL, never cutting an escape in half. Returns the length written. */
size_t grpc_message_encode(char *out, size_t out_bytes, const char *message);

/* Decodes a received grpc-message: valid %XX escapes become their byte, anything else stays
 * as it is. Writes at most out_bytes - 1 bytes plus a NUL. Returns the length written. */
size_t grpc_message_decode(char *out, size_t out_bytes, const char *in, size_t len);

/* True for the content types grpc-go takes as gRPC: "application/grpc" alone or followed by
 * '+' or ';' (application/grpc+proto, application/grpc;charset=...). */
bool grpc_content_type_valid(const char *value, size_t len);

#endif
