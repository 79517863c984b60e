using NetVips;

namespace RsMoe.Data.Images;

/// <summary>
/// Decodes PNG, JPEG, TIFF (PackBits, LZW, Deflate, GeoTIFF; big scenes streamed tile by tile) and WebP with
/// libvips. The format is sniffed and the header's dimensions checked against <see cref="ImageLimits"/> before any
/// pixel is decoded; truncated or corrupt data fails with <see cref="ImageRejectedException"/>.
/// </summary>
public static class ImageDecoder
{
    /// <summary>File name endings of the formats this decoder reads, for tools that pick the images out of a folder.</summary>
    public static IReadOnlySet<string> FileExtensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".tif", ".tiff" };

    public static string SniffFormat(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= 8 && bytes[..8].SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A })) return "png";
        if (bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return "jpeg";
        if (bytes.Length >= 4 && ((bytes[0] == 'I' && bytes[1] == 'I' && (bytes[2] == 42 || bytes[2] == 43) && bytes[3] == 0)
                               || (bytes[0] == 'M' && bytes[1] == 'M' && bytes[2] == 0 && (bytes[3] == 42 || bytes[3] == 43)))) return "tiff";
        if (bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8)) return "webp";
        return "unknown";
    }

    /// <summary>Opens an image lazily (header only) after the format and size checks.</summary>
    public static Image Open(byte[] bytes, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        if (bytes.Length == 0) throw new ImageRejectedException(ImageProblem.Empty, "the image is empty");
        if (bytes.Length > limits.MaxBytes)
            throw new ImageRejectedException(ImageProblem.TooLarge, $"the image is {bytes.Length / 1048576.0:F1} MiB; at most {limits.MaxBytes / 1048576.0:F0} MiB is accepted");
        string format = SniffFormat(bytes);
        if (format == "unknown") throw new ImageRejectedException(ImageProblem.UnknownFormat, "not an image: the data is not PNG, JPEG, TIFF or WebP");
        Image image;
        try
        {
            image = Image.NewFromBuffer(bytes, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
        }
        catch (VipsException e)
        {
            throw new ImageRejectedException(ImageProblem.Corrupt, $"the {format} data cannot be read: {FirstLine(e.Message)}", e);
        }
        if (image.Width <= 0 || image.Height <= 0 || image.Width > limits.MaxSide || image.Height > limits.MaxSide
            || (long)image.Width * image.Height > limits.MaxPixels)
        {
            var (w, h) = (image.Width, image.Height);
            image.Dispose();
            throw new ImageRejectedException(ImageProblem.TooManyPixels, $"the image claims {w}×{h} pixels; at most {limits.MaxPixels:N0} pixels are accepted");
        }
        return image;
    }

    /// <summary>Decodes to 8-bit sRGB, 3 bands (grey expanded, alpha flattened on white, 16-bit scaled).</summary>
    public static (byte[] Rgb, int Width, int Height) DecodeRgb(byte[] bytes, ImageLimits? limits = null)
    {
        using var image = Open(bytes, limits);
        using var rgb = ToRgb8(image);
        return (Materialise(rgb), rgb.Width, rgb.Height);
    }

    /// <summary>Decodes, resizes and normalises for an encoder, streaming so a large scene is never held whole.</summary>
    public static PixelTensor Preprocess(byte[] bytes, ImagePreprocessing preprocessing, ImageLimits? limits = null)
    {
        using var image = Open(bytes, limits);
        using var rgb = ToRgb8(image);
        using var resized = Resize(rgb, preprocessing);
        var pixels = Materialise(resized);
        return Normalise(pixels, resized.Width, resized.Height, preprocessing);
    }

    public static PixelTensor Preprocess(string path, ImagePreprocessing preprocessing, ImageLimits? limits = null) =>
        Preprocess(File.ReadAllBytes(path), preprocessing, limits);

    /// <summary>The image as 8-bit sRGB, 3 bands (grey expanded, alpha flattened on white, 16-bit scaled, extra bands dropped).</summary>
    public static Image ToRgb8(Image image)
    {
        var current = image;
        var owned = new List<Image>();
        Image Keep(Image next) { owned.Add(next); current = next; return next; }
        try
        {
            if (current.HasAlpha()) Keep(current.Flatten(background: [255.0]));
            if (current.Interpretation is not (Enums.Interpretation.Srgb or Enums.Interpretation.Rgb))
                Keep(current.Colourspace(Enums.Interpretation.Srgb));
            if (current.Format != Enums.BandFormat.Uchar) Keep(current.Cast(Enums.BandFormat.Uchar));
            if (current.Bands == 1) Keep(current.Bandjoin([current, current]));
            else if (current.Bands > 3) Keep(current.ExtractBand(0, 3));
            var result = current == image ? image.Copy() : current;
            foreach (var o in owned) if (!ReferenceEquals(o, result)) o.Dispose();
            return result;
        }
        catch (VipsException e)
        {
            foreach (var o in owned) o.Dispose();
            throw new ImageRejectedException(ImageProblem.Corrupt, $"the image cannot be converted to RGB: {FirstLine(e.Message)}", e);
        }
    }

    static Image Resize(Image rgb, ImagePreprocessing p)
    {
        if (p.ShortestEdge is not { } edge)
            return rgb.Resize(p.Width / (double)rgb.Width, kernel: Enums.Kernel.Cubic, vscale: p.Height / (double)rgb.Height);
        double scale = edge / (double)Math.Min(rgb.Width, rgb.Height);
        using var scaled = rgb.Resize(scale, kernel: Enums.Kernel.Cubic);
        int left = Math.Max(0, (scaled.Width - p.Width) / 2), top = Math.Max(0, (scaled.Height - p.Height) / 2);
        return scaled.ExtractArea(left, top, Math.Min(p.Width, scaled.Width), Math.Min(p.Height, scaled.Height)).Copy();
    }

    static byte[] Materialise(Image image)
    {
        try { return image.WriteToMemory<byte>(); }
        catch (VipsException e) { throw new ImageRejectedException(ImageProblem.Corrupt, $"the image data is truncated or corrupt: {FirstLine(e.Message)}", e); }
    }

    static PixelTensor Normalise(byte[] interleaved, int width, int height, ImagePreprocessing p)
    {
        var data = new float[3 * width * height];
        int plane = width * height;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                data[c * plane + i] = (interleaved[i * 3 + c] / 255f - p.Mean[c]) / p.Std[c];
        return new PixelTensor(data, 3, height, width);
    }

    static string FirstLine(string message) => message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? message;
}
