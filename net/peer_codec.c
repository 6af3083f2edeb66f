#include "peer_codec.h"

#include <errno.h>
#include <string.h>

#include "ringd_assert.h"

enum {
    PEER_WIRE_VARINT = 0,
    PEER_WIRE_FIXED64 = 1,
    PEER_WIRE_BYTES = 2,
    PEER_WIRE_FIXED32 = 5,
};

/* Field numbers of Message (proto/raftpb/raft.proto). */
enum {
    PEER_MSG_TYPE = 1,
    PEER_MSG_TO,
    PEER_MSG_FROM,
    PEER_MSG_TERM,
    PEER_MSG_LOG_TERM,
    PEER_MSG_INDEX,
    PEER_MSG_COMMIT,
    PEER_MSG_REJECT,
    PEER_MSG_REJECT_HINT,
    PEER_MSG_CONTEXT,
    PEER_MSG_ENTRIES,
    PEER_MSG_SNAPSHOT,
};

/* ---- Writing -------------------------------------------------------------------------------- */

/* A writer that only counts when p is NULL, so one function gives both a message's size (for
 * the length prefix of a nested message and for the caller's room) and its bytes. */
struct peer_pbw {
    uint8_t *p;
    size_t n;
};

static void pbw_byte(struct peer_pbw *w, uint8_t b)
{
    if (w->p != NULL)
        w->p[w->n] = b;
    w->n++;
}

static void pbw_varint(struct peer_pbw *w, uint64_t v)
{
    while (v >= 0x80) {
        pbw_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pbw_byte(w, (uint8_t)v);
}

static void pbw_key(struct peer_pbw *w, uint32_t field, uint32_t wire)
{
    pbw_varint(w, ((uint64_t)field << 3) | wire);
}

/* proto3: a zero scalar is not written. */
static void pbw_u64(struct peer_pbw *w, uint32_t field, uint64_t v)
{
    if (v == 0)
        return;
    pbw_key(w, field, PEER_WIRE_VARINT);
    pbw_varint(w, v);
}

static void pbw_raw(struct peer_pbw *w, const void *data, size_t len)
{
    if (w->p != NULL && len > 0)
        memcpy(w->p + w->n, data, len);
    w->n += len;
}

static size_t pbw_varint_bytes(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void pbw_entry(struct peer_pbw *w, const struct raft_entry *e)
{
    pbw_u64(w, 1, e->term);
    pbw_u64(w, 2, e->index);
    pbw_u64(w, 3, e->type);
    if (e->len > 0) {
        pbw_key(w, 4, PEER_WIRE_BYTES);
        pbw_varint(w, e->len);
        pbw_raw(w, e->data, e->len);
    }
}

/* A packed repeated uint64 (proto3's default for repeated scalars). */
static void pbw_packed(struct peer_pbw *w, uint32_t field, const raft_id *ids, uint32_t n)
{
    if (n == 0)
        return;
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += pbw_varint_bytes(ids[i]);
    pbw_key(w, field, PEER_WIRE_BYTES);
    pbw_varint(w, bytes);
    for (uint32_t i = 0; i < n; i++)
        pbw_varint(w, ids[i]);
}

static void pbw_conf(struct peer_pbw *w, const struct raft_conf_state *c)
{
    pbw_packed(w, 1, c->voters, c->n_voters);
    pbw_packed(w, 2, c->learners, c->n_learners);
}

static void pbw_snapshot(struct peer_pbw *w, const struct raft_snapshot_meta *s)
{
    pbw_u64(w, 1, s->index);
    pbw_u64(w, 2, s->term);
    struct peer_pbw count = {0};
    pbw_conf(&count, &s->conf);
    pbw_key(w, 3, PEER_WIRE_BYTES);
    pbw_varint(w, count.n);
    pbw_conf(w, &s->conf);
}

static void pbw_msg(struct peer_pbw *w, const struct raft_msg *m)
{
    pbw_u64(w, PEER_MSG_TYPE, m->type);
    pbw_u64(w, PEER_MSG_TO, m->to);
    pbw_u64(w, PEER_MSG_FROM, m->from);
    pbw_u64(w, PEER_MSG_TERM, m->term);
    pbw_u64(w, PEER_MSG_LOG_TERM, m->log_term);
    pbw_u64(w, PEER_MSG_INDEX, m->index);
    pbw_u64(w, PEER_MSG_COMMIT, m->commit);
    pbw_u64(w, PEER_MSG_REJECT, m->reject);
    pbw_u64(w, PEER_MSG_REJECT_HINT, m->reject_hint);
    pbw_u64(w, PEER_MSG_CONTEXT, m->context);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        struct peer_pbw count = {0};
        pbw_entry(&count, &m->entries[i]);
        pbw_key(w, PEER_MSG_ENTRIES, PEER_WIRE_BYTES);
        pbw_varint(w, count.n);
        pbw_entry(w, &m->entries[i]);
    }
    if (m->snapshot != NULL) {
        struct peer_pbw count = {0};
        pbw_snapshot(&count, m->snapshot);
        pbw_key(w, PEER_MSG_SNAPSHOT, PEER_WIRE_BYTES);
        pbw_varint(w, count.n);
        pbw_snapshot(w, m->snapshot);
    }
}

/* A message made of varint fields 1..n only (Hello, SnapshotEnd, SnapshotAck). */
static void pbw_varints(struct peer_pbw *w, const uint64_t *vals, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        pbw_u64(w, i + 1, vals[i]);
}

void peer_codec_put_head(uint8_t *out, uint8_t type, uint32_t payload_bytes)
{
    out[0] = (uint8_t)payload_bytes;
    out[1] = (uint8_t)(payload_bytes >> 8);
    out[2] = (uint8_t)(payload_bytes >> 16);
    out[3] = (uint8_t)(payload_bytes >> 24);
    out[4] = type;
}

static size_t peer_msg_payload_bytes(const struct raft_msg *m)
{
    struct peer_pbw count = {0};
    pbw_msg(&count, m);
    return count.n;
}

size_t peer_codec_msg_frame_bytes(const struct raft_msg *m)
{
    return PEER_FRAME_HEAD_BYTES + peer_msg_payload_bytes(m);
}

int64_t peer_codec_encode_msg(const struct raft_msg *m, uint8_t *out, size_t cap)
{
    size_t payload = peer_msg_payload_bytes(m);
    if (payload > PEER_FRAME_BYTES_MAX)
        return -EMSGSIZE;
    ASSERT(cap >= PEER_FRAME_HEAD_BYTES + payload);
    peer_codec_put_head(out, PEER_FRAME_MSG, (uint32_t)payload);
    struct peer_pbw w = {.p = out + PEER_FRAME_HEAD_BYTES};
    pbw_msg(&w, m);
    ASSERT(w.n == payload);
    return (int64_t)(PEER_FRAME_HEAD_BYTES + payload);
}

static size_t peer_encode_varints(uint8_t type, const uint64_t *vals, uint32_t n, uint8_t *out)
{
    struct peer_pbw w = {.p = out + PEER_FRAME_HEAD_BYTES};
    pbw_varints(&w, vals, n);
    peer_codec_put_head(out, type, (uint32_t)w.n);
    return PEER_FRAME_HEAD_BYTES + w.n;
}

size_t peer_codec_encode_hello(const struct peer_hello *h, uint8_t *out)
{
    const uint64_t vals[] = {h->cluster_id, h->from, h->to, h->version, h->stream};
    return peer_encode_varints(PEER_FRAME_HELLO, vals, 5, out);
}

size_t peer_codec_encode_snap_end(uint64_t size, uint32_t crc, uint8_t *out)
{
    const uint64_t vals[] = {size, crc};
    return peer_encode_varints(PEER_FRAME_SNAP_END, vals, 2, out);
}

size_t peer_codec_encode_snap_ack(bool ok, uint8_t *out)
{
    const uint64_t vals[] = {ok};
    return peer_encode_varints(PEER_FRAME_SNAP_ACK, vals, 1, out);
}

size_t peer_codec_snap_begin_frame_bytes(const struct raft_msg *m)
{
    size_t msg = peer_msg_payload_bytes(m);
    /* field 1 (the message, length-prefixed) and field 2 (a varint of at most 10 bytes) */
    return PEER_FRAME_HEAD_BYTES + 1 + pbw_varint_bytes(msg) + msg + 1 + 10;
}

int64_t peer_codec_encode_snap_begin(const struct raft_msg *m, uint64_t size, uint8_t *out,
                                     size_t cap)
{
    size_t msg = peer_msg_payload_bytes(m);
    if (msg + 32 > PEER_FRAME_BYTES_MAX)
        return -EMSGSIZE;
    ASSERT(cap >= peer_codec_snap_begin_frame_bytes(m));
    struct peer_pbw w = {.p = out + PEER_FRAME_HEAD_BYTES};
    pbw_key(&w, 1, PEER_WIRE_BYTES);
    pbw_varint(&w, msg);
    pbw_msg(&w, m);
    pbw_u64(&w, 2, size);
    peer_codec_put_head(out, PEER_FRAME_SNAP_BEGIN, (uint32_t)w.n);
    return (int64_t)(PEER_FRAME_HEAD_BYTES + w.n);
}

/* ---- Reading -------------------------------------------------------------------------------- */

struct peer_pbr {
    const uint8_t *p;
    size_t pos;
    size_t end;
};

/* One field as read: its number, wire type and value (a varint's value, or bytes). */
struct peer_field {
    uint32_t num;
    uint32_t wire;
    uint64_t v;
    const uint8_t *data;
    size_t len;
};

static int pbr_varint(struct peer_pbr *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && r->pos < r->end; shift += 7) {
        uint8_t b = r->p[r->pos++];
        if (shift == 63 && b > 1)
            return -EINVAL; /* past 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

/* Reads the next field: 1, 0 at the end, or -EINVAL (a cut field, a group, field number 0). */
static int pbr_next(struct peer_pbr *r, struct peer_field *f)
{
    if (r->pos == r->end)
        return 0;
    uint64_t key;
    if (pbr_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -EINVAL;
    *f = (struct peer_field){.num = (uint32_t)(key >> 3), .wire = (uint32_t)(key & 7)};
    size_t skip = 0;
    switch (f->wire) {
    case PEER_WIRE_VARINT:
        return pbr_varint(r, &f->v) < 0 ? -EINVAL : 1;
    case PEER_WIRE_FIXED64:
        skip = 8;
        break;
    case PEER_WIRE_FIXED32:
        skip = 4;
        break;
    case PEER_WIRE_BYTES:
        if (pbr_varint(r, &f->v) < 0)
            return -EINVAL;
        skip = f->v > r->end - r->pos ? SIZE_MAX : (size_t)f->v;
        break;
    default:
        return -EINVAL;
    }
    if (skip > r->end - r->pos)
        return -EINVAL;
    f->data = r->p + r->pos;
    f->len = skip;
    r->pos += skip;
    return 1;
}

static int pbr_want(const struct peer_field *f, uint32_t wire)
{
    return f->wire == wire ? 0 : -EINVAL;
}

static void peer_entry_data(struct raft_entry *e, const struct peer_field *f)
{
    e->data = f->data;
    e->len = (uint32_t)f->len;
}

static int peer_decode_entry(const struct peer_field *in, struct raft_entry *e)
{
    struct peer_pbr r = {.p = in->data, .end = in->len};
    struct peer_field f;
    int more;
    *e = (struct raft_entry){0};
    while ((more = pbr_next(&r, &f)) > 0) {
        int err = pbr_want(&f, f.num == 4 ? PEER_WIRE_BYTES : PEER_WIRE_VARINT);
        if (f.num > 4)
            continue;
        if (err < 0)
            return err;
        if (f.num == 1)
            e->term = f.v;
        else if (f.num == 2)
            e->index = f.v;
        else if (f.num == 3 && f.v > RAFT_ENTRY_CONF_CHANGE)
            return -EINVAL;
        else if (f.num == 3)
            e->type = (uint8_t)f.v;
        else if (f.len > RAFT_ENTRY_BYTES_MAX)
            return -EMSGSIZE;
        else
            peer_entry_data(e, &f);
    }
    if (e->len == 0)
        e->data = NULL;
    return more;
}

static int peer_push_id(raft_id *ids, uint32_t *n, uint64_t v)
{
    if (*n == RAFT_MEMBERS_MAX)
        return -EMSGSIZE;
    ids[(*n)++] = v;
    return 0;
}

/* Field 1 or 2 of ConfState, packed or not (a decoder must take both). */
static int peer_decode_ids(const struct peer_field *f, raft_id *ids, uint32_t *n)
{
    if (f->wire == PEER_WIRE_VARINT)
        return peer_push_id(ids, n, f->v);
    if (f->wire != PEER_WIRE_BYTES)
        return -EINVAL;
    struct peer_pbr r = {.p = f->data, .end = f->len};
    while (r.pos < r.end) {
        uint64_t v;
        if (pbr_varint(&r, &v) < 0)
            return -EINVAL;
        int err = peer_push_id(ids, n, v);
        if (err < 0)
            return err;
    }
    return 0;
}

static int peer_decode_conf(const struct peer_field *in, struct raft_conf_state *c)
{
    struct peer_pbr r = {.p = in->data, .end = in->len};
    struct peer_field f;
    int more;
    while ((more = pbr_next(&r, &f)) > 0) {
        int err = 0;
        if (f.num == 1)
            err = peer_decode_ids(&f, c->voters, &c->n_voters);
        else if (f.num == 2)
            err = peer_decode_ids(&f, c->learners, &c->n_learners);
        if (err < 0)
            return err;
    }
    return more;
}

static int peer_decode_snapshot(const struct peer_field *in, struct raft_snapshot_meta *s)
{
    struct peer_pbr r = {.p = in->data, .end = in->len};
    struct peer_field f;
    int more;
    memset(s, 0, sizeof(*s));
    while ((more = pbr_next(&r, &f)) > 0) {
        if (f.num > 3)
            continue;
        int err = pbr_want(&f, f.num == 3 ? PEER_WIRE_BYTES : PEER_WIRE_VARINT);
        if (err == 0 && f.num == 3)
            err = peer_decode_conf(&f, &s->conf);
        if (err < 0)
            return err;
        if (f.num == 1)
            s->index = f.v;
        else if (f.num == 2)
            s->term = f.v;
    }
    return more;
}

/* The scalar fields of Message: where each goes in struct raft_msg. */
static uint64_t *peer_msg_u64(struct raft_msg *m, uint32_t num)
{
    switch (num) {
    case PEER_MSG_TO:
        return &m->to;
    case PEER_MSG_FROM:
        return &m->from;
    case PEER_MSG_TERM:
        return &m->term;
    case PEER_MSG_LOG_TERM:
        return &m->log_term;
    case PEER_MSG_INDEX:
        return &m->index;
    case PEER_MSG_COMMIT:
        return &m->commit;
    case PEER_MSG_REJECT_HINT:
        return &m->reject_hint;
    case PEER_MSG_CONTEXT:
        return &m->context;
    default:
        return NULL;
    }
}

/* One field of Message; entries go to out->entries, whose count is out->msg.n_entries. */
static int peer_decode_msg_field(const struct peer_field *f, struct peer_decoded *out)
{
    struct raft_entry *entries = out->entries;
    struct raft_msg *m = &out->msg;
    uint64_t *slot = peer_msg_u64(m, f->num);
    bool nested = f->num == PEER_MSG_ENTRIES || f->num == PEER_MSG_SNAPSHOT;
    if (f->num > PEER_MSG_SNAPSHOT)
        return 0; /* unknown: skipped */
    if (pbr_want(f, nested ? PEER_WIRE_BYTES : PEER_WIRE_VARINT) < 0)
        return -EINVAL;
    if (slot != NULL) {
        *slot = f->v;
    } else if (f->num == PEER_MSG_TYPE) {
        if (f->v >= RAFT_MSG_TYPES)
            return -EINVAL;
        m->type = (uint8_t)f->v;
    } else if (f->num == PEER_MSG_REJECT) {
        m->reject = f->v != 0;
    } else if (f->num == PEER_MSG_ENTRIES) {
        if (m->n_entries == RAFT_MSG_ENTRIES_MAX)
            return -EMSGSIZE;
        return peer_decode_entry(f, &entries[m->n_entries++]);
    } else {
        m->snapshot = &out->snapshot;
        return peer_decode_snapshot(f, &out->snapshot);
    }
    return 0;
}

int peer_codec_decode_msg(const uint8_t *payload, size_t len, struct peer_decoded *out)
{
    struct peer_pbr r = {.p = payload, .end = len};
    struct peer_field f;
    int more;
    out->msg = (struct raft_msg){0};
    while ((more = pbr_next(&r, &f)) > 0) {
        int err = peer_decode_msg_field(&f, out);
        if (err < 0)
            return err;
    }
    if (more < 0)
        return more;
    if (out->msg.n_entries > 0)
        out->msg.entries = out->entries;
    return 0;
}

/* A message of varint fields 1..n (others skipped): vals[i] gets field i + 1, or 0. */
static int peer_decode_varints(const uint8_t *payload, size_t len, uint64_t *vals, uint32_t n)
{
    struct peer_pbr r = {.p = payload, .end = len};
    struct peer_field f;
    int more;
    memset(vals, 0, n * sizeof(*vals));
    while ((more = pbr_next(&r, &f)) > 0) {
        if (f.num > n)
            continue;
        if (pbr_want(&f, PEER_WIRE_VARINT) < 0)
            return -EINVAL;
        vals[f.num - 1] = f.v;
    }
    return more;
}

int peer_codec_decode_hello(const uint8_t *payload, size_t len, struct peer_hello *out)
{
    uint64_t v[5];
    int err = peer_decode_varints(payload, len, v, 5);
    if (err < 0)
        return err;
    if (v[3] > UINT32_MAX || v[4] > UINT32_MAX)
        return -EINVAL;
    *out = (struct peer_hello){.cluster_id = v[0],
                               .from = v[1],
                               .to = v[2],
                               .version = (uint32_t)v[3],
                               .stream = (uint32_t)v[4]};
    return 0;
}

int peer_codec_decode_snap_end(const uint8_t *payload, size_t len, uint64_t *size, uint32_t *crc)
{
    uint64_t v[2];
    int err = peer_decode_varints(payload, len, v, 2);
    if (err < 0)
        return err;
    if (v[1] > UINT32_MAX)
        return -EINVAL;
    *size = v[0];
    *crc = (uint32_t)v[1];
    return 0;
}

int peer_codec_decode_snap_ack(const uint8_t *payload, size_t len, bool *ok)
{
    uint64_t v;
    int err = peer_decode_varints(payload, len, &v, 1);
    *ok = err == 0 && v != 0;
    return err;
}

int peer_codec_decode_snap_begin(const uint8_t *payload, size_t len, struct peer_decoded *out,
                                 uint64_t *size)
{
    struct peer_pbr r = {.p = payload, .end = len};
    struct peer_field f;
    int more;
    bool have_msg = false;
    *size = 0;
    while ((more = pbr_next(&r, &f)) > 0) {
        if (f.num > 2)
            continue;
        if (pbr_want(&f, f.num == 1 ? PEER_WIRE_BYTES : PEER_WIRE_VARINT) < 0)
            return -EINVAL;
        if (f.num == 2) {
            *size = f.v;
            continue;
        }
        int err = peer_codec_decode_msg(f.data, f.len, out);
        if (err < 0)
            return err;
        have_msg = true;
    }
    if (more < 0)
        return more;
    return have_msg && out->msg.type == RAFT_MSG_SNAP && out->msg.snapshot != NULL ? 0 : -EINVAL;
}

int peer_codec_frame_head(const uint8_t *buf, size_t len, uint32_t max_bytes, uint8_t *type,
                          uint32_t *payload_bytes)
{
    if (len < PEER_FRAME_HEAD_BYTES)
        return 0;
    uint32_t n =
        (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    if (n > max_bytes || n > PEER_FRAME_BYTES_MAX)
        return -EMSGSIZE;
    *type = buf[4];
    *payload_bytes = n;
    return 1;
}

/* ---- Joining ------------------------------------------------------------------------------- */

size_t peer_codec_encode_join_request(uint32_t version, uint8_t *out)
{
    const uint64_t vals[] = {version};
    return peer_encode_varints(PEER_FRAME_JOIN_REQUEST, vals, 1, out);
}

int peer_codec_decode_join_request(const uint8_t *payload, size_t len, uint32_t *version)
{
    uint64_t v;
    int err = peer_decode_varints(payload, len, &v, 1);
    if (err == 0 && v > UINT32_MAX)
        err = -EINVAL;
    *version = err == 0 ? (uint32_t)v : 0;
    return err;
}

int64_t peer_codec_encode_join_response(uint64_t cluster_id, const struct members *m, uint8_t *out,
                                        size_t cap)
{
    ASSERT(cap >= PEER_JOIN_RESPONSE_BYTES_MAX && m->count <= RAFT_MEMBERS_MAX);
    struct peer_pbw w = {.p = out + PEER_FRAME_HEAD_BYTES};
    pbw_u64(&w, 1, cluster_id);
    for (uint32_t i = 0; i < m->count; i++) {
        uint8_t packed[MEMBERS_PACKED_BYTES_MAX];
        uint32_t n = members_pack_member(&m->items[i], packed, sizeof packed);
        if (n == 0)
            return -EMSGSIZE;
        pbw_key(&w, 2, PEER_WIRE_BYTES);
        pbw_varint(&w, n);
        pbw_raw(&w, packed, n);
    }
    peer_codec_put_head(out, PEER_FRAME_JOIN_RESPONSE, (uint32_t)w.n);
    return (int64_t)(PEER_FRAME_HEAD_BYTES + w.n);
}

int peer_codec_decode_join_response(const uint8_t *payload, size_t len, uint64_t *cluster_id,
                                    struct members *out)
{
    struct peer_pbr r = {.p = payload, .end = len};
    struct peer_field f;
    int more;
    out->count = 0;
    *cluster_id = 0;
    while ((more = pbr_next(&r, &f)) > 0) {
        if (f.num > 2)
            continue;
        if (pbr_want(&f, f.num == 1 ? PEER_WIRE_VARINT : PEER_WIRE_BYTES) < 0)
            return -EINVAL;
        if (f.num == 1) {
            *cluster_id = f.v;
            continue;
        }
        int err = members_load_member(out, f.data, (uint32_t)f.len);
        if (err < 0)
            return err == -ENOSPC ? -EMSGSIZE : -EINVAL;
    }
    return more < 0 || *cluster_id == 0 || out->count == 0 ? -EINVAL : 0;
}
