#include "server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "apply.h"
#include "cluster_view.h"
#include "config.h"
#include "log.h"
#include "peer.h"
#include "raft_actor.h"
#include "snapshot.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "runtime.h"
#include "shard.h"

static int server_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* A shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
     * a signalfd. Like etcd (Go's signal.Notify), take the signals back. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    /* Blocked here, before any thread starts, so every thread inherits the mask and the
     * signals are read only from the signalfd. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static const char *server_signal_name(uint32_t signo)
{
    return signo == SIGINT ? "interrupt" : "terminated";
}

/* Waits for the actors to leave; the first signal starts the shutdown, a second one ends the
 * process at once. */
static void server_wait(struct runtime *rt, int sig_fd)
{
    struct pollfd fds[2] = {{.fd = sig_fd, .events = POLLIN},
                            {.fd = rt->exit_fd, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            ASSERT(errno == EINTR);
            continue;
        }
        if (fds[1].revents & POLLIN)
            return;
        struct signalfd_siginfo info;
        if (!(fds[0].revents & POLLIN) || read(sig_fd, &info, sizeof(info)) != sizeof(info))
            continue;
        if (runtime_stopping(rt)) {
            log_warn("received signal again; exiting at once",
                     LOG_STR("signal", server_signal_name(info.ssi_signo)));
            _exit(128 + (int)info.ssi_signo);
        }
        log_info("received signal; shutting down",
                 LOG_STR("signal", server_signal_name(info.ssi_signo)));
        runtime_stop(rt);
    }
}

/* The membership milestones etcd logs at start; raft will log them once it owns membership. */
static void server_log_members(const struct cluster_view *v)
{
    char member[17], cluster[17];
    cluster_id_format(member, sizeof member, v->member_id);
    cluster_id_format(cluster, sizeof cluster, v->cluster_id);
    log_info("starting local member", LOG_STR("local-member-id", member),
             LOG_STR("cluster-id", cluster));
    for (uint32_t i = 0; i < v->ids.members_count; i++) {
        const struct cluster_member *m = &v->ids.members[i];
        const char *urls[CLUSTER_PEER_URLS_MAX];
        for (uint32_t u = 0; u < m->peer_urls_count; u++)
            urls[u] = m->peer_urls[u];
        char added[17];
        cluster_id_format(added, sizeof added, m->id);
        log_info("added member", LOG_STR("cluster-id", cluster), LOG_STR("local-member-id", member),
                 LOG_STR("added-peer-id", added),
                 LOG_STRS("added-peer-peer-urls", urls, m->peer_urls_count));
    }
}

static int server_add_shards(struct runtime *rt, struct shard_common *common, struct shard *shards)
{
    for (uint16_t i = 0; i < common->shards; i++) {
        shards[i] = (struct shard){.common = common, .index = i};
        char name[ACTOR_NAME_BYTES_MAX];
        snprintf(name, sizeof(name), "shard-%u", i);
        int id = runtime_add(rt, name, &shard_ops, &shards[i], true);
        if (id < 0)
            return id;
    }
    return 0;
}

/* Links actors a and b both ways. */
static int server_link_both(struct runtime *rt, uint16_t a, uint16_t b)
{
    int err = runtime_link(rt, a, b, MAILBOX_CAPACITY_DEFAULT - 1);
    return err < 0 ? err : runtime_link(rt, b, a, MAILBOX_CAPACITY_DEFAULT - 1);
}

/* The apply and raft actors after the shards: every shard talks to both (proposals go to raft,
 * answers come from apply, refusals from raft), and raft hands committed entries to apply. */
static int server_add_log(struct runtime *rt, struct shard_common *common, struct raft_actor *raft,
                          struct apply *apply)
{
    for (uint16_t i = 0; i < common->shards; i++) {
        apply->shard_ids[apply->shards++] = i; /* shards were added first: their ids are 0.. */
        raft->shard_ids[raft->shards++] = i;
    }
    int apply_id = runtime_add(rt, "apply", &apply_ops, apply, false);
    if (apply_id < 0)
        return apply_id;
    int raft_id = runtime_add(rt, "raft", &raft_actor_ops, raft, false);
    if (raft_id < 0)
        return raft_id;
    common->apply_id = (uint16_t)apply_id;
    common->raft_id = (uint16_t)raft_id;
    raft->apply_id = (uint16_t)apply_id;
    apply->raft_id = (uint16_t)raft_id;
    /* Apply answers raft's batches; raft leaves once none is out, then apply after it. */
    int err = runtime_link(rt, (uint16_t)raft_id, (uint16_t)apply_id, MAILBOX_CAPACITY_DEFAULT - 1);
    if (err == 0)
        err = runtime_link_replies(rt, (uint16_t)apply_id, (uint16_t)raft_id,
                                   MAILBOX_CAPACITY_DEFAULT - 1);
    for (uint16_t i = 0; i < common->shards && err == 0; i++) {
        err = server_link_both(rt, i, (uint16_t)apply_id);
        if (err == 0)
            err = server_link_both(rt, i, (uint16_t)raft_id);
    }
    return err;
}

/* The newest snapshot into the empty store; the actors start from it. */
static int server_load_snapshot(const struct server_options *opt, struct mvcc_store *store,
                                struct apply *apply, struct raft_actor *raft)
{
    static char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    static struct snapshot_state s; /* large: the members table */
    int err = snapshot_load(opt->snap_dir, store, &s, why, sizeof why);
    if (err < 0) {
        log_error("failed to load snapshot", LOG_STR("snap-dir", opt->snap_dir),
                  LOG_STR("error", why[0] != '\0' ? why : ringd_strerror(err)));
        return err;
    }
    if (why[0] != '\0')
        log_warn("skipped bad snapshots", LOG_STR("snap-dir", opt->snap_dir),
                 LOG_STR("detail", why));
    if (snapshot_prune(opt->snap_dir, opt->max_snapshots, why, sizeof why) < 0)
        log_warn("failed to remove old snapshots", LOG_STR("error", why));
    if (s.index == 0)
        return 0;
    log_info("recovered from snapshot", LOG_U64("snapshot-index", s.index),
             LOG_U64("snapshot-term", s.term), LOG_I64("revision", s.revision),
             LOG_I64("compact-revision", s.compact_rev));
    apply->applied_term = s.term;
    apply->alarms = s.alarms;
    apply->members = s.members;
    raft->snapshot_index = s.index;
    raft->snapshot_members = &s.members;
    raft->snapshot_term = s.term;
    cluster_view_set_applied(opt->view, s.index, s.revision);
    cluster_view_set_alarms(opt->view, &s.alarms);
    return 0;
}

/* The members the transport starts with: the loaded snapshot's (members added or removed since
 * the bootstrap), else the ids' (the bootstrap members, or the list a joining member got);
 * membership entries replayed after the snapshot change them through set_peer. */
static uint32_t server_peers(const struct cluster_view *v, const struct members *snap,
                             struct peer_member *peers)
{
    static const char *urls[RAFT_MEMBERS_MAX][CLUSTER_PEER_URLS_MAX];
    bool from_snap = snap != NULL && snap->count > 0;
    uint32_t n = from_snap ? snap->count : v->ids.members_count;
    ASSERT(n <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < n; i++) {
        const struct member_info *sm = from_snap ? &snap->items[i] : NULL;
        const struct cluster_member *im = from_snap ? NULL : &v->ids.members[i];
        uint32_t n_urls = from_snap ? sm->n_peer_urls : im->peer_urls_count;
        for (uint32_t u = 0; u < n_urls; u++)
            urls[i][u] = from_snap ? sm->peer_urls[u] : im->peer_urls[u];
        peers[i] = (struct peer_member){
            .id = from_snap ? sm->id : im->id, .n_urls = n_urls, .urls = urls[i]};
    }
    return n;
}

/* The peer transport on the raft actor's loop (core/raft_transport.h), a single member's too:
 * it listens on --listen-peer-urls as etcd's does, so a member added later can join. */
static int server_peer_transport(const struct server_options *opt, struct raft_actor *raft,
                                 struct peer_transport **out)
{
    const struct cluster_ids *ids = &opt->view->ids;
    *out = NULL;
    static struct peer_member peers[RAFT_MEMBERS_MAX];
    uint32_t n = server_peers(opt->view, raft->snapshot_members, peers);
    if (opt->config == NULL)
        return 0; /* tests that assemble a server without flags */
    struct peer_transport_config c = {.member_id = ids->member_id,
                                      .cluster_id = ids->cluster_id,
                                      .listen_urls = &opt->config->listen_peer_urls,
                                      .peers = peers,
                                      .n_peers = n,
                                      .snap_dir = opt->snap_dir};
    char why[PEER_URL_ERROR_BYTES_MAX + 64];
    int err = peer_transport_create(&c, out, why, sizeof why);
    if (err < 0) {
        log_error("cannot set up the peer transport", LOG_STR("error", why));
        return err;
    }
    raft->transport = peer_transport_raft(*out);
    return 0;
}

/* etcd's quota: 0 means the default, a negative value none. */
static int64_t server_quota_bytes(int64_t flag)
{
    return flag == 0 ? CONFIG_QUOTA_BACKEND_BYTES_DEFAULT : flag;
}

/* The raft actor's settings from the flags. */
static void server_raft_options(const struct server_options *opt, struct raft_actor *raft)
{
    *raft = (struct raft_actor){.view = opt->view,
                                .wal_dir = opt->wal_dir,
                                .wal_options = opt->wal_options,
                                .snapshot_count = opt->snapshot_count,
                                .max_wals = opt->max_wals,
                                .tick_ns = opt->heartbeat_ms * 1000000u,
                                .election_ticks = (uint32_t)(opt->election_ms / opt->heartbeat_ms),
                                .election_tick_advance = opt->election_tick_advance,
                                .pre_vote = opt->config != NULL && opt->config->pre_vote,
                                .force_new_cluster =
                                    opt->config != NULL && opt->config->force_new_cluster};
    static const char *advertise[CONFIG_URLS_MAX];
    if (opt->config != NULL) {
        const struct config_urls *urls = &opt->config->advertise_client_urls;
        for (uint32_t i = 0; i < urls->count; i++)
            advertise[i] = urls->items[i].text;
        raft->client_urls = advertise;
        raft->client_urls_count = urls->count;
    }
}

int server_run(const struct server_options *opt)
{
    ASSERT(opt->shards >= 1 && opt->shards <= SHARDS_MAX);
    int sig_fd = server_signalfd();
    if (sig_fd < 0) {
        log_error("cannot set up signal handling", LOG_STR("error", strerror(errno)));
        return 1;
    }
    server_log_members(opt->view);
    static struct mvcc_store store;
    static struct apply apply;
    static struct raft_actor raft;
    apply = (struct apply){.store = &store,
                           .view = opt->view,
                           .max_txn_ops = opt->max_txn_ops,
                           .snap_dir = opt->snap_dir,
                           .snapshot_count = opt->snapshot_count,
                           .max_snapshots = opt->max_snapshots};
    server_raft_options(opt, &raft);
    struct shard_common common = {
        .view = opt->view,
        .store = &store,
        .quota_bytes = server_quota_bytes(opt->quota_backend_bytes),
        .kv_env = {.lease_exists = kv_no_leases, .max_txn_ops = opt->max_txn_ops},
        .client = opt->client,
        .client_urls = opt->client_urls,
        .client_count = opt->client_count,
        .shards = opt->shards,
        .grpc_limits = opt->grpc_limits};
    struct shard *shards = calloc(opt->shards, sizeof(*shards));
    struct runtime rt;
    struct peer_transport *peers = NULL;
    int err = shards == NULL ? -ENOMEM : mvcc_store_init(&store);
    if (err == 0)
        err = server_load_snapshot(opt, &store, &apply, &raft);
    if (err == 0)
        err = server_peer_transport(opt, &raft, &peers);
    if (err == 0)
        err = runtime_init(&rt);
    if (err == 0) {
        err = server_add_shards(&rt, &common, shards);
        if (err == 0)
            err = server_add_log(&rt, &common, &raft, &apply);
        if (err == 0)
            err = runtime_start(&rt);
        if (err == 0)
            server_wait(&rt, sig_fd);
        else
            runtime_stop(&rt);
        int actor_err = runtime_join(&rt);
        err = err < 0 ? err : actor_err;
        runtime_destroy(&rt);
    }
    if (peers != NULL)
        peer_transport_destroy(peers);
    mvcc_store_destroy(&store);
    free(shards);
    close(sig_fd);
    if (err < 0) {
        log_error("ringd server could not start", LOG_STR("error", ringd_strerror(err)));
        return 1;
    }
    if (atomic_load(&raft.restart_on_snapshot)) {
        log_info("restarting ringd server on the installed snapshot");
        return SERVER_RESTART;
    }
    log_info("stopped ringd server");
    return 0;
}
