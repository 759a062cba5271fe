/*
 * The unit test suites.  Each tests/unit/check_<module>.c exports one
 * ft_<module>_suite(); unit.c runs the one named on its command line.
 */
#ifndef FLAGTAP_TESTS_SUITES_H
#define FLAGTAP_TESTS_SUITES_H

#include <check.h>

Suite *ft_json_suite(void);
Suite *ft_sha256_suite(void);
Suite *ft_config_suite(void);
Suite *ft_expr_suite(void);
Suite *ft_checks_suite(void);
Suite *ft_wordlist_suite(void);
Suite *ft_fields_suite(void);
Suite *ft_redact_suite(void);
Suite *ft_import_suite(void);
Suite *ft_rules_suite(void);
Suite *ft_match_suite(void);
Suite *ft_envelope_suite(void);
Suite *ft_offsets_suite(void);
Suite *ft_differential_suite(void);
Suite *ft_recfile_suite(void);
Suite *ft_metrics_suite(void);
Suite *ft_log_suite(void);
Suite *ft_audit_suite(void);
Suite *ft_canon_suite(void);

/* Directory of test data (tests/data), set by CMake. */
#ifndef FT_TEST_DATA
#define FT_TEST_DATA "tests/data"
#endif

#endif
