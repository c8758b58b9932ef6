/* Image files for the camstream tool: PNG and JPEG in (libpng, libjpeg), PNG out.
 *
 * Images are 8-bit RGB, interleaved, row-major, no padding. The format is recognized by the
 * file's first bytes, never by its extension. On failure the functions return -1 and write one
 * line, without a trailing newline, naming the file and the reason (missing file, truncated or
 * corrupt data, an unsupported format), into err. */
#ifndef CS_CLI_IMAGE_IO_H
#define CS_CLI_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct cli_image {
    int w, h;
    uint8_t *rgb; /* w·h·3 bytes */
} cli_image;

typedef enum {
    CLI_IMG_UNKNOWN,
    CLI_IMG_PNG,
    CLI_IMG_JPEG,
    CLI_IMG_GIF,  /* recognized only to name it in a message */
    CLI_IMG_BMP,  /* idem */
    CLI_IMG_WEBP, /* idem */
    CLI_IMG_TIFF, /* idem */
    CLI_IMG_PNM,  /* idem */
} cli_image_format;

/* Images larger than this many pixels are refused before decoding (a corrupt header must not
 * make us allocate gigabytes). */
#define CLI_IMAGE_MAX_PIXELS (1LL << 28)

cli_image_format cli_image_detect(const uint8_t *head, size_t n);
const char *cli_image_format_name(cli_image_format f);
/* 1 when the file starts like a PNG or JPEG image (for picking images out of a directory). */
int cli_image_file_is_supported(const char *path);

/* Reads a PNG (any bit depth, palette, gray, alpha: alpha is dropped, 16-bit is reduced) or a
 * baseline/progressive JPEG (gray, YCbCr, RGB) into 8-bit RGB. */
int cli_image_read(const char *path, cli_image *img, char *err, size_t errlen);
/* Writes an 8-bit RGB PNG. */
int cli_image_write_png(const char *path, const uint8_t *rgb, int w, int h, char *err,
                        size_t errlen);
int cli_image_alloc(cli_image *img, int w, int h, char *err, size_t errlen);
void cli_image_free(cli_image *img);

#endif
