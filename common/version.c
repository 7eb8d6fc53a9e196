/* common/version.c — build information compiled in from the Makefile
 * (build/gen/buildinfo.h); see common/version.h. */
#include "common/version.h"

#include "buildinfo.h"

const char *
coffer_version(void)
{
	return COFFER_VERSION;
}

void
coffer_version_print(FILE *f)
{
	fprintf(f, "coffer %s\n", COFFER_VERSION);
}
