#include "suites.h"
Suite *ft_envelope_suite(void)
{
	return suite_create("envelope");
}
