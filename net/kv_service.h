/* The KV service and the maintenance methods that go with it, on a shard: etcd's checks,
 * reads served right here from the store in a lock-free read section (Range, read-only Txn),
 * writes proposed to the raft actor (Put, DeleteRange, Txn, Compact; Maintenance.Alarm) and
 * answered when the apply actor has applied them, with etcd's quota check before a write
 * (NOSPACE raises the alarm).
 *
 * A single member serves every read at the store's current revision, which already holds every
 * write acknowledged before the read began (linearizable): the apply actor publishes a revision
 * before it answers the writes in it, and shards serve nothing before the log is replayed
 * (MSG_SERVE). In a cluster a linearizable read (not serializable) waits for a read index
 * (net/read_wait.h): the raft actor answers once this member applied the leader's commit index
 * as of the request; a serializable read is served at once from what this member applied.
 *
 * Thread: the call's shard thread. */
#ifndef RINGD_KV_SERVICE_H
#define RINGD_KV_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "grpc_call.h"
#include "kv_proposal.h"
#include "msg.h"

struct shard;

/* Method handlers (grpc_method.on_message / on_cancel). */
void kv_service_range(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_put(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_delete_range(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_txn(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_compact(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_alarm(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_defragment(struct grpc_call *call, const ProtobufCMessage *request);
void kv_service_cancel(struct grpc_call *call);

/* The call's request as it came, for the raft actor to run (op: KV_OP_MEMBER_* and
 * KV_OP_MOVE_LEADER, core/raft_actor_conf.h), answered as a proposal is (kv_service_applied);
 * kv_service_cancel is its cancel. */
void kv_service_propose(struct grpc_call *call, enum kv_op op);

/* A query the apply actor answers from its own state (op KV_OP_MEMBER_LIST), answered as a
 * proposal is (kv_service_applied); kv_service_cancel is its cancel. */
void kv_service_query(struct grpc_call *call, enum kv_op op);

/* The shard's part: a proposal is answered (MSG_KV_APPLIED). */
void kv_service_applied(struct shard *s, const struct msg *m);

/* The raft actor's answer to the shard's read-index request: serve (or fail) the linearizable
 * reads it covers. */
void kv_service_read_ready(struct shard *s, const struct msg *m);

#endif
