/* libFuzzer target for the client-facing input path: bytes from a client go into a gRPC server
 * session (HTTP/2 framing, HPACK, gRPC framing, protobuf decoding, dispatch), cut into pieces
 * the input chooses, with time moving on between pieces so deadlines and keepalive fire too.
 * The session serves etcd's methods, some with test handlers that echo, answer later, stream
 * and hold calls until the connection ends, so the paths a handler can take are fuzzed along
 * with the transport.
 *
 * Input: the first byte seeds the piece sizes; the rest is what the client sends. Seeds are
 * real clients' bytes (etcdctl put, get, watch, txn) in tests/fuzz/grpc_server/.
 *
 *   make fuzz FUZZ_SECONDS=300       (clang, ASan+UBSan, libFuzzer)
 *   the ctest fuzz_grpc_server_replay runs every seed and found crash through the same code
 *   with gcc, in every test build. */
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_call.h"
#include "grpc_method.h"
#include "grpc_server.h"
#include "maintenance_status.h"
#include "ringd_assert.h"

#define FUZZ_PIECE_BYTES_MAX 256
#define FUZZ_HELD_MAX        16
#define NS_PER_MS            1000000ull

/* Calls the "hold" handler keeps; answered at the end of the input or cancelled. */
static struct grpc_call *held[FUZZ_HELD_MAX];
static unsigned held_count;
static const Etcdserverpb__RangeRequest empty_reply = ETCDSERVERPB__RANGE_REQUEST__INIT;

static void held_drop(struct grpc_call *call)
{
    for (unsigned i = 0; i < held_count; i++) {
        if (held[i] == call) {
            held[i] = held[--held_count];
            return;
        }
    }
}

static void echo_unary(struct grpc_call *call, const ProtobufCMessage *request)
{
    grpc_call_reply(call, request);
}

static void echo_stream(struct grpc_call *call, const ProtobufCMessage *request)
{
    if (grpc_call_send(call, request) != 0)
        grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "full");
}

static void echo_half_close(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void hold(struct grpc_call *call, const ProtobufCMessage *request)
{
    (void)request;
    if (held_count == FUZZ_HELD_MAX) {
        grpc_call_finish(call, GRPC_STATUS_UNAVAILABLE, "busy");
        return;
    }
    held[held_count++] = call;
}

static struct grpc_method fuzz_methods[64];
static struct grpc_method_set fuzz_set;

/* etcd's methods, with test handlers on the paths the seeds use (a mutated input keeps its
 * HPACK-coded path far more often than it finds a new one): Put echoes, Range holds the call,
 * Watch echoes every message and ends at the half-close, Txn answers Status (INTERNAL: no
 * shard here). */
static void fuzz_methods_init(void)
{
    ASSERT(grpc_etcd_methods.count <= sizeof fuzz_methods / sizeof fuzz_methods[0]);
    for (size_t i = 0; i < grpc_etcd_methods.count; i++) {
        struct grpc_method *m = &fuzz_methods[i];
        *m = grpc_etcd_methods.methods[i];
        if (strcmp(m->path, "/etcdserverpb.KV/Put") == 0) {
            m->on_message = echo_unary;
        } else if (strcmp(m->path, "/etcdserverpb.KV/Range") == 0) {
            m->on_message = hold;
            m->on_cancel = held_drop;
        } else if (strcmp(m->path, "/etcdserverpb.Watch/Watch") == 0) {
            m->on_message = echo_stream;
            m->on_half_close = echo_half_close;
        } else if (strcmp(m->path, "/etcdserverpb.KV/Txn") == 0) {
            m->on_message = maintenance_status_on_message;
        }
    }
    fuzz_set = (struct grpc_method_set){.methods = fuzz_methods, .count = grpc_etcd_methods.count};
}

/* Reads what the session wrote, sometimes only part of it, as a slow client would. */
static void drain_output(struct grpc_server *s, uint8_t how)
{
    const uint8_t *out;
    size_t n;
    for (int i = 0; i < 64 && (n = grpc_server_pending(s, &out)) > 0; i++)
        grpc_server_sent(s, how % 4 == 0 && n > 1 ? n / 2 : n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_set.count == 0)
        fuzz_methods_init();
    if (size < 1)
        return 0;
    uint32_t x = data[0] * 2654435761u + 1;
    data++;
    size--;
    const struct grpc_server_limits limits = {
        .max_request_bytes = 4096,
        .max_concurrent_streams = 8,
        .output_bytes_max = 8192,
        .keepalive_interval_ns = 50 * NS_PER_MS,
        .keepalive_timeout_ns = 20 * NS_PER_MS,
        .keepalive_min_time_ns = 5 * NS_PER_MS,
    };
    uint64_t now_ns = 1000 * NS_PER_MS;
    struct grpc_server *s = grpc_server_new(&limits, &fuzz_set, NULL, now_ns);
    if (s == NULL)
        return 0;
    while (size > 0 && !grpc_server_done(s)) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t piece = 1 + x % FUZZ_PIECE_BYTES_MAX;
        piece = piece < size ? piece : size;
        if (grpc_server_wants_read(s) && grpc_server_feed(s, data, piece, now_ns) < 0)
            break;
        data += piece;
        size -= piece;
        drain_output(s, (uint8_t)x);
        now_ns += (x >> 8) % (30 * NS_PER_MS);
        grpc_server_tick(s, now_ns);
        if (held_count > 0 && (x & 0x10))
            grpc_call_reply(held[--held_count], &empty_reply.base);
    }
    drain_output(s, 1);
    grpc_server_free(s); /* cancels what is still held */
    held_count = 0;
    return 0;
}
