using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Captions;
using RsMoe.Gateway.Pipeline;
using RsMoe.Scenes;

namespace RsMoe.Gateway.Scenes;

/// <summary>
/// What the gRPC call and the REST jobs share: an upload written to disk within the size limit, the scene opened and
/// checked, and its tiles captioned through the gateway's own pipeline (each tile's features cached like any image's),
/// with at most <see cref="SceneOptions.MaxRunningScenes"/> scenes at once. Failures are gRPC statuses with a message;
/// the REST face maps them to problem details.
/// </summary>
public sealed class SceneRunner(CaptionPipeline pipeline, GatewayOptions options, SceneOptions sceneOptions, ILogger<SceneRunner> logger)
{
    readonly SemaphoreSlim _running = new(sceneOptions.MaxRunningScenes);

    string WorkDirectory => Directory.CreateDirectory(string.IsNullOrWhiteSpace(sceneOptions.WorkDirectory)
        ? Path.Combine(Path.GetTempPath(), "rsmoe-scenes") : sceneOptions.WorkDirectory).FullName;

    public SceneLimits Limits => new() { MaxBytes = sceneOptions.MaxSceneBytes, MaxPixels = sceneOptions.MaxPixels, MaxTiles = sceneOptions.MaxTiles };

    /// <summary>A new file in the work folder holding the uploaded bytes; deleted again when the upload fails or is too large.</summary>
    public async Task<string> SaveAsync(IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        string path = Path.Combine(WorkDirectory, Guid.NewGuid().ToString("N") + ".scene");
        try
        {
            long written = 0;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await foreach (var chunk in chunks.WithCancellation(cancellationToken))
                {
                    written += chunk.Length;
                    if (written > sceneOptions.MaxSceneBytes)
                        throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the scene is larger than the {sceneOptions.MaxSceneBytes:N0} bytes this gateway accepts (Scenes:MaxSceneBytes)"));
                    await file.WriteAsync(chunk, cancellationToken);
                }
            return path;
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>The scene and its tiles, or InvalidArgument saying why the file cannot be tiled.</summary>
    public (SceneImage Scene, IReadOnlyList<SceneTile> Tiles) Open(string path, SceneTiling tiling, bool pixelCoordinates)
    {
        SceneImage? scene = null;
        try
        {
            scene = SceneImage.Open(path, Limits, pixelCoordinates);
            return (scene, tiling.Tiles(scene.Width, scene.Height, Limits));
        }
        catch (SceneRejectedException e)
        {
            scene?.Dispose();
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }

    /// <summary>Waits for a free scene slot (cancellable), then captions the tiles, yielding each result as it finishes.</summary>
    public async IAsyncEnumerable<TileResult> CaptionAsync(SceneImage scene, IReadOnlyList<SceneTile> tiles, Action? started = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            started?.Invoke();
            var captioner = new PipelineTileCaptioner(pipeline, options);
            await foreach (var result in SceneCaptioner.CaptionAsync(scene, tiles, captioner, sceneOptions.TileConcurrency, cancellationToken))
            {
                if (result.Error is not null) logger.LogWarning("Scene tile {Tile} failed: {Error}", result.Tile.Index, result.Error);
                yield return result;
            }
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>A tile through the gateway's pipeline: the caption, then the theme question on the cached features.</summary>
    sealed class PipelineTileCaptioner(CaptionPipeline pipeline, GatewayOptions options) : ITileCaptioner
    {
        public async Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken)
        {
            var image = ByteString.CopyFrom(png);
            var caption = await pipeline.CaptionAsync(image, null, DateTime.UtcNow + options.RequestTimeout, cancellationToken);
            var theme = await pipeline.AskAsync(image, CaptionPolicy.ThemeQuestion, DateTime.UtcNow + options.RequestTimeout, cancellationToken);
            var written = caption.Sections.Where(s => s.Error.Length == 0).Select(s => new CaptionSection(s.Aspect, s.Expert, s.Text)).ToList();
            if (written.Count == 0) throw new InvalidOperationException($"no expert wrote a section: {string.Join("; ", caption.Sections.Select(s => $"{s.Aspect}: {s.Error}"))}");
            return new TileCaption(caption.Caption, written, theme.Answer);
        }
    }
}
