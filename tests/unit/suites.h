/*
 * The unit test suites.  Each tests/unit/check_<module>.c exports one
 * ft_<module>_suite(), listed in suites.def; unit.c runs the one named on
 * its command line.
 */
#ifndef FLAGTAP_TESTS_SUITES_H
#define FLAGTAP_TESTS_SUITES_H

#include <check.h>

#define FT_SUITE(name) Suite *ft_##name##_suite(void);
#include "suites.def"
#undef FT_SUITE

/* Directory of test data (tests/data), set by CMake. */
#ifndef FT_TEST_DATA
#define FT_TEST_DATA "tests/data"
#endif

#endif
