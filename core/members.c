/* The cluster's members; see members.h. */
#include "members.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

void members_init(struct members *m, const struct cluster_ids *ids)
{
    ASSERT(ids->members_count <= RAFT_MEMBERS_MAX);
    m->count = ids->members_count;
    for (uint32_t i = 0; i < ids->members_count; i++) {
        const struct cluster_member *src = &ids->members[i];
        struct member_info *dst = &m->items[i];
        *dst = (struct member_info){.id = src->id, .n_peer_urls = src->peer_urls_count};
        for (uint32_t u = 0; u < src->peer_urls_count; u++)
            snprintf(dst->peer_urls[u], sizeof dst->peer_urls[u], "%s", src->peer_urls[u]);
    }
}

struct member_info *members_find(struct members *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->count; i++)
        if (m->items[i].id == id)
            return &m->items[i];
    return NULL;
}

/* Copies len bytes of s as a string into out (out_bytes with the NUL); false when too long. */
static bool members_copy(char *out, size_t out_bytes, const char *s)
{
    size_t len = strlen(s);
    if (len >= out_bytes)
        return false;
    memcpy(out, s, len + 1);
    return true;
}

int members_apply_attributes(struct members *m, const uint8_t *data, uint32_t len, struct arena *a)
{
    Etcdserverpb__Member *pb = (Etcdserverpb__Member *)protobuf_c_message_unpack(
        &etcdserverpb__member__descriptor, &a->pb, len, data);
    if (pb == NULL || pb->n_clienturls > CLUSTER_PEER_URLS_MAX)
        return -EINVAL;
    struct member_info *mi = members_find(m, pb->id);
    if (mi == NULL)
        return -ENOENT;
    struct member_info next = *mi;
    if (!members_copy(next.name, sizeof next.name, pb->name))
        return -EINVAL;
    next.n_client_urls = (uint32_t)pb->n_clienturls;
    for (size_t i = 0; i < pb->n_clienturls; i++)
        if (!members_copy(next.client_urls[i], sizeof next.client_urls[i], pb->clienturls[i]))
            return -EINVAL;
    *mi = next;
    return 0;
}

uint32_t members_pack_attributes(uint64_t id, const char *name, const char *const *client_urls,
                                 uint32_t n_client_urls, uint8_t *out, uint32_t out_bytes)
{
    Etcdserverpb__Member pb = ETCDSERVERPB__MEMBER__INIT;
    pb.id = id;
    pb.name = (char *)name;
    pb.n_clienturls = n_client_urls;
    pb.clienturls = (char **)client_urls;
    size_t need = protobuf_c_message_get_packed_size(&pb.base);
    if (need > out_bytes)
        return 0;
    return (uint32_t)protobuf_c_message_pack(&pb.base, out);
}

/* Pointers to n strings of a member's table, for protobuf. */
static char **members_strings(char (*urls)[CONFIG_URL_BYTES_MAX], uint32_t n, struct arena *a)
{
    char **out = arena_alloc(a, (n > 0 ? n : 1) * sizeof *out);
    for (uint32_t i = 0; out != NULL && i < n; i++)
        out[i] = urls[i];
    return out;
}

int members_list(const struct members *m, Etcdserverpb__MemberListResponse *resp, struct arena *a)
{
    Etcdserverpb__Member **list = arena_alloc(a, (m->count > 0 ? m->count : 1) * sizeof *list);
    if (list == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < m->count; i++) {
        struct member_info *mi = (struct member_info *)&m->items[i];
        Etcdserverpb__Member *pb = arena_alloc(a, sizeof *pb);
        if (pb == NULL)
            return -ENOMEM;
        etcdserverpb__member__init(pb);
        pb->id = mi->id;
        pb->name = mi->name;
        pb->islearner = mi->is_learner;
        pb->n_peerurls = mi->n_peer_urls;
        pb->peerurls = members_strings(mi->peer_urls, mi->n_peer_urls, a);
        pb->n_clienturls = mi->n_client_urls;
        pb->clienturls = members_strings(mi->client_urls, mi->n_client_urls, a);
        if (pb->peerurls == NULL || pb->clienturls == NULL)
            return -ENOMEM;
        list[i] = pb;
    }
    resp->n_members = m->count;
    resp->members = list;
    return 0;
}
