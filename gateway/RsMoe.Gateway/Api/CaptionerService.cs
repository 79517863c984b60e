using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Pipeline;
using RsMoe.Gateway.Scenes;
using RsMoe.Scenes;

namespace RsMoe.Gateway.Api;

/// <summary>The public gRPC API. The caller's deadline (or the gateway's request timeout) bounds every downstream call.</summary>
internal sealed class CaptionerService(CaptionPipeline pipeline, ExpertDirectory experts, GatewayOptions options, SceneRunner scenes, BatchCaptions batches) : Captioner.CaptionerBase
{
    DateTime Deadline(ServerCallContext context)
    {
        var own = DateTime.UtcNow + options.RequestTimeout;
        return context.Deadline < own ? context.Deadline : own;
    }

    public override Task<CaptionResponse> Caption(CaptionRequest request, ServerCallContext context) =>
        pipeline.CaptionAsync(request.Image, request.Instruction, Deadline(context), context.CancellationToken);

    public override async Task StreamCaption(CaptionRequest request, IServerStreamWriter<CaptionEvent> responseStream, ServerCallContext context)
    {
        await foreach (var e in pipeline.StreamCaptionAsync(request.Image, request.Instruction, Deadline(context), context.CancellationToken))
            await responseStream.WriteAsync(e, context.CancellationToken);
    }

    public override Task<AskResponse> Ask(AskRequest request, ServerCallContext context) =>
        pipeline.AskAsync(request.Image, request.Question, Deadline(context), context.CancellationToken);

    public override Task<ListExpertsResponse> ListExperts(ListExpertsRequest request, ServerCallContext context) =>
        experts.ListAsync(context.CancellationToken);

    /// <summary>A batch over one call (<see cref="BatchCaptions"/>): each result under its key as it finishes.</summary>
    public override async Task CaptionImages(IAsyncStreamReader<ImageToCaption> requestStream, IServerStreamWriter<CaptionedImage> responseStream, ServerCallContext context)
    {
        var items = requestStream.ReadAllAsync(context.CancellationToken).Select(i => new BatchCaptions.Item(i.Key, i.Image, i.Instruction));
        await batches.RunAsync(items, () => Deadline(context), (outcome, token) => responseStream.WriteAsync(new CaptionedImage
        {
            Key = outcome.Key,
            Caption = outcome.Caption,
            Status = outcome.Failure?.StatusCode.ToString() ?? "",
            Error = outcome.Failure?.Status.Detail ?? "",
        }, token), context.CancellationToken);
    }

    /// <summary>
    /// The upload is written to disk as it arrives (the first message's settings apply), the scene is opened and cut,
    /// and every tile's result is sent as it finishes. The call's end (or its deadline) cancels what is left; the file
    /// is deleted either way.
    /// </summary>
    public override async Task CaptionScene(IAsyncStreamReader<SceneUpload> requestStream, IServerStreamWriter<SceneEvent> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        SceneSettings? settings = null;
        async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks()
        {
            await foreach (var upload in requestStream.ReadAllAsync(token))
            {
                settings ??= upload.Settings ?? new SceneSettings();
                yield return upload.Chunk.Memory;
            }
        }
        string path = await scenes.SaveAsync(Chunks(), token);
        try
        {
            settings ??= new SceneSettings();
            var tiling = new SceneTiling(settings.TileSize > 0 ? settings.TileSize : SceneTiling.DefaultTileSize, settings.Overlap);
            var (scene, tiles) = scenes.Open(path, tiling, settings.PixelCoordinates);
            using var _ = scene;
            await responseStream.WriteAsync(new SceneEvent { Started = new SceneStarted
            {
                Width = scene.Width, Height = scene.Height, Tiles = tiles.Count, SourceCrs = scene.GeoReference?.CrsName ?? "",
            } }, token);
            var results = new List<TileResult>(tiles.Count);
            await foreach (var result in scenes.CaptionAsync(scene, tiles, cancellationToken: token))
            {
                results.Add(result);
                await responseStream.WriteAsync(new SceneEvent { Tile = SceneMessages.Tile(result, results.Count, tiles.Count) }, token);
            }
            var geojson = SceneGeoJson.Build(scene, tiling, results, settings.FileName);
            await responseStream.WriteAsync(new SceneEvent { Done = new SceneDone
            {
                Geojson = geojson.ToJsonString(), Captioned = results.Count(r => r.Caption is not null), Failed = results.Count(r => r.Caption is null),
            } }, token);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Operators only (<see cref="Security.ApiKeyMiddleware"/>).</summary>
    public override Task<ReloadExpertResponse> ReloadExpert(ReloadExpertRequest request, ServerCallContext context) =>
        experts.ReloadAsync(request, context.CancellationToken);
}
