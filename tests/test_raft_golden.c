/* Golden-script tests for core/raft, in the style of etcd's raft testdata: each
 * tests/raft/<name>.txt is a list of commands, each followed by "----" and the output it must
 * print, ending at a blank line. The driver runs every script against an in-memory cluster
 * (durable storage per member, a message queue between them), compares the output command by
 * command, and prints a line diff on a mismatch. REWRITE=1 writes the actual output back into
 * the scripts for review (git diff).
 *
 * Commands:
 *   add-nodes N voters=(1,2,3) [learners=(4)] [index=I] [pre-vote=true] [check-quorum=true]
 *             [election=10] [heartbeat=1] [log-entries=N] [inflight=N] [max-msg-bytes=N]
 *             (no voters and no learners: members joining an existing cluster, empty)
 *   campaign ID | propose ID DATA... | read-index ID CTX
 *   propose-conf-change ID CHANGE... [context=TEXT]   one proposal per CHANGE: v4 (add voter
 *                              4), l4 (add learner), r4 (remove), p4 (promote), u4 (update);
 *                              process-ready applies committed ones (raft_apply_conf_change)
 *   transfer-leader ID to=N
 *   tick ID [N] | tick-election ID | tick-heartbeat ID
 *   process-ready ID...        handle one Ready each: persist, queue messages, apply, advance
 *   deliver-msgs [ID...] [drop=(ID,...)]   step queued messages to those members (all: none
 *                              named); drop= discards the messages to the listed members
 *   stabilize [ID...]          process-ready and deliver-msgs until nothing moves
 *   status ID | raft-log ID | raft-state
 *   restart ID [applied=N]     a crash: the member comes back from its durable storage only
 *   compact ID INDEX           the member snapshots at INDEX and compacts its log
 *   report-unreachable ID PEER | log-level none|info */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"
#include "ringd_error.h"

#define NODES_MAX    8
#define NET_MSGS_MAX 65536
#define ARGS_MAX     16
#define SCRIPT_MAX   256 /* commands in one script */

/* ---- output ----------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len;
    size_t cap;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = o->cap - o->len;
        int n = vsnprintf(o->buf + o->len, room, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)n + 256;
        o->buf = realloc(o->buf, o->cap);
        assert_non_null(o->buf);
    }
}

/* ---- the cluster ------------------------------------------------------------------------ */

struct node {
    raft_id id;
    struct raft *r;
    struct raft_config cfg;
    /* Durable storage: what survives restart. */
    struct raft_snapshot_meta snap;
    struct raft_hard_state hs;
    struct raft_entry *ents; /* data malloc'd per entry */
    uint32_t n_ents;
    uint32_t cap_ents;
    raft_index applied; /* the state machine's (in memory) */
};

struct net_msg {
    struct raft_msg m;
    struct raft_entry *ents;
    struct raft_snapshot_meta *snap;
};

struct env {
    struct node nodes[NODES_MAX];
    uint32_t n_nodes;
    struct net_msg *net;
    uint32_t n_net;
    struct out *out;
    bool log_info;
    const char *indent;
};

static void on_event(void *ctx, const char *line)
{
    struct env *e = ctx;
    if (e->log_info)
        out_printf(e->out, "%sINFO %s\n", e->indent, line);
}

static struct node *node_get(struct env *e, raft_id id)
{
    assert_true(id >= 1 && id <= e->n_nodes);
    return &e->nodes[id - 1];
}

static uint8_t *dup_bytes(const uint8_t *p, uint32_t len)
{
    if (len == 0)
        return NULL;
    uint8_t *d = malloc(len);
    assert_non_null(d);
    memcpy(d, p, len);
    return d;
}

static void free_entries(struct raft_entry *ents, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free((void *)ents[i].data);
    free(ents);
}

/* ---- describing things as etcd's raft does (DescribeEntry, DescribeMessage) -------------- */

static void describe_data(struct out *o, const uint8_t *p, uint32_t len)
{
    out_printf(o, "\"");
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            out_printf(o, "%c", p[i]);
        else
            out_printf(o, "\\x%02x", p[i]);
    }
    out_printf(o, "\"");
}

static const char conf_change_letters[RAFT_CONF_CHANGE_TYPES + 1] = "vlrpu";

static void describe_entry(struct out *o, const struct raft_entry *e)
{
    out_printf(o, "%" PRIu64 "/%" PRIu64 " %s ", e->term, e->index, raft_entry_type_name(e->type));
    struct raft_conf_change cc;
    const void *ctx;
    uint32_t len;
    if (e->type == RAFT_ENTRY_CONF_CHANGE && raft_conf_change_decode(e, &cc, &ctx, &len) == 0) {
        out_printf(o, "%c%" PRIx64 " ", conf_change_letters[cc.type], cc.id);
        describe_data(o, ctx, len);
        return;
    }
    describe_data(o, e->data, e->len);
}

static void describe_ids(struct out *o, const raft_id *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out_printf(o, "%s%" PRIx64, i ? " " : "", ids[i]);
}

static void describe_snapshot(struct out *o, const struct raft_snapshot_meta *s)
{
    out_printf(o, "Index:%" PRIu64 " Term:%" PRIu64 " ConfState:Voters:[", s->index, s->term);
    describe_ids(o, s->conf.voters, s->conf.n_voters);
    out_printf(o, "] Learners:[");
    describe_ids(o, s->conf.learners, s->conf.n_learners);
    out_printf(o, "]");
}

static void describe_msg(struct out *o, const struct raft_msg *m)
{
    out_printf(o, "%" PRIx64 "->%" PRIx64 " %s Term:%" PRIu64 " Log:%" PRIu64 "/%" PRIu64, m->from,
               m->to, raft_msg_type_name(m->type), m->term, m->log_term, m->index);
    if (m->reject)
        out_printf(o, " Rejected (Hint: %" PRIu64 ")", m->reject_hint);
    if (m->commit != 0)
        out_printf(o, " Commit:%" PRIu64, m->commit);
    if (m->context != 0)
        out_printf(o, " Context:%" PRIu64, m->context);
    if (m->n_entries > 0) {
        out_printf(o, " Entries:[");
        for (uint32_t i = 0; i < m->n_entries; i++) {
            if (i > 0)
                out_printf(o, ", ");
            describe_entry(o, &m->entries[i]);
        }
        out_printf(o, "]");
    }
    if (m->snapshot != NULL) {
        out_printf(o, " Snapshot: ");
        describe_snapshot(o, m->snapshot);
    }
}

static void describe_ready_lists(struct out *o, const char *ind, const struct raft_ready *rd)
{
    if (rd->n_entries > 0)
        out_printf(o, "%sEntries:\n", ind);
    for (uint32_t i = 0; i < rd->n_entries; i++) {
        out_printf(o, "%s", ind);
        describe_entry(o, &rd->entries[i]);
        out_printf(o, "\n");
    }
    if (rd->n_committed > 0)
        out_printf(o, "%sCommittedEntries:\n", ind);
    for (uint32_t i = 0; i < rd->n_committed; i++) {
        out_printf(o, "%s", ind);
        describe_entry(o, &rd->committed[i]);
        out_printf(o, "\n");
    }
    if (rd->n_msgs_send_now > 0)
        out_printf(o, "%sMessages (send now):\n", ind);
    for (uint32_t i = 0; i < rd->n_msgs_send_now; i++) {
        out_printf(o, "%s", ind);
        describe_msg(o, &rd->msgs_send_now[i]);
        out_printf(o, "\n");
    }
    if (rd->n_msgs_after_persist > 0)
        out_printf(o, "%sMessages (after persist):\n", ind);
    for (uint32_t i = 0; i < rd->n_msgs_after_persist; i++) {
        out_printf(o, "%s", ind);
        describe_msg(o, &rd->msgs_after_persist[i]);
        out_printf(o, "\n");
    }
    for (uint32_t i = 0; i < rd->n_read_states; i++)
        out_printf(o, "%sReadState context:%" PRIu64 " index:%" PRIu64 "\n", ind,
                   rd->read_states[i].context, rd->read_states[i].index);
}

static void describe_ready(struct out *o, const char *ind, const struct raft_ready *rd)
{
    out_printf(o, "%sReady MustSync=%s:\n", ind, rd->must_sync ? "true" : "false");
    if (rd->soft_state_changed)
        out_printf(o, "%sLead:%" PRIx64 " State:%s\n", ind, rd->leader, raft_state_name(rd->state));
    if (rd->has_hard_state)
        out_printf(o, "%sHardState Term:%" PRIu64 " Vote:%" PRIx64 " Commit:%" PRIu64 "\n", ind,
                   rd->hard_state.term, rd->hard_state.vote, rd->hard_state.commit);
    if (rd->snapshot != NULL) {
        out_printf(o, "%sSnapshot ", ind);
        describe_snapshot(o, rd->snapshot);
        out_printf(o, "\n");
    }
    describe_ready_lists(o, ind, rd);
}

/* ---- storage and network ---------------------------------------------------------------- */

static void storage_append(struct node *n, const struct raft_entry *ents, uint32_t count)
{
    if (count == 0)
        return;
    /* Entries from ents[0].index on are replaced, as the WAL's replay does. */
    while (n->n_ents > 0 && n->ents[n->n_ents - 1].index >= ents[0].index) {
        n->n_ents--;
        free((void *)n->ents[n->n_ents].data);
    }
    assert_true(n->n_ents == 0 || n->ents[n->n_ents - 1].index + 1 == ents[0].index);
    if (n->n_ents + count > n->cap_ents) {
        n->cap_ents = (n->n_ents + count) * 2;
        n->ents = realloc(n->ents, n->cap_ents * sizeof(n->ents[0]));
        assert_non_null(n->ents);
    }
    for (uint32_t i = 0; i < count; i++) {
        n->ents[n->n_ents] = ents[i];
        n->ents[n->n_ents].data = dup_bytes(ents[i].data, ents[i].len);
        n->n_ents++;
    }
}

static void storage_install(struct node *n, const struct raft_snapshot_meta *s)
{
    /* The snapshot replaces the whole log (see raft.h). */
    for (uint32_t i = 0; i < n->n_ents; i++)
        free((void *)n->ents[i].data);
    n->n_ents = 0;
    n->snap = *s;
    n->applied = s->index;
}

static void net_push(struct env *e, const struct raft_msg *m)
{
    assert_true(e->n_net < NET_MSGS_MAX);
    if (e->net == NULL) {
        e->net = calloc(NET_MSGS_MAX, sizeof(e->net[0]));
        assert_non_null(e->net);
    }
    struct net_msg *nm = &e->net[e->n_net++];
    nm->m = *m;
    nm->ents = NULL;
    nm->snap = NULL;
    if (m->n_entries > 0) {
        nm->ents = calloc(m->n_entries, sizeof(nm->ents[0]));
        assert_non_null(nm->ents);
        for (uint32_t i = 0; i < m->n_entries; i++) {
            nm->ents[i] = m->entries[i];
            nm->ents[i].data = dup_bytes(m->entries[i].data, m->entries[i].len);
        }
    }
    nm->m.entries = nm->ents;
    if (m->snapshot != NULL) {
        nm->snap = malloc(sizeof(*nm->snap));
        assert_non_null(nm->snap);
        *nm->snap = *m->snapshot;
    }
    nm->m.snapshot = nm->snap;
}

static void net_free(struct net_msg *nm)
{
    free_entries(nm->ents, nm->m.n_entries);
    free(nm->snap);
}

/* The caller's part of a committed membership change: hand it to raft as it is applied. */
static void apply_conf_change(struct env *e, struct node *n, const struct raft_entry *ent)
{
    struct raft_conf_change cc;
    assert_int_equal(raft_conf_change_decode(ent, &cc, NULL, NULL), 0);
    struct raft_conf_state conf;
    int rc = raft_apply_conf_change(n->r, &cc, &conf);
    if (rc != 0)
        out_printf(e->out, "%sconf change %c%" PRIx64 " refused: %s\n", e->indent,
                   conf_change_letters[cc.type], cc.id, ringd_strerror(rc));
}

/* One Ready of member n: print, persist, queue the messages, apply, advance. */
static void process_ready(struct env *e, struct node *n)
{
    struct raft_ready rd;
    raft_ready(n->r, &rd);
    describe_ready(e->out, e->indent, &rd);
    if (rd.snapshot != NULL)
        storage_install(n, rd.snapshot);
    storage_append(n, rd.entries, rd.n_entries);
    if (rd.has_hard_state)
        n->hs = rd.hard_state;
    /* The durability rule: the persisted commit never passes the persisted log. */
    raft_index last = n->n_ents ? n->ents[n->n_ents - 1].index : n->snap.index;
    assert_true(n->hs.commit <= last);
    for (uint32_t i = 0; i < rd.n_msgs_send_now; i++)
        net_push(e, &rd.msgs_send_now[i]);
    for (uint32_t i = 0; i < rd.n_msgs_after_persist; i++)
        net_push(e, &rd.msgs_after_persist[i]);
    for (uint32_t i = 0; i < rd.n_committed; i++) {
        assert_int_equal(rd.committed[i].index, n->applied + 1); /* once, in order */
        assert_true(rd.committed[i].index <= last);              /* durable here */
        n->applied = rd.committed[i].index;
        if (rd.committed[i].type == RAFT_ENTRY_CONF_CHANGE)
            apply_conf_change(e, n, &rd.committed[i]);
    }
    raft_advance(n->r, &rd);
}

static bool in_list(raft_id id, const raft_id *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Delivers (or drops) every queued message to a member in to (all members when n_to is 0),
 * in queue order; messages to others stay queued. Returns how many were delivered. */
static uint32_t deliver(struct env *e, const raft_id *to, uint32_t n_to, const raft_id *drop,
                        uint32_t n_drop)
{
    uint32_t kept = 0, done = 0;
    uint32_t n_net = e->n_net;
    for (uint32_t i = 0; i < n_net; i++) {
        struct net_msg *nm = &e->net[i];
        bool dropped = in_list(nm->m.to, drop, n_drop);
        if (!dropped && n_to > 0 && !in_list(nm->m.to, to, n_to)) {
            e->net[kept++] = *nm;
            continue;
        }
        out_printf(e->out, "%s%s", e->indent, dropped ? "dropped: " : "");
        describe_msg(e->out, &nm->m);
        out_printf(e->out, "\n");
        if (!dropped) {
            int rc = raft_step(node_get(e, nm->m.to)->r, &nm->m);
            if (rc != 0)
                out_printf(e->out, "%serror: %s\n", e->indent, ringd_strerror(rc));
            done++;
        }
        /* The transport streams snapshots and says how it went (etcd ReportSnapshot). */
        if (nm->m.type == RAFT_MSG_SNAP)
            raft_report_snapshot(node_get(e, nm->m.from)->r, nm->m.to, !dropped);
        net_free(nm);
    }
    assert_true(e->n_net == n_net); /* stepping queues nothing on the network */
    e->n_net = kept;
    return done;
}

/* ---- arguments -------------------------------------------------------------------------- */

struct args {
    char *words[ARGS_MAX]; /* positional, after the command */
    uint32_t n_words;
    char *keys[ARGS_MAX];
    char *vals[ARGS_MAX];
    uint32_t n_keys;
};

/* Splits line in place: words, and key=value pairs (values may be "(1,2 3)"). */
static char *parse_args(char *line, struct args *a)
{
    memset(a, 0, sizeof(*a));
    char *cmd = NULL;
    char *p = line;
    while (*p != '\0') {
        while (*p == ' ')
            *p++ = '\0';
        if (*p == '\0')
            break;
        char *tok = p;
        int depth = 0;
        while (*p != '\0' && (*p != ' ' || depth > 0)) {
            depth += *p == '(';
            depth -= *p == ')';
            p++;
        }
        if (*p != '\0')
            *p++ = '\0';
        char *eq = strchr(tok, '=');
        if (cmd == NULL) {
            cmd = tok;
        } else if (eq != NULL) {
            assert_true(a->n_keys < ARGS_MAX);
            *eq = '\0';
            a->keys[a->n_keys] = tok;
            a->vals[a->n_keys++] = eq + 1;
        } else {
            assert_true(a->n_words < ARGS_MAX);
            a->words[a->n_words++] = tok;
        }
    }
    return cmd;
}

static const char *arg_val(const struct args *a, const char *key)
{
    for (uint32_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys[i], key) == 0)
            return a->vals[i];
    return NULL;
}

static uint64_t arg_u64(const struct args *a, const char *key, uint64_t def)
{
    const char *v = arg_val(a, key);
    return v == NULL ? def : strtoull(v, NULL, 10);
}

static bool arg_bool(const struct args *a, const char *key)
{
    const char *v = arg_val(a, key);
    return v != NULL && strcmp(v, "true") == 0;
}

/* "(1,2 3)" or "1" into ids; returns the count. */
static uint32_t parse_ids(const char *v, raft_id *ids, uint32_t max)
{
    uint32_t n = 0;
    if (v == NULL)
        return 0;
    while (*v != '\0') {
        if (*v >= '0' && *v <= '9') {
            char *end;
            assert_true(n < max);
            ids[n++] = strtoull(v, &end, 10);
            v = end;
        } else {
            v++;
        }
    }
    return n;
}

static raft_id word_id(const struct args *a, uint32_t i)
{
    assert_true(i < a->n_words);
    return strtoull(a->words[i], NULL, 10);
}

/* ---- commands --------------------------------------------------------------------------- */

static void node_start(struct env *e, struct node *n, raft_index applied)
{
    (void)e;
    n->r = raft_create(&n->cfg);
    assert_non_null(n->r);
    assert_int_equal(raft_restore_snapshot(n->r, &n->snap), 0);
    assert_int_equal(raft_restore_entries(n->r, n->ents, n->n_ents), 0);
    assert_int_equal(raft_restore_finish(n->r, &n->hs, applied), 0);
    n->applied = applied;
}

static void node_config(struct env *e, struct node *n, const struct args *a)
{
    raft_config_default(&n->cfg, n->id);
    n->cfg.election_ticks = (uint32_t)arg_u64(a, "election", 10);
    n->cfg.heartbeat_ticks = (uint32_t)arg_u64(a, "heartbeat", 1);
    n->cfg.pre_vote = arg_bool(a, "pre-vote");
    n->cfg.check_quorum = arg_bool(a, "check-quorum");
    n->cfg.log_entries_max = (uint32_t)arg_u64(a, "log-entries", 256);
    n->cfg.log_bytes_max = arg_u64(a, "log-bytes", 1u << 20);
    n->cfg.inflight_msgs_max = (uint32_t)arg_u64(a, "inflight", 256);
    n->cfg.msg_bytes_max = (uint32_t)arg_u64(a, "max-msg-bytes", 1u << 20);
    n->cfg.on_event = on_event;
    n->cfg.event_ctx = e;
}

static void cmd_add_nodes(struct env *e, const struct args *a)
{
    uint32_t count = (uint32_t)word_id(a, 0);
    struct raft_conf_state conf = {0};
    conf.n_voters = parse_ids(arg_val(a, "voters"), conf.voters, RAFT_MEMBERS_MAX);
    conf.n_learners = parse_ids(arg_val(a, "learners"), conf.learners, RAFT_MEMBERS_MAX);
    raft_index index = arg_u64(a, "index", 0);
    assert_true(e->n_nodes + count <= NODES_MAX);
    for (uint32_t k = 0; k < count; k++) {
        struct node *n = &e->nodes[e->n_nodes];
        memset(n, 0, sizeof(*n));
        n->id = ++e->n_nodes;
        node_config(e, n, a);
        n->snap = (struct raft_snapshot_meta){.index = index, .term = index ? 1 : 0, .conf = conf};
        n->hs = (struct raft_hard_state){.term = n->snap.term};
        node_start(e, n, index);
    }
}

static void print_rc(struct env *e, int rc)
{
    if (rc != 0)
        out_printf(e->out, "error: %s\n", ringd_strerror(rc));
}

static void cmd_propose(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    for (uint32_t i = 1; i < a->n_words; i++) {
        raft_index index = 0;
        int rc = raft_propose(n->r, a->words[i], (uint32_t)strlen(a->words[i]), &index);
        print_rc(e, rc);
    }
}

/* "v4" into a change; false for anything else. */
static bool parse_conf_change(const char *w, struct raft_conf_change *cc)
{
    const char *l = strchr(conf_change_letters, w[0]);
    if (w[0] == '\0' || l == NULL || l - conf_change_letters >= RAFT_CONF_CHANGE_TYPES)
        return false;
    *cc = (struct raft_conf_change){.type = (uint8_t)(l - conf_change_letters),
                                    .id = strtoull(w + 1, NULL, 10)};
    return true;
}

static void cmd_propose_conf_change(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    const char *ctx = arg_val(a, "context");
    for (uint32_t i = 1; i < a->n_words; i++) {
        struct raft_conf_change cc;
        if (!parse_conf_change(a->words[i], &cc))
            fail_msg("bad conf change %s", a->words[i]);
        raft_index index = 0;
        print_rc(e,
                 raft_propose_conf_change(n->r, &cc, ctx, ctx ? (uint32_t)strlen(ctx) : 0, &index));
    }
}

/* Ticks until the member's role or term changes, at most two election timeouts (any
 * randomized timeout fires within them). */
static void cmd_tick_election(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    struct raft_status before, now;
    raft_status(n->r, &before);
    for (uint32_t i = 0; i < 2 * n->cfg.election_ticks; i++) {
        raft_tick(n->r);
        raft_status(n->r, &now);
        if (now.state != before.state || now.hard_state.term != before.hard_state.term)
            break;
    }
}

static void cmd_tick(struct env *e, const struct args *a, uint32_t count)
{
    struct node *n = node_get(e, word_id(a, 0));
    if (count == 0)
        count = a->n_words > 1 ? (uint32_t)word_id(a, 1) : 1;
    for (uint32_t i = 0; i < count; i++)
        raft_tick(n->r);
}

static void cmd_process_ready(struct env *e, const struct args *a)
{
    for (uint32_t i = 0; i < a->n_words; i++) {
        struct node *n = node_get(e, word_id(a, i));
        out_printf(e->out, "> %" PRIx64 " handling Ready\n", n->id);
        e->indent = "  ";
        if (raft_has_ready(n->r))
            process_ready(e, n);
        else
            out_printf(e->out, "  <empty Ready>\n");
        e->indent = "";
    }
}

static void cmd_deliver(struct env *e, const struct args *a)
{
    raft_id to[NODES_MAX], drop[NODES_MAX];
    uint32_t n_to = 0;
    for (uint32_t i = 0; i < a->n_words; i++) {
        assert_true(n_to < NODES_MAX);
        to[n_to++] = word_id(a, i);
    }
    uint32_t n_drop = parse_ids(arg_val(a, "drop"), drop, NODES_MAX);
    deliver(e, to, n_to, drop, n_drop);
}

static bool has_msgs_to(const struct env *e, raft_id id)
{
    for (uint32_t i = 0; i < e->n_net; i++)
        if (e->net[i].m.to == id)
            return true;
    return false;
}

static bool stabilize_round(struct env *e, const raft_id *ids, uint32_t n_ids)
{
    bool moved = false;
    e->indent = "  ";
    for (uint32_t i = 0; i < n_ids; i++) {
        struct node *n = node_get(e, ids[i]);
        if (!raft_has_ready(n->r))
            continue;
        out_printf(e->out, "> %" PRIx64 " handling Ready\n", n->id);
        process_ready(e, n);
        moved = true;
    }
    for (uint32_t i = 0; i < n_ids; i++) {
        if (!has_msgs_to(e, ids[i]))
            continue;
        out_printf(e->out, "> %" PRIx64 " receiving messages\n", ids[i]);
        deliver(e, &ids[i], 1, NULL, 0);
        moved = true;
    }
    e->indent = "";
    return moved;
}

static void cmd_stabilize(struct env *e, const struct args *a)
{
    raft_id ids[NODES_MAX];
    uint32_t n_ids = 0;
    for (uint32_t i = 0; i < a->n_words; i++)
        ids[n_ids++] = word_id(a, i);
    if (n_ids == 0)
        for (uint32_t i = 0; i < e->n_nodes; i++)
            ids[n_ids++] = e->nodes[i].id;
    for (uint32_t round = 0;; round++) {
        assert_true(round < 1000); /* a cluster that never settles is a bug */
        if (!stabilize_round(e, ids, n_ids))
            return;
    }
}

static void cmd_status(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    static struct raft_status st;
    raft_status(n->r, &st);
    out_printf(e->out,
               "%" PRIx64 ": %s term=%" PRIu64 " vote=%" PRIx64 " leader=%" PRIx64
               " commit=%" PRIu64 " applied=%" PRIu64 " persisted=%" PRIu64 " last=%" PRIu64
               " first=%" PRIu64 "\n",
               st.id, raft_state_name(st.state), st.hard_state.term, st.hard_state.vote, st.leader,
               st.hard_state.commit, st.applied, st.persisted, st.last, st.first);
    if (st.lead_transferee != RAFT_NONE)
        out_printf(e->out, "  transferring leadership to %" PRIx64 "\n", st.lead_transferee);
    if (st.state != RAFT_LEADER)
        return;
    for (uint32_t i = 0; i < st.n_members; i++) {
        const struct raft_member_status *m = &st.members[i];
        out_printf(e->out, "  %" PRIx64 ": %s match=%" PRIu64 " next=%" PRIu64 "%s%s%s", m->id,
                   raft_progress_state_name(m->state), m->match, m->next,
                   m->learner ? " learner" : "", m->paused ? " paused" : "",
                   m->recent_active ? "" : " inactive");
        if (m->inflight_msgs > 0)
            out_printf(e->out, " inflight=%u", m->inflight_msgs);
        out_printf(e->out, "\n");
    }
}

static void cmd_raft_log(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    if (n->snap.index > 0)
        out_printf(e->out, "snapshot index=%" PRIu64 " term=%" PRIu64 "\n", n->snap.index,
                   n->snap.term);
    if (n->n_ents == 0)
        out_printf(e->out, "log is empty\n");
    for (uint32_t i = 0; i < n->n_ents; i++) {
        describe_entry(e->out, &n->ents[i]);
        out_printf(e->out, "\n");
    }
}

static void cmd_raft_state(struct env *e)
{
    static struct raft_status st;
    for (uint32_t i = 0; i < e->n_nodes; i++) {
        raft_status(e->nodes[i].r, &st);
        out_printf(e->out, "%" PRIx64 ": %s Term:%" PRIu64 " Lead:%" PRIx64 "\n", st.id,
                   raft_state_name(st.state), st.hard_state.term, st.leader);
    }
}

static void cmd_restart(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    raft_destroy(n->r);
    node_start(e, n, arg_u64(a, "applied", n->snap.index));
}

static void cmd_compact(struct env *e, const struct args *a)
{
    struct node *n = node_get(e, word_id(a, 0));
    raft_index index = word_id(a, 1);
    uint32_t k = 0;
    while (k < n->n_ents && n->ents[k].index < index)
        k++;
    assert_true(k < n->n_ents && n->ents[k].index == index);
    /* The members as of the applied index (conf changes are applied with their entries):
     * compact at the applied index when membership changed since. */
    static struct raft_status st;
    raft_status(n->r, &st);
    struct raft_snapshot_meta meta = {.index = index, .term = n->ents[k].term, .conf = st.conf};
    assert_int_equal(raft_compact(n->r, &meta, index), 0);
    for (uint32_t i = 0; i <= k; i++)
        free((void *)n->ents[i].data);
    memmove(n->ents, n->ents + k + 1, (n->n_ents - k - 1) * sizeof(n->ents[0]));
    n->n_ents -= k + 1;
    n->snap = meta;
}

static void run_command(struct env *e, const char *cmd, const struct args *a)
{
    if (strcmp(cmd, "add-nodes") == 0)
        cmd_add_nodes(e, a);
    else if (strcmp(cmd, "campaign") == 0)
        print_rc(e, raft_campaign(node_get(e, word_id(a, 0))->r));
    else if (strcmp(cmd, "propose") == 0)
        cmd_propose(e, a);
    else if (strcmp(cmd, "propose-conf-change") == 0)
        cmd_propose_conf_change(e, a);
    else if (strcmp(cmd, "transfer-leader") == 0)
        print_rc(e, raft_transfer_leader(node_get(e, word_id(a, 0))->r, arg_u64(a, "to", 0)));
    else if (strcmp(cmd, "read-index") == 0)
        print_rc(e, raft_read_index(node_get(e, word_id(a, 0))->r, word_id(a, 1)));
    else if (strcmp(cmd, "tick") == 0)
        cmd_tick(e, a, 0);
    else if (strcmp(cmd, "tick-heartbeat") == 0)
        cmd_tick(e, a, node_get(e, word_id(a, 0))->cfg.heartbeat_ticks);
    else if (strcmp(cmd, "tick-election") == 0)
        cmd_tick_election(e, a);
    else if (strcmp(cmd, "process-ready") == 0)
        cmd_process_ready(e, a);
    else if (strcmp(cmd, "deliver-msgs") == 0)
        cmd_deliver(e, a);
    else if (strcmp(cmd, "stabilize") == 0)
        cmd_stabilize(e, a);
    else if (strcmp(cmd, "status") == 0)
        cmd_status(e, a);
    else if (strcmp(cmd, "raft-log") == 0)
        cmd_raft_log(e, a);
    else if (strcmp(cmd, "raft-state") == 0)
        cmd_raft_state(e);
    else if (strcmp(cmd, "restart") == 0)
        cmd_restart(e, a);
    else if (strcmp(cmd, "compact") == 0)
        cmd_compact(e, a);
    else if (strcmp(cmd, "report-unreachable") == 0)
        raft_report_unreachable(node_get(e, word_id(a, 0))->r, word_id(a, 1));
    else if (strcmp(cmd, "log-level") == 0)
        e->log_info = a->n_words > 0 && strcmp(a->words[0], "info") == 0;
    else
        fail_msg("unknown command %s", cmd);
}

static void env_free(struct env *e)
{
    for (uint32_t i = 0; i < e->n_nodes; i++) {
        raft_destroy(e->nodes[i].r);
        free_entries(e->nodes[i].ents, e->nodes[i].n_ents);
    }
    for (uint32_t i = 0; i < e->n_net; i++)
        net_free(&e->net[i]);
    free(e->net);
}

/* ---- scripts ---------------------------------------------------------------------------- */

struct directive {
    uint32_t line;
    char *preamble; /* comments and blank lines before it, verbatim */
    char *command;
    char *expected; /* lines, each ending in '\n' */
};

struct script {
    char *text;
    struct directive cmds[SCRIPT_MAX];
    uint32_t n;
    char *trailer; /* comments after the last directive */
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* The next line of *p, NUL-terminated in place (its '\n' kept as the end); NULL at the end. */
static char *next_line(char **p, uint32_t *line_no)
{
    if (**p == '\0')
        return NULL;
    char *line = *p;
    char *nl = strchr(line, '\n');
    if (nl == NULL) {
        *p = line + strlen(line);
    } else {
        *nl = '\0';
        *p = nl + 1;
    }
    (*line_no)++;
    return line;
}

static char *join(const struct out *o)
{
    char *s = malloc(o->len + 1);
    assert_non_null(s);
    memcpy(s, o->buf ? o->buf : "", o->len);
    s[o->len] = '\0';
    return s;
}

/* Parses one directive after its preamble; returns false at the end of the script. */
static bool parse_directive(char **p, uint32_t *line_no, struct directive *d)
{
    struct out pre = {0}, exp = {0};
    char *line;
    while ((line = next_line(p, line_no)) != NULL && (line[0] == '\0' || line[0] == '#'))
        out_printf(&pre, "%s\n", line);
    d->preamble = join(&pre);
    free(pre.buf);
    if (line == NULL)
        return false;
    d->line = *line_no;
    d->command = line;
    char *sep = next_line(p, line_no);
    if (sep == NULL || strcmp(sep, "----") != 0)
        fail_msg("line %u: command without ----", d->line);
    while ((line = next_line(p, line_no)) != NULL && line[0] != '\0')
        out_printf(&exp, "%s\n", line);
    d->expected = join(&exp);
    free(exp.buf);
    return true;
}

static void parse_script(const char *path, struct script *s)
{
    memset(s, 0, sizeof(*s));
    s->text = read_file(path);
    char *p = s->text;
    uint32_t line_no = 0;
    for (;;) {
        assert_true(s->n < SCRIPT_MAX);
        struct directive *d = &s->cmds[s->n];
        if (!parse_directive(&p, &line_no, d)) {
            s->trailer = d->preamble;
            return;
        }
        s->n++;
    }
}

/* ---- diff ------------------------------------------------------------------------------- */

static uint32_t split_lines(char *text, char **lines, uint32_t max)
{
    uint32_t n = 0;
    for (char *p = text; *p != '\0' && n < max;) {
        char *nl = strchr(p, '\n');
        lines[n++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

/* Prints a line diff of want and got (longest common subsequence). */
static void print_diff(const char *want, const char *got)
{
    enum { LINES_MAX = 2000 };
    static char *a[LINES_MAX], *b[LINES_MAX];
    char *wa = strdup(want), *gb = strdup(got);
    uint32_t na = split_lines(wa, a, LINES_MAX), nb = split_lines(gb, b, LINES_MAX);
    uint32_t *lcs = calloc((size_t)(na + 1) * (nb + 1), sizeof(uint32_t));
    assert_non_null(lcs);
#define LCS(i, j) lcs[(size_t)(i) * (nb + 1) + (j)]
    for (uint32_t i = na; i-- > 0;)
        for (uint32_t j = nb; j-- > 0;)
            LCS(i, j) = strcmp(a[i], b[j]) == 0
                            ? LCS(i + 1, j + 1) + 1
                            : (LCS(i + 1, j) > LCS(i, j + 1) ? LCS(i + 1, j) : LCS(i, j + 1));
    uint32_t i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && strcmp(a[i], b[j]) == 0) {
            fprintf(stderr, "   %s\n", a[i++]);
            j++;
        } else if (j < nb && (i == na || LCS(i, j + 1) >= LCS(i + 1, j))) {
            fprintf(stderr, "  +%s\n", b[j++]);
        } else {
            fprintf(stderr, "  -%s\n", a[i++]);
        }
    }
#undef LCS
    free(lcs);
    free(wa);
    free(gb);
}

static void rewrite_script(const char *path, const struct script *s, char **actual)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (uint32_t i = 0; i < s->n; i++)
        fprintf(f, "%s%s\n----\n%s\n", s->cmds[i].preamble, s->cmds[i].command, actual[i]);
    fputs(s->trailer ? s->trailer : "", f);
    fclose(f);
}

static void free_script(struct script *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->cmds[i].preamble);
        free(s->cmds[i].expected);
    }
    free(s->trailer);
    free(s->text);
}

/* Runs one command line; returns its output ("ok" when it printed nothing). */
static char *run_directive(struct env *e, const char *command)
{
    struct out o = {0};
    char *line = strdup(command);
    struct args a;
    char *cmd = parse_args(line, &a);
    e->out = &o;
    e->indent = "";
    run_command(e, cmd, &a);
    if (o.len == 0)
        out_printf(&o, "ok\n");
    free(line);
    char *s = join(&o);
    free(o.buf);
    return s;
}

static void run_script(void **state)
{
    const char *path = *state;
    static struct script s;
    parse_script(path, &s);
    struct env e = {.log_info = true};
    char *actual[SCRIPT_MAX];
    uint32_t failures = 0;
    for (uint32_t i = 0; i < s.n; i++) {
        actual[i] = run_directive(&e, s.cmds[i].command);
        if (strcmp(actual[i], s.cmds[i].expected) == 0)
            continue;
        failures++;
        fprintf(stderr, "%s:%u: %s: output differs (-want +got):\n", path, s.cmds[i].line,
                s.cmds[i].command);
        print_diff(s.cmds[i].expected, actual[i]);
    }
    const char *rw = getenv("REWRITE");
    if (rw != NULL && strcmp(rw, "1") == 0 && failures > 0) {
        rewrite_script(path, &s, actual);
        fprintf(stderr, "%s: rewritten with the actual output (review with git diff)\n", path);
        failures = 0;
    }
    for (uint32_t i = 0; i < s.n; i++)
        free(actual[i]);
    env_free(&e);
    free_script(&s);
    assert_int_equal(failures, 0);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *src = getenv("RINGD_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/raft", src ? src : ".");
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s (set RINGD_SOURCE_DIR)\n", dir);
        return 1;
    }
    static char *paths[SCRIPT_MAX];
    uint32_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < SCRIPT_MAX) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".txt") != 0)
            continue;
        paths[n] = malloc(strlen(dir) + len + 2);
        sprintf(paths[n++], "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(paths, n, sizeof(paths[0]), compare_names);
    static struct CMUnitTest tests[SCRIPT_MAX];
    for (uint32_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){
            .name = strrchr(paths[i], '/') + 1, .test_func = run_script, .initial_state = paths[i]};
    int rc = _cmocka_run_group_tests("raft_golden", tests, n, NULL, NULL);
    for (uint32_t i = 0; i < n; i++)
        free(paths[i]);
    return rc;
}
