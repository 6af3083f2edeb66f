/* The apply actor's part of a membership change: a committed conf-change entry (context: the
 * request id and the member, core/raft_actor_conf.h) changes its members table with the checks
 * every member makes alike, and the proposal, if it was made here, is answered with etcd's
 * response: MemberAdd's the member added and the list; Remove's, Update's and Promote's the
 * list; or the error.
 *
 * Thread: the apply actor's. */
#ifndef RINGD_APPLY_CONF_H
#define RINGD_APPLY_CONF_H

#include "arena.h"
#include "kv_proposal.h"
#include "members.h"
#include "raft.h"

/* Applies the conf-change entry e to members. Returns 0 with *response the answer for its
 * proposal (allocated in a, header inside it), or the change's error (nothing changed). */
int apply_conf_change(struct members *members, const struct raft_entry *e,
                      Etcdserverpb__ResponseHeader *header, struct arena *a,
                      const ProtobufCMessage **response);

#endif
