/* The peer protocol's frames and their payloads (proto/raftpb/raft.proto) to and from bytes:
 * raft messages, the handshake, and the frames of a snapshot stream.
 *
 * A frame is [u32 payload length, little-endian][u8 frame type][payload], the payload at most
 * PEER_FRAME_BYTES_MAX. Encoding and decoding are written by hand against the schema: encoding
 * writes straight into the caller's buffer, decoding fills caller storage and points entry data
 * into the input, so neither allocates. Anything malformed from a peer (a cut or oversized
 * frame, a bad varint, a known field with the wrong wire type, a value out of range, more
 * entries than RAFT_MSG_ENTRIES_MAX, more members than RAFT_MEMBERS_MAX) is -EINVAL or
 * -EMSGSIZE, never an assertion. Unknown fields are skipped, as protobuf wants.
 *
 * Thread: any; pure. */
#ifndef RINGD_PEER_CODEC_H
#define RINGD_PEER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "members.h"
#include "raft.h"
#include "ringd_limits.h"

#define PEER_PROTOCOL_VERSION 1
#define PEER_FRAME_HEAD_BYTES 5 /* u32 length, u8 type */

enum peer_frame_type {
    PEER_FRAME_HELLO = 1,      /* Hello: first frame each way on every connection */
    PEER_FRAME_MSG = 2,        /* Message */
    PEER_FRAME_SNAP_BEGIN = 3, /* SnapshotBegin */
    PEER_FRAME_SNAP_CHUNK = 4, /* the file's next bytes, raw */
    PEER_FRAME_SNAP_END = 5,   /* SnapshotEnd */
    PEER_FRAME_SNAP_ACK = 6,   /* SnapshotAck */
    /* A member joining a running cluster asks any member for it: JoinRequest instead of a
     * Hello as the first frame of a connection, answered by one JoinResponse. */
    PEER_FRAME_JOIN_REQUEST = 7,
    PEER_FRAME_JOIN_RESPONSE = 8,
};

/* What a connection carries, said in its Hello. */
enum peer_stream {
    PEER_STREAM_MSGS = 1, /* raft messages, one way: from the dialer to the acceptor */
    PEER_STREAM_SNAP = 2, /* one snapshot, then its acknowledgement back */
    PEER_STREAM_JOIN = 3, /* never in a Hello: a JoinRequest opened it, one JoinResponse back */
};

struct peer_hello {
    uint64_t cluster_id;
    raft_id from;
    raft_id to;
    uint32_t version;
    uint32_t stream; /* enum peer_stream */
};

/* A decoded message and the storage it points into (besides the input bytes, which entry data
 * points at: keep them while the message is used). About 160 KiB: not for the stack. */
struct peer_decoded {
    struct raft_msg msg;
    struct raft_snapshot_meta snapshot;
    struct raft_entry entries[RAFT_MSG_ENTRIES_MAX];
};

/* Reads a frame head from the len bytes at buf. Returns 1 with *type and *payload_bytes when
 * the head is there, 0 when more bytes are needed, -EMSGSIZE for a payload over max_bytes (at
 * most PEER_FRAME_BYTES_MAX). The frame type is not checked: the caller knows which it expects. */
int peer_codec_frame_head(const uint8_t *buf, size_t len, uint32_t max_bytes, uint8_t *type,
                          uint32_t *payload_bytes);

/* Writes a frame head for a payload of payload_bytes into out[0..PEER_FRAME_HEAD_BYTES). */
void peer_codec_put_head(uint8_t *out, uint8_t type, uint32_t payload_bytes);

/* The bytes of m's whole MSG frame (head included). */
size_t peer_codec_msg_frame_bytes(const struct raft_msg *m);

/* Writes m's MSG frame into out, which has room for peer_codec_msg_frame_bytes(m). Returns the
 * bytes written, or -EMSGSIZE when the payload would pass PEER_FRAME_BYTES_MAX (nothing of use
 * is written then). */
int64_t peer_codec_encode_msg(const struct raft_msg *m, uint8_t *out, size_t cap);

/* Decodes a MSG payload into out; out->msg points into out and into payload. Returns 0, -EINVAL
 * for bytes that are not a valid Message, or -EMSGSIZE for too many entries or members. */
int peer_codec_decode_msg(const uint8_t *payload, size_t len, struct peer_decoded *out);

/* Writes a HELLO frame into out (room for PEER_HELLO_FRAME_BYTES_MAX); returns its bytes. */
#define PEER_HELLO_FRAME_BYTES_MAX (PEER_FRAME_HEAD_BYTES + 5 * 11)
size_t peer_codec_encode_hello(const struct peer_hello *h, uint8_t *out);
int peer_codec_decode_hello(const uint8_t *payload, size_t len, struct peer_hello *out);

/* SNAP_BEGIN: the MsgSnap and the file's size. The frame's bytes, then the writer. */
size_t peer_codec_snap_begin_frame_bytes(const struct raft_msg *m);
int64_t peer_codec_encode_snap_begin(const struct raft_msg *m, uint64_t size, uint8_t *out,
                                     size_t cap);
int peer_codec_decode_snap_begin(const uint8_t *payload, size_t len, struct peer_decoded *out,
                                 uint64_t *size);

/* SNAP_END (size and CRC-32C of the file) and SNAP_ACK (ok); room for
 * PEER_SMALL_FRAME_BYTES_MAX each. */
#define PEER_SMALL_FRAME_BYTES_MAX (PEER_FRAME_HEAD_BYTES + 2 * 11)
size_t peer_codec_encode_snap_end(uint64_t size, uint32_t crc, uint8_t *out);
int peer_codec_decode_snap_end(const uint8_t *payload, size_t len, uint64_t *size, uint32_t *crc);
size_t peer_codec_encode_snap_ack(bool ok, uint8_t *out);
int peer_codec_decode_snap_ack(const uint8_t *payload, size_t len, bool *ok);

/* JOIN_REQUEST (the protocol version): room for PEER_SMALL_FRAME_BYTES_MAX. */
size_t peer_codec_encode_join_request(uint32_t version, uint8_t *out);
int peer_codec_decode_join_request(const uint8_t *payload, size_t len, uint32_t *version);

/* JOIN_RESPONSE: the cluster id and every member (etcdserverpb.Member: id, name, peer and
 * client URLs, learner). The largest frame, then the writer: returns the bytes written, or
 * -EMSGSIZE when a member does not pack. */
#define PEER_JOIN_RESPONSE_BYTES_MAX \
    (PEER_FRAME_HEAD_BYTES + 11 + RAFT_MEMBERS_MAX * (MEMBERS_PACKED_BYTES_MAX + 6))
int64_t peer_codec_encode_join_response(uint64_t cluster_id, const struct members *m, uint8_t *out,
                                        size_t cap);
/* Fills out (emptied first) in id order. Returns 0, -EINVAL for bytes that do not decode or a
 * member over the bounds or twice, -EMSGSIZE past RAFT_MEMBERS_MAX. */
int peer_codec_decode_join_response(const uint8_t *payload, size_t len, uint64_t *cluster_id,
                                    struct members *out);

#endif
