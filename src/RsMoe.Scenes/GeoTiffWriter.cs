using BitMiracle.LibTiff.Classic;

namespace RsMoe.Scenes;

/// <summary>
/// Writes an 8-bit RGB image as a tiled GeoTIFF (Deflate, BigTIFF when asked) with a north-up georeferencing: the
/// top-left corner's coordinates, the pixel size and the CRS's EPSG code (GeoTIFF 1.1: ModelTiepoint, ModelPixelScale,
/// GeoKeyDirectory, PixelIsArea). For making scenes to test and demonstrate with; reading is <see cref="GeoTiffTags"/>.
/// </summary>
public static class GeoTiffWriter
{
    public sealed record Georeferencing(double Left, double Top, double PixelSize, int Epsg);

    /// <param name="rgb">Row-major interleaved RGB, <paramref name="width"/> × <paramref name="height"/> × 3 bytes.</param>
    public static void Write(string path, byte[] rgb, int width, int height, Georeferencing? georeferencing, int tileSize = 256, bool bigTiff = false)
    {
        if (rgb.Length != (long)width * height * 3) throw new ArgumentException($"{rgb.Length} bytes are not {width}×{height} RGB pixels", nameof(rgb));
        if (tileSize % 16 != 0) throw new ArgumentException("TIFF tiles are a multiple of 16 pixels", nameof(tileSize));
        GeoTiffFields.Register();
        using var tiff = Tiff.Open(path, bigTiff ? "w8" : "w") ?? throw new IOException($"cannot create {path}");
        tiff.SetField(TiffTag.IMAGEWIDTH, width);
        tiff.SetField(TiffTag.IMAGELENGTH, height);
        tiff.SetField(TiffTag.SAMPLESPERPIXEL, 3);
        tiff.SetField(TiffTag.BITSPERSAMPLE, 8);
        tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.RGB);
        tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
        tiff.SetField(TiffTag.COMPRESSION, Compression.DEFLATE);
        tiff.SetField(TiffTag.TILEWIDTH, tileSize);
        tiff.SetField(TiffTag.TILELENGTH, tileSize);
        if (georeferencing is { } g)
        {
            tiff.SetField(TiffTag.GEOTIFF_MODELPIXELSCALETAG, 3, new[] { g.PixelSize, g.PixelSize, 0.0 });
            tiff.SetField(TiffTag.GEOTIFF_MODELTIEPOINTTAG, 6, new[] { 0.0, 0, 0, g.Left, g.Top, 0 });
            bool geographic = g.Epsg == 4326;
            short[] keys =
            [
                1, 1, 0, 3,                                   // version 1.1.0, three keys
                1024, 0, 1, (short)(geographic ? 2 : 1),      // GTModelType: projected or geographic
                1025, 0, 1, 1,                                // GTRasterType: PixelIsArea
                (short)(geographic ? 2048 : 3072), 0, 1, unchecked((short)(ushort)g.Epsg),
            ];
            tiff.SetField(TiffTag.GEOTIFF_GEOKEYDIRECTORYTAG, keys.Length, keys);
        }
        var tile = new byte[tileSize * tileSize * 3];
        for (int y = 0; y < height; y += tileSize)
            for (int x = 0; x < width; x += tileSize)
            {
                Array.Clear(tile);
                int rows = Math.Min(tileSize, height - y), columns = Math.Min(tileSize, width - x);
                for (int r = 0; r < rows; r++)
                    Buffer.BlockCopy(rgb, ((y + r) * width + x) * 3, tile, r * tileSize * 3, columns * 3);
                tiff.WriteEncodedTile(tiff.ComputeTile(x, y, 0, 0), tile, tile.Length);
            }
        tiff.WriteDirectory();
    }
}
