using NetVips;
using RsMoe.Data.Images;

namespace RsMoe.Scenes;

/// <summary>
/// A large image opened for reading tile by tile: libvips loads the header only and decodes a region when it is read,
/// so a tiled or striped TIFF (BigTIFF included) is never held whole. JPEG and PNG cannot be read by region; libvips
/// decodes them once, into memory or, above its threshold, into a temporary file. The header's size is checked against
/// <see cref="SceneLimits"/> before any pixel is read; the georeferencing comes from the GeoTIFF tags when there are any.
/// </summary>
public sealed class SceneImage : IDisposable
{
    readonly Image _image;

    public string Path { get; }
    public int Width => _image.Width;
    public int Height => _image.Height;
    /// <summary>Null when the file carries no georeferencing: the tiles are then placed in pixel coordinates.</summary>
    public GeoReference? GeoReference { get; }

    SceneImage(string path, Image image, GeoReference? geoReference)
    {
        Path = path;
        _image = image;
        GeoReference = geoReference;
    }

    /// <param name="pixelCoordinates">Ignore the file's georeferencing (for a CRS this reader does not support).</param>
    public static SceneImage Open(string path, SceneLimits? limits = null, bool pixelCoordinates = false)
    {
        limits ??= SceneLimits.Default;
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"no scene at {path}", path);
        if (file.Length == 0) throw new SceneRejectedException("the scene file is empty");
        if (file.Length > limits.MaxBytes) throw new SceneRejectedException($"the scene file is {file.Length / 1073741824.0:F1} GiB; at most {limits.MaxBytes / 1073741824.0:F0} GiB is accepted");
        var head = new byte[16];
        using (var stream = file.OpenRead()) stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        string format = ImageDecoder.SniffFormat(head);
        if (format == "unknown") throw new SceneRejectedException("not an image: the scene is not a TIFF, JPEG, PNG or WebP file");

        var geo = pixelCoordinates || format != "tiff" ? null : GeoTiffTags.Read(path);
        Image image;
        try { image = Image.NewFromFile(path, access: Enums.Access.Random, failOn: Enums.FailOn.Error); }
        catch (VipsException e) { throw new SceneRejectedException($"the {format} scene cannot be read: {FirstLine(e.Message)}", e); }
        if (image.Width <= 0 || image.Height <= 0 || (long)image.Width * image.Height > limits.MaxPixels)
        {
            var (w, h) = (image.Width, image.Height);
            image.Dispose();
            throw new SceneRejectedException($"the scene claims {w}×{h} pixels; at most {limits.MaxPixels:N0} pixels are accepted");
        }
        return new SceneImage(path, image, geo);
    }

    /// <summary>The window's pixels as a PNG, the form every captioner takes (the gateway's API and the in-process one).</summary>
    public byte[] ReadPng(PixelWindow window)
    {
        try
        {
            using var region = _image.Crop(window.X, window.Y, window.Width, window.Height);
            using var rgb = ImageDecoder.ToRgb8(region);
            return rgb.PngsaveBuffer(compression: 1);
        }
        catch (Exception e) when (e is VipsException or ImageRejectedException)
        {
            throw new SceneRejectedException($"the scene's pixels at ({window.X}, {window.Y}) cannot be read: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// The whole scene shrunk to fit <paramref name="maxSide"/> pixels, as a PNG, for a page to draw the tile grid on.
    /// libvips streams the scene through the shrink (a tiled TIFF is read tile by tile, never held whole).
    /// </summary>
    public byte[] PreviewPng(int maxSide = 1024)
    {
        try
        {
            double scale = Math.Min(1.0, maxSide / (double)Math.Max(Width, Height));
            using var small = _image.Resize(scale);
            using var rgb = ImageDecoder.ToRgb8(small);
            return rgb.PngsaveBuffer(compression: 6);
        }
        catch (Exception e) when (e is VipsException or ImageRejectedException)
        {
            throw new SceneRejectedException($"the scene's preview cannot be made: {FirstLine(e.Message)}", e);
        }
    }

    public void Dispose() => _image.Dispose();

    static string FirstLine(string message) => message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? message;
}
