/* common/pins.h — keys pinned outside the database.
 *
 * A database owner can rewrite any row, so no consumer trusts a key only
 * because the database lists it (issue 12).  Two pin files, both plain
 * text, public material only (docs/CONTRACTS.md):
 *
 *   <keys_dir>/<tenant>.pin  (`cofferctl tenant init`, next to the .bik)
 *     coffer-tenant-pin v2
 *     tenant_id <uuid>
 *     tenant <name>
 *     generation <g>                share generation (v1 files: none, = 1)
 *     wraps_from <RFC 3339 UTC>     only for a rotation (`tenant rotate`):
 *     previous_key <64 hex>           new epochs are wrapped to previous_key
 *                                   before wraps_from, to public_key after
 *     threshold <k>
 *     custodians <n>
 *     public_key <64 hex>           T
 *     commitment <64 hex>           k lines, C_0 .. C_{k-1}
 *     public_share <64 hex>         n lines, V_1 .. V_n
 *     sha256 <64 hex>               of every byte before this line
 *
 *   node pins file (`cofferctl node init --pins FILE` appends one line)
 *     # comment
 *     node <name> <64 hex Ed25519 public key>
 *
 * The checksum catches a damaged or hand-edited file; it is no signature:
 * the pins are as trustworthy as the hosts and permissions that keep them.
 */
#ifndef COFFER_COMMON_PINS_H
#define COFFER_COMMON_PINS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PINS_POINT_BYTES  32U
#define PINS_MAX_N        255U
#define PINS_NAME_MAX     65U
#define PINS_MAX_GENERATION 1000000U

typedef struct pins_tenant {
	unsigned char tenant_id[16];
	char          name[PINS_NAME_MAX];
	unsigned      k, n;
	unsigned      generation;   /* share generation (vault/reshare.h), >= 1 */
	unsigned char public_key[PINS_POINT_BYTES];
	unsigned char commitments[PINS_MAX_N * PINS_POINT_BYTES];
	unsigned char public_shares[PINS_MAX_N * PINS_POINT_BYTES];
	int           has_rotation; /* wraps_from/previous_key lines present */
	int64_t       wraps_from_us;/* microseconds since the epoch, whole seconds */
	unsigned char previous_key[PINS_POINT_BYTES];
} pins_tenant;

/* The key new epochs are wrapped to at now_us: previous_key before
 * wraps_from, public_key from it on (and always without a rotation). */
const unsigned char *pins_tenant_wrap_key(const pins_tenant *p, int64_t now_us);

/* Encode to a malloc'd NUL-terminated text (*out). */
int pins_tenant_encode(const pins_tenant *p, char **out, size_t *out_len,
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* Parse <dir>/<tenant>.pin; the name in the file must be tenant. */
int pins_tenant_load(const char *dir, const char *tenant, pins_tenant *out,
                     char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* The pin of one generation: <dir>/<tenant>.pin when its generation is
 * generation, else <dir>/<tenant>.g<generation>.pin (the pin a rotation
 * kept of the previous key). */
int pins_tenant_load_generation(const char *dir, const char *tenant,
                                unsigned generation, pins_tenant *out,
                                char *err, size_t err_len)
    __attribute__((warn_unused_result));
int pins_tenant_parse(const char *text, size_t len, pins_tenant *out,
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Compare the database's key row of a tenant with its pin: the share
 * generation, T, the commitments and the public shares; key_only: T alone
 * (the gateway, which only ever wraps to T and must keep sealing while a
 * re-share moves the generation).  0 equal; -1 with a message naming the
 * tenant and the object that differs (or why it could not be read). */
int pins_tenant_compare_db(PGconn *db, const pins_tenant *pin,
                           const char *pin_path, int key_only,
                           char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* Load <dir>/<tenant>.pin and compare.  The tenant is named by its
 * database id; its name is read from the database to find the file. */
int pins_tenant_check_db(PGconn *db, const char *dir,
                         const unsigned char tenant_id[16],
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

typedef struct pins_node {
	char          name[PINS_NAME_MAX];
	unsigned char pk[32];
} pins_node;

typedef struct pins_nodes {
	pins_node *v;
	size_t     n;
	char       path[1024];
} pins_nodes;

int  pins_nodes_load(const char *path, pins_nodes **out, char *err,
                     size_t err_len) __attribute__((warn_unused_result));
void pins_nodes_free(pins_nodes **p);                 /* NULL ok */
/* The pinned key of a node, or NULL when the node is not pinned. */
const unsigned char *pins_nodes_find(const pins_nodes *p, const char *name);
/* Append "node NAME HEX" (creating the file 0644); refuses a name already
 * pinned with another key. */
int  pins_nodes_append(const char *path, const char *name,
                       const unsigned char pk[32], char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
