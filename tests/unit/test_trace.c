/* test_trace.c — the span store and the Chrome trace JSON (trace.c). */
#include "ddptrain/trace.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_spans_relative_to_origin_and_capped(void **state)
{
    (void)state;
    ddp_trace t;
    assert_int_equal(ddp_trace_init(&t, 3, 2, 100.0), 0);
    ddp_trace_span(&t, 1, 7, 100.5, 100.75);
    ddp_trace_span(&t, 2, 7, 100.75, 101.0);
    ddp_trace_span(&t, 0, 8, 101.0, 101.5); /* over capacity: counted, not stored */
    assert_int_equal(t.n, 2);
    assert_int_equal(t.dropped, 1);
    assert_true(t.events[0].begin == 0.5 && t.events[0].end == 0.75);
    assert_int_equal(t.events[1].phase, 2);
    assert_int_equal(t.events[1].rank, 3);
    assert_int_equal(t.events[1].step, 7);
    ddp_trace_free(&t);
    assert_null(t.events);
}

static void test_json_has_one_process_per_rank_and_complete_events(void **state)
{
    (void)state;
    const char *names[] = {"data", "compute"};
    ddp_trace_event ev[2] = {{0.001, 0.0025, 1, 1, 0}, {0.002, 0.003, 1, 0, 1}};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(ddp_trace_write_json(f, ev, 2, names, 2, 2, 5), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\"traceEvents\":["));
    assert_non_null(strstr(buf, "\"dropped_spans\":5"));
    assert_non_null(strstr(buf, "\"pid\":1,\"tid\":0,\"args\":{\"name\":\"rank 1\"}"));
    /* microseconds: begin 1000 us, duration 1500 us, on rank 0 */
    assert_non_null(strstr(buf, "{\"name\":\"compute\",\"cat\":\"compute\",\"ph\":\"X\",\"pid\":0,\"tid\":0,"
                                "\"ts\":1000.000,\"dur\":1500.000,\"args\":{\"step\":1}}"));
    assert_non_null(strstr(buf, "\"name\":\"data\",\"cat\":\"data\",\"ph\":\"X\",\"pid\":1,"));
    /* the last event closes the array: no trailing comma before ']' */
    assert_non_null(strstr(buf, "}}\n]}\n"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_relative_to_origin_and_capped),
        cmocka_unit_test(test_json_has_one_process_per_rank_and_complete_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
