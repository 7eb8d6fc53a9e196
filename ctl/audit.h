/* ctl/audit.h — `cofferctl audit`: list, export and verify the audit log
 * (README "Reading and exporting the log").
 *
 * The offline check of an exported log is a function of the file's bytes
 * and the pins alone (no database), so the fuzzer and the unit tests call
 * it directly.
 */
#ifndef COFFER_CTL_AUDIT_H
#define COFFER_CTL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/pins.h"

#define CTL_AUDIT_MSG_MAX 1024U
/* The export's time format, "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL. */
#define CTL_AUDIT_TIME_LEN 28U

int ctl_cmd_audit(int argc, char **argv);

typedef struct ctl_audit_result {
	int      status;                   /* VERIFY_OK, _TAMPERED, _ERROR */
	char     message[CTL_AUDIT_MSG_MAX];
	uint64_t events;                   /* events checked */
	uint64_t signed_events;
	uint64_t head_event_no;            /* the signed head's event */
	char     head_node[PINS_NAME_MAX];
} ctl_audit_result;

/* Check an exported JSONL log (text, len) against the pinned node keys
 * (pins NULL: the keys the export lists, with no proof of their own) and,
 * when tenant_pin is not NULL, its tenant id.  Returns res->status. */
int ctl_audit_check(const char *text, size_t len, const pins_nodes *pins,
                    const pins_tenant *tenant_pin, ctl_audit_result *res);

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" <-> µs since 1970 (UTC).  parse: 0 or -1
 * (anything else, or a date that does not exist). */
int  ctl_audit_time_parse(const char *s, int64_t *unix_us);
void ctl_audit_time_format(char out[CTL_AUDIT_TIME_LEN], int64_t unix_us);

/* One CSV cell (RFC 4180: quoted when it holds a comma, quote, CR or LF;
 * formula injection guarded: a cell starting with = + - @ TAB or CR is
 * prefixed with ').  s NULL: an empty cell. */
#include <stdio.h>
void ctl_audit_csv_cell(FILE *f, const char *s);

#endif
