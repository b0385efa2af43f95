/* Test module: a shared object that is not a mynah module (no descriptor). */
int test_nosym_value(void);
int test_nosym_value(void)
{
    return 42;
}
