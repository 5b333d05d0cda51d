/* The parsing floor of the XML benchmark: libxml2's SAX2 push parser (the API Harmonize's XML
 * reader uses) over the whole file, with a start-element callback that only counts, fed 64 KiB
 * chunks, XML_PARSE_NONET. No tree, no copies, no mapping: what parsing the file once costs.
 *
 *   gcc -O2 $(pkg-config --cflags libxml-2.0) -o bench/bin/xml_sax_walk bench/peers/xml_sax_walk.c -lxml2
 *   bench/bin/xml_sax_walk FILE.xml
 */
#include <libxml/parser.h>
#include <stdio.h>

static long elements = 0;
static long attributes = 0;

static void start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nb_namespaces,
                  const xmlChar **namespaces, int nb_attributes, int nb_defaulted, const xmlChar **attrs) {
    (void)ctx; (void)localname; (void)prefix; (void)uri; (void)nb_namespaces; (void)namespaces; (void)nb_defaulted; (void)attrs;
    elements++;
    attributes += nb_attributes;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: xml_sax_walk FILE.xml\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    xmlSAXHandler h = {0};
    h.initialized = XML_SAX2_MAGIC;
    h.startElementNs = start;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    xmlParserCtxtPtr ctx = xmlCreatePushParserCtxt(&h, NULL, buf, (int)n, argv[1]);
    if (!ctx) return 1;
    xmlCtxtUseOptions(ctx, XML_PARSE_NONET);
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = xmlParseChunk(ctx, buf, (int)n, 0);
    if (rc == 0) rc = xmlParseChunk(ctx, NULL, 0, 1);
    int wellFormed = ctx->wellFormed;
    xmlFreeParserCtxt(ctx);
    fclose(f);
    printf("%ld elements, %ld attributes%s\n", elements, attributes, wellFormed ? "" : " (not well-formed)");
    return wellFormed ? 0 : 1;
}
