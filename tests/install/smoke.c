/* Built against an installed edgecache through pkg-config (make test-install):
 * proves the header, the shared library and edgecache.pc work together. */
#include <stdio.h>
#include <string.h>

#include <edgecache.h>

int main(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", EDGECACHE_VERSION_MAJOR, EDGECACHE_VERSION_MINOR, EDGECACHE_VERSION_PATCH);
    if (strcmp(want, edgecache_version()) != 0) {
        fprintf(stderr, "header says %s, library says %s\n", want, edgecache_version());
        return 1;
    }
    edgecache_cache *c = NULL;
    if (edgecache_cache_new(1024, &c) != EDGECACHE_OK) return 1;
    if (edgecache_cache_set(c, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 0, NULL) != EDGECACHE_OK) return 1;
    edgecache_bytes out = {NULL, 0};
    if (edgecache_cache_get(c, (const uint8_t *)"k", 1, &out) != EDGECACHE_OK || out.len != 1 || out.data[0] != 'v') return 1;
    edgecache_bytes_free(out);
    edgecache_cache_free(c);
    printf("installed edgecache %s works through pkg-config\n", edgecache_version());
    return 0;
}
