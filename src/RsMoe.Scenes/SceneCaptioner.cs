using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using RsMoe.Captions;

namespace RsMoe.Scenes;

/// <summary>What the product says about one tile: the caption, its sections, and the theme (the answer to <see cref="CaptionPolicy.ThemeQuestion"/>).</summary>
public sealed record TileCaption(string Caption, IReadOnlyList<CaptionSection> Sections, string Theme);

/// <summary>Captions one tile's pixels (a PNG): in this process, or through the gateway.</summary>
public interface ITileCaptioner
{
    Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken);
}

/// <summary>One tile's outcome: its caption, or why it has none (the scene goes on without it).</summary>
public sealed record TileResult(SceneTile Tile, TileCaption? Caption, string? Error, double Milliseconds);

/// <summary>Cuts a scene into tiles and captions them, several at a time, yielding each result as it finishes.</summary>
public static class SceneCaptioner
{
    public static async IAsyncEnumerable<TileResult> CaptionAsync(SceneImage scene, IReadOnlyList<SceneTile> tiles, ITileCaptioner captioner,
        int concurrency, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (concurrency < 1) throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "at least one tile at a time");
        // A consumer that stops early (or is cancelled) stops the producers too: none is left waiting to write.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var results = Channel.CreateBounded<TileResult>(Math.Max(1, concurrency * 2));
        var work = Parallel.ForEachAsync(tiles, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = stop.Token },
            async (tile, token) => await results.Writer.WriteAsync(await CaptionTileAsync(scene, tile, captioner, token), token));
        var completion = work.ContinueWith(t => results.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        try
        {
            await foreach (var result in results.Reader.ReadAllAsync(cancellationToken)) yield return result;
            await work;
        }
        finally
        {
            stop.Cancel();
            await completion;   // never throws: it only completes the channel
        }
    }

    static async Task<TileResult> CaptionTileAsync(SceneImage scene, SceneTile tile, ITileCaptioner captioner, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            byte[] png = scene.ReadPng(tile.Window);
            var caption = await captioner.CaptionAsync(png, cancellationToken);
            return new TileResult(tile, caption, null, clock.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new TileResult(tile, null, e.Message, clock.Elapsed.TotalMilliseconds);
        }
    }
}
