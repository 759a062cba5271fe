/*
 * unit: runs one Check suite by name, or all of them.
 *
 *   ft_unit            run every suite
 *   ft_unit json       run ft_json_suite()
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static const struct {
	const char *name;
	Suite *(*make)(void);
} suites[] = {
	{"json", ft_json_suite},       {"sha256", ft_sha256_suite},
	{"config", ft_config_suite},   {"expr", ft_expr_suite},
	{"checks", ft_checks_suite},   {"wordlist", ft_wordlist_suite},
	{"fields", ft_fields_suite},   {"redact", ft_redact_suite},
	{"import", ft_import_suite},   {"rules", ft_rules_suite},
	{"match", ft_match_suite},     {"envelope", ft_envelope_suite},
	{"offsets", ft_offsets_suite}, {"differential", ft_differential_suite},
	{"recfile", ft_recfile_suite}, {"metrics", ft_metrics_suite},
	{"log", ft_log_suite},	       {"audit", ft_audit_suite},
	{"canon", ft_canon_suite},
};

int main(int argc, char **argv)
{
	SRunner *sr = NULL;
	size_t i;
	int failed;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		if (!sr)
			sr = srunner_create(suites[i].make());
		else
			srunner_add_suite(sr, suites[i].make());
	}
	if (!sr) {
		fprintf(stderr, "ft_unit: no suite named '%s'\n", argv[1]);
		return 2;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
