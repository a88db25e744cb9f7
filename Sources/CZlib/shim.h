// zlib (Debian: zlib1g-dev): deflate/inflate streams and crc32.
#include <zlib.h>
