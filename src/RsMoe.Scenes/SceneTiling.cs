namespace RsMoe.Scenes;

/// <summary>A rectangle of the scene in pixels: columns [X, X + Width), rows [Y, Y + Height).</summary>
public readonly record struct PixelWindow(int X, int Y, int Width, int Height)
{
    public long Area => (long)Width * Height;
}

/// <summary>
/// One tile: the window captioned (<see cref="Window"/>) and the part of the scene it answers for
/// (<see cref="Core"/>): overlapping tiles split their overlap down the middle, so the cores cover the scene exactly
/// once and areas add up.
/// </summary>
public sealed record SceneTile(int Index, int Column, int Row, PixelWindow Window, PixelWindow Core);

/// <summary>How a scene is cut: square tiles of <see cref="TileSize"/> pixels overlapping by <see cref="Overlap"/>.</summary>
public sealed record SceneTiling(int TileSize = SceneTiling.DefaultTileSize, int Overlap = 0)
{
    /// <summary>UCM-captions' tile size: about the ground the model learned to describe at 0.3 m a pixel.</summary>
    public const int DefaultTileSize = 256;

    /// <summary>
    /// The tiles of a <paramref name="width"/> × <paramref name="height"/> scene, row by row. Tiles step by
    /// TileSize − Overlap; the last tile of a row or column is moved back to end at the scene's edge, so no tile is
    /// cut short and none reaches past the scene (a scene smaller than a tile is one tile of its own size).
    /// </summary>
    public IReadOnlyList<SceneTile> Tiles(int width, int height, SceneLimits? limits = null)
    {
        if (TileSize < 16) throw new SceneRejectedException($"the tile size must be at least 16 pixels, not {TileSize}");
        if (Overlap < 0 || Overlap >= TileSize / 2) throw new SceneRejectedException($"the overlap must be at least 0 and less than half the tile size ({TileSize / 2}), not {Overlap}");
        var columns = Starts(width);
        var rows = Starts(height);
        long count = (long)columns.Count * rows.Count;
        int max = (limits ?? SceneLimits.Default).MaxTiles;
        if (count > max) throw new SceneRejectedException($"the scene would be cut into {count:N0} tiles of {TileSize} pixels; at most {max:N0} are accepted (use larger tiles)");
        var tiles = new List<SceneTile>((int)count);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < columns.Count; c++)
            {
                var (x, w, coreX, coreW) = Span(columns, c, width);
                var (y, h, coreY, coreH) = Span(rows, r, height);
                tiles.Add(new SceneTile(tiles.Count, c, r, new PixelWindow(x, y, w, h), new PixelWindow(coreX, coreY, coreW, coreH)));
            }
        return tiles;
    }

    List<int> Starts(int length)
    {
        var starts = new List<int> { 0 };
        int stride = TileSize - Overlap;
        while (starts[^1] + TileSize < length) starts.Add(Math.Min(starts[^1] + stride, length - TileSize));
        return starts;
    }

    /// <summary>The tile's start and length, and its core: from the middle of its overlap with the previous tile to the middle of its overlap with the next.</summary>
    (int Start, int Length, int CoreStart, int CoreLength) Span(List<int> starts, int i, int length)
    {
        int start = starts[i], size = Math.Min(TileSize, length);
        int coreStart = i == 0 ? 0 : (starts[i - 1] + size + start) / 2;
        int coreEnd = i == starts.Count - 1 ? length : (start + size + starts[i + 1]) / 2;
        return (start, size, coreStart, coreEnd - coreStart);
    }
}
