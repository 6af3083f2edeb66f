/* How deep a protobuf message nests sub-messages, read off its wire bytes before decoding.
 * protobuf-c decodes nested messages by recursion with no bound, so a request of a few hundred
 * kilobytes of nested TxnRequests would exhaust a thread's stack; the transport refuses those
 * first (GRPC_DECODE_DEPTH_MAX).
 *
 * Thread: any; pure. */
#ifndef RINGD_PB_NESTING_H
#define RINGD_PB_NESTING_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* False when a message of type d in data[0..len) nests sub-messages deeper than max_depth (the
 * message itself is depth 0). Bytes that are not valid protobuf give true: decoding reports
 * them. Walks with an explicit stack of at most max_depth + 1 entries; max_depth <=
 * GRPC_DECODE_DEPTH_MAX. */
bool pb_nesting_within(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                       unsigned max_depth);

#endif
