/*
 * cli: what the command parsers share.
 */
#include "flagtap/cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct ft_num_spec ft_cli_count = {
	.min = 1, .max = (double)UINT64_MAX, .integer = true};
const struct ft_num_spec ft_cli_count0 = {
	.min = 0, .max = (double)UINT64_MAX, .integer = true};
/* a rate (records per second, "/s" optional) or a speed factor */
const struct ft_num_spec ft_cli_positive = {
	.min = 0, .min_open = true, .max = HUGE_VAL, .suffix = "/s"};

int ft_cli_bad_value(const char *cmd, const char *opt, const char *arg,
		     const char *what)
{
	fprintf(stderr, "flagtap: %s: %s %s: expected %s\n", cmd, opt, arg,
		what);
	return FT_EXIT_USAGE;
}

int ft_cli_usage(const char *cmd, const char *synopsis)
{
	fprintf(stderr, "usage: flagtap %s%s%s\n", cmd, *synopsis ? " " : "",
		synopsis);
	return FT_EXIT_USAGE;
}

pcre2_code *ft_cli_compile_extract(const char *src)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	int ecode;

	code = ft_pcre2_compile(src, strlen(src), NULL, &ecode, &off);
	if (!code) {
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		fprintf(stderr, "flagtap: --extract:%zu: %s\n", (size_t)off + 1,
			(char *)msg);
	}
	return code;
}
