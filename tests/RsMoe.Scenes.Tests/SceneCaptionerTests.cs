using RsMoe.Scenes;

namespace RsMoe.Scenes.Tests;

/// <summary>The tile loop's own contract: every tile once, several at a time, failures kept per tile, and a consumer that stops stops the work.</summary>
public sealed class SceneCaptionerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-scene-captioner-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Names each tile by its mean brightness; fails on request; counts the calls in flight.</summary>
    sealed class Recording(Func<int, bool>? fail = null) : ITileCaptioner
    {
        int _calls, _inFlight;
        public int Calls => _calls;
        public int MostInFlight { get; private set; }

        public async Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken)
        {
            int call = Interlocked.Increment(ref _calls);
            int now = Interlocked.Increment(ref _inFlight);
            lock (this) MostInFlight = Math.Max(MostInFlight, now);
            try
            {
                await Task.Delay(20, cancellationToken);
                if (fail?.Invoke(call) == true) throw new InvalidOperationException("the expert was unavailable");
                var (rgb, _, _) = RsMoe.Data.Images.ImageDecoder.DecodeRgb(png);
                return new TileCaption($"{rgb.Average(b => (double)b):F1}", [], "theme");
            }
            finally { Interlocked.Decrement(ref _inFlight); }
        }
    }

    SceneImage Scene()
    {
        string path = Path.Combine(_dir, "scene.tif");
        SceneMosaic.Write(path, SceneMosaic.UcmTestPhotos(SharedData.Path(), 4).Select(p => p.Path).ToList(), 2, 256, null);
        return SceneImage.Open(path);
    }

    [Fact]
    public async Task Every_tile_is_captioned_once_several_at_a_time_and_a_failure_stays_with_its_tile()
    {
        using var scene = Scene();
        var tiles = new SceneTiling(128).Tiles(scene.Width, scene.Height);
        var captioner = new Recording(fail: call => call == 3);
        var results = new List<TileResult>();
        await foreach (var result in SceneCaptioner.CaptionAsync(scene, tiles, captioner, concurrency: 3)) results.Add(result);

        Assert.Equal(16, captioner.Calls);
        Assert.Equal(Enumerable.Range(0, 16), results.Select(r => r.Tile.Index).Order());
        Assert.InRange(captioner.MostInFlight, 2, 3);
        var failed = Assert.Single(results, r => r.Caption is null);
        Assert.Equal("the expert was unavailable", failed.Error);
    }

    [Fact]
    public async Task A_consumer_that_stops_early_leaves_no_tile_work_running()
    {
        using var scene = Scene();
        var tiles = new SceneTiling(64).Tiles(scene.Width, scene.Height);   // 64 tiles
        var captioner = new Recording();
        await foreach (var _ in SceneCaptioner.CaptionAsync(scene, tiles, captioner, concurrency: 2)) break;
        int calls = captioner.Calls;
        await Task.Delay(300);
        Assert.Equal(calls, captioner.Calls);   // nothing started after the stop
        Assert.True(calls < 64, $"{calls} of 64 tiles were captioned for one result");
    }
}
