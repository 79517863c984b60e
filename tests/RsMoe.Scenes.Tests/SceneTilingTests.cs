using RsMoe.Scenes;

namespace RsMoe.Scenes.Tests;

public sealed class SceneTilingTests
{
    [Theory]
    [InlineData(1024, 768, 256, 0, 4, 3)]
    [InlineData(1000, 700, 256, 32, 5, 3)]
    [InlineData(100, 60, 256, 0, 1, 1)]
    [InlineData(257, 256, 256, 64, 2, 1)]
    public void TilesCoverTheSceneAndTheirCoresPartitionIt(int width, int height, int size, int overlap, int columns, int rows)
    {
        var tiles = new SceneTiling(size, overlap).Tiles(width, height);
        Assert.Equal(columns * rows, tiles.Count);
        Assert.Equal(Enumerable.Range(0, tiles.Count), tiles.Select(t => t.Index));
        var covered = new int[width * height];
        foreach (var tile in tiles)
        {
            var (w, c) = (tile.Window, tile.Core);
            Assert.True(w.X >= 0 && w.Y >= 0 && w.X + w.Width <= width && w.Y + w.Height <= height, $"tile {tile.Index} leaves the scene");
            Assert.Equal((Math.Min(size, width), Math.Min(size, height)), (w.Width, w.Height));   // never cut short
            Assert.True(c.X >= w.X && c.Y >= w.Y && c.X + c.Width <= w.X + w.Width && c.Y + c.Height <= w.Y + w.Height, $"tile {tile.Index}'s core leaves its window");
            for (int y = c.Y; y < c.Y + c.Height; y++)
                for (int x = c.X; x < c.X + c.Width; x++) covered[y * width + x]++;
        }
        Assert.All(covered, n => Assert.Equal(1, n));   // every pixel belongs to exactly one core
        Assert.Equal((long)width * height, tiles.Sum(t => t.Core.Area));
    }

    [Fact]
    public void OverlappingTilesStepByTheTileLessTheOverlapAndTheLastEndsAtTheEdge()
    {
        var tiles = new SceneTiling(256, 32).Tiles(1000, 256);
        Assert.Equal([0, 224, 448, 672, 744], tiles.Select(t => t.Window.X));
        Assert.Equal([0, 240, 464, 688, 836], tiles.Select(t => t.Core.X));   // each core starts mid-overlap
    }

    [Fact]
    public void BadSettingsAndTooManyTilesAreRefusedByName()
    {
        Assert.Contains("tile size", Assert.Throws<SceneRejectedException>(() => new SceneTiling(8).Tiles(100, 100)).Message);
        Assert.Contains("overlap", Assert.Throws<SceneRejectedException>(() => new SceneTiling(256, 128).Tiles(1000, 1000)).Message);
        Assert.Contains("overlap", Assert.Throws<SceneRejectedException>(() => new SceneTiling(256, -1).Tiles(1000, 1000)).Message);
        var error = Assert.Throws<SceneRejectedException>(() => new SceneTiling(16).Tiles(100_000, 100_000, new SceneLimits { MaxTiles = 1000 }));
        Assert.Contains("39,062,500 tiles", error.Message);
    }
}
