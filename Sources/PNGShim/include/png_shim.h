#ifndef PGPNG_SHIM_H
#define PGPNG_SHIM_H

// PNG reading and writing over libpng's simplified API (png_image_*), which
// reports errors through return values: no setjmp/longjmp can cross into Swift.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Larger images are refused after reading the header, before any pixel memory
// is allocated, so a hostile or corrupt header cannot demand gigabytes: a side
// up to 16384, and at most 64 Mi pixels in all (256 MiB of RGBA), which a
// 69-byte file claiming 16384x16384 would otherwise make us allocate (found by
// fuzzing).
#define PGPNG_MAX_SIDE 16384
#define PGPNG_MAX_PIXELS (64u * 1024u * 1024u)

typedef enum __attribute__((enum_extensibility(closed))) pgpng_status {
    PGPNG_OK = 0,
    PGPNG_CORRUPT,       // detail: libpng's message
    PGPNG_TOO_LARGE,     // *width and *height hold the refused dimensions
    PGPNG_OUT_OF_MEMORY,
    PGPNG_WRITE_FAILED,  // detail: libpng's message
} pgpng_status;

// Decodes any PNG (gray, gray+alpha, palette, RGB, RGBA; 1 to 16 bits; tRNS)
// to 8-bit RGB, row-major, 3 bytes per pixel. Transparency is composited onto
// white in sRGB space: 255 * (1 - alpha) + color * alpha. 16-bit samples
// without gamma information are taken as sRGB, as most viewers do.
// On PGPNG_OK, *pixels must be released with pgpng_free; on any other status it
// is NULL and `detail` holds a NUL-terminated explanation, truncated to
// `detail_capacity` bytes. With `pixels` NULL only the header is read: the status says whether it is
// sound and within the limits, and *width and *height are set.
// The caller reads the file (ImageIO opens only regular files, without blocking) and checks the
// signature, so this sees the bytes of a whole PNG file.
pgpng_status pgpng_decode_rgb8(const uint8_t *data, size_t size, uint8_t **pixels, uint32_t *width,
                               uint32_t *height, char *detail, size_t detail_capacity);

// Encodes 8-bit RGB pixels (row-major, 3 bytes per pixel) as a PNG in memory, so that callers can
// write it atomically or embed it (TensorBoard events, HTML reports, APNG frames). On PGPNG_OK, *png
// holds *size bytes to release with pgpng_free.
pgpng_status pgpng_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                               uint8_t **png, size_t *size, char *detail, size_t detail_capacity);

void pgpng_free(uint8_t *pixels);

#ifdef __cplusplus
}
#endif

#endif
