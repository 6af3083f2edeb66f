/* The cluster's members; see members.h. */
#include "members.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

void members_init(struct members *m, const struct cluster_ids *ids)
{
    ASSERT(ids->members_count <= RAFT_MEMBERS_MAX);
    m->count = ids->members_count;
    for (uint32_t i = 0; i < ids->members_count; i++) {
        const struct cluster_member *src = &ids->members[i];
        struct member_info *dst = &m->items[i];
        *dst = (struct member_info){
            .id = src->id, .is_learner = src->is_learner, .n_peer_urls = src->peer_urls_count};
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

/* Copies a decoded member's URLs into urls (n_out set); false past the bounds. */
static bool members_copy_urls(char (*urls)[CONFIG_URL_BYTES_MAX], uint32_t *n_out, char *const *src,
                              size_t n)
{
    if (n > CLUSTER_PEER_URLS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!members_copy(urls[i], CONFIG_URL_BYTES_MAX, src[i]))
            return false;
    *n_out = (uint32_t)n;
    return true;
}

static Etcdserverpb__Member *members_unpack(const uint8_t *data, uint32_t len)
{
    return (Etcdserverpb__Member *)protobuf_c_message_unpack(&etcdserverpb__member__descriptor,
                                                             NULL, len, data);
}

int members_apply_attributes(struct members *m, const uint8_t *data, uint32_t len)
{
    Etcdserverpb__Member *pb = members_unpack(data, len);
    if (pb == NULL)
        return -EINVAL;
    struct member_info *mi = members_find(m, pb->id);
    int err = mi == NULL ? -ENOENT : 0;
    if (mi != NULL) {
        static _Thread_local struct member_info
            next; /* large: off the stack; raft and apply each */
        next = *mi;
        bool ok = members_copy(next.name, sizeof next.name, pb->name) &&
                  members_copy_urls(next.client_urls, &next.n_client_urls, pb->clienturls,
                                    pb->n_clienturls);
        if (ok)
            *mi = next;
        err = ok ? 0 : -EINVAL;
    }
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    return err;
}

uint32_t members_pack_member(const struct member_info *mi, uint8_t *out, uint32_t out_bytes)
{
    char *peer[CLUSTER_PEER_URLS_MAX], *client[CLUSTER_PEER_URLS_MAX];
    for (uint32_t i = 0; i < mi->n_peer_urls; i++)
        peer[i] = (char *)mi->peer_urls[i];
    for (uint32_t i = 0; i < mi->n_client_urls; i++)
        client[i] = (char *)mi->client_urls[i];
    Etcdserverpb__Member pb = ETCDSERVERPB__MEMBER__INIT;
    pb.id = mi->id;
    pb.name = (char *)mi->name;
    pb.n_peerurls = mi->n_peer_urls;
    pb.peerurls = peer;
    pb.n_clienturls = mi->n_client_urls;
    pb.clienturls = client;
    pb.islearner = mi->is_learner;
    if (protobuf_c_message_get_packed_size(&pb.base) > out_bytes)
        return 0;
    return (uint32_t)protobuf_c_message_pack(&pb.base, out);
}

/* Inserts mi in id order; -EEXIST or -ENOSPC. */
static int members_insert(struct members *m, const struct member_info *mi)
{
    if (members_find(m, mi->id) != NULL)
        return -EEXIST;
    if (m->count == RAFT_MEMBERS_MAX)
        return -ENOSPC;
    uint32_t at = m->count;
    while (at > 0 && m->items[at - 1].id > mi->id) {
        m->items[at] = m->items[at - 1];
        at--;
    }
    m->items[at] = *mi;
    m->count++;
    return 0;
}

int members_load_member(struct members *m, const uint8_t *data, uint32_t len)
{
    Etcdserverpb__Member *pb = members_unpack(data, len);
    if (pb == NULL)
        return -EINVAL;
    static _Thread_local struct member_info mi; /* large: off the stack, per thread */
    mi = (struct member_info){.id = pb->id, .is_learner = pb->islearner};
    bool ok =
        pb->id != 0 && members_copy(mi.name, sizeof mi.name, pb->name) &&
        members_copy_urls(mi.peer_urls, &mi.n_peer_urls, pb->peerurls, pb->n_peerurls) &&
        members_copy_urls(mi.client_urls, &mi.n_client_urls, pb->clienturls, pb->n_clienturls);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    return ok ? members_insert(m, &mi) : -EINVAL;
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

/* The member of another id that has one of urls as a peer URL. */
static bool members_peer_url_taken(const struct members *m, uint64_t id, char *const *urls,
                                   size_t n)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const struct member_info *mi = &m->items[i];
        for (uint32_t u = 0; mi->id != id && u < mi->n_peer_urls; u++)
            for (size_t k = 0; k < n; k++)
                if (strcmp(mi->peer_urls[u], urls[k]) == 0)
                    return true;
    }
    return false;
}

static int members_add(struct members *m, const Etcdserverpb__Member *pb)
{
    if (members_find(m, pb->id) != NULL)
        return -RINGD_EMEMBER_EXIST;
    if (members_peer_url_taken(m, pb->id, pb->peerurls, pb->n_peerurls))
        return -RINGD_EPEER_URL_EXIST;
    uint32_t learners = 0;
    for (uint32_t i = 0; i < m->count; i++)
        learners += m->items[i].is_learner;
    if (pb->islearner && learners + 1 > MEMBERS_LEARNERS_MAX)
        return -RINGD_ETOO_MANY_LEARNERS;
    static _Thread_local struct member_info mi; /* large: off the stack, per thread */
    mi = (struct member_info){.id = pb->id, .is_learner = pb->islearner};
    if (!members_copy_urls(mi.peer_urls, &mi.n_peer_urls, pb->peerurls, pb->n_peerurls))
        return -RINGD_EMEMBER_BAD_URLS;
    return members_insert(m, &mi);
}

static void members_delete(struct members *m, uint64_t id)
{
    uint32_t i = 0;
    while (i < m->count && m->items[i].id != id)
        i++;
    ASSERT(i < m->count);
    memmove(&m->items[i], &m->items[i + 1], (m->count - i - 1) * sizeof m->items[0]);
    m->count--;
}

int members_apply_change(struct members *m, enum members_change_type type,
                         const Etcdserverpb__Member *member)
{
    if (type == MEMBERS_ADD)
        return members_add(m, member);
    struct member_info *mi = members_find(m, member->id);
    if (mi == NULL)
        return -RINGD_EMEMBER_NOT_FOUND;
    switch (type) {
    case MEMBERS_REMOVE:
        members_delete(m, member->id);
        return 0;
    case MEMBERS_PROMOTE:
        if (!mi->is_learner)
            return -RINGD_EMEMBER_NOT_LEARNER;
        mi->is_learner = false;
        return 0;
    case MEMBERS_UPDATE:
        if (members_peer_url_taken(m, member->id, member->peerurls, member->n_peerurls))
            return -RINGD_EPEER_URL_EXIST;
        if (!members_copy_urls(mi->peer_urls, &mi->n_peer_urls, member->peerurls,
                               member->n_peerurls))
            return -RINGD_EMEMBER_BAD_URLS;
        return 0;
    default:
        return -EINVAL;
    }
}

/* Voters and started voters (published a name), leaving out skip. */
static void members_count_voters(const struct members *m, uint64_t skip, uint32_t *voters,
                                 uint32_t *started)
{
    *voters = *started = 0;
    for (uint32_t i = 0; i < m->count; i++) {
        const struct member_info *mi = &m->items[i];
        if (mi->is_learner || mi->id == skip)
            continue;
        (*voters)++;
        if (mi->name[0] != '\0')
            (*started)++;
    }
}

bool members_ready_to_add_voter(const struct members *m)
{
    uint32_t voters, started;
    members_count_voters(m, 0, &voters, &started);
    voters++; /* the one added */
    if (started == 1 && voters == 2)
        return true; /* etcd: a second member added to restore a one-member cluster's data */
    return started >= voters / 2 + 1;
}

bool members_ready_to_remove(const struct members *m, uint64_t id)
{
    uint32_t voters, started;
    members_count_voters(m, id, &voters, &started);
    return started >= voters / 2 + 1;
}

bool members_ready_to_promote(const struct members *m, uint64_t id)
{
    uint32_t voters, started;
    members_count_voters(m, id, &voters, &started);
    voters++; /* the learner promoted counts in the future quorum, as started (etcd) */
    started++;
    return started >= voters / 2 + 1;
}
