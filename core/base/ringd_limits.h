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
#define LOOP_SQ_ENTRIES       256   /* submission queue entries per thread */
#define LOOP_CQE_BATCH_MAX    256   /* completions drained per loop turn */
#define TIMERS_PER_THREAD_MAX 65536 /* armed timers in one thread: one per connection plus a few \
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

/* Each connection arms at most one timer. */
_Static_assert(CONNS_PER_SHARD_MAX < TIMERS_PER_THREAD_MAX, "a timer per connection must fit");

#endif
