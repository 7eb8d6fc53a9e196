/* common/version.h — the one version string of the three programs.
 *
 * Comes from the VERSION file and, when the tree is a git checkout at
 * build time, the commit ("0.1.0+g3dbba12c0f1e"); the Makefile writes it
 * into build/gen/buildinfo.h, read only by common/version.c, so a new
 * commit relinks the programs without recompiling anything else.
 */
#ifndef COFFER_COMMON_VERSION_H
#define COFFER_COMMON_VERSION_H

#include <stdio.h>

/* "0.1.0" or "0.1.0+gCOMMIT": the label of the build_info metrics. */
const char *coffer_version(void);

/* The --version line, the same for every program: "coffer VERSION\n". */
void coffer_version_print(FILE *f);

#endif
