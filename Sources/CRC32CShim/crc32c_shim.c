#include "crc32c_shim.h"

#include <string.h>

int pgcrc32c_available(void) {
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) uint32_t pgcrc32c_update(uint32_t crc, const uint8_t *bytes, size_t count) {
    uint64_t value = ~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        value = __builtin_ia32_crc32di(value, word);
        bytes += 8;
        count -= 8;
    }
    uint32_t tail = (uint32_t)value;
    while (count-- > 0) {
        tail = __builtin_ia32_crc32qi(tail, *bytes++);
    }
    return ~tail;
}
