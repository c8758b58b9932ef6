/* PNG and JPEG files through libpng and libjpeg(-turbo). See image_io.h. */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)

cli_image_format cli_image_detect(const uint8_t *h, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(h, png_sig, 8) == 0) return CLI_IMG_PNG;
    if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff) return CLI_IMG_JPEG;
    if (n >= 6 && (memcmp(h, "GIF87a", 6) == 0 || memcmp(h, "GIF89a", 6) == 0)) return CLI_IMG_GIF;
    if (n >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0) return CLI_IMG_WEBP;
    if (n >= 4 && (memcmp(h, "II*\0", 4) == 0 || memcmp(h, "MM\0*", 4) == 0)) return CLI_IMG_TIFF;
    if (n >= 2 && h[0] == 'B' && h[1] == 'M') return CLI_IMG_BMP;
    if (n >= 3 && h[0] == 'P' && h[1] >= '1' && h[1] <= '7' &&
        (h[2] == ' ' || h[2] == '\n' || h[2] == '\r' || h[2] == '\t'))
        return CLI_IMG_PNM;
    return CLI_IMG_UNKNOWN;
}

const char *cli_image_format_name(cli_image_format f)
{
    switch (f) {
    case CLI_IMG_PNG:
        return "PNG";
    case CLI_IMG_JPEG:
        return "JPEG";
    case CLI_IMG_GIF:
        return "GIF";
    case CLI_IMG_BMP:
        return "BMP";
    case CLI_IMG_WEBP:
        return "WebP";
    case CLI_IMG_TIFF:
        return "TIFF";
    case CLI_IMG_PNM:
        return "PNM";
    default:
        return "unknown";
    }
}

int cli_image_file_is_supported(const char *path)
{
    uint8_t head[16];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    cli_image_format t = cli_image_detect(head, n);
    return t == CLI_IMG_PNG || t == CLI_IMG_JPEG;
}

int cli_image_alloc(cli_image *img, int w, int h, char *err, size_t errlen)
{
    img->w = img->h = 0;
    img->rgb = NULL;
    if (w <= 0 || h <= 0 || (long long)w * h > CLI_IMAGE_MAX_PIXELS) {
        snprintf(err, errlen, "image size %dx%d is out of range (at most %lld pixels)", w, h,
                 (long long)CLI_IMAGE_MAX_PIXELS);
        return -1;
    }
    img->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!img->rgb) {
        snprintf(err, errlen, "out of memory for a %dx%d image", w, h);
        return -1;
    }
    img->w = w;
    img->h = h;
    return 0;
}

void cli_image_free(cli_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

/* The whole file in memory; NULL with err filled on failure. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    memset(&st, 0, sizeof st);
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", path,
                 S_ISDIR(st.st_mode) ? "is a directory, not an image" : "not a regular file");
        fclose(f);
        return NULL;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "%s: empty file, not an image", path);
        fclose(f);
        return NULL;
    }
    if ((unsigned long long)st.st_size > MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: file of %lld bytes is too large for an image", path,
                 (long long)st.st_size);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, n);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (got != n || failed) {
        snprintf(err, errlen, "%s: read error: %s", path, failed ? strerror(errno) : "short read");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* ---- PNG ------------------------------------------------------------------------------------ */

typedef struct {
    jmp_buf jb;
    char msg[256];
    const uint8_t *data;
    size_t len, pos;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (c->len - c->pos < n) png_error(png, "unexpected end of file (truncated)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static int read_png(const char *path, const uint8_t *data, size_t len, cli_image *img, char *err,
                    size_t errlen)
{
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data = data;
    ctx.len = len;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(err, errlen, "%s: out of memory starting the PNG decoder", path);
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    /* Everything touched after setjmp and needed after longjmp lives in these volatiles. */
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(ctx.jb)) {
        snprintf(err, errlen, "%s: corrupt or truncated PNG: %s", path, ctx.msg);
        free(rows);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &ctx, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((unsigned long long)w * h > (unsigned long long)CLI_IMAGE_MAX_PIXELS)
        png_error(png, "image dimensions are too large");
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3)
        png_error(png, "unexpected row layout after conversion to RGB");
    pixels = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    img->w = (int)w;
    img->h = (int)h;
    img->rgb = pixels;
    return 0;
}

/* ---- JPEG ----------------------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* Warnings mean damaged data (a premature end of file above all); libjpeg would go on with
 * gray filler. Refuse instead, except for stray bytes between markers, which are harmless. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0 || cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    jpeg_on_error(cinfo);
}

static void jpeg_no_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

static int read_jpeg(const char *path, const uint8_t *data, size_t len, cli_image *img, char *err,
                     size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&ctx, 0, sizeof ctx);
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.emit_message = jpeg_on_message;
    ctx.pub.output_message = jpeg_no_output;
    uint8_t *volatile pixels = NULL;
    if (setjmp(ctx.jb)) {
        snprintf(err, errlen, "%s: corrupt or truncated JPEG: %s", path, ctx.msg);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((unsigned long long)cinfo.image_width * cinfo.image_height >
        (unsigned long long)CLI_IMAGE_MAX_PIXELS) {
        snprintf(ctx.msg, sizeof ctx.msg, "image dimensions %ux%u are too large", cinfo.image_width,
                 cinfo.image_height);
        longjmp(ctx.jb, 1);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        snprintf(ctx.msg, sizeof ctx.msg, "cannot convert %d components to RGB",
                 cinfo.output_components);
        longjmp(ctx.jb, 1);
    }
    size_t w = cinfo.output_width, h = cinfo.output_height;
    pixels = malloc(w * h * 3);
    if (!pixels) {
        snprintf(ctx.msg, sizeof ctx.msg, "out of memory for %zux%zu pixels", w, h);
        longjmp(ctx.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    img->w = (int)w;
    img->h = (int)h;
    img->rgb = pixels;
    return 0;
}

int cli_image_read(const char *path, cli_image *img, char *err, size_t errlen)
{
    img->w = img->h = 0;
    img->rgb = NULL;
    size_t len = 0;
    uint8_t *data = slurp(path, &len, err, errlen);
    if (!data) return -1;
    cli_image_format f = cli_image_detect(data, len);
    int rc;
    if (f == CLI_IMG_PNG) {
        rc = read_png(path, data, len, img, err, errlen);
    } else if (f == CLI_IMG_JPEG) {
        rc = read_jpeg(path, data, len, img, err, errlen);
    } else if (f != CLI_IMG_UNKNOWN) {
        snprintf(err, errlen, "%s: %s images are not supported (PNG or JPEG only)", path,
                 cli_image_format_name(f));
        rc = -1;
    } else {
        snprintf(err, errlen, "%s: not a PNG or JPEG image (unrecognized first bytes)", path);
        rc = -1;
    }
    free(data);
    return rc;
}

/* ---- PNG out -------------------------------------------------------------------------------- */

int cli_image_write_png(const char *path, const uint8_t *rgb, int w, int h, char *err,
                        size_t errlen)
{
    if (w <= 0 || h <= 0 || (long long)w * h > CLI_IMAGE_MAX_PIXELS) {
        snprintf(err, errlen, "%s: cannot write a %dx%d image", path, w, h);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(err, errlen, "%s: out of memory starting the PNG encoder", path);
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        unlink(path);
        return -1;
    }
    if (setjmp(ctx.jb)) {
        snprintf(err, errlen, "%s: writing PNG failed: %s", path, ctx.msg);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        unlink(path);
        return -1;
    }
    png_init_io(png, f);
    /* zlib level 3: several times faster than the default 6 on photographs, files a few
     * percent larger. */
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, rgb + (size_t)y * (size_t)w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fflush(f) != 0 || ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fclose(f);
        unlink(path);
        return -1;
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}
