#ifndef HARMONIZE_CLIBXML2_SHIM_H
#define HARMONIZE_CLIBXML2_SHIM_H
/* libxml2's xmlversion.h may enable ICU support, whose headers clash with Foundation's own ICU
   in a cold build (UErrorCode members). We never use libxml2's ICU API, so switch it off first. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

/// Parser options for untrusted input: no network, no entity substitution, no DTD loading.
static inline int harmonize_xml_safe_options(void) {
  int o = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT;
#if LIBXML_VERSION >= 21300
  o |= XML_PARSE_NO_XXE;
#endif
  return o;
}
#endif
