#include "jpeg_shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

static pgjpeg_status failure(tjhandle handle, char *detail, size_t detail_capacity) {
    snprintf(detail, detail_capacity, "%s", tjGetErrorStr2(handle));
    return PGJPEG_CORRUPT;
}

// In place: CMYK pixel i is read before RGB pixel i overwrites it. The rounding is djpeg's (cmyk.h in
// libjpeg-turbo: (double)c * k / 255 + 0.5), done in integers: floor((2ck + 255) / 510) is the same number.
static void cmyk_to_rgb(uint8_t *pixels, size_t pixel_count) {
    for (size_t i = 0; i < pixel_count; i++) {
        const uint8_t *cmyk = pixels + 4 * i;
        unsigned k = cmyk[3];
        uint8_t *rgb = pixels + 3 * i;
        for (int channel = 0; channel < 3; channel++) {
            rgb[channel] = (uint8_t)((2u * cmyk[channel] * k + 255u) / 510u);
        }
    }
}

static pgjpeg_status decode(tjhandle handle, const uint8_t *data, size_t size, uint8_t **pixels,
                            uint32_t *width, uint32_t *height, char *detail, size_t detail_capacity) {
    int image_width = 0, image_height = 0, subsampling = 0, colorspace = 0;
    if (size > (unsigned long)-1 ||
        tjDecompressHeader3(handle, data, (unsigned long)size, &image_width, &image_height, &subsampling,
                            &colorspace) != 0) {
        return failure(handle, detail, detail_capacity);
    }
    // A file that ends before its frame header reads as tables only, without an image.
    if (image_width <= 0 || image_height <= 0) {
        snprintf(detail, detail_capacity, "no frame header: the file ends before the image starts");
        return PGJPEG_CORRUPT;
    }
    *width = (uint32_t)image_width;
    *height = (uint32_t)image_height;
    if (image_width > PGJPEG_MAX_SIDE || image_height > PGJPEG_MAX_SIDE ||
        (size_t)image_width * (size_t)image_height > PGJPEG_MAX_PIXELS) {
        return PGJPEG_TOO_LARGE;
    }
    if (pixels == NULL) {
        return PGJPEG_OK;
    }
    // TurboJPEG converts neither CMYK nor YCCK to RGB; it hands out CMYK, converted below as djpeg does.
    int is_cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    int pixel_format = is_cmyk ? TJPF_CMYK : TJPF_RGB;
    size_t pixel_count = (size_t)image_width * (size_t)image_height;
    uint8_t *buffer = malloc(pixel_count * (is_cmyk ? 4 : 3));
    if (buffer == NULL) {
        return PGJPEG_OUT_OF_MEMORY;
    }
    if (tjDecompress2(handle, data, (unsigned long)size, buffer, image_width, 0, image_height, pixel_format,
                      TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
        free(buffer);
        return failure(handle, detail, detail_capacity);
    }
    if (is_cmyk) {
        cmyk_to_rgb(buffer, pixel_count);
    }
    *pixels = buffer;
    return PGJPEG_OK;
}

pgjpeg_status pgjpeg_decode_rgb8(const uint8_t *data, size_t size, uint8_t **pixels, uint32_t *width,
                                 uint32_t *height, char *detail, size_t detail_capacity) {
    if (pixels != NULL) {
        *pixels = NULL;
    }
    *width = 0;
    *height = 0;
    tjhandle handle = tjInitDecompress();
    if (handle == NULL) {
        return PGJPEG_OUT_OF_MEMORY;
    }
    pgjpeg_status status = decode(handle, data, size, pixels, width, height, detail, detail_capacity);
    tjDestroy(handle);
    return status;
}
