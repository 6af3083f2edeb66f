/* The ringd program: etcd's flags in, a running server out. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_join.h"
#include "cluster_view.h"
#include "config.h"
#include "log.h"
#include "member_ids.h"
#include "peer_join.h"
#include "ringd_assert.h"
#include "server.h"

/* Turns the parsed client URLs into listen specs (TLS schemes are refused by config_parse
 * until TLS lands, so only http and unix reach here). */
static void main_client_specs(const struct config *cfg, struct server_options *opt)
{
    const struct config_urls *urls = &cfg->listen_client_urls;
    opt->client_count = urls->count;
    for (uint32_t i = 0; i < urls->count; i++) {
        const struct config_url *u = &urls->items[i];
        struct listen_spec *spec = &opt->client[i];
        spec->is_unix = u->scheme == CONFIG_URL_UNIX || u->scheme == CONFIG_URL_UNIXS;
        snprintf(spec->host, sizeof(spec->host), "%s", u->host);
        snprintf(spec->path, sizeof(spec->path), "%s", u->socket_path);
        spec->port = u->port;
        opt->client_urls[i] = u->text;
    }
}

static void main_grpc_limits(const struct config *cfg, struct grpc_server_limits *limits)
{
    const uint64_t ms_ns = 1000000;
    /* A message is framed with a 32-bit length: requests past 2 GiB cannot be taken anyway. */
    uint64_t request_bytes = cfg->max_request_bytes;
    if (request_bytes > INT32_MAX)
        request_bytes = INT32_MAX;
    *limits = (struct grpc_server_limits){
        .max_request_bytes = (uint32_t)request_bytes,
        .max_concurrent_streams = cfg->max_concurrent_streams,
        .output_bytes_max = GRPC_OUTPUT_BYTES_MAX,
        .keepalive_interval_ns = (uint64_t)cfg->grpc_keepalive_interval_ms * ms_ns,
        .keepalive_timeout_ns = (uint64_t)cfg->grpc_keepalive_timeout_ms * ms_ns,
        .keepalive_min_time_ns = (uint64_t)cfg->grpc_keepalive_min_time_ms * ms_ns,
    };
}

/* Every client connection is a file descriptor: take the hard limit, as etcd's Go runtime does
 * at start (Go 1.19 and later raise the soft RLIMIT_NOFILE to the hard one). */
static void main_raise_nofile(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim); /* best effort: the old limit still works */
    }
}

/* fsyncs the directory holding path, which was just created in it: the WAL and snapshots
 * beneath must not vanish with an entry a crash did not keep. Returns 0 or -errno. */
static int main_sync_parent(const char *path)
{
    char parent[CONFIG_PATH_BYTES_MAX + 16];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else
        slash[slash == parent] = '\0'; /* "/x": the root */
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return err;
}

/* mkdir -p with etcd's mode (fileutil.TouchDirAll: 0700), each directory created made durable
 * in its parent, then a writability check. Returns 0 or -errno with why naming the step that
 * failed, as Go's errors read. */
static int main_touch_dir(const char *dir, char *why, size_t why_bytes)
{
    char path[CONFIG_PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (!end && *p != '/')
            continue;
        *p = '\0';
        int err = mkdir(path, 0700) == 0 ? main_sync_parent(path) : errno == EEXIST ? 0 : -errno;
        if (err < 0) {
            snprintf(why, why_bytes, "mkdir %s: %s", path, strerror(-err));
            return err;
        }
        if (end)
            break;
        *p = '/';
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int err = errno;
        snprintf(why, why_bytes, "open %s: %s", dir, strerror(err));
        return -err;
    }
    return 0;
}

/* The data dir as etcd lays it out: <data-dir>/member/wal (or --wal-dir) and member/snap. */
static void main_prepare_dirs(const struct config *cfg, char *wal_dir, size_t wal_dir_bytes,
                              char *snap_dir, size_t snap_dir_bytes)
{
    char member[CONFIG_PATH_BYTES_MAX + 16];
    char why[CONFIG_PATH_BYTES_MAX + 128];
    char error[sizeof why + 64];
    snprintf(member, sizeof member, "%s/member", cfg->data_dir);
    int n = cfg->wal_dir[0] != '\0' ? snprintf(wal_dir, wal_dir_bytes, "%s", cfg->wal_dir)
                                    : snprintf(wal_dir, wal_dir_bytes, "%s/wal", member);
    ASSERT(n > 0 && (size_t)n < wal_dir_bytes); /* the flags' paths are bounded */
    n = snprintf(snap_dir, snap_dir_bytes, "%s/snap", member);
    ASSERT(n > 0 && (size_t)n < snap_dir_bytes);
    if (main_touch_dir(member, why, sizeof why) != 0 ||
        main_touch_dir(wal_dir, why, sizeof why) != 0 ||
        main_touch_dir(snap_dir, why, sizeof why) != 0) {
        snprintf(error, sizeof error, "cannot access data directory: %s", why);
        log_warn("failed to start etcd", LOG_STR("error", error));
        log_fatal("discovery failed", LOG_STR("error", error));
    }
}

/* The disk-fault tests' hook (tests/test_disk_fault.c): with RINGD_TEST_WAL_FAIL_FDATASYNC=N in
 * the environment, the WAL's N-th fdatasync and every later one fail with EIO, as a dying disk
 * makes them. Unset (always, outside those tests) the WAL runs untouched. */
static uint64_t main_fdatasync_fail_at;
static uint64_t main_fdatasyncs;

static int main_wal_fault(void *ctx, enum wal_fault_op op)
{
    (void)ctx;
    if (op != WAL_FAULT_FDATASYNC)
        return 0;
    return ++main_fdatasyncs >= main_fdatasync_fail_at ? -EIO : 0;
}

static void main_wal_options(struct wal_options *o)
{
    *o = (struct wal_options){0};
    const char *fail_at = getenv("RINGD_TEST_WAL_FAIL_FDATASYNC");
    if (fail_at == NULL || (main_fdatasync_fail_at = strtoull(fail_at, NULL, 10)) == 0)
        return;
    log_warn("test hook: fdatasync fails from this one on",
             LOG_U64("fdatasync", main_fdatasync_fail_at));
    o->fault = main_wal_fault;
}

/* A start-up failure as etcd reports one: a warning, then a fatal line, exit 1. */
static _Noreturn void main_discovery_failed(const char *why)
{
    log_warn("failed to start etcd", LOG_STR("error", why));
    log_fatal("discovery failed", LOG_STR("error", why));
}

/* --initial-cluster-state existing: the running cluster's ids, asked of its members. */
static void main_join(struct cluster_ids *ids)
{
    static struct members existing; /* large */
    static char why[CONFIG_ERROR_BYTES_MAX * 4];
    uint64_t cluster_id = 0;
    if (peer_join_fetch(ids, PEER_JOIN_TIMEOUT_MS, &cluster_id, &existing, why, sizeof why) < 0 ||
        cluster_join_assign(ids, cluster_id, &existing, why, sizeof why) < 0)
        main_discovery_failed(why);
}

static void main_log_recorded(const struct cluster_ids *ids)
{
    char member[17], cluster[17];
    cluster_id_format(member, sizeof member, ids->member_id);
    cluster_id_format(cluster, sizeof cluster, ids->cluster_id);
    log_info("found the member's ids in the data dir; ignoring --initial-cluster, "
             "--initial-cluster-token and --initial-cluster-state",
             LOG_STR("local-member-id", member), LOG_STR("cluster-id", cluster),
             LOG_BOOL("joined", ids->join));
}

/* The member's ids: those its data dir recorded at its first start, else the bootstrap checks
 * and ids of --initial-cluster (failing as etcd does), or, joining, the running cluster's;
 * recorded before the WAL holds anything (core/member_ids.h). Then the data dir's layout. */
static void main_ids(const struct config *cfg, struct cluster_view *view, char *wal_dir,
                     size_t wal_dir_bytes, char *snap_dir, size_t snap_dir_bytes)
{
    static struct cluster_ids ids; /* large */
    static char why[CONFIG_ERROR_BYTES_MAX];
    char member[CONFIG_PATH_BYTES_MAX + 16];
    snprintf(member, sizeof member, "%s/member", cfg->data_dir);
    int loaded = member_ids_load(member, &ids, why, sizeof why);
    if (loaded < 0)
        main_discovery_failed(why);
    if (loaded == 0 && cluster_ids_compute(cfg, &ids, why, sizeof why) != 0)
        main_discovery_failed(why);
    main_prepare_dirs(cfg, wal_dir, wal_dir_bytes, snap_dir, snap_dir_bytes);
    if (loaded == 1)
        main_log_recorded(&ids);
    if (loaded == 0 && ids.join)
        main_join(&ids);
    if (loaded == 0 && member_ids_save(member, &ids, why, sizeof why) < 0)
        main_discovery_failed(why);
    cluster_view_init_ids(view, &ids, cfg->name);
}

int main(int argc, char **argv, char **envp)
{
    static struct config cfg;
    int r = config_parse(&cfg, argc, argv, envp, stdout, stderr);
    if (r == CONFIG_EXIT_OK)
        return 0;
    if (r < 0)
        return cfg.exit_status;
    log_set_level(cfg.log_level);
    main_raise_nofile();
    config_log(&cfg);

    static struct cluster_view view;
    static char wal_dir[CONFIG_PATH_BYTES_MAX + 16];
    static char snap_dir[CONFIG_PATH_BYTES_MAX + 16];
    main_ids(&cfg, &view, wal_dir, sizeof wal_dir, snap_dir, sizeof snap_dir);

    static struct server_options opt;
    opt.view = &view;
    opt.config = &cfg;
    opt.wal_dir = wal_dir;
    opt.snap_dir = snap_dir;
    opt.snapshot_count =
        cfg.snapshot_count > 0 ? cfg.snapshot_count : 10000; /* etcd: 0 = default */
    opt.max_snapshots = cfg.max_snapshots;
    opt.max_wals = cfg.max_wals > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg.max_wals;
    main_wal_options(&opt.wal_options);
    opt.wal_options.force = cfg.wal_force;
    opt.heartbeat_ms = cfg.heartbeat_interval_ms;
    opt.election_ms = cfg.election_timeout_ms;
    opt.election_tick_advance = cfg.initial_election_tick_advance;
    opt.shards = (uint16_t)cfg.shards;
    opt.quota_backend_bytes = cfg.quota_backend_bytes;
    opt.max_txn_ops = cfg.max_txn_ops > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg.max_txn_ops;
    main_client_specs(&cfg, &opt);
    main_grpc_limits(&cfg, &opt.grpc_limits);
    int rc;
    while ((rc = server_run(&opt)) == SERVER_RESTART)
        cluster_view_reset_progress(&view); /* a snapshot from the leader: start again on it */
    return rc;
}
