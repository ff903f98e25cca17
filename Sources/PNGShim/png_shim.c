#include "png_shim.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libpng's own background compositing (png_image_finish_read with a
// background colour) blends in linear light, which turns 50% black over white
// into 186 rather than 128. Training data should look as it does in a browser,
// which blends the sRGB values directly, so the blend happens here instead.
// Works in place: RGBA pixel i is read before RGB pixel i overwrites it.
static void composite_onto_white(uint8_t *pixels, size_t pixel_count) {
    for (size_t i = 0; i < pixel_count; i++) {
        const uint8_t *rgba = pixels + 4 * i;
        uint8_t *rgb = pixels + 3 * i;
        unsigned alpha = rgba[3];
        for (int channel = 0; channel < 3; channel++) {
            unsigned blended = rgba[channel] * alpha + 255u * (255u - alpha);
            rgb[channel] = (uint8_t)((blended + 127u) / 255u);
        }
    }
}

pgpng_status pgpng_decode_rgb8(const uint8_t *data, size_t size, uint8_t **pixels, uint32_t *width,
                               uint32_t *height, char *detail, size_t detail_capacity) {
    if (pixels != NULL) {
        *pixels = NULL;
    }
    *width = 0;
    *height = 0;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        snprintf(detail, detail_capacity, "%s", image.message);
        png_image_free(&image);
        return PGPNG_CORRUPT;
    }
    *width = image.width;
    *height = image.height;
    if (image.width > PGPNG_MAX_SIDE || image.height > PGPNG_MAX_SIDE ||
        (size_t)image.width * image.height > PGPNG_MAX_PIXELS) {
        png_image_free(&image);
        return PGPNG_TOO_LARGE;
    }
    if (pixels == NULL) {
        png_image_free(&image);
        return PGPNG_OK;
    }

    // Straight (not premultiplied) 8-bit sRGB RGBA, so the compositing above
    // sees the colour values exactly as stored.
    image.format = PNG_FORMAT_RGBA;
    // Set after begin_read, which resets the flags.
    image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    size_t pixel_count = (size_t)image.width * image.height;
    uint8_t *buffer = malloc(PNG_IMAGE_SIZE(image));
    if (buffer == NULL) {
        png_image_free(&image);
        return PGPNG_OUT_OF_MEMORY;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        snprintf(detail, detail_capacity, "%s", image.message);
        png_image_free(&image);
        free(buffer);
        return PGPNG_CORRUPT;
    }
    composite_onto_white(buffer, pixel_count);
    *pixels = buffer;
    return PGPNG_OK;
}

pgpng_status pgpng_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                               uint8_t **png, size_t *size, char *detail, size_t detail_capacity) {
    *png = NULL;
    *size = 0;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = PNG_FORMAT_RGB;
    // The first call, without a buffer, only measures; the second fills a buffer of that size.
    png_alloc_size_t length = 0;
    if (!png_image_write_to_memory(&image, NULL, &length, 0, pixels, 0, NULL)) {
        snprintf(detail, detail_capacity, "%s", image.message);
        png_image_free(&image);
        return PGPNG_WRITE_FAILED;
    }
    uint8_t *buffer = malloc(length);
    if (buffer == NULL) {
        return PGPNG_OUT_OF_MEMORY;
    }
    if (!png_image_write_to_memory(&image, buffer, &length, 0, pixels, 0, NULL)) {
        snprintf(detail, detail_capacity, "%s", image.message);
        png_image_free(&image);
        free(buffer);
        return PGPNG_WRITE_FAILED;
    }
    *png = buffer;
    *size = length;
    return PGPNG_OK;
}

void pgpng_free(uint8_t *pixels) {
    free(pixels);
}
