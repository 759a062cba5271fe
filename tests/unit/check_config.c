#include "suites.h"
Suite *ft_config_suite(void)
{
	return suite_create("config");
}
