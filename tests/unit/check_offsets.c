#include "suites.h"
Suite *ft_offsets_suite(void)
{
	return suite_create("offsets");
}
