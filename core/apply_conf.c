/* The apply actor's membership changes; see apply_conf.h. */
#include "apply_conf.h"

#include <errno.h>

#include "raft_actor_conf.h"
#include "ringd_bytes.h"

/* The response of a change of type, with the member list after it (and for an add the member
 * added), allocated in a. */
static const ProtobufCMessage *conf_response(const struct members *members, uint8_t type,
                                             const Etcdserverpb__Member *added,
                                             Etcdserverpb__ResponseHeader *header, struct arena *a)
{
    Etcdserverpb__MemberListResponse list = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
    if (members_list(members, &list, a) < 0)
        return NULL;
    if (type == RAFT_CONF_ADD_VOTER || type == RAFT_CONF_ADD_LEARNER) {
        Etcdserverpb__MemberAddResponse *r = arena_alloc(a, sizeof *r);
        if (r == NULL)
            return NULL;
        etcdserverpb__member_add_response__init(r);
        r->header = header;
        r->member = (Etcdserverpb__Member *)added; /* id, peer URLs, learner: as etcd answers */
        r->n_members = list.n_members;
        r->members = list.members;
        return &r->base;
    }
    /* Remove, Update and Promote answer {header = 1, members = 2} alike: one message type
     * with the same fields packs the same bytes. */
    Etcdserverpb__MemberRemoveResponse *r = arena_alloc(a, sizeof *r);
    if (r == NULL)
        return NULL;
    etcdserverpb__member_remove_response__init(r);
    r->header = header;
    r->n_members = list.n_members;
    r->members = list.members;
    return &r->base;
}

int apply_conf_change(struct members *members, const struct raft_entry *e,
                      Etcdserverpb__ResponseHeader *header, struct arena *a,
                      const ProtobufCMessage **response)
{
    struct raft_conf_change cc;
    const void *context;
    uint32_t len;
    *response = NULL;
    if (raft_conf_change_decode(e, &cc, &context, &len) < 0 || len < RAFT_ACTOR_CONF_ID_BYTES)
        return -EINVAL;
    Etcdserverpb__Member *m = (Etcdserverpb__Member *)protobuf_c_message_unpack(
        &etcdserverpb__member__descriptor, &a->pb, len - RAFT_ACTOR_CONF_ID_BYTES,
        (const uint8_t *)context + RAFT_ACTOR_CONF_ID_BYTES);
    if (m == NULL)
        return -EINVAL;
    int err = members_apply_change(members, raft_actor_conf_members_type(cc.type), m);
    if (err == 0) {
        *response = conf_response(members, cc.type, m, header, a);
        if (*response == NULL)
            err = -ENOMEM;
    }
    return err;
}
