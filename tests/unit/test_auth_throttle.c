/* Login failure throttling: delays, blocks, the window, and its memory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "auth_throttle.h"
#include "tap.h"

static void fail_times(const char *addr, int n, double now)
{
    for (int i = 0; i < n; i++)
        auth_throttle_failure(addr, now);
}

static void configure_defaults(void)
{
    auth_throttle_set_limits(AUTH_THROTTLE_MAX_DELAY, AUTH_THROTTLE_MAX_ADDRESSES);
    auth_throttle_configure(3, 10, 300, 600);
}

static void test_delays_grow_and_cap(void)
{
    configure_defaults();
    const char *a = "192.0.2.1";
    double t = 1000;
    double want[] = {0, 0, 0, 1, 2, 4, 8, 8, 8};
    int all_right = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        auth_throttle_failure(a, t);
        double got = auth_throttle_delay(a, t);
        if (got != want[i]) {
            printf("# failure %zu: delay %g, want %g\n", i + 1, got, want[i]);
            all_right = 0;
        }
        t += 1;
    }
    ok(all_right, "the first 3 failures are answered at once, then 1, 2, 4, 8, 8 s");
    is_int(auth_throttle_delay("192.0.2.2", t), 0,
           "another address is not delayed");
    ok(!auth_throttle_blocked(a, t), "9 failures do not block yet");
}

static void test_block_after_ten(void)
{
    configure_defaults();
    const char *a = "198.51.100.7";
    fail_times(a, 9, 5000);
    ok(!auth_throttle_blocked(a, 5000), "not blocked after 9 failures");
    auth_throttle_failure(a, 5001);
    ok(auth_throttle_blocked(a, 5001), "blocked after the 10th failure in the window");
    ok(auth_throttle_blocked(a, 5001 + 599), "still blocked 599 s later");
    ok(!auth_throttle_blocked(a, 5001 + 600), "the block ends after 600 s");
    auth_throttle_failure(a, 5001 + 601);
    is_int(auth_throttle_delay(a, 5001 + 601), 0,
           "after the block the count starts afresh");
    ok(!auth_throttle_blocked("198.51.100.8", 5001), "a neighbour address is not blocked");
}

static void test_window_slides(void)
{
    configure_defaults();
    const char *a = "203.0.113.5";
    /* 9 failures spread so that the oldest leave the window. */
    fail_times(a, 5, 0 + 10000);
    fail_times(a, 4, 200 + 10000);
    ok(!auth_throttle_blocked(a, 10200), "9 failures within 200 s do not block");
    auth_throttle_failure(a, 10000 + 301);
    ok(!auth_throttle_blocked(a, 10301),
       "a 10th failure after the first 5 left the 300 s window does not block");
    is_int(auth_throttle_delay(a, 10301), 2,
           "5 failures left in the window: this 5th one waits 2 s");
    fail_times(a, 5, 10302);
    ok(auth_throttle_blocked(a, 10302), "10 failures inside the window block");

    configure_defaults();
    fail_times(a, 3, 20000);
    auth_throttle_failure(a, 20000 + 300);
    is_int(auth_throttle_delay(a, 20300), 0,
           "failures exactly one window old no longer count");
}

static void test_success_clears(void)
{
    configure_defaults();
    const char *a = "2001:db8::/64";
    fail_times(a, 6, 100);
    ok(auth_throttle_delay(a, 100) > 0, "delayed after 6 failures");
    auth_throttle_success(a);
    is_int(auth_throttle_tracked(), 0, "success forgets the address");
    auth_throttle_failure(a, 101);
    is_int(auth_throttle_delay(a, 101), 0, "the next failure counts from one");
    fail_times(a, 20, 102);
    ok(auth_throttle_blocked(a, 102), "blocked");
    auth_throttle_success(a);
    ok(!auth_throttle_blocked(a, 103), "success (e.g. an operator's reset) lifts a block");
}

static void test_memory_is_bounded(void)
{
    configure_defaults();
    ok(auth_throttle_set_limits(8, 1000) == 0, "limit the table to 1000 addresses");
    char addr[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        auth_throttle_failure(addr, 7000);
    }
    is_int(auth_throttle_tracked(), 1000, "5000 addresses, only 1000 kept");
    snprintf(addr, sizeof addr, "10.%d.%d.%d", 4999 >> 16 & 255, 4999 >> 8 & 255, 4999 & 255);
    auth_throttle_failure(addr, 7000);
    auth_throttle_failure(addr, 7000);
    auth_throttle_failure(addr, 7000);
    is_int(auth_throttle_delay(addr, 7000), 1, "the most recent address is still counted");
    ok(auth_throttle_delay("10.0.0.0", 7000) == 0, "the oldest was forgotten");

    auth_throttle_sweep(7000 + 299);
    is_int(auth_throttle_tracked(), 1000, "nothing swept while failures are in the window");
    auth_throttle_sweep(7000 + 300);
    is_int(auth_throttle_tracked(), 0, "all swept once the window has passed");

    /* A blocked address survives the sweep of the window. */
    fail_times("10.9.9.9", 10, 8000);
    auth_throttle_sweep(8000 + 400);
    ok(auth_throttle_blocked("10.9.9.9", 8400), "a block outlives the failure window");
    auth_throttle_sweep(8000 + 600);
    is_int(auth_throttle_tracked(), 0, "and goes when it ends");

    /* Many failures from one address keep its memory constant. */
    fail_times("10.1.1.1", 100000, 9000);
    is_int(auth_throttle_tracked(), 1, "one address, one entry");
    auth_throttle_reset();
    is_int(auth_throttle_tracked(), 0, "reset forgets everything");
}

static void test_options(void)
{
    is_int(auth_throttle_configure(3, 10, 0, 600), -1, "a zero window is refused");
    is_int(auth_throttle_configure(3, 10, 300, -1), -1, "a negative block is refused");
    is_int(auth_throttle_configure(3, 1000, 300, 600), 0, "a count above 100 is accepted");
    fail_times("192.0.2.8", 100, 50);
    ok(auth_throttle_blocked("192.0.2.8", 50), "but cut to 100");
    is_int(auth_throttle_set_limits(8, 0), -1, "and an empty table");

    auth_throttle_configure(0, 0, 300, 600);
    fail_times("192.0.2.9", 50, 100);
    ok(!auth_throttle_blocked("192.0.2.9", 100) &&
       auth_throttle_delay("192.0.2.9", 100) == 0,
       "0 disables delays and blocks");

    auth_throttle_configure(1, 10, 300, 600);
    auth_throttle_set_limits(30, 1000);
    fail_times("192.0.2.10", 7, 100);
    is_int(auth_throttle_delay("192.0.2.10", 100), 30,
           "the cap bounds the growth (1, 2, 4, 8, 16, 30)");

    auth_throttle_configure(3, 5, 60, 30);
    fail_times("192.0.2.11", 5, 100.5);
    ok(auth_throttle_blocked("192.0.2.11", 130.4), "fractional seconds: blocked at +29.9 s");
    ok(!auth_throttle_blocked("192.0.2.11", 130.5), "free at +30 s");
    configure_defaults();
}

static void test_address_keys(void)
{
    char buf[64];
    struct sockaddr_in in = {0};
    in.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.33", &in.sin_addr);
    ok(auth_throttle_address_key((struct sockaddr *)&in, sizeof in, buf, sizeof buf) == 0 &&
       strcmp(buf, "192.0.2.33") == 0, "IPv4 keys are the address");

    struct sockaddr_in6 in6 = {0};
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &in6.sin6_addr);
    auth_throttle_address_key((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf);
    is_str(buf, "2001:db8:1:2::/64", "IPv6 keys are the /64");

    inet_pton(AF_INET6, "::ffff:198.51.100.4", &in6.sin6_addr);
    auth_throttle_address_key((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf);
    is_str(buf, "198.51.100.4", "IPv4-mapped IPv6 keys are the IPv4 address");

    struct sockaddr_un un = {0};
    un.sun_family = AF_UNIX;
    auth_throttle_address_key((struct sockaddr *)&un, sizeof un, buf, sizeof buf);
    is_str(buf, "local", "Unix sockets share one key");
    ok(auth_throttle_address_key((struct sockaddr *)&in6, sizeof in6, buf, 4) < 0,
       "a small buffer is an error");
}

int main(void)
{
    test_delays_grow_and_cap();
    test_block_after_ten();
    test_window_slides();
    test_success_clears();
    test_memory_is_bounded();
    test_options();
    test_address_keys();
    auth_throttle_reset();
    return done_testing();
}
