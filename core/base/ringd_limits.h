/* Every bound ringd keeps on a queue, buffer, map or batch, in one place (STYLE.md rule 7).
 * Hitting one is back-pressure or a clear error, never unbounded growth. */
#ifndef RINGD_LIMITS_H
#define RINGD_LIMITS_H

/* Runtime: actors and their mailboxes. */
#define ACTORS_MAX               64    /* actors in one process (one bit each in a mask) */
#define SHARDS_MAX               60    /* shard actors; the rest is raft, apply, spare */
#define MAILBOX_CAPACITY_DEFAULT 4096  /* messages in one SPSC ring (power of two) */
#define MAILBOX_CAPACITY_MAX     65536 /* upper bound a caller may ask for */
#define MAILBOX_DRAIN_BATCH_MAX  256   /* messages handled from one ring before the next ring */
#define ACTOR_NAME_BYTES_MAX     16    /* thread name, as pthread_setname_np allows */

/* io_uring loop. */
#define LOOP_SQ_ENTRIES    256 /* submission queue entries per thread */
#define LOOP_CQE_BATCH_MAX 256 /* completions drained per loop turn */
#define TIMERS_PER_THREAD_MAX                                          \
    65536 /* armed timers in one thread: one per connection plus a few \
           */

/* Configuration. */
#define CONFIG_URLS_MAX            16   /* URLs in one --listen-*-urls or --advertise-*-urls */
#define CONFIG_URL_BYTES_MAX       256  /* one URL */
#define CONFIG_CLUSTER_MEMBERS_MAX 64   /* members named in --initial-cluster */
#define CONFIG_STRING_BYTES_MAX    4096 /* any other string flag, e.g. --initial-cluster */

#define CONFIG_NAME_BYTES_MAX  256   /* --name, --initial-cluster-token, other short strings */
#define CONFIG_WORD_BYTES_MAX  64    /* one-word values: --logger, --log-level */
#define CONFIG_PATH_BYTES_MAX  4096  /* --data-dir, --wal-dir (PATH_MAX) */
#define CONFIG_FLAGS_MAX       160   /* entries in the flag table */
#define CONFIG_ENV_VARS_MAX    65536 /* environment entries scanned for ETCD_* variables */
#define CONFIG_ERROR_BYTES_MAX 1024  /* one flag error message */

/* Logging. */
#define LOG_LINE_BYTES_MAX 4096 /* one JSON log line; longer field values are cut */

#define LOG_FIELDS_MAX         64  /* typed fields in one log call */
#define LOG_CALLER_BYTES_MAX   256 /* the "caller" value, file:line */
#define LOG_DURATION_BYTES_MAX 32  /* one duration as Go prints it, "-2562047h47m16.854775808s" */
#define LOG_WRITE_ATTEMPTS_MAX 16  /* write(2) calls to finish one line after short writes */

/* Client listeners and connections. */
#define LISTENERS_MAX           CONFIG_URLS_MAX
#define LISTEN_BACKLOG          4096
#define CONNS_PER_SHARD_MAX     32768 /* client connections one shard serves; more are closed */
#define SHARD_RECV_BUFFERS      512   /* provided receive buffers per shard (power of two) */
#define SHARD_RECV_BUFFER_BYTES 16384 /* bytes of one: 8 MiB per shard in all */
#define GRPC_OUTPUT_BYTES_MAX   (4u << 20) /* unsent output of one connection before reads stop */

/* gRPC server sessions (net/grpc_server, net/grpc_call). */
#define GRPC_SERVER_STREAMS_MAX       4096 /* SETTINGS_MAX_CONCURRENT_STREAMS we advertise at most */
#define GRPC_SERVER_CONN_WINDOW_BYTES (16u << 20) /* HTTP/2 connection window we grant */
#define GRPC_SERVER_STREAM_WINDOW_MIN                          \
    (64u << 10) /* stream window at the least (HTTP/2 default) \
                 */
#define GRPC_SERVER_INPUT_PARTIAL_MAX                                                            \
    (64u << 20)                                  /* bytes of unfinished messages, per connection \
                                                  */
#define GRPC_OUT_CHUNK_BYTES         16384       /* one block of a connection's pending output */
#define GRPC_OUT_CHUNKS_RETAINED_MAX 512         /* free output blocks a thread keeps: 8 MiB */
#define GRPC_CALLS_RETAINED_MAX      4096        /* free call objects a thread keeps */
#define GRPC_CALL_RETAIN_BYTES       (16u << 10) /* buffer capacity a kept call keeps */
#define GRPC_CALL_PATH_BYTES_MAX     256         /* :path kept (a longer one is unknown anyway) */
#define GRPC_CALL_CONTENT_TYPE_BYTES 64   /* content-type echoed back (longer: the base type) */
#define GRPC_CALL_ENCODING_BYTES     32   /* grpc-encoding kept for its error message */
#define GRPC_CALL_METADATA_MAX       8    /* request metadata entries kept per call */
#define GRPC_CALL_METADATA_BYTES_MAX 1024 /* their names and values; more fails the call */
#define GRPC_STREAM_SEND_BYTES_MAX   (4u << 20) /* unsent response bytes one stream may queue */
/* Nesting of sub-messages in one request: a TxnRequest nests RequestOp then TxnRequest, two
 * levels a txn, plus the innermost op and its request. Deeper requests are refused. */
#define GRPC_DECODE_DEPTH_MAX (2 * KV_TXN_DEPTH_MAX + 2)

/* Each connection arms at most one timer. */
_Static_assert(CONNS_PER_SHARD_MAX < TIMERS_PER_THREAD_MAX, "a timer per connection must fit");

/* gRPC client (net/grpc_client: tests and ringd-bench, never the server). */
#define GRPC_CLIENT_CONNS_MAX                1024  /* connections one client holds */
#define GRPC_CLIENT_CALLS_MAX                65536 /* pooled call objects in one client */
#define GRPC_CLIENT_CALLS_DEFAULT            4096  /* pool size when the caller says 0 */
#define GRPC_CLIENT_CONN_STREAMS_MAX         4096  /* streams open per connection at most */
#define GRPC_CLIENT_CONN_QUEUED_MAX          16384 /* calls waiting for a stream, per connection */
#define GRPC_CLIENT_CONN_RECV_BYTES          (64u << 10)  /* one connection's receive buffer */
#define GRPC_CLIENT_CONN_SEND_BYTES          (256u << 10) /* one connection's send buffer */
#define GRPC_CLIENT_STREAM_WINDOW_BYTES      (8u << 20)   /* our HTTP/2 window per stream */
#define GRPC_CLIENT_CONN_WINDOW_BYTES        (32u << 20)  /* our HTTP/2 window per connection */
#define GRPC_CLIENT_HEADER_LIST_BYTES_MAX    (64u << 10)  /* response header list we accept */
#define GRPC_CLIENT_RECV_MESSAGE_BYTES_MAX   (64u << 20)  /* one received message */
#define GRPC_CLIENT_SEND_MESSAGE_BYTES_MAX   (16u << 20)  /* one sent message */
#define GRPC_CLIENT_STREAM_SEND_BYTES_MAX    (16u << 20)  /* unsent bytes queued on one stream */
#define GRPC_CLIENT_CALL_RETAIN_BYTES        (16u << 10)  /* buffer capacity a pooled call keeps */
#define GRPC_CLIENT_CALL_HEADER_BYTES_MAX    1024         /* :path plus metadata of one call */
#define GRPC_CLIENT_METADATA_MAX             8            /* metadata entries of one call */
#define GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX 512          /* grpc-message kept (longer is cut) */
#define GRPC_CLIENT_AUTHORITY_BYTES_MAX      256          /* host:port sent as :authority */
#define GRPC_CLIENT_CONN_ERROR_BYTES_MAX     256          /* why a connection failed (cut) */
#define GRPC_CLIENT_DECODE_RETAIN_BYTES      (64u << 10)  /* decode scratch kept between messages */
#define GRPC_CLIENT_DESTROY_WAIT_MS          10000 /* destroy waits this long for cancelled I/O */

/* ringd-bench (bench/ringd_bench_*: the load generator, never the server). */
#define RBENCH_ENDPOINTS_MAX      16                    /* --endpoints entries */
#define RBENCH_ENDPOINT_BYTES_MAX 256                   /* one endpoint, "http://host:port" */
#define RBENCH_CONNS_MAX          GRPC_CLIENT_CONNS_MAX /* --conns */
#define RBENCH_CLIENTS_MAX        16384 /* --clients: requests (or streams) in flight at once */
#define RBENCH_KEY_BYTES_MAX      1024  /* --key-size */
#define RBENCH_VALUE_BYTES_MAX    (1u << 20) /* --val-size */
#define RBENCH_TXN_OPS_MAX        128        /* --txn-ops: etcd's default --max-txn-ops */
#define RBENCH_RANGE_KEYS_MAX     100000     /* --range-keys: keys one range reads */
#define RBENCH_WATCHERS_MAX       200000     /* --watchers */
#define RBENCH_WATCH_STREAMS_MAX  4096       /* --streams */
#define RBENCH_WATCH_KEYS_MAX     (1u << 20) /* --watched-key-total: one counter each */
#define RBENCH_CAS_KEYS_MAX       (1u << 22) /* txn-mixed: keys whose revision it remembers */
#define RBENCH_COMPARE_ROUNDS_MAX 100        /* compare --rounds */
#define RBENCH_PLOT_SERIES_MAX    16         /* runs drawn on one chart */
#define RBENCH_PLOT_POINTS_MAX    256        /* points of one percentile curve */
#define RBENCH_LABEL_BYTES_MAX    64         /* a run's name in tables, JSON and plots */
#define RBENCH_PATH_BYTES_MAX     4096       /* --csv, --plot and input file paths */
#define RBENCH_LINE_BYTES_MAX     1024       /* one line of a histogram CSV read back */
#define RBENCH_ERROR_BYTES_MAX    512        /* why a run or a flag failed */
#define RBENCH_HIST_SUB_BITS      10         /* 1024 buckets per power of two: error under 0.1% */
#define RBENCH_HIST_VALUE_US_MAX  ((1ull << 27) - 1) /* 134 s; longer latencies count as this */
#define RBENCH_SETUP_MS_MAX       60000 /* connecting, granting leases, creating watchers */

/* Request arenas (core/arena). */
#define ARENA_BLOCK_BYTES  (16u << 10) /* one block: an ordinary request fits in one */
#define ARENA_RETAIN_BYTES (64u << 10) /* kept between requests; larger blocks are freed */

/* KV service (core/kv, net/kv_service). */
#define SHARD_PROPOSALS_MAX \
    16384 /* writes a shard has at the apply actor; more: too many requests */
#define SHARD_READS_MAX \
    4096 /* linearizable reads a shard holds for a read index; more: too many requests */
#define KV_TXN_DEPTH_MAX 32 /* nesting of txns in one request; deeper is refused at decoding */

/* MVCC store (store/mvcc). */
/* Keys one compaction step visits on the apply actor: the longest compaction holds up writes
 * (bench_mvcc's compact/step measures it: docs/PERFORMANCE.md). */
#define APPLY_COMPACT_KEYS_PER_STEP 1024
#define MVCC_INDEX_PARTITIONS       4   /* skip lists the key index is split into, by key hash */
#define MVCC_SKIPLIST_LEVELS        24  /* levels of one skip list: 4^24 keys before it degrades */
#define MVCC_RETIRE_BATCH_MAX       256 /* unlinked keys or version chains per deferred free */

/* Keys a snapshot's walk visits in one read section: the longest the writer's grace periods
 * (compaction barriers, reclamation) wait for the walk. */
#define MVCC_WALK_KEYS_PER_SECTION 1024

/* Write-ahead log (io/wal). */
#define WAL_SEGMENT_BYTES       (64u << 20) /* one segment file, preallocated (etcd's size) */
#define WAL_SEGMENT_BYTES_MIN   (16u << 10) /* smallest segment an option may ask for (tests) */
#define WAL_BATCH_BYTES_DEFAULT (4u << 20)  /* one group-commit write: two such buffers per WAL */
#define WAL_BATCH_BYTES_MIN     (4u << 10)  /* smallest batch buffer an option may ask for */
#define WAL_BATCH_BYTES_MAX     (64u << 20) /* largest; a record must fit in one batch */
#define WAL_SEGMENTS_MAX        4096        /* segment files in one WAL directory */
#define WAL_READ_CHUNK_BYTES    (1u << 20)  /* recovery reads a segment this much at a time */
/* Suffixes overwritten by a new leader that one replay can resolve (kept as a monotonic
 * stack: only overwrites that each go deeper than the last one count). */
#define WAL_REPLAY_OVERWRITES_MAX 4096
#define WAL_DIR_BYTES_MAX         4096 /* the WAL directory's path (PATH_MAX) */
#define WAL_MESSAGE_BYTES_MAX     (WAL_DIR_BYTES_MAX + 1024) /* one message: a path and why */
_Static_assert(WAL_BATCH_BYTES_MAX <= WAL_SEGMENT_BYTES, "a batch must fit in a segment");

/* Snapshot files (io/snapshot_file, core/snapshot). */
#define SNAPSHOT_WRITE_BUFFER_BYTES (1u << 20) /* the writer's buffer: one write(2) when full */
#define SNAPSHOT_DIRTY_BYTES_MAX    (8u << 20) /* written but not yet on disk, before waiting */
#define SNAPSHOT_READ_CHUNK_BYTES   (1u << 20) /* the reader reads this much at a time */
/* One record's type and payload: a key, or one version with its value. A value is at most one
 * raft entry, so a record of any version fits. */
#define SNAPSHOT_RECORD_BYTES_MAX  (RAFT_ENTRY_BYTES_MAX + (1u << 20))
#define SNAPSHOT_FILES_MAX         4096 /* snapshot files one directory may hold */
#define SNAPSHOT_DIR_BYTES_MAX     4096 /* the snapshot directory's path (PATH_MAX) */
#define SNAPSHOT_MESSAGE_BYTES_MAX (2 * SNAPSHOT_DIR_BYTES_MAX + 1024) /* paths and why */

/* Alarms (core/alarm): every member with each alarm type etcd raises (NOSPACE, CORRUPT). */
#define ALARMS_MAX (2 * CONFIG_CLUSTER_MEMBERS_MAX)

/* Cluster view and Maintenance.Status. */
#define CLUSTER_PEER_URLS_MAX CONFIG_URLS_MAX /* peer URLs of one member */
/* StatusResponse.errors: "etcdserver: no leader" plus the alarms etcd can raise (NOSPACE and
 * CORRUPT) for every member. */
#define STATUS_ERRORS_MAX (1 + ALARMS_MAX)

/* Raft core (core/raft). The in-memory log window, the Ready batch and every list in it. */
#define RAFT_MEMBERS_MAX            64         /* voters and learners together */
#define RAFT_LOG_ENTRIES_MAX        (1u << 20) /* log window a config may ask for (power of two) */
#define RAFT_LOG_ENTRIES_DEFAULT    (1u << 16) /* entries kept between compactions */
#define RAFT_LOG_BYTES_MAX          (1ull << 34) /* entry data a config may ask the window to hold */
#define RAFT_LOG_BYTES_DEFAULT      (256u << 20) /* entry data held between compactions */
#define RAFT_ENTRY_BYTES_MAX        (64u << 20) /* one entry's data (at most half the window too) */
#define RAFT_MSGS_MAX               1024  /* outgoing messages per Ready, in each of its lists */
#define RAFT_MSG_ENTRIES_MAX        4096  /* entries carried by one MsgApp */
#define RAFT_OUTBOX_ENTRIES_MAX     16384 /* entries referenced by one Ready's messages */
#define RAFT_MSG_BYTES_DEFAULT      (1u << 20)  /* entry bytes per MsgApp (etcd MaxSizePerMsg) */
#define RAFT_INFLIGHT_MSGS_MAX      4096        /* unacknowledged MsgApps per follower, at most */
#define RAFT_INFLIGHT_MSGS_DEFAULT  512         /* etcd's server: 4096 / 8 */
#define RAFT_INFLIGHT_BYTES_DEFAULT (64u << 20) /* unacknowledged entry bytes per follower */
#define RAFT_APPLY_ENTRIES_MAX      4096        /* committed entries handed out per Ready */
#define RAFT_APPLY_BYTES_DEFAULT    (16u << 20) /* their bytes (etcd MaxCommittedSizePerReady) */
#define RAFT_READ_INDEX_MAX         4096 /* read-index requests waiting or answered per Ready */
#define RAFT_EVENT_BYTES_MAX        256  /* one event line handed to the caller's log hook */
#define RAFT_FORWARD_BYTES_DEFAULT  (4u << 20)  /* proposal bytes a follower forwards per Ready */
#define RAFT_CONF_CONTEXT_BYTES_MAX (64u << 10) /* a conf change's context (the member's URLs) */
_Static_assert((RAFT_LOG_ENTRIES_MAX & (RAFT_LOG_ENTRIES_MAX - 1)) == 0, "power of two");
_Static_assert((RAFT_LOG_ENTRIES_DEFAULT & (RAFT_LOG_ENTRIES_DEFAULT - 1)) == 0, "power of two");
_Static_assert(RAFT_MSG_ENTRIES_MAX <= RAFT_OUTBOX_ENTRIES_MAX, "one MsgApp fits in a Ready");

/* Peer transport (net/peer, net/peer_codec). Frames are [u32 length][u8 type][payload]. */
/* One frame's payload: a MsgApp carries at least one entry of up to RAFT_ENTRY_BYTES_MAX plus
 * up to msg_bytes_max of others, with a few bytes of framing per entry. */
#define PEER_FRAME_BYTES_MAX     (RAFT_ENTRY_BYTES_MAX + (4u << 20))
#define PEER_QUEUE_MSGS_MAX      4096 /* messages queued for one peer, not yet sent */
#define PEER_QUEUE_BYTES_MAX     PEER_FRAME_BYTES_MAX /* their bytes (at least one frame) */
#define PEER_BUFFER_BYTES_MIN    (64u << 10)          /* a buffer's first size; doubles up to max */
#define PEER_BUFFER_RETAIN_BYTES (1u << 20) /* a larger buffer is freed once it is empty */
#define PEER_INBOUND_CONNS_MAX   (4 * RAFT_MEMBERS_MAX) /* accepted connections at once */
#define PEER_BACKOFF_MS_MIN      50   /* first wait before redialing a peer that is down */
#define PEER_BACKOFF_MS_MAX      1000 /* the wait doubles up to this */
#define PEER_DIAL_TIMEOUT_MS     1000 /* a connect that takes longer fails */
#define PEER_ACCEPT_RETRY_MS     100  /* a failed accept (EMFILE...) is posted again after */
#define PEER_HELLO_TIMEOUT_MS    2000 /* the acceptor's Hello comes by then or the link drops */
#define PEER_SNAP_CHUNK_BYTES    (1u << 20) /* one snapshot chunk: one read, one frame */
#define PEER_SNAP_STREAMS_MAX    1          /* snapshot streams to one peer at once */
#define PEER_URL_ERROR_BYTES_MAX 256        /* why a peer URL was refused */
_Static_assert(PEER_FRAME_BYTES_MAX < (1u << 31), "a frame length fits in 31 bits");
_Static_assert(PEER_SNAP_CHUNK_BYTES <= PEER_FRAME_BYTES_MAX, "a chunk fits in a frame");

#endif
