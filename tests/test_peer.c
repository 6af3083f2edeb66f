/* net/peer and net/peer_codec: the codec against the generated protobuf-c code of
 * proto/raftpb/raft.proto, a table of malformed inputs and random bytes into the decoders; then
 * transports in one process, each on its own io_loop, driven in turn by this one thread, over
 * TCP on 127.0.0.1 and over unix sockets: messages arrive intact and in order, a peer that is
 * down is reported unreachable and redialed, a wrong cluster id and garbage bytes are refused
 * and the transport goes on, a full queue pushes back, a snapshot file streams and lands
 * durable. Every wait is on a condition with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "peer.h"
#include "peer_codec.h"
#include "raftpb/raft.pb-c.h"
#include "ringd_error.h"
#include "snapshot_file.h"
#include "test_support.h"

/* ---- Codec ------------------------------------------------------------------------------------
 */

static uint8_t entry_byte(uint64_t index, uint32_t i)
{
    return (uint8_t)(index * 31 + i * 7 + 1);
}

/* A MsgApp carrying n entries after index, entry k holding k * 3 bytes of a known pattern. */
struct sample {
    struct raft_msg m;
    struct raft_entry entries[64];
    uint8_t data[64][192];
};

static void sample_make(struct sample *s, raft_id from, raft_id to, uint64_t index, uint32_t n)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t k = 0; k < n; k++) {
        uint32_t len = (k * 3) % 192;
        for (uint32_t i = 0; i < len; i++)
            s->data[k][i] = entry_byte(index + k, i);
        s->entries[k] = (struct raft_entry){.term = 7,
                                            .index = index + k + 1,
                                            .data = len ? s->data[k] : NULL,
                                            .len = len,
                                            .type = (uint8_t)(k % 2)};
    }
    s->m = (struct raft_msg){.type = RAFT_MSG_APP,
                             .from = from,
                             .to = to,
                             .term = 7,
                             .log_term = 6,
                             .index = index,
                             .commit = index / 2,
                             .context = 0xfedcba9876543210ull,
                             .entries = s->entries,
                             .n_entries = n};
}

static void assert_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->reject, b->reject);
    assert_int_equal(a->from, b->from);
    assert_int_equal(a->to, b->to);
    assert_int_equal(a->term, b->term);
    assert_int_equal(a->log_term, b->log_term);
    assert_int_equal(a->index, b->index);
    assert_int_equal(a->commit, b->commit);
    assert_int_equal(a->reject_hint, b->reject_hint);
    assert_int_equal(a->context, b->context);
    assert_int_equal(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        assert_int_equal(a->entries[i].term, b->entries[i].term);
        assert_int_equal(a->entries[i].index, b->entries[i].index);
        assert_int_equal(a->entries[i].type, b->entries[i].type);
        assert_int_equal(a->entries[i].len, b->entries[i].len);
        if (a->entries[i].len > 0)
            assert_memory_equal(a->entries[i].data, b->entries[i].data, a->entries[i].len);
    }
    assert_int_equal(a->snapshot == NULL, b->snapshot == NULL);
    if (a->snapshot != NULL) {
        assert_int_equal(a->snapshot->index, b->snapshot->index);
        assert_int_equal(a->snapshot->term, b->snapshot->term);
        assert_int_equal(a->snapshot->conf.n_voters, b->snapshot->conf.n_voters);
        assert_int_equal(a->snapshot->conf.n_learners, b->snapshot->conf.n_learners);
        assert_memory_equal(a->snapshot->conf.voters, b->snapshot->conf.voters,
                            a->snapshot->conf.n_voters * sizeof(raft_id));
        assert_memory_equal(a->snapshot->conf.learners, b->snapshot->conf.learners,
                            a->snapshot->conf.n_learners * sizeof(raft_id));
    }
}

static struct peer_decoded decoded; /* 160 KiB: not on the stack */
static uint8_t frame[1 << 16];

/* Encodes m, checks the head, decodes it back; returns the payload's bytes. */
static uint32_t round_trip(const struct raft_msg *m)
{
    int64_t n = peer_codec_encode_msg(m, frame, sizeof(frame));
    assert_true(n > 0);
    assert_int_equal((size_t)n, peer_codec_msg_frame_bytes(m));
    uint8_t type;
    uint32_t payload;
    assert_int_equal(peer_codec_frame_head(frame, (size_t)n, PEER_FRAME_BYTES_MAX, &type, &payload),
                     1);
    assert_int_equal(type, PEER_FRAME_MSG);
    assert_int_equal(payload + PEER_FRAME_HEAD_BYTES, n);
    assert_int_equal(peer_codec_decode_msg(frame + PEER_FRAME_HEAD_BYTES, payload, &decoded), 0);
    assert_msg_equal(m, &decoded.msg);
    return payload;
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    static struct sample s;
    sample_make(&s, 1, 2, 100, 64);
    uint32_t payload = round_trip(&s.m);

    /* The generated code reads what we write, field by field. */
    Raftpb__Message *pb = raftpb__message__unpack(NULL, payload, frame + PEER_FRAME_HEAD_BYTES);
    assert_non_null(pb);
    assert_int_equal(pb->type, RAFT_MSG_APP);
    assert_int_equal(pb->from, 1);
    assert_int_equal(pb->context, s.m.context);
    assert_int_equal(pb->n_entries, 64);
    assert_int_equal(pb->entries[5]->data.len, 15);
    assert_memory_equal(pb->entries[5]->data.data, s.data[5], 15);

    /* And we read what it writes (packed members included). */
    pb->reject = 1;
    pb->reject_hint = 99;
    Raftpb__SnapshotMeta meta = RAFTPB__SNAPSHOT_META__INIT;
    Raftpb__ConfState conf = RAFTPB__CONF_STATE__INIT;
    uint64_t voters[] = {1, 2, 0xffffffffffffffffull}, learners[] = {9};
    conf.voters = voters;
    conf.n_voters = 3;
    conf.learners = learners;
    conf.n_learners = 1;
    meta.conf = &conf;
    meta.index = 1000;
    meta.term = 4;
    pb->snapshot = &meta;
    static uint8_t packed[1 << 16];
    size_t len = raftpb__message__pack(pb, packed);
    assert_int_equal(peer_codec_decode_msg(packed, len, &decoded), 0);
    assert_true(decoded.msg.reject);
    assert_int_equal(decoded.msg.reject_hint, 99);
    assert_int_equal(decoded.msg.n_entries, 64);
    assert_int_equal(decoded.msg.snapshot->conf.voters[2], 0xffffffffffffffffull);
    assert_int_equal(decoded.msg.snapshot->conf.learners[0], 9);
    /* ... and ours writes it back as it read it. */
    round_trip(&decoded.msg);
    pb->snapshot = NULL;
    raftpb__message__free_unpacked(pb, NULL);

    /* Every type, and the empty message. */
    for (uint8_t t = 0; t < RAFT_MSG_TYPES; t++) {
        struct raft_msg m = {.type = t, .from = 3, .to = 4, .term = t};
        round_trip(&m);
    }
}

static void test_codec_small_frames(void **state)
{
    (void)state;
    struct peer_hello h = {.cluster_id = 0x1234567890abcdefull,
                           .from = 1,
                           .to = UINT64_MAX,
                           .version = PEER_PROTOCOL_VERSION,
                           .stream = PEER_STREAM_SNAP};
    uint8_t buf[PEER_HELLO_FRAME_BYTES_MAX];
    size_t n = peer_codec_encode_hello(&h, buf);
    assert_true(n <= sizeof(buf));
    struct peer_hello back;
    assert_int_equal(
        peer_codec_decode_hello(buf + PEER_FRAME_HEAD_BYTES, n - PEER_FRAME_HEAD_BYTES, &back), 0);
    assert_memory_equal(&h, &back, sizeof(h));
    uint64_t size;
    uint32_t crc;
    n = peer_codec_encode_snap_end(UINT64_MAX, UINT32_MAX, buf);
    assert_true(n <= PEER_SMALL_FRAME_BYTES_MAX);
    assert_int_equal(peer_codec_decode_snap_end(buf + PEER_FRAME_HEAD_BYTES,
                                                n - PEER_FRAME_HEAD_BYTES, &size, &crc),
                     0);
    assert_int_equal(size, UINT64_MAX);
    assert_int_equal(crc, UINT32_MAX);
    bool ok = false;
    n = peer_codec_encode_snap_ack(true, buf);
    assert_int_equal(
        peer_codec_decode_snap_ack(buf + PEER_FRAME_HEAD_BYTES, n - PEER_FRAME_HEAD_BYTES, &ok), 0);
    assert_true(ok);
    struct raft_snapshot_meta meta = {
        .index = 5, .term = 2, .conf = {.n_voters = 1, .voters = {1}}};
    struct raft_msg m = {.type = RAFT_MSG_SNAP, .from = 1, .to = 2, .term = 2, .snapshot = &meta};
    static uint8_t big[4096];
    int64_t len = peer_codec_encode_snap_begin(&m, 12345, big, sizeof(big));
    assert_true(len > 0 && (size_t)len <= peer_codec_snap_begin_frame_bytes(&m));
    assert_int_equal(peer_codec_decode_snap_begin(big + PEER_FRAME_HEAD_BYTES,
                                                  (size_t)len - PEER_FRAME_HEAD_BYTES, &decoded,
                                                  &size),
                     0);
    assert_int_equal(size, 12345);
    assert_msg_equal(&m, &decoded.msg);
}

/* JOIN_REQUEST and JOIN_RESPONSE: the member list comes back whole, in id order. */
static void test_codec_join(void **state)
{
    (void)state;
    uint8_t small[PEER_SMALL_FRAME_BYTES_MAX];
    size_t n = peer_codec_encode_join_request(PEER_PROTOCOL_VERSION, small);
    uint32_t version = 0;
    assert_int_equal(small[4], PEER_FRAME_JOIN_REQUEST);
    assert_int_equal(peer_codec_decode_join_request(small + PEER_FRAME_HEAD_BYTES,
                                                    n - PEER_FRAME_HEAD_BYTES, &version),
                     0);
    assert_int_equal(version, PEER_PROTOCOL_VERSION);
    static struct members m, back;
    m = (struct members){.count = 2};
    m.items[0] = (struct member_info){.id = 7, .n_peer_urls = 2, .n_client_urls = 1};
    snprintf(m.items[0].name, sizeof m.items[0].name, "n1");
    snprintf(m.items[0].peer_urls[0], CONFIG_URL_BYTES_MAX, "http://127.0.0.1:2380");
    snprintf(m.items[0].peer_urls[1], CONFIG_URL_BYTES_MAX, "unix:///tmp/p");
    snprintf(m.items[0].client_urls[0], CONFIG_URL_BYTES_MAX, "http://127.0.0.1:2379");
    m.items[1] = (struct member_info){.id = UINT64_MAX, .is_learner = true, .n_peer_urls = 1};
    snprintf(m.items[1].peer_urls[0], CONFIG_URL_BYTES_MAX, "http://127.0.0.1:2390");
    static uint8_t big[PEER_JOIN_RESPONSE_BYTES_MAX];
    int64_t len = peer_codec_encode_join_response(0xabcdef, &m, big, sizeof big);
    assert_true(len > PEER_FRAME_HEAD_BYTES);
    uint64_t cluster_id = 0;
    assert_int_equal(peer_codec_decode_join_response(big + PEER_FRAME_HEAD_BYTES,
                                                     (size_t)len - PEER_FRAME_HEAD_BYTES,
                                                     &cluster_id, &back),
                     0);
    assert_int_equal(cluster_id, 0xabcdef);
    assert_int_equal(back.count, 2);
    assert_memory_equal(&back.items[0], &m.items[0], sizeof m.items[0]);
    assert_memory_equal(&back.items[1], &m.items[1], sizeof m.items[1]);
    /* No cluster id, or no member: not an answer. */
    assert_int_equal(peer_codec_decode_join_response(big, 0, &cluster_id, &back), -EINVAL);
}

struct bad_case {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    int err;
};

static void test_codec_malformed(void **state)
{
    (void)state;
    static const uint8_t cut_varint[] = {0x20, 0x80}; /* field 4, varint cut */
    static const uint8_t long_varint[] = {0x20, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x02}; /* past 64 bits */
    static const uint8_t past_end[] = {0x5a, 0x05, 0x08, 0x01};          /* entries, 5 > 2 */
    static const uint8_t entries_varint[] = {0x58, 0x01}; /* entries (11) as a varint */
    static const uint8_t type_range[] = {0x08, RAFT_MSG_TYPES};
    static const uint8_t entry_type[] = {0x5a, 0x02, 0x18, 0x07}; /* entry type 7 */
    static const uint8_t group[] = {0x0b};                        /* field 1, start group */
    static const uint8_t field_zero[] = {0x00, 0x01};
    static const uint8_t snap_wire[] = {0x61, 0, 0, 0, 0, 0, 0, 0, 0}; /* snapshot as fixed64 */
    static const uint8_t term_bytes[] = {0x22, 0x00};                  /* term as bytes */
    static const uint8_t fixed_cut[] = {0x09, 0x01, 0x02};             /* fixed64 cut */
    const struct bad_case cases[] = {
        {"cut varint", cut_varint, sizeof(cut_varint), -EINVAL},
        {"varint over 64 bits", long_varint, sizeof(long_varint), -EINVAL},
        {"length past the end", past_end, sizeof(past_end), -EINVAL},
        {"entries with a varint wire type", entries_varint, sizeof(entries_varint), -EINVAL},
        {"message type out of range", type_range, sizeof(type_range), -EINVAL},
        {"entry type out of range", entry_type, sizeof(entry_type), -EINVAL},
        {"group wire type", group, sizeof(group), -EINVAL},
        {"field number 0", field_zero, sizeof(field_zero), -EINVAL},
        {"snapshot with a fixed64 wire type", snap_wire, sizeof(snap_wire), -EINVAL},
        {"term with a bytes wire type", term_bytes, sizeof(term_bytes), -EINVAL},
        {"cut fixed64", fixed_cut, sizeof(fixed_cut), -EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int err = peer_codec_decode_msg(cases[i].bytes, cases[i].len, &decoded);
        if (err != cases[i].err)
            fail_msg("%s: %d, expected %d", cases[i].name, err, cases[i].err);
    }
}

/* Lists at their bounds and one past. */
static void test_codec_bounds(void **state)
{
    (void)state;
    /* Too many entries: RAFT_MSG_ENTRIES_MAX + 1 empty ones (each "5a 00"). */
    static uint8_t many[2 * (RAFT_MSG_ENTRIES_MAX + 1)];
    for (size_t i = 0; i < sizeof(many); i += 2)
        many[i] = 0x5a;
    assert_int_equal(peer_codec_decode_msg(many, sizeof(many) - 2, &decoded), 0);
    assert_int_equal(decoded.msg.n_entries, RAFT_MSG_ENTRIES_MAX);
    assert_int_equal(peer_codec_decode_msg(many, sizeof(many), &decoded), -EMSGSIZE);

    /* Too many voters: RAFT_MEMBERS_MAX + 1 of them, written by the generated code. */
    uint64_t voters[RAFT_MEMBERS_MAX + 1];
    for (uint32_t i = 0; i <= RAFT_MEMBERS_MAX; i++)
        voters[i] = i + 1;
    Raftpb__ConfState conf = RAFTPB__CONF_STATE__INIT;
    conf.voters = voters;
    conf.n_voters = RAFT_MEMBERS_MAX + 1;
    Raftpb__SnapshotMeta meta = RAFTPB__SNAPSHOT_META__INIT;
    meta.conf = &conf;
    Raftpb__Message pb = RAFTPB__MESSAGE__INIT;
    pb.type = RAFT_MSG_SNAP;
    pb.snapshot = &meta;
    static uint8_t packed[4096];
    size_t packed_len = raftpb__message__pack(&pb, packed);
    assert_int_equal(peer_codec_decode_msg(packed, packed_len, &decoded), -EMSGSIZE);
    conf.n_voters = RAFT_MEMBERS_MAX;
    packed_len = raftpb__message__pack(&pb, packed);
    assert_int_equal(peer_codec_decode_msg(packed, packed_len, &decoded), 0);
    assert_int_equal(decoded.msg.snapshot->conf.n_voters, RAFT_MEMBERS_MAX);
}

static void test_codec_truncated(void **state)
{
    (void)state;
    /* Every truncation of a valid message decodes or fails cleanly; a cut inside a field fails. */
    static struct sample s;
    sample_make(&s, 1, 2, 100, 8);
    int64_t n = peer_codec_encode_msg(&s.m, frame, sizeof(frame));
    uint32_t payload = (uint32_t)n - PEER_FRAME_HEAD_BYTES;
    uint32_t failures = 0;
    for (uint32_t cut = 0; cut < payload; cut++)
        failures += peer_codec_decode_msg(frame + PEER_FRAME_HEAD_BYTES, cut, &decoded) < 0;
    assert_true(failures > payload / 2);

    /* Frame heads: cut, at the bound, over it. */
    uint8_t type;
    uint32_t len;
    uint8_t head[PEER_FRAME_HEAD_BYTES];
    assert_int_equal(peer_codec_frame_head(head, 4, PEER_FRAME_BYTES_MAX, &type, &len), 0);
    peer_codec_put_head(head, PEER_FRAME_MSG, PEER_FRAME_BYTES_MAX);
    assert_int_equal(peer_codec_frame_head(head, 5, PEER_FRAME_BYTES_MAX, &type, &len), 1);
    peer_codec_put_head(head, PEER_FRAME_MSG, PEER_FRAME_BYTES_MAX + 1);
    assert_int_equal(peer_codec_frame_head(head, 5, PEER_FRAME_BYTES_MAX, &type, &len), -EMSGSIZE);
    peer_codec_put_head(head, PEER_FRAME_MSG, 0xffffffffu);
    assert_int_equal(peer_codec_frame_head(head, 5, PEER_FRAME_BYTES_MAX, &type, &len), -EMSGSIZE);

    /* A SNAP_BEGIN must carry a MsgSnap with its snapshot. */
    struct raft_msg app = {.type = RAFT_MSG_APP, .from = 1, .to = 2};
    uint64_t size;
    static uint8_t big[256];
    int64_t bn = peer_codec_encode_snap_begin(&app, 1, big, sizeof(big));
    assert_int_equal(peer_codec_decode_snap_begin(big + PEER_FRAME_HEAD_BYTES,
                                                  (size_t)bn - PEER_FRAME_HEAD_BYTES, &decoded,
                                                  &size),
                     -EINVAL);
}

/* Random bytes, and valid encodings with random bytes changed, into every decoder: errors are
 * fine, crashes (ASan) and out-of-range results are not. PEER_FUZZ_ROUNDS=n for more. */
static void test_codec_fuzz(void **state)
{
    (void)state;
    uint64_t seed = test_env_number("PEER_FUZZ_SEED", 1);
    uint64_t rounds = test_env_number("PEER_FUZZ_ROUNDS", 50000);
    struct test_rng rng = {.state = seed};
    static struct sample s;
    sample_make(&s, 1, 2, 100, 16);
    static uint8_t valid[1 << 16];
    int64_t valid_len = peer_codec_encode_msg(&s.m, valid, sizeof(valid)) - PEER_FRAME_HEAD_BYTES;
    static uint8_t buf[4096];
    for (uint64_t r = 0; r < rounds; r++) {
        size_t len;
        if (r % 2 == 0) {
            len = test_rng_below(&rng, sizeof(buf));
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)test_rng_next(&rng);
        } else {
            len = (size_t)valid_len < sizeof(buf) ? (size_t)valid_len : sizeof(buf);
            memcpy(buf, valid + PEER_FRAME_HEAD_BYTES, len);
            for (uint32_t k = test_rng_below(&rng, 4) + 1; k > 0; k--)
                buf[test_rng_below(&rng, (uint32_t)len)] = (uint8_t)test_rng_next(&rng);
        }
        if (peer_codec_decode_msg(buf, len, &decoded) == 0) {
            assert_true(decoded.msg.type < RAFT_MSG_TYPES);
            assert_true(decoded.msg.n_entries <= RAFT_MSG_ENTRIES_MAX);
            for (uint32_t i = 0; i < decoded.msg.n_entries; i++)
                assert_true(
                    decoded.msg.entries[i].data == NULL ||
                    (decoded.msg.entries[i].data >= buf &&
                     decoded.msg.entries[i].data + decoded.msg.entries[i].len <= buf + len));
        }
        struct peer_hello h;
        uint64_t size;
        uint32_t crc;
        bool ok;
        uint8_t type;
        uint32_t plen;
        (void)peer_codec_decode_hello(buf, len, &h);
        (void)peer_codec_decode_snap_begin(buf, len, &decoded, &size);
        (void)peer_codec_decode_snap_end(buf, len, &size, &crc);
        (void)peer_codec_decode_snap_ack(buf, len, &ok);
        static struct members members;
        (void)peer_codec_decode_join_request(buf, len, &crc);
        if (peer_codec_decode_join_response(buf, len, &size, &members) == 0)
            assert_true(members.count >= 1 && members.count <= RAFT_MEMBERS_MAX);
        if (peer_codec_frame_head(buf, len, PEER_FRAME_BYTES_MAX, &type, &plen) == 1)
            assert_true(plen <= PEER_FRAME_BYTES_MAX);
    }
}

/* ---- Transports -------------------------------------------------------------------------------
 */

#define NODES_MAX 3

struct node {
    raft_id id;
    bool created;
    bool up;
    struct io_loop loop;
    struct peer_transport *t;
    char dir[256]; /* its snap dir */
    char url[128];
    uint64_t cluster_id;
    struct peer_limits limits;
    uint32_t received[NODES_MAX + 1]; /* MsgApps from each sender */
    uint64_t next_index[NODES_MAX + 1];
    uint32_t bad; /* out of order or corrupt */
    uint32_t unreachable[NODES_MAX + 1];
    uint32_t snaps_ok;
    uint32_t snaps_failed;
    uint32_t snaps_received;
    uint32_t snaps_bad;
    uint32_t big_ok; /* large messages received intact */
};

static struct node nodes[NODES_MAX + 1]; /* by id, 1..NODES_MAX */
static uint32_t n_nodes;
static uint8_t snap_bytes[300000]; /* the snapshot file's expected content */

static bool entries_intact(const struct raft_msg *m)
{
    for (uint32_t k = 0; k < m->n_entries; k++) {
        const struct raft_entry *e = &m->entries[k];
        if (e->index != m->index + k + 1 || e->len != (k * 3) % 192)
            return false;
        for (uint32_t i = 0; i < e->len; i++) {
            if (e->data[i] != entry_byte(m->index + k, i))
                return false;
        }
    }
    return true;
}

/* The file a MsgSnap names must be durable under its name, whole, when raft hears of it. */
static bool snap_file_ok(const struct node *n, const struct raft_msg *m)
{
    char name[SNAPSHOT_FILE_NAME_BYTES], path[512];
    snapshot_file_name(
        name, &(struct snapshot_file_id){.term = m->snapshot->term, .index = m->snapshot->index});
    snprintf(path, sizeof(path), "%s/%s.tmp", n->dir, name);
    if (access(path, F_OK) == 0)
        return false;
    snprintf(path, sizeof(path), "%s/%s", n->dir, name);
    static uint8_t got[sizeof(snap_bytes) + 1];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t len = read(fd, got, sizeof(got));
    close(fd);
    return len == (ssize_t)sizeof(snap_bytes) && memcmp(got, snap_bytes, sizeof(snap_bytes)) == 0;
}

/* A large message: its index is BIG_INDEX, its entries' bytes follow entry_byte. */
#define BIG_INDEX 1000000000ull

static bool big_intact(const struct raft_msg *m)
{
    uint64_t bytes = 0;
    for (uint32_t k = 0; k < m->n_entries; k++) {
        const struct raft_entry *e = &m->entries[k];
        for (uint32_t i = 0; i < e->len; i++) {
            if (e->data[i] != entry_byte(e->index, i))
                return false;
        }
        bytes += e->len;
    }
    return m->n_entries == 3 && bytes > (8u << 20);
}

static void on_receive(void *ctx, const struct raft_msg *m)
{
    struct node *n = ctx;
    assert_int_equal(m->to, n->id);
    assert_true(m->from >= 1 && m->from <= n_nodes);
    if (m->type == RAFT_MSG_SNAP) {
        n->snaps_received++;
        n->snaps_bad += !snap_file_ok(n, m) || m->snapshot->conf.n_voters != 3;
        return;
    }
    if (m->index == BIG_INDEX) {
        n->big_ok += big_intact(m);
        return;
    }
    if (m->index != n->next_index[m->from] || !entries_intact(m))
        n->bad++;
    n->next_index[m->from] = m->index + 1;
    n->received[m->from]++;
}

static void on_unreachable(void *ctx, raft_id id)
{
    struct node *n = ctx;
    assert_true(id >= 1 && id <= n_nodes);
    n->unreachable[id]++;
}

static void on_snapshot_sent(void *ctx, raft_id id, bool ok)
{
    struct node *n = ctx;
    assert_true(id >= 1 && id <= n_nodes);
    if (ok)
        n->snaps_ok++;
    else
        n->snaps_failed++;
}

/* n nodes, ids 1..n, on free TCP ports of 127.0.0.1 or on unix sockets in the current
 * directory; each knows the others. Nothing runs yet. */
static void cluster_make(uint32_t n, bool unix_sockets)
{
    memset(nodes, 0, sizeof(nodes));
    n_nodes = n;
    for (uint32_t i = 1; i <= n; i++) {
        struct node *nd = &nodes[i];
        nd->id = i;
        nd->cluster_id = 0xc1c1;
        snprintf(nd->dir, sizeof(nd->dir), "%s", test_temp_dir("peer-snap"));
        if (unix_sockets)
            snprintf(nd->url, sizeof(nd->url), "unix://peer-%u-%d.sock:1", i, (int)getpid());
        else
            snprintf(nd->url, sizeof(nd->url), "http://127.0.0.1:%u", test_free_port());
    }
}

static void node_create(uint32_t id)
{
    struct node *nd = &nodes[id];
    static struct config_urls listen;
    char why[256];
    assert_int_equal(config_urls_parse(&listen, nd->url, why, sizeof(why)), 0);
    struct peer_member members[NODES_MAX];
    const char *urls[NODES_MAX];
    for (uint32_t i = 0; i < n_nodes; i++) {
        urls[i] = nodes[i + 1].url;
        members[i] = (struct peer_member){.id = i + 1, .n_urls = 1, .urls = &urls[i]};
    }
    struct peer_transport_config cfg = {.member_id = id,
                                        .cluster_id = nd->cluster_id,
                                        .listen_urls = &listen,
                                        .peers = members,
                                        .n_peers = n_nodes,
                                        .snap_dir = nd->dir,
                                        .limits = nd->limits};
    int err = peer_transport_create(&cfg, &nd->t, why, sizeof(why));
    if (err != 0)
        fail_msg("peer_transport_create: %d %s", err, why);
    nd->created = true;
}

static void node_start(uint32_t id)
{
    struct node *nd = &nodes[id];
    if (!nd->created)
        node_create(id);
    assert_int_equal(io_loop_init(&nd->loop, LOOP_SQ_ENTRIES), 0);
    assert_int_equal(io_loop_attach(&nd->loop), 0);
    struct raft_transport_events ev = {.ctx = nd,
                                       .receive = on_receive,
                                       .unreachable = on_unreachable,
                                       .snapshot_sent = on_snapshot_sent};
    assert_int_equal(peer_transport_ops.start(nd->t, &nd->loop, &ev), 0);
    nd->up = true;
}

/* One turn of every running node; each may wait up to 1 ms for a completion. */
static void pump(void)
{
    for (uint32_t i = 1; i <= n_nodes; i++) {
        int n = nodes[i].up ? io_loop_turn(&nodes[i].loop, true, 1000000) : 0;
        if (n < 0)
            fail_msg("node %u: io_loop_turn: %s", i, strerror(-n));
    }
}

static bool run_until(bool (*cond)(void *), void *arg, uint32_t deadline_ms)
{
    uint64_t end = test_now_ns() + (uint64_t)deadline_ms * 1000000u;
    while (!cond(arg)) {
        if (test_now_ns() > end)
            return false;
        pump();
    }
    return true;
}

static bool node_idle(void *arg)
{
    struct node *nd = arg;
    return peer_transport_ops.idle(nd->t);
}

static void node_stop(uint32_t id)
{
    struct node *nd = &nodes[id];
    if (nd->up) {
        peer_transport_ops.stop(nd->t);
        assert_true(run_until(node_idle, nd, 5000));
        io_loop_destroy(&nd->loop);
        nd->up = false;
    }
    if (nd->created)
        peer_transport_destroy(nd->t);
    nd->created = false;
    test_remove_dir(nd->dir);
}

static void cluster_stop(void)
{
    for (uint32_t i = 1; i <= n_nodes; i++)
        node_stop(i);
}

struct link {
    uint32_t from;
    uint32_t to;
    uint32_t count;
};

static bool linked(void *arg)
{
    const struct link *l = arg;
    return peer_transport_connected(nodes[l->from].t, l->to);
}

static bool unlinked(void *arg)
{
    return !linked(arg);
}

static bool delivered(void *arg)
{
    const struct link *l = arg;
    return nodes[l->to].received[l->from] >= l->count;
}

static bool unreachable_seen(void *arg)
{
    const struct link *l = arg;
    return nodes[l->from].unreachable[l->to] >= l->count;
}

static void connect_all(void)
{
    for (uint32_t a = 1; a <= n_nodes; a++) {
        for (uint32_t b = 1; b <= n_nodes; b++) {
            struct link l = {a, b, 0};
            if (a != b && nodes[a].up && nodes[b].up)
                assert_true(run_until(linked, &l, 5000));
        }
    }
}

/* MsgApp number seq (its index) from one node to another, with seq % 9 entries. */
static int send_app(uint32_t from, uint32_t to, uint64_t seq)
{
    static struct sample s;
    sample_make(&s, from, to, seq, (uint32_t)(seq % 9));
    return peer_transport_ops.send(nodes[from].t, &s.m);
}

/* Every node sends count messages to every other, a batch of 50 per turn. */
static void exchange(uint32_t count)
{
    for (uint64_t seq = 0; seq < count; seq += 50) {
        for (uint64_t k = seq; k < seq + 50 && k < count; k++) {
            for (uint32_t a = 1; a <= n_nodes; a++) {
                for (uint32_t b = 1; b <= n_nodes; b++) {
                    if (a != b)
                        assert_int_equal(send_app(a, b, k), 0);
                }
            }
        }
        pump();
    }
    for (uint32_t a = 1; a <= n_nodes; a++) {
        for (uint32_t b = 1; b <= n_nodes; b++) {
            struct link l = {a, b, count};
            if (a != b)
                assert_true(run_until(delivered, &l, 10000));
        }
        assert_int_equal(nodes[a].bad, 0);
    }
}

static void test_tcp_messages_in_order(void **state)
{
    (void)state;
    cluster_make(3, false);
    for (uint32_t i = 1; i <= 3; i++)
        node_start(i);
    connect_all();
    exchange(2000);
    cluster_stop();
}

static void test_unix_messages_in_order(void **state)
{
    (void)state;
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("peer-unix"));
    assert_int_equal(chdir(dir), 0); /* unix://name:port is a file in the working directory */
    cluster_make(2, true);
    node_start(1);
    node_start(2);
    connect_all();
    exchange(1000);
    cluster_stop();
    assert_int_equal(chdir(cwd), 0);
    test_remove_dir(dir);
}

/* Sends a MsgApp from 1 to 2 every turn until cond holds; false after deadline_ms. */
static bool send_until(bool (*cond)(void *), void *arg, uint32_t deadline_ms)
{
    uint64_t end = test_now_ns() + (uint64_t)deadline_ms * 1000000u;
    while (!cond(arg)) {
        if (test_now_ns() > end)
            return false;
        send_app(1, 2, 0);
        pump();
    }
    return true;
}

/* Node 1's link to 2 comes up and carries a message. */
static void redialed_and_heard(void)
{
    struct link l = {1, 2, 0};
    assert_true(run_until(linked, &l, 5000));
    assert_int_equal(send_app(1, 2, 0), 0);
    l.count = 1;
    assert_true(run_until(delivered, &l, 5000));
    assert_int_equal(nodes[2].received[1], 1);
}

static void test_down_peer_then_up(void **state)
{
    (void)state;
    cluster_make(2, false);
    node_start(1);
    /* Sent while dialing, then dropped when the dial fails; sent while backing off, dropped. */
    assert_int_equal(send_app(1, 2, 0), 0);
    struct link l = {1, 2, 1};
    assert_true(run_until(unreachable_seen, &l, 5000));
    assert_int_equal(send_app(1, 2, 0), 0);
    l.count = 2;
    assert_true(run_until(unreachable_seen, &l, 5000));
    assert_false(peer_transport_connected(nodes[1].t, 2));
    /* It comes up: the back-off (at most 1 s) redials it. */
    node_start(2);
    redialed_and_heard();
    /* Down again, and back. */
    node_stop(2);
    nodes[2].next_index[1] = 0;
    nodes[2].received[1] = 0;
    assert_true(run_until(unlinked, &l, 5000)); /* 1 saw the connection end */
    node_start(2);
    redialed_and_heard();
    assert_int_equal(nodes[2].bad, 0);
    cluster_stop();
}

/* Reads the captured log into buf and sends the log back to stderr. */
static void log_release(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    log_set_fd(2);
    close(fd);
}

static int log_capture(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/log", test_temp_dir("peer-log"));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_set_fd(fd);
    return fd;
}

static void test_wrong_cluster_refused(void **state)
{
    (void)state;
    int log_fd = log_capture();
    cluster_make(2, false);
    nodes[2].cluster_id = 0xbad;
    node_start(1);
    node_start(2);
    struct link l = {1, 2, 1};
    assert_true(send_until(unreachable_seen, &l, 5000));
    assert_int_equal(nodes[2].received[1], 0);
    assert_int_equal(nodes[1].received[2], 0);
    assert_false(peer_transport_connected(nodes[1].t, 2));
    assert_false(peer_transport_connected(nodes[2].t, 1));
    static char text[1 << 16];
    log_release(log_fd, text, sizeof(text));
    assert_non_null(strstr(text, "\"reason\":\"cluster id mismatch\""));
    assert_non_null(strstr(text, "\"remote-peer-id\":\"1\""));
    cluster_stop();
}

static int raw_connect(const struct node *nd)
{
    const char *port = strrchr(nd->url, ':') + 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    int err = connect(fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(err == 0 || errno == EINPROGRESS);
    return fd;
}

struct raw {
    int fd;
    bool closed;
};

static bool raw_closed(void *arg)
{
    struct raw *r = arg;
    char buf[256];
    ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
    r->closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    return r->closed;
}

static bool raw_writable(void *arg)
{
    struct raw *r = arg;
    return send(r->fd, "", 0, MSG_NOSIGNAL) == 0;
}

/* Sends bytes on a fresh raw connection to node 2 and waits for node 2 to drop it. */
static void raw_garbage(const void *bytes, size_t len)
{
    struct raw r = {.fd = raw_connect(&nodes[2])};
    assert_true(run_until(raw_writable, &r, 5000));
    assert_int_equal(send(r.fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
    assert_true(run_until(raw_closed, &r, 5000));
    close(r.fd);
}

static void test_garbage_dropped(void **state)
{
    (void)state;
    int log_fd = log_capture();
    cluster_make(2, false);
    node_start(1);
    node_start(2);
    connect_all();
    raw_garbage("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27); /* a 542 MB frame */
    uint8_t frame_bytes[64] = {0};
    peer_codec_put_head(frame_bytes, PEER_FRAME_HELLO, 3);
    memset(frame_bytes + PEER_FRAME_HEAD_BYTES, 0xff, 3); /* a varint that never ends */
    raw_garbage(frame_bytes, PEER_FRAME_HEAD_BYTES + 3);
    peer_codec_put_head(frame_bytes, PEER_FRAME_MSG, 0); /* not a hello first */
    raw_garbage(frame_bytes, PEER_FRAME_HEAD_BYTES);
    struct peer_hello h = {.cluster_id = 0xc1c1, .from = 9, .to = 2, .version = 1, .stream = 1};
    raw_garbage(frame_bytes, peer_codec_encode_hello(&h, frame_bytes)); /* unknown sender */
    /* A good hello from member 1, then a message whose entries run past its end. */
    h.from = 1;
    size_t n = peer_codec_encode_hello(&h, frame_bytes);
    peer_codec_put_head(frame_bytes + n, PEER_FRAME_MSG, 4);
    memcpy(frame_bytes + n + PEER_FRAME_HEAD_BYTES, "\x5a\x05\x08\x01", 4);
    raw_garbage(frame_bytes, n + PEER_FRAME_HEAD_BYTES + 4);
    /* The real link goes on. */
    exchange(100);
    static char text[1 << 16];
    log_release(log_fd, text, sizeof(text));
    assert_non_null(strstr(text, "frame over the size limit"));
    assert_non_null(strstr(text, "bad hello"));
    assert_non_null(strstr(text, "the first frame is not a hello"));
    assert_non_null(strstr(text, "unknown sender"));
    assert_non_null(strstr(text, "bad message"));
    cluster_stop();
}

/* A listener that accepts (the kernel does, into its backlog) and never answers: the link
 * gives up waiting for the Hello, drops what it queued and tries again. */
static void test_silent_peer(void **state)
{
    (void)state;
    int log_fd = log_capture();
    cluster_make(2, false);
    nodes[1].limits.hello_timeout_ms = 100;
    const char *port = strrchr(nodes[2].url, ':') + 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    node_start(1);
    struct link l = {1, 2, 1};
    assert_true(send_until(unreachable_seen, &l, 5000));
    assert_false(peer_transport_connected(nodes[1].t, 2));
    static char text[1 << 16];
    log_release(log_fd, text, sizeof(text));
    assert_non_null(strstr(text, "no hello from the peer in time"));
    close(lfd);
    cluster_stop();
}

static void test_full_queue(void **state)
{
    (void)state;
    cluster_make(2, false);
    nodes[1].limits.queue_msgs_max = 8;
    node_start(1);
    node_start(2);
    connect_all();
    struct peer_transport_stats before, after;
    peer_transport_stats(nodes[1].t, &before);
    for (uint64_t seq = 0; seq < 8; seq++)
        assert_int_equal(send_app(1, 2, seq), 0);
    assert_int_equal(send_app(1, 2, 8), -RINGD_EFULL);
    assert_int_equal(send_app(1, 2, 9), -RINGD_EFULL);
    assert_int_equal(nodes[1].unreachable[2], 0); /* raised from the loop, not inside send */
    struct link l = {1, 2, 1};
    assert_true(run_until(unreachable_seen, &l, 5000));
    l.count = 8;
    assert_true(run_until(delivered, &l, 5000));
    peer_transport_stats(nodes[1].t, &after);
    assert_int_equal(after.sends - before.sends, 1); /* one turn's messages, one send */
    assert_int_equal(after.msgs_queued - before.msgs_queued, 8);
    assert_int_equal(after.msgs_dropped - before.msgs_dropped, 2);
    /* Drained: room again. */
    assert_int_equal(send_app(1, 2, 8), 0);
    l.count = 9;
    assert_true(run_until(delivered, &l, 5000));
    assert_int_equal(nodes[2].bad, 0);
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &(struct raft_msg){.to = 77}), -ENOENT);
    cluster_stop();
}

static bool big_received(void *arg)
{
    const struct node *n = arg;
    return n->big_ok >= 2;
}

/* Messages far past the buffers' first size: both sides grow their buffers. */
static void test_large_messages(void **state)
{
    (void)state;
    cluster_make(2, false);
    node_start(1);
    node_start(2);
    connect_all();
    static uint8_t data[3][6u << 20];
    const uint32_t lens[3] = {6u << 20, 1, 3u << 20};
    struct raft_entry entries[3];
    for (uint32_t k = 0; k < 3; k++) {
        for (uint32_t i = 0; i < lens[k]; i++)
            data[k][i] = entry_byte(BIG_INDEX + k + 1, i);
        entries[k] = (struct raft_entry){
            .term = 1, .index = BIG_INDEX + k + 1, .data = data[k], .len = lens[k]};
    }
    struct raft_msg m = {.type = RAFT_MSG_APP,
                         .from = 1,
                         .to = 2,
                         .term = 1,
                         .index = BIG_INDEX,
                         .entries = entries,
                         .n_entries = 3};
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &m), 0);
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &m), 0);
    assert_int_equal(send_app(1, 2, 0), 0);
    assert_true(run_until(big_received, &nodes[2], 20000));
    struct link l = {1, 2, 1};
    assert_true(run_until(delivered, &l, 5000)); /* and the small one after them */
    assert_int_equal(nodes[2].bad, 0);
    cluster_stop();
}

/* Membership changes: a removed member is unknown to send and refused when it dials; added
 * again, it is dialed and heard. */
static void test_set_peer(void **state)
{
    (void)state;
    cluster_make(2, false);
    node_start(1);
    node_start(2);
    connect_all();
    const struct raft_transport_ops *ops = &peer_transport_ops;
    assert_int_equal(ops->set_peer(nodes[1].t, 2, NULL, 0), 0);
    assert_int_equal(send_app(1, 2, 0), -ENOENT);
    assert_int_equal(ops->set_peer(nodes[1].t, 2, NULL, 0), -ENOENT);
    assert_int_equal(ops->set_peer(nodes[1].t, 1, NULL, 0), 0); /* ourselves: nothing to do */
    const char *bad[] = {"https://127.0.0.1:1"};
    assert_int_equal(ops->set_peer(nodes[1].t, 2, bad, 1), -RINGD_EUNSUPPORTED);
    const char *urls[] = {nodes[2].url};
    assert_int_equal(ops->set_peer(nodes[1].t, 2, urls, 1), 0);
    struct link l = {1, 2, 0};
    assert_true(run_until(linked, &l, 5000));
    assert_int_equal(send_app(1, 2, 0), 0);
    l.count = 1;
    assert_true(run_until(delivered, &l, 5000));
    l = (struct link){2, 1, 0};
    assert_true(run_until(linked, &l, 5000)); /* 2 redialed 1 after its link was dropped */
    assert_int_equal(send_app(2, 1, 0), 0);
    l.count = 1;
    assert_true(run_until(delivered, &l, 5000));
    cluster_stop();
}

static bool snap_done(void *arg)
{
    const struct node *n = arg;
    return n->snaps_ok + n->snaps_failed > 0;
}

static bool snap_failed(void *arg)
{
    const struct node *n = arg;
    return n->snaps_failed > 0;
}

static void test_snapshot_stream(void **state)
{
    (void)state;
    cluster_make(2, false);
    nodes[1].limits.snap_chunk_bytes = 64 << 10; /* five chunks */
    node_start(1);
    node_start(2);
    struct test_rng rng = {.state = 7};
    for (size_t i = 0; i < sizeof(snap_bytes); i++)
        snap_bytes[i] = (uint8_t)test_rng_next(&rng);
    struct raft_snapshot_meta meta = {.index = 500, .term = 3, .conf = {.n_voters = 3}};
    for (uint32_t i = 0; i < 3; i++)
        meta.conf.voters[i] = i + 1;
    char name[SNAPSHOT_FILE_NAME_BYTES], path[512];
    snapshot_file_name(name, &(struct snapshot_file_id){.term = 3, .index = 500});
    snprintf(path, sizeof(path), "%s/%s", nodes[1].dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, snap_bytes, sizeof(snap_bytes)), (ssize_t)sizeof(snap_bytes));
    close(fd);
    struct raft_msg m = {.type = RAFT_MSG_SNAP, .from = 1, .to = 2, .term = 3, .snapshot = &meta};
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &m), 0);
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &m), -RINGD_EFULL); /* one at a time */
    /* Heartbeats are not held up behind it. */
    connect_all();
    exchange(50);
    assert_true(run_until(snap_done, &nodes[1], 10000));
    assert_int_equal(nodes[1].snaps_ok, 1);
    assert_int_equal(nodes[2].snaps_received, 1);
    assert_int_equal(nodes[2].snaps_bad, 0);
    /* A snapshot that is not there fails, reported from the loop. */
    meta.index = 501;
    assert_int_equal(peer_transport_ops.send(nodes[1].t, &m), 0);
    assert_true(run_until(snap_failed, &nodes[1], 5000));
    assert_int_equal(nodes[2].snaps_received, 1);
    cluster_stop();
}

static bool dropped_more(void *arg)
{
    const uint64_t *before = arg;
    struct peer_transport_stats st;
    peer_transport_stats(nodes[2].t, &st);
    return st.conns_dropped > *before;
}

static bool no_tmp_file(void *arg)
{
    const struct node *n = arg;
    char name[SNAPSHOT_FILE_NAME_BYTES], path[512];
    snapshot_file_name(name, &(struct snapshot_file_id){.term = 3, .index = 500});
    snprintf(path, sizeof(path), "%s/%s.tmp", n->dir, name);
    bool none = access(path, F_OK) != 0;
    snprintf(path, sizeof(path), "%s/%s", n->dir, name);
    return none && access(path, F_OK) != 0;
}

/* A snapshot stream from "member 1" on a raw socket: Hello, SNAP_BEGIN announcing 1000 bytes,
 * then chunk_bytes of data and, if end_crc is not 0, a SNAP_END with that CRC. */
static void raw_snapshot(uint32_t chunk_bytes, uint32_t end_crc, bool close_early)
{
    static uint8_t out[4096];
    struct peer_hello h = {.cluster_id = 0xc1c1, .from = 1, .to = 2, .version = 1, .stream = 2};
    size_t n = peer_codec_encode_hello(&h, out);
    struct raft_snapshot_meta meta = {.index = 500, .term = 3};
    struct raft_msg m = {.type = RAFT_MSG_SNAP, .from = 1, .to = 2, .term = 3, .snapshot = &meta};
    n += (size_t)peer_codec_encode_snap_begin(&m, 1000, out + n, sizeof(out) - n);
    peer_codec_put_head(out + n, PEER_FRAME_SNAP_CHUNK, chunk_bytes);
    memset(out + n + PEER_FRAME_HEAD_BYTES, 0xab, chunk_bytes);
    n += PEER_FRAME_HEAD_BYTES + chunk_bytes;
    if (end_crc != 0)
        n += peer_codec_encode_snap_end(1000, end_crc, out + n);
    struct peer_transport_stats st;
    peer_transport_stats(nodes[2].t, &st);
    struct raw r = {.fd = raw_connect(&nodes[2])};
    assert_true(run_until(raw_writable, &r, 5000));
    assert_int_equal(send(r.fd, out, n, MSG_NOSIGNAL), (ssize_t)n);
    if (close_early)
        close(r.fd);
    assert_true(run_until(dropped_more, &st.conns_dropped, 5000));
    if (!close_early)
        close(r.fd);
}

static void test_snapshot_refused(void **state)
{
    (void)state;
    cluster_make(2, false);
    node_start(1);
    node_start(2);
    raw_snapshot(10, 0, true);                            /* cut short */
    assert_true(run_until(no_tmp_file, &nodes[2], 5000)); /* removed once the conn is released */
    raw_snapshot(1000, 0x1234, false);                    /* a CRC that does not match */
    assert_true(run_until(no_tmp_file, &nodes[2], 5000)); /* removed once the conn is released */
    raw_snapshot(1001, 0, false);                         /* longer than announced */
    assert_true(run_until(no_tmp_file, &nodes[2], 5000)); /* removed once the conn is released */
    assert_int_equal(nodes[2].snaps_received, 0);
    cluster_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_small_frames),
        cmocka_unit_test(test_codec_join),
        cmocka_unit_test(test_codec_malformed),
        cmocka_unit_test(test_codec_bounds),
        cmocka_unit_test(test_codec_truncated),
        cmocka_unit_test(test_codec_fuzz),
        cmocka_unit_test(test_tcp_messages_in_order),
        cmocka_unit_test(test_unix_messages_in_order),
        cmocka_unit_test(test_down_peer_then_up),
        cmocka_unit_test(test_wrong_cluster_refused),
        cmocka_unit_test(test_garbage_dropped),
        cmocka_unit_test(test_silent_peer),
        cmocka_unit_test(test_full_queue),
        cmocka_unit_test(test_large_messages),
        cmocka_unit_test(test_set_peer),
        cmocka_unit_test(test_snapshot_stream),
        cmocka_unit_test(test_snapshot_refused),
    };
    if (getenv("PEER_TEST") != NULL)
        cmocka_set_test_filter(getenv("PEER_TEST")); /* one test by name, to debug it */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
