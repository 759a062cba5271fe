#include "suites.h"
Suite *ft_match_suite(void)
{
	return suite_create("match");
}
