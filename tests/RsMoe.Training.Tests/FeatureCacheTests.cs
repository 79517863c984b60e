using RsMoe.Data.Images;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

/// <summary>The feature cache's zoomed-out mosaics: their layout, their values and their keys.</summary>
public sealed class FeatureCacheTests
{
    /// <summary>Each channel's mean over the image, one token: enough to see which pixels the cache fed the encoder.</summary>
    sealed class ChannelMeans : IImageEncoder
    {
        public string Identity => "channel-means";
        public int TokenWidth => 3;
        public Tensor Encode(Tensor pixels) => pixels.mean([2, 3]).unsqueeze(1);
        public void Dispose() { }
    }

    /// <summary>Tokens that see the layout: the top row's pixels, one token per column.</summary>
    sealed class TopRow : IImageEncoder
    {
        public string Identity => "top-row";
        public int TokenWidth => 3;
        public Tensor Encode(Tensor pixels) => pixels[.., .., 0, ..].transpose(1, 2);
        public void Dispose() { }
    }

    static PixelTensor Tile(Func<int, int, int, float> value, int size = 4) =>
        new(Enumerable.Range(0, 3 * size * size).Select(i => value(i / (size * size), i / size % size, i % size)).ToArray(), 3, size, size);

    [Fact]
    public void AMosaicHalvesEachImageByAveragingAndLaysThemOutRowByRow()
    {
        var tiles = new[]
        {
            Tile((c, y, x) => x + 10 * y + 100 * c),   // a gradient: each 2×2 block averages to its centre
            Tile((c, _, _) => 1), Tile((c, _, _) => 2), Tile((c, _, _) => 3),
        };
        using var mosaic = FeatureCache.Mosaic(tiles);
        Assert.Equal([1L, 3, 4, 4], mosaic.shape);
        float At(int c, int y, int x) => mosaic[0, c, y, x].item<float>();
        Assert.Equal(0.5f + 5 + 200, At(2, 0, 0));
        Assert.Equal(2.5f + 25, At(0, 1, 1));
        Assert.Equal(1f, At(1, 0, 3));
        Assert.Equal(2f, At(0, 3, 0));
        Assert.Equal(3f, At(2, 2, 2));
    }

    [Fact]
    public void AFarMosaicQuartersEachOfSixteenImagesAndLaysThemOutFourByFour()
    {
        var tiles = Enumerable.Range(0, 16).Select(i => Tile((c, _, _) => i + 100 * c, size: 8)).ToArray();
        tiles[0] = Tile((c, y, x) => x + 10 * y, size: 8);   // each 4×4 block of a gradient averages to its centre
        using var mosaic = FeatureCache.Mosaic(tiles);
        Assert.Equal([1L, 3, 8, 8], mosaic.shape);
        float At(int c, int y, int x) => mosaic[0, c, y, x].item<float>();
        Assert.Equal(1.5f + 15, At(0, 0, 0));
        Assert.Equal(5.5f + 55, At(1, 1, 1));
        Assert.Equal(3f, At(0, 0, 7));          // image 3: first row, last column
        Assert.Equal(4f + 200, At(2, 2, 0));    // image 4: second row, first column
        Assert.Equal(15f + 100, At(1, 7, 7));
        Assert.Throws<ArgumentException>(() => FeatureCache.Mosaic(tiles[..9]));
    }

    [Fact]
    public void TheEightTurnsAreTheOrientationsOfTheSquare()
    {
        using var pixels = arange(6f).reshape(1, 1, 2, 3);   // [[0 1 2] [3 4 5]]
        float[] Turned(int turn) { using var t = FeatureCache.Turn(pixels, turn); return t.data<float>().ToArray(); }
        Assert.Equal([0f, 1, 2, 3, 4, 5], Turned(0));
        Assert.Equal([2f, 5, 1, 4, 0, 3], Turned(1));        // a quarter turn counter-clockwise: the right column on top
        Assert.Equal([5f, 4, 3, 2, 1, 0], Turned(2));
        Assert.Equal([3f, 0, 4, 1, 5, 2], Turned(3));
        Assert.Equal([2f, 1, 0, 5, 4, 3], Turned(4));        // mirrored left to right
        var all = Enumerable.Range(0, 8).Select(k => string.Join(',', Turned(k))).ToList();
        Assert.Equal(8, all.Distinct().Count());
    }

    [Fact]
    public void ATurnedPhotoIsEncodedOnceUnderItsOwnKey()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rsmoe-feature-cache-tests", Guid.NewGuid().ToString("N"));
        using var encoder = new TopRow();
        var cache = new FeatureCache(directory, encoder);
        string photo = SharedData.Path("rsscn7", "images", "gParking/g001.jpg");
        using var plain = cache.Get(photo);
        using var turned = cache.GetTurned(photo, 5);
        using var again = cache.GetTurned(photo, 5);
        using var none = cache.GetTurned(photo, 0);
        Assert.Equal((2, 2), (cache.Hits, cache.Misses));
        Assert.True(turned.allclose(again, rtol: 0, atol: 0));
        Assert.True(none.allclose(plain, rtol: 0, atol: 0));
        Assert.False(turned.allclose(plain, rtol: 1e-2, atol: 1e-2));
        using var pixels = ImageDecoder.Preprocess(photo, ImagePreprocessing.ResNet18Cntk) is var p ? tensor(p.Data, [1, 3, p.Height, p.Width]) : null!;
        using var expected = encoder.Encode(FeatureCache.Turn(pixels, 5)).squeeze(0);
        Assert.True(turned.allclose(expected, rtol: 1e-3, atol: 1e-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.GetTurned(photo, 8));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void AMosaicOfRealPhotosIsEncodedOnceAndKeyedByItsImagesInOrder()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rsmoe-feature-cache-tests", Guid.NewGuid().ToString("N"));
        using var encoder = new ChannelMeans();
        var cache = new FeatureCache(directory, encoder);
        var photos = new[] { "gParking/g001.jpg", "gParking/g002.jpg", "gParking/g003.jpg", "gParking/g004.jpg" }
            .Select(f => SharedData.Path("rsscn7", "images", f)).ToArray();

        using var first = cache.GetMosaic(photos);
        using var again = cache.GetMosaic(photos);
        Assert.Equal((1, 1), (cache.Hits, cache.Misses));
        Assert.True(first.allclose(again, rtol: 0, atol: 0));
        using var pixels = FeatureCache.Mosaic(photos.Select(p => ImageDecoder.Preprocess(p, ImagePreprocessing.ResNet18Cntk)).ToArray());
        using var expected = encoder.Encode(pixels).squeeze(0);
        Assert.True(first.allclose(expected, rtol: 1e-3, atol: 1e-3));
        // The whole mosaic's means are the four photos' means averaged: nothing was cropped or repeated.
        using var singles = stack(photos.Select(cache.Get).ToArray(), 0).mean([0]);
        Assert.True(first.allclose(singles, rtol: 1e-2, atol: 1e-2));

        using var reordered = cache.GetMosaic([photos[1], photos[0], photos[2], photos[3]]);
        Assert.Equal(1 + 4 + 1, cache.Misses);   // another order is another view
        Assert.Throws<ArgumentException>(() => cache.GetMosaic(photos[..3]));
        Directory.Delete(directory, recursive: true);
    }
}
