#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool test_wait_until(bool (*cond)(void *arg), void *arg, uint32_t deadline_ms)
{
    uint64_t end_ns = test_now_ns() + (uint64_t)deadline_ms * 1000000u;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    for (;;) {
        if (cond(arg))
            return true;
        if (test_now_ns() >= end_ns)
            return false;
        nanosleep(&pause, NULL);
    }
}

static unsigned test_proc_serial;

int test_proc_start(struct test_proc *p, char *const argv[])
{
    snprintf(p->dir, sizeof(p->dir), "%s", test_temp_dir("proc"));
    snprintf(p->log_path, sizeof(p->log_path), "%s/output-%u.log", p->dir, test_proc_serial++);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, p->dir);
    posix_spawn_file_actions_addopen(&actions, 1, p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    extern char **environ;
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0)
        return -1;
    p->pid = pid;
    return 0;
}

void test_proc_output(const struct test_proc *p, char *buf, uint32_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(p->log_path, "r");
    if (f == NULL)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

struct output_wait {
    struct test_proc *p;
    const char *text;
};

static bool output_has(void *arg)
{
    struct output_wait *w = arg;
    static char buf[1 << 16];
    test_proc_output(w->p, buf, sizeof(buf));
    return strstr(buf, w->text) != NULL;
}

bool test_proc_wait_output(struct test_proc *p, const char *text, uint32_t deadline_ms)
{
    struct output_wait w = {.p = p, .text = text};
    return test_wait_until(output_has, &w, deadline_ms);
}

struct exit_wait {
    struct test_proc *p;
    int status;
};

static bool proc_exited(void *arg)
{
    struct exit_wait *w = arg;
    int status;
    if (waitpid(w->p->pid, &status, WNOHANG) != w->p->pid)
        return false;
    w->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

int test_proc_wait_exit(struct test_proc *p, uint32_t deadline_ms)
{
    struct exit_wait w = {.p = p, .status = -1};
    if (test_wait_until(proc_exited, &w, deadline_ms))
        return w.status;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
}

const char *test_ringd_bin(void)
{
    const char *bin = getenv("RINGD_BIN");
    return bin != NULL ? bin : "build/release/ringd";
}

uint16_t test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        abort();
    close(fd);
    return ntohs(addr.sin_port);
}

const char *test_temp_dir(const char *tag)
{
    static char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/ringd-test-%s-%d-XXXXXX", base ? base : "/tmp", tag,
             (int)getpid());
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_proc_cleanup(struct test_proc *p)
{
    nftw(p->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
