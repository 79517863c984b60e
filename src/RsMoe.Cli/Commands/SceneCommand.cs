using System.CommandLine;
using System.Diagnostics;
using RsMoe.Cli.Batch;
using RsMoe.Cli.Scenes;
using RsMoe.Contracts.V1;
using RsMoe.Model.Decoding;
using RsMoe.Scenes;
using Spectre.Console;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe scene IMAGE --out scene.geojson</c>: cuts a large (Geo)TIFF, JPEG or PNG into tiles, captions each (in this
/// process, or through a gateway with <c>--gateway</c>) and writes a GeoJSON FeatureCollection: one polygon per tile in
/// WGS84 with its caption, sections and theme, and the scene's themes by area. <c>rsmoe scene-sample</c> makes a
/// georeferenced scene of real photographs to try it on.
/// </summary>
public static class SceneCommand
{
    public static Command Create()
    {
        var image = new Argument<FileInfo>("image") { Description = "The scene: a GeoTIFF (tiled or striped, BigTIFF too), or any TIFF, JPEG or PNG" };
        var output = new Option<FileInfo>("--out") { Required = true, Description = "The GeoJSON FeatureCollection to write" };
        var tile = new Option<int>("--tile") { DefaultValueFactory = _ => SceneTiling.DefaultTileSize, Description = "Tile size in pixels" };
        var overlap = new Option<int>("--overlap") { Description = "Pixels each tile shares with its neighbours (less than half a tile)" };
        var concurrency = new Option<int>("--concurrency") { Description = "Tiles captioned at once (default: 1 in this process, 2 through a gateway)" };
        var pixelCoordinates = new Option<bool>("--pixel-coordinates") { Description = "Ignore the file's georeferencing and place tiles in pixel coordinates" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var weights = LocalInferenceCommands.WeightsOption();
        var gateway = new Option<string?>("--gateway") { Description = "Caption through a running gateway (its gRPC URL, e.g. http://127.0.0.1:5081) instead of loading the model here" };
        var apiKey = GatewayCommands.ApiKeyOption();
        var command = new Command("scene", "Caption a large (georeferenced) image tile by tile into GeoJSON")
            { image, output, tile, overlap, concurrency, pixelCoordinates, model, weights, gateway, apiKey };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(image)!.FullName, parse.GetValue(output)!.FullName,
            new SceneTiling(parse.GetValue(tile), parse.GetValue(overlap)), parse.GetValue(concurrency), parse.GetValue(pixelCoordinates),
            parse.GetValue(model)?.FullName, parse.GetValue(weights)!, parse.GetValue(gateway), parse.GetValue(apiKey), cancellationToken));
        return command;
    }

    public static Command Sample()
    {
        var output = new Option<FileInfo>("--out") { Required = true, Description = "The GeoTIFF to write" };
        var count = new Option<int>("--images") { DefaultValueFactory = _ => 12, Description = "UCM-captions test photos (one per class, up to 21), four to a row" };
        var data = new Option<DirectoryInfo>("--data") { DefaultValueFactory = _ => new DirectoryInfo("../shared/data"), Description = "The shared real-data folder" };
        var command = new Command("scene-sample", "Write a georeferenced GeoTIFF scene of real UCM-captions test photos (UTM zone 11N, 0.3 m a pixel)") { output, count, data };
        command.SetAction(parse =>
        {
            try
            {
                var photos = SceneMosaic.UcmTestPhotos(parse.GetValue(data)!.FullName, Math.Clamp(parse.GetValue(count), 1, 21));
                var (width, height) = SceneMosaic.Write(parse.GetValue(output)!.FullName, photos.Select(p => p.Path).ToList(), columns: 4, cellSize: 256,
                    new GeoTiffWriter.Georeferencing(Left: 500000, Top: 4000000, PixelSize: 0.3, Epsg: 32611));
                Console.WriteLine($"wrote {parse.GetValue(output)!.FullName}: {width}×{height} pixels, EPSG:32611, 0.3 m a pixel; row by row: {string.Join(", ", photos.Select(p => p.Label))}");
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or RsMoe.Data.Images.ImageRejectedException)
            {
                return CliErrors.Report(e, asJson: false);
            }
        });
        return command;
    }

    static async Task<int> RunAsync(string path, string output, SceneTiling tiling, int concurrency, bool pixelCoordinates, string? modelDirectory,
        string weights, string? gateway, string? apiKey, CancellationToken cancellationToken)
    {
        SceneImage scene;
        IReadOnlyList<SceneTile> tiles;
        try
        {
            if (concurrency < 0) throw new ArgumentException("--concurrency must be 1 or more (0: the default)");
            DecodeWeightFormats.Parse(weights);
            scene = SceneImage.Open(path, pixelCoordinates: pixelCoordinates);
            tiles = tiling.Tiles(scene.Width, scene.Height);
        }
        catch (Exception e) when (e is SceneRejectedException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            return CliErrors.Report(e, asJson: false);
        }
        using var _ = scene;
        string where = scene.GeoReference is { } geo ? $"{geo.CrsName}" : "pixel coordinates (no georeferencing)";
        Console.WriteLine($"{Path.GetFileName(path)}: {scene.Width}×{scene.Height} pixels, {where}; {tiles.Count} tiles of {tiling.TileSize} px, overlap {tiling.Overlap}");

        var owned = new List<IDisposable>();
        ITileCaptioner captioner;
        try
        {
            if (gateway is not null)
            {
                var channel = GatewayCommands.Channel(gateway);
                owned.Add(channel);
                captioner = new GatewayTileCaptioner(new GatewayBatchCaptioner(new Captioner.CaptionerClient(channel), GatewayCommands.Headers(apiKey), TimeSpan.FromMinutes(2)));
                concurrency = concurrency > 0 ? concurrency : 2;
            }
            else
            {
                var (model, backbone) = LocalInferenceCommands.LoadForInference(modelDirectory, weights);
                owned.Add(model);
                owned.Add(backbone);
                captioner = new InProcessTileCaptioner(model, backbone);
                concurrency = concurrency > 0 ? concurrency : 1;
            }
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or UriFormatException)
        {
            owned.ForEach(o => o.Dispose());
            return CliErrors.Report(e, asJson: false);
        }
        try
        {
            return await CaptionTilesAsync(scene, tiles, tiling, captioner, concurrency, output, cancellationToken);
        }
        finally
        {
            owned.ForEach(o => o.Dispose());
        }
    }

    static async Task<int> CaptionTilesAsync(SceneImage scene, IReadOnlyList<SceneTile> tiles, SceneTiling tiling, ITileCaptioner captioner, int concurrency,
        string output, CancellationToken cancellationToken)
    {

        var results = new List<TileResult>();
        var clock = Stopwatch.StartNew();
        bool interrupted = false;
        await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask("tiles", maxValue: tiles.Count);
                try
                {
                    await foreach (var result in SceneCaptioner.CaptionAsync(scene, tiles, captioner, concurrency, cancellationToken))
                    {
                        results.Add(result);
                        task.Increment(1);
                        task.Description = $"{results.Count}/{tiles.Count} tiles · {results.Count / clock.Elapsed.TotalSeconds:F2}/s";
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { interrupted = true; }
            });

        var json = SceneGeoJson.Build(scene, tiling, results);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        await File.WriteAllTextAsync(output + ".tmp", json.ToJsonString(), CancellationToken.None);
        File.Move(output + ".tmp", output, overwrite: true);

        foreach (var failed in results.Where(r => r.Caption is null)) Console.Error.WriteLine($"tile {failed.Tile.Index} (column {failed.Tile.Column}, row {failed.Tile.Row}): {failed.Error}");
        var summary = SceneGeoJson.Summary(results, scene.GeoReference);
        Console.WriteLine($"captioned {results.Count(r => r.Caption is not null)} of {tiles.Count} tiles in {clock.Elapsed.TotalSeconds:F1} s " +
            $"({results.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F2} tiles/s, {concurrency} at a time); {output}");
        foreach (var theme in summary) Console.WriteLine($"  {theme.Share * 100,5:F1}%  {theme.Theme} ({theme.Tiles} {(theme.Tiles == 1 ? "tile" : "tiles")})");
        if (interrupted) Console.WriteLine("interrupted: the GeoJSON holds the tiles captioned so far");
        return results.Count > 0 && results.All(r => r.Caption is null) ? 2 : 0;
    }
}
