/* bench/report.c — the benchmark's table, JSON and CSV from run.sh's
 * figure list.
 *
 *   build/bench/report --in FIGURES.tsv [--json OUT.json] [--csv OUT.csv]
 *                      [--machine MACHINE.tsv --machine-json OUT.json]
 *
 * FIGURES.tsv: one figure a line, tab-separated:
 *   name  unit  coffer  baseline  baseline_name  [note]
 * with "-" for a value that could not be measured.  The ratio is
 * coffer / baseline when both exist.  The JSON is the list the issue fixes:
 *   [{"name","unit","coffer","baseline","baseline_name","ratio"}, ...]
 * (null for what is missing); the CSV has the same columns plus the note.
 * MACHINE.tsv ("key<TAB>value" lines) becomes one JSON object.
 *
 * Trusts run.sh for the content; only checks that numbers are numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define REPORT_FIELDS 6

typedef struct fig {
	char   *f[REPORT_FIELDS];    /* name unit coffer baseline bname note */
	double  coffer, baseline, ratio;
	int     has_c, has_b;
} fig;

static int
number(const char *s, double *out)
{
	char *end;

	if (s == NULL || *s == '\0' || strcmp(s, "-") == 0)
		return 0;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/* Split line in place at tabs into at most n fields; returns the count. */
static int
split(char *line, char **out, int n)
{
	int k = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (k < n) {
		char *tab = strchr(line, '\t');

		out[k++] = line;
		if (tab == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return k;
}

static void
csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
fmt_num(char *out, size_t cap, int has, double v)
{
	if (!has)
		snprintf(out, cap, "n/a");
	else if (fabs(v) >= 100)
		snprintf(out, cap, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(out, cap, "%.1f", v);
	else
		snprintf(out, cap, "%.3g", v);
}

static json_t *
jnum(int has, double v)
{
	return has ? json_real(v) : json_null();
}

static int
write_machine(const char *in, const char *out)
{
	FILE *f = fopen(in, "r");
	json_t *o = json_object();
	char line[4096], *kv[2];
	int rc = -1;

	if (f == NULL || o == NULL) {
		fprintf(stderr, "report: %s: %s\n", in, strerror(errno));
		goto done;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (split(line, kv, 2) == 2)
			json_object_set_new(o, kv[0], json_string(kv[1]));
	if (json_dump_file(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
		fprintf(stderr, "report: cannot write %s\n", out);
		goto done;
	}
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	json_decref(o);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *in = NULL, *json_out = NULL, *csv_out = NULL;
	const char *machine = NULL, *machine_json = NULL;
	fig *figs = NULL;
	size_t n = 0, cap = 0, i;
	char line[4096];
	FILE *f;
	json_t *list;
	int a, rc = 1;

	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--in") == 0)
			in = argv[a + 1];
		else if (strcmp(argv[a], "--json") == 0)
			json_out = argv[a + 1];
		else if (strcmp(argv[a], "--csv") == 0)
			csv_out = argv[a + 1];
		else if (strcmp(argv[a], "--machine") == 0)
			machine = argv[a + 1];
		else if (strcmp(argv[a], "--machine-json") == 0)
			machine_json = argv[a + 1];
		else
			break;
	}
	if (a != argc || in == NULL) {
		fprintf(stderr, "usage: report --in FIGURES.tsv [--json OUT] "
		    "[--csv OUT] [--machine TSV --machine-json OUT]\n");
		return 2;
	}
	if ((f = fopen(in, "r")) == NULL) {
		fprintf(stderr, "report: %s: %s\n", in, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fld[REPORT_FIELDS] = { 0 };
		int k;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		k = split(line, fld, REPORT_FIELDS);
		if (k < 5) {
			fprintf(stderr, "report: short line ignored: %.60s\n", line);
			continue;
		}
		if (n == cap) {
			fig *p;

			cap = cap ? cap * 2 : 32;
			p = realloc(figs, cap * sizeof(*figs));
			if (p == NULL)
				goto out;
			figs = p;
		}
		memset(&figs[n], 0, sizeof(figs[n]));
		for (k = 0; k < REPORT_FIELDS; k++)
			figs[n].f[k] = strdup(fld[k] ? fld[k] : "");
		figs[n].has_c = number(fld[2], &figs[n].coffer);
		figs[n].has_b = number(fld[3], &figs[n].baseline);
		n++;
	}
	fclose(f);
	f = NULL;

	printf("%-28s %11s %11s %7s  %-11s %s\n", "figure", "coffer", "baseline",
	    "ratio", "unit", "baseline is");
	list = json_array();
	for (i = 0; i < n; i++) {
		fig *g = &figs[i];
		int has_r = g->has_c && g->has_b && g->baseline != 0;
		char c[32], b[32], r[32];
		json_t *o = json_object();

		g->ratio = has_r ? g->coffer / g->baseline : 0;
		fmt_num(c, sizeof(c), g->has_c, g->coffer);
		fmt_num(b, sizeof(b), g->has_b, g->baseline);
		if (has_r)
			snprintf(r, sizeof(r), "%.2f", g->ratio);
		else
			snprintf(r, sizeof(r), "-");
		printf("%-28s %11s %11s %7s  %-11s %s\n", g->f[0], c, b, r, g->f[1],
		    g->f[4][0] ? g->f[4] : "-");
		if (g->f[5][0] != '\0')
			printf("%30s%s\n", "", g->f[5]);
		json_object_set_new(o, "name", json_string(g->f[0]));
		json_object_set_new(o, "unit", json_string(g->f[1]));
		json_object_set_new(o, "coffer", jnum(g->has_c, g->coffer));
		json_object_set_new(o, "baseline", jnum(g->has_b, g->baseline));
		json_object_set_new(o, "baseline_name", json_string(g->f[4]));
		json_object_set_new(o, "ratio", jnum(has_r, g->ratio));
		json_array_append_new(list, o);
	}
	if (json_out != NULL && json_dump_file(list, json_out,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) != 0) {
		fprintf(stderr, "report: cannot write %s\n", json_out);
		json_decref(list);
		goto out;
	}
	json_decref(list);
	if (csv_out != NULL) {
		if ((f = fopen(csv_out, "w")) == NULL) {
			fprintf(stderr, "report: %s: %s\n", csv_out, strerror(errno));
			goto out;
		}
		fprintf(f, "name,unit,coffer,baseline,baseline_name,ratio,note\n");
		for (i = 0; i < n; i++) {
			fig *g = &figs[i];

			csv_field(f, g->f[0]);
			fputc(',', f);
			csv_field(f, g->f[1]);
			if (g->has_c)
				fprintf(f, ",%.6g,", g->coffer);
			else
				fprintf(f, ",,");
			if (g->has_b)
				fprintf(f, "%.6g,", g->baseline);
			else
				fprintf(f, ",");
			csv_field(f, g->f[4]);
			if (g->has_c && g->has_b && g->baseline != 0)
				fprintf(f, ",%.4f,", g->ratio);
			else
				fprintf(f, ",,");
			csv_field(f, g->f[5]);
			fputc('\n', f);
		}
		if (fclose(f) != 0) {
			f = NULL;
			goto out;
		}
		f = NULL;
	}
	if (machine != NULL && machine_json != NULL &&
	    write_machine(machine, machine_json) != 0)
		goto out;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	for (i = 0; i < n; i++) {
		int k;

		for (k = 0; k < REPORT_FIELDS; k++)
			free(figs[i].f[k]);
	}
	free(figs);
	return rc;
}
