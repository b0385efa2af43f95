/*
 * The IoT modules' pure parts: xs: values and time stamps, the record
 * codec, the registry's tag matching and search operators (XEP-0347),
 * and the provisioning rules' stored form (XEP-0324).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iot_util.h"
#include "registry.h"
#include "rules.h"
#include "tap.h"

static void test_xs_values(void)
{
    int b;
    ok(iot_xs_boolean("true", &b) && b == 1, "true is a boolean");
    ok(iot_xs_boolean("0", &b) && b == 0, "0 is a boolean");
    ok(!iot_xs_boolean("yes", &b), "yes is not");
    int32_t i;
    ok(iot_xs_int("-2147483648", &i) && i == INT32_MIN, "int lower bound");
    ok(!iot_xs_int("2147483648", &i), "int overflow is refused");
    ok(!iot_xs_int("12a", &i), "int with a letter is refused");
    int64_t l;
    ok(iot_xs_long("500000000000000", &l) && l == 500000000000000LL,
       "XEP-0325 long example");
    ok(!iot_xs_long("", &l), "empty long is refused");
    double d;
    ok(iot_xs_double("8.192", &d) && fabs(d - 8.192) < 1e-9, "double");
    ok(iot_xs_double("-1.5E3", &d) && d == -1500, "double with exponent");
    ok(iot_xs_double("INF", &d) && isinf(d), "INF");
    ok(!iot_xs_double("inf", &d), "inf is not xs:double");
    ok(!iot_xs_double("0x10", &d), "hex is not xs:double");
    ok(!iot_xs_double(".", &d), "a lone dot is not a number");
    ok(iot_xs_date("2013-05-01"), "XEP-0325 date example");
    ok(!iot_xs_date("2013-02-29"), "no 29 February in 2013");
    ok(iot_xs_date("2012-02-29Z"), "29 February 2012, with a zone");
    ok(iot_xs_time("08:00:00"), "XEP-0325 time example");
    ok(!iot_xs_time("25:00:00"), "hour 25 is refused");
    ok(iot_xs_duration("PT3M30S"), "XEP-0325 duration example");
    ok(iot_xs_duration("-P1Y2M3DT4H5M6.5S"), "a full duration");
    ok(!iot_xs_duration("P"), "P alone is refused");
    ok(!iot_xs_duration("PT"), "PT alone is refused");
    ok(!iot_xs_duration("P1S"), "seconds need the T");
    ok(!iot_xs_duration("PT1M2H"), "units in order only");
    ok(iot_xs_color("3399FF"), "XEP-0325 color example");
    ok(iot_xs_color("3399ffcc"), "color with alpha");
    ok(!iot_xs_color("3399F"), "five digits are no color");
}

static void test_times(void)
{
    int64_t us;
    ok(iot_xs_datetime("1970-01-01T00:00:00Z", &us) && us == 0, "epoch");
    ok(iot_xs_datetime("2013-03-07T16:24:30", &us) &&
           us == 1362673470LL * 1000000, "no zone is UTC");
    ok(iot_xs_datetime("2013-03-07T17:24:30+01:00", &us) &&
           us == 1362673470LL * 1000000, "an offset is applied");
    ok(iot_xs_datetime("2013-03-07T16:24:30.25Z", &us) &&
           us == 1362673470LL * 1000000 + 250000, "fractions");
    ok(!iot_xs_datetime("2013-03-07 16:24:30", &us), "a space is no T");
    char out[48];
    iot_format_datetime(1362673470LL * 1000000, out, sizeof out);
    is_str(out, "2013-03-07T16:24:30Z", "formatting");
    iot_format_datetime(1362673470LL * 1000000 + 5, out, sizeof out);
    is_str(out, "2013-03-07T16:24:30.000005Z", "formatting fractions");
    iot_format_duration(93784, out, sizeof out);
    is_str(out, "P1DT2H3M4S", "a duration");
    iot_format_duration(5, out, sizeof out);
    is_str(out, "PT5S", "a short duration");
    ok(iot_xs_duration(out), "and it is valid");
}

static void test_records(void)
{
    iot_buf b = {0};
    iot_rec_put(&b, "a", "one\\two\nthree");
    iot_rec_put(&b, "b", "");
    size_t pos = 0;
    char *k, *v;
    ok(iot_rec_next(b.data, b.len, &pos, &k, &v) == 1, "first line");
    is_str(k, "a", "key");
    is_str(v, "one\\two\nthree", "escapes survive");
    free(k);
    free(v);
    ok(iot_rec_next(b.data, b.len, &pos, &k, &v) == 1, "second line");
    is_str(v, "", "empty value");
    free(k);
    free(v);
    ok(iot_rec_next(b.data, b.len, &pos, &k, &v) == 0, "end");
    iot_buf_free(&b);
}

static reg_thing *sample_thing(void)
{
    reg_thing *t = thing_new("thing@example.org", NULL, NULL, NULL);
    thing_tag_set(t, "SN", 0, "394872348732948723");
    thing_tag_set(t, "MAN", 0, "www.ktc.se");
    thing_tag_set(t, "MODEL", 0, "IMC");
    thing_tag_set(t, "v", 1, "1.2");
    thing_tag_set(t, "KEY", 0, "4857402340298342");
    return t;
}

static void test_registry(void)
{
    reg_thing *t = sample_thing();
    ok(thing_tag_index(t, "V") >= 0, "tag names are upper-cased");
    reg_tag claim[] = {{"KEY", 0, "4857402340298342", 0},
                       {"V", 1, "1.20", 1.2},
                       {"MODEL", 0, "IMC", 0},
                       {"MAN", 0, "www.ktc.se", 0},
                       {"SN", 0, "394872348732948723", 0}};
    ok(thing_tags_equal(t, claim, 5), "same tags in another order match");
    claim[0].value = "wrong";
    ok(!thing_tags_equal(t, claim, 5), "a wrong KEY does not");
    ok(!thing_tags_equal(t, claim, 4), "fewer tags do not");

    iot_buf rec = {0};
    thing_encode(t, &rec);
    reg_thing *back = thing_decode(t->key, rec.data, rec.len);
    ok(back != NULL && back->tag_count == 5, "the stored form reads back");
    ok(back && strcmp(back->tags[thing_tag_index(back, "V")].value, "1.2") == 0,
       "numbers keep their digits");
    thing_free(back);
    iot_buf_free(&rec);

    reg_search_op op;
    memset(&op, 0, sizeof op);
    ok(reg_op_parse("strMask", &op.op, &op.numeric) == 0 && op.op == OP_MASK,
       "strMask parses");
    ok(reg_op_parse("numMask", &op.op, &op.numeric) < 0, "numMask does not");
    ok(reg_op_parse("numNRange", &op.op, &op.numeric) == 0 && op.numeric,
       "numNRange parses");
    ok(reg_mask_matches("39487*", "*", "394872348732948723"), "mask prefix");
    ok(reg_mask_matches("*ktc*", "*", "www.ktc.se"), "mask inside");
    ok(!reg_mask_matches("39487*", "*", "4857"), "mask mismatch");
    ok(reg_mask_matches("a??c", "??", "abbbc"), "a two-character wildcard");
    ok(reg_mask_matches("abc", "*", "abc"), "no wildcard: equality");

    memset(&op, 0, sizeof op);
    op.op = OP_RANGE;
    op.numeric = 1;
    strcpy(op.name, "V");
    op.min_number = 1;
    op.max_number = 2;
    op.min_included = 1;
    op.max_included = 0;
    ok(reg_op_matches(&op, t), "1 <= 1.2 < 2");
    op.op = OP_NRANGE;
    ok(!reg_op_matches(&op, t), "not outside that range");
    op.op = OP_GT;
    op.number = 1.2;
    ok(!reg_op_matches(&op, t), "1.2 > 1.2 is false");
    op.op = OP_GTEQ;
    ok(reg_op_matches(&op, t), "1.2 >= 1.2");
    strcpy(op.name, "MAN");
    ok(!reg_op_matches(&op, t), "a num operator on a str tag finds nothing");
    memset(&op, 0, sizeof op);
    op.op = OP_EQ;
    strcpy(op.name, "COLOR");
    op.value = "red";
    ok(!reg_op_matches(&op, t), "an unknown tag finds nothing");

    ok(reg_tag_name_valid("STREETNR"), "predefined name is valid");
    ok(!reg_tag_name_valid("A:B"), "a colon is not");
    ok(!reg_tag_name_valid("#V"), "a hash is not");
    ok(!reg_tag_name_valid("A B"), "a space is not");
    ok(!reg_tag_name_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"),
       "33 characters are too many");

    registry reg = {0};
    registry_put(&reg, t);
    registry_put(&reg, thing_new("a@example.org", "n1", NULL, NULL));
    registry_put(&reg, thing_new("z@example.org", NULL, NULL, NULL));
    ok(reg.count == 3 && strcmp(reg.things[0]->jid, "a@example.org") == 0,
       "records are kept in key order");
    ok(registry_find(&reg, t->key) == t, "found by key");
    registry_delete(&reg, t->key);
    ok(reg.count == 2, "deleted");
    registry_clear(&reg);
}

static void test_rules(void)
{
    prov_table table = {0};
    prov_thing *t = prov_get(&table, "thing@example.org");
    prov_set_owner(t, "owner@example.org");
    const char *fields[] = {"Temperature", NULL};
    prov_rule_set(t, "reader@example.org", 1, 0, fields, NULL);
    prov_rule_set(t, "boss@example.org", 1, 1, NULL, NULL);
    t->asked = 1;
    iot_buf rec = {0};
    prov_encode(t, &rec);
    prov_thing *back = prov_decode("thing@example.org", rec.data, rec.len);
    ok(back != NULL && back->rule_count == 2 && back->asked,
       "rules read back");
    prov_rule *r = back ? prov_rule_find(back, "reader@example.org") : NULL;
    ok(r && r->can_read && !r->can_control && r->fields &&
           strcmp(r->fields[0], "Temperature") == 0 && r->fields[1] == NULL &&
           r->parameters == NULL,
       "a limited reader");
    prov_thing_free(back);
    iot_buf_free(&rec);
    prov_set_owner(t, "new@example.org");
    ok(t->rule_count == 0, "a new owner starts without the old rules");
    prov_table_clear(&table);
}

int main(void)
{
    test_xs_values();
    test_times();
    test_records();
    test_registry();
    test_rules();
    return done_testing();
}
