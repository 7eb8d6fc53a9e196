/* agent/import/stubs.c — formats not yet written (removed as each lands). */
#include "agent/import/import.h"

#include <stdio.h>

int
imp_rsmf_file(imp_ctx *c, const char *path, char *err, size_t err_len)
{
	(void)c; (void)path;
	snprintf(err, err_len, "rsmf: not implemented yet");
	return -1;
}
