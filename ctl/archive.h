/* ctl/archive.h — cofferctl verbs for the archive's integrity and life
 * cycle: verify (ctl/verify.c), retention, hold, purge (ctl/retention.c).
 *
 * Same conventions as ctl/ctl.h: argv[0] is the verb, the return value is
 * the exit status.  verify: 0 clean, 1 tampered (the first inconsistency is
 * printed), 2 could not run.  The others: 0 done, 1 refused or failed,
 * 2 usage.
 */
#ifndef COFFER_CTL_ARCHIVE_H
#define COFFER_CTL_ARCHIVE_H

int ctl_cmd_verify(int argc, char **argv);      /* ctl/verify.c    */
int ctl_cmd_retention(int argc, char **argv);   /* ctl/retention.c */
int ctl_cmd_hold(int argc, char **argv);        /* ctl/retention.c */
int ctl_cmd_purge(int argc, char **argv);       /* ctl/retention.c */

#endif
