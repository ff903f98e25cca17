#ifndef PGJPEG_SHIM_H
#define PGJPEG_SHIM_H

// JPEG decoding over libjpeg-turbo's TurboJPEG API, which reports errors through return values: no
// setjmp/longjmp can cross into Swift.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The same limits as PNG's (png_shim.h), checked after reading the header and before any pixel memory
// is allocated.
#define PGJPEG_MAX_SIDE 16384
#define PGJPEG_MAX_PIXELS (64u * 1024u * 1024u)

typedef enum __attribute__((enum_extensibility(closed))) pgjpeg_status {
    PGJPEG_OK = 0,
    PGJPEG_CORRUPT,      // detail: libjpeg-turbo's message
    PGJPEG_TOO_LARGE,    // *width and *height hold the refused dimensions
    PGJPEG_OUT_OF_MEMORY,
} pgjpeg_status;

// Decodes a whole JPEG file held in memory (baseline, progressive, arithmetic; gray, YCbCr, RGB, CMYK
// and YCCK) to 8-bit RGB, row-major, 3 bytes per pixel, exactly as libjpeg-turbo's djpeg writes a PPM:
// accurate integer DCT, fancy upsampling, gray replicated to R = G = B, and CMYK (Adobe's inverted
// convention, which every CMYK JPEG writer uses) as R = C * K / 255 rounded, likewise G from M and B
// from Y. Libjpeg's warnings (a truncated file, a corrupt entropy segment) fail the decode rather than
// leave grey or garbled rows in a training set. EXIF orientation is not applied (see RGBImage.read).
// On PGJPEG_OK, *pixels must be released with free(); otherwise it is NULL and `detail` holds a
// NUL-terminated explanation, truncated to `detail_capacity` bytes. With `pixels` NULL only the header
// is read: the status says whether it is sound and within the limits, and *width and *height are set.
pgjpeg_status pgjpeg_decode_rgb8(const uint8_t *data, size_t size, uint8_t **pixels, uint32_t *width,
                                 uint32_t *height, char *detail, size_t detail_capacity);

#ifdef __cplusplus
}
#endif

#endif
