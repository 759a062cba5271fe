#include "suites.h"
Suite *ft_rules_suite(void)
{
	return suite_create("rules");
}
