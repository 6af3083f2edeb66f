/* The real etcdctl (Debian's 3.4.23) against Debian's etcd and against a candidate (ringd; a
 * second etcd with RINGD_KV_DIFF_CANDIDATE=etcd, extra flags in RINGD_KV_DIFF_CANDIDATE_ARGS),
 * both fresh: one fixed script of put, get, del, txn (-i and plain, from stdin) and compaction
 * commands in the simple, json and fields formats, run against both side by side. Exit status,
 * stdout and stderr must be the same once what differs between any two members is normalised:
 * cluster_id, member_id and raft_term of the response's own header (the first in the output;
 * a Txn's inner headers stay as they are), and in etcdctl's warning line for a failed call its
 * timestamp, client id and endpoint. Each step also says whether etcd's etcdctl fails, which
 * keeps the script honest. RINGD_KV_DIFF_VERBOSE=1 prints every command with etcd's output.
 *
 * etcdctl 3.4 has no `get --count-only` (json shows the count instead), and a compare with an
 * unknown operator or a lease compare panics etcdctl itself, so the script has neither. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

#define COMMAND_DEADLINE_MS 20000
#define OUTPUT_BYTES        (1u << 16)
#define STEP_ARGS_MAX       12
#define ARGV_MAX            (STEP_ARGS_MAX + 4)

struct step {
    const char *args[STEP_ARGS_MAX]; /* etcdctl's arguments after the global flags */
    const char *stdin_text;          /* NULL: empty */
    bool fails;                      /* etcd's etcdctl exits nonzero: checks the script itself */
};

/* clang-format off */
#define RUN(...)              {.args = {__VA_ARGS__}}
#define FAILS(...)            {.args = {__VA_ARGS__}, .fails = true}
#define TXN(input, ...)       {.args = {"txn", __VA_ARGS__}, .stdin_text = input}
#define TXN_FAILS(input, ...) {.args = {"txn", __VA_ARGS__}, .stdin_text = input, .fails = true}
/* clang-format on */

/* Revisions in comments: a fresh member is at 1, each put or effective del adds one. */
static const struct step script[] = {
    RUN("put", "a", "1"),                                 /* 2 */
    RUN("put", "b", "2"),                                 /* 3 */
    RUN("put", "foo/1", "x"),                             /* 4 */
    RUN("put", "foo/2", "y", "-w", "json"),               /* 5 */
    RUN("put", "a", "11", "--prev-kv"),                   /* 6 */
    RUN("put", "foo/1", "xx", "--prev-kv", "-w", "json"), /* 7 */
    RUN("put", "c", "3", "-w", "fields"),                 /* 8 */
    RUN("put", "z", ""),                                  /* 9 */
    RUN("put", "b", "22", "--prev-kv", "-w", "fields"),   /* 10 */
    FAILS("put", "", "v"),
    RUN("get", "a"),
    RUN("get", "a", "-w", "json"),
    RUN("get", "a", "-w", "fields"),
    RUN("get", "nosuch"),
    RUN("get", "nosuch", "-w", "json"),
    FAILS("get", ""),
    RUN("get", "foo", "--prefix"),
    RUN("get", "foo", "--prefix", "-w", "json"),
    RUN("get", "b", "--from-key"),
    RUN("get", "", "--from-key", "-w", "fields"),
    RUN("get", "a", "c"),
    RUN("get", "c", "a"),
    RUN("get", "a", "--rev=2"),
    RUN("get", "a", "--rev=5", "-w", "json"),
    RUN("get", "foo", "--prefix", "--rev=4"),
    RUN("get", "", "--from-key", "--limit=2"),
    RUN("get", "", "--from-key", "--limit=2", "-w", "json"),
    RUN("get", "foo", "--prefix", "--limit=1", "-w", "fields"),
    RUN("get", "", "--from-key", "--sort-by=CREATE", "--order=ASCEND"),
    RUN("get", "", "--from-key", "--sort-by=CREATE", "--order=DESCEND"),
    RUN("get", "", "--from-key", "--sort-by=KEY", "--order=ASCEND"),
    RUN("get", "", "--from-key", "--sort-by=KEY", "--order=DESCEND"),
    RUN("get", "", "--from-key", "--sort-by=MODIFY", "--order=ASCEND"),
    RUN("get", "", "--from-key", "--sort-by=MODIFY", "--order=DESCEND", "-w", "json"),
    RUN("get", "", "--from-key", "--sort-by=VALUE", "--order=ASCEND"),
    RUN("get", "", "--from-key", "--sort-by=VALUE", "--order=DESCEND"),
    RUN("get", "", "--from-key", "--sort-by=VERSION", "--order=ASCEND"),
    RUN("get", "", "--from-key", "--sort-by=VERSION", "--order=DESCEND", "--limit=2"),
    RUN("get", "", "--from-key", "--sort-by=VALUE"),
    RUN("get", "", "--from-key", "--order=DESCEND"),
    RUN("get", "foo", "--prefix", "--keys-only"),
    RUN("get", "foo", "--prefix", "--keys-only", "-w", "json"),
    RUN("get", "foo", "--prefix", "--print-value-only"),
    /* etcdctl 3.4 has no --count-only; json shows the count with one key. */
    RUN("get", "", "--from-key", "--keys-only", "--limit=1", "-w", "json"),
    RUN("get", "foo", "--prefix", "--keys-only", "--limit=1", "-w", "fields"),
    RUN("get", "a", "--consistency=s", "-w", "json"),
    /* txn: compares, a blank line, success ops, a blank line, failure ops, a blank line. */
    TXN("value(\"a\") = \"11\"\n\nput b 222\nget a\n\ndel c\n\n", "-i"), /* 11 */
    TXN("mod(\"a\") > \"100\"\n\nput x 1\n\nget foo --prefix\nput c 33\n\n", "-i", "-w",
        "json"), /* 12 */
    TXN("create(\"b\") = \"3\"\nver(\"a\") < \"3\"\n\nget b\ndel foo/1 --prev-kv\n\nput no 1\n\n",
        "-w", "fields"), /* 13 */
    TXN("version(\"zz\") = \"0\"\nval(\"z\") = \"\"\n\nget --prefix foo\n\n\n", "-w", "json"),
    TXN("c(\"nosuch\") != \"0\"\n\n\n\n"),
    TXN_FAILS("\nput a 1\nput a 2\n\n\n"),
    TXN_FAILS("\nput q 1\ndel --prefix q\n\n\n"),
    TXN_FAILS("\nget a --rev=1000\n\n\n"),
    TXN_FAILS("value(a) = \"1\"\n\n\n\n"), /* etcdctl's own error; "~" would panic it */
    TXN_FAILS("\nbogus a\n\n\n"),
    RUN("del", "nosuch"),
    RUN("del", "c"),                                          /* 14 */
    RUN("put", "foo/3", "z"),                                 /* 15 */
    RUN("del", "foo", "--prefix", "--prev-kv"),               /* 16 */
    RUN("put", "foo/1", "again"),                             /* 17 */
    RUN("put", "y", "why"),                                   /* 18 */
    RUN("del", "x", "--from-key", "--prev-kv", "-w", "json"), /* 19 */
    RUN("del", "a", "--prev-kv", "-w", "fields"),             /* 20 */
    RUN("put", "a", "back"),                                  /* 21 */
    RUN("compaction", "3"),
    FAILS("compaction", "3"),
    FAILS("compaction", "2"),
    RUN("compaction", "--physical", "6"),
    FAILS("compaction", "1000"),
    FAILS("get", "a", "--rev=2"),
    FAILS("get", "a", "--rev=5", "-w", "json"),
    FAILS("get", "a", "--rev=1000"),
    RUN("get", "a", "--rev=6"),
    RUN("get", "", "--from-key", "--rev=7", "-w", "json"),
    RUN("get", "", "--from-key", "-w", "fields"),
    RUN("compaction", "21", "-w", "json"),
    RUN("get", "", "--from-key", "--sort-by=VERSION", "--order=DESCEND", "-w", "json"),
    RUN("del", "", "--from-key", "--prev-kv"),
    RUN("get", "", "--from-key", "-w", "fields"),
};

#define SCRIPT_STEPS (sizeof(script) / sizeof(script[0]))

struct servers {
    struct test_server reference;
    struct test_server candidate;
};

static struct servers servers;

static int group_teardown(void **state)
{
    (void)state;
    test_server_stop(&servers.candidate);
    test_server_stop(&servers.reference);
    return 0;
}

static int group_setup(void **state)
{
    if (access(TEST_ETCDCTL_BIN, X_OK) != 0) {
        fprintf(stderr, "%s is missing: install etcd-client (.ci/install-deps)\n",
                TEST_ETCDCTL_BIN);
        return -1;
    }
    if (test_server_spawn(&servers.reference, TEST_SERVER_ETCD, NULL) != 0 ||
        test_candidate_spawn(&servers.candidate) != 0 ||
        test_server_wait_ready(&servers.reference) != 0 ||
        test_server_wait_ready(&servers.candidate) != 0) {
        group_teardown(state);
        return -1;
    }
    return 0;
}

/* ---- Normalising output -------------------------------------------------------------------- */

/* A bounded string being built: what does not fit is cut. */
struct sbuf {
    char *buf;
    size_t len;
    size_t cap; /* > 0; one byte is kept for the NUL */
};

static void sbuf_add(struct sbuf *sb, const char *data, size_t n)
{
    size_t room = sb->cap - 1 - sb->len;
    n = n < room ? n : room;
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static char replaced[OUTPUT_BYTES];

/* Replaces the first matches_max matches of pattern (POSIX extended) in buf (of cap bytes) with
 * replacement, in which "\1" stands for the first group. */
static void replace(char *buf, size_t cap, const char *pattern, const char *replacement,
                    uint32_t matches_max)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
    struct sbuf out = {.buf = replaced, .cap = sizeof(replaced)};
    replaced[0] = '\0';
    const char *at = buf;
    regmatch_t m[2];
    for (uint32_t n = 0; n < matches_max &&
                         regexec(&re, at, 2, m, at == buf ? 0 : REG_NOTBOL) == 0 && m[0].rm_eo > 0;
         n++) {
        sbuf_add(&out, at, (size_t)m[0].rm_so);
        for (const char *r = replacement; *r != '\0'; r++) {
            if (r[0] == '\\' && r[1] == '1' && m[1].rm_so >= 0)
                sbuf_add(&out, at + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so)), r++;
            else
                sbuf_add(&out, r, 1);
        }
        at += m[0].rm_eo;
    }
    sbuf_add(&out, at, strlen(at));
    regfree(&re);
    snprintf(buf, cap, "%s", replaced);
}

static void replace_literal(char *buf, size_t cap, const char *text, const char *replacement)
{
    struct sbuf out = {.buf = replaced, .cap = sizeof(replaced)};
    replaced[0] = '\0';
    size_t text_len = strlen(text);
    const char *at = buf;
    for (const char *hit; (hit = strstr(at, text)) != NULL; at = hit + text_len) {
        sbuf_add(&out, at, (size_t)(hit - at));
        sbuf_add(&out, replacement, strlen(replacement));
    }
    sbuf_add(&out, at, strlen(at));
    snprintf(buf, cap, "%s", replaced);
}

/* What differs between two members serving the same data, and between two runs of etcdctl:
 * the ids and term of the response's own header, the first in the output (the headers of a
 * Txn's responses carry only a revision, as etcd sends them), and in a failed call's warning
 * its time, client id and endpoint. */
static void normalise(char *buf, size_t cap, const struct test_server *s)
{
    static const char *const json[] = {"cluster_id", "member_id", "raft_term"};
    static const char *const fields[] = {"ClusterID", "MemberID", "RaftTerm"};
    char pattern[64];
    for (int i = 0; i < 3; i++) {
        snprintf(pattern, sizeof(pattern), "\"(%s)\":[0-9]+", json[i]);
        replace(buf, cap, pattern, "\"\\1\":0", 1);
        snprintf(pattern, sizeof(pattern), "\"(%s)\" : [0-9]+", fields[i]);
        replace(buf, cap, pattern, "\"\\1\" : 0", 1);
    }
    replace(buf, cap, "\"ts\":\"[^\"]*\"", "\"ts\":\"-\"", UINT32_MAX);
    replace(buf, cap, "client-[0-9a-f-]+", "client-X", UINT32_MAX);
    replace_literal(buf, cap, s->endpoint, "ENDPOINT");
}

/* ---- Running etcdctl ----------------------------------------------------------------------- */

struct result {
    int status;
    char out[OUTPUT_BYTES];
    char err[OUTPUT_BYTES];
};

/* Starts etcdctl with the step against server s. */
static void etcdctl_start(const struct test_server *s, const struct step *step, struct test_proc *p)
{
    char endpoints[96];
    snprintf(endpoints, sizeof(endpoints), "--endpoints=%s", s->endpoint);
    char *argv[ARGV_MAX] = {TEST_ETCDCTL_BIN, endpoints, "--dial-timeout=5s",
                            "--command-timeout=10s"};
    for (int i = 0; i < STEP_ARGS_MAX && step->args[i] != NULL; i++)
        argv[4 + i] = (char *)step->args[i];
    const struct test_proc_io io = {.stdin_text = step->stdin_text ? step->stdin_text : "",
                                    .stderr_apart = true};
    assert_int_equal(test_proc_start_io(p, argv, &io), 0);
}

/* Waits for etcdctl to end and takes its normalised result. */
static void etcdctl_finish(const struct test_server *s, struct test_proc *p, struct result *r)
{
    r->status = test_proc_wait_exit(p, COMMAND_DEADLINE_MS);
    test_proc_output(p, r->out, sizeof(r->out));
    test_proc_stderr(p, r->err, sizeof(r->err));
    test_proc_cleanup(p);
    normalise(r->out, sizeof(r->out), s);
    normalise(r->err, sizeof(r->err), s);
}

static void print_step(FILE *f, size_t index, const struct step *step)
{
    fprintf(f, "step %zu: etcdctl", index);
    for (int i = 0; i < STEP_ARGS_MAX && step->args[i] != NULL; i++)
        fprintf(f, step->args[i][0] == '\0' ? " \"\"" : " %s", step->args[i]);
    fprintf(f, "\n");
    if (step->stdin_text != NULL)
        fprintf(f, "stdin:\n%s<end of stdin>\n", step->stdin_text);
}

static void print_result(const char *who, const struct result *r)
{
    fprintf(stderr, "%s: exit status %d\n-- stdout:\n%s-- stderr:\n%s--\n", who, r->status, r->out,
            r->err);
}

static bool verbose(void)
{
    const char *v = getenv("RINGD_KV_DIFF_VERBOSE");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static struct result ref_result, cand_result;

static void test_script(void **state)
{
    (void)state;
    bool loud = verbose();
    uint64_t start_ns = test_now_ns();
    for (size_t i = 0; i < SCRIPT_STEPS; i++) {
        const struct step *step = &script[i];
        struct test_proc ref_proc, cand_proc; /* side by side: the servers share nothing */
        etcdctl_start(&servers.reference, step, &ref_proc);
        etcdctl_start(&servers.candidate, step, &cand_proc);
        etcdctl_finish(&servers.reference, &ref_proc, &ref_result);
        etcdctl_finish(&servers.candidate, &cand_proc, &cand_result);
        if (loud) {
            print_step(stderr, i, step);
            print_result("etcd", &ref_result);
        }
        if ((ref_result.status != 0) != step->fails) {
            print_step(stderr, i, step);
            print_result("etcd", &ref_result);
            fail_msg("step %zu: etcd's etcdctl %s, the script expects otherwise", i,
                     ref_result.status != 0 ? "failed" : "succeeded");
        }
        if (ref_result.status == cand_result.status &&
            strcmp(ref_result.out, cand_result.out) == 0 &&
            strcmp(ref_result.err, cand_result.err) == 0)
            continue;
        fprintf(stderr, "\netcdctl_kv: MISMATCH\n");
        print_step(stderr, i, step);
        print_result("reference etcd", &ref_result);
        char label[32];
        snprintf(label, sizeof(label), "candidate %s", test_server_name(&servers.candidate));
        print_result(label, &cand_result);
        test_server_print_log_tail(&servers.candidate, 30);
        fail_msg("step %zu differs (see above)", i);
    }
    fprintf(stderr, "etcdctl_kv: %zu commands equal in %.1f s\n", SCRIPT_STEPS,
            (double)(test_now_ns() - start_ns) / 1e9);
}

/* etcdctl reads ETCDCTL_* variables; the script alone decides what it does. */
static void clear_etcdctl_environment(void)
{
    extern char **environ;
    char name[256];
    for (size_t i = 0; environ[i] != NULL;) {
        if (strncmp(environ[i], "ETCDCTL_", 8) != 0) {
            i++;
            continue;
        }
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(environ[i], "="), environ[i]);
        unsetenv(name);
    }
}

int main(void)
{
    clear_etcdctl_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
