/* net/listen: sockets the shards accept on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "test_support.h"

/* Connections accepted on a client listener have Nagle's algorithm off (inherited from the
 * listener): small responses leave at once. */
static void test_accepted_tcp_has_nodelay(void **state)
{
    (void)state;
    struct listen_spec spec = {.port = test_free_port()};
    snprintf(spec.host, sizeof spec.host, "127.0.0.1");
    int l = listen_open(&spec, true);
    assert_true(l >= 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons(spec.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    int a = -1;
    uint64_t deadline_ns = test_now_ns() + 5000000000ull;
    while (a < 0 && test_now_ns() < deadline_ns)
        a = accept(l, NULL, NULL); /* the listener is non-blocking */
    assert_true(a >= 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    assert_int_equal(getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    assert_int_equal(nodelay, 1);
    close(a);
    close(c);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_tcp_has_nodelay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
