using NetVips;
using RsMoe.Data.Images;

namespace RsMoe.Scenes;

/// <summary>
/// A scene made of photographs laid side by side (row by row, each resized to a cell of the same size), written as a
/// georeferenced tiled GeoTIFF: real imagery with a known georeferencing, for trying and testing the scene pipeline.
/// </summary>
public static class SceneMosaic
{
    /// <summary>
    /// UCM-captions test photographs for a sample scene: the first test photo of each land-use class, classes in
    /// alphabetical order, <paramref name="count"/> of them (at most 21), with their class.
    /// </summary>
    public static IReadOnlyList<(string Path, string Label)> UcmTestPhotos(string sharedDataRoot, int count)
    {
        var ucm = new RsMoe.Data.Datasets.RealImagery(sharedDataRoot).Ucm();
        return ucm.Split("test").GroupBy(i => i.Label!).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Take(count).Select(g => (g.First().FileName, g.Key)).ToList();
    }

    public static (int Width, int Height) Write(string path, IReadOnlyList<string> images, int columns, int cellSize, GeoTiffWriter.Georeferencing? georeferencing, bool bigTiff = false)
    {
        if (images.Count == 0 || columns < 1) throw new ArgumentException("a mosaic needs at least one image and one column");
        int rows = (images.Count + columns - 1) / columns;
        int width = columns * cellSize, height = rows * cellSize;
        var rgb = new byte[(long)width * height * 3];
        for (int i = 0; i < images.Count; i++)
        {
            using var image = ImageDecoder.Open(File.ReadAllBytes(images[i]));
            using var colour = ImageDecoder.ToRgb8(image);
            using var cell = colour.Width == cellSize && colour.Height == cellSize ? colour.Copy()
                : colour.Resize(cellSize / (double)colour.Width, kernel: Enums.Kernel.Cubic, vscale: cellSize / (double)colour.Height);
            byte[] pixels = cell.WriteToMemory<byte>();
            int x0 = i % columns * cellSize, y0 = i / columns * cellSize;
            for (int r = 0; r < cellSize; r++)
                Buffer.BlockCopy(pixels, r * cellSize * 3, rgb, ((y0 + r) * width + x0) * 3, cellSize * 3);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        GeoTiffWriter.Write(path, rgb, width, height, georeferencing, tileSize: 128, bigTiff: bigTiff);
        return (width, height);
    }
}
